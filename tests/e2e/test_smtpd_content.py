# SPDX-License-Identifier: MIT
"""test_smtpd_content.py - message content as a hostile client sends it.

DATA and BDAT against the running suite over TCP: where a message ends
whatever came before (an over-long line ended by a bare LF or a bare CR),
the same bytes split across many writes at every offset, lines of any
length kept byte for byte from SMTP to the Maildir and back over POP3,
BDAT refused before STARTTLS without its chunk being read as commands,
the same bare-newline policy in DATA and BDAT, and the deadlines that stop
a client trickling one byte at a time.
"""

import os
import re
import socket
import threading
import time
import unittest

import buzontest
import test_smtpd
from buzontest import Instance, wait_for

DOMAIN = "example.test"
HOST = "mail.example.test"
USER = "carol@" + DOMAIN
PASSWORD = "Secret-pass-1"

SETTINGS = {
    "trace": "no",
    "smtpd_spf_policy": "none",
    "mynetworks": "192.0.2.0/24",
    "smtpd_max_connections_per_ip": "200",
    "smtpd_max_errors": "100",
    "queue_retry_min": "1h",
    "auth_failure_delay": "0",
}


class Client(test_smtpd.Client):
    """The raw SMTP client, each write its own segment."""

    def __init__(self, port, timeout=10.0):
        super().__init__(port, timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def rest(self):
        """Everything until the server closes (bounded by the timeout)."""
        data = self.buf
        self.buf = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            data += chunk
        return data.decode("utf-8", "replace")


def attack(ending, n_a, sender, evil, rcpt):
    """The outside report's sequence: the content of a first message with
    one line of n_a 'A' ended by `ending`, then '.' CRLF and a second
    transaction, then QUIT.  Returns (bytes, offset just past the long
    line's ending)."""
    head = (b"Subject: smuggle\r\nFrom: <" + sender.encode() + b">\r\n\r\n"
            + b"A" * n_a + ending)
    tail = (b".\r\nMAIL FROM:<" + evil.encode() + b">\r\n"
            b"RCPT TO:<" + rcpt.encode() + b">\r\nDATA\r\n"
            b"Subject: second\r\n\r\nevil\r\n.\r\nQUIT\r\n")
    return head + tail, len(head)


def unstuff_wire(lines_data):
    """Stored bytes from a POP3 RETR body (dot-stuffed, "." ended)."""
    assert lines_data.endswith(b"\r\n.\r\n")
    body = lines_data[:-3]
    out = []
    for line in body.split(b"\r\n")[:-1]:
        out.append(line[1:] if line.startswith(b".") else line)
    return b"\r\n".join(out) + b"\r\n"


class ContentBase(buzontest.InstanceCase):
    inst = None
    overrides = {}
    counter = 0

    @classmethod
    def setUpClass(cls):
        settings = dict(SETTINGS)
        settings.update(cls.overrides)
        cls.inst = Instance(demo=True, listeners=["smtp", "submission",
                                                  "pop3"],
                            overrides=settings)
        r = cls.inst.cli("user", "add", USER, "--password-stdin",
                         input=PASSWORD + "\n")
        if r.returncode != 0:
            raise AssertionError("user add: %s%s" % (r.stdout, r.stderr))
        cls.inst.start()
        cls.smtp = cls.inst.port("smtp")

    def sender(self, what):
        ContentBase.counter += 1
        return "%s%d.%d@ejemplo.com" % (what, os.getpid(),
                                        ContentBase.counter)

    def connect(self, port=None):
        c = Client(port or self.smtp)
        self.assertEqual(c.reply(), "220 %s ESMTP buzon\r\n" % HOST)
        return c

    def queued(self, sender):
        return len(re.findall(r" [0-9A-Z]{16} from=<%s> size=" %
                              re.escape(sender), self.inst.log_text()))

    def maildir_new(self):
        return os.path.join(self.inst.dir, "mail", DOMAIN, "carol", "new")

    def stored_with(self, marker, timeout=15):
        """The one delivered message that holds marker, as the client
        gets it back (CRLF line ends)."""
        found = []

        def look():
            found.clear()
            try:
                names = os.listdir(self.maildir_new())
            except FileNotFoundError:
                return False
            for n in names:
                with open(os.path.join(self.maildir_new(), n), "rb") as f:
                    data = f.read()
                if marker in data:
                    found.append(data)
            return bool(found)
        wait_for(look, timeout, what="a message with %r" % marker[:40])
        self.assertEqual(len(found), 1, "delivered %d times" % len(found))
        # Maildir files keep Unix line ends; POP3 and IMAP give CRLF
        return found[0].replace(b"\n", b"\r\n")

    def pop3_retr_all(self):
        """Every message of carol's maildrop, as RETR gives it, unstuffed."""
        s = socket.create_connection(("127.0.0.1", self.inst.port("pop3")),
                                     timeout=20)
        f = s.makefile("rb")
        self.assertTrue(f.readline().startswith(b"+OK"))
        for line in (b"USER " + USER.encode(), b"PASS " + PASSWORD.encode()):
            s.sendall(line + b"\r\n")
            r = f.readline()
            self.assertTrue(r.startswith(b"+OK"), r)
        s.sendall(b"STAT\r\n")
        n = int(f.readline().split()[1])
        out = []
        for i in range(1, n + 1):
            s.sendall(b"RETR %d\r\n" % i)
            self.assertTrue(f.readline().startswith(b"+OK"))
            data = b""
            while not data.endswith(b"\r\n.\r\n"):
                line = f.readline()
                self.assertTrue(line, "EOF in RETR")
                data += line
            out.append(unstuff_wire(data))
        s.sendall(b"QUIT\r\n")
        f.readline()
        s.close()
        return out

    def open_tx(self, c, sender, esmtp=True):
        c.cmd(("EHLO" if esmtp else "HELO") + " pc23.ejemplo.com")
        self.assertEqual(c.cmd("MAIL FROM:<%s>" % sender), "250 2.1.0 Ok\r\n")
        self.assertEqual(c.cmd("RCPT TO:<%s>" % USER), "250 2.1.5 Ok\r\n")


class Smuggling(ContentBase):
    """An over-long line ended by a bare LF or CR never ends DATA."""

    def run_attack(self, ending, n_a, cuts=None, bdat=False):
        sender, evil = self.sender("first"), self.sender("evil")
        data, line_end = attack(ending, n_a, sender, evil, USER)
        with self.connect() as c:
            self.open_tx(c, sender)
            if bdat:
                content = data[:-len(b"QUIT\r\n")]
                data = b"BDAT %d LAST\r\n" % len(content) + content + \
                    b"QUIT\r\n"
                line_end += len(b"BDAT %d LAST\r\n" % len(content))
            else:
                self.assertEqual(c.cmd("DATA"),
                                 "354 End data with <CR><LF>.<CR><LF>\r\n")
            if cuts is None:
                c.send(data)
            else:
                prev = 0
                for cut in cuts:
                    c.send(data[prev:cut])
                    time.sleep(0.002)
                    prev = cut
                c.send(data[prev:])
            out = c.rest()
        return out, sender, evil

    def check(self, out, sender, evil, want_first):
        lines = out.splitlines()
        self.assertEqual(len(lines), 2, out)
        self.assertTrue(lines[0].startswith(want_first), out)
        self.assertEqual(lines[1], "221 2.0.0 Bye", out)
        # reply codes, not substrings: a queue id may contain "354"
        codes = [ln[:3] for ln in lines]
        self.assertNotIn("354", codes, out)
        self.assertFalse(any(" 2.1.0 " in ln for ln in lines), out)
        # the log line may land a moment after the reply
        want = 1 if want_first.startswith("250") else 0
        if want:
            buzontest.wait_for(lambda: self.queued(sender) >= want, 10,
                               what="the queued line of " + sender)
        self.assertEqual(self.queued(sender), want)
        self.assertEqual(self.queued(evil), 0)

    def test_long_line_bare_lf_then_dot_is_content(self):
        out, sender, evil = self.run_attack(b"\n", 3000)
        self.check(out, sender, evil, "250 2.0.0 Ok: queued as ")
        # the second "transaction" is in the first message, as text
        data = self.stored_with(sender.encode())
        self.assertTrue(b"A" * 3000 + b"\r\n\r\nMAIL FROM:<" +
                        evil.encode() + b">\r\nRCPT TO:<" + USER.encode() +
                        b">\r\nDATA\r\nSubject: second\r\n\r\nevil\r\n"
                        in data, data[-300:])
        self.assertTrue(data.endswith(b"evil\r\n"), data[-40:])

    def test_long_line_bare_cr_then_dot_is_refused(self):
        out, sender, evil = self.run_attack(b"\r", 3000)
        self.check(out, sender, evil, "550 5.5.2 ")

    def test_split_at_every_offset_around_the_limit(self):
        for ending in (b"\n", b"\r"):
            for n_a in (998, 2048, 2049):
                data, line_end = attack(ending, n_a, "x@y", "e@y", USER)
                offsets = [o for o in range(line_end - 4, line_end + 5)]
                for cut in offsets:
                    out, sender, evil = self.run_attack(
                        ending, n_a, cuts=[cut + 2])
                    self.check(out, sender, evil, "250 " if ending == b"\n"
                               else "550 5.5.2 ")

    def test_byte_by_byte_around_the_line_end(self):
        for ending in (b"\n", b"\r"):
            data, line_end = attack(ending, 2049, "x@y", "e@y", USER)
            cuts = list(range(line_end - 3, line_end + 12))
            out, sender, evil = self.run_attack(ending, 2049, cuts=cuts)
            self.check(out, sender, evil, "250 " if ending == b"\n"
                       else "550 5.5.2 ")

    def test_bdat_the_same(self):
        for ending, want in ((b"\n", "250 2.0.0 Ok: queued as "),
                             (b"\r", "550 5.5.2 ")):
            out, sender, evil = self.run_attack(ending, 3000, bdat=True)
            self.check(out, sender, evil, want)
            data, line_end = attack(ending, 3000, "x@y", "e@y", USER)
            out, sender, evil = self.run_attack(
                ending, 3000, bdat=True,
                cuts=list(range(line_end, line_end + 30, 3)))
            self.check(out, sender, evil, want)

    def test_crlf_gives_exactly_the_two_transactions(self):
        sender, evil = self.sender("first"), self.sender("second")
        for cut in (None, 1, 2):
            data, line_end = attack(b"\r\n", 3000, sender, evil, USER)
            with self.connect() as c:
                self.open_tx(c, sender)
                c.cmd("DATA")
                if cut is None:
                    c.send(data)
                else:
                    c.send(data[:line_end - cut])
                    time.sleep(0.01)
                    c.send(data[line_end - cut:])
                out = c.rest()
            self.assertEqual(re.sub(r"queued as [0-9A-Z]+", "queued as ID",
                                    out),
                             "250 2.0.0 Ok: queued as ID\r\n"
                             "250 2.1.0 Ok\r\n"
                             "250 2.1.5 Ok\r\n"
                             "354 End data with <CR><LF>.<CR><LF>\r\n"
                             "250 2.0.0 Ok: queued as ID\r\n"
                             "221 2.0.0 Bye\r\n")
        self.assertEqual(self.queued(sender), 3)
        self.assertEqual(self.queued(evil), 3)


class LongLines(ContentBase):
    """Lines of any length are kept byte for byte, SMTP to POP3."""

    def test_long_lines_over_data_and_bdat(self):
        lines = {}
        for size in (998, 999, 5000, 100000):
            for how in ("DATA", "BDAT"):
                sender = self.sender("long%d%s" % (size, how.lower()))
                body = bytes((0x41 + i % 26) for i in range(size))
                msg = (b"Subject: long " + str(size).encode() + b"\r\n"
                       b"X-Sender: " + sender.encode() + b"\r\n\r\n" +
                       body + b"\r\n." + body + b"\r\nend\r\n")
                with self.connect() as c:
                    self.open_tx(c, sender)
                    if how == "DATA":
                        c.cmd("DATA")
                        c.send(msg.replace(b"\r\n.", b"\r\n..") +
                               b".\r\n")
                    else:
                        c.send(b"BDAT %d LAST\r\n" % len(msg) + msg)
                    r = c.reply()
                    self.assertTrue(r.startswith("250 2.0.0 Ok: queued"),
                                    "%d %s: %s" % (size, how, r))
                lines[sender] = msg
        got = {}
        for sender, msg in lines.items():
            stored = self.stored_with(b"X-Sender: " + sender.encode())
            self.assertTrue(stored.endswith(msg), "%s differs" % sender)
            got[sender] = stored
        retrieved = self.pop3_retr_all()
        for sender, stored in got.items():
            self.assertTrue(stored in retrieved, "%s over POP3" % sender)


class CommandLines(ContentBase):
    """smtpd_max_line (2048) bounds command lines: at the limit a command
    runs, one over and far over it gets 500 5.5.0 and the session goes on
    with the next line, whatever ended the long one and however it was
    split.  Past the read buffer's 12288 octets the line is skipped as it
    arrives; below that it is read whole and refused."""

    def noop(self, total):
        return b"NOOP " + b"x" * (total - 5)

    def test_limit_one_over_far_over_every_ending(self):
        ok = "250 2.0.0 Ok\r\n"
        long_ = "500 5.5.0 Error: line too long\r\n"
        for size, want in ((2048, ok), (2049, long_), (3000, long_),
                           (12289, long_), (50000, long_)):
            for ending in (b"\r\n", b"\n"):
                data = self.noop(size) + ending + b"NOOP\r\n"
                for cuts in (None, [size - 1], [size], [size + 1]):
                    with self.connect() as c:
                        if cuts is None:
                            c.send(data)
                        else:
                            c.send(data[:cuts[0]])
                            time.sleep(0.005)
                            c.send(data[cuts[0]:])
                        self.assertEqual(c.reply(), want,
                                         "%d %r %r" % (size, ending, cuts))
                        self.assertEqual(c.reply(), ok)
                        self.assertEqual(c.cmd("QUIT"), "221 2.0.0 Bye\r\n")

    def test_bare_cr_does_not_end_a_command(self):
        # "\r" alone ends nothing: the NOOP after it is part of the line
        for size in (100, 3000, 20000):
            with self.connect() as c:
                c.send(self.noop(size) + b"\rNOOP\r\nQUIT\r\n")
                out = c.rest()
            self.assertEqual(out, ("250 2.0.0 Ok\r\n" if size < 2048 else
                                   "500 5.5.0 Error: line too long\r\n") +
                             "221 2.0.0 Bye\r\n", size)

    def test_no_ending_then_eof_runs_nothing(self):
        for size in (100, 3000, 20000):
            with self.connect() as c:
                c.send(self.noop(size - 4) + b"QUIT")
                c.sock.shutdown(socket.SHUT_WR)
                self.assertEqual(c.rest(), "", size)


class BdatBeforeStarttls(ContentBase):
    def test_chunk_is_not_read_as_commands(self):
        sub = self.inst.port("submission")
        with self.connect(sub) as c:
            c.cmd("EHLO pc23.ejemplo.com")
            # 12 octets that would be two commands if read as such
            c.send(b"BDAT 12\r\nHELP\r\nHELP\r\nNOOP\r\n")
            self.assertEqual(c.reply(), "530 5.7.0 Must issue a STARTTLS "
                             "command first\r\n")
            self.assertEqual(c.reply(), "250 2.0.0 Ok\r\n")
            self.assertEqual(c.cmd("QUIT"), "221 2.0.0 Bye\r\n")


class BareNewlineReject(ContentBase):
    """smtpd_bare_newline means the same over DATA and BDAT."""
    overrides = {"smtpd_bare_newline": "reject"}

    def test_data_and_bdat_agree(self):
        msg = b"Subject: lf\r\n\r\nbare\nlf\r\n"
        with self.connect() as c:
            self.open_tx(c, self.sender("lfdata"))
            c.cmd("DATA")
            c.send(msg + b".\r\n")
            self.assertTrue(c.reply().startswith("550 5.5.2 Bare <LF>"))
            self.open_tx(c, self.sender("lfbdat"))
            c.send(b"BDAT %d LAST\r\n" % len(msg) + msg)
            self.assertTrue(c.reply().startswith("550 5.5.2 Bare <LF>"))
            # with CRLF both are taken
            ok = msg.replace(b"bare\nlf", b"bare\r\nlf")
            self.open_tx(c, self.sender("okbdat"))
            c.send(b"BDAT %d LAST\r\n" % len(ok) + ok)
            self.assertTrue(c.reply().startswith("250 2.0.0 Ok: queued"))
            self.open_tx(c, self.sender("okdata"))
            c.cmd("DATA")
            c.send(ok + b".\r\n")
            self.assertTrue(c.reply().startswith("250 2.0.0 Ok: queued"))


class Deadlines(ContentBase):
    """A byte every few hundred ms does not keep a session alive."""
    overrides = {"smtpd_timeout": "2s", "smtpd_data_timeout": "2s",
                 "smtpd_min_data_rate": "100000"}

    def trickle_until_closed(self, c, data, interval=0.25, limit=8.0):
        t0 = time.monotonic()
        i = 0
        c.sock.settimeout(interval)
        out = b""
        while time.monotonic() - t0 < limit:
            try:
                c.send(data[i % len(data):i % len(data) + 1])
            except (BrokenPipeError, ConnectionResetError):
                break
            i += 1
            try:
                chunk = c.sock.recv(4096)
                if not chunk:
                    break
                out += chunk
            except socket.timeout:
                pass
            except ConnectionResetError:
                break
        return time.monotonic() - t0, out.decode("utf-8", "replace")

    def others_are_served(self, stop):
        """Another client keeps getting answers while one trickles."""
        while not stop.is_set():
            with self.connect() as c:
                self.assertEqual(c.cmd("NOOP"), "250 2.0.0 Ok\r\n")
                self.assertEqual(c.cmd("QUIT"), "221 2.0.0 Bye\r\n")
            time.sleep(0.2)

    def test_trickled_command_line(self):
        stop = threading.Event()
        errors = []

        def other():
            try:
                self.others_are_served(stop)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)
        t = threading.Thread(target=other)
        t.start()
        try:
            with self.connect() as c:
                took, out = self.trickle_until_closed(c, b"NOOP " + b"x" *
                                                      100)
        finally:
            stop.set()
            t.join(10)
        self.assertFalse(errors, errors)
        self.assertEqual(out, "421 4.4.2 %s Error: timeout exceeded\r\n" %
                         HOST)
        self.assertLess(took, 5)

    def test_trickled_over_long_line(self):
        with self.connect() as c:
            c.send(b"NOOP " + b"x" * 20000)
            took, out = self.trickle_until_closed(c, b"y")
        self.assertEqual(out, "421 4.4.2 %s Error: timeout exceeded\r\n" %
                         HOST)
        self.assertLess(took, 5)

    def test_trickled_data(self):
        sender = self.sender("slow")
        with self.connect() as c:
            self.open_tx(c, sender)
            c.cmd("DATA")
            took, out = self.trickle_until_closed(c, b"slow body\r\n")
        self.assertEqual(out, "421 4.4.2 %s Error: timeout exceeded\r\n" %
                         HOST)
        self.assertLess(took, 5)
        self.assertEqual(self.queued(sender), 0)

    def test_trickled_bdat_chunk(self):
        with self.connect() as c:
            self.open_tx(c, self.sender("slowbdat"))
            c.send(b"BDAT 100000 LAST\r\n")
            took, out = self.trickle_until_closed(c, b"z")
        self.assertEqual(out, "421 4.4.2 %s Error: timeout exceeded\r\n" %
                         HOST)
        self.assertLess(took, 5)

    def test_commands_in_time_keep_the_session(self):
        with self.connect() as c:
            for _ in range(6):
                time.sleep(0.5)
                self.assertEqual(c.cmd("NOOP"), "250 2.0.0 Ok\r\n")
            # a message sent at a normal pace gets through
            self.open_tx(c, self.sender("paced"))
            c.cmd("DATA")
            for _ in range(4):
                c.send(b"x" * 1000 + b"\r\n")
                time.sleep(0.3)
            self.assertTrue(c.cmd(".").startswith("250 2.0.0 Ok: queued"))


if __name__ == "__main__":
    unittest.main()
