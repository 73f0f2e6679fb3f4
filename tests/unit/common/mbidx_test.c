/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>

#define TL_WRAP_FSYNC_DIR
#include "mailbox_private.h"
#include "mailbox_testlib.h"

static void
sample(struct mbidx *idx)
{
	struct mbidx_rec *m;
	uint32_t uid;

	mbidx_init(idx);
	idx->uidvalidity = 1234;
	idx->uidnext = 1;
	idx->log_id = 77;
	idx->st_ino = 5;
	idx->st_size = 6;
	idx->st_mtime_ns = 7;
	idx->st2_mtime_ns = -8;
	cr_assert_eq(mbidx_keyword(idx, "$Label1", true), 0);
	cr_assert_eq(mbidx_keyword(idx, "Work", true), 1);
	cr_assert_eq(mbidx_keyword(idx, "work", true), 1);
	cr_assert_eq(mbidx_keyword(idx, "bad kw", true), -1);
	cr_assert_eq(mbidx_keyword(idx, "other", false), -1);
	for (uid = 1; uid <= 4; uid++) {
		m = mbidx_add(idx, idx->uidnext++);
		m->flags = MAILBOX_SEEN | (uid == 2 ? MBR_QUOTED : 0);
		m->keywords = uid & 3;
		m->modseq = ++idx->highestmodseq;
		m->idate = 1000000000 + uid;
		m->wire_size = 100 * uid;
		m->raw_size = 90 * uid;
		m->offset = 7 * uid;
		m->hash = 0x1122334455667788ULL * uid;
		m->aux = uid;
		m->key = xstrdup(uid == 3 ? "1700000000.M1P2.host,S=5:x" : "k");
		if (uid == 3)
			m->key[strlen(m->key) - 2] = '\0';
	}
	mbidx_expunge_at(idx, 1);	/* uid 2 */
}

Test(mbidx, round_trip)
{
	struct mbidx a, b;
	void	*img, *img2;
	size_t	 len, len2;

	sample(&a);
	img = mbidx_serialize(&a, &len);
	cr_assert_eq(mbidx_parse(&b, img, len), 0);
	cr_assert_eq(b.uidvalidity, 1234);
	cr_assert_eq(b.uidnext, 5);
	cr_assert_eq(b.highestmodseq, 5);
	cr_assert_eq(b.n, 3);
	cr_assert_eq(b.recs[1].uid, 3);
	cr_assert_str_eq(b.recs[1].key, "1700000000.M1P2.host,S=5");
	cr_assert_eq(b.recs[2].hash, 0x1122334455667788ULL * 4);
	cr_assert_eq(b.st2_mtime_ns, -8);
	cr_assert_eq(b.n_exp, 1);
	cr_assert_eq(b.exp[0].uid, 2);
	cr_assert_eq(b.exp[0].modseq, 5);
	cr_assert_eq(b.n_keywords, 2);
	cr_assert_str_eq(b.keywords[1], "Work");
	cr_assert_eq(mbidx_find(&b, 3), 1);
	cr_assert_eq(mbidx_find(&b, 2), -1);
	img2 = mbidx_serialize(&b, &len2);
	cr_assert_eq(len, len2);
	cr_assert_eq(memcmp(img, img2, len), 0);
	free(img);
	free(img2);
	mbidx_release(&a);
	mbidx_release(&b);
}

Test(mbidx, every_truncation_and_flip_rejected)
{
	struct mbidx a, b;
	unsigned char *img;
	size_t	 len, i;

	sample(&a);
	img = mbidx_serialize(&a, &len);
	for (i = 0; i < len; i++)
		cr_assert_eq(mbidx_parse(&b, img, i), -1, "cut %zu", i);
	for (i = 0; i < len; i++) {
		img[i] ^= 0x40;
		cr_assert_eq(mbidx_parse(&b, img, len), -1, "flip %zu", i);
		img[i] ^= 0x40;
	}
	cr_assert_eq(mbidx_parse(&b, img, len), 0);
	mbidx_release(&b);
	free(img);
	mbidx_release(&a);
}

/* Well-formed and checksummed, but saying impossible things. */
static void
expect_rejected(struct mbidx *a, const char *why)
{
	struct mbidx b;
	void	*img;
	size_t	 len;

	img = mbidx_serialize(a, &len);
	cr_assert_eq(mbidx_parse(&b, img, len), -1, "%s", why);
	free(img);
}

Test(mbidx, semantic_checks)
{
	struct mbidx a;
	uint32_t t;

	sample(&a);
	t = a.recs[0].uid;
	a.recs[0].uid = a.recs[1].uid;
	expect_rejected(&a, "uids not ascending");
	a.recs[0].uid = t;
	a.uidnext = a.recs[a.n - 1].uid;
	expect_rejected(&a, "uid at uidnext");
	a.uidnext = 5;
	a.recs[0].modseq = a.highestmodseq + 1;
	expect_rejected(&a, "modseq above highest");
	a.recs[0].modseq = 1;
	a.recs[0].keywords = 4;
	expect_rejected(&a, "unknown keyword bit");
	a.recs[0].keywords = 0;
	a.recs[0].flags |= 0x40;
	expect_rejected(&a, "unknown flag");
	a.recs[0].flags = 0;
	free(a.recs[0].key);
	a.recs[0].key = xstrdup("../x");
	expect_rejected(&a, "key with a slash");
	free(a.recs[0].key);
	a.recs[0].key = xstrdup(".x");
	expect_rejected(&a, "dot key");
	free(a.recs[0].key);
	a.recs[0].key = xstrdup("k");
	a.uidvalidity = 0;
	expect_rejected(&a, "uidvalidity 0");
	a.uidvalidity = 1;
	a.expunge_floor = a.highestmodseq + 1;
	expect_rejected(&a, "floor above highest");
	a.expunge_floor = 0;
	a.exp[0].uid = 0;
	expect_rejected(&a, "expunged uid 0");
	a.exp[0].uid = 2;
	free(a.keywords[1]);
	a.keywords[1] = xstrdup("a b");
	expect_rejected(&a, "bad keyword");
	mbidx_release(&a);
}

Test(mbidx, file_read_write)
{
	struct mbidx a, b;
	char	*root = tl_mkroot(), p[4096];

	cr_assert(str_printf(p, sizeof(p), "%s/x.index", root));
	cr_assert_eq(mbidx_read(&b, p, NULL), 0);		/* missing */
	sample(&a);
	cr_assert_eq(mbidx_write(&a, p, true, NULL), 0);
	cr_assert_eq(mbidx_read(&b, p, NULL), 1);
	cr_assert_eq(b.n, 3);
	mbidx_release(&b);
	tl_write(p, "junk", 4);
	cr_assert_eq(mbidx_read(&b, p, NULL), -1);
	cr_assert_eq(b.n, 0);
	mbidx_release(&a);
	tl_rmtree(root);
	free(root);
}

/* The UIDs in an index must survive a crash: a durable write whose
 * directory fsync fails is an error. */
Test(mbidx, durable_write_reports_dir_fsync_failure)
{
	struct mbidx a, b;
	char	*root = tl_mkroot(), p[4096];

	cr_assert(str_printf(p, sizeof(p), "%s/x.index", root));
	sample(&a);
	tl_fsync_dir_fails = true;
	cr_assert_eq(mbidx_write(&a, p, true, NULL), -1);
	cr_assert_eq(errno, EIO);
	cr_assert_eq(mbidx_write(&a, p, false, NULL), 0);	/* no dir sync */
	tl_fsync_dir_fails = false;
	cr_assert_eq(mbidx_write(&a, p, true, NULL), 0);
	cr_assert_eq(mbidx_read(&b, p, NULL), 1);
	mbidx_release(&b);
	mbidx_release(&a);
	tl_rmtree(root);
	free(root);
}

Test(mbidx, expunge_history_is_bounded)
{
	struct mbidx a;
	struct mbidx_rec *m;
	uint32_t i;

	mbidx_init(&a);
	a.uidvalidity = a.uidnext = 1;
	for (i = 0; i < MBIDX_EXP_MAX + 10; i++) {
		m = mbidx_add(&a, a.uidnext++);
		m->modseq = ++a.highestmodseq;
		mbidx_expunge_at(&a, 0);
	}
	cr_assert_leq(a.n_exp, MBIDX_EXP_MAX);
	cr_assert_gt(a.expunge_floor, 0);
	cr_assert_eq(a.exp[a.n_exp - 1].uid, MBIDX_EXP_MAX + 10);
	{
		struct mbidx b;
		size_t	 len;
		void	*img = mbidx_serialize(&a, &len);

		cr_assert_eq(mbidx_parse(&b, img, len), 0);
		cr_assert_eq(b.expunge_floor, a.expunge_floor);
		mbidx_release(&b);
		free(img);
	}
	mbidx_release(&a);
}
