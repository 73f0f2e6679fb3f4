/* SPDX-License-Identifier: MIT */
/*
 * session.c - pop3d on common/session: the hooks of one POP3 connection
 * (the layer owns the socket, session.h)
 *
 * Input: every complete line buffered is handled in turn (RFC 2449
 * PIPELINING), replies collect in s->out and go to the stream whenever
 * the input runs dry.  A RETR or TOP starts a transfer (s->xfer): input
 * waits while the message goes out in 64 KiB pieces, each produced only
 * when the stream has drained below POP3_OUT_HIGH, so a big message or a
 * slow client costs a bounded amount of memory.  STLS flushes its +OK,
 * then stream_starttls() drops whatever the client pipelined (RFC 2595
 * section 4, like RFC 3207 4.2) and the handshake runs without blocking.
 *
 * Over-long lines are skipped to their end and answered "-ERR Line too
 * long." (a bad command), so the session stays in step.
 *
 * Timers.  s->timer is the autologout timer (pop3_timeout, RFC 1939 3),
 * restarted by input; while output is stuck (a transfer, or replies the
 * client does not read) it is pop3_send_timeout instead, restarted only by
 * output progress.  s->cmd_timer is the deadline of one command line:
 * armed when a line is begun, pop3_command_timeout from then, gone when
 * the line is complete, so a client trickling a byte at a time cannot
 * stretch a line (or an over-long one being skipped) past it, whatever
 * pop3_timeout is.  A TLS handshake has pop3_command_timeout too.
 */
#include <sys/sendfile.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "log.h"
#include "mailbox.h"
#include "mem.h"
#include "net.h"
#include "pop3d.h"
#include "session.h"
#include "stream.h"
#include "str.h"

#define SESSION_IN_SLACK	4096	/* input past the longest line */
#define SESSION_OUT_MAX		(POP3_OUT_HIGH + POP3_XFER_BUF + 64 * 1024)
#define SESSION_REPLY_CHUNK	(16u * 1024)

#define P(b)	SESS_OF(struct session, (b))
#define CP(b)	SESS_OF_CONST(struct session, (b))

/* Restart the session timer: the send timeout while output is stuck,
 * else the idle timeout. */
static void
session_touch(struct session *s)
{
	const struct pop3_conf	*c = &s->srv->conf;

	if (s->base.st == NULL)	/* a session off the layer (unit tests) */
		return;
	sess_timer_reset(&s->base, s->base.producing ||
	    stream_output_pending(s->base.st) > 0 ? c->send_timeout :
	    c->timeout);
}

void
pop3_set_state(struct session *s, enum pop3_state st)
{
	if (s->state == st)
		return;
	log_debug(s->id, "state %s -> %s", pop3_state_name(s->state),
	    pop3_state_name(st));
	s->state = st;
	if (st == POP3_CLOSING)
		s->base.closing = true;
}

static void
xfer_end(struct session *s)
{
	s->base.producing = false;
	s->zc = false;
	pop3_xfer_release(&s->xfer);
	mailbox_stream_close(&s->mstream);
}

void
pop3_start_xfer(struct session *s)
{
	sess_produce(&s->base);
	session_touch(s);
}

void
pop3_start_sendfile(struct session *s, int fd, off_t off, uint64_t len)
{
	memset(&s->xfer, 0, sizeof(s->xfer));
	s->zc = true;
	s->zc_fd = fd;
	s->zc_off = off;
	s->zc_left = len;
	sess_produce(&s->base);
	session_touch(s);
}

static void
cork(int fd, int on)
{
	if (setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on)) == -1)
		log_debug("-", "TCP_CORK: %s", strerror(errno));
}

/* The zero-copy transfer: queued replies first, then sendfile() (Linux)
 * as the socket drains, then the terminator.  1 done, 0 waiting for the
 * socket, -1 failed. */
static int
session_pump_raw(struct session *s)
{
	struct stream	*st = s->base.st;
	ssize_t		 n;
	size_t		 chunk;

	if (!s->zc_corked) {
		/* One response (the +OK line too) in as few packets as it
		 * takes; undone after the terminator. */
		cork(s->base.fd, 1);
		s->zc_corked = true;
	}
	if (s->out.len > 0 || stream_output_pending(st) > 0) {
		if (sess_flush(&s->base) == -1)
			return -1;
		if (s->out.len > 0 || stream_output_pending(st) > 0)
			return 0;
	}
	while (s->zc_left > 0) {
		chunk = s->zc_left > POP3_OUT_HIGH * 8 ? POP3_OUT_HIGH * 8 :
		    (size_t)s->zc_left;
		n = sendfile(s->base.fd, s->zc_fd, &s->zc_off, chunk);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n <= 0) {
			log_error(s->id, "sendfile failed: %s", n == 0 ?
			    "message shorter than its index entry" :
			    strerror(errno));
			return -1;
		}
		s->zc_left -= (uint64_t)n;
		s->bytes_out += (uint64_t)n;
		session_touch(s);
	}
	if (stream_write(st, ".\r\n", 3) == -1 || stream_flush(st) == -1)
		return -1;
	cork(s->base.fd, 0);
	s->zc_corked = false;
	s->nsendfile++;
	xfer_end(s);
	return 1;
}

/* ops->produce: message bytes while the stream has room: 1 done, 0
 * waiting for the socket, -1 failed (the response cannot be finished). */
static int
pop3_produce(struct sess *b)
{
	struct session	*s = P(b);
	struct stream	*st = b->st;
	char		 buf[POP3_XFER_BUF];
	size_t		 len;
	int		 r;

	if (s->zc)
		return session_pump_raw(s);
	/* The +OK line goes out with the first piece of the message. */
	if (s->out.len > 0) {
		if (stream_output_pending(st) + s->out.len > SESSION_OUT_MAX
		    - POP3_XFER_BUF) {
			if (sess_flush(b) == -1)
				return -1;
			return 0;
		}
		if (stream_write(st, s->out.data, s->out.len) == -1)
			return -1;
		str_clear(&s->out);
	}
	while (stream_output_pending(st) < POP3_OUT_HIGH) {
		r = pop3_xfer_produce(&s->xfer, buf, sizeof(buf), &len);
		if (len > 0 && stream_write(st, buf, len) == -1) {
			log_warn(s->id, "output buffer full");
			return -1;
		}
		s->bytes_out += len;
		if (r == -1) {
			log_error(s->id, "message read failed");
			return -1;
		}
		if (stream_flush(st) == -1)
			return -1;
		if (r == 1) {
			xfer_end(s);
			return 1;
		}
	}
	return 0;
}

static void
pop3_tls_done(struct sess *b)
{
	struct session	*s = P(b);

	s->is_tls = true;
	session_touch(s);
	if (s->is_pop3s)
		pop3_greet(s);
	/* After STLS: nothing learnt before TLS counts (RFC 2595 4). */
	s->user[0] = '\0';
}

static void
pop3_greet_hook(struct sess *b)
{
	pop3_greet(P(b));
}

static size_t
pop3_line_max(const struct sess *b)
{
	const struct session	*s = CP(b);
	size_t			 max = s->max_line;

	if (max < POP3_AUTH_LINE_MAX && s->state == POP3_AUTHORIZATION)
		max = POP3_AUTH_LINE_MAX;	/* AUTH; others checked later */
	return max;
}

static void
pop3_line(struct sess *b, char *line, size_t len, bool bare_lf)
{
	struct session	*s = P(b);

	(void)bare_lf;
	pop3_dispatch(s, line, len);
}

static void
pop3_long_line(struct sess *b, bool bare_lf)
{
	struct session	*s = P(b);

	(void)bare_lf;
	pop3_auth_release(s);
	pop3_error(s, "-ERR Line too long.");
}

/* STLS answered in the line just handled: the layer switches once the
 * +OK is out. */
static void
pop3_on_input(struct sess *b, bool was_raw)
{
	struct session	*s = P(b);

	(void)was_raw;
	if (s->want_starttls) {
		s->want_starttls = false;
		b->want_starttls = true;
	}
}

static void
pop3_on_read(struct sess *b, size_t n)
{
	(void)n;
	session_touch(P(b));
}

static void
pop3_on_output(struct sess *b)
{
	session_touch(P(b));
}

static const char *
pop3_timeout(struct sess *b, bool cmd)
{
	struct session	*s = P(b);

	if (cmd) {
		pop3_reply(s, "-ERR Command not completed in time.");
		return "command timeout";
	}
	/* Nothing can be said mid-handshake or mid-message. */
	if (b->handshaking)
		return "tls handshake timeout";
	if (b->producing)
		return "send timeout";
	pop3_reply(s, "-ERR Disconnected for inactivity.");
	return "timeout";
}

static void
pop3_resumed(struct sess *b)
{
	/* The login's safety-net delay ran out while its maildrop is still
	 * being opened: keep waiting for that (mbwork.c resumes). */
	if (P(b)->mbjob != NULL) {
		sess_resume_after(b, P(b)->srv->conf.timeout);
		return;
	}
	pop3_login_resume(P(b));
}

void
pop3_resume_after(struct session *s, uint64_t ms)
{
	/* The idle timer counts from the answer, not from the question. */
	sess_timer_reset(&s->base, ms + s->srv->conf.timeout);
	sess_resume_after(&s->base, ms);
}

/* Stop: every session is told and closed at once.  Nothing is lost: a
 * session cut before QUIT deletes nothing. */
static enum sess_shut
pop3_shutdown(struct sess *b)
{
	/* A login or a QUIT at work on the maildrop: let it answer. */
	if (P(b)->mbjob != NULL)
		return SESS_SHUT_KEEP;
	if (!b->handshaking && !b->producing)
		pop3_reply(P(b), "-ERR [SYS/TEMP] Server shutting down.");
	return SESS_SHUT_FREE;
}

/* The caps' refusal: RFC 2449's [SYS/TEMP]; none while stopping. */
static bool
pop3_refusal(const struct sess_server *sv, enum sess_refuse why,
    const char *ip, char *buf, size_t size)
{
	(void)sv;
	switch (why) {
	case SESS_REFUSE_STOPPING:
		return false;
	case SESS_REFUSE_TOTAL:
		return str_printf(buf, size, "-ERR [SYS/TEMP] Too many "
		    "connections.");
	case SESS_REFUSE_PER_IP:
		return str_printf(buf, size, "-ERR [SYS/TEMP] Too many "
		    "connections from %s.", ip);
	}
	return false;
}

static void
pop3_release(struct sess *b, const char *reason)
{
	struct session	*s = P(b);

	log_info(s->id, "disconnect address=%s reason=%s user=%s retr=%u "
	    "sendfile=%u bytes=%llu errors=%u", s->ip, reason,
	    s->login[0] != '\0' ? s->login : "-", s->nretr, s->nsendfile,
	    (unsigned long long)s->bytes_out, s->errors);
	s->state = POP3_CLOSING;
	if (b->producing || s->zc || s->mstream != NULL)
		xfer_end(s);
	/* A session that did not QUIT changes nothing (RFC 1939 6). */
	maildrop_close(&s->drop);
	pop3_auth_release(s);
	pop3_login_forget(s);
	pop3_mbwork_forget(s);
	explicit_bzero(s->user, sizeof(s->user));
}

const struct sess_ops pop3_sess_ops = {
	.greet = pop3_greet_hook,
	.line = pop3_line,
	.long_line = pop3_long_line,
	.line_max = pop3_line_max,
	.produce = pop3_produce,
	.on_read = pop3_on_read,
	.on_output = pop3_on_output,
	.on_input = pop3_on_input,
	.tls_done = pop3_tls_done,
	.resumed = pop3_resumed,
	.timeout = pop3_timeout,
	.shutdown = pop3_shutdown,
	.refusal = pop3_refusal,
	.release = pop3_release,
};

static void
params(const struct pop3d *srv, struct sess_params *p)
{
	unsigned int	 max_line = srv->conf.max_line;

	memset(p, 0, sizeof(*p));
	/* The input buffer must hold the longest line we take, and more, or
	 * a long line could neither complete nor be refused. */
	p->in_max = (max_line > POP3_AUTH_LINE_MAX ? max_line :
	    POP3_AUTH_LINE_MAX) + SESSION_IN_SLACK;
	p->out_max = SESSION_OUT_MAX;
	p->out_high = POP3_OUT_HIGH;
	p->out_chunk = SESSION_REPLY_CHUNK;
	p->timeout = srv->conf.timeout;
	p->cmd_timeout = srv->conf.command_timeout;
	p->handshake_timeout = srv->conf.command_timeout;
	p->max_total = srv->conf.max_connections;
	p->max_per_ip = srv->conf.max_connections_per_ip;
}

/* The layer's view, and ours, of a new session. */
static void
setup(struct pop3d *srv, struct session *s)
{
	s->srv = srv;
	s->peer = s->base.peer;
	(void)str_copy(s->ip, s->base.ip, sizeof(s->ip));
	(void)str_copy(s->id, s->base.id, sizeof(s->id));
	s->state = POP3_AUTHORIZATION;
	s->is_loopback = net_addr_is_loopback(&s->peer);
	s->max_line = srv->conf.max_line;
}

static void
server_ready(struct pop3d *srv)
{
	if (srv->sv.ops == NULL)
		sess_server_init(&srv->sv, srv->loop, &pop3_sess_ops,
		    &srv->tls_ctx);
}

void
pop3_accept(int fd, const struct net_addr *peer, const char *listener,
    void *data)
{
	struct pop3d		*srv = data;
	struct sess_params	 p;
	struct sess		*b;
	struct session		*s;
	bool			 pop3s = strcmp(listener, "pop3s") == 0;

	server_ready(srv);
	params(srv, &p);
	b = sess_accept(&srv->sv, sizeof(*s), fd, peer, listener, pop3s, &p,
	    offsetof(struct session, out));
	if (b == NULL)
		return;
	s = P(b);
	setup(srv, s);
	s->is_pop3s = pop3s;
	sess_start(b);
}

struct session *
pop3_session_mem(struct pop3d *srv)
{
	struct sess_params	 p;
	struct session		*s;

	server_ready(srv);
	params(srv, &p);
	s = P(sess_mem_new(&srv->sv, sizeof(*s), &p,
	    offsetof(struct session, out)));
	setup(srv, s);
	return s;
}

void
pop3_session_start(struct session *s)
{
	sess_start(&s->base);
}
