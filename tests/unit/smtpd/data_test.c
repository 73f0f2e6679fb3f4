/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "data.h"
#include "str.h"

static const struct data_conf conf_norm = {
	.max_size = 4096, .max_line = 998, .max_headers = 10,
	.max_header_size = 1024, .max_received = 3, .bare = DATA_BARE_NORMALIZE,
};

static int
sink(void *arg, const char *buf, size_t len, struct fail *f)
{
	struct str *out = arg;

	if (str_append(out, buf, len) == -1)
		return fail_set(f, true, "4.3.1", "Insufficient system storage");
	return 0;
}

/*
 * Split raw DATA input into lines the way stream_read_line() does (LF ends a
 * line; a CR right before it is part of the ending) and feed them.  Returns
 * the offset just past the end of data, or -1 if the input never ended.
 */
static long
feed(struct data *d, const char *in, size_t len)
{
	size_t	 start = 0, i;

	for (i = 0; i < len; i++) {
		size_t	 n;
		bool	 bare;

		if (in[i] != '\n')
			continue;
		n = i - start;
		bare = !(n > 0 && in[i - 1] == '\r');
		if (!bare)
			n--;
		if (data_line(d, in + start, n, bare, false) == DATA_DONE)
			return (long)(i + 1);
		start = i + 1;
	}
	return -1;
}

static void
run(const struct data_conf *c, const char *in, long want_end, const char *want,
    const char *want_code)
{
	struct data	 d;
	struct str	 out;
	long		 end;

	str_init(&out, 0);
	data_begin(&d, c, sink, &out);
	end = feed(&d, in, strlen(in));
	cr_assert_eq(end, want_end, "end at %ld, want %ld", end, want_end);
	if (want_code == NULL) {
		cr_assert_not(d.failed, "failed: %s %s", d.fail.code, d.fail.text);
		cr_assert_str_eq(str_c(&out), want);
	} else {
		cr_assert(d.failed);
		cr_assert_str_eq(d.fail.code, want_code);
	}
	str_release(&out);
}

Test(data, simple_and_unstuffing)
{
	const char *in = "Subject: x\r\n\r\n..hidden dot\r\n.\r\n";

	run(&conf_norm, in, (long)strlen(in),
	    "Subject: x\r\n\r\n.hidden dot\r\n", NULL);
}

Test(data, empty_message)
{
	run(&conf_norm, ".\r\nMAIL FROM:<x@y>\r\n", 3, "", NULL);
}

Test(data, smuggling_bare_lf_dot_is_content)
{
	/* "\n.\n" must not end the message; MAIL FROM stays inside it. */
	const char *in = "Subject: a\r\n\r\nbody\n.\nMAIL FROM:<evil@x>\r\n.\r\n";

	run(&conf_norm, in, (long)strlen(in),
	    "Subject: a\r\n\r\nbody\r\n\r\nMAIL FROM:<evil@x>\r\n", NULL);
}

Test(data, smuggling_lf_dot_crlf_is_content)
{
	/* "\n.\r\n": the line before the dot ended in a bare LF. */
	const char *in = "body\n.\r\nRCPT TO:<x@y>\r\n.\r\n";

	run(&conf_norm, in, (long)strlen(in),
	    "body\r\n\r\nRCPT TO:<x@y>\r\n", NULL);
}

Test(data, smuggling_cr_dot_cr_rejected)
{
	const char *in = "body\r.\rMAIL FROM:<x@y>\r\n.\r\n";

	run(&conf_norm, in, (long)strlen(in), NULL, "5.5.2");
}

Test(data, bare_lf_rejected_by_policy)
{
	struct data_conf c = conf_norm;
	const char *in = "a\nb\r\n.\r\n";

	c.bare = DATA_BARE_REJECT;
	run(&c, in, (long)strlen(in), NULL, "5.5.2");
}

Test(data, dot_with_bare_lf_does_not_end)
{
	struct data	 d;
	struct str	 out;
	const char	*in = "a\r\n.\nb\r\n";

	str_init(&out, 0);
	data_begin(&d, &conf_norm, sink, &out);
	cr_assert_eq(feed(&d, in, strlen(in)), -1);
	cr_assert_not(d.failed);
	/* the lone dot is content (unstuffed), the bare LF normalised */
	cr_assert_str_eq(str_c(&out), "a\r\n\r\nb\r\n");
	str_release(&out);
}

Test(data, size_limit)
{
	struct data_conf c = conf_norm;
	const char *in = "0123456789\r\n0123456789\r\n.\r\n";

	c.max_size = 20;
	run(&c, in, (long)strlen(in), NULL, "5.3.4");
}

Test(data, line_limit)
{
	struct data_conf c = conf_norm;
	const char *in = "short\r\n0123456789\r\n.\r\n";

	c.max_line = 8;
	run(&c, in, (long)strlen(in), NULL, "5.5.2");
}

Test(data, too_long_flag)
{
	struct data	 d;
	struct str	 out;

	str_init(&out, 0);
	data_begin(&d, &conf_norm, sink, &out);
	cr_assert_eq(data_line(&d, "xx", 2, false, true), DATA_CONTINUE);
	cr_assert_eq(data_line(&d, ".", 1, false, false), DATA_DONE);
	cr_assert(d.failed);
	cr_assert_str_eq(d.fail.code, "5.5.2");
	str_release(&out);
}

Test(data, received_loop)
{
	const char *in = "Received: a\r\nReceived: b\r\nreceived: c\r\n"
	    "RECEIVED: d\r\n\r\nx\r\n.\r\n";

	run(&conf_norm, in, (long)strlen(in), NULL, "5.4.6");
}

Test(data, received_in_body_not_counted)
{
	const char *in = "Subject: s\r\n\r\nReceived: a\r\nReceived: b\r\n"
	    "Received: c\r\nReceived: d\r\n.\r\n";

	run(&conf_norm, in, (long)strlen(in),
	    "Subject: s\r\n\r\nReceived: a\r\nReceived: b\r\n"
	    "Received: c\r\nReceived: d\r\n", NULL);
}

Test(data, header_count_limit)
{
	struct data_conf c = conf_norm;
	const char *in = "A: 1\r\nB: 2\r\nC: 3\r\n\r\n.\r\n";

	c.max_headers = 2;
	run(&c, in, (long)strlen(in), NULL, "5.3.4");
}

Test(data, header_flags)
{
	struct data	 d;
	struct str	 out;
	const char	*in = "From: a@b\r\nDate: x\r\n  folded\r\n"
	    "Message-ID: <1@b>\r\n\r\nDate: body\r\n.\r\n";

	str_init(&out, 0);
	data_begin(&d, &conf_norm, sink, &out);
	cr_assert_eq(feed(&d, in, strlen(in)), (long)strlen(in));
	cr_assert(d.has_from && d.has_date && d.has_message_id);
	cr_assert_eq(d.headers, 3);
	str_release(&out);
}

Test(data, sink_failure_is_temp)
{
	struct data	 d;
	struct str	 out;
	const char	*in = "0123456789\r\n0123456789\r\n.\r\n";

	str_init(&out, 12);
	data_begin(&d, &conf_norm, sink, &out);
	cr_assert_eq(feed(&d, in, strlen(in)), (long)strlen(in));
	cr_assert(d.failed);
	cr_assert(d.fail.temp);
	cr_assert_str_eq(d.fail.code, "4.3.1");
	str_release(&out);
}

/* Cut the input at every offset into two feeds: the end is always found at
 * the same place and the content is the same. */
Test(data, every_split_same_result)
{
	const char *in = "Subject: t\r\n\r\n.x\r\nline\n.\n..\r\n.\r\nNEXT\r\n";
	size_t	 len = strlen(in);
	size_t	 cut;

	for (cut = 0; cut <= len; cut++) {
		struct data	 d;
		struct str	 out;
		char		 buf[128];
		size_t		 i, start = 0;
		long		 end = -1;

		/* simulate a reader that may see the line in two reads */
		memcpy(buf, in, len);
		str_init(&out, 0);
		data_begin(&d, &conf_norm, sink, &out);
		for (i = 0; i < len && end < 0; i++) {
			size_t	 n;
			bool	 bare;

			if (buf[i] != '\n')
				continue;
			n = i - start;
			bare = !(n > 0 && buf[i - 1] == '\r');
			if (!bare)
				n--;
			if (data_line(&d, buf + start, n, bare, false) == DATA_DONE)
				end = (long)(i + 1);
			start = i + 1;
		}
		cr_assert_eq(end, (long)(len - 6));
		cr_assert_str_eq(str_c(&out), "Subject: t\r\n\r\nx\r\nline\r\n\r\n.\r\n");
		str_release(&out);
	}
}

/* ---- the header-end hook, raw (BDAT) mode and reply codes ---- */

static void
add_fields(struct data *d, void *arg)
{
	(void)arg;
	if (!d->has_message_id)
		data_insert(d, "Message-ID: <x@y>\r\n", 19);
}

static void
run_hook(const char *in, const char *want)
{
	struct data	 d;
	struct str	 out;

	str_init(&out, 0);
	data_begin(&d, &conf_norm, sink, &out);
	d.header_end = add_fields;
	cr_assert_eq(feed(&d, in, strlen(in)), (long)strlen(in));
	cr_assert_not(d.failed);
	cr_assert_str_eq(str_c(&out), want);
	cr_assert_eq(d.size, strlen(want));
	str_release(&out);
}

Test(data, header_end_before_blank_line)
{
	run_hook("Subject: x\r\n\r\nbody\r\n.\r\n",
	    "Subject: x\r\nMessage-ID: <x@y>\r\n\r\nbody\r\n");
}

Test(data, header_end_before_body_without_blank_line)
{
	run_hook("Subject: x\r\nno colon here\r\n.\r\n",
	    "Subject: x\r\nMessage-ID: <x@y>\r\nno colon here\r\n");
}

Test(data, header_end_at_end_of_headers_only_message)
{
	run_hook("Subject: x\r\n.\r\n", "Subject: x\r\nMessage-ID: <x@y>\r\n");
	run_hook("Message-ID: <a@b>\r\n.\r\n", "Message-ID: <a@b>\r\n");
}

Test(data, raw_mode_keeps_dots)
{
	struct data	 d;
	struct str	 out;

	str_init(&out, 0);
	data_begin(&d, &conf_norm, sink, &out);
	d.raw = true;
	cr_assert_eq(data_line(&d, "Subject: x", 10, false, false),
	    DATA_CONTINUE);
	cr_assert_eq(data_line(&d, "", 0, false, false), DATA_CONTINUE);
	cr_assert_eq(data_line(&d, ".", 1, false, false), DATA_CONTINUE);
	cr_assert_eq(data_line(&d, "..x", 3, false, false), DATA_CONTINUE);
	data_end(&d);
	cr_assert_not(d.failed);
	cr_assert_str_eq(str_c(&out), "Subject: x\r\n\r\n.\r\n..x\r\n");
	str_release(&out);
}

struct code_case {
	char	in[64];
	int	reply;
	char	code[8];
};

ParameterizedTestParameters(data, reply_codes)
{
	static struct code_case cases[] = {
		{ "a\rb\r\n.\r\n", 550, "5.5.2" },
		{ "Received: a\r\nReceived: b\r\nReceived: c\r\nReceived: d\r\n"
		    ".\r\n", 554, "5.4.6" },
	};
	return cr_make_param_array(struct code_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct code_case *c, data, reply_codes)
{
	struct data	 d;
	struct str	 out;

	str_init(&out, 0);
	data_begin(&d, &conf_norm, sink, &out);
	(void)feed(&d, c->in, strlen(c->in));
	cr_assert(d.failed);
	cr_assert_eq(data_reply_code(&d), c->reply);
	cr_assert_str_eq(d.fail.code, c->code);
	str_release(&out);
}

Test(data, reply_codes_for_limits_and_sink)
{
	struct data	 d;
	struct str	 out;
	char		 big[1100];

	str_init(&out, 0);
	memset(big, 'x', sizeof(big));
	data_begin(&d, &conf_norm, sink, &out);
	(void)data_line(&d, big, sizeof(big), false, false);
	cr_assert_eq(data_reply_code(&d), 500);

	data_begin(&d, &conf_norm, sink, &out);
	d.fail.temp = true;
	(void)str_copy(d.fail.code, "4.3.1", sizeof(d.fail.code));
	cr_assert_eq(data_reply_code(&d), 452);
	(void)str_copy(d.fail.code, "4.3.0", sizeof(d.fail.code));
	cr_assert_eq(data_reply_code(&d), 451);
	d.fail.temp = false;
	cr_assert_eq(data_reply_code(&d), 554);
	str_release(&out);
}
