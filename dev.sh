#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# dev.sh - the two commands that do everything on a fresh Debian 12 machine
#
#   ./dev.sh demo   install missing packages, build, run `buzon demo`
#   ./dev.sh test   install missing packages, build, run every test twice
#                   (plain build, then ASan + UBSan build), make distcheck,
#                   a short fuzz smoke run, and print the totals; the last
#                   line is exactly "N passed, N failed"
#
# Works as root (a fresh machine) and as a normal user (sudo is used only
# when a package or the system user is missing).  Needs no terminal:
# CI=true and a closed stdin are fine.
#
# Environment:
#   JOBS=N            make -jN (default: nproc)
#   BUZON_NO_ASAN=1   test: skip the sanitizer build
#   BUZON_NO_DISTCHECK=1  test: skip make distcheck
#   FUZZ_SECS=N       test: seconds per fuzz target in the smoke run
#                     (default 5; 0 skips it and does not install clang)
#   BUZON_NO_APT=1    never call apt-get (report what is missing and stop)
set -uo pipefail

cd "$(dirname "$0")" || exit 1
TOP=$(pwd)
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

# ---- every Debian package the project needs, in one place ----
# to build and run
BUILD_PACKAGES=(build-essential autoconf automake libtool pkg-config
	libssl-dev libspf2-dev libdb-dev libunbound-dev liblmdb-dev libcrypt-dev
	openssl)
# to run the tests (unit: Criterion; e2e: python3 standard library and the
# client programs the e2e tests call: swaks, with Net::SSLeay for --tls,
# fetchmail as a real POP3 and IMAP client, mbsync (isync) and s-nail as
# IMAP clients, Postfix and Dovecot as the references
# of the differential tests (Postfix installed unconfigured, Dovecot's own
# service stopped: the tests start their own instances on free loopback
# ports), and systemd for systemd-analyze, which checks the unit; add a
# tool here when a test uses it: a test whose tool is missing fails)
TEST_PACKAGES=(libcriterion-dev python3 swaks libnet-ssleay-perl fetchmail
	postfix dovecot-pop3d dovecot-imapd isync s-nail systemd gdb)
# for the fuzz smoke run of `test` (clang's libFuzzer)
FUZZ_PACKAGES=(clang libclang-rt-14-dev)
# for talking to the demo by hand, as the demo's banner suggests
DEMO_PACKAGES=(telnet)

SYSTEM_USER=buzon

say()
{
	printf '==> %s\n' "$*" >&2
}

die()
{
	printf 'dev.sh: %s\n' "$*" >&2
	exit 1
}

# Run a command as root: directly when we are root, else through sudo.
as_root()
{
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		if sudo -n true 2>/dev/null; then
			sudo -n "$@"
		else
			say "sudo $*"
			sudo "$@"
		fi
	else
		die "need root to run: $* (install sudo or run as root)"
	fi
}

install_packages()
{
	local missing="" p status

	for p in "$@"; do
		status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)
		case "$status" in
		ii*) ;;
		*) missing="$missing $p" ;;
		esac
	done
	[ -z "$missing" ] && return 0
	if ! command -v apt-get >/dev/null 2>&1 || [ -n "${BUZON_NO_APT:-}" ]; then
		die "missing Debian packages:$missing"
	fi
	say "installing missing packages:$missing"
	export DEBIAN_FRONTEND=noninteractive
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q \
	    </dev/null || die "apt-get update failed"
	case " $missing " in
	*" postfix "*)
		# no configuration: nothing of Postfix's own starts or listens
		echo "postfix postfix/main_mailer_type select No configuration" |
		    as_root debconf-set-selections ||
		    die "debconf-set-selections failed"
		;;
	esac
	# shellcheck disable=SC2086 # one word per package
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends $missing </dev/null ||
	    die "apt-get install failed:$missing"
	case " $missing " in
	*" dovecot-pop3d "*)
		# the package starts Dovecot on 110 and 995 where systemd runs;
		# the tests want their own instance only
		if [ -d /run/systemd/system ] && command -v systemctl >/dev/null
		then
			as_root systemctl disable --now dovecot.service \
			    >/dev/null 2>&1 || true
		fi
		;;
	esac
}

# The unprivileged user the daemons run as; only root can (and needs to)
# create it: a non-root buzon never changes user.
ensure_user()
{
	[ "$(id -u)" -eq 0 ] || return 0
	getent passwd "$SYSTEM_USER" >/dev/null && return 0
	say "creating system user $SYSTEM_USER"
	useradd --system --no-create-home --shell /usr/sbin/nologin \
	    "$SYSTEM_USER" || die "useradd $SYSTEM_USER failed"
}

# A fresh checkout, or configure.ac or an automake fragment changed since
# the last bootstrap.
needs_bootstrap()
{
	[ -x "$TOP/configure" ] && [ -f "$TOP/Makefile.in" ] || return 0
	[ "$TOP/configure.ac" -nt "$TOP/configure" ] && return 0
	[ -n "$(find "$TOP" -path "$TOP/_*" -prune -o -name '*.am' \
	    -newer "$TOP/Makefile.in" -print -quit)" ]
}

# build DIR [configure options...]: bootstrap once, configure DIR out of
# tree (again when the options changed), make.  Output goes to DIR/build.out
# (make appends to it).
build()
{
	local dir=$1 want have
	shift

	if [ -f "$TOP/config.status" ]; then
		die "the source tree is configured in place; run 'make distclean' first"
	fi
	mkdir -p "$dir" || return 1
	: >"$dir/build.out"
	if needs_bootstrap; then
		say "bootstrap"
		./bootstrap >>"$dir/build.out" 2>&1 || return 1
	fi
	want="$*"
	have=$(cat "$dir/.dev-configure-args" 2>/dev/null)
	if [ ! -f "$dir/Makefile" ] || [ "$want" != "$have" ]; then
		say "configure $dir: $want"
		(cd "$dir" && "$TOP/configure" "$@") >>"$dir/build.out" 2>&1 ||
		    return 1
		printf '%s' "$want" >"$dir/.dev-configure-args"
	fi
	say "make -j$JOBS in $dir"
	make -C "$dir" -j"$JOBS" >>"$dir/build.out" 2>&1
}

# ---- test bookkeeping ----
PASSED=0
FAILED=0
FAILED_LOGS=()

# count_suite DIR: add the results of the last `make check` in DIR.  Each
# test program leaves NAME.log and NAME.trs.  A Criterion program's log has a
# "Synthesis" line; the e2e runner prints "e2e: N passed, N failed"; any other
# program (or one that crashed before its summary) counts as one test.
# A whole program skipped (exit 77) is a failure: no test of ours skips
# itself, a test that cannot run (a program or tool missing) fails.
count_suite()
{
	local dir=$1 trs log res line p f c k
	local found=0

	while IFS= read -r trs; do
		found=1
		log=${trs%.trs}.log
		res=$(sed -n 's/^:test-result: //p' "$trs" | head -n 1)
		line=$(grep -a '^\[====\] Synthesis:' "$log" 2>/dev/null | tail -n 1)
		if [ -n "$line" ]; then
			p=$(printf '%s' "$line" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
			f=$(printf '%s' "$line" | sed -n 's/.*Failing: \([0-9]*\).*/\1/p')
			c=$(printf '%s' "$line" | sed -n 's/.*Crashing: \([0-9]*\).*/\1/p')
			PASSED=$((PASSED + ${p:-0}))
			k=$((${f:-0} + ${c:-0}))
			# a nonzero exit with all tests passing is still a failure
			if [ "$k" -eq 0 ] && [ "$res" != PASS ]; then
				k=1
			fi
			FAILED=$((FAILED + k))
		else
			line=$(grep -a -E '^e2e: [0-9]+ passed, [0-9]+ failed' "$log" 2>/dev/null | tail -n 1)
			if [ -n "$line" ]; then
				p=$(printf '%s' "$line" | sed -n 's/^e2e: \([0-9]*\) passed.*/\1/p')
				f=$(printf '%s' "$line" | sed -n 's/^e2e: [0-9]* passed, \([0-9]*\) failed.*/\1/p')
				PASSED=$((PASSED + ${p:-0}))
				k=${f:-0}
				if [ "$k" -eq 0 ] && [ "$res" != PASS ]; then
					k=1
				fi
				FAILED=$((FAILED + k))
			else
				case "$res" in
				PASS|XFAIL) PASSED=$((PASSED + 1)); k=0 ;;
				*) FAILED=$((FAILED + 1)); k=1 ;;
				esac
			fi
		fi
		[ "$k" -gt 0 ] && FAILED_LOGS+=("$log")
	done < <(find "$dir" -path "$dir/buzon-*" -prune -o -name '*.trs' \
	    -print | sort)
	return $((found == 0))
}

# check_build LABEL DIR [configure options...]: build and `make check`.
check_build()
{
	local label=$1 dir=$2
	shift 2

	if ! build "$dir" "$@"; then
		say "$label: build failed"
		FAILED=$((FAILED + 1))
		FAILED_LOGS+=("$dir/build.out")
		return 1
	fi
	find "$dir" -path "$dir/buzon-*" -prune -o -name '*.trs' -exec rm -f {} +
	say "$label: make check"
	make -C "$dir" -j"$JOBS" check >"$dir/check.out" 2>&1
	grep -E '^(PASS|FAIL|ERROR|SKIP|XFAIL|XPASS): ' "$dir/check.out" >&2
	if ! count_suite "$dir"; then
		# make check stopped before running any test (a test program
		# failed to build)
		say "$label: make check ran no test"
		FAILED=$((FAILED + 1))
		FAILED_LOGS+=("$dir/check.out")
	fi
}

# distcheck: the release tarball builds and passes its tests out of tree
# (catches files missing from EXTRA_DIST); counts as one test.
distcheck()
{
	say "make distcheck"
	if make -C "$TOP/_build" -j"$JOBS" distcheck \
	    >"$TOP/_build/distcheck.out" 2>&1; then
		PASSED=$((PASSED + 1))
		echo "PASS: make distcheck" >&2
	else
		FAILED=$((FAILED + 1))
		FAILED_LOGS+=("$TOP/_build/distcheck.out")
		echo "FAIL: make distcheck" >&2
	fi
}

# fuzz_smoke: build the libFuzzer targets (tests/fuzz/run-fuzz.sh, in
# _fuzz/) and run each for FUZZ_SECS seconds; each target counts as a test.
fuzz_smoke()
{
	local out="$TOP/_fuzz/smoke.out" ran bad

	mkdir -p "$TOP/_fuzz"
	say "fuzz smoke: ${FUZZ_SECS}s per target"
	tests/fuzz/run-fuzz.sh "$FUZZ_SECS" >"$out" 2>&1
	ran=$(grep -c -E '^== [^ ]+: [0-9]+s$' "$out")
	bad=$(grep -c -E '^== [^ ]+: FAILED' "$out")
	grep -E '^== ' "$out" >&2
	if [ "$ran" -eq 0 ]; then
		bad=1	# the targets did not build
	fi
	PASSED=$((PASSED + ran - (bad > ran ? ran : bad)))
	FAILED=$((FAILED + bad))
	[ "$bad" -eq 0 ] || FAILED_LOGS+=("$out")
}

cmd_test()
{
	FUZZ_SECS=${FUZZ_SECS:-5}
	if [ "$FUZZ_SECS" != 0 ]; then
		install_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}" \
		    "${FUZZ_PACKAGES[@]}"
	else
		install_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
	fi
	ensure_user

	check_build "build" "$TOP/_build" --enable-werror
	if [ -z "${BUZON_NO_ASAN:-}" ]; then
		check_build "sanitizer build" "$TOP/_build-asan" \
		    --enable-werror --enable-sanitizers
	fi
	if [ -z "${BUZON_NO_DISTCHECK:-}" ] && [ -f "$TOP/_build/Makefile" ]; then
		distcheck
	fi
	if [ "$FUZZ_SECS" != 0 ] && [ -x tests/fuzz/run-fuzz.sh ]; then
		fuzz_smoke
	fi

	local log
	if [ "${#FAILED_LOGS[@]}" -gt 0 ]; then
		for log in "${FAILED_LOGS[@]}"; do
			printf '\n---- %s (failures, last 80 lines) ----\n' \
			    "${log#"$TOP"/}"
			grep -a -v -E '^(ok|skip) ' "$log" | tail -n 80
		done
		printf '\n'
	fi
	printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
	[ "$FAILED" -eq 0 ]
}

cmd_demo()
{
	install_packages "${BUILD_PACKAGES[@]}" "${DEMO_PACKAGES[@]}"
	ensure_user
	if ! build "$TOP/_build" --enable-werror; then
		tail -n 40 "$TOP/_build/build.out" >&2
		die "build failed (full log: _build/build.out)"
	fi
	if [ "$(id -u)" -eq 0 ] &&
	    ! runuser -u "$SYSTEM_USER" -- test -x "$TOP/_build/master"; then
		demo_staged "$@"
	fi
	exec "$TOP/_build/master/buzon" demo --dir "$TOP/buzon-demo" "$@"
}

# As root, the daemons run as the buzon user, which cannot reach a tree it
# may not enter (a checkout under /root): run the demo from copies of the
# programs in STAGE, with the demo directory there too.
STAGE=/var/tmp/buzon-dev
demo_staged()
{
	local prog

	say "user $SYSTEM_USER cannot reach $TOP: running from $STAGE"
	rm -rf "${STAGE:?}/bin"
	mkdir -p "$STAGE/bin" || die "cannot create $STAGE/bin"
	chmod 755 "$STAGE" "$STAGE/bin"
	for prog in master/buzon smtpd/buzon-smtpd queue/buzon-queued \
	    local-delivery/buzon-deliver pop3d/buzon-pop3d imapd/buzon-imapd; do
		if [ -x "$TOP/_build/$prog" ]; then
			cp "$TOP/_build/$prog" "$STAGE/bin/" || die "cp $prog failed"
		fi
	done
	BUZON_LIBEXEC=$STAGE/bin
	export BUZON_LIBEXEC
	exec "$STAGE/bin/buzon" demo --dir "$STAGE/buzon-demo" "$@"
}

usage()
{
	cat <<EOF
usage: ./dev.sh demo [ARGS...]   install, build and run buzon demo (./buzon-demo)
       ./dev.sh test             install, build and run every test (also
                                 under ASan/UBSan); last line: N passed, N failed
       ./dev.sh build            install and build only (_build)
EOF
}

case "${1:-}" in
demo)
	shift
	cmd_demo "$@"
	;;
test)
	cmd_test
	;;
build)
	install_packages "${BUILD_PACKAGES[@]}"
	if ! build "$TOP/_build" --enable-werror; then
		tail -n 40 "$TOP/_build/build.out" >&2
		die "build failed (full log: _build/build.out)"
	fi
	;;
-h|--help|help)
	usage
	;;
*)
	usage >&2
	exit 2
	;;
esac
