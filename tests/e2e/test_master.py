# SPDX-License-Identifier: MIT
"""End-to-end tests of `buzon`, the command and supervisor (master/).

The supervisor tests run the fixture daemon (tests/e2e/fixture) in place of
the real daemons: it greets every connection with
"+OK fixture LISTENER pid PID".  A test whose verb or program is missing
fails: a build that lost one must not pass.
"""

import os
import re
import select
import signal
import subprocess
import tempfile
import time
import shutil
import socket
import unittest

import buzontest
from buzontest import (Instance, LineClient, buzon, has_verb, pid_alive,
                       tail, wait_for)

GREETING = re.compile(r"^\+OK fixture (\S+) pid (\d+)")


need_verbs = buzontest.require_verbs


need_fixture = buzontest.require(buzontest.have_fixture(),
                                 "fixture daemon not built")


def greet(port):
    """Connect, read the fixture's greeting: (listener name, pid)."""
    with LineClient(port) as c:
        m = c.expect(GREETING)
    m = GREETING.match(m)
    return m.group(1), int(m.group(2))


class Command(unittest.TestCase):
    """The command line: help, usage errors."""

    def setUp(self):
        buzontest.need(self, buzontest.have_buzon(), "buzon not built")

    def test_help(self):
        r = buzon("--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("usage: buzon", r.stdout)
        self.assertIn("config check", r.stdout)

    def listed_verbs(self):
        """The verbs `buzon --help` lists (first word of each line of the
        verb table)."""
        text = buzon("--help").stdout
        table = text.split("Verbs:", 1)[1]
        verbs = re.findall(r"(?m)^  ([a-z][a-z0-9-]*)\b", table.split(
            "\n\n", 2)[1])
        return verbs

    def test_verb_help(self):
        verbs = self.listed_verbs()
        for verb in ("config", "init", "run", "start", "stop", "status",
                     "reload", "demo"):
            if has_verb(verb):
                self.assertIn(verb, verbs)
        for verb in verbs:
            with self.subTest(verb=verb):
                r = buzon(verb, "--help")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("usage:", r.stdout)
                self.assertIn(verb, r.stdout)
                self.assertGreater(len(r.stdout.splitlines()), 2)

    def test_unknown_verb(self):
        r = buzon("frobnicate")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn("frobnicate", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_no_verb(self):
        r = buzon()
        self.assertEqual(r.returncode, 2)
        self.assertIn("usage", r.stderr)

    def test_unknown_option(self):
        r = buzon("--frobnicate", "config", "check")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--frobnicate", r.stderr)

    def test_version(self):
        r = buzon("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^buzon \d+\.\d+")


class ConfigCheck(unittest.TestCase):
    """`buzon config check`: exit 0, or exit 1 naming every bad line."""

    def setUp(self):
        buzontest.need(self, buzontest.have_buzon(), "buzon not built")
        self.tmp = tempfile.mkdtemp(prefix="buzon-e2e-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def write(self, text, name="buzon.conf"):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def check(self, path, via_env=False):
        if via_env:
            return buzon("config", "check", env={"BUZON_CONF": path})
        return buzon("-c", path, "config", "check")

    def test_empty_file_is_valid(self):
        path = self.write("")
        r = self.check(path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")

    def test_good_file(self):
        path = self.write(
            "# a comment\n"
            "\n"
            "log_level = debug\n"
            "trace = yes   # inline comment\n"
            "shutdown_grace = 5s\n"
            "smtp_listen = 127.0.0.1:2525, [::1]:2525\n"
            "imap_listen =\n")
        r = self.check(path)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_conf_from_environment(self):
        path = self.write("bogus_key = 1\n")
        r = self.check(path, via_env=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("%s:1:" % path, r.stderr)

    def test_every_bad_line_named(self):
        path = self.write(
            "log_level = debug\n"           # 1 good
            "bogus_key = 1\n"               # 2 unknown key
            "# comment\n"                   # 3
            "trace = perhaps\n"             # 4 bad bool
            "\n"                            # 5
            "shutdown_grace = soon\n"       # 6 bad time
            "this line has no equals\n"     # 7 syntax
            "log_level = info\n"            # 8 duplicate
            "smtp_listen = 127.0.0.1:99999\n")  # 9 bad port
        r = self.check(path)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        for line in (2, 4, 6, 7, 8, 9):
            self.assertIn("%s:%d:" % (path, line), r.stderr)
        for line in (1, 3, 5):
            self.assertNotIn("%s:%d:" % (path, line), r.stderr)
        self.assertIn("bogus_key", r.stderr)

    def test_login_settings(self):
        """The login keys of the throttle and the realm are checked."""
        path = self.write(
            "login_trusted_networks = 192.0.2.0/24 [2001:db8::]/32\n"
            "auth_default_realm = example.test\n"
            "pop3_lock_session = yes\n"
            "auth_penalty_time = 30s\n"
            "auth_address_max_failures = 100\n")
        r = self.check(path)
        self.assertEqual(r.returncode, 0, r.stderr)
        path = self.write(
            "login_trusted_networks = 192.0.2.0/24 example.org\n"
            "mynetworks = 10.0.0.0/40\n"
            "auth_max_failures = 10\n"
            "auth_default_realm = -bad-\n")
        r = self.check(path)
        self.assertEqual(r.returncode, 1)
        self.assertIn("%s:1: login_trusted_networks: 'example.org' is not "
                      "an address or address/prefix" % path, r.stderr)
        self.assertIn("%s:2: mynetworks: '10.0.0.0/40'" % path, r.stderr)
        self.assertIn("%s:3: unknown key 'auth_max_failures'" % path,
                      r.stderr)
        self.assertIn("auth_default_realm: '-bad-' is not a domain",
                      r.stderr)

    def test_missing_file(self):
        path = os.path.join(self.tmp, "nonexistent.conf")
        r = self.check(path)
        self.assertEqual(r.returncode, 1)
        self.assertIn(path, r.stderr)

    def test_usage(self):
        r = buzon("-c", self.write(""), "config", "frob")
        self.assertEqual(r.returncode, 2)


@need_verbs("init")
class Init(unittest.TestCase):
    """`buzon init DIR` builds an instance directory."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="buzon-e2e-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_creates_tree(self):
        d = os.path.join(self.tmp, "inst")
        r = buzon("init", d)
        self.assertEqual(r.returncode, 0, r.stderr)
        conf = os.path.join(d, "buzon.conf")
        self.assertTrue(os.path.isfile(conf))
        for sub in ("tls", "spool", "mail", "maps", "run", "log"):
            self.assertTrue(os.path.isdir(os.path.join(d, sub)), sub)
        with open(conf) as f:
            text = f.read()
        # every default written out, commented
        self.assertRegex(text, r"(?m)^#\s*smtp_listen\s*=")
        self.assertRegex(text, r"(?m)^#\s*log_level\s*=")
        r = buzon("-c", conf, "config", "check")
        self.assertEqual(r.returncode, 0, r.stderr)
        certs = []
        for root, _, files in os.walk(os.path.join(d, "tls")):
            for n in files:
                with open(os.path.join(root, n), "rb") as f:
                    data = f.read()
                if b"BEGIN CERTIFICATE" in data:
                    certs.append(os.path.join(root, n))
                if b"PRIVATE KEY" in data:
                    mode = os.stat(os.path.join(root, n)).st_mode
                    self.assertEqual(mode & 0o077, 0, "key readable by others")
        self.assertTrue(certs, "no certificate under tls/")
        buzontest.need(self, shutil.which("openssl"),
                       "openssl not installed (Debian package openssl)")
        o = subprocess.run(["openssl", "x509", "-noout", "-subject",
                            "-in", certs[0]], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE,
                           universal_newlines=True)
        self.assertEqual(o.returncode, 0, o.stderr)

    def test_refuses_existing_dir(self):
        d = os.path.join(self.tmp, "inst")
        os.mkdir(d)
        keep = os.path.join(d, "buzon.conf")
        with open(keep, "w") as f:
            f.write("mine\n")
        r = buzon("init", d)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(d, r.stderr)
        with open(keep) as f:
            self.assertEqual(f.read(), "mine\n")

    def test_demo(self):
        d = os.path.join(self.tmp, "inst")
        r = buzon("init", "--demo", d)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = buzon("-c", os.path.join(d, "buzon.conf"), "config", "check")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_usage(self):
        r = buzon("init")
        self.assertEqual(r.returncode, 2)


@need_verbs("init", "run")
@need_fixture
class Supervisor(unittest.TestCase):
    """`buzon run` with the fixture daemon behind every listener."""

    def setUp(self):
        self.b = Instance(fixture=True)
        self.addCleanup(self.b.cleanup)
        self.b.start()

    def assert_serving(self):
        pids = {}
        for name in buzontest.LISTENERS:
            got, pid = greet(self.b.port(name))
            self.assertEqual(got, name)
            pids[name] = pid
        return pids

    def test_every_listener_answers(self):
        pids = self.assert_serving()
        # one daemon per program, serving all its listeners
        self.assertEqual(pids["smtp"], pids["submission"])
        self.assertEqual(pids["pop3"], pids["pop3s"])
        self.assertEqual(pids["imap"], pids["imaps"])
        self.assertEqual(len(set(pids.values())), 3)
        self.assertNotIn(self.b.pid, pids.values())

    def test_pid_file(self):
        wait_for(lambda: os.path.exists(self.b.pid_file), 5,
                 what="pid file")
        with open(self.b.pid_file) as f:
            self.assertEqual(int(f.read().split()[0]), self.b.pid)

    def test_killed_daemon_restarts(self):
        _, old = greet(self.b.port("smtp"))
        start = self.b.log_size()
        os.kill(old, signal.SIGKILL)
        wait_for(lambda: not pid_alive(old), 5, what="old daemon gone")

        def new_pid():
            try:
                _, pid = greet(self.b.port("smtp"))
            except (OSError, AssertionError):
                return None
            return pid if pid != old else None
        new = wait_for(new_pid, 10, what="a new smtp daemon")
        self.assertNotEqual(new, old)
        self.b.wait_log(r"(?i)restart", start=start)
        self.assertIn(str(old), self.b.log_text()[start:])
        # the others were left alone
        self.assert_serving()

    def test_reload(self):
        before = self.assert_serving()
        start = self.b.log_size()
        self.b.signal(signal.SIGHUP)
        self.b.wait_log(r"(?i)reload", start=start)
        self.assertTrue(self.b.running())
        after = self.assert_serving()
        self.assertEqual(set(before), set(after))

    def test_bad_config_on_reload_keeps_serving(self):
        self.assert_serving()
        with open(self.b.conf, "a") as f:
            f.write("bogus_key = 1\n")
        nlines = len(self.b.read_conf().splitlines())
        start = self.b.log_size()
        self.b.signal(signal.SIGHUP)
        self.b.wait_log(r"buzon\.conf:%d:" % nlines, start=start)
        time.sleep(0.2)
        self.assertTrue(self.b.running(), tail(self.b.log_text()))
        self.assert_serving()

    def test_sigterm_stops_cleanly(self):
        pids = self.assert_serving()
        wait_for(lambda: os.path.exists(self.b.pid_file), 5,
                 what="pid file")
        rc = self.b.stop()
        self.assertEqual(rc, 0, tail(self.b.log_text()))
        self.assertFalse(os.path.exists(self.b.pid_file))
        for pid in set(pids.values()):
            wait_for(lambda: not pid_alive(pid), 5,
                     what="daemon %d gone" % pid)
        for name in buzontest.LISTENERS:
            self.assertFalse(buzontest.can_connect(self.b.port(name)))


def proc_uid(pid):
    """Real uid of a process, from /proc."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    raise AssertionError("no Uid in /proc/%d/status" % pid)


@need_verbs("init", "run")
@need_fixture
class SupervisorMore(unittest.TestCase):
    """`buzon run`: privileges, backoff, grace time, start-up errors."""

    def test_never_root(self):
        if not buzontest.is_root():
            self.skipTest("needs root")
        if buzontest.system_user() is None:
            self.skipTest("no buzon user")
        uid = buzontest.system_user()[0]
        with Instance(fixture=True, listeners=["smtp", "pop3"]) as b:
            b.start()
            for name in ("smtp", "pop3"):
                _, pid = greet(b.port(name))
                self.assertEqual(proc_uid(pid), uid, name)
            self.assertEqual(proc_uid(b.pid), uid, "supervisor")

    def test_restart_backoff(self):
        with Instance(fixture=True, listeners=["imap"],
                      overrides={"restart_delay_max": "2s"}) as b:
            b.start()
            times = []
            _, pid = greet(b.port("imap"))
            for _ in range(2):
                os.kill(pid, signal.SIGKILL)
                t0 = time.monotonic()
                old = pid

                def new_pid():
                    try:
                        _, p = greet(b.port("imap"))
                    except (OSError, AssertionError):
                        return None
                    return p if p != old else None
                pid = wait_for(new_pid, 10, what="restarted imap daemon")
                times.append(time.monotonic() - t0)
            # 1 s, then doubled
            self.assertGreater(times[1], 1.5, times)
            self.assertLess(times[1], 6, times)
            self.assertEqual(
                len(re.findall(r"(?m)daemon=buzon-imapd .*restart",
                               b.log_text())), 2, tail(b.log_text()))

    def test_grace_time_bounds_stop(self):
        with Instance(fixture=True, listeners=["pop3"],
                      overrides={"shutdown_grace": "1s"}) as b:
            b.start()
            with LineClient(b.port("pop3")) as c:
                c.expect(GREETING)
                t0 = time.monotonic()
                rc = b.stop()
                took = time.monotonic() - t0
            self.assertEqual(rc, 0, tail(b.log_text()))
            self.assertLess(took, 8, tail(b.log_text()))

    def test_grace_expiry_kills_stubborn_daemon(self):
        """A daemon that ignores SIGTERM is killed after shutdown_grace."""
        d = tempfile.mkdtemp(prefix="buzon-e2e-")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o755)
        prog = os.path.join(d, "buzon-smtpd")
        with open(prog, "w") as f:
            f.write("#!/bin/sh\ntrap '' TERM\n: > \"$0.ready\"\n"
                    "while :; do sleep 0.1; done\n")
        os.chmod(prog, 0o755)
        buzontest.chown_tree(d)
        with Instance(listeners=["smtp"],
                      overrides={"shutdown_grace": "1s",
                                 "daemon_directory": d}) as b:
            b.start()
            wait_for(lambda: os.path.exists(prog + ".ready"), 10,
                     what="daemon ignoring SIGTERM")
            t0 = time.monotonic()
            rc = b.stop()
            took = time.monotonic() - t0
            self.assertEqual(rc, 0, tail(b.log_text()))
            self.assertGreater(took, 0.8)
            self.assertLess(took, 5)
            self.assertRegex(b.log_text(), r"(?i)grace expired")

    def test_bad_config_refuses_to_start(self):
        with Instance(fixture=True, listeners=["smtp"]) as b:
            with open(b.conf, "a") as f:
                f.write("bogus_key = 1\n")
            n = len(b.read_conf().splitlines())
            b.start(wait=False)
            rc = b.proc.wait(15)
            self.assertEqual(rc, 1, tail(b.log_text()))
            self.assertIn("buzon.conf:%d:" % n, b.log_text())
            self.assertFalse(buzontest.can_connect(b.port("smtp")))

    def test_port_in_use(self):
        with Instance(fixture=True, listeners=["smtp"]) as b:
            busy = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.addCleanup(busy.close)
            busy.bind(("127.0.0.1", b.port("smtp")))
            busy.listen(1)
            b.start(wait=False)
            rc = b.proc.wait(15)
            self.assertNotEqual(rc, 0)
            self.assertIn("127.0.0.1:%d" % b.port("smtp"), b.log_text())

    def test_two_instances_side_by_side(self):
        with Instance(fixture=True, listeners=["smtp"]) as a, \
                Instance(fixture=True, listeners=["smtp"]) as b:
            a.start()
            b.start()
            _, pa = greet(a.port("smtp"))
            _, pb = greet(b.port("smtp"))
            self.assertNotEqual(pa, pb)
            self.assertEqual(b.stop(), 0)
            self.assertEqual(greet(a.port("smtp"))[1], pa)

    def test_status_and_reload_verbs(self):
        buzontest.need(self, has_verb("status") and has_verb("reload"),
                       "no status or reload verb")
        with Instance(fixture=True, listeners=["smtp", "imap"]) as b:
            b.start()
            _, spid = greet(b.port("smtp"))
            r = b.cli("status")
            self.assertEqual(r.returncode, 0, r.stderr)
            out = r.stdout
            self.assertIn(str(b.pid), out)
            self.assertIn("buzon-smtpd", out)
            self.assertIn(str(spid), out)
            start = b.log_size()
            r = b.cli("reload")
            self.assertEqual(r.returncode, 0, r.stderr)
            b.wait_log(r"(?i)reload", start=start)
            self.assertEqual(greet(b.port("smtp"))[1], spid)


@need_verbs("init", "run")
class RealDaemons(unittest.TestCase):
    """`buzon run` with the daemons that are built: each listener greets
    in its protocol (TLS listeners after the handshake)."""

    def test_every_listener_greets(self):
        buzontest.need(self, not buzontest.missing_programs(),
                       "not built: %s" % " ".join(
                           buzontest.missing_programs()))
        names = buzontest.built_listeners()
        buzontest.need(self, names, "no daemon built")
        with Instance() as b:
            b.start()
            for name in names:
                with self.subTest(listener=name):
                    with b.connect(name) as c:
                        c.expect(re.compile(buzontest.GREETINGS[name]))
            self.assertEqual(b.stop(), 0, tail(b.log_text()))


@need_verbs("init", "start", "status", "stop")
@need_fixture
class StartStop(unittest.TestCase):
    """`buzon start|status|stop` around a background supervisor."""

    def setUp(self):
        self.b = Instance(fixture=True, listeners=["smtp", "imap"])
        self.addCleanup(self.b.cleanup)

    def test_start_status_stop(self):
        b = self.b
        r = b.cli("status")
        self.assertEqual(r.returncode, 3, "status before start")
        r = b.cli("start")
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_for(lambda: os.path.exists(b.pid_file), 10, what="pid file")
        b.wait_ready()
        self.assertEqual(greet(b.port("smtp"))[0], "smtp")
        with open(b.pid_file) as f:
            pid = int(f.read().split()[0])
        r = b.cli("status")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(str(pid), r.stdout + r.stderr)
        r = b.cli("start")
        self.assertNotEqual(r.returncode, 0, "second start succeeded")
        r = b.cli("stop")
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_for(lambda: not pid_alive(pid), 10, what="supervisor gone")
        self.assertFalse(os.path.exists(b.pid_file))
        self.assertFalse(buzontest.can_connect(b.port("smtp")))
        r = b.cli("status")
        self.assertEqual(r.returncode, 3, "status after stop")

    def test_stop_when_not_running(self):
        r = self.b.cli("stop")
        self.assertNotEqual(r.returncode, 0)
        self.assertTrue(r.stderr.strip())


class ConfAfterVerb(unittest.TestCase):
    """`buzon VERB ... -c FILE` works as `buzon -c FILE VERB ...` for
    every verb that reads the config; a -c after the verb wins."""

    # (argv, exit status, text in stdout + stderr)
    VERBS = (
        (["config", "check"], 0, ": OK"),
        (["status"], 3, "not running"),
        (["stop"], 1, "not running"),
        (["reload"], 1, "not running"),
        (["queue", "list"], 0, "queue is empty"),
        (["domain", "add", "example.test"], 0, ""),
        (["domain", "list"], 0, "example.test"),
        (["user", "add", "ana@example.test", "--password-stdin"], 0, ""),
        (["user", "list"], 0, "ana@example.test"),
        (["alias", "add", "info@example.test", "ana@example.test"], 0, ""),
        (["alias", "list"], 0, "info@example.test"),
    )

    def setUp(self):
        self.b = Instance(fixture=True, listeners=["smtp"])
        self.addCleanup(self.b.cleanup)
        self.bad = os.path.join(self.b.tmp, "bad.conf")
        with open(self.bad, "w") as f:
            f.write("no_such_key = 1\n")

    def test_every_conf_verb(self):
        for args, code, text in self.VERBS:
            for form in ("-c FILE", "-cFILE", "after -c BAD"):
                if form == "-cFILE":
                    argv = args + ["-c" + self.b.conf]
                elif form == "after -c BAD":
                    argv = ["-c", self.bad] + args + ["-c", self.b.conf]
                else:
                    argv = args + ["-c", self.b.conf]
                with self.subTest(args=args, form=form):
                    r = buzon(*argv, input="pw-ana-1\n")
                    out = r.stdout + r.stderr
                    self.assertEqual(r.returncode, code, out)
                    self.assertNotIn("usage", out)
                    self.assertNotIn("no_such_key", out)
                    self.assertIn(text, out)
                    if code == 0 and args[1:2] == ["add"]:
                        break   # a second add of the same name fails

    def test_bad_file_after_verb_is_used(self):
        r = buzon("config", "check", "-c", self.bad)
        self.assertEqual(r.returncode, 1)
        self.assertIn("%s:1: " % self.bad, r.stderr)

    def test_start_status_stop_run(self):
        b = self.b
        r = b.cli("start", conf_after=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        b.wait_ready()
        pid = b.pid_from_file()
        r = b.cli("status", conf_after=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(str(pid), r.stdout)
        r = b.cli("reload", conf_after=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = b.cli("stop", conf_after=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_for(lambda: not pid_alive(pid), 10, what="supervisor gone")
        b.start(conf_after=True)
        self.assertEqual(greet(b.port("smtp"))[0], "smtp")
        self.assertEqual(b.stop(), 0)

    def test_c_without_file(self):
        for args in (["status", "-c"], ["config", "check", "-c"],
                     ["queue", "list", "-c"], ["user", "list", "-c", "--"]):
            with self.subTest(args=args):
                r = buzon(*args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("buzon %s: -c needs a FILE" % args[0],
                              r.stderr)

    def test_help_names_it(self):
        for verb, _, _ in self.VERBS:
            r = buzon(verb[0], "--help")
            self.assertEqual(r.returncode, 0)
            self.assertIn("-c FILE, before or after the verb", r.stdout)
        for verb in ("init", "demo", "map"):
            r = buzon(verb, "--help")
            self.assertNotIn("-c FILE, before or after", r.stdout)
        self.assertIn("may also follow the verb", buzon("--help").stdout)


@need_verbs("demo")
class Demo(unittest.TestCase):
    """`buzon demo` prints how to talk to each service, then serves."""

    CONNECT = re.compile(
        r"(telnet 127\.0\.0\.1 (\d+)|"
        r"openssl s_client .*-connect 127\.0\.0\.1:(\d+))")

    def setUp(self):
        self.addCleanup(os.close, buzontest.demo_lock())
        busy = [p for p in buzontest.DEMO_PORTS.values()
                if not buzontest.port_is_free(p)]
        if busy:
            self.skipTest("demo ports in use: %s" % busy)
        self.tmp = tempfile.mkdtemp(prefix="buzon-e2e-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        if buzontest.is_root():
            os.chmod(self.tmp, 0o755)

    def run_demo(self, libexec=None):
        """Start `buzon demo --dir TMP/demo`; read its output until it
        printed connection lines and went quiet.  Returns (process,
        output); the process is stopped at cleanup."""
        d = os.path.join(self.tmp, "demo")
        env = dict(os.environ)
        env.pop("BUZON_CONF", None)
        if libexec is not None:
            env["BUZON_LIBEXEC"] = libexec
        elif buzontest.is_root():
            env["BUZON_LIBEXEC"] = buzontest.stage_daemons(
                os.path.join(self.tmp, "daemons"))
        buzontest.chown_tree(self.tmp)
        p = subprocess.Popen([buzontest.BUZON, "demo", "--dir", d],
                             env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT,
                             start_new_session=True)
        self.addCleanup(self.kill, p)
        out = b""
        deadline = time.monotonic() + 20
        quiet_since = None
        while time.monotonic() < deadline:
            ready, _, _ = select.select([p.stdout], [], [], 0.1)
            if ready:
                chunk = os.read(p.stdout.fileno(), 65536)
                if not chunk:
                    break
                out += chunk
                quiet_since = None
                continue
            if p.poll() is not None:
                break
            if self.CONNECT.search(out.decode("utf-8", "replace")):
                if quiet_since is None:
                    quiet_since = time.monotonic()
                elif time.monotonic() - quiet_since > 0.5:
                    break
        text = out.decode("utf-8", "replace")
        self.assertIsNone(p.poll(), "demo exited:\n" + text)
        self.assertTrue(os.path.isfile(os.path.join(d, "buzon.conf")))
        return p, text

    @staticmethod
    def kill(p):
        if p.poll() is None:
            p.kill()
            p.wait(5)
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
        p.stdout.close()

    def ports(self, text):
        ports = set()
        for m in self.CONNECT.finditer(text):
            ports.add(int(m.group(2) or m.group(3)))
        self.assertTrue(ports, "no connection lines:\n" + text)
        self.assertTrue(ports <= set(buzontest.DEMO_PORTS.values()), text)
        return ports

    def stop(self, p, text):
        p.send_signal(signal.SIGTERM)
        rc = p.wait(10)
        try:
            os.killpg(p.pid, signal.SIGKILL)    # nothing may hold the pipe
        except OSError:
            pass
        text += p.stdout.read().decode("utf-8", "replace")
        self.assertEqual(rc, 0, text)
        self.assertIsNone(buzontest.SANITIZER_RX.search(text), text)

    def test_prints_connection_lines(self):
        p, text = self.run_demo()
        self.ports(text)
        self.stop(p, text)

    @need_fixture
    def test_serves_every_printed_port(self):
        """With the fixture as every daemon, each printed port answers
        for its service."""
        libexec = buzontest.stage_fixture(os.path.join(self.tmp, "fixture"))
        p, text = self.run_demo(libexec)
        by_port = {v: k for k, v in buzontest.DEMO_PORTS.items()}
        ports = self.ports(text)
        self.assertEqual(ports, set(by_port), text)
        for port in sorted(ports):
            name, _ = wait_for(lambda: self.try_greet(port), 10,
                               what="demo port %d" % port)
            self.assertEqual(name, by_port[port])
        self.stop(p, text)

    @staticmethod
    def try_greet(port):
        try:
            return greet(port)
        except (OSError, AssertionError):
            return None


if __name__ == "__main__":
    unittest.main()
