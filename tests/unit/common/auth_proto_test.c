/* SPDX-License-Identifier: MIT */

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "auth_proto.h"
#include "base64.h"
#include "str.h"

static char	 line[8 * AUTH_PROTO_LINE_MAX];

static const char *
b64(const char *s)
{
	static char	 out[4096];

	cr_assert_eq(base64_encode(s, strlen(s), out, sizeof(out), NULL), 0);
	return out;
}

static char *
rep(char c, size_t n)
{
	static char	 buf[4][4096];
	static int	 i;
	char		*b = buf[i++ % 4];

	cr_assert_lt(n, sizeof(buf[0]));
	memset(b, c, n);
	b[n] = '\0';
	return b;
}

/* Parse a PASS line built from its fields: rc, and the id kept. */
static int
pass(const char *id, const char *svc, const char *ip, const char *acct,
    const char *pw64, struct auth_proto_req *req)
{
	cr_assert(str_printf(line, sizeof(line), "PASS\t%s\t%s\t%s\t%s\t%s",
	    id, svc, ip, acct, pw64));
	return auth_proto_req_parse(line, strlen(line), req);
}

static int
apop(const char *ts, const char *digest, struct auth_proto_req *req)
{
	cr_assert(str_printf(line, sizeof(line),
	    "APOP\t7\tpop3\t192.0.2.1\talice@example.org\t%s\t%s", ts,
	    digest));
	return auth_proto_req_parse(line, strlen(line), req);
}

#define DIGEST	"0123456789abcdef0123456789ABCDEF"

Test(auth_proto, pass_parses)
{
	struct auth_proto_req	 req;

	cr_assert_eq(pass("42", "smtp", "2001:db8::1", "alice@example.org",
	    b64("pass word\twith tab"), &req), 0);
	cr_assert_eq(req.cmd, AUTH_PROTO_PASS);
	cr_assert_eq(req.id, 42);
	cr_assert_str_eq(req.service, "smtp");
	cr_assert_str_eq(req.ip, "2001:db8::1");
	cr_assert_str_eq(req.account, "alice@example.org");
	cr_assert_str_eq(req.password, "pass word\twith tab");
	/* empty ip: unknown */
	cr_assert_eq(pass("1", "pop3", "", "bob", b64("x"), &req), 0);
	cr_assert_str_eq(req.ip, "");
}

Test(auth_proto, apop_parses)
{
	struct auth_proto_req	 req;

	cr_assert_eq(apop("<1.2@host>", DIGEST, &req), 0);
	cr_assert_eq(req.cmd, AUTH_PROTO_APOP);
	cr_assert_eq(req.id, 7);
	cr_assert_str_eq(req.timestamp, "<1.2@host>");
	cr_assert_str_eq(req.digest, DIGEST);
}

Test(auth_proto, id_bounds)
{
	struct auth_proto_req	 req;
	const char		*pw = b64("pw");

	cr_assert_eq(pass("4294967295", "smtp", "", "a", pw, &req), 0);
	cr_assert_eq(req.id, 4294967295u);
	/* bad ids: nothing to answer to */
	static const char *const bad[] = { "4294967296", "0", "007", "-1",
	    "+1", " 1", "1x", "", "99999999999999999999" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(pass(bad[i], "smtp", "", "a", pw, &req), -1,
		    "id \"%s\"", bad[i]);
		cr_assert_eq(req.id, 0, "id \"%s\"", bad[i]);
	}
}

/* A field at its limit passes, one over, far over and missing fail with
 * the id kept (the server answers "FAIL id invalid"). */
Test(auth_proto, field_limits)
{
	struct auth_proto_req	 req;
	const char		*pw = b64("pw");
	char			 pwmax[AUTH_PASS_MAX + 2];
	char			 b[4096];

	cr_assert_eq(pass("9", rep('s', AUTH_PROTO_SERVICE_MAX), "", "a", pw,
	    &req), 0);
	cr_assert_eq(pass("9", rep('s', AUTH_PROTO_SERVICE_MAX + 1), "", "a",
	    pw, &req), -1);
	cr_assert_eq(req.id, 9);
	cr_assert_eq(pass("9", rep('s', 1000), "", "a", pw, &req), -1);
	cr_assert_eq(pass("9", "", "", "a", pw, &req), -1);
	cr_assert_eq(req.id, 9);
	cr_assert_eq(pass("9", "SMTP", "", "a", pw, &req), -1);

	cr_assert_eq(pass("9", "smtp", rep('1', AUTH_PROTO_IP_MAX), "a", pw,
	    &req), 0);
	cr_assert_eq(pass("9", "smtp", rep('1', AUTH_PROTO_IP_MAX + 1), "a",
	    pw, &req), -1);
	cr_assert_eq(pass("9", "smtp", rep('1', 2000), "a", pw, &req), -1);
	cr_assert_eq(pass("9", "smtp", "192.0.2.1 ", "a", pw, &req), -1);

	cr_assert_eq(pass("9", "smtp", "", rep('a', AUTH_PROTO_ACCOUNT_MAX),
	    pw, &req), 0);
	cr_assert_eq(pass("9", "smtp", "", rep('a', AUTH_PROTO_ACCOUNT_MAX +
	    1), pw, &req), -1);
	cr_assert_eq(req.id, 9);
	cr_assert_eq(pass("9", "smtp", "", rep('a', 1500), pw, &req), -1);
	cr_assert_eq(pass("9", "smtp", "", "", pw, &req), -1);
	cr_assert_eq(pass("9", "smtp", "", "a\001b", pw, &req), -1);

	memset(pwmax, 'p', AUTH_PASS_MAX);
	pwmax[AUTH_PASS_MAX] = '\0';
	(void)str_copy(b, b64(pwmax), sizeof(b));
	cr_assert_eq(pass("9", "smtp", "", "a", b, &req), 0);
	cr_assert_eq(strlen(req.password), AUTH_PASS_MAX);
	pwmax[AUTH_PASS_MAX] = 'p';
	pwmax[AUTH_PASS_MAX + 1] = '\0';
	(void)str_copy(b, b64(pwmax), sizeof(b));
	cr_assert_eq(pass("9", "smtp", "", "a", b, &req), -1);
	cr_assert_eq(req.id, 9);
	cr_assert_eq(pass("9", "smtp", "", "a", rep('Q', 3000), &req), -1);
	cr_assert_eq(pass("9", "smtp", "", "a", "", &req), -1);
}

Test(auth_proto, bad_base64)
{
	struct auth_proto_req	 req;

	cr_assert_eq(pass("3", "smtp", "", "a", "cGF3", &req), 0);
	static const char *const bad[] = { "cGF", "cGF3=", "c*F3", "cG F3",
	    "AGFi" /* "\0ab": a NUL inside */, "====" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(pass("3", "smtp", "", "a", bad[i], &req), -1,
		    "b64 \"%s\"", bad[i]);
		cr_assert_eq(req.id, 3);
		cr_assert_eq(req.password[0], '\0');
	}
}

Test(auth_proto, apop_limits)
{
	struct auth_proto_req	 req;

	cr_assert_eq(apop(rep('t', AUTH_PROTO_TIMESTAMP_MAX), DIGEST, &req), 0);
	cr_assert_eq(apop(rep('t', AUTH_PROTO_TIMESTAMP_MAX + 1), DIGEST,
	    &req), -1);
	cr_assert_eq(req.id, 7);
	cr_assert_eq(apop(rep('t', 1800), DIGEST, &req), -1);
	cr_assert_eq(apop("", DIGEST, &req), -1);
	cr_assert_eq(apop("<a\001>", DIGEST, &req), -1);
	cr_assert_eq(apop("<a>", DIGEST "0", &req), -1);
	cr_assert_eq(apop("<a>", "0123456789abcdef0123456789abcde", &req), -1);
	cr_assert_eq(apop("<a>", "0123456789abcdef0123456789abcdeg", &req), -1);
	cr_assert_eq(apop("<a>", "", &req), -1);
}

Test(auth_proto, field_count_and_command)
{
	struct auth_proto_req	 req;
	static const char *const bad_id[] = {
		"PASS\t5\tsmtp\t\ta",			/* password missing */
		"PASS\t5\tsmtp\t\ta\tcHc=\textra",	/* one too many */
		"APOP\t5\tpop3\t\ta\t<x>",		/* digest missing */
		"APOP\t5\tpop3\t\ta\t<x>\t" DIGEST "\tx",
		"PASS\t5",
	};
	static const char *const no_id[] = {
		"", "PASS", "pass\t5\tsmtp\t\ta\tcHc=", "NOOP\t5",
		"PASS 5 smtp - a cHc=", "\t5",
	};

	for (size_t i = 0; i < sizeof(bad_id) / sizeof(bad_id[0]); i++) {
		cr_assert_eq(auth_proto_req_parse(bad_id[i],
		    strlen(bad_id[i]), &req), -1, "%s", bad_id[i]);
		cr_assert_eq(req.id, 5, "%s", bad_id[i]);
	}
	for (size_t i = 0; i < sizeof(no_id) / sizeof(no_id[0]); i++) {
		cr_assert_eq(auth_proto_req_parse(no_id[i], strlen(no_id[i]),
		    &req), -1, "%s", no_id[i]);
		cr_assert_eq(req.id, 0, "%s", no_id[i]);
	}
	/* a line at the protocol's limit is refused whole */
	memset(line, 'A', AUTH_PROTO_LINE_MAX);
	memcpy(line, "PASS\t5\t", 7);
	cr_assert_eq(auth_proto_req_parse(line, AUTH_PROTO_LINE_MAX, &req), -1);
	cr_assert_eq(req.id, 0);
}

Test(auth_proto, request_round_trip)
{
	struct auth_proto_req	 in, out;
	struct str		 s;

	memset(&in, 0, sizeof(in));
	in.cmd = AUTH_PROTO_PASS;
	in.id = 12;
	(void)str_copy(in.service, "pop3", sizeof(in.service));
	(void)str_copy(in.ip, "127.0.0.1", sizeof(in.ip));
	(void)str_copy(in.account, "b\xc3\xa9@example.org", sizeof(in.account));
	(void)str_copy(in.password, "s\xc3\xa9 cr\tet", sizeof(in.password));
	str_init(&s, 0);
	cr_assert_eq(auth_proto_req_format(&in, &s), 0);
	cr_assert_eq(s.data[s.len - 1], '\n');
	cr_assert_eq(auth_proto_req_parse(s.data, s.len - 1, &out), 0);
	cr_assert_str_eq(out.password, in.password);
	cr_assert_str_eq(out.account, in.account);
	/* formatter refuses what the parser would */
	str_clear(&s);
	in.account[0] = '\0';
	cr_assert_eq(auth_proto_req_format(&in, &s), -1);
	cr_assert_eq(s.len, 0);
	(void)str_copy(in.account, "a\tb", sizeof(in.account));
	cr_assert_eq(auth_proto_req_format(&in, &s), -1);
	(void)str_copy(in.account, "a", sizeof(in.account));
	in.password[0] = '\0';
	cr_assert_eq(auth_proto_req_format(&in, &s), -1);
	in.id = 0;
	(void)str_copy(in.password, "x", sizeof(in.password));
	cr_assert_eq(auth_proto_req_format(&in, &s), -1);
	in.id = 1;
	in.cmd = AUTH_PROTO_APOP;
	(void)str_copy(in.timestamp, "<1@h>", sizeof(in.timestamp));
	(void)str_copy(in.digest, "abc", sizeof(in.digest));
	cr_assert_eq(auth_proto_req_format(&in, &s), -1);
	(void)str_copy(in.digest, DIGEST, sizeof(in.digest));
	cr_assert_eq(auth_proto_req_format(&in, &s), 0);
	cr_assert_str_eq(s.data,
	    "APOP\t1\tpop3\t127.0.0.1\ta\t<1@h>\t" DIGEST "\n");
	str_release_secret(&s);
}

Test(auth_proto, replies)
{
	struct auth_proto_reply	 r;
	struct str		 s;

	str_init(&s, 0);
	cr_assert_eq(auth_proto_reply_format(AUTH_PROTO_OK, 3,
	    "alice@example.org", &s), 0);
	cr_assert_eq(auth_proto_reply_format(AUTH_PROTO_FAIL, 4, "auth", &s),
	    0);
	cr_assert_eq(auth_proto_reply_format(AUTH_PROTO_TEMP, 5, "throttled",
	    &s), 0);
	cr_assert_str_eq(s.data, "OK\t3\talice@example.org\nFAIL\t4\tauth\n"
	    "TEMP\t5\tthrottled\n");
	cr_assert_eq(auth_proto_reply_format(AUTH_PROTO_FAIL, 0, "auth", &s),
	    -1);
	cr_assert_eq(auth_proto_reply_format(AUTH_PROTO_FAIL, 1, "Bad", &s),
	    -1);
	cr_assert_eq(auth_proto_reply_format(AUTH_PROTO_FAIL, 1,
	    rep('a', AUTH_PROTO_REASON_MAX + 1), &s), -1);
	cr_assert_eq(auth_proto_reply_format(AUTH_PROTO_OK, 1, "", &s), -1);
	str_release(&s);

	cr_assert_eq(auth_proto_reply_parse("OK\t3\ta@b", 8, &r), 0);
	cr_assert_eq(r.status, AUTH_PROTO_OK);
	cr_assert_eq(r.id, 3);
	cr_assert_str_eq(r.text, "a@b");
	cr_assert_eq(auth_proto_reply_parse("TEMP\t9\tlookup", 13, &r), 0);
	cr_assert_eq(r.status, AUTH_PROTO_TEMP);
	static const char *const bad[] = { "OK\t3", "OK\t3\t", "OK\t0\ta",
	    "NO\t3\ta", "FAIL\t3\tAuth", "FAIL\t3\tauth\tx", "ok\t3\ta", "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(auth_proto_reply_parse(bad[i], strlen(bad[i]), &r),
		    -1, "%s", bad[i]);
	cr_assert_eq(auth_proto_reply_parse("FAIL\t1\t",
	    7, &r), -1);
	cr_assert(str_printf(line, sizeof(line), "FAIL\t1\t%s",
	    rep('a', AUTH_PROTO_REASON_MAX)));
	cr_assert_eq(auth_proto_reply_parse(line, strlen(line), &r), 0);
	cr_assert(str_printf(line, sizeof(line), "FAIL\t1\t%s",
	    rep('a', AUTH_PROTO_REASON_MAX + 1)));
	cr_assert_eq(auth_proto_reply_parse(line, strlen(line), &r), -1);
}

Test(auth_proto, version)
{
	struct str	 s;

	str_init(&s, 0);
	cr_assert_eq(auth_proto_version_format(&s), 0);
	cr_assert_str_eq(s.data, "VERSION\t1\n");
	cr_assert(auth_proto_version_ok(s.data, s.len - 1));
	cr_assert(auth_proto_version_ok("VERSION\t1\t3", 11));
	cr_assert(!auth_proto_version_ok("VERSION\t2", 9));
	cr_assert(!auth_proto_version_ok("VERSION\t01x", 11));
	cr_assert(!auth_proto_version_ok("VERSION", 7));
	cr_assert(!auth_proto_version_ok("OK\t1\ta", 6));
	str_release(&s);
}
