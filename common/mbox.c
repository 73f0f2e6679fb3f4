/* SPDX-License-Identifier: MIT */
/*
 * mbox.c - the mbox backend (mboxrd)
 *
 * A message is the chunk from its "From " line (at the file start or after
 * an LF) to the next one or EOF.  Its content is the chunk minus the
 * "From " line, minus the chunk's last LF when the chunk ends in a blank
 * line (the separator writers add).  Reading undoes mboxrd quoting (one '>'
 * off ">From ", ">>From "...); Content-Length is ignored; Status: and
 * X-Status: are not read (flags live in the index only).
 *
 * The index remembers the file's inode, size and mtime.  Same inode and a
 * bigger size: only the new tail is parsed (deliveries append).  Anything
 * else: the whole file is parsed again and old records are matched to
 * chunks in file order by a hash of the content, so an outside rewrite
 * keeps the UIDs of the messages it kept.
 *
 * Expunge writes the kept chunks (and any tail appended since the last
 * sync) to a new file beside the old one, fsyncs it, renames it over the
 * mbox and fsyncs the directory, all under the mbox lock: a crash leaves
 * the old or the new file, both whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "mailbox_private.h"
#include "mbox_lock.h"
#include "mem.h"
#include "str.h"

#define HASH_PREFIX	4096

struct chunk {
	uint64_t	 off, len;
	uint32_t	 fromlen;
	uint32_t	 bits;		/* MBR_QUOTED | MBR_TRAIL */
	uint64_t	 wire;
	uint64_t	 hash;
	int64_t		 idate;
};

static int64_t
from_date(const char *p, size_t len)
{
	char	 line[256], *s;
	struct tm tm;
	size_t	 n = len < sizeof(line) - 1 ? len : sizeof(line) - 1;

	memcpy(line, p, n);
	line[n] = '\0';
	s = line + 5;				/* past "From " */
	s += strcspn(s, " \t\n");		/* the envelope sender */
	s += strspn(s, " \t");
	memset(&tm, 0, sizeof(tm));
	if (strptime(s, "%a %b %d %H:%M:%S %Y", &tm) == NULL)
		return 0;
	return (int64_t)timegm(&tm);
}

/* Describe the chunk at p[0..len) (p starts with "From "). */
static void
chunk_fill(struct chunk *c, const char *p, uint64_t off, size_t len)
{
	const char *nl = memchr(p, '\n', len), *q, *e, *lf;
	char	 prev = '\0';

	memset(c, 0, sizeof(*c));
	c->off = off;
	c->len = len;
	c->fromlen = nl != NULL ? (uint32_t)(nl - p + 1) : (uint32_t)len;
	c->idate = from_date(p, c->fromlen);
	q = p + c->fromlen;
	e = p + len;
	if (e - q >= 2 && e[-1] == '\n' && e[-2] == '\n') {
		c->bits |= MBR_TRAIL;
		e--;
	} else if (e - q == 1 && e[-1] == '\n') {
		c->bits |= MBR_TRAIL;		/* an empty message */
		e--;
	}
	c->hash = mbidx_hash(q, (size_t)(e - q) < HASH_PREFIX ?
	    (size_t)(e - q) : HASH_PREFIX, 0);
	c->hash = mbidx_hash(&c->len, sizeof(c->len), c->hash);
	/* Wire size: line by line, quoted lines lose one byte. */
	while (q < e) {
		lf = memchr(q, '\n', (size_t)(e - q));
		lf = lf != NULL ? lf + 1 : e;
		if (*q == '>' && mbox_line_quoted(q, (size_t)(e - q))) {
			c->bits |= MBR_QUOTED;
			c->wire--;
		}
		c->wire += mailbox_crlf_size(q, (size_t)(lf - q), &prev);
		q = lf;
	}
}

/* Split map[from..size) into chunks. */
static struct chunk *
split(const char *map, uint64_t from, uint64_t size, size_t *n_r)
{
	struct chunk *v = NULL;
	size_t	 n = 0, cap = 0;
	uint64_t pos = from, next;
	const char *hit;

	/* Bytes before the first "From " are not a message. */
	while (pos < size && !(size - pos >= 5 &&
	    memcmp(map + pos, "From ", 5) == 0 &&
	    (pos == 0 || map[pos - 1] == '\n'))) {
		hit = memchr(map + pos, '\n', size - pos);
		pos = hit != NULL ? (uint64_t)(hit - map) + 1 : size;
	}
	while (pos < size) {
		hit = memmem(map + pos + 5, size - pos - 5, "\nFrom ", 6);
		next = hit != NULL ? (uint64_t)(hit - map) + 1 : size;
		if (n == cap) {
			cap = cap < 64 ? 64 : cap * 2;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		chunk_fill(&v[n++], map + pos, pos, (size_t)(next - pos));
		pos = next;
	}
	*n_r = n;
	return v;
}

static void
rec_from_chunk(struct mbidx_rec *m, const struct chunk *c, int64_t fallback)
{
	m->offset = c->off;
	m->raw_size = c->len;
	m->aux = c->fromlen;
	m->hash = c->hash;
	m->wire_size = c->wire;
	m->flags = (m->flags & MAILBOX_FLAGS_ALL) | c->bits;
	if (m->idate == 0)
		m->idate = c->idate != 0 ? c->idate : fallback;
}

static int
add_chunks(struct mbidx *idx, const struct chunk *c, size_t n, int64_t fb,
    bool *dirty)
{
	struct mbidx_rec *m;
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (idx->uidnext == UINT32_MAX)
			return -1;
		m = mbidx_add(idx, idx->uidnext++);
		rec_from_chunk(m, &c[i], fb);
		m->modseq = ++idx->highestmodseq;
		*dirty = true;
	}
	return 0;
}

/* Parse the mbox open on fd (stat st) into idx. */
static int
scan(struct mbidx *idx, int fd, const struct stat *st, bool *dirty,
    struct fail *f)
{
	struct chunk *c;
	char	*map = NULL;
	size_t	 n, i, j, k;
	uint64_t from = 0;
	bool	 incremental, broke = false;
	int	 rc = 0;

	if (idx->st_ino == (uint64_t)st->st_ino &&
	    idx->st_size == (uint64_t)st->st_size &&
	    idx->st_mtime_ns == stat_mtime_ns(st))
		return 0;
	if (st->st_size > 0) {
		map = mmap(NULL, (size_t)st->st_size, PROT_READ, MAP_SHARED,
		    fd, 0);
		if (map == MAP_FAILED)
			return fail_set(f, true, "4.3.0", "cannot read mbox");
	}
	incremental = idx->st_ino == (uint64_t)st->st_ino &&
	    idx->st_size > 0 && idx->st_size <= (uint64_t)st->st_size &&
	    (idx->st_size == (uint64_t)st->st_size ||
	    ((uint64_t)st->st_size - idx->st_size >= 5 &&
	    memcmp(map + idx->st_size, "From ", 5) == 0 &&
	    map[idx->st_size - 1] == '\n'));
	if (incremental)
		from = idx->st_size;
	c = split(map, from, (uint64_t)st->st_size, &n);
	if (incremental) {
		if (add_chunks(idx, c, n, st->st_mtim.tv_sec, dirty) == -1)
			rc = fail_set(f, true, "4.3.0", "out of UIDs");
	} else {
		/* Match old records to chunks, in order, by content hash. */
		for (i = 0; i < idx->n; i++)
			idx->recs[i].seen_on_disk = false;
		j = 0;
		for (i = 0; i < n && !broke; i++) {
			for (k = j; k < idx->n; k++)
				if (idx->recs[k].hash == c[i].hash &&
				    idx->recs[k].wire_size == c[i].wire)
					break;
			if (k == idx->n) {
				broke = true;
				break;
			}
			rec_from_chunk(&idx->recs[k], &c[i], 0);
			idx->recs[k].seen_on_disk = true;
			j = k + 1;
		}
		for (k = idx->n; k-- > 0;)
			if (!idx->recs[k].seen_on_disk)
				mbidx_expunge_at(idx, k);
		if (add_chunks(idx, c + i, n - i, st->st_mtim.tv_sec,
		    dirty) == -1)
			rc = fail_set(f, true, "4.3.0", "out of UIDs");
	}
	free(c);
	if (map != NULL)
		munmap(map, (size_t)st->st_size);
	idx->st_ino = (uint64_t)st->st_ino;
	idx->st_size = (uint64_t)st->st_size;
	idx->st_mtime_ns = stat_mtime_ns(st);
	*dirty = true;
	return rc;
}

/* Open a read fd on the same file as the locked fd. */
static int
attach(struct mailbox *mb, struct mbidx *idx, const struct stat *st)
{
	struct stat cur;

	if (idx->fd != -1 && fstat(idx->fd, &cur) == 0 &&
	    cur.st_ino == st->st_ino && cur.st_dev == st->st_dev)
		return 0;
	if (idx->fd != -1)
		close(idx->fd);
	idx->fd = open(mb->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (idx->fd == -1 || fstat(idx->fd, &cur) == -1 ||
	    cur.st_ino != st->st_ino)
		return -1;
	return 0;
}

static int
mbox_sync(struct mailbox *mb, struct mbidx *idx, bool *dirty, struct fail *f)
{
	struct mbox_lock l;
	struct stat st;
	int	 rc;

	if (mbox_lock_take(mb->path, NULL, &l, f) == -1)
		return -1;
	if (fstat(l.fd, &st) == -1) {
		mbox_lock_release(&l);
		return fail_set(f, true, "4.3.0", "cannot read mbox");
	}
	rc = scan(idx, l.fd, &st, dirty, f);
	if (rc == 0 && attach(mb, idx, &st) == -1)
		rc = fail_set(f, true, "4.3.0", "cannot open mbox");
	mbox_lock_release(&l);
	return rc;
}

static int
mbox_open_msg(struct mailbox *mb, const struct mbidx_rec *m,
    struct mailbox_stream *st, struct fail *f)
{
	(void)mb;
	if (mb->view.fd == -1 ||
	    (st->fd = fcntl(mb->view.fd, F_DUPFD_CLOEXEC, 0)) == -1)
		return fail_set(f, true, "4.3.0", "cannot open message");
	st->own_fd = true;
	st->off = m->offset + m->aux;
	st->end = m->offset + m->raw_size - ((m->flags & MBR_TRAIL) ? 1 : 0);
	st->unquote = (m->flags & MBR_QUOTED) != 0;
	st->raw_ok = !st->unquote && st->end - st->off == m->wire_size;
	return 0;
}

static int
copy_range(int in, int out, uint64_t off, uint64_t len)
{
	char	 buf[65536];
	ssize_t	 r;
	size_t	 want;

	while (len > 0) {
		want = len < sizeof(buf) ? (size_t)len : sizeof(buf);
		r = pread(in, buf, want, (off_t)off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		if (fd_write_all(out, buf, (size_t)r) == -1)
			return -1;
		off += (uint64_t)r;
		len -= (uint64_t)r;
	}
	return 0;
}

static int
mbox_expunge(struct mailbox *mb, struct mbidx *idx, const bool *doomed,
    struct fail *f)
{
	struct mbox_lock l;
	struct stat st, nst;
	char	 tmp[4096], *dir, *slash;
	uint64_t pos = 0, *newoff;
	size_t	 i;
	int	 out, rc = -1, dir_rc, dir_err;

	if (mbox_lock_take(mb->path, NULL, &l, f) == -1)
		return -1;
	if (fstat(l.fd, &st) == -1 || (uint64_t)st.st_ino != idx->st_ino ||
	    (uint64_t)st.st_size < idx->st_size) {
		mbox_lock_release(&l);
		return fail_set(f, true, "4.3.0", "mbox changed, try again");
	}
	if (!str_printf(tmp, sizeof(tmp), "%s.buzon-new.%ld", mb->path,
	    (long)getpid())) {
		mbox_lock_release(&l);
		return fail_set(f, false, "5.3.0", "mailbox path too long");
	}
	(void)unlink(tmp);
	out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    st.st_mode & 0777);
	if (out == -1) {
		mbox_lock_release(&l);
		return fail_set(f, true, "4.3.0", "cannot rewrite mbox");
	}
	newoff = xcalloc(idx->n + 1, sizeof(*newoff));
	for (i = 0; i < idx->n; i++) {
		if (doomed[i])
			continue;
		newoff[i] = pos;
		if (copy_range(l.fd, out, idx->recs[i].offset,
		    idx->recs[i].raw_size) == -1)
			goto out;
		pos += idx->recs[i].raw_size;
	}
	/* Mail appended since our last look rides along; the next sync
	 * parses it from pos on. */
	if (copy_range(l.fd, out, idx->st_size,
	    (uint64_t)st.st_size - idx->st_size) == -1 ||
	    fsync(out) == -1 || fstat(out, &nst) == -1)
		goto out;
	if (close(out) == -1) {
		out = -1;
		goto out;
	}
	out = -1;
	if (rename(tmp, mb->path) == -1)
		goto out;
	dir = xstrdup(mb->path);
	slash = strrchr(dir, '/');
	if (slash != NULL)
		*slash = '\0';
	dir_rc = mailbox_fsync_dir(slash != NULL ? dir : ".");
	dir_err = errno;
	free(dir);
	/* The new file is in place whatever the fsync said: the index
	 * follows it, so it can be written. */
	for (i = 0; i < idx->n; i++)
		idx->recs[i].offset = newoff[i];
	for (i = idx->n; i-- > 0;)
		if (doomed[i])
			mbidx_expunge_at(idx, i);
	idx->st_ino = (uint64_t)nst.st_ino;
	idx->st_size = pos;
	idx->st_mtime_ns = pos == (uint64_t)nst.st_size ? stat_mtime_ns(&nst) : 0;
	if (attach(mb, idx, &nst) == -1)
		log_warn(NULL, "mbox reopen failed path=%s", mb->path);
	if (dir_rc == -1) {
		/* A crash could bring back the expunged messages. */
		log_error(NULL, "mbox directory fsync failed path=%s: %s",
		    mb->path, strerror(dir_err));
		free(newoff);
		mbox_lock_release(&l);
		return fail_set(f, true, "4.3.0",
		    "cannot sync the mailbox directory");
	}
	rc = 0;
out:
	if (out != -1)
		close(out);
	if (rc == -1) {
		(void)unlink(tmp);
		fail_set(f, true, "4.3.0", "cannot rewrite mbox");
	}
	free(newoff);
	mbox_lock_release(&l);
	return rc;
}

static void
put(struct str *s, const void *p, size_t len)
{
	if (str_append(s, p, len) == -1)	/* no max: cannot happen */
		fatalx("mbox: buffer limit");
}

/* LF storage with mboxrd quoting: CRLF -> LF, ">*From " gets one more '>'. */
static void
quote_into(struct str *s, const char *p, size_t len)
{
	const char *e = p + len, *lf, *line_end;
	size_t	 i;

	while (p < e) {
		lf = memchr(p, '\n', (size_t)(e - p));
		line_end = lf != NULL ? lf : e;
		for (i = 0; p + i < line_end && p[i] == '>'; i++)
			continue;
		if (line_end - (p + i) >= 5 && memcmp(p + i, "From ", 5) == 0)
			put(s, ">", 1);
		if (line_end > p && line_end[-1] == '\r' && lf != NULL)
			put(s, p, (size_t)(line_end - p - 1));
		else
			put(s, p, (size_t)(line_end - p));
		if (lf != NULL)
			put(s, "\n", 1);
		p = lf != NULL ? lf + 1 : e;
	}
}

static int
mbox_append(struct mailbox *mb, struct mbidx *idx, const void *data,
    size_t len, unsigned int flags, time_t idate, struct mbidx_rec **rec_r,
    struct fail *f)
{
	struct mbox_lock l;
	struct stat st;
	struct tm tm;
	struct str s;
	char	 date[64], last = '\n';
	bool	 dirty = false;
	int	 rc = -1;

	if (mbox_lock_take(mb->path, NULL, &l, f) == -1)
		return -1;
	if (fstat(l.fd, &st) == -1)
		goto out;
	/* Catch up first so that our message is the last new chunk. */
	if (scan(idx, l.fd, &st, &dirty, f) == -1)
		goto out;
	if (st.st_size > 0 && pread(l.fd, &last, 1, st.st_size - 1) != 1)
		goto out;
	gmtime_r(&idate, &tm);
	if (strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm) == 0)
		goto out;
	str_init(&s, 0);
	if (last != '\n')
		put(&s, "\n", 1);
	put(&s, "From MAILER-DAEMON ", 19);
	put(&s, date, strlen(date));
	put(&s, "\n", 1);
	quote_into(&s, data, len);
	if (s.len > 0 && s.data[s.len - 1] != '\n')
		put(&s, "\n", 1);
	put(&s, "\n", 1);
	if (fd_write_all(l.fd, s.data, s.len) == -1 || fsync(l.fd) == -1) {
		if (ftruncate(l.fd, st.st_size) == -1)
			log_error(NULL, "mbox truncate failed path=%s",
			    mb->path);
		str_release(&s);
		fail_set(f, true, "4.3.0", "cannot write mbox");
		goto out;
	}
	str_release(&s);
	if (fstat(l.fd, &st) == -1 || scan(idx, l.fd, &st, &dirty, f) == -1 ||
	    idx->n == 0)
		goto out;
	if (attach(mb, idx, &st) == -1)
		log_warn(NULL, "mbox reopen failed path=%s", mb->path);
	*rec_r = &idx->recs[idx->n - 1];
	(*rec_r)->flags |= flags;
	(*rec_r)->idate = idate;
	rc = 0;
out:
	if (rc == -1 && f != NULL && f->code[0] == '\0')
		fail_set(f, true, "4.3.0", "cannot append to mbox");
	mbox_lock_release(&l);
	return rc;
}

const struct mailbox_backend mbox_backend = {
	.name = "mbox",
	.sync = mbox_sync,
	.open_msg = mbox_open_msg,
	.set_flags = NULL,
	.expunge = mbox_expunge,
	.append = mbox_append,
	.link_from = NULL,
	.close = NULL,
};
