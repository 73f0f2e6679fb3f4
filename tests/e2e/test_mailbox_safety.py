# SPDX-License-Identifier: MIT
"""Mailboxes over the network: every address has a mailbox of its own,
whatever its local part holds ('/', '.', "bob/new"), a message reaches
one mailbox once however many times its recipients name it, a Maildir
replaced by a symbolic link is not delivered into (the message waits in
the queue), and a damaged entry in a mailbox's change log leaves every
UIDL as it was.

One instance (demo domain example.test) with smtp and pop3 listeners.
"""

import os
import poplib
import shutil
import smtplib
import struct
import unittest

import buzontest
from buzontest import Instance, wait_for

DOMAIN = "example.test"
SENDER = "someone@remote.test"
PASSWORD = "Secret-pass-1"

SETTINGS = {
    "trace": "no",
    "smtpd_spf_policy": "none",
    "smtpd_max_connections_per_ip": "200",
    "queue_retry_min": "1h",
    "auth_failure_delay": "0",
}

USERS = ("bobby", "bobby/new", "a/b", "a/./b", "carol", "dup", "sym", "other",
         "logged")
ALIASES = (("twin1", "dup@" + DOMAIN), ("twin2", "dup@" + DOMAIN),
           ("both", "twin1@%s,twin2@%s" % (DOMAIN, DOMAIN)))


def have_daemons():
    return all(os.path.exists(os.path.join(buzontest.TOP_BUILDDIR, d, p))
               for d, p in (("smtpd", "buzon-smtpd"),
                            ("queue", "buzon-queued"),
                            ("pop3d", "buzon-pop3d")))


def fnv1a(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
    return h


def log_record(rtype, payload):
    """One change-log record as common/mblog.c writes it (checksummed, so
    a reader takes it as committed)."""
    head = struct.pack("<II", rtype, len(payload)) + payload
    return head + struct.pack("<Q", fnv1a(head))


def files(path):
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError:
        return []


@unittest.skipUnless(have_daemons(), "smtpd, queued or pop3d not built")
class MailboxSafety(buzontest.InstanceCase):
    inst = None

    @classmethod
    def setUpClass(cls):
        cls.inst = Instance(demo=True, listeners=["smtp", "pop3"],
                            overrides=SETTINGS)
        for local in USERS:
            r = cls.inst.cli("user", "add", "%s@%s" % (local, DOMAIN),
                             "--password-stdin", input=PASSWORD + "\n")
            if r.returncode != 0:
                raise AssertionError("user add %s: %s%s" % (
                    local, r.stdout, r.stderr))
        for src, dst in ALIASES:
            r = cls.inst.cli("alias", "add", src + "@" + DOMAIN, dst)
            if r.returncode != 0:
                raise AssertionError("alias add: %s%s" % (r.stdout,
                                                          r.stderr))
        cls.inst.start()

    # ---- helpers ----

    def maildir(self, name):
        """The Maildir of an encoded mailbox name (as on disk)."""
        return os.path.join(self.inst.dir, "mail", DOMAIN, name)

    def send(self, rcpts, subject):
        body = ("Subject: %s\r\nMessage-ID: <%s@remote.test>\r\n\r\n"
                "body of %s\r\n" % (subject, subject, subject)).encode()
        with smtplib.SMTP("127.0.0.1", self.inst.port("smtp"),
                          timeout=10) as s:
            s.ehlo("client.example")
            s.sendmail(SENDER, rcpts, body)

    def wait_delivered(self, start, rcpt):
        self.inst.wait_log(r"to=<%s>.*status=sent" % rcpt.replace(
            ".", r"\.").replace("+", r"\+"), start=start, timeout=15)

    def wait_queue_empty(self, timeout=15):
        spool = os.path.join(self.inst.dir, "spool")
        wait_for(lambda: not files(os.path.join(spool, "queue")) and
                 not files(os.path.join(spool, "hold")), timeout,
                 what="empty queue")

    def pop3(self, local):
        p = poplib.POP3("127.0.0.1", self.inst.port("pop3"), timeout=10)
        p.user("%s@%s" % (local, DOMAIN))
        p.pass_(PASSWORD)
        return p

    def uidl(self, local):
        p = self.pop3(local)
        try:
            return p.uidl()[1]
        finally:
            p.quit()

    def subjects(self, local):
        """The Subject of every message POP3 shows local."""
        p = self.pop3(local)
        try:
            count = p.stat()[0]
            out = []
            for i in range(1, count + 1):
                lines = p.retr(i)[1]
                subj = [l for l in lines if l.startswith(b"Subject: ")]
                out.append(subj[0][9:].decode() if subj else None)
            return out
        finally:
            p.quit()

    # ---- one mailbox per address ----

    def test_slash_and_dot_local_parts_do_not_share(self):
        start = self.inst.log_size()
        self.send(["a/b@" + DOMAIN], "for-a-slash-b")
        self.wait_delivered(start, "a/b@" + DOMAIN)
        self.assertEqual(self.subjects("a/b"), ["for-a-slash-b"])
        self.assertEqual(self.subjects("a/./b"), [])
        # Each is one directory under the domain, none inside another.
        self.assertTrue(os.path.isdir(self.maildir("a%2Fb")))
        self.assertFalse(os.path.exists(self.maildir("a")))

    def test_bobby_new_is_not_inside_bobbys_maildir(self):
        start = self.inst.log_size()
        self.send(["bobby/new@" + DOMAIN], "for-bobby-new")
        self.wait_delivered(start, "bobby/new@" + DOMAIN)
        start = self.inst.log_size()
        self.send(["bobby@" + DOMAIN], "for-bobby")
        self.wait_delivered(start, "bobby@" + DOMAIN)
        # bobby's POP3 shows his one message, no index or lock file.
        self.assertEqual(self.subjects("bobby"), ["for-bobby"])
        self.assertEqual(self.subjects("bobby/new"), ["for-bobby-new"])
        self.assertEqual(self.subjects("bobby"), ["for-bobby"])
        new = os.path.join(self.maildir("bobby"), "new")
        self.assertEqual([f for f in files(new) if f.startswith("buzon") or
                          not os.path.isfile(os.path.join(new, f))], [])
        self.assertTrue(os.path.isdir(self.maildir("bobby%2Fnew")))

    def test_demo_users_and_new_users_have_a_quota(self):
        for addr in ("alice@" + DOMAIN, "carol@" + DOMAIN):
            r = self.inst.cli("user", "show", addr)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("quota: %d\n" % (1 << 30), r.stdout)
        self.assertIn("\nuser_default_quota = 1G\n", self.inst.read_conf())

    # ---- duplicate recipients ----

    def test_hundred_identical_recipients_give_one_copy(self):
        start = self.inst.log_size()
        self.send(["carol@" + DOMAIN] * 100, "hundred")
        self.wait_delivered(start, "carol@" + DOMAIN)
        self.wait_queue_empty()
        self.assertEqual(self.subjects("carol").count("hundred"), 1)

    def test_aliases_and_details_to_one_user_give_one_copy(self):
        start = self.inst.log_size()
        self.send(["twin1@" + DOMAIN, "twin2@" + DOMAIN, "both@" + DOMAIN,
                   "dup@" + DOMAIN, "dup+tag@" + DOMAIN,
                   "DUP@" + DOMAIN.upper()], "twins")
        self.inst.wait_log(r"to=<dup@%s>.*status=sent" % (
            DOMAIN.replace(".", r"\."),), start=start, timeout=15)
        self.wait_queue_empty()
        self.assertEqual(self.subjects("dup").count("twins"), 1)

    # ---- a damaged change log ----

    def test_damaged_log_entry_keeps_every_uidl(self):
        for n in range(3):
            start = self.inst.log_size()
            self.send(["logged@" + DOMAIN], "logged-%d" % n)
            self.wait_delivered(start, "logged@" + DOMAIN)
        before = self.uidl("logged")
        self.assertEqual(len(before), 3)
        # A committed HDR whose UIDNEXT is below the UIDs handed out.
        path = os.path.join(self.maildir("logged"), "buzon.log")
        self.assertTrue(os.path.exists(path))
        with open(path, "ab") as f:
            f.write(log_record(4, struct.pack("<IQQQQqq", 1, 1 << 20, 0, 0,
                                              0, 0, 0)))
        start = self.inst.log_size()
        self.assertEqual(self.uidl("logged"), before)
        self.inst.wait_log(r"mailbox log damaged", start=start, timeout=10)
        # New mail still gets new UIDs under the same UIDVALIDITY.
        start = self.inst.log_size()
        self.send(["logged@" + DOMAIN], "logged-after")
        self.wait_delivered(start, "logged@" + DOMAIN)
        after = self.uidl("logged")
        self.assertEqual(after[:3], before)
        self.assertEqual(len(after), 4)
        self.assertNotIn(after[3].split()[1], [u.split()[1] for u in before])

    # ---- a Maildir that is a symbolic link ----

    def test_symlinked_maildir_is_not_followed_and_mail_waits(self):
        sym = self.maildir("sym")
        other_new = os.path.join(self.maildir("other"), "new")
        before = files(other_new)
        shutil.rmtree(sym)
        os.symlink(self.maildir("other"), sym)
        start = self.inst.log_size()
        self.send(["sym@" + DOMAIN], "via-link")
        m = self.inst.wait_log(r"([0-9A-Z]{16}) to=<sym@%s>.*"
                               r"status=deferred" % DOMAIN.replace(
                                   ".", r"\."), start=start, timeout=15)
        self.assertEqual(files(other_new), before)
        # Put a real Maildir back: the queued message arrives there (on
        # the retry, or on an attempt the runner had already planned, in
        # which case the retry finds it gone).
        start = self.inst.log_size()
        os.unlink(sym)
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(sym, sub))
        buzontest.chown_tree(sym)
        r = self.inst.cli("queue", "retry", m.group(1))
        self.assertTrue(r.returncode == 0 or "no such message" in r.stderr,
                        r.stdout + r.stderr)
        self.wait_delivered(start, "sym@" + DOMAIN)
        self.assertEqual(self.subjects("sym"), ["via-link"])
        self.assertEqual(files(other_new), before)


if __name__ == "__main__":
    unittest.main()
