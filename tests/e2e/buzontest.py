# SPDX-License-Identifier: MIT
"""buzontest - start a buzon instance in a temp dir and talk to it.

Python 3 standard library only.  The programs come from the build tree in
$BUZON_TOP_BUILDDIR (make check sets it), else ./_build at the top of the
source tree.

    with Instance(fixture=True) as b:
        b.start()
        with LineClient(b.port("smtp")) as c:
            c.expect("+OK fixture smtp")

An Instance is a fresh temp dir made by `buzon init`, with every listener
moved to a free port on 127.0.0.1 and log_target = stderr.  It always
cleans up: stop() on exit of the `with`, and at interpreter exit for any
instance still alive; the temp dir is removed unless BUZON_E2E_KEEP is set.
"""

import atexit
import errno
import fcntl
import os
import pwd
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP_SRCDIR = os.environ.get("BUZON_TOP_SRCDIR") or os.path.dirname(
    os.path.dirname(HERE))
TOP_BUILDDIR = os.environ.get("BUZON_TOP_BUILDDIR") or os.path.join(
    TOP_SRCDIR, "_build")

BUZON = os.path.join(TOP_BUILDDIR, "master", "buzon")
FIXTURE = os.path.join(TOP_BUILDDIR, "tests", "e2e", "fixture",
                       "buzon-fixtured")

# Listener name -> the daemon that serves it.
LISTENERS = {
    "smtp": "buzon-smtpd",
    "submission": "buzon-smtpd",
    "submissions": "buzon-smtpd",
    "pop3": "buzon-pop3d",
    "pop3s": "buzon-pop3d",
    "imap": "buzon-imapd",
    "imaps": "buzon-imapd",
}
# Daemon program -> its folder in the build tree.
DAEMONS = {
    "buzon-auth": "auth",
    "buzon-smtpd": "smtpd",
    "buzon-queued": "queue",
    "buzon-deliver": "local-delivery",
    "buzon-pop3d": "pop3d",
    "buzon-imapd": "imapd",
}
# What each kind of listener says first (real daemons; the fixture says
# "+OK fixture NAME pid PID" everywhere).
GREETINGS = {
    "smtp": r"^220 ", "submission": r"^220 ", "submissions": r"^220 ",
    "pop3": r"^\+OK", "pop3s": r"^\+OK",
    "imap": r"^\* (OK|PREAUTH)", "imaps": r"^\* (OK|PREAUTH)",
}
# Listeners that start with TLS.
TLS_LISTENERS = ("submissions", "pop3s", "imaps")
# The fixed ports of `buzon demo`.
DEMO_PORTS = {
    "smtp": 2525, "submission": 2587, "submissions": 2465,
    "pop3": 2110, "pop3s": 2995, "imap": 2143, "imaps": 2993,
}
SYSTEM_USER = "buzon"

SANITIZER_RX = re.compile(r"ERROR: (Address|Leak)Sanitizer|runtime error: |"
                          r"SUMMARY: UndefinedBehaviorSanitizer")

START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0

_live = set()
_ports_given = set()


def is_root():
    return os.geteuid() == 0


def system_user():
    """(uid, gid) of the buzon user, or None."""
    try:
        pw = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        return None
    return pw.pw_uid, pw.pw_gid


def chown_tree(path):
    """As root, give path and everything under it to the buzon user, so
    the daemons can use it once they dropped root."""
    ids = system_user()
    if not is_root() or ids is None:
        return
    for root, dirs, files in os.walk(path):
        for p in [root] + [os.path.join(root, n) for n in dirs + files]:
            try:
                os.lchown(p, *ids)
            except FileNotFoundError:
                pass    # a daemon's temp file, gone since the listing


def built_programs():
    """Every buzon-* program of the build tree but the test-only ones
    (daemons and their helpers, such as buzon-spf): name -> path."""
    progs = {}
    for sub in sorted(os.listdir(TOP_BUILDDIR)):
        top = os.path.join(TOP_BUILDDIR, sub)
        # programs live in TOP/<folder>/; skip tests, a distcheck's
        # buzon-VERSION/ and hidden or scratch folders
        if (sub in ("tests", "master") or sub[:1] in "._" or
                sub.startswith("buzon-") or not os.path.isdir(top)):
            continue
        for n in sorted(os.listdir(top)):
            path = os.path.join(top, n)
            if (n.startswith("buzon-") and os.path.isfile(path) and
                    os.access(path, os.X_OK)):
                progs.setdefault(n, path)
    return progs


def stage_daemons(d):
    """Copy the built daemons and helpers into a new directory d
    (returned).  As root the daemons run as the buzon user, which may not
    reach the build tree (a checkout under /root)."""
    os.mkdir(d)
    for name, path in sorted(built_programs().items()):
        shutil.copy2(path, os.path.join(d, name))
    return d


def stage_fixture(d):
    """A new directory d (returned) with the fixture daemon under the name
    of each daemon that has listeners.  Copies, not symlinks: as root the
    daemons run as the buzon user, which may not reach the build tree."""
    if not have_fixture():
        raise RuntimeError("%s not built" % FIXTURE)
    os.mkdir(d)
    for prog in sorted(set(LISTENERS.values())):
        shutil.copy2(FIXTURE, os.path.join(d, prog))
    return d


def built_daemons():
    """Names of the daemon programs built in the build tree."""
    return sorted(prog for prog, sub in DAEMONS.items()
                  if os.access(os.path.join(TOP_BUILDDIR, sub, prog),
                               os.X_OK))


def built_listeners():
    """Listener names whose daemon is built."""
    progs = built_daemons()
    return [n for n, prog in LISTENERS.items() if prog in progs]


def have_buzon():
    return os.access(BUZON, os.X_OK)


def expected_programs():
    """The programs this build makes and installs (bin_PROGRAMS and
    pkglibexec_PROGRAMS, paths relative to the build tree): from
    $BUZON_PROGRAMS (make check sets it), else read from the build tree's
    Makefile; None when neither says."""
    names = os.environ.get("BUZON_PROGRAMS")
    if names is None:
        try:
            with open(os.path.join(TOP_BUILDDIR, "Makefile")) as f:
                text = f.read().replace("\\\n", " ")
        except OSError:
            return None
        names = " ".join(
            m.group(2) for m in re.finditer(
                r"^(bin|pkglibexec)_PROGRAMS = (.*)$", text, re.M))
    return sorted(n.replace("$(EXEEXT)", "") for n in names.split())


def missing_programs():
    """Programs of expected_programs() that are not in the build tree."""
    return [p for p in expected_programs() or []
            if not os.access(os.path.join(TOP_BUILDDIR, p), os.X_OK)]


# A test that cannot run because a program or tool is missing fails: a
# build that lost a daemon, or a machine without a client program the
# tests use, must not pass by skipping.  Skips are only for what the
# environment rightly lacks (root, a configure option left out).

def _cannot_run(what):
    return "cannot run: %s" % what


def require(ok, what):
    """Decorator of a test function or class: as is when ok, else every
    test of it fails with "cannot run: WHAT"."""
    def deco(obj):
        if ok:
            return obj
        if isinstance(obj, type):
            def setUp(self):
                self.fail(_cannot_run(what))
            obj.setUp = setUp
            obj.setUpClass = classmethod(lambda cls: None)
            obj.tearDownClass = classmethod(lambda cls: None)
            return obj

        def failing(self, *args, **kwargs):
            self.fail(_cannot_run(what))
        failing.__name__ = obj.__name__
        failing.__doc__ = obj.__doc__
        return failing
    return deco


def need(test, ok, what):
    """Inside a test: fail with "cannot run: WHAT" unless ok."""
    if not ok:
        test.fail(_cannot_run(what))


def require_verbs(*names):
    """Decorator: fail unless the built buzon has every verb named."""
    missing = [n for n in names if not has_verb(n)]
    return require(not missing, "buzon has no verb %s" % ", ".join(missing))


def require_daemons(*progs):
    """Decorator: fail unless buzon and every daemon program named are
    built."""
    if not have_buzon():
        return require(False, "buzon not built")
    missing = [p for p in progs if p not in built_daemons()]
    return require(not missing, "%s not built" % ", ".join(missing))


def require_tool(name, package=None):
    """Decorator: fail unless the program name is on PATH (package: the
    Debian package that has it, for the message)."""
    return require(shutil.which(name) is not None, "%s not installed "
                   "(Debian package %s)" % (name, package or name))


def have_fixture():
    return os.access(FIXTURE, os.X_OK)


def _port_range():
    """Ports to pick from: below the kernel's ephemeral range, so no
    outgoing connection or bind(0) elsewhere lands on a port we picked
    before the supervisor binds it."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    if low < 12000:
        return 1024, 65535
    return max(1024, low - 12000), low


def free_port():
    """A TCP port on 127.0.0.1 free right now (and not handed out before
    by this process), picked at random below the ephemeral range."""
    lo, hi = _port_range()
    for _ in range(200):
        port = random.randrange(lo, hi)
        if port in _ports_given or port in DEMO_PORTS.values():
            continue
        if port_is_free(port):
            _ports_given.add(port)
            return port
    raise RuntimeError("no free port in %d-%d" % (lo, hi))


def port_is_free(port, host="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def demo_lock(timeout=120.0):
    """Take the machine-wide lock for the fixed demo ports (e2e runs of
    several build trees at once take turns); returns the fd to close."""
    path = os.path.join(tempfile.gettempdir(), "buzon-e2e-demo.lock")
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except OSError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise AssertionError("demo ports lock %s busy" % path)
            time.sleep(0.1)


def can_connect(port, host="127.0.0.1", timeout=0.5):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def listening_inodes(port):
    """Socket inodes listening on TCP port (any address, IPv4 or IPv6)."""
    inodes = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if (fields[3] == "0A" and
                            int(fields[1].rsplit(":", 1)[1], 16) == port):
                        inodes.add(fields[9])
        except OSError:
            continue
    return inodes


def socket_inodes(pid):
    """Inodes of the sockets process pid holds open."""
    inodes = set()
    d = "/proc/%d/fd" % pid
    try:
        names = os.listdir(d)
    except OSError:
        return inodes
    for n in names:
        try:
            target = os.readlink(os.path.join(d, n))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def wait_for(predicate, timeout=10.0, interval=0.05, what=None):
    """Call predicate until it returns a true value (returned) or timeout
    seconds passed (AssertionError naming what)."""
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (
                timeout, what or getattr(predicate, "__name__", "condition")))
        time.sleep(interval)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie still answers kill(0): look at its state
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def group_members(pgid):
    """Live (not zombie) processes in process group pgid."""
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            pids.append(int(name))
    return pids


def tail(text, lines=40):
    return "\n".join(text.splitlines()[-lines:])


def client_tls_context():
    """A TLS client context that accepts the instance's self-signed
    certificate (tests check the protocol, not the PKI)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


class InstanceCase(unittest.TestCase):
    """Tests around one Instance for the whole class, in cls.inst (made by
    the subclass's setUpClass): cleaned up after the class, and a test
    that leaves a sanitizer report in the log fails.  Subclass it as
    buzontest.InstanceCase (an import of the name would make the runner
    collect it)."""
    inst = None

    @classmethod
    def tearDownClass(cls):
        if cls.inst is not None:
            cls.inst.cleanup()

    def tearDown(self):
        reports = self.inst.sanitizer_reports()
        self.assertFalse(reports, reports)


class LineClient:
    """A tiny line-based client: CRLF on send, lines without CRLF on
    read, every read bounded by timeout.  tls=True starts TLS at once
    (submissions, pop3s, imaps); starttls() switches mid-session."""

    def __init__(self, port, host="127.0.0.1", timeout=5.0, tls=False,
                 source=None):
        # source: the local address to connect from (127.0.0.2 ...: all of
        # 127/8 is loopback on Linux)
        self.sock = socket.create_connection(
            (host, port), timeout=timeout,
            source_address=(source, 0) if source else None)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.transcript = []
        if tls:
            self.starttls()

    def starttls(self):
        """Handshake over the connection (after the server said go ahead).
        Anything already read but unconsumed is an error: a server must
        not send more before the handshake."""
        if self.buf:
            raise AssertionError("data before the TLS handshake: %r" %
                                 self.buf)
        self.sock = client_tls_context().wrap_socket(self.sock)
        self.transcript.append("-- TLS %s" % self.sock.version())

    def send_raw(self, data):
        """Send bytes as they are (no CRLF added)."""
        self.transcript.append("C(raw): %r" % data)
        self.sock.sendall(data)

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def readline(self):
        """The next line (str, without the line end); "" at EOF."""
        while b"\n" not in self.buf:
            data = self.sock.recv(4096)
            if not data:
                line, self.buf = self.buf, b""
                self.transcript.append("S(eof): " + line.decode("latin-1"))
                return line.decode("latin-1")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        line = line.rstrip(b"\r").decode("latin-1")
        self.transcript.append("S: " + line)
        return line

    def read_until(self, end=b"\r\n.\r\n"):
        """Raw bytes (what is buffered, then from the socket) up to and
        including end, say the end of a multi-line POP3 answer;
        AssertionError at EOF first."""
        data, self.buf = self.buf, b""
        while not data.endswith(end):
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise AssertionError("EOF before %r after %d bytes" %
                                     (end, len(data)))
            data += chunk
        return data

    def send(self, line):
        self.transcript.append("C: " + line)
        self.sock.sendall(line.encode("latin-1") + b"\r\n")

    def expect(self, pattern):
        """Read one line and check it starts with pattern (str) or matches
        it (compiled regex); returns the line."""
        line = self.readline()
        if hasattr(pattern, "search"):
            ok = pattern.search(line) is not None
        else:
            ok = line.startswith(pattern)
        if not ok:
            raise AssertionError("expected %r, got %r\n%s" % (
                getattr(pattern, "pattern", pattern), line,
                "\n".join(self.transcript)))
        return line

    def command(self, line, pattern):
        self.send(line)
        return self.expect(pattern)


def set_conf_lines(text, settings):
    """Return config text with each key of settings (dict key -> value or
    None to leave it out) set: an existing uncommented "key = ..." line
    (and its continuation lines) is replaced, else the line is appended."""
    lines = text.splitlines()
    out = []
    done = set()
    skipping = False
    for line in lines:
        if skipping and line[:1] in (" ", "\t") and line.strip():
            continue
        skipping = False
        m = re.match(r"^([a-z0-9_]+)\s*=", line)
        if m and m.group(1) in settings:
            key = m.group(1)
            skipping = True
            if key not in done and settings[key] is not None:
                out.append("%s = %s" % (key, settings[key]))
            done.add(key)
            continue
        out.append(line)
    extra = [k for k in settings if k not in done and settings[k] is not None]
    if extra:
        out.append("")
        out.append("# set by the e2e harness")
        for k in extra:
            out.append("%s = %s" % (k, settings[k]))
    return "\n".join(out) + "\n"


class Instance:
    """One buzon instance in a fresh temp dir.

    demo:       `buzon init --demo` instead of `buzon init`
    fixture:    run the test fixture daemon in place of buzon-smtpd,
                buzon-pop3d and buzon-imapd (daemon_directory points at a
                temp dir holding copies of it under those names)
    listeners:  names of the listeners to enable (default: all seven
                with the fixture, else those whose daemon is built);
                the others are set empty (service off)
    overrides:  dict of more "key = value" settings (None removes a key)
    """

    def __init__(self, demo=False, fixture=False, listeners=None,
                 overrides=None, init=True):
        if not have_buzon():
            raise RuntimeError("%s not built" % BUZON)
        self.tmp = tempfile.mkdtemp(prefix="buzon-e2e-")
        self.dir = os.path.join(self.tmp, "inst")
        self.conf = os.path.join(self.dir, "buzon.conf")
        self.log_path = os.path.join(self.tmp, "buzon.log")
        self.proc = None
        self.ports = {}
        self.fixture = fixture
        if listeners is not None:
            self.listeners = list(listeners)
        elif fixture:
            self.listeners = list(LISTENERS)
        else:
            self.listeners = built_listeners()
        self.overrides = dict(overrides or {})
        self._log = None
        _live.add(self)
        if is_root():
            os.chmod(self.tmp, 0o755)
        if init:
            self.init(demo)

    # ---- setup ----

    def init(self, demo=False):
        args = ["init"] + (["--demo"] if demo else []) + [self.dir]
        r = subprocess.run([BUZON] + args, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=60,
                           env=self.env())
        if r.returncode != 0:
            raise RuntimeError("buzon %s: exit %d\n%s%s" % (
                " ".join(args), r.returncode, r.stdout, r.stderr))
        self.init_output = r.stdout
        settings = {}
        for name in LISTENERS:
            if name in self.listeners:
                self.ports[name] = free_port()
                settings[name + "_listen"] = "127.0.0.1:%d" % self.ports[name]
            else:
                settings[name + "_listen"] = ""
        settings["log_target"] = "stderr"
        if self.fixture:
            settings["daemon_directory"] = self.make_fixture_dir()
        elif is_root():
            settings["daemon_directory"] = self.make_daemon_dir()
        settings.update(self.overrides)
        self.write_settings(settings)

    def make_fixture_dir(self):
        return stage_fixture(os.path.join(self.tmp, "daemons"))

    def make_daemon_dir(self):
        return stage_daemons(os.path.join(self.tmp, "daemons"))

    def write_settings(self, settings):
        with open(self.conf) as f:
            text = f.read()
        text = set_conf_lines(text, settings)
        # Write a new file and rename it over the old, as an editor does: a
        # daemon starting right now must never read a half-written config
        # (it would take defaults for the missing keys, or fail to start).
        tmp = self.conf + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.conf)
        chown_tree(self.tmp)

    def read_conf(self):
        with open(self.conf) as f:
            return f.read()

    def env(self):
        e = dict(os.environ)
        e.pop("BUZON_CONF", None)
        e.setdefault("ASAN_OPTIONS", "detect_leaks=0")
        return e

    def port(self, name):
        return self.ports[name]

    def connect(self, name, timeout=5.0):
        """A LineClient on listener name (TLS ones with TLS), greeting not
        yet read."""
        return LineClient(self.ports[name], timeout=timeout,
                          tls=name in TLS_LISTENERS)

    @property
    def pid_file(self):
        v = self.overrides.get("pid_file")
        return v if v else os.path.join(self.dir, "run", "buzon.pid")

    # ---- running ----

    def start(self, wait=True, conf_after=False):
        """Run `buzon -c CONF run` (`buzon run -c CONF` with conf_after)
        in the background (stdout and stderr to the log) and wait until every enabled listener accepts a
        connection (raises with the log tail if not within 15 s).  If
        another program took one of the picked ports meanwhile (the run
        exits at once, "Address already in use"), new ports are picked
        and it is tried again, three times at most."""
        if self.proc is not None:
            raise RuntimeError("already started")
        for attempt in range(3):
            start = self.log_size()
            self._spawn(conf_after)
            if not wait:
                return self
            try:
                self.wait_ready()
                return self
            except AssertionError:
                if (self.proc.poll() is None or attempt == 2 or
                        "in use" not in self.log_text()[start:]):
                    raise
            self.stop()
            self.proc = None
            self.repick_ports()
        return self

    def _spawn(self, conf_after=False):
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.argv(["run"], conf_after), stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, env=self.env(),
            start_new_session=True)

    def repick_ports(self):
        """Move every enabled listener to a new free port."""
        settings = {}
        for name in self.listeners:
            self.ports[name] = free_port()
            settings[name + "_listen"] = "127.0.0.1:%d" % self.ports[name]
        self.write_settings(settings)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        pending = [self.ports[n] for n in self.listeners]
        while pending:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(
                    "buzon run exited with %s before it was ready:\n%s" % (
                        self.proc.returncode, tail(self.log_text())))
            # ours: the supervisor or one of its daemons holds the
            # listening socket (a port someone else took would answer too)
            pid = self.proc.pid if self.proc else self.pid_from_file()
            mine = None
            if pid:
                mine = socket_inodes(pid)
                for member in group_members(pid):
                    mine |= socket_inodes(member)
            pending = [p for p in pending
                       if not ((mine is None or listening_inodes(p) & mine)
                               and can_connect(p))]
            if not pending:
                break
            if time.monotonic() >= deadline:
                raise AssertionError(
                    "buzon run not ready after %.0fs (ports %s do not "
                    "answer):\n%s" % (timeout, pending,
                                      tail(self.log_text())))
            time.sleep(0.05)
        # logins need buzon-auth's socket (it makes it itself, at start),
        # when the supervisor started it (not skipped, not the fixture)
        sock = os.path.join(self.dir, "run", "auth.sock")
        if "daemon=buzon-auth pid=" in self.log_text():
            while not os.path.exists(sock):
                if time.monotonic() >= deadline:
                    raise AssertionError("buzon-auth not ready after "
                                         "%.0fs:\n%s" % (
                                             timeout, tail(self.log_text())))
                time.sleep(0.02)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, wait (bounded), then SIGKILL the whole process group.
        Returns the exit status of buzon run (None if never started)."""
        rc = None
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    self.proc.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)
            rc = self.proc.returncode
            self._kill_group(self.proc.pid)
        if self._log is not None:
            self._log.close()
            self._log = None
        return rc

    @staticmethod
    def _kill_group(pgid):
        """Leave no daemon behind: SIGKILL whatever is left in the group
        buzon run started, and wait (bounded) until it is gone."""
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            return
        except OSError as e:
            if e.errno != errno.ESRCH:
                raise
            return
        try:
            wait_for(lambda: not group_members(pgid), 5,
                     what="process group %d gone" % pgid)
        except AssertionError as e:
            sys.stderr.write("buzontest: %s\n" % e)

    def sanitizer_reports(self):
        """Lines of ASan/UBSan reports in the log (daemons log there too)."""
        return [l for l in self.log_text().splitlines()
                if SANITIZER_RX.search(l)]

    def cleanup(self):
        """Stop, remove the temp dir; raise if a sanitizer reported an
        error in any process of the instance."""
        reports = []
        try:
            self.stop()
            reports = self.sanitizer_reports()
            if reports:
                sys.stderr.write("sanitizer report in %s:\n%s\n" % (
                    self.log_path, tail(self.log_text(), 60)))
        finally:
            self._kill_pid_file()
            _live.discard(self)
            if os.environ.get("BUZON_E2E_KEEP"):
                sys.stderr.write("kept %s\n" % self.tmp)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)
        if reports:
            raise AssertionError("sanitizer: " + reports[0])

    def pid_from_file(self):
        """The pid in the pid file, or None."""
        try:
            with open(self.pid_file) as f:
                pid = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if pid > 1 else None

    def _kill_pid_file(self):
        """A `buzon start` daemonizes out of our process group: stop it
        through its pid file."""
        pid = self.pid_from_file()
        if pid is None or not pid_alive(pid):
            return
        try:    # never a pid reused by someone else
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if self.conf.encode() not in f.read():
                    return
        except OSError:
            return
        try:
            os.kill(pid, signal.SIGTERM)
            wait_for(lambda: not pid_alive(pid), 5, what="pid %d" % pid)
        except (OSError, AssertionError):
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()

    # ---- looking at it ----

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_log(self, pattern, timeout=10.0, start=0):
        """Wait until the log (from offset start) matches pattern (regex
        str); returns the match."""
        rx = re.compile(pattern, re.M)

        def found():
            return rx.search(self.log_text(), start)
        try:
            return wait_for(found, timeout, what="log line /%s/" % pattern)
        except AssertionError as e:
            raise AssertionError("%s\nlog:\n%s" % (e, tail(self.log_text())))

    def log_size(self):
        return len(self.log_text())

    def argv(self, args, conf_after=False):
        """The command line of `buzon -c CONF ARGS...`, or with conf_after
        of `buzon ARGS... -c CONF`."""
        if conf_after:
            return [BUZON] + list(args) + ["-c", self.conf]
        return [BUZON, "-c", self.conf] + list(args)

    def cli(self, *args, input=None, timeout=30, conf_after=False):
        """Run `buzon -c CONF ARGS...` (`buzon ARGS... -c CONF` with
        conf_after); CompletedProcess with text stdout/stderr."""
        return subprocess.run(
            self.argv(args, conf_after), input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            universal_newlines=True, timeout=timeout, env=self.env())


def buzon(*args, input=None, timeout=30, env=None):
    """Run the buzon binary with args (no -c added)."""
    e = dict(os.environ)
    e.pop("BUZON_CONF", None)
    e.setdefault("ASAN_OPTIONS", "detect_leaks=0")
    if env:
        e.update(env)
    return subprocess.run(
        [BUZON] + list(args), input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, timeout=timeout, env=e)


def has_verb(name):
    """True when the built buzon knows the verb (others exit 2 with
    'unknown verb')."""
    if not have_buzon():
        return False
    r = buzon(name, "--help")
    return not (r.returncode == 2 and "unknown verb" in r.stderr)


@atexit.register
def _cleanup_all():
    for inst in list(_live):
        try:
            inst.cleanup()
        except Exception as e:  # never let one stop the others
            sys.stderr.write("buzontest cleanup: %s\n" % e)
