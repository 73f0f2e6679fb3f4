/* SPDX-License-Identifier: MIT */
#include "config.h"

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
		/* 65-octet local part */
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x.test", 0, false },
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

Test(rfc5321, long_domain_label)
{
	char	 d[300];

	memset(d, 'a', 64);
	memcpy(d + 64, ".test", 6);
	cr_assert_not(rfc5321_domain_valid(d, 0));
	cr_assert(rfc5321_domain_valid(d + 1, 0));	/* 63 octets */
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
