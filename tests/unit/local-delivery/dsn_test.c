/* SPDX-License-Identifier: MIT */
/*
 * dsn_test.c - golden files for the DSN renderer, and its bad inputs
 *
 * tests/data/dsn/NAME.in holds "key: value" lines, then (optionally) a
 * line "message:" followed by the original message, byte for byte.  Keys:
 * hostname, id, sender, envid, arrival, now, ret (hdrs|full), full_max,
 * and any number of
 *	rcpt: final|orcpt|action|status|remote|diag_type|diag|last|until
 * (empty field: none; "\r", "\n" and "\\" escapes are decoded).
 * NAME.ref is the expected report, byte-exact (CRLF).  Set
 * BUZON_GOLDEN_UPDATE=1 to rewrite the .ref files from the output.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dsn.h"
#include "mem.h"
#include "str.h"

#define MAX_RCPTS	8

static char *
slurp(const char *path, size_t *len_r)
{
	struct str	 s;
	char		 buf[8192];
	ssize_t		 n;
	int		 fd;

	fd = open(path, O_RDONLY);
	cr_assert(fd != -1, "open %s: %s", path, strerror(errno));
	str_init(&s, 0);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		cr_assert_eq(str_append(&s, buf, (size_t)n), 0);
	(void)close(fd);
	*len_r = s.len;
	if (s.data == NULL)
		return xstrdup("");
	return str_detach(&s, NULL);
}

static void
data_path(char *buf, size_t size, const char *name, const char *ext)
{
	const char	*top = getenv("BUZON_TOP_SRCDIR");

	if (top == NULL)
		top = "..";
	cr_assert(str_printf(buf, size, "%s/tests/data/dsn/%s.%s", top, name,
	    ext));
}

/* Decode \r \n \\ in place. */
static char *
unescape(char *s)
{
	char	*r, *w;

	for (r = w = s; *r != '\0'; r++) {
		if (*r == '\\' && r[1] != '\0') {
			r++;
			*w++ = *r == 'r' ? '\r' : *r == 'n' ? '\n' : *r;
		} else
			*w++ = *r;
	}
	*w = '\0';
	return s;
}

static const char *
field(char **p)
{
	char	*f = *p, *bar;

	if (f == NULL)
		return NULL;
	if ((bar = strchr(f, '|')) != NULL) {
		*bar = '\0';
		*p = bar + 1;
	} else
		*p = NULL;
	return f[0] == '\0' ? NULL : unescape(f);
}

static time_t
num(const char *s)
{
	uint64_t	 v;

	if (s == NULL)
		return 0;
	cr_assert_eq(strnum_u64(s, 0, INT64_MAX, &v), 0, "number %s", s);
	return (time_t)v;
}

static enum dsn_action
action(const char *s)
{
	static const char *const names[] = { "failed", "delayed", "delivered",
	    "relayed", "expanded" };
	int	 i;

	for (i = 0; i < 5; i++)
		if (strcmp(s, names[i]) == 0)
			return (enum dsn_action)i;
	cr_assert_fail("bad action %s", s);
	return DSN_FAILED;
}

struct golden {
	char			*text;
	struct dsn		 d;
	struct dsn_rcpt		 r[MAX_RCPTS];
	struct deliver_msg	 m;
};

static void
parse_in(struct golden *g, const char *name)
{
	char		 path[512], *line, *next, *val, *p;
	size_t		 len;
	uint64_t	 v;

	data_path(path, sizeof(path), name, "in");
	g->text = slurp(path, &len);
	memset(&g->d, 0, sizeof(g->d));
	g->d.rcpts = g->r;
	for (line = g->text; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (strcmp(line, "message:") == 0) {
			memset(&g->m, 0, sizeof(g->m));
			g->m.buf = next != NULL ? next : "";
			g->m.fd = -1;
			g->m.len = len - (size_t)(g->m.buf - g->text);
			g->d.msg = &g->m;
			break;
		}
		val = strchr(line, ':');
		cr_assert_not_null(val, "bad line %s", line);
		*val++ = '\0';
		while (*val == ' ')
			val++;
		if (strcmp(line, "hostname") == 0)
			g->d.hostname = val;
		else if (strcmp(line, "id") == 0)
			g->d.id = val;
		else if (strcmp(line, "sender") == 0)
			g->d.sender = val;
		else if (strcmp(line, "envid") == 0)
			g->d.envid = val;
		else if (strcmp(line, "arrival") == 0)
			g->d.arrival = num(val);
		else if (strcmp(line, "now") == 0)
			g->d.now = num(val);
		else if (strcmp(line, "ret") == 0)
			g->d.ret = strcmp(val, "full") == 0 ? DSN_RET_FULL :
			    DSN_RET_HDRS;
		else if (strcmp(line, "full_max") == 0) {
			cr_assert_eq(strnum_u64(val, 0, UINT64_MAX, &v), 0);
			g->d.full_max = v;
		} else if (strcmp(line, "rcpt") == 0) {
			struct dsn_rcpt	*r = &g->r[g->d.nrcpts++];

			cr_assert(g->d.nrcpts <= MAX_RCPTS);
			p = val;
			r->final = field(&p);
			r->orcpt = field(&p);
			r->action = action(field(&p));
			r->status = field(&p);
			r->remote_mta = field(&p);
			r->diag_type = field(&p);
			r->diag = field(&p);
			r->last_attempt = num(field(&p));
			r->retry_until = num(field(&p));
		} else
			cr_assert_fail("unknown key %s", line);
	}
}

/* Every line ends in CRLF and has at most 998 bytes; the boundary has
 * at most 70 characters (RFC 5322 2.1.1, RFC 2046 5.1.1). */
static void
assert_shape(const struct str *out)
{
	const char	*p, *e, *b;
	size_t		 blen;

	for (p = out->data; p < out->data + out->len; p = e + 1) {
		e = memchr(p, '\n', (size_t)(out->data + out->len - p));
		cr_assert_not_null(e, "last line without LF");
		cr_assert(e > p && e[-1] == '\r', "bare LF");
		cr_assert_leq((size_t)(e - p - 1), 998);
	}
	b = strstr(out->data, "boundary=\"");
	cr_assert_not_null(b);
	b += 10;
	blen = strcspn(b, "\"");
	cr_assert_leq(blen, 70, "boundary of %zu characters", blen);
}

struct golden_case {
	char	 name[32];
};

ParameterizedTestParameters(dsn, golden)
{
	static struct golden_case cases[] = {
		{ "bounce_hdrs" }, { "bounce_full" }, { "bounce_full_too_big" },
		{ "delay" }, { "success" }, { "mixed" }, { "local_loop" },
		{ "eightbit" }, { "boundary_clash" }, { "no_message" },
		{ "hostile" }, { "no_header_end" }, { "odd_tokens" },
		{ "long_fields" },
	};
	return cr_make_param_array(struct golden_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct golden_case *c, dsn, golden)
{
	struct golden	 g;
	struct str	 out;
	struct fail	 f;
	char		 path[512], *want;
	size_t		 wantlen;
	FILE		*fp;

	setenv("TZ", "UTC", 1);
	tzset();
	parse_in(&g, c->name);
	str_init(&out, 0);
	cr_assert_eq(dsn_render(&g.d, &out, &f), 0, "%s", f.text);
	data_path(path, sizeof(path), c->name, "ref");
	if (getenv("BUZON_GOLDEN_UPDATE") != NULL) {
		fp = fopen(path, "wb");
		cr_assert_not_null(fp);
		cr_assert_eq(fwrite(out.data, 1, out.len, fp), out.len);
		cr_assert_eq(fclose(fp), 0);
	}
	assert_shape(&out);
	want = slurp(path, &wantlen);
	cr_assert_eq(out.len, wantlen, "%s: got %zu bytes, want %zu:\n%s",
	    c->name, out.len, wantlen, str_c(&out));
	cr_assert(memcmp(out.data, want, wantlen) == 0, "%s differs:\n%s",
	    c->name, str_c(&out));
	free(want);
	free(g.text);
	str_release(&out);
}

/* ---- bad inputs ---- */

static struct dsn_rcpt	 one_rcpt = {
	NULL, "bob@example.org", DSN_FAILED, "5.1.1", NULL, NULL,
	"550 5.1.1 no such user", 0, 0
};

static void
base_dsn(struct dsn *d, const struct deliver_msg *m)
{
	memset(d, 0, sizeof(*d));
	d->hostname = "mx.example.org";
	d->id = "0123456789ABCDEF";
	d->sender = "alice@example.com";
	d->arrival = 1795395723;
	d->now = 1795399323;
	d->rcpts = &one_rcpt;
	d->nrcpts = 1;
	d->msg = m;
}

Test(dsn, too_large_leaves_out_alone)
{
	struct deliver_msg	 m = { "Subject: x\r\n\r\nbody\r\n", -1, 0,
	    20 };
	struct dsn		 d;
	struct str		 out;
	struct fail		 f;

	base_dsn(&d, &m);
	str_init(&out, 200);
	cr_assert_eq(str_append_str(&out, "keep"), 0);
	cr_assert_eq(dsn_render(&d, &out, &f), -1);
	cr_assert(f.temp);
	cr_assert_str_eq(f.code, "4.3.0");
	cr_assert_str_eq(str_c(&out), "keep");
	str_release(&out);
}

Test(dsn, unreadable_original)
{
	struct deliver_msg	 m = { NULL, -1, 0, 100 };
	struct dsn		 d;
	struct str		 out;
	struct fail		 f;

	base_dsn(&d, &m);
	str_init(&out, 0);
	cr_assert_eq(dsn_render(&d, &out, &f), -1);
	cr_assert(f.temp);
	cr_assert_str_eq(f.code, "4.3.0");
	cr_assert_eq(out.len, 0);
	str_release(&out);
}

Test(dsn, from_fd_range_equals_buffer)
{
	const char		*msg = "Subject: x\r\nFrom: a@b\r\n\r\n"
	    "body\r\n";
	struct deliver_msg	 mb = { NULL, -1, 0, 0 };
	struct deliver_msg	 mf = { NULL, -1, 3, 0 };
	struct dsn		 d;
	struct str		 a, b;
	struct fail		 f;
	char			 tmpl[] = "/tmp/dsn_test.XXXXXX";
	int			 fd;

	mb.buf = msg;
	mb.len = strlen(msg);
	fd = mkstemp(tmpl);
	cr_assert(fd != -1);
	(void)unlink(tmpl);
	cr_assert_eq(write(fd, "xyz", 3), 3);
	cr_assert_eq(write(fd, msg, strlen(msg)), (ssize_t)strlen(msg));
	mf.fd = fd;
	mf.len = strlen(msg);
	str_init(&a, 0);
	str_init(&b, 0);
	base_dsn(&d, &mb);
	d.ret = DSN_RET_FULL;
	cr_assert_eq(dsn_render(&d, &a, &f), 0);
	d.msg = &mf;
	cr_assert_eq(dsn_render(&d, &b, &f), 0);
	cr_assert_eq(a.len, b.len);
	cr_assert(memcmp(a.data, b.data, a.len) == 0);
	(void)close(fd);
	str_release(&a);
	str_release(&b);
}

struct xtext_case {
	char	 in[32];
	int	 rc;
	char	 out[32];
};

ParameterizedTestParameters(dsn, xtext)
{
	static struct xtext_case cases[] = {
		{ "rfc822;bob@example.org", 0, "rfc822;bob@example.org" },
		{ "rfc822;b+2Bx@example.org", 0, "rfc822;b+x@example.org" },
		{ "+3D+2B", 0, "=+" },
		{ "", 0, "" },
		{ "a+2", -1, "" },
		{ "a+", -1, "" },
		{ "a+2b", -1, "" },	/* lower-case hex is not xtext */
		{ "a+ZZ", -1, "" },
	};
	return cr_make_param_array(struct xtext_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct xtext_case *c, dsn, xtext)
{
	char	 out[32];

	cr_assert_eq(dsn_xtext_decode(c->in, out, sizeof(out)), c->rc, "%s",
	    c->in);
	if (c->rc == 0)
		cr_assert_str_eq(out, c->out);
}

Test(dsn, xtext_too_long)
{
	char	 out[4];

	cr_assert_eq(dsn_xtext_decode("abcd", out, sizeof(out)), -1);
	cr_assert_eq(dsn_xtext_decode("abc", out, sizeof(out)), 0);
}
