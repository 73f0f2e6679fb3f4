/* SPDX-License-Identifier: MIT */
/*
 * sort.c - SORT and UID SORT (RFC 5256, DISPLAYFROM/DISPLAYTO RFC 5957)
 * and the base subject both SORT and THREAD use
 *
 * The search keys pick the messages (search_private.h); each gets its
 * sort keys computed once (subject, addresses, dates: from the header,
 * decoded and folded), then one qsort with the criteria in order, ties
 * broken by sequence number as RFC 5256 says.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imapd.h"
#include "mailbox.h"
#include "mem.h"
#include "mime.h"
#include "search_private.h"
#include "sort_private.h"
#include "str.h"

#define SORT_KEYS_MAX	8

enum sortkey {
	SO_ARRIVAL, SO_CC, SO_DATE, SO_FROM, SO_SIZE, SO_SUBJECT, SO_TO,
	SO_DISPLAYFROM, SO_DISPLAYTO
};

static const char *const sort_names[] = {
	"ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO",
	"DISPLAYFROM", "DISPLAYTO"
};

/* Remove what RFC 5256 2.1 calls the subj-trailer: "(fwd)" and white
 * space at the end. */
static bool
strip_trailer(struct str *t)
{
	bool	 changed = false;

	for (;;) {
		if (t->len > 0 && t->data[t->len - 1] == ' ') {
			t->len--;
			changed = true;
		} else if (t->len >= 5 &&
		    memcmp(t->data + t->len - 5, "(fwd)", 5) == 0) {
			t->len -= 5;
			changed = true;
		} else
			break;
	}
	t->data[t->len] = '\0';
	return changed;
}

/* Length of a subj-blob "[...]" at p (no '[' or ']' inside) plus the
 * white space after it, 0 if none. */
static size_t
blob_len(const char *p, size_t len)
{
	size_t	 i;

	if (len == 0 || p[0] != '[')
		return 0;
	for (i = 1; i < len && p[i] != ']' && p[i] != '['; i++)
		continue;
	if (i == len || p[i] != ']')
		return 0;
	for (i++; i < len && p[i] == ' '; i++)
		continue;
	return i;
}

/* Length of a subj-leader at p: blobs, then "re", "fw" or "fwd", blobs,
 * then ':' and white space; 0 if none. */
static size_t
leader_len(const char *p, size_t len)
{
	size_t	 i = 0, b;

	while (i < len && p[i] == ' ')
		i++;
	if (len - i >= 3 && memcmp(p + i, "fwd", 3) == 0)
		i += 3;
	else if (len - i >= 2 && (memcmp(p + i, "re", 2) == 0 ||
	    memcmp(p + i, "fw", 2) == 0))
		i += 2;
	else
		return 0;
	while ((b = blob_len(p + i, len - i)) > 0)
		i += b;
	if (i >= len || p[i] != ':')
		return 0;
	for (i++; i < len && p[i] == ' '; i++)
		continue;
	return i;
}

int
imap_base_subject(const char *raw, size_t len, struct str *out, bool *reply)
{
	struct str	 d;
	size_t		 n, b;
	bool		 again;

	*reply = false;
	str_init(&d, 0);
	if (mime_header_decode(raw, len, &d) == -1 ||
	    search_fold(d.data != NULL ? d.data : "", d.len, out) == -1) {
		str_release(&d);
		return -1;
	}
	str_release(&d);
	if (str_append_c(out, '\0') == -1)
		return -1;
	out->len--;
	do {
		again = false;
		while (out->len > 0 && out->data[0] == ' ')
			str_consume(out, 1);
		if (strip_trailer(out))
			*reply = true;
		for (;;) {
			if ((n = leader_len(out->data, out->len)) > 0) {
				*reply = true;
			} else if ((b = blob_len(out->data, out->len)) > 0 &&
			    b < out->len)
				n = b;
			else
				break;
			str_consume(out, n);
		}
		if (out->len >= 6 && memcmp(out->data, "[fwd:", 5) == 0 &&
		    out->data[out->len - 1] == ']') {
			str_consume(out, 5);
			out->len--;
			out->data[out->len] = '\0';
			*reply = true;
			again = true;
		}
	} while (again);
	while (out->len > 0 && out->data[0] == ' ')
		str_consume(out, 1);
	return 0;
}

/* The sort key of an address header: the first address's mailbox, or
 * with display its display name (else its addr-spec), folded. */
static char *
addr_key(const struct mime_msg *mm, const char *field, bool display)
{
	struct mime_addr *a;
	struct str	 v, k, t;
	size_t		 n, i;
	char		*r;

	str_init(&v, 0);
	str_init(&k, 0);
	str_init(&t, 0);
	if (mm != NULL && mime_header_get(mm, &mm->root, field, &v) == 1 &&
	    mime_addr_parse(v.data, v.len, &a, &n) == 0) {
		/* the first address, a group's name included (as Dovecot
		 * sorts "Cc: team: a@b;" by "team") */
		for (i = 0; i < n; i++)
			if (a[i].host != NULL || a[i].mailbox != NULL)
				break;
		if (i < n) {
			int rc = 0;

			if (display && a[i].name != NULL && a[i].name[0] !=
			    '\0')
				rc = str_append_str(&t, a[i].name);
			else if (display && (a[i].host == NULL ||
			    a[i].host[0] == '\0'))	/* a group, a bare name */
				rc = str_append_str(&t, a[i].mailbox != NULL ?
				    a[i].mailbox : "");
			else if (display)
				rc = str_appendf(&t, "%s@%s",
				    a[i].mailbox != NULL ? a[i].mailbox : "",
				    a[i].host);
			else if (a[i].mailbox != NULL)
				rc = str_append_str(&t, a[i].mailbox);
			if (rc == -1)
				str_clear(&t);
		}
		mime_addr_free(a, n);
	}
	if (search_fold(t.data != NULL ? t.data : "", t.len, &k) == -1)
		str_clear(&k);
	r = xstrdup(str_c(&k));
	str_release(&v);
	str_release(&k);
	str_release(&t);
	return r;
}

void
sort_item_fill(struct search_ctx *x, const struct mailbox_msg *m,
    struct sort_item *it, unsigned int need)
{
	struct mime_msg	*mm = NULL;
	struct str	 v, b;
	bool		 reply;

	memset(it, 0, sizeof(*it));
	it->seq = m->seq;
	it->uid = m->uid;
	it->size = m->wire_size;
	it->arrival = (int64_t)m->internal_date;
	if (need & (SORT_NEED_HEADER | SORT_NEED_DATE))
		mm = search_load(x, m);
	if (need & SORT_NEED_DATE)
		it->date = search_sent_date(x, m);
	if (!(need & SORT_NEED_HEADER))
		return;
	str_init(&v, 0);
	str_init(&b, 0);
	if (mm != NULL && mime_header_get(mm, &mm->root, "Subject", &v) == 1 &&
	    imap_base_subject(v.data, v.len, &b, &reply) == 0) {
		it->subject = xstrdup(str_c(&b));
		it->reply = reply;
	} else
		it->subject = xstrdup("");
	str_release(&v);
	str_release(&b);
	it->from = addr_key(mm, "From", false);
	it->to = addr_key(mm, "To", false);
	it->cc = addr_key(mm, "Cc", false);
	it->dfrom = addr_key(mm, "From", true);
	it->dto = addr_key(mm, "To", true);
	if (mm != NULL) {
		str_init(&v, 0);
		if (mime_header_get(mm, &mm->root, "Message-ID", &v) == 1)
			it->msgid = sort_msgid(v.data, v.len, NULL);
		str_clear(&v);
		if (mime_header_get(mm, &mm->root, "References", &v) == 1)
			it->refs = xstrdup(str_c(&v));
		else if (mime_header_get(mm, &mm->root, "In-Reply-To", &v) ==
		    1)
			it->refs = xstrdup(str_c(&v));
		str_release(&v);
	}
}

void
sort_item_release(struct sort_item *it)
{
	free(it->subject);
	free(it->from);
	free(it->to);
	free(it->cc);
	free(it->dfrom);
	free(it->dto);
	free(it->msgid);
	free(it->refs);
}

char *
sort_msgid(const char *v, size_t len, size_t *used)
{
	const char	*lt, *gt;
	char		*r;

	lt = memchr(v, '<', len);
	gt = lt != NULL ? memchr(lt, '>', len - (size_t)(lt - v)) : NULL;
	if (lt == NULL || gt == NULL || gt == lt + 1) {
		if (used != NULL)
			*used = len;
		return NULL;
	}
	if (used != NULL)
		*used = (size_t)(gt + 1 - v);
	r = xcalloc(1, (size_t)(gt - lt));
	memcpy(r, lt + 1, (size_t)(gt - lt - 1));
	return r;
}

struct sort_spec {
	enum sortkey	 key[SORT_KEYS_MAX];
	bool		 rev[SORT_KEYS_MAX];
	size_t		 n;
};

static const struct sort_spec *cmp_spec;	/* qsort has no argument */

/* i;unicode-casemap orders by the title case of the folded text: letters
 * compare as upper case, so "[" and "_" come after them. */
static int
cmp_text(const char *a, const char *b)
{
	int	 x, y;

	for (;; a++, b++) {
		x = (unsigned char)*a;
		y = (unsigned char)*b;
		if (x >= 'a' && x <= 'z')
			x -= 32;
		if (y >= 'a' && y <= 'z')
			y -= 32;
		if (x != y || x == 0)
			return x - y;
	}
}

static int
cmp_i64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

static int
item_cmp(const void *pa, const void *pb)
{
	const struct sort_item *a = pa, *b = pb;
	size_t		 i;
	int		 c = 0;

	for (i = 0; i < cmp_spec->n; i++) {
		switch (cmp_spec->key[i]) {
		case SO_ARRIVAL:
			c = cmp_i64(a->arrival, b->arrival);
			break;
		case SO_DATE:
			c = cmp_i64(a->date, b->date);
			break;
		case SO_SIZE:
			c = cmp_i64((int64_t)a->size, (int64_t)b->size);
			break;
		case SO_SUBJECT:
			c = cmp_text(a->subject, b->subject);
			break;
		case SO_FROM:
			c = cmp_text(a->from, b->from);
			break;
		case SO_TO:
			c = cmp_text(a->to, b->to);
			break;
		case SO_CC:
			c = cmp_text(a->cc, b->cc);
			break;
		case SO_DISPLAYFROM:
			c = cmp_text(a->dfrom, b->dfrom);
			break;
		case SO_DISPLAYTO:
			c = cmp_text(a->dto, b->dto);
			break;
		}
		if (c != 0)
			return cmp_spec->rev[i] ? -c : c;
	}
	return cmp_i64(a->seq, b->seq);
}

/* The messages of the view the keys in c match, filled as need says;
 * NULL with the reply given on failure. */
struct sort_item *
sort_select(struct imap_session *s, struct imap_cur *c, bool uid,
    unsigned int need, size_t *n_r)
{
	struct snode		*tree;
	struct search_ctx	 ctx;
	struct mailbox_msg	 m;
	struct sort_item	*items;
	const char		*no;
	bool			 modseq;
	uint32_t		 seq, count;
	size_t			 n = 0;

	if (search_parse(s, c, uid, false, &tree, &modseq, &no) == -1) {
		imap_bad(s, "Invalid search keys: %s", c->err != NULL ?
		    c->err : "syntax");
		return NULL;
	}
	search_ctx_init(&ctx, s);
	count = mailbox_count(s->mb);
	items = xcalloc(count > 0 ? count : 1, sizeof(*items));
	for (seq = 1; seq <= count; seq++) {
		if (mailbox_msg(s->mb, seq, &m) == -1)
			continue;
		if (search_match(&ctx, tree, &m) == 1)
			sort_item_fill(&ctx, &m, &items[n++], need);
		search_ctx_next(&ctx);
	}
	search_ctx_release(&ctx);
	search_node_free(tree);
	*n_r = n;
	return items;
}

/* "charset SP": UTF-8 or US-ASCII; false with the reply given. */
bool
sort_charset(struct imap_session *s, struct imap_cur *c)
{
	struct imap_str	 cs;

	if (!imap_sp(c) || !imap_astring(c, &cs) || !imap_sp(c)) {
		imap_bad(s, "Missing charset or search keys");
		return false;
	}
	if (!imap_str_eq(&cs, "UTF-8") && !imap_str_eq(&cs, "US-ASCII")) {
		imap_no(s, "BADCHARSET (UTF-8 US-ASCII)",
		    "Unsupported charset");
		return false;
	}
	return true;
}

void
imap_cmd_sort(struct imap_session *s, bool uid)
{
	struct imap_cur		 c;
	struct imap_str		 a;
	struct sort_spec	 spec;
	struct sort_item	*items;
	struct str		 line;
	unsigned int		 need = 0;
	bool			 rev = false;
	size_t			 i, n;

	imap_args(s, &c);
	memset(&spec, 0, sizeof(spec));
	if (!imap_take(&c, '(')) {
		imap_bad(s, "Expected sort criteria");
		return;
	}
	for (;;) {
		if (!imap_atom(&c, &a)) {
			imap_bad(s, "Invalid sort criteria");
			return;
		}
		if (imap_str_eq(&a, "REVERSE")) {
			if (rev || !imap_sp(&c)) {
				imap_bad(s, "Invalid sort criteria");
				return;
			}
			rev = true;
			continue;
		}
		for (i = 0; i < sizeof(sort_names) / sizeof(sort_names[0]);
		    i++)
			if (imap_str_eq(&a, sort_names[i]))
				break;
		if (i == sizeof(sort_names) / sizeof(sort_names[0]) ||
		    spec.n == SORT_KEYS_MAX) {
			imap_bad(s, "Unknown sort criterion");
			return;
		}
		spec.key[spec.n] = (enum sortkey)i;
		spec.rev[spec.n++] = rev;
		rev = false;
		if (i == SO_DATE)
			need |= SORT_NEED_DATE;
		else if (i != SO_ARRIVAL && i != SO_SIZE)
			need |= SORT_NEED_HEADER;
		if (imap_take(&c, ')'))
			break;
		if (!imap_sp(&c)) {
			imap_bad(s, "Invalid sort criteria");
			return;
		}
	}
	if (rev) {
		imap_bad(s, "REVERSE without a criterion");
		return;
	}
	if (!sort_charset(s, &c))
		return;
	if ((items = sort_select(s, &c, uid, need, &n)) == NULL)
		return;
	cmp_spec = &spec;
	qsort(items, n, sizeof(*items), item_cmp);
	str_init(&line, 0);
	if (str_append_str(&line, "SORT") == -1)
		n = 0;
	for (i = 0; i < n; i++)
		if (str_appendf(&line, " %" PRIu32, uid ? items[i].uid :
		    items[i].seq) == -1)
			break;
	for (i = 0; i < n; i++)
		sort_item_release(&items[i]);
	free(items);
	imap_untagged(s, "%s", str_c(&line));
	str_release(&line);
	imap_ok(s, NULL, "Sort completed.");
}
