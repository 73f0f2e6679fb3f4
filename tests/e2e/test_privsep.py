# SPDX-License-Identifier: MIT
"""Privilege separation seen from outside: gdb attaches to each daemon
and calls open() inside it.  smtpd cannot open a mailbox file or the TLS
key; the queue reaches mailboxes and the spool but not the key; pop3d's
pre-login process opens nothing at all, and the process serving one user
cannot open another user's mailbox.  SMTP and POP3 keep working under
`sandbox = required`."""

import os
import re
import smtplib
import stat
import subprocess
import tempfile
import time
import unittest

import buzontest
from buzontest import Instance

DOMAIN = "example.test"
PASSWORD = "correct horse"
ENOENT, EACCES = 2, 13


def landlock_abi():
    """landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION):
    the kernel's Landlock ABI, 0 without (the syscall is 444 on every
    architecture that has it)."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    v = libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint(1))
    return max(v, 0)


def kernel_has_landlock():
    return landlock_abi() >= 2


def children(ppid):
    """Pids whose parent is ppid, with their comm: [(pid, comm)]."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                st = f.read()
        except OSError:
            continue
        comm = st[st.index("(") + 1:st.rindex(")")]
        fields = st[st.rindex(")") + 2:].split()
        if int(fields[1]) == ppid:
            out.append((int(name), comm))
    return out


def wait_children(ppid, comm, timeout=10.0):
    """Pids under ppid whose comm is comm, waiting until one has exec'd
    (right after fork a child still carries the supervisor's name)."""
    deadline = time.monotonic() + timeout
    while True:
        pids = [p for p, c in children(ppid) if c == comm]
        if pids or time.monotonic() > deadline:
            return pids
        time.sleep(0.05)


# gdb's own inferior calls (`print open(...)`) fail on some hosts ("Couldn't
# write extended state status"), so the probe makes the syscall by hand:
# the process sits in a system call (epoll_wait) with its pc just past a
# `syscall` instruction; point pc back at it with openat's number and
# arguments, step once, read rax, then do close() the same way and put the
# registers back so the interrupted call starts over.
GDB_PROBE = """\
set confirm off
set $insn = $pc - 2
if *(unsigned short *)$insn != 0x050f
  printf "NOT-IN-SYSCALL\\n"
  detach
  quit
end
set $s_rax = $orig_rax
set $s_rdi = $rdi
set $s_rsi = $rsi
set $s_rdx = $rdx
set $s_r10 = $r10
set $s_r8 = $r8
set $s_r9 = $r9
set $s_sp = $sp
set $buf = ((long)$sp - 4096) & ~15
set {char[%(n)d]}$buf = "%(path)s"
set $orig_rax = -1
set $pc = $insn
set $rax = 257
set $rdi = -100
set $rsi = $buf
set $rdx = %(flags)d
set $r10 = 0
stepi
set $res = $rax
printf "OPEN-RESULT %%d\\n", $res
if $res >= 0
  set $pc = $insn
  set $rax = 3
  set $rdi = $res
  stepi
end
set $pc = $insn
set $rax = $s_rax
set $rdi = $s_rdi
set $rsi = $s_rsi
set $rdx = $s_rdx
set $r10 = $s_r10
set $r8 = $s_r8
set $r9 = $s_r9
set $sp = $s_sp
detach
quit
"""


def gdb_open(pid, path, flags=0):
    """Make the process pid call openat(AT_FDCWD, path, flags) (the fd is
    closed again at once): the fd, or -errno."""
    script = GDB_PROBE % {"n": len(path) + 1, "path": path,
                          "flags": flags}
    with tempfile.NamedTemporaryFile("w", suffix=".gdb") as f:
        f.write(script)
        f.flush()
        for attempt in range(20):
            r = subprocess.run(
                ["gdb", "-p", str(pid), "-batch", "-nx", "-x", f.name],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, universal_newlines=True,
                timeout=60)
            if "NOT-IN-SYSCALL" not in r.stdout:
                break
            time.sleep(0.1)		# busy right now: try again
    m = re.search(r"^OPEN-RESULT (-?\d+)$", r.stdout, re.M)
    if m is None:
        raise AssertionError("gdb could not make %d call open():\n%s" % (
            pid, r.stdout))
    return int(m.group(1))


@buzontest.require_tool("gdb")
@buzontest.require(kernel_has_landlock(), "the kernel has no Landlock")
class PrivsepBase(unittest.TestCase):
    """One instance, sandbox = required, two users with a message each."""

    listeners = ["smtp", "pop3", "pop3s"]
    overrides = {"sandbox": "required", "auth_failure_delay": "0",
                 "mynetworks": "127.0.0.0/8"}

    @classmethod
    def setUpClass(cls):
        cls.inst = Instance(listeners=cls.listeners,
                            overrides=cls.overrides)
        cls.run_ok("domain", "add", DOMAIN)
        for u in ("alice", "bob"):
            cls.run_ok("user", "add", "%s@%s" % (u, DOMAIN),
                       "--password-stdin", input=PASSWORD + "\n")
        cls.inst.start()
        for u in ("alice", "bob"):
            cls.send("%s@%s" % (u, DOMAIN), "for %s" % u)
        cls.msg = {u: cls.wait_message(u) for u in ("alice", "bob")}

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()

    @classmethod
    def run_ok(cls, *args, input=None):
        r = cls.inst.cli(*args, input=input)
        if r.returncode != 0:
            raise AssertionError("%s: %s%s" % (args, r.stdout, r.stderr))
        return r.stdout

    @classmethod
    def send(cls, rcpt, subject):
        with smtplib.SMTP("127.0.0.1", cls.inst.port("smtp"),
                          timeout=10) as s:
            s.sendmail("sender@example.org", [rcpt],
                       "From: sender@example.org\r\nTo: %s\r\n"
                       "Subject: %s\r\n\r\nhello\r\n" % (rcpt, subject))

    @classmethod
    def mail_dir(cls, user):
        return os.path.join(cls.inst.dir, "mail", DOMAIN, user)

    @classmethod
    def wait_message(cls, user):
        new = os.path.join(cls.mail_dir(user), "new")

        def found():
            return os.path.isdir(new) and os.listdir(new)
        buzontest.wait_for(found, timeout=20,
                           what="delivery to %s" % user)
        return os.path.join(new, sorted(os.listdir(new))[0])

    def daemon_pids(self, comm):
        pids = wait_children(self.inst.pid, comm)
        self.assertTrue(pids, "no %s under the supervisor" % comm)
        return pids

    @property
    def key(self):
        return os.path.join(self.inst.dir, "tls", "key.pem")

    @property
    def users_map(self):
        d = os.path.join(self.inst.dir, "maps")
        return os.path.join(d, [n for n in os.listdir(d)
                                if n.startswith("users")][0])

    @property
    def passwd_map(self):
        d = os.path.join(self.inst.dir, "auth")
        return os.path.join(d, [n for n in os.listdir(d)
                                if n.startswith("passwd")][0])

    def assert_denied(self, pid, path):
        self.assertTrue(os.path.exists(path), path)
        self.assertEqual(gdb_open(pid, path), -EACCES,
                         "pid %d opened %s" % (pid, path))

    def assert_allowed(self, pid, path):
        self.assertGreaterEqual(gdb_open(pid, path), 0,
                                "pid %d cannot open %s" % (pid, path))


class Smtpd(PrivsepBase):

    def test_smtpd_reaches_no_mailbox_and_no_key(self):
        pid = self.daemon_pids("buzon-smtpd")[0]
        # gdb works and the files smtpd needs still open
        self.assert_allowed(pid, self.users_map)
        self.assert_denied(pid, self.key)
        self.assert_denied(pid, self.passwd_map)
        self.assert_denied(pid, self.msg["alice"])
        self.assert_denied(pid, self.mail_dir("bob"))
        self.assert_denied(pid, "/etc/passwd")
        self.assertIn("sandbox on process=buzon-smtpd",
                      self.inst.log_text())

    def test_smtp_works_after_the_probe(self):
        # the daemon keeps serving after gdb detached, spool writes work
        self.send("bob@" + DOMAIN, "second")
        new = os.path.join(self.mail_dir("bob"), "new")
        buzontest.wait_for(lambda: len(os.listdir(new)) >= 2, timeout=20,
                           what="second delivery")

    def test_reload_keeps_tls(self):
        # the config is replaced by rename (a new inode), as editors do:
        # the sandboxed daemons still read it
        self.inst.write_settings({"smtpd_max_errors": "7"})
        start = self.inst.log_size()
        self.inst.signal(1)		# SIGHUP
        self.inst.wait_log(r"buzon-smtpd.*reloaded tls=kept", start=start)
        self.inst.wait_log(r"buzon-pop3d.*reloaded tls=kept", start=start)
        self.assertNotIn("reload failed", self.inst.log_text()[start:])
        with smtplib.SMTP("127.0.0.1", self.inst.port("smtp"),
                          timeout=10) as s:
            s.ehlo("client.example.org")
            self.assertTrue(s.has_extn("starttls"))

    def test_queue_reaches_mail_not_key(self):
        pid = self.daemon_pids("buzon-queued")[0]
        self.assert_allowed(pid, self.msg["alice"])
        self.assert_denied(pid, self.key)
        self.assertIn("sandbox on process=buzon-queued",
                      self.inst.log_text())

    def test_status_shows_the_sandbox(self):
        r = self.inst.cli("status")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"sandbox=required landlock_abi=\d+ "
                         r"daemons confined")

    def test_key_and_mail_modes(self):
        st = os.stat(self.key)
        self.assertEqual(stat.S_IMODE(st.st_mode) & 0o077, 0,
                         "the TLS key is readable by others")
        st = os.stat(self.mail_dir("alice"))
        self.assertEqual(stat.S_IMODE(st.st_mode) & 0o007, 0,
                         "a mailbox is open to others")


class Pop3d(PrivsepBase):

    def login(self, user, port="pop3"):
        c = self.inst.connect(port)
        c.expect("+OK")
        c.command("USER %s@%s" % (user, DOMAIN), "+OK")
        c.command("PASS " + PASSWORD, "+OK Logged in.")
        return c

    def test_pop3d_reaches_no_key(self):
        pid = self.daemon_pids("buzon-pop3d")[0]
        self.assert_denied(pid, self.key)
        self.assert_denied(pid, self.passwd_map)
        self.assert_denied(pid, "/etc/passwd")
        self.assertIn("sandbox on process=buzon-pop3d",
                      self.inst.log_text())

    def test_login_and_retr_under_the_sandbox(self):
        for port in ("pop3", "pop3s"):
            c = self.login("alice", port)
            c.command("STAT", re.compile(r"^\+OK [1-9]"))
            c.send("RETR 1")
            c.expect("+OK")
            self.assertIn("Subject: for alice", "\n".join(
                iter(c.readline, ".")))
            c.command("QUIT", "+OK")
            c.close()


class Auth(PrivsepBase):

    def test_auth_reaches_secrets_but_no_mail_and_no_key(self):
        pid = self.daemon_pids("buzon-auth")[0]
        self.assert_allowed(pid, self.passwd_map)
        self.assert_allowed(pid, self.users_map)
        self.assert_denied(pid, self.key)
        self.assert_denied(pid, self.msg["alice"])
        self.assert_denied(pid, os.path.join(self.inst.dir, "spool"))
        self.assertIn("sandbox on process=buzon-auth",
                      self.inst.log_text())
        # and still checks passwords after the probe, also of a user
        # added after it started (its passwd map replaced by rename)
        self.run_ok("user", "add", "carol@" + DOMAIN, "--password-stdin",
                    input=PASSWORD + "\n")
        c = self.inst.connect("pop3")
        c.expect("+OK")
        c.command("USER carol@" + DOMAIN, "+OK")
        c.command("PASS " + PASSWORD, "+OK Logged in.")
        c.command("QUIT", "+OK")
        c.close()
        c = self.inst.connect("pop3")
        c.expect("+OK")
        c.command("USER bob@" + DOMAIN, "+OK")
        c.command("PASS " + PASSWORD, "+OK Logged in.")
        c.command("QUIT", "+OK")
        c.close()


@buzontest.require_tool("gdb")
class SandboxOff(unittest.TestCase):
    """sandbox = off: nothing is confined (the gdb probe itself works)."""

    def test_off_confines_nothing(self):
        with Instance(listeners=["smtp"],
                      overrides={"sandbox": "off"}) as inst:
            inst.start()
            pids = wait_children(inst.pid, "buzon-smtpd")
            self.assertTrue(pids, "no buzon-smtpd under the supervisor")
            pid = pids[0]
            key = os.path.join(inst.dir, "tls", "key.pem")
            self.assertGreaterEqual(gdb_open(pid, key), 0)
            self.assertIn("sandbox off process=buzon-smtpd",
                          inst.log_text())
            inst.stop()

    def test_bad_value_refused(self):
        with Instance(listeners=["smtp"],
                      overrides={"sandbox": "maybe"}) as inst:
            r = inst.cli("config", "check")
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("sandbox", r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
