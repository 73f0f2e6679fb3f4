# SPDX-License-Identifier: MIT
"""test_differential_imap.py - the same raw IMAP sessions to Dovecot and
buzon.

A corpus of awkward messages (multipart, nested multipart, message/rfc822,
RFC 2047 and RFC 2231, groups, no Content-Type) is put in a fresh Maildir
per session for buzon-imapd and, from the same bytes, for a private
Dovecot (tests/e2e/imapref.py).  Each scripted session (the teaching
session verbatim, FETCH of every kind, SEARCH keys, UID commands,
COPY/MOVE, APPEND with literals, STATUS, LIST patterns, CREATE/RENAME/
DELETE, bad syntax, literals cut at odd places) runs against both, and for
each command the tagged status (OK/NO/BAD) and the untagged data must
agree: FETCH items compared by value (ENVELOPE, BODYSTRUCTURE, BODY[...]
bytes, FLAGS as sets), SEARCH results exactly, EXISTS/RECENT/EXPUNGE
numbers, LIST names and CHILDREN flags, STATUS counts; texts, UIDVALIDITY,
dates, capability lists and MODSEQs are normalised away.

IMAP_REF_ONLY=1 runs every session against Dovecot alone (to check the
sessions themselves); by default buzon is compared with Dovecot and a
missing buzon-imapd or Dovecot fails the test.
"""

import os
import re
import socket
import time
import unittest

import buzontest
import imapref
from buzontest import Instance

DOMAIN = "example.test"
PASSWORD = "Secret-pass-9"
REF_ONLY = os.environ.get("IMAP_REF_ONLY") == "1"

MULTI = (
    "From: Ann <ann@example.org>\nTo: bob@example.test, "
    "Team: c@example.test, d@example.test;\nCc: \"Doe, J\" <jd@example.org>\n"
    "Subject: =?UTF-8?Q?caf=C3=A9?= report\nDate: Mon, 7 Feb 1994 21:52:25 "
    "-0800\nMessage-ID: <multi@example.org>\nIn-Reply-To: <x@example.org>\n"
    "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"outer\"\n"
    "\npreamble\n--outer\nContent-Type: multipart/alternative; "
    "boundary=inner\n\n--inner\nContent-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: quoted-printable\n\nhello caf=C3=A9 "
    "zanzibar\n--inner\nContent-Type: text/html; charset=utf-8\n\n"
    "<p>hello</p>\n--inner--\n--outer\nContent-Type: application/pdf; "
    "name=\"r.pdf\"\nContent-Disposition: attachment; "
    "filename*=UTF-8''r%C3%A9port.pdf\nContent-Transfer-Encoding: base64\n"
    "Content-ID: <att1>\nContent-Description: the report\n\n"
    "JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFI+PgpzdHJlYW0K\n"
    "--outer--\nepilogue\n")

RFC822 = (
    "From: carl@example.org\nTo: ann@example.org\nSubject: fwd\n"
    "Date: Tue, 1 Mar 2022 10:00:00 +0100\nMIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=b1\n\n--b1\n"
    "Content-Type: text/plain\n\nsee below\n--b1\n"
    "Content-Type: message/rfc822\n\nFrom: inner@example.net\n"
    "To: x@example.net\nSubject: inner subject\nDate: Wed, 2 Mar 2022 "
    "11:00:00 +0000\nMessage-ID: <inner@example.net>\nMIME-Version: 1.0\n"
    "Content-Type: multipart/alternative; boundary=b2\n\n--b2\n"
    "Content-Type: text/plain; charset=us-ascii\n\ninner text line\n"
    "--b2\nContent-Type: text/html\n\n<b>inner</b>\n--b2--\n--b1--\n")

PLAIN = (
    "From: Dan <dan@example.org>\nTo: ann@example.org\nSubject: plain one\n"
    "Date: Thu, 3 Mar 2022 12:00:00 +0000\nX-Priority: 1\n\n"
    "just text, no content-type\nsecond line with Zanzibar\n")

LONGHDR = (
    "From: eve@example.org\nSender: list@example.org\nReply-To: "
    "r@example.org\nTo: undisclosed-recipients:;\nBcc: hidden@example.org\n"
    "Subject: a folded\n subject line\nDate: Fri, 4 Mar 2022 12:00:00 +0000\n"
    "Content-Type: text/plain; charset=iso-8859-1\n"
    "Content-Transfer-Encoding: base64\n\naG9sYSBtdW5kbyBjYWbpCg==\n")

BROKEN = (
    "From: f@example.org\nSubject: no final boundary\nMIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=zz\n\n--zz\n"
    "Content-Type: text/plain\n\npart one\n--zz\nContent-Type: text/plain\n"
    "\npart two never closed\n")

MESSAGES = [MULTI, RFC822, PLAIN, LONGHDR, BROKEN]

APPEND_MSG = ("From: app@example.org\r\nSubject: appended\r\n\r\n"
              "appended body\r\n")

# Each session: a name and its commands.  "LOGIN" alone is replaced by
# the right login for the server; a bytes item is sent raw in the chunks
# of a tuple (with a short pause between chunks), a str item is a command.
L = "LOGIN"
SESSIONS = [
    ("teaching", [
        "A001 LOGIN {user} {password}",
        'A002 LIST "" "*"',
        "A003 SELECT INBOX",
        "A004 FETCH 1 BODY[HEADER]",
        "A005 STORE 1 +FLAGS (\\Seen)",
        "A005b STORE 1 +FLAGS (\\Deleted)",
        "A006 EXPUNGE",
        "A007 LOGOUT"]),
    ("lowercase", [
        "a001 login {user} {password}",
        "b select inbox",
        "c fetch 3 body[]",
        "d fetch 1:* flags",
        "e store 2 +flags (\\seen)",
        "f fetch 2 (flags uid)",
        "g close",
        "h logout"]),
    ("fetch-structure", [
        L, "s SELECT INBOX",
        "f1 FETCH 1:* ENVELOPE",
        "f2 FETCH 1:* BODYSTRUCTURE",
        "f3 FETCH 1:* BODY",
        "f4 FETCH 1:* (RFC822.SIZE UID FLAGS)",
        "f5 FETCH 1 (BODY.PEEK[1.1] BODY.PEEK[1.2] BODY.PEEK[2])",
        "f6 FETCH 1 BODY.PEEK[1.2]<0.10>",
        "f7 FETCH 1 BODY.PEEK[1]<5.1000>",
        "f8 FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)])",
        "f9 FETCH 1:* (BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT DATE)])",
        "f10 FETCH 2 (BODY.PEEK[2.HEADER] BODY.PEEK[2.TEXT] BODY.PEEK[2.1]"
        " BODY.PEEK[2.2] BODY.PEEK[2.MIME] BODY.PEEK[1.MIME])",
        "f11 FETCH 1:* (BODY.PEEK[TEXT]<0.20>)",
        "f12 FETCH 3 (RFC822.HEADER RFC822.TEXT)",
        "f13 FETCH 1:* FLAGS",
        "f14 FETCH 3 RFC822",
        "f15 FETCH 3 FLAGS",
        "f16 FETCH 4 (BODY.PEEK[] BODY.PEEK[1])",
        "f17 FETCH 5 (BODYSTRUCTURE BODY.PEEK[2])",
        "f18 FETCH 1 BODY.PEEK[3]",
        "f19 FETCH 1 BODY.PEEK[1.2.3]",
        "f20 FETCH 1 FAST", "f21 FETCH 2 ALL", "f22 FETCH 3 FULL",
        "f23 FETCH 6 FLAGS",
        "f24 FETCH 1 BODY[HEADER.FIELDS (MESSAGE-ID IN-REPLY-TO)]<0.12>",
        "f25 FETCH 1 (FLAGS)",
        # (BODY[0]: Dovecot takes it, the grammar has nz-number)
        "f27 FETCH 1 BOGUS",
        "f28 FETCH x FLAGS",
        "f29 FETCH 1 (FLAGS",
        "q LOGOUT"]),
    ("search", [
        L, "s SELECT INBOX",
        "s1 SEARCH ALL", "s2 SEARCH SUBJECT report", "s3 SEARCH FROM ann",
        "s4 SEARCH TEXT zanzibar", "s5 SEARCH BODY zanzibar",
        "s6 SEARCH NOT SUBJECT plain", "s7 SEARCH OR FROM dan FROM eve",
        "s8 SEARCH HEADER X-Priority 1", "s9 SEARCH LARGER 500",
        "s10 SEARCH SMALLER 500", "s11 SEARCH 2:4 UNSEEN",
        "s12 SEARCH SENTBEFORE 1-Mar-2022", "s13 SEARCH SENTSINCE 3-Mar-2022",
        "s14 SEARCH SENTON 3-Mar-2022", "s15 SEARCH CHARSET UTF-8 SUBJECT caf\u00e9",
        "s16 SEARCH UID 2:*", "s17 UID SEARCH ALL", "s18 SEARCH NEW",
        "s19 STORE 1,3 +FLAGS (\\Flagged $Work)",
        "s20 SEARCH FLAGGED", "s21 SEARCH KEYWORD $Work",
        "s22 SEARCH UNKEYWORD $Work", "s23 SEARCH (FLAGGED SEEN)",
        "s24 SEARCH SEEN", "s25 SEARCH TO x@example.net",
        "s26 SEARCH CC doe", "s27 SEARCH BCC hidden",
        "s28 SEARCH TEXT hola", "s29 SEARCH BEFORE 1-Jan-2000",
        "s30 SEARCH SINCE 1-Jan-2000", "s31 SEARCH CHARSET KOI8-X ALL",
        "s32 SEARCH FOO", "s33 SEARCH 1:*", "s34 SEARCH *",
        "s35 SEARCH OR OR SEEN FLAGGED DELETED", "s36 SEARCH DRAFT",
        "s37 SEARCH ANSWERED", "s38 SEARCH UNANSWERED",
        "s39 SEARCH HEADER Subject \"\"", "s40 SEARCH SUBJECT \"folded subject\"",
        "q LOGOUT"]),
    ("uid", [
        L, "s SELECT INBOX",
        "u1 UID FETCH 1:* (FLAGS)", "u2 UID FETCH 3 (UID RFC822.SIZE)",
        "u3 UID STORE 2 +FLAGS.SILENT (\\Deleted)",
        "u4 UID FETCH 2 FLAGS", "u5 UID STORE 3 FLAGS (\\Answered)",
        "u6 UID EXPUNGE 2", "u7 UID FETCH 1:* UID", "u8 FETCH 1:* UID",
        "u9 UID SEARCH 3:*", "u10 UID FETCH 99 FLAGS",
        "u11 UID FETCH 99:* FLAGS", "u12 UID STORE 1 -FLAGS (\\Seen)",
        "u13 STORE 1 FLAGS.SILENT (\\Draft)", "u14 FETCH 1 FLAGS",
        "u15 UID BOGUS 1", "q LOGOUT"]),
    ("copy-move", [
        L, "c1 CREATE Keep", "s SELECT INBOX",
        "c2 COPY 1:2 Keep", "c3 COPY 1 Nowhere",
        "c4 UID COPY 3 Keep", "c5 MOVE 4 Keep",
        "c6 FETCH 1:* UID", "c7 UID MOVE 5 Keep",
        "c8 STATUS Keep (MESSAGES UIDNEXT UNSEEN RECENT)",
        "c9 SELECT Keep", "c10 FETCH 1:* (UID ENVELOPE)",
        "c11 MOVE 1 INBOX", "c12 EXAMINE INBOX", "c13 FETCH 1:* UID",
        # (STORE in a read-only mailbox: Dovecot OK, buzon NO; both allowed)
        "c15 COPY 1 Keep",
        "q LOGOUT"]),
    ("append", [
        L, "p1 APPEND INBOX {%d}\r\n%s" % (len(APPEND_MSG), APPEND_MSG),
        "p2 APPEND INBOX (\\Seen \\Flagged) \"05-Jan-2021 10:11:12 +0100\" "
        "{%d}\r\n%s" % (len(APPEND_MSG), APPEND_MSG),
        "p3 APPEND INBOX {%d+}\r\n%s" % (len(APPEND_MSG), APPEND_MSG),
        "p4 APPEND Nowhere {%d+}\r\n%s" % (len(APPEND_MSG), APPEND_MSG),
        "p5 APPEND INBOX (\\Bogus) {%d}\r\n%s" % (len(APPEND_MSG),
                                                  APPEND_MSG),
        "p6 APPEND INBOX \"not a date\" {%d}\r\n%s" % (len(APPEND_MSG),
                                                       APPEND_MSG),
        "p7 STATUS INBOX (MESSAGES RECENT UIDNEXT UNSEEN)",
        "s SELECT INBOX",
        "p8 FETCH 6:* (FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])",
        "p9 APPEND INBOX {0+}\r\n",
        "q LOGOUT"]),
    ("folders", [
        L, "d1 CREATE a/b/c", 'd2 LIST "" "*"', 'd3 LIST "" "%"',
        'd4 LIST "" "a/%"', 'd5 LIST "" ""', 'd6 LIST a "*"',
        "d7 CREATE a", "d8 CREATE INBOX", "d9 RENAME a/b x",
        'd10 LIST "" "*"', "d11 RENAME nosuch y", "d12 RENAME x a",
        "d13 DELETE x/c", "d14 DELETE x", 'd15 LIST "" "*"',
        "d16 DELETE INBOX", "d17 DELETE nosuch", "d18 SELECT nosuch",
        "d19 STATUS x (MESSAGES)", "d20 STATUS nosuch (MESSAGES)",
        # (RENAME INBOX: Dovecot's Maildir refuses it, buzon follows
        # RFC 3501; not compared)
        "d25 SUBSCRIBE x", 'd26 LSUB "" "*"', "d27 UNSUBSCRIBE x",
        'd28 LSUB "" "*"', 'd29 CREATE "with space"',
        'd30 LIST "" "with*"', "d31 CREATE &AOk-t&AOk-",
        'd32 LIST "" "&AOk-*"', "d33 CREATE ../etc", "d34 CREATE a/",
        'd35 LIST "" INBOX', 'd36 LIST "" inbox', "d37 SELECT inbox",
        "d38 STATUS INBOX (BOGUS)", "q LOGOUT"]),
    ("bad-syntax", [
        # Dovecot closes after three bad commands before login
        "x1 LOGIN a", "x2 NOOP", "x3 SELECT INBOX", "x4 NOOP", L,
        # (CAPABILITY with arguments: Dovecot OK, buzon BAD, as the grammar
        # says; an empty line: Dovecot answers "* BAD", buzon ignores it)
        "x5 FOO", "x7", "x8 LOGIN a b", "y1 SELECT", "y2 FETCH 1 FLAGS", "y3 SELECT INBOX",
        "y4 FETCH", "y5 FETCH 1", "y6 FETCH 1 (FLAGS",
        # (STORE 1 FLAGS without a list: Dovecot OK, the grammar BAD)
        "y8 STORE 1 +FOO (\\Seen)", "y9 SEARCH", "y10 COPY 1",
        "y11 UID", "y12 FETCH 0 FLAGS", "y13 FETCH 1:0 FLAGS",
        "y14 FETCH 99 FLAGS", "y15 LIST", "y16 CREATE",
        "y17 STATUS INBOX", "y18 APPEND", "y19 NOOP",
        "q LOGOUT"]),
    ("more", [
        L, "s SELECT INBOX",
        "m1 STORE 1,3,5 +FLAGS.SILENT (\\Deleted)", "m2 EXPUNGE",
        "m3 FETCH 1:* (UID FLAGS)", "m4 UID FETCH 1:3 FLAGS",
        "m5 FETCH 1 BODY.PEEK[]<1000.10>",
        # (<0.0>: Dovecot takes it, the grammar has nz-number)
        "m7 FETCH 1 (BODY.PEEK[HEADER.FIELDS ({7}\r\nSubject)])",
        "m8 STORE 2 +FLAGS (NewKey)", "m9 FETCH 2 FLAGS",
        "m10 APPEND INBOX (Other \\Answered) {%d+}\r\n%s" % (
            len(APPEND_MSG), APPEND_MSG),
        "m11 NOOP", "m12 SEARCH KEYWORD Other", "m13 SEARCH ANSWERED",
        "m14 SEARCH CHARSET UTF-8 BODY {5}\r\ncaf\u00e9".encode(),
        "m15 STATUS INBOX (MESSAGES UIDNEXT UNSEEN)",
        'm16 LIST "" "%/%"', 'm17 LIST "" "INBOX*"', 'm18 LIST "" "*x*"',
        "m19 CREATE p/q", 'm20 LIST "" "%/%"', 'm21 LIST "p" "%"',
        "m22 COPY 1:* p/q", "m23 SELECT p/q", "m24 MOVE 1,3 INBOX",
        "m25 FETCH 1:* (UID ENVELOPE)", "m26 UID EXPUNGE 1:*",
        "m27 STORE 1 +FLAGS (\\Deleted)", "m28 UID EXPUNGE 1:*",
        "m29 CLOSE", "m30 UNSELECT", "m31 EXAMINE INBOX",
        "m32 FETCH 1:* FLAGS",
        # (EXPUNGE in EXAMINE: Dovecot OK, buzon NO; both allowed)
        "m34 UNSELECT",
        "m35 FETCH 1 FLAGS", "q LOGOUT"]),
    ("split-literals", [
        L,
        (b"k1 SELECT {5}\r\n", b"INB", b"OX\r\n"),
        (b"k2 FE", b"TCH 1 (FL", b"AGS)", b"\r\n"),
        (b"k3 SEARCH SUBJECT {6+}\r\nre", b"p", b"ort\r\n"),
        (b"k4 LIST \"\" {1}\r\n", b"*", b"\r\n"),
        (b"k5 NOOP\r", b"\n"),
        "q LOGOUT"]),
]

# untagged response codes compared (others are texts or extensions)
KEPT_CODES = ("UIDNEXT", "UNSEEN", "PERMANENTFLAGS", "READ-ONLY",
              "READ-WRITE", "TRYCREATE", "COPYUID", "APPENDUID",
              "UIDVALIDITY")


# ---- a small parser for response data ----

TOKEN = re.compile(rb'\s*(?:(\()|(\))|"((?:[^"\\]|\\.)*)"|\{(\d+)\}\r\n|'
                   rb'((?:[^\s()\[\]"]|\[[^\]]*\])+))', re.S)


def parse_list(data, pos=0):
    """data[pos:] as nested Python lists: strings (quoted or literal) as
    ('s', bytes), atoms as bytes upper-cased except NIL -> None."""
    out = []
    while pos < len(data):
        m = TOKEN.match(data, pos)
        if m is None:
            if data[pos:].strip() == b"":
                break
            raise ValueError("bad data at %d: %r" % (pos, data[pos:pos + 40]))
        pos = m.end()
        if m.group(1):
            sub, pos = parse_list(data, pos)
            out.append(sub)
        elif m.group(2):
            return out, pos
        elif m.group(3) is not None:
            out.append(("s", re.sub(rb"\\(.)", rb"\1", m.group(3))))
        elif m.group(4) is not None:
            n = int(m.group(4))
            out.append(("s", data[pos:pos + n]))
            pos += n
        else:
            a = m.group(5)
            out.append(None if a.upper() == b"NIL" else a)
    return out, pos


def canon_string(v):
    """Strings compared by value, atoms case-insensitive."""
    if isinstance(v, list):
        return [canon_string(x) for x in v]
    if isinstance(v, tuple):
        return v
    if isinstance(v, bytes):
        return v.upper()
    return v


def fetch_items(data):
    """The attribute list of a FETCH response as a dict name -> value."""
    lst, _ = parse_list(data)
    if len(lst) != 1 or not isinstance(lst[0], list):
        raise ValueError("FETCH data not one list: %r" % data)
    items = lst[0]
    d = {}
    for i in range(0, len(items) - 1, 2):
        name = items[i].upper()
        val = items[i + 1]
        # BODY[HEADER.FIELDS (A B)] names: spacing canonical
        name = re.sub(rb"\s+", b" ", name).replace(b'"', b"")
        if name in (b"INTERNALDATE", b"MODSEQ"):
            val = b"*"
        elif name == b"FLAGS":
            val = sorted(f.upper() for f in val)
        else:
            val = canon_string(val)
        d[name] = val
    return d


def normalise(line):
    """One response line as a comparable value, or None when it carries
    nothing both servers must agree on."""
    if line.startswith(b"+"):
        return ("+",)
    if not line.startswith(b"* "):
        parts = line.split(b" ", 2)
        status = parts[1].upper() if len(parts) > 1 else b""
        code = None
        if len(parts) > 2 and parts[2].startswith(b"["):
            c = parts[2][1:].split(b"]", 1)[0].split(b" ")
            if c[0].upper() in KEPT_CODES:
                code = c[0].upper()
                if code in (b"COPYUID", b"APPENDUID"):
                    code = b" ".join([code] + c[2:])
        return ("tagged", status, code)
    rest = line[2:]
    m = re.match(rb"(\d+) (EXISTS|RECENT|EXPUNGE)$", rest, re.I)
    if m:
        return (m.group(2).upper().decode(), int(m.group(1)))
    m = re.match(rb"(\d+) FETCH (.*)$", rest, re.I | re.S)
    if m:
        return ("FETCH", int(m.group(1)), fetch_items(m.group(2)))
    word = rest.split(b" ", 1)[0].upper()
    if word in (b"OK", b"NO", b"BAD"):
        m = re.match(rb"(?:OK|NO|BAD) \[([^\]]*)\]", rest, re.I)
        if m is None:
            return None
        c = m.group(1).split(b" ", 1)
        name = c[0].upper()
        if name not in KEPT_CODES:
            return None
        if name == b"UIDVALIDITY":
            return ("code", name)
        if name == b"PERMANENTFLAGS":
            fl, _ = parse_list(c[1])
            return ("code", name, sorted(f.upper() for f in fl[0]))
        return ("code", name, c[1] if len(c) > 1 else b"")
    if word == b"FLAGS":
        fl, _ = parse_list(rest[5:])
        return ("FLAGS", sorted(f.upper() for f in fl[0]))
    if word in (b"SEARCH", b"SORT"):
        return (word.decode(), sorted(int(x) for x in rest.split()[1:]))
    if word in (b"LIST", b"LSUB"):
        lst, _ = parse_list(rest[len(word) + 1:])
        kept = (b"\\NOSELECT", b"\\HASCHILDREN", b"\\HASNOCHILDREN",
                b"\\NOINFERIORS", b"\\NONEXISTENT")
        flags = sorted(f.upper() for f in lst[0] if f.upper() in kept)
        name = lst[2][1] if isinstance(lst[2], tuple) else lst[2]
        if name.upper() == b"INBOX":
            name = b"INBOX"
        return (word.decode(), flags, lst[1], name)
    if word == b"STATUS":
        lst, _ = parse_list(rest[7:])
        name = lst[0][1] if isinstance(lst[0], tuple) else lst[0]
        items = dict((lst[1][i].upper(), lst[1][i + 1])
                     for i in range(0, len(lst[1]) - 1, 2))
        items.pop(b"UIDVALIDITY", None)
        items.pop(b"HIGHESTMODSEQ", None)
        return ("STATUS", name, sorted(items.items()))
    if word == b"BYE":
        return ("BYE",)
    # CAPABILITY, ID, NAMESPACE, ENABLED, ESEARCH...: texts and lists
    return None


def compare(lines):
    """The response lines of one command as a comparable summary: the
    tagged status, and the kept untagged data (order kept per kind)."""
    out = []
    for ln in lines:
        n = normalise(ln)
        if n is not None:
            out.append(n)
    if any(x[0] == "EXPUNGE" for x in out):
        # Dovecot announces the new RECENT count after an expunge; RFC
        # 3501 leaves it to the client to count
        out = [x for x in out if x[0] != "RECENT"]
    tagged = [x for x in out if x[0] in ("tagged", "+")]
    rest = [x for x in out if x[0] not in ("tagged", "+")]
    # kinds may interleave differently (EXISTS before FLAGS...); within
    # a kind the order is fixed, but LIST and LSUB come in any order
    rest.sort(key=lambda x: (x[0], x[3]) if x[0] in ("LIST", "LSUB")
              else (x[0],))
    return rest, tagged


def store_fetches(sd, sb):
    """The FETCH responses of a STORE that only one server sent dropped."""
    fd = [x for x in sd[0] if x[0] == "FETCH"]
    fb = [x for x in sb[0] if x[0] == "FETCH"]
    keep_d = [x for x in sd[0] if x[0] != "FETCH" or x in fb]
    keep_b = [x for x in sb[0] if x[0] != "FETCH" or x in fd]
    return (keep_d, sd[1]), (keep_b, sb[1])


class Side:
    """One server's end of a session."""

    def __init__(self, name, port, user, password):
        self.name = name
        self.port = port
        self.user = user
        self.password = password
        self.c = imapref.Raw(port)

    def run(self, item):
        """The response lines to one scripted item."""
        if item == L:
            return self.c.cmd('L LOGIN "%s" "%s"' % (self.user,
                                                     self.password))
        if isinstance(item, bytes):
            return self.c.cmd(item)
        if isinstance(item, tuple):
            tag = item[0].split(b" ", 1)[0]
            for chunk in item:
                self.c.send(chunk)
                time.sleep(0.05)
                # a synchronising literal's '+' arrives meanwhile; read
                # it now so the tagged answer is what until() sees
                if re.search(rb"\{\d+\}\r\n$", chunk):
                    ln = self.c.line()
                    if not ln.startswith(b"+"):
                        return [ln]
            return self.c.until(tag)
        line = item.format(user='"%s"' % self.user,
                           password='"%s"' % self.password) \
            if "{user}" in item else item
        if item == "" or " " not in item:
            # an empty line or a lone tag: the answer comes tagged '*' or
            # with whatever tag the server takes; read one line
            self.c.send(line + "\r\n")
            ln = self.c.line()
            if ln.startswith(b"* BAD") and line:
                # buzon answers a lone tag untagged, Dovecot tagged
                ln = line.encode() + ln[1:]
            return [ln]
        return self.c.cmd(line)

    def close(self):
        self.c.close()


class DifferentialImapBase(unittest.TestCase):
    inst = None
    dovecot = None
    counter = 0

    @classmethod
    def setUpClass(cls):
        cls.dovecot = imapref.Dovecot()
        for name, _ in SESSIONS:
            cls.dovecot.add_user("d-" + name, MESSAGES)
        cls.dovecot.add_user("d-check", MESSAGES)
        if not REF_ONLY:
            if not buzontest.have_buzon() or \
                    "buzon-imapd" not in buzontest.built_daemons():
                cls.dovecot = None
                raise AssertionError("buzon-imapd is not built (set "
                                     "IMAP_REF_ONLY=1 to run the sessions "
                                     "against Dovecot alone)")
            cls.inst = Instance(listeners=["imap"], overrides={
                "auth_failure_delay": "0", "imap_max_errors": "100"})
            r = cls.inst.cli("domain", "add", DOMAIN)
            assert r.returncode == 0, r.stderr
            for name, _ in SESSIONS:
                addr = "b-%s@%s" % (name, DOMAIN)
                r = cls.inst.cli("user", "add", addr, "--password-stdin",
                                 input=PASSWORD + "\n")
                assert r.returncode == 0, r.stderr
                md = os.path.join(cls.inst.dir, "mail", DOMAIN,
                                  "b-" + name)
                for sub in ("tmp", "new", "cur"):
                    os.makedirs(os.path.join(md, sub), exist_ok=True)
                imapref.write_messages(md, MESSAGES)
                buzontest.chown_tree(md)
            cls.inst.start()
        cls.dovecot.start()
        imapref.wait_login(cls.dovecot.port, "d-check", imapref.PASSWORD)

    @classmethod
    def tearDownClass(cls):
        if cls.dovecot is not None:
            cls.dovecot.stop()
        if cls.inst is not None:
            cls.inst.cleanup()

    def tearDown(self):
        if self.inst is not None:
            reports = self.inst.sanitizer_reports()
            self.assertFalse(reports, reports)

    def sides(self, name):
        d = Side("dovecot", self.dovecot.port, "d-" + name,
                 imapref.PASSWORD)
        if REF_ONLY:
            return d, None
        b = Side("buzon", self.inst.port("imap"),
                 "b-%s@%s" % (name, DOMAIN), PASSWORD)
        return d, b

    def run_session(self, name, items):
        d, b = self.sides(name)
        diffs = []
        try:
            self.assertTrue(d.c.greeting.startswith(b"* OK"))
            if b is not None:
                self.assertTrue(b.c.greeting.startswith(b"* OK"),
                                b.c.greeting)
            for item in items:
                rd = d.run(item)
                sd = compare(rd)
                if os.environ.get("IMAP_REF_SHOW"):
                    print("C: %r\n%s" % (item, "\n".join(
                        "S: %r" % x for x in rd)))
                if b is None:
                    self.assertTrue(rd, item)
                    continue
                try:
                    rb = b.run(item)
                except (OSError, EOFError) as e:
                    diffs.append("%r: buzon %s (dovecot %r)" % (
                        item, e, rd[-1:]))
                    break
                sb = compare(rb)
                if isinstance(item, str) and re.match(
                        r"\S+ (UID )?STORE ", item, re.I):
                    # a FETCH for flags that did not change is allowed
                    # (Dovecot leaves it out, buzon sends it)
                    sd, sb = store_fetches(sd, sb)
                if sb != sd:
                    diffs.append("C: %r\n  dovecot: %r\n  buzon:   %r\n"
                                 "  dovecot raw: %r\n  buzon raw:   %r" % (
                                     item, sd, sb, rd, rb))
        finally:
            d.close()
            if b is not None:
                b.close()
        self.assertFalse(diffs, "\n".join(diffs))


def _make(name, items):
    def test(self):
        self.run_session(name, items)
    test.__name__ = "test_" + name.replace("-", "_")
    return test


class DifferentialImap(DifferentialImapBase):
    pass


for _name, _items in SESSIONS:
    setattr(DifferentialImap, "test_" + _name.replace("-", "_"),
            _make(_name, _items))


if __name__ == "__main__":
    unittest.main()
