# SPDX-License-Identifier: MIT
"""buzon-imapd end to end: the teaching session typed by hand, byte for
byte where the protocol fixes it; python's imaplib through a whole flow;
literals split at every offset; the bounds (over-long lines, a 1 GB
literal before and after login, deep nesting, huge sets); a classroom of
30 behind one address with some typos; IDLE seeing a delivery; STARTTLS
and imaps."""

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
MESSAGE = ("From: Alice <alice@example.org>\r\n"
           "To: bob@example.test\r\n"
           "Subject: hello\r\n"
           "Date: Thu, 03 Dec 2026 10:00:00 +0000\r\n"
           "Message-ID: <m1@example.org>\r\n"
           "\r\n"
           "first line\r\n"
           "second line\r\n")


def need_imapd(cls):
    if not buzontest.have_buzon():
        return buzontest.require(False, "buzon not built")(cls)
    return buzontest.require("buzon-imapd" in buzontest.built_daemons(),
                             "buzon-imapd not built")(cls)


class ImapClient(LineClient):
    """A LineClient that also reads a tagged reply with everything
    before it."""

    def tagged(self, tag):
        lines = []
        while True:
            line = self.readline()
            if line == "" and self.transcript[-1].startswith("S(eof)"):
                raise AssertionError("EOF waiting for %s\n%s" % (
                    tag, "\n".join(self.transcript)))
            lines.append(line)
            if line.startswith(tag + " "):
                return lines

    def cmd(self, tag, text):
        self.send("%s %s" % (tag, text))
        return self.tagged(tag)


@need_imapd
class ImapBase(buzontest.InstanceCase):
    overrides = {}
    counter = 0

    @classmethod
    def setUpClass(cls):
        settings = {"trace": "yes", "auth_failure_delay": "0",
                    "imap_max_errors": "5"}
        settings.update(cls.overrides)
        cls.inst = Instance(listeners=["imap", "imaps"], overrides=settings)
        r = cls.inst.cli("domain", "add", DOMAIN)
        assert r.returncode == 0, r.stderr
        cls.inst.start()

    def new_user(self, messages=()):
        ImapBase.counter += 1
        addr = "i%d@%s" % (ImapBase.counter, DOMAIN)
        r = self.inst.cli("user", "add", addr, "--password-stdin",
                          input=PASSWORD + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        for text in messages:
            self.deliver(addr, text)
        return addr

    def mail_dir(self, addr):
        local, domain = addr.split("@")
        return os.path.join(self.inst.dir, "mail", domain, local)

    def deliver(self, addr, text):
        d = self.mail_dir(addr)
        ImapBase.counter += 1
        name = "%d.M%dP%d.test" % (time.time(), ImapBase.counter,
                                   os.getpid())
        with open(os.path.join(d, "tmp", name), "w") as f:
            f.write(text.replace("\r\n", "\n"))
        os.rename(os.path.join(d, "tmp", name), os.path.join(d, "new", name))
        buzontest.chown_tree(d)

    def connect(self, port="imap", timeout=10.0):
        c = self.inst.connect(port, timeout=timeout)
        c.__class__ = ImapClient
        return c

    def login(self, addr):
        c = self.connect()
        c.expect(GREETING)
        lines = c.cmd("a", "LOGIN %s \"%s\"" % (addr, PASSWORD))
        self.assertTrue(lines[-1].startswith("a OK [CAPABILITY "), lines)
        return c


class Teaching(ImapBase):
    """The course's session, typed as a student types it."""

    def test_teaching_session_verbatim(self):
        addr = self.new_user(messages=[MESSAGE])
        c = self.connect()
        c.expect(GREETING)
        lines = c.cmd("A001", "LOGIN %s \"%s\"" % (addr, PASSWORD))
        self.assertRegex(lines[-1], r"^A001 OK \[CAPABILITY IMAP4rev1 .*"
                         r"\] Logged in$")
        lines = c.cmd("A002", 'LIST "" "*"')
        self.assertEqual(lines[0], '* LIST (\\HasNoChildren) "/" INBOX')
        self.assertIn('* LIST (\\HasNoChildren \\Sent) "/" Sent', lines)
        self.assertIn('* LIST (\\HasNoChildren \\Trash) "/" Trash', lines)
        self.assertEqual(lines[-1], "A002 OK List completed.")
        lines = c.cmd("A003", "SELECT INBOX")
        self.assertEqual(lines[0], "* FLAGS (\\Answered \\Flagged "
                         "\\Deleted \\Seen \\Draft)")
        self.assertIn("* 1 EXISTS", lines)
        self.assertIn("* 1 RECENT", lines)
        self.assertIn("* OK [UNSEEN 1] First unseen.", lines)
        self.assertTrue(any(re.match(r"^\* OK \[UIDVALIDITY \d+\] ", l)
                            for l in lines), lines)
        self.assertIn("* OK [UIDNEXT 2] Predicted next UID", lines)
        self.assertEqual(lines[-1], "A003 OK [READ-WRITE] Select "
                         "completed.")
        c.send("A004 FETCH 1 BODY[HEADER]")
        head = MESSAGE.split("\r\n\r\n")[0] + "\r\n\r\n"
        self.assertEqual(c.readline(), "* 1 FETCH (BODY[HEADER] {%d}" %
                         len(head))
        data = c.read_until(b"A004 OK Fetch completed.\r\n")
        self.assertEqual(data, head.encode() + b" FLAGS (\\Seen \\Recent))"
                         b"\r\nA004 OK Fetch completed.\r\n")
        lines = c.cmd("A005", "STORE 1 +FLAGS (\\Deleted)")
        self.assertEqual(lines, ["* 1 FETCH (FLAGS (\\Deleted \\Seen "
                                 "\\Recent))", "A005 OK Store completed."])
        lines = c.cmd("A006", "EXPUNGE")
        self.assertEqual(lines, ["* 1 EXPUNGE", "A006 OK Expunge "
                                 "completed."])
        lines = c.cmd("A007", "LOGOUT")
        self.assertEqual(lines, ["* BYE Logging out",
                                 "A007 OK Logout completed."])
        self.assertEqual(c.readline(), "")

    def test_lower_case_commands(self):
        addr = self.new_user(messages=[MESSAGE, MESSAGE])
        c = self.connect()
        c.expect(GREETING)
        lines = c.cmd("b", "login %s \"%s\"" % (addr, PASSWORD))
        self.assertTrue(lines[-1].startswith("b OK"), lines)
        lines = c.cmd("b", "select inbox")
        self.assertIn("* 2 EXISTS", lines)
        lines = c.cmd("b", "fetch 2 (flags)")
        self.assertEqual(lines, ["* 2 FETCH (FLAGS (\\Recent))",
                                 "b OK Fetch completed."])
        lines = c.cmd("b", "uid search all")
        self.assertEqual(lines, ["* SEARCH 1 2", "b OK Search completed."])
        lines = c.cmd("b", "logout")
        self.assertEqual(lines[-1], "b OK Logout completed.")

    def test_malformed_login_gets_bad_and_the_session_goes_on(self):
        addr = self.new_user()
        c = self.connect()
        c.expect(GREETING)
        lines = c.cmd("A", "LOGIN user")
        self.assertRegex(lines[-1], r"^A BAD .*password")
        lines = c.cmd("B", "LOGIN %s wrong" % addr)
        self.assertEqual(lines[-1], "B NO [AUTHENTICATIONFAILED] "
                         "Authentication failed.")
        lines = c.cmd("C", "FROB")
        self.assertEqual(lines[-1], "C BAD Error in IMAP command FROB: "
                         "Unknown command.")
        lines = c.cmd("D", "SELECT INBOX")
        self.assertRegex(lines[-1], r"^D BAD .*Log in first")
        lines = c.cmd("E", "LOGIN %s \"%s\"" % (addr, PASSWORD))
        self.assertTrue(lines[-1].startswith("E OK"), lines)
        lines = c.cmd("F", "FETCH 1 FLAGS")
        self.assertRegex(lines[-1], r"^F BAD .*No mailbox selected")

    def test_too_many_errors_close(self):
        c = self.connect()
        c.expect(GREETING)
        for i in range(4):
            c.cmd("t%d" % i, "FROB")
        c.send("t9 FROB")
        self.assertEqual(c.readline(), "t9 BAD Error in IMAP command FROB: "
                         "Unknown command.")
        self.assertEqual(c.readline(), "* BYE Too many invalid IMAP "
                         "commands.")
        self.assertEqual(c.readline(), "")


class Literals(ImapBase):

    def test_append_literal_split_at_every_offset(self):
        addr = self.new_user()
        c = self.login(addr)
        msg = MESSAGE.encode()
        cmd = b"x APPEND INBOX (\\Flagged) {%d}\r\n" % len(msg)
        for cut in range(0, len(cmd) + len(msg) + 2, 7):
            whole = cmd + msg + b"\r\n"
            c.send_raw(whole[:cut] if cut <= len(cmd) else cmd)
            if cut > len(cmd):
                self.assertEqual(c.readline(), "+ Ready for literal data")
                rest = whole[len(cmd):]
                k = cut - len(cmd)
                c.send_raw(rest[:k])
                time.sleep(0.01)
                c.send_raw(rest[k:])
            else:
                time.sleep(0.01)
                c.send_raw(whole[cut:len(cmd)])
                self.assertEqual(c.readline(), "+ Ready for literal data")
                c.send_raw(whole[len(cmd):])
            line = c.readline()
            self.assertRegex(line, r"^x OK \[APPENDUID \d+ \d+\] Append "
                             r"completed\.$")
        c.cmd("s", "SELECT INBOX")
        lines = c.cmd("f", "FETCH * (RFC822.SIZE FLAGS)")
        self.assertRegex(lines[0], r"RFC822\.SIZE %d " % len(msg))

    def test_append_over_the_quota_is_refused_before_the_go_ahead(self):
        ImapBase.counter += 1
        addr = "q%d@%s" % (ImapBase.counter, DOMAIN)
        r = self.inst.cli("user", "add", addr, "--quota", "1M",
                          "--password-stdin", input=PASSWORD + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        c = self.login(addr)
        lines = c.cmd("q", "GETQUOTAROOT INBOX")
        self.assertEqual(lines, ['* QUOTAROOT INBOX ""',
                                 '* QUOTA "" (STORAGE 0 1024)',
                                 "q OK Getquotaroot completed."])
        c.send("o APPEND INBOX {2000000}")
        self.assertEqual(c.readline(), "o NO [OVERQUOTA] Quota exceeded "
                         "(mailbox is full).")
        msg = MESSAGE.encode()
        c.send("p APPEND INBOX {%d}" % len(msg))
        self.assertEqual(c.readline(), "+ Ready for literal data")
        c.send_raw(msg + b"\r\n")
        self.assertRegex(c.readline(), r"^p OK \[APPENDUID ")
        # the count delivery reads (maildirsize) has the APPEND
        lines = c.cmd("r", "GETQUOTA \"\"")
        self.assertEqual(lines, ['* QUOTA "" (STORAGE 1 1024)',
                                 "r OK Getquota completed."])
        local, dom = addr.split("@")
        with open(os.path.join(self.inst.dir, "mail", dom, local,
                               "maildirsize")) as f:
            self.assertTrue(f.read().endswith("\n%d 1\n" % len(msg)))

    def test_non_synchronising_literal(self):
        addr = self.new_user()
        c = self.login(addr)
        msg = MESSAGE.encode()
        c.send_raw(b"y APPEND INBOX {%d+}\r\n" % len(msg) + msg + b"\r\n")
        self.assertRegex(c.readline(), r"^y OK \[APPENDUID ")

    def test_literal_in_login(self):
        addr = self.new_user()
        c = self.connect()
        c.expect(GREETING)
        c.send("L LOGIN {%d}" % len(addr))
        self.assertEqual(c.readline(), "+ Ready for literal data")
        c.send_raw(addr.encode() + b" {%d}\r\n" % len(PASSWORD))
        self.assertEqual(c.readline(), "+ Ready for literal data")
        c.send_raw(PASSWORD.encode() + b"\r\n")
        self.assertTrue(c.readline().startswith("L OK [CAPABILITY"))

    def test_huge_literal_before_login_gets_no_go_ahead(self):
        c = self.connect()
        c.expect(GREETING)
        c.send("h LOGIN {1073741824}")
        self.assertEqual(c.readline(), "h BAD [TOOBIG] Literal too big "
                         "before login.")
        c.send("h2 LOGIN a {4294967296}")
        self.assertRegex(c.readline(), r"^h2 BAD \[TOOBIG\]")
        lines = c.cmd("h3", "NOOP")
        self.assertEqual(lines, ["h3 OK NOOP completed."])

    def test_huge_append_refused_before_the_go_ahead(self):
        addr = self.new_user()
        c = self.login(addr)
        c.send("g APPEND INBOX {1073741824}")
        self.assertRegex(c.readline(), r"^g NO \[TOOBIG\] Message too big")
        lines = c.cmd("g2", "NOOP")
        self.assertEqual(lines[-1], "g2 OK NOOP completed.")

    def test_huge_non_synchronising_literal_ends_the_session(self):
        c = self.connect()
        c.expect(GREETING)
        c.send("n LOGIN {1073741824+}")
        self.assertEqual(c.readline(), "n BAD [TOOBIG] Literal too big.")
        self.assertEqual(c.readline(), "* BYE Literal too big.")
        self.assertEqual(c.readline(), "")


class Bounds(ImapBase):
    overrides = {"imap_max_line": "8192"}

    def test_over_long_line_then_a_valid_command(self):
        c = self.connect()
        c.expect(GREETING)
        for end in (b"\r\n", b"\n"):
            c.send_raw(b"a NOOP " + b"x" * 20000 + end)
            self.assertEqual(c.readline(), "* BAD [TOOBIG] Line too long.")
            c.send_raw(b"b NOOP" + end)
            self.assertEqual(c.readline(), "b OK NOOP completed.")

    def test_bare_cr_and_no_line_end(self):
        c = self.connect()
        c.expect(GREETING)
        # a bare CR does not end a command: "b NOOP" is not a second one
        c.send_raw(b"a NOOP\rb NOOP\r\n")
        # (the CR is shown escaped, never echoed)
        self.assertEqual(c.readline(), "a BAD Error in IMAP command "
                         "NOOP\\x0db: Unknown command.")
        c.send("c NOOP")
        self.assertEqual(c.readline(), "c OK NOOP completed.")
        # an over-long line that goes on after a bare CR is one line:
        # what follows the CR is skipped with it, not run
        c.send_raw(b"d NOOP " + b"x" * 20000 + b"\re NOOP\r\n")
        self.assertEqual(c.readline(), "* BAD [TOOBIG] Line too long.")
        c.send("f NOOP")
        self.assertEqual(c.readline(), "f OK NOOP completed.")
        # a command with no line end before the client closes: not run
        c.send_raw(b"g LOGOUT")
        c.sock.shutdown(socket.SHUT_WR)
        self.assertEqual(c.readline(), "")

    def test_line_at_the_limit_is_taken(self):
        c = self.connect()
        c.expect(GREETING)
        line = b"a NOOP"
        c.send_raw(line + b" " + b"x" * (8192 - len(line) - 1) + b"\r\n")
        self.assertEqual(c.readline(), "a BAD Unexpected arguments.")

    def test_deep_nesting_and_huge_sets(self):
        addr = self.new_user(messages=[MESSAGE])
        c = self.login(addr)
        c.cmd("s", "SELECT INBOX")
        lines = c.cmd("d", "SEARCH " + "(" * 3000 + "ALL" + ")" * 3000)
        self.assertRegex(lines[-1], r"^d BAD ")
        big = ",".join(str(i) for i in range(1, 2400, 2))
        lines = c.cmd("u", "UID FETCH %s FLAGS" % big)
        self.assertEqual(lines[-1], "u OK Fetch completed.")
        lines = c.cmd("v", "FETCH 1:4294967295 FLAGS")
        self.assertRegex(lines[-1], r"^v BAD .*Invalid messageset")
        lines = c.cmd("w", "UID FETCH 1:4294967295 (UID)")
        self.assertEqual(lines, ["* 1 FETCH (UID 1)",
                                 "w OK Fetch completed."])


class Flow(ImapBase):
    """python's imaplib through the commands a mail client uses."""

    def test_imaplib_flow(self):
        addr = self.new_user(messages=[MESSAGE])
        m = imaplib.IMAP4("127.0.0.1", self.inst.port("imap"))
        self.assertEqual(m.login(addr, PASSWORD)[0], "OK")
        typ, data = m.select("INBOX")
        self.assertEqual((typ, data), ("OK", [b"1"]))
        typ, data = m.append("INBOX", "(\\Seen)", None,
                             MESSAGE.replace("hello", "second").encode())
        self.assertEqual(typ, "OK")
        self.assertRegex(data[0].decode(), r"^\[APPENDUID \d+ 2\]")
        typ, data = m.search(None, "SUBJECT", "second")
        self.assertEqual(data, [b"2"])
        typ, data = m.uid("SEARCH", None, "UNSEEN")
        self.assertEqual(data, [b"1"])
        typ, data = m.fetch("1", "(ENVELOPE)")
        self.assertEqual(data[0], b'1 (ENVELOPE ("Thu, 03 Dec 2026 10:00:00 '
                         b'+0000" "hello" (("Alice" NIL "alice" "example.org"'
                         b')) (("Alice" NIL "alice" "example.org")) (("Alice"'
                         b' NIL "alice" "example.org")) ((NIL NIL "bob" '
                         b'"example.test")) NIL NIL NIL "<m1@example.org>"))')
        typ, data = m.fetch("1", "(BODYSTRUCTURE)")
        self.assertEqual(data[0], b'1 (BODYSTRUCTURE ("text" "plain" '
                         b'("charset" "us-ascii") NIL NIL "7bit" 25 2 NIL NIL '
                         b'NIL NIL))')
        typ, data = m.fetch("2", "(BODY.PEEK[TEXT])")
        self.assertEqual(data[0][1], b"first line\r\nsecond line\r\n")
        self.assertEqual(m.create("Work/2026")[0], "OK")
        typ, data = m.list('""', "Work*")
        self.assertEqual(data, [b'(\\Noselect \\HasChildren) "/" Work',
                                b'(\\HasNoChildren) "/" Work/2026'])
        typ, data = m.copy("1:2", "Work/2026")
        self.assertEqual(typ, "OK")
        self.assertRegex(data[0].decode(), r"^\[COPYUID \d+ 1:2 1:2\]")
        typ, data = m.status("Work/2026", "(MESSAGES UNSEEN UIDNEXT)")
        self.assertEqual(data, [b"Work/2026 (MESSAGES 2 UNSEEN 1 UIDNEXT 3)"])
        self.assertEqual(m.rename("Work/2026", "Old")[0], "OK")
        typ, data = m.list('""', "%")
        names = [d.decode().split(' "/" ')[1] for d in data]
        self.assertIn("Old", names)
        self.assertEqual(m.store("1", "+FLAGS", "(\\Deleted)")[0], "OK")
        typ, data = m.expunge()
        self.assertEqual(data, [b"1"])
        typ, data = m.uid("FETCH", "1:*", "(FLAGS)")
        self.assertEqual(data, [b"1 (UID 2 FLAGS (\\Seen \\Recent))"])
        self.assertEqual(m.logout()[0], "BYE")

    def test_mailbox_names_that_cannot_be_stored(self):
        addr = self.new_user()
        c = self.login(addr)
        for name in ('"my.folder"', '"a//b"', '"../x"', '"INBOX/x"', '"&AGE-"'):
            lines = c.cmd("c", "CREATE " + name)
            self.assertRegex(lines[-1], r"^c NO ", name)
        lines = c.cmd("c", 'CREATE "Entw&APw-rfe"')
        self.assertEqual(lines[-1], "c OK Create completed.")
        lines = c.cmd("l", 'LIST "" "Entw*"')
        self.assertEqual(lines[0], '* LIST (\\HasNoChildren) "/" '
                         'Entw&APw-rfe')


class Classroom(ImapBase):
    overrides = {"auth_failure_delay": "2s"}

    def test_thirty_students_some_mistyping(self):
        users = [self.new_user() for _ in range(30)]
        times = {}
        errors = []

        def student(i):
            try:
                c = self.connect(timeout=30)
                c.expect(GREETING)
                if i % 6 == 0:
                    lines = c.cmd("t", "LOGIN %s wrong" % users[i])
                    assert lines[-1].startswith("t NO"), lines
                t0 = time.monotonic()
                lines = c.cmd("a", "LOGIN %s \"%s\"" % (users[i], PASSWORD))
                assert lines[-1].startswith("a OK"), lines
                times[i] = time.monotonic() - t0
                c.cmd("s", "SELECT INBOX")
                c.cmd("o", "LOGOUT")
            except Exception as e:
                errors.append("%d: %s" % (i, e))

        threads = [threading.Thread(target=student, args=(i,))
                   for i in range(30)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        slow = {i: t for i, t in times.items() if i % 6 != 0 and t > 1.0}
        self.assertEqual(slow, {}, "good logins waited for others' typos")


class Idle(ImapBase):

    def test_idle_sees_a_delivery(self):
        addr = self.new_user(messages=[MESSAGE])
        c = self.login(addr)
        c.cmd("s", "SELECT INBOX")
        c.send("i IDLE")
        self.assertEqual(c.readline(), "+ idling")
        self.deliver(addr, MESSAGE)
        c.sock.settimeout(10)
        self.assertEqual(c.readline(), "* 2 EXISTS")
        self.assertEqual(c.readline(), "* 2 RECENT")
        c.send("DONE")
        self.assertEqual(c.readline(), "i OK Idle completed.")


class Tls(ImapBase):

    def test_starttls_then_login(self):
        addr = self.new_user()
        c = self.connect()
        c.expect(GREETING)
        lines = c.cmd("s", "STARTTLS")
        self.assertEqual(lines, ["s OK Begin TLS negotiation now."])
        c.starttls()
        lines = c.cmd("c", "CAPABILITY")
        self.assertNotIn("STARTTLS", lines[0])
        self.assertIn("AUTH=PLAIN", lines[0])
        lines = c.cmd("a", "LOGIN %s \"%s\"" % (addr, PASSWORD))
        self.assertTrue(lines[-1].startswith("a OK"), lines)

    def test_starttls_drops_pipelined_input(self):
        c = self.connect()
        c.expect(GREETING)
        c.send_raw(b"s STARTTLS\r\nx NOOP\r\n")
        self.assertEqual(c.readline(), "s OK Begin TLS negotiation now.")
        c.starttls()
        lines = c.cmd("y", "NOOP")
        self.assertEqual(lines, ["y OK NOOP completed."])

    def test_imaps_and_authenticate_plain(self):
        import base64
        addr = self.new_user()
        ctx = buzontest.client_tls_context()
        m = imaplib.IMAP4_SSL("127.0.0.1", self.inst.port("imaps"),
                              ssl_context=ctx)
        typ, _ = m.authenticate("PLAIN", lambda _: (
            "\0%s\0%s" % (addr, PASSWORD)).encode())
        self.assertEqual(typ, "OK")
        m.logout()
        # SASL-IR on the plain port
        c = self.connect()
        c.expect(GREETING)
        ir = base64.b64encode(("\0%s\0%s" % (addr, PASSWORD)).encode())
        lines = c.cmd("p", "AUTHENTICATE PLAIN " + ir.decode())
        self.assertTrue(lines[-1].startswith("p OK"), lines)


if __name__ == "__main__":
    unittest.main()
