/* SPDX-License-Identifier: MIT */
/*
 * thread.c - THREAD and UID THREAD (RFC 5256): ORDEREDSUBJECT and
 * REFERENCES
 *
 * ORDEREDSUBJECT groups by base subject, each group in sent-date order
 * with the first message the parent of the rest, groups ordered by the
 * date of their first message.  REFERENCES follows RFC 5256 section 3:
 * containers per Message-ID linked along References (or In-Reply-To),
 * the root set, empty containers pruned (their children promoted), root
 * threads sorted by date, roots with the same base subject gathered under
 * one thread, children sorted by date.  Loops in the references are never
 * made: a link that would close one is skipped.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "imapd.h"
#include "mailbox.h"
#include "mem.h"
#include "search_private.h"
#include "sort_private.h"
#include "str.h"

#define THREAD_REFS_MAX	100	/* references of one message followed */

struct tnode {
	struct sort_item *it;		/* NULL: a dummy (message not here) */
	char		*id;
	struct tnode	*parent, *child, *next;	/* first child, sibling */
	int64_t		 date;		/* for sorting: own or first child's */
};

struct tset {
	struct tnode	**v;
	size_t		 n, cap;
};

static struct tnode *
tset_find(struct tset *t, const char *id)
{
	size_t	 i;

	for (i = 0; i < t->n; i++)
		if (t->v[i]->id != NULL && strcmp(t->v[i]->id, id) == 0)
			return t->v[i];
	return NULL;
}

static struct tnode *
tset_add(struct tset *t, const char *id)
{
	struct tnode	*n = xcalloc(1, sizeof(*n));

	n->id = id != NULL ? xstrdup(id) : NULL;
	if (t->n == t->cap) {
		t->cap = t->cap == 0 ? 64 : t->cap * 2;
		t->v = xreallocarray(t->v, t->cap, sizeof(*t->v));
	}
	t->v[t->n++] = n;
	return n;
}

static bool
is_ancestor(const struct tnode *a, const struct tnode *n)
{
	for (; n != NULL; n = n->parent)
		if (n == a)
			return true;
	return false;
}

static void
unlink_node(struct tnode *n)
{
	struct tnode	**pp;

	if (n->parent == NULL)
		return;
	for (pp = &n->parent->child; *pp != NULL; pp = &(*pp)->next)
		if (*pp == n) {
			*pp = n->next;
			break;
		}
	n->parent = NULL;
	n->next = NULL;
}

static void
link_node(struct tnode *parent, struct tnode *n)
{
	struct tnode	**pp;

	unlink_node(n);
	n->parent = parent;
	for (pp = &parent->child; *pp != NULL; pp = &(*pp)->next)
		continue;
	*pp = n;
}

/* A dummy sorts by its first child (sorted first). */
static uint32_t
node_seq(const struct tnode *n)
{
	unsigned int	 depth = 0;

	while (n->it == NULL && n->child != NULL && depth++ < 1000)
		n = n->child;
	return n->it != NULL ? n->it->seq : 0;
}

static int
node_date_cmp(const void *pa, const void *pb)
{
	const struct tnode *a = *(struct tnode *const *)pa;
	const struct tnode *b = *(struct tnode *const *)pb;
	uint32_t	 sa = node_seq(a), sb = node_seq(b);

	if (a->date != b->date)
		return a->date < b->date ? -1 : 1;
	return sa < sb ? -1 : sa > sb;
}

/* Sort the children of n by date (recursively); set n->date. */
static void
sort_children(struct tnode *n, unsigned int depth)
{
	struct tnode	**v = NULL, *k;
	size_t		 c = 0, i;

	for (k = n->child; k != NULL; k = k->next) {
		if (depth < 1000)
			sort_children(k, depth + 1);
		v = xreallocarray(v, c + 1, sizeof(*v));
		v[c++] = k;
	}
	if (c > 0) {
		qsort(v, c, sizeof(*v), node_date_cmp);
		n->child = v[0];
		for (i = 0; i + 1 < c; i++)
			v[i]->next = v[i + 1];
		v[c - 1]->next = NULL;
	}
	n->date = n->it != NULL ? n->it->date : c > 0 ? v[0]->date : 0;
	free(v);
}

/* Append the thread of n (without its outer parentheses). */
static int
render(struct str *out, const struct tnode *n, bool uid, unsigned int depth)
{
	const struct tnode *k;
	size_t		 nk = 0;

	if (depth > 10000)
		return -1;
	for (k = n->child; k != NULL; k = k->next)
		nk++;
	if (n->it != NULL && str_appendf(out, "%" PRIu32,
	    uid ? n->it->uid : n->it->seq) == -1)
		return -1;
	if (nk == 1 && n->it != NULL) {
		if (str_append_c(out, ' ') == -1)
			return -1;
		return render(out, n->child, uid, depth + 1);
	}
	if (nk > 0 && n->it != NULL && str_append_c(out, ' ') == -1)
		return -1;
	for (k = n->child; k != NULL; k = k->next) {
		if (str_append_c(out, '(') == -1 ||
		    render(out, k, uid, depth + 1) == -1 ||
		    str_append_c(out, ')') == -1)
			return -1;
	}
	return 0;
}

/* Drop dummies without children; promote the children of dummies that
 * are not at the root, or at the root with a single child. */
static void
prune(struct tnode *root)
{
	struct tnode	*k, *next, *g, *gn;
	bool		 again = true;

	while (again) {
		again = false;
		for (k = root->child; k != NULL; k = next) {
			next = k->next;
			if (k->it == NULL && k->child == NULL) {
				unlink_node(k);
				again = true;
			} else if (k->it == NULL && (root->parent != NULL ||
			    root->it != NULL || k->child->next == NULL)) {
				for (g = k->child; g != NULL; g = gn) {
					gn = g->next;
					link_node(root, g);
				}
				unlink_node(k);
				again = true;
			}
		}
	}
	for (k = root->child; k != NULL; k = k->next)
		if (k->child != NULL)
			prune(k);
}

static void
thread_references(struct sort_item *items, size_t n, struct tnode *root,
    struct tset *t)
{
	struct tnode	*c, *prev, *r, **roots, *leader;
	char		*id;
	const char	*p;
	size_t		 i, j, used, left, nrefs, nroots;

	for (i = 0; i < n; i++) {
		c = items[i].msgid != NULL ? tset_find(t, items[i].msgid) :
		    NULL;
		if (c == NULL || c->it != NULL)	/* new, or a duplicate id */
			c = tset_add(t, c == NULL ? items[i].msgid : NULL);
		c->it = &items[i];
		prev = NULL;
		p = items[i].refs;
		left = p != NULL ? strlen(p) : 0;
		for (nrefs = 0; left > 0 && nrefs < THREAD_REFS_MAX; nrefs++) {
			if ((id = sort_msgid(p, left, &used)) == NULL)
				break;
			p += used;
			left -= used;
			if ((r = tset_find(t, id)) == NULL)
				r = tset_add(t, id);
			free(id);
			if (prev != NULL && r->parent == NULL && r != prev &&
			    !is_ancestor(r, prev))
				link_node(prev, r);
			prev = r;
		}
		/* The message is the child of its last reference: a parent
		 * it has from other messages' References goes first (RFC
		 * 5256 3 step 1C), and a link that would close a loop is not
		 * made. */
		unlink_node(c);
		if (prev != NULL && prev != c && !is_ancestor(c, prev))
			link_node(prev, c);
	}
	for (i = 0; i < t->n; i++)
		if (t->v[i]->parent == NULL && t->v[i] != root)
			link_node(root, t->v[i]);
	prune(root);
	sort_children(root, 0);
	/* Gather roots with the same base subject (step 5, simplified: the
	 * later ones become children of the first). */
	nroots = 0;
	for (c = root->child; c != NULL; c = c->next)
		nroots++;
	roots = xcalloc(nroots > 0 ? nroots : 1, sizeof(*roots));
	nroots = 0;
	for (c = root->child; c != NULL; c = c->next)
		roots[nroots++] = c;
	for (i = 0; i < nroots; i++) {
		const struct sort_item *a;

		if (roots[i] == NULL)
			continue;
		a = roots[i]->it != NULL ? roots[i]->it :
		    roots[i]->child->it;
		if (a == NULL || a->subject[0] == '\0')
			continue;
		leader = roots[i];
		for (j = i + 1; j < nroots; j++) {
			const struct sort_item *b;

			if (roots[j] == NULL)
				continue;
			b = roots[j]->it != NULL ? roots[j]->it :
			    roots[j]->child->it;
			if (b == NULL || strcmp(a->subject, b->subject) != 0)
				continue;
			link_node(leader, roots[j]);
			roots[j] = NULL;
		}
	}
	free(roots);
	sort_children(root, 0);
}

static int
subj_cmp(const void *pa, const void *pb)
{
	const struct sort_item *a = pa, *b = pb;
	int		 c = strcmp(a->subject, b->subject);

	if (c != 0)
		return c;
	if (a->date != b->date)
		return a->date < b->date ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void
thread_orderedsubject(struct sort_item *items, size_t n, struct tnode *root,
    struct tset *t)
{
	struct tnode	*lead = NULL, *c;
	size_t		 i;

	qsort(items, n, sizeof(*items), subj_cmp);
	for (i = 0; i < n; i++) {
		c = tset_add(t, NULL);
		c->it = &items[i];
		if (lead != NULL && strcmp(lead->it->subject,
		    items[i].subject) == 0)
			link_node(lead, c);
		else {
			link_node(root, c);
			lead = c;
		}
	}
	/* Threads by their first message's date; in a thread, by date. */
	sort_children(root, 0);
}

void
imap_cmd_thread(struct imap_session *s, bool uid)
{
	struct imap_cur		 c;
	struct imap_str		 alg;
	struct sort_item	*items;
	struct tnode		 root;
	struct tset		 t;
	struct str		 line;
	const struct tnode	*k;
	bool			 refs;
	size_t			 i, n;

	imap_args(s, &c);
	if (!imap_atom(&c, &alg)) {
		imap_bad(s, "Missing threading algorithm");
		return;
	}
	if (imap_str_eq(&alg, "REFERENCES"))
		refs = true;
	else if (imap_str_eq(&alg, "ORDEREDSUBJECT"))
		refs = false;
	else {
		imap_bad(s, "Unknown threading algorithm");
		return;
	}
	if (!sort_charset(s, &c))
		return;
	if ((items = sort_select(s, &c, uid, SORT_NEED_HEADER |
	    SORT_NEED_DATE, &n)) == NULL)
		return;
	memset(&root, 0, sizeof(root));
	memset(&t, 0, sizeof(t));
	if (refs)
		thread_references(items, n, &root, &t);
	else
		thread_orderedsubject(items, n, &root, &t);
	str_init(&line, 0);
	if (str_append_str(&line, "THREAD") == -1)
		goto out;
	for (k = root.child; k != NULL; k = k->next) {
		if (str_append_str(&line, k == root.child ? " (" : "(") == -1 ||
		    render(&line, k, uid, 0) == -1 ||
		    str_append_c(&line, ')') == -1)
			goto out;
	}
	imap_untagged(s, "%s", str_c(&line));
	imap_ok(s, NULL, "Thread completed.");
	goto done;
out:
	imap_no(s, "LIMIT", "Thread result too big");
done:
	str_release(&line);
	for (i = 0; i < t.n; i++) {
		free(t.v[i]->id);
		free(t.v[i]);
	}
	free(t.v);
	for (i = 0; i < n; i++)
		sort_item_release(&items[i]);
	free(items);
}
