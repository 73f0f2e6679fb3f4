# SPDX-License-Identifier: MIT
"""The lab guides' sessions, run against a demo instance: every file in
docs/lab/transcripts/ is sent line by line (C:) and every reply checked
(S:), in the order a class does them, so the guides cannot rot.  Then a
class of 30 behind one address runs the POP3 exercise at once, 5 of them
with a wrong password first: no student with the right password waits
because of the others.

Transcript files (docs/lab/transcripts/README.md has the full rules):

    # comment                  ignored
    ! connect smtp|submission|pop3|imap
    ! tls                      TLS handshake now (after STARTTLS / STLS)
    ! close                    drop the connection
    C: text                    sent, CRLF added
    S: text                    one line expected

Placeholders in C: lines: {USER} {PASSWORD} {USER64} {PASSWORD64}
{PLAIN64} (base64 of NUL user NUL password), {APOP} (the digest of the
greeting's timestamp and the APOP secret), {BOB} (the second student).
In S: lines: {ID} a queue or session id, {DATE} a date, {N} a number,
{HOST} the host name, {*} any text, and a line that is only {...} skips
lines until the next S: line matches.
"""

import base64
import glob
import hashlib
import os
import re
import threading
import time
import unittest

import buzontest
from buzontest import Instance, LineClient

HERE = os.path.dirname(os.path.abspath(__file__))
TRANSCRIPTS = os.path.join(buzontest.TOP_SRCDIR, "docs", "lab",
                           "transcripts")
DOMAIN = "example.test"
STUDENTS = {"alice": "Abril-2026", "bob": "Mayo-2026"}
APOP_SECRET = "secreto"

PLACE = {
    "{ID}": r"[0-9A-Za-z]+",
    "{DATE}": r"[A-Za-z0-9 ,:+\-()]+",
    "{N}": r"\d+",
    "{HOST}": r"[A-Za-z0-9.\-]+",
    "{*}": r".*",
}
PLACE_RX = re.compile("|".join(re.escape(k) for k in PLACE))


def pattern(text):
    """The regex of an S: line: literal text, placeholders as PLACE."""
    out, pos = [], 0
    for m in PLACE_RX.finditer(text):
        out.append(re.escape(text[pos:m.start()]))
        out.append(PLACE[m.group(0)])
        pos = m.end()
    out.append(re.escape(text[pos:]))
    return re.compile("^" + "".join(out) + "$")


def parse(path):
    """[(lineno, kind, text)]: kind is "!", "C" or "S"."""
    steps = []
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if line == "" or line.startswith("#"):
                continue
            if line.startswith("! "):
                steps.append((n, "!", line[2:].strip()))
            elif line[:3] in ("C: ", "S: ") or line in ("C:", "S:"):
                steps.append((n, line[0], line[3:]))
            else:
                raise AssertionError("%s:%d: not a transcript line: %r" % (
                    path, n, line))
    return steps


class Session:
    """Runs one transcript's steps for one student."""

    def __init__(self, inst, user, password, bob="bob"):
        self.inst, self.user, self.password, self.bob = (
            inst, user, password, bob)
        self.c = None
        self.greeting = ""

    def fill(self, text):
        plain = "\0%s\0%s" % (self.user, self.password)
        b64 = lambda s: base64.b64encode(s.encode()).decode()
        stamp = re.search(r"<[^>]+>", self.greeting)
        apop = hashlib.md5(((stamp.group(0) if stamp else "") +
                            APOP_SECRET).encode()).hexdigest()
        for k, v in (("{USER64}", b64(self.user)),
                     ("{PASSWORD64}", b64(self.password)),
                     ("{PLAIN64}", b64(plain)), ("{APOP}", apop),
                     ("{USER}", self.user), ("{PASSWORD}", self.password),
                     ("{BOB}", self.bob)):
            text = text.replace(k, v)
        return text

    def run(self, path, steps):
        where = os.path.basename(path)
        try:
            self.steps(path, steps)
        except OSError as e:
            raise AssertionError("%s: %s\n%s" % (where, e, "\n".join(
                self.c.transcript[-15:] if self.c else [])))
        finally:
            if self.c is not None:
                self.c.close()

    def steps(self, path, steps):
        if True:
            for i, (n, kind, text) in enumerate(steps):
                where = "%s:%d" % (os.path.basename(path), n)
                if kind == "!":
                    self.directive(where, text)
                elif kind == "C":
                    self.c.send(self.fill(text))
                elif text == "{...}":
                    nxt = next((t for _, k, t in steps[i + 1:] if k == "S"),
                               None)
                    if nxt is None:
                        raise AssertionError("%s: {...} last" % where)
                    rx = pattern(self.fill(nxt))
                    while True:
                        line = self.c.readline()
                        if self.c.transcript[-1].startswith("S(eof)"):
                            raise AssertionError("%s: EOF in {...}" % where)
                        if rx.match(line):
                            self.c.buf = line.encode("latin-1") + \
                                b"\r\n" + self.c.buf
                            self.c.transcript.pop()
                            break
                else:
                    line = self.c.readline()
                    if not pattern(self.fill(text)).match(line):
                        raise AssertionError(
                            "%s: expected %r, got %r\n%s" % (
                                where, text, line,
                                "\n".join(self.c.transcript[-15:])))
                    if self.greeting == "":
                        self.greeting = line

    def directive(self, where, text):
        words = text.split()
        if words[0] == "connect":
            if self.c is not None:
                self.c.close()
            self.c = self.inst.connect(words[1], timeout=10)
            self.greeting = ""
        elif words[0] == "tls":
            self.c.starttls()
        elif words[0] == "close":
            self.c.close()
            self.c = None
        elif words[0] == "wait":
            # a delivery runs behind the 250: wait until the queue has
            # finished every message smtpd took
            def delivered():
                log = self.inst.log_text()
                return log.count("Ok: queued as ") <= len(re.findall(
                    r"buzon-queued\[\d+\]: \S+ removed$", log, re.M))
            buzontest.wait_for(delivered, 15, what="%s: deliveries" % where)
        else:
            raise AssertionError("%s: unknown directive %r" % (where, text))


need_daemons = buzontest.require_daemons(
    "buzon-smtpd", "buzon-pop3d", "buzon-queued", "buzon-auth")


def transcripts():
    return sorted(glob.glob(os.path.join(TRANSCRIPTS, "*.txt")))


@need_daemons
class LabTranscripts(buzontest.InstanceCase):
    """All transcripts, in order, on one demo instance (as a class does:
    the POP3 exercises read the mail the SMTP ones sent)."""

    @classmethod
    def setUpClass(cls):
        listeners = [l for l in ("smtp", "submission", "pop3", "pop3s")
                     if l in buzontest.built_listeners()]
        cls.inst = Instance(demo=True, listeners=listeners)
        for user, pw in STUDENTS.items():
            cls.cli_ok("user", "passwd", "%s@%s" % (user, DOMAIN),
                       "--password-stdin", input=pw + "\n")
        cls.cli_ok("user", "apop", "enable", "alice@" + DOMAIN,
                   "--password-stdin", input=APOP_SECRET + "\n")
        cls.inst.start()

    @classmethod
    def cli_ok(cls, *args, input=None):
        r = cls.inst.cli(*args, input=input)
        if r.returncode != 0:
            raise AssertionError("%s: %s%s" % (args, r.stdout, r.stderr))

    def test_there_are_transcripts(self):
        self.assertGreaterEqual(len(transcripts()), 6)

    def test_transcripts_in_order(self):
        for path in transcripts():
            with self.subTest(transcript=os.path.basename(path)):
                Session(self.inst, "alice", STUDENTS["alice"]).run(
                    path, parse(path))


@need_daemons
class Classroom(buzontest.InstanceCase):
    """30 students behind one address run the POP3 exercise at once; 5 of
    them type a wrong password first.  The default throttle is kept.  The
    same class runs first with no mistakes, as the baseline of what 30
    logins at once cost on this machine."""

    STUDENTS = 30
    WRONG = 5

    @classmethod
    def setUpClass(cls):
        cls.inst = Instance(demo=True, listeners=["smtp", "pop3"])
        for i in range(cls.STUDENTS):
            r = cls.inst.cli("user", "add", "est%02d@%s" % (i, DOMAIN),
                             "--password-stdin", input="clave-%02d\n" % i)
            if r.returncode != 0:
                raise AssertionError(r.stdout + r.stderr)
        cls.inst.start()
        c = cls.inst.connect("smtp")
        c.expect("220 ")
        c.command("HELO pc23.ejemplo.com", "250 ")
        for i in range(cls.STUDENTS):
            c.command("MAIL FROM: <profesor@ejemplo.com>", "250 ")
            c.command("RCPT TO: <est%02d@%s>" % (i, DOMAIN), "250 ")
            c.command("DATA", "354 ")
            c.send("Subject: practica %d" % i)
            c.send("")
            c.send("Hola.")
            c.command(".", "250 ")
        c.command("QUIT", "221 ")
        c.close()
        buzontest.wait_for(
            lambda: cls.inst.log_text().count("status=sent") >=
            cls.STUDENTS, 30, what="every student's message delivered")

    def wrong_login(self, user, password):
        c = self.inst.connect("pop3", timeout=30)
        try:
            c.expect("+OK")
            c.command("USER " + user, "+OK")
            c.command("PASS " + password, "-ERR")
            c.command("QUIT", "+OK")
        finally:
            c.close()

    def run_class(self, wrong):
        """Seconds each student with the right password took for the
        POP3 transcript, started by all at once (after the wrong
        passwords of the first `wrong` students)."""
        path = os.path.join(TRANSCRIPTS, "04-pop3-user-pass.txt")
        steps = parse(path)
        results, errors = {}, []
        start = threading.Barrier(self.STUDENTS)

        def student(i):
            user = "est%02d" % i
            try:
                start.wait(30)
                if i < wrong:
                    # a typo, then the exercise like everyone (these
                    # wait for their own failure: not measured)
                    self.wrong_login(user, "mal-%02d" % i)
                t0 = time.monotonic()
                Session(self.inst, user, "clave-%02d" % i).run(path, steps)
                if i >= wrong:
                    results[user] = time.monotonic() - t0
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append("%s: %s" % (user, e))

        threads = [threading.Thread(target=student, args=(i,))
                   for i in range(self.STUDENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        self.assertEqual(len(results), self.STUDENTS - wrong)
        return results

    def test_class_behind_one_address(self):
        base = self.run_class(0)
        trial = self.run_class(self.WRONG)
        worst_base = max(base.values())
        worst = max(trial.values())
        sys_err = "baseline worst %.2fs, with %d wrong passwords %.2fs" % (
            worst_base, self.WRONG, worst)
        print("classroom: " + sys_err)
        # nobody waits for the others' failures: at most ~1 s over what
        # 30 logins at once cost anyway
        self.assertLess(worst, worst_base + 1.0, sys_err)


@need_daemons
class ClassroomOverALesson(buzontest.InstanceCase):
    """Typos spread over a lesson, with the class logging in all the time
    in between.  The address record counts every failure and is kept
    alive by every attempt (its penalty_time runs from the last attempt of
    anyone at that address, successes included), so the failures of a
    lesson add up; past auth_address_max_failures every login from the
    address waits, correct passwords included, and each counted attempt
    pushes the address's schedule further.  Scaled down here to a limit
    of 5 (the default is 100).  Known: buzon-auth delays innocent
    students once that happens; this test fails until it does not."""

    LIMIT = 5

    @classmethod
    def setUpClass(cls):
        # the lesson in fast motion: LIMIT failures per 3 s is a spray,
        # typos about a second apart are a class
        cls.inst = Instance(demo=True, listeners=["pop3"], overrides={
            "auth_address_max_failures": str(cls.LIMIT),
            "auth_penalty_time": "3s"})
        for i in range(cls.LIMIT + 3):
            r = cls.inst.cli("user", "add", "est%02d@%s" % (i, DOMAIN),
                             "--password-stdin", input="clave-%02d\n" % i)
            if r.returncode != 0:
                raise AssertionError(r.stdout + r.stderr)
        cls.inst.start()

    def login(self, user, password):
        c = self.inst.connect("pop3", timeout=60)
        try:
            c.expect("+OK")
            c.command("USER " + user, "+OK")
            t0 = time.monotonic()
            c.send("PASS " + password)
            line = c.readline()
            took = time.monotonic() - t0
            c.command("QUIT", "+OK")
            return took, line
        finally:
            c.close()

    def test_typos_over_a_lesson(self):
        busy = "est%02d" % (self.LIMIT + 2)
        for i in range(self.LIMIT + 1):
            self.login("est%02d" % i, "mal")
            time.sleep(0.5)
            took, line = self.login(busy, "clave-%02d" % (self.LIMIT + 2))
            print("classroom over a lesson: after %d typos %s (right "
                  "password) waited %.2fs" % (i + 1, busy, took))
            self.assertTrue(line.startswith("+OK"), line)
            time.sleep(0.5)
        innocent = "est%02d" % (self.LIMIT + 1)
        took, line = self.login(innocent, "clave-%02d" % (self.LIMIT + 1))
        print("classroom over a lesson: %s (never failed) waited %.2fs: %s"
              % (innocent, took, line))
        self.assertTrue(line.startswith("+OK"), line)
        self.assertLess(took, 1.0, "%s (never failed) waited %.2fs" % (
            innocent, took))
