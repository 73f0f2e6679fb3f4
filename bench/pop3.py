#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/pop3.py - POP3 download speed: login, UIDL, RETR of every message.

Builds a Maildir of N messages (default 2,000) with realistic sizes
(most a few KB of text, some tens of KB of HTML, a few attachments of
hundreds of KB to 3 MB; fixed seed), serves it with buzon-pop3d from the
build tree (a temp instance, as the e2e tests run it), and times a client
that logs in, asks UIDL and RETRs every message, then QUITs (no DELE):

  pipelined   all commands in one write (RFC 2449 PIPELINING)
  lockstep    one command, wait for its answer, the next (most clients)

It prints messages/s and MB/s (the best of --runs after one warm-up run
that builds the index).  When Dovecot is installed (apt-get install
dovecot-pop3d), the same client runs against Dovecot's pop3 on a copy of
the same Maildir, on another loopback port with its own temp config, and
the ratio is printed.

    python3 bench/pop3.py [-n 2000] [--runs 3] [--no-dovecot] [--crlf]

With --crlf the Maildir files hold CRLF line ends, as some importers
write them; buzon then sends the messages without dot lines with
sendfile() (the default LF files, which buzon-deliver writes, always go
through the copying path).

Run it from the source tree after make (BUZON_TOP_BUILDDIR picks another
build directory).  As root, the daemons run as the buzon user.
"""

import argparse
import os
import pwd
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
import buzontest  # noqa: E402

PASSWORD = "benchpassword"  # no space: Dovecot static passdb args
USER = "bench@example.test"


def make_corpus(n, seed=1939):
    """n LF-only messages with a size mix like a real inbox."""
    rnd = random.Random(seed)
    words = ("the of and to in is that for it as with was on be by this "
             "mail server message meeting report please thanks attached "
             "tomorrow project update review").split()
    msgs = []
    for i in range(n):
        r = rnd.random()
        if r < 0.70:
            size = rnd.randint(1500, 10000)
        elif r < 0.90:
            size = rnd.randint(10000, 100000)
        elif r < 0.99:
            size = rnd.randint(100000, 500000)
        else:
            size = rnd.randint(1000000, 3000000)
        head = ("Return-Path: <sender%d@example.org>\n"
                "Received: from mx.example.org (mx.example.org "
                "[192.0.2.%d])\n\tby mail.example.test with ESMTPS id "
                "%08x\n\tfor <%s>; Mon, 23 Nov 2026 01:%02d:%02d +0000\n"
                "From: Sender %d <sender%d@example.org>\n"
                "To: <%s>\nSubject: message %d about %s\n"
                "Date: Mon, 23 Nov 2026 01:%02d:%02d +0000\n"
                "Message-ID: <%d.%08x@example.org>\n"
                "MIME-Version: 1.0\n" %
                (i, i % 250, rnd.getrandbits(32), USER, i % 60, i % 60, i,
                 i, USER, i, rnd.choice(words), i % 60, i % 60, i,
                 rnd.getrandbits(32)))
        body = []
        blen = 0
        if size > 100000:
            head += ("Content-Type: multipart/mixed; boundary=\"b%d\"\n\n" %
                     i)
            body.append("--b%d\nContent-Type: text/plain\n\nSee the "
                        "attachment.\n\n--b%d\nContent-Type: "
                        "application/octet-stream\nContent-Transfer-"
                        "Encoding: base64\n\n" % (i, i))
            line = "".join(rnd.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij"
                                      "klmnopqrstuvwxyz0123456789+/")
                           for _ in range(76)) + "\n"
            count = max(1, (size - len(head)) // 77)
            body.append(line * count)
            body.append("--b%d--\n" % i)
        else:
            head += "Content-Type: text/plain; charset=utf-8\n\n"
            while blen < size - len(head):
                line = " ".join(rnd.choice(words)
                                for _ in range(rnd.randint(5, 14))) + "\n"
                if rnd.random() < 0.01:
                    line = "." + line	# lines that need stuffing
                body.append(line)
                blen += len(line)
        msgs.append(head + "".join(body))
    return msgs


def write_maildir(path, msgs, crlf):
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    for i, m in enumerate(msgs):
        name = "%d.M%dP1.bench" % (1795000000 + i, i)
        with open(os.path.join(path, "new", name), "w") as f:
            f.write(m.replace("\n", "\r\n") if crlf else m)


def recv_until(sock, end, buf):
    """Read until buf ends with end; returns (everything, bytes read)."""
    data = bytearray(buf)
    while not data.endswith(end):
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise RuntimeError("connection closed")
        data += chunk
    return bytes(data)


def session(port, n, user, password, pipelined):
    """One timed session; returns (seconds, bytes received)."""
    t0 = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    total = 0
    try:
        total += len(recv_until(s, b"\r\n", b""))
        s.sendall(b"USER %s\r\nPASS %s\r\n" % (user.encode(),
                                              password.encode()))
        got = b""
        while got.count(b"\r\n") < 2:
            chunk = s.recv(4096)
            if not chunk:
                raise RuntimeError("connection closed at login")
            got += chunk
        if b"-ERR" in got:
            raise RuntimeError("login failed: %r" % got)
        if pipelined:
            cmds = [b"UIDL\r\n"] + [b"RETR %d\r\n" % i
                                     for i in range(1, n + 1)]
            s.sendall(b"".join(cmds) + b"QUIT\r\n")
            while True:
                chunk = s.recv(1 << 20)
                if not chunk:
                    break
                total += len(chunk)
        else:
            s.sendall(b"UIDL\r\n")
            total += len(recv_until(s, b"\r\n.\r\n", b""))
            for i in range(1, n + 1):
                s.sendall(b"RETR %d\r\n" % i)
                data = recv_until(s, b"\r\n", b"")
                if not data.startswith(b"+OK"):
                    raise RuntimeError("RETR %d: %r" % (i, data[:80]))
                if not data.endswith(b"\r\n.\r\n"):
                    data = recv_until(s, b"\r\n.\r\n", data)
                total += len(data)
            s.sendall(b"QUIT\r\n")
            total += len(recv_until(s, b"\r\n", b""))
    finally:
        s.close()
    return time.perf_counter() - t0, total


def measure(name, port, n, user, password, runs, corpus_bytes):
    # The first session builds the index (and warms the page cache).
    secs, _ = session(port, n, user, password, True)
    print("%-8s %-9s %6d msgs in %6.3f s (first session: index built)" %
          (name, "cold", n, secs))
    results = {}
    for mode in ("pipelined", "lockstep"):
        best = None
        for _ in range(runs):
            secs, got = session(port, n, user, password,
                                mode == "pipelined")
            if got < corpus_bytes:
                raise RuntimeError("%s %s: got %d bytes, corpus is %d" %
                                   (name, mode, got, corpus_bytes))
            best = secs if best is None or secs < best else best
        results[mode] = best
        print("%-8s %-9s %6d msgs in %6.3f s: %8.0f msgs/s %8.1f MB/s" %
              (name, mode, n, best, n / best, corpus_bytes / best / 1e6))
    return results


def dovecot_start(tmp, maildir, port, passdb=None):
    """Dovecot's pop3 on a copy of the Maildir (an empty one when maildir
    is None); returns the process.  passdb: the passdb block's lines
    (default: every user has PASSWORD, static)."""
    uid = pwd.getpwnam("buzon") if os.geteuid() == 0 else None
    home = os.path.join(tmp, "home")
    mail = os.path.join(home, "Maildir")
    os.makedirs(home)
    if maildir is None:
        for sub in ("new", "cur", "tmp"):
            os.makedirs(os.path.join(mail, sub))
    else:
        shutil.copytree(maildir, mail, ignore=shutil.ignore_patterns(
            ".buzon*", "buzon*", "dovecot*"))
    if passdb is None:
        passdb = "driver = static\n  args = password=%s" % PASSWORD
    conf = os.path.join(tmp, "dovecot.conf")
    ids = ""
    if uid is not None:
        ids = "uid=%d gid=%d " % (uid.pw_uid, uid.pw_gid)
        buzontest.chown_tree(home)
    with open(conf, "w") as f:
        f.write("""
base_dir = {tmp}/run
state_dir = {tmp}/state
log_path = {tmp}/dovecot.log
protocols = pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = 1
mail_location = maildir:{mail}
pop3_uidl_format = %08Xu%08Xv
passdb {{
  {passdb}
}}
userdb {{
  driver = static
  args = {ids}home={home}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {port}
  }}
}}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
}}
""".format(tmp=tmp, mail=mail, passdb=passdb, ids=ids, home=home,
           port=port))
    p = subprocess.Popen(["dovecot", "-F", "-c", conf],
                         stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    buzontest.wait_for(lambda: buzontest.can_connect(port), 10,
                       what="dovecot on port %d" % port)
    return p


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=2000, help="messages")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-dovecot", action="store_true")
    ap.add_argument("--crlf", action="store_true",
                    help="store CRLF line ends (as some importers do): "
                    "messages without dot lines go out with sendfile()")
    args = ap.parse_args()

    print("building %d messages..." % args.n)
    msgs = make_corpus(args.n)
    wire_bytes = sum(len(m) + m.count("\n") for m in msgs)
    print("corpus: %d messages, %.1f MB on the wire, mean %.1f KB" %
          (args.n, wire_bytes / 1e6, wire_bytes / args.n / 1e3))

    inst = buzontest.Instance(listeners=["pop3"], overrides={
        "log_level": "warn", "auth_failure_delay": "0"})
    dove = None
    tmp = tempfile.mkdtemp(prefix="buzon-bench-pop3-")
    os.chmod(tmp, 0o755)	# Dovecot serves the copy as the buzon user
    try:
        for a in (("domain", "add", "example.test"),
                  ("user", "add", USER, "--password-stdin")):
            r = inst.cli(*a, input=PASSWORD + "\n")
            if r.returncode != 0:
                raise RuntimeError(r.stderr)
        maildir = os.path.join(inst.dir, "mail", "example.test", "bench")
        write_maildir(maildir, msgs, args.crlf)
        buzontest.chown_tree(maildir)
        inst.start()
        ours = measure("buzon", inst.port("pop3"), args.n, USER, PASSWORD,
                       args.runs, wire_bytes)
        if args.no_dovecot or shutil.which("dovecot") is None:
            print("dovecot: not measured (%s)" % (
                "--no-dovecot" if args.no_dovecot else "not installed"))
            return 0
        port = buzontest.free_port()
        dove = dovecot_start(tmp, maildir, port)
        try:
            theirs = measure("dovecot", port, args.n, "bench", PASSWORD,
                             args.runs, wire_bytes)
        except Exception:
            with open(os.path.join(tmp, "dovecot.log")) as f:
                sys.stderr.write(buzontest.tail(f.read(), 20) + "\n")
            raise
        for mode in ("pipelined", "lockstep"):
            print("ratio %-9s buzon/dovecot = %.2fx" %
                  (mode, theirs[mode] / ours[mode]))
    finally:
        if dove is not None:
            dove.terminate()
            dove.wait(10)
        inst.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
