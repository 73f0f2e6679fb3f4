/* SPDX-License-Identifier: MIT */
/*
 * mime.c - the part tree of a message (RFC 2045, 2046), its Content-*
 * fields with RFC 2231 parameters, and header field access
 *
 * The tree is built over the message buffer in one pass per level: a
 * multipart's body is scanned for its own boundary lines only, so a part
 * ends where its parent's range ends and an outer boundary always closes
 * inner parts.  Budgets: MIME_DEPTH_MAX levels, MIME_PARTS_MAX parts in
 * all (children are counted when their ranges are known, before any of
 * them is parsed, so the total never passes the limit).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mem.h"
#include "mime.h"
#include "mime_private.h"
#include "str.h"

#define BOUNDARY_MAX	200
#define RAW_PARAMS_MAX	64

/* Bounded buffers: what passes the bound is dropped (a name or a
 * parameter longer than that is junk, not worth an error). */
static void
adds(struct str *s, const void *p, size_t n)
{
	if (str_append(s, p, n) == -1)
		return;
}

static void
adds0(struct str *s, const char *p)
{
	adds(s, p, strlen(p));
}

struct parse_ctx {
	const char	*buf;
	size_t		 nparts;
};

struct range {
	size_t	 start, end;
};

/* ---- header fields ---- */

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* End of the line starting at i: index after its LF (or len). */
static size_t
line_end(const char *buf, size_t len, size_t i)
{
	const char	*lf = memchr(buf + i, '\n', len - i);

	return lf != NULL ? (size_t)(lf - buf) + 1 : len;
}

static bool
is_blank_line(const char *buf, size_t len, size_t i)
{
	return (i < len && buf[i] == '\n') ||
	    (i + 1 < len && buf[i] == '\r' && buf[i + 1] == '\n');
}

bool
mime_header_next(const char *buf, size_t len, size_t *pos,
    const char **name, size_t *name_len, const char **value,
    size_t *value_len)
{
	size_t	 i = *pos, e, colon, nend, vend;

	while (i < len && !is_blank_line(buf, len, i)) {
		e = line_end(buf, len, i);
		/* the field and its continuation lines */
		while (e < len && is_wsp(buf[e]))
			e = line_end(buf, len, e);
		for (colon = i; colon < e && buf[colon] != ':' &&
		    buf[colon] != '\n'; colon++)
			continue;
		if (colon >= e || buf[colon] != ':' || colon == i ||
		    is_wsp(buf[i])) {
			i = e;		/* no field name: skip the line */
			continue;
		}
		nend = colon;
		while (nend > i && is_wsp(buf[nend - 1]))
			nend--;
		if (nend == i) {
			i = e;
			continue;
		}
		vend = e;
		if (vend > colon + 1 && buf[vend - 1] == '\n')
			vend--;
		if (vend > colon + 1 && buf[vend - 1] == '\r')
			vend--;
		colon++;
		while (colon < vend && is_wsp(buf[colon]))
			colon++;
		*name = buf + i;
		*name_len = nend - i;
		*value = buf + colon;
		*value_len = vend - colon;
		*pos = e;
		return true;
	}
	*pos = i;
	return false;
}

static bool
name_is(const char *n, size_t nl, const char *want)
{
	return strlen(want) == nl && strncasecmp(n, want, nl) == 0;
}

int
mime_header_get(const struct mime_msg *m, const struct mime_part *p,
    const char *want, struct str *out)
{
	const char	*n, *v;
	size_t		 pos = 0, nl, vl;

	while (mime_header_next(m->buf + p->off, p->hdr_len, &pos, &n, &nl,
	    &v, &vl))
		if (name_is(n, nl, want))
			return mime_unfold(v, vl, out) == 0 ? 1 : -1;
	return 0;
}

/* ---- Content-Type and Content-Disposition (RFC 2045 5.1, 2183) ---- */

static bool
is_tspecial(unsigned char c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static bool
is_token(unsigned char c)
{
	return c > ' ' && c < 0x7f && !is_tspecial(c);
}

/* Skip whitespace, line ends and (nested) comments. */
static size_t
skip_cfws(const char *v, size_t len, size_t i)
{
	unsigned int	 depth;

	for (;;) {
		while (i < len && (is_wsp(v[i]) || v[i] == '\r' ||
		    v[i] == '\n'))
			i++;
		if (i >= len || v[i] != '(')
			return i;
		for (depth = 0; i < len; i++) {
			if (v[i] == '\\' && i + 1 < len)
				i++;
			else if (v[i] == '(')
				depth++;
			else if (v[i] == ')' && --depth == 0) {
				i++;
				break;
			}
		}
	}
}

static size_t
token(const char *v, size_t len, size_t i)
{
	while (i < len && is_token((unsigned char)v[i]))
		i++;
	return i;
}

struct raw_param {
	char	 name[80];	/* without the RFC 2231 section */
	int	 section;	/* -1: none */
	bool	 extended;	/* ends in '*' */
	char	*value;		/* as written, quotes removed */
};

/* A quoted string at v[i] (the '"'): its content unescaped. */
static size_t
quoted(const char *v, size_t len, size_t i, struct str *out)
{
	for (i++; i < len && v[i] != '"'; i++) {
		if (v[i] == '\\' && i + 1 < len)
			i++;
		if (v[i] == '\r' || v[i] == '\n')
			continue;
		if (str_append_c(out, v[i]) == -1)
			return len;
	}
	return i < len ? i + 1 : len;
}

static size_t
parse_raw_params(const char *v, size_t len, size_t i, struct raw_param *rp,
    size_t max)
{
	struct str	 val;
	size_t		 n = 0, s, e, star;
	unsigned int	 sec;

	str_init(&val, 64 * 1024);
	while (n < max) {
		i = skip_cfws(v, len, i);
		while (i < len && v[i] != ';')	/* junk before the ';' */
			i++;
		if (i >= len)
			break;
		i = skip_cfws(v, len, i + 1);
		s = i;
		e = token(v, len, i);
		if (e == s)
			continue;
		i = skip_cfws(v, len, e);
		if (i >= len || v[i] != '=')
			continue;
		i = skip_cfws(v, len, i + 1);
		str_clear(&val);
		if (i < len && v[i] == '"')
			i = quoted(v, len, i, &val);
		else {
			size_t ve = token(v, len, i);

			if (str_append(&val, v + i, ve - i) == -1)
				break;
			i = ve;
		}
		/* name, name*, name*N, name*N* */
		rp[n].section = -1;
		rp[n].extended = false;
		if (e > s && v[e - 1] == '*') {
			rp[n].extended = true;
			e--;
		}
		for (star = s; star < e && v[star] != '*'; star++)
			continue;
		if (star < e) {
			uint64_t num;

			if (strnum_u64n(v + star + 1, e - star - 1, 0, 999,
			    &num) == -1)
				continue;
			sec = (unsigned int)num;
			rp[n].section = (int)sec;
			e = star;
		}
		if (e == s || e - s >= sizeof(rp[n].name))
			continue;
		memcpy(rp[n].name, v + s, e - s);
		rp[n].name[e - s] = '\0';
		str_lower(rp[n].name);
		rp[n].value = xstrndup(val.data != NULL ? val.data : "",
		    val.len);
		n++;
	}
	str_release(&val);
	return n;
}

static int
percent_decode(const char *s, struct str *out)
{
	static const char hex[] = "0123456789abcdef";
	const char	*h, *l;

	for (; *s != '\0'; s++) {
		if (*s == '%' && s[1] != '\0' && s[2] != '\0' &&
		    (h = strchr(hex, s[1] | 0x20)) != NULL &&
		    (l = strchr(hex, s[2] | 0x20)) != NULL) {
			if (str_append_c(out,
			    (char)((h - hex) << 4 | (l - hex))) == -1)
				return -1;
			s += 2;
		} else if (str_append_c(out, *s) == -1)
			return -1;
	}
	return 0;
}

/* Join RFC 2231 sections and decode them (charset'lang'%XX). */
static void
join_params(struct raw_param *rp, size_t n, struct mime_param **r,
    size_t *n_r)
{
	struct mime_param	*out;
	struct str		 bytes, utf8;
	char			 cs[64];
	size_t			 i, j, k, nout = 0;
	bool			 dup, has_ext;
	int			 sec;

	out = xcalloc(MIME_PARAMS_MAX, sizeof(*out));
	str_init(&bytes, 256 * 1024);
	str_init(&utf8, 256 * 1024);
	for (i = 0; i < n && nout < MIME_PARAMS_MAX; i++) {
		for (dup = false, j = 0; j < nout; j++)
			if (strcmp(out[j].name, rp[i].name) == 0)
				dup = true;
		if (dup)
			continue;
		/* sections 0, 1, ... as long as they follow; an extended
		 * plain "name*" is section 0 alone; a plain name is used
		 * only when no RFC 2231 form is there */
		str_clear(&bytes);
		cs[0] = '\0';
		has_ext = false;
		for (sec = 0; sec < 1000; sec++) {
			for (k = 0; k < n; k++)
				if (strcmp(rp[k].name, rp[i].name) == 0 &&
				    (rp[k].section == sec || (sec == 0 &&
				    rp[k].section == -1 && rp[k].extended)))
					break;
			if (k == n)
				break;
			has_ext = true;
			if (rp[k].extended) {
				const char *v = rp[k].value, *q1, *q2;

				if (sec == 0 && (q1 = strchr(v, '\'')) != NULL &&
				    (q2 = strchr(q1 + 1, '\'')) != NULL) {
					if ((size_t)(q1 - v) < sizeof(cs)) {
						memcpy(cs, v, (size_t)(q1 - v));
						cs[q1 - v] = '\0';
					}
					v = q2 + 1;
				}
				(void)percent_decode(v, &bytes);
			} else
				adds0(&bytes, rp[k].value);
			if (rp[k].section == -1)
				break;
		}
		if (!has_ext) {
			for (k = 0; k < n; k++)
				if (strcmp(rp[k].name, rp[i].name) == 0 &&
				    rp[k].section == -1 && !rp[k].extended)
					break;
			if (k == n)
				continue;
			out[nout].name = xstrdup(rp[k].name);
			out[nout++].value = xstrdup(rp[k].value);
			continue;
		}
		str_clear(&utf8);
		if (cs[0] == '\0' || mime_charset_to_utf8(cs,
		    bytes.data != NULL ? bytes.data : "", bytes.len,
		    &utf8) != 1) {
			str_clear(&utf8);
			adds(&utf8, bytes.data != NULL ?
			    bytes.data : "", bytes.len);
		}
		out[nout].name = xstrdup(rp[i].name);
		out[nout++].value = xstrndup(utf8.data != NULL ? utf8.data :
		    "", utf8.len);
	}
	str_release(&bytes);
	str_release(&utf8);
	for (i = 0; i < n; i++)
		free(rp[i].value);
	if (nout == 0) {
		free(out);
		out = NULL;
	}
	*r = out;
	*n_r = nout;
}

static void
set_default_type(struct mime_part *p, bool digest)
{
	if (digest) {
		memcpy(p->type, "message", sizeof("message"));
		memcpy(p->subtype, "rfc822", sizeof("rfc822"));
		return;
	}
	memcpy(p->type, "text", sizeof("text"));
	memcpy(p->subtype, "plain", sizeof("plain"));
	p->params = xcalloc(1, sizeof(*p->params));
	p->params[0].name = xstrdup("charset");
	p->params[0].value = xstrdup("us-ascii");
	p->nparams = 1;
}

static void
parse_content_type(struct mime_part *p, const char *v, size_t len,
    bool digest)
{
	struct raw_param	 rp[RAW_PARAMS_MAX];
	size_t			 i, s, e, ss, se, n;

	s = skip_cfws(v, len, 0);
	e = token(v, len, s);
	i = skip_cfws(v, len, e);
	if (e == s || i >= len || v[i] != '/' ||
	    e - s >= sizeof(p->type)) {
		set_default_type(p, digest);
		return;
	}
	ss = skip_cfws(v, len, i + 1);
	se = token(v, len, ss);
	if (se == ss || se - ss >= sizeof(p->subtype)) {
		set_default_type(p, digest);
		return;
	}
	memcpy(p->type, v + s, e - s);
	p->type[e - s] = '\0';
	str_lower(p->type);
	memcpy(p->subtype, v + ss, se - ss);
	p->subtype[se - ss] = '\0';
	str_lower(p->subtype);
	n = parse_raw_params(v, len, se, rp, RAW_PARAMS_MAX);
	join_params(rp, n, &p->params, &p->nparams);
}

static void
parse_disposition(struct mime_part *p, const char *v, size_t len)
{
	struct raw_param	 rp[RAW_PARAMS_MAX];
	size_t			 s, e, n;

	s = skip_cfws(v, len, 0);
	e = token(v, len, s);
	if (e == s)
		return;
	p->disposition = xstrndup(v + s, e - s);
	str_lower(p->disposition);
	n = parse_raw_params(v, len, e, rp, RAW_PARAMS_MAX);
	join_params(rp, n, &p->disp_params, &p->ndisp_params);
}

/* An unstructured field: unfolded, whitespace trimmed. */
static char *
field_text(const char *v, size_t len)
{
	struct str	 s;
	char		*r;

	str_init(&s, 0);
	if (mime_unfold(v, len, &s) == -1)
		return xstrdup("");
	r = str_detach(&s, NULL);
	if (r == NULL)
		return xstrdup("");
	/* str_trim moves the start: keep the allocation */
	{
		char *t = str_trim(r);

		if (t != r)
			memmove(r, t, strlen(t) + 1);
	}
	return r;
}

static void
parse_fields(struct mime_part *p, const char *buf, bool digest)
{
	const char	*n, *v;
	size_t		 pos = 0, nl, vl, s, e;
	bool		 have_type = false;

	while (mime_header_next(buf + p->off, p->hdr_len, &pos, &n, &nl, &v,
	    &vl)) {
		if (nl < 8 || strncasecmp(n, "content-", 8) != 0)
			continue;
		if (name_is(n, nl, "content-type") && !have_type) {
			parse_content_type(p, v, vl, digest);
			have_type = true;
		} else if (name_is(n, nl, "content-transfer-encoding") &&
		    p->encoding == NULL) {
			s = skip_cfws(v, vl, 0);
			e = token(v, vl, s);
			if (e > s) {
				p->encoding = xstrndup(v + s, e - s);
				str_lower(p->encoding);
			}
		} else if (name_is(n, nl, "content-id") && p->id == NULL)
			p->id = field_text(v, vl);
		else if (name_is(n, nl, "content-description") &&
		    p->description == NULL)
			p->description = field_text(v, vl);
		else if (name_is(n, nl, "content-md5") && p->md5 == NULL)
			p->md5 = field_text(v, vl);
		else if (name_is(n, nl, "content-disposition") &&
		    p->disposition == NULL)
			parse_disposition(p, v, vl);
		else if (name_is(n, nl, "content-language") &&
		    p->language == NULL)
			p->language = field_text(v, vl);
		else if (name_is(n, nl, "content-location") &&
		    p->location == NULL)
			p->location = field_text(v, vl);
	}
	if (!have_type)
		set_default_type(p, digest);
}

/* ---- the tree ---- */

static void
count_lines(const char *b, size_t len, uint64_t *lines, uint64_t *wire)
{
	const char	*lf, *p = b, *end = b + len;
	uint64_t	 n = 0, bare = 0;

	while (p < end && (lf = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n++;
		if (lf == b || lf[-1] != '\r')
			bare++;
		p = lf + 1;
	}
	*lines = n;
	*wire = len + bare;
}

static const char *
param_get(const struct mime_part *p, const char *name)
{
	size_t	 i;

	for (i = 0; i < p->nparams; i++)
		if (strcmp(p->params[i].name, name) == 0)
			return p->params[i].value;
	return NULL;
}

/* Is buf[i..] a boundary line of b?  1 a delimiter, 2 the close one. */
static int
is_boundary(const char *buf, size_t end, size_t i, const char *b, size_t bl)
{
	size_t	 j;
	int	 kind = 1;

	if (end - i < bl + 2 || buf[i] != '-' || buf[i + 1] != '-' ||
	    memcmp(buf + i + 2, b, bl) != 0)
		return 0;
	j = i + 2 + bl;
	if (j + 1 < end && buf[j] == '-' && buf[j + 1] == '-')
		return 2;	/* anything may follow the close delimiter */
	/* RFC 2046 5.1.1: only transport padding up to the line end */
	while (j < end && is_wsp(buf[j]))
		j++;
	if (j < end && buf[j] != '\r' && buf[j] != '\n')
		return 0;
	return kind;
}

static void	parse_part(struct parse_ctx *, struct mime_part *, size_t,
		    size_t, unsigned int, bool);

/* Is the last line of buf[start..end) a close delimiter "--x--"? */
static bool
ends_with_close(const char *buf, size_t start, size_t end)
{
	size_t	 b = end;

	while (b > start && buf[b - 1] != '\n')
		b--;
	return end - b >= 5 && buf[b] == '-' && buf[b + 1] == '-' &&
	    buf[end - 1] == '-' && buf[end - 2] == '-';
}

static void
parse_multipart(struct parse_ctx *ctx, struct mime_part *p, size_t end,
    unsigned int depth, const char *boundary)
{
	const char	*buf = ctx->buf;
	struct range	*r = NULL;
	size_t		 bl = strlen(boundary), i, n = 0, cap = 0, budget, ce;
	bool		 open = false, digest;
	int		 k;

	budget = ctx->nparts < MIME_PARTS_MAX ? MIME_PARTS_MAX - ctx->nparts :
	    0;
	for (i = p->body_off; i < end && budget > 0; i = line_end(buf, end,
	    i)) {
		if ((k = is_boundary(buf, end, i, boundary, bl)) == 0)
			continue;
		if (open) {
			/* the line end before the boundary is part of it */
			ce = i;
			if (ce > r[n - 1].start && buf[ce - 1] == '\n')
				ce--;
			if (ce > r[n - 1].start && buf[ce - 1] == '\r')
				ce--;
			/* after a nested multipart's close delimiter the line
			 * end stays with the part (its epilogue), as Dovecot
			 * counts it: sizes and BODY[n] agree with it */
			if (ends_with_close(buf, r[n - 1].start, ce))
				ce = i;
			r[n - 1].end = ce;
			open = false;
		}
		if (k == 2)
			break;
		if (n == budget) {
			/* out of parts: the last one runs to the end */
			r[n - 1].end = end;
			break;
		}
		if (n == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			r = xreallocarray(r, cap, sizeof(*r));
		}
		r[n].start = line_end(buf, end, i);
		r[n].end = end;
		n++;
		open = true;
	}
	if (n == 0) {
		free(r);
		return;
	}
	ctx->nparts += n;
	digest = strcmp(p->subtype, "digest") == 0;
	p->children = xcalloc(n, sizeof(*p->children));
	p->nchildren = n;
	for (i = 0; i < n; i++) {
		p->children[i].parent = p;
		parse_part(ctx, &p->children[i], r[i].start, r[i].end,
		    depth + 1, digest);
	}
	free(r);
}

static void
parse_part(struct parse_ctx *ctx, struct mime_part *p, size_t start,
    size_t end, unsigned int depth, bool digest)
{
	const char	*buf = ctx->buf, *boundary;
	size_t		 i;

	p->off = start;
	for (i = start; i < end && !is_blank_line(buf, end, i);)
		i = line_end(buf, end, i);
	if (i < end)
		i = line_end(buf, end, i);	/* the blank line */
	p->hdr_len = i - start;
	p->body_off = i;
	p->body_len = end - i;
	count_lines(buf + p->off, p->hdr_len, &(uint64_t){ 0 },
	    &p->wire_hdr_len);
	count_lines(buf + p->body_off, p->body_len, &p->body_lines,
	    &p->wire_body_len);
	parse_fields(p, buf, digest);
	if (depth + 1 >= MIME_DEPTH_MAX)
		return;
	if (strcmp(p->type, "multipart") == 0) {
		boundary = param_get(p, "boundary");
		if (boundary != NULL && *boundary != '\0' &&
		    strlen(boundary) <= BOUNDARY_MAX)
			parse_multipart(ctx, p, end, depth, boundary);
	} else if (strcmp(p->type, "message") == 0 &&
	    (strcmp(p->subtype, "rfc822") == 0 ||
	    strcmp(p->subtype, "global") == 0) &&
	    ctx->nparts < MIME_PARTS_MAX) {
		ctx->nparts++;
		p->children = xcalloc(1, sizeof(*p->children));
		p->nchildren = 1;
		p->children[0].parent = p;
		parse_part(ctx, &p->children[0], p->body_off, end, depth + 1,
		    false);
	}
}

struct mime_msg *
mime_parse(const char *buf, size_t len)
{
	struct mime_msg		*m;
	struct parse_ctx	 ctx;

	m = xcalloc(1, sizeof(*m));
	m->buf = buf;
	m->len = len;
	ctx.buf = buf;
	ctx.nparts = 1;
	parse_part(&ctx, &m->root, 0, len, 0, false);
	return m;
}

static void
params_free(struct mime_param *pa, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		free(pa[i].name);
		free(pa[i].value);
	}
	free(pa);
}

static void
part_release(struct mime_part *p)
{
	size_t	 i;

	for (i = 0; i < p->nchildren; i++)
		part_release(&p->children[i]);
	free(p->children);
	params_free(p->params, p->nparams);
	params_free(p->disp_params, p->ndisp_params);
	free(p->id);
	free(p->description);
	free(p->encoding);
	free(p->md5);
	free(p->disposition);
	free(p->language);
	free(p->location);
}

void
mime_free(struct mime_msg **mp)
{
	if (*mp == NULL)
		return;
	part_release(&(*mp)->root);
	free(*mp);
	*mp = NULL;
}

static bool
is_multipart(const struct mime_part *p)
{
	return strcmp(p->type, "multipart") == 0;
}

static bool
is_message(const struct mime_part *p)
{
	return strcmp(p->type, "message") == 0 && p->nchildren == 1 &&
	    !is_multipart(p);
}

const struct mime_part *
mime_part_at(const struct mime_msg *m, const uint32_t *nums, size_t n)
{
	const struct mime_part	*msg = &m->root, *part = NULL;
	size_t			 i;

	for (i = 0; i < n; i++) {
		if (nums[i] == 0)
			return NULL;
		if (is_multipart(msg)) {
			if (nums[i] > msg->nchildren)
				return NULL;
			part = &msg->children[nums[i] - 1];
		} else if (nums[i] == 1)
			part = msg;	/* a single-part message's body */
		else
			return NULL;
		if (i + 1 == n)
			break;
		if (is_message(part))
			msg = &part->children[0];
		else if (is_multipart(part) && part != msg)
			msg = part;
		else
			return NULL;
	}
	return part;
}
