# SPDX-License-Identifier: MIT
"""imapref.py - a private Dovecot IMAP server as the reference, and a raw
IMAP client that reads whole responses (literals included).

Dovecot (Debian's dovecot-imapd) is started with its own config under a
temporary directory, configured as bench/imap.py configures it: a
passwd-file of users, Maildir under each home, plain-text LOGIN allowed on
127.0.0.1, mail_max_userip_connections high, listening on a free loopback
port, and stopped (with a bounded wait) by stop().
"""

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time

import buzontest

PASSWORD = "Ref-pass-3501"


class Dovecot:
    """A private Dovecot; users are added before start()."""

    def __init__(self):
        if shutil.which("dovecot") is None or \
                not os.path.exists("/usr/lib/dovecot/imap"):
            raise AssertionError("Dovecot's IMAP is needed: apt-get install "
                                 "dovecot-imapd, as dev.sh does")
        self.tmp = tempfile.mkdtemp(prefix="buzon-imapref-")
        os.chmod(self.tmp, 0o755)
        self.home = os.path.join(self.tmp, "home")
        os.makedirs(self.home)
        self.users = []
        self.proc = None
        self.port = None
        self.hash = subprocess.run(["openssl", "passwd", "-6", PASSWORD],
                                   capture_output=True, text=True,
                                   check=True).stdout.strip()

    def maildir(self, user):
        return os.path.join(self.home, user, "Maildir")

    def add_user(self, user, messages=(), folders=()):
        """A user with an empty Maildir, the given messages (bytes or str,
        written to new/ in order, mtimes one second apart) and folders
        (Maildir++ names such as "Sent" or "a/b")."""
        md = self.maildir(user)
        for sub in ("new", "cur", "tmp"):
            os.makedirs(os.path.join(md, sub))
        write_messages(md, messages)
        for name in folders:
            fd = os.path.join(md, "." + name.replace("/", "."))
            for sub in ("new", "cur", "tmp"):
                os.makedirs(os.path.join(fd, sub), exist_ok=True)
        self.users.append(user)

    def start(self, timeout=15):
        uid = None
        if os.geteuid() == 0:
            try:
                uid = pwd.getpwnam("buzon")
            except KeyError:
                uid = pwd.getpwnam("nobody")
        users_file = os.path.join(self.tmp, "users")
        with open(users_file, "w") as f:
            for u in self.users:
                f.write("%s:{CRYPT}%s::::%s/%s::\n" % (u, self.hash,
                                                      self.home, u))
        ids = ""
        if uid is not None:
            ids = "uid=%d gid=%d " % (uid.pw_uid, uid.pw_gid)
            for root, dirs, files in os.walk(self.home):
                for n in dirs + files:
                    os.lchown(os.path.join(root, n), uid.pw_uid, uid.pw_gid)
            os.chown(self.home, uid.pw_uid, uid.pw_gid)
        self.port = buzontest.free_port()
        conf = os.path.join(self.tmp, "dovecot.conf")
        with open(conf, "w") as f:
            f.write("""
base_dir = {tmp}/run
state_dir = {tmp}/state
log_path = {tmp}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
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
namespace inbox {{
  inbox = yes
  separator = /
  mailbox INBOX {{
    auto = subscribe
  }}
  mailbox Drafts {{
    auto = subscribe
    special_use = \\Drafts
  }}
  mailbox Sent {{
    auto = subscribe
    special_use = \\Sent
  }}
  mailbox Trash {{
    auto = subscribe
    special_use = \\Trash
  }}
  mailbox Junk {{
    auto = subscribe
    special_use = \\Junk
  }}
  mailbox Archive {{
    auto = subscribe
    special_use = \\Archive
  }}
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
    port = 0
  }}
}}
""".format(tmp=self.tmp, users=users_file, ids=ids, port=self.port))
        self.proc = subprocess.Popen(["dovecot", "-F", "-c", conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT)
        buzontest.wait_for(lambda: buzontest.can_connect(self.port), timeout,
                           what="dovecot on port %d" % self.port)
        return self

    def log(self):
        try:
            with open(os.path.join(self.tmp, "dovecot.log")) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            self.proc = None
        shutil.rmtree(self.tmp, ignore_errors=True)


def write_messages(md, messages, base=1700000000):
    """Messages into md/new in order, each file's mtime one second after
    the previous one's (the INTERNALDATE both servers take)."""
    for i, text in enumerate(messages):
        if isinstance(text, str):
            text = text.encode()
        name = "%d.M%dP%d.ref" % (base + i, i, os.getpid())
        tmp = os.path.join(md, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(text)
        os.utime(tmp, (base + i, base + i))
        os.rename(tmp, os.path.join(md, "new", name))


LITERAL = re.compile(rb"\{(\d+)(\+?)\}\r\n")


class Raw:
    """A raw IMAP connection.  cmd() sends one command (its synchronising
    literals wait for '+'), then returns the response lines up to and with
    the tagged one; a line with literals is one element, literal bytes
    inline."""

    def __init__(self, port, timeout=15):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=timeout)
        self.buf = b""
        self.greeting = self.line()

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def raw_line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\r\n") + 2
        ln, self.buf = self.buf[:i], self.buf[i:]
        return ln

    def raw(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def line(self):
        """One response line with its literals, without the final CRLF."""
        out = b""
        while True:
            ln = self.raw_line()
            m = re.search(rb"\{(\d+)\}\r\n$", ln)
            if m is None:
                return out + ln[:-2]
            out += ln + self.raw(int(m.group(1)))

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def cmd(self, text, tag=None):
        """text (str or bytes) without the final CRLF.  Returns the list
        of response lines; the last is the tagged one (or a refusal of a
        literal's continuation)."""
        if isinstance(text, str):
            text = text.encode()
        if tag is None:
            tag = text.split(b" ", 1)[0]
        data = text + b"\r\n"
        lines = []
        pos = 0
        for m in LITERAL.finditer(data):
            if m.group(2):          # LITERAL+: no wait
                continue
            self.send(data[pos:m.end()])
            pos = m.end()
            while True:
                ln = self.line()
                if ln.startswith(b"+"):
                    break
                lines.append(ln)
                if ln.startswith(tag + b" "):
                    return lines
        self.send(data[pos:])
        return lines + self.until(tag)

    def until(self, tag):
        if isinstance(tag, str):
            tag = tag.encode()
        lines = []
        while True:
            ln = self.line()
            lines.append(ln)
            if ln.startswith(tag + b" "):
                return lines

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def wait_login(port, user, password, timeout=15):
    def ok():
        try:
            r = Raw(port, timeout=2)
            res = r.cmd('L LOGIN "%s" "%s"' % (user, password))
            r.cmd("Q LOGOUT")
            r.close()
            return res[-1].startswith(b"L OK")
        except (OSError, EOFError):
            return False
    buzontest.wait_for(ok, timeout, what="login on port %d" % port)
