# SPDX-License-Identifier: MIT
"""buzon-imapd end to end: the teaching session verbatim, literals cut at
every offset, limits (long lines, a 1 GB literal before login), many
clients from one address, IDLE seeing a delivery, STARTTLS, and python's
imaplib."""

import base64
import imaplib
import os
import re
import socket
import ssl
import threading
import time
import unittest

import buzontest
from buzontest import Instance, LineClient

DOMAIN = "example.test"
PASSWORD = "correct horse"
GREETING = re.compile(r"^\* OK \[CAPABILITY IMAP4rev1 [^\]]*\] buzon "
                      r"IMAP4rev1 ready\.$")


def ex(c, pattern):
    """The next line matches the regex pattern."""
    return c.expect(re.compile(pattern))


def cm(c, line, pattern):
    c.send(line)
    return ex(c, pattern)


def need_imapd(cls):
    if not buzontest.have_buzon():
        return buzontest.require(False, "buzon not built")(cls)
    return buzontest.require("buzon-imapd" in buzontest.built_daemons(),
                             "buzon-imapd not built")(cls)


def message(n, body_lines=3):
    body = "".join("line %d of message %d\n" % (i, n)
                   for i in range(1, body_lines + 1))
    return ("From: sender@example.org\nTo: user@example.test\n"
            "Subject: message %d\nMessage-ID: <%d@example.org>\n\n%s" %
            (n, n, body))


class ImapBase(unittest.TestCase):
    """One instance per class; each test gets its own user."""

    overrides = {}
    counter = 0

    @classmethod
    def setUpClass(cls):
        settings = {"trace": "yes", "auth_failure_delay": "0",
                    "imap_max_errors": "50"}
        settings.update(cls.overrides)
        cls.inst = Instance(listeners=["imap", "imaps"], overrides=settings)
        cls.run_ok("domain", "add", DOMAIN)
        cls.inst.start()

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()

    @classmethod
    def run_ok(cls, *args, input=None):
        r = cls.inst.cli(*args, input=input)
        if r.returncode != 0:
            raise AssertionError("%s: %s%s" % (args, r.stdout, r.stderr))
        return r.stdout

    def tearDown(self):
        reports = self.inst.sanitizer_reports()
        self.assertFalse(reports, reports)

    def new_user(self, messages=()):
        ImapBase.counter += 1
        addr = "u%d@%s" % (ImapBase.counter, DOMAIN)
        self.run_ok("user", "add", addr, "--password-stdin",
                    input=PASSWORD + "\n")
        for text in messages:
            self.deliver(addr, text)
        return addr

    def mail_dir(self, addr):
        local, domain = addr.split("@")
        return os.path.join(self.inst.dir, "mail", domain, local)

    def deliver(self, addr, text):
        d = self.mail_dir(addr)
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        ImapBase.counter += 1
        name = "%d.M%06dP%d.test" % (time.time(), ImapBase.counter,
                                   os.getpid())
        tmp = os.path.join(d, "tmp", name)
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, os.path.join(d, "new", name))
        buzontest.chown_tree(d)

    def connect(self, port="imap"):
        c = self.inst.connect(port)
        ex(c, GREETING)
        return c

    def login(self, addr, port="imap"):
        c = self.connect(port)
        cm(c, "a LOGIN %s \"%s\"" % (addr, PASSWORD),
                  r"^a OK \[CAPABILITY [^\]]+\] Logged in$")
        return c

    def read_n(self, c, n):
        """n raw bytes of a literal (after what readline buffered)."""
        data = b""
        while len(data) < n:
            if c.buf:
                take = c.buf[:n - len(data)]
                c.buf = c.buf[len(take):]
                data += take
            else:
                chunk = c.sock.recv(n - len(data))
                if not chunk:
                    break
                data += chunk
        return data

    def until_tagged(self, c, tag):
        """Lines up to and including the tagged one."""
        lines = []
        while True:
            line = c.readline()
            lines.append(line)
            self.assertFalse(c.transcript[-1].startswith("S(eof)"),
                             "EOF before %s's reply" % tag)
            if line.startswith(tag + " "):
                return lines


@need_imapd
class TestBasics(ImapBase):

    def test_greeting_capability_logout(self):
        c = self.connect()
        cm(c, "A1 CAPABILITY", r"^\* CAPABILITY IMAP4rev1 .*AUTH=PLAIN")
        ex(c, r"^A1 OK Capability completed\.$")
        cm(c, "A2 NOOP", r"^A2 OK NOOP completed\.$")
        cm(c, "A3 LOGOUT", r"^\* BYE Logging out$")
        ex(c, r"^A3 OK Logout completed\.$")
        c.close()

    def test_login_and_errors(self):
        addr = self.new_user()
        c = self.connect()
        cm(c, "A LOGIN user", r"^A BAD Error in IMAP command LOGIN: "
           r"Missing password \(usage: LOGIN user password\)\.$")
        cm(c, "x IDLE", r"^x BAD Error in IMAP command IDLE: Log in first\.$")
        cm(c, "y FOOBAR", r"^y BAD Error in IMAP command FOOBAR: Unknown command\.$")
        cm(c, "z LOGIN %s wrong" % addr,
                  r"^z NO \[AUTHENTICATIONFAILED\] Authentication failed\.$")
        cm(c, "b login %s \"%s\"" % (addr, PASSWORD),
                  r"^b OK \[CAPABILITY .*\] Logged in$")
        cm(c, "c LOGIN a b", r"^c BAD Error in IMAP command LOGIN: Already logged in\.$")
        cm(c, "d LOGOUT", r"^\* BYE")
        c.close()


@need_imapd
class TestSession(ImapBase):

    def test_teaching_session(self):
        addr = self.new_user(messages=[message(1), message(2), message(3)])
        c = self.connect()
        cm(c, "A001 LOGIN %s \"%s\"" % (addr, PASSWORD),
           r"^A001 OK \[CAPABILITY .*\] Logged in$")
        c.send('A002 LIST "" "*"')
        lines = self.until_tagged(c, "A002")
        self.assertIn('* LIST (\\HasNoChildren) "/" INBOX', lines)
        self.assertTrue(lines[-1].startswith("A002 OK"), lines)
        c.send("A003 SELECT INBOX")
        lines = self.until_tagged(c, "A003")
        self.assertIn("* 3 EXISTS", lines)
        self.assertIn("* 3 RECENT", lines)
        self.assertIn("* OK [UNSEEN 1] First unseen.", lines)
        self.assertTrue(any(l.startswith("* FLAGS (\\Answered \\Flagged "
                                         "\\Deleted \\Seen \\Draft")
                            for l in lines), lines)
        self.assertTrue(any(l.startswith("* OK [UIDVALIDITY ")
                            for l in lines))
        self.assertIn("* OK [UIDNEXT 4] Predicted next UID", lines)
        self.assertEqual(lines[-1], "A003 OK [READ-WRITE] Select completed.")
        c.send("b select inbox")
        lines = self.until_tagged(c, "b")
        self.assertIn("* OK [CLOSED] Previous mailbox closed.", lines)
        self.assertIn("* 0 RECENT", lines)
        self.assertEqual(lines[-1], "b OK [READ-WRITE] Select completed.")
        hdr = ("From: sender@example.org\r\nTo: user@example.test\r\n"
               "Subject: message 1\r\nMessage-ID: <1@example.org>\r\n"
               "\r\n").encode()
        c.send("A004 FETCH 1 BODY[HEADER]")
        ex(c, r"^\* 1 FETCH \(BODY\[HEADER\] \{%d\}$" % len(hdr))
        self.assertEqual(self.read_n(c, len(hdr)), hdr)
        lines = self.until_tagged(c, "A004")
        self.assertEqual(lines[-1], "A004 OK Fetch completed.")
        self.assertIn("FLAGS (\\Seen", "".join(lines))
        c.send("c fetch 3 body[]")
        lines = self.until_tagged(c, "c")
        self.assertTrue(lines[0].startswith("* 3 FETCH ("), lines)
        self.assertEqual(lines[-1], "c OK Fetch completed.")
        cm(c, "A005 STORE 1 +FLAGS (\\Seen)",
           r"^\* 1 FETCH \(FLAGS \(\\Seen( \\Recent)?\)\)$")
        ex(c, r"^A005 OK Store completed\.$")
        cm(c, "A006 STORE 1 +FLAGS (\\Deleted)",
           r"^\* 1 FETCH \(FLAGS \(\\Deleted \\Seen\)\)$")
        ex(c, r"^A006 OK Store completed\.$")
        cm(c, "A010 EXPUNGE", r"^\* 1 EXPUNGE$")
        ex(c, r"^A010 OK Expunge completed\.$")
        cm(c, "A011 LOGOUT", r"^\* BYE Logging out$")
        ex(c, r"^A011 OK Logout completed\.$")
        c.close()

    def test_append_copy_move_uid_expunge(self):
        addr = self.new_user(messages=[message(1)])
        c = self.login(addr)
        msg = message(9).replace("\n", "\r\n").encode()
        c.send("c APPEND INBOX (\\Seen $Work) {%d}" % len(msg))
        ex(c, r"^\+ Ready for literal data$")
        c.send_raw(msg + b"\r\n")
        ex(c, r"^c OK \[APPENDUID \d+ 2\] Append completed\.$")
        c.send("d APPEND NoSuch {%d+}" % len(msg))
        c.send_raw(msg + b"\r\n")
        ex(c, r"^d NO \[TRYCREATE\] Mailbox doesn't exist: NoSuch$")
        c.send("e SELECT INBOX")
        lines = self.until_tagged(c, "e")
        self.assertIn("* 2 EXISTS", lines)
        cm(c, "f COPY 1:2 Trash",
           r"^f OK \[COPYUID \d+ 1:2 1:2\] Copy completed\.$")
        cm(c, "g UID MOVE 2 Archive", r"^\* OK \[COPYUID \d+ 2 1\] Moved")
        ex(c, r"^\* 2 EXPUNGE$")
        ex(c, r"^g OK Move completed\.$")
        cm(c, "h COPY 5 Trash", r"^h BAD Error in IMAP command COPY: Invalid messageset\.$")
        cm(c, "i UID COPY 99 Trash", r"^i OK Copy completed\.$")
        cm(c, "j COPY 1 NoSuch", r"^j NO \[TRYCREATE\]")
        cm(c, "k UNSELECT", r"^k OK Unselect completed\.$")
        cm(c, "l CHECK", r"^l BAD Error in IMAP command CHECK: No mailbox selected\.$")
        c.close()

    def test_two_sessions_see_expunge_and_new_mail(self):
        addr = self.new_user(messages=[message(1), message(2)])
        a = self.login(addr)
        b = self.login(addr)
        for c in (a, b):
            c.send("s SELECT INBOX")
            self.until_tagged(c, "s")
        a.send("x UID MOVE 1 Trash")
        self.until_tagged(a, "x")
        self.deliver(addr, message(3))
        b.send("n NOOP")
        lines = self.until_tagged(b, "n")
        self.assertEqual(lines[0], "* 1 EXPUNGE")
        self.assertIn("* 2 EXISTS", lines)
        self.assertEqual(lines[-1], "n OK NOOP completed.")

    def test_idle_sees_delivery(self):
        addr = self.new_user(messages=[message(1)])
        c = self.login(addr)
        c.send("s SELECT INBOX")
        self.until_tagged(c, "s")
        cm(c, "i IDLE", r"^\+ idling$")
        start = time.time()
        self.deliver(addr, message(2))
        ex(c, r"^\* 2 EXISTS$")
        self.assertLess(time.time() - start, 3.5)
        ex(c, r"^\* 2 RECENT$")
        cm(c, "DONE", r"^i OK Idle completed\.$")
        cm(c, "j NOOP", r"^j OK")
        c.close()

    def test_idle_sees_other_sessions_expunge_and_flags(self):
        addr = self.new_user(messages=[message(1), message(2)])
        a = self.login(addr)
        b = self.login(addr)
        for c in (a, b):
            c.send("s SELECT INBOX")
            self.until_tagged(c, "s")
        cm(b, "i IDLE", r"^\+ idling$")
        a.send("f STORE 2 +FLAGS (\\Flagged)")
        self.until_tagged(a, "f")
        ex(b, r"^\* 2 FETCH \(FLAGS \(\\Flagged( \\Recent)?\)\)$")
        a.send("x UID MOVE 1 Trash")
        self.until_tagged(a, "x")
        ex(b, r"^\* 1 EXPUNGE$")
        cm(b, "DONE", r"^i OK Idle completed\.$")

    def test_imaplib_flow(self):
        addr = self.new_user(messages=[message(1), message(2)])
        m = imaplib.IMAP4("127.0.0.1", self.inst.port("imap"))
        typ, _ = m.authenticate(
            "PLAIN", lambda _: ("\0%s\0%s" % (addr, PASSWORD)).encode())
        self.assertEqual(typ, "OK")
        self.assertEqual(m.select("INBOX"), ("OK", [b"2"]))
        typ, data = m.search(None, "SUBJECT", '"message 2"')
        self.assertEqual((typ, data), ("OK", [b"2"]))
        typ, data = m.uid("FETCH", "1:*", "(UID FLAGS RFC822.SIZE)")
        self.assertEqual(typ, "OK")
        self.assertEqual(len(data), 2)
        typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        self.assertEqual(data[0][1], b"Subject: message 1\r\n\r\n")
        typ, data = m.append("INBOX", "(\\Draft)", None,
                             message(3).replace("\n", "\r\n").encode())
        self.assertEqual(typ, "OK")
        self.assertRegex(data[0].decode(), r"^\[APPENDUID \d+ 3\]")
        m.noop()
        typ, data = m.store("1", "+FLAGS", "(\\Deleted)")
        self.assertEqual(typ, "OK")
        typ, data = m.expunge()
        self.assertEqual((typ, data), ("OK", [b"1"]))
        self.assertEqual(m.close()[0], "OK")
        m.logout()


@need_imapd
class TestLimits(ImapBase):

    def test_literal_split_at_every_offset(self):
        addr = self.new_user()
        cmd = ("a LOGIN {%d}\r\n%s {%d}\r\n%s\r\n" %
               (len(addr), addr, len(PASSWORD), PASSWORD)).encode()
        for cut in range(1, len(cmd)):
            c = self.connect()
            c.send_raw(cmd[:cut])
            time.sleep(0.005)
            c.send_raw(cmd[cut:])
            line = c.readline()
            while line.startswith("+ "):
                line = c.readline()
            self.assertRegex(line, r"^a OK \[CAPABILITY .*\] Logged in$",
                             "cut at %d" % cut)
            c.close()

    def test_literal_plus_no_continuation(self):
        addr = self.new_user()
        c = self.connect()
        c.send_raw(("a LOGIN {%d+}\r\n%s \"%s\"\r\nb NOOP\r\n" %
                    (len(addr), addr, PASSWORD)).encode())
        ex(c, r"^a OK \[CAPABILITY .*\] Logged in$")
        ex(c, r"^b OK NOOP completed\.$")

    def test_long_line_then_valid_command(self):
        c = self.connect()
        c.send("a NOOP " + "x" * 70000)
        ex(c, r"^\* BAD \[TOOBIG\] Line too long\.$")
        cm(c, "b NOOP", r"^b OK NOOP completed\.$")

    def test_huge_literal_preauth_refused(self):
        c = self.connect()
        c.send("a LOGIN {1073741824}")
        ex(c, r"^a BAD \[TOOBIG\] Literal too big before login\.$")
        cm(c, "b NOOP", r"^b OK NOOP completed\.$")
        c.send("c LOGIN {4294967296}")
        ex(c, r"^c BAD \[TOOBIG\]")
        c.send("d LOGIN {99999999999999999999999}")
        ex(c, r"^d BAD \[TOOBIG\]")
        c.send("e LOGIN {1073741824+}")
        ex(c, r"^e BAD \[TOOBIG\] Literal too big\.$")
        ex(c, r"^\* BYE")

    def test_append_too_big_refused_before_continuation(self):
        addr = self.new_user()
        c = self.login(addr)
        c.send("a APPEND INBOX {4294967296}")
        ex(c, r"^a NO \[(TOOBIG\] Message too big|OVERQUOTA\] Quota exceeded)")
        c.send("a2 APPEND INBOX {60000000}")
        ex(c, r"^a2 NO \[TOOBIG\] Message too big")
        cm(c, "b NOOP", r"^b OK")

    def test_bad_tags_and_states(self):
        c = self.connect()
        cm(c, "+ NOOP", r"^\* BAD Error in IMAP command received by "
           r"server\.$")
        cm(c, "a", r"^\* BAD Error in IMAP command received by server\.$")
        cm(c, "a EXPUNGE", r"^a BAD Error in IMAP command EXPUNGE: Log in first\.$")
        cm(c, "a noop", r"^a OK NOOP completed\.$")

    def test_classroom_behind_one_address(self):
        """30 clients from one address, some failing logins: the good ones
        are not delayed by the bad ones."""
        users = [self.new_user() for _ in range(30)]
        errors = []
        times = []

        def one(i, addr):
            try:
                c = self.connect()
                pw = PASSWORD if i % 5 else "wrong"
                t = time.time()
                c.send('a LOGIN %s "%s"' % (addr, pw))
                line = c.readline()
                if i % 5:
                    times.append(time.time() - t)
                    if not line.startswith("a OK"):
                        errors.append(line)
                elif not line.startswith("a NO"):
                    errors.append(line)
                c.send("b LOGOUT")
                c.readline()
                c.close()
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))

        threads = [threading.Thread(target=one, args=(i, u))
                   for i, u in enumerate(users)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertLess(max(times), 3.0)


@need_imapd
class TestTls(ImapBase):

    def test_starttls_then_login(self):
        addr = self.new_user()
        c = self.connect()
        cm(c, "a STARTTLS", r"^a OK Begin TLS negotiation now\.$")
        c.starttls()
        cm(c, "b CAPABILITY", r"^\* CAPABILITY (?!.*STARTTLS)")
        ex(c, r"^b OK")
        cm(c, 'c LOGIN %s "%s"' % (addr, PASSWORD), r"^c OK")

    def test_imaplib_ssl(self):
        addr = self.new_user(messages=[message(1)])
        ctx = buzontest.client_tls_context()
        m = imaplib.IMAP4_SSL("127.0.0.1", self.inst.port("imaps"),
                              ssl_context=ctx)
        m.login(addr, PASSWORD)
        typ, data = m.select("INBOX")
        self.assertEqual((typ, data), ("OK", [b"1"]))
        m.logout()


@need_imapd
class DemoReadme(unittest.TestCase):
    """The README's IMAP walk-through against `buzon init --demo`, as
    written: bare user names, lower case commands."""

    def test_readme_session(self):
        inst = Instance(demo=True, listeners=["imap"])
        self.addCleanup(inst.cleanup)
        pw = dict(re.findall(r"(\S+)@example\.test\s+password: (\S+)",
                             inst.init_output))
        inst.start()
        c = inst.connect("imap")
        ex(c, GREETING.pattern)
        cm(c, "A001 LOGIN alice %s" % pw["alice"],
           r"^A001 OK \[CAPABILITY .*\] Logged in$")
        c.send("b select inbox")
        lines = []
        while not lines or not lines[-1].startswith("b "):
            lines.append(c.readline())
        self.assertIn("* 1 EXISTS", lines)
        self.assertEqual(lines[-1], "b OK [READ-WRITE] Select completed.")
        c.send("c fetch 1 body[]")
        line = c.readline()
        self.assertRegex(line, r"^\* 1 FETCH \(BODY\[\] \{\d+\}$")
        while not line.startswith("c "):
            line = c.readline()
        self.assertEqual(line, "c OK Fetch completed.")
        cm(c, "d logout", r"^\* BYE Logging out$")
        ex(c, r"^d OK Logout completed\.$")


@need_imapd
class Lifecycle(ImapBase):
    """Stop, on an instance of its own: sessions are told."""

    def test_stop_says_bye(self):
        addr = self.new_user()
        c = self.login(addr)
        rc = self.inst.stop()
        self.assertEqual(rc, 0)
        ex(c, r"^\* BYE Server shutting down\.$")
