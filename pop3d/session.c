/* SPDX-License-Identifier: MIT */
/*
 * session.c - one POP3 connection on the event loop: the only file that
 * touches the socket
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "event.h"
#include "log.h"
#include "mailbox.h"
#include "mem.h"
#include "net.h"
#include "pop3d.h"
#include "session_id.h"
#include "stream.h"
#include "str.h"
#include "tls.h"

#define SESSION_IN_SLACK	4096	/* input past the longest line */
#define SESSION_OUT_MAX		(POP3_OUT_HIGH + POP3_XFER_BUF + 64 * 1024)
#define SESSION_REPLY_MAX	(256u * 1024)	/* queued replies */
#define SESSION_REPLY_CHUNK	(16u * 1024)

static void	session_io(int, unsigned int, void *);
static void	session_run(struct session *);
static void	session_handshake(struct session *);

/* Restart s->timer: the send timeout while output is stuck, else the idle
 * timeout. */
static void
session_touch(struct session *s)
{
	const struct pop3_conf	*c = &s->srv->conf;

	if (s->timer == NULL)	/* a session off the loop (unit, fuzz) */
		return;
	event_timer_reset(s->timer, s->xfer_active ||
	    stream_output_pending(s->st) > 0 ? c->send_timeout : c->timeout);
}

void
session_set_state(struct session *s, enum pop3_state st)
{
	if (s->state == st)
		return;
	log_debug(s->id, "state %s -> %s", pop3_state_name(s->state),
	    pop3_state_name(st));
	s->state = st;
}

static bool
wants_input(const struct session *s)
{
	return s->state != POP3_CLOSING && !s->suspended &&
	    !s->want_starttls && !s->handshaking && !s->xfer_active &&
	    stream_output_pending(s->st) < POP3_OUT_HIGH;
}

/* Move queued replies to the stream and send what the socket takes. */
static int
session_flush(struct session *s)
{
	size_t	 n;

	while (s->out.len > 0) {
		n = s->out.len;
		if (n > SESSION_OUT_MAX - stream_output_pending(s->st))
			n = SESSION_OUT_MAX - stream_output_pending(s->st);
		if (n == 0)
			break;	/* the rest waits for the socket */
		if (stream_write(s->st, s->out.data, n) == -1) {
			log_warn(s->id, "output buffer full");
			return -1;
		}
		str_consume(&s->out, n);
		if (stream_flush(s->st) == -1)
			return -1;
	}
	return stream_flush(s->st) == -1 ? -1 : 0;
}

static void
xfer_end(struct session *s)
{
	s->xfer_active = false;
	s->zc = false;
	pop3_xfer_release(&s->xfer);
	mailbox_stream_close(&s->mstream);
}

void
session_start_xfer(struct session *s)
{
	s->xfer_active = true;
	session_touch(s);
}

void
session_start_sendfile(struct session *s, int fd, off_t off, uint64_t len)
{
	memset(&s->xfer, 0, sizeof(s->xfer));
	s->zc = true;
	s->zc_fd = fd;
	s->zc_off = off;
	s->zc_left = len;
	s->xfer_active = true;
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
	ssize_t	 n;
	size_t	 chunk;

	if (!s->zc_corked) {
		/* One response (the +OK line too) in as few packets as it
		 * takes; undone after the terminator. */
		cork(s->fd, 1);
		s->zc_corked = true;
	}
	if (s->out.len > 0 || stream_output_pending(s->st) > 0) {
		if (session_flush(s) == -1)
			return -1;
		if (s->out.len > 0 || stream_output_pending(s->st) > 0)
			return 0;
	}
	while (s->zc_left > 0) {
		chunk = s->zc_left > POP3_OUT_HIGH * 8 ? POP3_OUT_HIGH * 8 :
		    (size_t)s->zc_left;
		n = sendfile(s->fd, s->zc_fd, &s->zc_off, chunk);
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
	if (stream_write(s->st, ".\r\n", 3) == -1 ||
	    stream_flush(s->st) == -1)
		return -1;
	cork(s->fd, 0);
	s->zc_corked = false;
	s->nsendfile++;
	xfer_end(s);
	return 1;
}

/* Produce message bytes while the stream has room: 1 done, 0 waiting
 * for the socket, -1 failed (the response cannot be finished). */
static int
session_pump(struct session *s)
{
	char	 buf[POP3_XFER_BUF];
	size_t	 len;
	int	 r;

	if (s->zc)
		return session_pump_raw(s);
	/* The +OK line goes out with the first piece of the message. */
	if (s->out.len > 0) {
		if (stream_output_pending(s->st) + s->out.len > SESSION_OUT_MAX
		    - POP3_XFER_BUF) {
			if (session_flush(s) == -1)
				return -1;
			return 0;
		}
		if (stream_write(s->st, s->out.data, s->out.len) == -1)
			return -1;
		str_clear(&s->out);
	}
	while (stream_output_pending(s->st) < POP3_OUT_HIGH) {
		r = pop3_xfer_produce(&s->xfer, buf, sizeof(buf), &len);
		if (len > 0 && stream_write(s->st, buf, len) == -1) {
			log_warn(s->id, "output buffer full");
			return -1;
		}
		s->bytes_out += len;
		if (r == -1) {
			log_error(s->id, "message read failed");
			return -1;
		}
		if (stream_flush(s->st) == -1)
			return -1;
		if (r == 1) {
			xfer_end(s);
			return 1;
		}
	}
	return 0;
}

/* STLS or pop3s: start TLS and run the handshake, which has
 * pop3_command_timeout to finish and runs the session on (s may be gone
 * on return). */
static void
session_tls_begin(struct session *s)
{
	if (stream_starttls(s->st, s->srv->tls_ctx, true, NULL) == -1) {
		session_free(&s, "starttls failed");
		return;
	}
	s->handshaking = true;
	event_timer_reset(s->timer, s->srv->conf.command_timeout);
	session_handshake(s);
}

static void
session_handshake(struct session *s)
{
	char	 desc[160];
	int	 r;

	r = stream_handshake(s->st);
	if (r == STREAM_AGAIN) {
		if (event_io_set(s->io, stream_events(s->st)) == -1)
			session_free(&s, "event error");
		return;
	}
	if (r == -1) {
		session_free(&s, "tls handshake failed");
		return;
	}
	s->handshaking = false;
	s->is_tls = true;
	tls_describe(stream_ssl(s->st), desc, sizeof(desc));
	log_info(s->id, "tls established %s", desc);
	session_touch(s);
	if (s->is_pop3s)
		pop3_greet(s);
	/* After STLS: nothing learnt before TLS counts (RFC 2595 4). */
	s->user[0] = '\0';
	session_run(s);
}

/* After handling input: write, close, start TLS, choose events.  -1 when
 * the session is gone. */
static int
session_update(struct session *s)
{
	unsigned int	 ev;

	if (!s->suspended && !s->xfer_active && session_flush(s) == -1) {
		session_free(&s, "write error");
		return -1;
	}
	if (s->state == POP3_CLOSING && s->out.len == 0 &&
	    stream_output_pending(s->st) == 0) {
		session_free(&s, "quit");
		return -1;
	}
	if (s->want_starttls && s->out.len == 0 &&
	    stream_output_pending(s->st) == 0) {
		s->want_starttls = false;
		session_tls_begin(s);
		return -1;	/* the handshake runs the session on */
	}
	if (s->peer_eof && wants_input(s)) {
		/* Every complete line is answered; nothing more will come. */
		session_free(&s, "disconnect");
		return -1;
	}
	if (wants_input(s))
		ev = stream_events(s->st);
	else
		ev = stream_output_pending(s->st) > 0 ||
		    (s->xfer_active && s->zc) ? EVENT_WRITE : 0;
	if (event_io_set(s->io, ev) == -1) {
		session_free(&s, "event error");
		return -1;
	}
	return 0;
}

/* Handle one line of buffered input: 1 done, 0 need more. */
static int
session_input(struct session *s)
{
	char	*line;
	size_t	 len, max;
	int	 r;

	if (s->skipping) {
		if (stream_skip_line(s->st) == 0)
			return 0;
		s->skipping = false;
		event_timer_del(&s->cmd_timer);	/* the next line has its own */
		pop3_auth_release(s);
		pop3_error(s, "-ERR Line too long.");
		return 1;
	}
	max = s->max_line;
	if (max < POP3_AUTH_LINE_MAX && s->state == POP3_AUTHORIZATION)
		max = POP3_AUTH_LINE_MAX;	/* AUTH; others checked later */
	r = stream_read_line(s->st, max, &line, &len, NULL);
	if (r == 0)
		return 0;
	if (r == -1) {
		s->skipping = true;
		return 1;
	}
	event_timer_del(&s->cmd_timer);		/* the next line has its own */
	log_trace(s->id, LOG_TRACE_CLIENT, line, len,
	    s->cont_secret ? LOG_TRACE_SECRET : 0);
	if (s->cont != NULL)
		s->cont(s, line, len);
	else
		pop3_dispatch(s, line, len);
	return 1;
}

static void
session_cmd_timeout(void *arg)
{
	struct session	*s = arg;

	pop3_reply(s, "-ERR Command not completed in time.");
	(void)session_flush(s);
	session_free(&s, "command timeout");
}

/* After the input is handled: bytes left over while the session waits for
 * input are a command line begun and not ended; its deadline runs from
 * here.  While the server is busy (a transfer, a delay) the client owes
 * nothing, and a line left then gets its time once input is read again. */
static void
session_deadline(struct session *s)
{
	if (!wants_input(s) || (stream_input_pending(s->st) == 0 &&
	    !s->skipping)) {
		event_timer_del(&s->cmd_timer);
		return;
	}
	if (s->cmd_timer == NULL)
		s->cmd_timer = event_timer_add(s->srv->loop,
		    s->srv->conf.command_timeout, session_cmd_timeout, s);
}

static void
session_run(struct session *s)
{
	int	 r;

	for (;;) {
		if (s->xfer_active) {
			if ((r = session_pump(s)) == -1) {
				session_free(&s, "write error");
				return;
			}
			if (r == 0)
				break;
		}
		if (!wants_input(s) || session_input(s) == 0)
			break;
		if (s->out.len >= SESSION_REPLY_CHUNK && !s->suspended &&
		    !s->xfer_active && session_flush(s) == -1) {
			session_free(&s, "write error");
			return;
		}
	}
	session_deadline(s);
	(void)session_update(s);
}

static void
session_io(int fd, unsigned int events, void *arg)
{
	struct session	*s = arg;
	size_t		 before;
	ssize_t		 n;
	int		 i;

	(void)fd;
	if (s->handshaking) {
		session_handshake(s);
		return;
	}
	if (events & EVENT_WRITE) {
		before = stream_output_pending(s->st);
		if (stream_flush(s->st) == -1) {
			session_free(&s, "write error");
			return;
		}
		if (stream_output_pending(s->st) < before)
			session_touch(s);
	}
	if ((events & EVENT_READ) && wants_input(s) && !s->peer_eof) {
		/* Read what is there (TLS gives one record per call). */
		for (i = 0; i < 8; i++) {
			n = stream_fill(s->st);
			if (n == STREAM_AGAIN)
				break;
			if (n == 0) {
				/* A client may send QUIT and close its
				 * side at once: answer what it sent. */
				s->peer_eof = true;
				break;
			}
			if (n < 0) {
				if (stream_input_pending(s->st) > 0)
					break;	/* buffer full: use it */
				session_free(&s, "read error");
				return;
			}
			session_touch(s);
		}
	}
	session_run(s);
}

static void
session_timeout(void *arg)
{
	struct session	*s = arg;

	if (s->handshaking || s->xfer_active) {
		/* Nothing can be said mid-handshake or mid-message. */
		session_free(&s, s->handshaking ? "tls handshake timeout" :
		    "send timeout");
		return;
	}
	pop3_reply(s, "-ERR Disconnected for inactivity.");
	(void)session_flush(s);
	session_free(&s, "timeout");
}

static void
session_resume_cb(void *arg)
{
	struct session	*s = arg;

	s->suspended = false;
	pop3_login_resume(s);
	session_run(s);
}

void
session_resume_after(struct session *s, uint64_t ms)
{
	s->suspended = true;
	/* The idle timer counts from the answer, not from the question. */
	event_timer_reset(s->timer, ms + s->srv->conf.timeout);
	if (s->resume_timer == NULL)
		s->resume_timer = event_timer_add(s->srv->loop, ms,
		    session_resume_cb, s);
	else
		event_timer_reset(s->resume_timer, ms);
}

static unsigned int
sessions_from(const struct pop3d *srv, const char *ip)
{
	const struct session	*s;
	unsigned int		 n = 0;

	for (s = srv->sessions; s != NULL; s = s->next)
		if (strcmp(s->ip, ip) == 0)
			n++;
	return n;
}

/* Refuse a connection past the caps, before it costs a session: on 110
 * RFC 2449's [SYS/TEMP] line; on 995 the client expects a handshake, so
 * just close. */
static void
refuse(int fd, bool pop3s, const char *ip, bool total)
{
	char	 buf[200];
	int	 n;

	log_warn("-", "refused address=%s reason=\"too many connections%s\"",
	    ip, total ? "" : " from address");
	if (!pop3s) {
		n = snprintf(buf, sizeof(buf), "-ERR [SYS/TEMP] Too many "
		    "connections%s%s.\r\n", total ? "" : " from ",
		    total ? "" : ip);
		if (n > 0 && (size_t)n < sizeof(buf))
			(void)send(fd, buf, (size_t)n,
			    MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	(void)close(fd);
}

void
session_accept(int fd, const struct net_addr *peer, const char *listener,
    void *data)
{
	struct pop3d		*srv = data;
	struct session		*s;
	bool			 pop3s = strcmp(listener, "pop3s") == 0;
	char			 ip[NET_ADDRSTRLEN];
	int			 one;

	net_addr_str(peer, ip, sizeof(ip));
	if (srv->stopping || (pop3s && srv->tls_ctx == NULL)) {
		log_warn("-", "refused address=%s reason=\"%s\"", ip,
		    srv->stopping ? "shutting down" : "no TLS certificate");
		(void)close(fd);
		return;
	}
	if (srv->nsessions >= srv->conf.max_connections ||
	    sessions_from(srv, ip) >= srv->conf.max_connections_per_ip) {
		refuse(fd, pop3s, ip, srv->nsessions >=
		    srv->conf.max_connections);
		return;
	}
	/* Replies are whole writes already; Nagle would only hold back the
	 * last piece of each answer for the peer's delayed ACK. */
	one = 1;
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1 &&
	    errno != EOPNOTSUPP && errno != ENOPROTOOPT)
		log_debug("-", "TCP_NODELAY: %s", strerror(errno));
	s = xcalloc(1, sizeof(*s));
	s->srv = srv;
	s->fd = fd;
	s->peer = *peer;
	(void)str_copy(s->ip, ip, sizeof(s->ip));
	s->is_pop3s = pop3s;
	s->state = POP3_AUTHORIZATION;
	s->is_loopback = net_addr_is_loopback(peer);
	session_id_new(s->id, sizeof(s->id));
	str_init(&s->out, SESSION_REPLY_MAX);
	/* The input buffer must hold the longest line we take, and more, or
	 * a long line could neither complete nor be refused. */
	s->max_line = srv->conf.max_line;
	s->st = stream_new(fd, (s->max_line > POP3_AUTH_LINE_MAX ?
	    s->max_line : POP3_AUTH_LINE_MAX) + SESSION_IN_SLACK,
	    SESSION_OUT_MAX);
	s->io = event_io_add(srv->loop, fd, 0, session_io, s);
	s->timer = event_timer_add(srv->loop, srv->conf.timeout,
	    session_timeout, s);
	s->next = srv->sessions;
	if (srv->sessions != NULL)
		srv->sessions->prev = s;
	srv->sessions = s;
	srv->nsessions++;
	log_info(s->id, "connect address=%s listener=%s", s->ip, listener);
	if (s->io == NULL) {
		session_free(&s, "event error");
		return;
	}
	if (pop3s) {
		session_tls_begin(s);
		return;
	}
	pop3_greet(s);
	(void)session_update(s);
}

void
session_free(struct session **sp, const char *reason)
{
	struct session	*s = *sp;
	struct pop3d	*srv;

	if (s == NULL)
		return;
	*sp = NULL;
	srv = s->srv;
	log_info(s->id, "disconnect address=%s reason=%s user=%s retr=%u "
	    "sendfile=%u bytes=%llu errors=%u", s->ip, reason,
	    s->login[0] != '\0' ? s->login : "-", s->nretr, s->nsendfile,
	    (unsigned long long)s->bytes_out, s->errors);
	s->state = POP3_CLOSING;
	if (s->xfer_active)
		xfer_end(s);
	/* A session that did not QUIT changes nothing (RFC 1939 6). */
	maildrop_close(&s->drop);
	pop3_auth_release(s);
	pop3_login_forget(s);
	explicit_bzero(s->user, sizeof(s->user));
	event_io_del(&s->io);
	event_timer_del(&s->timer);
	event_timer_del(&s->cmd_timer);
	event_timer_del(&s->resume_timer);
	stream_free(&s->st);
	(void)close(s->fd);
	str_release(&s->out);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		srv->sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	srv->nsessions--;
	free(s);
}

/* Stop: every session is told and closed at once.  Nothing is lost: a
 * session cut before QUIT deletes nothing. */
void
session_shutdown(struct pop3d *srv)
{
	struct session	*s, *next;

	srv->stopping = true;
	for (s = srv->sessions; s != NULL; s = next) {
		next = s->next;
		if (!s->handshaking && !s->xfer_active) {
			pop3_reply(s, "-ERR [SYS/TEMP] Server shutting down.");
			(void)session_flush(s);
		}
		session_free(&s, "shutdown");
	}
}
