/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "auth.h"
#include "base64.h"

/* base64 of len bytes (which may hold NULs) into a static buffer. */
static const char *
b64(const char *s, size_t len)
{
	static char	 out[8192];

	cr_assert_eq(base64_encode(s, len, out, sizeof(out), NULL), 0);
	return out;
}

Test(auth_sasl, mech_names)
{
	enum auth_sasl_mech m;

	cr_assert_eq(auth_sasl_mech_parse("plain", &m), 0);
	cr_assert_eq(m, AUTH_SASL_PLAIN);
	cr_assert_eq(auth_sasl_mech_parse("LOGIN", &m), 0);
	cr_assert_eq(m, AUTH_SASL_LOGIN);
	cr_assert_eq(auth_sasl_mech_parse("CRAM-MD5", &m), -1);
	cr_assert_eq(auth_sasl_mech_parse("", &m), -1);
	cr_assert_str_eq(AUTH_SASL_MECHS, "PLAIN LOGIN");
}

Test(auth_sasl, plain_initial_response)
{
	struct auth_sasl s;
	const char	*ch;

	cr_assert_eq(auth_sasl_begin(&s, AUTH_SASL_PLAIN,
	    b64("\0alice@example.test\0pw d", 24), &ch), AUTH_SASL_DONE);
	cr_assert_str_eq(s.authcid, "alice@example.test");
	cr_assert_str_eq(s.passwd, "pw d");
	cr_assert_str_eq(s.authzid, "");
	auth_sasl_release(&s);
	cr_assert_eq(s.passwd[0], '\0');
}

Test(auth_sasl, plain_after_empty_challenge)
{
	struct auth_sasl s;
	const char	*ch = NULL, *r;

	cr_assert_eq(auth_sasl_begin(&s, AUTH_SASL_PLAIN, NULL, &ch),
	    AUTH_SASL_CONTINUE);
	cr_assert_str_eq(ch, "");
	/* authzid equal to authcid is allowed (RFC 4616 section 2). */
	r = b64("bob\0bob\0x", 9);
	cr_assert_eq(auth_sasl_step(&s, r, strlen(r), &ch), AUTH_SASL_DONE);
	cr_assert_str_eq(s.authcid, "bob");
	cr_assert_str_eq(s.authzid, "bob");
	cr_assert_str_eq(s.passwd, "x");
	auth_sasl_release(&s);
}

struct plain_bad {
	char	 raw[48];
	size_t	 len;
	char	 why[48];
};

ParameterizedTestParameters(auth_sasl, plain_rejects)
{
	static struct plain_bad cases[] = {
		{ "alice pw", 8, "missing NUL" },
		{ "\0alice pw", 9, "missing NUL" },
		{ "\0alice\0pw\0", 10, "extra NUL" },
		{ "\0\0pw", 4, "empty field" },
		{ "\0alice\0", 7, "empty field" },
		{ "mallory\0alice\0pw", 16, "not permitted" },
		{ "", 0, "missing NUL" },
	};
	return cr_make_param_array(struct plain_bad, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct plain_bad *c, auth_sasl, plain_rejects)
{
	struct auth_sasl s;
	const char	*ch;
	const char	*in = c->len == 0 ? "=" : b64(c->raw, c->len);

	cr_assert_eq(auth_sasl_begin(&s, AUTH_SASL_PLAIN, in, &ch),
	    AUTH_SASL_BAD);
	cr_assert(strstr(s.error, c->why) != NULL, "%s", s.error);
	cr_assert_eq(s.passwd[0], '\0');
	auth_sasl_release(&s);
}

Test(auth_sasl, bad_base64)
{
	struct auth_sasl s;
	const char	*ch;

	cr_assert_eq(auth_sasl_begin(&s, AUTH_SASL_PLAIN, "AGFsaWNlAHB3!",
	    &ch), AUTH_SASL_BAD);
	cr_assert_str_eq(s.error, "invalid base64 data");
	cr_assert_eq(auth_sasl_begin(&s, AUTH_SASL_PLAIN, NULL, &ch),
	    AUTH_SASL_CONTINUE);
	cr_assert_eq(auth_sasl_step(&s, "AGFsaWNlAHB3", 11, &ch),
	    AUTH_SASL_BAD);
	cr_assert_eq(auth_sasl_begin(&s, AUTH_SASL_LOGIN, NULL, &ch),
	    AUTH_SASL_CONTINUE);
	cr_assert_eq(auth_sasl_step(&s, "YWxp Y2U=", 9, &ch), AUTH_SASL_BAD);
	/* An empty line is no PLAIN response. */
	cr_assert_eq(auth_sasl_begin(&s, AUTH_SASL_PLAIN, NULL, &ch),
	    AUTH_SASL_CONTINUE);
	cr_assert_eq(auth_sasl_step(&s, "", 0, &ch), AUTH_SASL_BAD);
}

Test(auth_sasl, oversize)
{
	struct auth_sasl s;
	static char	 big[AUTH_SASL_LINE_MAX + 5];
	static char	 raw[2048];
	const char	*ch, *r;

	memset(big, 'A', sizeof(big) - 1);
	cr_assert_eq(auth_sasl_begin(&s, AUTH_SASL_PLAIN, NULL, &ch),
	    AUTH_SASL_CONTINUE);
	cr_assert_eq(auth_sasl_step(&s, big, strlen(big), &ch), AUTH_SASL_BAD);
	cr_assert_str_eq(s.error, "response too long");
	/* Within the line limit but a field too long. */
	memset(raw, 'p', sizeof(raw));
	raw[0] = '\0';
	memcpy(raw + 1, "al\0", 3);
	r = b64(raw, sizeof(raw));
	cr_assert_eq(auth_sasl_begin(&s, AUTH_SASL_PLAIN, r, &ch),
	    AUTH_SASL_BAD);
	cr_assert(strstr(s.error, "too long") != NULL, "%s", s.error);
}

Test(auth_sasl, cancel)
{
	struct auth_sasl s;
	const char	*ch;

	cr_assert_eq(auth_sasl_begin(&s, AUTH_SASL_LOGIN, NULL, &ch),
	    AUTH_SASL_CONTINUE);
	cr_assert_eq(auth_sasl_step(&s, "*", 1, &ch), AUTH_SASL_CANCELLED);
	cr_assert_eq(auth_sasl_begin(&s, AUTH_SASL_PLAIN, "*", &ch),
	    AUTH_SASL_CANCELLED);
}

Test(auth_sasl, login_exchange)
{
	struct auth_sasl s;
	const char	*ch;

	cr_assert_eq(auth_sasl_begin(&s, AUTH_SASL_LOGIN, NULL, &ch),
	    AUTH_SASL_CONTINUE);
	cr_assert_str_eq(ch, "VXNlcm5hbWU6");
	cr_assert_eq(auth_sasl_step(&s, "YWxpY2U=", 8, &ch),
	    AUTH_SASL_CONTINUE);
	cr_assert_str_eq(ch, "UGFzc3dvcmQ6");
	cr_assert_str_eq(s.authcid, "alice");
	cr_assert_eq(auth_sasl_step(&s, "c2VjcmV0", 8, &ch), AUTH_SASL_DONE);
	cr_assert_str_eq(s.passwd, "secret");
	/* Nothing more after DONE. */
	cr_assert_eq(auth_sasl_step(&s, "c2VjcmV0", 8, &ch), AUTH_SASL_BAD);
	auth_sasl_release(&s);
}

Test(auth_sasl, login_initial_response_and_errors)
{
	struct auth_sasl s;
	const char	*ch;

	cr_assert_eq(auth_sasl_begin(&s, AUTH_SASL_LOGIN, "YWxpY2U=", &ch),
	    AUTH_SASL_CONTINUE);
	cr_assert_str_eq(ch, "UGFzc3dvcmQ6");
	cr_assert_str_eq(s.authcid, "alice");
	/* A NUL inside the password is malformed. */
	cr_assert_eq(auth_sasl_step(&s, "YQBi", 4, &ch), AUTH_SASL_BAD);
	/* An empty user name ("=" initial response, or an empty line). */
	cr_assert_eq(auth_sasl_begin(&s, AUTH_SASL_LOGIN, "=", &ch),
	    AUTH_SASL_BAD);
	cr_assert_eq(auth_sasl_begin(&s, AUTH_SASL_LOGIN, NULL, &ch),
	    AUTH_SASL_CONTINUE);
	cr_assert_eq(auth_sasl_step(&s, "", 0, &ch), AUTH_SASL_BAD);
	auth_sasl_release(&s);
}
