/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "event.h"
#include "fail.h"
#include "str.h"
#include "stream.h"
#include "tls.h"

/* fds[0] carries the stream under test, fds[1] is the peer. */
static int	 fds[2] = { -1, -1 };

static void
set_nonblock(int fd)
{
	int	 fl = fcntl(fd, F_GETFL);

	cr_assert_neq(fl, -1);
	cr_assert_neq(fcntl(fd, F_SETFL, fl | O_NONBLOCK), -1);
}

static void
pair_open(void)
{
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds),
	    0);
	set_nonblock(fds[0]);
}

static void
pair_close(void)
{
	if (fds[0] != -1)
		(void)close(fds[0]);
	if (fds[1] != -1)
		(void)close(fds[1]);
	fds[0] = fds[1] = -1;
}

TestSuite(stream, .init = pair_open, .fini = pair_close);

static void
put(const void *p, size_t len)
{
	cr_assert_eq(write(fds[1], p, len), (ssize_t)len);
}

static void
puts_peer(const char *s)
{
	put(s, strlen(s));
}

/*
 * Line-reading driver shared by the trickle tests: takes every complete
 * line off s and appends "text|bare_lf;" to out, "TOOLONG;" for an over-long
 * line, which it then skips (possibly across several fills).
 */
struct reader {
	struct stream	*s;
	size_t		 max_line;
	bool		 skipping;
	struct str	 out;
};

static void
reader_drain(struct reader *r)
{
	char	*line;
	size_t	 len;
	bool	 bare;
	int	 rc;

	for (;;) {
		if (r->skipping) {
			if (stream_skip_line(r->s) == 0)
				return;
			r->skipping = false;
		}
		rc = stream_read_line(r->s, r->max_line, &line, &len, &bare);
		if (rc == 0)
			return;
		if (rc == -1) {
			cr_assert_eq(str_append_str(&r->out, "TOOLONG;"), 0);
			r->skipping = true;
			continue;
		}
		cr_assert_eq(line[len], '\0');
		cr_assert_eq(str_append(&r->out, line, len), 0);
		cr_assert_eq(str_appendf(&r->out, "|%d;", bare), 0);
	}
}

/* Fill until the socket is empty, draining lines after each read. */
static void
reader_pump(struct reader *r)
{
	ssize_t	 n;

	for (;;) {
		n = stream_fill(r->s);
		if (n == STREAM_AGAIN)
			break;
		cr_assert_gt(n, 0, "fill returned %zd", n);
		reader_drain(r);
	}
	reader_drain(r);
}

static void
trickle(const char *input, size_t max_in, size_t max_line, const char *want)
{
	struct reader	 r;
	size_t		 len = strlen(input), k, i;

	/* Cut at every offset: two writes. */
	for (k = 0; k <= len; k++) {
		memset(&r, 0, sizeof(r));
		r.s = stream_new(fds[0], max_in, 64);
		r.max_line = max_line;
		str_init(&r.out, 0);
		put(input, k);
		reader_pump(&r);
		put(input + k, len - k);
		reader_pump(&r);
		cr_assert_str_eq(str_c(&r.out), want, "cut at %zu", k);
		cr_assert_eq(stream_input_pending(r.s), 0);
		str_release(&r.out);
		stream_free(&r.s);
	}
	/* One byte at a time. */
	memset(&r, 0, sizeof(r));
	r.s = stream_new(fds[0], max_in, 64);
	r.max_line = max_line;
	str_init(&r.out, 0);
	for (i = 0; i < len; i++) {
		put(input + i, 1);
		cr_assert_eq(stream_fill(r.s), 1);
		reader_drain(&r);
	}
	cr_assert_str_eq(str_c(&r.out), want, "byte by byte");
	str_release(&r.out);
	stream_free(&r.s);
}

Test(stream, trickle_lines)
{
	trickle("HELO a\r\nMAIL FROM:<x>\n\r\nDATA\r\r\n\nlast\r\n", 16, 15,
	    "HELO a|0;MAIL FROM:<x>|1;|0;DATA\r|0;|1;last|0;");
}

Test(stream, trickle_over_long_line)
{
	/* The 40-byte line is longer than the whole input buffer. */
	trickle("ok\r\n0123456789012345678901234567890123456789\r\nnext\r\n"
	    "0123456789\r\n01234567890\r\n", 16, 10,
	    "ok|0;TOOLONG;next|0;0123456789|0;TOOLONG;");
}

Test(stream, crlf_and_bare_lf)
{
	struct stream	*s = stream_new(fds[0], 64, 64);
	char		*line;
	size_t		 len;
	bool		 bare = false;

	puts_peer("a\r\nb\nc\r\r\n\n\r\nx\ry\r\n");
	cr_assert_gt(stream_fill(s), 0);
	cr_assert_eq(stream_read_line(s, 10, &line, &len, &bare), 1);
	cr_assert_str_eq(line, "a");
	cr_assert_eq(len, 1);
	cr_assert(!bare);
	cr_assert_eq(stream_read_line(s, 10, &line, &len, &bare), 1);
	cr_assert_str_eq(line, "b");
	cr_assert(bare);
	cr_assert_eq(stream_read_line(s, 10, &line, &len, &bare), 1);
	cr_assert_str_eq(line, "c\r");
	cr_assert_eq(len, 2);
	cr_assert(!bare);
	cr_assert_eq(stream_read_line(s, 10, &line, &len, &bare), 1);
	cr_assert_eq(len, 0);
	cr_assert(bare);
	cr_assert_eq(stream_read_line(s, 10, &line, &len, NULL), 1);
	cr_assert_eq(len, 0);
	cr_assert_eq(stream_read_line(s, 10, &line, &len, &bare), 1);
	cr_assert_str_eq(line, "x\ry");
	cr_assert(!bare);
	cr_assert_eq(stream_read_line(s, 10, &line, &len, &bare), 0);
	stream_free(&s);
	cr_assert_null(s);
	stream_free(&s);
	stream_free(NULL);
}

Test(stream, nul_inside_line_is_kept)
{
	struct stream	*s = stream_new(fds[0], 64, 64);
	char		*line;
	size_t		 len;

	put("a\0b\r\n", 5);
	cr_assert_eq(stream_fill(s), 5);
	cr_assert_eq(stream_read_line(s, 10, &line, &len, NULL), 1);
	cr_assert_eq(len, 3);
	cr_assert_eq(memcmp(line, "a\0b", 4), 0);
	stream_free(&s);
}

Test(stream, line_length_limit)
{
	struct stream	*s = stream_new(fds[0], 64, 64);
	char		*line;
	size_t		 len;

	/* Exactly max_line bytes pass; CRLF does not count. */
	puts_peer("abcd\r");
	cr_assert_eq(stream_fill(s), 5);
	cr_assert_eq(stream_read_line(s, 4, &line, &len, NULL), 0);
	puts_peer("\nabcde\r\nok\r\n");
	cr_assert_gt(stream_fill(s), 0);
	cr_assert_eq(stream_read_line(s, 4, &line, &len, NULL), 1);
	cr_assert_str_eq(line, "abcd");
	cr_assert_eq(stream_read_line(s, 4, &line, &len, NULL), -1);
	cr_assert_eq(stream_read_line(s, 4, &line, &len, NULL), -1,
	    "stays an error until skipped");
	cr_assert_eq(stream_skip_line(s), 1);
	cr_assert_eq(stream_read_line(s, 4, &line, &len, NULL), 1);
	cr_assert_str_eq(line, "ok");

	/* Pending data without LF: the error comes before the LF does. */
	puts_peer("abcde");
	cr_assert_eq(stream_fill(s), 5);
	cr_assert_eq(stream_read_line(s, 4, &line, &len, NULL), -1);
	cr_assert_eq(stream_skip_line(s), 0);
	cr_assert_eq(stream_input_pending(s), 0);
	puts_peer("fgh\r\nnext\r\n");
	cr_assert_gt(stream_fill(s), 0);
	cr_assert_eq(stream_skip_line(s), 1);
	cr_assert_eq(stream_read_line(s, 4, &line, &len, NULL), 1);
	cr_assert_str_eq(line, "next");
	cr_assert_eq(stream_skip_line(s), 0, "nothing buffered");
	stream_free(&s);
}

Test(stream, full_input_buffer)
{
	struct stream	*s = stream_new(fds[0], 8, 64);
	char		*line;
	size_t		 len;

	puts_peer("0123456789\n");
	cr_assert_eq(stream_fill(s), 8);
	cr_assert_eq(stream_fill(s), -1, "no room left");
	cr_assert_eq(stream_read_line(s, 100, &line, &len, NULL), 0);
	cr_assert_eq(stream_events(s) & EVENT_READ, 0,
	    "a full buffer does not want input");
	cr_assert_eq(stream_skip_line(s), 0);
	cr_assert_neq(stream_events(s) & EVENT_READ, 0);
	cr_assert_eq(stream_fill(s), 3);
	cr_assert_eq(stream_skip_line(s), 1);
	stream_free(&s);
}

Test(stream, fill_eof_and_again)
{
	struct stream	*s = stream_new(fds[0], 8, 8);

	cr_assert_eq(stream_fd(s), fds[0]);
	cr_assert_eq(stream_fill(s), STREAM_AGAIN);
	puts_peer("ab");
	cr_assert_eq(stream_fill(s), 2);
	cr_assert_eq(shutdown(fds[1], SHUT_WR), 0);
	cr_assert_eq(stream_fill(s), 0);
	cr_assert_eq(stream_input_pending(s), 2);
	stream_free(&s);

	s = stream_new(123456, 8, 8);		/* not an fd */
	cr_assert_eq(stream_fill(s), -1);
	cr_assert_eq(stream_write(s, "x", 1), 0);
	cr_assert_eq(stream_flush(s), -1);
	stream_free(&s);
}

Test(stream, exact_and_bytes)
{
	struct stream	*s = stream_new(fds[0], 8, 64);
	const char	*p;
	size_t		 len;

	puts_peer("abcdefgh");
	cr_assert_eq(stream_fill(s), 8);
	cr_assert_eq(stream_read_exact(s, 6, &p), 1);
	cr_assert_eq(memcmp(p, "abcdef", 6), 0);
	cr_assert_eq(stream_read_exact(s, 3, &p), 0);
	cr_assert_eq(stream_input_pending(s), 2);
	/* The tail is full: the next fill moves "gh" to the front. */
	puts_peer("ijklmnop");
	cr_assert_eq(stream_fill(s), 6);
	cr_assert_eq(stream_read_exact(s, 8, &p), 1);
	cr_assert_eq(memcmp(p, "ghijklmn", 8), 0);
	cr_assert_eq(stream_read_exact(s, 0, &p), 1);
	cr_assert_eq(stream_fill(s), 2);
	cr_assert_eq(stream_read_bytes(s, 1, &p, &len), 1);
	cr_assert_eq(len, 1);
	cr_assert_eq(*p, 'o');
	cr_assert_eq(stream_read_bytes(s, 100, &p, &len), 1);
	cr_assert_eq(len, 1);
	cr_assert_eq(*p, 'p');
	cr_assert_eq(stream_read_bytes(s, 100, &p, &len), 0);
	stream_free(&s);
}

Test(stream, exact_after_line)
{
	struct stream	*s = stream_new(fds[0], 32, 64);
	const char	*p;
	char		*line;
	size_t		 len;

	/* An IMAP literal: the line announces 5 bytes, then a new line. */
	puts_peer("A1 APPEND x {5}\r\nhel");
	cr_assert_gt(stream_fill(s), 0);
	cr_assert_eq(stream_read_line(s, 32, &line, &len, NULL), 1);
	cr_assert_str_eq(line, "A1 APPEND x {5}");
	cr_assert_eq(stream_read_exact(s, 5, &p), 0);
	puts_peer("lo)\r\n");
	cr_assert_gt(stream_fill(s), 0);
	cr_assert_eq(stream_read_exact(s, 5, &p), 1);
	cr_assert_eq(memcmp(p, "hello", 5), 0);
	cr_assert_eq(stream_read_line(s, 32, &line, &len, NULL), 1);
	cr_assert_str_eq(line, ")");
	stream_free(&s);
}

Test(stream, exact_larger_than_buffer_is_a_bug, .signal = SIGABRT)
{
	struct stream	*s = stream_new(fds[0], 8, 8);
	const char	*p;

	(void)stream_read_exact(s, 9, &p);
}

Test(stream, discard_input)
{
	struct stream	*s = stream_new(fds[0], 32, 32);
	char		*line;
	size_t		 len;

	puts_peer("one\r\ntwo\r\nthr");
	cr_assert_gt(stream_fill(s), 0);
	cr_assert_eq(stream_read_line(s, 32, &line, &len, NULL), 1);
	stream_discard_input(s);
	cr_assert_eq(stream_input_pending(s), 0);
	cr_assert_eq(stream_read_line(s, 32, &line, &len, NULL), 0);
	puts_peer("four\r\n");
	cr_assert_gt(stream_fill(s), 0);
	cr_assert_eq(stream_read_line(s, 32, &line, &len, NULL), 1);
	cr_assert_str_eq(line, "four");
	stream_free(&s);
}

static void
peer_expect(const char *want)
{
	char	 buf[256];
	size_t	 n = strlen(want), got = 0;
	ssize_t	 r;

	cr_assert_lt(n, sizeof(buf));
	while (got < n) {
		r = read(fds[1], buf + got, n - got);
		cr_assert_gt(r, 0);
		got += (size_t)r;
	}
	cr_assert_eq(memcmp(buf, want, n), 0, "peer got \"%.*s\"", (int)n,
	    buf);
}

Test(stream, write_backpressure)
{
	struct stream	*s = stream_new(fds[0], 8, 10);

	cr_assert_eq(stream_events(s), EVENT_READ);
	cr_assert_eq(stream_write(s, "250 ok", 6), 0);
	cr_assert_eq(stream_events(s), EVENT_READ | EVENT_WRITE);
	cr_assert_eq(stream_write(s, "\r\n250", 5), -1);
	cr_assert_eq(stream_output_pending(s), 6, "nothing queued on -1");
	cr_assert_eq(stream_printf(s, "%s", "abcde"), -1);
	cr_assert_eq(stream_output_pending(s), 6);
	cr_assert_eq(stream_write(s, "", 0), 0);
	/* Exactly to the cap, through printf (its NUL needs no room). */
	cr_assert_eq(stream_printf(s, "%d\r\n", 42), 0);
	cr_assert_eq(stream_output_pending(s), 10);
	cr_assert_eq(stream_write(s, "x", 1), -1);
	cr_assert_eq(stream_flush(s), 1);
	cr_assert_eq(stream_output_pending(s), 0);
	cr_assert_eq(stream_events(s), EVENT_READ);
	peer_expect("250 ok42\r\n");
	cr_assert_eq(stream_flush(s), 1, "nothing to send");
	stream_free(&s);
}

Test(stream, flush_to_full_peer)
{
	struct stream	*s = stream_new(fds[0], 8, 4096);
	char		 chunk[4096], buf[8192];
	size_t		 queued = 0, drained = 0;
	ssize_t		 n;
	int		 sz = 4096, rc, i;

	cr_assert_eq(setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &sz,
	    sizeof(sz)), 0);
	memset(chunk, 'x', sizeof(chunk));
	/* The peer never reads: sooner or later flush must say AGAIN. */
	for (i = 0; i < 1000; i++) {
		cr_assert_eq(stream_write(s, chunk, sizeof(chunk)), 0);
		queued += sizeof(chunk);
		rc = stream_flush(s);
		if (rc == STREAM_AGAIN)
			break;
		cr_assert_eq(rc, 1);
	}
	cr_assert_eq(rc, STREAM_AGAIN);
	cr_assert_gt(stream_output_pending(s), 0);
	cr_assert_neq(stream_events(s) & EVENT_WRITE, 0);
	cr_assert_eq(stream_write(s, chunk, sizeof(chunk)), -1);
	/* Once the peer reads, everything arrives in order. */
	while ((rc = stream_flush(s)) == STREAM_AGAIN) {
		n = read(fds[1], buf, sizeof(buf));
		cr_assert_gt(n, 0);
		drained += (size_t)n;
	}
	cr_assert_eq(rc, 1);
	set_nonblock(fds[1]);
	while ((n = read(fds[1], buf, sizeof(buf))) > 0)
		drained += (size_t)n;
	cr_assert_eq(drained, queued);
	stream_free(&s);
}

Test(stream, flush_to_closed_peer)
{
	struct stream	*s = stream_new(fds[0], 8, 64);

	cr_assert_eq(close(fds[1]), 0);
	fds[1] = -1;
	cr_assert_eq(stream_write(s, "x\r\n", 3), 0);
	cr_assert_eq(stream_flush(s), -1, "EPIPE, and no SIGPIPE");
	stream_free(&s);
}

Test(stream, flush_to_pipe)
{
	struct stream	*s;
	int		 p[2];
	char		 buf[8];

	cr_assert_eq(pipe(p), 0);
	s = stream_new(p[1], 8, 64);
	cr_assert_eq(stream_printf(s, "hi %s", "x"), 0);
	cr_assert_eq(stream_flush(s), 1);
	cr_assert_eq(read(p[0], buf, sizeof(buf)), 4);
	cr_assert_eq(memcmp(buf, "hi x", 4), 0);
	stream_free(&s);
	(void)close(p[0]);
	(void)close(p[1]);
}

Test(stream, plain_is_not_tls)
{
	struct stream	*s = stream_new(fds[0], 8, 8);

	cr_assert(!stream_is_tls(s));
	cr_assert_null(stream_ssl(s));
	cr_assert_eq(stream_handshake(s), -1);
	stream_free(&s);
}

/* ---- TLS ---- */

static char	 tdir[64], cert[PATH_MAX], key[PATH_MAX];
static SSL_CTX	*sctx, *cctx;

static void
tls_setup(void)
{
	struct fail	 f;

	pair_open();
	set_nonblock(fds[1]);
	cr_assert(str_copy(tdir, "/tmp/buzon-stream-XXXXXX", sizeof(tdir)));
	cr_assert_not_null(mkdtemp(tdir));
	cr_assert(str_printf(cert, sizeof(cert), "%s/cert.pem", tdir));
	cr_assert(str_printf(key, sizeof(key), "%s/key.pem", tdir));
	cr_assert_eq(tls_selfsigned_write(cert, key, "mx.example", &f), 0,
	    "%s", f.text);
	sctx = tls_server_ctx_new(cert, key, &f);
	cr_assert_not_null(sctx, "%s", f.text);
	cctx = tls_client_ctx_new(false, NULL, &f);
	cr_assert_not_null(cctx, "%s", f.text);
}

static void
tls_teardown(void)
{
	tls_ctx_free(&sctx);
	tls_ctx_free(&cctx);
	(void)unlink(cert);
	(void)unlink(key);
	(void)rmdir(tdir);
	pair_close();
}

TestSuite(stream_tls, .init = tls_setup, .fini = tls_teardown);

static short
poll_events(const struct stream *s)
{
	unsigned int	 ev = stream_events(s);
	short		 pe = 0;

	if (ev & EVENT_READ)
		pe |= POLLIN;
	if (ev & EVENT_WRITE)
		pe |= POLLOUT;
	return pe;
}

/* Wait until one of the two streams can make progress. */
static void
wait_both(const struct stream *a, const struct stream *b)
{
	struct pollfd	 p[2];

	p[0].fd = stream_fd(a);
	p[0].events = poll_events(a);
	p[1].fd = stream_fd(b);
	p[1].events = poll_events(b);
	cr_assert_gt(poll(p, 2, 2000), 0, "stalled: events %u / %u",
	    stream_events(a), stream_events(b));
}

/* Drive both handshakes; results in *ra / *rb (1 or -1). */
static void
handshake_both(struct stream *a, struct stream *b, int *ra, int *rb)
{
	int	 i;

	*ra = *rb = STREAM_AGAIN;
	for (i = 0; i < 100; i++) {
		if (*ra == STREAM_AGAIN)
			*ra = stream_handshake(a);
		if (*rb == STREAM_AGAIN)
			*rb = stream_handshake(b);
		if (*ra != STREAM_AGAIN && *rb != STREAM_AGAIN)
			return;
		if (*ra == -1 || *rb == -1)
			return;
		wait_both(a, b);
	}
	cr_assert_fail("handshake did not finish");
}

/* Send one line from w and read it on r, driving both. */
static void
exchange(struct stream *w, struct stream *r, const char *text)
{
	char	*line;
	size_t	 len;
	int	 i, fl = STREAM_AGAIN, rc;
	ssize_t	 n;

	cr_assert_eq(stream_printf(w, "%s\r\n", text), 0);
	for (i = 0; i < 100; i++) {
		if (fl != 1)
			fl = stream_flush(w);
		cr_assert_neq(fl, -1);
		rc = stream_read_line(r, 1000, &line, &len, NULL);
		if (rc == 1) {
			cr_assert_str_eq(line, text);
			cr_assert_eq(fl, 1);
			return;
		}
		cr_assert_eq(rc, 0);
		n = stream_fill(r);
		cr_assert(n > 0 || n == STREAM_AGAIN, "fill %zd", n);
		if (n == STREAM_AGAIN && fl != 1)
			wait_both(w, r);
		else if (n == STREAM_AGAIN)
			wait_both(r, r);
	}
	cr_assert_fail("line \"%s\" did not arrive", text);
}

static void
tls_pair(struct stream **srv, struct stream **cli, size_t max)
{
	int	 ra, rb;

	*srv = stream_new(fds[0], max, max);
	*cli = stream_new(fds[1], max, max);
	cr_assert_eq(stream_starttls(*srv, sctx, true, NULL), 0);
	cr_assert_eq(stream_starttls(*cli, cctx, false, "mx.example"), 0);
	cr_assert(stream_is_tls(*srv) && stream_is_tls(*cli));
	cr_assert_eq(stream_events(*srv), EVENT_READ);
	cr_assert_eq(stream_events(*cli), EVENT_WRITE);
	handshake_both(*srv, *cli, &ra, &rb);
	cr_assert_eq(ra, 1);
	cr_assert_eq(rb, 1);
	cr_assert_eq(stream_handshake(*srv), 1, "done stays done");
}

Test(stream_tls, handshake_and_lines)
{
	struct stream	*srv, *cli;
	char		 desc[128];

	tls_pair(&srv, &cli, 1024);
	tls_describe(stream_ssl(srv), desc, sizeof(desc));
	cr_assert(strncmp(desc, "TLSv1.", 6) == 0, "%s", desc);
	cr_assert_str_eq(desc,
	    "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)");
	tls_describe(stream_ssl(cli), desc, sizeof(desc));
	cr_assert(strncmp(desc, "TLSv1.3 with cipher ", 20) == 0, "%s", desc);

	exchange(srv, cli, "220 mx.example ESMTP");
	exchange(cli, srv, "EHLO client.example");
	exchange(srv, cli, "250 mx.example");
	exchange(cli, srv, "QUIT");
	cr_assert_eq(stream_events(srv), EVENT_READ);
	stream_free(&srv);
	stream_free(&cli);
}

/* One TLS record per byte: lines must come out the same as in plain. */
Test(stream_tls, trickle_records)
{
	static const char input[] = "HELO a\r\nMAIL FROM:<x>\n\r\nx\r";
	struct stream	*srv, *cli;
	struct reader	 r;
	size_t		 i;
	ssize_t		 n;

	tls_pair(&srv, &cli, 256);
	memset(&r, 0, sizeof(r));
	r.s = srv;
	r.max_line = 64;
	str_init(&r.out, 0);
	for (i = 0; i < sizeof(input) - 1; i++) {
		cr_assert_eq(stream_write(cli, input + i, 1), 0);
		cr_assert_eq(stream_flush(cli), 1);
		while ((n = stream_fill(srv)) > 0)
			reader_drain(&r);
		cr_assert_eq(n, STREAM_AGAIN);
	}
	cr_assert_str_eq(str_c(&r.out), "HELO a|0;MAIL FROM:<x>|1;|0;");
	cr_assert_eq(stream_input_pending(srv), 2);
	str_release(&r.out);
	stream_free(&srv);
	stream_free(&cli);
}

Test(stream_tls, tls12_only_client)
{
	struct stream	*srv, *cli;
	char		 desc[128];

	cr_assert_eq(SSL_CTX_set_max_proto_version(cctx, TLS1_2_VERSION), 1);
	tls_pair(&srv, &cli, 1024);
	tls_describe(stream_ssl(srv), desc, sizeof(desc));
	cr_assert_str_eq(desc,
	    "TLSv1.2 with cipher ECDHE-ECDSA-AES256-GCM-SHA384 (256/256 bits)");
	exchange(cli, srv, "NOOP");
	stream_free(&srv);
	stream_free(&cli);
}

Test(stream_tls, old_protocol_refused)
{
	struct stream	*srv, *cli;
	int		 ra, rb;

	cr_assert_eq(SSL_CTX_set_min_proto_version(cctx, 0), 1);
	cr_assert_eq(SSL_CTX_set_max_proto_version(cctx, TLS1_1_VERSION), 1);
	SSL_CTX_set_security_level(cctx, 0);
	srv = stream_new(fds[0], 256, 256);
	cli = stream_new(fds[1], 256, 256);
	cr_assert_eq(stream_starttls(srv, sctx, true, NULL), 0);
	cr_assert_eq(stream_starttls(cli, cctx, false, NULL), 0);
	handshake_both(srv, cli, &ra, &rb);
	cr_assert(ra == -1 || rb == -1);
	cr_assert_neq(ra, 1);
	stream_free(&srv);
	stream_free(&cli);
}

Test(stream_tls, bulk_with_backpressure)
{
	struct stream	*srv, *cli;
	char		*line;
	char		 want[32];
	size_t		 len;
	int		 sent = 0, got = 0, total = 20000, sz = 4096, fl = 1;
	int		 i;
	ssize_t		 n;

	cr_assert_eq(setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &sz,
	    sizeof(sz)), 0);
	tls_pair(&srv, &cli, 1000);
	/* First the client does not read, until the server has to wait. */
	while (fl != STREAM_AGAIN && sent < total) {
		while (sent < total &&
		    stream_printf(srv, "line %06d\r\n", sent) == 0)
			sent++;
		fl = stream_flush(srv);
		cr_assert_neq(fl, -1);
	}
	cr_assert_eq(fl, STREAM_AGAIN);
	cr_assert_eq(stream_events(srv) & EVENT_WRITE, EVENT_WRITE);
	for (i = 0; i < 100000 && got < total; i++) {
		while (sent < total &&
		    stream_printf(srv, "line %06d\r\n", sent) == 0)
			sent++;
		if (stream_output_pending(srv) > 0) {
			fl = stream_flush(srv);
			cr_assert_neq(fl, -1);
		}
		/* Read until the socket is dry: OpenSSL may hold more than
		 * fits in the small input buffer. */
		for (;;) {
			while (stream_read_line(cli, 100, &line, &len,
			    NULL) == 1) {
				cr_assert(str_printf(want, sizeof(want),
				    "line %06d", got));
				cr_assert_str_eq(line, want);
				got++;
			}
			n = stream_fill(cli);
			if (n == STREAM_AGAIN)
				break;
			cr_assert_gt(n, 0);
		}
		if (got < total && fl == STREAM_AGAIN)
			wait_both(srv, cli);
	}
	cr_assert_eq(got, total);
	cr_assert_eq(stream_output_pending(srv), 0);
	stream_free(&srv);
	stream_free(&cli);
}

Test(stream_tls, verify_name)
{
	struct stream	*srv, *cli;
	struct fail	 f;
	SSL_CTX		*vctx;
	int		 ra, rb;

	vctx = tls_client_ctx_new(true, cert, &f);
	cr_assert_not_null(vctx, "%s", f.text);

	srv = stream_new(fds[0], 256, 256);
	cli = stream_new(fds[1], 256, 256);
	cr_assert_eq(stream_starttls(srv, sctx, true, NULL), 0);
	cr_assert_eq(stream_starttls(cli, vctx, false, "mx.example"), 0);
	handshake_both(srv, cli, &ra, &rb);
	cr_assert_eq(rb, 1, "the right name verifies");
	cr_assert_eq(SSL_get_verify_result(stream_ssl(cli)), X509_V_OK);
	cr_assert_eq(ra, 1);
	stream_free(&srv);
	stream_free(&cli);
	tls_ctx_free(&vctx);
}

Test(stream_tls, verify_wrong_name)
{
	struct stream	*srv, *cli;
	struct fail	 f;
	SSL_CTX		*vctx;
	int		 ra, rb;

	vctx = tls_client_ctx_new(true, cert, &f);
	cr_assert_not_null(vctx, "%s", f.text);
	srv = stream_new(fds[0], 256, 256);
	cli = stream_new(fds[1], 256, 256);
	cr_assert_eq(stream_starttls(srv, sctx, true, NULL), 0);
	cr_assert_eq(stream_starttls(cli, vctx, false, "other.example"), 0);
	handshake_both(srv, cli, &ra, &rb);
	cr_assert_eq(rb, -1);
	cr_assert_eq(SSL_get_verify_result(stream_ssl(cli)),
	    X509_V_ERR_HOSTNAME_MISMATCH);
	stream_free(&srv);
	stream_free(&cli);
	tls_ctx_free(&vctx);
}

Test(stream_tls, verify_ip_literal)
{
	struct stream	*srv, *cli;
	struct fail	 f;
	SSL_CTX		*vctx;
	int		 ra, rb;

	vctx = tls_client_ctx_new(true, cert, &f);
	cr_assert_not_null(vctx, "%s", f.text);
	srv = stream_new(fds[0], 256, 256);
	cli = stream_new(fds[1], 256, 256);
	cr_assert_eq(stream_starttls(srv, sctx, true, NULL), 0);
	cr_assert_eq(stream_starttls(cli, vctx, false, "127.0.0.1"), 0);
	handshake_both(srv, cli, &ra, &rb);
	cr_assert_eq(rb, 1);
	cr_assert_eq(ra, 1);
	cr_assert_null(SSL_get_servername(stream_ssl(srv),
	    TLSEXT_NAMETYPE_host_name), "no SNI for an address");
	stream_free(&srv);
	stream_free(&cli);
	tls_ctx_free(&vctx);
}

/*
 * RFC 3207 section 4.2 / CVE-2011-0411: the client pipelines RSET after
 * STARTTLS in one packet.  The server must never see it as a command.
 */
Test(stream_tls, starttls_discards_pipelined_input)
{
	struct stream	*srv, *cli;
	char		*line;
	size_t		 len;
	int		 ra, rb;

	srv = stream_new(fds[0], 256, 256);
	cli = stream_new(fds[1], 256, 256);
	cr_assert_eq(stream_write(cli, "STARTTLS\r\nRSET\r\n", 16), 0);
	cr_assert_eq(stream_flush(cli), 1);
	cr_assert_eq(stream_fill(srv), 16, "one packet");
	cr_assert_eq(stream_read_line(srv, 100, &line, &len, NULL), 1);
	cr_assert_str_eq(line, "STARTTLS");
	cr_assert_eq(stream_input_pending(srv), 6, "RSET is buffered");
	cr_assert_eq(stream_printf(srv, "220 2.0.0 Ready\r\n"), 0);
	cr_assert_eq(stream_flush(srv), 1);
	cr_assert_eq(stream_starttls(srv, sctx, true, NULL), 0);
	cr_assert_eq(stream_input_pending(srv), 0);

	cr_assert_eq(stream_fill(cli), 17);
	cr_assert_eq(stream_read_line(cli, 100, &line, &len, NULL), 1);
	cr_assert_str_eq(line, "220 2.0.0 Ready");
	cr_assert_eq(stream_starttls(cli, cctx, false, "mx.example"), 0);
	handshake_both(srv, cli, &ra, &rb);
	cr_assert_eq(ra, 1);
	cr_assert_eq(rb, 1);

	exchange(cli, srv, "EHLO again");
	cr_assert_eq(stream_read_line(srv, 100, &line, &len, NULL), 0);
	cr_assert_eq(stream_fill(srv), STREAM_AGAIN);
	cr_assert_eq(stream_input_pending(srv), 0, "RSET never came back");
	stream_free(&srv);
	stream_free(&cli);
}

/* Plaintext that arrives after the STARTTLS line was read is not buffered;
 * it reaches the TLS layer and fails the handshake instead. */
Test(stream_tls, plaintext_after_starttls_fails_handshake)
{
	struct stream	*srv;
	char		*line;
	size_t		 len;
	int		 i, rc = STREAM_AGAIN;

	srv = stream_new(fds[0], 256, 256);
	cr_assert_eq(write(fds[1], "STARTTLS\r\n", 10), 10);
	cr_assert_eq(stream_fill(srv), 10);
	cr_assert_eq(stream_read_line(srv, 100, &line, &len, NULL), 1);
	cr_assert_eq(stream_starttls(srv, sctx, true, NULL), 0);
	cr_assert_eq(write(fds[1], "RSET\r\nQUIT\r\n", 12), 12);
	for (i = 0; i < 10 && rc == STREAM_AGAIN; i++)
		rc = stream_handshake(srv);
	cr_assert_eq(rc, -1);
	stream_free(&srv);
}

Test(stream_tls, starttls_with_unflushed_output)
{
	struct stream	*srv = stream_new(fds[0], 256, 256);

	cr_assert_eq(stream_write(srv, "220 go\r\n", 8), 0);
	cr_assert_eq(stream_starttls(srv, sctx, true, NULL), -1);
	cr_assert(!stream_is_tls(srv));
	stream_free(&srv);
}

Test(stream_tls, sni_too_long)
{
	struct stream	*cli = stream_new(fds[1], 256, 256);
	char		 name[300];

	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	cr_assert_eq(stream_starttls(cli, cctx, false, name), -1);
	cr_assert(!stream_is_tls(cli));
	name[253] = '\0';
	cr_assert_eq(stream_starttls(cli, cctx, false, name), 0);
	stream_free(&cli);
}

Test(stream_tls, peer_close_is_eof)
{
	struct stream	*srv, *cli;
	ssize_t		 n;
	int		 i;

	tls_pair(&srv, &cli, 256);
	exchange(cli, srv, "QUIT");
	/* The client reads everything (session tickets too) before it
	 * closes; unread data would turn the close into a reset. */
	exchange(srv, cli, "221 bye");
	stream_free(&cli);
	(void)close(fds[1]);
	fds[1] = -1;
	for (i = 0, n = STREAM_AGAIN; i < 10 && n == STREAM_AGAIN; i++)
		n = stream_fill(srv);
	cr_assert_eq(n, 0, "fill %zd", n);
	stream_free(&srv);
}

Test(stream_tls, write_to_closed_peer)
{
	struct stream	*srv, *cli;
	char		 chunk[1000];
	int		 i, rc = 1;

	cr_assert_neq(signal(SIGPIPE, SIG_IGN), SIG_ERR);
	tls_pair(&srv, &cli, 4096);
	stream_free(&cli);
	(void)close(fds[1]);
	fds[1] = -1;
	memset(chunk, 'x', sizeof(chunk));
	for (i = 0; i < 100 && rc == 1; i++) {
		cr_assert_eq(stream_write(srv, chunk, sizeof(chunk)), 0);
		rc = stream_flush(srv);
	}
	cr_assert_eq(rc, -1);
	stream_free(&srv);
}

/* Blocking fds: every call simply waits.  The client runs in a child. */
Test(stream_tls, blocking_fds)
{
	struct stream	*srv;
	char		*line;
	size_t		 len;
	pid_t		 pid;
	int		 status, fl;

	fl = fcntl(fds[0], F_GETFL);
	cr_assert_neq(fcntl(fds[0], F_SETFL, fl & ~O_NONBLOCK), -1);
	fl = fcntl(fds[1], F_GETFL);
	cr_assert_neq(fcntl(fds[1], F_SETFL, fl & ~O_NONBLOCK), -1);

	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct stream	*cli = stream_new(fds[1], 256, 256);
		int		 ok;

		ok = stream_starttls(cli, cctx, false, "mx.example") == 0 &&
		    stream_handshake(cli) == 1 &&
		    stream_printf(cli, "EHLO child\r\n") == 0 &&
		    stream_flush(cli) == 1;
		while (ok && stream_read_line(cli, 100, &line, &len,
		    NULL) == 0)
			ok = stream_fill(cli) > 0;
		ok = ok && strcmp(line, "250 hello child") == 0;
		stream_free(&cli);
		_exit(ok ? 0 : 1);
	}
	srv = stream_new(fds[0], 256, 256);
	cr_assert_eq(stream_starttls(srv, sctx, true, NULL), 0);
	cr_assert_eq(stream_handshake(srv), 1);
	while (stream_read_line(srv, 100, &line, &len, NULL) == 0)
		cr_assert_gt(stream_fill(srv), 0);
	cr_assert_str_eq(line, "EHLO child");
	cr_assert_eq(stream_printf(srv, "250 hello child\r\n"), 0);
	cr_assert_eq(stream_flush(srv), 1);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "child failed: status %d", status);
	stream_free(&srv);
}

Test(stream, fill_drained_after_short_read)
{
	struct stream	*s = stream_new(fds[0], 16, 64);

	cr_assert_not(stream_fill_drained(s));
	puts_peer("0123456789");		/* 10 of 16 bytes of room */
	cr_assert_eq(stream_fill(s), 10);
	cr_assert(stream_fill_drained(s));
	cr_assert_eq(stream_fill(s), STREAM_AGAIN);
	cr_assert_not(stream_fill_drained(s));
	puts_peer("abcdef");			/* fills the buffer exactly */
	cr_assert_eq(stream_fill(s), 6);
	cr_assert_not(stream_fill_drained(s), "a full read may leave more");
	stream_free(&s);
}

/* The buffers start small and grow to their caps: a line of 60,000 bytes
 * arrives whole through a stream capped at 64 KiB, written in pieces of
 * every size; output grows likewise, and the caps still hold. */
Test(stream, buffers_grow_to_their_caps)
{
	static char	 big[70000];
	struct stream	*st = stream_new(fds[0], 65536, 65536);
	char		*line;
	size_t		 len, off, piece = 1;
	ssize_t		 n;

	memset(big, 'g', sizeof(big));
	big[60000] = '\n';
	for (off = 0; off < 60001; off += piece, piece = piece * 3 + 1) {
		if (piece > 60001 - off)
			piece = 60001 - off;
		put(big + off, piece);
		while ((n = stream_fill(st)) > 0)
			continue;
		cr_assert_eq(n, STREAM_AGAIN);
	}
	cr_assert_eq(stream_read_line(st, 65000, &line, &len, NULL), 1);
	cr_assert_eq(len, 60000);
	cr_assert_eq(line[59999], 'g');
	/* output: up to the cap, not one byte more */
	cr_assert_eq(stream_write(st, big, 65536), 0);
	cr_assert_eq(stream_output_pending(st), 65536);
	cr_assert_eq(stream_write(st, "x", 1), -1);
	stream_free(&st);

	/* input: a line past the cap is still refused */
	st = stream_new(fds[0], 4096 * 3, 64);
	put(big, 4096 * 3);
	while ((n = stream_fill(st)) > 0)
		continue;
	cr_assert_eq(stream_read_line(st, 4096 * 3, &line, &len, NULL), 0);
	cr_assert_eq(stream_input_pending(st), 4096 * 3);
	cr_assert_eq(stream_fill(st), -1);	/* full: no room at the cap */
	stream_free(&st);
}
