#!/bin/sh
# SPDX-License-Identifier: MIT
#
# run-deliver.sh - the automake TESTS entry for tests/e2e/test_deliver.py
# (buzon-deliver as an MDA).  Exit 77 (skip) without python3.
here=$(cd "$(dirname "$0")" && pwd) || exit 99
PYTHON=${PYTHON3:-python3}
if ! command -v "$PYTHON" >/dev/null 2>&1; then
	echo "test_deliver: python3 not found, skipped"
	exit 77
fi
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE
exec "$PYTHON" "$here/test_deliver.py" -v
