/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "rfc5321.h"

struct mb_case {
	char		 in[300];
	unsigned int	 flags;
	bool		 ok;
};

ParameterizedTestParameters(rfc5321, mailbox)
{
	static struct mb_case cases[] = {
		{ "alice@example.test", 0, true },
		{ "a.b+c@sub.example.test", 0, true },
		{ "\"a b\"@example.test", 0, true },
		{ "\"a\\\"b\"@example.test", 0, true },
		{ "\"a@b\"@example.test", 0, true },
		{ "user@[192.0.2.1]", 0, true },
		{ "user@[IPv6:2001:db8::1]", 0, true },
		{ "user@[IPv6:zz::1]", 0, false },
		{ "user@[300.1.1.1]", 0, false },
		{ "user@[192.0.2.1", 0, false },
		{ "a..b@example.test", 0, false },
		{ ".a@example.test", 0, false },
		{ "a.@example.test", 0, false },
		{ "a b@example.test", 0, false },
		{ "alice", 0, false },
		{ "alice@", 0, false },
		{ "@example.test", 0, false },
		{ "alice@-x.test", 0, false },
		{ "alice@x-.test", 0, false },
		{ "alice@x..test", 0, false },
		{ "alice@x_y.test", 0, false },
		{ "alice@localhost", 0, true },
		{ "jos\xc3\xa9@example.test", 0, false },
		{ "jos\xc3\xa9@example.test", RFC5321_UTF8, true },
		{ "user@\xc3\xa9xample.test", RFC5321_UTF8, true },
		{ "user@\xc3\xa9xample.test", 0, false },
		{ "\"a\x01\"@example.test", 0, false },
		/* RFC 6531: UTF-8 only as well-formed sequences */
		{ "j\xc3\xb6s@example.test", RFC5321_UTF8, true },
		{ "\xf0\x9f\x98\x80@example.test", RFC5321_UTF8, true },
		{ "\"j\xc3\xb6 s\"@example.test", RFC5321_UTF8, true },
		{ "\"j\xc3\xb6 s\"@example.test", 0, false },
		{ "user@b\xc3\xbc" "cher.example", RFC5321_UTF8, true },
		{ "j\x80s@example.test", RFC5321_UTF8, false },
		{ "j\xc3@example.test", RFC5321_UTF8, false },
		{ "j\xc0\xafs@example.test", RFC5321_UTF8, false },
		{ "j\xe0\x80\xafs@example.test", RFC5321_UTF8, false },
		{ "j\xed\xa0\x80s@example.test", RFC5321_UTF8, false },
		{ "j\xf4\x90\x80\x80s@example.test", RFC5321_UTF8, false },
		{ "j\xf8\x88\x80\x80\x80s@example.test", RFC5321_UTF8, false },
		{ "j\xc2\x85s@example.test", RFC5321_UTF8, false },
		{ "\"j\x80\"@example.test", RFC5321_UTF8, false },
		{ "user@b\xfc" "cher.example", RFC5321_UTF8, false },
		{ "user@b\xc3.example", RFC5321_UTF8, false },
		{ "user@\xc2\x9f.example", RFC5321_UTF8, false },
		/* local parts past 64 octets are taken (VERP, SRS; Postfix
		 * takes them): the path limit bounds them */
		{ "\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6"
		  "\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6"
		  "\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6"
		  "\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6"
		  "@x.test", RFC5321_UTF8, true },
		{ "a\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6"
		  "\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6"
		  "\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6"
		  "\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6\xc3\xb6"
		  "@x.test", RFC5321_UTF8, true },
		/* 65-octet local part */
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x.test", 0, true },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x.test", 0, true },
	};
	return cr_make_param_array(struct mb_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct mb_case *c, rfc5321, mailbox)
{
	cr_assert_eq(rfc5321_mailbox_valid(c->in, c->flags), c->ok,
	    "mailbox \"%s\"", c->in);
}

/* The whole mailbox fits a path of 256 with its brackets: 254 octets. */
Test(rfc5321, long_local_part_bounded_by_the_path)
{
	char	 mb[300];

	memset(mb, 'a', sizeof(mb));
	memcpy(mb + 254 - 7, "@x.test", 8);	/* 254 octets */
	cr_assert(rfc5321_mailbox_valid(mb, 0));
	memset(mb, 'a', sizeof(mb));
	memcpy(mb + 255 - 7, "@x.test", 8);	/* one over */
	cr_assert_not(rfc5321_mailbox_valid(mb, 0));
	memset(mb, 'a', sizeof(mb));
	memcpy(mb + 299 - 7, "@x.test", 8);	/* far over */
	cr_assert_not(rfc5321_mailbox_valid(mb, 0));
}

Test(rfc5321, long_domain_label)
{
	char	 d[300];

	memset(d, 'a', 64);
	memcpy(d + 64, ".test", 6);
	cr_assert_not(rfc5321_domain_valid(d, 0));
	cr_assert(rfc5321_domain_valid(d + 1, 0));	/* 63 octets */
}

struct utf8_case {
	char		 in[8];
	size_t		 len;
};

ParameterizedTestParameters(rfc5321, utf8_len)
{
	static struct utf8_case cases[] = {
		{ "\xc3\xb6", 2 }, { "\xc2\xa0", 2 }, { "\xdf\xbf", 2 },
		{ "\xe0\xa0\x80", 3 }, { "\xed\x9f\xbf", 3 },
		{ "\xee\x80\x80", 3 }, { "\xef\xbf\xbf", 3 },
		{ "\xf0\x90\x80\x80", 4 }, { "\xf4\x8f\xbf\xbf", 4 },
		{ "a", 0 }, { "", 0 }, { "\x80", 0 }, { "\xbf", 0 },
		{ "\xc0\x80", 0 }, { "\xc1\xbf", 0 },	/* overlong */
		{ "\xc2\x80", 0 }, { "\xc2\x9f", 0 },	/* C1 controls */
		{ "\xe0\x9f\xbf", 0 }, { "\xf0\x8f\xbf\xbf", 0 },
		{ "\xed\xa0\x80", 0 }, { "\xed\xbf\xbf", 0 },	/* surrogates */
		{ "\xf4\x90\x80\x80", 0 }, { "\xf5\x80\x80\x80", 0 },
		{ "\xff", 0 }, { "\xc3", 0 }, { "\xe2\x82", 0 },	/* cut short */
		{ "\xc3\xc3", 0 }, { "\xe2\x28\xa1", 0 },
	};
	return cr_make_param_array(struct utf8_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct utf8_case *c, rfc5321, utf8_len)
{
	cr_assert_eq(rfc5321_utf8_len(c->in), c->len, "\"%s\"", c->in);
}

struct path_case {
	char		 in[300];
	unsigned int	 flags;
	int		 rc;
	char		 out[300];
	char		 rest[64];
};

ParameterizedTestParameters(rfc5321, path)
{
	static struct path_case cases[] = {
		{ "<alice@example.test>", 0, 0, "alice@example.test", "" },
		{ "<alice@example.test> SIZE=100 BODY=8BITMIME", 0, 0,
		    "alice@example.test", "SIZE=100 BODY=8BITMIME" },
		{ "<>", RFC5321_NULL_OK, 0, "", "" },
		{ "<>", 0, -1, "", "" },
		{ "<> SIZE=5", RFC5321_NULL_OK, 0, "", "SIZE=5" },
		{ " <alice@example.test>", 0, -1, "", "" },
		{ " <alice@example.test>", RFC5321_LENIENT, 0, "alice@example.test", "" },
		{ "alice@example.test", 0, -1, "", "" },
		{ "alice@example.test", RFC5321_LENIENT, 0, "alice@example.test", "" },
		{ "<@relay.test,@r2.test:alice@example.test>", 0, 0, "alice@example.test", "" },
		{ "<\"a >b\"@example.test>", 0, 0, "\"a >b\"@example.test", "" },
		{ "<alice@example.test", 0, -1, "", "" },
		{ "<alice@example.test>x", 0, -1, "", "" },
		{ "<alice>", 0, -1, "", "" },
		{ "<alice@exa mple.test>", 0, -1, "", "" },
		{ "<@relay.test alice@example.test>", 0, -1, "", "" },
	};
	return cr_make_param_array(struct path_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct path_case *c, rfc5321, path)
{
	char		 out[RFC5321_PATH_MAX + 1];
	const char	*rest = NULL, *err = NULL;
	int		 rc;

	rc = rfc5321_parse_path(c->in, c->flags, out, sizeof(out), &rest, &err);
	cr_assert_eq(rc, c->rc, "path \"%s\": %s", c->in, err ? err : "ok");
	if (rc == 0) {
		cr_assert_str_eq(out, c->out);
		cr_assert_str_eq(rest, c->rest);
	} else
		cr_assert_not_null(err);
}

Test(rfc5321, path_too_long_and_small_out)
{
	char		 in[400], out[16];
	const char	*rest, *err;

	memset(in, 'a', sizeof(in));
	in[0] = '<';
	memcpy(in + 300, "@x.test>", 9);
	cr_assert_eq(rfc5321_parse_path(in, 0, out, sizeof(out), &rest, &err), -1);
	cr_assert_eq(rfc5321_parse_path("<alice@example.test>", 0, out,
	    sizeof(out), &rest, &err), -1);
	cr_assert_str_eq(err, "Address too long");
}

Test(rfc5321, eightbit_hint)
{
	char		 out[300];
	const char	*rest, *err;

	cr_assert_eq(rfc5321_parse_path("<jos\xc3\xa9@example.test>", 0, out,
	    sizeof(out), &rest, &err), -1);
	cr_assert_str_eq(err, "Address contains 8-bit characters; use SMTPUTF8");
	cr_assert_eq(rfc5321_parse_path("<jos\xc3\xa9@example.test>",
	    RFC5321_UTF8, out, sizeof(out), &rest, &err), 0);
}

Test(rfc5321, split_and_unquote)
{
	char	 l[80], d[80], u[80];

	cr_assert_eq(rfc5321_split("\"a@b\"@example.test", l, sizeof(l), d,
	    sizeof(d)), 0);
	cr_assert_str_eq(l, "\"a@b\"");
	cr_assert_str_eq(d, "example.test");
	cr_assert_eq(rfc5321_unquote_local(l, u, sizeof(u)), 0);
	cr_assert_str_eq(u, "a@b");
	cr_assert_eq(rfc5321_unquote_local("\"a\\\"b\"", u, sizeof(u)), 0);
	cr_assert_str_eq(u, "a\"b");
	cr_assert_eq(rfc5321_split("nodomain", l, sizeof(l), d, sizeof(d)), -1);
	cr_assert_eq(rfc5321_unquote_local("\"abcdef\"", u, 3), -1);
}
