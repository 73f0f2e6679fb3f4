/* SPDX-License-Identifier: MIT */
/*
 * deliver.c - the parts of local delivery that Maildir and mbox share:
 * batches, the buffered writer, and the content filter that turns CRLF
 * into LF, quotes ">*From " lines for mboxrd and watches the header for a
 * Delivered-To loop, all in one pass over bounded chunks.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deliver.h"
#include "deliver_private.h"
#include "dir.h"
#include "log.h"
#include "mem.h"
#include "str.h"

void
deliver_conf_init(struct deliver_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->lock_timeout = DELIVER_LOCK_TIMEOUT;
	c->stale_lock_time = DELIVER_STALE_LOCK_TIME;
}

const char *
deliver_hostname(const struct deliver_conf *c)
{
	static char	 host[256];

	if (c->hostname != NULL && c->hostname[0] != '\0')
		return c->hostname;
	if (host[0] == '\0') {
		if (gethostname(host, sizeof(host) - 1) == -1 ||
		    host[0] == '\0')
			(void)str_copy(host, "localhost", sizeof(host));
		host[sizeof(host) - 1] = '\0';
	}
	return host;
}

/* ---- batches ---- */

struct deliver_batch *
deliver_batch_begin(const struct deliver_conf *conf)
{
	struct deliver_batch	*b;

	b = xcalloc(1, sizeof(*b));
	b->conf = conf;
	return b;
}

void
deliver_batch_dir(struct deliver_batch *b, const char *dir)
{
	size_t	 i;

	for (i = 0; i < b->ndirs; i++)
		if (strcmp(b->dirs[i], dir) == 0)
			return;
	b->dirs = xreallocarray(b->dirs, b->ndirs + 1, sizeof(*b->dirs));
	b->dirs[b->ndirs++] = xstrdup(dir);
}

uint64_t
deliver_size_add(uint64_t a, uint64_t b)
{
	uint64_t	 sum;

	return __builtin_add_overflow(a, b, &sum) ? UINT64_MAX : sum;
}

bool
deliver_quota_exceeded(uint64_t usage, uint64_t add, uint64_t quota)
{
	return add > quota || usage > quota - add;
}

int
deliver_mkdirs(struct deliver_batch *b, const char *path, struct fail *f)
{
	char		 dir[PATH_MAX], *slash;
	struct stat	 st;
	bool		 last;

	if (!str_copy(dir, path, sizeof(dir)))
		return fail_set(f, true, "4.3.0", "path too long");
	for (slash = dir + 1; ; slash++) {
		slash = strchr(slash, '/');
		last = slash == NULL;
		if (!last)
			*slash = '\0';
		if (mkdir(dir, 0700) == 0) {
			/* Its name is in the parent: sync that too. */
			char	*up = strrchr(dir, '/');

			if (up != NULL && up != dir) {
				*up = '\0';
				deliver_batch_dir(b, dir);
				*up = '/';
			}
		} else if (errno != EEXIST && !(errno == EACCES &&
		    stat(dir, &st) == 0 && S_ISDIR(st.st_mode))) {
			/* EACCES on a parent that exists is fine. */
			log_error(NULL, "deliver mkdir failed dir=%s error=%s",
			    dir, strerror(errno));
			return deliver_fail_errno(f, errno,
			    "cannot create the mailbox");
		}
		if (last)
			return 0;
		*slash = '/';
	}
}

int
deliver_batch_add(struct deliver_batch *b, const struct deliver_rcpt *r,
    const struct deliver_msg *m, struct deliver_result *res, struct fail *f)
{
	struct deliver_result	 tmp;

	if (res == NULL)
		res = &tmp;
	memset(res, 0, sizeof(*res));
	if (r->format == DELIVER_MBOX)
		return deliver_mbox(b, r, m, res, f);
	return deliver_maildir(b, r, m, res, f);
}

int
deliver_batch_commit(struct deliver_batch **bp, struct fail *f)
{
	struct deliver_batch	*b = *bp;
	size_t			 i;
	int			 rc = 0;

	if (b->failed) {
		if (f != NULL)
			*f = b->fail;
		rc = -1;
	}
	if (deliver_maildir_flush(b, f) == -1)
		rc = -1;
	for (i = 0; i < b->ndirs; i++) {
		if (dir_fsync(b->dirs[i]) == -1) {
			log_error(NULL, "deliver fsync failed dir=%s error=%s",
			    b->dirs[i], strerror(errno));
			rc = deliver_fail_errno(f, errno, "directory sync");
		}
	}
	deliver_batch_free(bp);
	return rc;
}

void
deliver_batch_free(struct deliver_batch **bp)
{
	struct deliver_batch	*b = *bp;
	size_t			 i;

	if (b == NULL)
		return;
	deliver_maildir_discard(b);
	free(b->pend);
	for (i = 0; i < b->ndirs; i++)
		free(b->dirs[i]);
	free(b->dirs);
	free(b);
	*bp = NULL;
}

int
deliver(const struct deliver_conf *c, const struct deliver_rcpt *r,
    const struct deliver_msg *m, struct deliver_result *res, struct fail *f)
{
	struct deliver_batch	*b;

	b = deliver_batch_begin(c);
	if (deliver_batch_add(b, r, m, res, f) == -1) {
		deliver_batch_free(&b);
		return -1;
	}
	return deliver_batch_commit(&b, f);
}

int
deliver_fail_errno(struct fail *f, int err, const char *what)
{
	switch (err) {
	case EDQUOT:
		return fail_set(f, true, "4.2.2", "%s: mailbox full", what);
	case ENOSPC:
		return fail_set(f, true, "4.3.1", "%s: mail system full",
		    what);
	default:
		return fail_set(f, true, "4.3.0", "%s: %s", what,
		    strerror(err));
	}
}

/* ---- the buffered writer ---- */

void
deliver_out_init(struct deliver_out *o, int fd)
{
	o->fd = fd;
	o->err = 0;
	o->len = 0;
	o->written = 0;
	o->wire = 0;
	o->last = '\n';
}

static void
out_drain(struct deliver_out *o)
{
	size_t	 off = 0;
	ssize_t	 n;

	while (o->err == 0 && off < o->len) {
		n = write(o->fd, o->buf + off, o->len - off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			o->err = errno;
		} else if (n == 0)
			o->err = EIO;
		else
			off += (size_t)n;
	}
	o->len = 0;
}

void
deliver_out_put(struct deliver_out *o, const void *p, size_t n)
{
	const char	*s = p, *lf, *e = s + n;
	size_t		 k;
	char		 prev = o->last;

	if (n == 0)
		return;
	/* The size POP3 and IMAP will announce (CRLF line ends), for the
	 * ",W=" of a Maildir name. */
	o->wire += n;
	for (k = 0; (lf = memchr(s + k, '\n', (size_t)(e - s) - k)) != NULL;
	    k = (size_t)(lf - s) + 1) {
		if ((lf == s ? prev : lf[-1]) != '\r')
			o->wire++;
	}
	o->written += n;
	o->last = s[n - 1];
	while (n > 0 && o->err == 0) {
		if (o->len == sizeof(o->buf))
			out_drain(o);
		k = sizeof(o->buf) - o->len;
		if (k > n)
			k = n;
		memcpy(o->buf + o->len, s, k);	/* UNSAFE: k fits */
		o->len += k;
		s += k;
		n -= k;
	}
}

int
deliver_out_flush(struct deliver_out *o)
{
	out_drain(o);
	if (o->err != 0) {
		errno = o->err;
		return -1;
	}
	return 0;
}

/* ---- the content filter ---- */

/* Does the finished header line name loop_addr in Delivered-To? */
static void
xf_header_line(struct deliver_xform *x)
{
	static const char	 name[] = "Delivered-To:";
	char			*v, *e;

	if (x->hlong || x->loop_addr == NULL ||
	    x->hlen < sizeof(name) - 1 ||
	    strncasecmp(x->hline, name, sizeof(name) - 1) != 0)
		return;
	x->hline[x->hlen] = '\0';
	v = str_trim(x->hline + sizeof(name) - 1);
	if (*v == '<' && (e = strchr(v, '>')) != NULL && e[1] == '\0') {
		*e = '\0';
		v++;
	}
	if (strcasecmp(v, x->loop_addr) == 0)
		x->loop = true;
}

/* Emit what an undecided ">*From " prefix held back. */
static void
xf_release(struct deliver_xform *x, struct deliver_out *o, bool quote)
{
	static const char	 gts[] = ">>>>>>>>>>>>>>>>";
	size_t			 n;

	if (quote)
		deliver_out_put(o, ">", 1);
	for (n = x->gt; n > 0; n -= n > 16 ? 16 : n)
		deliver_out_put(o, gts, n > 16 ? 16 : n);
	deliver_out_put(o, "From ", x->from);
	x->gt = 0;
	x->from = 0;
	x->at_bol = false;
}

/* One logical byte (after CRLF folding). */
static void
xf_byte(struct deliver_xform *x, struct deliver_out *o, char c)
{
	if (x->in_header) {
		if (c == '\n') {
			if (x->hlen == 0 && !x->hlong)
				x->in_header = false;
			else
				xf_header_line(x);
			x->hlen = 0;
			x->hlong = false;
		} else if (x->hlen < sizeof(x->hline) - 1)
			x->hline[x->hlen++] = c;
		else
			x->hlong = true;
	}
	if (x->at_bol) {
		if (c == '>' && x->from == 0) {
			x->gt++;
			return;
		}
		if (c == "From "[x->from]) {
			if (++x->from == 5)
				xf_release(x, o, true);
			return;
		}
		xf_release(x, o, false);
	}
	deliver_out_put(o, &c, 1);
	if (c == '\n')
		x->at_bol = x->mboxrd;
}

void
deliver_xform_init(struct deliver_xform *x, bool mboxrd, const char *loop_addr)
{
	memset(x, 0, sizeof(*x));
	x->mboxrd = mboxrd;
	x->at_bol = mboxrd;
	x->in_header = true;
	x->loop_addr = loop_addr;
}

void
deliver_xform_feed(struct deliver_xform *x, struct deliver_out *o,
    const char *p, size_t n)
{
	size_t	 i;

	while (n > 0) {
		if (x->cr) {
			x->cr = false;
			if (*p == '\n') {
				xf_byte(x, o, '\n');
				p++;
				n--;
				continue;
			}
			xf_byte(x, o, '\r');
		}
		if (*p == '\r') {
			x->cr = true;
			p++;
			n--;
			continue;
		}
		if (x->in_header || x->at_bol || *p == '\n') {
			xf_byte(x, o, *p);
			p++;
			n--;
			continue;
		}
		/* Mid-line in the body: copy up to the next CR or LF. */
		for (i = 0; i < n && p[i] != '\r' && p[i] != '\n'; i++)
			continue;
		deliver_out_put(o, p, i);
		p += i;
		n -= i;
	}
}

void
deliver_xform_finish(struct deliver_xform *x, struct deliver_out *o)
{
	if (x->cr) {
		x->cr = false;
		xf_byte(x, o, '\r');
	}
	if (x->at_bol)
		xf_release(x, o, false);
}

static void
put_str(struct deliver_out *o, const char *s)
{
	deliver_out_put(o, s, strlen(s));
}

uint64_t
deliver_header_len(const struct deliver_rcpt *r)
{
	return strlen("Return-Path: <>\n") + strlen(r->sender) +
	    strlen("Delivered-To: \n") + strlen(r->address);
}

int
deliver_copy(struct deliver_out *o, const struct deliver_rcpt *r,
    const struct deliver_msg *m, bool mboxrd, struct fail *f)
{
	struct deliver_xform	 x;
	char			*chunk;
	uint64_t		 done;
	size_t			 want;
	ssize_t			 n;

	put_str(o, "Return-Path: <");
	put_str(o, r->sender);
	put_str(o, ">\nDelivered-To: ");
	put_str(o, r->address);
	put_str(o, "\n");

	deliver_xform_init(&x, mboxrd, r->address);
	if (m->buf != NULL) {
		deliver_xform_feed(&x, o, m->buf, m->len);
		deliver_xform_finish(&x, o);
		if (x.loop)
			return fail_set(f, false, "5.4.6",
			    "mail forwarding loop for %s", r->address);
		return 0;
	}
	chunk = xmalloc(DELIVER_CHUNK);
	for (done = 0; done < m->len; done += (uint64_t)n) {
		want = m->len - done > DELIVER_CHUNK ? DELIVER_CHUNK :
		    (size_t)(m->len - done);
		n = pread(m->fd, chunk, want, (off_t)(m->offset + done));
		if (n == -1 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0) {
			log_error(NULL, "deliver read failed error=%s",
			    n == 0 ? "unexpected end of file" :
			    strerror(errno));
			free(chunk);
			return fail_set(f, true, "4.3.0",
			    "cannot read the message");
		}
		deliver_xform_feed(&x, o, chunk, (size_t)n);
		/* Stop early: the header is where a loop shows. */
		if (x.loop)
			break;
		if (o->err != 0)
			break;
	}
	free(chunk);
	deliver_xform_finish(&x, o);
	if (x.loop)
		return fail_set(f, false, "5.4.6",
		    "mail forwarding loop for %s", r->address);
	return 0;
}
