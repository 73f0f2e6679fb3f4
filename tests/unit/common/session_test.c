/* SPDX-License-Identifier: MIT */
/*
 * session_test.c - common/session.c with a toy protocol on a real event
 * loop over a socketpair: lines split at every offset, over-long lines
 * at, one over and far over the limit with every line ending, pipelining,
 * the caps' refusal, deadlines, suspend/resume, memory sessions
 *
 * The toy protocol answers each line "L<len><bare?'b':'c'> <line>", an
 * over-long one "LONG<bare?'b':'c'>"; "WAIT" suspends it for 50 ms;
 * "QUIT" closes; its timeout says "T" or "C" (the per-line deadline).
 */
#include <sys/socket.h>

#include <criterion/criterion.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "net.h"
#include "session.h"
#include "str.h"

#define TOY_MAX	64

struct toy {
	struct sess	 base;
	struct str	 out;
	unsigned int	 resumed;
};

static struct event_loop	*loop;
static struct sess_server	 sv;
static SSL_CTX			*no_tls;
static struct sess_params	 par;
static unsigned int		 released;

static void
toy_reply(struct sess *b, const char *text)
{
	struct toy	*t = SESS_OF(struct toy, b);

	cr_assert_eq(str_append_str(&t->out, text), 0);
	cr_assert_eq(str_append(&t->out, "\r\n", 2), 0);
}

static void
toy_greet(struct sess *b)
{
	toy_reply(b, "HELLO");
}

static void
toy_line(struct sess *b, char *line, size_t len, bool bare_lf)
{
	char	 buf[TOY_MAX + 32];

	if (strcmp(line, "QUIT") == 0) {
		toy_reply(b, "BYE");
		b->closing = true;
		return;
	}
	if (strcmp(line, "WAIT") == 0) {
		toy_reply(b, "WAITED");
		sess_resume_after(b, 50);
		return;
	}
	(void)snprintf(buf, sizeof(buf), "L%zu%c %s", len, bare_lf ? 'b' :
	    'c', line);
	toy_reply(b, buf);
}

static void
toy_long(struct sess *b, bool bare_lf)
{
	toy_reply(b, bare_lf ? "LONGb" : "LONGc");
}

static size_t
toy_line_max(const struct sess *b)
{
	(void)b;
	return TOY_MAX;
}

static void
toy_tls_done(struct sess *b)
{
	(void)b;
}

static void
toy_resumed(struct sess *b)
{
	SESS_OF(struct toy, b)->resumed++;
}

static void
toy_on_input(struct sess *b, bool was_raw)
{
	(void)was_raw;
	sess_timer_reset(b, par.timeout);
}

static const char *
toy_timeout(struct sess *b, bool cmd)
{
	toy_reply(b, cmd ? "C" : "T");
	return "timeout";
}

static enum sess_shut
toy_shutdown(struct sess *b)
{
	toy_reply(b, "STOP");
	return SESS_SHUT_FREE;
}

static bool
toy_refusal(const struct sess_server *server, enum sess_refuse why,
    const char *ip, char *buf, size_t size)
{
	(void)server;
	return str_printf(buf, size, "NO %d %s", (int)why, ip);
}

static void
toy_release(struct sess *b, const char *reason)
{
	(void)b;
	(void)reason;
	released++;
}

static const struct sess_ops toy_ops = {
	.greet = toy_greet,
	.line = toy_line,
	.long_line = toy_long,
	.line_max = toy_line_max,
	.on_input = toy_on_input,
	.tls_done = toy_tls_done,
	.resumed = toy_resumed,
	.timeout = toy_timeout,
	.shutdown = toy_shutdown,
	.refusal = toy_refusal,
	.release = toy_release,
};

static void
setup(void)
{
	loop = event_loop_new();
	cr_assert_not_null(loop);
	sess_server_init(&sv, loop, &toy_ops, &no_tls);
	memset(&par, 0, sizeof(par));
	par.in_max = 256;
	par.out_max = 64 * 1024;
	par.out_high = 32 * 1024;
	par.out_chunk = 4096;
	par.timeout = 5000;
	par.max_total = 4;
	par.max_per_ip = 4;
	released = 0;
}

static void
teardown(void)
{
	while (sv.head != NULL) {
		struct sess *s = sv.head;

		sess_free(&s, "test over");
	}
	event_loop_free(&loop);
}

TestSuite(session, .init = setup, .fini = teardown);

static void
stop_cb(void *arg)
{
	event_loop_break(arg);
}

static void
run_for(uint64_t ms)
{
	struct event_timer	*t;

	t = event_timer_add(loop, ms, stop_cb, loop);
	(void)event_loop_run(loop);
	event_timer_del(&t);
}

/* A new session on one end of a socketpair (NULL if refused); *c_r is
 * the client end. */
static struct sess *
connect_client(int *c_r)
{
	struct net_addr	 peer;
	struct sess	*s;
	int		 p[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, p), 0);
	cr_assert_eq(net_set_nonblock(p[0], true), 0);
	cr_assert_eq(net_set_nonblock(p[1], true), 0);
	cr_assert_eq(net_addr_parse("127.0.0.1", &peer), 0);
	*c_r = p[1];
	s = sess_accept(&sv, sizeof(struct toy), p[0], &peer, "toy", false,
	    &par, offsetof(struct toy, out));
	if (s != NULL)
		sess_start(s);
	return s;
}

static const char *
drain(int fd, bool *eof_r)
{
	static char	 buf[65536];
	size_t		 len = 0;
	ssize_t		 n;

	*eof_r = false;
	for (;;) {
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n > 0) {
			len += (size_t)n;
			if (len == sizeof(buf) - 1)
				break;
			continue;
		}
		if (n == 0)
			*eof_r = true;
		break;
	}
	buf[len] = '\0';
	return buf;
}

static void
put(int fd, const char *s, size_t len)
{
	if (len == 0)
		return;
	cr_assert_eq(write(fd, s, len), (ssize_t)len);
}

static int
greeted(void)
{
	bool	 eof;
	int	 c;

	cr_assert_not_null(connect_client(&c));
	run_for(5);
	cr_assert_str_eq(drain(c, &eof), "HELLO\r\n");
	return c;
}

Test(session, lines_split_at_every_offset)
{
	static const char	 in[] = "ab\r\ncd\nQUIT\r\n";
	size_t			 k;
	bool			 eof;
	int			 c;

	for (k = 0; k <= sizeof(in) - 1; k++) {
		c = greeted();
		put(c, in, k);
		run_for(2);
		put(c, in + k, sizeof(in) - 1 - k);
		run_for(5);
		cr_assert_str_eq(drain(c, &eof),
		    "L2c ab\r\nL2b cd\r\nBYE\r\n", "split at %zu", k);
		cr_assert(eof);
		close(c);
	}
	cr_assert_eq(sv.count, 0);
}

/* A line of n 'x' bytes, the ending, then "ok\r\n". */
static void
long_case(size_t n, const char *ending, const char *want)
{
	char	*buf;
	size_t	 len;
	bool	 eof;
	int	 c;

	c = greeted();
	len = n + strlen(ending) + 4;
	buf = malloc(len + 1);
	cr_assert_not_null(buf);
	memset(buf, 'x', n);
	(void)snprintf(buf + n, len + 1 - n, "%sok\r\n", ending);
	/* Far over the input cap: in pieces, as a client would. */
	for (size_t off = 0; off < len; off += 128) {
		put(c, buf + off, len - off < 128 ? len - off : 128);
		run_for(1);
	}
	run_for(5);
	cr_assert_str_eq(drain(c, &eof), want, "n=%zu ending=%d", n,
	    (int)strlen(ending));
	cr_assert_not(eof);
	close(c);
	free(buf);
}

Test(session, over_long_lines_with_every_ending)
{
	char	 want[TOY_MAX + 64];

	/* At the limit: taken. */
	(void)snprintf(want, sizeof(want), "L%dc %.*s\r\nL2c ok\r\n", TOY_MAX,
	    TOY_MAX, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	long_case(TOY_MAX, "\r\n", want);
	/* One over, far over: skipped, reported with how the line ended. */
	long_case(TOY_MAX + 1, "\r\n", "LONGc\r\nL2c ok\r\n");
	long_case(TOY_MAX + 1, "\n", "LONGb\r\nL2c ok\r\n");
	long_case(TOY_MAX * 40, "\r\n", "LONGc\r\nL2c ok\r\n");
	long_case(TOY_MAX * 40, "\n", "LONGb\r\nL2c ok\r\n");
	/* A lone CR ends nothing: "ok" is part of the skipped line. */
	long_case(TOY_MAX + 1, "\r", "LONGc\r\n");
	long_case(TOY_MAX * 40, "\r", "LONGc\r\n");
	/* No ending at all: the same. */
	long_case(TOY_MAX * 40, "", "LONGc\r\n");
}

Test(session, over_long_line_then_eof_closes)
{
	char	 buf[TOY_MAX * 3];
	bool	 eof;
	int	 c;

	c = greeted();
	memset(buf, 'x', sizeof(buf));
	put(c, buf, sizeof(buf));
	cr_assert_eq(shutdown(c, SHUT_WR), 0);
	run_for(10);
	cr_assert_str_eq(drain(c, &eof), "");
	cr_assert(eof);
	cr_assert_eq(sv.count, 0);
	close(c);
}

Test(session, pipelined_replies_in_order_in_one_go)
{
	char	 in[2000], want[4000];
	size_t	 i, n = 0, w = 0;
	bool	 eof;
	int	 c;

	for (i = 0; i < 100; i++) {
		n += (size_t)snprintf(in + n, sizeof(in) - n, "n%zu\r\n", i % 10);
		w += (size_t)snprintf(want + w, sizeof(want) - w,
		    "L2c n%zu\r\n", i % 10);
	}
	c = greeted();
	put(c, in, n);
	run_for(5);
	cr_assert_str_eq(drain(c, &eof), want);
	close(c);
}

Test(session, caps_refuse_with_the_protocols_line)
{
	int	 c[5], i;
	bool	 eof;

	par.max_total = 3;
	for (i = 0; i < 3; i++)
		cr_assert_not_null(connect_client(&c[i]));
	cr_assert_null(connect_client(&c[3]));
	cr_assert_str_eq(drain(c[3], &eof), "NO 1 127.0.0.1\r\n");
	cr_assert(eof);
	par.max_total = 10;
	par.max_per_ip = 3;
	cr_assert_null(connect_client(&c[4]));
	cr_assert_str_eq(drain(c[4], &eof), "NO 2 127.0.0.1\r\n");
	cr_assert_eq(sv.count, 3);
	cr_assert_eq(sess_shutdown(&sv), 0);
	for (i = 0; i < 3; i++) {
		cr_assert_str_eq(drain(c[i], &eof), "HELLO\r\nSTOP\r\n");
		cr_assert(eof);
	}
	cr_assert_null(connect_client(&c[3]));
	cr_assert_str_eq(drain(c[3], &eof), "NO 0 127.0.0.1\r\n");
	for (i = 0; i < 5; i++)
		close(c[i]);
}

Test(session, idle_deadline)
{
	bool	 eof;
	int	 c;

	par.timeout = 30;
	c = greeted();
	run_for(60);
	cr_assert_str_eq(drain(c, &eof), "T\r\n");
	cr_assert(eof);
	cr_assert_eq(released, 1);
	close(c);
}

Test(session, per_line_deadline)
{
	bool	 eof;
	int	 c;

	par.cmd_timeout = 30;
	c = greeted();
	put(c, "ab\r\nhalf", 8);
	run_for(15);
	put(c, "x", 1);		/* a trickle moves nothing */
	run_for(40);
	cr_assert_str_eq(drain(c, &eof), "L2c ab\r\nC\r\n");
	cr_assert(eof);
	close(c);
}

Test(session, suspend_then_resume_after)
{
	struct toy	*t;
	bool		 eof;
	int		 c;

	cr_assert_not_null(t = SESS_OF(struct toy, connect_client(&c)));
	run_for(5);
	cr_assert_str_eq(drain(c, &eof), "HELLO\r\n");
	put(c, "WAIT\r\nafter\r\n", 13);
	run_for(20);
	cr_assert_str_eq(drain(c, &eof), "", "replies wait while suspended");
	cr_assert(t->base.suspended);
	run_for(60);
	cr_assert_eq(t->resumed, 1);
	cr_assert_str_eq(drain(c, &eof), "WAITED\r\nL5c after\r\n");
	sess_suspend(&t->base);
	put(c, "x\r\n", 3);
	run_for(10);
	cr_assert_str_eq(drain(c, &eof), "");
	sess_resume(&t->base);
	run_for(5);
	cr_assert_str_eq(drain(c, &eof), "L1c x\r\n");
	close(c);
}

Test(session, memory_session_feeds_the_same_loop)
{
	struct sess	*s;
	struct toy	*t;
	char		 big[1000];

	s = sess_mem_new(&sv, sizeof(struct toy), &par,
	    offsetof(struct toy, out));
	t = SESS_OF(struct toy, s);
	sess_start(s);
	cr_assert_eq(sess_feed(&s, "a", 1, false), 0);
	cr_assert_eq(sess_feed(&s, "b\nc\r", 4, false), 0);
	memset(big, 'y', sizeof(big));
	cr_assert_eq(sess_feed(&s, "\n", 1, false), 0);
	cr_assert_eq(sess_feed(&s, big, sizeof(big), false), 0);
	cr_assert_eq(sess_feed(&s, "\nQUIT\r\n", 7, false), -1);
	cr_assert_null(s);
	cr_assert_eq(sv.count, 0);
	(void)t;
}
