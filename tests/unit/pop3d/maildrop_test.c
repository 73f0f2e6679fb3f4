/* SPDX-License-Identifier: MIT */
/*
 * maildrop_test.c - a POP3 session's INBOX over the real mailbox code:
 * wire sizes of LF-only storage equal the bytes RETR sends, UIDLs come
 * from the index and stay put, the maildrop lock gives [IN-USE], and only
 * the UPDATE state deletes or flags
 */
#include <criterion/criterion.h>

#include "../common/mailbox_testlib.h"
#include "accounts.h"
#include "pop3d.h"

static char			*root;
static struct accounts		*acc;
static struct accounts_user	 alice;
static char			 inbox[4096];

static void
setup(void)
{
	struct accounts_conf	 ac = { 0 };
	char			 err[256], p[4096];

	root = tl_mkroot();
	ac.state_dir = root;
	acc = accounts_open(&ac, err, sizeof(err));
	cr_assert_not_null(acc, "%s", err);
	accounts_user_init(&alice, "alice@example.test");
	cr_assert(str_printf(p, sizeof(p), "%s/mail", root));
	cr_assert_eq(mkdir(p, 0700), 0);
	cr_assert(str_printf(p, sizeof(p), "%s/mail/example.test", root));
	cr_assert_eq(mkdir(p, 0700), 0);
	cr_assert(str_printf(inbox, sizeof(inbox), "%s/alice", p));
	tl_maildir(inbox);
}

static void
teardown(void)
{
	accounts_close(&acc);
	tl_rmtree(root);
	free(root);
}

TestSuite(maildrop, .init = setup, .fini = teardown);

static void
open_ok(struct pop3_maildrop *d)
{
	char	 reply[256] = "";

	cr_assert_eq(maildrop_open(d, acc, &alice, true, "t", reply,
	    sizeof(reply)), 0, "%s", reply);
}

/* Everything RETR n would send, terminator included. */
static char *
retr(struct pop3_maildrop *d, uint32_t n, bool top, uint64_t lines)
{
	struct mailbox_stream	*ms;
	struct pop3_xfer	 x;
	struct str		 all;
	char			 buf[100];
	size_t			 len;
	int			 r;

	ms = maildrop_stream(d, n);
	cr_assert_not_null(ms);
	str_init(&all, 0);
	pop3_xfer_init(&x, maildrop_read, ms, top, lines);
	do {
		r = pop3_xfer_produce(&x, buf, sizeof(buf), &len);
		cr_assert_neq(r, -1);
		cr_assert_eq(str_append(&all, buf, len), 0);
	} while (r == 0);
	if (!top)
		cr_assert_eq(x.sent, d->msgs[n - 1].size);
	pop3_xfer_release(&x);
	mailbox_stream_close(&ms);
	return str_detach(&all, NULL);
}

Test(maildrop, lf_storage_wire_sizes)
{
	struct pop3_maildrop	 d;
	char			*got;

	tl_deliver(inbox, "1.M1.h", "From: a@b\nSubject: one\n\nhello\n");
	tl_deliver(inbox, "2.M2.h", "Subject: two\n\n.dot\nlast");
	tl_deliver(inbox, "3.M3.h", "Subject: three\r\n\r\ncrlf\r\n");
	open_ok(&d);
	cr_assert_eq(d.count, 3);
	cr_assert_eq(d.msgs[0].size, 34);
	cr_assert_eq(d.msgs[1].size, 26);
	cr_assert_eq(d.msgs[2].size, 24);
	cr_assert_eq(d.size, 34 + 26 + 24);
	got = retr(&d, 1, false, 0);
	cr_assert_str_eq(got,
	    "From: a@b\r\nSubject: one\r\n\r\nhello\r\n.\r\n");
	free(got);
	got = retr(&d, 2, false, 0);
	cr_assert_str_eq(got, "Subject: two\r\n\r\n..dot\r\nlast\r\n.\r\n");
	free(got);
	got = retr(&d, 3, true, 0);
	cr_assert_str_eq(got, "Subject: three\r\n\r\n.\r\n");
	free(got);
	maildrop_close(&d);
}

Test(maildrop, uidl_from_index_is_stable)
{
	struct pop3_maildrop	 d;
	char			 u1[24], u2[24], again[24];
	uint32_t		 uidvalidity;

	tl_deliver(inbox, "1.M1.h", "Subject: one\n\n1\n");
	tl_deliver(inbox, "2.M2.h", "Subject: two\n\n2\n");
	open_ok(&d);
	cr_assert_eq(d.count, 2);
	uidvalidity = d.uidvalidity;
	cr_assert_neq(uidvalidity, 0);
	cr_assert_lt(d.msgs[0].uid, d.msgs[1].uid);
	pop3_uidl(d.msgs[0].uid, d.uidvalidity, u1, sizeof(u1));
	pop3_uidl(d.msgs[1].uid, d.uidvalidity, u2, sizeof(u2));
	cr_assert_str_neq(u1, u2);
	/* delete the first: the second keeps its UIDL as message 1 */
	d.msgs[0].deleted = true;
	d.ndeleted = 1;
	cr_assert_eq(maildrop_update(&d, true, "t"), 0);
	maildrop_close(&d);
	tl_deliver(inbox, "3.M3.h", "Subject: three\n\n3\n");
	open_ok(&d);
	cr_assert_eq(d.count, 2);
	cr_assert_eq(d.uidvalidity, uidvalidity);
	pop3_uidl(d.msgs[0].uid, d.uidvalidity, again, sizeof(again));
	cr_assert_str_eq(again, u2);
	pop3_uidl(d.msgs[1].uid, d.uidvalidity, again, sizeof(again));
	cr_assert_str_neq(again, u1);
	cr_assert_str_neq(again, u2);
	maildrop_close(&d);
}

Test(maildrop, second_session_in_use)
{
	struct pop3_maildrop	 d, d2;
	char			 reply[256];

	tl_deliver(inbox, "1.M1.h", "Subject: one\n\n1\n");
	open_ok(&d);
	cr_assert_eq(maildrop_open(&d2, acc, &alice, true, "t2", reply,
	    sizeof(reply)), -1);
	cr_assert_str_eq(reply, "-ERR [IN-USE] Mailbox is locked by another "
	    "POP3 session.");
	maildrop_close(&d);
	open_ok(&d2);
	maildrop_close(&d2);
}

/* pop3_lock_session = no: a second device gets its own view; what the
 * first expunges is gone for it, and deleting it again is harmless. */
Test(maildrop, second_session_without_lock)
{
	struct pop3_maildrop	 d, d2;
	struct mailbox_stream	*ms;
	char			 reply[256] = "";

	tl_deliver(inbox, "1.M1.h", "Subject: one\n\n1\n");
	tl_deliver(inbox, "2.M2.h", "Subject: two\n\n2\n");
	cr_assert_eq(maildrop_open(&d, acc, &alice, false, "t", reply,
	    sizeof(reply)), 0, "%s", reply);
	cr_assert_eq(maildrop_open(&d2, acc, &alice, false, "t2", reply,
	    sizeof(reply)), 0, "%s", reply);
	cr_assert_eq(d2.count, 2);
	d.msgs[0].deleted = true;
	cr_assert_eq(maildrop_update(&d, true, "t"), 0);
	maildrop_close(&d);
	cr_assert_eq(d2.count, 2);
	cr_assert_null(maildrop_stream(&d2, 1));
	ms = maildrop_stream(&d2, 2);
	cr_assert_not_null(ms);
	mailbox_stream_close(&ms);
	d2.msgs[0].deleted = true;
	cr_assert_eq(maildrop_update(&d2, true, "t2"), 0);
	maildrop_close(&d2);
	open_ok(&d);
	cr_assert_eq(d.count, 1);
	maildrop_close(&d);
}

Test(maildrop, view_fixed_at_login)
{
	struct pop3_maildrop	 d;

	tl_deliver(inbox, "1.M1.h", "Subject: one\n\n1\n");
	open_ok(&d);
	tl_deliver(inbox, "2.M2.h", "Subject: two\n\n2\n");
	cr_assert_eq(d.count, 1);
	cr_assert_eq(maildrop_update(&d, true, "t"), 0);
	maildrop_close(&d);
	open_ok(&d);
	cr_assert_eq(d.count, 2);
	maildrop_close(&d);
}

Test(maildrop, close_without_update_changes_nothing)
{
	struct pop3_maildrop	 d;

	tl_deliver(inbox, "1.M1.h", "Subject: one\n\n1\n");
	open_ok(&d);
	d.msgs[0].deleted = true;
	d.msgs[0].retrieved = true;
	maildrop_close(&d);
	open_ok(&d);
	cr_assert_eq(d.count, 1);
	maildrop_close(&d);
}

static unsigned int
flags_of(uint32_t seq)
{
	struct mailbox_location	 loc = { inbox, MAILBOX_MAILDIR, NULL };
	struct mailbox		*mb;
	struct mailbox_msg	 m;
	unsigned int		 flags;

	mb = mailbox_open(&loc, "INBOX", MAILBOX_RDONLY, NULL);
	cr_assert_not_null(mb);
	cr_assert_eq(mailbox_msg(mb, seq, &m), 0);
	flags = m.flags;
	mailbox_close(&mb);
	return flags;
}

Test(maildrop, retrieved_marked_seen_at_update)
{
	struct pop3_maildrop	 d;

	tl_deliver(inbox, "1.M1.h", "Subject: one\n\n1\n");
	tl_deliver(inbox, "2.M2.h", "Subject: two\n\n2\n");
	open_ok(&d);
	d.msgs[1].retrieved = true;
	cr_assert_eq(maildrop_update(&d, true, "t"), 0);
	maildrop_close(&d);
	cr_assert_eq(flags_of(1) & MAILBOX_SEEN, 0);
	cr_assert_neq(flags_of(2) & MAILBOX_SEEN, 0);
}

Test(maildrop, mark_seen_off)
{
	struct pop3_maildrop	 d;

	tl_deliver(inbox, "1.M1.h", "Subject: one\n\n1\n");
	open_ok(&d);
	d.msgs[0].retrieved = true;
	cr_assert_eq(maildrop_update(&d, false, "t"), 0);
	maildrop_close(&d);
	cr_assert_eq(flags_of(1) & MAILBOX_SEEN, 0);
}

Test(maildrop, empty_mailbox)
{
	struct pop3_maildrop	 d;

	open_ok(&d);
	cr_assert_eq(d.count, 0);
	cr_assert_eq(d.size, 0);
	cr_assert_eq(maildrop_update(&d, true, "t"), 0);
	maildrop_close(&d);
}

Test(maildrop, mbox_user)
{
	struct pop3_maildrop	 d;
	char			 p[4096], *got;
	static const char	 mbox[] =
	    "From a@b Mon Nov 23 00:00:00 2026\n"
	    "Subject: one\n\n>From quoted\n.dot\n\n"
	    "From a@b Mon Nov 23 00:00:01 2026\n"
	    "Subject: two\n\nbody\n\n";

	alice.format = ACCOUNTS_MBOX;
	cr_assert(str_printf(p, sizeof(p), "%s/mail/example.test/alice",
	    root));
	(void)mkdir(p, 0700);
	cr_assert(str_printf(p, sizeof(p), "%s/mail/example.test/alice/INBOX",
	    root));
	tl_write(p, mbox, sizeof(mbox) - 1);
	open_ok(&d);
	cr_assert_eq(d.count, 2);
	got = retr(&d, 1, false, 0);
	cr_assert_str_eq(got, "Subject: one\r\n\r\nFrom quoted\r\n..dot\r\n"
	    ".\r\n");
	free(got);
	d.msgs[0].deleted = true;
	d.ndeleted = 1;
	cr_assert_eq(maildrop_update(&d, true, "t"), 0);
	maildrop_close(&d);
	open_ok(&d);
	cr_assert_eq(d.count, 1);
	got = retr(&d, 1, false, 0);
	cr_assert_str_eq(got, "Subject: two\r\n\r\nbody\r\n.\r\n");
	free(got);
	maildrop_close(&d);
}

/* LIST and UIDL lines come out whole, skip deleted messages, and fit any
 * read size from 40 bytes up. */
Test(maildrop, listing)
{
	struct pop3_maildrop	 d;
	struct pop3_msg		 msgs[3] = {
		{ 5, 100, false, false }, { 6, 2000, true, false },
		{ 9, 30, false, false },
	};
	struct pop3_listing	 l;
	char			 buf[64], all[256];
	size_t			 n = 0;
	ssize_t			 r;

	memset(&d, 0, sizeof(d));
	d.msgs = msgs;
	d.count = 3;
	d.uidvalidity = 0x10;
	l = (struct pop3_listing){ &d, 1, false, "t" };
	while ((r = maildrop_list_read(&l, buf, 40)) > 0) {
		memcpy(all + n, buf, (size_t)r);
		n += (size_t)r;
	}
	cr_assert_eq(r, 0);
	all[n] = '\0';
	cr_assert_str_eq(all, "1 100\r\n3 30\r\n");
	l = (struct pop3_listing){ &d, 1, true, "t" };
	n = 0;
	while ((r = maildrop_list_read(&l, buf, sizeof(buf))) > 0) {
		memcpy(all + n, buf, (size_t)r);
		n += (size_t)r;
	}
	all[n] = '\0';
	cr_assert_str_eq(all, "1 0000000500000010\r\n3 0000000900000010\r\n");
}

/* What IMAP does to the same INBOX: an EXPUNGE between POP3 sessions
 * leaves the other UIDLs alone; one during a session makes RETR of that
 * message fail and the session's own UPDATE skip it. */
Test(maildrop, imap_expunge)
{
	struct mailbox_location	 loc = { inbox, MAILBOX_MAILDIR, NULL };
	struct pop3_maildrop	 d;
	struct mailbox		*imap;
	uint32_t		 uid, uids[3];
	char			*got;

	tl_deliver(inbox, "1.M1.h", "Subject: one\n\n1\n");
	tl_deliver(inbox, "2.M2.h", "Subject: two\n\n2\n");
	tl_deliver(inbox, "3.M3.h", "Subject: three\n\n3\n");
	open_ok(&d);
	uids[0] = d.msgs[0].uid;
	uids[1] = d.msgs[1].uid;
	uids[2] = d.msgs[2].uid;
	maildrop_close(&d);

	imap = mailbox_open(&loc, "INBOX", 0, NULL);
	cr_assert_not_null(imap);
	cr_assert_eq(mailbox_expunge(imap, &uids[0], 1, NULL), 0);
	open_ok(&d);
	cr_assert_eq(d.count, 2);
	cr_assert_eq(d.msgs[0].uid, uids[1]);
	cr_assert_eq(d.msgs[1].uid, uids[2]);

	/* IMAP expunges message 2 (UID uids[2]) during the POP3 session */
	uid = uids[2];
	cr_assert_eq(mailbox_sync(imap, NULL, NULL), 0);
	cr_assert_eq(mailbox_expunge(imap, &uid, 1, NULL), 0);
	cr_assert_eq(d.count, 2);	/* the view does not move */
	cr_assert_null(maildrop_stream(&d, 2));
	got = retr(&d, 1, false, 0);
	cr_assert_str_eq(got, "Subject: two\r\n\r\n2\r\n.\r\n");
	free(got);
	d.msgs[0].deleted = d.msgs[1].deleted = true;
	d.ndeleted = 2;
	cr_assert_eq(maildrop_update(&d, true, "t"), 0);
	maildrop_close(&d);
	mailbox_close(&imap);
	open_ok(&d);
	cr_assert_eq(d.count, 0);
	maildrop_close(&d);
}

/* IMAP flags (\Deleted included) do not hide messages from POP3: only an
 * expunge does. */
Test(maildrop, imap_flags_leave_view_alone)
{
	struct mailbox_location	 loc = { inbox, MAILBOX_MAILDIR, NULL };
	struct pop3_maildrop	 d;
	struct mailbox		*imap;
	uint32_t		 uid;

	tl_deliver(inbox, "1.M1.h", "Subject: one\n\n1\n");
	imap = mailbox_open(&loc, "INBOX", 0, NULL);
	cr_assert_not_null(imap);
	cr_assert_eq(mailbox_count(imap), 1);
	uid = mailbox_uidnext(imap) - 1;
	cr_assert_eq(mailbox_store(imap, &uid, 1, MAILBOX_FLAGS_ADD,
	    MAILBOX_DELETED, NULL, 0, 0, NULL, NULL, NULL), 0);
	mailbox_close(&imap);
	open_ok(&d);
	cr_assert_eq(d.count, 1);
	cr_assert_eq(d.msgs[0].uid, uid);
	maildrop_close(&d);
}
