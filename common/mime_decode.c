/* SPDX-License-Identifier: MIT */
/*
 * mime_decode.c - transfer encodings (RFC 2045 6.7, 6.8), encoded words
 * (RFC 2047) and charset conversion to UTF-8 (iconv)
 *
 * Every decoder here is lenient: mail in the wild is broken in every way
 * a decoder can see, and SEARCH and `mime explain` want what is readable
 * rather than an error.
 */
#include <errno.h>
#include <iconv.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "mime.h"
#include "mime_private.h"
#include "str.h"

#define CHARSET_MAX	64

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

bool
mime_charset_is_utf8(const char *cs)
{
	return cs == NULL || *cs == '\0' || strcasecmp(cs, "utf-8") == 0 ||
	    strcasecmp(cs, "utf8") == 0 || strcasecmp(cs, "us-ascii") == 0 ||
	    strcasecmp(cs, "ascii") == 0;
}

int
mime_charset_to_utf8(const char *charset, const char *in, size_t len,
    struct str *out)
{
	static const char repl[] = "\xef\xbf\xbd";	/* U+FFFD */
	char		 buf[1024], *ip = (char *)(uintptr_t)in, *op;
	size_t		 il = len, ol, r;
	iconv_t		 cd;
	int		 rc = 1;

	if (mime_charset_is_utf8(charset))
		return str_append(out, in, len) == 0 ? 1 : -1;
	cd = iconv_open("UTF-8", charset);
	if (cd == (iconv_t)-1)
		return 0;
	while (il > 0 && rc == 1) {
		op = buf;
		ol = sizeof(buf);
		r = iconv(cd, &ip, &il, &op, &ol);
		if (str_append(out, buf, (size_t)(op - buf)) == -1) {
			rc = -1;
			break;
		}
		if (r != (size_t)-1)
			break;
		if (errno == E2BIG)
			continue;
		/* EILSEQ or EINVAL (cut sequence): one replacement, go on */
		if (str_append(out, repl, 3) == -1)
			rc = -1;
		ip++;
		il--;
		(void)iconv(cd, NULL, NULL, NULL, NULL);
	}
	if (rc == 1) {
		/* flush a stateful encoding's shift back */
		op = buf;
		ol = sizeof(buf);
		if (iconv(cd, NULL, NULL, &op, &ol) != (size_t)-1 &&
		    str_append(out, buf, (size_t)(op - buf)) == -1)
			rc = -1;
	}
	iconv_close(cd);
	return rc;
}

int
mime_base64_decode(const char *in, size_t len, struct str *out)
{
	unsigned char	 b[3];
	uint32_t	 acc = 0;
	unsigned int	 n = 0;
	size_t		 i;
	int		 v;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == '=')
			break;
		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '+')
			v = 62;
		else if (c == '/')
			v = 63;
		else
			continue;
		acc = acc << 6 | (uint32_t)v;
		if (++n == 4) {
			b[0] = (unsigned char)(acc >> 16);
			b[1] = (unsigned char)(acc >> 8);
			b[2] = (unsigned char)acc;
			if (str_append(out, b, 3) == -1)
				return -1;
			acc = 0;
			n = 0;
		}
	}
	/* a short final group: 2 characters hold 1 byte, 3 hold 2 */
	if (n == 2) {
		b[0] = (unsigned char)(acc >> 4);
		return str_append(out, b, 1);
	}
	if (n == 3) {
		b[0] = (unsigned char)(acc >> 10);
		b[1] = (unsigned char)(acc >> 2);
		return str_append(out, b, 2);
	}
	return 0;
}

int
mime_qp_decode(const char *in, size_t len, bool q_header, struct str *out)
{
	const char	*lf;
	size_t		 i = 0, eol, end, nl;
	int		 h, l;

	while (i < len) {
		lf = memchr(in + i, '\n', len - i);
		eol = lf != NULL ? (size_t)(lf - in) : len;
		nl = lf != NULL ? eol + 1 : len;	/* next line */
		end = eol;
		if (lf != NULL && end > i && in[end - 1] == '\r')
			end--;
		/* RFC 2045 6.7 (3): trailing whitespace was added in transit */
		if (!q_header)
			while (end > i && (in[end - 1] == ' ' ||
			    in[end - 1] == '\t'))
				end--;
		for (; i < end; i++) {
			unsigned char c = (unsigned char)in[i];

			if (c == '=' && i + 1 == end && !q_header)
				break;		/* soft line break */
			if (c == '=' && i + 2 < end &&
			    (h = hexval((unsigned char)in[i + 1])) >= 0 &&
			    (l = hexval((unsigned char)in[i + 2])) >= 0) {
				if (str_append_c(out, (char)(h << 4 | l)) == -1)
					return -1;
				i += 2;
				continue;
			}
			if (c == '_' && q_header)
				c = ' ';
			if (str_append_c(out, (char)c) == -1)
				return -1;
		}
		if (i < end) {
			/* the soft break: no line end */
			i = nl;
			continue;
		}
		/* the line end as it was */
		if (lf != NULL) {
			if (eol > 0 && in[eol - 1] == '\r' &&
			    str_append_c(out, '\r') == -1)
				return -1;
			if (str_append_c(out, '\n') == -1)
				return -1;
		}
		i = nl;
	}
	return 0;
}

int
mime_unfold(const char *in, size_t len, struct str *out)
{
	size_t	 i, start = 0;

	for (i = 0; i < len; i++) {
		if (in[i] != '\r' && in[i] != '\n')
			continue;
		if (i > start && str_append(out, in + start, i - start) == -1)
			return -1;
		start = i + 1;
	}
	if (len > start && str_append(out, in + start, len - start) == -1)
		return -1;
	return 0;
}

/*
 * One encoded word "=?charset[*lang]?B|Q?text?=" at in[0..len): 1 with
 * its charset, decoded bytes appended to raw and *used_r set, 0 if it is
 * not one.
 */
static int
encoded_word(const char *in, size_t len, char *cs, size_t cssize,
    struct str *raw, size_t *used_r)
{
	size_t	 i, csend, enc, text, textend;
	char	 e;

	if (len < 8 || in[0] != '=' || in[1] != '?')
		return 0;
	for (i = 2; i < len && in[i] != '?'; i++)
		if ((unsigned char)in[i] <= ' ' || in[i] == '(' ||
		    in[i] == ')' || in[i] == '"')
			return 0;
	csend = i;
	if (csend == 2 || i + 3 >= len || in[i + 2] != '?')
		return 0;
	enc = i + 1;
	e = in[enc];
	if (e != 'B' && e != 'b' && e != 'Q' && e != 'q')
		return 0;
	text = enc + 2;
	for (i = text; i + 1 < len; i++) {
		if (in[i] == '?' && in[i + 1] == '=')
			break;
		if (in[i] == ' ' || in[i] == '\t' || in[i] == '\r' ||
		    in[i] == '\n')
			return 0;
	}
	if (i + 1 >= len)
		return 0;
	textend = i;
	/* charset, without an RFC 2231 language */
	i = 2;
	while (i < csend && in[i] != '*')
		i++;
	if (i - 2 >= cssize)
		return 0;
	memcpy(cs, in + 2, i - 2);
	cs[i - 2] = '\0';
	if (e == 'B' || e == 'b') {
		if (mime_base64_decode(in + text, textend - text, raw) == -1)
			return -1;
	} else if (mime_qp_decode(in + text, textend - text, true, raw) == -1)
		return -1;
	*used_r = textend + 2;
	return 1;
}

/* Convert the pending words of one charset; unknown: their raw text. */
static int
flush_words(const char *cs, struct str *raw, const char *orig, size_t olen,
    struct str *out)
{
	int	 rc = 0;

	if (raw->len > 0 || olen > 0) {
		rc = mime_charset_to_utf8(cs, raw->data != NULL ? raw->data :
		    "", raw->len, out);
		if (rc == 0)
			rc = str_append(out, orig, olen) == 0 ? 1 : -1;
	}
	str_clear(raw);
	return rc == -1 ? -1 : 0;
}

int
mime_header_decode(const char *in, size_t len, struct str *out)
{
	struct str	 raw, val;
	char		 cs[CHARSET_MAX], pcs[CHARSET_MAX] = "";
	size_t		 i, used, ws, pstart = 0, pend = 0;
	bool		 pending = false;
	int		 r, rc = 0;
	size_t		 mark;

	str_init(&raw, 0);
	str_init(&val, 0);
	if (mime_unfold(in, len, &val) == -1) {
		str_release(&val);
		return -1;
	}
	in = val.data != NULL ? val.data : "";
	len = val.len;
	for (i = 0; i < len && rc == 0;) {
		if (in[i] == '=' && i + 1 < len && in[i + 1] == '?') {
			mark = raw.len;
			r = encoded_word(in + i, len - i, cs, sizeof(cs), &raw,
			    &used);
			if (r == -1) {
				rc = -1;
				break;
			}
			if (r == 1) {
				if (pending && strcasecmp(cs, pcs) != 0) {
					/* another charset: convert the
					 * earlier words on their own */
					struct str tail;

					str_init(&tail, 0);
					if (str_append(&tail, raw.data + mark,
					    raw.len - mark) == -1)
						rc = -1;
					str_truncate(&raw, mark);
					if (rc == 0 && flush_words(pcs, &raw,
					    in + pstart, pend - pstart,
					    out) == -1)
						rc = -1;
					if (rc == 0 && str_append(&raw,
					    tail.data != NULL ? tail.data :
					    "", tail.len) == -1)
						rc = -1;
					str_release(&tail);
					pstart = i;
				} else if (!pending)
					pstart = i;
				memcpy(pcs, cs, sizeof(pcs));
				pending = true;
				i += used;
				pend = i;
				/* whitespace between two words goes */
				for (ws = i; ws < len && (in[ws] == ' ' ||
				    in[ws] == '\t'); ws++)
					continue;
				if (ws > i && ws < len && in[ws] == '=' &&
				    ws + 1 < len && in[ws + 1] == '?') {
					size_t u2;
					struct str probe;
					char cs2[CHARSET_MAX];

					str_init(&probe, 0);
					r = encoded_word(in + ws, len - ws,
					    cs2, sizeof(cs2), &probe, &u2);
					str_release(&probe);
					if (r == 1)
						i = ws;
				}
				continue;
			}
		}
		if (pending) {
			if (flush_words(pcs, &raw, in + pstart, pend - pstart,
			    out) == -1)
				rc = -1;
			pending = false;
		}
		if (rc == 0 && str_append_c(out, in[i]) == -1)
			rc = -1;
		i++;
	}
	if (rc == 0 && pending &&
	    flush_words(pcs, &raw, in + pstart, pend - pstart, out) == -1)
		rc = -1;
	str_release(&raw);
	str_release(&val);
	return rc;
}

int
mime_body_decode(const struct mime_msg *m, const struct mime_part *p,
    struct str *out)
{
	const char	*b = m->buf + p->body_off;

	if (p->encoding != NULL && strcmp(p->encoding, "base64") == 0)
		return mime_base64_decode(b, p->body_len, out);
	if (p->encoding != NULL &&
	    strcmp(p->encoding, "quoted-printable") == 0)
		return mime_qp_decode(b, p->body_len, false, out);
	return str_append(out, b, p->body_len);
}

int
mime_body_text(const struct mime_msg *m, const struct mime_part *p,
    struct str *out)
{
	struct str	 dec;
	const char	*cs = NULL;
	size_t		 i;
	int		 rc;

	for (i = 0; i < p->nparams; i++)
		if (strcmp(p->params[i].name, "charset") == 0)
			cs = p->params[i].value;
	if (mime_charset_is_utf8(cs))
		return mime_body_decode(m, p, out);
	str_init(&dec, 0);
	rc = mime_body_decode(m, p, &dec);
	if (rc == 0) {
		rc = mime_charset_to_utf8(cs, dec.data != NULL ? dec.data : "",
		    dec.len, out);
		if (rc == 0)
			rc = str_append(out, dec.data != NULL ? dec.data : "",
			    dec.len) == 0 ? 1 : -1;
		rc = rc == -1 ? -1 : 0;
	}
	str_release(&dec);
	return rc;
}
