#!/bin/sh
# SPDX-License-Identifier: MIT
#
# no-criterion.sh - stands in for the unit tests when configure found no
# Criterion: they cannot run, so make check fails, it does not pass
# without them.
echo "unit: Criterion not found at configure time: the unit tests cannot" \
    "run (install the Debian package libcriterion-dev, then configure again)"
exit 1
