/* SPDX-License-Identifier: MIT */
/*
 * data.c - the body of an SMTP DATA command, line by line
 */
#include "config.h"

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

enum data_result
data_line(struct data *d, const char *line, size_t len, bool bare_lf,
    bool too_long)
{
	bool	 prev_crlf = d->prev_crlf;

	d->prev_crlf = !bare_lf;
	/* End of data: "." + CRLF after CRLF, nothing else (see data.h). */
	if (len == 1 && line[0] == '.' && !bare_lf && prev_crlf && !too_long &&
	    !d->raw) {
		data_end(d);
		return DATA_DONE;
	}

	if (bare_lf && d->conf->bare == DATA_BARE_REJECT)
		data_fail(d, 550, false, "5.5.2",
		    "Bare <LF> received; lines must end in <CR><LF>");
	if (memchr(line, '\r', len) != NULL)
		data_fail(d, 550, false, "5.5.2",
		    "Bare <CR> received; lines must end in <CR><LF>");
	if (too_long || len > d->conf->max_line)
		data_fail(d, 500, false, "5.5.2", "Message line too long");

	/* Dot-stuffing (RFC 5321 4.5.2): drop the first of leading dots. */
	if (len > 0 && line[0] == '.' && !d->raw) {
		line++;
		len--;
	}
	if (d->in_headers)
		data_header(d, line, len);
	data_emit(d, line, len);
	data_emit(d, "\r\n", 2);
	return DATA_CONTINUE;
}

void
data_end(struct data *d)
{
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
