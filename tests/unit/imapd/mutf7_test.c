/* SPDX-License-Identifier: MIT */
/*
 * mutf7_test.c - modified UTF-7 (RFC 3501 5.1.3) both ways: the RFC's
 * examples, the edges of the BMP and of Unicode, round trips, and every
 * way an input is refused (unterminated or empty-looking shifts, printable
 * ASCII or '&' inside a shift, bits left over, non-zero padding, odd
 * bytes, lone or misordered surrogates, two shifts in a row, controls
 * and NUL, 8-bit bytes, bad UTF-8)
 */
#include <criterion/criterion.h>
#include <string.h>

#include "folders.h"
#include "str.h"

static void
assert_m7_to_u8(const char *in, size_t len, const char *want)
{
	struct str	 out;

	str_init(&out, 0);
	cr_assert_eq(imap_mutf7_to_utf8(in, len, &out), 0, "refused %s", in);
	cr_assert_eq(out.len, strlen(want), "%s", in);
	cr_assert_eq(memcmp(str_c(&out), want, out.len), 0, "%s", in);
	str_release(&out);
}

static void
assert_u8_to_m7(const char *in, size_t len, const char *want)
{
	struct str	 out;

	str_init(&out, 0);
	cr_assert_eq(imap_utf8_to_mutf7(in, len, &out), 0, "refused %s", in);
	cr_assert_str_eq(str_c(&out), want);
	str_release(&out);
}

/* Both ways: utf8 <-> m7. */
static void
assert_pair(const char *utf8, const char *m7)
{
	assert_u8_to_m7(utf8, strlen(utf8), m7);
	assert_m7_to_u8(m7, strlen(m7), utf8);
}

static void
assert_m7_bad(const char *in, size_t len)
{
	struct str	 out;

	str_init(&out, 0);
	cr_assert_eq(imap_mutf7_to_utf8(in, len, &out), -1, "accepted %s",
	    in);
	str_release(&out);
}

static void
assert_u8_bad(const char *in, size_t len)
{
	struct str	 out;

	str_init(&out, 0);
	cr_assert_eq(imap_utf8_to_mutf7(in, len, &out), -1, "accepted %zu "
	    "bytes", len);
	str_release(&out);
}

Test(mutf7, rfc_examples)
{
	/* RFC 3501 5.1.3 */
	assert_pair("~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5"
	    "\xe6\x9c\xac\xe8\xaa\x9e", "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
	assert_pair("&", "&-");
	assert_pair("a&b", "a&-b");
	assert_pair("&&", "&-&-");
	assert_pair("Entw\xc3\xbc" "rfe", "Entw&APw-rfe");
	assert_pair("", "");
	assert_pair("INBOX", "INBOX");
	/* all of printable ASCII stands for itself */
	assert_pair(" !\"#$%'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~",
	    " !\"#$%'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~");
}

Test(mutf7, shifts)
{
	/* one shift for a run, padding bits zero */
	assert_pair("\xc3\xa9", "&AOk-");
	assert_pair("\xc3\xa9\xc3\xa9", "&AOkA6Q-");
	/* '&' between two shifted runs ends the first one */
	assert_pair("\xc3\xa9&\xc3\xa9", "&AOk-&-&AOk-");
	assert_pair("\xc3\xa9-", "&AOk--");
	assert_pair("a\xc3\xa9z", "a&AOk-z");
	/* edges: U+0080, U+FFFF, U+10000 and U+10FFFF (surrogate pairs) */
	assert_pair("\xc2\x80", "&AIA-");
	assert_pair("\xef\xbf\xbf", "&,,8-");
	assert_pair("\xf0\x90\x80\x80", "&2ADcAA-");
	assert_pair("\xf4\x8f\xbf\xbf", "&2,,f,w-");
	assert_pair("\xf0\x9f\x93\xa7", "&2D3c5w-");
	/* a pair next to a BMP character in one shift */
	assert_pair("\xc3\xa9\xf0\x9f\x93\xa7", "&AOnYPdzn-");
}

Test(mutf7, round_trips)
{
	static const char *const names[] = {
		"Gel\xc3\xb6scht",
		"\xd0\x92\xd1\x85\xd0\xbe\xd0\xb4\xd1\x8f\xd1\x89\xd0\xb8"
		    "\xd0\xb5",
		"\xe9\x80\x81\xe4\xbf\xa1\xe6\xb8\x88\xe3\x81\xbf",
		"a&b/\xc3\xa9&/\xf0\x9f\x98\x80&-",
		"R&D \xe2\x82\xac",
	};
	struct str	 m7, u8;
	size_t		 i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		str_init(&m7, 0);
		str_init(&u8, 0);
		cr_assert_eq(imap_utf8_to_mutf7(names[i], strlen(names[i]),
		    &m7), 0);
		cr_assert_eq(imap_mutf7_to_utf8(m7.data, m7.len, &u8), 0,
		    "%s", str_c(&m7));
		cr_assert_str_eq(str_c(&u8), names[i]);
		str_release(&m7);
		str_release(&u8);
	}
}

Test(mutf7, invalid_input_is_refused)
{
	static const char *const bad[] = {
		"&",		/* unterminated */
		"&AOk",		/* unterminated */
		"abc&AOk",	/* unterminated at the end */
		"&AGE-",	/* 'a' must stand for itself */
		"&ACY-",	/* '&' must be "&-", not BASE64 */
		"&ACA-",	/* so must a space */
		"&&-",		/* '&' inside a shift */
		"&AOk&-",	/* '&' inside a shift */
		"&AOkA-",	/* bits left over: not the shortest form */
		"&AOl-",	/* padding bits not zero */
		"&A-",		/* six bits: no character */
		"&+-",		/* six bits: no character */
		"&AO-",		/* an odd byte */
		"&AOk=-",	/* no '=' padding */
		"&AOk/-",	/* '/' is not modified BASE64 */
		"&2D0-",	/* a high surrogate alone */
		"&2D3YPQ-",	/* a high surrogate after a high one */
		"&2D0A6Q-",	/* a high surrogate before a BMP one */
		"&3jE-",	/* a low surrogate alone */
		"&3D3YPQ-",	/* low before high */
		"&AOk-&AOk-",	/* two shifts in a row */
		"&AAA-",	/* NUL */
		"&AAk-",	/* TAB */
		"&AH8-",	/* DEL */
		"a\xc3\xa9",	/* 8-bit */
		"\x80",		/* 8-bit */
		"a\tb",		/* control */
		"a\x7f",	/* DEL */
		"a\rb",		/* CR */
	};
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_m7_bad(bad[i], strlen(bad[i]));
	/* a NUL the length lets through */
	assert_m7_bad("a\0b", 3);
	assert_m7_bad("&AOk\0-", 6);
}

Test(mutf7, invalid_utf8_is_refused)
{
	static const char *const bad[] = {
		"\xc0\x80",		/* overlong NUL */
		"\xc1\xbf",		/* overlong */
		"\xe0\x80\xaf",		/* overlong */
		"\xf0\x8f\xbf\xbf",	/* overlong */
		"\xed\xa0\x80",		/* a surrogate */
		"\xed\xbf\xbf",		/* a surrogate */
		"\xf4\x90\x80\x80",	/* above U+10FFFF */
		"\xf8\x88\x80\x80\x80",	/* five bytes */
		"\xff",			/* never in UTF-8 */
		"\xc3",			/* cut short */
		"a\xe2\x82",		/* cut short */
		"\xc3\x28",		/* not a continuation */
		"\x80",			/* continuation first */
		"\x01",			/* control */
		"a\tb",			/* control */
		"\x7f",			/* DEL */
	};
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_u8_bad(bad[i], strlen(bad[i]));
	assert_u8_bad("a\0b", 3);
	assert_u8_bad("", 1);
}
