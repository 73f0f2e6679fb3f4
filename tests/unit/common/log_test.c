/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static void
mask(const char *in, unsigned int flags, const char *want)
{
	char	 out[256];

	log_trace_mask(out, sizeof(out), in, strlen(in), flags);
	cr_assert_str_eq(out, want, "mask(\"%s\")", in);
}

Test(log, trace_masks_credentials)
{
	mask("AUTH PLAIN AGFsaWNlAHNlY3JldA==", 0, "AUTH PLAIN ****");
	mask("auth login", 0, "auth login");
	mask("AUTH LOGIN YWxpY2U=", 0, "AUTH LOGIN ****");
	mask("PASS hunter2", 0, "PASS ****");
	mask("pass", 0, "pass");
	mask("APOP alice c4c9334bac560ecc979e58001b3e22fb", 0, "APOP alice ****");
	mask("A001 LOGIN alice secret", 0, "A001 LOGIN alice ****");
	mask("a login \"alice\" \"se cret\"", 0, "a login \"alice\" ****");
	mask("A001 AUTHENTICATE PLAIN AGFsaWNl", 0, "A001 AUTHENTICATE PLAIN ****");
	mask("YWxpY2U=", LOG_TRACE_SECRET, "****");
	mask("MAIL FROM:<a@b>", 0, "MAIL FROM:<a@b>");
	mask("A LOGIN user", 0, "A LOGIN user");
	mask("bad\r\x01", 0, "bad\\x0d\\x01");
}

Test(log, level_parse)
{
	enum log_level l;

	cr_assert_eq(log_level_parse("debug", &l), 0);
	cr_assert_eq(l, LOG_LEVEL_DEBUG);
	cr_assert_eq(log_level_parse("WARN", &l), 0);
	cr_assert_eq(l, LOG_LEVEL_WARN);
	cr_assert_eq(log_level_parse("loud", &l), -1);
}

Test(log, line_format, .init = cr_redirect_stderr)
{
	char	 buf[512];
	size_t	 n;
	FILE	*f;

	log_init("buzon-test", false, LOG_LEVEL_INFO);
	log_debug("q1", "hidden");
	log_info("4f1c2a", "smtp connected address=%s", "192.0.2.7");
	log_set_trace(true);
	log_trace("4f1c2a", LOG_TRACE_CLIENT, "PASS x", 6, 0);
	log_trace("4f1c2a", LOG_TRACE_SERVER, "+OK", 3, 0);
	log_info(NULL, "no id");
	fflush(stderr);
	f = cr_get_redirected_stderr();
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	cr_assert_null(strstr(buf, "hidden"));
	cr_assert_not_null(strstr(buf, " buzon-test["));
	cr_assert_not_null(strstr(buf, "]: 4f1c2a smtp connected address=192.0.2.7\n"));
	cr_assert_not_null(strstr(buf, "]: 4f1c2a C: PASS ****\n"));
	cr_assert_not_null(strstr(buf, "]: 4f1c2a S: +OK\n"));
	cr_assert_not_null(strstr(buf, "]: - no id\n"));
}

Test(log, fatalx_exits_tempfail, .exit_code = EXIT_TEMPFAIL, .init = cr_redirect_stderr)
{
	fatalx("boom");
}

Test(log, panic_aborts, .signal = SIGABRT, .init = cr_redirect_stderr)
{
	BUZ_ASSERT(1 == 2);
}

/* The line is len bytes with no NUL after it (DATA content straight from
 * the input buffer): nothing past len is read (the sanitizer build sees
 * an overrun of this exact-size buffer). */
Test(log, trace_mask_reads_only_len_bytes)
{
	static const char *lines[] = { "PASS secret", "a LOGIN u p", "xyz",
	    "AUTH PLAIN abc", "A" };
	char	 out[64];
	size_t	 i, n;
	char	*buf;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		n = strlen(lines[i]);
		buf = malloc(n);
		cr_assert_not_null(buf);
		memcpy(buf, lines[i], n);
		log_trace_mask(out, sizeof(out), buf, n, 0);
		free(buf);
	}
	buf = malloc(4);
	memcpy(buf, "PASS", 4);
	log_trace_mask(out, sizeof(out), buf, 4, 0);
	cr_assert_str_eq(out, "PASS");
	free(buf);
}
