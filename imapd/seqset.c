/* SPDX-License-Identifier: MIT */
/*
 * seqset.c - IMAP sequence sets (RFC 9051 section 9, "sequence-set")
 *
 * seq-number = nz-number / "*";  seq-range = seq-number ":" seq-number;
 * sequence-set = (seq-number / seq-range) *("," sequence-set).
 * A range may be given either way round ("4:2" is 2:4), and "*" is the
 * highest number in use, so in an empty folder it matches nothing while
 * "n:*" still stands for n..star (RFC 9051 6.4.8: "UID FETCH n:*" with n
 * above every UID is the last message).  The ranges are kept sorted and
 * merged, so lookups are a binary search and a set of any size written
 * by a client costs at most SEQSET_RANGES_MAX ranges.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "search.h"
#include "str.h"

/* One seq-number at *pp: 1..2^32-1, or '*' (star; 0 in an empty
 * folder). */
static int
seq_number(const char **pp, const char *end, uint32_t star, uint32_t *r)
{
	const char	*p = *pp;
	uint64_t	 v = 0;

	if (p < end && *p == '*') {
		*pp = p + 1;
		*r = star;
		return 0;
	}
	if (p >= end || *p < '1' || *p > '9')
		return -1;	/* no number, or a leading 0 (0 is no nz) */
	while (p < end && *p >= '0' && *p <= '9') {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return -1;
		p++;
	}
	*pp = p;
	*r = (uint32_t)v;
	return 0;
}

static int
range_cmp(const void *a, const void *b)
{
	const struct seqset_range *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->hi < y->hi ? -1 : x->hi > y->hi;
}

/* Sort and merge overlapping or adjacent ranges in place. */
static void
normalise(struct seqset *set)
{
	size_t	 i, n = 0;

	if (set->n == 0)
		return;
	qsort(set->r, set->n, sizeof(set->r[0]), range_cmp);
	for (i = 1; i < set->n; i++) {
		if (set->r[i].lo <= set->r[n].hi ||
		    set->r[i].lo - 1 == set->r[n].hi) {
			if (set->r[i].hi > set->r[n].hi)
				set->r[n].hi = set->r[i].hi;
		} else
			set->r[++n] = set->r[i];
	}
	set->n = n + 1;
}

int
seqset_parse(struct seqset *set, const char *s, size_t len, uint32_t star)
{
	const char	*p = s, *end = s + len;
	size_t		 cap = 0;
	uint32_t	 a, b, t;

	memset(set, 0, sizeof(*set));
	if (len == 0)
		return -1;
	for (;;) {
		if (seq_number(&p, end, star, &a) == -1)
			goto bad;
		b = a;
		if (p < end && *p == ':') {
			p++;
			if (seq_number(&p, end, star, &b) == -1)
				goto bad;
		}
		if (a > b) {
			t = a, a = b, b = t;
		}
		/* In an empty folder "*" is 0: "*" and "*:*" match nothing,
		 * "n:*" is 1..n, which no message has either. */
		if (a == 0)
			a = 1;
		if (b >= a) {
			if (set->n == SEQSET_RANGES_MAX)
				goto bad;
			if (set->n == cap) {
				cap = cap == 0 ? 4 : cap * 2;
				if (cap > SEQSET_RANGES_MAX)
					cap = SEQSET_RANGES_MAX;
				set->r = xreallocarray(set->r, cap,
				    sizeof(set->r[0]));
			}
			set->r[set->n].lo = a;
			set->r[set->n].hi = b;
			set->n++;
		}
		if (p == end)
			break;
		if (*p != ',' || ++p == end)
			goto bad;
	}
	normalise(set);
	return 0;
bad:
	seqset_free(set);
	return -1;
}

bool
seqset_has(const struct seqset *set, uint32_t v)
{
	size_t	 lo = 0, hi = set->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (v < set->r[mid].lo)
			hi = mid;
		else if (v > set->r[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

void
seqset_free(struct seqset *set)
{
	free(set->r);
	memset(set, 0, sizeof(*set));
}

int
seqset_put(struct str *out, const uint32_t *v, size_t n)
{
	size_t	 i, j;

	for (i = 0; i < n; i = j + 1) {
		for (j = i; j + 1 < n && v[j + 1] == v[j] + 1; j++)
			continue;
		if (str_appendf(out, i == 0 ? "%u" : ",%u", v[i]) == -1)
			return -1;
		if (j > i && str_appendf(out, ":%u", v[j]) == -1)
			return -1;
	}
	return 0;
}
