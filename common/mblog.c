/* SPDX-License-Identifier: MIT */
/*
 * mblog.c - the change log that continues a folder's index
 *
 * buzon.log (mbox: .buzon/NAME.log) starts with a 16-byte header: "BZLOG001"
 * and the u64 log id that the index header names.  Then records, each
 *	u32 type, u32 payload length (at most MBLOG_REC_MAX), payload,
 *	u64 FNV-1a of the type, length and payload bytes
 * of these types (integers little-endian, as in the index):
 *	1 REC	one message record in the index encoding: add it (its UID
 *		above all others) or replace the record with that UID
 *	2 EXP	u32 uid, u64 modseq: the message is expunged
 *	3 KW	a new keyword's name
 *	4 HDR	u32 uidnext, u64 highestmodseq, u64 expunge floor, u64 store
 *		inode, u64 store size, i64 store mtime, i64 second mtime:
 *		the commit that ends one change
 * A reader applies records only up to the last HDR whose bytes are all
 * there and whose checksums match, so a writer that died mid-append
 * leaves a tail that is ignored (and cut off by the next writer, who holds
 * the index lock).  A log whose id is not the index's is ignored whole:
 * the index was rewritten after it (compaction) and already holds it all.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mailbox_private.h"
#include "mem.h"
#include "str.h"

#define MBLOG_MAGIC	"BZLOG001"
#define MBLOG_REC_MAX	4096

enum {
	MBLOG_T_REC = 1,
	MBLOG_T_EXP = 2,
	MBLOG_T_KW = 3,
	MBLOG_T_HDR = 4
};

static uint64_t
get(const unsigned char *p, size_t n)
{
	uint64_t v = 0;
	size_t	 i;

	for (i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

int
mblog_create(const char *path, uint64_t id)
{
	unsigned char h[MBLOG_HDR];
	int	 fd, i;

	memcpy(h, MBLOG_MAGIC, 8);
	for (i = 0; i < 8; i++)
		h[8 + i] = (unsigned char)(id >> (8 * i));
	(void)unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1)
		return -1;
	if (write(fd, h, sizeof(h)) != (ssize_t)sizeof(h) || fsync(fd) == -1) {
		close(fd);
		(void)unlink(path);
		return -1;
	}
	return close(fd);
}

int
mblog_header_id(const void *buf, size_t len, uint64_t *id_r)
{
	if (len < MBLOG_HDR || memcmp(buf, MBLOG_MAGIC, 8) != 0)
		return -1;
	*id_r = get((const unsigned char *)buf + 8, 8);
	return 0;
}

/* Length of the committed prefix: whole, checksummed records up to and
 * including the last HDR. */
static size_t
committed(const unsigned char *p, size_t len)
{
	size_t	 off = 0, end = 0;
	uint32_t type, plen;

	while (len - off >= 16) {
		type = (uint32_t)get(p + off, 4);
		plen = (uint32_t)get(p + off + 4, 4);
		if (plen > MBLOG_REC_MAX || len - off - 16 < plen ||
		    get(p + off + 8 + plen, 8) !=
		    mbidx_hash(p + off, 8 + (size_t)plen, 0))
			break;
		off += 16 + (size_t)plen;
		if (type == MBLOG_T_HDR)
			end = off;
	}
	return end;
}

/* The checks mbidx_parse() makes, kept while one commit is applied: what
 * its records need of the HDR that ends it. */
struct commit_marks {
	uint64_t	 max_modseq;	/* of its REC and EXP records */
	uint32_t	 max_exp_uid;
};

static int
apply_rec(struct mbidx *idx, const unsigned char *p, size_t plen,
    struct commit_marks *cm)
{
	struct mbidx_rec m, *t;
	size_t	 left = plen;
	ssize_t	 i;

	if (mbidx_rec_read(&p, &left, &m) == -1)
		return -1;
	if (left != 0 || !mbidx_rec_ok(idx, &m)) {
		free(m.key);
		return -1;
	}
	if (m.modseq > cm->max_modseq)
		cm->max_modseq = m.modseq;
	if ((i = mbidx_find(idx, m.uid)) >= 0) {
		t = &idx->recs[i];
		if (t->fname != NULL && t->key != NULL && m.key != NULL &&
		    strcmp(t->key, m.key) == 0)
			m.fname = t->fname;
		else
			free(t->fname);
		free(t->key);
		*t = m;
		return 0;
	}
	if ((idx->n > 0 && idx->recs[idx->n - 1].uid >= m.uid) ||
	    idx->n >= MBIDX_MSGS_MAX) {
		free(m.key);
		return -1;
	}
	t = mbidx_add(idx, m.uid);
	*t = m;
	return 0;
}

static int
apply_exp(struct mbidx *idx, const unsigned char *q, uint32_t plen,
    struct commit_marks *cm)
{
	uint32_t uid;
	uint64_t modseq;
	ssize_t	 i;

	if (plen != 12)
		return -1;
	uid = (uint32_t)get(q, 4);
	modseq = get(q + 4, 8);
	/* The index keeps expunges in ascending modseq order. */
	if (uid == 0 || (idx->n_exp > 0 &&
	    modseq < idx->exp[idx->n_exp - 1].modseq))
		return -1;
	if (modseq > cm->max_modseq)
		cm->max_modseq = modseq;
	if (uid > cm->max_exp_uid)
		cm->max_exp_uid = uid;
	if ((i = mbidx_find(idx, uid)) >= 0)
		mbidx_expunge_with(idx, (size_t)i, modseq);
	return 0;
}

static int
apply_hdr(struct mbidx *idx, const unsigned char *q, uint32_t plen,
    struct commit_marks *cm)
{
	uint32_t uidnext;
	uint64_t modseq;

	if (plen != 52)
		return -1;
	uidnext = (uint32_t)get(q, 4);
	modseq = get(q + 4, 8);
	/* UIDs and modseqs only go up; everything the commit holds is
	 * below its uidnext and at most its highestmodseq. */
	if (uidnext == 0 || uidnext < idx->uidnext ||
	    modseq < idx->highestmodseq || cm->max_modseq > modseq ||
	    cm->max_exp_uid >= uidnext ||
	    (idx->n > 0 && idx->recs[idx->n - 1].uid >= uidnext) ||
	    get(q + 12, 8) > modseq)
		return -1;
	idx->uidnext = uidnext;
	idx->highestmodseq = modseq;
	idx->expunge_floor = get(q + 12, 8);
	idx->st_ino = get(q + 20, 8);
	idx->st_size = get(q + 28, 8);
	idx->st_mtime_ns = (int64_t)get(q + 36, 8);
	idx->st2_mtime_ns = (int64_t)get(q + 44, 8);
	memset(cm, 0, sizeof(*cm));
	return 0;
}

/* Apply the records of p[0..end) (whole commits).  0, or -1 with *good_r
 * the length of the commits before the first one that makes no sense. */
static int
apply_commits(struct mbidx *idx, const unsigned char *p, size_t end,
    size_t *good_r)
{
	struct commit_marks cm;
	size_t	 off = 0;
	uint32_t type, plen;
	char	*kw;
	int	 rc;

	memset(&cm, 0, sizeof(cm));
	*good_r = 0;
	while (off < end) {
		const unsigned char *q = p + off + 8;

		type = (uint32_t)get(p + off, 4);
		plen = (uint32_t)get(p + off + 4, 4);
		switch (type) {
		case MBLOG_T_REC:
			rc = apply_rec(idx, q, plen, &cm);
			break;
		case MBLOG_T_EXP:
			rc = apply_exp(idx, q, plen, &cm);
			break;
		case MBLOG_T_KW:
			kw = xmemdup(q, plen);
			rc = strlen(kw) != plen ||
			    mbidx_keyword(idx, kw, false) != -1 ||
			    mbidx_keyword(idx, kw, true) == -1 ? -1 : 0;
			free(kw);
			break;
		case MBLOG_T_HDR:
			rc = apply_hdr(idx, q, plen, &cm);
			break;
		default:
			rc = -1;
			break;
		}
		if (rc == -1)
			return -1;
		off += 16 + (size_t)plen;
		if (type == MBLOG_T_HDR)
			*good_r = off;
	}
	return 0;
}

/* The highest uidnext and modseq the commits in p[from..end) claim,
 * however damaged, within a sane distance of what idx has. */
static void
tail_marks(struct mbidx *idx, const unsigned char *p, size_t from,
    size_t end)
{
	uint32_t type, plen, uidnext;
	uint64_t modseq;

	while (from < end) {
		type = (uint32_t)get(p + from, 4);
		plen = (uint32_t)get(p + from + 4, 4);
		if (type == MBLOG_T_HDR && plen == 52) {
			uidnext = (uint32_t)get(p + from + 8, 4);
			modseq = get(p + from + 12, 8);
			if (uidnext > idx->uidnext &&
			    uidnext - idx->uidnext <= MBIDX_MSGS_MAX)
				idx->uidnext = uidnext;
			if (modseq > idx->highestmodseq &&
			    modseq - idx->highestmodseq <= MBIDX_MSGS_MAX)
				idx->highestmodseq = modseq;
		}
		from += 16 + (size_t)plen;
	}
}

int
mblog_apply(struct mbidx *idx, const void *buf, size_t len, size_t *used_r)
{
	const unsigned char *p = buf;
	size_t	 end = committed(p, len), good, again;
	struct mbidx work;

	*used_r = 0;
	if (end == 0)
		return 0;
	/* On a copy, so that a bad commit leaves idx as the good ones
	 * before it made it. */
	mbidx_copy(&work, idx);
	if (apply_commits(&work, p, end, &good) == 0) {
		mbidx_release(idx);
		*idx = work;
		*used_r = end;
		return 0;
	}
	mbidx_release(&work);
	if (apply_commits(idx, p, good, &again) == -1 || again != good)
		panic("mblog: a commit applied once fails again");
	/* UIDs the rejected commits may have handed out are never given
	 * again: uidnext (and the modseq) move past what they claim. */
	tail_marks(idx, p, good, end);
	*used_r = good;
	return -1;
}

static void
record(struct str *out, uint32_t type, const struct str *payload)
{
	size_t	 start = out->len;

	mbidx_put(out, type, 4);
	mbidx_put(out, payload->len, 4);
	if (payload->len > 0 &&
	    str_append(out, payload->data, payload->len) == -1)
		fatalx("mblog: out of memory");
	mbidx_put(out, mbidx_hash(out->data + start, 8 + payload->len, 0), 8);
}

static bool
rec_differs(const struct mbidx_rec *a, const struct mbidx_rec *b)
{
	return a->flags != b->flags || a->keywords != b->keywords ||
	    a->modseq != b->modseq || a->idate != b->idate ||
	    a->wire_size != b->wire_size || a->raw_size != b->raw_size ||
	    a->offset != b->offset || a->hash != b->hash || a->aux != b->aux ||
	    (a->key == NULL) != (b->key == NULL) ||
	    (a->key != NULL && strcmp(a->key, b->key) != 0);
}

static int
exp_cmp(const void *a, const void *b)
{
	const struct mbidx_exp *x = a, *y = b;

	return x->modseq < y->modseq ? -1 : x->modseq > y->modseq;
}

void
mblog_diff(const struct mbidx *pre, const struct mbidx *post,
    struct str *out)
{
	struct mbidx_exp *gone;
	struct str p;
	size_t	 i, j, k, ng = 0;

	str_init(&p, 0);
	for (i = pre->n_keywords; i < post->n_keywords; i++) {
		str_clear(&p);
		if (str_append_str(&p, post->keywords[i]) == -1)
			fatalx("mblog: out of memory");
		record(out, MBLOG_T_KW, &p);
	}
	/* Expunged: in pre, not in post; at the modseq post remembers. */
	gone = xreallocarray(NULL, pre->n + 1, sizeof(*gone));
	for (i = 0, j = 0; i < pre->n; i++) {
		while (j < post->n && post->recs[j].uid < pre->recs[i].uid)
			j++;
		if (j < post->n && post->recs[j].uid == pre->recs[i].uid)
			continue;
		gone[ng].uid = pre->recs[i].uid;
		gone[ng].modseq = post->highestmodseq;
		for (k = post->n_exp; k-- > 0;)
			if (post->exp[k].uid == gone[ng].uid) {
				gone[ng].modseq = post->exp[k].modseq;
				break;
			}
		ng++;
	}
	qsort(gone, ng, sizeof(*gone), exp_cmp);
	for (i = 0; i < ng; i++) {
		str_clear(&p);
		mbidx_put(&p, gone[i].uid, 4);
		mbidx_put(&p, gone[i].modseq, 8);
		record(out, MBLOG_T_EXP, &p);
	}
	free(gone);
	/* New or changed records, ascending UID. */
	for (i = 0, j = 0; j < post->n; j++) {
		while (i < pre->n && pre->recs[i].uid < post->recs[j].uid)
			i++;
		if (i < pre->n && pre->recs[i].uid == post->recs[j].uid &&
		    !rec_differs(&pre->recs[i], &post->recs[j]))
			continue;
		str_clear(&p);
		mbidx_rec_write(&p, &post->recs[j]);
		record(out, MBLOG_T_REC, &p);
	}
	str_clear(&p);
	mbidx_put(&p, post->uidnext, 4);
	mbidx_put(&p, post->highestmodseq, 8);
	mbidx_put(&p, post->expunge_floor, 8);
	mbidx_put(&p, post->st_ino, 8);
	mbidx_put(&p, post->st_size, 8);
	mbidx_put(&p, (uint64_t)post->st_mtime_ns, 8);
	mbidx_put(&p, (uint64_t)post->st2_mtime_ns, 8);
	record(out, MBLOG_T_HDR, &p);
	str_release(&p);
}
