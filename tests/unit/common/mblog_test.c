/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <criterion/criterion.h>

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
commit(struct str *out, uint32_t uidnext)
{
	struct str h;

	str_init(&h, 0);
	mbidx_put(&h, uidnext, 4);
	mbidx_put(&h, 100, 8);
	mbidx_put(&h, 0, 8);
	mbidx_put(&h, 0, 8);
	mbidx_put(&h, 0, 8);
	mbidx_put(&h, 0, 8);
	mbidx_put(&h, 0, 8);
	put_record(out, 4, h.data, h.len);
	str_release(&h);
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
