/* SPDX-License-Identifier: MIT */
/*
 * fetch.c - FETCH and UID FETCH (fetch.h): the attributes, the sections
 * of RFC 3501 6.4.5 with partial ranges, BINARY (RFC 3516), MODSEQ and
 * CHANGEDSINCE (RFC 7162), one response per imap_fetch_next() call
 *
 * A message is read only when an attribute needs its bytes, and parsed
 * only when one needs its structure; ENVELOPE, BODY and BODYSTRUCTURE
 * are cached in the folder's cache (mailbox_cache_put) the first time,
 * so a warm FETCH of them reads no message file.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fetch.h"
#include "fetch_private.h"
#include "imapd.h"
#include "log.h"
#include "mailbox.h"
#include "mem.h"
#include "mime.h"
#include "str.h"

#define FETCH_ATTS_MAX		64
#define FETCH_FIELDS_MAX	64
#define FETCH_PART_DEPTH	MIME_DEPTH_MAX

enum fkind {
	FA_FLAGS, FA_INTERNALDATE, FA_SIZE, FA_ENVELOPE, FA_BODY,
	FA_BODYSTRUCTURE, FA_UID, FA_MODSEQ, FA_SECTION, FA_BINARY,
	FA_BINARY_SIZE
};

enum ftext {
	FT_ALL,		/* BODY[] or BODY[1.2] */
	FT_HEADER, FT_FIELDS, FT_FIELDS_NOT, FT_TEXT, FT_MIME
};

struct fatt {
	enum fkind	 k;
	/* sections */
	uint32_t	 nums[FETCH_PART_DEPTH];
	size_t		 nnums;
	enum ftext	 text;
	char		*fields[FETCH_FIELDS_MAX];
	size_t		 nfields;
	bool		 peek;
	bool		 partial;
	uint64_t	 p_off, p_len;
	char		*name;		/* the response's item name */
};

struct imap_fetch {
	struct fatt	 a[FETCH_ATTS_MAX];
	size_t		 n;
	uint32_t	*seqs;
	size_t		 nseqs, pos;
	bool		 uid;
	uint64_t	 changedsince;
	bool		 need_bytes;	/* some attribute reads the message */
	bool		 need_struct;	/* ENVELOPE/BODY/BODYSTRUCTURE */
	bool		 sets_seen;
	bool		 has_flags;
	bool		 failed;	/* a message could not be read */
};

static struct fatt *
att_add(struct imap_fetch *f, enum fkind k)
{
	struct fatt	*a;

	if (f->n == FETCH_ATTS_MAX)
		return NULL;
	a = &f->a[f->n++];
	memset(a, 0, sizeof(*a));
	a->k = k;
	return a;
}

/* section-spec after '[': part numbers, then HEADER, HEADER.FIELDS[.NOT]
 * (list), TEXT or MIME, then ']'. */
static bool
parse_section(struct imap_cur *c, struct fatt *a, struct str *name)
{
	struct imap_str	 w, fld;
	uint32_t	 v;
	char		 kw[32];

	while (!imap_peek(c, ']')) {
		if (imap_eol(c))
			return false;
		if (isdigit((unsigned char)*c->p)) {
			if (!imap_nz_number(c, &v) ||
			    a->nnums == FETCH_PART_DEPTH)
				return false;
			a->nums[a->nnums++] = v;
			if (str_appendf(name, "%s%" PRIu32, a->nnums > 1 ?
			    "." : "", v) == -1)
				return false;
			if (imap_take(c, '.'))
				continue;
			if (!imap_peek(c, ']'))
				return false;
			break;
		}
		if (!imap_atom(c, &w) || !imap_str_copy(&w, kw, sizeof(kw)))
			return false;
		if (a->nnums > 0 && str_append_c(name, '.') == -1)
			return false;
		if (strcasecmp(kw, "HEADER") == 0)
			a->text = FT_HEADER;
		else if (strcasecmp(kw, "TEXT") == 0)
			a->text = FT_TEXT;
		else if (strcasecmp(kw, "MIME") == 0 && a->nnums > 0)
			a->text = FT_MIME;
		else if (strcasecmp(kw, "HEADER.FIELDS") == 0 ||
		    strcasecmp(kw, "HEADER.FIELDS.NOT") == 0) {
			a->text = strlen(kw) > 13 ? FT_FIELDS_NOT : FT_FIELDS;
			if (!imap_sp(c) || !imap_take(c, '('))
				return false;
			for (kw[0] = '\0'; !imap_take(c, ')');) {
				if (a->nfields > 0 && !imap_sp(c))
					return false;
				if (!imap_astring(c, &fld) || fld.len == 0 ||
				    a->nfields == FETCH_FIELDS_MAX ||
				    memchr(fld.s, '\0', fld.len) != NULL ||
				    memchr(fld.s, ':', fld.len) != NULL)
					return false;
				a->fields[a->nfields] = xcalloc(1,
				    fld.len + 1);
				memcpy(a->fields[a->nfields++], fld.s,
				    fld.len);
			}
			if (a->nfields == 0)
				return false;
		} else
			return false;
		for (size_t i = 0; kw[i] != '\0'; i++)
			kw[i] = (char)toupper((unsigned char)kw[i]);
		if (str_append_str(name, a->text == FT_FIELDS ?
		    "HEADER.FIELDS" : a->text == FT_FIELDS_NOT ?
		    "HEADER.FIELDS.NOT" : kw) == -1)
			return false;
		if (a->text == FT_FIELDS || a->text == FT_FIELDS_NOT) {
			size_t	 i;

			if (str_append_str(name, " (") == -1)
				return false;
			for (i = 0; i < a->nfields; i++) {
				char	*u = xstrdup(a->fields[i]), *q;

				for (q = u; *q != '\0'; q++)
					*q = (char)toupper((unsigned char)*q);
				if (str_appendf(name, "%s%s", i > 0 ? " " : "",
				    u) == -1) {
					free(u);
					return false;
				}
				free(u);
			}
			if (str_append_c(name, ')') == -1)
				return false;
		}
		break;
	}
	return imap_take(c, ']');
}

/* BODY[...]<o.l>, BODY.PEEK[...], BINARY[...], BINARY.PEEK,
 * BINARY.SIZE: after the atom (which stopped at '['). */
static bool
parse_body_att(struct imap_cur *c, struct imap_fetch *f, const char *word,
    bool peek, enum fkind k)
{
	struct fatt	*a;
	struct str	 name;
	uint32_t	 off, len;

	if ((a = att_add(f, k)) == NULL) {
		c->err = "Too many FETCH items";
		return false;
	}
	a->peek = peek || k == FA_BINARY_SIZE;
	str_init(&name, 0);
	if (!imap_take(c, '[') || str_appendf(&name, "%s[", word) == -1 ||
	    !parse_section(c, a, &name) || str_append_c(&name, ']') == -1) {
		str_release(&name);
		c->err = "Invalid section";
		return false;
	}
	if (k != FA_SECTION && a->text != FT_ALL) {
		str_release(&name);
		c->err = "BINARY takes part numbers only";
		return false;
	}
	if (k != FA_BINARY_SIZE && imap_take(c, '<')) {
		if (!imap_number(c, &off) || !imap_take(c, '.') ||
		    !imap_nz_number(c, &len) || !imap_take(c, '>')) {
			str_release(&name);
			c->err = "Invalid partial range";
			return false;
		}
		a->partial = true;
		a->p_off = off;
		a->p_len = len;
		if (str_appendf(&name, "<%" PRIu32 ">", off) == -1) {
			str_release(&name);
			return false;
		}
	}
	a->name = xstrdup(str_c(&name));
	str_release(&name);
	f->need_bytes = true;
	if (!a->peek)
		f->sets_seen = true;
	return true;
}

static bool
has_att(const struct imap_fetch *f, enum fkind k)
{
	size_t	 i;

	for (i = 0; i < f->n; i++)
		if (f->a[i].k == k)
			return true;
	return false;
}

static bool
add_simple(struct imap_fetch *f, enum fkind k)
{
	size_t	 i;

	for (i = 0; i < f->n; i++)
		if (f->a[i].k == k && k != FA_SECTION)
			return true;	/* once is enough */
	if (att_add(f, k) == NULL)
		return false;
	if (k == FA_ENVELOPE || k == FA_BODY || k == FA_BODYSTRUCTURE)
		f->need_struct = true;
	if (k == FA_FLAGS)
		f->has_flags = true;
	return true;
}

/* A section attribute spelled the RFC 822 way. */
static bool
add_rfc822(struct imap_fetch *f, enum ftext text, bool peek,
    const char *name)
{
	struct fatt	*a;

	if ((a = att_add(f, FA_SECTION)) == NULL)
		return false;
	a->text = text;
	a->peek = peek;
	a->name = xstrdup(name);
	f->need_bytes = true;
	if (!peek)
		f->sets_seen = true;
	return true;
}

static bool
parse_att(struct imap_cur *c, struct imap_fetch *f)
{
	struct imap_str	 w;
	char		 word[32];

	/* The item's name runs up to '[' (a section follows), a space or
	 * ')'; '[' is an atom character, so no atom reader will do. */
	w.s = c->p;
	while (c->p < c->end && *c->p != '[' && *c->p != ' ' &&
	    *c->p != ')' && *c->p != '(' && (unsigned char)*c->p > 0x20 &&
	    (unsigned char)*c->p < 0x7f)
		c->p++;
	w.len = (size_t)(c->p - w.s);
	w.literal = w.literal8 = false;
	if (w.len == 0 || !imap_str_copy(&w, word, sizeof(word))) {
		c->err = "Invalid FETCH item";
		return false;
	}
	if (strcasecmp(word, "FLAGS") == 0)
		return add_simple(f, FA_FLAGS);
	if (strcasecmp(word, "INTERNALDATE") == 0)
		return add_simple(f, FA_INTERNALDATE);
	if (strcasecmp(word, "RFC822.SIZE") == 0)
		return add_simple(f, FA_SIZE);
	if (strcasecmp(word, "ENVELOPE") == 0)
		return add_simple(f, FA_ENVELOPE);
	if (strcasecmp(word, "BODYSTRUCTURE") == 0)
		return add_simple(f, FA_BODYSTRUCTURE);
	if (strcasecmp(word, "UID") == 0)
		return add_simple(f, FA_UID);
	if (strcasecmp(word, "MODSEQ") == 0)
		return add_simple(f, FA_MODSEQ);
	if (strcasecmp(word, "RFC822") == 0)
		return add_rfc822(f, FT_ALL, false, "RFC822");
	if (strcasecmp(word, "RFC822.HEADER") == 0)
		return add_rfc822(f, FT_HEADER, true, "RFC822.HEADER");
	if (strcasecmp(word, "RFC822.TEXT") == 0)
		return add_rfc822(f, FT_TEXT, false, "RFC822.TEXT");
	if (strcasecmp(word, "BODY") == 0)
		return imap_peek(c, '[') ? parse_body_att(c, f, "BODY", false,
		    FA_SECTION) : add_simple(f, FA_BODY);
	if (strcasecmp(word, "BODY.PEEK") == 0)
		return parse_body_att(c, f, "BODY", true, FA_SECTION);
	if (strcasecmp(word, "BINARY") == 0)
		return parse_body_att(c, f, "BINARY", false, FA_BINARY);
	if (strcasecmp(word, "BINARY.PEEK") == 0)
		return parse_body_att(c, f, "BINARY", true, FA_BINARY);
	if (strcasecmp(word, "BINARY.SIZE") == 0)
		return parse_body_att(c, f, "BINARY.SIZE", true,
		    FA_BINARY_SIZE);
	c->err = "Unknown FETCH item";
	return false;
}

void
imap_fetch_free(struct imap_fetch **fp)
{
	struct imap_fetch	*f = *fp;
	size_t			 i, j;

	if (f == NULL)
		return;
	for (i = 0; i < f->n; i++) {
		free(f->a[i].name);
		for (j = 0; j < f->a[i].nfields; j++)
			free(f->a[i].fields[j]);
	}
	free(f->seqs);
	free(f);
	*fp = NULL;
}

struct imap_fetch *
imap_fetch_begin(struct imap_session *s, struct imap_cur *c, bool uid,
    const char **err, bool *bad)
{
	struct imap_fetch	*f = xcalloc(1, sizeof(*f));
	struct imap_str		 set, w;
	bool			 ok = true;

	*bad = true;
	f->uid = uid;
	if (!imap_seqset_text(c, &set) || !imap_sp(c)) {
		*err = "Invalid messageset";
		goto fail;
	}
	if (imap_take(c, '(')) {
		for (;;) {
			if (!parse_att(c, f))
				goto syntax;
			if (imap_take(c, ')'))
				break;
			if (!imap_sp(c))
				goto syntax;
		}
	} else {
		struct imap_cur	 save = *c;

		if (imap_atom(c, &w) && (imap_str_eq(&w, "ALL") ||
		    imap_str_eq(&w, "FAST") || imap_str_eq(&w, "FULL"))) {
			ok = add_simple(f, FA_FLAGS) &&
			    add_simple(f, FA_INTERNALDATE) &&
			    add_simple(f, FA_SIZE);
			if (!imap_str_eq(&w, "FAST"))
				ok = ok && add_simple(f, FA_ENVELOPE);
			if (imap_str_eq(&w, "FULL"))
				ok = ok && add_simple(f, FA_BODY);
		} else {
			*c = save;
			if (!parse_att(c, f))
				goto syntax;
		}
	}
	if (!ok)
		goto syntax;
	if (imap_take(c, ' ')) {
		struct imap_str	 mod;

		/* (CHANGEDSINCE n [VANISHED]) */
		if (!imap_take(c, '(') || !imap_atom(c, &mod) ||
		    !imap_str_eq(&mod, "CHANGEDSINCE") || !imap_sp(c) ||
		    !imap_number64(c, &f->changedsince)) {
			*err = "Invalid FETCH modifiers";
			goto fail;
		}
		if (imap_take(c, ' ') && (!imap_atom(c, &mod) ||
		    !imap_str_eq(&mod, "VANISHED") || !uid)) {
			*err = "Invalid FETCH modifiers";
			goto fail;
		}
		if (!imap_take(c, ')')) {
			*err = "Invalid FETCH modifiers";
			goto fail;
		}
		imap_condstore_on(s);
		(void)add_simple(f, FA_MODSEQ);
	}
	if (!imap_eol(c))
		goto syntax;
	if (has_att(f, FA_MODSEQ))
		imap_condstore_on(s);
	/* UID FETCH: UID first, as Dovecot writes it. */
	if (uid && !has_att(f, FA_UID) && f->n < FETCH_ATTS_MAX) {
		memmove(&f->a[1], &f->a[0], f->n * sizeof(f->a[0]));
		memset(&f->a[0], 0, sizeof(f->a[0]));
		f->a[0].k = FA_UID;
		f->n++;
	}
	if (s->enabled & IMAP_EN_CONDSTORE) {
		size_t i;

		for (i = 0; i < f->n; i++)
			if (f->a[i].k == FA_FLAGS)
				(void)add_simple(f, FA_MODSEQ);
	}
	if (imap_resolve(s, &set, uid, &f->seqs, &f->nseqs) == -1) {
		*err = "Invalid messageset";
		goto fail;
	}
	return f;
syntax:
	*err = c->err != NULL ? c->err : "Invalid arguments";
fail:
	imap_fetch_free(&f);
	return NULL;
}

/* ---- the message's bytes ---- */

struct fmsg {
	char		*data;
	size_t		 len;
	struct mime_msg	*mime;
};

static int
load(struct imap_session *s, uint32_t seq, uint64_t size, struct fmsg *fm)
{
	struct mailbox_stream	*ms;
	struct fail		 f;
	ssize_t			 n;

	if (fm->data != NULL)
		return 0;
	if ((ms = mailbox_stream_open(s->mb, seq, &f)) == NULL)
		return -1;
	fm->data = xcalloc(1, size + 1);
	while (fm->len < size && (n = mailbox_stream_read(ms,
	    fm->data + fm->len, size - fm->len)) > 0)
		fm->len += (size_t)n;
	mailbox_stream_close(&ms);
	return 0;
}

static struct mime_msg *
parsed(struct imap_session *s, uint32_t seq, uint64_t size, struct fmsg *fm)
{
	if (fm->mime == NULL && load(s, seq, size, fm) == 0)
		fm->mime = mime_parse(fm->data, fm->len);
	return fm->mime;
}

static void
fmsg_release(struct fmsg *fm)
{
	mime_free(&fm->mime);
	free(fm->data);
	memset(fm, 0, sizeof(*fm));
}

/* The cached "E<len>\n...B<len>\n...S<len>\n..." blob of a message, or
 * built now from its parse (and cached). */
struct fstruct {
	char	*blob;
	size_t	 len;
	const char *env, *body, *bs;
	size_t	 env_len, body_len, bs_len;
};

static bool
split_blob(struct fstruct *fs)
{
	const char	*p = fs->blob, *end = fs->blob + fs->len;
	const char	**dst[3] = { &fs->env, &fs->body, &fs->bs };
	size_t		*dlen[3] = { &fs->env_len, &fs->body_len, &fs->bs_len };
	const char	 tags[3] = { 'E', 'B', 'S' };
	unsigned long	 n;
	char		*q;
	int		 i;

	for (i = 0; i < 3; i++) {
		if (p >= end || *p != tags[i])
			return false;
		n = strtoul(p + 1, &q, 10);
		if (q >= end || *q != '\n' || n > (size_t)(end - q - 1))
			return false;
		*dst[i] = q + 1;
		*dlen[i] = n;
		p = q + 1 + n;
	}
	return p == end;
}

static int
structure(struct imap_session *s, const struct mailbox_msg *m,
    struct fmsg *fm, struct fstruct *fs)
{
	struct mime_msg	*mm;
	struct str	 e, b, x, blob;
	void		*data;
	size_t		 len;
	bool		 utf8 = (s->enabled & IMAP_EN_UTF8) != 0;
	int		 rc = -1;

	if (fs->blob != NULL)
		return 0;
	if (!utf8 && mailbox_cache_get(s->mb, m->uid, &data, &len) == 1) {
		fs->blob = data;
		fs->len = len;
		if (split_blob(fs))
			return 0;
		free(fs->blob);
		fs->blob = NULL;
	}
	if ((mm = parsed(s, m->seq, m->wire_size, fm)) == NULL)
		return -1;
	str_init(&e, 0);
	str_init(&b, 0);
	str_init(&x, 0);
	str_init(&blob, 0);
	if (fetch_put_envelope(&e, mm, &mm->root, utf8) == -1 ||
	    fetch_put_body(&b, mm, &mm->root, false, utf8, 0) == -1 ||
	    fetch_put_body(&x, mm, &mm->root, true, utf8, 0) == -1 ||
	    str_appendf(&blob, "E%zu\n", e.len) == -1 ||
	    str_append(&blob, e.data, e.len) == -1 ||
	    str_appendf(&blob, "B%zu\n", b.len) == -1 ||
	    str_append(&blob, b.data, b.len) == -1 ||
	    str_appendf(&blob, "S%zu\n", x.len) == -1 ||
	    str_append(&blob, x.data, x.len) == -1)
		goto out;
	fs->blob = str_detach(&blob, &fs->len);
	if (!split_blob(fs))
		goto out;
	if (!utf8 && fs->len <= MAILBOX_CACHE_MAX &&
	    mailbox_cache_put(s->mb, m->uid, fs->blob, fs->len) == -1)
		log_debug(s->base.id, "cache put failed uid=%" PRIu32, m->uid);
	rc = 0;
out:
	str_release(&e);
	str_release(&b);
	str_release(&x);
	str_release(&blob);
	return rc;
}

/* The bytes of header hdr[0..len) keeping (or, not, dropping) the named
 * fields, and the blank line. */
static int
filter_header(struct str *o, const char *hdr, size_t len,
    char *const *fields, size_t nf, bool not)
{
	const char	*n, *v, *start;
	size_t		 pos = 0, nl, vl, i, end;
	bool		 hit;

	while (mime_header_next(hdr, len, &pos, &n, &nl, &v, &vl)) {
		hit = false;
		for (i = 0; i < nf; i++)
			if (strlen(fields[i]) == nl &&
			    strncasecmp(fields[i], n, nl) == 0)
				hit = true;
		if (hit == not)
			continue;
		/* the field as stored: from its name to its line end */
		start = n;
		end = (size_t)(v - hdr) + vl;
		while (end < len && hdr[end] != '\n')
			end++;
		if (end < len)
			end++;
		if (str_append(o, start, (size_t)(hdr + end - start)) == -1)
			return -1;
	}
	return str_append(o, "\r\n", 2);
}

/* The octets of a section into o (NULL part: nothing there). */
static int
section_bytes(const struct fatt *a, struct mime_msg *mm, struct str *o,
    bool *nil)
{
	const struct mime_part	*p = &mm->root, *hp;

	*nil = false;
	if (a->nnums > 0 && (p = mime_part_at(mm, a->nums, a->nnums)) ==
	    NULL) {
		*nil = true;
		return 0;
	}
	switch (a->text) {
	case FT_ALL:
		if (a->nnums == 0)
			return str_append(o, mm->buf, mm->len);
		return str_append(o, mm->buf + p->body_off, p->body_len);
	case FT_MIME:
		return str_append(o, mm->buf + p->off, p->hdr_len);
	case FT_HEADER:
	case FT_FIELDS:
	case FT_FIELDS_NOT:
	case FT_TEXT:
		/* of the part's encapsulated message when it has one */
		hp = p;
		if (a->nnums > 0) {
			if (strcmp(p->type, "message") != 0 ||
			    p->nchildren != 1) {
				*nil = true;
				return 0;
			}
			hp = &p->children[0];
		}
		if (a->text == FT_TEXT)
			return str_append(o, mm->buf + hp->body_off,
			    hp->body_len);
		if (a->text == FT_HEADER)
			return str_append(o, mm->buf + hp->off, hp->hdr_len);
		return filter_header(o, mm->buf + hp->off, hp->hdr_len,
		    a->fields, a->nfields, a->text == FT_FIELDS_NOT);
	}
	return 0;
}

static int
put_literal(struct str *o, const char *p, size_t len, bool binary)
{
	if (binary && memchr(p, '\0', len) != NULL) {
		if (str_appendf(o, "~{%zu}\r\n", len) == -1)
			return -1;
	} else if (str_appendf(o, "{%zu}\r\n", len) == -1)
		return -1;
	return str_append(o, p, len);
}

/* One section (or BINARY) item: "NAME " and its value. */
static int
put_section(struct imap_session *s, const struct fatt *a,
    const struct mailbox_msg *m, struct fmsg *fm, struct str *o)
{
	struct mime_msg		*mm;
	const struct mime_part	*p;
	struct str		 b, d;
	bool			 nil;
	size_t			 off, len;
	int			 rc = -1;

	if ((mm = parsed(s, m->seq, m->wire_size, fm)) == NULL)
		return -1;
	str_init(&b, 0);
	str_init(&d, 0);
	if (a->k == FA_SECTION) {
		if (section_bytes(a, mm, &b, &nil) == -1)
			goto out;
	} else {
		p = a->nnums == 0 ? &mm->root : mime_part_at(mm, a->nums,
		    a->nnums);
		nil = p == NULL || p->nchildren > 0;
		if (!nil && mime_body_decode(mm, p, &b) == -1)
			goto out;
	}
	if (str_appendf(o, "%s ", a->name) == -1)
		goto out;
	if (a->k == FA_BINARY_SIZE) {
		rc = str_appendf(o, "%zu", nil ? (size_t)0 : b.len);
		goto out;
	}
	if (nil) {
		/* a part that is not there is an empty string, as Dovecot
		 * answers (clients expect a string) */
		rc = str_append_str(o, "{0}\r\n");
		goto out;
	}
	off = 0;
	len = b.len;
	if (a->partial) {
		off = a->p_off < b.len ? (size_t)a->p_off : b.len;
		len = b.len - off < a->p_len ? b.len - off : (size_t)a->p_len;
	}
	rc = put_literal(o, b.data != NULL ? b.data + off : "", len,
	    a->k == FA_BINARY);
out:
	str_release(&b);
	str_release(&d);
	return rc;
}

int
imap_fetch_next(struct imap_fetch *f, struct imap_session *s,
    struct str *out, const char **err)
{
	struct mailbox_msg	 m;
	struct fmsg		 fm;
	struct fstruct		 fs;
	struct fail		 fl;
	struct str		 o;
	const struct fatt	*a;
	uint32_t		 seq, uid;
	size_t			 i;
	bool			 sp = false, seen_now = false, flags_done;
	int			 rc = 1;

	for (;;) {
		if (f->pos == f->nseqs)
			return f->failed ? -1 : 0;
		seq = f->seqs[f->pos++];
		if (mailbox_msg(s->mb, seq, &m) == -1)
			continue;
		if (f->changedsince != 0 && m.modseq <= f->changedsince)
			continue;
		break;
	}
	/* BODY[] and the like set \Seen first, so FLAGS shows it. */
	if (f->sets_seen && !s->readonly && !(m.flags & MAILBOX_SEEN)) {
		uid = m.uid;
		if (mailbox_store(s->mb, &uid, 1, MAILBOX_FLAGS_ADD,
		    MAILBOX_SEEN, NULL, 0, 0, NULL, NULL, &fl) == 0 &&
		    mailbox_msg(s->mb, seq, &m) == 0)
			seen_now = true;
	}
	memset(&fm, 0, sizeof(fm));
	memset(&fs, 0, sizeof(fs));
	str_init(&o, 0);
	flags_done = false;
	if (str_appendf(&o, "* %" PRIu32 " FETCH (", seq) == -1)
		goto fail;
	for (i = 0; i < f->n; i++) {
		a = &f->a[i];
		if (sp && str_append_c(&o, ' ') == -1)
			goto fail;
		sp = true;
		switch (a->k) {
		case FA_FLAGS:
			if (str_append_str(&o, "FLAGS ") == -1 ||
			    imap_put_flags(&o, s->mb, &m,
			    imap_is_recent(s, m.uid)) == -1)
				goto fail;
			flags_done = true;
			break;
		case FA_UID:
			if (str_appendf(&o, "UID %" PRIu32, m.uid) == -1)
				goto fail;
			break;
		case FA_MODSEQ:
			if (str_appendf(&o, "MODSEQ (%" PRIu64 ")",
			    m.modseq) == -1)
				goto fail;
			break;
		case FA_INTERNALDATE:
			if (str_append_str(&o, "INTERNALDATE ") == -1 ||
			    imap_put_datetime(&o, m.internal_date) == -1)
				goto fail;
			break;
		case FA_SIZE:
			if (str_appendf(&o, "RFC822.SIZE %" PRIu64,
			    m.wire_size) == -1)
				goto fail;
			break;
		case FA_ENVELOPE:
		case FA_BODY:
		case FA_BODYSTRUCTURE:
			if (structure(s, &m, &fm, &fs) == -1) {
				f->failed = true;
				goto skip;
			}
			if (a->k == FA_ENVELOPE ? (str_append_str(&o,
			    "ENVELOPE ") == -1 || str_append(&o, fs.env,
			    fs.env_len) == -1) : a->k == FA_BODY ?
			    (str_append_str(&o, "BODY ") == -1 ||
			    str_append(&o, fs.body, fs.body_len) == -1) :
			    (str_append_str(&o, "BODYSTRUCTURE ") == -1 ||
			    str_append(&o, fs.bs, fs.bs_len) == -1))
				goto fail;
			break;
		case FA_SECTION:
		case FA_BINARY:
		case FA_BINARY_SIZE:
			if (put_section(s, a, &m, &fm, &o) == -1) {
				f->failed = true;
				goto skip;
			}
			break;
		}
	}
	if (seen_now && !flags_done && (str_append_str(&o, " FLAGS ") == -1 ||
	    imap_put_flags(&o, s->mb, &m, imap_is_recent(s, m.uid)) == -1))
		goto fail;
	if (str_append_str(&o, ")\r\n") == -1 ||
	    str_append(out, o.data, o.len) == -1)
		goto fail;
	goto done;
skip:
	/* the message went away under us (expunged by another session) */
	log_info(s->base.id, "fetch: message %" PRIu32 " unreadable", seq);
	goto done;
fail:
	*err = "Response too big";
	rc = -1;
done:
	str_release(&o);
	free(fs.blob);
	fmsg_release(&fm);
	return rc;
}
