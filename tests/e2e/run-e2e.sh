#!/bin/sh
# SPDX-License-Identifier: MIT
#
# run-e2e.sh - the automake TESTS entry for the end-to-end tests: runs
# run.py (next to this script, also in VPATH builds) against the programs of
# the build tree in $BUZON_TOP_BUILDDIR (set by make check; default
# ../../_build from here when run by hand).  Without python3 it fails (exit
# 1): tests that cannot run must not pass as skipped.
here=$(cd "$(dirname "$0")" && pwd) || exit 99
if [ -z "${BUZON_TOP_BUILDDIR:-}" ]; then
	BUZON_TOP_BUILDDIR=$(cd "$here/../.." && pwd)/_build
	export BUZON_TOP_BUILDDIR
fi
PYTHON=${PYTHON3:-python3}
if ! command -v "$PYTHON" >/dev/null 2>&1; then
	echo "e2e: $PYTHON not found: the end-to-end tests cannot run" \
	    "(install the Debian package python3)"
	exit 1
fi
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE
exec "$PYTHON" "$here/run.py" "$@"
