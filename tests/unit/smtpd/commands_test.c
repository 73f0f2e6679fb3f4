/* SPDX-License-Identifier: MIT */
/*
 * commands_test.c - the verb table, dispatch and the replies of the
 * commands that need no socket, no spool and no accounts maps
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd.h"
#include "str.h"

static struct smtpd	 srv;
static struct session	 sess;
static char		 nets[][24] = { "192.0.2.0/24", "[2001:db8::]/32" };
static char		*netv[] = { nets[0], nets[1] };

static void
setup_listener(enum smtp_listener l, const char *ip)
{
	memset(&srv, 0, sizeof(srv));
	srv.conf.hostname = "mx.example.test";
	srv.conf.max_message = 10240;
	srv.conf.max_recipients = 3;
	srv.conf.max_errors = 10;
	srv.conf.max_commands_preauth = 20;
	srv.conf.timeout = 300000;
	srv.conf.data_timeout = 600000;
	srv.conf.mynetworks = netv;
	srv.conf.nmynetworks = 2;
	srv.conf.data.max_size = 10240;
	srv.conf.max_line = 2048;
	srv.conf.data.max_headers = 100;
	srv.conf.data.max_header_size = 10240;
	srv.conf.data.max_received = 5;
	memset(&sess, 0, sizeof(sess));
	sess.srv = &srv;
	sess.listener = l;
	sess.state = SMTP_GREETED;
	(void)str_copy(sess.id, "test", sizeof(sess.id));
	(void)str_copy(sess.ip, ip, sizeof(sess.ip));
	cr_assert_eq(net_addr_parse(ip, &sess.peer), 0);
	sess.is_loopback = net_addr_is_loopback(&sess.peer);
	sess.in_mynetworks = policy_in_networks(&sess.peer, netv, 2);
	str_init(&sess.out, 0);
}

static void
setup(void)
{
	setup_listener(SMTP_LISTEN_SMTP, "198.51.100.7");
}

static void
teardown(void)
{
	smtp_tx_reset(&sess);
	if (srv.tls_ctx != NULL)
		SSL_CTX_free(srv.tls_ctx);
	str_release(&sess.out);
	free(srv.batch);
}

/* Send one line; return what was replied (and clear it). */
static const char *
say(const char *line)
{
	static char	 reply[4096];
	char		 buf[4096];

	(void)str_copy(buf, line, sizeof(buf));
	str_clear(&sess.out);
	smtp_dispatch(&sess, buf, strlen(buf));
	(void)str_copy(reply, str_c(&sess.out), sizeof(reply));
	return reply;
}

TestSuite(commands, .init = setup, .fini = teardown);

Test(commands, greeting)
{
	smtp_greet(&sess);
	cr_assert_str_eq(str_c(&sess.out), "220 mx.example.test ESMTP buzon\r\n");
}

Test(commands, ehlo_lists_extensions_in_order)
{
	cr_assert_str_eq(say("EHLO client.example"),
	    "250-mx.example.test\r\n"
	    "250-PIPELINING\r\n"
	    "250-SIZE 10240\r\n"
	    "250-ENHANCEDSTATUSCODES\r\n"
	    "250-8BITMIME\r\n"
	    "250-DSN\r\n"
	    "250-SMTPUTF8\r\n"
	    "250 CHUNKING\r\n");
	cr_assert_eq(sess.state, SMTP_READY);
	cr_assert(sess.is_esmtp);
}

Test(commands, ehlo_offers_starttls_then_auth)
{
	srv.tls_ctx = SSL_CTX_new(TLS_server_method());
	cr_assert(strstr(say("EHLO c"), "250-STARTTLS\r\n") != NULL);
	cr_assert(strstr(say("EHLO c"), "AUTH") == NULL);
	sess.is_tls = true;
	cr_assert(strstr(say("EHLO c"), "STARTTLS") == NULL);
	cr_assert(strstr(say("EHLO c"), "250-AUTH PLAIN LOGIN\r\n") != NULL);
}

Test(commands, auth_on_loopback_only_when_configured)
{
	setup_listener(SMTP_LISTEN_SMTP, "127.0.0.1");
	cr_assert(strstr(say("EHLO c"), "AUTH") == NULL);
	cr_assert_str_eq(say("AUTH PLAIN"),
	    "503 5.5.1 Error: authentication not enabled\r\n");
	srv.conf.auth_plaintext_loopback = true;
	cr_assert(strstr(say("EHLO c"), "250-AUTH PLAIN LOGIN\r\n") != NULL);
}

Test(commands, helo)
{
	cr_assert_str_eq(say("HELO pc23.ejemplo.com"), "250 mx.example.test\r\n");
	cr_assert_str_eq(sess.helo, "pc23.ejemplo.com");
	cr_assert(!sess.is_esmtp);
	cr_assert_str_eq(say("HELO"), "501 5.5.4 Syntax: HELO hostname\r\n");
	cr_assert_str_eq(say("EHLO "), "501 5.5.4 Syntax: EHLO hostname\r\n");
}

Test(commands, simple_commands)
{
	cr_assert_str_eq(say("NOOP"), "250 2.0.0 Ok\r\n");
	cr_assert_str_eq(say("noop anything"), "250 2.0.0 Ok\r\n");
	cr_assert_str_eq(say("RSET"), "250 2.0.0 Ok\r\n");
	cr_assert_str_eq(say("RSET x"), "501 5.5.4 Syntax: RSET\r\n");
	cr_assert(strncmp(say("VRFY root"), "252 2.0.0 ", 10) == 0);
	cr_assert_str_eq(say("VRFY"), "501 5.5.4 Syntax: VRFY address\r\n");
	cr_assert(strncmp(say("HELP"), "214 2.0.0 ", 10) == 0);
	cr_assert_str_eq(say("FOO bar"),
	    "500 5.5.2 Error: command not recognized\r\n");
	cr_assert_str_eq(say("QUIT"), "221 2.0.0 Bye\r\n");
	cr_assert_eq(sess.state, SMTP_CLOSING);
}

Test(commands, verbs_any_case_and_bare_spaces)
{
	cr_assert_str_eq(say("  nOoP  "), "250 2.0.0 Ok\r\n");
	cr_assert_str_eq(say("helo\tx"), "250 mx.example.test\r\n");
}

Test(commands, bad_sequences)
{
	cr_assert_str_eq(say("RCPT TO:<a@example.org>"),
	    "503 5.5.1 Error: need MAIL command\r\n");
	cr_assert_str_eq(say("DATA"), "503 5.5.1 Error: need RCPT command\r\n");
	/* Postfix does not insist on HELO before MAIL */
	cr_assert_str_eq(say("MAIL FROM:<a@example.org>"), "250 2.1.0 Ok\r\n");
	cr_assert_str_eq(say("MAIL FROM:<a@example.org>"),
	    "503 5.5.1 Error: nested MAIL command\r\n");
	cr_assert_str_eq(say("DATA"), "503 5.5.1 Error: need RCPT command\r\n");
	cr_assert_str_eq(say("STARTTLS"),
	    "503 5.5.1 Error: MAIL transaction in progress\r\n");
	cr_assert_eq(sess.errors, 5);
}

Test(commands, mail_lenient_paths)
{
	cr_assert_str_eq(say("MAIL FROM: <usuario@ejemplo.com>"),
	    "250 2.1.0 Ok\r\n");
	cr_assert_str_eq(sess.tx.sender, "usuario@ejemplo.com");
	cr_assert_str_eq(say("RSET"), "250 2.0.0 Ok\r\n");
	cr_assert(!sess.tx.has_sender);
	cr_assert_str_eq(say("mail from:<>"), "250 2.1.0 Ok\r\n");
	cr_assert_str_eq(sess.tx.sender, "");
}

struct bad_case {
	char	line[80];
	char	reply[80];
};

ParameterizedTestParameters(commands, mail_errors)
{
	static struct bad_case cases[] = {
		{ "MAIL", "501 5.5.4 Syntax: MAIL FROM:<address>" },
		{ "MAIL TO:<a@b.example>", "501 5.5.4 Syntax: MAIL FROM:<address>" },
		{ "MAIL FROM:<a@@b>", "501 5.1.7 Bad sender address syntax" },
		{ "MAIL FROM:<a@b.example", "501 5.1.7 Bad sender address syntax" },
		{ "MAIL FROM:<a@b.example> SIZE=20000",
		    "552 5.3.4 Message size exceeds fixed maximum message size" },
		{ "MAIL FROM:<a@b.example> SIZE=x1", "501 5.5.4 " },
		{ "MAIL FROM:<a@b.example> FOO=1", "555 5.5.4 " },
		{ "MAIL FROM:<\xc3\xa9@b.example>",
		    "553 5.6.7 Must declare SMTPUTF8 to send unicode address" },
		/* RFC 6531 takes UTF-8, not any octet: a lone byte, overlong */
		{ "MAIL FROM:<\xc3@b.example> SMTPUTF8",
		    "501 5.1.7 Bad sender address syntax" },
		{ "MAIL FROM:<a\xc0\xaf" "b@b.example> SMTPUTF8",
		    "501 5.1.7 Bad sender address syntax" },
	};
	return cr_make_param_array(struct bad_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad_case *c, commands, mail_errors, .init = setup,
    .fini = teardown)
{
	const char	*r = say(c->line);

	cr_assert(strncmp(r, c->reply, strlen(c->reply)) == 0,
	    "%s -> %s", c->line, r);
	cr_assert_eq(sess.state, SMTP_GREETED);
	cr_assert_eq(sess.errors, 1);
}

Test(commands, mail_smtputf8_declared)
{
	cr_assert_str_eq(say("MAIL FROM:<\xc3\xa9@b.example> SMTPUTF8"),
	    "250 2.1.0 Ok\r\n");
	cr_assert(strncmp(say("RCPT TO:<\xc3\xa9@example.net>"),
	    "554 5.7.1 <", 11) == 0);
	cr_assert(strncmp(say("RCPT TO:<b@example.net>"),
	    "554 5.7.1 <b@example.net>: Relay access denied", 46) == 0);
	cr_assert_str_eq(say("RCPT TO:<j\x80s@example.net>"),
	    "501 5.1.3 Bad recipient address syntax\r\n");
	cr_assert_str_eq(say("RCPT TO:<j\xc2\x85s@example.net>"),
	    "501 5.1.3 Bad recipient address syntax\r\n");
}

/* RFC 6531 3.5: a UTF-8 address in a transaction without SMTPUTF8. */
Test(commands, rcpt_utf8_needs_smtputf8)
{
	cr_assert_str_eq(say("MAIL FROM:<a@b.example>"), "250 2.1.0 Ok\r\n");
	cr_assert_str_eq(say("RCPT TO:<j\xc3\xb6s@example.net>"),
	    "553 5.6.7 Must declare SMTPUTF8 to send unicode address\r\n");
	cr_assert_eq(sess.state, SMTP_MAIL);
}

Test(commands, rcpt_relay_denied_from_outside)
{
	(void)say("MAIL FROM:<a@example.org>");
	cr_assert_str_eq(say("RCPT TO: <destino@dominio.example>"),
	    "554 5.7.1 <destino@dominio.example>: Relay access denied\r\n");
	cr_assert_str_eq(say("RCPT TO:<a@@b>"),
	    "501 5.1.3 Bad recipient address syntax\r\n");
	/* no local domains: <Postmaster> is postmaster@HOSTNAME, remote */
	cr_assert_str_eq(say("RCPT TO:<Postmaster>"), "554 5.7.1 "
	    "<postmaster@mx.example.test>: Relay access denied\r\n");
	cr_assert_str_eq(say("RCPT TO:<postmasterx>"),
	    "501 5.1.3 Bad recipient address syntax\r\n");
	cr_assert_str_eq(say("RCPT FROM:<a@b.example>"),
	    "501 5.5.4 Syntax: RCPT TO:<address>\r\n");
	cr_assert_eq(sess.state, SMTP_MAIL);
}

Test(commands, rcpt_relay_for_mynetworks_and_limit)
{
	setup_listener(SMTP_LISTEN_SMTP, "192.0.2.9");
	(void)say("MAIL FROM:<a@example.org>");
	cr_assert_str_eq(say("RCPT TO:<b@example.net>"), "250 2.1.5 Ok\r\n");
	cr_assert_eq(sess.state, SMTP_RCPT);
	cr_assert_str_eq(say("RCPT TO:<c@example.net> NOTIFY=SUCCESS,DELAY "
	    "ORCPT=rfc822;c@example.net"), "250 2.1.5 Ok\r\n");
	cr_assert_str_eq(say("RCPT TO:<d@example.net>"), "250 2.1.5 Ok\r\n");
	cr_assert_str_eq(say("RCPT TO:<e@example.net>"),
	    "452 4.5.3 Error: too many recipients\r\n");
	cr_assert_eq(sess.tx.nrcpts, 3);
	cr_assert_str_eq(sess.tx.rcpts[1].orcpt, "rfc822;c@example.net");
	cr_assert_eq(sess.tx.rcpts[1].notify, NOTIFY_SUCCESS | NOTIFY_DELAY);
}

/* A repeated recipient is accepted and kept once; the same address with
 * other DSN parameters or another local-part case is another recipient. */
Test(commands, rcpt_duplicates_kept_once)
{
	int	 i;

	setup_listener(SMTP_LISTEN_SMTP, "192.0.2.9");
	srv.conf.max_recipients = 100;
	(void)say("MAIL FROM:<a@example.org>");
	for (i = 0; i < 97; i++)
		cr_assert_str_eq(say("RCPT TO:<b@example.net>"),
		    "250 2.1.5 Ok\r\n");
	cr_assert_str_eq(say("RCPT TO:<b@EXAMPLE.net>"), "250 2.1.5 Ok\r\n");
	cr_assert_eq(sess.tx.nrcpts, 1);
	cr_assert_str_eq(say("RCPT TO:<B@example.net>"), "250 2.1.5 Ok\r\n");
	cr_assert_str_eq(say("RCPT TO:<b@example.net> NOTIFY=NEVER"),
	    "250 2.1.5 Ok\r\n");
	cr_assert_eq(sess.tx.nrcpts, 3);
	cr_assert_str_eq(sess.tx.rcpts[0].addr, "b@example.net");
	/* Repeats count toward the limit, as every RCPT does. */
	cr_assert_str_eq(say("RCPT TO:<b@example.net>"),
	    "452 4.5.3 Error: too many recipients\r\n");
}

Test(commands, ipv6_mynetworks_in_brackets)
{
	setup_listener(SMTP_LISTEN_SMTP, "2001:db8::25");
	cr_assert(sess.in_mynetworks);
	cr_assert(net_network_valid("[::1]/128"));
	cr_assert(net_network_valid("10.0.0.0/8"));
	cr_assert(!net_network_valid("10.0.0.0/33"));
	cr_assert(!net_network_valid("example.org"));
}

Test(commands, data_without_spool_is_a_tempfail)
{
	setup_listener(SMTP_LISTEN_SMTP, "192.0.2.9");
	(void)say("MAIL FROM:<a@example.org>");
	(void)say("RCPT TO:<b@example.net>");
	cr_assert_str_eq(say("DATA x"), "501 5.5.4 Syntax: DATA\r\n");
	cr_assert_str_eq(say("DATA"),
	    "451 4.3.0 Error: queue file write error\r\n");
	cr_assert_eq(sess.state, SMTP_RCPT);
}

Test(commands, too_many_errors_closes)
{
	unsigned int	 i;
	const char	*r = "";

	for (i = 0; i < 10; i++)
		r = say("BOGUS");
	cr_assert_str_eq(r, "500 5.5.2 Error: command not recognized\r\n"
	    "421 4.7.0 mx.example.test Error: too many errors\r\n");
	cr_assert_eq(sess.state, SMTP_CLOSING);
}

Test(commands, line_too_long)
{
	char	 line[2048 + 10];

	memset(line, 'x', sizeof(line) - 1);
	memcpy(line, "NOOP ", 5);
	line[sizeof(line) - 1] = '\0';
	cr_assert_str_eq(say(line), "500 5.5.0 Error: line too long\r\n");
	cr_assert_str_eq(say("NOOP"), "250 2.0.0 Ok\r\n");
}

Test(commands, starttls)
{
	cr_assert_str_eq(say("STARTTLS"),
	    "502 5.5.1 Error: command not implemented\r\n");
	srv.tls_ctx = SSL_CTX_new(TLS_server_method());
	cr_assert_str_eq(say("STARTTLS now"), "501 5.5.4 Syntax: STARTTLS\r\n");
	cr_assert_str_eq(say("STARTTLS"), "220 2.0.0 Ready to start TLS\r\n");
	cr_assert(sess.want_starttls);
	cr_assert(sess.base.flush_now);
	sess.want_starttls = false;
	sess.is_tls = true;
	cr_assert_str_eq(say("STARTTLS"),
	    "554 5.5.1 Error: TLS already active\r\n");
}

Test(commands, submission_needs_tls_then_auth)
{
	setup_listener(SMTP_LISTEN_SUBMISSION, "192.0.2.9");
	srv.tls_ctx = SSL_CTX_new(TLS_server_method());
	cr_assert_str_eq(say("EHLO c"), "250-mx.example.test\r\n"
	    "250-PIPELINING\r\n250-SIZE 10240\r\n250-STARTTLS\r\n"
	    "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n"
	    "250-SMTPUTF8\r\n250 CHUNKING\r\n");
	cr_assert_str_eq(say("MAIL FROM:<a@example.org>"),
	    "530 5.7.0 Must issue a STARTTLS command first\r\n");
	cr_assert_str_eq(say("AUTH PLAIN"),
	    "530 5.7.0 Must issue a STARTTLS command first\r\n");
	cr_assert_str_eq(say("NOOP"), "250 2.0.0 Ok\r\n");
	sess.is_tls = true;
	cr_assert_str_eq(say("MAIL FROM:<a@example.org>"),
	    "530 5.7.0 Authentication required\r\n");
	cr_assert_str_eq(say("AUTH CRAM-MD5"),
	    "504 5.5.4 Unsupported authentication mechanism\r\n");
	cr_assert_str_eq(say("AUTH"), "501 5.5.4 Syntax: AUTH mechanism\r\n");
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
		smtp_dispatch(&sess, line, len);
}

Test(commands, auth_exchanges)
{
	sess.is_tls = true;
	cr_assert_str_eq(say("AUTH LOGIN"), "334 VXNlcm5hbWU6\r\n");
	cr_assert(sess.base.cont != NULL && sess.base.cont_secret);
	smtp_auth_release(&sess);
	cr_assert_str_eq(say("AUTH PLAIN"), "334 \r\n");
	smtp_auth_release(&sess);
	/* no accounts: every login is refused */
	cr_assert_str_eq(say("AUTH PLAIN AGFsaWNlAHNlY3JldA=="),
	    "535 5.7.8 Error: authentication failed: authentication failure\r\n");
	cr_assert(!sess.is_authenticated);
	cr_assert_null(sess.base.cont);
}

Test(commands, auth_continuation_cancel_and_garbage)
{
	char	 line[8];

	sess.is_tls = true;
	cr_assert_str_eq(say("AUTH LOGIN"), "334 VXNlcm5hbWU6\r\n");
	(void)str_copy(line, "*", sizeof(line));
	str_clear(&sess.out);
	layer_line(line, 1);
	cr_assert_str_eq(str_c(&sess.out), "501 5.0.0 Authentication aborted\r\n");
	/* The password line may still come: masked, then a command. */
	cr_assert(sess.base.mask_next);
	cr_assert_null(sess.base.cont);
	(void)str_copy(line, "NOOP", sizeof(line));
	str_clear(&sess.out);
	layer_line(line, 4);
	cr_assert_str_eq(str_c(&sess.out), "250 2.0.0 Ok\r\n");
	cr_assert_null(sess.base.cont);
	cr_assert_not(sess.base.cont_secret);
	cr_assert_not(sess.base.mask_next);
	cr_assert_str_eq(say("AUTH PLAIN"), "334 \r\n");
	(void)str_copy(line, "!!!", sizeof(line));
	str_clear(&sess.out);
	layer_line(line, 3);
	cr_assert_str_eq(str_c(&sess.out), "501 5.5.2 Cannot decode response\r\n");
	cr_assert_null(sess.sasl);
}

/* Issue: after "501 Cannot decode" for the user name line, the password
 * line came next and was traced in clear. */
Test(commands, auth_login_bad_user_masks_the_password_line)
{
	char	 line[16];

	sess.is_tls = true;
	cr_assert_str_eq(say("AUTH LOGIN"), "334 VXNlcm5hbWU6\r\n");
	(void)str_copy(line, "!!!", sizeof(line));
	str_clear(&sess.out);
	layer_line(line, 3);
	cr_assert_str_eq(str_c(&sess.out), "501 5.5.2 Cannot decode response\r\n");
	cr_assert(sess.base.mask_next);
	(void)str_copy(line, "c2VjcmV0", sizeof(line));
	layer_line(line, 8);
	cr_assert_not(sess.base.mask_next);
	cr_assert_not(sess.base.cont_secret);
	cr_assert_null(sess.base.cont);
	/* The same with the user name as initial response. */
	cr_assert_str_eq(say("AUTH LOGIN !!!"),
	    "501 5.5.2 Cannot decode response\r\n");
	cr_assert(sess.base.mask_next);
}

Test(commands, auth_twice_and_in_transaction)
{
	sess.is_tls = true;
	(void)say("MAIL FROM:<a@example.org>");
	cr_assert_str_eq(say("AUTH PLAIN"),
	    "503 5.5.1 Error: MAIL transaction in progress\r\n");
	(void)say("RSET");
	sess.is_authenticated = true;
	cr_assert_str_eq(say("AUTH PLAIN"),
	    "503 5.5.1 Error: already authenticated\r\n");
}

Test(commands, commands_before_auth_are_limited)
{
	unsigned int	 i;

	setup_listener(SMTP_LISTEN_SUBMISSION, "192.0.2.9");
	for (i = 0; i < 20; i++)
		cr_assert_str_eq(say("NOOP"), "250 2.0.0 Ok\r\n");
	cr_assert_str_eq(say("NOOP"), "421 4.7.0 mx.example.test Error: too "
	    "many commands before authentication\r\n");
	cr_assert_eq(sess.state, SMTP_CLOSING);
}

Test(commands, helo_resets_the_transaction)
{
	setup_listener(SMTP_LISTEN_SMTP, "192.0.2.9");
	(void)say("MAIL FROM:<a@example.org>");
	(void)say("RCPT TO:<b@example.net>");
	cr_assert_str_eq(say("EHLO again"), "250-mx.example.test\r\n"
	    "250-PIPELINING\r\n250-SIZE 10240\r\n250-ENHANCEDSTATUSCODES\r\n"
	    "250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n");
	cr_assert_eq(sess.tx.nrcpts, 0);
	cr_assert_eq(sess.state, SMTP_READY);
}

Test(commands, bdat_sequence_and_syntax)
{
	cr_assert_str_eq(say("BDAT x"), "501 5.5.4 Syntax: BDAT count [LAST]\r\n");
	cr_assert_str_eq(say("BDAT 10 NOTLAST"),
	    "501 5.5.4 Syntax: BDAT count [LAST]\r\n");
	cr_assert(!sess.tx.bdat_chunk);
	/* without MAIL the chunk is still read, then refused */
	cr_assert_str_eq(say("BDAT 5 LAST"), "");
	cr_assert(sess.tx.bdat_chunk && sess.tx.bdat_discard);
	cr_assert_eq(sess.tx.bdat_left, 5);
	smtp_bdat_bytes(&sess, "hello", 5);
	sess.tx.bdat_left = 0;
	str_clear(&sess.out);
	smtp_bdat_end(&sess);
	cr_assert_str_eq(str_c(&sess.out),
	    "503 5.5.1 Error: need MAIL command\r\n");
	cr_assert(!sess.tx.bdat_chunk);
}

/* On submission before STARTTLS the 530 comes after the chunk, which is
 * read and dropped: its octets are never commands. */
Test(commands, bdat_before_starttls_reads_its_chunk)
{
	setup_listener(SMTP_LISTEN_SUBMISSION, "198.51.100.7");
	srv.tls_ctx = SSL_CTX_new(TLS_server_method());
	(void)say("EHLO client.example");
	cr_assert_str_eq(say("MAIL FROM:<a@example.org>"),
	    "530 5.7.0 Must issue a STARTTLS command first\r\n");
	cr_assert_str_eq(say("BDAT 12"), "");
	cr_assert(sess.tx.bdat_chunk && sess.tx.bdat_discard);
	cr_assert_eq(sess.tx.bdat_left, 12);
	smtp_bdat_bytes(&sess, "HELP\r\nQUIT\r\n", 12);
	sess.tx.bdat_left = 0;
	str_clear(&sess.out);
	smtp_bdat_end(&sess);
	cr_assert_str_eq(str_c(&sess.out),
	    "530 5.7.0 Must issue a STARTTLS command first\r\n");
	cr_assert(!sess.tx.bdat_chunk);
	cr_assert_eq(sess.state, SMTP_READY);
	/* a BDAT whose size does not parse loses the stream: 501 at once */
	cr_assert_str_eq(say("BDAT twelve"),
	    "501 5.5.4 Syntax: BDAT count [LAST]\r\n");
	cr_assert(!sess.tx.bdat_chunk);
}

Test(commands, bdat_over_the_size_is_read_then_refused)
{
	setup_listener(SMTP_LISTEN_SMTP, "192.0.2.9");
	(void)say("MAIL FROM:<a@example.org>");
	(void)say("RCPT TO:<b@example.net>");
	cr_assert_str_eq(say("BDAT 20000 LAST"), "");
	cr_assert(sess.tx.bdat_discard);
	sess.tx.bdat_left = 0;
	str_clear(&sess.out);
	smtp_bdat_end(&sess);
	cr_assert_str_eq(str_c(&sess.out),
	    "552 5.3.4 Message size exceeds fixed limit\r\n");
}

Test(commands, proto_names)
{
	cr_assert_str_eq(smtp_proto(&sess), "SMTP");
	sess.is_esmtp = true;
	cr_assert_str_eq(smtp_proto(&sess), "ESMTP");
	sess.is_tls = true;
	cr_assert_str_eq(smtp_proto(&sess), "ESMTPS");
	sess.is_authenticated = true;
	cr_assert_str_eq(smtp_proto(&sess), "ESMTPSA");
	sess.is_tls = false;
	cr_assert_str_eq(smtp_proto(&sess), "ESMTPA");
	cr_assert_str_eq(smtp_state_name(SMTP_BDAT), "bdat");
	cr_assert_str_eq(smtp_state_name((enum smtp_state)99), "?");
}
