#!/bin/sh
# SPDX-License-Identifier: MIT
#
# run-e2e.sh - the automake TESTS entry for the end-to-end tests: runs
# run.py (next to this script, also in VPATH builds) against the programs of
# the build tree in $BUZON_TOP_BUILDDIR (set by make check; default
# ../../_build from here when run by hand).  Exit 77 (skip) without python3.
here=$(cd "$(dirname "$0")" && pwd) || exit 99
if [ -z "${BUZON_TOP_BUILDDIR:-}" ]; then
	BUZON_TOP_BUILDDIR=$(cd "$here/../.." && pwd)/_build
	export BUZON_TOP_BUILDDIR
fi
PYTHON=${PYTHON3:-python3}
if ! command -v "$PYTHON" >/dev/null 2>&1; then
	echo "e2e: python3 not found, skipped"
	exit 77
fi
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE
exec "$PYTHON" "$here/run.py" "$@"
