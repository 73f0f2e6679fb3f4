# SPDX-License-Identifier: MIT
"""UTF-8 addresses end to end (RFC 6531): a user created with a UTF-8
local part gets mail sent with SMTPUTF8 over the smtp listener, and reads
it back over POP3 byte for byte; without SMTPUTF8 the same address is
refused with 553 5.6.7."""

import os
import smtplib
import unittest

import buzontest
from buzontest import Instance, wait_for

DOMAIN = "example.test"
LOCAL = "j\u00f6s"
ADDR = LOCAL + "@" + DOMAIN
PASSWORD = "Secret-pass-1"


def have_daemons():
    return all(os.path.exists(os.path.join(buzontest.TOP_BUILDDIR, d, p))
               for d, p in (("smtpd", "buzon-smtpd"),
                            ("queue", "buzon-queued"),
                            ("pop3d", "buzon-pop3d")))


@unittest.skipUnless(buzontest.have_buzon() and have_daemons(),
                     "buzon, buzon-smtpd, buzon-queued or buzon-pop3d "
                     "not built")
class Utf8(buzontest.InstanceCase):
    inst = None

    @classmethod
    def setUpClass(cls):
        cls.inst = Instance(listeners=["smtp", "pop3"], overrides={
            "trace": "yes", "smtpd_spf_policy": "none",
            "auth_failure_delay": "0", "queue_retry_min": "1h"})
        for args in (("domain", "add", DOMAIN),
                     ("user", "add", ADDR, "--password-stdin")):
            r = cls.inst.cli(*args, input=PASSWORD + "\n")
            if r.returncode != 0:
                raise AssertionError("%s: %s%s" % (args, r.stdout,
                                                   r.stderr))
        cls.inst.start()

    def test_user_listed_with_utf8_address(self):
        r = self.inst.cli("user", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(ADDR, r.stdout)

    def test_user_add_refuses_malformed_utf8(self):
        # argv holds octets: "\udcXX" is the lone byte 0xXX
        for local in ("j\udcc3s", "j\udcf6s", "j\udcc2\udc85s"):
            r = self.inst.cli("user", "add", local + "@" + DOMAIN,
                              "--password-stdin", input=PASSWORD + "\n")
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn("invalid address", r.stderr)

    def test_smtputf8_delivery_then_pop3_retr(self):
        body = ("Subject: =?utf-8?q?gr=C3=BC=C3=9Fe?=\r\n"
                "Message-ID: <utf8-1@remote.test>\r\n\r\n"
                "hallo J\u00f6s\r\n.dot\r\n").encode()
        with smtplib.SMTP("127.0.0.1", self.inst.port("smtp"),
                          timeout=10) as s:
            s.ehlo("client.example")
            self.assertTrue(s.has_extn("smtputf8"))
            # Upper-case ASCII in the domain: domains compare without case.
            s.sendmail("s\u00e9nder@remote.test", ["j\u00f6s@Example.TEST"],
                       body, mail_options=["SMTPUTF8"])
        # the mailbox is one path component: non-ASCII octets as %XX
        new = os.path.join(self.inst.dir, "mail", DOMAIN, "j%C3%B6s", "new")
        wait_for(lambda: os.path.isdir(new) and os.listdir(new), 15,
                 what="a message in %s" % new)
        with open(os.path.join(new, os.listdir(new)[0]), "rb") as f:
            stored = f.read().replace(b"\n", b"\r\n")
        self.assertIn(b"Delivered-To: " + ADDR.encode(), stored)
        self.assertTrue(stored.endswith(body), stored)

        # LineClient speaks latin-1: hand it the UTF-8 octets.
        c = self.inst.connect("pop3")
        c.expect("+OK ")
        c.command("USER " + ADDR.encode().decode("latin-1"), "+OK")
        c.command("PASS " + PASSWORD, "+OK Logged in.")
        c.command("STAT", "+OK 1 %d" % len(stored))
        c.send("RETR 1")
        c.expect("+OK %d octets" % len(stored))
        data = c.read_until()
        self.assertEqual(data, stored.replace(b"\r\n.dot", b"\r\n..dot") +
                         b".\r\n")
        c.command("QUIT", "+OK")
        c.close()

    def test_utf8_address_without_smtputf8_is_553(self):
        with smtplib.SMTP("127.0.0.1", self.inst.port("smtp"),
                          timeout=10) as s:
            s.ehlo("client.example")
            self.assertEqual(s.mail("a@remote.test")[0], 250)
            for cmd in ("RCPT TO:<%s>" % ADDR, "RSET",
                        "MAIL FROM:<s\u00e9nder@remote.test>"):
                s.send((cmd + "\r\n").encode())
                code, msg = s.getreply()
                if cmd == "RSET":
                    self.assertEqual(code, 250, msg)
                    continue
                self.assertEqual(code, 553, msg)
                self.assertTrue(msg.startswith(b"5.6.7 "), msg)

    def test_bad_utf8_is_a_syntax_error(self):
        with smtplib.SMTP("127.0.0.1", self.inst.port("smtp"),
                          timeout=10) as s:
            s.ehlo("client.example")
            s.putcmd("MAIL FROM:<a@remote.test> SMTPUTF8")
            self.assertEqual(s.getreply()[0], 250)
            # a lone continuation byte, and an overlong "/"
            for local in (b"j\x80s", b"j\xc0\xafs"):
                s.send(b"RCPT TO:<" + local + b"@" + DOMAIN.encode() +
                       b">\r\n")
                code, msg = s.getreply()
                self.assertEqual(code, 501, msg)
                self.assertTrue(msg.startswith(b"5.1.3 "), msg)


if __name__ == "__main__":
    unittest.main()
