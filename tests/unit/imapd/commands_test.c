/* SPDX-License-Identifier: MIT */
/*
 * commands_test.c - buzon-imapd's command collection and dispatch on
 * memory sessions (common/session.h sess_feed()): exact bytes of the
 * greeting and replies, verbs without case, tags, literals announced and
 * refused before their continuation, over-long lines, error counting;
 * every input also cut into pieces of every size
 */
#include <criterion/criterion.h>
#include <string.h>

#include "imapd.h"
#include "log.h"
#include "str.h"

static struct imapd	 srv;
static struct sess_ops	 ops;		/* imap_sess_ops, output captured */
static struct str	 got;

/* Take what a hook queued before the layer drops it (memory streams
 * throw output away). */
static void
capture(struct sess *b)
{
	struct imap_session	*s = SESS_OF(struct imap_session, b);

	if (s->out.len > 0 && str_append(&got, s->out.data, s->out.len) == -1)
		cr_assert_fail("capture");
	str_clear(&s->out);
}

static void
greet(struct sess *b)
{
	imap_sess_ops.greet(b);
	capture(b);
}

static void
line(struct sess *b, char *l, size_t len, bool bare_lf)
{
	imap_sess_ops.line(b, l, len, bare_lf);
	capture(b);
}

static void
long_line(struct sess *b, bool bare_lf)
{
	imap_sess_ops.long_line(b, bare_lf);
	capture(b);
}

static void
on_input(struct sess *b, bool was_raw)
{
	imap_sess_ops.on_input(b, was_raw);
	capture(b);
}

static void
setup(void)
{
	log_set_level(LOG_LEVEL_ERROR);
	memset(&srv, 0, sizeof(srv));
	srv.conf.hostname = "mail.example.test";
	srv.conf.max_errors = 20;
	srv.conf.max_line = 8192;
	srv.conf.max_command = 65536;
	srv.conf.max_append = 65536;
	srv.conf.timeout = srv.conf.auth_timeout = 60000;
	srv.conf.idle_timeout = srv.conf.send_timeout = 60000;
	srv.conf.command_timeout = 60000;
	srv.conf.max_connections = srv.conf.max_connections_per_ip = 10;
	srv.conf.plaintext_loopback = true;
	ops = imap_sess_ops;
	ops.greet = greet;
	ops.line = line;
	ops.long_line = long_line;
	ops.on_input = on_input;
	sess_server_init(&srv.sv, NULL, &ops, &srv.tls_ctx);
	str_init(&got, 0);
}

static void
teardown(void)
{
	str_release(&got);
}

TestSuite(imap_session, .init = setup, .fini = teardown);

/* A session (loopback unless told), fed input in pieces of piece bytes
 * (0: at once).  Returns what it answered, greeting first. */
static const char *
run(const char *input, size_t len, size_t piece, bool loopback,
    enum imap_state st)
{
	struct imap_session	*s = imap_session_mem(&srv);
	struct sess		*b = &s->base;
	size_t			 off, n;

	str_clear(&got);
	s->is_loopback = loopback;
	imap_session_start(s);
	s->state = st;
	for (off = 0; off < len && b != NULL; off += n) {
		n = piece == 0 || len - off < piece ? len - off : piece;
		if (sess_feed(&b, input + off, n, false) == -1)
			b = NULL;
	}
	sess_free(&b, "test over");
	return str_c(&got);
}

#define GREETING "* OK [CAPABILITY IMAP4rev1 "

/* The replies after the greeting, for input cut at every piece size. */
static void
expect_all(const char *input, enum imap_state st, const char *want)
{
	size_t	len = strlen(input), piece;

	for (piece = 0; piece <= len; piece++) {
		const char	*r = run(input, len, piece, true, st);
		const char	*after = strstr(r, "\r\n");

		cr_assert(strncmp(r, GREETING, strlen(GREETING)) == 0, "%s", r);
		cr_assert_not_null(after);
		cr_assert_str_eq(after + 2, want, "piece %zu: got [%s]", piece,
		    after + 2);
	}
}

Test(imap_session, greeting_exact)
{
	const char	*r = run("", 0, 0, true, IMAP_NOT_AUTH);

	cr_assert(strncmp(r, GREETING, strlen(GREETING)) == 0, "%s", r);
	cr_assert(strstr(r, " AUTH=PLAIN AUTH=LOGIN] buzon IMAP4rev1 "
	    "ready.\r\n") != NULL, "%s", r);
	cr_assert_null(strstr(r, "LOGINDISABLED"));
	cr_assert_null(strstr(r, "STARTTLS"), "no TLS context: %s", r);
}

Test(imap_session, logindisabled_off_loopback)
{
	const char	*r = run("a LOGIN u p\r\n", 13, 0, false, IMAP_NOT_AUTH);

	cr_assert(strstr(r, " LOGINDISABLED] buzon IMAP4rev1 ready.\r\n") !=
	    NULL, "%s", r);
	cr_assert_null(strstr(r, "AUTH=PLAIN"));
	cr_assert(strstr(r, "\r\na NO ") != NULL, "%s", r);
}

Test(imap_session, verbs_without_case)
{
	expect_all("b noop\r\nc NoOp\r\n",
	    IMAP_NOT_AUTH, "b OK NOOP completed.\r\nc OK NOOP completed.\r\n");
}

Test(imap_session, logout)
{
	expect_all("a logout\r\nb NOOP\r\n", IMAP_NOT_AUTH,
	    "* BYE Logging out\r\na OK Logout completed.\r\n");
}

Test(imap_session, unknown_and_bad_tags)
{
	expect_all("a FROB\r\n+ NOOP\r\nx\r\nc NOOP\r\n", IMAP_NOT_AUTH,
	    "a BAD Error in IMAP command FROB: Unknown command.\r\n"
	    "* BAD Error in IMAP command received by server.\r\n"
	    "* BAD Error in IMAP command received by server.\r\n"
	    "c OK NOOP completed.\r\n");
}

Test(imap_session, empty_lines_ignored)
{
	expect_all("\r\n\r\na NOOP\r\n", IMAP_NOT_AUTH,
	    "a OK NOOP completed.\r\n");
}

Test(imap_session, state_refusals)
{
	expect_all("a SELECT INBOX\r\n", IMAP_NOT_AUTH,
	    "a BAD Error in IMAP command SELECT: Log in first.\r\n");
	expect_all("a LOGIN x y\r\nb EXPUNGE\r\n", IMAP_AUTH,
	    "a BAD Error in IMAP command LOGIN: Already logged in.\r\n"
	    "b BAD Error in IMAP command EXPUNGE: No mailbox selected.\r\n");
}

Test(imap_session, login_missing_password)
{
	expect_all("A LOGIN user\r\n", IMAP_NOT_AUTH,
	    "A BAD Error in IMAP command LOGIN: Missing password (usage: "
	    "LOGIN user password).\r\n");
}

/* No buzon-auth in a test: a well-formed login is a temporary failure,
 * reached only once the literals came in whole. */
Test(imap_session, login_with_literals)
{
	expect_all("a LOGIN {4}\r\nuser {4}\r\npass\r\n", IMAP_NOT_AUTH,
	    "+ Ready for literal data\r\n+ Ready for literal data\r\n"
	    "a NO [UNAVAILABLE] Temporary authentication failure.\r\n");
}

Test(imap_session, literal_plus_no_continuation)
{
	expect_all("a LOGIN {4+}\r\nuser {4+}\r\npass\r\nb NOOP\r\n",
	    IMAP_NOT_AUTH,
	    "a NO [UNAVAILABLE] Temporary authentication failure.\r\n"
	    "b OK NOOP completed.\r\n");
}

Test(imap_session, literal_holding_crlf_and_braces)
{
	expect_all("a ID (\"x\" {5}\r\n{1}\r\n)\r\nb NOOP\r\n", IMAP_NOT_AUTH,
	    "+ Ready for literal data\r\n"
	    "* ID (\"name\" \"buzon\" \"vendor\" \"buzon\")\r\n"
	    "a OK ID completed.\r\nb OK NOOP completed.\r\n");
}

Test(imap_session, huge_literal_before_login_refused_without_plus)
{
	expect_all("a LOGIN {1073741824}\r\nb NOOP\r\n", IMAP_NOT_AUTH,
	    "a BAD [TOOBIG] Literal too big before login.\r\n"
	    "b OK NOOP completed.\r\n");
	expect_all("a LOGIN {99999999999999999999999}\r\nb NOOP\r\n",
	    IMAP_NOT_AUTH,
	    "a BAD [TOOBIG] Literal too big before login.\r\n"
	    "b OK NOOP completed.\r\n");
	expect_all("a LOGIN u {4097}\r\nb NOOP\r\n", IMAP_NOT_AUTH,
	    "a BAD [TOOBIG] Literal too big before login.\r\n"
	    "b OK NOOP completed.\r\n");
}

Test(imap_session, huge_nonsync_literal_closes)
{
	expect_all("a LOGIN {1073741824+}\r\nxxxx\r\nb NOOP\r\n",
	    IMAP_NOT_AUTH, "a BAD [TOOBIG] Literal too big.\r\n"
	    "* BYE Literal too big.\r\n");
}

Test(imap_session, append_too_big_refused_before_plus)
{
	expect_all("a APPEND INBOX {65537}\r\nb NOOP\r\n", IMAP_AUTH,
	    "a NO [TOOBIG] Message too big (the limit is 65536 bytes).\r\n"
	    "b OK NOOP completed.\r\n");
}

Test(imap_session, long_line_keeps_step)
{
	struct str	in;
	size_t		i;
	const char	*r, *after;

	str_init(&in, 0);
	cr_assert_eq(str_append_str(&in, "a NOOP "), 0);
	for (i = 0; i < 9000; i++)
		cr_assert_eq(str_append_c(&in, 'x'), 0);
	cr_assert_eq(str_append_str(&in, "\r\nb NOOP\r\n"), 0);
	r = run(in.data, in.len, 1000, true, IMAP_NOT_AUTH);
	after = strstr(r, "\r\n");
	cr_assert_not_null(after);
	cr_assert_str_eq(after + 2, "* BAD [TOOBIG] Line too long.\r\n"
	    "b OK NOOP completed.\r\n");
	str_release(&in);
}

Test(imap_session, too_many_errors_close)
{
	srv.conf.max_errors = 2;
	expect_all("a X\r\nb Y\r\nc NOOP\r\n", IMAP_NOT_AUTH,
	    "a BAD Error in IMAP command X: Unknown command.\r\n"
	    "b BAD Error in IMAP command Y: Unknown command.\r\n"
	    "* BYE Too many invalid IMAP commands.\r\n");
}

Test(imap_session, idle_waits_for_done)
{
	expect_all("a IDLE\r\nDONE\r\nb IDLE\r\nnope\r\nc NOOP\r\n", IMAP_AUTH,
	    "+ idling\r\na OK Idle completed.\r\n"
	    "+ idling\r\nb BAD Expected DONE.\r\nc OK NOOP completed.\r\n");
}

Test(imap_session, authenticate_plain_sasl_ir)
{
	/* "\0user\0pass" */
	expect_all("a AUTHENTICATE PLAIN AHVzZXIAcGFzcw==\r\n", IMAP_NOT_AUTH,
	    "a NO [UNAVAILABLE] Temporary authentication failure.\r\n");
	expect_all("a AUTHENTICATE PLAIN\r\n*\r\nb NOOP\r\n", IMAP_NOT_AUTH,
	    "+ \r\na BAD Authentication aborted by client.\r\n"
	    "b OK NOOP completed.\r\n");
}

/* A first line over the pre-login command bound (but under
 * imap_max_line) is refused with the command buffer still empty. */
Test(imap_session, first_line_over_preauth_bound)
{
	struct str	in;
	const char	*r, *after;
	size_t		i;

	srv.conf.max_line = 200000;
	str_init(&in, 0);
	cr_assert_eq(str_append_str(&in, "a ID ("), 0);
	for (i = 0; i < 70000; i++)
		cr_assert_eq(str_append_c(&in, 'x'), 0);
	cr_assert_eq(str_append_str(&in, ")\r\nb NOOP\r\n"), 0);
	r = run(in.data, in.len, 0, true, IMAP_NOT_AUTH);
	after = strstr(r, "\r\n");
	cr_assert_not_null(after);
	cr_assert(strstr(after + 2, "BAD [TOOBIG]") != NULL, "%s", after + 2);
	cr_assert(strstr(after + 2, "\r\nb OK NOOP completed.\r\n") != NULL,
	    "%s", after + 2);
	str_release(&in);
}
