# SPDX-License-Identifier: MIT
"""test_differential_pop3.py - the same POP3 session to Dovecot and buzon.

One Maildir of awkward messages (a line that starts with a dot, a 5,000-
octet line, a last line without its newline, an empty body, a header-only
message) is served by buzon-pop3d and, from a copy, by Dovecot's pop3
(Debian's dovecot-pop3d, started by bench/pop3.py's helper with its own
config on a free 127.0.0.1 port).  Dovecot is the reference: each command
of a session typed by hand must get the same status (+OK or -ERR), STAT
and LIST the same numbers, and RETR and TOP the same bytes.  Without
dovecot installed the test fails (dev.sh installs it).
"""

import os
import shutil
import socket
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)),
                                "bench"))

import buzontest  # noqa: E402
from buzontest import Instance  # noqa: E402

DOMAIN = "example.test"
USER = "diff@" + DOMAIN
PASSWORD = "Secret-pass-9"

MESSAGES = [
    "From: a@example.org\nSubject: one\n\nhello\n.dot line\n..two dots\n",
    "From: b@example.org\nSubject: long\n\n" + "x" * 5000 + "\nend\n",
    "From: c@example.org\nSubject: no newline at end\n\nlast line",
    "From: d@example.org\nSubject: empty body\n\n",
    "From: e@example.org\nSubject: headers only\n",
    "From: f@example.org\nSubject: many lines\n\n" +
    "".join("line %d\n" % i for i in range(200)),
]


class Session:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=15)
        self.f = self.sock.makefile("rb")
        self.greeting = self.f.readline()

    def cmd(self, line, multi=False):
        """Status word, the rest of the status line, and for multi-line
        answers the body bytes up to (not with) the "." line."""
        self.sock.sendall(line.encode() + b"\r\n")
        first = self.f.readline()
        status = first.split(b" ", 1)[0].rstrip(b"\r\n")
        body = None
        if multi and status == b"+OK":
            body = b""
            while True:
                ln = self.f.readline()
                if not ln or ln == b".\r\n":
                    break
                body += ln
        return status.decode(), first.decode().rstrip("\r\n"), body

    def close(self):
        self.sock.close()


class DifferentialPop3(unittest.TestCase):
    inst = None
    dovecot = None

    @classmethod
    def setUpClass(cls):
        if shutil.which("dovecot") is None:
            raise AssertionError("Dovecot is needed: apt-get install "
                                 "dovecot-pop3d, as dev.sh does")
        import pop3 as pop3bench   # bench/pop3.py: starts Dovecot
        cls.pop3bench = pop3bench
        cls.inst = Instance(listeners=["pop3"], overrides={
            "auth_failure_delay": "0"})
        for args in (("domain", "add", DOMAIN),):
            r = cls.inst.cli(*args)
            assert r.returncode == 0, r.stderr
        r = cls.inst.cli("user", "add", USER, "--password-stdin",
                         input=PASSWORD + "\n")
        assert r.returncode == 0, r.stderr
        cls.maildir = os.path.join(cls.inst.dir, "mail", DOMAIN, "diff")
        for i, text in enumerate(MESSAGES):
            name = "%d.M%dP%d.diff" % (1700000000 + i, i, os.getpid())
            with open(os.path.join(cls.maildir, "tmp", name), "w") as f:
                f.write(text)
            os.rename(os.path.join(cls.maildir, "tmp", name),
                      os.path.join(cls.maildir, "new", name))
        buzontest.chown_tree(cls.maildir)
        cls.inst.start()
        cls.tmp = tempfile.mkdtemp(prefix="buzon-dovecot-")
        os.chmod(cls.tmp, 0o755)
        cls.dport = buzontest.free_port()
        cls.dovecot = pop3bench.dovecot_start(cls.tmp, cls.maildir,
                                              cls.dport)
        buzontest.wait_for(cls.dovecot_answers, 15, what="dovecot login")

    @classmethod
    def dovecot_answers(cls):
        try:
            s = Session(cls.dport)
            ok = s.cmd("USER diff")[0] == "+OK" and \
                s.cmd("PASS " + cls.pop3bench.PASSWORD)[0] == "+OK"
            s.cmd("QUIT")
            s.close()
            return ok
        except OSError:
            return False

    @classmethod
    def tearDownClass(cls):
        if cls.dovecot is not None:
            cls.dovecot.terminate()
            try:
                cls.dovecot.wait(10)
            except Exception:   # noqa: BLE001 - then kill it
                cls.dovecot.kill()
            shutil.rmtree(cls.tmp, ignore_errors=True)
        if cls.inst is not None:
            cls.inst.cleanup()

    def both(self):
        b = Session(self.inst.port("pop3"))
        d = Session(self.dport)
        self.assertTrue(b.greeting.startswith(b"+OK"))
        self.assertTrue(d.greeting.startswith(b"+OK"))
        return b, d

    def login(self, s, user, password):
        self.assertEqual(s.cmd("USER " + user)[0], "+OK")
        self.assertEqual(s.cmd("PASS " + password)[0], "+OK")

    def same(self, b, d, line, multi=False, exact=False):
        rb, rd = b.cmd(line, multi), d.cmd(line, multi)
        self.assertEqual(rb[0], rd[0], "%s: buzon %r, dovecot %r" % (
            line, rb[1], rd[1]))
        if exact:
            self.assertEqual(rb[1], rd[1], line)
        self.assertEqual(rb[2], rd[2], "%s: bodies differ" % line)
        return rb

    def test_typed_session(self):
        b, d = self.both()
        try:
            # refused before login (Dovecot closes after three)
            for line in ("STAT", "BOGUS"):
                self.same(b, d, line)
            self.login(b, USER, PASSWORD)
            self.login(d, "diff", self.pop3bench.PASSWORD)
            n = len(MESSAGES)
            self.same(b, d, "STAT", exact=True)
            self.same(b, d, "LIST", multi=True)
            self.same(b, d, "LIST 2", exact=True)
            for line in ("LIST %d" % (n + 1), "LIST 0", "LIST x",
                         "LIST -1", "RETR %d" % (n + 1), "RETR 0",
                         "TOP 1", "TOP 1 x", "DELE 0", "BOGUS", "NOOP",
                         "UIDL %d" % (n + 1)):
                self.same(b, d, line)
            for i in range(1, n + 1):
                self.same(b, d, "RETR %d" % i, multi=True)
                for lines in (0, 1, 3, 1000):
                    self.same(b, d, "TOP %d %d" % (i, lines), multi=True)
            self.same(b, d, "DELE 1")
            self.same(b, d, "DELE 1")          # already deleted
            self.same(b, d, "RETR 1")
            self.same(b, d, "LIST 1")
            self.same(b, d, "STAT", exact=True)
            self.same(b, d, "LIST", multi=True)
            self.same(b, d, "RSET")
            self.same(b, d, "STAT", exact=True)
            self.same(b, d, "RETR 1", multi=True)
        finally:
            b.close()
            d.close()


if __name__ == "__main__":
    unittest.main()
