/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "spf.h"
#include "str.h"

#define CLIENT	"192.0.2.10"

static struct dns *
spf_dns(void)
{
	struct dns_conf	 conf = { 0 };
	struct str	 errs;
	struct dns	*d;
	char		 path[4096];
	const char	*top = getenv("BUZON_TOP_SRCDIR");

	cr_assert(str_printf(path, sizeof(path), "%s/tests/data/spf/spf.zone",
	    top != NULL ? top : "."));
	str_init(&errs, 0);
	conf.local_data = path;
	d = dns_new(&conf, &errs);
	cr_assert_not_null(d, "dns_new: %s", str_c(&errs));
	str_release(&errs);
	return d;
}

static void
check(struct dns *d, const char *ip, const char *helo, const char *from,
    struct spf_answer *ans)
{
	struct spf_eval		*ev = spf_eval_new(d, "mx.buzon.test");
	struct spf_request	 req;

	memset(&req, 0, sizeof(req));
	cr_assert(str_copy(req.ip, ip, sizeof(req.ip)));
	cr_assert(str_copy(req.helo, helo, sizeof(req.helo)));
	cr_assert(str_copy(req.from, from, sizeof(req.from)));
	spf_eval_check(ev, &req, ans);
	spf_eval_free(&ev);
	cr_assert_null(ev);
}

struct eval_case {
	char		ip[48];
	char		helo[32];
	char		from[160];
	enum spf_result	want;
};

ParameterizedTestParameters(spf, results)
{
	static struct eval_case cases[] = {
		{ CLIENT, "c.test", "user@pass.test", SPF_RES_PASS },
		{ CLIENT, "c.test", "user@PASS.TEST", SPF_RES_PASS },
		{ "::ffff:192.0.2.10", "c.test", "user@pass.test",
		    SPF_RES_PASS },
		{ CLIENT, "c.test", "user@fail.test", SPF_RES_FAIL },
		{ CLIENT, "c.test", "user@softfail.test", SPF_RES_SOFTFAIL },
		{ CLIENT, "c.test", "user@neutral.test", SPF_RES_NEUTRAL },
		{ CLIENT, "c.test", "user@none.test", SPF_RES_NONE },
		{ CLIENT, "c.test", "user@nxdomain.test", SPF_RES_NONE },
		{ CLIENT, "c.test", "user@split.test", SPF_RES_PASS },
		{ "2001:db8::5", "c.test", "user@v6.test", SPF_RES_PASS },
		{ "2001:db9::5", "c.test", "user@v6.test", SPF_RES_FAIL },
		/* a DNS failure inside the check, and for the record itself */
		{ CLIENT, "c.test", "user@temp.test", SPF_RES_TEMPERROR },
		{ CLIENT, "c.test", "user@x.broken.test", SPF_RES_TEMPERROR },
		{ CLIENT, "c.test", "user@two.test", SPF_RES_PERMERROR },
		{ CLIENT, "c.test", "user@syntax.test", SPF_RES_PERMERROR },
		{ CLIENT, "c.test", "user@unknown.test", SPF_RES_PERMERROR },
		{ CLIENT, "c.test", "user@include.test", SPF_RES_PASS },
		{ "198.51.100.7", "c.test", "user@include.test", SPF_RES_FAIL },
		{ CLIENT, "c.test", "user@redirect.test", SPF_RES_FAIL },
		{ CLIENT, "c.test", "user@a.test", SPF_RES_PASS },
		{ CLIENT, "c.test", "user@mx.test", SPF_RES_PASS },
		{ "198.51.100.7", "c.test", "user@mx.test", SPF_RES_FAIL },
		/* RFC 7208 4.6.4: 10 DNS terms are fine, 11 are permerror */
		{ CLIENT, "c.test", "user@ten.test", SPF_RES_FAIL },
		{ CLIENT, "c.test", "user@eleven.test", SPF_RES_PERMERROR },
		{ CLIENT, "c.test", "user@void.test", SPF_RES_PERMERROR },
		{ CLIENT, "c.test", "user@loop.test", SPF_RES_PERMERROR },
		/* the null sender: postmaster@HELO */
		{ CLIENT, "pass.test", "", SPF_RES_PASS },
		{ CLIENT, "fail.test", "", SPF_RES_FAIL },
		{ CLIENT, "", "", SPF_RES_NONE },
		/* RFC 7208 4.3: malformed or single-label domains are none */
		{ CLIENT, "c.test", "user@nodot", SPF_RES_NONE },
		{ CLIENT, "c.test", "user@bad..test", SPF_RES_NONE },
		{ CLIENT, "c.test", "user@", SPF_RES_NONE },
		{ CLIENT, "c.test", "user@sp ace.test", SPF_RES_NONE },
	};
	return cr_make_param_array(struct eval_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct eval_case *c, spf, results)
{
	struct dns		*d = spf_dns();
	struct spf_answer	 ans;

	check(d, c->ip, c->helo, c->from, &ans);
	cr_assert_not(ans.is_error);
	cr_assert_eq(ans.result, c->want, "%s from %s: got %s (%s)", c->from,
	    c->ip, spf_result_name(ans.result), ans.explanation);
	cr_assert(strncmp(ans.header, "Received-SPF: ", 14) == 0);
	cr_assert(strncmp(ans.header + 14, spf_result_name(c->want),
	    strlen(spf_result_name(c->want))) == 0, "%s", ans.header);
	dns_free(&d);
}

Test(spf, fail_explanation_from_exp)
{
	struct dns		*d = spf_dns();
	struct spf_answer	 ans;

	check(d, CLIENT, "c.test", "user@fail.test", &ans);
	cr_assert_str_eq(ans.explanation, "fail.test does not designate "
	    "192.0.2.10 as a permitted sender");
	/* A plain exp= text is passed on. */
	check(d, CLIENT, "c.test", "user@plainexp.test", &ans);
	cr_assert_eq(ans.result, SPF_RES_FAIL);
	cr_assert_str_eq(ans.explanation, "Not-from-here.");
	/* One with macros comes out mangled from libspf2: ours instead. */
	check(d, CLIENT, "c.test", "user@exp.test", &ans);
	cr_assert_str_eq(ans.explanation, "exp.test does not designate "
	    "192.0.2.10 as a permitted sender");
	dns_free(&d);
}

Test(spf, limit_explanations)
{
	struct dns		*d = spf_dns();
	struct spf_answer	 ans;

	check(d, CLIENT, "c.test", "user@void.test", &ans);
	cr_assert_eq(ans.result, SPF_RES_PERMERROR);
	cr_assert_str_eq(ans.explanation, "too many void DNS lookups");
	dns_free(&d);
}

Test(spf, oversized_txt_is_permerror)
{
	struct dns		*d = spf_dns();
	struct spf_answer	 ans;
	struct str		 line;
	int			 i;

	/* 17 strings of 250 bytes: one record of 4250 bytes. */
	str_init(&line, 0);
	cr_assert_eq(str_append_str(&line, "big.test. 300 IN TXT \"v=spf1 \""),
	    0);
	for (i = 0; i < 17; i++) {
		cr_assert_eq(str_append_str(&line, " \""), 0);
		cr_assert_eq(str_appendf(&line, "%0250d", 0), 0);
		cr_assert_eq(str_append_c(&line, '"'), 0);
	}
	cr_assert_eq(dns_local_add(d, str_c(&line)), 0);
	check(d, CLIENT, "c.test", "user@big.test", &ans);
	cr_assert_eq(ans.result, SPF_RES_PERMERROR);
	cr_assert_str_eq(ans.explanation, "SPF record too large");
	str_release(&line);
	dns_free(&d);
}

Test(spf, too_many_records_is_permerror)
{
	struct dns		*d = spf_dns();
	struct spf_answer	 ans;
	char			 line[128];
	int			 i;

	cr_assert_eq(dns_local_add(d,
	    "many.test. 300 IN TXT \"v=spf1 a -all\""), 0);
	for (i = 1; i <= SPF_RR_MAX + 1; i++) {
		cr_assert(str_printf(line, sizeof(line),
		    "many.test. 300 IN A 198.51.%d.%d", 100 + i / 250,
		    i % 250));
		cr_assert_eq(dns_local_add(d, line), 0);
	}
	check(d, CLIENT, "c.test", "user@many.test", &ans);
	cr_assert_eq(ans.result, SPF_RES_PERMERROR);
	cr_assert_str_eq(ans.explanation, "too many DNS records");
	dns_free(&d);
}

Test(spf, loopback_passes)
{
	struct dns		*d = spf_dns();
	struct spf_answer	 ans;

	/* libspf2 gives loopback clients a pass, whatever the domain. */
	check(d, "127.0.0.1", "c.test", "user@fail.test", &ans);
	cr_assert_eq(ans.result, SPF_RES_PASS);
	dns_free(&d);
}

Test(spf, bad_client_address_refused)
{
	struct dns		*d = spf_dns();
	struct spf_answer	 ans;

	check(d, "192.0.2.300", "c.test", "user@pass.test", &ans);
	cr_assert(ans.is_error);
	cr_assert_str_eq(ans.error, "bad client address");
	dns_free(&d);
}

struct macro_case {
	char	from[300];
};

ParameterizedTestParameters(spf, hostile_macros)
{
	static struct macro_case cases[] = {
		{ "user@macro1.test" },
		{ "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z"
		  "@macro2.test" },
		{ "user@macro3.test" },
		{ "01234567890123456789012345678901"
		  "23456789012345678901234567890123@macro4.test" },
		{ "a-b-c-d-e+f=g_h/i@macro5.test" },
	};
	return cr_make_param_array(struct macro_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

/* Whatever libspf2 makes of these, the check ends with a result and a
 * header that is safe to put in a message. */
ParameterizedTest(struct macro_case *c, spf, hostile_macros)
{
	struct dns		*d = spf_dns();
	struct spf_answer	 ans;
	const char		*p;

	check(d, CLIENT, "c.test", c->from, &ans);
	cr_assert_not(ans.is_error);
	cr_assert(ans.result <= SPF_RES_PERMERROR);
	for (p = ans.explanation; *p != '\0'; p++)
		cr_assert(*p >= ' ' && *p <= '~');
	for (p = ans.header; *p != '\0'; p++)
		cr_assert((*p >= ' ' && *p <= '~') || *p == '\r' ||
		    *p == '\n' || *p == '\t');
	dns_free(&d);
}

Test(spf, queries_counted)
{
	struct dns		*d = spf_dns();
	struct spf_eval		*ev = spf_eval_new(d, "mx.buzon.test");
	struct spf_request	 req = { CLIENT, "c.test", "u@mx.test" };
	struct spf_answer	 ans;

	spf_eval_check(ev, &req, &ans);
	cr_assert_eq(ans.result, SPF_RES_PASS);
	/* TXT mx.test, MX mx.test, A mail.mx.test; never type 99 */
	cr_assert_eq(spf_eval_queries(ev), 3);
	spf_eval_free(&ev);
	dns_free(&d);
}

/* ---- result names and the policy ---- */

Test(spf, result_names)
{
	enum spf_result	r;
	int		i;

	for (i = SPF_RES_NONE; i <= SPF_RES_PERMERROR; i++) {
		cr_assert_eq(spf_result_parse(spf_result_name(i), &r), 0);
		cr_assert_eq((int)r, i);
	}
	cr_assert_eq(spf_result_parse("PASS", &r), -1);
	cr_assert_eq(spf_result_parse("", &r), -1);
	cr_assert_str_eq(spf_result_name(SPF_RES_SOFTFAIL), "softfail");
	cr_assert_str_eq(spf_result_name((enum spf_result)42), "?");
}

Test(spf, policy_names)
{
	enum spf_policy	p;

	cr_assert_eq(spf_policy_parse("none", &p), 0);
	cr_assert_eq(p, SPF_POLICY_NONE);
	cr_assert_eq(spf_policy_parse("tag", &p), 0);
	cr_assert_eq(p, SPF_POLICY_TAG);
	cr_assert_eq(spf_policy_parse("reject-fail", &p), 0);
	cr_assert_eq(p, SPF_POLICY_REJECT_FAIL);
	cr_assert_eq(spf_policy_parse("reject", &p), -1);
	cr_assert_str_eq(SPF_POLICY_CHOICES, "none|tag|reject-fail");
}

struct policy_case {
	enum spf_policy	policy;
	bool		reject_permerror;
	enum spf_result	result;
	enum spf_action	want;
	int		code;
	char		enhanced[8];
	char		text[80];
};

ParameterizedTestParameters(spf, policy)
{
	static struct policy_case cases[] = {
#define NONE	SPF_POLICY_NONE
#define TAG	SPF_POLICY_TAG
#define REJ	SPF_POLICY_REJECT_FAIL
		{ NONE, false, SPF_RES_FAIL, SPF_ACT_ACCEPT, 0, "", "" },
		{ NONE, true, SPF_RES_PERMERROR, SPF_ACT_ACCEPT, 0, "", "" },
		{ TAG, false, SPF_RES_PASS, SPF_ACT_TAG, 0, "", "" },
		{ TAG, false, SPF_RES_FAIL, SPF_ACT_TAG, 0, "", "" },
		{ TAG, false, SPF_RES_TEMPERROR, SPF_ACT_TAG, 0, "", "" },
		{ TAG, true, SPF_RES_PERMERROR, SPF_ACT_TAG, 0, "", "" },
		{ REJ, false, SPF_RES_PASS, SPF_ACT_TAG, 0, "", "" },
		{ REJ, false, SPF_RES_NONE, SPF_ACT_TAG, 0, "", "" },
		{ REJ, false, SPF_RES_NEUTRAL, SPF_ACT_TAG, 0, "", "" },
		{ REJ, false, SPF_RES_SOFTFAIL, SPF_ACT_TAG, 0, "", "" },
		{ REJ, false, SPF_RES_FAIL, SPF_ACT_REJECT, 550, "5.7.23",
		    "SPF validation failed: go away\x01" },
		{ REJ, false, SPF_RES_TEMPERROR, SPF_ACT_TEMPFAIL, 451,
		    "4.7.24", "Temporary SPF validation error, try again later" },
		{ REJ, false, SPF_RES_PERMERROR, SPF_ACT_TAG, 0, "", "" },
		{ REJ, true, SPF_RES_PERMERROR, SPF_ACT_REJECT, 550, "5.7.24",
		    "SPF record of the sender domain is broken" },
#undef NONE
#undef TAG
#undef REJ
	};
	return cr_make_param_array(struct policy_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct policy_case *c, spf, policy)
{
	struct spf_answer	ans;
	struct spf_decision	d;
	char			want[80];

	memset(&ans, 0, sizeof(ans));
	ans.result = c->result;
	/* The explanation comes from DNS: a control byte must not pass. */
	(void)str_copy(ans.explanation, "go away\x01", sizeof(ans.explanation));
	spf_policy_decide(c->policy, c->reject_permerror, &ans, &d);
	cr_assert_eq(d.action, c->want);
	cr_assert_eq(d.code, c->code);
	cr_assert_str_eq(d.enhanced, c->enhanced);
	(void)str_copy(want, c->text, sizeof(want));
	if (strchr(want, '\x01') != NULL)
		*strchr(want, '\x01') = '?';
	cr_assert_str_eq(d.text, want);
}

Test(spf, policy_fail_without_explanation)
{
	struct spf_answer	ans;
	struct spf_decision	d;

	memset(&ans, 0, sizeof(ans));
	ans.result = SPF_RES_FAIL;
	spf_policy_decide(SPF_POLICY_REJECT_FAIL, false, &ans, &d);
	cr_assert_str_eq(d.text, "SPF validation failed");
}

/* ---- the Received-SPF header ---- */

Test(spf, header_pass)
{
	struct spf_request	req = { CLIENT, "pc23.ejemplo.test",
				    "usuario@ejemplo.test" };
	char			h[SPF_HEADER_MAX + 1];

	spf_received_header(h, sizeof(h), SPF_RES_PASS, &req, "mx.buzon.test");
	cr_assert_str_eq(h, "Received-SPF: pass (mx.buzon.test: domain of "
	    "usuario@ejemplo.test designates 192.0.2.10 as permitted "
	    "sender)\r\n"
	    "\tclient-ip=192.0.2.10; "
	    "envelope-from=\"usuario@ejemplo.test\";\r\n"
	    "\thelo=pc23.ejemplo.test; receiver=mx.buzon.test; "
	    "identity=mailfrom;");
}

Test(spf, header_null_sender_v6)
{
	struct spf_request	req = { "2001:db8::1", "mail.example.test",
				    "" };
	char			h[SPF_HEADER_MAX + 1];

	spf_received_header(h, sizeof(h), SPF_RES_FAIL, &req, "mx.buzon.test");
	cr_assert_str_eq(h, "Received-SPF: fail (mx.buzon.test: domain of "
	    "postmaster@mail.example.test does not designate 2001:db8::1 as "
	    "permitted sender)\r\n"
	    "\tclient-ip=\"2001:db8::1\"; envelope-from=\"\";\r\n"
	    "\thelo=mail.example.test; receiver=mx.buzon.test; identity=helo;");
}

Test(spf, header_hostile_peer_text)
{
	struct spf_request	req = { CLIENT, "evil (x)\r\nX-Injected: 1",
				    "\"a\\b\"(c)@x.test" };
	char			h[SPF_HEADER_MAX + 1];

	spf_received_header(h, sizeof(h), SPF_RES_NEUTRAL, &req,
	    "mx.buzon.test");
	cr_assert_str_eq(h, "Received-SPF: neutral (mx.buzon.test: "
	    "192.0.2.10 is neither permitted nor denied by domain of "
	    "\"a\\\\b\"\\(c\\)@x.test)\r\n\tclient-ip=192.0.2.10; "
	    "envelope-from=\"\\\"a\\\\b\\\"(c)@x.test\";"
	    "\r\n\thelo=\"evil (x)??X-Injected: 1\"; receiver=mx.buzon.test; "
	    "identity=mailfrom;");
}

Test(spf, header_long_fields_stay_bounded)
{
	struct spf_request	req;
	char			h[SPF_HEADER_MAX + 1], *line, *end;

	memset(&req, 0, sizeof(req));
	cr_assert(str_copy(req.ip, CLIENT, sizeof(req.ip)));
	memset(req.helo, '(', SPF_HELO_MAX);
	memset(req.from, '"', SPF_FROM_MAX);
	spf_received_header(h, sizeof(h), SPF_RES_TEMPERROR, &req, "mx.test");
	/* Every line under RFC 5322's 998 bytes. */
	for (line = h; line != NULL; line = end != NULL ? end + 2 : NULL) {
		end = strstr(line, "\r\n");
		cr_assert_lt(end != NULL ? (size_t)(end - line) :
		    strlen(line), 998);
	}
	/* Too small a buffer: the short form, never a cut field. */
	spf_received_header(h, 40, SPF_RES_PASS, &req, "mx.test");
	cr_assert_str_eq(h, "Received-SPF: pass");
}

Test(spf, safe_text)
{
	char	buf[8];

	cr_assert_str_eq(spf_safe_text(buf, sizeof(buf),
	    "a\tb\x80\x7f" "cdefgh"), "a?b??cd");
}

/* ---- the wire format ---- */

static size_t
rec(unsigned char *p, char type, const char *data, size_t len)
{
	p[0] = (unsigned char)type;
	p[1] = (unsigned char)(len >> 8);
	p[2] = (unsigned char)len;
	memcpy(p + 3, data, len);
	return 3 + len;
}

Test(spf, proto_roundtrip_every_cut)
{
	struct spf_request	req = { "2001:db8::1", "helo.test",
				    "a@b.test" };
	struct spf_request	got;
	struct str		out;
	size_t			used, cut;
	char			err[64];

	str_init(&out, 0);
	cr_assert_eq(spf_request_encode(&req, &out), 0);
	for (cut = 0; cut < out.len; cut++)
		cr_assert_eq(spf_request_decode(out.data, cut, &got, &used, err,
		    sizeof(err)), 0, "cut %zu", cut);
	cr_assert_eq(spf_request_decode(out.data, out.len, &got, &used, err,
	    sizeof(err)), 1);
	cr_assert_eq(used, out.len);
	cr_assert_str_eq(got.ip, req.ip);
	cr_assert_str_eq(got.helo, req.helo);
	cr_assert_str_eq(got.from, req.from);
	str_release(&out);
}

Test(spf, proto_answer_roundtrip)
{
	struct spf_answer	ans, got;
	struct str		out;
	size_t			used;
	char			err[64];

	memset(&ans, 0, sizeof(ans));
	ans.result = SPF_RES_SOFTFAIL;
	(void)str_copy(ans.explanation, "nope", sizeof(ans.explanation));
	(void)str_copy(ans.header, "Received-SPF: softfail",
	    sizeof(ans.header));
	str_init(&out, 0);
	cr_assert_eq(spf_answer_encode(&ans, &out), 0);
	cr_assert_eq(spf_answer_decode(out.data, out.len, &got, &used, err,
	    sizeof(err)), 1);
	cr_assert_eq(got.result, SPF_RES_SOFTFAIL);
	cr_assert_not(got.is_error);
	cr_assert_str_eq(got.explanation, "nope");
	cr_assert_str_eq(got.header, "Received-SPF: softfail");
	str_clear(&out);
	memset(&ans, 0, sizeof(ans));
	ans.is_error = true;
	(void)str_copy(ans.error, "bad request", sizeof(ans.error));
	cr_assert_eq(spf_answer_encode(&ans, &out), 0);
	cr_assert_eq(spf_answer_decode(out.data, out.len, &got, &used, err,
	    sizeof(err)), 1);
	cr_assert(got.is_error);
	cr_assert_str_eq(got.error, "bad request");
	str_release(&out);
}

struct bad_case {
	unsigned char	msg[64];
	size_t		len;
	bool		resync;	/* framing sound: used = len */
	char		err[40];
};

ParameterizedTestParameters(spf, proto_bad)
{
	static struct bad_case cases[] = {
		/* no client address */
		{ { 'h', 0, 1, 'x', 'e', 0, 0 }, 7, true, "no client address" },
		{ { 'i', 0, 0, 'e', 0, 0 }, 6, true, "no client address" },
		{ { 'q', 0, 1, 'x', 'i', 0, 1, '1', 'e', 0, 0 }, 11, true,
		    "unknown record type" },
		{ { 'i', 0, 1, '1', 'i', 0, 1, '2', 'e', 0, 0 }, 11, true,
		    "duplicate record" },
		{ { 'i', 0, 3, '1', 0, '2', 'e', 0, 0 }, 9, true,
		    "NUL in record" },
		{ { 'i', 0, 1, '1', 'e', 0, 1, 'x' }, 8, true,
		    "END record with data" },
		/* lengths that can never fit: the stream is lost */
		{ { 'f', 0xff, 0xff, 'x' }, 4, false, "message too long" },
		{ { 'f', 0x10, 0x00, 'x' }, 4, false, "message too long" },
	};
	return cr_make_param_array(struct bad_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad_case *c, spf, proto_bad)
{
	struct spf_request	req;
	size_t			used = 99;
	char			err[64];

	cr_assert_eq(spf_request_decode(c->msg, c->len, &req, &used, err,
	    sizeof(err)), -1);
	cr_assert_str_eq(err, c->err);
	cr_assert_eq(used, c->resync ? c->len : 0);
}

Test(spf, proto_field_too_long)
{
	unsigned char		msg[SPF_MSG_MAX];
	char			ip[SPF_IP_MAX + 2];
	struct spf_request	req;
	size_t			len, used;
	char			err[64];

	memset(ip, '1', sizeof(ip));
	len = rec(msg, SPF_REC_IP, ip, sizeof(ip));
	len += rec(msg + len, SPF_REC_END, "", 0);
	cr_assert_eq(spf_request_decode(msg, len, &req, &used, err,
	    sizeof(err)), -1);
	cr_assert_str_eq(err, "record too long");
	cr_assert_eq(used, len);
}

Test(spf, proto_many_small_records_bounded)
{
	unsigned char		msg[SPF_MSG_MAX + 16];
	struct spf_request	req;
	size_t			len = 0, used;
	char			err[64];

	/* Unknown empty records forever: cut at SPF_MSG_MAX. */
	while (len + 3 <= sizeof(msg))
		len += rec(msg + len, 'q', "", 0);
	cr_assert_eq(spf_request_decode(msg, len, &req, &used, err,
	    sizeof(err)), -1);
	cr_assert_str_eq(err, "message too long");
	cr_assert_eq(used, 0);
}

Test(spf, proto_answer_bad)
{
	unsigned char		msg[64];
	struct spf_answer	ans;
	size_t			len, used;
	char			err[64];

	len = rec(msg, SPF_REC_RESULT, "maybe", 5);
	len += rec(msg + len, SPF_REC_END, "", 0);
	cr_assert_eq(spf_answer_decode(msg, len, &ans, &used, err, sizeof(err)),
	    -1);
	cr_assert_str_eq(err, "no valid result");
	len = rec(msg, SPF_REC_RESULT, "pass", 4);
	len += rec(msg + len, SPF_REC_ERROR, "x", 1);
	len += rec(msg + len, SPF_REC_END, "", 0);
	cr_assert_eq(spf_answer_decode(msg, len, &ans, &used, err, sizeof(err)),
	    -1);
	cr_assert_str_eq(err, "error answer with a result");
}
