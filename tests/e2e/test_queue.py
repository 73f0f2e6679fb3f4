# SPDX-License-Identifier: MIT
"""End-to-end tests of buzon-queued: SMTP in, mailbox files out.

One instance (demo domain example.test) with Maildir users carol and
erin, an mbox user dave, a user tiny with a 10-byte quota, an alias
team -> carol, dave, erin and an alias ghost -> a user that does not
exist.  Mail goes in over SMTP on the smtp listener; the tests look at
the mailboxes, `buzon queue list` and the log.
"""

import email
import email.policy
import os
import re
import signal
import smtplib
import subprocess
import threading
import time
import unittest

import buzontest
from buzontest import Instance, wait_for

DOMAIN = "example.test"
SENDER = "someone@remote.test"

SETTINGS = {
    "trace": "no",
    "smtpd_spf_policy": "none",
    "mynetworks": "192.0.2.0/24",
    "smtpd_max_connections_per_ip": "200",
    "queue_retry_min": "1h",
    "restart_delay_max": "1s",
}


def have_daemons():
    return all(os.path.exists(os.path.join(buzontest.TOP_BUILDDIR, d, p))
               for d, p in (("smtpd", "buzon-smtpd"),
                            ("queue", "buzon-queued")))


def files(path):
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError:
        return []


def read(path):
    with open(path, "rb") as f:
        return f.read()


@buzontest.require(have_daemons(), "buzon-smtpd or buzon-queued not built")
class Queue(unittest.TestCase):
    inst = None

    @classmethod
    def setUpClass(cls):
        cls.inst = Instance(demo=True, listeners=["smtp"],
                            overrides=SETTINGS)
        for args in (["carol@" + DOMAIN], ["erin@" + DOMAIN],
                     ["dave@" + DOMAIN, "--mbox"],
                     ["tiny@" + DOMAIN, "--quota", "10"]):
            r = cls.inst.cli("user", "add", args[0], "--password-stdin",
                             *args[1:], input="Secret-pass-1\n")
            if r.returncode != 0:
                raise AssertionError("user add: %s%s" % (r.stdout, r.stderr))
        for src, dst in (("team", "carol@%s,dave@%s,erin@%s" % (
                (DOMAIN,) * 3)), ("ghost", "nobody@" + DOMAIN)):
            r = cls.inst.cli("alias", "add", src + "@" + DOMAIN, dst)
            if r.returncode != 0:
                raise AssertionError("alias add: %s%s" % (r.stdout,
                                                          r.stderr))
        cls.inst.start()
        cls.smtp = cls.inst.port("smtp")

    @classmethod
    def tearDownClass(cls):
        if cls.inst is not None:
            cls.inst.cleanup()

    # ---- helpers ----

    def maildir(self, user):
        return os.path.join(self.inst.dir, "mail", DOMAIN, user, "new")

    def send(self, rcpts, body, sender=SENDER, options=()):
        with smtplib.SMTP("127.0.0.1", self.smtp, timeout=10) as s:
            s.ehlo("client.example")
            s.sendmail(sender, rcpts, body, rcpt_options=list(options))

    def wait_files(self, user, n, timeout=15):
        path = self.maildir(user)
        wait_for(lambda: len(files(path)) >= n, timeout,
                 what="%d files in %s" % (n, path))
        return [read(os.path.join(path, f)) for f in files(path)]

    def queue_ids(self):
        return files(os.path.join(self.inst.dir, "spool", "queue")) + \
            files(os.path.join(self.inst.dir, "spool", "hold"))

    def wait_queue_empty(self, timeout=15):
        wait_for(lambda: not self.queue_ids(), timeout, what="empty queue")

    def cli(self, *args):
        return self.inst.cli("queue", *args)

    def queued_id(self, start, rcpt):
        m = self.inst.wait_log(r"([0-9A-Z]{16}) to=<%s>.*status=deferred" %
                               re.escape(rcpt), start=start)
        return m.group(1)

    # ---- delivery ----

    def test_maildir_byte_exact_with_added_headers(self):
        body = (b"Message-ID: <exact@remote.test>\r\nSubject: exact\r\n\r\n"
                b"line one\r\n.dot\r\nFrom me\r\n")
        before = len(files(self.maildir("erin")))
        self.send(["erin@" + DOMAIN], body)
        got = [f for f in self.wait_files("erin", before + 1)
               if b"<exact@remote.test>" in f][0]
        self.assertTrue(got.startswith(
            b"Return-Path: <%s>\nDelivered-To: erin@%s\nReceived: " % (
                SENDER.encode(), DOMAIN.encode())), got)
        self.assertTrue(got.endswith(
            b"Message-ID: <exact@remote.test>\nSubject: exact\n\n"
            b"line one\n.dot\nFrom me\n"), got)
        self.wait_queue_empty()

    def test_mbox_user(self):
        self.send(["dave@" + DOMAIN], b"Subject: mbox\r\n\r\nFrom here\r\n")
        path = os.path.join(self.inst.dir, "mail", DOMAIN, "dave", "INBOX")
        wait_for(lambda: os.path.exists(path) and
                 b"\n>From here\n" in read(path), 15, what="mbox")
        self.assertTrue(read(path).startswith(b"From %s " %
                                              SENDER.encode()))

    def test_alias_fans_out_to_three(self):
        body = b"Message-ID: <team@remote.test>\r\nSubject: t\r\n\r\nx\r\n"
        self.send(["team@" + DOMAIN], body)
        for user in ("carol", "erin"):
            got = self.wait_files(user, 1)
            self.assertTrue(any(b"<team@remote.test>" in g and
                                b"Delivered-To: %s@%s\n" % (
                                    user.encode(), DOMAIN.encode()) in g
                                for g in got))
        path = os.path.join(self.inst.dir, "mail", DOMAIN, "dave", "INBOX")
        wait_for(lambda: os.path.exists(path) and
                 b"<team@remote.test>" in read(path), 15, what="dave")

    def dsn_blocks(self, raw):
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        self.assertEqual(msg.get_content_type(), "multipart/report")
        parts = msg.get_payload()
        self.assertEqual(parts[1].get_content_type(),
                         "message/delivery-status")
        return parts[1].get_payload()

    def test_unknown_after_alias_bounces_to_local_sender(self):
        # smtpd checks recipients, so the alias target goes away while
        # the message waits: leaving's quota defers it, the user is
        # removed, and the retry finds no such user.
        r = self.inst.cli("user", "add", "leaving@" + DOMAIN, "--quota",
                          "10", "--password-stdin", input="Secret-pass-1\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.inst.cli("alias", "add", "ghost@" + DOMAIN,
                          "leaving@" + DOMAIN)
        self.assertEqual(r.returncode, 0, r.stderr)
        start = self.inst.log_size()
        before = len(files(self.maildir("carol")))
        self.send(["ghost@" + DOMAIN], b"Message-ID: <lost@test>\r\n"
                  b"Subject: lost\r\n\r\n" + b"x" * 100 + b"\r\n",
                  sender="carol@" + DOMAIN)
        qid = self.queued_id(start, "leaving@" + DOMAIN)
        r = self.inst.cli("user", "del", "leaving@" + DOMAIN)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.cli("retry", qid).returncode, 0)
        got = [g for g in self.wait_files("carol", before + 1)
               if b"report-type=delivery-status" in g and
               b"<lost@test>" in g]
        self.assertEqual(len(got), 1)
        self.assertTrue(got[0].startswith(b"Return-Path: <>\n"))
        rcpt = self.dsn_blocks(got[0])[1]
        self.assertEqual(rcpt["Final-Recipient"], "rfc822; ghost@" + DOMAIN)
        self.assertEqual(rcpt["Action"], "failed")
        self.assertEqual(rcpt["Status"], "5.1.1")
        wait_for(lambda: qid not in self.queue_ids(), 10, what="removed")

    def test_delivered_to_loop_bounces(self):
        before = len(files(self.maildir("erin")))
        self.send(["carol@" + DOMAIN], b"Delivered-To: carol@example.test\r\n"
                  b"Subject: loop\r\n\r\nx\r\n", sender="erin@" + DOMAIN)
        got = [g for g in self.wait_files("erin", before + 1)
               if b"report-type=delivery-status" in g]
        self.assertEqual(len(got), 1)
        rcpt = self.dsn_blocks(got[0])[1]
        self.assertEqual(rcpt["Status"], "5.4.6")

    # ---- the queue verbs ----

    def test_quota_stays_queued_then_admin_bounce(self):
        start = self.inst.log_size()
        before = len(files(self.maildir("carol")))
        self.send(["tiny@" + DOMAIN], b"Subject: big\r\n\r\n" + b"x" * 100 +
                  b"\r\n", sender="carol@" + DOMAIN)
        qid = self.queued_id(start, "tiny@" + DOMAIN)
        # the attempt is logged before its status record is written
        want = re.compile(r"%s .*\n\s+tiny@%s\s+deferred 4\.2\.2" % (
            qid, re.escape(DOMAIN)))
        wait_for(lambda: want.search(self.cli("list").stdout), 10,
                 what="the deferral in queue list")
        r = self.cli("bounce", qid)
        self.assertEqual(r.returncode, 0, r.stderr)
        got = [g for g in self.wait_files("carol", before + 1)
               if b"bounced by the administrator" in g]
        self.assertEqual(len(got), 1)
        self.assertIn(b"Status: 5.0.0", got[0])
        wait_for(lambda: qid not in self.queue_ids(), 10, what="removed")

    def test_hold_release_retry_delete(self):
        start = self.inst.log_size()
        self.send(["tiny@" + DOMAIN], b"Subject: big\r\n\r\n" + b"y" * 100 +
                  b"\r\n")
        qid = self.queued_id(start, "tiny@" + DOMAIN)
        r = self.cli("hold", qid)
        self.assertEqual((r.returncode, r.stdout), (0, "%s: held\n" % qid))
        self.assertRegex(self.cli("list").stdout, r"%s!" % qid)
        self.assertEqual(self.cli("hold", qid).returncode, 1)
        start = self.inst.log_size()
        r = self.cli("release", qid)
        self.assertEqual(r.returncode, 0, r.stderr)
        # released entries are tried at once, retry times ignored
        self.inst.wait_log(r"%s to=<tiny@%s>.*status=deferred" % (
            qid, re.escape(DOMAIN)), start=start)
        start = self.inst.log_size()
        self.assertEqual(self.cli("retry", qid).returncode, 0)
        self.inst.wait_log(r"%s to=<tiny@%s>.*status=deferred" % (
            qid, re.escape(DOMAIN)), start=start)
        self.assertEqual(self.cli("flush").returncode, 0)
        r = self.cli("delete", qid)
        self.assertEqual((r.returncode, r.stdout), (0, "%s: deleted\n" % qid))
        self.assertNotIn(qid, self.queue_ids())
        r = self.cli("delete", qid)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no such message", r.stderr)

    def test_verb_usage(self):
        for args, code in ((("hold",), 2), (("bounce", "ALL"), 2),
                           (("retry", "../../etc"), 1),
                           (("frobnicate", "x"), 2)):
            r = self.cli(*args)
            self.assertEqual(r.returncode, code, (args, r.stderr))
        r = self.inst.cli("queue", "--help")
        self.assertEqual(r.returncode, 0)
        for verb in ("flush", "retry ID", "hold ID|ALL", "release ID|ALL",
                     "delete ID|ALL", "bounce ID"):
            self.assertIn("queue " + verb, r.stdout)

    # ---- kill -9 ----

    def queued_pid(self):
        out = self.inst.cli("status").stdout
        m = re.search(r"buzon-queued\s+running\s+pid=(\d+)", out)
        return int(m.group(1)) if m else None

    def test_kill_9_during_a_run_loses_nothing(self):
        n, nthreads = 600, 4
        box = self.maildir("erin")
        ids = ["<kill.%d@remote.test>" % i for i in range(n)]

        def sender(k):
            with smtplib.SMTP("127.0.0.1", self.smtp, timeout=30) as s:
                s.ehlo("client.example")
                for i in range(k, n, nthreads):
                    s.sendmail(SENDER, ["erin@" + DOMAIN],
                               "Message-ID: %s\r\nSubject: k\r\n\r\n%d\r\n"
                               % (ids[i], i))
        threads = [threading.Thread(target=sender, args=(k,))
                   for k in range(nthreads)]
        for t in threads:
            t.start()
        kills = 0
        for at in (n // 5, n // 2):
            wait_for(lambda: len(files(box)) >= at or
                     not any(t.is_alive() for t in threads), 60,
                     what="deliveries")
            pid = self.queued_pid()
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
                kills += 1
                wait_for(lambda: self.queued_pid() not in (None, pid), 10,
                         what="queued restarted")
        for t in threads:
            t.join()
        self.assertGreater(kills, 0)

        def all_there():
            text = b"".join(read(os.path.join(box, f)) for f in files(box))
            return all(i.encode() in text for i in ids)
        wait_for(all_there, 60, what="every message delivered")
        self.wait_queue_empty(30)


if __name__ == "__main__":
    unittest.main()
