# SPDX-License-Identifier: MIT
"""test_imap_client.py - what real clients, a class of students and
attackers make buzon-imapd do.

Real clients: python's imaplib through a whole day's flow, mbsync (isync)
syncing an account to a local Maildir and back, fetchmail over IMAP and
s-nail reading over IMAP.  A class: 30 clients from 127.0.0.1 at once,
some with wrong passwords, no good login waiting over a second.  Hostile
clients: a 1 GB literal before login (refused without '+'), 10000 levels
of parentheses, a huge sequence set, over-long lines followed by a valid
command, a literal split over many writes at every offset, and a client
that never reads its output.  Each test fails when buzon-imapd or the
client program is missing (dev.sh installs isync, fetchmail, s-nail).
"""

import imaplib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import buzontest
import imapref
from buzontest import Instance

DOMAIN = "example.test"
PASSWORD = "Client-pass-7"


def message(n, body_lines=3):
    body = "".join("line %d of message %d\n" % (i, n)
                   for i in range(1, body_lines + 1))
    return ("From: sender@example.org\nTo: user@example.test\n"
            "Subject: message %d\nMessage-ID: <%d.client@example.org>\n"
            "Date: Mon, 1 Jan 2024 10:00:%02d +0000\n\n%s" %
            (n, n, n % 60, body))


def need_imapd(cls):
    ok = buzontest.have_buzon() and \
        "buzon-imapd" in buzontest.built_daemons()
    return buzontest.require(ok, "buzon-imapd not built")(cls)


class ClientBase(unittest.TestCase):
    overrides = {}
    counter = 0

    @classmethod
    def setUpClass(cls):
        settings = {"imap_max_errors": "50"}
        settings.update(cls.overrides)
        cls.inst = Instance(listeners=["imap"], overrides=settings)
        r = cls.inst.cli("domain", "add", DOMAIN)
        assert r.returncode == 0, r.stderr
        cls.inst.start()
        cls.port = cls.inst.port("imap")

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()

    def tearDown(self):
        reports = self.inst.sanitizer_reports()
        self.assertFalse(reports, reports)

    def new_user(self, messages=()):
        ClientBase.counter += 1
        addr = "c%d@%s" % (ClientBase.counter, DOMAIN)
        r = self.inst.cli("user", "add", addr, "--password-stdin",
                          input=PASSWORD + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        md = os.path.join(self.inst.dir, "mail", DOMAIN, addr.split("@")[0])
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(md, sub), exist_ok=True)
        imapref.write_messages(md, messages)
        buzontest.chown_tree(md)
        return addr

    def imap(self, addr):
        m = imaplib.IMAP4("127.0.0.1", self.port, timeout=15)
        typ, _ = m.login(addr, PASSWORD)
        self.assertEqual(typ, "OK")
        return m

    def raw(self):
        r = imapref.Raw(self.port)
        self.assertTrue(r.greeting.startswith(b"* OK"), r.greeting)
        return r

    def answer(self, r, tag):
        """The lines up to the tagged answer, or to an untagged BAD or BYE
        (the answer to a line the server could not read to its tag)."""
        lines = []
        while True:
            ln = r.line()
            lines.append(ln)
            if ln.startswith(tag + b" ") or ln.startswith(b"* BAD") or \
                    ln.startswith(b"* BYE"):
                return lines

    def alive(self, r, tag=b"z9"):
        """The connection still answers a NOOP."""
        res = r.cmd(tag + b" NOOP")
        self.assertTrue(res[-1].startswith(tag + b" OK"), res)


@need_imapd
class Imaplib(ClientBase):

    def test_full_flow(self):
        addr = self.new_user([message(i) for i in range(1, 6)])
        m = self.imap(addr)
        try:
            typ, caps = m.capability()
            self.assertEqual(typ, "OK")
            for c in (b"IMAP4rev1", b"UIDPLUS", b"MOVE", b"IDLE"):
                self.assertIn(c, caps[0])
            typ, boxes = m.list()
            self.assertEqual(typ, "OK")
            self.assertTrue(any(b" INBOX" in b for b in boxes), boxes)
            typ, data = m.select("INBOX")
            self.assertEqual((typ, data), ("OK", [b"5"]))
            typ, data = m.search(None, "SUBJECT", '"message 3"')
            self.assertEqual((typ, data), ("OK", [b"3"]))
            typ, data = m.fetch("3", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            self.assertEqual(typ, "OK")
            self.assertEqual(data[0][1], b"Subject: message 3\r\n\r\n")
            typ, data = m.fetch("3", "(FLAGS)")
            self.assertNotIn(b"\\Seen", data[0])
            typ, data = m.fetch("2", "(RFC822)")
            self.assertIn(b"line 3 of message 2\r\n", data[0][1])
            typ, data = m.fetch("2", "(FLAGS)")
            self.assertIn(b"\\Seen", data[0])
            typ, data = m.uid("FETCH", "1:*", "(UID RFC822.SIZE)")
            self.assertEqual(typ, "OK")
            self.assertEqual(len([d for d in data if d]), 5)
            self.assertEqual(m.create("Work")[0], "OK")
            typ, data = m.copy("1:2", "Work")
            self.assertEqual(typ, "OK")
            self.assertIn(b"COPYUID", data[0])
            typ, data = m.append("Work", "(\\Flagged)", None,
                                 message(9).replace("\n", "\r\n").encode())
            self.assertEqual(typ, "OK")
            self.assertIn(b"APPENDUID", data[0])
            typ, data = m.status("Work", "(MESSAGES UNSEEN)")
            self.assertEqual(typ, "OK")
            self.assertIn(b"MESSAGES 3", data[0])
            self.assertEqual(m.store("1", "+FLAGS", "(\\Deleted)")[0], "OK")
            typ, data = m.expunge()
            self.assertEqual((typ, data), ("OK", [b"1"]))
            typ, data = m.search(None, "ALL")
            self.assertEqual(data, [b"1 2 3 4"])
            self.assertEqual(m.rename("Work", "Done")[0], "OK")
            typ, data = m.select("Done", readonly=True)
            self.assertEqual((typ, data), ("OK", [b"3"]))
            self.assertEqual(m.store("1", "+FLAGS", "(\\Seen)")[0], "NO")
            self.assertEqual(m.close()[0], "OK")
            self.assertEqual(m.delete("Done")[0], "OK")
            typ, boxes = m.list('""', "Done")
            self.assertEqual(boxes, [None])
        finally:
            m.logout()


@need_imapd
class RealClients(ClientBase):

    def md_count(self, md):
        return sum(len(os.listdir(os.path.join(md, s)))
                   for s in ("new", "cur"))

    @buzontest.require_tool("mbsync", "isync")
    def test_mbsync_both_ways(self):
        addr = self.new_user([message(i) for i in range(1, 5)])
        tmp = tempfile.mkdtemp(prefix="buzon-mbsync-")
        try:
            local = os.path.join(tmp, "local")
            os.makedirs(local)
            rc = os.path.join(tmp, "mbsyncrc")
            with open(rc, "w") as f:
                f.write("""IMAPAccount buzon
Host 127.0.0.1
Port {port}
User {user}
Pass {pw}
SSLType None
AuthMechs LOGIN
Timeout 20

IMAPStore remote
Account buzon

MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel all
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
""".format(port=self.port, user=addr, pw=PASSWORD, local=local))

            def sync():
                r = subprocess.run(["mbsync", "-V", "-c", rc, "-a"],
                                   stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True,
                                   timeout=60, env=dict(os.environ,
                                                        HOME=tmp))
                self.assertEqual(r.returncode, 0, r.stdout)
                return r.stdout

            sync()
            inbox = os.path.join(local, "INBOX")
            self.assertEqual(self.md_count(inbox), 4)
            # local side: a new message, one flagged seen, one deleted
            before = sorted(os.path.join(s, n) for s in ("cur", "new")
                            for n in os.listdir(os.path.join(inbox, s)))
            imapref.write_messages(inbox, [message(7)], base=1710000000)
            src = os.path.join(inbox, before[0])
            base = os.path.basename(src).split(":2,")[0]
            os.rename(src, os.path.join(inbox, "cur", base + ":2,ST"))
            os.makedirs(os.path.join(local, "Notes", "cur"))
            os.makedirs(os.path.join(local, "Notes", "new"))
            os.makedirs(os.path.join(local, "Notes", "tmp"))
            imapref.write_messages(os.path.join(local, "Notes"),
                                   [message(8)], base=1710000100)
            out = sync()
            m = self.imap(addr)
            try:
                typ, data = m.select("INBOX")
                self.assertEqual(data, [b"4"], out)   # 4 + 1 - 1
                typ, data = m.search(None, "SUBJECT", '"message 7"')
                self.assertEqual(len(data[0].split()), 1, out)
                typ, data = m.select("Notes")
                self.assertEqual((typ, data), ("OK", [b"1"]), out)
                # server side: a flag and a new message, back again
                m.select("INBOX")
                m.store("1", "+FLAGS", "(\\Flagged)")
                m.append("INBOX", None, None,
                         message(11).replace("\n", "\r\n").encode())
            finally:
                m.logout()
            sync()
            self.assertEqual(self.md_count(inbox), 5)
            flagged = [n for s in ("cur", "new")
                       for n in os.listdir(os.path.join(inbox, s))
                       if re.search(r":2,[A-Z]*F", n)]
            self.assertEqual(len(flagged), 1)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @buzontest.require_tool("fetchmail")
    def test_fetchmail_imap(self):
        addr = self.new_user([message(i) for i in range(1, 4)])
        tmp = tempfile.mkdtemp(prefix="buzon-fetchmail-")
        try:
            out = os.path.join(tmp, "out")
            rc = os.path.join(tmp, "fetchmailrc")
            mda = os.path.join(tmp, "mda.sh")
            with open(mda, "w") as f:
                f.write("#!/bin/sh\n{ cat; echo '--END--'; } >> '%s'\n" %
                        out)
            os.chmod(mda, 0o755)
            with open(rc, "w") as f:
                f.write('poll 127.0.0.1 protocol imap port %d auth password '
                        'user "%s" password "%s" sslproto "" mda "%s"\n' %
                        (self.port, addr, PASSWORD, mda))
            os.chmod(rc, 0o600)
            r = subprocess.run(
                ["fetchmail", "-f", rc, "--nodetach", "--nosyslog",
                 "--pidfile", os.path.join(tmp, "pid"), "-a", "-v"],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                text=True, timeout=60,
                env=dict(os.environ, HOME=tmp, FETCHMAILHOME=tmp))
            self.assertEqual(r.returncode, 0, r.stdout)
            with open(out) as f:
                got = f.read()
            for i in range(1, 4):
                self.assertIn("Subject: message %d" % i, got)
            self.assertEqual(got.count("--END--"), 3)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        m = self.imap(addr)
        try:
            typ, data = m.select("INBOX")
            self.assertEqual(data, [b"0"])   # fetched and deleted
        finally:
            m.logout()

    @buzontest.require_tool("s-nail")
    def test_snail_reads(self):
        addr = self.new_user([message(i) for i in range(1, 4)])
        tmp = tempfile.mkdtemp(prefix="buzon-snail-")
        try:
            user = addr.replace("@", "%40")
            url = "imap://%s:%s@127.0.0.1:%d" % (user, PASSWORD,
                                                  self.port)
            script = "headers\nprint 2\nquit\n"
            r = subprocess.run(
                ["s-nail", "-n", "-N", "-#",
                 "-Sv15-compat", "-Sttycharset=utf-8",
                 "-Simap-auth=login", "-Sdisposition-notification-send=no",
                 "-f", url],
                input=script, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True, timeout=60,
                env=dict(os.environ, HOME=tmp, MAILRC="/dev/null"))
            self.assertEqual(r.returncode, 0, r.stdout)
            self.assertIn("message 3", r.stdout)
            self.assertIn("line 2 of message 2", r.stdout)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


@need_imapd
class Classroom(ClientBase):
    """The failure delay is the shipped default: a student who mistypes
    waits, the others do not."""

    def test_thirty_students_some_mistyping(self):
        addrs = [self.new_user([message(1)]) for _ in range(20)]
        results = []
        lock = threading.Lock()
        start = threading.Event()

        def student(k):
            start.wait()
            good = k % 3 != 0
            addr = addrs[k % len(addrs)]
            t0 = time.monotonic()
            try:
                r = imapref.Raw(self.port, timeout=30)
                res = r.cmd('A001 LOGIN "%s" "%s"' % (
                    addr, PASSWORD if good else "wrong"))
                dt = time.monotonic() - t0
                ok = res[-1].startswith(b"A001 OK")
                if ok:
                    sel = r.cmd("A003 SELECT INBOX")
                    ok = sel[-1].startswith(b"A003 OK")
                r.cmd("A007 LOGOUT")
                r.close()
            except (OSError, EOFError) as e:
                dt, ok = time.monotonic() - t0, repr(e)
            with lock:
                results.append((k, good, ok, dt))

        ts = [threading.Thread(target=student, args=(k,)) for k in range(30)]
        for t in ts:
            t.start()
        start.set()
        for t in ts:
            t.join(60)
        self.assertEqual(len(results), 30)
        for k, good, ok, dt in results:
            if good:
                self.assertIs(ok, True, (k, ok))
                self.assertLess(dt, 1.0, "good login %d waited %.2fs" %
                                (k, dt))
            else:
                self.assertIs(ok, False, (k, ok))


@need_imapd
class Hostile(ClientBase):

    def test_gigabyte_literal_before_login(self):
        r = self.raw()
        r.send(b"a LOGIN {1073741824}\r\n")
        ln = r.line()
        self.assertFalse(ln.startswith(b"+"), ln)
        self.assertRegex(ln, rb"^(a|\*) (BAD|NO) ")
        try:
            self.alive(r)       # still usable, or closed: never '+'
        except (OSError, EOFError):
            pass
        r.close()
        r = self.raw()
        r.send(b"b APPEND INBOX {4294967296}\r\n")
        ln = r.line()
        self.assertFalse(ln.startswith(b"+"), ln)
        r.close()

    def test_deep_parentheses(self):
        addr = self.new_user([message(1)])
        r = self.raw()
        self.assertTrue(r.cmd('L LOGIN "%s" "%s"' % (addr, PASSWORD))[-1]
                        .startswith(b"L OK"))
        r.cmd("s SELECT INBOX")
        res = r.cmd(b"x SEARCH " + b"(" * 10000 + b"ALL" + b")" * 10000)
        self.assertRegex(res[-1], rb"^x (BAD|NO|OK) ")
        res = r.cmd(b"y FETCH 1 " + b"(" * 10000 + b"FLAGS" + b")" * 10000)
        self.assertRegex(res[-1], rb"^y (BAD|NO) ")
        res = r.cmd(b"w APPEND INBOX " + b"(" * 10000 + b"\\Seen" +
                    b")" * 10000 + b" {1+}\r\nx")
        self.assertRegex(res[-1], rb"^w (BAD|NO) ")
        self.alive(r)
        r.close()

    def test_huge_sequence_sets(self):
        addr = self.new_user([message(i) for i in range(1, 4)])
        r = self.raw()
        r.cmd('L LOGIN "%s" "%s"' % (addr, PASSWORD))
        r.cmd("s SELECT INBOX")
        big = b",".join(b"%d" % (i % 3 + 1) for i in range(20000))
        t0 = time.monotonic()
        res = r.cmd(b"a FETCH " + big + b" FLAGS")
        self.assertRegex(res[-1], rb"^a (OK|BAD|NO) ")
        res = r.cmd(b"b UID FETCH 1:4294967295 FLAGS")
        self.assertTrue(res[-1].startswith(b"b OK"), res[-1])
        self.assertEqual(len(res), 4)
        r.send(b"c UID SEARCH UID 1:4294967295,"
               + b",".join(b"%d:%d" % (i, i + 1)
                           for i in range(1, 40000, 3)) + b"\r\n")
        res = self.answer(r, b"c")
        self.assertRegex(res[-1], rb"^(c|\*) (OK|BAD|NO) ")
        res = r.cmd(b"d FETCH 1:4294967296 FLAGS")
        self.assertTrue(res[-1].startswith(b"d BAD"), res[-1])
        self.assertLess(time.monotonic() - t0, 10)
        self.alive(r)
        r.close()

    def test_long_lines_then_valid(self):
        r = self.raw()
        for size in (70000, 1 << 20):
            r.send(b"a NOOP " + b"x" * size + b"\r\n")
            ln = r.line()
            self.assertRegex(ln, rb"^(a|\*) (BAD|BYE) ", ln[:200])
            if ln.startswith(b"* BYE"):
                r.close()
                r = self.raw()
                continue
            self.alive(r, b"v%d" % size)
        r.close()
        addr = self.new_user([message(1)])
        r = self.raw()
        r.cmd('L LOGIN "%s" "%s"' % (addr, PASSWORD))
        r.cmd("s SELECT INBOX")
        r.send(b"a FETCH 1 (" + b"FLAGS " * 200000 + b"FLAGS)\r\n")
        ln = self.answer(r, b"a")[-1]
        self.assertRegex(ln, rb"^(a|\*) (BAD|OK|NO) ")
        r.send(b"b FETCH 1 (" + b"FLAGS " * 2000 + b"FLAGS)\r\n")
        ln = self.answer(r, b"b")[-1]
        self.assertTrue(ln.startswith(b"b OK"), ln)
        self.alive(r)
        r.close()

    def test_literal_split_at_every_offset(self):
        addr = self.new_user()
        body = b"From: s@example.org\r\nSubject: split\r\n\r\nhello\r\n"
        r = self.raw()
        r.cmd('L LOGIN "%s" "%s"' % (addr, PASSWORD))
        cmd = b"p APPEND INBOX (\\Seen) {%d+}\r\n" % len(body) + body + b"\r\n"
        for cut in range(1, len(cmd)):
            tag = b"p%d" % cut
            data = tag + cmd[1:]
            r.send(data[:cut + len(tag) - 1])
            time.sleep(0.002)
            r.send(data[cut + len(tag) - 1:])
            res = r.until(tag)
            self.assertTrue(res[-1].startswith(tag + b" OK"), (cut, res))
        res = r.cmd(b"s STATUS INBOX (MESSAGES)")
        self.assertIn(b"MESSAGES %d" % (len(cmd) - 1), res[0])
        # one byte per write, synchronising literal
        r.cmd(b"x SELECT INBOX")
        data = b"q SEARCH SUBJECT {5}\r\n"
        for i in range(len(data)):
            r.send(data[i:i + 1])
        self.assertTrue(r.line().startswith(b"+"))
        for ch in b"split\r\n":
            r.send(bytes([ch]))
        res = r.until(b"q")
        self.assertTrue(res[-1].startswith(b"q OK"), res)
        self.assertEqual(len(res[0].split()), 2 + len(cmd) - 1)
        r.close()

    def test_client_never_reads(self):
        addr = self.new_user([message(1, body_lines=20000)])
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(b'L LOGIN "%s" "%s"\r\ns SELECT INBOX\r\n' % (
            addr.encode(), PASSWORD.encode()))
        s.settimeout(2)
        sent = 0
        try:
            for _ in range(20000):
                s.sendall(b"f FETCH 1 BODY.PEEK[]\r\n")
                sent += 1
        except (socket.timeout, OSError):
            pass
        # the server stopped reading (or closed): others are served at once
        t0 = time.monotonic()
        other = self.new_user([message(2)])
        m = self.imap(other)
        m.select("INBOX")
        typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        m.logout()
        self.assertEqual(typ, "OK")
        self.assertLess(time.monotonic() - t0, 2.0)
        s.close()
        self.assertLess(self.inst.proc.poll() or 0, 1)


if __name__ == "__main__":
    unittest.main()
