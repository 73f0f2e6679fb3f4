/* SPDX-License-Identifier: MIT */
/*
 * xfer_test.c - RETR/TOP output: byte stuffing, CRLF, the TOP limit, the
 * terminating dot, whatever the source's read sizes and the output
 * buffer size
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "pop3d.h"
#include "str.h"

struct src {
	const char	*data;
	size_t		 len, pos, chunk;
	bool		 fail;
};

static ssize_t
src_read(void *ctx, void *buf, size_t len)
{
	struct src	*s = ctx;
	size_t		 n = s->len - s->pos;

	if (s->fail && s->pos > 0)
		return -1;
	if (n > len)
		n = len;
	if (n > s->chunk)
		n = s->chunk;
	memcpy(buf, s->data + s->pos, n);
	s->pos += n;
	return (ssize_t)n;
}

/* Run a whole transfer; the output in a malloc'ed string. */
static char *
run(const char *msg, bool top, uint64_t lines, size_t chunk, size_t outsz)
{
	struct pop3_xfer	 x;
	struct src		 s = { msg, strlen(msg), 0, chunk, false };
	struct str		 all;
	char			 buf[256];
	size_t			 len;
	int			 r, turns = 0;

	cr_assert(outsz <= sizeof(buf));
	str_init(&all, 0);
	pop3_xfer_init(&x, src_read, &s, top, lines);
	do {
		r = pop3_xfer_produce(&x, buf, outsz, &len);
		cr_assert_neq(r, -1);
		cr_assert(len <= outsz);
		cr_assert_eq(str_append(&all, buf, len), 0);
		cr_assert(++turns < 100000);
	} while (r == 0);
	pop3_xfer_release(&x);
	return str_detach(&all, NULL);
}

/* got, with CR and LF visible, for failure messages. */
static const char *
esc(const char *got)
{
	static char	 buf[512];

	return str_sanitize(buf, sizeof(buf), got, strlen(got));
}

struct xfer_case {
	char		in[128];
	bool		top;
	unsigned int	lines;
	char		want[160];
};

ParameterizedTestParameters(pop3_xfer, output)
{
	static struct xfer_case cases[] = {
		/* RETR */
		{ "A: b\r\n\r\nbody\r\n", false, 0,
		    "A: b\r\n\r\nbody\r\n.\r\n" },
		{ "", false, 0, ".\r\n" },
		{ "A: b\r\n\r\nno end", false, 0,
		    "A: b\r\n\r\nno end\r\n.\r\n" },
		{ ".\r\n..\r\n.x\r\nx.\r\n", false, 0,
		    "..\r\n...\r\n..x\r\nx.\r\n.\r\n" },
		{ "A: b\n\n.\nx\n", false, 0, "A: b\r\n\r\n..\r\nx\r\n.\r\n" },
		{ "a\r\n.", false, 0, "a\r\n..\r\n.\r\n" },
		{ "\r\n", false, 0, "\r\n.\r\n" },
		/* TOP */
		{ "A: b\r\nC: d\r\n\r\n1\r\n2\r\n3\r\n", true, 0,
		    "A: b\r\nC: d\r\n\r\n.\r\n" },
		{ "A: b\r\nC: d\r\n\r\n1\r\n2\r\n3\r\n", true, 2,
		    "A: b\r\nC: d\r\n\r\n1\r\n2\r\n.\r\n" },
		{ "A: b\r\n\r\n1\r\n2\r\n3\r\n", true, 9,
		    "A: b\r\n\r\n1\r\n2\r\n3\r\n.\r\n" },
		{ "A: b\r\n\r\n.1\r\n.2\r\n", true, 1,
		    "A: b\r\n\r\n..1\r\n.\r\n" },
		{ "A: b\r\nno blank line\r\n", true, 0,
		    "A: b\r\nno blank line\r\n.\r\n" },
		{ "A: b\n\nx\ny\n", true, 1, "A: b\r\n\r\nx\r\n.\r\n" },
		{ "\r\nbody\r\nmore\r\n", true, 1, "\r\nbody\r\n.\r\n" },
		{ "A: b\r\n\r\n\r\n\r\nz\r\n", true, 2,
		    "A: b\r\n\r\n\r\n\r\n.\r\n" },
		{ "A: \rb\r\n\r\nx\r\n", true, 0, "A: \rb\r\n\r\n.\r\n" },
	};

	return cr_make_param_array(struct xfer_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

/* Every case gives the same bytes for every read size and output size
 * (the trickle test: cut the input at every offset). */
ParameterizedTest(struct xfer_case *c, pop3_xfer, output)
{
	static const size_t	 chunks[] = { 1, 2, 3, 7, 4096 };
	static const size_t	 outs[] = { 8, 9, 13, 256 };
	size_t			 i, j;
	char			*got;

	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++)
		for (j = 0; j < sizeof(outs) / sizeof(outs[0]); j++) {
			got = run(c->in, c->top, c->lines, chunks[i], outs[j]);
			cr_assert_str_eq(got, c->want,
			    "case %s chunk %zu out %zu: %s", c->top ? "top" :
			    "retr", chunks[i], outs[j], esc(got));
			free(got);
		}
}

Test(pop3_xfer, sent_counts_wire_bytes_without_stuffing)
{
	struct pop3_xfer	 x;
	struct src		 s = { ".a\r\nb\r\n", 7, 0, 4096, false };
	char			 buf[64];
	size_t			 len;

	pop3_xfer_init(&x, src_read, &s, false, 0);
	cr_assert_eq(pop3_xfer_produce(&x, buf, sizeof(buf), &len), 1);
	cr_assert_eq(x.sent, 7);
	cr_assert_eq(len, 7 + 1 + 3);
	pop3_xfer_release(&x);
}

Test(pop3_xfer, source_error)
{
	struct pop3_xfer	 x;
	struct src		 s = { "abc\r\ndef\r\n", 10, 0, 3, true };
	char			 buf[64];
	size_t			 len;
	int			 r;

	pop3_xfer_init(&x, src_read, &s, false, 0);
	while ((r = pop3_xfer_produce(&x, buf, sizeof(buf), &len)) == 0)
		continue;
	cr_assert_eq(r, -1);
	pop3_xfer_release(&x);
}

/* A big message goes out in bounded pieces and arrives whole. */
Test(pop3_xfer, large_message)
{
	size_t		 n = 3 * POP3_XFER_BUF + 17, i;
	char		*msg = malloc(n + 1), *got;

	cr_assert_not_null(msg);
	for (i = 0; i < n; i++)
		msg[i] = (i % 80 == 78) ? '\r' : (i % 80 == 79) ? '\n' :
		    (i % 80 == 0) ? '.' : 'x';
	msg[n] = '\0';
	got = run(msg, false, 0, 4096, 256);
	/* every line starts with '.', so one extra byte per line */
	cr_assert_eq(strlen(got), n + (n + 79) / 80 + 2 + 3);
	free(got);
	free(msg);
}
