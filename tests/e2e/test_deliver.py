#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_deliver.py - buzon-deliver as an MDA: mailboxes and exit codes.

Each test makes a state directory with `buzon domain/user/alias add`, then
runs buzon-deliver with a message on stdin and checks the exit code
(sysexits.h) and the bytes that landed in the Maildir or mbox.  Runs under
tests/e2e/run.py (make check) or alone: python3 test_deliver.py (programs
from $BUZON_TOP_BUILDDIR, default ../../_build).
"""

import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("BUZON_TOP_BUILDDIR",
                       os.path.join(HERE, "..", "..", "_build"))
BUZON = os.path.join(BUILD, "master", "buzon")
DELIVER = os.path.join(BUILD, "local-delivery", "buzon-deliver")

EX_OK, EX_USAGE, EX_DATAERR, EX_NOUSER = 0, 64, 65, 67
EX_UNAVAILABLE, EX_CANTCREAT, EX_TEMPFAIL, EX_CONFIG = 69, 73, 75, 78

MSG = (b"From: Carol <carol@example.net>\r\n"
       b"To: alice@example.org\r\n"
       b"Subject: hola\r\n"
       b"\r\n"
       b"From me\r\n"
       b">From me\r\n"
       b"bye\r\n")


class DeliverTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        # Password hashing is slow: make the accounts once, copy per test.
        cls.template = tempfile.mkdtemp(prefix="buzon-deliver-e2e.")
        state = os.path.join(cls.template, "state")
        os.makedirs(os.path.join(state, "maps"))
        conf = os.path.join(cls.template, "buzon.conf")
        with open(conf, "w") as f:
            f.write("state_dir = %s\nhostname = example.org\n" % state)

        def admin(*args, stdin=b""):
            p = subprocess.run([BUZON, "-c", conf] + list(args), input=stdin,
                               capture_output=True, timeout=30)
            assert p.returncode == 0, p.stderr.decode()
        admin("domain", "add", "example.org")
        admin("user", "add", "alice@example.org", "--password-stdin",
              stdin=b"secret-pw-1\n")
        admin("user", "add", "bob@example.org", "--mbox",
              "--password-stdin", stdin=b"secret-pw-2\n")
        admin("user", "add", "small@example.org", "--quota", "1k",
              "--password-stdin", stdin=b"secret-pw-3\n")
        admin("alias", "add", "team@example.org",
              "alice@example.org,bob@example.org")
        admin("alias", "add", "out@example.org", "someone@example.com")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.template, ignore_errors=True)

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="buzon-deliver-e2e.")
        self.state = os.path.join(self.dir, "state")
        shutil.copytree(os.path.join(self.template, "state"), self.state,
                        symlinks=True)
        self.conf = os.path.join(self.dir, "buzon.conf")
        self.write_conf()

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write_conf(self, extra=""):
        with open(self.conf, "w") as f:
            f.write("state_dir = %s\nhostname = example.org\n"
                    "log_target = stderr\nlog_level = warn\n%s"
                    % (self.state, extra))

    def deliver(self, args, msg=MSG, stdin_file=False):
        cmd = [DELIVER, "-c", self.conf] + args
        if stdin_file:
            path = os.path.join(self.dir, "msg")
            with open(path, "wb") as f:
                f.write(msg)
            with open(path, "rb") as f:
                p = subprocess.run(cmd, stdin=f, capture_output=True,
                                   timeout=30)
        else:
            p = subprocess.run(cmd, input=msg, capture_output=True,
                               timeout=30)
        return p.returncode, p.stderr.decode(errors="replace")

    def maildir(self, user):
        return os.path.join(self.state, "mail", "example.org", user)

    def new_files(self, user):
        d = os.path.join(self.maildir(user), "new")
        return sorted(os.path.join(d, n) for n in os.listdir(d))

    def read(self, path):
        with open(path, "rb") as f:
            return f.read()

    def expected(self, rcpt, sender="carol@example.net", msg=MSG):
        return (b"Return-Path: <" + sender.encode() + b">\n"
                b"Delivered-To: " + rcpt.encode() + b"\n" +
                msg.replace(b"\r\n", b"\n"))

    # ---- the good paths ----

    def test_maildir_byte_exact(self):
        rc, err = self.deliver(["-f", "carol@example.net", "-d",
                                "alice@example.org"])
        self.assertEqual(rc, EX_OK, err)
        files = self.new_files("alice")
        self.assertEqual(len(files), 1)
        body = self.read(files[0])
        self.assertEqual(body, self.expected("alice@example.org"))
        m = re.search(r",S=(\d+),W=(\d+)$", files[0])
        self.assertIsNotNone(m, files[0])
        self.assertEqual(int(m.group(1)), len(body))
        self.assertEqual(int(m.group(2)), len(body.replace(b"\n", b"\r\n")))
        self.assertEqual(os.listdir(os.path.join(self.maildir("alice"),
                                                 "tmp")), [])

    def test_stdin_regular_file_and_leading_from_line(self):
        msg = b"From carol@example.net Mon Nov 23 01:02:03 2026\n" + MSG
        rc, err = self.deliver(["-f", "<carol@example.net>", "-d", "alice"],
                               msg=msg, stdin_file=True)
        self.assertEqual(rc, EX_OK, err)
        self.assertEqual(self.read(self.new_files("alice")[0]),
                         self.expected("alice@example.org"))

    def test_mbox_from_line_and_quoting(self):
        rc, err = self.deliver(["-f", "", "-d", "bob@example.org"])
        self.assertEqual(rc, EX_OK, err)
        box = self.read(os.path.join(self.maildir("bob"), "INBOX"))
        first, rest = box.split(b"\n", 1)
        self.assertRegex(first.decode(), r"^From MAILER-DAEMON "
                         r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$")
        want = self.expected("bob@example.org", sender="", msg=MSG)
        want = want.replace(b"\n>From me", b"\n>>From me")
        want = want.replace(b"\nFrom me", b"\n>From me")
        self.assertEqual(rest, want + b"\n")
        self.assertFalse(os.path.exists(
            os.path.join(self.maildir("bob"), "INBOX.lock")))

    def test_alias_fan_out_and_detail(self):
        # alice is named by the alias and by alice+lists: one copy, as
        # the queue does for one message's recipients.
        rc, err = self.deliver(["-f", "carol@example.net", "-d",
                                "team@example.org", "-d",
                                "alice+lists@example.org"])
        self.assertEqual(rc, EX_OK, err)
        self.assertEqual(len(self.new_files("alice")), 1)
        box = self.read(os.path.join(self.maildir("bob"), "INBOX"))
        self.assertEqual(box.count(b"\nDelivered-To: bob@example.org\n"), 1)

    def test_repeated_user_gets_one_copy(self):
        rc, err = self.deliver(["-f", "carol@example.net"] +
                               ["-d", "alice@example.org"] * 5 +
                               ["-d", "ALICE+x@example.org", "-d", "alice"])
        self.assertEqual(rc, EX_OK, err)
        self.assertEqual(len(self.new_files("alice")), 1)

    # ---- exit codes ----

    def test_unknown_user(self):
        for user in ("nobody@example.org", "nobody", "x@elsewhere.net"):
            rc, err = self.deliver(["-f", "a@b.c", "-d", user])
            self.assertEqual(rc, EX_NOUSER, user)
            self.assertIn("5.1.1", err)

    def test_usage(self):
        for args in (["-d", "alice"], ["-f", "a@b.c"], ["-x"],
                     ["-f", "a b@c", "-d", "alice"], ["-f"]):
            rc, err = self.deliver(args)
            self.assertEqual(rc, EX_USAGE, args)

    def test_help(self):
        p = subprocess.run([DELIVER, "--help"], capture_output=True,
                           timeout=30)
        self.assertEqual(p.returncode, 0)
        self.assertIn(b"usage: buzon-deliver", p.stdout)

    def test_bad_config(self):
        self.write_conf("no_such_key = 1\n")
        rc, err = self.deliver(["-f", "a@b.c", "-d", "alice"])
        self.assertEqual(rc, EX_CONFIG)
        self.assertIn("no_such_key", err)

    def test_loop(self):
        msg = b"Delivered-To: alice@example.org\r\n" + MSG
        rc, err = self.deliver(["-f", "a@b.c", "-d", "alice"], msg=msg)
        self.assertEqual(rc, EX_DATAERR)
        self.assertIn("5.4.6", err)
        self.assertEqual(self.new_files("alice"), [])

    def test_quota_temp_then_bounce(self):
        big = MSG + b"x" * 2000 + b"\r\n"
        rc, err = self.deliver(["-f", "a@b.c", "-d", "small"], msg=big)
        self.assertEqual(rc, EX_TEMPFAIL)
        self.assertIn("4.2.2", err)
        self.write_conf("quota_exceeded_bounce = yes\n")
        rc, err = self.deliver(["-f", "a@b.c", "-d", "small"], msg=big)
        self.assertEqual(rc, EX_CANTCREAT)
        self.assertIn("5.2.2", err)
        rc, err = self.deliver(["-f", "a@b.c", "-d", "small"])
        self.assertEqual(rc, EX_OK, err)

    def test_locked_mbox_is_tempfail(self):
        self.write_conf("mailbox_lock_timeout = 1s\n")
        lock = os.path.join(self.maildir("bob"), "INBOX.lock")
        with open(lock, "w") as f:
            f.write("%d\n" % os.getpid())
        t0 = time.monotonic()
        rc, err = self.deliver(["-f", "a@b.c", "-d", "bob"])
        self.assertEqual(rc, EX_TEMPFAIL)
        self.assertIn("4.2.0", err)
        self.assertGreater(time.monotonic() - t0, 0.9)   # waited 1s
        self.assertLess(time.monotonic() - t0, 10)
        self.assertTrue(os.path.exists(lock))

    def test_remote_alias_target_refused(self):
        rc, err = self.deliver(["-f", "a@b.c", "-d", "out@example.org"])
        self.assertEqual(rc, EX_UNAVAILABLE)
        self.assertIn("someone@example.com", err)

    def test_temp_beats_permanent(self):
        self.write_conf("mailbox_lock_timeout = 1s\n")
        lock = os.path.join(self.maildir("bob"), "INBOX.lock")
        with open(lock, "w") as f:
            f.write("%d\n" % os.getpid())
        rc, err = self.deliver(["-f", "a@b.c", "-d", "nobody", "-d", "bob",
                                "-d", "alice"])
        self.assertEqual(rc, EX_TEMPFAIL, err)
        self.assertEqual(len(self.new_files("alice")), 1)


    @unittest.skipUnless(os.geteuid() == 0, "needs root")
    def test_root_delivers_as_mail_owner(self):
        import pwd
        nobody = pwd.getpwnam("nobody")
        for root, dirs, files in os.walk(self.state):
            for n in dirs + files:
                os.lchown(os.path.join(root, n), nobody.pw_uid,
                          nobody.pw_gid)
        os.chown(self.state, nobody.pw_uid, nobody.pw_gid)
        os.chmod(self.dir, 0o755)
        rc, err = self.deliver(["-f", "a@b.c", "-d", "alice", "-d", "bob"])
        self.assertEqual(rc, EX_OK, err)
        st = os.stat(self.new_files("alice")[0])
        self.assertEqual((st.st_uid, st.st_gid),
                         (nobody.pw_uid, nobody.pw_gid))
        st = os.stat(os.path.join(self.maildir("bob"), "INBOX"))
        self.assertEqual(st.st_uid, nobody.pw_uid)

if __name__ == "__main__":
    unittest.main()
