/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "log.h"
#include "mem.h"

Test(mem, dup_family)
{
	char	*a = xstrdup("hello");
	char	*b = xstrndup("hello", 3);
	char	*c = xmemdup("a\0b", 3);

	cr_assert_str_eq(a, "hello");
	cr_assert_str_eq(b, "hel");
	cr_assert_eq(memcmp(c, "a\0b\0", 4), 0);
	free(a);
	free(b);
	free(c);
}

Test(mem, zero_sizes_are_valid)
{
	void	*p = xmalloc(0), *q = xcalloc(0, 8);

	cr_assert_not_null(p);
	cr_assert_not_null(q);
	p = xreallocarray(p, 4, 4);
	free(p);
	free(q);
}

Test(mem, reallocarray_overflow_is_fatal, .exit_code = EXIT_TEMPFAIL)
{
	(void)xreallocarray(NULL, SIZE_MAX / 2, 3);
}

Test(mem, calloc_zeroes)
{
	unsigned char	*p = xcalloc(16, 4);
	int		 i;

	for (i = 0; i < 64; i++)
		cr_assert_eq(p[i], 0);
	free(p);
}
