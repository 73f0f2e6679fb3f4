/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "session_id.h"
#include "str.h"

static bool
all_hex(const char *s)
{
	for (; *s != '\0'; s++)
		if (strchr("0123456789abcdef", *s) == NULL)
			return false;
	return true;
}

/* The counter part: the last 4 hex digits. */
static unsigned int
counter_of(const char *id)
{
	unsigned int	 v = 0;
	const char	*p;

	for (p = id + 6; *p != '\0'; p++)
		v = v * 16 + (unsigned int)(strchr("0123456789abcdef", *p) -
		    "0123456789abcdef");
	return v;
}

Test(session_id, form)
{
	char		 id[SESSION_ID_SIZE];
	char		 want[8];
	unsigned long	 t;

	t = (unsigned long)time(NULL);
	session_id_new(id, sizeof(id));
	cr_assert_eq(strlen(id), SESSION_ID_SIZE - 1);
	cr_assert(all_hex(id), "%s", id);
	/* The time part: this second or the next. */
	cr_assert(str_printf(want, sizeof(want), "%06lx", t & 0xffffffUL));
	if (strncmp(id, want, 6) != 0) {
		cr_assert(str_printf(want, sizeof(want), "%06lx",
		    (t + 1) & 0xffffffUL));
		cr_assert(strncmp(id, want, 6) == 0, "%s", id);
	}
}

Test(session_id, successive_ids_differ)
{
	char		 a[SESSION_ID_SIZE], b[24];
	unsigned int	 ca, cb;

	session_id_new(a, sizeof(a));
	session_id_new(b, sizeof(b));	/* a larger buffer is fine */
	cr_assert_str_neq(a, b);
	cr_assert(all_hex(a) && all_hex(b));
	ca = counter_of(a);
	cb = counter_of(b);
	cr_assert_eq(cb, (ca + 1) & 0xffffu);
}

Test(session_id, counter_wraps_at_16_bits)
{
	char		 id[SESSION_ID_SIZE];
	unsigned int	 i;

	for (i = 0; i < 0x10000 + 10; i++) {
		session_id_new(id, sizeof(id));
		cr_assert_eq(strlen(id), SESSION_ID_SIZE - 1);
	}
}

Test(session_id, short_buffer_panics, .signal = SIGABRT)
{
	char	 id[SESSION_ID_SIZE - 1];

	session_id_new(id, sizeof(id));
}

Test(session_id, null_buffer_panics, .signal = SIGABRT)
{
	session_id_new(NULL, SESSION_ID_SIZE);
}
