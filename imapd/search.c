/* SPDX-License-Identifier: MIT */
/*
 * search.c - SEARCH and UID SEARCH (RFC 3501 6.4.4, RFC 9051 6.4.4),
 * ESEARCH's RETURN options (RFC 4731), CONDSTORE's MODSEQ key (RFC 7162)
 *
 * The keys are parsed into a tree (bounded in nodes and depth), then
 * evaluated over the view for each message in turn.  Flags, sizes,
 * dates and sets need only the index; header and body keys read the
 * message once (search_msg), parse it with common/mime.h and match the
 * decoded text: RFC 2047 words in headers, base64 and quoted-printable
 * bodies in their charset turned to UTF-8, compared without case
 * (search_fold).  Nothing here syncs the mailbox (RFC 3501 5.5).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "imapd.h"
#include "mailbox.h"
#include "mem.h"
#include "mime.h"
#include "search.h"
#include "search_private.h"
#include "str.h"

#define SEARCH_NODES_MAX	1000
#define SEARCH_DEPTH_MAX	IMAP_DEPTH_MAX

/* ---- the parse ---- */

struct sparse {
	struct imap_session	*s;
	struct imap_cur		*c;
	bool			 uid;
	unsigned int		 nodes;
	bool			 modseq;	/* a MODSEQ key was used */
};

static struct snode *
node_new(struct sparse *p, enum skey k)
{
	struct snode	*n;

	if (++p->nodes > SEARCH_NODES_MAX) {
		p->c->err = "Too many search keys";
		return NULL;
	}
	n = xcalloc(1, sizeof(*n));
	n->k = k;
	return n;
}

void
search_node_free(struct snode *n)
{
	size_t	 i;

	if (n == NULL)
		return;
	for (i = 0; i < n->nkids; i++)
		search_node_free(n->kids[i]);
	free(n->kids);
	seqset_free(&n->set);
	free(n->field);
	free(n->value);
	free(n);
}

static void
node_add(struct snode *parent, struct snode *kid)
{
	parent->kids = xreallocarray(parent->kids, parent->nkids + 1,
	    sizeof(*parent->kids));
	parent->kids[parent->nkids++] = kid;
}

/* An astring argument as a folded, NUL-free C string. */
static char *
arg_text(struct sparse *p)
{
	struct imap_str	 a;
	struct str	 t;
	char		*r;

	if (!imap_sp(p->c) || !imap_astring(p->c, &a))
		return NULL;
	if (memchr(a.s, '\0', a.len) != NULL) {
		p->c->err = "NUL in a search string";
		return NULL;
	}
	str_init(&t, 0);
	if (search_fold(a.s, a.len, &t) == -1) {
		str_release(&t);
		p->c->err = "Search string too long";
		return NULL;
	}
	r = xstrdup(str_c(&t));
	str_release(&t);
	return r;
}

static bool
arg_number(struct sparse *p, uint64_t *r)
{
	return imap_sp(p->c) && imap_number64(p->c, r);
}

static bool
arg_date(struct sparse *p, time_t *r)
{
	return imap_sp(p->c) && imap_date(p->c, r);
}

static const struct {
	const char	*name;
	unsigned int	 flag;
	bool		 set;
} flag_keys[] = {
	{ "ANSWERED", MAILBOX_ANSWERED, true },
	{ "DELETED", MAILBOX_DELETED, true },
	{ "DRAFT", MAILBOX_DRAFT, true },
	{ "FLAGGED", MAILBOX_FLAGGED, true },
	{ "SEEN", MAILBOX_SEEN, true },
	{ "UNANSWERED", MAILBOX_ANSWERED, false },
	{ "UNDELETED", MAILBOX_DELETED, false },
	{ "UNDRAFT", MAILBOX_DRAFT, false },
	{ "UNFLAGGED", MAILBOX_FLAGGED, false },
	{ "UNSEEN", MAILBOX_SEEN, false },
};

static const struct {
	const char	*name;
	enum skey	 k;
} date_keys[] = {
	{ "BEFORE", SK_BEFORE }, { "ON", SK_ON }, { "SINCE", SK_SINCE },
	{ "SENTBEFORE", SK_SENTBEFORE }, { "SENTON", SK_SENTON },
	{ "SENTSINCE", SK_SENTSINCE },
};

static const char *const header_keys[] = {
	"BCC", "CC", "FROM", "SUBJECT", "TO"
};

static struct snode *parse_key(struct sparse *, unsigned int depth);

/* search-key *(SP search-key) up to ')' or the end, into an AND node. */
static struct snode *
parse_list(struct sparse *p, unsigned int depth, bool in_parens)
{
	struct snode	*and, *k;

	if ((and = node_new(p, SK_AND)) == NULL)
		return NULL;
	for (;;) {
		if ((k = parse_key(p, depth)) == NULL) {
			search_node_free(and);
			return NULL;
		}
		node_add(and, k);
		if (in_parens && imap_take(p->c, ')'))
			return and;
		if (!in_parens && (imap_eol(p->c)))
			return and;
		if (!imap_sp(p->c)) {
			search_node_free(and);
			return NULL;
		}
	}
}

static struct snode *
parse_key(struct sparse *p, unsigned int depth)
{
	struct imap_cur	*c = p->c;
	struct imap_str	 a, set;
	struct snode	*n = NULL, *k;
	uint64_t	 v;
	size_t		 i;
	uint32_t	 star;

	if (depth > SEARCH_DEPTH_MAX) {
		c->err = "Search keys nested too deep";
		return NULL;
	}
	if (imap_take(c, '('))
		return parse_list(p, depth + 1, true);
	if (imap_eol(c)) {
		c->err = "Missing search key";
		return NULL;
	}
	if ((*c->p >= '0' && *c->p <= '9') || *c->p == '*') {
		if (!imap_seqset_text(c, &set))
			return NULL;
		if ((n = node_new(p, SK_SEQ)) == NULL)
			return NULL;
		if (seqset_parse(&n->set, set.s, set.len,
		    mailbox_count(p->s->mb)) == -1) {
			c->err = "Invalid sequence set";
			search_node_free(n);
			return NULL;
		}
		return n;
	}
	if (!imap_atom(c, &a))
		return NULL;
	for (i = 0; i < sizeof(flag_keys) / sizeof(flag_keys[0]); i++)
		if (imap_str_eq(&a, flag_keys[i].name)) {
			if ((n = node_new(p, SK_FLAG)) != NULL) {
				n->flag = flag_keys[i].flag;
				n->set_flag = flag_keys[i].set;
			}
			return n;
		}
	for (i = 0; i < sizeof(date_keys) / sizeof(date_keys[0]); i++)
		if (imap_str_eq(&a, date_keys[i].name)) {
			if ((n = node_new(p, date_keys[i].k)) != NULL &&
			    !arg_date(p, &n->t)) {
				search_node_free(n);
				n = NULL;
			}
			return n;
		}
	for (i = 0; i < sizeof(header_keys) / sizeof(header_keys[0]); i++)
		if (imap_str_eq(&a, header_keys[i])) {
			if ((n = node_new(p, SK_HEADER)) == NULL)
				return NULL;
			n->field = xstrdup(header_keys[i]);
			if ((n->value = arg_text(p)) == NULL) {
				search_node_free(n);
				n = NULL;
			}
			return n;
		}
	if (imap_str_eq(&a, "ALL"))
		return node_new(p, SK_ALL);
	if (imap_str_eq(&a, "NEW") || imap_str_eq(&a, "OLD") ||
	    imap_str_eq(&a, "RECENT")) {
		if ((n = node_new(p, imap_str_eq(&a, "NEW") ? SK_NEW :
		    imap_str_eq(&a, "OLD") ? SK_OLD : SK_RECENT)) == NULL)
			return NULL;
		return n;
	}
	if (imap_str_eq(&a, "KEYWORD") || imap_str_eq(&a, "UNKEYWORD")) {
		struct imap_str	 kw;
		bool		 neg = imap_str_eq(&a, "UNKEYWORD");
		char		 name[MAILBOX_KEYWORD_MAX + 1];

		if (!imap_sp(c) || !imap_atom(c, &kw))
			return NULL;
		if ((n = node_new(p, SK_KEYWORD)) == NULL)
			return NULL;
		n->set_flag = !neg;
		n->bit = -1;
		if (imap_str_copy(&kw, name, sizeof(name)))
			n->bit = mailbox_keyword_find(p->s->mb, name);
		return n;
	}
	if (imap_str_eq(&a, "LARGER") || imap_str_eq(&a, "SMALLER")) {
		if ((n = node_new(p, imap_str_eq(&a, "LARGER") ? SK_LARGER :
		    SK_SMALLER)) == NULL)
			return NULL;
		if (!arg_number(p, &n->num)) {
			search_node_free(n);
			return NULL;
		}
		return n;
	}
	if (imap_str_eq(&a, "HEADER")) {
		struct imap_str	 f;

		if ((n = node_new(p, SK_HEADER)) == NULL)
			return NULL;
		if (!imap_sp(c) || !imap_astring(c, &f) || f.len == 0 ||
		    memchr(f.s, '\0', f.len) != NULL ||
		    memchr(f.s, ':', f.len) != NULL) {
			if (c->err == NULL)
				c->err = "Invalid header field name";
			search_node_free(n);
			return NULL;
		}
		n->field = xcalloc(1, f.len + 1);
		memcpy(n->field, f.s, f.len);
		if ((n->value = arg_text(p)) == NULL) {
			search_node_free(n);
			return NULL;
		}
		return n;
	}
	if (imap_str_eq(&a, "BODY") || imap_str_eq(&a, "TEXT")) {
		if ((n = node_new(p, imap_str_eq(&a, "BODY") ? SK_BODY :
		    SK_TEXT)) == NULL)
			return NULL;
		if ((n->value = arg_text(p)) == NULL) {
			search_node_free(n);
			return NULL;
		}
		return n;
	}
	if (imap_str_eq(&a, "UID")) {
		if (!imap_sp(c) || !imap_seqset_text(c, &set))
			return NULL;
		if ((n = node_new(p, SK_UID)) == NULL)
			return NULL;
		star = search_max_uid(p->s->mb);
		if (seqset_parse(&n->set, set.s, set.len, star) == -1) {
			c->err = "Invalid UID set";
			search_node_free(n);
			return NULL;
		}
		return n;
	}
	if (imap_str_eq(&a, "NOT")) {
		if (!imap_sp(c))
			return NULL;
		if ((n = node_new(p, SK_NOT)) == NULL)
			return NULL;
		if ((k = parse_key(p, depth + 1)) == NULL) {
			search_node_free(n);
			return NULL;
		}
		node_add(n, k);
		return n;
	}
	if (imap_str_eq(&a, "OR")) {
		if ((n = node_new(p, SK_OR)) == NULL)
			return NULL;
		for (i = 0; i < 2; i++) {
			if (!imap_sp(c) || (k = parse_key(p, depth + 1)) ==
			    NULL) {
				search_node_free(n);
				return NULL;
			}
			node_add(n, k);
		}
		return n;
	}
	if (imap_str_eq(&a, "MODSEQ")) {
		struct imap_str	 e;

		/* MODSEQ [entry-name entry-type-req] mod-sequence-valzer */
		if (!imap_sp(c))
			return NULL;
		if (imap_peek(c, '"')) {
			if (!imap_string(c, &e) || !imap_sp(c) ||
			    !imap_atom(c, &e) || !imap_sp(c))
				return NULL;
		}
		if ((n = node_new(p, SK_MODSEQ)) == NULL)
			return NULL;
		if (!imap_number64(c, &v)) {
			search_node_free(n);
			return NULL;
		}
		n->num = v;
		p->modseq = true;
		return n;
	}
	c->err = "Unknown search key";
	return NULL;
}

int
search_parse(struct imap_session *s, struct imap_cur *c, bool uid,
    bool charset_allowed, struct snode **r, bool *modseq_r,
    const char **no_r)
{
	struct sparse	 p;
	struct imap_cur	 save;
	struct imap_str	 a, cs;

	*no_r = NULL;
	memset(&p, 0, sizeof(p));
	p.s = s;
	p.c = c;
	p.uid = uid;
	save = *c;
	if (charset_allowed && imap_atom(c, &a) &&
	    imap_str_eq(&a, "CHARSET")) {
		if (!imap_sp(c) || !imap_astring(c, &cs) || !imap_sp(c))
			return -1;
		if (!imap_str_eq(&cs, "UTF-8") &&
		    !imap_str_eq(&cs, "US-ASCII")) {
			*no_r = "BADCHARSET (UTF-8 US-ASCII)";
			return -1;
		}
	} else
		*c = save;
	c->err = NULL;
	if ((*r = parse_list(&p, 0, false)) == NULL)
		return -1;
	*modseq_r = p.modseq;
	return 0;
}

/* ---- the command ---- */

#define RET_MIN		0x01
#define RET_MAX		0x02
#define RET_COUNT	0x04
#define RET_ALL		0x08

void
imap_cmd_search(struct imap_session *s, bool uid)
{
	struct imap_cur	 c, save;
	struct imap_str	 a;
	struct snode	*tree = NULL;
	struct search_ctx ctx;
	struct mailbox_msg m;
	struct str	 line;
	unsigned int	 ret = 0;
	bool		 esearch = false, modseq = false;
	const char	*no;
	uint32_t	*hits = NULL, seq, n = 0, count;
	uint64_t	 maxmod = 0, *mods = NULL;
	int		 r;

	imap_args(s, &c);
	save = c;
	if (imap_atom(&c, &a) && imap_str_eq(&a, "RETURN")) {
		esearch = true;
		if (!imap_sp(&c) || !imap_take(&c, '(')) {
			imap_bad(s, "Expected RETURN (options)");
			return;
		}
		while (!imap_take(&c, ')')) {
			if (ret != 0 && !imap_sp(&c)) {
				imap_bad(s, "Invalid RETURN options");
				return;
			}
			if (!imap_atom(&c, &a)) {
				imap_bad(s, "Invalid RETURN options");
				return;
			}
			if (imap_str_eq(&a, "MIN"))
				ret |= RET_MIN;
			else if (imap_str_eq(&a, "MAX"))
				ret |= RET_MAX;
			else if (imap_str_eq(&a, "COUNT"))
				ret |= RET_COUNT;
			else if (imap_str_eq(&a, "ALL"))
				ret |= RET_ALL;
			else {
				imap_bad(s, "Unknown RETURN option");
				return;
			}
		}
		if (ret == 0)
			ret = RET_ALL;
		if (!imap_sp(&c)) {
			imap_bad(s, "Missing search keys");
			return;
		}
	} else
		c = save;
	if (search_parse(s, &c, uid, true, &tree, &modseq, &no) == -1) {
		if (no != NULL)
			imap_no(s, no, "Unsupported charset");
		else
			imap_bad(s, "Error in SEARCH: %s", c.err != NULL ?
			    c.err : "invalid search keys");
		return;
	}
	if (modseq)
		imap_condstore_on(s);
	search_ctx_init(&ctx, s);
	count = mailbox_count(s->mb);
	hits = xcalloc(count > 0 ? count : 1, sizeof(*hits));
	mods = xcalloc(count > 0 ? count : 1, sizeof(*mods));
	for (seq = 1; seq <= count; seq++) {
		if (mailbox_msg(s->mb, seq, &m) == -1)
			continue;
		if ((r = search_match(&ctx, tree, &m)) == 1) {
			mods[n] = m.modseq;
			hits[n++] = uid ? m.uid : seq;
		}
		search_ctx_next(&ctx);
	}
	search_ctx_release(&ctx);
	search_node_free(tree);

	/* MODSEQ: the highest of the messages the answer names (RFC 7162
	 * 3.1.5; with only MIN or MAX, of those). */
	for (seq = 0; seq < n; seq++)
		if ((!esearch || (ret & (RET_ALL | RET_COUNT)) ||
		    ((ret & RET_MIN) && seq == 0) ||
		    ((ret & RET_MAX) && seq == n - 1)) && mods[seq] > maxmod)
			maxmod = mods[seq];
	free(mods);
	str_init(&line, 0);
	if (esearch) {
		if (str_appendf(&line, "ESEARCH (TAG \"%s\")%s", s->tag,
		    uid ? " UID" : "") == -1)
			goto out;
		if (n > 0 && (ret & RET_MIN) &&
		    str_appendf(&line, " MIN %" PRIu32, hits[0]) == -1)
			goto out;
		if (n > 0 && (ret & RET_MAX) &&
		    str_appendf(&line, " MAX %" PRIu32, hits[n - 1]) == -1)
			goto out;
		if ((ret & RET_COUNT) &&
		    str_appendf(&line, " COUNT %" PRIu32, n) == -1)
			goto out;
		if (n > 0 && (ret & RET_ALL) &&
		    (str_append_str(&line, " ALL ") == -1 ||
		    seqset_put(&line, hits, n) == -1))
			goto out;
		if (modseq && n > 0 &&
		    str_appendf(&line, " MODSEQ %" PRIu64, maxmod) == -1)
			goto out;
	} else {
		if (str_append_str(&line, "SEARCH") == -1)
			goto out;
		for (seq = 0; seq < n; seq++)
			if (str_appendf(&line, " %" PRIu32, hits[seq]) == -1)
				goto out;
		if (modseq && n > 0 &&
		    str_appendf(&line, " (MODSEQ %" PRIu64 ")", maxmod) == -1)
			goto out;
	}
	imap_untagged(s, "%s", str_c(&line));
	imap_ok(s, NULL, "Search completed.");
	str_release(&line);
	free(hits);
	return;
out:
	str_release(&line);
	free(hits);
	imap_no(s, "LIMIT", "Search result too big");
}
