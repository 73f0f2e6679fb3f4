# SPDX-License-Identifier: MIT
"""smtpbench - shared parts of bench/smtp-intake and bench/smtp-delivery.

Python 3 standard library only.  Starts a fresh buzon instance (through
tests/e2e/buzontest.py) or a Postfix instance with its own temporary
config, queue and mailbox directories on a free loopback port, drives
bench/smtp-load against it, and measures the CPU time of the server's
whole process tree from /proc.

Everything runs on 127.0.0.1 and is bounded in time; every instance is
stopped and its temp dir removed at the end (BENCH_KEEP=1 keeps the
dirs).
"""

import argparse
import atexit
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP_SRCDIR = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP_SRCDIR, "tests", "e2e"))

import buzontest  # noqa: E402

TOP_BUILDDIR = buzontest.TOP_BUILDDIR
SMTP_LOAD = os.path.join(TOP_BUILDDIR, "bench", "smtp-load")
DOMAIN = "bench.test"
CLK_TCK = os.sysconf("SC_CLK_TCK")

POSTFIX = "/usr/sbin/postfix"
POSTFIX_DAEMONS = "/usr/lib/postfix/sbin"

_live = []


def log(msg):
    sys.stderr.write("%s %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


# ---- CPU of a process tree ----

def _proc_table():
    """pid -> (ppid, own ticks (utime+stime), reaped children's ticks
    (cutime+cstime), command name)."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        try:
            comm = stat[stat.index("(") + 1:stat.rindex(")")]
            fields = stat.rsplit(")", 1)[1].split()
            # fields[0] is field 3 (state): utime is field 14 -> [11]
            table[int(name)] = (int(fields[1]),
                                int(fields[11]) + int(fields[12]),
                                int(fields[13]) + int(fields[14]), comm)
        except (ValueError, IndexError):
            continue
    return table


def tree_snapshot(root):
    """pid -> (command name, own seconds, reaped children's seconds) of
    root and every live descendant."""
    table = _proc_table()
    children = {}
    for pid, t in table.items():
        children.setdefault(t[0], []).append(pid)
    snap, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in snap or pid not in table:
            continue
        _, own, reaped, comm = table[pid]
        snap[pid] = (comm, own / CLK_TCK, reaped / CLK_TCK)
        todo.extend(children.get(pid, []))
    return snap


def snapshot_total(snap):
    return sum(own + reaped for _, own, reaped in snap.values())


def tree_cpu(root):
    """CPU seconds (user + system) of root and every live descendant,
    plus what their reaped children used (cutime/cstime): the CPU the
    tree used since it started."""
    return snapshot_total(tree_snapshot(root))


def cpu_by_name(before, after):
    """Seconds per command name between two snapshots, for processes
    alive at the end; what processes that exited meanwhile used (counted
    in their parent's cutime/cstime) goes under "(exited)"."""
    total = snapshot_total(after) - snapshot_total(before)
    out = {}
    for pid, (comm, own, _) in after.items():
        prev = before.get(pid)
        d = own - (prev[1] if prev and prev[0] == comm else 0)
        out[comm] = out.get(comm, 0) + d
    rest = total - sum(out.values())
    if abs(rest) > 1e-9:
        out["(exited)"] = rest
    return out


def tree_pids(root):
    return list(tree_snapshot(root))


def renice_tree(root, nice):
    """Set the nice value of every thread of the tree (children forked
    later inherit it)."""
    for pid in tree_pids(root):
        try:
            tids = os.listdir("/proc/%d/task" % pid)
        except OSError:
            continue
        for tid in tids:
            try:
                os.setpriority(os.PRIO_PROCESS, int(tid), nice)
            except OSError:
                pass


def describe_tree(root):
    """"name xCOUNT ..." of the processes in the tree."""
    count = {}
    for comm, _, _ in tree_snapshot(root).values():
        count[comm] = count.get(comm, 0) + 1
    return " ".join("%s x%d" % (k, v) if v > 1 else k
                    for k, v in sorted(count.items()))


# ---- load ----

def run_load(port, args, maildirs=()):
    """Run smtp-load against port; dict of its key=value output (numbers
    as float), plus 'rc'."""
    cmd = [SMTP_LOAD, "-p", str(port), "-d", DOMAIN,
           "-n", str(args.messages), "-c", str(args.sessions),
           "-k", str(args.per_connection), "-u", str(args.users),
           "-s", str(args.min_size), "-S", str(args.max_size),
           "-t", str(args.timeout)]
    for d in maildirs:
        cmd += ["-w", d]
    nice = args.nice

    def prio():
        if nice:
            os.setpriority(os.PRIO_PROCESS, 0, nice)
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True,
                       timeout=args.timeout + 60, preexec_fn=prio)
    out = {"rc": r.returncode}
    for line in r.stdout.splitlines():
        k, _, v = line.partition("=")
        try:
            out[k] = float(v)
        except ValueError:
            out[k] = v
    if r.stderr.strip():
        log("smtp-load: " + r.stderr.strip().replace("\n", "\n    "))
    if "accepted" not in out:
        raise RuntimeError("smtp-load failed (exit %d): %s" % (
            r.returncode, r.stderr.strip()))
    return out


def measure(server, args, maildirs=()):
    """One measured run against a started server: the load output plus
    the server tree's CPU per message."""
    server.settle()
    before = tree_snapshot(server.root_pid())
    t0 = time.monotonic()
    res = run_load(server.port, args, maildirs)
    after = tree_snapshot(server.root_pid())
    cpu = snapshot_total(after) - snapshot_total(before)
    n = max(1, res.get("accepted", 0))
    res["server_cpu_s"] = cpu
    res["server_cpu_ms_per_msg"] = cpu * 1e3 / n
    res["cpu_by_name"] = {k: v * 1e3 / n
                          for k, v in cpu_by_name(before, after).items()}
    res["measured_wall_s"] = time.monotonic() - t0
    return res


# ---- buzon ----

class Buzon:
    name = "buzon"

    def __init__(self, args, with_queue):
        overrides = {
            "smtpd_spf_policy": args.buzon_spf,
            "smtpd_max_connections_per_ip": str(max(50, args.sessions + 10)),
            "smtpd_max_connections": str(max(500, args.sessions + 10)),
        }
        for kv in args.buzon_set or []:
            k, _, v = kv.partition("=")
            overrides[k.strip()] = v.strip()
        self.inst = buzontest.Instance(listeners=["smtp"],
                                       overrides=overrides)
        _live.append(self)
        if not with_queue:
            self._drop_daemon("buzon-queued")
        self.port = self.inst.port("smtp")
        self.maildirs = []

    def _drop_daemon(self, prog):
        """Run without prog: stage the daemons into our own directory
        (also when not root) and leave prog out."""
        conf = self.inst.read_conf()
        m = re.search(r"^daemon_directory\s*=\s*(\S+)", conf, re.M)
        if m:
            d = m.group(1)
        else:
            d = buzontest.stage_daemons(os.path.join(self.inst.tmp,
                                                     "daemons"))
            self.inst.write_settings({"daemon_directory": d})
        p = os.path.join(d, prog)
        if os.path.exists(p):
            os.unlink(p)

    def add_users(self, n):
        r = self.inst.cli("domain", "add", DOMAIN)
        if r.returncode != 0:
            raise RuntimeError("buzon domain add: %s" % r.stderr)
        for i in range(1, n + 1):
            r = self.inst.cli("user", "add", "user%d@%s" % (i, DOMAIN),
                              "--password-stdin", input="bench-pw-%d\n" % i)
            if r.returncode != 0:
                raise RuntimeError("buzon user add: %s" % r.stderr)
        buzontest.chown_tree(self.inst.tmp)
        base = self.inst.dir
        for i in range(1, n + 1):
            cands = [os.path.join(base, "mail", DOMAIN, "user%d" % i)]
            conf = self.inst.read_conf()
            m = re.search(r"^state_directory\s*=\s*(\S+)", conf, re.M)
            if m:
                cands.insert(0, os.path.join(m.group(1), "mail", DOMAIN,
                                             "user%d" % i))
            for c in cands:
                if os.path.isdir(os.path.join(c, "new")):
                    self.maildirs.append(c)
                    break
            else:
                raise RuntimeError("no Maildir for user%d under %s" % (
                    i, base))

    def start(self):
        self.inst.start()

    def root_pid(self):
        return self.inst.pid

    def settle(self):
        time.sleep(0.5)

    def describe(self):
        return "buzon tree: " + describe_tree(self.root_pid())

    def log_tail(self):
        return buzontest.tail(self.inst.log_text(), 20)

    def stop(self):
        if self.inst is not None:
            try:
                self.inst.cleanup()
            finally:
                self.inst = None


# ---- Postfix ----

def have_postfix():
    """True when Postfix is installed and can be started (as root)."""
    return (os.geteuid() == 0 and os.access(POSTFIX, os.X_OK) and
            os.path.isdir(POSTFIX_DAEMONS) and
            os.access(os.path.join(POSTFIX_DAEMONS, "virtual"), os.X_OK))


# Standard services, nothing chrooted (the maps live in our temp dir).
MASTER_CF = """\
# master.cf of a bench instance (bench/lib/smtpbench.py)
127.0.0.1:%(port)d inet n - n - %(procs)s smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
%(qmgr)sqmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class Postfix:
    name = "postfix"

    def __init__(self, args, with_queue):
        if os.geteuid() != 0:
            raise RuntimeError("Postfix needs root to start")
        self.tmp = tempfile.mkdtemp(prefix="bench-postfix-")
        os.chmod(self.tmp, 0o755)
        _live.append(self)
        self.conf = os.path.join(self.tmp, "conf")
        self.queue = os.path.join(self.tmp, "queue")
        self.data = os.path.join(self.tmp, "data")
        self.vmail = os.path.join(self.tmp, "vmail")
        self.log_path = os.path.join(self.tmp, "postfix.log")
        for d in (self.conf, self.queue, self.data, self.vmail):
            os.mkdir(d)
            os.chmod(d, 0o755)
        pw = pwd.getpwnam("postfix")
        os.chown(self.data, pw.pw_uid, pw.pw_gid)
        self.vuid, self.vgid = self._vmail_ids()
        os.chown(self.vmail, self.vuid, self.vgid)
        self.port = buzontest.free_port()
        self.started = False
        self.maildirs = []
        self.args = args
        vmaps = os.path.join(self.conf, "vmailbox")
        with open(vmaps, "w") as f:
            for i in range(1, args.users + 1):
                f.write("user%d@%s %s/user%d/\n" % (i, DOMAIN, DOMAIN, i))
        main = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue,
            "data_directory": self.data,
            "command_directory": "/usr/sbin",
            "daemon_directory": POSTFIX_DAEMONS,
            "shlib_directory": "/usr/lib/postfix",
            "meta_directory": "/etc/postfix",
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "myhostname": "postfix-bench.test",
            "mydomain": "postfix-bench.test",
            "myorigin": "$myhostname",
            "mydestination": "",
            "mynetworks": "127.0.0.0/8",
            "relayhost": "",
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "virtual_mailbox_domains": DOMAIN,
            "virtual_mailbox_base": self.vmail,
            "virtual_mailbox_maps": "texthash:" + vmaps,
            "virtual_uid_maps": "static:%d" % self.vuid,
            "virtual_gid_maps": "static:%d" % self.vgid,
            "virtual_minimum_uid": "1",
            "maillog_file": self.log_path,
            "maillog_file_prefixes": self.tmp,
            "biff": "no",
            "smtpd_banner": "$myhostname ESMTP",
            "message_size_limit": "26214400",
            "default_process_limit": str(max(100, args.sessions + 10)),
            # the same per-client limits as buzon's (no rate limit)
            "smtpd_client_connection_count_limit": str(
                max(50, args.sessions + 10)),
            "smtp_tls_security_level": "none",
            "smtpd_tls_security_level": "none",
        }
        if not with_queue:
            # no qmgr: nothing puts tokens in the master's flow pipe, and
            # cleanup would wait in_flow_delay (1s) before each message
            main["in_flow_delay"] = "0s"
        for kv in args.postfix_set or []:
            k, _, v = kv.partition("=")
            main[k.strip()] = v.strip()
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            for k, v in main.items():
                f.write("%s = %s\n" % (k, v))
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(MASTER_CF % {"port": self.port,
                                 "procs": "-",
                                 "qmgr": "" if with_queue else "#"})
        # Maildirs made ahead, so smtp-load can watch them from the start
        # (virtual(8) would make them at the first delivery)
        for i in range(1, args.users + 1):
            md = os.path.join(self.vmail, DOMAIN, "user%d" % i)
            for sub in ("tmp", "new", "cur"):
                os.makedirs(os.path.join(md, sub))
            self.maildirs.append(md)
        for root, dirs, files in os.walk(self.vmail):
            for n in dirs:
                os.chown(os.path.join(root, n), self.vuid, self.vgid)

    @staticmethod
    def _vmail_ids():
        try:
            pw = pwd.getpwnam("nobody")
            gid = grp.getgrnam("nogroup").gr_gid
            return pw.pw_uid, gid
        except KeyError:
            return 65534, 65534

    def add_users(self, n):
        pass    # written by __init__ (the vmailbox map)

    def _postfix(self, *verb, timeout=60):
        return subprocess.run(
            [POSTFIX, "-c", self.conf] + list(verb),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, universal_newlines=True,
            timeout=timeout)

    def start(self):
        r = self._postfix("start", timeout=120)
        if r.returncode != 0:
            raise RuntimeError("postfix start: %s\n%s%s" % (
                r.stdout, self.log_tail(), self._why()))
        self.started = True
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port),
                                              timeout=2) as s:
                    s.settimeout(5)
                    if s.recv(512).startswith(b"220"):
                        s.sendall(b"QUIT\r\n")
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("postfix not answering on port %d:\n%s"
                                   % (self.port, self.log_tail()))
            time.sleep(0.1)

    def _why(self):
        """Postfix writes its fatal errors to syslog, or to stderr when
        that is a terminal: run `postfix check` under script(1) to see
        them."""
        if not shutil.which("script"):
            return ""
        try:
            r = subprocess.run(
                ["script", "-qec", "%s -c %s check" % (POSTFIX, self.conf),
                 "/dev/null"], stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                universal_newlines=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return r.stdout

    def root_pid(self):
        try:
            with open(os.path.join(self.queue, "pid", "master.pid")) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def settle(self):
        time.sleep(0.5)

    def describe(self):
        return "postfix tree: " + describe_tree(self.root_pid())

    def log_tail(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return buzontest.tail(f.read(), 20)
        except OSError:
            return ""

    def stop(self):
        if self.tmp is None:
            return
        try:
            if self.started:
                pid = self.root_pid()
                try:
                    self._postfix("stop", timeout=30)
                except subprocess.TimeoutExpired:
                    pass
                if pid:
                    deadline = time.monotonic() + 10
                    while (buzontest.pid_alive(pid) and
                           time.monotonic() < deadline):
                        time.sleep(0.1)
                    for p in tree_pids(pid):
                        try:
                            os.kill(p, signal.SIGKILL)
                        except OSError:
                            pass
                self.started = False
        finally:
            if os.environ.get("BENCH_KEEP"):
                log("kept %s" % self.tmp)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None


@atexit.register
def _cleanup_all():
    for s in list(_live):
        try:
            s.stop()
        except Exception as e:  # never let one stop the others
            sys.stderr.write("smtpbench cleanup: %s\n" % e)


def _on_signal(signum, frame):
    raise SystemExit(128 + signum)


def install_signal_handlers():
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)


# ---- command line and output ----

def arg_parser(prog, description):
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("-m", "--messages", type=int, default=2000,
                   help="messages per run (default 2000)")
    p.add_argument("-s", "--sessions", type=int, default=20,
                   help="parallel SMTP sessions (default 20)")
    p.add_argument("-k", "--per-connection", type=int, default=1,
                   help="messages per connection, then QUIT and connect "
                   "again (default 1)")
    p.add_argument("-u", "--users", type=int, default=10,
                   help="recipients userN@bench.test, one per message, "
                   "round robin (default 10)")
    p.add_argument("-b", "--bytes", type=int,
                   help="every body this size (default: random sizes "
                   "from --min-size to --max-size)")
    p.add_argument("--min-size", type=int, default=4096,
                   help="smallest body (default 4096)")
    p.add_argument("--max-size", type=int, default=8192,
                   help="largest body (default 8192)")
    p.add_argument("--runs", type=int, default=3,
                   help="measured runs per server, alternating "
                   "(default 3)")
    p.add_argument("--warmup", type=int, default=200,
                   help="messages sent before measuring (default 200)")
    p.add_argument("--with-queue", action="store_true",
                   help="smtp-intake: keep the queue runners (buzon-queued, "
                   "Postfix's qmgr) running, delivering while mail comes in")
    p.add_argument("--nice", type=int, default=0,
                   help="nice value for both servers and the load "
                   "generator (e.g. -5 as root on a busy machine; "
                   "default 0)")
    p.add_argument("-t", "--timeout", type=int, default=300,
                   help="seconds one run may take (default 300)")
    p.add_argument("--only", choices=("buzon", "postfix"),
                   help="measure one server only")
    p.add_argument("--buzon-spf", default="none",
                   help="smtpd_spf_policy for buzon (default none: "
                   "Postfix does no SPF either)")
    p.add_argument("--buzon-set", action="append", metavar="KEY=VALUE",
                   help="more buzon.conf settings")
    p.add_argument("--postfix-set", action="append", metavar="KEY=VALUE",
                   help="more main.cf settings")
    return p


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def median(xs):
    xs = sorted(xs)
    if not xs:
        return 0.0
    m = len(xs) // 2
    return xs[m] if len(xs) % 2 else (xs[m - 1] + xs[m]) / 2


def table(rows, cols):
    """rows: list of dicts; cols: list of (key, header, format)."""
    heads = [h for _, h, _ in cols]
    cells = [[(fmt % r[k]) if k in r else "-" for k, _, fmt in cols]
             for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h)
              for i, h in enumerate(heads)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(heads, widths)),
             "  ".join("-" * w for w in widths)]
    for c in cells:
        lines.append("  ".join(v.rjust(w) for v, w in zip(c, widths)))
    return "\n".join(lines)


# ---- one whole benchmark ----

def run_bench(kind, args):
    """kind "intake" (end of DATA to 250; no queue runner, so only the
    intake is measured) or "delivery" (SMTP in to a file in new/).
    Returns the process exit status."""
    deliver = kind == "delivery"
    with_queue = deliver or args.with_queue
    if args.bytes:
        args.min_size = args.max_size = args.bytes
    if (args.messages < 1 or args.sessions < 1 or args.users < 1 or
            args.per_connection < 1 or args.runs < 1 or
            args.min_size < 64 or args.max_size < args.min_size):
        log("bad arguments")
        return 2
    if not os.access(SMTP_LOAD, os.X_OK):
        log("%s not built (make bench/smtp-load in the build dir)" %
            SMTP_LOAD)
        return 2
    install_signal_handlers()
    load0 = loadavg()
    servers = []
    try:
        if args.only != "postfix":
            servers.append(Buzon(args, with_queue=with_queue))
        if args.only != "buzon":
            if have_postfix():
                servers.append(Postfix(args, with_queue=with_queue))
            elif args.only == "postfix":
                raise RuntimeError("Postfix is not installed (or not root)")
            else:
                log("Postfix not installed (or not root): measuring "
                    "buzon only")
        for s in servers:
            s.add_users(args.users)
            s.start()
            if args.nice:
                renice_tree(s.root_pid(), args.nice)
            log("%s listening on 127.0.0.1:%d" % (s.name, s.port))
        for s in servers:
            if args.warmup > 0:
                w = argparse.Namespace(**vars(args))
                w.messages = args.warmup
                run_load(s.port, w, s.maildirs if deliver else ())
            log(s.describe())
        rows = []
        # alternate the servers run by run: a noisy neighbour then hurts
        # both alike
        for i in range(args.runs):
            for s in servers:
                r = measure(s, args, s.maildirs if deliver else ())
                r["server"] = s.name
                r["run"] = i + 1
                rows.append(r)
                if r["rc"] != 0:
                    log("%s run %d: %d of %d accepted%s\n%s" % (
                        s.name, i + 1, r.get("accepted", 0),
                        args.messages,
                        ", %d delivered" % r.get("delivered", 0)
                        if deliver else "", s.log_tail()))
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        log("smtp-%s: %s" % (kind, e))
        return 1
    finally:
        for s in servers:
            try:
                s.stop()
            except Exception as e:
                log("stopping %s: %s" % (s.name, e))
    cols = [("server", "server", "%s"), ("run", "run", "%d"),
            ("accepted", "accepted", "%d"),
            ("intake_rate", "intake/s", "%.1f"),
            ("reply_p50_ms", "p50 ms", "%.2f"),
            ("reply_p99_ms", "p99 ms", "%.2f")]
    if deliver:
        cols += [("delivered", "delivered", "%d"),
                 ("delivery_rate", "delivered/s", "%.1f"),
                 ("deliver_p50_ms", "250->file p50", "%.2f"),
                 ("deliver_p99_ms", "250->file p99", "%.2f")]
    cols += [("server_cpu_ms_per_msg", "server cpu ms/msg", "%.3f"),
             ("client_cpu_ms_per_msg", "client cpu ms/msg", "%.3f")]
    print("smtp-%s: %d messages of %d-%d bytes, %d sessions, %d per "
          "connection, %d recipients, %d run(s) each%s" % (
              kind, args.messages, args.min_size, args.max_size,
              args.sessions, args.per_connection, args.users, args.runs,
              ", queue runners on" if with_queue and not deliver else ""))
    print("machine: %d CPUs, load average %s at the start, %s at the end%s"
          % (os.cpu_count() or 0, load0, loadavg(),
             ", servers and client at nice %d" % args.nice
             if args.nice else ""))
    print(table(rows, cols))
    print("server CPU by process, ms per message:")
    for r in rows:
        parts = sorted(r["cpu_by_name"].items(), key=lambda kv: -kv[1])
        print("  %s run %d: %s" % (r["server"], r["run"], ", ".join(
            "%s %.3f" % kv for kv in parts if abs(kv[1]) >= 0.0005)))
    rate_key = "delivery_rate" if deliver else "intake_rate"
    lat = ("deliver_p50_ms", "deliver_p99_ms") if deliver else (
        "reply_p50_ms", "reply_p99_ms")
    med = {}
    for name in ("buzon", "postfix"):
        rs = [r for r in rows if r["server"] == name]
        if rs:
            med[name] = {k: median([r.get(k, 0) for r in rs])
                         for k in (rate_key, lat[0], lat[1],
                                   "server_cpu_ms_per_msg")}
    parts = ["smtp-%s" % kind]
    for name in ("buzon", "postfix"):
        if name in med:
            parts.append("%s=%.1f/s" % (name, med[name][rate_key]))
    if "buzon" in med and "postfix" in med and med["postfix"][rate_key]:
        parts.append("ratio=%.2f" % (med["buzon"][rate_key] /
                                     med["postfix"][rate_key]))
    for label, key in (("p50_ms", lat[0]), ("p99_ms", lat[1]),
                       ("cpu_ms_per_msg", "server_cpu_ms_per_msg")):
        parts.append(label)
        for name in ("buzon", "postfix"):
            if name in med:
                parts.append("%s=%.3f" % (name, med[name][key]))
    print(" ".join(parts))
    sys.stdout.flush()
    ok = all(r["rc"] == 0 for r in rows) and rows
    return 0 if ok else 1
