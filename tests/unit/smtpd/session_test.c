/* SPDX-License-Identifier: MIT */
/*
 * session_test.c - session.c on a real event loop over a socketpair:
 * greeting, pipelining, over-long lines, timeouts, limits, a whole
 * transaction into a spool in a temp dir
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "enqueue.h"
#include "event.h"
#include "net.h"
#include "smtpd.h"
#include "str.h"

static struct smtpd	 srv;
static char		 tmpdir[64];
static char		 net[] = "127.0.0.0/8";
static char		*nets[] = { net };

static void
setup(void)
{
	struct fail	 f;

	memset(&srv, 0, sizeof(srv));
	srv.loop = event_loop_new();
	srv.conf.hostname = "mx.example.test";
	srv.conf.max_message = 10240;
	srv.conf.max_recipients = 5;
	srv.conf.max_errors = 10;
	srv.conf.max_commands_preauth = 20;
	srv.conf.timeout = 5000;
	srv.conf.data_timeout = 5000;
	srv.conf.min_data_rate = 500;
	srv.conf.max_connections = 10;
	srv.conf.max_connections_per_ip = 10;
	srv.conf.mynetworks = nets;
	srv.conf.nmynetworks = 1;
	srv.conf.data.max_size = 10240;
	srv.conf.max_line = 2048;
	srv.conf.data.max_headers = 100;
	srv.conf.data.max_header_size = 10240;
	srv.conf.data.max_received = 5;
	(void)str_copy(tmpdir, "/tmp/session-test-XXXXXX", sizeof(tmpdir));
	cr_assert_not_null(mkdtemp(tmpdir));
	cr_assert_eq(enqueue_open(tmpdir, &srv.spool, &f), 0, "%s", f.text);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	(void)remove(path);
	return 0;
}

static void
teardown(void)
{
	while (srv.sv.head != NULL) {
		struct sess *s = srv.sv.head;

		sess_free(&s, "test over");
	}
	event_timer_del(&srv.batch_timer);
	enqueue_close(&srv.spool);
	event_loop_free(&srv.loop);
	free(srv.batch);
	(void)nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(session, .init = setup, .fini = teardown);

static void
stop_cb(void *arg)
{
	event_loop_break(arg);
}

/* Run the loop for about ms. */
static void
run_for(uint64_t ms)
{
	struct event_timer	*t;

	t = event_timer_add(srv.loop, ms, stop_cb, srv.loop);
	(void)event_loop_run(srv.loop);
	event_timer_del(&t);
}

/* A new session on one end of a socketpair; returns the client end. */
static int
connect_client(void)
{
	struct net_addr	 peer;
	int		 sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	cr_assert_eq(net_set_nonblock(sv[0], true), 0);
	cr_assert_eq(net_set_nonblock(sv[1], true), 0);
	cr_assert_eq(net_addr_parse("127.0.0.1", &peer), 0);
	smtp_accept(sv[0], &peer, "smtp", &srv);
	return sv[1];
}

/* Everything the server has sent so far ("" if nothing); sets *eof_r. */
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
put(int fd, const char *s)
{
	cr_assert_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

Test(session, greeting_then_pipelined_replies_in_order)
{
	int	 c = connect_client();
	bool	 eof;

	run_for(20);
	cr_assert_str_eq(drain(c, &eof), "220 mx.example.test ESMTP buzon\r\n");
	put(c, "HELO a\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n"
	    "RCPT TO:<c@example.net>\r\nRSET\r\nNOOP\n");
	run_for(20);
	cr_assert_str_eq(drain(c, &eof), "250 mx.example.test\r\n"
	    "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
	    "250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n");
	cr_assert_not(eof);
	cr_assert_eq(srv.sv.count, 1);
	put(c, "QUIT\r\nNOOP\r\n");
	run_for(20);
	cr_assert_str_eq(drain(c, &eof), "221 2.0.0 Bye\r\n");
	cr_assert(eof);
	cr_assert_eq(srv.sv.count, 0);
	close(c);
}

Test(session, over_long_line_is_skipped)
{
	char	 line[20000];
	int	 c = connect_client();
	bool	 eof;

	run_for(20);
	(void)drain(c, &eof);
	memset(line, 'x', sizeof(line));
	cr_assert_eq(write(c, line, sizeof(line)), (ssize_t)sizeof(line));
	put(c, "\r\nNOOP\r\n");
	run_for(50);
	cr_assert_str_eq(drain(c, &eof), "500 5.5.0 Error: line too long\r\n"
	    "250 2.0.0 Ok\r\n");
	close(c);
}

Test(session, idle_client_times_out)
{
	int	 c;
	bool	 eof;

	srv.conf.timeout = 30;
	c = connect_client();
	run_for(100);
	cr_assert_str_eq(drain(c, &eof), "220 mx.example.test ESMTP buzon\r\n"
	    "421 4.4.2 mx.example.test Error: timeout exceeded\r\n");
	cr_assert(eof);
	cr_assert_eq(srv.sv.count, 0);
	close(c);
}

Test(session, connections_per_address_are_limited)
{
	int	 a, b;
	bool	 eof;

	srv.conf.max_connections_per_ip = 1;
	a = connect_client();
	b = connect_client();
	run_for(20);
	cr_assert_str_eq(drain(b, &eof), "421 4.7.0 mx.example.test Error: "
	    "too many connections from 127.0.0.1\r\n");
	cr_assert(eof);
	cr_assert_eq(srv.sv.count, 1);
	close(a);
	close(b);
}

Test(session, total_connections_are_limited)
{
	int	 a, b;
	bool	 eof;

	srv.conf.max_connections = 1;
	a = connect_client();
	b = connect_client();
	run_for(20);
	cr_assert_str_eq(drain(b, &eof), "421 4.7.0 mx.example.test Error: "
	    "too many connections\r\n");
	close(a);
	close(b);
}

static unsigned int
queued_files(void)
{
	char		 path[128];
	struct dirent	*de;
	DIR		*d;
	unsigned int	 n = 0;

	(void)snprintf(path, sizeof(path), "%s/spool/queue", tmpdir);
	cr_assert_not_null(d = opendir(path));
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

Test(session, data_and_bdat_reach_the_spool)
{
	const char	*r;
	int		 c = connect_client();
	bool		 eof;

	run_for(20);
	(void)drain(c, &eof);
	put(c, "EHLO a\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n"
	    "DATA\r\n");
	run_for(20);
	r = drain(c, &eof);
	cr_assert(strstr(r, "354 End data") != NULL, "%s", r);
	/* the smuggling attempt stays content */
	put(c, "Subject: x\r\n\r\nbody\n.\nMAIL FROM:<e@x.example>\r\n.\r\n");
	run_for(50);
	r = drain(c, &eof);
	cr_assert(strncmp(r, "250 2.0.0 Ok: queued as ", 24) == 0, "%s", r);
	cr_assert_eq(queued_files(), 1);

	put(c, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n"
	    "BDAT 8\r\nline\none");
	run_for(20);
	cr_assert_str_eq(drain(c, &eof), "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
	    "250 2.0.0 Ok: 8 bytes\r\n");
	put(c, "BDAT 0 LAST\r\n");
	run_for(50);
	r = drain(c, &eof);
	cr_assert(strncmp(r, "250 2.0.0 Ok: queued as ", 24) == 0, "%s", r);
	cr_assert_eq(queued_files(), 2);
	close(c);
}

Test(session, message_over_the_limit_is_read_then_refused)
{
	char	 line[1002];
	int	 c = connect_client(), i;
	bool	 eof;

	run_for(20);
	(void)drain(c, &eof);
	put(c, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n");
	run_for(20);
	(void)drain(c, &eof);
	memset(line, 'y', sizeof(line) - 2);
	memcpy(line + sizeof(line) - 2, "\r\n", 2);
	for (i = 0; i < 12; i++) {
		/* 998 octets + CRLF each: 12 of them pass 10240 */
		cr_assert_eq(write(c, line + 2, sizeof(line) - 2),
		    (ssize_t)sizeof(line) - 2);
		run_for(5);
	}
	put(c, ".\r\nNOOP\r\n");
	run_for(20);
	cr_assert_str_eq(drain(c, &eof), "552 5.3.4 Message size exceeds fixed "
	    "limit\r\n250 2.0.0 Ok\r\n");
	cr_assert_eq(queued_files(), 0);
	close(c);
}
