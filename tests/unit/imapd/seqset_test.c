/* SPDX-License-Identifier: MIT */
/*
 * seqset_test.c - IMAP sequence sets: ranges either way round, "*",
 * merging, the bounds of a number and of the range count, bad syntax,
 * and the compact form written back
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "search.h"
#include "str.h"

static int
parse(struct seqset *set, const char *s, uint32_t star)
{
	return seqset_parse(set, s, strlen(s), star);
}

/* The set as "lo-hi lo-hi ..." for comparing. */
static void
assert_ranges(const struct seqset *set, const char *want)
{
	char	 buf[512];
	size_t	 i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < set->n && off < sizeof(buf) - 32; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%u-%u",
		    i == 0 ? "" : " ", set->r[i].lo, set->r[i].hi);
	cr_assert_str_eq(buf, want);
}

Test(seqset, single_numbers_and_ranges)
{
	struct seqset	 set;

	cr_assert_eq(parse(&set, "1", 10), 0);
	assert_ranges(&set, "1-1");
	seqset_free(&set);
	cr_assert_eq(parse(&set, "2:4,7,9:10", 10), 0);
	assert_ranges(&set, "2-4 7-7 9-10");
	cr_assert(seqset_has(&set, 3));
	cr_assert(!seqset_has(&set, 5));
	cr_assert(seqset_has(&set, 10));
	cr_assert(!seqset_has(&set, 11));
	cr_assert(!seqset_has(&set, 0));
	seqset_free(&set);
}

Test(seqset, reversed_range_is_the_same)
{
	struct seqset	 set;

	cr_assert_eq(parse(&set, "4:2", 10), 0);
	assert_ranges(&set, "2-4");
	seqset_free(&set);
}

Test(seqset, star_is_the_highest)
{
	struct seqset	 set;

	cr_assert_eq(parse(&set, "1:*", 7), 0);
	assert_ranges(&set, "1-7");
	seqset_free(&set);
	cr_assert_eq(parse(&set, "*", 7), 0);
	assert_ranges(&set, "7-7");
	seqset_free(&set);
	/* n:* with n above the highest is the highest (RFC 9051 6.4.8) */
	cr_assert_eq(parse(&set, "20:*", 7), 0);
	assert_ranges(&set, "7-20");
	cr_assert(seqset_has(&set, 7));
	seqset_free(&set);
	cr_assert_eq(parse(&set, "*:3", 7), 0);
	assert_ranges(&set, "3-7");
	seqset_free(&set);
}

Test(seqset, star_in_an_empty_folder_matches_nothing)
{
	struct seqset	 set;

	cr_assert_eq(parse(&set, "*", 0), 0);
	cr_assert_eq(set.n, 0);
	seqset_free(&set);
	cr_assert_eq(parse(&set, "*:*", 0), 0);
	cr_assert_eq(set.n, 0);
	seqset_free(&set);
	cr_assert_eq(parse(&set, "*:4", 0), 0);
	cr_assert(!seqset_has(&set, 0));
	seqset_free(&set);
}

Test(seqset, merges_overlaps_and_neighbours)
{
	struct seqset	 set;

	cr_assert_eq(parse(&set, "5,1:3,4,8:9,2:2,10,20", 100), 0);
	assert_ranges(&set, "1-5 8-10 20-20");
	seqset_free(&set);
	cr_assert_eq(parse(&set, "1:10,3:4", 100), 0);
	assert_ranges(&set, "1-10");
	seqset_free(&set);
}

Test(seqset, number_bounds)
{
	struct seqset	 set;

	cr_assert_eq(parse(&set, "4294967295", 1), 0);
	assert_ranges(&set, "4294967295-4294967295");
	seqset_free(&set);
	cr_assert_eq(parse(&set, "1:4294967295", 1), 0);
	assert_ranges(&set, "1-4294967295");
	cr_assert(seqset_has(&set, 4294967295u));
	seqset_free(&set);
	cr_assert_eq(parse(&set, "4294967296", 1), -1);
	cr_assert_eq(parse(&set, "99999999999999999999", 1), -1);
	cr_assert_eq(set.r, NULL);
}

Test(seqset, bad_syntax)
{
	static const char *const bad[] = {
		"", "0", "0:3", "3:0", "01", ",", "1,", ",1", "1,,2", "1:",
		":1", "1::2", "1:2:3", "a", "1 2", "-1", "1:-2", "**", "*1",
		"1*", "$", "1.5", "+1", "1\r\n"
	};
	struct seqset	 set;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(parse(&set, bad[i], 10), -1, "accepted \"%s\"",
		    bad[i]);
		cr_assert_eq(set.n, 0);
	}
}

Test(seqset, range_count_bound)
{
	struct str	 s;
	struct seqset	 set;
	size_t		 i;

	/* SEQSET_RANGES_MAX ranges (odd numbers, none merge) are taken, one
	 * more is refused */
	str_init(&s, 0);
	for (i = 0; i < SEQSET_RANGES_MAX; i++)
		cr_assert_eq(str_appendf(&s, i == 0 ? "%zu" : ",%zu",
		    2 * i + 1), 0);
	cr_assert_eq(seqset_parse(&set, s.data, s.len, 1), 0);
	cr_assert_eq(set.n, SEQSET_RANGES_MAX);
	seqset_free(&set);
	cr_assert_eq(str_appendf(&s, ",%zu", 2 * i + 1), 0);
	cr_assert_eq(seqset_parse(&set, s.data, s.len, 1), -1);
	str_release(&s);
}

Test(seqset, put_writes_the_compact_form)
{
	static const uint32_t v[] = { 1, 2, 3, 7, 9, 10, 4294967295u };
	struct str	 s;

	str_init(&s, 0);
	cr_assert_eq(seqset_put(&s, v, sizeof(v) / sizeof(v[0])), 0);
	cr_assert_eq(s.len, strlen("1:3,7,9:10,4294967295"));
	cr_assert(memcmp(s.data, "1:3,7,9:10,4294967295", s.len) == 0);
	str_clear(&s);
	cr_assert_eq(seqset_put(&s, v, 1), 0);
	cr_assert_eq(s.len, 1);
	cr_assert_eq(s.data[0], '1');
	str_clear(&s);
	cr_assert_eq(seqset_put(&s, v, 0), 0);
	cr_assert_eq(s.len, 0);
	str_release(&s);
}
