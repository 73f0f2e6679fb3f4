/* SPDX-License-Identifier: MIT */
/*
 * mime_test.c - the part tree (nested multipart, message/rfc822, missing
 * boundaries, LF-only, the depth and part bounds), part numbers, header
 * fields and RFC 2047 words, address lists with groups, dates, and the
 * body decoders
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime.h"
#include "str.h"

static struct mime_msg *
parse(const char *s)
{
	struct mime_msg	*m = mime_parse(s, strlen(s));

	cr_assert_not_null(m);
	return m;
}

static const char nested[] =
    "From: a@b.c\r\n"
    "Content-Type: multipart/mixed; boundary=\"A\"\r\n"
    "\r\n"
    "preamble\r\n"
    "--A\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "one\r\n"
    "--A\r\n"
    "Content-Type: multipart/alternative; boundary=B\r\n"
    "\r\n"
    "--B\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "alt1\r\n"
    "--B\r\n"
    "Content-Type: text/html\r\n"
    "\r\n"
    "<p>alt2</p>\r\n"
    "--B--\r\n"
    "--A\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "Subject: inner\r\n"
    "\r\n"
    "inner body\r\n"
    "--A--\r\n"
    "epilogue\r\n";

Test(mime, nested_tree_and_part_numbers)
{
	struct mime_msg		*m = parse(nested);
	const struct mime_part	*p;
	uint32_t		 n[3];

	cr_assert_str_eq(m->root.type, "multipart");
	cr_assert_str_eq(m->root.subtype, "mixed");
	cr_assert_eq(m->root.nchildren, 3);
	n[0] = 1;
	p = mime_part_at(m, n, 1);
	cr_assert_not_null(p);
	cr_assert_str_eq(p->subtype, "plain");
	cr_assert_eq(p->body_len, 3);
	cr_assert(memcmp(m->buf + p->body_off, "one", 3) == 0);
	n[0] = 2;
	n[1] = 2;
	p = mime_part_at(m, n, 2);
	cr_assert_not_null(p);
	cr_assert_str_eq(p->subtype, "html");
	n[0] = 3;
	p = mime_part_at(m, n, 1);
	cr_assert_not_null(p);
	cr_assert_str_eq(p->type, "message");
	cr_assert_eq(p->nchildren, 1);
	n[0] = 4;
	cr_assert_null(mime_part_at(m, n, 1));
	n[0] = 0;
	cr_assert_null(mime_part_at(m, n, 1));
	mime_free(&m);
	cr_assert_null(m);
}

Test(mime, defaults_and_single_part)
{
	struct mime_msg		*m = parse("Subject: x\n\nhello\n");
	const struct mime_part	*p;
	uint32_t		 one = 1;

	cr_assert_str_eq(m->root.type, "text");
	cr_assert_str_eq(m->root.subtype, "plain");
	cr_assert_eq(m->root.nparams, 1);
	cr_assert_str_eq(m->root.params[0].name, "charset");
	cr_assert_str_eq(m->root.params[0].value, "us-ascii");
	/* part 1 of a non-multipart message is its body */
	p = mime_part_at(m, &one, 1);
	cr_assert_not_null(p);
	/* LF-only: wire sizes count CRLF */
	cr_assert_eq(m->root.wire_body_len, 7);
	mime_free(&m);
}

Test(mime, missing_boundary_ends_at_the_parent)
{
	struct mime_msg	*m = parse("Content-Type: multipart/mixed; "
	    "boundary=Q\r\n\r\n--Q\r\nContent-Type: text/plain\r\n\r\n"
	    "never closed\r\n");

	cr_assert_eq(m->root.nchildren, 1);
	mime_free(&m);
	/* no boundary parameter at all: one body, never a crash */
	m = parse("Content-Type: multipart/mixed\r\n\r\n--x\r\n\r\ny\r\n");
	mime_free(&m);
}

Test(mime, depth_and_part_bounds)
{
	struct str	 s;
	struct mime_msg	*m;
	int		 i;

	str_init(&s, 0);
	for (i = 0; i < MIME_DEPTH_MAX + 20; i++)
		cr_assert_eq(str_appendf(&s, "Content-Type: multipart/mixed; "
		    "boundary=b%d\r\n\r\n--b%d\r\n", i, i), 0);
	m = mime_parse(s.data, s.len);
	cr_assert_not_null(m);
	mime_free(&m);
	str_clear(&s);
	cr_assert_eq(str_append_str(&s, "Content-Type: multipart/mixed; "
	    "boundary=z\r\n\r\n"), 0);
	for (i = 0; i < MIME_PARTS_MAX + 100; i++)
		cr_assert_eq(str_append_str(&s, "--z\r\n\r\nx\r\n"), 0);
	m = mime_parse(s.data, s.len);
	cr_assert_not_null(m);
	cr_assert_leq(m->root.nchildren, MIME_PARTS_MAX);
	mime_free(&m);
	str_release(&s);
}

Test(mime, encoded_words)
{
	static const char two[] = "=?utf-8?q?caf=C3=A9?= =?utf-8?b?w6k=?=";
	struct str	 out;

	str_init(&out, 0);
	cr_assert_eq(mime_header_decode(two, strlen(two), &out), 0);
	/* white space between two encoded words goes */
	cr_assert_str_eq(str_c(&out), "caf\xc3\xa9\xc3\xa9");
	str_clear(&out);
	cr_assert_eq(mime_header_decode("=?iso-8859-1?q?a_b=E9?= plain", 29,
	    &out), 0);
	cr_assert_str_eq(str_c(&out), "a b\xc3\xa9 plain");
	str_clear(&out);
	/* not an encoded word: kept */
	cr_assert_eq(mime_header_decode("=?bad", 5, &out), 0);
	cr_assert_str_eq(str_c(&out), "=?bad");
	str_release(&out);
}

Test(mime, addresses_and_groups)
{
	static const char v[] = "group: g1@d1.org, g2@d2.org;, \"C, D\" "
	    "<c@d.e>, e@f.g (Eve)";
	struct mime_addr *a;
	size_t		 n;

	cr_assert_eq(mime_addr_parse_raw(v, strlen(v), &a, &n), 0);
	cr_assert_eq(n, 6);
	cr_assert_null(a[0].host);		/* group start */
	cr_assert_str_eq(a[0].mailbox, "group");
	cr_assert_str_eq(a[1].mailbox, "g1");
	cr_assert_str_eq(a[1].host, "d1.org");
	cr_assert_str_eq(a[2].mailbox, "g2");
	cr_assert_null(a[3].mailbox);		/* group end */
	cr_assert_null(a[3].host);
	cr_assert_str_eq(a[4].name, "C, D");
	cr_assert_str_eq(a[4].host, "d.e");
	cr_assert_str_eq(a[5].mailbox, "e");
	mime_addr_free(a, n);
	cr_assert_eq(mime_addr_parse_raw("", 0, &a, &n), 0);
	cr_assert_eq(n, 0);
	mime_addr_free(a, n);
}

Test(mime, dates)
{
	int64_t	 t;

	cr_assert_eq(mime_parse_date("Thu, 03 Dec 2026 10:00:00 +0000", 31,
	    &t), 0);
	cr_assert_eq(t, 1796292000);
	cr_assert_eq(mime_parse_date("3 Dec 2026 12:00:00 +0200", 25, &t), 0);
	cr_assert_eq(t, 1796292000);
	cr_assert_eq(mime_parse_date("not a date", 10, &t), -1);
}

Test(mime, body_decoders)
{
	static const char msg[] =
	    "Content-Type: multipart/mixed; boundary=X\r\n\r\n"
	    "--X\r\nContent-Transfer-Encoding: quoted-printable\r\n"
	    "Content-Type: text/plain; charset=iso-8859-1\r\n\r\n"
	    "caf=E9 soft=\r\nbreak =3D\r\n"
	    "--X\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	    "aGVs\r\nbG8=\r\n--X--\r\n";
	struct mime_msg		*m = parse(msg);
	struct str		 out;
	uint32_t		 n;

	str_init(&out, 0);
	n = 1;
	cr_assert_eq(mime_body_text(m, mime_part_at(m, &n, 1), &out), 0);
	cr_assert_str_eq(str_c(&out), "caf\xc3\xa9 softbreak =");
	str_clear(&out);
	n = 2;
	cr_assert_eq(mime_body_decode(m, mime_part_at(m, &n, 1), &out), 0);
	cr_assert_str_eq(str_c(&out), "hello");
	str_release(&out);
	mime_free(&m);
}

Test(mime, header_fields)
{
	struct mime_msg	*m = parse("Subject: a\r\n folded\r\nX-A: 1\r\n"
	    "x-a: 2\r\n\r\nbody");
	struct str	 v;

	str_init(&v, 0);
	cr_assert_eq(mime_header_get(m, &m->root, "SUBJECT", &v), 1);
	cr_assert_str_eq(str_c(&v), "a folded");
	str_clear(&v);
	cr_assert_eq(mime_header_get(m, &m->root, "x-a", &v), 1);
	cr_assert_str_eq(str_c(&v), "1");
	str_clear(&v);
	cr_assert_eq(mime_header_get(m, &m->root, "nope", &v), 0);
	str_release(&v);
	mime_free(&m);
}
