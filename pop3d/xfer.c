/* SPDX-License-Identifier: MIT */
/*
 * xfer.c - a message as a POP3 multi-line response: byte stuffing, CRLF,
 * the TOP line limit and the terminating dot, in bounded chunks
 *
 * RFC 1939 section 3: each line of a multi-line response that starts with
 * "." gets one more, and the response ends with a line holding only ".".
 * The mailbox streams give CRLF already; a bare LF is still made CRLF here
 * so that no input can end the response early or mislead a client.
 */
#include <string.h>

#include "log.h"
#include "mem.h"
#include "pop3d.h"

void
pop3_xfer_init(struct pop3_xfer *x, pop3_read_fn *fn, void *ctx,
    bool has_limit, uint64_t lines)
{
	memset(x, 0, sizeof(*x));
	x->read = fn;
	x->ctx = ctx;
	x->in = xmalloc(POP3_XFER_BUF);
	x->has_limit = has_limit;
	x->lines_left = lines;
	x->bol = true;
	x->blank = true;
}

void
pop3_xfer_release(struct pop3_xfer *x)
{
	free(x->in);
	x->in = NULL;
}

/* No more message bytes: end an unfinished last line, then the dot. */
static void
xfer_finish(struct pop3_xfer *x)
{
	static const char	 crlf_dot[] = "\r\n.\r\n";

	x->eof = true;
	x->tail = 0;
	if (x->bol) {
		memcpy(x->end, crlf_dot + 2, 3);
		x->end_len = 3;
	} else {
		memcpy(x->end, crlf_dot, 5);
		x->end_len = 5;
	}
}

/* A line just ended: count it against the TOP limit. */
static void
xfer_line_end(struct pop3_xfer *x)
{
	bool	 was_blank = x->blank;

	x->bol = true;
	x->blank = true;
	if (!x->has_limit)
		return;
	if (!x->in_body) {
		if (was_blank) {
			x->in_body = true;
			if (x->lines_left == 0)
				xfer_finish(x);
		}
	} else if (--x->lines_left == 0)
		xfer_finish(x);
}

int
pop3_xfer_produce(struct pop3_xfer *x, char *out, size_t size, size_t *len_r)
{
	const char	*p, *nl;
	size_t		 n = 0, run, k;
	ssize_t		 r;
	char		 c;

	BUZ_ASSERT(size >= 8);
	for (;;) {
		if (x->eof) {
			k = x->end_len - x->tail;
			if (k > size - n)
				k = size - n;
			memcpy(out + n, x->end + x->tail, k);
			x->tail += (unsigned int)k;
			n += k;
			*len_r = n;
			return x->tail == x->end_len ? 1 : 0;
		}
		if (x->in_pos == x->in_len) {
			r = x->read(x->ctx, x->in, POP3_XFER_BUF);
			if (r < 0) {
				*len_r = n;
				return -1;
			}
			if (r == 0) {
				xfer_finish(x);
				continue;
			}
			x->in_pos = 0;
			x->in_len = (size_t)r;
		}
		p = x->in + x->in_pos;
		c = *p;
		if (!x->bol && c != '\n') {
			/* Fast path: the rest of the line up to its LF. */
			run = x->in_len - x->in_pos;
			if ((nl = memchr(p, '\n', run)) != NULL)
				run = (size_t)(nl - p);
			if (run > size - n)
				run = size - n;
			if (run == 0)
				break;
			memcpy(out + n, p, run);
			n += run;
			x->in_pos += run;
			x->sent += run;
			x->prev = p[run - 1];
			x->blank = false;
			continue;
		}
		/* Worst case: a stuffed dot, or CR before a bare LF. */
		if (size - n < 2)
			break;
		if (x->bol && c == '.')
			out[n++] = '.';
		x->in_pos++;
		if (c == '\n') {
			if (x->prev != '\r') {
				out[n++] = '\r';
				x->sent++;
			}
			out[n++] = '\n';
			x->sent++;
			x->prev = '\n';
			xfer_line_end(x);
			continue;
		}
		out[n++] = c;
		x->sent++;
		x->prev = c;
		x->blank = x->bol && c == '\r';
		x->bol = false;
	}
	*len_r = n;
	return 0;
}
