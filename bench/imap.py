#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/imap.py - IMAP speed and memory, buzon-imapd beside Dovecot.

Builds a Maildir of N generated messages (default 10,000; fixed seed)
with the size mix of a real mailbox: median about 5 KB, mean about
40 KB, a tail of MB-sized attachments, a fifth multipart/mixed with a
base64 attachment, some HTML alternatives, encoded words in subjects.
buzon serves it from the build tree (a temp instance, as the e2e tests
run it) and, when installed (apt-get install dovecot-imapd), Dovecot
serves a copy of the same Maildir on another loopback port with its own
temp config.  Then, for each server in the same run:

  login+select   LOGIN and SELECT INBOX, warm (median of --runs*10)
  fetch-flags    UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE), warm
  envelope-cold  FETCH 1:* (ENVELOPE BODYSTRUCTURE), first time
  envelope-warm  the same again (best of --runs)
  search-text    UID SEARCH TEXT <word in about 1 message in 50>
  imaps          TCP connect + TLS handshake + greeting (median of 50)
  idle-mem       PSS added by --idle connections of one user in IDLE,
                 per connection (and with --idle-users, of that many
                 users, one connection each)
  mixed          --clients clients for --secs seconds, each looping
                 login, select, fetch, store, expunge, append, logout:
                 commands per second and protocol errors

and prints the times and the ratio buzon/Dovecot of each (below 1 is
buzon faster or smaller).  Times are wall-clock on loopback, medians or
best as said.  "cold" means the first FETCH of ENVELOPE/BODYSTRUCTURE
since the mailbox was made, with nothing cached by the server; the page
cache is warm for both.

    python3 bench/imap.py [-n 10000] [--runs 3] [--idle 200]
        [--idle-users 0] [--clients 10] [--secs 30] [--no-dovecot]
        [--only NAME,...]

Run it from the source tree after make (BUZON_TOP_BUILDDIR picks another
build directory).  As root, the daemons run as the buzon user.
"""

import argparse
import os
import pwd
import random
import re
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
import buzontest  # noqa: E402

PASSWORD = "benchpassword"
# SHA-512-crypt of PASSWORD, given to buzon and Dovecot alike
HASH = subprocess.run(["openssl", "passwd", "-6", PASSWORD],
                      capture_output=True, text=True,
                      check=True).stdout.strip()
DOMAIN = "example.test"
USER = "bench@" + DOMAIN
SEARCH_WORD = "zanzibar"

WORDS = ("the of and to in is that for it as with was on be by this mail "
         "server message meeting report please thanks attached tomorrow "
         "project update review budget office week plan").split()


# ---- the corpus ----

def _text(rnd, size):
    out, n = [], 0
    while n < size:
        line = " ".join(rnd.choice(WORDS)
                        for _ in range(rnd.randint(5, 14))) + "\n"
        out.append(line)
        n += len(line)
    return "".join(out)


def _b64_block(rnd, size):
    alphabet = ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                "0123456789+/")
    line = "".join(rnd.choice(alphabet) for _ in range(76)) + "\n"
    return line * max(1, size // 77)


def make_message(rnd, i):
    r = rnd.random()
    if r < 0.55:
        size = int(rnd.lognormvariate(8.3, 0.5))	# ~4 KB median
    elif r < 0.80:
        size = rnd.randint(6000, 30000)
    elif r < 0.985:
        size = rnd.randint(30000, 300000)
    else:
        size = rnd.randint(1000000, 4000000)
    subj = "message %d about %s" % (i, rnd.choice(WORDS))
    if i % 7 == 0:
        subj = "=?UTF-8?Q?Re=3A_reuni=C3=B3n_%d?=" % i
    head = ("Return-Path: <sender%d@example.org>\n"
            "Received: from mx.example.org (mx.example.org [192.0.2.%d])\n"
            "\tby mail.example.test with ESMTPS id %08x\n"
            "\tfor <%s>; Mon, 23 Nov 2026 01:%02d:%02d +0000\n"
            "From: Sender %d <sender%d@example.org>\n"
            "To: Bench <%s>\n"
            "Cc: other%d@example.org\n"
            "Subject: %s\n"
            "Date: Mon, 23 Nov 2026 %02d:%02d:%02d +0000\n"
            "Message-ID: <%d.%08x@example.org>\n"
            "MIME-Version: 1.0\n" %
            (i, i % 250, rnd.getrandbits(32), USER, i % 60, i % 60, i, i,
             USER, i % 13, subj, i % 24, i % 60, i % 60, i,
             rnd.getrandbits(32)))
    word = " %s " % SEARCH_WORD if i % 50 == 0 else " "
    if i % 5 == 0 or size > 100000:
        b = "b%d.%x" % (i, rnd.getrandbits(24))
        body = ("Content-Type: multipart/mixed; boundary=\"%s\"\n\n"
                "This is a multi-part message in MIME format.\n"
                "--%s\nContent-Type: text/plain; charset=utf-8\n"
                "Content-Transfer-Encoding: 8bit\n\n%s%s\n"
                "--%s\nContent-Type: application/pdf; name=\"r%d.pdf\"\n"
                "Content-Disposition: attachment; filename=\"r%d.pdf\"\n"
                "Content-Transfer-Encoding: base64\n\n%s--%s--\n" %
                (b, b, _text(rnd, min(2000, size // 4)), word, b, i, i,
                 _b64_block(rnd, size), b))
    elif i % 5 == 1:
        b = "alt%d" % i
        t = _text(rnd, size // 2)
        body = ("Content-Type: multipart/alternative; boundary=\"%s\"\n\n"
                "--%s\nContent-Type: text/plain; charset=us-ascii\n\n%s%s\n"
                "--%s\nContent-Type: text/html; charset=us-ascii\n"
                "Content-Transfer-Encoding: quoted-printable\n\n"
                "<html><body><p>%s</p></body></html>\n--%s--\n" %
                (b, b, t, word, b, t.replace("\n", "=\n"), b))
    else:
        body = ("Content-Type: text/plain; charset=utf-8\n\n%s%s\n" %
                (_text(rnd, size), word))
    return head + body


def make_corpus(n, seed=3501):
    rnd = random.Random(seed)
    return [make_message(rnd, i) for i in range(n)]


def write_maildir(path, msgs):
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    for i, m in enumerate(msgs):
        name = "%d.M%dP1.bench:2,%s" % (1795000000 + i, i,
                                       "S" if i % 3 else "")
        with open(os.path.join(path, "cur", name), "w") as f:
            f.write(m)


# ---- a small IMAP client that reads literals properly ----

class Imap:
    def __init__(self, port, tls=False, ctx=None):
        s = socket.create_connection(("127.0.0.1", port), timeout=120)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls:
            s = ctx.wrap_socket(s)
        self.s = s
        self.buf = bytearray()
        self.n = 0
        self.greeting = self.line()

    def _fill(self):
        chunk = self.s.recv(1 << 20)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                ln = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return ln
            self._fill()

    def raw(self, n):
        while len(self.buf) < n:
            self._fill()
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def send(self, data):
        self.s.sendall(data)

    def cmd(self, text, literal=None):
        """Send a command (with one synchronising literal if given) and
        read to its tagged reply; returns (status, untagged byte count,
        untagged lines)."""
        self.n += 1
        tag = b"b%d" % self.n
        if literal is not None:
            self.send(tag + b" " + text + b" {%d}\r\n" % len(literal))
            ln = self.line()
            if not ln.startswith(b"+"):
                return ln, 0, []
            self.send(literal + b"\r\n")
        else:
            self.send(tag + b" " + text + b"\r\n")
        size = 0
        lines = []
        while True:
            ln = self.line()
            size += len(ln) + 2
            m = re.search(rb"\{(\d+)\}$", ln)
            while m is not None:
                size += int(m.group(1))
                self.raw(int(m.group(1)))
                ln = self.line()
                size += len(ln) + 2
                m = re.search(rb"\{(\d+)\}$", ln)
            if ln.startswith(tag + b" "):
                return ln[len(tag) + 1:].split(b" ")[0], size, lines
            if len(lines) < 1000:
                lines.append(ln)

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def login(port, user, password):
    c = Imap(port)
    st, _, _ = c.cmd(b"LOGIN \"%s\" \"%s\"" % (user.encode(),
                                                password.encode()))
    if st != b"OK":
        raise RuntimeError("login refused on port %d" % port)
    return c


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


# ---- the measures ----

def m_login_select(port, user, runs):
    times = []
    for _ in range(runs * 10):
        def one():
            c = login(port, user, PASSWORD)
            st, _, _ = c.cmd(b"SELECT INBOX")
            if st != b"OK":
                raise RuntimeError("SELECT failed")
            c.cmd(b"LOGOUT")
            c.close()
        times.append(timed(one))
    return statistics.median(times)


def m_fetch(port, user, what, runs, cold):
    c = login(port, user, PASSWORD)
    c.cmd(b"SELECT INBOX")
    out = {}
    if cold:
        t = time.perf_counter()
        st, size, _ = c.cmd(what)
        out["cold"] = time.perf_counter() - t
        if st != b"OK":
            raise RuntimeError("%r failed" % what)
    best = None
    for _ in range(runs):
        t = time.perf_counter()
        st, size, _ = c.cmd(what)
        d = time.perf_counter() - t
        if st != b"OK":
            raise RuntimeError("%r failed" % what)
        best = d if best is None else min(best, d)
    out["warm"] = best
    out["bytes"] = size
    c.cmd(b"LOGOUT")
    c.close()
    return out


def m_search(port, user, runs):
    c = login(port, user, PASSWORD)
    c.cmd(b"SELECT INBOX")
    best, hits = None, 0
    for _ in range(runs):
        t = time.perf_counter()
        st, _, lines = c.cmd(b"UID SEARCH TEXT " + SEARCH_WORD.encode())
        d = time.perf_counter() - t
        if st != b"OK":
            raise RuntimeError("SEARCH failed")
        hits = sum(len(ln.split()) - 2 for ln in lines
                   if ln.startswith(b"* SEARCH"))
        best = d if best is None else min(best, d)
    c.close()
    return best, hits


def m_imaps(port, n=50):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    times = []
    for _ in range(n):
        def one():
            c = Imap(port, tls=True, ctx=ctx)
            if not c.greeting.startswith(b"* OK"):
                raise RuntimeError("bad greeting %r" % c.greeting)
            c.close()
        times.append(timed(one))
    return statistics.median(times)


def pss_kb(pids):
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/smaps_rollup" % pid) as f:
                for ln in f:
                    if ln.startswith("Pss:"):
                        total += int(ln.split()[1])
        except OSError:
            pass
    return total


def tree_pids(root_pid):
    """root_pid and every descendant."""
    kids = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                st = f.read()
        except OSError:
            continue
        ppid = int(st[st.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(name))
    out, todo = [], [root_pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def m_idle(port, users, count, root_pid):
    """PSS per connection added by count IDLE connections."""
    time.sleep(0.5)
    before = pss_kb(tree_pids(root_pid))
    conns = []
    try:
        for i in range(count):
            c = login(port, users[i % len(users)], PASSWORD)
            c.cmd(b"SELECT INBOX")
            c.n += 1
            c.send(b"i%d IDLE\r\n" % c.n)
            if not c.line().startswith(b"+"):
                raise RuntimeError("IDLE refused")
            conns.append(c)
        time.sleep(1.0)
        after = pss_kb(tree_pids(root_pid))
    finally:
        for c in conns:
            c.close()
    return (after - before) / count / 1024.0


def m_mixed(port, users, clients, secs):
    stop = time.monotonic() + secs
    counts = [0] * clients
    errors = [0] * clients
    msg = (b"From: load@example.org\r\nTo: " + USER.encode() +
           b"\r\nSubject: load\r\n\r\nload test body\r\n")

    def worker(k):
        user = users[k % len(users)]
        while time.monotonic() < stop:
            try:
                c = login(port, user, PASSWORD)
                n = 1
                st, _, lines = c.cmd(b"SELECT INBOX")
                n += 1
                exists = 0
                for ln in lines:
                    m = re.match(rb"\* (\d+) EXISTS", ln)
                    if m:
                        exists = int(m.group(1))
                ok = st == b"OK"
                if exists > 0:
                    lo = max(1, exists - 9)
                    for q in (b"FETCH %d:%d (FLAGS UID RFC822.SIZE)" %
                              (lo, exists),
                              b"FETCH %d BODY.PEEK[]" % exists,
                              b"STORE %d +FLAGS (\\Flagged)" % exists):
                        st, _, _ = c.cmd(q)
                        n += 1
                        ok = ok and st == b"OK"
                st, _, _ = c.cmd(b"APPEND INBOX (\\Seen)", literal=msg)
                n += 1
                ok = ok and st == b"OK"
                st, _, lines = c.cmd(b"UID SEARCH SUBJECT load")
                n += 1
                uids = [u for ln in lines if ln.startswith(b"* SEARCH")
                        for u in ln.split()[2:]]
                if uids:
                    st, _, _ = c.cmd(b"UID STORE %s +FLAGS.SILENT "
                                     b"(\\Deleted)" % uids[0])
                    n += 1
                    ok = ok and st == b"OK"
                    st, _, _ = c.cmd(b"EXPUNGE")
                    n += 1
                    ok = ok and st == b"OK"
                c.cmd(b"LOGOUT")
                n += 1
                c.close()
                counts[k] += n
                if not ok:
                    errors[k] += 1
            except (OSError, EOFError, RuntimeError):
                errors[k] += 1
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(counts) / secs, sum(errors)


# ---- servers ----

def dovecot_start(tmp, maildir, port, ports_tls, cert, key, nusers):
    uid = pwd.getpwnam("buzon") if os.geteuid() == 0 else None
    home = os.path.join(tmp, "home")
    os.makedirs(home)
    users_file = os.path.join(tmp, "users")
    with open(users_file, "w") as f:
        f.write("bench:{CRYPT}%s::::%s/bench::\n" % (HASH, home))
        for k in range(nusers):
            f.write("u%d:{CRYPT}%s::::%s/u%d::\n" % (k, HASH, home, k))
    shutil.copytree(maildir, os.path.join(home, "bench", "Maildir"),
                    ignore=shutil.ignore_patterns(".buzon*", "buzon*",
                                                  "dovecot*"))
    for k in range(nusers):
        for sub in ("new", "cur", "tmp"):
            os.makedirs(os.path.join(home, "u%d" % k, "Maildir", sub))
    ids = ""
    if uid is not None:
        ids = "uid=%d gid=%d " % (uid.pw_uid, uid.pw_gid)
        buzontest.chown_tree(home)
    conf = os.path.join(tmp, "dovecot.conf")
    with open(conf, "w") as f:
        f.write("""
base_dir = {tmp}/run
state_dir = {tmp}/state
log_path = {tmp}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = {users}
}}
userdb {{
  driver = passwd-file
  args = {users}
  default_fields = {ids}
}}
default_client_limit = 2000
default_process_limit = 1000
protocol imap {{
  mail_max_userip_connections = 1000
}}
service imap {{
  process_limit = 1000
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tport}
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
}}
""".format(tmp=tmp, cert=cert, key=key, users=users_file, ids=ids,
           port=port, tport=ports_tls))
    if uid is not None:
        os.chmod(key, 0o644)	# Dovecot reads it as root anyway
    p = subprocess.Popen(["dovecot", "-F", "-c", conf],
                         stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    buzontest.wait_for(lambda: buzontest.can_connect(port), 10,
                       what="dovecot on port %d" % port)
    return p


def run_all(name, port, tport, user, users, root_pid, args, only):
    r = {}

    def want(k):
        return not only or k in only
    print("== %s" % name, flush=True)
    if want("login+select"):
        r["login+select"] = m_login_select(port, user, args.runs)
        print("  login+select   %8.2f ms" % (r["login+select"] * 1e3),
              flush=True)
    if want("envelope"):
        e = m_fetch(port, user, b"FETCH 1:* (ENVELOPE BODYSTRUCTURE)",
                    args.runs, cold=True)
        r["envelope-cold"], r["envelope-warm"] = e["cold"], e["warm"]
        print("  envelope-cold  %8.1f ms" % (e["cold"] * 1e3))
        print("  envelope-warm  %8.1f ms  (%d bytes)" %
              (e["warm"] * 1e3, e["bytes"]), flush=True)
    if want("fetch-flags"):
        f = m_fetch(port, user, b"UID FETCH 1:* (UID FLAGS RFC822.SIZE "
                    b"INTERNALDATE)", args.runs, cold=False)
        r["fetch-flags"] = f["warm"]
        print("  fetch-flags    %8.1f ms  (%d bytes)" %
              (f["warm"] * 1e3, f["bytes"]), flush=True)
    if want("search-text"):
        t, hits = m_search(port, user, args.runs)
        r["search-text"] = t
        print("  search-text    %8.1f ms  (%d hits)" % (t * 1e3, hits),
              flush=True)
    if want("imaps"):
        r["imaps"] = m_imaps(tport)
        print("  imaps          %8.2f ms" % (r["imaps"] * 1e3), flush=True)
    if want("idle-mem"):
        r["idle-mem"] = m_idle(port, [user], args.idle, root_pid)
        print("  idle-mem       %8.3f MB PSS per connection (%d of one "
              "user)" % (r["idle-mem"], args.idle), flush=True)
        if args.idle_users > 0:
            r["idle-mem-users"] = m_idle(port, users[:args.idle_users],
                                         args.idle_users, root_pid)
            print("  idle-mem-users %8.3f MB PSS per connection (%d users)"
                  % (r["idle-mem-users"], args.idle_users), flush=True)
    if want("mixed"):
        cps, errs = m_mixed(port, users[:args.clients] or [user],
                            args.clients, args.secs)
        r["mixed"] = cps
        r["mixed-errors"] = errs
        print("  mixed          %8.1f commands/s, %d errors (%d clients, "
              "%d s)" % (cps, errs, args.clients, args.secs), flush=True)
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=10000, help="messages")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--idle", type=int, default=200)
    ap.add_argument("--idle-users", type=int, default=0)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--secs", type=int, default=30)
    ap.add_argument("--no-dovecot", action="store_true")
    ap.add_argument("--only", default="",
                    help="comma-separated: login+select,envelope,"
                    "fetch-flags,search-text,imaps,idle-mem,mixed")
    args = ap.parse_args()
    only = set(x for x in args.only.split(",") if x)

    print("building %d messages..." % args.n, flush=True)
    msgs = make_corpus(args.n)
    sizes = sorted(len(m) for m in msgs)
    print("corpus: %d messages, %.1f MB, median %.1f KB, mean %.1f KB, "
          "largest %.1f MB" % (args.n, sum(sizes) / 1e6,
                               sizes[len(sizes) // 2] / 1e3,
                               sum(sizes) / len(sizes) / 1e3,
                               sizes[-1] / 1e6), flush=True)
    nusers = max(args.idle_users, args.clients)
    inst = buzontest.Instance(listeners=["imap", "imaps"], overrides={
        "log_level": "warn", "auth_failure_delay": "0",
        "imap_max_connections_per_ip": "1000"})
    tmp = tempfile.mkdtemp(prefix="buzon-bench-imap-")
    os.chmod(tmp, 0o755)
    dove = None
    try:
        for a in (("domain", "add", DOMAIN),
                  ("user", "add", USER, "--password-stdin")):
            r = inst.cli(*a, input=PASSWORD + "\n")
            if r.returncode != 0:
                raise RuntimeError(r.stderr)
        users = []
        for k in range(nusers):
            u = "u%d@%s" % (k, DOMAIN)
            r = inst.cli("user", "add", u, "--password-stdin",
                         input=PASSWORD + "\n")
            if r.returncode != 0:
                raise RuntimeError(r.stderr)
            users.append(u)
        # one hash for both servers, so a login costs the same check:
        # SHA-512-crypt, which both take ($6$, Dovecot's {CRYPT})
        for u in [USER] + users:
            r = inst.cli("user", "passwd", u, "--hash-stdin",
                         input=HASH + "\n")
            if r.returncode != 0:
                raise RuntimeError(r.stderr)
        maildir = os.path.join(inst.dir, "mail", DOMAIN, "bench")
        write_maildir(maildir, msgs)
        buzontest.chown_tree(maildir)
        inst.start()
        ours = run_all("buzon", inst.port("imap"), inst.port("imaps"),
                       USER, users, inst.proc.pid, args, only)
        if args.no_dovecot or shutil.which("dovecot") is None:
            print("dovecot: not measured (%s)" % (
                "--no-dovecot" if args.no_dovecot else "not installed"))
            return 0
        port, tport = buzontest.free_port(), buzontest.free_port()
        cert = os.path.join(inst.dir, "tls", "cert.pem")
        key = os.path.join(tmp, "key.pem")
        shutil.copy(os.path.join(inst.dir, "tls", "key.pem"), key)
        dove = dovecot_start(tmp, maildir, port, tport, cert, key, nusers)
        dusers = [u.split("@")[0] for u in users]
        try:
            theirs = run_all("dovecot", port, tport, "bench", dusers,
                             dove.pid, args, only)
        except Exception:
            with open(os.path.join(tmp, "dovecot.log")) as f:
                sys.stderr.write(buzontest.tail(f.read(), 20) + "\n")
            raise
        print("== ratios buzon/dovecot (below 1: buzon faster or smaller; "
              "mixed: above 1 is buzon faster)")
        for k in sorted(ours):
            if k in theirs and theirs[k]:
                print("  %-15s %.2fx" % (k, ours[k] / theirs[k]))
    finally:
        if dove is not None:
            dove.terminate()
            dove.wait(10)
        inst.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
