/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns.h"
#include "event.h"
#include "settings.h"
#include "str.h"

static char	 zone_path[4096];

static const char *
data_path(const char *name)
{
	const char	*top = getenv("BUZON_TOP_SRCDIR");

	cr_assert(str_printf(zone_path, sizeof(zone_path),
	    "%s/tests/data/dns/%s", top != NULL ? top : ".", name));
	return zone_path;
}

static struct dns *
local_dns(void)
{
	struct dns_conf	 conf = { 0 };
	struct str	 errs;
	struct dns	*d;

	str_init(&errs, 0);
	conf.local_data = data_path("local.zone");
	d = dns_new(&conf, &errs);
	cr_assert_not_null(d, "dns_new: %s", str_c(&errs));
	cr_assert_eq(errs.len, 0, "%s", str_c(&errs));
	str_release(&errs);
	return d;
}

Test(dns, txt_strings_joined)
{
	struct dns		*d = local_dns();
	struct dns_result	*res;
	size_t			 i;
	bool			 spf = false, second = false;

	cr_assert_eq(dns_lookup(d, "example.test", DNS_T_TXT, &res), DNS_FOUND);
	cr_assert_eq(res->status, DNS_FOUND);
	cr_assert_eq(res->count, 2);
	cr_assert_eq(res->ttl, 300);
	cr_assert_not(res->is_secure);
	for (i = 0; i < res->count; i++) {
		const struct dns_txt *t = &res->rr[i].u.txt;

		if (strcmp(t->data, "v=spf1 ip4:192.0.2.1 -all") == 0) {
			cr_assert_eq(t->nstrings, 2);
			cr_assert_eq(t->len, strlen(t->data));
			spf = true;
		} else if (strcmp(t->data, "second record") == 0) {
			cr_assert_eq(t->nstrings, 1);
			second = true;
		}
	}
	cr_assert(spf && second);
	dns_result_free(&res);
	cr_assert_null(res);
	dns_free(&d);
	cr_assert_null(d);
}

Test(dns, txt_empty_string)
{
	struct dns		*d = local_dns();
	struct dns_result	*res;

	cr_assert_eq(dns_lookup(d, "empty.test.", DNS_T_TXT, &res), DNS_FOUND);
	cr_assert_eq(res->count, 1);
	cr_assert_eq(res->rr[0].u.txt.len, 0);
	cr_assert_eq(res->rr[0].u.txt.nstrings, 1);
	cr_assert_str_eq(res->rr[0].u.txt.data, "");
	dns_result_free(&res);
	dns_free(&d);
}

Test(dns, a_and_aaaa)
{
	struct dns		*d = local_dns();
	struct dns_result	*res;
	char			 buf[INET6_ADDRSTRLEN];

	cr_assert_eq(dns_lookup(d, "example.test.", DNS_T_A, &res), DNS_FOUND);
	cr_assert_eq(res->count, 1);
	inet_ntop(AF_INET, &res->rr[0].u.a, buf, sizeof(buf));
	cr_assert_str_eq(buf, "192.0.2.1");
	dns_result_free(&res);
	cr_assert_eq(dns_lookup(d, "EXAMPLE.test", DNS_T_AAAA, &res),
	    DNS_FOUND);
	inet_ntop(AF_INET6, &res->rr[0].u.aaaa, buf, sizeof(buf));
	cr_assert_str_eq(buf, "2001:db8::1");
	dns_result_free(&res);
	dns_free(&d);
}

Test(dns, mx_sorted_by_preference)
{
	struct dns		*d = local_dns();
	struct dns_result	*res;

	cr_assert_eq(dns_lookup(d, "example.test", DNS_T_MX, &res), DNS_FOUND);
	cr_assert_eq(res->count, 3);
	cr_assert_eq(res->rr[0].u.mx.pref, 10);
	cr_assert_str_eq(res->rr[0].u.mx.host, "mx1.example.test");
	cr_assert_eq(res->rr[1].u.mx.pref, 20);
	cr_assert_str_eq(res->rr[1].u.mx.host, "mx2.example.test");
	cr_assert_eq(res->rr[2].u.mx.pref, 30);
	cr_assert_str_eq(res->rr[2].u.mx.host, "mx3.example.test");
	dns_result_free(&res);
	/* RFC 7505 null MX: the root as host. */
	cr_assert_eq(dns_lookup(d, "nullmx.test", DNS_T_MX, &res), DNS_FOUND);
	cr_assert_eq(res->count, 1);
	cr_assert_eq(res->rr[0].u.mx.pref, 0);
	cr_assert_str_eq(res->rr[0].u.mx.host, ".");
	dns_result_free(&res);
	dns_free(&d);
}

Test(dns, ptr_v4_v6)
{
	struct dns		*d = local_dns();
	struct dns_result	*res;

	cr_assert_eq(dns_lookup_ptr(d, "192.0.2.1", &res), DNS_FOUND);
	cr_assert_str_eq(res->rr[0].u.ptr, "example.test");
	dns_result_free(&res);
	cr_assert_eq(dns_lookup_ptr(d, "2001:db8::1", &res), DNS_FOUND);
	cr_assert_str_eq(res->rr[0].u.ptr, "v6.example.test");
	dns_result_free(&res);
	cr_assert_eq(dns_lookup_ptr(d, "192.0.2.77", &res), DNS_NXDOMAIN);
	dns_result_free(&res);
	cr_assert_eq(dns_lookup_ptr(d, "not-an-ip", &res), DNS_PERMFAIL);
	cr_assert_str_eq(res->error, "not an IP address");
	dns_result_free(&res);
	dns_free(&d);
}

Test(dns, tlsa)
{
	struct dns		*d = local_dns();
	struct dns_result	*res;

	cr_assert_eq(dns_lookup(d, "_25._tcp.mx1.example.test", DNS_T_TLSA,
	    &res), DNS_FOUND);
	cr_assert_eq(res->rr[0].u.tlsa.usage, 3);
	cr_assert_eq(res->rr[0].u.tlsa.selector, 1);
	cr_assert_eq(res->rr[0].u.tlsa.mtype, 1);
	cr_assert_eq(res->rr[0].u.tlsa.len, 32);
	cr_assert_eq(res->rr[0].u.tlsa.data[0], 0x01);
	cr_assert_eq(res->rr[0].u.tlsa.data[31], 0xef);
	dns_result_free(&res);
	dns_free(&d);
}

struct status_case {
	char		name[80];
	int		type;
	enum dns_status	want;
};

ParameterizedTestParameters(dns, statuses)
{
	static struct status_case cases[] = {
		/* closed world: unknown names never leave the host */
		{ "nope.test", DNS_T_TXT, DNS_NXDOMAIN },
		{ "www.example.com", DNS_T_A, DNS_NXDOMAIN },
		{ "sub.example.test", DNS_T_A, DNS_NXDOMAIN },
		/* the name exists, not with this type */
		{ "example.test", DNS_T_TLSA, DNS_NODATA },
		{ "empty.test", DNS_T_A, DNS_NODATA },
		{ "host.zone.test", DNS_T_AAAA, DNS_NODATA },
		{ "other.zone.test", DNS_T_A, DNS_NXDOMAIN },
		/* a refuse zone acts as a failing resolver */
		{ "x.broken.test", DNS_T_TXT, DNS_TEMPFAIL },
		{ "broken.test", DNS_T_A, DNS_TEMPFAIL },
		/* names we never ask for */
		{ "a..b", DNS_T_A, DNS_PERMFAIL },
		{ "", DNS_T_A, DNS_PERMFAIL },
		{ ".leading", DNS_T_A, DNS_PERMFAIL },
		{ "sp ace.test", DNS_T_A, DNS_PERMFAIL },
		{ "back\\slash.test", DNS_T_A, DNS_PERMFAIL },
		{ "0123456789012345678901234567890123456789"
		    "012345678901234567890123.test", DNS_T_A, DNS_PERMFAIL },
		{ "example.test", 255, DNS_PERMFAIL },
	};
	return cr_make_param_array(struct status_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct status_case *c, dns, statuses)
{
	struct dns		*d = local_dns();
	struct dns_result	*res;

	cr_assert_eq(dns_lookup(d, c->name, c->type, &res), c->want,
	    "%s: got %s", c->name, dns_status_name(res->status));
	cr_assert_eq(res->status, c->want);
	cr_assert_eq(res->count, 0 + (c->want == DNS_FOUND));
	if (c->want == DNS_TEMPFAIL || c->want == DNS_PERMFAIL)
		cr_assert_neq(res->error[0], '\0');
	dns_result_free(&res);
	dns_free(&d);
}

Test(dns, long_name_bounds)
{
	struct dns		*d = local_dns();
	struct dns_result	*res;
	char			 name[300];
	size_t			 i;

	/* 4 labels of 63 = 255 with dots: over the limit. */
	for (i = 0; i < 4 * 64; i++)
		name[i] = i % 64 == 63 ? '.' : 'a';
	name[4 * 64 - 1] = '\0';
	cr_assert_eq(strlen(name), 255);
	cr_assert_eq(dns_lookup(d, name, DNS_T_A, &res), DNS_PERMFAIL);
	dns_result_free(&res);
	/* 253 bytes is fine (and absent). */
	name[253] = '\0';
	name[252] = 'a';
	cr_assert_eq(dns_lookup(d, name, DNS_T_A, &res), DNS_NXDOMAIN);
	dns_result_free(&res);
	dns_free(&d);
}

Test(dns, bad_lines_reported_with_numbers)
{
	struct dns_conf	 conf = { 0 };
	struct str	 errs;
	const char	*e;
	char		 want[4200];

	str_init(&errs, 0);
	conf.local_data = data_path("bad.zone");
	cr_assert_null(dns_new(&conf, &errs));
	e = str_c(&errs);
	cr_assert(str_printf(want, sizeof(want), "%s:3: not a valid record: "
	    "this is not a record\n", zone_path));
	cr_assert(strstr(e, want) != NULL, "%s", e);
	cr_assert(str_printf(want, sizeof(want), "%s:4: not a valid record",
	    zone_path));
	cr_assert(strstr(e, want) != NULL, "%s", e);
	cr_assert(str_printf(want, sizeof(want), "%s:6: $ZONE wants",
	    zone_path));
	cr_assert(strstr(e, want) != NULL, "%s", e);
	cr_assert(str_printf(want, sizeof(want),
	    "%s:7: unknown zone type \"bogus\"", zone_path));
	cr_assert(strstr(e, want) != NULL, "%s", e);
	cr_assert(str_printf(want, sizeof(want), "%s:2:", zone_path));
	cr_assert_null(strstr(e, want));
	cr_assert(str_printf(want, sizeof(want), "%s:8:", zone_path));
	cr_assert_null(strstr(e, want));
	str_release(&errs);
}

Test(dns, missing_file)
{
	struct dns_conf	 conf = { 0 };
	struct str	 errs;

	str_init(&errs, 0);
	conf.local_data = "/nonexistent/buzon/zone";
	cr_assert_null(dns_new(&conf, &errs));
	cr_assert_str_eq(str_c(&errs),
	    "/nonexistent/buzon/zone: No such file or directory\n");
	str_release(&errs);
}

Test(dns, bad_forwarder)
{
	struct dns_conf		 conf = { 0 };
	const char *const	 fwd[] = { "not an address" };
	struct str		 errs;

	str_init(&errs, 0);
	conf.forwarders = fwd;
	conf.nforwarders = 1;
	cr_assert_null(dns_new(&conf, &errs));
	cr_assert(strstr(str_c(&errs), "dns_forwarders: \"not an address\"") !=
	    NULL, "%s", str_c(&errs));
	str_release(&errs);
}

Test(dns, names)
{
	cr_assert_str_eq(dns_status_name(DNS_FOUND), "found");
	cr_assert_str_eq(dns_status_name(DNS_NXDOMAIN), "nxdomain");
	cr_assert_str_eq(dns_status_name(DNS_NODATA), "nodata");
	cr_assert_str_eq(dns_status_name(DNS_TEMPFAIL), "tempfail");
	cr_assert_str_eq(dns_status_name(DNS_PERMFAIL), "permfail");
	cr_assert_str_eq(dns_type_name(DNS_T_MX), "MX");
	cr_assert_str_eq(dns_type_name(DNS_T_TLSA), "TLSA");
	cr_assert_str_eq(dns_type_name(99), "?");
}

/* ---- asynchronous ---- */

struct async_state {
	struct event_loop	*loop;
	int			 done;
	int			 want;
	enum dns_status		 st[4];
	size_t			 count[4];
};

static void
async_cb(struct dns_result *res, void *arg)
{
	struct async_state	*s = arg;

	cr_assert_lt(s->done, 4);
	s->st[s->done] = res->status;
	s->count[s->done] = res->count;
	s->done++;
	dns_result_free(&res);
	if (s->done == s->want)
		event_loop_break(s->loop);
}

static void
async_timeout(void *arg)
{
	(void)arg;
	cr_assert_fail("async lookups never answered");
}

Test(dns, async_lookups)
{
	struct dns		*d = local_dns();
	struct async_state	 s = { 0 };
	struct event_timer	*t;

	s.loop = event_loop_new();
	s.want = 3;
	cr_assert_eq(dns_attach(d, s.loop), 0);
	cr_assert_eq(dns_attach(d, s.loop), 0);		/* idempotent */
	cr_assert_not_null(dns_lookup_async(d, "example.test", DNS_T_MX,
	    async_cb, &s));
	cr_assert_not_null(dns_lookup_async(d, "nope.test", DNS_T_MX,
	    async_cb, &s));
	cr_assert_not_null(dns_lookup_async(d, "x.broken.test", DNS_T_A,
	    async_cb, &s));
	cr_assert_eq(dns_pending(d), 3);
	/* A name we never ask for is refused at once. */
	cr_assert_null(dns_lookup_async(d, "a..b", DNS_T_A, async_cb, &s));
	t = event_timer_add(s.loop, 3000, async_timeout, NULL);
	cr_assert_eq(event_loop_run(s.loop), 0);
	cr_assert_eq(s.done, 3);
	cr_assert_eq(dns_pending(d), 0);
	/* Each answer is one of ours; order is the resolver's. */
	{
		int found = 0, nx = 0, temp = 0, i;

		for (i = 0; i < 3; i++) {
			found += s.st[i] == DNS_FOUND && s.count[i] == 3;
			nx += s.st[i] == DNS_NXDOMAIN;
			temp += s.st[i] == DNS_TEMPFAIL;
		}
		cr_assert(found == 1 && nx == 1 && temp == 1);
	}
	event_timer_del(&t);
	dns_free(&d);
	event_loop_free(&s.loop);
}

static void
never_cb(struct dns_result *res, void *arg)
{
	(void)res;
	(void)arg;
	cr_assert_fail("cancelled query answered");
}

static void
stop_loop(void *arg)
{
	event_loop_break(arg);
}

Test(dns, async_cancel)
{
	struct dns		*d = local_dns();
	struct event_loop	*loop = event_loop_new();
	struct dns_query	*q, *q2;
	struct event_timer	*t;

	cr_assert_null(dns_lookup_async(d, "example.test", DNS_T_A, never_cb,
	    NULL));				/* not attached yet */
	cr_assert_eq(dns_attach(d, loop), 0);
	q = dns_lookup_async(d, "example.test", DNS_T_A, never_cb, NULL);
	q2 = dns_lookup_async(d, "example.test", DNS_T_TXT, never_cb, NULL);
	cr_assert_not_null(q);
	cr_assert_not_null(q2);
	dns_cancel(&q);
	cr_assert_null(q);
	dns_cancel(&q);				/* NULL is fine */
	cr_assert_eq(dns_pending(d), 1);
	dns_cancel(&q2);
	cr_assert_eq(dns_pending(d), 0);
	t = event_timer_add(loop, 100, stop_loop, loop);
	cr_assert_eq(event_loop_run(loop), 0);
	(void)t;
	/* Pending at free: dropped without callbacks. */
	cr_assert_not_null(dns_lookup_async(d, "example.test", DNS_T_MX,
	    never_cb, NULL));
	dns_free(&d);
	event_loop_free(&loop);
}

Test(dns, local_add_remove)
{
	struct dns		*d = local_dns();
	struct dns_result	*res;

	cr_assert_eq(dns_local_add(d, "added.test. 60 IN TXT \"hello\""), 0);
	cr_assert_eq(dns_lookup(d, "added.test", DNS_T_TXT, &res), DNS_FOUND);
	cr_assert_str_eq(res->rr[0].u.txt.data, "hello");
	cr_assert_eq(res->ttl, 60);
	dns_result_free(&res);
	cr_assert_eq(dns_local_remove(d, "added.test."), 0);
	cr_assert_eq(dns_lookup(d, "added.test", DNS_T_TXT, &res),
	    DNS_NXDOMAIN);
	dns_result_free(&res);
	cr_assert_eq(dns_local_add(d, "garbage"), -1);
	cr_assert_eq(dns_local_remove(d, "a..b"), -1);
	cr_assert(dns_name_is_valid("_spf.example.test."));
	cr_assert_not(dns_name_is_valid("exa\"mple.test"));
	dns_free(&d);
}

Test(dns, conf_from_config)
{
	struct config	cfg;
	struct dns_conf	dc;
	char		*fwd[] = { "192.0.2.53", "system" };

	memset(&cfg, 0, sizeof(cfg));
	cfg.dns_local_data = "/tmp/zone";
	cfg.dns_forwarders.items = fwd;
	cfg.dns_forwarders.count = 2;
	cfg.dns_dnssec = true;
	cfg.dns_trust_anchor = "";
	dns_conf_from_config(&dc, &cfg);
	cr_assert_str_eq(dc.local_data, "/tmp/zone");
	cr_assert_eq(dc.nforwarders, 2);
	cr_assert_str_eq(dc.forwarders[1], "system");
	cr_assert(dc.dnssec);
	cr_assert_str_eq(dc.trust_anchor, "");
}

Test(dns, dnssec_bad_trust_anchor)
{
	struct dns_conf	 conf = { 0 };
	struct str	 errs;

	str_init(&errs, 0);
	conf.local_data = data_path("local.zone");
	conf.dnssec = true;
	conf.trust_anchor = "/nonexistent/root.key";
	cr_assert_null(dns_new(&conf, &errs));
	cr_assert(strstr(str_c(&errs), "dns trust anchor /nonexistent/root.key")
	    != NULL, "%s", str_c(&errs));
	str_release(&errs);
}

Test(dns, dnssec_local_answers_are_not_secure)
{
	struct dns_conf		 conf = { 0 };
	struct str		 errs;
	struct dns		*d;
	struct dns_result	*res;
	char			 anchor[] = "/tmp/buzon-anchor-XXXXXX";
	const char		*ta = ". 3600 IN DS 20326 8 2 "
	    "E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n";
	int			 fd;

	fd = mkstemp(anchor);
	cr_assert_neq(fd, -1);
	cr_assert_eq(write(fd, ta, strlen(ta)), (ssize_t)strlen(ta));
	(void)close(fd);
	str_init(&errs, 0);
	conf.local_data = data_path("local.zone");
	conf.dnssec = true;
	conf.trust_anchor = anchor;
	d = dns_new(&conf, &errs);
	(void)unlink(anchor);
	cr_assert_not_null(d, "%s", str_c(&errs));
	cr_assert_eq(dns_lookup(d, "example.test", DNS_T_A, &res), DNS_FOUND);
	cr_assert_not(res->is_secure);
	dns_result_free(&res);
	dns_free(&d);
	str_release(&errs);
}
