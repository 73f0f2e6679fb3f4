/* SPDX-License-Identifier: MIT */
/*
 * schedule.c - the runner's decisions, and the ids waiting for an attempt
 *
 * The decisions are pure functions of the settings, the envelope and the
 * clock, so the unit tests can walk a recipient through five days of
 * retries in microseconds.
 *
 * The waiting set is a hash table of ids (one entry per id, holding its
 * due time) and a binary min-heap of (due, id) with lazy deletion: moving
 * an id earlier pushes a new heap item, and a heap item whose due time no
 * longer matches the table is dropped when it comes up.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "queued.h"
#include "str.h"

/* ---- decisions ---- */

uint64_t
queue_retry_delay(const struct queue_conf *c, unsigned int attempts)
{
	uint64_t	 d = c->retry_min;
	unsigned int	 i;

	for (i = 1; i < attempts && d < c->retry_max; i++)
		d = d > UINT64_MAX / 2 ? UINT64_MAX : d * 2;
	if (d > c->retry_max)
		d = c->retry_max;
	return d == 0 ? 1 : d;
}

bool
queue_is_expired(const struct queue_conf *c, uint64_t arrival, uint64_t now)
{
	return now >= arrival && now - arrival >= c->max_lifetime;
}

bool
queue_wants_delay_dsn(const struct queue_conf *c, unsigned int notify,
    bool null_sender, uint64_t arrival, uint64_t now)
{
	if (null_sender || c->delay_warning_time == 0)
		return false;
	if (notify & SPOOL_NOTIFY_NEVER)
		return false;
	if (notify == 0 ? !c->delay_warning_default :
	    !(notify & SPOOL_NOTIFY_DELAY))
		return false;
	return now >= arrival && now - arrival >= c->delay_warning_time;
}

enum queue_dsn_kind
queue_dsn_owed(enum spool_rcpt_state state, unsigned int notify,
    bool null_sender)
{
	if (notify & SPOOL_NOTIFY_NEVER)
		return QUEUE_DSN_NONE;
	switch (state) {
	case SPOOL_RCPT_DELIVERED:
		if (null_sender || !(notify & SPOOL_NOTIFY_SUCCESS))
			return QUEUE_DSN_NONE;
		return QUEUE_DSN_SENDER;
	case SPOOL_RCPT_BOUNCED:
	case SPOOL_RCPT_EXPIRED:
		/* RFC 3461 4.1: no NOTIFY means FAILURE (and maybe DELAY). */
		if (notify != 0 && !(notify & SPOOL_NOTIFY_FAILURE))
			return QUEUE_DSN_NONE;
		return null_sender ? QUEUE_DSN_POSTMASTER : QUEUE_DSN_SENDER;
	default:
		return QUEUE_DSN_NONE;
	}
}

enum queue_outcome
queue_outcome_merge(enum queue_outcome a, enum queue_outcome b)
{
	return a > b ? a : b;
}

/* ---- the waiting set ---- */

struct sched_node {
	char		 id[SPOOL_ID_LEN + 1];
	uint64_t	 due;
	bool		 force;
	struct sched_node *next;	/* hash chain */
};

struct heap_item {
	uint64_t	 due;
	struct sched_node *node;	/* valid while in the table */
	char		 id[SPOOL_ID_LEN + 1];
};

struct queue_sched {
	struct sched_node **buckets;
	size_t		 nbuckets;	/* a power of two */
	size_t		 count;
	struct heap_item *heap;
	size_t		 heap_len;
	size_t		 heap_cap;
};

static size_t
id_hash(const char *id, size_t nbuckets)
{
	uint64_t	 h = 1469598103934665603ULL;	/* FNV-1a */
	size_t		 i;

	for (i = 0; id[i] != '\0'; i++)
		h = (h ^ (unsigned char)id[i]) * 1099511628211ULL;
	return (size_t)(h & (nbuckets - 1));
}

struct queue_sched *
queue_sched_new(void)
{
	struct queue_sched	*s = xcalloc(1, sizeof(*s));

	s->nbuckets = 256;
	s->buckets = xcalloc(s->nbuckets, sizeof(*s->buckets));
	return s;
}

void
queue_sched_free(struct queue_sched **sp)
{
	struct queue_sched	*s = *sp;
	struct sched_node	*n, *next;
	size_t			 i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nbuckets; i++)
		for (n = s->buckets[i]; n != NULL; n = next) {
			next = n->next;
			free(n);
		}
	free(s->buckets);
	free(s->heap);
	free(s);
	*sp = NULL;
}

static struct sched_node *
sched_find(const struct queue_sched *s, const char *id)
{
	struct sched_node	*n;

	for (n = s->buckets[id_hash(id, s->nbuckets)]; n != NULL; n = n->next)
		if (strcmp(n->id, id) == 0)
			return n;
	return NULL;
}

static void
sched_grow(struct queue_sched *s)
{
	struct sched_node	**nb, *n, *next;
	size_t			 i, h, nn = s->nbuckets * 2;

	nb = xcalloc(nn, sizeof(*nb));
	for (i = 0; i < s->nbuckets; i++)
		for (n = s->buckets[i]; n != NULL; n = next) {
			next = n->next;
			h = id_hash(n->id, nn);
			n->next = nb[h];
			nb[h] = n;
		}
	free(s->buckets);
	s->buckets = nb;
	s->nbuckets = nn;
}

static bool
heap_less(const struct heap_item *a, const struct heap_item *b)
{
	if (a->due != b->due)
		return a->due < b->due;
	return strcmp(a->id, b->id) < 0;	/* oldest first */
}

static void
heap_push(struct queue_sched *s, struct sched_node *n)
{
	struct heap_item	 it, tmp;
	size_t			 i, p;

	if (s->heap_len == s->heap_cap) {
		s->heap_cap = s->heap_cap == 0 ? 64 : s->heap_cap * 2;
		s->heap = xreallocarray(s->heap, s->heap_cap,
		    sizeof(*s->heap));
	}
	it.due = n->due;
	it.node = n;
	memcpy(it.id, n->id, sizeof(it.id));
	i = s->heap_len++;
	s->heap[i] = it;
	while (i > 0) {
		p = (i - 1) / 2;
		if (!heap_less(&s->heap[i], &s->heap[p]))
			break;
		tmp = s->heap[p];
		s->heap[p] = s->heap[i];
		s->heap[i] = tmp;
		i = p;
	}
}

static void
heap_pop(struct queue_sched *s)
{
	struct heap_item	 tmp;
	size_t			 i = 0, l, r, m;

	s->heap[0] = s->heap[--s->heap_len];
	for (;;) {
		l = 2 * i + 1;
		r = l + 1;
		m = i;
		if (l < s->heap_len && heap_less(&s->heap[l], &s->heap[m]))
			m = l;
		if (r < s->heap_len && heap_less(&s->heap[r], &s->heap[m]))
			m = r;
		if (m == i)
			break;
		tmp = s->heap[m];
		s->heap[m] = s->heap[i];
		s->heap[i] = tmp;
		i = m;
	}
}

/* Is the heap top a live item?  A node may have been freed and another
 * allocated at the same address, hence the id and due comparison. */
static bool
heap_top_live(const struct queue_sched *s)
{
	const struct heap_item	*it = &s->heap[0];
	struct sched_node	*n = sched_find(s, it->id);

	return n != NULL && n == it->node && n->due == it->due;
}

static void
heap_drop_stale(struct queue_sched *s)
{
	while (s->heap_len > 0 && !heap_top_live(s))
		heap_pop(s);
}

void
queue_sched_add(struct queue_sched *s, const char *id, uint64_t due,
    bool force)
{
	struct sched_node	*n;
	size_t			 h;

	if ((n = sched_find(s, id)) != NULL) {
		n->force = n->force || force;
		if (due < n->due) {
			n->due = due;
			heap_push(s, n);
		}
		return;
	}
	if (s->count + 1 > s->nbuckets * 2)
		sched_grow(s);
	n = xcalloc(1, sizeof(*n));
	(void)str_copy(n->id, id, sizeof(n->id));
	n->due = due;
	n->force = force;
	h = id_hash(n->id, s->nbuckets);
	n->next = s->buckets[h];
	s->buckets[h] = n;
	s->count++;
	heap_push(s, n);
}

void
queue_sched_add_absent(struct queue_sched *s, const char *id, uint64_t due,
    bool force)
{
	if (sched_find(s, id) == NULL)
		queue_sched_add(s, id, due, force);
}

void
queue_sched_flush(struct queue_sched *s)
{
	struct sched_node	*n;
	size_t			 i;

	for (i = 0; i < s->nbuckets; i++)
		for (n = s->buckets[i]; n != NULL; n = n->next) {
			n->force = true;
			if (n->due != 0) {
				n->due = 0;
				heap_push(s, n);
			}
		}
}

int
queue_sched_next(struct queue_sched *s, uint64_t now, char *id,
    bool *force_r)
{
	struct sched_node	**pp, *n;

	heap_drop_stale(s);
	if (s->heap_len == 0 || s->heap[0].due > now)
		return 0;
	n = s->heap[0].node;
	heap_pop(s);
	memcpy(id, n->id, SPOOL_ID_LEN + 1);
	*force_r = n->force;
	for (pp = &s->buckets[id_hash(n->id, s->nbuckets)]; *pp != n;
	    pp = &(*pp)->next)
		continue;
	*pp = n->next;
	free(n);
	s->count--;
	return 1;
}

uint64_t
queue_sched_earliest(struct queue_sched *s)
{
	heap_drop_stale(s);
	return s->heap_len == 0 ? UINT64_MAX : s->heap[0].due;
}

size_t
queue_sched_count(const struct queue_sched *s)
{
	return s->count;
}
