/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <sys/wait.h>

#include "mailbox_fixture.h"
#include "mailbox_private.h"

TestSuite(mailbox_index, .init = setup, .fini = teardown);

Test(mailbox_index, lost_index_rebuilt_with_new_uidvalidity)
{
	struct mailbox *mb;
	struct mailbox_changes ch;
	uint32_t uidv;
	char	 p[4096];

	tl_deliver(root, "1.a", "a\n");
	tl_deliver(root, "2.b", "b\n");
	mb = open_inbox(0);
	uidv = mailbox_uidvalidity(mb);
	cr_assert(str_printf(p, sizeof(p), "%s/buzon.index", root));
	cr_assert_eq(unlink(p), 0);
	must_sync(mb, &ch);
	cr_assert(ch.uidvalidity_changed);
	cr_assert_eq(ch.n_expunged, 2);
	cr_assert_eq(ch.new_count, 2);
	cr_assert_neq(mailbox_uidvalidity(mb), uidv);
	mailbox_close(&mb);
	cr_assert_eq(unlink(p), 0);
	mb = open_inbox(0);
	cr_assert_eq(mailbox_count(mb), 2);
	cr_assert_gt(mailbox_uidvalidity(mb), uidv + 1);
	mailbox_close(&mb);
}

Test(mailbox_index, corrupt_index_at_every_length_rebuilt)
{
	struct mailbox *mb;
	struct mailbox_msg m;
	char	 p[4096], *img;
	size_t	 len, cut;
	uint32_t uidv;

	tl_deliver(root, "1.a", "a\n");
	mb = open_inbox(0);
	uidv = mailbox_uidvalidity(mb);
	mailbox_close(&mb);
	cr_assert(str_printf(p, sizeof(p), "%s/buzon.index", root));
	img = tl_read(p, &len);
	for (cut = 0; cut < len; cut++) {
		tl_write(p, img, cut);
		mb = open_inbox(0);
		cr_assert_eq(mailbox_count(mb), 1, "cut %zu", cut);
		cr_assert_eq(mailbox_msg(mb, 1, &m), 0);
		cr_assert_str_eq(m.key, "1.a");
		cr_assert_neq(mailbox_uidvalidity(mb), uidv, "cut %zu", cut);
		uidv = mailbox_uidvalidity(mb);
		mailbox_close(&mb);
	}
	/* garbage of the right size too */
	memset(img, 'x', len);
	tl_write(p, img, len);
	mb = open_inbox(0);
	cr_assert_eq(mailbox_count(mb), 1);
	mailbox_close(&mb);
	free(img);
}

/* ---- the change log ---- */

static ino_t
ino_of(const char *name)
{
	struct stat st;
	char	 p[4096];

	cr_assert(str_printf(p, sizeof(p), "%s/%s", root, name));
	cr_assert_eq(stat(p, &st), 0, "%s", name);
	return st.st_ino;
}

static off_t
size_of(const char *name)
{
	struct stat st;
	char	 p[4096];

	cr_assert(str_printf(p, sizeof(p), "%s/%s", root, name));
	cr_assert_eq(stat(p, &st), 0, "%s", name);
	return st.st_size;
}

Test(mailbox_index, store_appends_to_the_log)
{
	struct mailbox *a, *b;
	struct mailbox_changes ch;
	struct mailbox_msg m;
	uint32_t uid = 1;
	ino_t	 ino;
	off_t	 before;

	tl_deliver(root, "1.a", "a\n");
	a = open_inbox(0);
	b = open_inbox(0);
	ino = ino_of("buzon.index");
	before = size_of("buzon.log");
	cr_assert_eq(mailbox_store(a, &uid, 1, MAILBOX_FLAGS_ADD, MAILBOX_SEEN,
	    NULL, 0, 0, NULL, NULL, NULL), 0);
	cr_assert_eq(ino_of("buzon.index"), ino, "index rewritten");
	cr_assert_gt(size_of("buzon.log"), before);
	cr_assert(mailbox_has_changed(b));
	must_sync(b, &ch);
	cr_assert_eq(ch.n_changed, 1);
	cr_assert_eq(mailbox_msg(b, 1, &m), 0);
	cr_assert_eq(m.flags, MAILBOX_SEEN);
	mailbox_close(&a);
	mailbox_close(&b);
	/* and a fresh reader replays it */
	a = open_inbox(0);
	cr_assert_eq(mailbox_msg(a, 1, &m), 0);
	cr_assert_eq(m.flags, MAILBOX_SEEN);
	mailbox_close(&a);
}

Test(mailbox_index, torn_log_tail_ignored_then_cut)
{
	struct mailbox *a;
	struct mailbox_msg m;
	uint32_t uid = 1;
	char	 p[4096];
	off_t	 good;

	tl_deliver(root, "1.a", "a\n");
	a = open_inbox(0);
	cr_assert_eq(mailbox_store(a, &uid, 1, MAILBOX_FLAGS_ADD,
	    MAILBOX_FLAGGED, NULL, 0, 0, NULL, NULL, NULL), 0);
	mailbox_close(&a);
	good = size_of("buzon.log");
	cr_assert(str_printf(p, sizeof(p), "%s/buzon.log", root));
	tl_append(p, "\x01\x00\x00\x00\x40\x00\x00\x00garbage", 15);
	a = open_inbox(0);
	cr_assert_eq(mailbox_msg(a, 1, &m), 0);
	cr_assert_eq(m.flags, MAILBOX_FLAGGED);
	cr_assert_eq(mailbox_store(a, &uid, 1, MAILBOX_FLAGS_ADD, MAILBOX_SEEN,
	    NULL, 0, 0, NULL, NULL, NULL), 0);
	mailbox_close(&a);
	a = open_inbox(0);
	cr_assert_eq(mailbox_msg(a, 1, &m), 0);
	cr_assert_eq(m.flags, MAILBOX_FLAGGED | MAILBOX_SEEN);
	mailbox_close(&a);
	cr_assert_gt(size_of("buzon.log"), good);
}

Test(mailbox_index, foreign_log_ignored_and_replaced)
{
	struct mailbox *a;
	struct mailbox_msg m;
	uint32_t uid = 1;
	char	 p[4096];
	ino_t	 ino;

	tl_deliver(root, "1.a", "a\n");
	a = open_inbox(0);
	mailbox_close(&a);
	ino = ino_of("buzon.index");
	cr_assert(str_printf(p, sizeof(p), "%s/buzon.log", root));
	(void)unlink(p);
	tl_write(p, "BZLOG001\x01\x02\x03\x04\x05\x06\x07\x08", 16);
	a = open_inbox(0);
	cr_assert_eq(mailbox_count(a), 1);
	cr_assert_eq(mailbox_store(a, &uid, 1, MAILBOX_FLAGS_ADD, MAILBOX_SEEN,
	    NULL, 0, 0, NULL, NULL, NULL), 0);
	cr_assert_neq(ino_of("buzon.index"), ino, "no compaction");
	mailbox_close(&a);
	a = open_inbox(0);
	cr_assert_eq(mailbox_msg(a, 1, &m), 0);
	cr_assert_eq(m.flags, MAILBOX_SEEN);
	mailbox_close(&a);
}

Test(mailbox_index, log_compacts)
{
	struct mailbox *a, *b;
	struct mailbox_changes ch;
	struct mailbox_msg m;
	uint32_t uid = 2;
	ino_t	 ino;
	int	 i;

	tl_deliver(root, "1.a", "a\n");
	tl_deliver(root, "2.b", "b\n");
	a = open_inbox(0);
	b = open_inbox(0);
	ino = ino_of("buzon.index");
	for (i = 0; i < 1200; i++)
		cr_assert_eq(mailbox_store(a, &uid, 1, (i & 1) ?
		    MAILBOX_FLAGS_REMOVE : MAILBOX_FLAGS_ADD, MAILBOX_SEEN,
		    NULL, 0, 0, NULL, NULL, NULL), 0);
	cr_assert_neq(ino_of("buzon.index"), ino, "never compacted");
	cr_assert_lt(size_of("buzon.log"), 128 * 1024 + 4096);
	must_sync(b, &ch);
	cr_assert_eq(mailbox_msg(b, 2, &m), 0);
	cr_assert_eq(m.flags, 0);
	cr_assert_eq(m.modseq, mailbox_highestmodseq(b));
	cr_assert_eq(mailbox_store(b, &uid, 1, MAILBOX_FLAGS_ADD,
	    MAILBOX_ANSWERED, NULL, 0, 0, NULL, NULL, NULL), 0);
	must_sync(a, &ch);
	cr_assert_eq(mailbox_msg(a, 2, &m), 0);
	cr_assert_eq(m.flags, MAILBOX_ANSWERED);
	mailbox_close(&a);
	mailbox_close(&b);
}

/* One log record as mblog.c writes it: checksummed, so it is committed. */
static void
log_record(struct str *out, uint32_t type, const struct str *payload)
{
	size_t	 start = out->len;

	mbidx_put(out, type, 4);
	mbidx_put(out, payload->len, 4);
	cr_assert_eq(str_append(out, payload->data, payload->len), 0);
	mbidx_put(out, mbidx_hash(out->data + start, 8 + payload->len, 0), 8);
}

/* A committed change the index parser would refuse (here an expunge
 * whose modseq is below the last one's) ends the log: what came before
 * stays, UIDVALIDITY and every UID too, and the next write compacts it
 * away.  Applied, it made an index that read back as corrupt at the next
 * compaction and was rebuilt with a new UIDVALIDITY. */
Test(mailbox_index, damaged_log_commit_keeps_uidvalidity)
{
	struct mailbox *mb;
	struct mailbox_msg m;
	struct mailbox_changes ch;
	struct str rec, pl;
	uint32_t uid1 = 1, uid3 = 3, uidv;
	char	 p[4096];
	int	 i;

	tl_deliver(root, "1.a", "a\n");
	tl_deliver(root, "2.b", "b\n");
	tl_deliver(root, "3.c", "c\n");
	mb = open_inbox(0);
	uidv = mailbox_uidvalidity(mb);
	cr_assert_eq(mailbox_expunge(mb, &uid1, 1, NULL), 0);
	mailbox_close(&mb);
	str_init(&rec, 0);
	str_init(&pl, 0);
	mbidx_put(&pl, 2, 4);			/* EXP uid 2 at modseq 1 */
	mbidx_put(&pl, 1, 8);
	log_record(&rec, 2, &pl);
	str_clear(&pl);
	mbidx_put(&pl, 100, 4);			/* HDR */
	mbidx_put(&pl, 1000, 8);
	for (i = 0; i < 5; i++)
		mbidx_put(&pl, 0, 8);
	log_record(&rec, 4, &pl);
	cr_assert(str_printf(p, sizeof(p), "%s/buzon.log", root));
	tl_append(p, rec.data, rec.len);
	/* Enough changes for a compaction. */
	mb = open_inbox(0);
	for (i = 0; i < 1200; i++)
		cr_assert_eq(mailbox_store(mb, &uid3, 1, (i & 1) ?
		    MAILBOX_FLAGS_REMOVE : MAILBOX_FLAGS_ADD, MAILBOX_SEEN,
		    NULL, 0, 0, NULL, NULL, NULL), 0);
	mailbox_close(&mb);
	tl_deliver(root, "4.d", "d\n");
	mb = open_inbox(0);
	must_sync(mb, &ch);
	cr_assert_eq(mailbox_uidvalidity(mb), uidv);
	cr_assert_eq(mailbox_count(mb), 3);
	cr_assert_eq(mailbox_msg(mb, 1, &m), 0);
	cr_assert_eq(m.uid, 2);
	cr_assert_eq(mailbox_msg(mb, 2, &m), 0);
	cr_assert_eq(m.uid, 3);
	/* The new message's UID is above all the damaged commit named. */
	cr_assert_eq(mailbox_msg(mb, 3, &m), 0);
	cr_assert_geq(m.uid, 100);
	mailbox_close(&mb);
	str_release(&rec);
	str_release(&pl);
}

Test(mailbox_index, log_cut_at_every_length)
{
	struct mailbox *mb;
	struct mailbox_msg m;
	uint32_t uids[2] = { 1, 2 };
	char	 p[4096], *img;
	size_t	 len, cut;
	uint32_t uidv;

	tl_deliver(root, "1.a", "a\n");
	tl_deliver(root, "2.b", "b\n");
	mb = open_inbox(0);
	uidv = mailbox_uidvalidity(mb);
	cr_assert_eq(mailbox_store(mb, uids, 1, MAILBOX_FLAGS_ADD,
	    MAILBOX_SEEN, NULL, 0, 0, NULL, NULL, NULL), 0);
	cr_assert_eq(mailbox_store(mb, uids + 1, 1, MAILBOX_FLAGS_ADD,
	    MAILBOX_FLAGGED, NULL, 0, 0, NULL, NULL, NULL), 0);
	mailbox_close(&mb);
	cr_assert(str_printf(p, sizeof(p), "%s/buzon.log", root));
	img = tl_read(p, &len);
	for (cut = 0; cut < len; cut++) {
		tl_write(p, img, cut);
		mb = open_inbox(0);
		cr_assert_eq(mailbox_count(mb), 2, "cut %zu", cut);
		cr_assert_eq(mailbox_uidvalidity(mb), uidv, "cut %zu", cut);
		cr_assert_eq(mailbox_msg(mb, 2, &m), 0);
		cr_assert(m.flags == 0 || m.flags == MAILBOX_FLAGGED);
		mailbox_close(&mb);
	}
	free(img);
}

/* Two sessions expunging and flagging, one appending, one delivering. */
