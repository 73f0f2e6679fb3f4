/* SPDX-License-Identifier: MIT */
/*
 * data.c - the content of an SMTP message, DATA or BDAT, byte by byte
 *
 * A small state machine over the bytes (see data.h): bol (a line starts),
 * dot (the line so far is the one leading dot, dropped by unstuffing), cr
 * (a CR waits to see whether an LF follows) and prev_crlf (how the line
 * before ended).  Runs of ordinary bytes are found with memchr() and passed
 * on whole, so the cost per byte stays that of a copy.
 */
#include <string.h>
#include <strings.h>

#include "data.h"

void
data_begin(struct data *d, const struct data_conf *conf, data_sink_fn *sink,
    void *sink_arg)
{
	memset(d, 0, sizeof(*d));
	d->conf = conf;
	d->sink = sink;
	d->sink_arg = sink_arg;
	d->in_headers = true;
	/* The DATA command line itself ended the previous line. */
	d->prev_crlf = true;
	d->bol = true;
	str_init(&d->hline, conf->max_header_size > 0 ?
	    conf->max_header_size : 1);
}

void
data_release(struct data *d)
{
	str_release(&d->hline);
}

static void
data_fail(struct data *d, int reply, bool temp, const char *code,
    const char *text)
{
	if (d->failed)
		return;		/* the first reason is the one reported */
	d->failed = true;
	d->reply = reply;
	(void)fail_set(&d->fail, temp, code, "%s", text);
}

static bool
field_is(const char *line, size_t len, const char *name)
{
	size_t	 n = strlen(name);

	return len > n && line[n] == ':' && strncasecmp(line, name, n) == 0;
}

static void
header_end(struct data *d)
{
	d->in_headers = false;
	if (d->header_end != NULL)
		d->header_end(d, d->sink_arg);
}

/* Track the header section: count fields, their size, Received loops. */
static void
data_header(struct data *d, const char *line, size_t len)
{
	const struct data_conf *c = d->conf;

	if (len == 0) {
		header_end(d);
		return;
	}
	d->header_size += len + 2;
	if (line[0] == ' ' || line[0] == '\t') {
		/* folded continuation of the previous field */
	} else if (memchr(line, ':', len) == NULL) {
		/* Not a header field: RFC 5322 says the body starts here
		 * only after an empty line, but mail with no header section
		 * exists; treat the rest as body. */
		header_end(d);
		return;
	} else {
		d->headers++;
		if (field_is(line, len, "Received"))
			d->received++;
		else if (field_is(line, len, "Message-ID"))
			d->has_message_id = true;
		else if (field_is(line, len, "Date"))
			d->has_date = true;
		else if (field_is(line, len, "From"))
			d->has_from = true;
	}
	if (d->headers > c->max_headers || d->header_size > c->max_header_size)
		data_fail(d, 552, false, "5.3.4", "Message header too large");
	if (d->received > c->max_received)
		data_fail(d, 554, false, "5.4.6",
		    "Too many Received headers: mail forwarding loop");
}

static void
data_emit(struct data *d, const char *buf, size_t len)
{
	if (d->failed)
		return;
	if (len > d->conf->max_size - d->size) {
		data_fail(d, 552, false, "5.3.4",
		    "Message size exceeds fixed limit");
		return;
	}
	d->size += len;
	if (d->sink(d->sink_arg, buf, len, &d->fail) == -1)
		d->failed = true;
}

/* A header line longer than the whole header section may be: a field that
 * big fails the message; a line with no colon is the body starting without
 * an empty line.  Either way it is not held any longer. */
static void
header_overflow(struct data *d)
{
	const char	*line = str_c(&d->hline);
	size_t		 len = d->hline.len;

	if (line[0] == ' ' || line[0] == '\t' ||
	    memchr(line, ':', len) != NULL)
		data_fail(d, 552, false, "5.3.4", "Message header too large");
	header_end(d);
	data_emit(d, line, len);
	str_release(&d->hline);
}

/* Content bytes of the current line (no CR, no LF among them). */
static void
data_content(struct data *d, const char *buf, size_t len)
{
	size_t	 n;

	if (d->in_headers) {
		/* Hold what fits, so the verdict on an over-long line does not depend on how its
		 * bytes were split. */
		n = d->hline.max - d->hline.len;
		if (n > len)
			n = len;
		if (str_append(&d->hline, buf, n) == -1)
			n = 0;		/* not reached: n fits */
		else if (n == len)
			return;
		header_overflow(d);
		buf += n;
		len -= n;
	}
	data_emit(d, buf, len);
}

/* The current line ended (in CRLF when crlf).  True when it was the end of
 * data: "." + CRLF right after a CRLF. */
static bool
line_end(struct data *d, bool crlf)
{
	bool	 prev_crlf = d->prev_crlf;

	if (crlf && d->dot && prev_crlf && !d->raw)
		return true;
	d->prev_crlf = crlf;
	d->bol = true;
	d->dot = false;
	if (d->in_headers) {
		data_header(d, str_c(&d->hline), d->hline.len);
		data_emit(d, str_c(&d->hline), d->hline.len);
		str_clear(&d->hline);
	}
	data_emit(d, "\r\n", 2);
	return false;
}

/* A CR not followed by LF: refused, whatever the policy (see data.h). */
static void
bare_cr(struct data *d)
{
	data_fail(d, 550, false, "5.5.2",
	    "Bare <CR> received; lines must end in <CR><LF>");
	d->bol = false;
	d->dot = false;
	data_content(d, "\r", 1);
}

/* Bytes up to the next CR or LF. */
static size_t
data_span(const char *p, size_t n)
{
	const char	*lf = memchr(p, '\n', n);
	const char	*cr;
	size_t		 m = lf != NULL ? (size_t)(lf - p) : n;

	cr = memchr(p, '\r', m);
	return cr != NULL ? (size_t)(cr - p) : m;
}

size_t
data_feed(struct data *d, const char *buf, size_t len, bool *done_r)
{
	size_t	 i = 0, n;

	*done_r = false;
	while (i < len) {
		if (d->cr) {
			d->cr = false;
			if (buf[i] == '\n') {
				i++;
				if (line_end(d, true)) {
					d->bol = true;
					d->dot = false;
					if (d->in_headers)
						header_end(d);
					*done_r = true;
					return i;
				}
				continue;
			}
			bare_cr(d);
		}
		if (buf[i] == '\r') {
			d->cr = true;
			i++;
			continue;
		}
		if (buf[i] == '\n') {
			if (d->conf->bare == DATA_BARE_REJECT)
				data_fail(d, 550, false, "5.5.2", "Bare <LF> "
				    "received; lines must end in <CR><LF>");
			(void)line_end(d, false);
			i++;
			continue;
		}
		if (d->bol) {
			d->bol = false;
			/* Dot-stuffing (RFC 5321 4.5.2): drop the first of
			 * leading dots. */
			if (buf[i] == '.' && !d->raw) {
				d->dot = true;
				i++;
				continue;
			}
		}
		d->dot = false;
		n = data_span(buf + i, len - i);
		data_content(d, buf + i, n);
		i += n;
	}
	return i;
}

void
data_end(struct data *d)
{
	if (d->cr) {
		d->cr = false;
		bare_cr(d);
	}
	if (!d->bol)
		(void)line_end(d, true);
	if (d->in_headers)
		header_end(d);
}

void
data_insert(struct data *d, const char *buf, size_t len)
{
	data_emit(d, buf, len);
}

int
data_reply_code(const struct data *d)
{
	if (d->reply != 0)
		return d->reply;
	if (!d->fail.temp)
		return 554;
	return strcmp(d->fail.code, "4.3.1") == 0 ? 452 : 451;
}
