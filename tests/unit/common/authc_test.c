/* SPDX-License-Identifier: MIT */
/*
 * The auth client against a fake buzon-auth on a unix socket in the same
 * loop: answers out of order, timeouts, a server that goes away, one
 * that was never there, cancellation, fields out of bounds.
 */
#include "settings.h"

#include <criterion/criterion.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth_proto.h"
#include "authc.h"
#include "event.h"
#include "str.h"

enum fake_mode {
	FAKE_ANSWER,		/* answer each request when told */
	FAKE_SILENT,		/* never answer */
	FAKE_HANGUP,		/* close after the first request */
	FAKE_BAD_VERSION,
};

static struct {
	struct event_loop	*loop;
	char			 dir[64], path[128];
	int			 lfd, cfd;
	struct event_io		*lio, *cio;
	enum fake_mode		 mode;
	struct auth_proto_req	 reqs[8];
	size_t			 nreqs;
	char			 in[8192];
	size_t			 inlen;
	unsigned int		 accepts;
} F;

struct answer {
	int			 called;
	enum authc_result	 r;
	char			 account[300];
	int			 order;
};
static int	 answers;

static void
cb(enum authc_result r, const char *account, void *arg)
{
	struct answer	*a = arg;

	a->called++;
	a->r = r;
	a->order = ++answers;
	(void)str_copy(a->account, account, sizeof(a->account));
}

static void
fake_send(const char *s)
{
	cr_assert_eq(write(F.cfd, s, strlen(s)), (ssize_t)strlen(s));
}

static void
fake_close(void)
{
	event_io_del(&F.cio);
	if (F.cfd != -1)
		(void)close(F.cfd);
	F.cfd = -1;
}

static void
fake_read(int fd, unsigned int ev, void *arg)
{
	ssize_t	 n;
	char	*nl;

	(void)ev;
	(void)arg;
	n = read(fd, F.in + F.inlen, sizeof(F.in) - F.inlen - 1);
	if (n <= 0) {
		fake_close();
		return;
	}
	F.inlen += (size_t)n;
	while ((nl = memchr(F.in, '\n', F.inlen)) != NULL) {
		cr_assert_lt(F.nreqs, 8);
		cr_assert_eq(auth_proto_req_parse(F.in, (size_t)(nl - F.in),
		    &F.reqs[F.nreqs]), 0);
		F.nreqs++;
		F.inlen -= (size_t)(nl - F.in) + 1;
		memmove(F.in, nl + 1, F.inlen);
		if (F.mode == FAKE_HANGUP) {
			fake_close();
			return;
		}
	}
}

static void
fake_accept(int fd, unsigned int ev, void *arg)
{
	(void)ev;
	(void)arg;
	F.cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	cr_assert_neq(F.cfd, -1);
	F.accepts++;
	F.inlen = 0;
	fake_send(F.mode == FAKE_BAD_VERSION ? "VERSION\t2\n" :
	    "VERSION\t1\n");
	F.cio = event_io_add(F.loop, F.cfd, EVENT_READ, fake_read, NULL);
}

static void
fake_listen(void)
{
	struct sockaddr_un	 sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	(void)str_copy(sun.sun_path, F.path, sizeof(sun.sun_path));
	F.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	cr_assert_eq(bind(F.lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	cr_assert_eq(listen(F.lfd, 8), 0);
	F.lio = event_io_add(F.loop, F.lfd, EVENT_READ, fake_accept, NULL);
}

static void
fake_unlisten(void)
{
	event_io_del(&F.lio);
	(void)close(F.lfd);
	(void)unlink(F.path);
}

static void
setup(void)
{
	memset(&F, 0, sizeof(F));
	F.cfd = -1;
	answers = 0;
	F.loop = event_loop_new();
	(void)str_copy(F.dir, "/tmp/authc_test.XXXXXX", sizeof(F.dir));
	cr_assert_not_null(mkdtemp(F.dir));
	(void)str_printf(F.path, sizeof(F.path), "%s/auth.sock", F.dir);
}

static void
teardown(void)
{
	fake_close();
	if (F.lio != NULL)
		fake_unlisten();
	(void)rmdir(F.dir);
	event_loop_free(&F.loop);
}

static void
stop(void *arg)
{
	(void)arg;
	event_loop_break(F.loop);
}

/* Run the loop for ms. */
static void
run_for(uint64_t ms)
{
	struct event_timer	*t = event_timer_add(F.loop, ms, stop, NULL);

	(void)event_loop_run(F.loop);
	event_timer_del(&t);
}

TestSuite(authc, .init = setup, .fini = teardown);

Test(authc, socket_path)
{
	char	 p[64];

	cr_assert_eq(authc_socket_path("/var/lib/buzon", p, sizeof(p)), 0);
	cr_assert_str_eq(p, "/var/lib/buzon/run/auth.sock");
	cr_assert_eq(authc_socket_path("/var/lib/buzon", p, 10), -1);
	cr_assert_eq(authc_socket_path(
	    "/a/very/long/state/directory/that/does/not/fit/in/a/unix/socket/"
	    "address/at/all/no/matter/how/you/try", p, sizeof(p)), -1);
}

Test(authc, answers_out_of_order_by_id)
{
	struct authc	*c;
	struct answer	 a = { 0 }, b = { 0 };
	char		 buf[128];

	fake_listen();
	c = authc_new(F.loop, F.path, "pop3", 5000);
	(void)authc_pass(c, "192.0.2.1", "alice", "secret1", cb, &a);
	(void)authc_apop(c, "", "bob", "<1.2@h>",
	    "0123456789abcdef0123456789abcdef", cb, &b);
	cr_assert_eq(a.called + b.called, 0, "never from inside submit");
	run_for(100);
	cr_assert_eq(F.nreqs, 2);
	cr_assert_str_eq(F.reqs[0].service, "pop3");
	cr_assert_str_eq(F.reqs[0].password, "secret1");
	cr_assert_str_eq(F.reqs[0].ip, "192.0.2.1");
	cr_assert_eq(F.reqs[1].cmd, AUTH_PROTO_APOP);
	cr_assert_str_eq(F.reqs[1].timestamp, "<1.2@h>");
	cr_assert_eq(authc_pending(c), 2);
	(void)str_printf(buf, sizeof(buf), "FAIL\t%u\tauth\nOK\t%u\t"
	    "alice@example.org\n", F.reqs[1].id, F.reqs[0].id);
	fake_send(buf);
	run_for(100);
	cr_assert_eq(a.called, 1);
	cr_assert_eq(a.r, AUTHC_OK);
	cr_assert_str_eq(a.account, "alice@example.org");
	cr_assert_eq(b.called, 1);
	cr_assert_eq(b.r, AUTHC_FAIL);
	cr_assert_str_eq(b.account, "");
	cr_assert_eq(b.order, 1);
	cr_assert_eq(authc_pending(c), 0);
	/* an answer to no request (late, or unknown) is dropped */
	fake_send("OK\t999\tx@y\n");
	run_for(50);
	cr_assert_eq(a.called + b.called, 2);
	authc_free(&c);
	cr_assert_null(c);
}

Test(authc, throttled_and_temp_reasons)
{
	struct authc	*c;
	struct answer	 a = { 0 }, b = { 0 };
	char		 buf[128];

	fake_listen();
	c = authc_new(F.loop, F.path, "smtp", 5000);
	(void)authc_pass(c, "", "alice", "x", cb, &a);
	(void)authc_pass(c, "", "bob", "x", cb, &b);
	run_for(100);
	cr_assert_eq(F.nreqs, 2);
	(void)str_printf(buf, sizeof(buf), "TEMP\t%u\tthrottled\nTEMP\t%u\t"
	    "lookup\n", F.reqs[0].id, F.reqs[1].id);
	fake_send(buf);
	run_for(100);
	cr_assert_eq(a.r, AUTHC_THROTTLED);
	cr_assert_eq(b.r, AUTHC_TEMP);
	authc_free(&c);
}

Test(authc, no_server_is_temp_at_once_then_backoff)
{
	struct authc	*c;
	struct answer	 a = { 0 }, b = { 0 }, d = { 0 };

	c = authc_new(F.loop, F.path, "smtp", 5000);
	(void)authc_pass(c, "", "alice", "x", cb, &a);
	cr_assert_eq(a.called, 0);
	run_for(20);
	cr_assert_eq(a.called, 1);
	cr_assert_eq(a.r, AUTHC_TEMP);
	/* the server comes up: within the backoff the answer is still TEMP
	 * without trying, after it the check goes through */
	fake_listen();
	(void)authc_pass(c, "", "alice", "x", cb, &b);
	run_for(20);
	cr_assert_eq(b.r, AUTHC_TEMP);
	cr_assert_eq(F.accepts, 0);
	run_for(150);
	(void)authc_pass(c, "", "alice", "x", cb, &d);
	run_for(50);
	cr_assert_eq(F.accepts, 1);
	cr_assert_eq(F.nreqs, 1);
	cr_assert_eq(d.called, 0);
	authc_free(&c);
	cr_assert_eq(d.called, 0, "freed: no callback");
}

Test(authc, timeout_is_temp_and_late_answer_dropped)
{
	struct authc	*c;
	struct answer	 a = { 0 };
	char		 buf[64];

	fake_listen();
	F.mode = FAKE_SILENT;
	c = authc_new(F.loop, F.path, "smtp", 200);
	(void)authc_pass(c, "", "alice", "x", cb, &a);
	run_for(100);
	cr_assert_eq(a.called, 0);
	run_for(200);
	cr_assert_eq(a.called, 1);
	cr_assert_eq(a.r, AUTHC_TEMP);
	(void)str_printf(buf, sizeof(buf), "OK\t%u\talice@x\n", F.reqs[0].id);
	fake_send(buf);
	run_for(50);
	cr_assert_eq(a.called, 1);
	authc_free(&c);
}

Test(authc, server_gone_then_back)
{
	struct authc	*c;
	struct answer	 a = { 0 }, b = { 0 };
	char		 buf[64];

	fake_listen();
	F.mode = FAKE_HANGUP;
	c = authc_new(F.loop, F.path, "smtp", 5000);
	(void)authc_pass(c, "", "alice", "x", cb, &a);
	run_for(100);
	cr_assert_eq(a.called, 1);
	cr_assert_eq(a.r, AUTHC_TEMP);
	/* reconnects on the next check (a broken link retries at once) */
	F.mode = FAKE_ANSWER;
	(void)authc_pass(c, "", "bob", "y", cb, &b);
	run_for(100);
	cr_assert_eq(F.accepts, 2);
	(void)str_printf(buf, sizeof(buf), "OK\t%u\tbob@x\n", F.reqs[1].id);
	fake_send(buf);
	run_for(50);
	cr_assert_eq(b.r, AUTHC_OK);
	authc_free(&c);
}

Test(authc, bad_version_hangs_up)
{
	struct authc	*c;
	struct answer	 a = { 0 };

	fake_listen();
	F.mode = FAKE_BAD_VERSION;
	c = authc_new(F.loop, F.path, "smtp", 5000);
	(void)authc_pass(c, "", "alice", "x", cb, &a);
	run_for(100);
	cr_assert_eq(a.called, 1);
	cr_assert_eq(a.r, AUTHC_TEMP);
	authc_free(&c);
}

Test(authc, bad_reply_hangs_up)
{
	struct authc	*c;
	struct answer	 a = { 0 };

	fake_listen();
	c = authc_new(F.loop, F.path, "smtp", 5000);
	(void)authc_pass(c, "", "alice", "x", cb, &a);
	run_for(100);
	fake_send("OK\tnot-an-id\tx\n");
	run_for(100);
	cr_assert_eq(a.r, AUTHC_TEMP);
	authc_free(&c);
}

Test(authc, cancel_means_no_callback)
{
	struct authc		*c;
	struct authc_req	*r;
	struct answer		 a = { 0 };
	char			 buf[64];

	fake_listen();
	c = authc_new(F.loop, F.path, "smtp", 5000);
	r = authc_pass(c, "", "alice", "x", cb, &a);
	run_for(100);
	authc_cancel(&r);
	cr_assert_null(r);
	authc_cancel(&r);
	(void)str_printf(buf, sizeof(buf), "OK\t%u\talice@x\n", F.reqs[0].id);
	fake_send(buf);
	run_for(50);
	cr_assert_eq(a.called, 0);
	cr_assert_eq(authc_pending(c), 0);
	authc_free(&c);
}

Test(authc, out_of_bounds_fields_fail_unsent)
{
	struct authc	*c;
	struct answer	 a = { 0 }, b = { 0 }, d = { 0 };
	char		 big[2000];

	fake_listen();
	c = authc_new(F.loop, F.path, "smtp", 5000);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	(void)authc_pass(c, "", big, "x", cb, &a);
	(void)authc_pass(c, "", "alice", big, cb, &b);
	(void)authc_pass(c, "", "al\tice", "x", cb, &d);
	run_for(100);
	cr_assert_eq(a.r, AUTHC_FAIL);
	cr_assert_eq(b.r, AUTHC_FAIL);
	cr_assert_eq(d.r, AUTHC_FAIL);
	cr_assert_eq(a.called + b.called + d.called, 3);
	cr_assert_eq(F.nreqs, 0);
	authc_free(&c);
}
