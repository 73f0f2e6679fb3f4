/* SPDX-License-Identifier: MIT */
/*
 * commands_test.c - the POP3 command parser, message numbers, UIDL form,
 * and dispatch (state checks, error counting, CAPA, the TLS rule) on a
 * session without a socket
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <signal.h>
#include <string.h>

#include "pop3d.h"
#include "str.h"

/* ---- pop3_split / pop3_args ---- */

Test(pop3_split, verb_and_rest)
{
	char	 line[] = "PASS my secret  pw";
	char	*verb, *rest;

	cr_assert_eq(pop3_split(line, &verb, &rest), 0);
	cr_assert_str_eq(verb, "PASS");
	cr_assert_str_eq(rest, "my secret  pw");
}

Test(pop3_split, verb_alone)
{
	char	 line[] = "STAT";
	char	*verb, *rest;

	cr_assert_eq(pop3_split(line, &verb, &rest), 0);
	cr_assert_str_eq(verb, "STAT");
	cr_assert_str_eq(rest, "");
}

Test(pop3_split, empty_or_leading_space)
{
	char	 a[] = "", b[] = " STAT";
	char	*verb, *rest;

	cr_assert_eq(pop3_split(a, &verb, &rest), -1);
	cr_assert_eq(pop3_split(b, &verb, &rest), -1);
}

struct args_case {
	char	in[64];
	int	max;
	int	want;
	char	first[16];
	char	last[16];
};

ParameterizedTestParameters(pop3_args, split)
{
	static struct args_case cases[] = {
		{ "", 2, 0, "", "" },
		{ "   ", 2, 0, "", "" },
		{ "1", 1, 1, "1", "1" },
		{ "1 10", 2, 2, "1", "10" },
		{ "  1   10  ", 2, 2, "1", "10" },
		{ "1 2 3", 2, -1, "", "" },
		{ "a b", 1, -1, "", "" },
	};

	return cr_make_param_array(struct args_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct args_case *c, pop3_args, split)
{
	char	 buf[64], *argv[4];
	int	 n;

	memcpy(buf, c->in, sizeof(buf));
	n = pop3_args(buf, argv, c->max);
	cr_assert_eq(n, c->want, "input \"%s\"", c->in);
	if (n > 0) {
		cr_assert_str_eq(argv[0], c->first);
		cr_assert_str_eq(argv[n - 1], c->last);
	}
}

/* ---- message numbers and UIDL ---- */

struct num_case {
	char		in[24];
	int		want_rc;
	uint32_t	want;
};

ParameterizedTestParameters(pop3_msgnum, parse)
{
	static struct num_case cases[] = {
		{ "1", 0, 1 }, { "42", 0, 42 }, { "4294967295", 0, UINT32_MAX },
		{ "4294967296", -1, 0 }, { "0", -1, 0 }, { "", -1, 0 },
		{ "-1", -1, 0 }, { "+1", -1, 0 }, { " 1", -1, 0 },
		{ "1x", -1, 0 }, { "0x10", -1, 0 },
	};

	return cr_make_param_array(struct num_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct num_case *c, pop3_msgnum, parse)
{
	uint32_t	 v = 7;

	cr_assert_eq(pop3_msgnum(c->in, &v), c->want_rc, "input \"%s\"",
	    c->in);
	cr_assert_eq(v, c->want_rc == 0 ? c->want : 7);
}

Test(pop3_uidl, uid_then_uidvalidity_in_hex)
{
	char	 out[24];

	pop3_uidl(1, 0x6b039f14, out, sizeof(out));
	cr_assert_str_eq(out, "000000016B039F14");
	pop3_uidl(UINT32_MAX, 1, out, sizeof(out));
	cr_assert_str_eq(out, "FFFFFFFF00000001");
	pop3_uidl(0xabc, 0xdef, out, sizeof(out));
	cr_assert_eq(strlen(out), 16);
	cr_assert_str_eq(out, "00000ABC00000DEF");
}

Test(pop3_uidl, small_buffer_panics, .signal = SIGABRT)
{
	char	 out[16];

	pop3_uidl(1, 1, out, sizeof(out));
}

/* ---- dispatch on a socketless session ---- */

static struct pop3d	 srv;
static struct session	 sess;

static void
setup(void)
{
	memset(&srv, 0, sizeof(srv));
	memset(&sess, 0, sizeof(sess));
	srv.conf.hostname = "mail.example.test";
	srv.conf.max_errors = 10;
	srv.conf.max_line = 255;
	sess.max_line = 255;
	srv.conf.plaintext_loopback = true;
	srv.conf.apop_enable = true;
	sess.srv = &srv;
	sess.state = POP3_AUTHORIZATION;
	(void)str_copy(sess.id, "test", sizeof(sess.id));
	str_init(&sess.out, 0);
}

static void
teardown(void)
{
	str_release(&sess.out);
}

/* Dispatch one line, return what was queued, and clear it. */
static const char *
run(const char *cmd)
{
	static char	 got[4096];
	char		 line[512];

	(void)str_copy(line, cmd, sizeof(line));
	str_clear(&sess.out);
	pop3_dispatch(&sess, line, strlen(line));
	(void)str_copy(got, sess.out.len > 0 ? sess.out.data : "",
	    sizeof(got));
	return got;
}

TestSuite(pop3_dispatch, .init = setup, .fini = teardown);

Test(pop3_dispatch, greeting_with_apop_timestamp)
{
	pop3_greet(&sess);
	cr_assert(strncmp(sess.out.data, "+OK buzon POP3 ready <", 22) == 0,
	    "%s", sess.out.data);
	cr_assert(strstr(sess.out.data, "@mail.example.test>\r\n") != NULL);
	cr_assert_eq(sess.timestamp[0], '<');
}

Test(pop3_dispatch, greeting_without_apop)
{
	srv.conf.apop_enable = false;
	sess.is_loopback = true;
	pop3_greet(&sess);
	cr_assert_str_eq(sess.out.data, "+OK buzon POP3 ready.\r\n");
	cr_assert_str_eq(sess.timestamp, "");
	cr_assert_str_eq(run("APOP a 0123456789abcdef0123456789abcdef"),
	    "-ERR APOP not enabled.\r\n");
}

Test(pop3_dispatch, unknown_command_goes_on)
{
	cr_assert_str_eq(run("FROB 1"), "-ERR Unknown command: FROB\r\n");
	cr_assert_eq(sess.state, POP3_AUTHORIZATION);
	cr_assert_eq(sess.errors, 1);
	cr_assert_str_eq(run("quit"), "+OK Logging out.\r\n");
	cr_assert_eq(sess.state, POP3_CLOSING);
}

Test(pop3_dispatch, unknown_verb_is_sanitized)
{
	cr_assert_str_eq(run("F\x01X"), "-ERR Unknown command: F\\x01X\r\n");
}

Test(pop3_dispatch, empty_line)
{
	cr_assert_str_eq(run(""), "-ERR Unknown command: \r\n");
	cr_assert_eq(sess.errors, 1);
}

Test(pop3_dispatch, too_many_errors_close)
{
	srv.conf.max_errors = 3;
	(void)run("A");
	(void)run("B");
	cr_assert_eq(sess.state, POP3_AUTHORIZATION);
	cr_assert_str_eq(run("C"), "-ERR Unknown command: C\r\n"
	    "-ERR Too many bad commands.\r\n");
	cr_assert_eq(sess.state, POP3_CLOSING);
}

Test(pop3_dispatch, transaction_verbs_need_login)
{
	cr_assert_str_eq(run("STAT"),
	    "-ERR Unknown command: STAT (log in first)\r\n");
	cr_assert_str_eq(run("RETR 1"),
	    "-ERR Unknown command: RETR (log in first)\r\n");
	cr_assert_str_eq(run("NOOP"),
	    "-ERR Unknown command: NOOP (log in first)\r\n");
}

Test(pop3_dispatch, login_verbs_after_login)
{
	sess.state = POP3_TRANSACTION;
	cr_assert_str_eq(run("USER bob"),
	    "-ERR Unknown command: USER (already logged in)\r\n");
	cr_assert_str_eq(run("STLS"),
	    "-ERR Unknown command: STLS (already logged in)\r\n");
	cr_assert_str_eq(run("noop"), "+OK\r\n");
}

Test(pop3_dispatch, capa_loopback_plain)
{
	sess.is_loopback = true;
	cr_assert_str_eq(run("CAPA"), "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\n"
	    "RESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nUSER\r\n"
	    "SASL PLAIN LOGIN\r\nIMPLEMENTATION buzon\r\n.\r\n");
}

Test(pop3_dispatch, capa_remote_plain_hides_logins)
{
	cr_assert_str_eq(run("capa"), "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\n"
	    "RESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\n"
	    "IMPLEMENTATION buzon\r\n.\r\n");
}

Test(pop3_dispatch, capa_after_login)
{
	sess.state = POP3_TRANSACTION;
	sess.is_tls = true;
	cr_assert_str_eq(run("CAPA"), "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\n"
	    "RESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\n"
	    "IMPLEMENTATION buzon\r\n.\r\n");
}

Test(pop3_dispatch, plaintext_refused_off_loopback)
{
	static const char refused[] = "-ERR [AUTH] Plaintext authentication "
	    "disallowed on non-secure (SSL/TLS) connections.\r\n";

	cr_assert_str_eq(run("USER alice"), refused);
	cr_assert_str_eq(run("PASS x"), refused);
	cr_assert_str_eq(run("AUTH PLAIN"), refused);
	cr_assert_str_eq(run("APOP a b"), refused);
}

Test(pop3_dispatch, plaintext_refused_on_loopback_when_off)
{
	srv.conf.plaintext_loopback = false;
	sess.is_loopback = true;
	cr_assert(strncmp(run("USER alice"), "-ERR [AUTH] Plaintext", 21) == 0);
	sess.is_tls = true;
	cr_assert_str_eq(run("USER alice"), "+OK\r\n");
}

Test(pop3_dispatch, user_and_pass_syntax)
{
	sess.is_loopback = true;
	cr_assert_str_eq(run("PASS x"), "-ERR No username given.\r\n");
	cr_assert_str_eq(run("USER"),
	    "-ERR USER takes one argument: the user name.\r\n");
	cr_assert_str_eq(run("USER a b"),
	    "-ERR USER takes one argument: the user name.\r\n");
	cr_assert_eq(sess.errors, 3);
}

Test(pop3_dispatch, user_too_long)
{
	char	 line[400];

	sess.is_loopback = true;
	sess.max_line = 1000;
	memset(line, 'a', sizeof(line));
	memcpy(line, "USER ", 5);
	line[sizeof(line) - 1] = '\0';
	cr_assert_str_eq(run(line), "-ERR User name too long.\r\n");
	cr_assert_str_eq(sess.user, "");
}

Test(pop3_dispatch, line_longer_than_max_line)
{
	char	 line[300];

	memset(line, 'a', sizeof(line));
	memcpy(line, "LIST ", 5);
	line[sizeof(line) - 1] = '\0';
	cr_assert_str_eq(run(line), "-ERR Line too long.\r\n");
}

Test(pop3_dispatch, auth_lists_mechanisms)
{
	sess.is_loopback = true;
	cr_assert_str_eq(run("AUTH"), "+OK\r\nPLAIN\r\nLOGIN\r\n.\r\n");
	cr_assert_str_eq(run("AUTH CRAM-MD5"),
	    "-ERR Unsupported authentication mechanism.\r\n");
}

/* A line as the session layer hands it on: to the continuation while
 * there is one, else as a command; one-line masking ends with it. */
static void
layer_line(char *line, size_t len)
{
	sess.base.mask_next = false;
	if (sess.base.cont != NULL)
		sess.base.cont(&sess.base, line, len);
	else
		pop3_dispatch(&sess, line, len);
}

Test(pop3_dispatch, auth_login_challenges_and_cancel)
{
	char	 line[8] = "*";

	sess.is_loopback = true;
	cr_assert_str_eq(run("AUTH LOGIN"), "+ VXNlcm5hbWU6\r\n");
	cr_assert_not_null(sess.base.cont);
	cr_assert(sess.base.cont_secret);
	str_clear(&sess.out);
	layer_line(line, 1);
	cr_assert_str_eq(sess.out.data, "-ERR Authentication aborted.\r\n");
	/* The password may follow all the same: traced masked, then handled
	 * as a command. */
	cr_assert_null(sess.base.cont);
	cr_assert(sess.base.mask_next);
	(void)str_copy(line, "NOOP", sizeof(line));
	str_clear(&sess.out);
	layer_line(line, 4);
	cr_assert_null(sess.base.cont);
	cr_assert_not(sess.base.cont_secret);
	cr_assert_not(sess.base.mask_next);
	cr_assert(strncmp(sess.out.data, "-ERR", 4) == 0);
}

/* A refused user name line ends the exchange, but the masking lasts
 * until the password line has gone by. */
Test(pop3_dispatch, auth_login_bad_user_masks_the_password_line)
{
	char	 line[16] = "!!!";

	sess.is_loopback = true;
	cr_assert_str_eq(run("AUTH LOGIN"), "+ VXNlcm5hbWU6\r\n");
	str_clear(&sess.out);
	layer_line(line, 3);
	cr_assert(strncmp(sess.out.data, "-ERR [AUTH] ", 12) == 0);
	cr_assert(sess.base.mask_next);
	(void)str_copy(line, "c2VjcmV0", sizeof(line));
	layer_line(line, 8);
	cr_assert_not(sess.base.mask_next);
	cr_assert_not(sess.base.cont_secret);
	cr_assert_null(sess.base.cont);
	/* A good exchange leaves nothing masked after it. */
	cr_assert_str_eq(run("AUTH PLAIN"), "+ \r\n");
	cr_assert(sess.base.cont_secret);
}

Test(pop3_dispatch, auth_plain_bad_base64)
{
	sess.is_loopback = true;
	cr_assert(strncmp(run("AUTH PLAIN !!!!"), "-ERR [AUTH] ", 12) == 0);
	cr_assert_null(sess.base.cont);
	cr_assert_eq(sess.errors, 1);
}

Test(pop3_dispatch, stls_without_tls)
{
	cr_assert_str_eq(run("STLS"), "-ERR TLS support isn't enabled.\r\n");
	cr_assert(!sess.want_starttls);
	sess.is_tls = true;
	cr_assert_str_eq(run("STLS"), "-ERR TLS is already active.\r\n");
}

Test(pop3_dispatch, too_many_commands_before_login)
{
	unsigned int	 i;

	for (i = 0; i < POP3_PREAUTH_MAX; i++)
		cr_assert(strncmp(run("CAPA"), "+OK", 3) == 0);
	cr_assert_str_eq(run("CAPA"),
	    "-ERR Too many commands before login.\r\n");
	cr_assert_eq(sess.state, POP3_CLOSING);
}
