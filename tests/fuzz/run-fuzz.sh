#!/bin/sh
# SPDX-License-Identifier: MIT
#
# run-fuzz.sh - build the libFuzzer targets with clang in _fuzz/ and run
# each tests/fuzz/*_fuzz for a while.
#
# usage: tests/fuzz/run-fuzz.sh [seconds per target (default 10)] [target...]
#
# Run from the top of the source tree.  Corpora are kept in
# _fuzz/corpus/<target>/ between runs; crashes land in _fuzz/ as
# crash-<sha1> (libFuzzer's naming), and the script exits non-zero.
set -eu

secs=${1:-10}
[ $# -gt 0 ] && shift
case $secs in
''|*[!0-9]*) echo "run-fuzz.sh: seconds must be a number: $secs" >&2; exit 2 ;;
esac

top=$(cd "$(dirname "$0")/../.." && pwd)
build=$top/_fuzz
cd "$top"
[ -x configure ] || ./bootstrap
mkdir -p "$build"
cd "$build"
if [ ! -f Makefile ]; then
	CC=clang ../configure --enable-fuzz --enable-sanitizers \
	    >configure.log || { cat configure.log >&2; exit 1; }
fi
make -j2 fuzz-targets

if [ $# -eq 0 ]; then
	set -- $(ls tests/fuzz/ | grep '_fuzz$' || true)
fi
[ $# -gt 0 ] || { echo "run-fuzz.sh: no fuzz targets built" >&2; exit 1; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
for t in "$@"; do
	t=${t##*/}
	mkdir -p "corpus/$t"
	seeds=
	[ -d "$top/tests/fuzz/seeds/$t" ] && seeds=$top/tests/fuzz/seeds/$t
	echo "== $t: ${secs}s"
	if ! "tests/fuzz/$t" -max_total_time="$secs" -print_final_stats=1 \
	    "corpus/$t" $seeds; then
		echo "== $t: FAILED (reproducer in $build)" >&2
		status=1
	fi
done
exit $status
