/* SPDX-License-Identifier: MIT */
/*
 * parse_test.c - the IMAP argument cursor (every reader at its bounds,
 * quoted escapes, literals inside the buffer, bad input) and the string
 * writers, byte-exact
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parse.h"
#include "str.h"

/* A cursor over a private, writable copy of lit (len bytes). */
static char *
cur(struct imap_cur *c, const char *lit, size_t len)
{
	char	*buf = malloc(len + 1);

	cr_assert_not_null(buf);
	memcpy(buf, lit, len);
	buf[len] = '\0';
	imap_cur_init(c, buf, len);
	return buf;
}

#define CUR(c, lit)	cur((c), (lit), sizeof(lit) - 1)

static void
assert_str(const struct imap_str *s, const char *want, size_t wlen)
{
	cr_assert_eq(s->len, wlen, "len %zu want %zu", s->len, wlen);
	cr_assert(memcmp(s->s, want, wlen) == 0, "got \"%.*s\"",
	    (int)s->len, s->s);
}

#define ASSERT_STR(s, lit)	assert_str((s), (lit), sizeof(lit) - 1)

/* ---- basics ---- */

Test(parse, eol_peek_take)
{
	struct imap_cur	 c;
	char		*b = CUR(&c, "(");

	cr_assert(!imap_eol(&c));
	cr_assert(imap_peek(&c, '('));
	cr_assert(!imap_peek(&c, ')'));
	cr_assert(!imap_take(&c, ')'));
	cr_assert(imap_take(&c, '('));
	cr_assert(imap_eol(&c));
	cr_assert(!imap_peek(&c, '('));
	cr_assert(!imap_take(&c, '('));
	free(b);
}

Test(parse, sp_exactly_one)
{
	struct imap_cur	 c;
	char		*b = CUR(&c, " a  b");

	cr_assert(imap_sp(&c));
	cr_assert(!imap_sp(&c));
	cr_assert_str_eq(c.err, "Expected a space");
	c.p++;
	cr_assert(!imap_sp(&c));
	cr_assert_str_eq(c.err, "Extra space");
	free(b);
	b = CUR(&c, "");
	cr_assert(!imap_sp(&c));
	cr_assert_str_eq(c.err, "Missing argument");
	free(b);
}

/* ---- atoms ---- */

Test(parse, atom_stops_at_specials)
{
	const char	*specials = "(){ %*\"\\]";
	size_t		 i;

	for (i = 0; specials[i] != '\0'; i++) {
		struct imap_cur	 c;
		struct imap_str	 a;
		char		 in[8] = "abc";
		char		*b;

		in[3] = specials[i];
		b = cur(&c, in, 4);
		cr_assert(imap_atom(&c, &a), "special %c", specials[i]);
		ASSERT_STR(&a, "abc");
		cr_assert_eq(*c.p, specials[i]);
		cr_assert(!a.literal);
		free(b);
	}
}

Test(parse, atom_refuses_ctl_8bit_empty)
{
	struct imap_cur	 c;
	struct imap_str	 a;
	char		*b;

	b = cur(&c, "\x01x", 2);
	cr_assert(!imap_atom(&c, &a));
	cr_assert_str_eq(c.err, "Invalid characters in atom");
	free(b);
	b = cur(&c, "\x7f", 1);
	cr_assert(!imap_atom(&c, &a));
	free(b);
	b = cur(&c, "\xc3\xa9", 2);
	cr_assert(!imap_atom(&c, &a));
	free(b);
	b = cur(&c, "\0", 1);
	cr_assert(!imap_atom(&c, &a));
	free(b);
	b = CUR(&c, "");
	cr_assert(!imap_atom(&c, &a));
	cr_assert_str_eq(c.err, "Missing argument");
	free(b);
	b = CUR(&c, "ab\x80");
	cr_assert(imap_atom(&c, &a));
	ASSERT_STR(&a, "ab");
	free(b);
}

Test(parse, atom_to_end_of_buffer)
{
	struct imap_cur	 c;
	struct imap_str	 a;
	char		*b = CUR(&c, "INBOX");

	cr_assert(imap_atom(&c, &a));
	ASSERT_STR(&a, "INBOX");
	cr_assert(imap_eol(&c));
	free(b);
}

/* ---- astring, list-mailbox ---- */

Test(parse, astring_takes_bracket)
{
	struct imap_cur	 c;
	struct imap_str	 a;
	char		*b = CUR(&c, "a]b c");

	cr_assert(imap_astring(&c, &a));
	ASSERT_STR(&a, "a]b");
	free(b);
	b = CUR(&c, "a*b");
	cr_assert(imap_astring(&c, &a));
	ASSERT_STR(&a, "a");
	free(b);
	b = CUR(&c, "(x");
	cr_assert(!imap_astring(&c, &a));
	cr_assert_not_null(c.err);
	free(b);
}

Test(parse, astring_quoted_and_literal)
{
	struct imap_cur	 c;
	struct imap_str	 a;
	char		*b = CUR(&c, "\"my pass\" {3}\r\nx y");

	cr_assert(imap_astring(&c, &a));
	ASSERT_STR(&a, "my pass");
	cr_assert(!a.literal);
	cr_assert(imap_sp(&c));
	cr_assert(imap_astring(&c, &a));
	ASSERT_STR(&a, "x y");
	cr_assert(a.literal);
	cr_assert(imap_eol(&c));
	free(b);
}

Test(parse, list_mailbox_wildcards)
{
	struct imap_cur	 c;
	struct imap_str	 a;
	char		*b = CUR(&c, "Foo/%*] x");

	cr_assert(imap_list_mailbox(&c, &a));
	ASSERT_STR(&a, "Foo/%*]");
	free(b);
	b = CUR(&c, "\"\" \"*\"");
	cr_assert(imap_list_mailbox(&c, &a));
	ASSERT_STR(&a, "");
	cr_assert(imap_sp(&c));
	cr_assert(imap_list_mailbox(&c, &a));
	ASSERT_STR(&a, "*");
	free(b);
	b = CUR(&c, "(");
	cr_assert(!imap_list_mailbox(&c, &a));
	free(b);
}

/* ---- quoted strings ---- */

Test(parse, quoted_escapes_unescaped_in_place)
{
	struct imap_cur	 c;
	struct imap_str	 a;
	char		*b = CUR(&c, "\"a\\\"b\\\\c\" rest");

	cr_assert(imap_string(&c, &a));
	ASSERT_STR(&a, "a\"b\\c");
	cr_assert(imap_sp(&c));
	cr_assert(imap_atom(&c, &a));
	ASSERT_STR(&a, "rest");
	free(b);
}

Test(parse, quoted_empty_and_8bit)
{
	struct imap_cur	 c;
	struct imap_str	 a;
	char		*b = CUR(&c, "\"\"");

	cr_assert(imap_string(&c, &a));
	cr_assert_eq(a.len, 0);
	cr_assert(imap_eol(&c));
	free(b);
	b = CUR(&c, "\"caf\xc3\xa9\"");
	cr_assert(imap_string(&c, &a));
	ASSERT_STR(&a, "caf\xc3\xa9");
	free(b);
}

Test(parse, quoted_bad)
{
	static const struct {
		const char	*in;
		size_t		 len;
		const char	*err;
	} cases[] = {
		{ "\"abc", 4, "Missing '\"'" },
		{ "\"abc\\", 5, "Missing '\"'" },
		{ "\"a\\nb\"", 6, "Invalid escape in quoted string" },
		{ "\"a\rb\"", 5, "Invalid character in quoted string" },
		{ "\"a\nb\"", 5, "Invalid character in quoted string" },
		{ "\"a\0b\"", 5, "Invalid character in quoted string" },
		{ "abc", 3, "Expected a string" },
		{ "", 0, "Missing argument" },
	};
	size_t	i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct imap_cur	 c;
		struct imap_str	 a;
		char		*b = cur(&c, cases[i].in, cases[i].len);

		cr_assert(!imap_string(&c, &a), "case %zu", i);
		cr_assert_str_eq(c.err, cases[i].err, "case %zu", i);
		free(b);
	}
}

/* ---- literals ---- */

Test(parse, literal_forms)
{
	struct imap_cur	 c;
	struct imap_str	 a;
	char		*b = CUR(&c, "{5}\r\nab\r\nc {2+}\r\nxy ~{3}\r\n\0\1\2 {0}\r\n");

	cr_assert(imap_string(&c, &a));
	ASSERT_STR(&a, "ab\r\nc");
	cr_assert(a.literal && !a.literal8);
	cr_assert(imap_sp(&c));
	cr_assert(imap_string(&c, &a));
	ASSERT_STR(&a, "xy");
	cr_assert(imap_sp(&c));
	cr_assert(imap_string(&c, &a));
	assert_str(&a, "\0\1\2", 3);
	cr_assert(a.literal && a.literal8);
	cr_assert(imap_sp(&c));
	cr_assert(imap_string(&c, &a));
	cr_assert_eq(a.len, 0);
	cr_assert(a.literal);
	cr_assert(imap_eol(&c));
	free(b);
}

Test(parse, literal_exactly_at_end)
{
	struct imap_cur	 c;
	struct imap_str	 a;
	char		*b = CUR(&c, "{3}\r\nabc");

	cr_assert(imap_string(&c, &a));
	ASSERT_STR(&a, "abc");
	cr_assert(imap_eol(&c));
	free(b);
}

Test(parse, literal_bad)
{
	static const struct {
		const char	*in;
		const char	*err;
	} cases[] = {
		{ "{4}\r\nabc", "Literal shorter than announced" },
		{ "{3}abc", "Invalid literal" },
		{ "{3}\rabc", "Invalid literal" },
		{ "{3}\nabc", "Invalid literal" },
		{ "{}\r\n", "Invalid literal size" },
		{ "{x}\r\n", "Invalid literal size" },
		{ "{3", "Invalid literal" },
		{ "{3++}\r\nabc", "Invalid literal" },
		{ "{-1}\r\n", "Invalid literal size" },
		{ "{9223372036854775808}\r\n", "Invalid literal size" },
		{ "{18446744073709551616}\r\n", "Invalid literal size" },
		{ "~{3\r\nabc", "Invalid literal" },
		/* '~' without '{' is an atom character, no literal8 */
		{ "~3}\r\nabc", "Expected a string" },
		{ "~", "Expected a string" },
	};
	size_t	i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct imap_cur	 c;
		struct imap_str	 a;
		char		*b = cur(&c, cases[i].in, strlen(cases[i].in));

		cr_assert(!imap_string(&c, &a), "case %zu", i);
		cr_assert_str_eq(c.err, cases[i].err, "case %zu: %s", i,
		    c.err);
		cr_assert_eq(c.p, b, "cursor left at the start");
		free(b);
	}
}

Test(parse, literal_max_size_announced)
{
	struct imap_cur	 c;
	struct imap_str	 a;
	char		*b = CUR(&c, "{9223372036854775807}\r\nab");

	cr_assert(!imap_string(&c, &a));
	cr_assert_str_eq(c.err, "Literal shorter than announced");
	free(b);
}

/* ---- nstring ---- */

Test(parse, nstring)
{
	struct imap_cur	 c;
	struct imap_str	 a;
	bool		 nil;
	char		*b = CUR(&c, "nil \"NIL\" NILX {1}\r\nN");

	cr_assert(imap_nstring(&c, &a, &nil));
	cr_assert(nil);
	cr_assert_null(a.s);
	cr_assert(imap_sp(&c));
	cr_assert(imap_nstring(&c, &a, &nil));
	cr_assert(!nil);
	ASSERT_STR(&a, "NIL");
	cr_assert(imap_sp(&c));
	cr_assert(!imap_nstring(&c, &a, &nil));
	cr_assert_str_eq(c.err, "Expected a string or NIL");
	cr_assert_eq(*c.p, 'N');
	c.p += 5;
	cr_assert(imap_nstring(&c, &a, &nil));
	cr_assert(!nil);
	ASSERT_STR(&a, "N");
	free(b);
}

/* ---- flags ---- */

Test(parse, flags)
{
	struct imap_cur	 c;
	struct imap_str	 a;
	char		*b = CUR(&c, "\\Seen $Junk \\* \\");

	cr_assert(imap_flag(&c, &a, false));
	ASSERT_STR(&a, "\\Seen");
	cr_assert(imap_sp(&c));
	cr_assert(imap_flag(&c, &a, false));
	ASSERT_STR(&a, "$Junk");
	cr_assert(imap_sp(&c));
	cr_assert(!imap_flag(&c, &a, false));
	cr_assert_str_eq(c.err, "Invalid flag");
	cr_assert(imap_flag(&c, &a, true));
	ASSERT_STR(&a, "\\*");
	cr_assert(imap_sp(&c));
	cr_assert(!imap_flag(&c, &a, true));
	cr_assert_str_eq(c.err, "Invalid flag");
	free(b);
	b = CUR(&c, "(");
	cr_assert(!imap_flag(&c, &a, false));
	free(b);
	b = CUR(&c, "");
	cr_assert(!imap_flag(&c, &a, false));
	cr_assert_str_eq(c.err, "Missing argument");
	free(b);
}

/* ---- numbers ---- */

Test(parse, number_bounds)
{
	struct imap_cur	 c;
	uint32_t	 v = 7;
	uint64_t	 w = 7;
	char		*b;

	b = CUR(&c, "4294967295");
	cr_assert(imap_number(&c, &v));
	cr_assert_eq(v, UINT32_MAX);
	cr_assert(imap_eol(&c));
	free(b);
	b = CUR(&c, "4294967296");
	v = 7;
	cr_assert(!imap_number(&c, &v));
	cr_assert_str_eq(c.err, "Number too big");
	cr_assert_eq(v, 7);
	cr_assert_eq(c.p, b);
	free(b);
	b = CUR(&c, "0 007");
	cr_assert(imap_number(&c, &v));
	cr_assert_eq(v, 0);
	cr_assert(imap_sp(&c));
	cr_assert(imap_number(&c, &v));
	cr_assert_eq(v, 7);
	free(b);
	b = CUR(&c, "-1");
	cr_assert(!imap_number(&c, &v));
	cr_assert_str_eq(c.err, "Expected a number");
	free(b);
	b = CUR(&c, "9223372036854775807");
	cr_assert(imap_number64(&c, &w));
	cr_assert_eq(w, INT64_MAX);
	free(b);
	b = CUR(&c, "9223372036854775808");
	cr_assert(!imap_number64(&c, &w));
	free(b);
	b = CUR(&c, "");
	cr_assert(!imap_number(&c, &v));
	cr_assert_str_eq(c.err, "Missing argument");
	free(b);
}

Test(parse, nz_number)
{
	struct imap_cur	 c;
	uint32_t	 v;
	char		*b;

	b = CUR(&c, "1");
	cr_assert(imap_nz_number(&c, &v));
	cr_assert_eq(v, 1);
	free(b);
	b = CUR(&c, "0");
	cr_assert(!imap_nz_number(&c, &v));
	cr_assert_str_eq(c.err, "Expected a non-zero number");
	free(b);
	b = CUR(&c, "01");
	cr_assert(!imap_nz_number(&c, &v));
	free(b);
	b = CUR(&c, "4294967295");
	cr_assert(imap_nz_number(&c, &v));
	cr_assert_eq(v, UINT32_MAX);
	free(b);
}

/* ---- sequence-set text ---- */

Test(parse, seqset_text)
{
	struct imap_cur	 c;
	struct imap_str	 a;
	char		*b = CUR(&c, "1:*,3 $ 2)");

	cr_assert(imap_seqset_text(&c, &a));
	ASSERT_STR(&a, "1:*,3");
	cr_assert(imap_sp(&c));
	cr_assert(imap_seqset_text(&c, &a));
	ASSERT_STR(&a, "$");
	cr_assert(imap_sp(&c));
	cr_assert(imap_seqset_text(&c, &a));
	ASSERT_STR(&a, "2");
	cr_assert(imap_peek(&c, ')'));
	free(b);
	b = CUR(&c, "1a");
	cr_assert(!imap_seqset_text(&c, &a));
	cr_assert_str_eq(c.err, "Invalid sequence set");
	cr_assert_eq(c.p, b);
	free(b);
	b = CUR(&c, "$1");
	cr_assert(!imap_seqset_text(&c, &a));
	free(b);
	b = CUR(&c, "x");
	cr_assert(!imap_seqset_text(&c, &a));
	free(b);
}

/* ---- dates ---- */

Test(parse, date)
{
	struct imap_cur	 c;
	time_t		 t;
	char		*b;

	b = CUR(&c, "1-Feb-1994 \"29-feb-2000\"");
	cr_assert(imap_date(&c, &t));
	cr_assert_eq(t, (time_t)760060800);
	cr_assert(imap_sp(&c));
	cr_assert(imap_date(&c, &t));
	cr_assert_eq(t, (time_t)951782400);
	cr_assert(imap_eol(&c));
	free(b);
}

Test(parse, date_bad)
{
	static const char *const bad[] = {
		"29-Feb-1900", "32-Jan-2000", "0-Jan-2000", "1-Foo-2000",
		"1-Jan-200", "\"1-Jan-2000", "1 Jan 2000", "123-Jan-2000",
		"", "1-Jan-0000",
	};
	size_t	i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct imap_cur	 c;
		time_t		 t;
		char		*b = cur(&c, bad[i], strlen(bad[i]));

		cr_assert(!imap_date(&c, &t), "%s", bad[i]);
		cr_assert_eq(c.p, b);
		free(b);
	}
}

Test(parse, datetime)
{
	struct imap_cur	 c;
	time_t		 t;
	char		*b;

	b = CUR(&c, "\"17-Jul-1996 02:44:25 -0700\"");
	cr_assert(imap_datetime(&c, &t));
	cr_assert_eq(t, (time_t)837596665);
	cr_assert(imap_eol(&c));
	free(b);
	b = CUR(&c, "\" 1-Jan-2000 00:00:00 +0100\"");
	cr_assert(imap_datetime(&c, &t));
	cr_assert_eq(t, (time_t)946681200);
	free(b);
}

Test(parse, datetime_bad)
{
	static const char *const bad[] = {
		"17-Jul-1996 02:44:25 -0700",
		"\"17-Jul-1996 02:44:25 -0700",
		"\"17-Jul-1996 24:00:00 +0000\"",
		"\"17-Jul-1996 02:60:00 +0000\"",
		"\"17-Jul-1996 02:44:25 0700\"",
		"\"17-Jul-1996 02:44:25 +07000\"",
		"\"17-Jul-1996 2:44:25 +0700\"",
		"\"17-Jul-1996 02:44:25 +0760\"",
		"\"31-Apr-1996 02:44:25 +0000\"",
		"\"",
		"",
	};
	size_t	i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct imap_cur	 c;
		time_t		 t;
		char		*b = cur(&c, bad[i], strlen(bad[i]));

		cr_assert(!imap_datetime(&c, &t), "%s", bad[i]);
		cr_assert_not_null(c.err);
		cr_assert_eq(c.p, b);
		free(b);
	}
}

/* ---- helpers ---- */

Test(parse, str_eq_and_copy)
{
	struct imap_str	 a = { "InBoX", 5, false, false };
	struct imap_str	 z = { "a\0b", 3, true, false };
	char		 buf[6];

	cr_assert(imap_str_eq(&a, "INBOX"));
	cr_assert(!imap_str_eq(&a, "INBOX2"));
	cr_assert(!imap_str_eq(&a, "INBO"));
	cr_assert(imap_str_copy(&a, buf, sizeof(buf)));
	cr_assert_str_eq(buf, "InBoX");
	cr_assert(!imap_str_copy(&a, buf, 5));
	cr_assert(!imap_str_copy(&z, buf, sizeof(buf)));
}

Test(parse, literal_tail)
{
	uint64_t	n;
	bool		ns, bin;

	cr_assert(imap_literal_tail("A LOGIN {5}", 11, &n, &ns, &bin));
	cr_assert_eq(n, 5);
	cr_assert(!ns && !bin);
	cr_assert(imap_literal_tail("A APPEND x {12+}", 16, &n, &ns, &bin));
	cr_assert_eq(n, 12);
	cr_assert(ns && !bin);
	cr_assert(imap_literal_tail("A APPEND x ~{3}", 15, &n, &ns, &bin));
	cr_assert(bin && !ns);
	cr_assert(imap_literal_tail("{0}", 3, &n, &ns, &bin));
	cr_assert_eq(n, 0);
	cr_assert(imap_literal_tail("A X {99999999999999999999999}", 29,
	    &n, &ns, &bin));
	cr_assert_eq(n, UINT64_MAX);
	cr_assert(!imap_literal_tail("A X {}", 6, &n, &ns, &bin));
	cr_assert(!imap_literal_tail("A X 5}", 6, &n, &ns, &bin));
	cr_assert(!imap_literal_tail("A X {5", 6, &n, &ns, &bin));
	cr_assert(!imap_literal_tail("A X {+}", 7, &n, &ns, &bin));
	cr_assert(!imap_literal_tail("}", 1, &n, &ns, &bin));
	cr_assert(!imap_literal_tail("", 0, &n, &ns, &bin));
}

/* ---- writers ---- */

static void
assert_out(struct str *o, const char *want)
{
	cr_assert_eq(o->len, strlen(want), "got \"%.*s\"", (int)o->len,
	    o->data);
	cr_assert(memcmp(o->data, want, o->len) == 0, "got \"%.*s\"",
	    (int)o->len, o->data);
	str_clear(o);
}

Test(parse, put_string)
{
	struct str	o;
	char		big[1025];

	str_init(&o, 0);
	cr_assert_eq(imap_put_string(&o, "a\"b\\c", 5, false), 0);
	assert_out(&o, "\"a\\\"b\\\\c\"");
	cr_assert_eq(imap_put_string(&o, "", 0, false), 0);
	assert_out(&o, "\"\"");
	cr_assert_eq(imap_put_string(&o, "a\r\nb", 4, false), 0);
	assert_out(&o, "{4}\r\na\r\nb");
	cr_assert_eq(imap_put_string(&o, "caf\xc3\xa9", 5, false), 0);
	assert_out(&o, "{5}\r\ncaf\xc3\xa9");
	cr_assert_eq(imap_put_string(&o, "caf\xc3\xa9", 5, true), 0);
	assert_out(&o, "\"caf\xc3\xa9\"");
	cr_assert_eq(imap_put_string(&o, "a\0b", 3, true), 0);
	cr_assert_eq(o.len, 8);
	cr_assert(memcmp(o.data, "{3}\r\na\0b", 8) == 0);
	str_clear(&o);
	memset(big, 'x', sizeof(big));
	cr_assert_eq(imap_put_string(&o, big, 1024, false), 0);
	cr_assert_eq(o.len, 1026);
	cr_assert_eq(o.data[0], '"');
	str_clear(&o);
	cr_assert_eq(imap_put_string(&o, big, 1025, false), 0);
	cr_assert_eq(o.len, 1025 + 8);
	cr_assert(memcmp(o.data, "{1025}\r\n", 8) == 0);
	str_release(&o);
}

Test(parse, put_string_bounded)
{
	struct str	o;

	str_init(&o, 4);
	cr_assert_eq(imap_put_string(&o, "abcdef", 6, false), -1);
	str_release(&o);
}

Test(parse, put_nstring_astring)
{
	struct str	o;

	str_init(&o, 0);
	cr_assert_eq(imap_put_nstring(&o, NULL, 0, false), 0);
	assert_out(&o, "NIL");
	cr_assert_eq(imap_put_nstring(&o, "x", 1, false), 0);
	assert_out(&o, "\"x\"");
	cr_assert_eq(imap_put_astring(&o, "INBOX", 5, false), 0);
	assert_out(&o, "INBOX");
	cr_assert_eq(imap_put_astring(&o, "a]b", 3, false), 0);
	assert_out(&o, "a]b");
	cr_assert_eq(imap_put_astring(&o, "nil", 3, false), 0);
	assert_out(&o, "\"nil\"");
	cr_assert_eq(imap_put_astring(&o, "", 0, false), 0);
	assert_out(&o, "\"\"");
	cr_assert_eq(imap_put_astring(&o, "a b", 3, false), 0);
	assert_out(&o, "\"a b\"");
	cr_assert_eq(imap_put_astring(&o, "a*", 2, false), 0);
	assert_out(&o, "\"a*\"");
	str_release(&o);
}

Test(parse, put_datetime)
{
	struct str	o;

	str_init(&o, 0);
	cr_assert_eq(imap_put_datetime(&o, (time_t)837596665), 0);
	assert_out(&o, "\"17-Jul-1996 09:44:25 +0000\"");
	cr_assert_eq(imap_put_datetime(&o, (time_t)0), 0);
	assert_out(&o, "\"01-Jan-1970 00:00:00 +0000\"");
	str_release(&o);
}

Test(parse, datetime_round_trip)
{
	struct str	 o;
	struct imap_cur	 c;
	time_t		 t;

	str_init(&o, 0);
	cr_assert_eq(imap_put_datetime(&o, (time_t)1700000000), 0);
	imap_cur_init(&c, o.data, o.len);
	cr_assert(imap_datetime(&c, &t));
	cr_assert_eq(t, (time_t)1700000000);
	str_release(&o);
}
