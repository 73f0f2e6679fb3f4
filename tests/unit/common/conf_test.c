/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "str.h"

struct t {
	char		*name;
	char		*dir;
	unsigned int	 count;
	size_t		 max_size;
	uint64_t	 timeout;
	bool		 trace;
	struct conf_list words;
	struct conf_list listen;
	char		*mode;
};

#define T	struct t
static const struct conf_param t_params[] = {
	CONF_STRING("name", "dflt", T, name, "a name"),
	CONF_PATH("dir", "rel/d", T, dir, "a directory"),
	CONF_UINT("count", "10", 1, 100, T, count, "how many"),
	CONF_SIZE("max_size", "10M", 1024, 1024 * 1024 * 1024, T, max_size,
	    "how large"),
	CONF_TIME("timeout", "5m", 1000, 3600 * 1000, T, timeout, "how long"),
	CONF_BOOL("trace", "no", T, trace, "log more"),
	CONF_LIST("words", "a, b c", T, words, "some words"),
	CONF_ADDRS("listen", "*:25", T, listen, "where to listen"),
	CONF_ENUM("mode", "tag", "none|tag|reject-fail", T, mode, "what to do"),
	CONF_END
};

static struct t	 obj;
static struct str errs;

static int
load(const char *text)
{
	str_init(&errs, 0);
	return conf_load_buf(t_params, &obj, "t.conf", text, strlen(text),
	    "/base", &errs);
}

static void
done(void)
{
	conf_release(t_params, &obj);
	str_release(&errs);
}

static void
assert_defaults(void)
{
	cr_assert_str_eq(obj.name, "dflt");
	cr_assert_str_eq(obj.dir, "/base/rel/d");
	cr_assert_eq(obj.count, 10);
	cr_assert_eq(obj.max_size, 10 * 1024 * 1024);
	cr_assert_eq(obj.timeout, 300000);
	cr_assert_eq(obj.trace, false);
	cr_assert_eq(obj.words.count, 3);
	cr_assert_str_eq(obj.words.items[0], "a");
	cr_assert_str_eq(obj.words.items[1], "b");
	cr_assert_str_eq(obj.words.items[2], "c");
	cr_assert_eq(obj.listen.count, 1);
	cr_assert_str_eq(obj.listen.items[0], "*:25");
	cr_assert_str_eq(obj.mode, "tag");
}

Test(conf, empty_file_gives_defaults)
{
	cr_assert_eq(load(""), 0);
	assert_defaults();
	cr_assert_str_eq(str_c(&errs), "");
	done();
}

Test(conf, defaults_alone)
{
	str_init(&errs, 0);
	cr_assert_eq(conf_defaults(t_params, &obj, "/base", &errs), 0);
	assert_defaults();
	done();
}

Test(conf, every_type_set)
{
	cr_assert_eq(load(
	    "name = hello world\n"
	    "dir = /abs/dir\n"
	    "count = 100\n"
	    "max_size = 512k\n"
	    "timeout = 90s\n"
	    "trace = yes\n"
	    "words = x,y , z\n"
	    "listen = 127.0.0.1:25, [::1]:25 *:2525 mail.example.org:587\n"
	    "mode = reject-fail\n"), 0, "%s", str_c(&errs));
	cr_assert_str_eq(obj.name, "hello world");
	cr_assert_str_eq(obj.dir, "/abs/dir");
	cr_assert_eq(obj.count, 100);
	cr_assert_eq(obj.max_size, 512 * 1024);
	cr_assert_eq(obj.timeout, 90000);
	cr_assert_eq(obj.trace, true);
	cr_assert_eq(obj.words.count, 3);
	cr_assert_str_eq(obj.words.items[2], "z");
	cr_assert_eq(obj.listen.count, 4);
	cr_assert_str_eq(obj.listen.items[1], "[::1]:25");
	cr_assert_str_eq(obj.listen.items[3], "mail.example.org:587");
	cr_assert_str_eq(obj.mode, "reject-fail");
	done();
}

Test(conf, empty_values)
{
	cr_assert_eq(load("name =\ndir=\nwords =\nlisten = \n"), 0);
	cr_assert_str_eq(obj.name, "");
	cr_assert_str_eq(obj.dir, "");
	cr_assert_eq(obj.words.count, 0);
	cr_assert_eq(obj.listen.count, 0);
	done();
}

Test(conf, paths)
{
	cr_assert_eq(load("dir = sub/x\n"), 0);
	cr_assert_str_eq(obj.dir, "/base/sub/x");
	done();
	str_init(&errs, 0);
	cr_assert_eq(conf_load_buf(t_params, &obj, "t", "dir = x", 7, "/", &errs), 0);
	cr_assert_str_eq(obj.dir, "/x");
	done();
	str_init(&errs, 0);
	cr_assert_eq(conf_load_buf(t_params, &obj, "t", "dir = x", 7, "/b//", &errs), 0);
	cr_assert_str_eq(obj.dir, "/b/x");
	done();
	str_init(&errs, 0);
	cr_assert_eq(conf_load_buf(t_params, &obj, "t", "dir = x", 7, NULL, &errs), 0);
	cr_assert_str_eq(obj.dir, "x");
	done();
}

Test(conf, comments)
{
	cr_assert_eq(load(
	    "# a comment\n"
	    "   # an indented comment\n"
	    "#name = no\n"
	    "name = a#b # the rest is comment\n"
	    "count = 5\t# tab before\n"
	    "words = #nothing\n"), 0, "%s", str_c(&errs));
	cr_assert_str_eq(obj.name, "a#b");
	cr_assert_eq(obj.count, 5);
	cr_assert_eq(obj.words.count, 0);
	done();
}

Test(conf, hash_inside_enum_is_part_of_value)
{
	cr_assert_eq(load("mode = none#x\n"), -1);
	cr_assert_str_eq(str_c(&errs),
	    "t.conf:1: mode: 'none#x' is not one of: none, tag, reject-fail\n");
	done();
}

Test(conf, comment_after_blank)
{
	cr_assert_eq(load("count = 5\t# tab before\nwords = #nothing\n"), 0);
	cr_assert_eq(obj.count, 5);
	cr_assert_eq(obj.words.count, 0);
	done();
}

Test(conf, continuation_lines)
{
	cr_assert_eq(load(
	    "words = a,\n"
	    "  b\n"
	    "\n"
	    "  # a comment between\n"
	    "\tc # and one after\n"
	    "count = 5\n"
	    "name = one\n"
	    "   two\n"), 0, "%s", str_c(&errs));
	cr_assert_eq(obj.words.count, 3);
	cr_assert_str_eq(obj.words.items[0], "a");
	cr_assert_str_eq(obj.words.items[1], "b");
	cr_assert_str_eq(obj.words.items[2], "c");
	cr_assert_eq(obj.count, 5);
	cr_assert_str_eq(obj.name, "one two");
	done();
}

Test(conf, continuation_without_key)
{
	cr_assert_eq(load("  words = a\ncount = 5\n"), -1);
	cr_assert_str_eq(str_c(&errs), "t.conf:1: continuation line without "
	    "a key = value line before it\n");
	cr_assert_eq(obj.count, 5);
	done();
}

Test(conf, crlf)
{
	cr_assert_eq(load("name = x\r\ncount = 7\r\nwords = a,\r\n b\r\n"), 0,
	    "%s", str_c(&errs));
	cr_assert_str_eq(obj.name, "x");
	cr_assert_eq(obj.count, 7);
	cr_assert_eq(obj.words.count, 2);
	cr_assert_str_eq(obj.words.items[1], "b");
	done();
}

Test(conf, no_final_newline_and_bom)
{
	cr_assert_eq(load("\xef\xbb\xbfname = x\ncount = 7"), 0, "%s",
	    str_c(&errs));
	cr_assert_str_eq(obj.name, "x");
	cr_assert_eq(obj.count, 7);
	done();
}

struct msg_case {
	char	in[160];
	char	want[200];
};

ParameterizedTestParameters(conf, messages)
{
	static struct msg_case cases[] = {
		{ "max_size = 10Q",
		  "t.conf:1: max_size: '10Q' is not a size (use a number with optional k, M, G)\n" },
		{ "max_size = 512",
		  "t.conf:1: max_size: '512' is out of range (1k..1G)\n" },
		{ "max_size = 2G",
		  "t.conf:1: max_size: '2G' is out of range (1k..1G)\n" },
		{ "max_size = 99999999999999999999",
		  "t.conf:1: max_size: '99999999999999999999' is too large\n" },
		{ "max_size = 17179869184G",
		  "t.conf:1: max_size: '17179869184G' is too large\n" },
		{ "max_size =",
		  "t.conf:1: max_size: '' is not a size (use a number with optional k, M, G)\n" },
		{ "count = 0",
		  "t.conf:1: count: '0' is out of range (1..100)\n" },
		{ "count = 101",
		  "t.conf:1: count: '101' is out of range (1..100)\n" },
		{ "count = 99999999999999999999999",
		  "t.conf:1: count: '99999999999999999999999' is out of range (1..100)\n" },
		{ "count = abc",
		  "t.conf:1: count: 'abc' is not a number\n" },
		{ "count = -1",
		  "t.conf:1: count: '-1' is not a number\n" },
		{ "timeout = 5x",
		  "t.conf:1: timeout: '5x' is not a time (use a number with optional ms, s, m, h, d, w)\n" },
		{ "timeout = 2h",
		  "t.conf:1: timeout: '2h' is out of range (1s..1h)\n" },
		{ "timeout = 999ms",
		  "t.conf:1: timeout: '999ms' is out of range (1s..1h)\n" },
		{ "timeout = 99999999999999999w",
		  "t.conf:1: timeout: '99999999999999999w' is too large\n" },
		{ "trace = maybe",
		  "t.conf:1: trace: 'maybe' is not a boolean (use yes or no)\n" },
		{ "mode = tagx",
		  "t.conf:1: mode: 'tagx' is not one of: none, tag, reject-fail\n" },
		{ "mode =",
		  "t.conf:1: mode: '' is not one of: none, tag, reject-fail\n" },
		{ "listen = host",
		  "t.conf:1: listen: 'host' is not a host:port: port missing\n" },
		{ "listen = :25",
		  "t.conf:1: listen: ':25' is not a host:port: host missing (use *:PORT for every address)\n" },
		{ "listen = *:0",
		  "t.conf:1: listen: '*:0' is not a host:port: port must be a number in 1..65535\n" },
		{ "listen = *:65536",
		  "t.conf:1: listen: '*:65536' is not a host:port: port must be a number in 1..65535\n" },
		{ "listen = *:smtp",
		  "t.conf:1: listen: '*:smtp' is not a host:port: port must be a number in 1..65535\n" },
		{ "listen = *:",
		  "t.conf:1: listen: '*:' is not a host:port: port must be a number in 1..65535\n" },
		{ "listen = ::1:25",
		  "t.conf:1: listen: '::1:25' is not a host:port: use [address]:port for IPv6\n" },
		{ "listen = [::1]25",
		  "t.conf:1: listen: '[::1]25' is not a host:port: use [address]:port for IPv6\n" },
		{ "listen = [::g]:25",
		  "t.conf:1: listen: '[::g]:25' is not a host:port: bad IPv6 address\n" },
		{ "listen = []:25",
		  "t.conf:1: listen: '[]:25' is not a host:port: bad IPv6 address\n" },
		{ "listen = 256.1.1.1:25",
		  "t.conf:1: listen: '256.1.1.1:25' is not a host:port: bad IPv4 address\n" },
		{ "listen = bad_name:25",
		  "t.conf:1: listen: 'bad_name:25' is not a host:port: bad host name\n" },
		{ "listen = -a.example:25",
		  "t.conf:1: listen: '-a.example:25' is not a host:port: bad host name\n" },
		{ "listen = a..example:25",
		  "t.conf:1: listen: 'a..example:25' is not a host:port: bad host name\n" },
		{ "listen = *:25, x:1:2",
		  "t.conf:1: listen: 'x:1:2' is not a host:port: use [address]:port for IPv6\n" },
		{ "foo = 1",
		  "t.conf:1: unknown key 'foo'\n" },
		{ "trase = yes",
		  "t.conf:1: unknown key 'trase' (did you mean 'trace'?)\n" },
		{ "tarce = yes",
		  "t.conf:1: unknown key 'tarce' (did you mean 'trace'?)\n" },
		{ "max_sizes = 1M",
		  "t.conf:1: unknown key 'max_sizes' (did you mean 'max_size'?)\n" },
		{ "Count = 5",
		  "t.conf:1: bad key 'Count' (use a-z, 0-9 and _)\n" },
		{ "my key = 5",
		  "t.conf:1: bad key 'my key' (use a-z, 0-9 and _)\n" },
		{ "= 5",
		  "t.conf:1: bad key '' (use a-z, 0-9 and _)\n" },
		{ "count 5",
		  "t.conf:1: missing '=' in 'count 5' (use key = value)\n" },
		{ "count # = 5",
		  "t.conf:1: missing '=' in 'count' (use key = value)\n" },
		{ "count = 5\ncount = 6",
		  "t.conf:2: duplicate key 'count' (first set on line 1)\n" },
		{ "name = \x01\x7f",
		  "" },
		{ "foo\x01 = 1",
		  "t.conf:1: bad key 'foo\\x01' (use a-z, 0-9 and _)\n" },
	};

	return cr_make_param_array(struct msg_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct msg_case *c, conf, messages)
{
	int	 rc = load(c->in);

	cr_assert_eq(rc, c->want[0] == '\0' ? 0 : -1, "input \"%s\"", c->in);
	cr_assert_str_eq(str_c(&errs), c->want, "input \"%s\"", c->in);
	done();
}

Test(conf, bad_value_keeps_default)
{
	cr_assert_eq(load("count = 0\nlisten = *:0\nmode = x\n"), -1);
	cr_assert_eq(obj.count, 10);
	cr_assert_eq(obj.listen.count, 1);
	cr_assert_str_eq(obj.listen.items[0], "*:25");
	cr_assert_str_eq(obj.mode, "tag");
	done();
}

Test(conf, duplicate_keeps_first)
{
	cr_assert_eq(load("count = 5\nname = x\ncount = 6\n"), -1);
	cr_assert_eq(obj.count, 5);
	cr_assert_str_eq(str_c(&errs),
	    "t.conf:3: duplicate key 'count' (first set on line 1)\n");
	done();
}

Test(conf, duplicate_of_bad_value)
{
	/* The first line counts as set even though its value was bad. */
	cr_assert_eq(load("count = 0\ncount = 6\n"), -1);
	cr_assert_str_eq(str_c(&errs),
	    "t.conf:1: count: '0' is out of range (1..100)\n"
	    "t.conf:2: duplicate key 'count' (first set on line 1)\n");
	done();
}

Test(conf, all_errors_collected)
{
	cr_assert_eq(load(
	    "# three bad lines among good ones\n"
	    "count = 0\n"
	    "name = fine\n"
	    "max_size = 10Q\n"
	    "\n"
	    "words = a,\n"
	    "   b\n"
	    "trase = yes\n"
	    "mode = none\n"), -1);
	cr_assert_str_eq(str_c(&errs),
	    "t.conf:2: count: '0' is out of range (1..100)\n"
	    "t.conf:4: max_size: '10Q' is not a size (use a number with optional k, M, G)\n"
	    "t.conf:8: unknown key 'trase' (did you mean 'trace'?)\n");
	/* and the good lines still took effect */
	cr_assert_str_eq(obj.name, "fine");
	cr_assert_eq(obj.words.count, 2);
	cr_assert_str_eq(obj.mode, "none");
	done();
}

Test(conf, error_on_continued_value_names_first_line)
{
	cr_assert_eq(load("name = x\ncount = 5\n  6\n"), -1);
	cr_assert_str_eq(str_c(&errs), "t.conf:2: count: '5 6' is not a number\n");
	done();
}

Test(conf, long_value_is_cut_in_message)
{
	char	 in[400];
	char	 want[200];

	memset(in, 0, sizeof(in));
	memcpy(in, "count = ", 8);
	memset(in + 8, '7', 300);
	cr_assert_eq(load(in), -1);
	/* 79 bytes of the value fit, less 3 for "..." */
	memset(want, 0, sizeof(want));
	(void)snprintf(want, sizeof(want), "t.conf:1: count: '%.*s...' is out of range (1..100)\n",
	    76, in + 8);
	cr_assert_str_eq(str_c(&errs), want);
	done();
}

Test(conf, line_length_limit)
{
	char	*in = malloc(5000);
	size_t	 n;

	cr_assert_not_null(in);
	/* exactly 4096 bytes is fine (CR not counted) */
	n = (size_t)snprintf(in, 5000, "name = ");
	memset(in + n, 'x', 4096 - n);
	memcpy(in + 4096, "\r\ncount = 5\n", 13);
	cr_assert_eq(load(in), 0, "%s", str_c(&errs));
	cr_assert_eq(strlen(obj.name), 4096 - 7);
	cr_assert_eq(obj.count, 5);
	done();

	/* 4097 is an error on its line, the others still count */
	n = (size_t)snprintf(in, 5000, "count = 5\nname = ");
	memset(in + n, 'x', 4097 + 10 - n);
	memcpy(in + 4097 + 10, "\n  more\ntrace = yes\n", 21);
	cr_assert_eq(load(in), -1);
	cr_assert_str_eq(str_c(&errs), "t.conf:2: line longer than 4096 bytes\n");
	cr_assert_str_eq(obj.name, "dflt");
	cr_assert_eq(obj.count, 5);
	cr_assert_eq(obj.trace, true);
	done();
	free(in);
}

Test(conf, nul_byte_rejected)
{
	static const char in[] = "name = x\ncount = 5\0 6\ntrace = on\n";

	str_init(&errs, 0);
	cr_assert_eq(conf_load_buf(t_params, &obj, "t.conf", in,
	    sizeof(in) - 1, "/base", &errs), -1);
	cr_assert_str_eq(str_c(&errs), "t.conf:2: NUL byte in line\n");
	cr_assert_str_eq(obj.name, "x");
	cr_assert_eq(obj.count, 10);
	cr_assert_eq(obj.trace, true);
	done();
}

Test(conf, file_size_limit)
{
	size_t	 max = 1024 * 1024;
	char	*in = malloc(max + 1);

	cr_assert_not_null(in);
	memset(in, '\n', max + 1);
	memcpy(in, "count = 5", 9);
	str_init(&errs, 0);
	cr_assert_eq(conf_load_buf(t_params, &obj, "t.conf", in, max, "/b",
	    &errs), 0, "%s", str_c(&errs));
	cr_assert_eq(obj.count, 5);
	done();
	str_init(&errs, 0);
	cr_assert_eq(conf_load_buf(t_params, &obj, "t.conf", in, max + 1, "/b",
	    &errs), -1);
	cr_assert_str_eq(str_c(&errs), "t.conf: file larger than 1048576 bytes\n");
	cr_assert_eq(obj.count, 10);	/* defaults */
	done();
	free(in);
}

Test(conf, errs_may_be_null_or_full)
{
	struct str small;

	cr_assert_eq(conf_load_buf(t_params, &obj, "t", "x = 1", 5, "/", NULL), -1);
	conf_release(t_params, &obj);
	str_init(&small, 20);
	cr_assert_eq(conf_load_buf(t_params, &obj, "t", "x = 1\ny = 2", 11, "/",
	    &small), -1);
	cr_assert_leq(small.len, 20);
	conf_release(t_params, &obj);
	str_release(&small);
}

/* ---- value parsers ---- */

struct num_case {
	char		in[32];
	int		rc;
	uint64_t	want;
};

ParameterizedTestParameters(conf, sizes)
{
	static struct num_case cases[] = {
		{ "0", 0, 0 }, { "1", 0, 1 }, { "10k", 0, 10240 },
		{ "10K", 0, 10240 }, { "3M", 0, 3 * 1048576 },
		{ "2G", 0, 2ULL << 30 }, { "007", 0, 7 },
		{ "18446744073709551615", 0, UINT64_MAX },
		{ "17179869183G", 0, 17179869183ULL << 30 },
		{ "18446744073709551616", -1, 0 }, { "17179869184G", -1, 0 },
		{ "10Q", -1, 0 }, { "", -1, 0 }, { " 1", -1, 0 }, { "1 ", -1, 0 },
		{ "-1", -1, 0 }, { "+1", -1, 0 }, { "1.5M", -1, 0 },
		{ "1m", -1, 0 }, { "1g", -1, 0 }, { "1kk", -1, 0 },
		{ "k", -1, 0 }, { "1KB", -1, 0 }, { "0x10", -1, 0 },
	};

	return cr_make_param_array(struct num_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct num_case *c, conf, sizes)
{
	uint64_t v = 42;
	char	 err[200] = "";

	cr_assert_eq(conf_parse_size(c->in, &v, err, sizeof(err)), c->rc,
	    "input \"%s\"", c->in);
	if (c->rc == 0)
		cr_assert_eq(v, c->want, "input \"%s\"", c->in);
	else
		cr_assert_neq(err[0], '\0');
}

ParameterizedTestParameters(conf, times)
{
	static struct num_case cases[] = {
		{ "0", 0, 0 }, { "10", 0, 10000 }, { "250ms", 0, 250 },
		{ "30s", 0, 30000 }, { "5m", 0, 300000 },
		{ "2h", 0, 7200000 }, { "1d", 0, 86400000 },
		{ "1w", 0, 604800000 },
		{ "18446744073709551615ms", 0, UINT64_MAX },
		{ "18446744073709551615", -1, 0 },
		{ "18446744073709551615s", -1, 0 },
		{ "5x", -1, 0 }, { "5 s", -1, 0 }, { "", -1, 0 },
		{ "s", -1, 0 }, { "5S", -1, 0 }, { "1.5s", -1, 0 },
		{ "-1s", -1, 0 }, { "5sec", -1, 0 }, { "5mss", -1, 0 },
	};

	return cr_make_param_array(struct num_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct num_case *c, conf, times)
{
	uint64_t v = 42;
	char	 err[200] = "";

	cr_assert_eq(conf_parse_time(c->in, &v, err, sizeof(err)), c->rc,
	    "input \"%s\"", c->in);
	if (c->rc == 0)
		cr_assert_eq(v, c->want, "input \"%s\"", c->in);
	else
		cr_assert_neq(err[0], '\0');
}

Test(conf, parse_messages)
{
	uint64_t v;
	char	 err[200];

	cr_assert_eq(conf_parse_size("1x", &v, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "'1x' is not a size (use a number with optional k, M, G)");
	cr_assert_eq(conf_parse_time("1x", &v, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "'1x' is not a time (use a number with optional ms, s, m, h, d, w)");
	cr_assert_eq(conf_parse_time("99999999999999999999", &v, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "'99999999999999999999' is too large");
	/* a short buffer is cut, still terminated */
	cr_assert_eq(conf_parse_size("1x", &v, err, 8), -1);
	cr_assert_str_eq(err, "'1x' is");
}

struct bool_case {
	char	in[8];
	int	rc;
	bool	want;
};

ParameterizedTestParameters(conf, bools)
{
	static struct bool_case cases[] = {
		{ "yes", 0, true }, { "no", 0, false }, { "true", 0, true },
		{ "false", 0, false }, { "on", 0, true }, { "off", 0, false },
		{ "1", 0, true }, { "0", 0, false }, { "Yes", 0, true },
		{ "OFF", 0, false },
		{ "", -1, false }, { "y", -1, false }, { "2", -1, false },
		{ "yes ", -1, false }, { "maybe", -1, false },
	};

	return cr_make_param_array(struct bool_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bool_case *c, conf, bools)
{
	bool	 v = !c->want;

	cr_assert_eq(conf_parse_bool(c->in, &v), c->rc, "input \"%s\"", c->in);
	if (c->rc == 0)
		cr_assert_eq(v, c->want, "input \"%s\"", c->in);
}

Test(conf, list_split)
{
	struct conf_list l;

	cr_assert_eq(conf_list_split(",a,, b\tc ,\n", &l), 0);
	cr_assert_eq(l.count, 3);
	cr_assert_str_eq(l.items[0], "a");
	cr_assert_str_eq(l.items[1], "b");
	cr_assert_str_eq(l.items[2], "c");
	conf_list_release(&l);
	cr_assert_eq(l.count, 0);
	cr_assert_null(l.items);
	cr_assert_eq(conf_list_split(" , ", &l), 0);
	cr_assert_eq(l.count, 0);
	conf_list_release(&l);
	cr_assert_eq(conf_list_split("1 2 3 4 5 6 7 8 9", &l), 0);
	cr_assert_eq(l.count, 9);
	cr_assert_str_eq(l.items[8], "9");
	conf_list_release(&l);
}

/* ---- files ---- */

static char *
tmpfile_with(const char *text)
{
	static char path[64];
	int	 fd;

	(void)snprintf(path, sizeof(path), "/tmp/conf_test.XXXXXX");
	fd = mkstemp(path);
	cr_assert_neq(fd, -1);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

Test(conf, load_file)
{
	char	*path = tmpfile_with("count = 42\nmax_size = 7M\n");
	char	 want[128];

	str_init(&errs, 0);
	cr_assert_eq(conf_load(t_params, &obj, path, "/etc", &errs), 0);
	cr_assert_eq(obj.count, 42);
	cr_assert_eq(obj.max_size, 7 * 1048576);
	cr_assert_str_eq(obj.dir, "/etc/rel/d");
	done();
	/* messages carry the path */
	unlink(path);
	path = tmpfile_with("count = 0\n");
	str_init(&errs, 0);
	cr_assert_eq(conf_load(t_params, &obj, path, "/etc", &errs), -1);
	(void)snprintf(want, sizeof(want),
	    "%s:1: count: '0' is out of range (1..100)\n", path);
	cr_assert_str_eq(str_c(&errs), want);
	done();
	unlink(path);
}

Test(conf, load_missing_file)
{
	str_init(&errs, 0);
	cr_assert_eq(conf_load(t_params, &obj, "/nonexistent/t.conf", "/b",
	    &errs), -1);
	cr_assert_str_eq(str_c(&errs), "/nonexistent/t.conf: No such file or directory\n");
	cr_assert_eq(obj.count, 10);	/* still defaults */
	cr_assert_str_eq(obj.dir, "/b/rel/d");
	done();
}

Test(conf, load_directory)
{
	str_init(&errs, 0);
	cr_assert_eq(conf_load(t_params, &obj, "/", "/b", &errs), -1);
	cr_assert_str_eq(str_c(&errs), "/: Is a directory\n");
	cr_assert_eq(obj.count, 10);
	done();
}

Test(conf, load_large_file)
{
	FILE	*fp;
	char	*path = tmpfile_with("");
	size_t	 i;

	fp = fopen(path, "w");
	cr_assert_not_null(fp);
	for (i = 0; i < 1024 * 1024 + 1; i++)
		fputc('\n', fp);
	fclose(fp);
	str_init(&errs, 0);
	cr_assert_eq(conf_load(t_params, &obj, path, "/b", &errs), -1);
	cr_assert(strstr(str_c(&errs), ": file larger than 1048576 bytes\n") != NULL);
	done();
	unlink(path);
}

/*
 * A file rewritten in place while it is read: a child truncates it and
 * writes it again in two halves with a pause between (an editor saving
 * in chunks), over and over for a while, then stops.  Every load must see
 * one whole version or refuse the file as changing; none may take half of
 * it.  The last load, after the writer stopped, must succeed.
 */
#define REWRITE_NAME	"name = " \
	"0123456789012345678901234567890123456789012345678901234567890123\n"

static int64_t
ms_since(const struct timespec *t0)
{
	struct timespec	 now;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	return ((int64_t)now.tv_sec - t0->tv_sec) * 1000 +
	    ((int64_t)now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Exits 0, or 2 when it was held up half way through a rewrite for longer
 * than conf_load() waits for a file to settle (a busy machine): a half
 * file that stood still that long is rightly taken as finished. */
static void
rewrite_in_place(const char *path, const char *text, unsigned int ms)
{
	size_t		 len = strlen(text), half = len / 2;
	struct timespec	 t0, t1;
	bool		 stalled = false;
	int		 fd;

	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((fd = open(path, O_WRONLY)) == -1)
		_exit(1);
	do {
		(void)clock_gettime(CLOCK_MONOTONIC, &t1);
		if (ftruncate(fd, 0) == -1 ||
		    pwrite(fd, text, half, 0) != (ssize_t)half)
			_exit(1);
		(void)usleep(300);
		if (pwrite(fd, text + half, len - half, (off_t)half) !=
		    (ssize_t)(len - half))
			_exit(1);
		if (ms_since(&t1) >= 25)
			stalled = true;
		(void)usleep(1000);
	} while (ms_since(&t0) < ms);
	_exit(stalled ? 2 : 0);
}

static bool
load_whole_or_refused(const char *path, bool quiet, bool *ok_r)
{
	bool	 good;
	int	 rc;

	str_init(&errs, 0);
	rc = conf_load(t_params, &obj, path, "/b", &errs);
	if (rc == 0)
		good = obj.count == 42 && obj.trace &&
		    strlen(obj.name) == 64 && strcmp(obj.mode, "none") == 0;
	else
		good = strstr(str_c(&errs), ": changed while being read, 5 "
		    "times; not used") != NULL;
	if (!good && !quiet)
		cr_log_error("rc %d, errs \"%s\"", rc, str_c(&errs));
	*ok_r = rc == 0;
	done();
	return good;
}

Test(conf, load_file_rewritten_in_place)
{
	static const char text[] = "count = 42\n" REWRITE_NAME
	    "trace = yes\nmode = none\n";
	char		*path = tmpfile_with(text);
	unsigned int	 n = 0, bad = 0;
	bool		 ok;
	pid_t		 pid;
	int		 status;

	if ((pid = fork()) == 0)
		rewrite_in_place(path, text, 400);
	cr_assert_neq(pid, -1);
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (!load_whole_or_refused(path, bad > 2, &ok))
			bad++;
		n++;
	}
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) != 1);
	if (WEXITSTATUS(status) == 2)
		cr_log_warn("the writer was held up: %u of %u loads took a "
		    "half-written file, not counted", bad, n);
	else
		cr_expect_eq(bad, 0, "%u of %u loads took a half-written file",
		    bad, n);
	cr_assert(load_whole_or_refused(path, false, &ok));
	cr_assert(ok, "a file that holds still loads");
	unlink(path);
}

/* ---- writing ---- */

static char *
write_defaults(const char *const *keys, const char *const *values, int *rc)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*fp = open_memstream(&buf, &len);

	cr_assert_not_null(fp);
	*rc = conf_write_defaults(t_params, fp, keys, values);
	fclose(fp);
	return buf;
}

Test(conf, write_defaults_format)
{
	int	 rc;
	char	*out = write_defaults(NULL, NULL, &rc);

	cr_assert_eq(rc, 0);
	cr_assert(strncmp(out, "# a name\n#name = dflt\n\n# a directory\n#dir = rel/d\n",
	    50) == 0, "%s", out);
	cr_assert(strstr(out, "# what to do\n# one of: none|tag|reject-fail\n#mode = tag\n") != NULL,
	    "%s", out);
	free(out);
}

Test(conf, write_defaults_round_trip)
{
	int	 rc;
	char	*out = write_defaults(NULL, NULL, &rc);

	cr_assert_eq(rc, 0);
	cr_assert_eq(load(out), 0, "%s", str_c(&errs));
	assert_defaults();
	done();
	free(out);
}

Test(conf, write_defaults_with_values)
{
	static const char *const keys[] = { "count", "listen", "name", NULL };
	static const char *const values[] = { "7", "[::1]:2525", "", NULL };
	int	 rc;
	char	*out = write_defaults(keys, values, &rc);

	cr_assert_eq(rc, 0);
	cr_assert(strstr(out, "\ncount = 7\n") != NULL, "%s", out);
	cr_assert(strstr(out, "\nname =\n") != NULL, "%s", out);
	cr_assert_eq(load(out), 0, "%s", str_c(&errs));
	cr_assert_eq(obj.count, 7);
	cr_assert_str_eq(obj.name, "");
	cr_assert_eq(obj.listen.count, 1);
	cr_assert_str_eq(obj.listen.items[0], "[::1]:2525");
	cr_assert_eq(obj.max_size, 10 * 1048576);
	done();
	free(out);
}

Test(conf, write_defaults_refuses_bad_input)
{
	static const char *const unknown[] = { "nope", NULL };
	static const char *const nl[] = { "name", NULL };
	static const char *const one[] = { "x", NULL };
	static const char *const twolines[] = { "a\nb", NULL };
	int	 rc;
	char	*out;

	out = write_defaults(unknown, one, &rc);
	cr_assert_eq(rc, -1);
	cr_assert_str_eq(out, "");
	free(out);
	out = write_defaults(nl, twolines, &rc);
	cr_assert_eq(rc, -1);
	free(out);
	out = write_defaults(nl, NULL, &rc);
	cr_assert_eq(rc, -1);
	free(out);
}

Test(conf, write_error)
{
	FILE	*fp = fopen("/dev/full", "w");

	cr_assert_not_null(fp);
	cr_assert_eq(conf_write_defaults(t_params, fp, NULL, NULL), -1);
	fclose(fp);
}

/* ---- bad tables ---- */

static const struct conf_param bad_params[] = {
	CONF_UINT("count", "0", 1, 100, T, count, "bad default"),
	CONF_ENUM("mode", "nope", "a|b", T, mode, "bad default"),
	CONF_STRING("name", "fine", T, name, "good"),
	CONF_END
};

Test(conf, bad_defaults_are_reported)
{
	str_init(&errs, 0);
	cr_assert_eq(conf_defaults(bad_params, &obj, NULL, &errs), -1);
	cr_assert_str_eq(str_c(&errs),
	    "defaults: default for count: '0' is out of range (1..100)\n"
	    "defaults: default for mode: 'nope' is not one of: a, b\n");
	cr_assert_eq(obj.count, 0);
	cr_assert_str_eq(obj.mode, "");
	cr_assert_str_eq(obj.name, "fine");
	conf_release(bad_params, &obj);
	str_release(&errs);
}
#undef T

Test(conf, error_count_is_bounded)
{
	struct str	 in;
	size_t		 i, lines = 0;
	const char	*p;

	str_init(&in, 0);
	for (i = 0; i < 150; i++)
		cr_assert_eq(str_appendf(&in, "bad%zu = 1\n", i), 0);
	cr_assert_eq(str_append_str(&in, "count = 5\n"), 0);
	cr_assert_eq(load(str_c(&in)), -1);
	for (p = str_c(&errs); (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	cr_assert_eq(lines, 101);
	cr_assert(strstr(str_c(&errs), "t.conf:100: unknown key 'bad99'\n"
	    "t.conf: more than 100 errors, stopped reading\n") != NULL);
	cr_assert_eq(obj.count, 10);	/* not reached */
	done();
	str_release(&in);
}

Test(conf, hundred_errors_are_all_shown)
{
	struct str	 in;
	size_t		 i;

	str_init(&in, 0);
	for (i = 0; i < 100; i++)
		cr_assert_eq(str_appendf(&in, "bad%zu = 1\n", i), 0);
	cr_assert_eq(str_append_str(&in, "count = 5\n"), 0);
	cr_assert_eq(load(str_c(&in)), -1);
	cr_assert_null(strstr(str_c(&errs), "stopped"));
	cr_assert_eq(obj.count, 5);
	done();
	str_release(&in);
}
