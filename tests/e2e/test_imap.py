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
        cm(c, "A LOGIN user", r"^A BAD LOGIN takes a user name and a "
                  r"password: A LOGIN user password$")
        cm(c, "x IDLE", r"^x BAD Please log in first\.$")
        cm(c, "y FOOBAR", r"^y BAD Unknown command\.$")
        cm(c, "z LOGIN %s wrong" % addr,
                  r"^z NO \[AUTHENTICATIONFAILED\] Authentication failed\.$")
        cm(c, "b login %s \"%s\"" % (addr, PASSWORD),
                  r"^b OK \[CAPABILITY .*\] Logged in$")
        cm(c, "c LOGIN a b", r"^c BAD Already logged in\.$")
        cm(c, "d LOGOUT", r"^\* BYE")
        c.close()
