# SPDX-License-Identifier: MIT
"""buzon-imapd with the IMAP clients of Debian: mbsync (isync) syncing a
whole account both ways, fetchmail over IMAP, s-nail reading a
multipart message."""

import os
import shutil
import subprocess
import tempfile
import time
import unittest

import buzontest
from buzontest import Instance

DOMAIN = "example.test"
PASSWORD = "correct horse"
MESSAGE = ("From: Alice <alice@example.org>\n"
           "To: bob@example.test\n"
           "Subject: =?utf-8?q?caf=C3=A9?= time\n"
           "MIME-Version: 1.0\n"
           "Content-Type: multipart/mixed; boundary=\"XX\"\n\n"
           "--XX\nContent-Type: text/plain; charset=utf-8\n"
           "Content-Transfer-Encoding: quoted-printable\n\n"
           "caf=C3=A9 body\n"
           "--XX\nContent-Type: application/octet-stream; name=\"a.bin\"\n"
           "Content-Transfer-Encoding: base64\n\nAAEC\n--XX--\n")


def need(cls):
    if not buzontest.have_buzon():
        return buzontest.require(False, "buzon not built")(cls)
    return buzontest.require("buzon-imapd" in buzontest.built_daemons(),
                             "buzon-imapd not built")(cls)


@need
class Clients(buzontest.InstanceCase):

    @classmethod
    def setUpClass(cls):
        cls.inst = Instance(listeners=["imap"], overrides={
            "auth_failure_delay": "0"})
        assert cls.inst.cli("domain", "add", DOMAIN).returncode == 0
        cls.inst.start()
        cls.tmp = tempfile.mkdtemp(prefix="buzon-imap-clients-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    n = 0

    def user(self, messages=1):
        Clients.n += 1
        addr = "c%d@%s" % (Clients.n, DOMAIN)
        r = self.inst.cli("user", "add", addr, "--password-stdin",
                          input=PASSWORD + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        d = os.path.join(self.inst.dir, "mail", DOMAIN, "c%d" % Clients.n)
        for i in range(messages):
            with open(os.path.join(d, "new", "%d.M%dP1.t" % (i, i)),
                      "w") as f:
                f.write(MESSAGE)
        buzontest.chown_tree(d)
        return addr, d

    @buzontest.require_tool("mbsync", "isync")
    def test_mbsync_both_ways(self):
        addr, d = self.user(messages=3)
        near = os.path.join(self.tmp, "mbsync-%d" % Clients.n)
        os.makedirs(near)
        rc = os.path.join(self.tmp, "mbsyncrc-%d" % Clients.n)
        with open(rc, "w") as f:
            f.write("IMAPAccount b\nHost 127.0.0.1\nPort %d\nUser %s\n"
                    "Pass \"%s\"\nSSLType None\nAuthMechs LOGIN\n\n"
                    "IMAPStore remote\nAccount b\n\n"
                    "MaildirStore local\nPath %s/\nInbox %s/INBOX\n"
                    "SubFolders Verbatim\n\n"
                    "Channel all\nFar :remote:\nNear :local:\nPatterns *\n"
                    "Create Both\nExpunge Both\nSyncState *\n" % (
                        self.inst.port("imap"), addr, PASSWORD, near,
                        near))

        def sync():
            r = subprocess.run(["mbsync", "-c", rc, "all"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

        sync()
        got = os.listdir(os.path.join(near, "INBOX", "new")) + \
            os.listdir(os.path.join(near, "INBOX", "cur"))
        self.assertEqual(len(got), 3)
        for name in ("Sent", "Drafts", "Trash", "Junk", "Archive"):
            self.assertTrue(os.path.isdir(os.path.join(near, name)), name)
        # near side: one message marked read, one new in Sent
        newdir = os.path.join(near, "INBOX", "new")
        first = sorted(os.listdir(newdir))[0]
        os.rename(os.path.join(newdir, first),
                  os.path.join(near, "INBOX", "cur", first + ":2,S"
                               if ":2," not in first else first + "S"))
        with open(os.path.join(near, "Sent", "new", "mine"), "w") as f:
            f.write("From: me@example.test\nSubject: from the laptop\n\n"
                    "hi\n")
        time.sleep(1.1)		# mbsync waits for a settled directory
        sync()
        sent = os.listdir(os.path.join(d, ".Sent", "cur")) + \
            os.listdir(os.path.join(d, ".Sent", "new"))
        self.assertEqual(len(sent), 1)
        seen = [n for n in os.listdir(os.path.join(d, "cur"))
                if n.split(":2,")[-1].find("S") >= 0]
        self.assertEqual(len(seen), 1, os.listdir(os.path.join(d, "cur")))

    def test_fetchmail_over_imap(self):
        addr, d = self.user(messages=2)
        out = os.path.join(self.tmp, "fm-%d.out" % Clients.n)
        rc = os.path.join(self.tmp, "fetchmailrc-%d" % Clients.n)
        with open(rc, "w") as f:
            f.write("poll 127.0.0.1 port %d protocol IMAP user \"%s\" "
                    "password \"%s\" keep sslproto '' mda \"cat >> %s\"\n"
                    % (self.inst.port("imap"), addr, PASSWORD, out))
        os.chmod(rc, 0o600)
        r = subprocess.run(["fetchmail", "-f", rc, "--nodetach", "--all",
                            "--nosyslog"], capture_output=True, text=True,
                           timeout=60, env=dict(os.environ,
                                                HOME=self.tmp))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(out) as f:
            text = f.read()
        self.assertEqual(text.count("Subject: =?utf-8?q?caf=C3=A9?= time"),
                         2)

    @buzontest.require_tool("s-nail")
    def test_s_nail_reads_a_multipart_message(self):
        addr, d = self.user(messages=1)
        url = "imap://%s:%s@127.0.0.1:%d/INBOX" % (
            addr.replace("@", "%40"), PASSWORD.replace(" ", "%20"),
            self.inst.port("imap"))
        r = subprocess.run(["s-nail", "-n", "-Sv15-compat",
                            "-Sttycharset=utf-8", "-#", "-f", url],
                           input="p 1\nq\n", capture_output=True,
                           text=True, timeout=60,
                           env=dict(os.environ, HOME=self.tmp))
        self.assertIn("Subject: caf\u00e9 time", r.stdout, r.stderr)
        self.assertIn("caf\u00e9 body", r.stdout)
        self.assertIn('name="a.bin"', r.stdout)


if __name__ == "__main__":
    unittest.main()
