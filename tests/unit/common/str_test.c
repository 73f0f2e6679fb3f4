/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdint.h>
#include <string.h>

#include "str.h"

Test(str, append_and_nul)
{
	struct str s;

	str_init(&s, 0);
	cr_assert_str_eq(str_c(&s), "");
	cr_assert_eq(str_append(&s, "abc", 3), 0);
	cr_assert_eq(str_append_c(&s, 'd'), 0);
	cr_assert_eq(str_appendf(&s, "-%d-%s", 42, "x"), 0);
	cr_assert_str_eq(str_c(&s), "abcd-42-x");
	cr_assert_eq(s.len, 9);
	cr_assert_eq(s.data[s.len], '\0');
	str_release(&s);
	cr_assert_null(s.data);
}

Test(str, max_is_hard)
{
	struct str s;

	str_init(&s, 5);
	cr_assert_eq(str_append(&s, "12345", 5), 0);
	cr_assert_eq(str_append(&s, "6", 1), -1);
	cr_assert_str_eq(str_c(&s), "12345");		/* unchanged */
	cr_assert_eq(str_appendf(&s, "%s", "x"), -1);
	cr_assert_eq(s.len, 5);
	str_clear(&s);
	cr_assert_eq(str_appendf(&s, "%s", "123456"), -1);
	cr_assert_eq(s.len, 0);
	str_release(&s);
}

Test(str, long_appendf)
{
	struct str s;
	char	 big[1000];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	str_init(&s, 0);
	cr_assert_eq(str_appendf(&s, "<%s>", big), 0);
	cr_assert_eq(s.len, 1001);
	cr_assert_eq(s.data[0], '<');
	cr_assert_eq(s.data[1000], '>');
	str_release(&s);
}

Test(str, binary_and_consume)
{
	struct str s;

	str_init(&s, 0);
	cr_assert_eq(str_append(&s, "a\0b\0c", 5), 0);
	cr_assert_eq(s.len, 5);
	str_consume(&s, 2);
	cr_assert_eq(s.len, 3);
	cr_assert_eq(memcmp(s.data, "b\0c", 3), 0);
	str_truncate(&s, 1);
	cr_assert_str_eq(str_c(&s), "b");
	str_truncate(&s, 10);
	cr_assert_eq(s.len, 1);
	str_consume(&s, 10);
	cr_assert_eq(s.len, 0);
	str_release(&s);
}

Test(str, reserve_commit_detach)
{
	struct str s;
	char	*p;
	size_t	 n;

	str_init(&s, 8);
	p = str_reserve(&s, 4);
	cr_assert_not_null(p);
	memcpy(p, "wxyz", 4);
	str_grow_commit(&s, 4);
	cr_assert_null(str_reserve(&s, 5));
	p = str_detach(&s, &n);
	cr_assert_eq(n, 4);
	cr_assert_str_eq(p, "wxyz");
	cr_assert_eq(s.len, 0);
	cr_assert_null(s.data);
	free(p);
}

Test(str, new_free)
{
	struct str *s = str_new(0);

	cr_assert_eq(str_append_str(s, "x"), 0);
	str_free(&s);
	cr_assert_null(s);
	str_free(&s);
}

Test(str, copy_and_printf_report_truncation)
{
	char	 b[4];

	cr_assert(str_copy(b, "abc", sizeof(b)));
	cr_assert_str_eq(b, "abc");
	cr_assert_not(str_copy(b, "abcd", sizeof(b)));
	cr_assert_str_eq(b, "abc");
	cr_assert(str_printf(b, sizeof(b), "%d", 123));
	cr_assert_not(str_printf(b, sizeof(b), "%d", 1234));
	cr_assert_str_eq(b, "123");
}

Test(str, sanitize)
{
	char	 b[32];

	cr_assert_str_eq(str_sanitize(b, sizeof(b), "ok\r\n\x01", 5), "ok\\x0d\\x0a\\x01");
	cr_assert_str_eq(str_sanitize(b, 8, "abcdefghijkl", 12), "abcd...");
	cr_assert_str_eq(str_sanitize(b, sizeof(b), "", 0), "");
	cr_assert_str_eq(str_sanitize(b, sizeof(b), "\xff", 1), "\\xff");
}

Test(str, trim_lower_prefix)
{
	char	 b[] = "  \tHeLLo \t";

	cr_assert_str_eq(str_trim(b), "HeLLo");
	str_lower(b + 3);
	cr_assert_str_eq(str_trim(b), "hello");
	cr_assert(str_has_prefix_ci("EHLO x", "ehlo"));
	cr_assert_not(str_has_prefix_ci("EH", "ehlo"));
}

Test(str, secret_wiped)
{
	struct str s;

	str_init(&s, 0);
	cr_assert_eq(str_append_str(&s, "hunter2"), 0);
	str_release_secret(&s);
	cr_assert_null(s.data);
	cr_assert_eq(s.len, 0);
}

struct num_case {
	char	 in[24];
	uint64_t min, max;
	int	 want_rc;
	uint64_t want;
};

ParameterizedTestParameters(strnum, u64)
{
	static struct num_case cases[] = {
		{ "0", 0, UINT64_MAX, 0, 0 },
		{ "18446744073709551615", 0, UINT64_MAX, 0, UINT64_MAX },
		{ "18446744073709551616", 0, UINT64_MAX, -1, 0 },
		{ "99999999999999999999", 0, UINT64_MAX, -1, 0 },
		{ "12x", 0, UINT64_MAX, -1, 0 },
		{ " 1", 0, UINT64_MAX, -1, 0 },
		{ "1 ", 0, UINT64_MAX, -1, 0 },
		{ "-1", 0, UINT64_MAX, -1, 0 },
		{ "+1", 0, UINT64_MAX, -1, 0 },
		{ "", 0, UINT64_MAX, -1, 0 },
		{ "5", 6, 10, -1, 0 },
		{ "11", 6, 10, -1, 0 },
		{ "010", 6, 10, 0, 10 },
	};
	return cr_make_param_array(struct num_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct num_case *c, strnum, u64)
{
	uint64_t v = 7;

	cr_assert_eq(strnum_u64(c->in, c->min, c->max, &v), c->want_rc,
	    "input \"%s\"", c->in);
	cr_assert_eq(v, c->want_rc == 0 ? c->want : 7);
}

Test(strnum, uint_and_size_and_n)
{
	unsigned int u = 9;
	size_t	 z = 9;
	uint64_t v = 9;

	cr_assert_eq(strnum_uint("4294967295", 0, UINT32_MAX, &u), 0);
	cr_assert_eq(u, 4294967295u);
	cr_assert_eq(strnum_uint("4294967296", 0, UINT32_MAX, &u), -1);
	cr_assert_eq(strnum_size("1024", 1, 2048, &z), 0);
	cr_assert_eq(z, 1024);
	cr_assert_eq(strnum_u64n("123abc", 3, 0, 1000, &v), 0);
	cr_assert_eq(v, 123);
	cr_assert_eq(strnum_u64n("123abc", 4, 0, 1000, &v), -1);
	cr_assert_eq(strnum_u64n("", 0, 0, 1000, &v), -1);
}
