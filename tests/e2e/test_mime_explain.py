# SPDX-License-Identifier: MIT
"""buzon mime explain: the part tree and the decoded text parts of a
message, from a file and from stdin; bad usage and unreadable files."""

import os
import subprocess
import tempfile
import unittest

import buzontest

MESSAGE = (b'From: a@b.c\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n'
           b'MIME-Version: 1.0\r\n'
           b'Content-Type: multipart/mixed; boundary="XX"\r\n\r\npre\r\n'
           b'--XX\r\nContent-Type: text/plain; charset=iso-8859-1\r\n'
           b'Content-Transfer-Encoding: quoted-printable\r\n\r\n'
           b'caf=E9 soft=\r\nbreak\r\n'
           b'--XX\r\nContent-Type: application/pdf; name="a.pdf"\r\n'
           b'Content-Disposition: attachment; filename="a.pdf"\r\n'
           b'Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--XX--\r\n')


@buzontest.require(buzontest.have_buzon(), "buzon not built")
class MimeExplain(unittest.TestCase):

    def run_buzon(self, *args, input=None):
        return subprocess.run([buzontest.BUZON, *args], input=input,
                              capture_output=True, timeout=30)

    def check(self, out):
        text = out.decode("utf-8")
        self.assertIn("subject: caf\u00e9\n", text)
        self.assertIn('(message) multipart/mixed; boundary="XX"\n', text)
        self.assertIn("2 parts between the boundary "
                      "lines\n", text)
        self.assertIn('  1        text/plain; charset="iso-8859-1"\n', text)
        self.assertIn("encoding quoted-printable", text)
        # the decoded text: =E9 in Latin-1 is é; the soft break joins
        self.assertIn("    | caf\u00e9 softbreak\n", text)
        self.assertIn('  2        application/pdf; name="a.pdf"\n', text)
        self.assertIn('attachment; filename="a.pdf"', text)

    def test_file_and_stdin(self):
        with tempfile.NamedTemporaryFile(suffix=".eml") as f:
            f.write(MESSAGE)
            f.flush()
            r = self.run_buzon("mime", "explain", f.name)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.check(r.stdout)
        r = self.run_buzon("mime", "explain", "-", input=MESSAGE)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.check(r.stdout)

    def test_lf_only_and_not_mime(self):
        r = self.run_buzon("mime", "explain", "-",
                           input=b"Subject: plain\n\nhello\nworld\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"(message) text/plain", r.stdout)
        self.assertIn(b"  | hello\n  | world\n", r.stdout)

    def test_bad_usage_and_missing_file(self):
        r = self.run_buzon("mime")
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"usage: buzon mime explain FILE|-", r.stderr)
        r = self.run_buzon("mime", "explain", "/nonexistent/x.eml")
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"/nonexistent/x.eml: No such file", r.stderr)


@buzontest.require(buzontest.have_buzon(), "buzon not built")
class MailboxShow(unittest.TestCase):

    def test_stored_message_by_uid(self):
        with buzontest.Instance(listeners=[]) as inst:
            self.assertEqual(inst.cli("domain", "add", "example.test")
                             .returncode, 0)
            r = inst.cli("user", "add", "ana@example.test",
                         "--password-stdin", input="pw-pw-pw-pw\n")
            self.assertEqual(r.returncode, 0, r.stderr)
            d = os.path.join(inst.dir, "mail", "example.test", "ana")
            with open(os.path.join(d, "new", "1.M1P1.test"), "wb") as f:
                f.write(MESSAGE)
            buzontest.chown_tree(d)
            r = inst.cli("mailbox", "show", "ana@example.test", "1")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("    | caf\u00e9 softbreak\n", r.stdout)
            r = inst.cli("mailbox", "show", "ana@example.test", "9")
            self.assertEqual(r.returncode, 1)
            self.assertIn("no message with UID 9 in INBOX", r.stderr)
            r = inst.cli("mailbox", "show", "nobody@example.test", "1")
            self.assertEqual(r.returncode, 1)
            r = inst.cli("mailbox", "show", "ana@example.test", "x")
            self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    unittest.main()
