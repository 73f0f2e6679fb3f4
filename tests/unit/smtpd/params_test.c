/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "params.h"

static const struct params_offer offer = { true, true, 1000 };
static const struct params_offer offer_min = { false, false, 0 };

struct mail_case {
	char	 in[200];
	int	 rc;
	int	 code;		/* reply code on error */
};

ParameterizedTestParameters(params, mail)
{
	static struct mail_case cases[] = {
		{ "", 0, 0 },
		{ "SIZE=1000", 0, 0 },
		{ "SIZE=1001", -1, 552 },
		{ "SIZE=", -1, 501 },
		{ "SIZE=-1", -1, 501 },
		{ "SIZE=99999999999999999999999", -1, 501 },
		{ "SIZE=10 SIZE=10", -1, 501 },
		{ "BODY=8BITMIME", 0, 0 },
		{ "body=7bit", 0, 0 },
		{ "BODY=BINARYMIME", -1, 555 },
		{ "BODY=9BIT", -1, 501 },
		{ "SMTPUTF8", 0, 0 },
		{ "SMTPUTF8=yes", -1, 501 },
		{ "RET=FULL ENVID=QQ314159", 0, 0 },
		{ "RET=HDRS", 0, 0 },
		{ "RET=SOME", -1, 501 },
		{ "ENVID=a=b", -1, 501 },
		{ "ENVID=a+2Bb", 0, 0 },
		{ "ENVID=a+2", -1, 501 },
		{ "AUTH=<>", 0, 0 },
		{ "AUTH=alice+40example.test", 0, 0 },
		{ "FOO=bar", -1, 555 },
		{ "  SIZE=5   BODY=8BITMIME  ", 0, 0 },
	};
	return cr_make_param_array(struct mail_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct mail_case *c, params, mail)
{
	struct mail_params	 p;
	struct fail		 f;
	char			 buf[200];

	memcpy(buf, c->in, sizeof(buf));
	cr_assert_eq(params_mail(buf, &offer, &p, &f), c->rc, "\"%s\"", c->in);
	if (c->rc == -1)
		cr_assert_eq(params_reply_code(&f), c->code, "\"%s\": %d %s",
		    c->in, params_reply_code(&f), f.text);
}

Test(params, mail_values)
{
	struct mail_params	 p;
	struct fail		 f;
	char			 buf[] = "size=42 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=x1";

	cr_assert_eq(params_mail(buf, &offer, &p, &f), 0);
	cr_assert_eq(p.size, 42);
	cr_assert_eq(p.body, MAIL_BODY_8BITMIME);
	cr_assert(p.smtputf8);
	cr_assert_eq(p.ret, MAIL_RET_HDRS);
	cr_assert_str_eq(p.envid, "x1");
}

Test(params, not_offered_is_unknown)
{
	struct mail_params	 p;
	struct rcpt_params	 r;
	struct fail		 f;
	char			 a[] = "RET=FULL", b[] = "SMTPUTF8", c[] = "NOTIFY=NEVER";
	char			 d[] = "SIZE=999999999";

	cr_assert_eq(params_mail(a, &offer_min, &p, &f), -1);
	cr_assert_eq(params_reply_code(&f), 555);
	cr_assert_eq(params_mail(b, &offer_min, &p, &f), -1);
	cr_assert_eq(params_reply_code(&f), 555);
	cr_assert_eq(params_rcpt(c, &offer_min, &r, &f), -1);
	cr_assert_eq(params_reply_code(&f), 555);
	cr_assert_eq(params_mail(d, &offer_min, &p, &f), 0);	/* no limit */
}

struct rcpt_case {
	char		 in[200];
	int		 rc;
	unsigned int	 notify;
};

ParameterizedTestParameters(params, rcpt)
{
	static struct rcpt_case cases[] = {
		{ "", 0, 0 },
		{ "NOTIFY=NEVER", 0, NOTIFY_NEVER },
		{ "NOTIFY=SUCCESS,FAILURE", 0, NOTIFY_SUCCESS | NOTIFY_FAILURE },
		{ "notify=delay,failure,success", 0,
		    NOTIFY_SUCCESS | NOTIFY_FAILURE | NOTIFY_DELAY },
		{ "NOTIFY=NEVER,SUCCESS", -1, 0 },
		{ "NOTIFY=", -1, 0 },
		{ "NOTIFY=SOMETIMES", -1, 0 },
		{ "NOTIFY=SUCCESS NOTIFY=FAILURE", -1, 0 },
		{ "ORCPT=rfc822;alice@example.test", 0, 0 },
		{ "ORCPT=rfc822;a+2Bb@example.test NOTIFY=FAILURE", 0, NOTIFY_FAILURE },
		{ "ORCPT=alice@example.test", -1, 0 },
		{ "ORCPT=;x", -1, 0 },
		{ "ORCPT=rfc822;", -1, 0 },
		{ "ORCPT=rfc822;a=b", -1, 0 },
		{ "FOO", -1, 0 },
	};
	return cr_make_param_array(struct rcpt_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct rcpt_case *c, params, rcpt)
{
	struct rcpt_params	 p;
	struct fail		 f;
	char			 buf[200];

	memcpy(buf, c->in, sizeof(buf));
	cr_assert_eq(params_rcpt(buf, &offer, &p, &f), c->rc, "\"%s\"", c->in);
	if (c->rc == 0)
		cr_assert_eq(p.notify, c->notify);
}

Test(params, xtext)
{
	cr_assert(params_xtext_valid("abc+2B+3D"));
	cr_assert_not(params_xtext_valid("a b"));
	cr_assert_not(params_xtext_valid("a+zz"));
	cr_assert_not(params_xtext_valid("a\x80"));
	cr_assert(params_xtext_valid(""));
}
