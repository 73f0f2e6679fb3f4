/* SPDX-License-Identifier: MIT */
/*
 * trace_test.c - log lines split, masked again and filtered for
 * `buzon trace`
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "str.h"
#include "trace.h"

#define T0	"2026-12-04T03:15:16.393Z "

static struct str	 out;

static void
collect(const char *line, void *arg)
{
	(void)arg;
	cr_assert_eq(str_append(&out, line, strlen(line)), 0);
	cr_assert_eq(str_append(&out, "\n", 1), 0);
}

static void
setup(void)
{
	str_init(&out, 0);
}

static void
teardown(void)
{
	str_release(&out);
}

/* Feed lines (NULL-terminated) through a trace with filter f. */
static const char *
run(const struct trace_filter *f, const char *const *lines)
{
	struct trace	*t = trace_new(f, collect, NULL);

	for (; *lines != NULL; lines++)
		trace_feed(t, *lines);
	trace_free(&t);
	cr_assert_null(t);
	return str_c(&out);
}

static const struct trace_filter all = { NULL, NULL, NULL };

Test(trace, split_fields)
{
	char		 line[] = T0 "buzon-pop3d[25750]: 1230440002 C: LIST";
	struct trace_rec r;

	cr_assert_eq(trace_split(line, &r), 1);
	cr_assert_str_eq(r.time, "2026-12-04T03:15:16.393Z");
	cr_assert_str_eq(r.prog, "buzon-pop3d");
	cr_assert_str_eq(r.id, "1230440002");
	cr_assert_str_eq(r.msg, "C: LIST");
}

Test(trace, split_rejects_other_lines)
{
	char	 a[] = "", b[] = "no brackets here", c[] = T0 "prog: id msg";
	char	 d[] = T0 "[1]: id msg", e[] = T0 "p[1]: idonly";
	char	 g[] = T0 "p[1]:  msg";
	struct trace_rec r;

	cr_assert_eq(trace_split(a, &r), 0);
	cr_assert_eq(trace_split(b, &r), 0);
	cr_assert_eq(trace_split(c, &r), 0);
	cr_assert_eq(trace_split(d, &r), 0);
	cr_assert_eq(trace_split(e, &r), 0);
	cr_assert_eq(trace_split(g, &r), 0);
}

Test(trace, service_of_program)
{
	cr_assert_str_eq(trace_service("buzon-smtpd"), "smtp");
	cr_assert_str_eq(trace_service("buzon-pop3d"), "pop3");
	cr_assert_str_eq(trace_service("buzon-imapd"), "imap");
	cr_assert_null(trace_service("buzon-queued"));
	cr_assert_null(trace_service("buzon"));
}

Test(trace, transcript_lines, .init = setup, .fini = teardown)
{
	static const char *const in[] = {
		T0 "buzon-pop3d[1]: 1a connect address=127.0.0.1 listener=pop3",
		T0 "buzon-pop3d[1]: 1a S: +OK buzon POP3 ready <1.2@h>",
		T0 "buzon-pop3d[1]: 1a C: STAT",
		T0 "buzon-queued[2]: Q1 to=<a@b>, relay=local",
		T0 "buzon[3]: - ready pid=3",
		"garbage",
		NULL
	};

	cr_assert_str_eq(run(&all, in),
	    "2026-12-04T03:15:16.393Z 1a pop3 S: +OK buzon POP3 ready <1.2@h>\n"
	    "2026-12-04T03:15:16.393Z 1a pop3 C: STAT\n");
}

/* Logs written before masking, or by hand: every secret masked again. */
Test(trace, masks_old_unmasked_logs, .init = setup, .fini = teardown)
{
	static const char *const in[] = {
		T0 "buzon-pop3d[1]: p1 C: USER alice",
		T0 "buzon-pop3d[1]: p1 C: PASS s3cret pw",
		T0 "buzon-pop3d[1]: p2 C: APOP alice c4c9334bac560ecc979e58001b3e22fb",
		T0 "buzon-smtpd[1]: s1 C: AUTH PLAIN AGFsaWNlAHNlY3JldA==",
		T0 "buzon-smtpd[1]: s2 C: AUTH LOGIN",
		T0 "buzon-smtpd[1]: s2 S: 334 VXNlcm5hbWU6",
		T0 "buzon-smtpd[1]: s2 C: YWxpY2U=",
		T0 "buzon-smtpd[1]: s2 S: 334 UGFzc3dvcmQ6",
		T0 "buzon-smtpd[1]: s2 C: c2VjcmV0",
		T0 "buzon-smtpd[1]: s2 S: 235 2.7.0 Authentication successful",
		T0 "buzon-smtpd[1]: s2 C: MAIL FROM:<alice@example.test>",
		T0 "buzon-imapd[1]: i1 C: a1 LOGIN alice s3cret",
		T0 "buzon-imapd[1]: i1 C: a2 authenticate PLAIN",
		T0 "buzon-imapd[1]: i1 S: +",
		T0 "buzon-imapd[1]: i1 C: AGFsaWNlAHNlY3JldA==",
		T0 "buzon-imapd[1]: i1 S: a2 OK done",
		T0 "buzon-imapd[1]: i1 C: a3 NOOP",
		T0 "buzon-pop3d[1]: p3 C: AUTH PLAIN",
		T0 "buzon-pop3d[1]: p3 S: + ",
		T0 "buzon-pop3d[1]: p3 C: AGFsaWNlAHNlY3JldA==",
		T0 "buzon-pop3d[1]: p3 S: +OK Logged in.",
		T0 "buzon-pop3d[1]: p3 C: STAT",
		NULL
	};
	const char	*got = run(&all, in);

	cr_assert_null(strstr(got, "s3cret"), "%s", got);
	cr_assert_null(strstr(got, "AGFsaWNl"), "%s", got);
	cr_assert_null(strstr(got, "YWxpY2U"), "%s", got);
	cr_assert_null(strstr(got, "c2VjcmV0"), "%s", got);
	cr_assert_null(strstr(got, "c4c9334b"), "%s", got);
	cr_assert_str_eq(got,
	    "2026-12-04T03:15:16.393Z p1 pop3 C: USER alice\n"
	    "2026-12-04T03:15:16.393Z p1 pop3 C: PASS ****\n"
	    "2026-12-04T03:15:16.393Z p2 pop3 C: APOP alice ****\n"
	    "2026-12-04T03:15:16.393Z s1 smtp C: AUTH PLAIN ****\n"
	    "2026-12-04T03:15:16.393Z s2 smtp C: AUTH LOGIN\n"
	    "2026-12-04T03:15:16.393Z s2 smtp S: 334 VXNlcm5hbWU6\n"
	    "2026-12-04T03:15:16.393Z s2 smtp C: ****\n"
	    "2026-12-04T03:15:16.393Z s2 smtp S: 334 UGFzc3dvcmQ6\n"
	    "2026-12-04T03:15:16.393Z s2 smtp C: ****\n"
	    "2026-12-04T03:15:16.393Z s2 smtp S: 235 2.7.0 Authentication successful\n"
	    "2026-12-04T03:15:16.393Z s2 smtp C: MAIL FROM:<alice@example.test>\n"
	    "2026-12-04T03:15:16.393Z i1 imap C: a1 LOGIN alice ****\n"
	    "2026-12-04T03:15:16.393Z i1 imap C: a2 authenticate PLAIN\n"
	    "2026-12-04T03:15:16.393Z i1 imap S: +\n"
	    "2026-12-04T03:15:16.393Z i1 imap C: ****\n"
	    "2026-12-04T03:15:16.393Z i1 imap S: a2 OK done\n"
	    "2026-12-04T03:15:16.393Z i1 imap C: a3 NOOP\n"
	    "2026-12-04T03:15:16.393Z p3 pop3 C: AUTH PLAIN\n"
	    "2026-12-04T03:15:16.393Z p3 pop3 S: + \n"
	    "2026-12-04T03:15:16.393Z p3 pop3 C: ****\n"
	    "2026-12-04T03:15:16.393Z p3 pop3 S: +OK Logged in.\n"
	    "2026-12-04T03:15:16.393Z p3 pop3 C: STAT\n");
}

/* Masked lines stay as they were: masking twice changes nothing. */
Test(trace, masked_lines_unchanged, .init = setup, .fini = teardown)
{
	static const char *const in[] = {
		T0 "buzon-pop3d[1]: p1 C: PASS ****",
		T0 "buzon-smtpd[1]: s1 C: AUTH PLAIN ****",
		T0 "buzon-smtpd[1]: s1 S: 235 2.7.0 Authentication successful",
		T0 "buzon-smtpd[1]: s2 C: AUTH LOGIN",
		T0 "buzon-smtpd[1]: s2 S: 334 VXNlcm5hbWU6",
		T0 "buzon-smtpd[1]: s2 C: ****",
		NULL
	};

	cr_assert_str_eq(run(&all, in),
	    "2026-12-04T03:15:16.393Z p1 pop3 C: PASS ****\n"
	    "2026-12-04T03:15:16.393Z s1 smtp C: AUTH PLAIN ****\n"
	    "2026-12-04T03:15:16.393Z s1 smtp S: 235 2.7.0 Authentication successful\n"
	    "2026-12-04T03:15:16.393Z s2 smtp C: AUTH LOGIN\n"
	    "2026-12-04T03:15:16.393Z s2 smtp S: 334 VXNlcm5hbWU6\n"
	    "2026-12-04T03:15:16.393Z s2 smtp C: ****\n");
}

/* "+OK" is not a continuation: the exchange ends there. */
Test(trace, pop3_ok_ends_sasl, .init = setup, .fini = teardown)
{
	static const char *const in[] = {
		T0 "buzon-pop3d[1]: p3 C: AUTH",
		T0 "buzon-pop3d[1]: p3 S: +OK",
		T0 "buzon-pop3d[1]: p3 C: CAPA",
		NULL
	};

	cr_assert_str_eq(run(&all, in),
	    "2026-12-04T03:15:16.393Z p3 pop3 C: AUTH\n"
	    "2026-12-04T03:15:16.393Z p3 pop3 S: +OK\n"
	    "2026-12-04T03:15:16.393Z p3 pop3 C: CAPA\n");
}

Test(trace, service_filter, .init = setup, .fini = teardown)
{
	static const struct trace_filter f = { "smtp", NULL, NULL };
	static const char *const in[] = {
		T0 "buzon-pop3d[1]: p1 C: STAT",
		T0 "buzon-smtpd[1]: s1 C: EHLO x",
		T0 "buzon-imapd[1]: i1 C: a NOOP",
		NULL
	};

	cr_assert_str_eq(run(&f, in),
	    "2026-12-04T03:15:16.393Z s1 smtp C: EHLO x\n");
}

/* A session's lines wait for its login line, then show or go. */
Test(trace, user_filter_holds_until_login, .init = setup, .fini = teardown)
{
	static const struct trace_filter f = { NULL, "alice", NULL };
	static const char *const in[] = {
		T0 "buzon-pop3d[1]: p1 C: USER alice@example.test",
		T0 "buzon-pop3d[1]: p2 C: USER bob@example.test",
		T0 "buzon-pop3d[1]: p1 C: PASS ****",
		T0 "buzon-pop3d[1]: p2 C: PASS ****",
		T0 "buzon-pop3d[1]: p2 login user=bob@example.test method=password",
		T0 "buzon-pop3d[1]: p1 login user=alice@example.test method=password",
		T0 "buzon-pop3d[1]: p1 S: +OK Logged in.",
		T0 "buzon-pop3d[1]: p2 S: +OK Logged in.",
		T0 "buzon-pop3d[1]: p3 C: USER carol",
		T0 "buzon-pop3d[1]: p3 disconnect address=127.0.0.1 reason=quit",
		T0 "buzon-smtpd[1]: s1 C: AUTH PLAIN ****",
		T0 "buzon-smtpd[1]: s1 auth ok user=alice@example.test",
		T0 "buzon-smtpd[1]: s1 S: 235 2.7.0 Authentication successful",
		NULL
	};

	cr_assert_str_eq(run(&f, in),
	    "2026-12-04T03:15:16.393Z p1 pop3 C: USER alice@example.test\n"
	    "2026-12-04T03:15:16.393Z p1 pop3 C: PASS ****\n"
	    "2026-12-04T03:15:16.393Z p1 pop3 S: +OK Logged in.\n"
	    "2026-12-04T03:15:16.393Z s1 smtp C: AUTH PLAIN ****\n"
	    "2026-12-04T03:15:16.393Z s1 smtp S: 235 2.7.0 Authentication successful\n");
}

Test(trace, user_filter_full_address, .init = setup, .fini = teardown)
{
	static const struct trace_filter f = { NULL, "alice@example.org",
	    NULL };
	static const char *const in[] = {
		T0 "buzon-pop3d[1]: p1 login user=alice@example.test",
		T0 "buzon-pop3d[1]: p1 C: STAT",
		T0 "buzon-pop3d[1]: p2 login user=ALICE@example.org",
		T0 "buzon-pop3d[1]: p2 C: STAT",
		NULL
	};

	cr_assert_str_eq(run(&f, in),
	    "2026-12-04T03:15:16.393Z p2 pop3 C: STAT\n");
}

/* A session that never logs in holds at most TRACE_HELD lines, and the
 * oldest go first. */
Test(trace, held_lines_bounded, .init = setup, .fini = teardown)
{
	static const struct trace_filter f = { NULL, "alice", NULL };
	struct trace	*t = trace_new(&f, collect, NULL);
	char		 line[200];
	int		 i;

	for (i = 0; i < TRACE_HELD + 10; i++) {
		str_printf(line, sizeof(line), T0 "buzon-pop3d[1]: p1 C: "
		    "NOOP %d", i);
		trace_feed(t, line);
	}
	trace_feed(t, T0 "buzon-pop3d[1]: p1 login user=alice");
	trace_free(&t);
	cr_assert_null(strstr(str_c(&out), "NOOP 9\n"));
	cr_assert_not_null(strstr(str_c(&out), "NOOP 10\n"));
	cr_assert_not_null(strstr(str_c(&out), "NOOP 265\n"));
}

/* More sessions than the table holds: the oldest is evicted, nothing
 * breaks. */
Test(trace, many_sessions, .init = setup, .fini = teardown)
{
	struct trace	*t = trace_new(&all, collect, NULL);
	char		 line[200];
	int		 i;

	for (i = 0; i < TRACE_SESSIONS * 2; i++) {
		str_printf(line, sizeof(line), T0 "buzon-smtpd[1]: s%d C: "
		    "AUTH LOGIN", i);
		trace_feed(t, line);
	}
	trace_feed(t, T0 "buzon-smtpd[1]: s0 C: secretline");
	trace_free(&t);
	/* s0 was evicted: a new session, not in an exchange any more */
	cr_assert_not_null(strstr(str_c(&out), "s0 smtp C: secretline\n"));
}

Test(trace, message_mode, .init = setup, .fini = teardown)
{
	static const struct trace_filter f = { NULL, NULL, "06C734HR37J00S4M" };
	static const char *const in[] = {
		T0 "buzon-smtpd[1]: s1 C: DATA",
		T0 "buzon-smtpd[1]: 06C734HR37J00S4M from=<a@b> size=182 nrcpt=1",
		T0 "buzon-smtpd[1]: s1 S: 250 2.0.0 Ok: queued as 06C734HR37J00S4M",
		T0 "buzon-smtpd[1]: s2 S: 250 2.0.0 Ok: queued as 06C734HR37J00S4MX",
		T0 "buzon-queued[2]: 06C734HR37J00S4M to=<alice@example.test>, relay=local, status=sent (delivered to maildir)",
		T0 "buzon-queued[2]: 06C734HR37J00S4M removed",
		T0 "buzon-queued[2]: 16C734HR37J00S4M removed",
		NULL
	};

	cr_assert_str_eq(run(&f, in),
	    "2026-12-04T03:15:16.393Z buzon-smtpd 06C734HR37J00S4M from=<a@b> size=182 nrcpt=1\n"
	    "2026-12-04T03:15:16.393Z buzon-smtpd s1 S: 250 2.0.0 Ok: queued as 06C734HR37J00S4M\n"
	    "2026-12-04T03:15:16.393Z buzon-queued 06C734HR37J00S4M to=<alice@example.test>, relay=local, status=sent (delivered to maildir)\n"
	    "2026-12-04T03:15:16.393Z buzon-queued 06C734HR37J00S4M removed\n");
}

/* A line longer than what is looked at is cut, not overrun. */
Test(trace, long_line, .init = setup, .fini = teardown)
{
	struct trace	*t = trace_new(&all, collect, NULL);
	size_t		 n = 20000;
	char		*line = malloc(n + 1);

	cr_assert_not_null(line);
	memset(line, 'x', n);
	memcpy(line, T0 "buzon-smtpd[1]: s1 C: ", strlen(T0) + 22);
	line[n] = '\0';
	trace_feed(t, line);
	trace_free(&t);
	free(line);
	cr_assert_not_null(strstr(str_c(&out), "s1 smtp C: xxx"));
	cr_assert_lt(strlen(str_c(&out)), 2000);
}

/* After a local delivery, the recipient's mailbox sessions that log in
 * later are shown by what they did; others' sessions are not. */
Test(trace, message_readers, .init = setup, .fini = teardown)
{
	static const struct trace_filter f = { NULL, NULL, "06C7" };
	static const char *const in[] = {
		T0 "buzon-pop3d[1]: p0 login user=alice@example.test",
		T0 "buzon-pop3d[1]: p0 C: RETR 1",
		T0 "buzon-queued[2]: 06C7 to=<alice@example.test>, relay=local, delay=0.04, dsn=2.0.0, status=sent (delivered to maildir)",
		T0 "buzon-queued[2]: 06C7 to=<x@y.example>, relay=mx.y.example, dsn=4.4.1, status=deferred (no answer)",
		T0 "buzon-pop3d[1]: p1 login user=bob@example.test",
		T0 "buzon-pop3d[1]: p1 C: RETR 1",
		T0 "buzon-pop3d[1]: p2 C: USER alice",
		T0 "buzon-pop3d[1]: p2 C: PASS secret",
		T0 "buzon-pop3d[1]: p2 login user=alice@example.test method=password",
		T0 "buzon-pop3d[1]: p2 C: STAT",
		T0 "buzon-pop3d[1]: p2 C: RETR 2",
		T0 "buzon-pop3d[1]: p2 S: +OK 252 octets",
		T0 "buzon-pop3d[1]: p2 C: QUIT",
		T0 "buzon-imapd[3]: i1 login user=alice@example.test",
		T0 "buzon-imapd[3]: i1 C: a2 fetch 1 body[]",
		T0 "buzon-imapd[3]: i1 C: a3 NOOP",
		T0 "buzon-smtpd[4]: s9 auth ok user=alice@example.test",
		NULL
	};

	cr_assert_str_eq(run(&f, in),
	    "2026-12-04T03:15:16.393Z buzon-queued 06C7 to=<alice@example.test>, relay=local, delay=0.04, dsn=2.0.0, status=sent (delivered to maildir)\n"
	    "2026-12-04T03:15:16.393Z buzon-queued 06C7 to=<x@y.example>, relay=mx.y.example, dsn=4.4.1, status=deferred (no answer)\n"
	    "2026-12-04T03:15:16.393Z buzon-pop3d p2 login user=alice@example.test method=password\n"
	    "2026-12-04T03:15:16.393Z buzon-pop3d p2 C: RETR 2\n"
	    "2026-12-04T03:15:16.393Z buzon-pop3d p2 C: QUIT\n"
	    "2026-12-04T03:15:16.393Z buzon-imapd i1 login user=alice@example.test\n"
	    "2026-12-04T03:15:16.393Z buzon-imapd i1 C: a2 fetch 1 body[]\n");
}

/* IMAP LOGIN with the password as a literal: the literal line is the
 * secret one. */
Test(trace, imap_login_literal, .init = setup, .fini = teardown)
{
	static const char *const in[] = {
		T0 "buzon-imapd[1]: i1 C: a1 LOGIN {5}",
		T0 "buzon-imapd[1]: i1 S: + Ready for literal data",
		T0 "buzon-imapd[1]: i1 C: alice {6}",
		T0 "buzon-imapd[1]: i1 S: + Ready for literal data",
		T0 "buzon-imapd[1]: i1 C: s3cret",
		T0 "buzon-imapd[1]: i1 S: a1 OK LOGIN completed",
		T0 "buzon-imapd[1]: i1 C: a2 SELECT INBOX",
		NULL
	};
	const char	*got = run(&all, in);

	cr_assert_null(strstr(got, "s3cret"), "%s", got);
	cr_assert_not_null(strstr(got, "i1 imap C: a2 SELECT INBOX\n"), "%s",
	    got);
}
