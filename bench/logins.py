#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/logins.py - POP3 login time and the memory of idle connections.

Two measures, buzon against Dovecot in the same run:

  logins    one client logs in and out (greeting, USER, PASS, QUIT) -n
            times in a row: per-login time p50/p99; then -c clients at
            once, each its own account (a class behind one NAT address),
            do the same: logins/s.  Both servers check the same
            crypt(3) hash (yescrypt, libcrypt's default cost), Dovecot
            through a passwd-file passdb with the CRYPT scheme.
  idle      --idle connections from 127.0.0.1 that read the greeting and
            then say nothing (a classroom NAT, or a flood): the resident
            (RSS) and proportional (PSS) memory of every process of the
            server, before, with all of them open, and after they close.
            For buzon the POP3 and the SMTP side are measured (every
            buzon-pop3d or buzon-smtpd process of the instance); for
            Dovecot every process of its tree.

    python3 bench/logins.py [-n 200] [-c 20] [--idle 300] [--no-dovecot]

Run it from the source tree after make (BUZON_TOP_BUILDDIR picks another
build directory).  As root, the daemons run as the buzon user.  Needs
/proc/PID/smaps_rollup (Linux 4.14 and later).
"""

import argparse
import ctypes
import os
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
sys.path.insert(0, os.path.join(HERE, "lib"))
import buzontest  # noqa: E402
import smtpbench  # noqa: E402
sys.path.insert(0, HERE)
import pop3  # noqa: E402

PASSWORD = pop3.PASSWORD


def crypt_hash(password):
    """A crypt(3) hash with libcrypt's default method and cost."""
    lib = ctypes.CDLL("libcrypt.so.1")
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong,
                                  ctypes.c_char_p, ctypes.c_int]
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    salt = lib.crypt_gensalt(None, 0, None, 0)
    if not salt:
        raise RuntimeError("crypt_gensalt failed")
    h = lib.crypt(password.encode(), salt)
    if not h or h.startswith(b"*"):
        raise RuntimeError("crypt failed")
    return h.decode()


def recv_line(sock, buf):
    while b"\r\n" not in buf[0]:
        d = sock.recv(4096)
        if not d:
            raise RuntimeError("connection closed")
        buf[0] += d
    line, buf[0] = buf[0].split(b"\r\n", 1)
    return line


def one_login(port, user):
    t0 = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    buf = [b""]
    try:
        for cmd in (None, b"USER " + user.encode(),
                    b"PASS " + PASSWORD.encode(), b"QUIT"):
            if cmd is not None:
                s.sendall(cmd + b"\r\n")
            line = recv_line(s, buf)
            if not line.startswith(b"+OK"):
                raise RuntimeError("%r answered %r" % (cmd, line))
    finally:
        s.close()
    return time.perf_counter() - t0


def user_name(k):
    return "bench%d@example.test" % k


def measure_logins(name, port, n, conc):
    user = user_name(0)
    one_login(port, user)		# warm-up (index, caches)
    times = sorted(one_login(port, user) for _ in range(n))
    p50 = statistics.median(times) * 1e3
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))] * 1e3
    errors = []

    def worker(k, account):
        try:
            for _ in range(k):
                one_login(port, account)
        except Exception as e:		# reported below
            errors.append(e)

    per = max(1, n // conc)
    threads = [threading.Thread(target=worker, args=(per, user_name(k)))
               for k in range(conc)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.perf_counter() - t0
    if errors:
        raise RuntimeError("%s: %s" % (name, errors[0]))
    rate = per * conc / secs
    print("%-8s login one at a time: p50 %6.2f ms  p99 %6.2f ms;"
          "  %d at once: %7.0f logins/s" % (name, p50, p99, conc, rate))
    return p50, p99, rate


def mem_kb(pids):
    """(RSS, PSS) in KiB summed over pids."""
    rss = pss = 0
    for pid in pids:
        try:
            with open("/proc/%d/smaps_rollup" % pid) as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            continue
    return rss, pss


def pids_named(root, prefixes):
    snap = smtpbench.tree_snapshot(root)
    return [pid for pid, (comm, _, _) in snap.items()
            if prefixes is None or comm.startswith(prefixes)]


def measure_idle(name, port, root, prefixes, count, greeting):
    def mem():
        return mem_kb(pids_named(root, prefixes))

    time.sleep(0.3)
    before = mem()
    socks = []
    try:
        for _ in range(count):
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            socks.append(s)
        for s in socks:
            buf = [b""]
            line = recv_line(s, buf)
            if not line.startswith(greeting):
                raise RuntimeError("%s: greeting %r" % (name, line))
        time.sleep(0.5)
        busy = mem()
        nproc = len(pids_named(root, prefixes))
    finally:
        for s in socks:
            s.close()
    time.sleep(1.0)
    after = mem()
    print("%-8s %d idle: RSS %7.1f -> %7.1f -> %7.1f MB, PSS %7.1f -> "
          "%7.1f -> %7.1f MB (before, open, closed; %d processes open)" %
          (name, count, before[0] / 1024, busy[0] / 1024, after[0] / 1024,
           before[1] / 1024, busy[1] / 1024, after[1] / 1024, nproc))
    return before, busy, after


def dovecot_start(tmp, port, passwd_hash, nusers):
    """Dovecot's pop3 (bench/pop3.py's setup) on an empty Maildir, every
    bench user with passwd_hash in a passwd-file."""
    pwfile = os.path.join(tmp, "passwd")
    with open(pwfile, "w") as f:
        for k in range(nusers):
            f.write("%s:{CRYPT}%s\n" % (user_name(k), passwd_hash))
    return pop3.dovecot_start(tmp, None, port, passdb=(
        "driver = passwd-file\n  args = scheme=CRYPT %s" % pwfile))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=200, help="logins in a row")
    ap.add_argument("-c", type=int, default=20, help="clients at once")
    ap.add_argument("--idle", type=int, default=300,
                    help="idle connections")
    ap.add_argument("--no-dovecot", action="store_true")
    args = ap.parse_args()

    inst = buzontest.Instance(listeners=["pop3", "smtp"], overrides={
        "log_level": "warn", "pop3_max_connections_per_ip":
        str(args.idle + 10), "pop3_max_connections": str(args.idle + 10),
        "smtpd_max_connections_per_ip": str(args.idle + 10),
        "smtpd_max_connections": str(args.idle + 10)})
    dove = None
    tmp = tempfile.mkdtemp(prefix="buzon-bench-logins-")
    os.chmod(tmp, 0o755)
    try:
        steps = [("domain", "add", "example.test")]
        steps += [("user", "add", user_name(k), "--password-stdin")
                  for k in range(max(1, args.c))]
        for a in steps:
            r = inst.cli(*a, input=PASSWORD + "\n")
            if r.returncode != 0:
                raise RuntimeError(r.stderr)
        inst.start()
        root = inst.pid
        ours = measure_logins("buzon", inst.port("pop3"), args.n, args.c)
        ours_idle = measure_idle("buzon", inst.port("pop3"), root,
                                 ("buzon-pop3",), args.idle, b"+OK")
        measure_idle("buzon-smtp", inst.port("smtp"), root,
                     ("buzon-smtpd",), args.idle, b"220")
        if args.no_dovecot or shutil.which("dovecot") is None:
            print("dovecot: not measured (%s)" % (
                "--no-dovecot" if args.no_dovecot else "not installed"))
            return 0
        port = buzontest.free_port()
        dove = dovecot_start(tmp, port, crypt_hash(PASSWORD), max(1, args.c))
        try:
            theirs = measure_logins("dovecot", port, args.n, args.c)
            theirs_idle = measure_idle("dovecot", port, dove.pid, None,
                                       args.idle, b"+OK")
        except Exception:
            with open(os.path.join(tmp, "dovecot.log")) as f:
                sys.stderr.write(buzontest.tail(f.read(), 20) + "\n")
            raise
        print("ratio login p50 dovecot/buzon = %.2fx, logins/s "
              "buzon/dovecot = %.2fx" % (theirs[0] / ours[0],
                                         ours[2] / theirs[2]))
        grow_b = (ours_idle[1][1] - ours_idle[0][1]) / 1024
        grow_d = (theirs_idle[1][1] - theirs_idle[0][1]) / 1024
        print("idle %d: PSS added buzon %.1f MB, dovecot %.1f MB" %
              (args.idle, grow_b, grow_d))
    finally:
        if dove is not None:
            dove.terminate()
            dove.wait(10)
        inst.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
