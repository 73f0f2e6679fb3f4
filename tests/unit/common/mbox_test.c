/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <sys/wait.h>
#include <time.h>

#define TL_WRAP_FSYNC_DIR
#include "mailbox_testlib.h"
#include "mbox_lock.h"

static char *root;
static char inbox[4096];
static struct mailbox_location loc;

static void
setup(void)
{
	root = tl_mkroot();
	cr_assert(str_printf(inbox, sizeof(inbox), "%s/INBOX", root));
	loc.root = root;
	loc.format = MAILBOX_MBOX;
	loc.mbox_inbox = NULL;
}

static void
teardown(void)
{
	tl_rmtree(root);
	free(root);
}

TestSuite(mbox, .init = setup, .fini = teardown);

static const char three[] =
    "From alice@example.org Sat Nov 23 01:20:23 2026\n"
    "Subject: one\n"
    "\n"
    ">From the start\n"
    ">>From deeper\n"
    "> From not quoted\n"
    "\n"
    "From bob@example.org Sun Nov 24 02:00:00 2026\n"
    "Subject: two\n"
    "\n"
    "body two\n"
    "\n"
    "From carol@example.org Mon Nov 25 03:00:00 2026\n"
    "Subject: three\n"
    "\n"
    "body three\n"
    "\n";

static struct mailbox *
open_inbox(void)
{
	struct fail f;
	struct mailbox *mb = mailbox_open(&loc, "INBOX", 0, &f);

	cr_assert_not_null(mb, "open: %s", f.text);
	return mb;
}

static void
expect_msg(struct mailbox *mb, uint32_t seq, const char *want)
{
	struct mailbox_msg m;
	char	*got;
	size_t	 len, chunk;

	cr_assert_eq(mailbox_msg(mb, seq, &m), 0);
	for (chunk = 1; chunk < 2000; chunk += 999) {
		got = tl_fetch(mb, seq, chunk, &len);
		cr_assert_str_eq(got, want, "seq %u chunk %zu", seq, chunk);
		cr_assert_eq(m.wire_size, len, "seq %u", seq);
		free(got);
	}
}

Test(mbox, read_and_unquote)
{
	struct mailbox *mb;
	struct mailbox_msg m;

	tl_write(inbox, three, strlen(three));
	mb = open_inbox();
	cr_assert_eq(mailbox_format(mb), MAILBOX_MBOX);
	cr_assert_eq(mailbox_count(mb), 3);
	expect_msg(mb, 1, "Subject: one\r\n\r\nFrom the start\r\n"
	    ">From deeper\r\n> From not quoted\r\n");
	expect_msg(mb, 2, "Subject: two\r\n\r\nbody two\r\n");
	expect_msg(mb, 3, "Subject: three\r\n\r\nbody three\r\n");
	cr_assert_eq(mailbox_msg(mb, 2, &m), 0);
	cr_assert_eq(m.uid, 2);
	cr_assert_eq(m.internal_date, 1795485600);	/* Sun Nov 24 02:00 */
	mailbox_close(&mb);
}

Test(mbox, odd_files)
{
	struct mailbox *mb;
	static const char odd[] =
	    "garbage before\n"
	    "From a Sat Nov 23 01:20:23 2026\n"
	    "no blank line at the end\n"
	    "From b bad date\n"
	    "x\n"
	    "From c Sat Nov 23 01:20:23 2026";

	tl_write(inbox, odd, strlen(odd));
	mb = open_inbox();
	cr_assert_eq(mailbox_count(mb), 3);
	expect_msg(mb, 1, "no blank line at the end\r\n");
	expect_msg(mb, 2, "x\r\n");
	expect_msg(mb, 3, "");
	mailbox_close(&mb);
	tl_write(inbox, "", 0);
	mb = open_inbox();
	cr_assert_eq(mailbox_count(mb), 0);
	mailbox_close(&mb);
}

Test(mbox, appended_mail_detected)
{
	struct mailbox *mb;
	struct mailbox_changes ch;
	struct mbox_lock l;
	struct fail f;
	static const char more[] = "From dave Tue Nov 26 04:00:00 2026\n"
	    "Subject: four\n\nbody four\n\n";

	tl_write(inbox, three, strlen(three));
	mb = open_inbox();
	/* a delivery the way buzon-deliver does it */
	cr_assert_eq(mbox_lock_take(inbox, NULL, &l, &f), 0, "%s", f.text);
	cr_assert(l.dotlocked);
	cr_assert_eq(write(l.fd, more, strlen(more)), (ssize_t)strlen(more));
	mbox_lock_release(&l);
	cr_assert_eq(l.fd, -1);
	cr_assert(mailbox_has_changed(mb));
	cr_assert_eq(mailbox_sync(mb, &ch, &f), 0);
	cr_assert_eq(ch.new_count, 4);
	cr_assert_eq(ch.n_expunged, 0);
	expect_msg(mb, 4, "Subject: four\r\n\r\nbody four\r\n");
	cr_assert_eq(mailbox_msg(mb, 4, &(struct mailbox_msg){ 0 }), 0);
	mailbox_close(&mb);
}

Test(mbox, expunge_rewrites)
{
	struct mailbox *mb, *other;
	struct mailbox_changes ch;
	struct fail f;
	uint32_t uid = 2;
	char	*got;
	size_t	 len;
	static const char want[] =
	    "From alice@example.org Sat Nov 23 01:20:23 2026\n"
	    "Subject: one\n"
	    "\n"
	    ">From the start\n"
	    ">>From deeper\n"
	    "> From not quoted\n"
	    "\n"
	    "From carol@example.org Mon Nov 25 03:00:00 2026\n"
	    "Subject: three\n"
	    "\n"
	    "body three\n"
	    "\n";

	tl_write(inbox, three, strlen(three));
	mb = open_inbox();
	other = open_inbox();
	cr_assert_eq(mailbox_expunge(mb, &uid, 1, &f), 0, "%s", f.text);
	got = tl_read(inbox, &len);
	cr_assert_str_eq(got, want);
	free(got);
	/* a reader that has not synced still reads from the old file */
	expect_msg(other, 3, "Subject: three\r\n\r\nbody three\r\n");
	cr_assert_eq(mailbox_sync(other, &ch, &f), 0);
	cr_assert_eq(ch.n_expunged, 1);
	cr_assert_eq(ch.expunged_seqs[0], 2);
	cr_assert_eq(mailbox_count(other), 2);
	cr_assert_eq(mailbox_msg(other, 2, &(struct mailbox_msg){ 0 }), 0);
	expect_msg(other, 2, "Subject: three\r\n\r\nbody three\r\n");
	{
		struct mailbox_msg m;

		cr_assert_eq(mailbox_msg(other, 2, &m), 0);
		cr_assert_eq(m.uid, 3);
	}
	mailbox_close(&mb);
	mailbox_close(&other);
	mb = open_inbox();
	cr_assert_eq(mailbox_count(mb), 2);
	mailbox_close(&mb);
	/* no lock or temp file left behind */
	cr_assert(str_printf(inbox + strlen(inbox), 16, ".lock"));
	cr_assert_eq(access(inbox, F_OK), -1);
}

/* An expunge whose directory fsync fails is reported (the messages could
 * come back after a crash); the index still follows the new file. */
Test(mbox, expunge_reports_dir_fsync_failure)
{
	struct mailbox *mb;
	struct mailbox_msg m;
	struct fail f;
	uint32_t uid = 2, uidv;

	tl_write(inbox, three, strlen(three));
	mb = open_inbox();
	uidv = mailbox_uidvalidity(mb);
	tl_fsync_dir_fails = true;
	cr_assert_eq(mailbox_expunge(mb, &uid, 1, &f), -1);
	cr_assert(f.temp);
	cr_assert_str_eq(f.code, "4.3.0");
	tl_fsync_dir_fails = false;
	mailbox_close(&mb);
	mb = open_inbox();
	cr_assert_eq(mailbox_uidvalidity(mb), uidv);
	cr_assert_eq(mailbox_count(mb), 2);
	cr_assert_eq(mailbox_msg(mb, 2, &m), 0);
	cr_assert_eq(m.uid, 3);
	expect_msg(mb, 2, "Subject: three\r\n\r\nbody three\r\n");
	mailbox_close(&mb);
}

Test(mbox, outside_rewrite_keeps_uids)
{
	struct mailbox *mb;
	struct mailbox_changes ch;
	struct mailbox_msg m;
	struct fail f;
	const char *two = strstr(three, "From bob");
	const char *tre = strstr(three, "From carol");
	char	 buf[2048];
	uint32_t uidv;

	tl_write(inbox, three, strlen(three));
	mb = open_inbox();
	uidv = mailbox_uidvalidity(mb);
	/* another program drops message 1 and rewrites the file */
	(void)unlink(inbox);
	memcpy(buf, two, strlen(two));
	memcpy(buf + strlen(two),
	    "From new Sat Nov 23 01:20:23 2026\n\nnew\n\n", 39);
	tl_write(inbox, buf, strlen(two) + 39);
	cr_assert_eq(mailbox_sync(mb, &ch, &f), 0);
	cr_assert_not(ch.uidvalidity_changed);
	cr_assert_eq(ch.n_expunged, 1);
	cr_assert_eq(ch.expunged_uids[0], 1);
	cr_assert_eq(mailbox_count(mb), 3);
	cr_assert_eq(mailbox_uidvalidity(mb), uidv);
	cr_assert_eq(mailbox_msg(mb, 1, &m), 0);
	cr_assert_eq(m.uid, 2);
	cr_assert_eq(mailbox_msg(mb, 3, &m), 0);
	cr_assert_eq(m.uid, 4);
	expect_msg(mb, 3, "\r\nnew\r\n");
	(void)tre;
	mailbox_close(&mb);
}

Test(mbox, append_quotes_and_flags)
{
	struct mailbox *mb;
	struct mailbox_msg m;
	struct fail f;
	uint32_t uid;
	static const char msg[] =
	    "Subject: ap\r\n\r\nFrom here\r\n>From there\r\n";

	cr_assert_eq(mailbox_create(&loc, "INBOX", &f), 0);
	mb = open_inbox();
	cr_assert_eq(mailbox_count(mb), 0);
	cr_assert_eq(mailbox_append(mb, msg, strlen(msg), MAILBOX_SEEN, NULL,
	    0, 1700000000, &uid, &f), 0, "%s", f.text);
	cr_assert_eq(uid, 1);
	cr_assert_eq(mailbox_append(mb, "x", 1, 0, NULL, 0, 0, &uid, &f), 0);
	cr_assert_eq(uid, 2);
	cr_assert_eq(mailbox_sync(mb, NULL, &f), 0);
	cr_assert_eq(mailbox_count(mb), 2);
	cr_assert_eq(mailbox_msg(mb, 1, &m), 0);
	cr_assert_eq(m.flags, MAILBOX_SEEN);
	cr_assert_eq(m.internal_date, 1700000000);
	expect_msg(mb, 1, msg);
	expect_msg(mb, 2, "x\r\n");
	{
		size_t	 len;
		char	*raw = tl_read(inbox, &len);

		cr_assert_not_null(strstr(raw, "\n>From here\n>>From there\n"));
		cr_assert_null(strchr(raw, '\r'));
		free(raw);
	}
	/* flags persist in the index */
	cr_assert_eq(mailbox_store(mb, &uid, 1, MAILBOX_FLAGS_ADD,
	    MAILBOX_FLAGGED, NULL, 0, 0, NULL, NULL, &f), 0);
	mailbox_close(&mb);
	mb = open_inbox();
	cr_assert_eq(mailbox_msg(mb, 2, &m), 0);
	cr_assert_eq(m.flags, MAILBOX_FLAGGED);
	mailbox_close(&mb);
}

Test(mbox, folders)
{
	struct fail f;
	struct mailbox *mb;
	char	**v;

	cr_assert_eq(mailbox_create(&loc, "INBOX", &f), 0);
	cr_assert_eq(mailbox_create(&loc, "Sent", &f), 0);
	cr_assert_eq(mailbox_create(&loc, "Sent", &f), -1);
	mb = mailbox_open(&loc, "Sent", 0, &f);
	cr_assert_not_null(mb);
	mailbox_close(&mb);
	cr_assert_eq(mailbox_list(&loc, &v, &f), 0);
	cr_assert_str_eq(v[0], "INBOX");
	cr_assert_str_eq(v[1], "Sent");
	cr_assert_null(v[2]);
	mailbox_list_free(&v);
	cr_assert_eq(mailbox_rename(&loc, "Sent", "Old", &f), 0);
	mb = mailbox_open(&loc, "Old", 0, &f);
	cr_assert_not_null(mb);
	mailbox_close(&mb);
	cr_assert_eq(mailbox_delete(&loc, "Old", &f), 0);
	cr_assert_null(mailbox_open(&loc, "Old", 0, &f));
}

Test(mbox, expunge_keeps_mail_appended_since_sync)
{
	struct mailbox *mb;
	struct mailbox_changes ch;
	struct mailbox_msg m;
	struct fail f;
	uint32_t uid = 1;
	static const char more[] = "From dave Tue Nov 26 04:00:00 2026\n"
	    "Subject: four\n\nbody four\n\n";

	tl_write(inbox, three, strlen(three));
	mb = open_inbox();
	tl_append(inbox, more, strlen(more));	/* after our sync */
	cr_assert_eq(mailbox_expunge(mb, &uid, 1, &f), 0, "%s", f.text);
	cr_assert_eq(mailbox_sync(mb, &ch, &f), 0);
	cr_assert_eq(ch.n_expunged, 1);
	cr_assert_eq(mailbox_count(mb), 3);
	cr_assert_eq(mailbox_msg(mb, 3, &m), 0);
	cr_assert_eq(m.uid, 4);
	expect_msg(mb, 3, "Subject: four\r\n\r\nbody four\r\n");
	expect_msg(mb, 1, "Subject: two\r\n\r\nbody two\r\n");
	mailbox_close(&mb);
}

Test(mbox, corrupt_index_rebuilt)
{
	struct mailbox *mb;
	char	 p[4096];
	uint32_t uidv;

	tl_write(inbox, three, strlen(three));
	mb = open_inbox();
	uidv = mailbox_uidvalidity(mb);
	mailbox_close(&mb);
	cr_assert(str_printf(p, sizeof(p), "%s/.buzon/INBOX.index", root));
	tl_write(p, "BZIDX", 5);
	mb = open_inbox();
	cr_assert_eq(mailbox_count(mb), 3);
	cr_assert_neq(mailbox_uidvalidity(mb), uidv);
	expect_msg(mb, 2, "Subject: two\r\n\r\nbody two\r\n");
	mailbox_close(&mb);
}

Test(mbox, crlf_storage_is_raw)
{
	struct mailbox *mb;
	struct mailbox_stream *st;
	struct fail f;
	int	 fd;
	off_t	 off;
	uint64_t len;
	char	 buf[64];
	static const char crlf[] = "From x Sat Nov 23 01:20:23 2026\n"
	    "A: b\r\n\r\nbody\r\n\n"
	    "From y Sat Nov 23 01:20:23 2026\n"
	    ">From quoted\r\n\n";

	tl_write(inbox, crlf, strlen(crlf));
	mb = open_inbox();
	cr_assert_eq(mailbox_count(mb), 2);
	expect_msg(mb, 1, "A: b\r\n\r\nbody\r\n");
	st = mailbox_stream_open(mb, 1, &f);
	cr_assert(mailbox_stream_raw(st, &fd, &off, &len));
	cr_assert_eq(len, 14);
	cr_assert_eq(pread(fd, buf, len, off), (ssize_t)len);
	cr_assert_eq(memcmp(buf, "A: b\r\n\r\nbody\r\n", 14), 0);
	mailbox_stream_close(&st);
	expect_msg(mb, 2, "From quoted\r\n");
	st = mailbox_stream_open(mb, 2, &f);
	cr_assert_not(mailbox_stream_raw(st, &fd, &off, &len));
	mailbox_stream_close(&st);
	mailbox_close(&mb);
}

Test(mbox, separate_inbox_path)
{
	struct mailbox_location l2 = loc;
	struct mailbox *mb;
	struct fail f;
	char	 spool[4200];

	cr_assert(str_printf(spool, sizeof(spool), "%s/spool-user", root));
	tl_write(spool, three, strlen(three));
	l2.mbox_inbox = spool;
	mb = mailbox_open(&l2, "inbox", 0, &f);
	cr_assert_not_null(mb, "%s", f.text);
	cr_assert_eq(mailbox_count(mb), 3);
	mailbox_close(&mb);
	cr_assert(str_printf(spool, sizeof(spool), "%s/.buzon/INBOX.index",
	    root));
	cr_assert_eq(access(spool, F_OK), 0);
}

Test(mbox, long_quote_runs)
{
	struct mailbox *mb;
	struct str s, want;
	size_t	 i;

	/* 998 '>' are unquoted; 1000 are left alone (MBOX_QUOTE_MAX) */
	str_init(&s, 0);
	str_init(&want, 0);
	cr_assert_eq(str_append_str(&s,
	    "From a Sat Nov 23 01:20:23 2026\n"), 0);
	for (i = 0; i < 999; i++)
		cr_assert_eq(str_append_c(&s, '>'), 0);
	cr_assert_eq(str_append_str(&s, "From x\n"), 0);
	for (i = 0; i < 1000; i++)
		cr_assert_eq(str_append_c(&s, '>'), 0);
	cr_assert_eq(str_append_str(&s, "From y\n\n"), 0);
	for (i = 0; i < 998; i++)
		cr_assert_eq(str_append_c(&want, '>'), 0);
	cr_assert_eq(str_append_str(&want, "From x\r\n"), 0);
	for (i = 0; i < 1000; i++)
		cr_assert_eq(str_append_c(&want, '>'), 0);
	cr_assert_eq(str_append_str(&want, "From y\r\n"), 0);
	tl_write(inbox, s.data, s.len);
	mb = open_inbox();
	expect_msg(mb, 1, str_c(&want));
	mailbox_close(&mb);
	str_release(&s);
	str_release(&want);
}
