# SPDX-License-Identifier: MIT
"""Tests of the e2e harness itself (buzontest.py, run.py, run-e2e.sh):
config rewriting; the line client, plain, TLS and STARTTLS, against a small
Python server; and that a missing program or tool fails a test, never skips
it."""

import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import unittest

import buzontest
from buzontest import LineClient, has_verb, set_conf_lines


class SetConfLines(unittest.TestCase):

    def test_replaces_uncommented_and_appends(self):
        text = ("# comment\n"
                "#smtp_listen = *:25\n"
                "log_level = info\n"
                "trace = no\n")
        out = set_conf_lines(text, {"log_level": "debug",
                                    "smtp_listen": "127.0.0.1:1"})
        lines = out.splitlines()
        self.assertIn("#smtp_listen = *:25", lines)
        self.assertIn("log_level = debug", lines)
        self.assertNotIn("log_level = info", lines)
        self.assertIn("trace = no", lines)
        self.assertEqual(lines[-1], "smtp_listen = 127.0.0.1:1")
        self.assertEqual(lines.index("log_level = debug"), 2)

    def test_continuation_lines_replaced(self):
        text = "imap_listen = 127.0.0.1:1,\n  127.0.0.1:2\ntrace = no\n"
        out = set_conf_lines(text, {"imap_listen": ""})
        self.assertEqual(out, "imap_listen = \ntrace = no\n")

    def test_none_removes(self):
        out = set_conf_lines("a = 1\nb = 2\n", {"a": None, "c": None})
        self.assertEqual(out, "b = 2\n")

    def test_duplicates_collapse(self):
        out = set_conf_lines("a = 1\na = 2\n", {"a": "3"})
        self.assertEqual(out, "a = 3\n")


class Server:
    """A one-connection line server in a thread: greets, then answers
    STARTTLS by switching to TLS, and echoes other lines."""

    def __init__(self, cert, key, implicit_tls=False):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(1)
        self.port = self.lsock.getsockname()[1]
        self.implicit_tls = implicit_tls
        self.error = None
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        try:
            conn, _ = self.lsock.accept()
            conn.settimeout(5)
            if self.implicit_tls:
                conn = self.ctx.wrap_socket(conn, server_side=True)
            f = conn.makefile("rb")
            conn.sendall(b"+OK hello\r\n")
            while True:
                line = f.readline()
                if not line:
                    break
                line = line.rstrip(b"\r\n")
                if line == b"STARTTLS":
                    conn.sendall(b"+OK go ahead\r\n")
                    conn = self.ctx.wrap_socket(conn, server_side=True)
                    f = conn.makefile("rb")
                elif line == b"QUIT":
                    conn.sendall(b"+OK bye\r\n")
                    break
                else:
                    tls = isinstance(conn, ssl.SSLSocket)
                    conn.sendall(b"echo%s: %s\r\n" % (
                        b" tls" if tls else b"", line))
            conn.close()
        except Exception as e:  # reported by the test
            self.error = e
        finally:
            self.lsock.close()

    def join(self):
        self.thread.join(10)
        if self.error:
            raise self.error


@buzontest.require_verbs("init")
class Client(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="buzon-e2e-")
        d = os.path.join(cls.tmp, "inst")
        r = buzontest.buzon("init", d)
        if r.returncode != 0:
            raise AssertionError(r.stderr)
        cls.cert = os.path.join(d, "tls", "cert.pem")
        cls.key = os.path.join(d, "tls", "key.pem")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, True)

    def test_plain(self):
        srv = Server(self.cert, self.key)
        with LineClient(srv.port) as c:
            c.expect("+OK hello")
            self.assertEqual(c.command("hi", "echo"), "echo: hi")
            c.command("QUIT", "+OK bye")
            self.assertEqual(c.readline(), "")
        srv.join()

    def test_implicit_tls(self):
        srv = Server(self.cert, self.key, implicit_tls=True)
        with LineClient(srv.port, tls=True) as c:
            c.expect("+OK hello")
            self.assertEqual(c.command("hi", "echo"), "echo tls: hi")
            c.command("QUIT", "+OK bye")
        srv.join()

    def test_starttls(self):
        srv = Server(self.cert, self.key)
        with LineClient(srv.port) as c:
            c.expect("+OK hello")
            c.command("STARTTLS", "+OK go ahead")
            c.starttls()
            self.assertEqual(c.command("hi", "echo"), "echo tls: hi")
            c.command("QUIT", "+OK bye")
        srv.join()

    def test_expect_mismatch_shows_transcript(self):
        srv = Server(self.cert, self.key)
        with LineClient(srv.port) as c:
            with self.assertRaises(AssertionError) as cm:
                c.expect("-ERR")
            self.assertIn("S: +OK hello", str(cm.exception))
            c.command("QUIT", "+OK bye")
        srv.join()


@buzontest.require(has_verb("init") and has_verb("run") and
                   buzontest.have_fixture(), "buzon run or fixture missing")
class InstanceStart(unittest.TestCase):

    def test_port_taken_meanwhile_is_repicked(self):
        with buzontest.Instance(fixture=True, listeners=["smtp"]) as b:
            taken = b.port("smtp")
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.addCleanup(s.close)
            s.bind(("127.0.0.1", taken))
            s.listen(1)
            b.start()
            self.assertNotEqual(b.port("smtp"), taken)
            with LineClient(b.port("smtp")) as c:
                c.expect("+OK fixture smtp")

    def test_cleans_up_after_start_verb(self):
        buzontest.need(self, has_verb("start"), "no start verb")
        with buzontest.Instance(fixture=True, listeners=["imap"]) as b:
            r = b.cli("start")
            self.assertEqual(r.returncode, 0, r.stderr)
            b.wait_ready()
            pid = b.pid_from_file()
            self.assertTrue(pid and buzontest.pid_alive(pid))
        buzontest.wait_for(lambda: not buzontest.pid_alive(pid), 5)
        self.assertFalse(buzontest.can_connect(b.port("imap")))

    def test_leaves_nothing_behind(self):
        with buzontest.Instance(fixture=True) as b:
            b.start()
            tmp, pgid = b.tmp, b.pid
            self.assertTrue(buzontest.group_members(pgid))
        self.assertEqual(buzontest.group_members(pgid), [])
        self.assertFalse(os.path.exists(tmp))


class MissingProgramFails(unittest.TestCase):
    """A test that cannot run for want of a program fails, never skips:
    a build that lost a daemon must not pass."""

    RUN_PY = os.path.join(buzontest.HERE, "run.py")

    def lost_build(self):
        """A build tree whose Makefile says it builds buzon-pop3d, which
        is not there: a build that lost a daemon."""
        tmp = tempfile.mkdtemp(prefix="buzon-e2e-")
        self.addCleanup(shutil.rmtree, tmp, True)
        os.mkdir(os.path.join(tmp, "master"))
        os.symlink(buzontest.BUZON, os.path.join(tmp, "master", "buzon"))
        with open(os.path.join(tmp, "Makefile"), "w") as f:
            f.write("bin_PROGRAMS = master/buzon$(EXEEXT)\n"
                    "pkglibexec_PROGRAMS = \\\n"
                    "\tpop3d/buzon-pop3d$(EXEEXT)\n")
        return tmp

    def run_e2e(self, build, *args, python=None):
        env = dict(os.environ, BUZON_TOP_BUILDDIR=build)
        env.pop("BUZON_PROGRAMS", None)
        if python is not None:
            env["PYTHON3"] = python
        return subprocess.run(
            [os.path.join(buzontest.HERE, "run-e2e.sh")] + list(args),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, universal_newlines=True, timeout=120,
            env=env)

    def test_expected_programs_from_makefile(self):
        build = self.lost_build()
        saved = buzontest.TOP_BUILDDIR, os.environ.pop("BUZON_PROGRAMS",
                                                        None)
        try:
            buzontest.TOP_BUILDDIR = build
            self.assertEqual(buzontest.expected_programs(),
                             ["master/buzon", "pop3d/buzon-pop3d"])
            self.assertEqual(buzontest.missing_programs(),
                             ["pop3d/buzon-pop3d"])
        finally:
            buzontest.TOP_BUILDDIR = saved[0]
            if saved[1] is not None:
                os.environ["BUZON_PROGRAMS"] = saved[1]

    def test_every_program_of_the_build_is_there(self):
        self.assertIsNotNone(buzontest.expected_programs(),
                             "no BUZON_PROGRAMS and no Makefile in %s" %
                             buzontest.TOP_BUILDDIR)
        self.assertEqual(buzontest.missing_programs(), [])

    def test_lost_daemon_fails_its_tests(self):
        build = self.lost_build()
        pop3 = os.path.join(buzontest.HERE, "test_pop3.py")
        r = self.run_e2e(build, "-k", "test_pop3.", pop3)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("cannot run: buzon-pop3d not built", r.stdout)
        self.assertRegex(r.stdout, r"e2e: 0 passed, [1-9][0-9]* failed, "
                         r"0 skipped")
        r = self.run_e2e(build, "-k", "RealDaemons", os.path.join(
            buzontest.HERE, "test_master.py"))
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("cannot run: not built: pop3d/buzon-pop3d", r.stdout)

    def test_decorators_fail_not_skip(self):
        @buzontest.require(False, "a thing")
        class Lacking(unittest.TestCase):
            @classmethod
            def setUpClass(cls):
                raise AssertionError("setUpClass ran")

            def test_a(self):
                pass

        class Method(unittest.TestCase):
            @buzontest.require_tool("no-such-tool-here", "nothing")
            def test_b(self):
                pass

        for cls, what in ((Lacking, "cannot run: a thing"),
                          (Method, "cannot run: no-such-tool-here not "
                           "installed (Debian package nothing)")):
            result = unittest.TestResult()
            unittest.defaultTestLoader.loadTestsFromTestCase(cls).run(result)
            self.assertEqual((result.testsRun, len(result.failures),
                              len(result.errors), len(result.skipped)),
                             (1, 1, 0, 0))
            self.assertIn(what, result.failures[0][1])

    def test_no_python_is_a_failure(self):
        r = self.run_e2e(buzontest.TOP_BUILDDIR, "-k", "nothing",
                         python="/nonexistent/python3")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("python3 not found", r.stdout)


if __name__ == "__main__":
    unittest.main()
