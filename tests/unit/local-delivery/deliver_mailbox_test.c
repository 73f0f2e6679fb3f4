/* SPDX-License-Identifier: MIT */
/*
 * deliver_mailbox_test.c - what local delivery writes, as the readers
 * (common/mailbox, under pop3d and imapd) see it: new mail appears at the
 * next sync of an open mailbox, with the right wire size, and reads back
 * as the message with CRLF line ends and mboxrd quoting undone.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deliver.h"
#include "mailbox.h"
#include "str.h"

static char	 tdir[64];

static void
setup(void)
{
	(void)str_copy(tdir, "/tmp/deliver_mailbox_test.XXXXXX", sizeof(tdir));
	cr_assert_not_null(mkdtemp(tdir));
}

static void
teardown(void)
{
	char	 cmd[128];

	cr_assert(str_printf(cmd, sizeof(cmd), "rm -rf '%s'", tdir));
	(void)!system(cmd);
}

TestSuite(deliver_mailbox, .init = setup, .fini = teardown);

static const char	 msg[] = "Subject: hi\r\n\r\nFrom me\r\n>From me\r\n"
    "end\r\n";
static const char	 wire[] = "Return-Path: <alice@example.com>\r\n"
    "Delivered-To: bob@example.org\r\nSubject: hi\r\n\r\nFrom me\r\n"
    ">From me\r\nend\r\n";

static void
put(const char *path, enum deliver_format fmt)
{
	struct deliver_conf	 c;
	struct deliver_rcpt	 r;
	struct deliver_msg	 m;
	struct fail		 f;

	deliver_conf_init(&c);
	c.hostname = "mx.example.org";
	memset(&r, 0, sizeof(r));
	r.sender = "alice@example.com";
	r.address = "bob@example.org";
	r.path = path;
	r.format = fmt;
	memset(&m, 0, sizeof(m));
	m.buf = msg;
	m.fd = -1;
	m.len = sizeof(msg) - 1;
	cr_assert_eq(deliver(&c, &r, &m, NULL, &f), 0, "%s", f.text);
}

/* Message seq of mb, read whole through the stream. */
static void
assert_wire(struct mailbox *mb, uint32_t seq)
{
	struct mailbox_stream	*st;
	struct mailbox_msg	 mm;
	struct fail		 f;
	char			 buf[512];
	ssize_t			 n;
	size_t			 len = 0;

	cr_assert_eq(mailbox_msg(mb, seq, &mm), 0);
	cr_assert_eq(mm.wire_size, sizeof(wire) - 1);
	st = mailbox_stream_open(mb, seq, &f);
	cr_assert_not_null(st, "%s", f.text);
	while ((n = mailbox_stream_read(st, buf + len, sizeof(buf) - len)) > 0)
		len += (size_t)n;
	cr_assert_eq(n, 0);
	cr_assert_eq(len, sizeof(wire) - 1);
	cr_assert(memcmp(buf, wire, len) == 0, "%.*s", (int)len, buf);
	mailbox_stream_close(&st);
}

static void
appears_while_open(enum mailbox_format mfmt, enum deliver_format dfmt,
    const char *target)
{
	struct mailbox_location	 loc;
	struct mailbox		*mb;
	struct mailbox_changes	 ch;
	struct fail		 f;
	char			 path[256];

	memset(&loc, 0, sizeof(loc));
	loc.root = tdir;
	loc.format = mfmt;
	cr_assert(str_printf(path, sizeof(path), "%s%s", tdir, target));
	put(path, dfmt);
	mb = mailbox_open(&loc, "INBOX", 0, &f);
	cr_assert_not_null(mb, "%s", f.text);
	cr_assert_eq(mailbox_count(mb), 1);
	assert_wire(mb, 1);
	/* Delivered while the mailbox is open: there at the next sync. */
	put(path, dfmt);
	cr_assert_eq(mailbox_sync(mb, &ch, &f), 0, "%s", f.text);
	cr_assert_eq(ch.new_count, 2);
	assert_wire(mb, 2);
	mailbox_close(&mb);
}

Test(deliver_mailbox, maildir)
{
	appears_while_open(MAILBOX_MAILDIR, DELIVER_MAILDIR, "");
}

Test(deliver_mailbox, mbox)
{
	appears_while_open(MAILBOX_MBOX, DELIVER_MBOX, "/INBOX");
}
