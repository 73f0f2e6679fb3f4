# SPDX-License-Identifier: MIT
"""test_differential.py - the same SMTP input to Postfix and to buzon.

Postfix (Debian's package, started with its own temporary config on a free
127.0.0.1 port by bench/lib/smtpbench.py, delivering with virtual(8) into
Maildirs) is the reference: a teaching-lab session typed by hand, a
pipelined pair of transactions after a 3,000-octet line, and message lines
of 998 to 100,000 octets must give the same reply codes from both, and the
same stored bytes.  Needs root (Postfix's master runs as root) and the
postfix package, which dev.sh installs; without them the test fails.
"""

import os
import re
import socket
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)),
                                "bench", "lib"))

import smtpbench  # noqa: E402
from buzontest import wait_for  # noqa: E402

DOMAIN = smtpbench.DOMAIN


def session(port, data, timeout=20):
    """Send data in one write after the greeting; every reply line until
    the server closes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    f = s.makefile("rb")
    greeting = f.readline()
    assert greeting.startswith(b"220"), greeting
    s.sendall(data)
    out = []
    while True:
        line = f.readline()
        if not line:
            break
        out.append(line.decode("utf-8", "replace").rstrip("\r\n"))
    s.close()
    return out


def lockstep(port, lines, timeout=20):
    """One command at a time, as a student types: each reply's code and
    enhanced status ("250 2.1.0"), or the code alone without one."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    f = s.makefile("rb")
    assert f.readline().startswith(b"220")
    codes = []
    in_data = False
    for line in lines:
        s.sendall(line + b"\r\n")
        if in_data and line != b".":
            continue    # message content gets no reply
        while True:
            r = f.readline().decode("utf-8", "replace")
            if r[3:4] != "-":
                break
        m = re.match(r"(\d{3})(?: (\d\.\d{1,3}\.\d{1,3}))?", r)
        codes.append(" ".join(g for g in m.groups() if g))
        in_data = codes[-1].startswith("354")
    s.close()
    return codes


def body_of(data):
    """A stored message's body (after the first empty line)."""
    return data.split(b"\n\n", 1)[1]


class Differential(unittest.TestCase):
    servers = ()

    @classmethod
    def setUpClass(cls):
        if not smtpbench.have_postfix():
            raise AssertionError("Postfix is needed (and root): apt-get "
                                 "install postfix, as dev.sh does")
        args = smtpbench.arg_parser("differential", "").parse_args(
            ["-u", "2"])
        cls.buzon = smtpbench.Buzon(args, with_queue=True)
        cls.servers = [cls.buzon]
        cls.buzon.add_users(2)
        cls.postfix = smtpbench.Postfix(args, with_queue=True)
        cls.servers.append(cls.postfix)
        cls.buzon.start()
        cls.postfix.start()

    @classmethod
    def tearDownClass(cls):
        for srv in cls.servers:
            srv.stop()

    def stored(self, srv, marker, timeout=20):
        """The one message in user1's Maildir that holds marker."""
        new = os.path.join(srv.maildirs[0], "new")
        found = []

        def look():
            found.clear()
            for n in os.listdir(new):
                with open(os.path.join(new, n), "rb") as f:
                    data = f.read()
                if marker in data:
                    found.append(data)
            return bool(found)
        wait_for(look, timeout, what="%s: message %r" % (srv.name, marker))
        self.assertEqual(len(found), 1)
        return found[0]

    def test_lab_session_codes_alike(self):
        rcpt = b"user1@" + DOMAIN.encode()
        lines = [b"HELO pc23.ejemplo.com",
                 b"MAIL FROM: <usuario@ejemplo.com>",
                 b"RCPT TO: <" + rcpt + b">",
                 b"RCPT TO:<nobody@" + DOMAIN.encode() + b">",
                 b"DATA", b"Subject: hola", b"", b"hola", b".",
                 b"RSET", b"NOOP", b"BOGUS", b"EXPN x", b"RSET x",
                 b"VRFY", b"DATA x", b"HELO a b",
                 b"MAIL FROM:<usuario@ejemplo.com>",
                 b"MAIL FROM:<usuario@ejemplo.com>",
                 b"RSET",
                 b"EHLO pc23.ejemplo.com",
                 b"MAIL FROM:<a@ejemplo.com> SIZE=999999999",
                 b"DATA",
                 # (Postfix keeps the refused SIZE until RSET)
                 b"RSET",
                 # local parts past RFC 5321's 64 octets (VERP, SRS)
                 b"MAIL FROM:<" + b"v" * 200 + b"@ejemplo.com>",
                 b"RCPT TO:<" + b"u" * 70 + b"@" + DOMAIN.encode() + b">",
                 # (past the 256-octet path buzon answers 501, Postfix
                 # has no limit: not compared)
                 b"RCPT TO:<" + b"u" * 240 + b"@" + DOMAIN.encode() + b">",
                 b"RSET",
                 b"QUIT"]
        got = {srv.name: lockstep(srv.port, lines) for srv in self.servers}
        self.assertEqual(got["buzon"], got["postfix"])

    def test_crlf_after_long_line_gives_the_same_two_transactions(self):
        rcpt = b"user1@" + DOMAIN.encode()
        mark = b"difftwo%d" % os.getpid()
        data = (b"EHLO pc23.ejemplo.com\r\nMAIL FROM:<a@ejemplo.com>\r\n"
                b"RCPT TO:<" + rcpt + b">\r\nDATA\r\n")
        first = (b"Subject: " + mark + b"-1\r\n\r\n" + b"A" * 3000 +
                 b"\r\n.\r\n")
        second = (b"MAIL FROM:<b@ejemplo.com>\r\nRCPT TO:<" + rcpt +
                  b">\r\nDATA\r\nSubject: " + mark + b"-2\r\n\r\nsecond\r\n"
                  b".\r\nQUIT\r\n")
        codes = {}
        for srv in self.servers:
            # EHLO first, alone: its reply lines differ by design
            out = session(srv.port, data + first + second)
            codes[srv.name] = [line[:3] for line in out
                               if line[3:4] != "-"]
        self.assertEqual(codes["buzon"], codes["postfix"])
        self.assertEqual(codes["buzon"],
                         ["250", "250", "250", "354", "250", "250", "250",
                          "354", "250", "221"])
        for n in (b"-1", b"-2"):
            self.assertEqual(body_of(self.stored(self.buzon, mark + n)),
                             body_of(self.stored(self.postfix, mark + n)))

    def test_long_lines_stored_alike(self):
        rcpt = b"user1@" + DOMAIN.encode()
        for size in (998, 999, 2048, 2049, 5000, 100000):
            mark = b"difflong%d-%d" % (os.getpid(), size)
            line = bytes((0x61 + i % 26) for i in range(size))
            msg = (b"Subject: " + mark + b"\r\n\r\n" + line + b"\r\n.." +
                   line + b"\r\nend\r\n.\r\n")
            cmds = (b"HELO pc23.ejemplo.com\r\nMAIL FROM:<a@ejemplo.com>\r\n"
                    b"RCPT TO:<" + rcpt + b">\r\nDATA\r\n")
            for srv in self.servers:
                out = session(srv.port, cmds + msg + b"QUIT\r\n")
                self.assertEqual([line[:3] for line in out],
                                 ["250", "250", "250", "354", "250", "221"],
                                 "%s, %d octets: %s" % (srv.name, size, out))
            a = body_of(self.stored(self.buzon, mark))
            b = body_of(self.stored(self.postfix, mark))
            self.assertEqual(len(a), len(b), "%d octets" % size)
            self.assertTrue(a == b, "%d octets: bodies differ" % size)
            self.assertEqual(a, line + b"\n." + line + b"\nend\n")


if __name__ == "__main__":
    unittest.main()
