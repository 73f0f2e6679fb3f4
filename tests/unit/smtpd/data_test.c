/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "str.h"

static const struct data_conf conf_norm = {
	.max_size = 1 << 20, .max_headers = 10,
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

/* Feed in pieces of `chunk` bytes (0: all at once).  Returns the offset
 * just past the end of data, or -1 if the input never ended. */
static long
feed_chunks(struct data *d, const char *in, size_t len, size_t chunk)
{
	size_t	 off = 0, n, took;
	bool	 done;

	while (off < len) {
		n = chunk == 0 || chunk > len - off ? len - off : chunk;
		took = data_feed(d, in + off, n, &done);
		if (done)
			return (long)(off + took);
		cr_assert_eq(took, n, "a feed that did not end took %zu of %zu",
		    took, n);
		off += n;
	}
	return -1;
}

/* Feed with one cut at `cut` (two pieces). */
static long
feed_cut(struct data *d, const char *in, size_t len, size_t cut)
{
	size_t	 took;
	bool	 done;

	took = data_feed(d, in, cut, &done);
	if (done)
		return (long)took;
	cr_assert_eq(took, cut);
	took = data_feed(d, in + cut, len - cut, &done);
	return done ? (long)(cut + took) : -1;
}

static long
feed(struct data *d, const char *in, size_t len)
{
	return feed_chunks(d, in, len, 0);
}

/* One outcome, checked for every way of splitting the input: whole, byte
 * by byte, in pieces of 2, 3 and 7, and cut once at every offset. */
static void
check_one(const struct data_conf *c, const char *in, size_t len,
    long want_end, const char *want, size_t want_len, const char *want_code,
    int how, size_t arg)
{
	struct data	 d;
	struct str	 out;
	long		 end;

	str_init(&out, 0);
	data_begin(&d, c, sink, &out);
	end = how == 0 ? feed_chunks(&d, in, len, arg) :
	    feed_cut(&d, in, len, arg);
	cr_assert_eq(end, want_end, "end at %ld, want %ld (split %d/%zu)", end,
	    want_end, how, arg);
	if (want_code == NULL) {
		cr_assert_not(d.failed, "failed: %s %s (split %d/%zu)",
		    d.fail.code, d.fail.text, how, arg);
		cr_assert_eq(out.len, want_len, "stored %zu bytes, want %zu "
		    "(split %d/%zu)", out.len, want_len, how, arg);
		cr_assert(memcmp(str_c(&out), want, want_len) == 0,
		    "content differs (split %d/%zu)", how, arg);
	} else {
		cr_assert(d.failed, "did not fail (split %d/%zu)", how, arg);
		cr_assert_str_eq(d.fail.code, want_code);
	}
	data_release(&d);
	str_release(&out);
}

static void
run_len(const struct data_conf *c, const char *in, size_t len, long want_end,
    const char *want, size_t want_len, const char *want_code)
{
	static const size_t chunks[] = { 0, 1, 2, 3, 7 };
	size_t	 i, cut;

	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++)
		check_one(c, in, len, want_end, want, want_len, want_code, 0,
		    chunks[i]);
	for (cut = 0; cut <= len; cut++)
		check_one(c, in, len, want_end, want, want_len, want_code, 1,
		    cut);
}

static void
run(const struct data_conf *c, const char *in, long want_end, const char *want,
    const char *want_code)
{
	run_len(c, in, strlen(in), want_end, want, want != NULL ?
	    strlen(want) : 0, want_code);
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

Test(data, end_stops_at_its_lf)
{
	/* what follows the end is the next command: not taken */
	run(&conf_norm, "a\r\n.\r\nQUIT\r\n", 6, "a\r\n", NULL);
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

Test(data, smuggling_dot_cr_cr_lf_is_not_an_end)
{
	/* ".\r\r\n" is "." + bare CR + CRLF: content, and refused */
	const char *in = "a\r\n.\r\r\nMAIL FROM:<x@y>\r\n.\r\n";

	run(&conf_norm, in, (long)strlen(in), NULL, "5.5.2");
}

/* The outside report: a line far over any line limit, ended by a bare LF
 * (or a bare CR), then ".\r\n" and a second transaction.  The second
 * transaction is content of the first, whatever the split. */
static char *
long_line_attack(char end, size_t nA, size_t *len_r, size_t *first_end_r)
{
	struct str	 s;
	size_t		 i;

	str_init(&s, 0);
	cr_assert(str_append_str(&s, "Subject: smuggle\r\n\r\n") == 0);
	for (i = 0; i < nA; i++)
		cr_assert(str_append_c(&s, 'A') == 0);
	cr_assert(str_append_c(&s, end) == 0);
	*first_end_r = s.len;
	cr_assert(str_append_str(&s, ".\r\nMAIL FROM:<evil@ejemplo.com>\r\n"
	    "RCPT TO:<alice@example.test>\r\nDATA\r\nSubject: second\r\n\r\n"
	    "evil\r\n.\r\nQUIT\r\n") == 0);
	*len_r = s.len;
	return str_detach(&s, NULL);
}

Test(data, long_line_then_bare_lf_does_not_end)
{
	static const size_t sizes[] = { 997, 998, 999, 2048, 2049, 3000 };
	size_t	 i, len, first, want_len;
	char	*in, *want;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		in = long_line_attack('\n', sizes[i], &len, &first);
		/* one message up to the last ".\r\n"; QUIT is left */
		want = malloc(len + 16);
		memcpy(want, in, first - 1);
		want_len = first - 1;
		memcpy(want + want_len, "\r\n\r\n", 4);	/* LF, then "." */
		want_len += 4;
		memcpy(want + want_len, in + first + 3, len - first - 3 - 9);
		want_len += len - first - 3 - 9;
		run_len(&conf_norm, in, len, (long)(len - 6), want, want_len,
		    NULL);
		free(want);
		free(in);
	}
}

Test(data, long_line_then_bare_lf_rejected_by_policy)
{
	struct data_conf c = conf_norm;
	size_t	 len, first;
	char	*in = long_line_attack('\n', 3000, &len, &first);

	c.bare = DATA_BARE_REJECT;
	run_len(&c, in, len, (long)(len - 6), NULL, 0, "5.5.2");
	free(in);
}

Test(data, long_line_then_bare_cr_does_not_end)
{
	size_t	 len, first;
	char	*in = long_line_attack('\r', 3000, &len, &first);

	run_len(&conf_norm, in, len, (long)(len - 6), NULL, 0, "5.5.2");
	free(in);
}

Test(data, long_line_then_crlf_ends)
{
	size_t	 len, first;
	char	*in = long_line_attack('\r', 3000, &len, &first);
	char	*want;

	/* with a proper CRLF the first message ends where the client said */
	in[first - 1] = '\r';
	memmove(in + first + 1, in + first, len - first);
	in[first] = '\n';
	len++;
	want = malloc(first + 2);
	memcpy(want, in, first + 1);
	run_len(&conf_norm, in, len, (long)(first + 4), want, first + 1, NULL);
	free(want);
	free(in);
}

Test(data, long_lines_are_kept_byte_for_byte)
{
	struct str	 in, want;
	size_t		 i;

	str_init(&in, 0);
	str_init(&want, 0);
	cr_assert(str_append_str(&in, "Subject: long\r\n\r\n") == 0);
	for (i = 0; i < 5000; i++)
		cr_assert(str_append_c(&in, (char)('a' + i % 26)) == 0);
	cr_assert(str_append_str(&in, "\r\n.") == 0);
	for (i = 0; i < 70000; i++)
		cr_assert(str_append_c(&in, 'b') == 0);
	cr_assert(str_append_str(&in, "\r\n") == 0);
	cr_assert(str_append(&want, in.data, in.len) == 0);
	str_truncate(&want, want.len - 70000 - 3);
	for (i = 0; i < 70000; i++)
		cr_assert(str_append_c(&want, 'b') == 0);	/* unstuffed */
	cr_assert(str_append_str(&want, "\r\n") == 0);
	cr_assert(str_append_str(&in, ".\r\n") == 0);
	check_one(&conf_norm, in.data, in.len, (long)in.len, want.data,
	    want.len, NULL, 0, 0);
	check_one(&conf_norm, in.data, in.len, (long)in.len, want.data,
	    want.len, NULL, 0, 1);
	check_one(&conf_norm, in.data, in.len, (long)in.len, want.data,
	    want.len, NULL, 0, 4096);
	str_release(&in);
	str_release(&want);
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
	const char	*in = "a\r\n.\nb\r\n";

	/* the lone dot is content (unstuffed), the bare LF normalised */
	run(&conf_norm, in, -1, "a\r\n\r\nb\r\n", NULL);
}

Test(data, size_limit)
{
	struct data_conf c = conf_norm;
	const char *in = "0123456789\r\n0123456789\r\n.\r\n";

	c.max_size = 20;
	run(&c, in, (long)strlen(in), NULL, "5.3.4");
	c.max_size = 24;		/* exactly the stored size */
	run(&c, in, (long)strlen(in), "0123456789\r\n0123456789\r\n", NULL);
	c.max_size = 23;		/* one under */
	run(&c, in, (long)strlen(in), NULL, "5.3.4");
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

	c.max_headers = 3;
	run(&c, in, (long)strlen(in), "A: 1\r\nB: 2\r\nC: 3\r\n\r\n", NULL);
	c.max_headers = 2;
	run(&c, in, (long)strlen(in), NULL, "5.3.4");
}

/* A header field longer than the whole header section may be fails the
 * message, however its bytes were split; a first line with no colon that
 * long is the body of a message without headers. */
Test(data, header_line_over_the_section_limit)
{
	struct data_conf c = conf_norm;
	struct str	 in;
	size_t		 i;

	c.max_header_size = 64;
	str_init(&in, 0);
	cr_assert(str_append_str(&in, "Subject: ") == 0);
	for (i = 0; i < 200; i++)
		cr_assert(str_append_c(&in, 'x') == 0);
	cr_assert(str_append_str(&in, "\r\n\r\nbody\r\n.\r\n") == 0);
	run(&c, str_c(&in), (long)in.len, NULL, "5.3.4");

	str_clear(&in);
	for (i = 0; i < 200; i++)
		cr_assert(str_append_c(&in, 'y') == 0);
	cr_assert(str_append_str(&in, "\r\n.\r\n") == 0);
	str_truncate(&in, in.len);
	{
		char	*want = strndup(str_c(&in), in.len - 3);

		run(&c, str_c(&in), (long)in.len, want, NULL);
		free(want);
	}
	str_release(&in);
}

/* header_size counts each field with its CRLF: with a 64-octet section a
 * 62-octet field fits exactly, 63 is one over, 300 far over, however the
 * bytes are split (run() cuts at every offset). */
Test(data, header_section_at_the_limit)
{
	static const char tail[] = "\r\n\r\nbody\r\n.\r\n";
	struct data_conf c = conf_norm;
	char	 in[400], want[400];
	size_t	 n;

	c.max_header_size = 64;
	for (n = 62; n <= 63; n++) {
		memset(in, 0, sizeof(in));
		memcpy(in, "X-Long: ", 8);
		memset(in + 8, 'h', n - 8);
		memcpy(in + n, tail, sizeof(tail));
		memcpy(want, in, n + 10);
		want[n + 10] = '\0';
		run(&c, in, (long)strlen(in), n == 62 ? want : NULL,
		    n == 62 ? NULL : "5.3.4");
	}
	memset(in, 0, sizeof(in));
	memcpy(in, "X-Long: ", 8);
	memset(in + 8, 'h', 292);
	memcpy(in + 300, tail, sizeof(tail));
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
	data_release(&d);
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
	data_release(&d);
	str_release(&out);
}

Test(data, every_split_same_result)
{
	const char *in = "Subject: t\r\n\r\n.x\r\nline\n.\n..\r\n.\r\nNEXT\r\n";

	run(&conf_norm, in, (long)(strlen(in) - 6),
	    "Subject: t\r\n\r\nx\r\nline\r\n\r\n.\r\n", NULL);
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
	size_t		 chunk;

	for (chunk = 0; chunk < 4; chunk++) {
		str_init(&out, 0);
		data_begin(&d, &conf_norm, sink, &out);
		d.header_end = add_fields;
		cr_assert_eq(feed_chunks(&d, in, strlen(in), chunk),
		    (long)strlen(in));
		cr_assert_not(d.failed);
		cr_assert_str_eq(str_c(&out), want);
		cr_assert_eq(d.size, strlen(want));
		data_release(&d);
		str_release(&out);
	}
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

/* Raw mode, as BDAT feeds it: chunks cut anywhere, then data_end(). */
static void
run_raw(const struct data_conf *c, const char *in, const char *want,
    const char *want_code)
{
	struct data	 d;
	struct str	 out;
	size_t		 len = strlen(in), cut;
	bool		 done;

	for (cut = 0; cut <= len; cut++) {
		str_init(&out, 0);
		data_begin(&d, c, sink, &out);
		d.raw = true;
		cr_assert_eq(data_feed(&d, in, cut, &done), cut);
		cr_assert_not(done);
		cr_assert_eq(data_feed(&d, in + cut, len - cut, &done),
		    len - cut);
		cr_assert_not(done);
		data_end(&d);
		if (want_code == NULL) {
			cr_assert_not(d.failed, "cut %zu: %s", cut,
			    d.fail.text);
			cr_assert_str_eq(str_c(&out), want, "cut %zu", cut);
		} else {
			cr_assert(d.failed, "cut %zu", cut);
			cr_assert_str_eq(d.fail.code, want_code);
		}
		data_release(&d);
		str_release(&out);
	}
}

Test(data, raw_mode_keeps_dots)
{
	run_raw(&conf_norm, "Subject: x\r\n\r\n.\r\n..x\r\n",
	    "Subject: x\r\n\r\n.\r\n..x\r\n", NULL);
}

Test(data, raw_mode_last_line_gets_crlf)
{
	run_raw(&conf_norm, "Subject: x\r\n\r\nno end", "Subject: x\r\n\r\n"
	    "no end\r\n", NULL);
}

Test(data, raw_mode_bare_newlines_as_in_data)
{
	struct data_conf c = conf_norm;

	/* normalize: a bare LF is stored as CRLF, as in DATA */
	run_raw(&c, "a: b\n\nbody\n", "a: b\r\n\r\nbody\r\n", NULL);
	/* a bare CR is refused, in the middle and at the very end */
	run_raw(&c, "a: b\r\n\r\nbo\rdy\r\n", NULL, "5.5.2");
	run_raw(&c, "a: b\r\n\r\nbody\r", NULL, "5.5.2");
	/* reject: a bare LF is refused, as in DATA */
	c.bare = DATA_BARE_REJECT;
	run_raw(&c, "a: b\n\nbody\r\n", NULL, "5.5.2");
	run_raw(&c, "a: b\r\n\r\nbody\r\n", "a: b\r\n\r\nbody\r\n", NULL);
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
	data_release(&d);
	str_release(&out);
}

Test(data, reply_codes_for_sink)
{
	struct data	 d;
	struct str	 out;

	str_init(&out, 0);
	data_begin(&d, &conf_norm, sink, &out);
	d.fail.temp = true;
	(void)str_copy(d.fail.code, "4.3.1", sizeof(d.fail.code));
	cr_assert_eq(data_reply_code(&d), 452);
	(void)str_copy(d.fail.code, "4.3.0", sizeof(d.fail.code));
	cr_assert_eq(data_reply_code(&d), 451);
	d.fail.temp = false;
	cr_assert_eq(data_reply_code(&d), 554);
	data_release(&d);
	str_release(&out);
}
