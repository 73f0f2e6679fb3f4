# SPDX-License-Identifier: MIT
"""buzon trace on live sessions: the C:/S: transcript read back from
trace_log, PASS, AUTH PLAIN and AUTH LOGIN masked byte for byte, the
service and user filters, --message from SMTP intake to delivery, and
--follow across a rotation of the file."""

import base64
import os
import re
import subprocess
import time

import buzontest
from buzontest import Instance

DOMAIN = "example.test"
USER = "alice@" + DOMAIN
PASSWORD = "s3cret pw"
LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (\S+) "
                  r"(smtp|pop3|imap) ([CS]): (.*)$")


need_daemons = buzontest.require_daemons(
    "buzon-smtpd", "buzon-pop3d", "buzon-queued", "buzon-auth")


@need_daemons
class TraceTest(buzontest.InstanceCase):

    @classmethod
    def setUpClass(cls):
        cls.inst = Instance(listeners=["smtp", "submission", "pop3"],
                            overrides={"trace": "yes",
                                       "auth_failure_delay": "0"})
        cls.trace_log = os.path.join(cls.inst.dir, "log", "trace.log")
        cls.inst.write_settings({"trace_log": cls.trace_log})
        for args, inp in ((("domain", "add", DOMAIN), None),
                          (("user", "add", USER, "--password-stdin"),
                           PASSWORD + "\n")):
            r = cls.inst.cli(*args, input=inp)
            if r.returncode != 0:
                raise AssertionError(r.stdout + r.stderr)
        cls.inst.start()
        cls.sessions()

    @classmethod
    def sessions(cls):
        inst = cls.inst
        # SMTP intake on port 25's listener, as the course types it
        c = inst.connect("smtp")
        c.expect("220 ")
        c.command("HELO pc23.ejemplo.com", "250 ")
        c.command("MAIL FROM: <usuario@ejemplo.com>", "250 ")
        c.command("RCPT TO: <%s>" % USER, "250 ")
        c.command("DATA", "354 ")
        c.send("Subject: traced")
        c.send("")
        c.send("hello")
        line = c.command(".", "250 ")
        cls.queue_id = line.rsplit(" ", 1)[1]
        c.command("QUIT", "221 ")
        c.close()
        # submission: STARTTLS, AUTH PLAIN with an initial response
        plain = base64.b64encode(("\0%s\0%s" % (USER, PASSWORD))
                                 .encode()).decode()
        c = cls.submission_tls()
        c.command("AUTH PLAIN " + plain, "235 ")
        c.command("QUIT", "221 ")
        c.close()
        # submission: AUTH LOGIN, the two 334 prompts
        c = cls.submission_tls()
        c.command("AUTH LOGIN", "334 VXNlcm5hbWU6")
        c.command(base64.b64encode(USER.encode()).decode(),
                  "334 UGFzc3dvcmQ6")
        c.command(base64.b64encode(PASSWORD.encode()).decode(), "235 ")
        c.command("QUIT", "221 ")
        c.close()
        # POP3: the delivered message, then a wrong password
        buzontest.wait_for(lambda: "status=sent" in inst.log_text(), 10,
                           what="delivery")
        c = inst.connect("pop3")
        c.expect("+OK")
        c.command("USER " + USER, "+OK")
        c.command("PASS " + PASSWORD, "+OK")
        c.command("RETR 1", "+OK")
        while c.readline() != ".":
            pass
        c.command("QUIT", "+OK")
        c.close()
        c = inst.connect("pop3")
        c.expect("+OK")
        c.command("USER bob", "+OK")
        c.command("PASS wrong-" + PASSWORD, "-ERR")
        c.command("QUIT", "+OK")
        c.close()
        buzontest.wait_for(
            lambda: inst.log_text().count("reason=quit") >= 5, 10,
            what="five sessions ended")

    @classmethod
    def submission_tls(cls):
        """A submission session after EHLO, STARTTLS, EHLO."""
        c = cls.inst.connect("submission")
        c.expect("220 ")
        for tls in (False, True):
            c.send("EHLO pc23.ejemplo.com")
            while not c.readline().startswith("250 "):
                pass
            if not tls:
                c.command("STARTTLS", "220 ")
                c.starttls()
        return c

    def trace(self, *args):
        r = self.inst.cli("trace", *args)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def transcript(self, *args):
        """[(session, service, dir, text)] of `buzon trace ARGS`."""
        out = []
        for line in self.trace(*args).splitlines():
            m = LINE.match(line)
            self.assertIsNotNone(m, "not a transcript line: %r" % line)
            out.append(m.groups())
        return out

    def test_trace_log_written(self):
        self.assertTrue(os.path.exists(self.trace_log))
        with open(self.trace_log) as f:
            text = f.read()
        self.assertIn("C: HELO pc23.ejemplo.com", text)
        # the supervisor's own lines too
        self.assertRegex(text, r"buzon\[\d+\]: - ready pid=")

    def test_smtp_transcript(self):
        t = self.transcript("--service", "smtp")
        texts = [(d, x) for _, _, d, x in t]
        for want in (("C", "HELO pc23.ejemplo.com"),
                     ("C", "MAIL FROM: <usuario@ejemplo.com>"),
                     ("C", "RCPT TO: <%s>" % USER),
                     ("C", "DATA"), ("C", "."),
                     ("S", "250 2.0.0 Ok: queued as " + self.queue_id),
                     ("S", "221 2.0.0 Bye")):
            self.assertIn(want, texts)
        self.assertTrue(all(s == "smtp" for _, s, _, _ in t))

    def test_secrets_masked_byte_for_byte(self):
        out = self.trace()
        plain = base64.b64encode(("\0%s\0%s" % (USER, PASSWORD))
                                 .encode()).decode()
        for secret in (PASSWORD, plain,
                       base64.b64encode(USER.encode()).decode(),
                       base64.b64encode(PASSWORD.encode()).decode(),
                       "wrong-"):
            self.assertNotIn(secret, out)
        lines = [(d, x) for _, _, d, x in self.transcript()]
        self.assertIn(("C", "PASS ****"), lines)
        self.assertEqual(lines.count(("C", "PASS ****")), 2)
        self.assertIn(("C", "AUTH PLAIN ****"), lines)
        i = lines.index(("C", "AUTH LOGIN"))
        self.assertEqual(lines[i:i + 6], [
            ("C", "AUTH LOGIN"), ("S", "334 VXNlcm5hbWU6"),
            ("C", "****"), ("S", "334 UGFzc3dvcmQ6"), ("C", "****"),
            ("S", "235 2.7.0 Authentication successful")])

    def test_old_unmasked_log_masked_on_read(self):
        """A log written with the secrets in clear (an older version, or
        by hand) is shown masked all the same."""
        old = os.path.join(self.inst.tmp, "old.log")
        t0 = "2026-01-01T00:00:00.000Z "
        with open(old, "w") as f:
            f.write(t0 + "buzon-pop3d[9]: aa C: PASS hunter2\n" +
                    t0 + "buzon-smtpd[9]: bb C: AUTH LOGIN\n" +
                    t0 + "buzon-smtpd[9]: bb S: 334 VXNlcm5hbWU6\n" +
                    t0 + "buzon-smtpd[9]: bb C: YWxpY2U=\n" +
                    t0 + "buzon-smtpd[9]: bb S: 334 UGFzc3dvcmQ6\n" +
                    t0 + "buzon-smtpd[9]: bb C: aHVudGVyMg==\n" +
                    t0 + "buzon-smtpd[9]: cc C: AUTH PLAIN AGEAaHVudGVyMg==\n" +
                    t0 + "buzon-pop3d[9]: dd C: APOP alice 0123456789abcdef\n")
        conf = os.path.join(self.inst.tmp, "old.conf")
        with open(self.inst.conf) as f:
            text = f.read()
        with open(conf, "w") as f:
            f.write(buzontest.set_conf_lines(text, {"trace_log": old}))
        r = buzontest.buzon("-c", conf, "trace")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "".join(t0 + l + "\n" for l in (
            "aa pop3 C: PASS ****", "bb smtp C: AUTH LOGIN",
            "bb smtp S: 334 VXNlcm5hbWU6", "bb smtp C: ****",
            "bb smtp S: 334 UGFzc3dvcmQ6", "bb smtp C: ****",
            "cc smtp C: AUTH PLAIN ****", "dd pop3 C: APOP alice ****")))

    def test_user_filter(self):
        t = self.transcript("--user", "alice")
        sessions = {s for s, _, _, _ in t}
        # intake on port 25 has no user; 2 submission + 1 POP3 session
        self.assertEqual(len(sessions), 3, t)
        self.assertIn(("C", "RETR 1"), [(d, x) for _, _, d, x in t])
        self.assertNotIn(("C", "USER bob"), [(d, x) for _, _, d, x in t])
        self.assertEqual(self.transcript("--user", "nobody"), [])

    def test_service_filter(self):
        t = self.transcript("--service", "pop3")
        self.assertTrue(t)
        self.assertTrue(all(s == "pop3" for _, s, _, _ in t))
        r = self.inst.cli("trace", "--service", "nntp")
        self.assertEqual(r.returncode, 2)

    def test_message(self):
        out = self.trace("--message", self.queue_id).splitlines()
        self.assertTrue(out)
        for line in out:
            self.assertRegex(line, r"^\d{4}-\d\d-\d\dT[\d:.]+Z buzon-")
            if "buzon-pop3d" not in line:
                self.assertIn(self.queue_id, line)
        text = "\n".join(out)
        self.assertIn("buzon-smtpd %s from=<usuario@ejemplo.com>" %
                      self.queue_id, text)
        self.assertIn("S: 250 2.0.0 Ok: queued as " + self.queue_id, text)
        self.assertRegex(text, r"buzon-queued %s to=<%s>, relay=local.*"
                         r"status=sent" % (self.queue_id, USER))
        # then the recipient's POP3 session that read it
        self.assertRegex(text, r"buzon-pop3d \S+ login user=%s " % USER)
        self.assertRegex(text, r"buzon-pop3d \S+ C: RETR 1\n")
        self.assertNotIn("PASS", text)

    def test_usage(self):
        self.assertEqual(self.inst.cli("trace", "--bogus").returncode, 2)
        self.assertEqual(self.inst.cli("trace", "--message", "X",
                                       "--user", "a").returncode, 2)
        r = self.inst.cli("trace", "--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("--follow", r.stdout)

    def test_zz_follow_across_rotation(self):
        # last (zz): the others read the file before it is rotated
        p = subprocess.Popen(self.inst.argv(["trace", "--follow",
                                             "--service", "pop3"]),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, env=self.inst.env())
        try:
            time.sleep(0.5)
            self.pop3_noop("NOOP")
            rotated = self.trace_log + ".1"
            buzontest.wait_for(lambda: "C: NOOP" in open(
                self.trace_log).read(), 5, what="NOOP logged")
            os.rename(self.trace_log, rotated)
            r = self.inst.cli("reload")
            self.assertEqual(r.returncode, 0, r.stderr)
            buzontest.wait_for(lambda: os.path.exists(self.trace_log), 5,
                               what="trace_log opened again")
            time.sleep(0.5)
            self.pop3_noop("STAT")
            buzontest.wait_for(lambda: "C: STAT" in open(
                self.trace_log).read(), 5, what="STAT in the new file")
            time.sleep(1)
        finally:
            p.terminate()
            out, _ = p.communicate(timeout=5)
        out = out.decode()
        self.assertIn(" pop3 C: NOOP\n", out)
        self.assertIn(" pop3 C: STAT\n", out)
        # started at the end: the sessions of setUpClass are not there
        self.assertNotIn("RETR 1", out)

    def pop3_noop(self, verb):
        c = self.inst.connect("pop3")
        c.expect("+OK")
        c.command(verb, "-ERR")
        c.command("QUIT", "+OK")
        c.close()
