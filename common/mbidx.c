/* SPDX-License-Identifier: MIT */
/*
 * mbidx.c - the per-folder index file: UIDs, sizes, flags, modseqs
 *
 * Format (all integers little-endian; docs/mailbox.md has the same table):
 *
 *	header, 96 bytes:
 *	  0  magic "BZIDX\0\0\1"	 8  u32 version (1)
 *	 12  u32 messages		16  u32 expunge records
 *	 20  u32 keywords		24  u32 uidvalidity
 *	 28  u32 uidnext		32  u64 highestmodseq
 *	 40  u64 expunge_floor		48  u64 log id (buzon.log's)
 *	 56  u64 store inode		64  u64 store size
 *	 72  i64 store mtime (ns)	80  i64 second mtime (ns)
 *	 88  u64 reserved (0)
 *	keywords: u8 length (1..100), that many bytes
 *	messages, ascending UID: u32 uid, u32 flags, u64 keywords, u64 modseq,
 *	  i64 internal date, u64 wire size, u64 raw size, u64 offset,
 *	  u64 hash, u64 cache offset, u32 cache length, u32 aux,
 *	  u16 key length (0..255), key bytes
 *	expunges, ascending modseq: u32 uid, u64 modseq
 *	trailer: u64 FNV-1a 64 of every byte before it
 *
 * The file is only ever replaced whole (mbidx_write: tmp, fsync, rename,
 * fsync dir), so a reader sees the old or the new file, never a mix.  The
 * parser trusts nothing: every count is bounded, every length checked
 * against what is left, UIDs must ascend below uidnext, the checksum must
 * match and the input must be consumed exactly.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "mailbox_private.h"
#include "mem.h"
#include "str.h"

#define MBIDX_MAGIC	"BZIDX\0\0\1"
#define MBIDX_VERSION	1
#define MBIDX_HDR	96
#define MBIDX_REC	82

void
mbidx_init(struct mbidx *idx)
{
	memset(idx, 0, sizeof(*idx));
	idx->fd = -1;
}

void
mbidx_release(struct mbidx *idx)
{
	size_t	 i;

	for (i = 0; i < idx->n; i++) {
		free(idx->recs[i].key);
		free(idx->recs[i].fname);
	}
	for (i = 0; i < idx->n_keywords; i++)
		free(idx->keywords[i]);
	free(idx->recs);
	free(idx->exp);
	if (idx->fd != -1)
		close(idx->fd);
	mbidx_init(idx);
}

uint64_t
mbidx_hash(const void *p, size_t len, uint64_t h)
{
	const unsigned char *s = p;
	size_t	 i;

	if (h == 0)
		h = 0xcbf29ce484222325ULL;
	for (i = 0; i < len; i++) {
		h ^= s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* ---- little-endian reader over a bounded buffer ---- */

struct rd {
	const unsigned char *p;
	size_t	 left;
	bool	 bad;
};

static uint64_t
rd_uint(struct rd *r, size_t n)
{
	uint64_t v = 0;
	size_t	 i;

	if (r->bad || r->left < n) {
		r->bad = true;
		return 0;
	}
	for (i = 0; i < n; i++)
		v |= (uint64_t)r->p[i] << (8 * i);
	r->p += n;
	r->left -= n;
	return v;
}

static const unsigned char *
rd_bytes(struct rd *r, size_t n)
{
	const unsigned char *p = r->p;

	if (r->bad || r->left < n) {
		r->bad = true;
		return NULL;
	}
	r->p += n;
	r->left -= n;
	return p;
}

static bool
key_valid(const unsigned char *k, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (k[i] <= 0x20 || k[i] >= 0x7f || k[i] == '/' || k[i] == ':')
			return false;
	return len == 0 || k[0] != '.';
}

int
mbidx_rec_read(const unsigned char **pp, size_t *left, struct mbidx_rec *m)
{
	struct rd r = { *pp, *left, false };
	const unsigned char *p;
	size_t	 klen;

	memset(m, 0, sizeof(*m));
	m->uid = rd_uint(&r, 4);
	m->flags = rd_uint(&r, 4);
	m->keywords = rd_uint(&r, 8);
	m->modseq = rd_uint(&r, 8);
	m->idate = (int64_t)rd_uint(&r, 8);
	m->wire_size = rd_uint(&r, 8);
	m->raw_size = rd_uint(&r, 8);
	m->offset = rd_uint(&r, 8);
	m->hash = rd_uint(&r, 8);
	/* cache slot: reserved, written as zero */
	if (rd_uint(&r, 8) != 0 || rd_uint(&r, 4) != 0)
		return -1;
	m->aux = rd_uint(&r, 4);
	klen = rd_uint(&r, 2);
	if ((p = rd_bytes(&r, klen)) == NULL || klen > MBIDX_KEY_MAX ||
	    !key_valid(p, klen))
		return -1;
	if (klen > 0)
		m->key = xmemdup(p, klen);
	*pp = r.p;
	*left = r.left;
	return 0;
}

bool
mbidx_rec_ok(const struct mbidx *idx, const struct mbidx_rec *m)
{
	return m->uid != 0 &&
	    (m->flags & ~(MAILBOX_FLAGS_ALL | MBR_INTERNAL)) == 0 &&
	    (idx->n_keywords >= 64 || (m->keywords >> idx->n_keywords) == 0) &&
	    m->wire_size <= 2 * MAILBOX_MSG_MAX &&
	    m->raw_size <= MAILBOX_MSG_MAX + 4096 &&
	    m->aux <= m->raw_size && m->offset <= UINT64_MAX / 2 &&
	    m->cache_len <= MAILBOX_CACHE_MAX;
}

int
mbidx_parse(struct mbidx *idx, const void *buf, size_t len)
{
	struct rd r = { buf, len, false };
	const unsigned char *p;
	uint32_t n, nexp, nkw, i, prev_uid = 0;
	uint64_t prev_modseq = 0, sum;
	size_t	 klen;

	mbidx_init(idx);
	if (len < MBIDX_HDR + 8)
		return -1;
	sum = 0;
	for (i = 0; i < 8; i++)
		sum |= (uint64_t)((const unsigned char *)buf)[len - 8 + i] <<
		    (8 * i);
	if (sum != mbidx_hash(buf, len - 8, 0))
		return -1;
	r.left = len - 8;
	p = rd_bytes(&r, 8);
	if (memcmp(p, MBIDX_MAGIC, 8) != 0 || rd_uint(&r, 4) != MBIDX_VERSION)
		return -1;
	n = rd_uint(&r, 4);
	nexp = rd_uint(&r, 4);
	nkw = rd_uint(&r, 4);
	idx->uidvalidity = rd_uint(&r, 4);
	idx->uidnext = rd_uint(&r, 4);
	idx->highestmodseq = rd_uint(&r, 8);
	idx->expunge_floor = rd_uint(&r, 8);
	idx->log_id = rd_uint(&r, 8);
	idx->st_ino = rd_uint(&r, 8);
	idx->st_size = rd_uint(&r, 8);
	idx->st_mtime_ns = (int64_t)rd_uint(&r, 8);
	idx->st2_mtime_ns = (int64_t)rd_uint(&r, 8);
	if (rd_uint(&r, 8) != 0 || n > MBIDX_MSGS_MAX || nexp > MBIDX_EXP_MAX ||
	    nkw > MAILBOX_KEYWORDS_MAX || idx->uidvalidity == 0 ||
	    idx->uidnext == 0 || idx->expunge_floor > idx->highestmodseq ||
	    (uint64_t)n * MBIDX_REC > r.left)
		goto bad;
	for (i = 0; i < nkw; i++) {
		klen = rd_uint(&r, 1);
		if ((p = rd_bytes(&r, klen)) == NULL)
			goto bad;
		idx->keywords[i] = xmemdup(p, klen);
		idx->n_keywords++;
		if (strlen(idx->keywords[i]) != klen ||
		    !mailbox_keyword_valid(idx->keywords[i]))
			goto bad;
	}
	idx->recs = xreallocarray(NULL, n > 0 ? n : 1, sizeof(*idx->recs));
	idx->cap = n > 0 ? n : 1;
	for (i = 0; i < n; i++) {
		struct mbidx_rec *m = &idx->recs[i];

		if (mbidx_rec_read(&r.p, &r.left, m) == -1)
			goto bad;
		idx->n++;
		if (m->uid <= prev_uid || m->uid >= idx->uidnext ||
		    m->modseq > idx->highestmodseq || !mbidx_rec_ok(idx, m))
			goto bad;
		prev_uid = m->uid;
	}
	if (nexp > 0)
		idx->exp = xreallocarray(NULL, nexp, sizeof(*idx->exp));
	idx->exp_cap = nexp;
	for (i = 0; i < nexp; i++) {
		idx->exp[i].uid = rd_uint(&r, 4);
		idx->exp[i].modseq = rd_uint(&r, 8);
		if (r.bad || idx->exp[i].modseq < prev_modseq ||
		    idx->exp[i].modseq > idx->highestmodseq ||
		    idx->exp[i].uid == 0 || idx->exp[i].uid >= idx->uidnext)
			goto bad;
		prev_modseq = idx->exp[i].modseq;
		idx->n_exp++;
	}
	if (r.bad || r.left != 0)
		goto bad;
	return 0;
bad:
	mbidx_release(idx);
	return -1;
}

/* ---- writer ---- */

static void
wr_uint(struct str *s, uint64_t v, size_t n)
{
	unsigned char b[8];
	size_t	 i;

	for (i = 0; i < n; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	if (str_append(s, b, n) == -1)
		fatalx("mbidx: index too large");
}

void
mbidx_put(struct str *s, uint64_t v, size_t n)
{
	wr_uint(s, v, n);
}

void
mbidx_rec_write(struct str *s, const struct mbidx_rec *m)
{
	size_t	 klen = m->key != NULL ? strlen(m->key) : 0;

	wr_uint(s, m->uid, 4);
	wr_uint(s, m->flags, 4);
	wr_uint(s, m->keywords, 8);
	wr_uint(s, m->modseq, 8);
	wr_uint(s, (uint64_t)m->idate, 8);
	wr_uint(s, m->wire_size, 8);
	wr_uint(s, m->raw_size, 8);
	wr_uint(s, m->offset, 8);
	wr_uint(s, m->hash, 8);
	wr_uint(s, 0, 8);		/* cache slot: reserved */
	wr_uint(s, 0, 4);
	wr_uint(s, m->aux, 4);
	BUZ_ASSERT(klen <= MBIDX_KEY_MAX);
	wr_uint(s, klen, 2);
	if (klen > 0 && str_append(s, m->key, klen) == -1)
		fatalx("mbidx: out of memory");
}

void *
mbidx_serialize(const struct mbidx *idx, size_t *len_r)
{
	struct str s;
	size_t	 i, klen;

	str_init(&s, 0);
	if (str_append(&s, MBIDX_MAGIC, 8) == -1)
		fatalx("mbidx: out of memory");
	wr_uint(&s, MBIDX_VERSION, 4);
	wr_uint(&s, idx->n, 4);
	wr_uint(&s, idx->n_exp, 4);
	wr_uint(&s, idx->n_keywords, 4);
	wr_uint(&s, idx->uidvalidity, 4);
	wr_uint(&s, idx->uidnext, 4);
	wr_uint(&s, idx->highestmodseq, 8);
	wr_uint(&s, idx->expunge_floor, 8);
	wr_uint(&s, idx->log_id, 8);
	wr_uint(&s, idx->st_ino, 8);
	wr_uint(&s, idx->st_size, 8);
	wr_uint(&s, (uint64_t)idx->st_mtime_ns, 8);
	wr_uint(&s, (uint64_t)idx->st2_mtime_ns, 8);
	wr_uint(&s, 0, 8);
	for (i = 0; i < idx->n_keywords; i++) {
		klen = strlen(idx->keywords[i]);
		wr_uint(&s, klen, 1);
		if (str_append(&s, idx->keywords[i], klen) == -1)
			fatalx("mbidx: out of memory");
	}
	for (i = 0; i < idx->n; i++)
		mbidx_rec_write(&s, &idx->recs[i]);
	for (i = 0; i < idx->n_exp; i++) {
		wr_uint(&s, idx->exp[i].uid, 4);
		wr_uint(&s, idx->exp[i].modseq, 8);
	}
	wr_uint(&s, mbidx_hash(s.data, s.len, 0), 8);
	return str_detach(&s, len_r);
}

int
mbidx_read(struct mbidx *idx, const char *path, struct stat *st_r)
{
	struct stat st;
	char	*buf;
	size_t	 got;
	int	 fd, rc;

	mbidx_init(idx);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return errno == ENOENT ? 0 : -2;
	if (fd_read_whole(fd, (size_t)MBIDX_MSGS_MAX * 400, &buf, &got,
	    &st) == -1) {
		rc = errno == EINVAL || errno == EFBIG ? -1 : -2;
		close(fd);
		return rc;
	}
	close(fd);
	if (got != (size_t)st.st_size) {
		free(buf);
		return -1;
	}
	rc = mbidx_parse(idx, buf, got) == 0 ? 1 : -1;
	free(buf);
	if (st_r != NULL)
		*st_r = st;
	return rc;
}

int
mbidx_write(const struct mbidx *idx, const char *path, bool durable,
    struct stat *st_r)
{
	char	 tmp[4096], *dir, *slash;
	void	*buf;
	size_t	 len;
	int	 fd, rc;

	if (!str_printf(tmp, sizeof(tmp), "%s.tmp", path))
		return -1;
	buf = mbidx_serialize(idx, &len);
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		free(buf);
		return -1;
	}
	rc = fd_write_all(fd, buf, len);
	free(buf);
	if (rc == -1 || fsync(fd) == -1 ||
	    (st_r != NULL && fstat(fd, st_r) == -1)) {
		close(fd);
		(void)unlink(tmp);
		return -1;
	}
	if (close(fd) == -1 || rename(tmp, path) == -1) {
		(void)unlink(tmp);
		return -1;
	}
	/* UIDs handed out must survive a crash: sync the directory too,
	 * and say so when that fails (the new file is in place, but a crash
	 * could bring the old one back).  A flag change may be lost; the
	 * file itself always is whole. */
	if (!durable)
		return 0;
	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	rc = mailbox_fsync_dir(slash != NULL ? dir : ".");
	free(dir);
	return rc;
}

struct mbidx_rec *
mbidx_add(struct mbidx *idx, uint32_t uid)
{
	struct mbidx_rec *m;

	BUZ_ASSERT(idx->n == 0 || idx->recs[idx->n - 1].uid < uid);
	if (idx->n == idx->cap) {
		idx->cap = idx->cap < 16 ? 16 : idx->cap * 2;
		idx->recs = xreallocarray(idx->recs, idx->cap,
		    sizeof(*idx->recs));
	}
	m = &idx->recs[idx->n++];
	memset(m, 0, sizeof(*m));
	m->uid = uid;
	return m;
}

ssize_t
mbidx_find(const struct mbidx *idx, uint32_t uid)
{
	size_t	 lo = 0, hi = idx->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (idx->recs[mid].uid == uid)
			return (ssize_t)mid;
		if (idx->recs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

void
mbidx_expunge_at(struct mbidx *idx, size_t i)
{
	mbidx_expunge_with(idx, i, ++idx->highestmodseq);
}

void
mbidx_expunge_with(struct mbidx *idx, size_t i, uint64_t modseq)
{
	struct mbidx_rec *m = &idx->recs[i];

	BUZ_ASSERT(i < idx->n);
	if (idx->n_exp == MBIDX_EXP_MAX) {
		/* Forget the oldest half; QRESYNC then gets "unknown". */
		size_t	 drop = MBIDX_EXP_MAX / 2;

		idx->expunge_floor = idx->exp[drop - 1].modseq;
		memmove(idx->exp, idx->exp + drop,
		    (idx->n_exp - drop) * sizeof(*idx->exp));
		idx->n_exp -= drop;
	}
	if (idx->n_exp == idx->exp_cap) {
		idx->exp_cap = idx->exp_cap < 16 ? 16 : idx->exp_cap * 2;
		idx->exp = xreallocarray(idx->exp, idx->exp_cap,
		    sizeof(*idx->exp));
	}
	idx->exp[idx->n_exp].uid = m->uid;
	idx->exp[idx->n_exp].modseq = modseq;
	idx->n_exp++;
	free(m->key);
	free(m->fname);
	memmove(m, m + 1, (idx->n - i - 1) * sizeof(*m));
	idx->n--;
}

void
mbidx_copy(struct mbidx *dst, const struct mbidx *src)
{
	size_t	 i;

	*dst = *src;
	dst->fd = src->fd != -1 ? fcntl(src->fd, F_DUPFD_CLOEXEC, 0) : -1;
	dst->recs = xreallocarray(NULL, src->n > 0 ? src->n : 1,
	    sizeof(*dst->recs));
	dst->cap = src->n > 0 ? src->n : 1;
	for (i = 0; i < src->n; i++) {
		dst->recs[i] = src->recs[i];
		if (src->recs[i].key != NULL)
			dst->recs[i].key = xstrdup(src->recs[i].key);
		if (src->recs[i].fname != NULL)
			dst->recs[i].fname = xstrdup(src->recs[i].fname);
	}
	dst->exp = NULL;
	dst->exp_cap = 0;
	if (src->n_exp > 0) {
		dst->exp = xreallocarray(NULL, src->n_exp, sizeof(*dst->exp));
		memcpy(dst->exp, src->exp, src->n_exp * sizeof(*dst->exp));
		dst->exp_cap = src->n_exp;
	}
	for (i = 0; i < src->n_keywords; i++)
		dst->keywords[i] = xstrdup(src->keywords[i]);
}

int
mbidx_keyword(struct mbidx *idx, const char *name, bool add)
{
	unsigned int i;

	for (i = 0; i < idx->n_keywords; i++)
		if (strcasecmp(idx->keywords[i], name) == 0)
			return (int)i;
	if (!add || idx->n_keywords == MAILBOX_KEYWORDS_MAX ||
	    !mailbox_keyword_valid(name))
		return -1;
	idx->keywords[idx->n_keywords] = xstrdup(name);
	return (int)idx->n_keywords++;
}
