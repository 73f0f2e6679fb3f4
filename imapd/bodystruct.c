/* SPDX-License-Identifier: MIT */
/*
 * bodystruct.c - ENVELOPE, BODY and BODYSTRUCTURE (RFC 3501 7.4.2) of a
 * parsed message (common/mime.h)
 *
 * ENVELOPE carries the header values as they are (unfolded, encoded
 * words kept, RFC 3501 says so); the address lists are parsed into
 * (name adl mailbox host) with group markers.  BODYSTRUCTURE is BODY
 * with the extension data: parameters, disposition, language, location.
 * Sizes are of the wire form (CRLF).
 */
#include <inttypes.h>
#include <string.h>
#include <strings.h>

#include "fetch_private.h"
#include "mime.h"
#include "parse.h"
#include "str.h"

#define W(x)	do { if ((x) == -1) return -1; } while (0)

static int
put_nstr(struct str *o, const char *s, bool utf8)
{
	return imap_put_nstring(o, s, s != NULL ? strlen(s) : 0, utf8);
}

/* One header field of the message's header, unfolded; NIL if missing. */
static int
put_field(struct str *o, const struct mime_msg *m, const struct mime_part *p,
    const char *name, bool utf8)
{
	struct str	 v;
	int		 r;

	str_init(&v, 0);
	r = mime_header_get(m, p, name, &v);
	if (r == 1)
		r = imap_put_string(o, v.data != NULL ? v.data : "", v.len,
		    utf8);
	else
		r = str_append_str(o, "NIL");
	str_release(&v);
	return r;
}

/* An address list: NIL when the field is missing or holds none. */
static int
put_addrs(struct str *o, const struct mime_msg *m, const struct mime_part *p,
    const char *name, const char *fallback, bool utf8)
{
	struct mime_addr *a = NULL;
	struct str	 v;
	size_t		 n = 0, i;
	int		 r = 0;

	str_init(&v, 0);
	if (mime_header_get(m, p, name, &v) != 1 && (fallback == NULL ||
	    mime_header_get(m, p, fallback, &v) != 1)) {
		str_release(&v);
		return str_append_str(o, "NIL");
	}
	if (mime_addr_parse_raw(v.data != NULL ? v.data : "", v.len, &a,
	    &n) == -1 || n == 0) {
		mime_addr_free(a, n);
		a = NULL;
		n = 0;
		/* an empty Sender: or Reply-To: is as if missing (RFC 3501
		 * 7.4.2: they default to From) */
		str_clear(&v);
		if (fallback == NULL || mime_header_get(m, p, fallback,
		    &v) != 1 || mime_addr_parse_raw(v.data != NULL ? v.data :
		    "", v.len, &a, &n) == -1 || n == 0) {
			str_release(&v);
			mime_addr_free(a, n);
			return str_append_str(o, "NIL");
		}
	}
	r = str_append_c(o, '(');
	for (i = 0; i < n && r == 0; i++) {
		r = str_append_c(o, '(');
		if (r == 0)
			r = put_nstr(o, a[i].host != NULL ? a[i].name : NULL,
			    utf8);
		if (r == 0)
			r = str_append_c(o, ' ');
		if (r == 0)
			r = put_nstr(o, a[i].route, utf8);
		if (r == 0)
			r = str_append_c(o, ' ');
		if (r == 0)
			r = put_nstr(o, a[i].mailbox, utf8);
		if (r == 0)
			r = str_append_c(o, ' ');
		if (r == 0)
			r = put_nstr(o, a[i].host, utf8);
		if (r == 0)
			r = str_append_c(o, ')');
	}
	if (r == 0)
		r = str_append_c(o, ')');
	mime_addr_free(a, n);
	str_release(&v);
	return r;
}

int
fetch_put_envelope(struct str *o, const struct mime_msg *m,
    const struct mime_part *p, bool utf8)
{
	W(str_append_c(o, '('));
	W(put_field(o, m, p, "Date", utf8));
	W(str_append_c(o, ' '));
	W(put_field(o, m, p, "Subject", utf8));
	W(str_append_c(o, ' '));
	W(put_addrs(o, m, p, "From", NULL, utf8));
	W(str_append_c(o, ' '));
	W(put_addrs(o, m, p, "Sender", "From", utf8));
	W(str_append_c(o, ' '));
	W(put_addrs(o, m, p, "Reply-To", "From", utf8));
	W(str_append_c(o, ' '));
	W(put_addrs(o, m, p, "To", NULL, utf8));
	W(str_append_c(o, ' '));
	W(put_addrs(o, m, p, "Cc", NULL, utf8));
	W(str_append_c(o, ' '));
	W(put_addrs(o, m, p, "Bcc", NULL, utf8));
	W(str_append_c(o, ' '));
	W(put_field(o, m, p, "In-Reply-To", utf8));
	W(str_append_c(o, ' '));
	W(put_field(o, m, p, "Message-ID", utf8));
	return str_append_c(o, ')');
}

static bool
has_8bit(const char *v)
{
	for (; *v != '\0'; v++)
		if ((unsigned char)*v >= 0x80)
			return true;
	return false;
}

/* "name*" "UTF-8''r%C3%A9port.pdf" (RFC 2231 extended value). */
static int
put_2231(struct str *o, const char *name, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	struct str	 n, v;
	const unsigned char *p;
	int		 rc;

	str_init(&n, 0);
	str_init(&v, 0);
	rc = str_appendf(&n, "%s*", name);
	if (rc == 0)
		rc = str_append_str(&v, "UTF-8''");
	for (p = (const unsigned char *)value; rc == 0 && *p != '\0'; p++) {
		if (*p < 0x80 && *p > 0x20 && strchr("*'%()<>@,;:\\\"/[]?=",
		    *p) == NULL)
			rc = str_append_c(&v, (char)*p);
		else if ((rc = str_append_c(&v, '%')) == 0 &&
		    (rc = str_append_c(&v, hex[*p >> 4])) == 0)
			rc = str_append_c(&v, hex[*p & 15]);
	}
	if (rc == 0)
		rc = imap_put_string(o, n.data, n.len, false);
	if (rc == 0)
		rc = str_append_c(o, ' ');
	if (rc == 0)
		rc = imap_put_string(o, v.data, v.len, false);
	str_release(&n);
	str_release(&v);
	return rc;
}

static int
put_params(struct str *o, const struct mime_param *pa, size_t n, bool utf8)
{
	size_t	 i;

	if (n == 0)
		return str_append_str(o, "NIL");
	W(str_append_c(o, '('));
	for (i = 0; i < n; i++) {
		if (i > 0)
			W(str_append_c(o, ' '));
		if (!utf8 && has_8bit(pa[i].value)) {
			/* RFC 2231 again, as the message wrote it: a
			 * client without UTF8=ACCEPT gets ASCII */
			W(put_2231(o, pa[i].name, pa[i].value));
			continue;
		}
		W(put_nstr(o, pa[i].name, utf8));
		W(str_append_c(o, ' '));
		W(imap_put_string(o, pa[i].value, strlen(pa[i].value), utf8));
	}
	return str_append_c(o, ')');
}

/* disposition language location (the extension data after md5 or the
 * multipart's parameters). */
static int
put_ext_tail(struct str *o, const struct mime_part *p, bool utf8)
{
	W(str_append_c(o, ' '));
	if (p->disposition == NULL)
		W(str_append_str(o, "NIL"));
	else {
		W(str_append_c(o, '('));
		W(put_nstr(o, p->disposition, utf8));
		W(str_append_c(o, ' '));
		W(put_params(o, p->disp_params, p->ndisp_params, utf8));
		W(str_append_c(o, ')'));
	}
	W(str_append_c(o, ' '));
	W(put_nstr(o, p->language, utf8));
	W(str_append_c(o, ' '));
	return put_nstr(o, p->location, utf8);
}

int
fetch_put_body(struct str *o, const struct mime_msg *m,
    const struct mime_part *p, bool ext, bool utf8, unsigned int depth)
{
	size_t	 i;

	if (depth > MIME_DEPTH_MAX + 2)
		return str_append_str(o, "NIL");
	W(str_append_c(o, '('));
	if (strcmp(p->type, "multipart") == 0 && p->nchildren > 0) {
		for (i = 0; i < p->nchildren; i++)
			W(fetch_put_body(o, m, &p->children[i], ext, utf8,
			    depth + 1));
		W(str_append_c(o, ' '));
		W(imap_put_string(o, p->subtype, strlen(p->subtype), utf8));
		if (ext) {
			W(str_append_c(o, ' '));
			W(put_params(o, p->params, p->nparams, utf8));
			W(put_ext_tail(o, p, utf8));
		}
		return str_append_c(o, ')');
	}
	W(imap_put_string(o, p->type, strlen(p->type), utf8));
	W(str_append_c(o, ' '));
	W(imap_put_string(o, p->subtype, strlen(p->subtype), utf8));
	W(str_append_c(o, ' '));
	/* a text part without parameters has RFC 2045's default charset,
	 * as Dovecot shows it */
	if (p->nparams == 0 && strcmp(p->type, "text") == 0)
		W(str_append_str(o, "(\"charset\" \"us-ascii\")"));
	else
		W(put_params(o, p->params, p->nparams, utf8));
	W(str_append_c(o, ' '));
	W(put_nstr(o, p->id, utf8));
	W(str_append_c(o, ' '));
	W(put_nstr(o, p->description, utf8));
	W(str_append_c(o, ' '));
	W(put_nstr(o, p->encoding != NULL ? p->encoding : "7bit", utf8));
	W(str_appendf(o, " %" PRIu64, p->wire_body_len));
	if (strcmp(p->type, "message") == 0 && p->nchildren == 1 &&
	    (strcmp(p->subtype, "rfc822") == 0 ||
	    strcmp(p->subtype, "global") == 0)) {
		W(str_append_c(o, ' '));
		W(fetch_put_envelope(o, m, &p->children[0], utf8));
		W(str_append_c(o, ' '));
		W(fetch_put_body(o, m, &p->children[0], ext, utf8,
		    depth + 1));
		W(str_appendf(o, " %" PRIu64, p->body_lines));
	} else if (strcmp(p->type, "text") == 0)
		W(str_appendf(o, " %" PRIu64, p->body_lines));
	if (ext) {
		W(str_append_c(o, ' '));
		W(put_nstr(o, p->md5, utf8));
		W(put_ext_tail(o, p, utf8));
	}
	return str_append_c(o, ')');
}
