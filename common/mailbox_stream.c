/* SPDX-License-Identifier: MIT */
/*
 * mailbox_stream.c - a message's wire bytes: CRLF, mboxrd quoting undone
 *
 * The wire size the index stores and the bytes produced here come from the
 * same two rules, so LIST/RFC822.SIZE always match RETR/FETCH:
 *	- every LF not preceded by CR becomes CRLF (a bare CR stays);
 *	- mbox only: a line of one or more '>' then "From " loses one '>'
 *	  (mboxrd), see mbox_line_quoted().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mailbox_private.h"
#include "mem.h"

size_t
mailbox_crlf_copy(const void *in, size_t inlen, size_t *used_r, void *out,
    size_t outlen, char *prev)
{
	const char *s = in, *lf;
	char	*d = out;
	size_t	 i = 0, o = 0, run;
	char	 p = *prev;

	while (i < inlen && o < outlen) {
		/* Copy up to the next LF in one go. */
		run = inlen - i;
		if (run > outlen - o)
			run = outlen - o;
		lf = memchr(s + i, '\n', run);
		if (lf == NULL) {
			memcpy(d + o, s + i, run);
			i += run;
			o += run;
			p = s[i - 1];
			continue;
		}
		run = (size_t)(lf - (s + i));
		memcpy(d + o, s + i, run);
		i += run;
		o += run;
		if (run > 0)
			p = s[i - 1];
		if (p != '\r') {
			if (outlen - o < 2)
				break;
			d[o++] = '\r';
		} else if (outlen - o < 1)
			break;
		d[o++] = '\n';
		p = '\n';
		i++;
	}
	*prev = p;
	*used_r = i;
	return o;
}

uint64_t
mailbox_crlf_size(const void *in, size_t len, char *prev)
{
	const char *s = in, *e = s + len, *lf;
	uint64_t n = len;
	char	 p = *prev;

	while (s < e && (lf = memchr(s, '\n', (size_t)(e - s))) != NULL) {
		if ((lf == s ? p : lf[-1]) != '\r')
			n++;
		p = '\n';
		s = lf + 1;
	}
	if (len > 0)
		*prev = ((const char *)in)[len - 1];
	return n;
}

struct mailbox_stream *
mailbox_stream_open(struct mailbox *mb, uint32_t seq, struct fail *f)
{
	struct mailbox_stream *st;

	if (seq == 0 || seq > mb->view.n) {
		fail_set(f, false, "5.5.4", "no such message");
		return NULL;
	}
	st = xcalloc(1, sizeof(*st));
	st->fd = -1;
	st->at_bol = true;
	if (mb->be->open_msg(mb, &mb->view.recs[seq - 1], st, f) == -1) {
		free(st);
		return NULL;
	}
	st->start = st->off;
	return st;
}

/* Refill so that at least want bytes (or all that is left) are buffered
 * from bpos on.  -1 on I/O error. */
static int
fill(struct mailbox_stream *st, size_t want)
{
	ssize_t	 r;
	size_t	 room;

	if (st->blen - st->bpos >= want)
		return 0;
	memmove(st->buf, st->buf + st->bpos, st->blen - st->bpos);
	st->blen -= st->bpos;
	st->bpos = 0;
	while (st->blen < want && st->off < st->end) {
		room = sizeof(st->buf) - st->blen;
		if (room > st->end - st->off)
			room = (size_t)(st->end - st->off);
		r = pread(st->fd, st->buf + st->blen, room, (off_t)st->off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			log_warn(NULL, "mailbox read failed: %s",
			    r == 0 ? "short file" : strerror(errno));
			return -1;
		}
		st->blen += (size_t)r;
		st->off += (uint64_t)r;
	}
	return 0;
}

bool
mbox_line_quoted(const char *p, size_t avail)
{
	size_t	 i = 0;

	while (i < avail && p[i] == '>' && i < MBOX_QUOTE_MAX)
		i++;
	if (i == 0 || i == MBOX_QUOTE_MAX || avail - i < 5)
		return false;
	return memcmp(p + i, "From ", 5) == 0;
}

ssize_t
mailbox_stream_read(struct mailbox_stream *st, void *out, size_t len)
{
	size_t	 o = 0, used, n, lim;
	char	*d = out;
	const char *nl;

	if (len == 0)
		return 0;
	if (st->raw_ok) {
		/* Stored bytes are the wire bytes: no conversion. */
		ssize_t	 r;

		if (len > st->end - st->off)
			len = (size_t)(st->end - st->off);
		if (len == 0)
			return 0;
		while ((r = pread(st->fd, out, len, (off_t)st->off)) == -1 &&
		    errno == EINTR)
			continue;
		if (r <= 0) {
			log_warn(NULL, "mailbox read failed: %s",
			    r == 0 ? "short file" : strerror(errno));
			return -1;
		}
		st->off += (uint64_t)r;
		st->pos += (uint64_t)r;
		return r;
	}
	while (o < len) {
		if (st->pending_lf) {
			d[o++] = '\n';
			st->pending_lf = false;
			continue;
		}
		if (st->bpos == st->blen) {
			if (st->off >= st->end)
				break;
			if (fill(st, 1) == -1)
				return -1;
		}
		if (st->unquote && st->at_bol) {
			if (fill(st, MBOX_QUOTE_MAX + 5) == -1)
				return -1;
			if (mbox_line_quoted(st->buf + st->bpos,
			    st->blen - st->bpos))
				st->bpos++;	/* drop one '>' */
			st->at_bol = false;
			if (st->bpos == st->blen)
				continue;
		}
		/* Convert up to the end of this line (inclusive). */
		lim = st->blen - st->bpos;
		if (st->unquote) {
			nl = memchr(st->buf + st->bpos, '\n', lim);
			if (nl != NULL)
				lim = (size_t)(nl - (st->buf + st->bpos)) + 1;
		}
		if (len - o == 1 && st->buf[st->bpos] == '\n' &&
		    st->prev != '\r') {
			d[o++] = '\r';
			st->pending_lf = true;
			st->prev = '\n';
			st->bpos++;
			st->at_bol = true;
			continue;
		}
		n = mailbox_crlf_copy(st->buf + st->bpos, lim, &used, d + o,
		    len - o, &st->prev);
		if (used > 0 && st->buf[st->bpos + used - 1] == '\n')
			st->at_bol = true;
		st->bpos += used;
		o += n;
		if (n == 0 && used == 0)
			break;
	}
	st->pos += o;
	return (ssize_t)o;
}

bool
mailbox_stream_raw(struct mailbox_stream *st, int *fd_r, off_t *off_r,
    uint64_t *len_r)
{
	if (!st->raw_ok)
		return false;
	*fd_r = st->fd;
	*off_r = (off_t)st->start;
	*len_r = st->end - st->start;
	return true;
}

int
mailbox_stream_seek(struct mailbox_stream *st, uint64_t off)
{
	char	 buf[8192];
	ssize_t	 r;
	size_t	 want;

	if (off < st->pos)
		return -1;
	if (st->raw_ok) {
		if (off > st->end - st->start)
			return -1;
		st->off = st->start + off;
		st->pos = off;
		return 0;
	}
	while (st->pos < off) {
		want = off - st->pos < sizeof(buf) ? (size_t)(off - st->pos) :
		    sizeof(buf);
		if ((r = mailbox_stream_read(st, buf, want)) <= 0)
			return -1;
	}
	return 0;
}

void
mailbox_stream_close(struct mailbox_stream **pst)
{
	struct mailbox_stream *st = *pst;

	if (st == NULL)
		return;
	if (st->own_fd && st->fd != -1)
		close(st->fd);
	free(st);
	*pst = NULL;
}
