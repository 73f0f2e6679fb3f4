/* SPDX-License-Identifier: MIT */
/*
 * search_match.c - evaluating SEARCH keys against one message
 * (search_private.h)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "imapd.h"
#include "mailbox.h"
#include "mem.h"
#include "mime.h"
#include "search_private.h"
#include "str.h"

#define DAY	86400

void
search_ctx_init(struct search_ctx *x, struct imap_session *s)
{
	memset(x, 0, sizeof(*x));
	x->s = s;
}

void
search_ctx_next(struct search_ctx *x)
{
	mime_free(&x->mime);
	free(x->data);
	x->data = NULL;
	x->len = 0;
	x->seq = 0;
	x->failed = false;
}

void
search_ctx_release(struct search_ctx *x)
{
	search_ctx_next(x);
}

struct mime_msg *
search_load(struct search_ctx *x, const struct mailbox_msg *m)
{
	struct mailbox_stream	*ms;
	struct fail		 f;
	ssize_t			 n;
	size_t			 cap;

	if (x->seq == m->seq)
		return x->mime;
	search_ctx_next(x);
	x->seq = m->seq;
	if ((ms = mailbox_stream_open(x->s->mb, m->seq, &f)) == NULL) {
		x->failed = true;
		return NULL;
	}
	cap = m->wire_size + 1;
	x->data = xcalloc(1, cap);
	while (x->len < cap - 1 &&
	    (n = mailbox_stream_read(ms, x->data + x->len,
	    cap - 1 - x->len)) > 0)
		x->len += (size_t)n;
	mailbox_stream_close(&ms);
	if ((x->mime = mime_parse(x->data, x->len)) == NULL)
		x->failed = true;
	return x->mime;
}

uint32_t
search_max_uid(const struct mailbox *mb)
{
	struct mailbox_msg	 m;
	uint32_t		 n = mailbox_count(mb);

	if (n == 0 || mailbox_msg(mb, n, &m) == -1)
		return 0;
	return m.uid;
}

/* ---- case folding ---- */

static uint32_t
fold_cp(uint32_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c + 32;
	if ((c >= 0xc0 && c <= 0xde && c != 0xd7))
		return c + 32;
	if (c >= 0x100 && c <= 0x17f && c != 0x130 && c != 0x131 &&
	    c != 0x138 && c != 0x149 && c != 0x17f) {
		/* Latin Extended-A: pairs, upper even up to U+0137, then
		 * upper odd from U+0139 to U+0148, even again after. */
		if ((c >= 0x139 && c <= 0x148) || c == 0x179 || c == 0x17b ||
		    c == 0x17d)
			return (c & 1) ? c + 1 : c;
		if (c < 0x179)
			return (c & 1) ? c : c + 1;
		return c;
	}
	if (c >= 0x391 && c <= 0x3ab && c != 0x3a2)
		return c + 32;		/* Greek */
	if (c >= 0x410 && c <= 0x42f)
		return c + 32;		/* Cyrillic */
	if (c >= 0x400 && c <= 0x40f)
		return c + 80;
	return c;
}

/* Next code point, or the byte itself for bytes that are not UTF-8. */
static uint32_t
next_cp(const unsigned char *p, size_t len, size_t *used)
{
	uint32_t	 c = p[0];
	size_t		 n, i;

	if (c < 0x80) {
		*used = 1;
		return c;
	}
	n = (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 :
	    (c & 0xf8) == 0xf0 ? 3 : 0;
	if (n == 0 || n >= len)
		goto raw;
	c &= 0x3f >> n;
	for (i = 1; i <= n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			goto raw;
		c = (c << 6) | (p[i] & 0x3f);
	}
	*used = n + 1;
	return c;
raw:
	*used = 1;
	return 0x80000000u | p[0];
}

static int
put_cp(struct str *out, uint32_t c)
{
	char	 b[4];
	size_t	 n;

	if (c & 0x80000000u) {
		b[0] = (char)(c & 0xff);
		n = 1;
	} else if (c < 0x80) {
		b[0] = (char)c;
		n = 1;
	} else if (c < 0x800) {
		b[0] = (char)(0xc0 | (c >> 6));
		b[1] = (char)(0x80 | (c & 0x3f));
		n = 2;
	} else if (c < 0x10000) {
		b[0] = (char)(0xe0 | (c >> 12));
		b[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		b[2] = (char)(0x80 | (c & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | (c >> 18));
		b[1] = (char)(0x80 | ((c >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((c >> 6) & 0x3f));
		b[3] = (char)(0x80 | (c & 0x3f));
		n = 4;
	}
	return str_append(out, b, n);
}

int
search_fold(const char *in, size_t len, struct str *out)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t		 i = 0, used;
	uint32_t	 c;
	bool		 space = false;

	while (i < len) {
		c = next_cp(p + i, len - i, &used);
		i += used;
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			space = true;
			continue;
		}
		if (space && out->len > 0 && str_append_c(out, ' ') == -1)
			return -1;
		space = false;
		if (put_cp(out, fold_cp(c)) == -1)
			return -1;
	}
	if (space && out->len > 0 && str_append_c(out, ' ') == -1)
		return -1;
	return 0;
}

/* Does folded text hold needle (folded)?  An empty needle matches. */
static bool
contains(const char *text, size_t len, const char *needle)
{
	size_t	 n = strlen(needle);

	if (n == 0)
		return true;
	return len >= n && memmem(text, len, needle, n) != NULL;
}

static bool
fold_contains(const char *raw, size_t len, const char *needle)
{
	struct str	 t;
	bool		 r;

	str_init(&t, 0);
	if (search_fold(raw, len, &t) == -1) {
		str_release(&t);
		return false;
	}
	r = contains(t.data != NULL ? t.data : "", t.len, needle);
	str_release(&t);
	return r;
}

static bool
is_addr_field(const char *name)
{
	return strcasecmp(name, "From") == 0 || strcasecmp(name, "To") == 0 ||
	    strcasecmp(name, "Cc") == 0 || strcasecmp(name, "Bcc") == 0 ||
	    strcasecmp(name, "Sender") == 0 ||
	    strcasecmp(name, "Reply-To") == 0;
}

/* The addresses of an address field written "name <local@host>", one
 * after the other, hold value? */
static bool
addr_match(const char *v, size_t len, const char *value)
{
	struct mime_addr *a;
	struct str	 t;
	size_t		 n, i;
	bool		 r = false;

	if (mime_addr_parse(v, len, &a, &n) == -1)
		return false;
	str_init(&t, 0);
	for (i = 0; i < n; i++) {
		if (a[i].host == NULL)
			continue;	/* group markers */
		if (str_appendf(&t, "%s <%s@%s> ", a[i].name != NULL ?
		    a[i].name : "", a[i].mailbox != NULL ? a[i].mailbox : "",
		    a[i].host) == -1)
			break;
	}
	r = fold_contains(t.data != NULL ? t.data : "", t.len, value);
	str_release(&t);
	mime_addr_free(a, n);
	return r;
}

/* Every field called name of the top header, decoded, holds value?  Any
 * one of them is enough; an empty value matches when the field exists. */
static bool
header_match(const struct mime_msg *mm, const char *name, const char *value)
{
	const struct mime_part *p = &mm->root;
	const char	*hn, *hv;
	size_t		 pos = 0, hnl, hvl;
	struct str	 d;
	bool		 r = false;

	while (!r && mime_header_next(mm->buf + p->off, p->hdr_len, &pos, &hn,
	    &hnl, &hv, &hvl)) {
		if (hnl != strlen(name) || strncasecmp(hn, name, hnl) != 0)
			continue;
		if (value[0] == '\0')
			return true;
		str_init(&d, 0);
		if (mime_header_decode(hv, hvl, &d) == 0)
			r = fold_contains(d.data != NULL ? d.data : "", d.len,
			    value);
		str_release(&d);
		/* an address field also as its parsed addresses, so that
		 * "<user (comment)@ domain>" matches user@domain */
		if (!r && is_addr_field(name))
			r = addr_match(hv, hvl, value);
	}
	return r;
}

/* Any text part (or the one body) below p holds value, decoded? */
static bool
body_match(const struct mime_msg *mm, const struct mime_part *p,
    const char *value, unsigned int depth)
{
	struct str	 t;
	size_t		 i;
	bool		 r;

	if (depth > MIME_DEPTH_MAX)
		return false;
	if (p->nchildren > 0) {
		for (i = 0; i < p->nchildren; i++) {
			const struct mime_part *k = &p->children[i];

			/* message/rfc822: its header is text too */
			if (strcmp(p->type, "message") == 0 &&
			    fold_contains(mm->buf + k->off, k->hdr_len, value))
				return true;
			if (body_match(mm, k, value, depth + 1))
				return true;
		}
		return false;
	}
	if (strcmp(p->type, "text") != 0 && strcmp(p->type, "message") != 0)
		return false;
	str_init(&t, 0);
	r = mime_body_text(mm, p, &t) == 0 &&
	    fold_contains(t.data != NULL ? t.data : "", t.len, value);
	str_release(&t);
	return r;
}

int64_t
search_sent_date(struct search_ctx *x, const struct mailbox_msg *m)
{
	struct mime_msg	*mm;
	struct str	 v;
	int64_t		 t = (int64_t)m->internal_date;

	if ((mm = search_load(x, m)) == NULL)
		return t;
	str_init(&v, 0);
	if (mime_header_get(mm, &mm->root, "Date", &v) == 1 &&
	    mime_parse_date(v.data, v.len, &t) == -1)
		t = (int64_t)m->internal_date;
	str_release(&v);
	return t;
}

/* Midnight UTC of t's day. */
static int64_t
day_of(int64_t t)
{
	int64_t	 d = t - t % DAY;

	return t < 0 && t % DAY != 0 ? d - DAY : d;
}

/* The day of the Date header in its own zone (RFC 3501: SENT* disregard
 * time and timezone), as midnight UTC of that calendar day. */
static int64_t
sent_day(struct search_ctx *x, const struct mailbox_msg *m)
{
	struct mime_msg	*mm;
	struct str	 v;
	int64_t		 t = (int64_t)m->internal_date, off = 0;
	size_t		 i;

	if ((mm = search_load(x, m)) != NULL) {
		str_init(&v, 0);
		if (mime_header_get(mm, &mm->root, "Date", &v) == 1 &&
		    mime_parse_date(v.data, v.len, &t) == 0) {
			/* the last "+hhmm" or "-hhmm" is the zone */
			for (i = v.len; i >= 5; i--) {
				const char *z = v.data + i - 5;

				if ((z[0] == '+' || z[0] == '-') &&
				    z[1] >= '0' && z[1] <= '9' &&
				    z[2] >= '0' && z[2] <= '9' &&
				    z[3] >= '0' && z[3] <= '9' &&
				    z[4] >= '0' && z[4] <= '9') {
					off = ((z[1] - '0') * 10 + (z[2] - '0'))
					    * 3600 + ((z[3] - '0') * 10 +
					    (z[4] - '0')) * 60;
					if (z[0] == '-')
						off = -off;
					break;
				}
			}
		} else
			t = 0;	/* no Date: the start of time, as Dovecot */
		str_release(&v);
	}
	return day_of(t + off);
}

int
search_match(struct search_ctx *x, const struct snode *n,
    const struct mailbox_msg *m)
{
	struct mime_msg	*mm;
	size_t		 i;
	int64_t		 d;

	switch (n->k) {
	case SK_ALL:
		return 1;
	case SK_AND:
		for (i = 0; i < n->nkids; i++)
			if (search_match(x, n->kids[i], m) != 1)
				return 0;
		return 1;
	case SK_OR:
		return search_match(x, n->kids[0], m) == 1 ||
		    search_match(x, n->kids[1], m) == 1;
	case SK_NOT:
		return search_match(x, n->kids[0], m) != 1;
	case SK_SEQ:
		return seqset_has(&n->set, m->seq);
	case SK_UID:
		return seqset_has(&n->set, m->uid);
	case SK_FLAG:
		return ((m->flags & n->flag) != 0) == n->set_flag;
	case SK_KEYWORD:
		if (n->bit < 0)
			return !n->set_flag;
		return ((m->keywords >> n->bit) & 1) == (n->set_flag ? 1 : 0);
	case SK_NEW:
		return imap_is_recent(x->s, m->uid) &&
		    !(m->flags & MAILBOX_SEEN);
	case SK_OLD:
		return !imap_is_recent(x->s, m->uid);
	case SK_RECENT:
		return imap_is_recent(x->s, m->uid);
	case SK_LARGER:
		return m->wire_size > n->num;
	case SK_SMALLER:
		return m->wire_size < n->num;
	case SK_MODSEQ:
		return m->modseq >= n->num;
	case SK_BEFORE:
		return day_of((int64_t)m->internal_date) < (int64_t)n->t;
	case SK_ON:
		return day_of((int64_t)m->internal_date) == (int64_t)n->t;
	case SK_SINCE:
		return day_of((int64_t)m->internal_date) >= (int64_t)n->t;
	case SK_SENTBEFORE:
	case SK_SENTON:
	case SK_SENTSINCE:
		d = sent_day(x, m);
		if (n->k == SK_SENTBEFORE)
			return d < (int64_t)n->t;
		if (n->k == SK_SENTON)
			return d == (int64_t)n->t;
		return d >= (int64_t)n->t;
	case SK_HEADER:
		if ((mm = search_load(x, m)) == NULL)
			return 0;
		return header_match(mm, n->field, n->value);
	case SK_BODY:
		if ((mm = search_load(x, m)) == NULL)
			return 0;
		return body_match(mm, &mm->root, n->value, 0);
	case SK_TEXT:
		if ((mm = search_load(x, m)) == NULL)
			return 0;
		return fold_contains(mm->buf + mm->root.off,
		    mm->root.hdr_len, n->value) ||
		    body_match(mm, &mm->root, n->value, 0);
	}
	return 0;
}
