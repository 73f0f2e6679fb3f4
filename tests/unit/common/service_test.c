/* SPDX-License-Identifier: MIT */
/*
 * service_test.c - $BUZON_LISTEN parsing and the never-root rule
 */
#include "config.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>
#include <unistd.h>

#include "service.h"

Test(service, listen_parse_three)
{
	struct service_listener	 ls[8];
	char			 err[128] = "";
	size_t			 n = 99;

	cr_assert_eq(service_listen_parse("smtp:3 submission:4 submissions:5",
	    ls, 8, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(ls[0].name, "smtp");
	cr_assert_eq(ls[0].fd, 3);
	cr_assert_str_eq(ls[1].name, "submission");
	cr_assert_eq(ls[1].fd, 4);
	cr_assert_str_eq(ls[2].name, "submissions");
	cr_assert_eq(ls[2].fd, 5);
}

Test(service, listen_parse_empty_and_spaces)
{
	struct service_listener	 ls[4];
	char			 err[128];
	size_t			 n = 99;

	cr_assert_eq(service_listen_parse("", ls, 4, &n, err, sizeof(err)), 0);
	cr_assert_eq(n, 0);
	cr_assert_eq(service_listen_parse("  \t imap:7\t imap:8  ", ls, 4, &n,
	    err, sizeof(err)), 0);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(ls[1].name, "imap");
	cr_assert_eq(ls[1].fd, 8);
}

struct bad_case {
	char	in[80];
	char	want[40];	/* part of the error message */
};

ParameterizedTestParameters(service, listen_parse_bad)
{
	static struct bad_case cases[] = {
		{ "smtp", "expected name:fd" },
		{ "smtp:", "bad fd" },
		{ "smtp:x", "bad fd" },
		{ "smtp:2", "bad fd" },
		{ "smtp:-3", "bad fd" },
		{ "smtp:3x", "bad fd" },
		{ "smtp:99999999999", "bad fd" },
		{ "ftp:3", "unknown listener name 'ftp'" },
		{ ":3", "unknown listener name ''" },
		{ "SMTP:3", "unknown listener name" },
		{ "smtp:3 pop3:3", "fd 3 given twice" },
		{ "smtp:3 pop3:4 imap:5 imaps:6 pop3s:7", "more than 4" },
		{ "smtp:3aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaaaaaaa", "entry too long" },
	};
	return cr_make_param_array(struct bad_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad_case *c, service, listen_parse_bad)
{
	struct service_listener	 ls[4];
	char			 err[128] = "";
	size_t			 n = 99;

	cr_assert_eq(service_listen_parse(c->in, ls, 4, &n, err, sizeof(err)),
	    -1, "input \"%s\"", c->in);
	cr_assert_eq(n, 0);
	cr_assert(strstr(err, c->want) != NULL, "input \"%s\": error \"%s\"",
	    c->in, err);
}

Test(service, listener_names)
{
	cr_assert(service_listener_name_ok("smtp"));
	cr_assert(service_listener_name_ok("imaps"));
	cr_assert(service_listener_name_ok("pop3s"));
	cr_assert_not(service_listener_name_ok("smtps"));
	cr_assert_not(service_listener_name_ok(""));
}

static void
never(int fd, const struct net_addr *a, const char *l, void *d)
{
	(void)fd, (void)a, (void)l, (void)d;
}

/* As root it refuses before reading anything; otherwise a missing config
 * is fatal too.  Either way: exit 75, never a running daemon. */
Test(service, refuses_root_or_bad_config, .exit_code = 75)
{
	static const struct service svc = { "buzon-test", never, NULL, NULL,
	    NULL, NULL };
	char	 a0[] = "buzon-test", a1[] = "-c",
		 a2[] = "/nonexistent/buzon.conf";
	char	*argv[] = { a0, a1, a2, NULL };

	service_main(&svc, 3, argv);
}

Test(service, bad_usage)
{
	static const struct service svc = { "buzon-test", never, NULL, NULL,
	    NULL, NULL };
	char	 a0[] = "buzon-test", a1[] = "-x";
	char	*argv[] = { a0, a1, NULL };

	cr_assert_eq(service_main(&svc, 2, argv), 2);
}

Test(service, no_config_outside)
{
	cr_assert_null(service_config());
}
