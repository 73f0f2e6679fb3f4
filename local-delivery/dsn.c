/* SPDX-License-Identifier: MIT */
/*
 * dsn.c - RFC 3464 delivery status notifications
 *
 * The three parts are rendered into their own buffers first: only then do
 * we know whether the report carries 8-bit bytes (top-level
 * Content-Transfer-Encoding) and whether the boundary occurs in any part
 * (RFC 2046 5.1.1: it must not).  The original message is read in chunks
 * and its line ends made CRLF on the way.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deliver.h"
#include "dsn.h"
#include "log.h"
#include "mem.h"
#include "rfc5322.h"
#include "str.h"

#define DSN_CHUNK	65536

struct part {
	struct str	 s;
	bool		 err;
};

static void
pf(struct part *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
pf(struct part *p, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	if (str_vappendf(&p->s, fmt, ap) == -1)
		p->err = true;
	va_end(ap);
}

static void
pb(struct part *p, const void *data, size_t len)
{
	if (str_append(&p->s, data, len) == -1)
		p->err = true;
}

const char *
dsn_action_name(enum dsn_action a)
{
	switch (a) {
	case DSN_FAILED:
		return "failed";
	case DSN_DELAYED:
		return "delayed";
	case DSN_DELIVERED:
		return "delivered";
	case DSN_RELAYED:
		return "relayed";
	case DSN_EXPANDED:
		return "expanded";
	}
	return "failed";
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
dsn_xtext_decode(const char *in, char *out, size_t outsize)
{
	size_t	 n = 0;
	int	 hi, lo;

	for (; *in != '\0'; in++) {
		if (n + 1 >= outsize)
			return -1;
		if (*in != '+') {
			out[n++] = *in;
			continue;
		}
		/* RFC 3461 4: "+" then two upper-case hex digits. */
		if ((hi = hexval(in[1])) == -1 || (lo = hexval(in[2])) == -1)
			return -1;
		out[n++] = (char)(hi << 4 | lo);
		in += 2;
	}
	if (outsize == 0)
		return -1;
	out[n] = '\0';
	return 0;
}

/* Copy at most DSN_FIELD_MAX bytes of peer text with every control
 * character (CR and LF included) turned into a space. */
static void
clean(char *dst, size_t size, const char *src)
{
	size_t	 n;

	for (n = 0; src != NULL && src[n] != '\0' && n + 1 < size &&
	    n < DSN_FIELD_MAX; n++)
		dst[n] = (unsigned char)src[n] < 0x20 || src[n] == 0x7f ?
		    ' ' : src[n];
	dst[n] = '\0';
}

/* Keep only characters that are safe in a boundary and a Message-ID
 * (RFC 2046 bchars without space, RFC 5322 dot-atom-text): others
 * become '_'. */
static void
token(char *dst, size_t size, const char *src)
{
	size_t	 n;
	char	 c;

	for (n = 0; src[n] != '\0' && n + 1 < size && n < 200; n++) {
		c = src[n];
		dst[n] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '-' ? c : '_';
	}
	dst[n] = '\0';
}

static const char *
date(time_t t, char *buf, size_t size)
{
	return rfc5322_date(t, 0, buf, size);
}

/* ---- part 1: for people ---- */

static void
human(const struct dsn *d, enum dsn_action worst, bool full, struct part *p)
{
	char		 a[DSN_FIELD_MAX + 1], b[DSN_FIELD_MAX + 1];
	char		 dt[RFC5322_DATE_MAX];
	const struct dsn_rcpt *r;
	size_t		 i;
	time_t		 until = 0;

	pf(p, "This is the mail system at host %s.\r\n\r\n", d->hostname);
	switch (worst) {
	case DSN_FAILED:
		pf(p, "Your message could not be delivered to one or more "
		    "recipients.\r\nThe reasons are given below%s.\r\n",
		    d->msg == NULL ? "" : full ? "; the message is attached" :
		    "; the message header is attached");
		break;
	case DSN_DELAYED:
		for (i = 0; i < d->nrcpts; i++)
			if (d->rcpts[i].retry_until > until)
				until = d->rcpts[i].retry_until;
		pf(p, "THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR "
		    "MESSAGE.\r\n\r\nYour message could not be delivered yet "
		    "to the recipients below.\r\n");
		if (until != 0)
			pf(p, "The mail system will keep trying until %s.\r\n",
			    date(until, dt, sizeof(dt)));
		break;
	default:
		pf(p, "Your message was delivered to the recipients listed "
		    "below,\r\nas you asked.\r\n");
		break;
	}
	pf(p, "\r\nFor help, write to postmaster and include this report.\r\n"
	    "\r\n                   The mail system\r\n");
	/* One line per recipient, kept under 998 bytes (RFC 5322 2.1.1):
	 * 300 + 255 + 400 and the words around them. */
	for (i = 0; i < d->nrcpts; i++) {
		r = &d->rcpts[i];
		clean(a, 301, r->final);
		pf(p, "\r\n<%s>: ", a);
		if (r->remote_mta != NULL) {
			clean(b, 256, r->remote_mta);
			pf(p, "host %s said: ", b);
		}
		if (r->diag != NULL) {
			clean(b, 401, r->diag);
			pf(p, "%s\r\n", b);
		} else {
			clean(b, sizeof(b), r->status);
			pf(p, "%s (status %s)\r\n", dsn_action_name(r->action),
			    b);
		}
	}
}

/* ---- part 2: for programs ---- */

/* "TYPE; ADDRESS" from an ORCPT value; NULL-safe. */
static void
orcpt_field(struct part *p, const char *orcpt)
{
	char	 dec[DSN_FIELD_MAX + 1], c[DSN_FIELD_MAX + 1], *semi;

	if (dsn_xtext_decode(orcpt, dec, sizeof(dec)) == -1)
		(void)str_copy(dec, orcpt, sizeof(dec));
	clean(c, sizeof(c), dec);
	if ((semi = strchr(c, ';')) == NULL) {
		pf(p, "Original-Recipient: rfc822; %s\r\n", c);
		return;
	}
	*semi++ = '\0';
	while (*semi == ' ')
		semi++;
	pf(p, "Original-Recipient: %s; %s\r\n", c, semi);
}

static void
status(const struct dsn *d, struct part *p)
{
	char		 a[DSN_FIELD_MAX + 1], dec[DSN_FIELD_MAX + 1];
	char		 dt[RFC5322_DATE_MAX];
	const struct dsn_rcpt *r;
	size_t		 i;

	clean(a, sizeof(a), d->hostname);
	pf(p, "Reporting-MTA: dns; %s\r\n", a);
	clean(a, sizeof(a), d->id);
	pf(p, "X-Buzon-Queue-ID: %s\r\n", a);
	clean(a, sizeof(a), d->sender);
	pf(p, "X-Buzon-Sender: rfc822; %s\r\n", a);
	if (d->envid != NULL) {
		if (dsn_xtext_decode(d->envid, dec, sizeof(dec)) == -1)
			(void)str_copy(dec, d->envid, sizeof(dec));
		clean(a, sizeof(a), dec);
		pf(p, "Original-Envelope-Id: %s\r\n", a);
	}
	pf(p, "Arrival-Date: %s\r\n", date(d->arrival, dt, sizeof(dt)));
	for (i = 0; i < d->nrcpts; i++) {
		r = &d->rcpts[i];
		pf(p, "\r\n");
		if (r->orcpt != NULL)
			orcpt_field(p, r->orcpt);
		clean(a, sizeof(a), r->final);
		pf(p, "Final-Recipient: rfc822; %s\r\n", a);
		pf(p, "Action: %s\r\n", dsn_action_name(r->action));
		clean(a, sizeof(a), r->status);
		pf(p, "Status: %s\r\n", a);
		if (r->remote_mta != NULL) {
			clean(a, sizeof(a), r->remote_mta);
			pf(p, "Remote-MTA: dns; %s\r\n", a);
		}
		if (r->diag != NULL) {
			clean(a, sizeof(a), r->diag_type != NULL ?
			    r->diag_type : "smtp");
			clean(dec, sizeof(dec), r->diag);
			pf(p, "Diagnostic-Code: %s; %s\r\n", a, dec);
		}
		if (r->last_attempt != 0)
			pf(p, "Last-Attempt-Date: %s\r\n",
			    date(r->last_attempt, dt, sizeof(dt)));
		if (r->action == DSN_DELAYED && r->retry_until != 0)
			pf(p, "Will-Retry-Until: %s\r\n",
			    date(r->retry_until, dt, sizeof(dt)));
	}
}

/* ---- part 3: the original ---- */

/* Copy the original with CRLF line ends; headers_only stops at the
 * empty line (not copied) or after about DSN_HEADERS_MAX bytes, at a
 * line end.  0, or -1 when it cannot be read. */
static int
original(const struct deliver_msg *m, bool headers_only, struct part *p)
{
	char		*buf;
	const char	*c;
	uint64_t	 off = 0;
	size_t		 want, i, linelen = 0, written = 0;
	ssize_t		 n;
	bool		 done = false, cr = false;

	buf = m->buf != NULL ? NULL : xmalloc(DSN_CHUNK);
	while (!done && off < m->len) {
		if (m->buf != NULL) {
			c = m->buf;
			n = (ssize_t)(m->len > SSIZE_MAX ? SSIZE_MAX : m->len);
		} else {
			want = m->len - off > DSN_CHUNK ? DSN_CHUNK :
			    (size_t)(m->len - off);
			n = pread(m->fd, buf, want, (off_t)(m->offset + off));
			if (n == -1 && errno == EINTR)
				continue;
			if (n <= 0) {
				free(buf);
				return -1;
			}
			c = buf;
		}
		off += (uint64_t)n;
		for (i = 0; i < (size_t)n && !done; i++) {
			if (c[i] == '\n') {
				if (headers_only && linelen == 0) {
					cr = false;	/* the empty line's */
					done = true;
					break;
				}
				pb(p, "\r\n", 2);
				cr = false;
				linelen = 0;
				written += 2;
				if (headers_only && written >= DSN_HEADERS_MAX)
					done = true;
				continue;
			}
			if (cr) {	/* a bare CR is kept */
				pb(p, "\r", 1);
				cr = false;
				linelen++;
				written++;
			}
			if (c[i] == '\r') {
				cr = true;
				continue;
			}
			pb(p, &c[i], 1);
			linelen++;
			written++;
			/* A header line without end: cut it. */
			if (headers_only && written >= 2 * DSN_HEADERS_MAX)
				done = true;
		}
	}
	if (cr)
		pb(p, "\r", 1);
	free(buf);
	/* End on a line end, so the boundary starts its own line. */
	if (p->s.len > 0 && p->s.data[p->s.len - 1] != '\n')
		pb(p, "\r\n", 2);
	return 0;
}

static bool
has_8bit(const struct str *s)
{
	size_t	 i;

	for (i = 0; i < s->len; i++)
		if ((unsigned char)s->data[i] >= 0x80)
			return true;
	return false;
}

static bool
contains(const struct str *s, const char *needle)
{
	return s->len > 0 && memmem(s->data, s->len, needle,
	    strlen(needle)) != NULL;
}

int
dsn_render(const struct dsn *d, struct str *out, struct fail *f)
{
	struct part	 p[3];
	enum dsn_action	 worst = DSN_DELIVERED;
	const char	*subject, *kind;
	char		 boundary[256], dt[RFC5322_DATE_MAX];
	char		 host[DSN_FIELD_MAX + 1], to[DSN_FIELD_MAX + 1];
	char		 tid[201], thost[201];
	size_t		 i, start = out->len;
	bool		 full, eight;
	int		 k, rc = -1;

	BUZ_ASSERT(d->nrcpts > 0);
	for (i = 0; i < d->nrcpts; i++) {
		if (d->rcpts[i].action == DSN_FAILED)
			worst = DSN_FAILED;
		else if (d->rcpts[i].action == DSN_DELAYED &&
		    worst != DSN_FAILED)
			worst = DSN_DELAYED;
	}
	subject = worst == DSN_FAILED ? "Undelivered Mail Returned to Sender" :
	    worst == DSN_DELAYED ? "Delayed Mail (still being retried)" :
	    "Successful Mail Delivery Report";
	kind = worst == DSN_FAILED ? "bounce" : worst == DSN_DELAYED ?
	    "delay" : "notify";
	full = d->msg != NULL && d->ret == DSN_RET_FULL &&
	    (d->full_max == 0 || d->msg->len <= d->full_max);
	for (k = 0; k < 3; k++) {
		str_init(&p[k].s, out->max);
		p[k].err = false;
	}
	human(d, worst, full, &p[0]);
	status(d, &p[1]);
	if (d->msg != NULL && original(d->msg, !full, &p[2]) == -1) {
		log_error(d->id, "dsn cannot read the original");
		(void)fail_set(f, true, "4.3.0", "cannot read the message");
		goto done;
	}
	if (p[0].err || p[1].err || p[2].err) {
		(void)fail_set(f, true, "4.3.0", "report too large");
		goto done;
	}
	clean(host, sizeof(host), d->hostname);
	clean(to, sizeof(to), d->sender);
	token(tid, sizeof(tid), d->id);
	token(thost, sizeof(thost), d->hostname);
	for (k = 0; ; k++) {
		/* RFC 2046 5.1.1: at most 70 characters. */
		if (!str_printf(boundary, sizeof(boundary),
		    "%.20s.%lld/%.30s%s", tid, (long long)d->now, thost,
		    k == 0 ? "" : "/") ||
		    (k > 0 && !str_printf(boundary + strlen(boundary),
		    sizeof(boundary) - strlen(boundary), "%d", k))) {
			(void)fail_set(f, true, "4.3.0", "host name too long");
			goto done;
		}
		if (!contains(&p[0].s, boundary) &&
		    !contains(&p[1].s, boundary) &&
		    !contains(&p[2].s, boundary))
			break;
	}
	eight = has_8bit(&p[0].s) || has_8bit(&p[1].s) || has_8bit(&p[2].s);
	if (str_appendf(out, "Date: %s\r\n"
	    "From: MAILER-DAEMON@%s (Mail Delivery System)\r\n"
	    "To: <%s>\r\n"
	    "Subject: %s\r\n"
	    "Message-ID: <%lld.%s.%s@%s>\r\n"
	    "Auto-Submitted: auto-replied\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	    "\tboundary=\"%s\"\r\n"
	    "Content-Transfer-Encoding: %s\r\n"
	    "\r\n"
	    "This is a MIME-encapsulated message.\r\n"
	    "\r\n"
	    "--%s\r\n"
	    "Content-Description: Notification\r\n"
	    "Content-Type: text/plain; charset=%s\r\n"
	    "\r\n",
	    date(d->now, dt, sizeof(dt)), host, to, subject,
	    (long long)d->now, tid, kind, thost, boundary,
	    eight ? "8bit" : "7bit", boundary,
	    has_8bit(&p[0].s) ? "utf-8" : "us-ascii") == -1 ||
	    str_append(out, p[0].s.data, p[0].s.len) == -1 ||
	    str_appendf(out, "\r\n--%s\r\n"
	    "Content-Description: Delivery report\r\n"
	    "Content-Type: message/delivery-status\r\n"
	    "\r\n", boundary) == -1 ||
	    str_append(out, p[1].s.data, p[1].s.len) == -1)
		goto toolarge;
	if (d->msg != NULL) {
		if (str_appendf(out, "\r\n--%s\r\n"
		    "Content-Description: %s\r\n"
		    "Content-Type: %s\r\n", boundary, full ?
		    "Undelivered Message" : "Undelivered Message Headers",
		    full ? "message/rfc822" : "text/rfc822-headers") == -1 ||
		    (has_8bit(&p[2].s) && str_append_str(out,
		    "Content-Transfer-Encoding: 8bit\r\n") == -1) ||
		    str_append_str(out, "\r\n") == -1 ||
		    (p[2].s.len > 0 &&
		    str_append(out, p[2].s.data, p[2].s.len) == -1))
			goto toolarge;
	}
	if (str_appendf(out, "\r\n--%s--\r\n", boundary) == -1)
		goto toolarge;
	rc = 0;
	goto done;
toolarge:
	(void)fail_set(f, true, "4.3.0", "report too large");
done:
	if (rc == -1)
		str_truncate(out, start);
	for (k = 0; k < 3; k++)
		str_release(&p[k].s);
	return rc;
}
