# SPDX-License-Identifier: MIT
"""End-to-end tests of the supervisor's edges: start-up failures, the pid
file, status output, restart backoff, reload reaching every daemon, missing
daemon programs, init --force and demo's printed ports.

Like test_master.py, these run the fixture daemon in place of the real
ones; a verb or program that is missing fails the test.
"""

import os
import re
import select
import signal
import socket
import subprocess
import shutil
import tempfile
import time
import unittest

import buzontest
from buzontest import Instance, LineClient, buzon, has_verb, pid_alive, \
    tail, wait_for

GREETING = re.compile(r"^\+OK fixture (\S+) pid (\d+)")


def need(f):
    if not (buzontest.have_buzon() and buzontest.have_fixture() and
            has_verb("run") and has_verb("init")):
        return buzontest.require(False, "buzon or the fixture not built")(f)
    return f


def greet(port):
    with LineClient(port) as c:
        m = GREETING.match(c.expect(GREETING))
    return m.group(1), int(m.group(2))


@need
class StartupFailures(unittest.TestCase):
    """`buzon run` and `start` that cannot start say why, in one line."""

    def setUp(self):
        self.b = Instance(fixture=True, listeners=["smtp", "pop3"])
        self.addCleanup(self.b.cleanup)

    def test_bad_config_names_every_line(self):
        with open(self.b.conf, "a") as f:
            f.write("bogus_key = 1\ntrace = maybe\n")
        n = len(self.b.read_conf().splitlines())
        r = self.b.cli("run", timeout=10)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("%s:%d:" % (self.b.conf, n - 1), r.stderr)
        self.assertIn("%s:%d:" % (self.b.conf, n), r.stderr)
        self.assertFalse(os.path.exists(self.b.pid_file))

    def test_address_in_use(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.b.port("pop3")))
        s.listen(1)
        self.addCleanup(s.close)
        r = self.b.cli("run", timeout=10)
        self.assertEqual(r.returncode, 1, r.stderr)
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn("127.0.0.1:%d" % self.b.port("pop3"), lines[0])
        self.assertIn("pop3_listen", lines[0])
        self.assertFalse(os.path.exists(self.b.pid_file))
        # and through start, the same reason reaches the terminal
        r = self.b.cli("start", timeout=20)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("pop3_listen", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertFalse(buzontest.can_connect(self.b.port("smtp")))

    @unittest.skipUnless(buzontest.is_root(), "only root drops privileges")
    def test_unknown_user(self):
        text = buzontest.set_conf_lines(self.b.read_conf(),
                                        {"user": "buzon-no-such-user"})
        with open(self.b.conf, "w") as f:
            f.write(text)
        r = self.b.cli("run", timeout=10)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn("useradd --system buzon-no-such-user", r.stderr)
        self.assertFalse(buzontest.can_connect(self.b.port("smtp")))

    def test_stale_pid_file_is_replaced(self):
        os.makedirs(os.path.dirname(self.b.pid_file), exist_ok=True)
        with open(self.b.pid_file, "w") as f:
            f.write("1\n")      # alive, but it holds no lock
        buzontest.chown_tree(self.b.tmp)
        self.b.start()
        wait_for(lambda: open(self.b.pid_file).read().strip() ==
                 str(self.b.pid), 5, what="new pid in the pid file")

    def test_second_run_refused(self):
        self.b.start()
        wait_for(lambda: os.path.exists(self.b.pid_file), 5, what="pid")
        r = self.b.cli("run", timeout=10)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("already running", r.stderr)
        self.assertIn(str(self.b.pid), r.stderr)
        self.assertTrue(self.b.running())
        self.assertEqual(greet(self.b.port("smtp"))[0], "smtp")


@need
class Running(unittest.TestCase):
    """A running supervisor seen through status, reload and the log."""

    def setUp(self):
        self.b = Instance(fixture=True, listeners=["smtp", "pop3", "imap"],
                          overrides={"restart_delay_max": "3s"})
        self.addCleanup(self.b.cleanup)
        self.b.start()
        wait_for(lambda: os.path.exists(self.b.pid_file), 5, what="pid")

    def status(self):
        r = self.b.cli("status")
        return r.returncode, r.stdout

    def test_status_lists_daemons(self):
        _, smtpd = greet(self.b.port("smtp"))
        rc, out = self.status()
        self.assertEqual(rc, 0, out)
        self.assertIn("buzon is running (pid %d" % self.b.pid, out)
        self.assertRegex(out, r"buzon-smtpd\s+running\s+pid=%d\b" % smtpd)
        self.assertRegex(out, r"buzon-pop3d\s+running")
        self.assertRegex(out, r"buzon-imapd\s+running")
        self.assertRegex(out, r"buzon-queued\s+absent")
        self.b.stop()
        rc, out = self.status()
        self.assertEqual(rc, 3, out)
        self.assertIn("not running", out)

    def test_backoff_doubles(self):
        start = self.b.log_size()
        for delay in ("1s", "2s"):
            _, pid = greet(self.b.port("imap"))
            os.kill(pid, signal.SIGKILL)
            self.b.wait_log(r"daemon=buzon-imapd pid=%d exited signal=9, "
                            r"restarting in %s" % (pid, delay), start=start)
            wait_for(lambda: greet(self.b.port("imap"))[1] != pid, 5,
                     what="imapd back")
        rc, out = self.status()
        self.assertRegex(out, r"buzon-imapd\s+running.*restarts=2")

    def test_reload_reaches_every_daemon(self):
        start = self.b.log_size()
        r = self.b.cli("reload")
        self.assertEqual(r.returncode, 0, r.stderr)
        for prog in ("buzon-smtpd", "buzon-pop3d", "buzon-imapd"):
            self.b.wait_log(r"%s\[\d+\]: - fixture reload" % prog,
                            start=start)

    def test_reload_verb_refuses_bad_config(self):
        with open(self.b.conf, "a") as f:
            f.write("bogus_key = 1\n")
        start = self.b.log_size()
        r = self.b.cli("reload")
        self.assertEqual(r.returncode, 1)
        self.assertIn("bogus_key", r.stderr)
        time.sleep(0.2)
        self.assertNotIn("reload", self.b.log_text()[start:])
        # stop still works with the broken file
        r = self.b.cli("stop")
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_for(lambda: not self.b.running(), 10, what="stopped")

    def test_listener_change_needs_restart(self):
        start = self.b.log_size()
        port = buzontest.free_port()
        text = buzontest.set_conf_lines(
            self.b.read_conf(), {"smtp_listen": "127.0.0.1:%d" % port})
        with open(self.b.conf, "w") as f:
            f.write(text)
        self.b.signal(signal.SIGHUP)
        self.b.wait_log(r"listener addresses changed", start=start)
        self.assertEqual(greet(self.b.port("smtp"))[0], "smtp")


@need
class MissingDaemon(unittest.TestCase):
    def test_absent_program_is_skipped(self):
        b = Instance(fixture=True, listeners=["smtp", "pop3"])
        self.addCleanup(b.cleanup)
        ddir = os.path.join(b.tmp, "daemons")
        os.unlink(os.path.join(ddir, "buzon-pop3d"))
        b.start(wait=False)
        wait_for(lambda: buzontest.can_connect(b.port("smtp")), 10,
                 what="smtp")
        b.wait_log(r"daemon=buzon-pop3d skipped")
        self.assertFalse(buzontest.can_connect(b.port("pop3")))


@buzontest.require(buzontest.have_buzon() and has_verb("init"),
                   "buzon init not built")
class InitMore(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="buzon-e2e-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_instance_values_and_force(self):
        d = os.path.join(self.tmp, "inst")
        r = buzon("init", d)
        self.assertEqual(r.returncode, 0, r.stderr)
        conf = os.path.join(d, "buzon.conf")
        with open(conf) as f:
            text = f.read()
        self.assertRegex(text, r"(?m)^state_dir = %s$" % re.escape(d))
        self.assertRegex(text, r"(?m)^hostname = \S+$")
        for sub in ("tls", "spool", "mail", "maps", "run", "log"):
            self.assertTrue(os.path.isdir(os.path.join(d, sub)), sub)
        self.assertEqual(os.stat(d).st_mode & 0o777, 0o750)
        with open(os.path.join(d, "tls", "cert.pem"), "rb") as f:
            cert = f.read()
        with open(conf, "a") as f:
            f.write("mine = 1\n")
        r = buzon("init", d)
        self.assertEqual(r.returncode, 1)
        self.assertIn("--force", r.stderr)
        r = buzon("init", "--force", d)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(conf) as f:
            self.assertNotIn("mine = 1", f.read())
        with open(os.path.join(d, "tls", "cert.pem"), "rb") as f:
            self.assertEqual(f.read(), cert, "certificate replaced")

    def test_demo_settings(self):
        d = os.path.join(self.tmp, "demo")
        r = buzon("init", "--demo", d)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(d, "buzon.conf")) as f:
            text = f.read()
        for key, port in (("smtp", 2525), ("submission", 2587),
                          ("submissions", 2465), ("pop3", 2110),
                          ("pop3s", 2995), ("imap", 2143), ("imaps", 2993)):
            self.assertRegex(text, r"(?m)^%s_listen = 127\.0\.0\.1:%d$" %
                             (key, port))
        self.assertRegex(text, r"(?m)^log_target = stderr$")
        self.assertRegex(text, r"(?m)^trace = yes$")
        self.assertRegex(text, r"(?m)^hostname = mail\.example\.test$")
        self.assertRegex(r.stdout, r"(?i)accounts|users")  # demo.h hook ran
        buzontest.need(self, shutil.which("openssl"),
                       "openssl not installed (Debian package openssl)")
        o = subprocess.run(["openssl", "x509", "-noout", "-subject",
                            "-in", os.path.join(d, "tls", "cert.pem")],
                           stdout=subprocess.PIPE,
                           universal_newlines=True)
        self.assertIn("mail.example.test", o.stdout)

    def test_bad_usage(self):
        for args in (("init", "--bogus", "x"), ("init", "a", "b"),
                     ("demo", "--dir"), ("run", "extra"), ("status", "x")):
            with self.subTest(args=args):
                if not has_verb(args[0]):
                    continue
                r = buzon(*args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertEqual(len(r.stderr.strip().splitlines()), 1,
                                 r.stderr)


@buzontest.require(buzontest.have_buzon() and has_verb("demo"),
                   "buzon demo not built")
class DemoPorts(unittest.TestCase):
    """demo prints the ports of the config in force, not the defaults."""

    def run_demo(self, libexec):
        """Init a demo with free ports, run `buzon demo` with daemons from
        libexec(tmp) (a directory, or None for none), read its banner and
        stop it with Ctrl-C.  Returns (banner text, ports, demo dir)."""
        tmp = tempfile.mkdtemp(prefix="buzon-e2e-")
        self.addCleanup(shutil.rmtree, tmp, True)
        if buzontest.is_root():
            os.chmod(tmp, 0o755)
        d = os.path.join(tmp, "demo")
        r = buzon("init", "--demo", d)
        self.assertEqual(r.returncode, 0, r.stderr)
        ports = {n: buzontest.free_port() for n in buzontest.LISTENERS}
        conf = os.path.join(d, "buzon.conf")
        with open(conf) as f:
            text = f.read()
        text = buzontest.set_conf_lines(text, dict(
            ("%s_listen" % n, "127.0.0.1:%d" % p) for n, p in ports.items()))
        with open(conf, "w") as f:
            f.write(text)
        env = dict(os.environ)
        env.pop("BUZON_CONF", None)
        env["BUZON_LIBEXEC"] = libexec(tmp) or os.path.join(tmp, "none")
        buzontest.chown_tree(tmp)
        p = subprocess.Popen([buzontest.BUZON, "demo", "--dir", d], env=env,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, start_new_session=True)
        out = b""
        try:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and b"Ctrl-C" not in out:
                if select.select([p.stdout], [], [], 0.2)[0]:
                    chunk = os.read(p.stdout.fileno(), 65536)
                    if not chunk:
                        break
                    out += chunk
            text = out.decode("utf-8", "replace")
            self.assertIn("Ctrl-C to stop", text)
            time.sleep(0.2)
            self.assertIsNone(p.poll(), tail(text))
            p.send_signal(signal.SIGINT)
            self.assertEqual(p.wait(10), 0)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait(5)
            p.stdout.close()
        return text, ports, d

    def test_missing_daemons_are_not_offered(self):
        text, ports, _ = self.run_demo(lambda tmp: None)
        for label in ("SMTP", "Submission", "Submissions", "POP3",
                      "POP3S", "IMAP", "IMAPS"):
            self.assertRegex(text, r"\n  %s +\(not in this build yet\)\n"
                             % label)
        for port in ports.values():
            self.assertNotIn(":%d" % port, text)
            self.assertNotIn(" %d\n" % port, text)

    def test_changed_ports_are_printed(self):
        # The fixture stands in for every daemon: the demo offers only the
        # services whose program exists, and the test must not depend on
        # which real daemons are built.
        buzontest.need(self, buzontest.have_fixture(),
                       "fixture daemon not built")
        text, ports, d = self.run_demo(lambda tmp: buzontest.stage_fixture(
            os.path.join(tmp, "fixture-daemons")))
        self.assertIn("telnet 127.0.0.1 %d" % ports["smtp"], text)
        self.assertIn("-starttls smtp -connect 127.0.0.1:%d" %
                      ports["submission"], text)
        self.assertIn("s_client -connect 127.0.0.1:%d" %
                      ports["submissions"], text)
        self.assertIn("telnet 127.0.0.1 %d" % ports["pop3"], text)
        self.assertIn("s_client -connect 127.0.0.1:%d" % ports["pop3s"], text)
        self.assertIn("telnet 127.0.0.1 %d" % ports["imap"], text)
        self.assertIn("s_client -connect 127.0.0.1:%d" % ports["imaps"], text)
        self.assertIn(os.path.join(d, "tls", "cert.pem"), text)
        for port in (2525, 2110, 2143):
            self.assertNotIn(" %d\n" % port, text)


if __name__ == "__main__":
    unittest.main()
