/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "mailbox_private.h"
#include "mailbox_testlib.h"

static void
sample(struct mbidx *idx, uint32_t n)
{
	struct mbidx_rec *m;
	uint32_t i;
	char	 key[32];

	mbidx_init(idx);
	idx->uidvalidity = 99;
	idx->uidnext = 1;
	idx->log_id = 5;
	for (i = 0; i < n; i++) {
		m = mbidx_add(idx, idx->uidnext++);
		m->modseq = ++idx->highestmodseq;
		m->wire_size = m->raw_size = 10 + i;
		cr_assert(str_printf(key, sizeof(key), "%u.host", i));
		m->key = xstrdup(key);
	}
}

static void
same(const struct mbidx *a, const struct mbidx *b)
{
	void	*x, *y;
	size_t	 lx, ly;

	x = mbidx_serialize(a, &lx);
	y = mbidx_serialize(b, &ly);
	cr_assert_eq(lx, ly);
	cr_assert_eq(memcmp(x, y, lx), 0);
	free(x);
	free(y);
}

/* post: flags on 2, 3 expunged, keyword, a new message, stamps */
static void
change(struct mbidx *post)
{
	struct mbidx_rec *m;

	post->recs[1].flags |= MAILBOX_SEEN;
	cr_assert_eq(mbidx_keyword(post, "Work", true), 0);
	post->recs[1].keywords = 1;
	post->recs[1].modseq = ++post->highestmodseq;
	mbidx_expunge_at(post, 2);
	m = mbidx_add(post, post->uidnext++);
	m->modseq = ++post->highestmodseq;
	m->key = xstrdup("new.host");
	post->st_mtime_ns = 12345;
	post->st2_mtime_ns = -1;
}

Test(mblog, diff_then_apply_gives_post)
{
	struct mbidx pre, post, got;
	struct str out;
	size_t	 used;

	sample(&pre, 4);
	mbidx_copy(&post, &pre);
	change(&post);
	str_init(&out, 0);
	mblog_diff(&pre, &post, &out);
	mbidx_copy(&got, &pre);
	cr_assert_eq(mblog_apply(&got, out.data, out.len, &used), 0);
	cr_assert_eq(used, out.len);
	same(&got, &post);
	cr_assert_eq(got.n_exp, 1);
	cr_assert_eq(got.exp[0].uid, 3);
	/* nothing changed: only a commit */
	str_clear(&out);
	mblog_diff(&post, &post, &out);
	cr_assert_eq(out.len, 16 + 52);
	str_release(&out);
	mbidx_release(&pre);
	mbidx_release(&post);
	mbidx_release(&got);
}

Test(mblog, every_prefix_is_all_or_nothing)
{
	struct mbidx pre, post, got;
	struct str out;
	size_t	 used, cut;

	sample(&pre, 3);
	mbidx_copy(&post, &pre);
	change(&post);
	str_init(&out, 0);
	mblog_diff(&pre, &post, &out);
	for (cut = 0; cut < out.len; cut++) {
		mbidx_copy(&got, &pre);
		cr_assert_eq(mblog_apply(&got, out.data, cut, &used), 0);
		cr_assert_eq(used, 0, "cut %zu", cut);
		same(&got, &pre);
		mbidx_release(&got);
	}
	/* a flipped byte anywhere: that record and what follows is torn */
	for (cut = 0; cut < out.len; cut++) {
		out.data[cut] ^= 0x20;
		mbidx_copy(&got, &pre);
		cr_assert_eq(mblog_apply(&got, out.data, out.len, &used), 0);
		cr_assert_eq(used, 0, "flip %zu", cut);
		mbidx_release(&got);
		out.data[cut] ^= 0x20;
	}
	str_release(&out);
	mbidx_release(&pre);
	mbidx_release(&post);
}

static void
put_record(struct str *out, uint32_t type, const void *p, size_t len)
{
	size_t	 start = out->len;

	mbidx_put(out, type, 4);
	mbidx_put(out, len, 4);
	cr_assert_eq(str_append(out, p, len), 0);
	mbidx_put(out, mbidx_hash(out->data + start, 8 + len, 0), 8);
}

static void
hdr(struct str *out, uint32_t uidnext, uint64_t modseq, uint64_t floor)
{
	struct str h;

	str_init(&h, 0);
	mbidx_put(&h, uidnext, 4);
	mbidx_put(&h, modseq, 8);
	mbidx_put(&h, floor, 8);
	mbidx_put(&h, 0, 8);
	mbidx_put(&h, 0, 8);
	mbidx_put(&h, 0, 8);
	mbidx_put(&h, 0, 8);
	put_record(out, 4, h.data, h.len);
	str_release(&h);
}

static void
commit(struct str *out, uint32_t uidnext)
{
	hdr(out, uidnext, 100, 0);
}

Test(mblog, committed_nonsense_is_an_error)
{
	struct mbidx idx;
	struct mbidx_rec r;
	struct str out, p;
	size_t	 used;

	sample(&idx, 2);
	str_init(&out, 0);
	str_init(&p, 0);
	/* a record below the last UID that is not there */
	memset(&r, 0, sizeof(r));
	r.uid = 1;
	r.key = (char *)(uintptr_t)"x";
	mbidx_rec_write(&p, &r);
	put_record(&out, 1, p.data, p.len);
	commit(&out, 3);
	cr_assert_eq(mblog_apply(&idx, out.data, out.len, &used), 0);
	cr_assert_eq(idx.n, 2);		/* uid 1 replaced: fine */
	str_clear(&out);
	str_clear(&p);
	mbidx_release(&idx);

	sample(&idx, 2);
	mbidx_expunge_at(&idx, 0);	/* uids: 2 */
	r.uid = 1;
	mbidx_rec_write(&p, &r);
	put_record(&out, 1, p.data, p.len);
	commit(&out, 3);
	cr_assert_eq(mblog_apply(&idx, out.data, out.len, &used), -1);
	mbidx_release(&idx);

	sample(&idx, 2);
	str_clear(&out);
	commit(&out, 1);		/* uidnext below a UID */
	cr_assert_eq(mblog_apply(&idx, out.data, out.len, &used), -1);
	mbidx_release(&idx);

	sample(&idx, 2);
	str_clear(&out);
	put_record(&out, 9, "x", 1);	/* unknown type */
	commit(&out, 3);
	cr_assert_eq(mblog_apply(&idx, out.data, out.len, &used), -1);
	mbidx_release(&idx);

	sample(&idx, 2);
	str_clear(&out);
	put_record(&out, 3, "bad kw", 6);
	commit(&out, 3);
	cr_assert_eq(mblog_apply(&idx, out.data, out.len, &used), -1);
	mbidx_release(&idx);
	str_release(&out);
	str_release(&p);
}

/* Every committed change that the index parser would refuse is refused by
 * the log too: the commits before it stay applied, what comes out reads
 * back as an index, and uidnext moves past what the rest claims. */
struct bad_log_case {
	int	 kind;
	char	 what[48];
};

ParameterizedTestParameters(mblog, damaged_commit_rejected)
{
	static struct bad_log_case cases[] = {
		{ 0, "expunge modseq goes down" },
		{ 1, "record modseq above highestmodseq" },
		{ 2, "highestmodseq goes down" },
		{ 3, "uidnext goes down" },
		{ 4, "expunge of uid 0" },
		{ 5, "expunge uid at uidnext" },
		{ 6, "expunge floor above highestmodseq" },
	};
	return cr_make_param_array(struct bad_log_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

static void
exp_rec(struct str *out, uint32_t uid, uint64_t modseq)
{
	struct str h;

	str_init(&h, 0);
	mbidx_put(&h, uid, 4);
	mbidx_put(&h, modseq, 8);
	put_record(out, 2, h.data, h.len);
	str_release(&h);
}

ParameterizedTest(struct bad_log_case *c, mblog, damaged_commit_rejected)
{
	struct mbidx idx, back;
	struct mbidx_rec r;
	struct str out, p;
	size_t	 used, good, len;
	void	*img;

	sample(&idx, 4);		/* uids 1..4, modseq 4, uidnext 5 */
	str_init(&out, 0);
	str_init(&p, 0);
	/* A good commit: uid 1 expunged at modseq 10, two UIDs handed out
	 * (to messages expunged since). */
	exp_rec(&out, 1, 10);
	hdr(&out, 7, 10, 0);
	good = out.len;
	switch (c->kind) {
	case 0:
		exp_rec(&out, 2, 9);
		hdr(&out, 8, 11, 0);
		break;
	case 1:
		memset(&r, 0, sizeof(r));
		r.uid = 3;
		r.modseq = 50;
		mbidx_rec_write(&p, &r);
		put_record(&out, 1, p.data, p.len);
		hdr(&out, 8, 11, 0);
		break;
	case 2:
		hdr(&out, 8, 9, 0);
		break;
	case 3:
		hdr(&out, 6, 11, 0);
		break;
	case 4:
		exp_rec(&out, 0, 11);
		hdr(&out, 8, 11, 0);
		break;
	case 5:
		exp_rec(&out, 8, 11);
		hdr(&out, 8, 11, 0);
		break;
	case 6:
		hdr(&out, 8, 11, 12);
		break;
	}
	/* A later good-looking commit is not applied either. */
	exp_rec(&out, 4, 12);
	hdr(&out, 9, 12, 0);
	cr_assert_eq(mblog_apply(&idx, out.data, out.len, &used), -1, "%s",
	    c->what);
	cr_assert_eq(used, good, "%s", c->what);
	cr_assert_eq(idx.n, 3, "%s", c->what);
	cr_assert_eq(idx.recs[0].uid, 2);
	cr_assert_eq(idx.recs[2].uid, 4);
	cr_assert_geq(idx.uidnext, 8, "%s", c->what);
	cr_assert_geq(idx.highestmodseq, 10);
	cr_assert_eq(idx.uidvalidity, 99);
	/* What came out is an index the parser takes. */
	img = mbidx_serialize(&idx, &len);
	cr_assert_eq(mbidx_parse(&back, img, len), 0, "%s", c->what);
	mbidx_release(&back);
	free(img);
	str_release(&out);
	str_release(&p);
	mbidx_release(&idx);
}

Test(mblog, header)
{
	char	*root = tl_mkroot(), p[4096], *img;
	size_t	 len;
	uint64_t id;

	cr_assert(str_printf(p, sizeof(p), "%s/x.log", root));
	cr_assert_eq(mblog_create(p, 0x1122334455667788ULL), 0);
	img = tl_read(p, &len);
	cr_assert_eq(len, MBLOG_HDR);
	cr_assert_eq(mblog_header_id(img, len, &id), 0);
	cr_assert_eq(id, 0x1122334455667788ULL);
	cr_assert_eq(mblog_header_id(img, len - 1, &id), -1);
	img[0] = 'X';
	cr_assert_eq(mblog_header_id(img, len, &id), -1);
	free(img);
	tl_rmtree(root);
	free(root);
}
