#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""run.py - run the end-to-end tests (tests/e2e/test_*.py).

    run.py [-k SUBSTRING] [-v] [test_file.py ...]

Each test is bounded in time (BUZON_E2E_TIMEOUT seconds, default 60).
Prints one line per test and, last, "e2e: N passed, N failed, N skipped".
Exits 1 when a test failed, 0 otherwise.  A test that cannot run for want
of a program or tool fails (buzontest.require); only what the machine
rightly lacks (root, a configure option left out) is skipped.  Needs the build tree in
$BUZON_TOP_BUILDDIR (make check sets it; default ../../_build).
"""

import argparse
import glob
import os
import signal
import sys
import time
import traceback
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import buzontest  # noqa: E402

TEST_TIMEOUT = int(os.environ.get("BUZON_E2E_TIMEOUT", "60"))


class TestTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise TestTimeout("test took longer than %ds" % TEST_TIMEOUT)


class Result(unittest.TestResult):
    """Prints a line per test, arms an alarm around each one."""

    def __init__(self, verbose):
        super().__init__()
        self.verbose = verbose
        self.passed = 0
        self.t0 = 0.0

    def name(self, test):
        return test.id().replace("__main__.", "")

    def startTest(self, test):
        super().startTest(test)
        self.t0 = time.monotonic()
        signal.alarm(TEST_TIMEOUT)

    def stopTest(self, test):
        signal.alarm(0)
        super().stopTest(test)

    def line(self, word, test, extra=""):
        print("%-5s %s (%.2fs)%s" % (word, self.name(test),
                                     time.monotonic() - self.t0, extra),
              flush=True)

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1
        self.line("ok", test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self.line("FAIL", test)
        print(self.failures[-1][1], flush=True)

    def addError(self, test, err):
        super().addError(test, err)
        self.line("ERROR", test)
        print(self.errors[-1][1], flush=True)

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            failed = issubclass(err[0], test.failureException)
            self.line("FAIL" if failed else "ERROR", subtest)
            lst = self.failures if failed else self.errors
            print(lst[-1][1], flush=True)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.line("skip", test, ": " + reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self.passed += 1
        self.line("xfail", test)

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.line("XPASS", test)

    def failed_count(self):
        return (len(self.failures) + len(self.errors) +
                len(self.unexpectedSuccesses))


def load(files, pattern):
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    for path in files:
        modname = os.path.splitext(os.path.basename(path))[0]
        try:
            mod = __import__(modname)
        except Exception:
            # an unimportable file is a failure, not a silent skip
            tb = traceback.format_exc()

            def broken(self, tb=tb):
                self.fail("cannot import:\n" + tb)
            cls = type(modname, (unittest.TestCase,), {"test_import": broken})
            suite.addTest(cls("test_import"))
            continue
        for test in iter_tests(loader.loadTestsFromModule(mod)):
            if pattern is None or pattern in test.id():
                suite.addTest(test)
    return suite


def iter_tests(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from iter_tests(t)
        else:
            yield t


def main():
    ap = argparse.ArgumentParser(description="buzon end-to-end tests")
    ap.add_argument("-k", dest="pattern", help="only tests whose id "
                    "contains this")
    ap.add_argument("-v", action="store_true", help="verbose")
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()

    files = args.files or sorted(glob.glob(os.path.join(HERE, "test_*.py")))
    files = [os.path.abspath(f) for f in files]
    for d in sorted({os.path.dirname(f) for f in files}):
        if d not in sys.path:
            sys.path.insert(0, d)

    print("e2e: buzon %s" % buzontest.BUZON, flush=True)
    signal.signal(signal.SIGALRM, _alarm)
    suite = load(files, args.pattern)
    result = Result(args.v)
    t0 = time.monotonic()
    try:
        suite.run(result)
    finally:
        signal.alarm(0)
        buzontest._cleanup_all()
    print("e2e: %d passed, %d failed, %d skipped (%.1fs)" % (
        result.passed, result.failed_count(), len(result.skipped),
        time.monotonic() - t0), flush=True)
    return 1 if result.failed_count() else 0


if __name__ == "__main__":
    sys.exit(main())
