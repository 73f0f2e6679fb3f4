/* SPDX-License-Identifier: MIT */
/*
 * session.c - one SMTP connection on the event loop: the only file that
 * touches the socket
 *
 * Input: every complete line buffered is handled in turn (RFC 2920
 * pipelining); replies collect in s->out and go to the stream after a
 * group-end command and whenever the input runs dry, so a pipelined
 * transaction gets its replies in one write.  Reading stops while output
 * backs up (SMTP_OUT_HIGH), while the session is suspended (a commit or an
 * AUTH delay pending) and once STARTTLS has been answered: the 220 is
 * flushed, then stream_starttls() drops whatever the client pipelined
 * (RFC 3207 4.2) and the handshake runs without blocking.
 *
 * Over-long lines are skipped to their end and answered "500 5.5.0 Error:
 * line too long" (in DATA they fail the message instead), so the session
 * stays in step.  Message content has no line limit (data.h).
 *
 * One timer per session, a deadline rather than an idle timer, so that a
 * client trickling a byte every few seconds cannot hold a session for
 * ever: each command line must be complete within smtpd_timeout of the
 * end of the one before (bytes of a partial line move nothing), and so
 * must the TLS handshake.  Inside DATA or a BDAT chunk the client may be
 * silent for at most smtpd_data_timeout, and must also keep up
 * smtpd_min_data_rate on average past the first smtpd_data_timeout
 * (Postfix's smtpd_min_data_rate): content of n bytes is allowed
 * smtpd_data_timeout + n / rate in all.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "event.h"
#include "log.h"
#include "mem.h"
#include "net.h"
#include "session_id.h"
#include "smtpd.h"
#include "spf_client.h"
#include "stream.h"
#include "str.h"
#include "tls.h"

#define SESSION_IN_MAX	(64u * 1024)
#define SESSION_OUT_MAX	(256u * 1024)
#define SMTP_OUT_CHUNK	4096	/* queued replies written at this size */

static void	session_io(int, unsigned int, void *);
static void	session_run(struct session *);

void
session_set_state(struct session *s, enum smtp_state st)
{
	if (s->state == st)
		return;
	log_debug(s->id, "state %s -> %s", smtp_state_name(s->state),
	    smtp_state_name(st));
	s->state = st;
}

static bool
in_content(const struct session *s)
{
	return s->state == SMTP_DATA || s->tx.bdat_chunk;
}

/* Content started (DATA accepted, or a BDAT chunk announced). */
static void
content_clock_start(struct session *s)
{
	s->data_start = event_now_ms(s->srv->loop);
	s->data_read = 0;
	event_timer_reset(s->timer, s->srv->conf.data_timeout);
}

/* n bytes arrived.  Inside content the timer is the nearer of the idle
 * limit (smtpd_data_timeout from now) and the deadline that a client
 * keeping up smtpd_min_data_rate never reaches; between commands bytes
 * alone move nothing (the timer restarts when a command is complete). */
static void
content_clock_read(struct session *s, size_t n)
{
	const struct smtpd_conf *c = &s->srv->conf;
	uint64_t	 now, deadline, idle;

	if (!in_content(s))
		return;
	now = event_now_ms(s->srv->loop);
	s->data_read += n;
	idle = now + c->data_timeout;
	deadline = idle;
	if (c->min_data_rate > 0) {	/* 0 only where no config is read */
		/* data_read * 1000 / rate, without the product's overflow
		 * (a refused BDAT chunk may announce any size) */
		deadline = s->data_start + c->data_timeout +
		    s->data_read / c->min_data_rate * 1000 +
		    s->data_read % c->min_data_rate * 1000 / c->min_data_rate;
		if (idle < deadline)
			deadline = idle;
	}
	event_timer_reset(s->timer, deadline > now ? deadline - now : 0);
}

static bool
wants_input(const struct session *s)
{
	return s->state != SMTP_CLOSING && !s->suspended &&
	    !s->want_starttls && !s->handshaking &&
	    stream_output_pending(s->st) < SMTP_OUT_HIGH;
}

/* Move queued replies to the stream and send what the socket takes. */
static int
session_flush(struct session *s)
{
	if (s->out.len > 0) {
		if (stream_write(s->st, s->out.data, s->out.len) == -1) {
			log_warn(s->id, "output buffer full");
			return -1;
		}
		str_clear(&s->out);
	}
	s->flush_now = false;
	return stream_flush(s->st) == -1 ? -1 : 0;
}

static void
session_handshake(struct session *s)
{
	int	 r;

	r = stream_handshake(s->st);
	if (r == STREAM_AGAIN) {
		s->io_events = stream_events(s->st);
		if (event_io_set(s->io, s->io_events) == -1)
			session_free(&s, "event error");
		return;
	}
	if (r == -1) {
		session_free(&s, "tls handshake failed");
		return;
	}
	s->handshaking = false;
	s->is_tls = true;
	tls_describe(stream_ssl(s->st), s->tls_desc, sizeof(s->tls_desc));
	log_info(s->id, "tls established %s", s->tls_desc);
	event_timer_reset(s->timer, s->srv->conf.timeout);
	if (s->listener == SMTP_LISTEN_SUBMISSIONS) {
		smtp_greet(s);
	} else {
		/* RFC 3207 4.2: forget everything learnt before TLS. */
		smtp_tx_reset(s);
		smtp_auth_release(s);
		s->helo_seen = false;
		s->helo[0] = '\0';
		s->is_esmtp = false;
		s->is_authenticated = false;
		s->auth_user[0] = '\0';
		session_set_state(s, SMTP_GREETED);
	}
	session_run(s);
}

/* After handling input: write, close, start TLS, choose events.  -1 when
 * the session is gone. */
static int
session_update(struct session *s)
{
	unsigned int	 ev;

	if (!s->suspended && session_flush(s) == -1) {
		session_free(&s, "write error");
		return -1;
	}
	if (s->state == SMTP_CLOSING && s->out.len == 0 &&
	    stream_output_pending(s->st) == 0) {
		session_free(&s, "quit");
		return -1;
	}
	if (s->want_starttls && s->out.len == 0 &&
	    stream_output_pending(s->st) == 0) {
		s->want_starttls = false;
		if (stream_starttls(s->st, s->srv->tls_ctx, true, NULL) == -1) {
			session_free(&s, "starttls failed");
			return -1;
		}
		s->handshaking = true;
		session_handshake(s);
		return -1;	/* it runs the session on from here */
	}
	if (s->peer_eof && wants_input(s)) {
		/* Every complete command is answered (a client may pipeline
		 * "." and QUIT and close its side at once); nothing more will
		 * come.  Let the replies go out first. */
		if (s->out.len == 0 && stream_output_pending(s->st) == 0) {
			session_free(&s, "disconnect");
			return -1;
		}
		ev = EVENT_WRITE;
	} else if (wants_input(s))
		ev = stream_events(s->st);
	else if (stream_output_pending(s->st) > 0)
		ev = EVENT_WRITE;
	else if (s->suspended && !s->io_quiet && s->io_events == EVENT_READ)
		return 0;	/* a client waiting for its reply sends nothing:
				   leave the fd in the set until it does (see
				   session_io), two epoll_ctl calls less */
	else
		ev = 0;
	if (event_io_set(s->io, ev) == -1) {
		session_free(&s, "event error");
		return -1;
	}
	s->io_events = ev;
	return 0;
}

/* Message content in the trace: one C: line per line of it (a line split
 * across reads shows as pieces). */
static void
trace_content(const struct session *s, const char *buf, size_t len)
{
	const char	*lf;
	size_t		 n, show;

	if (!log_trace_enabled())
		return;
	while (len > 0) {
		lf = memchr(buf, '\n', len);
		n = lf != NULL ? (size_t)(lf - buf) + 1 : len;
		show = n;
		if (lf != NULL) {		/* the line without its ending */
			show--;
			if (show > 0 && buf[show - 1] == '\r')
				show--;
		}
		log_trace(s->id, LOG_TRACE_CLIENT, buf, show, 0);
		buf += n;
		len -= n;
	}
}

/* Handle one piece of buffered input: 1 done, 0 need more. */
static int
session_input(struct session *s)
{
	struct smtp_tx	*tx = &s->tx;
	const char	*data;
	char		*line;
	size_t		 len, max;
	int		 r;

	if (tx->bdat_chunk) {
		if (tx->bdat_left == 0) {
			smtp_bdat_end(s);
			return 1;
		}
		max = tx->bdat_left > SESSION_IN_MAX ? SESSION_IN_MAX :
		    (size_t)tx->bdat_left;
		if (stream_read_bytes(s->st, max, &data, &len) == 0)
			return 0;
		tx->bdat_left -= len;
		smtp_bdat_bytes(s, data, len);
		trace_content(s, data, len);
		return 1;
	}
	if (s->state == SMTP_DATA) {
		/* Content has no line limit: every byte goes to the DATA
		 * parser, which says where the message ends (data.h). */
		if (stream_peek(s->st, &data, &len) == 0)
			return 0;
		len = smtp_data_bytes(s, data, len);
		trace_content(s, data, len);
		stream_skip(s->st, len);
		return 1;
	}
	if (s->skipping) {
		if (stream_skip_line(s->st) == 0)
			return 0;
		s->skipping = false;
		smtp_auth_release(s);
		smtp_error(s, "500 5.5.0 Error: line too long");
		s->flush_now = true;
		return 1;
	}
	max = s->srv->conf.max_line > SMTP_AUTH_LINE_MAX ?
	    s->srv->conf.max_line : SMTP_AUTH_LINE_MAX;
	r = stream_read_line(s->st, max, &line, &len, NULL);
	if (r == 0)
		return 0;
	if (r == -1) {
		s->skipping = true;
		return 1;
	}
	log_trace(s->id, LOG_TRACE_CLIENT, line, len,
	    s->cont_secret ? LOG_TRACE_SECRET : 0);
	if (s->cont != NULL)
		s->cont(s, line, len);
	else
		smtp_dispatch(s, line, len);
	return 1;
}

static void
session_run(struct session *s)
{
	bool		 backlog, was_content;

	do {
		while (wants_input(s)) {
			was_content = in_content(s);
			if (session_input(s) == 0)
				break;
			/* Deadlines (see atop this file): each command has
			 * smtpd_timeout from the end of the one before, and
			 * content its own clock. */
			if (in_content(s)) {
				if (!was_content)
					content_clock_start(s);
			} else {
				event_timer_reset(s->timer, s->srv->conf.timeout);
			}
			/* Replies also go out once a few KB pile up, so only
			 * the stream's backlog stops input. */
			if ((s->flush_now || s->out.len >= SMTP_OUT_CHUNK) &&
			    !s->suspended && session_flush(s) == -1) {
				session_free(&s, "write error");
				return;
			}
		}
		/* Stopped by the backlog with input still buffered: if the
		 * flush below drains it, no event would bring us back. */
		backlog = stream_output_pending(s->st) >= SMTP_OUT_HIGH &&
		    stream_input_pending(s->st) > 0;
		if (session_update(s) == -1)
			return;
	} while (backlog && wants_input(s));
}

static void
session_io(int fd, unsigned int events, void *arg)
{
	struct session	*s = arg;
	ssize_t		 n;
	int		 i;

	(void)fd;
	if (s->handshaking) {
		session_handshake(s);
		return;
	}
	if ((events & EVENT_WRITE) && stream_flush(s->st) == -1) {
		session_free(&s, "write error");
		return;
	}
	if ((events & EVENT_READ) && s->suspended)
		s->io_quiet = true;	/* stop watching until resumed */
	if ((events & EVENT_READ) && wants_input(s) && !s->peer_eof) {
		/* Read what is there (TLS gives one record per call). */
		for (i = 0; i < 8; i++) {
			n = stream_fill(s->st);
			if (n == STREAM_AGAIN)
				break;
			if (n == 0) {
				s->peer_eof = true;
				break;
			}
			if (n < 0) {
				if (stream_input_pending(s->st) > 0)
					break;	/* buffer full: use it */
				session_free(&s, "read error");
				return;
			}
			content_clock_read(s, (size_t)n);
			if (stream_fill_drained(s->st))
				break;
		}
	}
	session_run(s);
}

static void
session_timeout(void *arg)
{
	struct session	*s = arg;

	if (!s->handshaking) {
		smtp_reply(s, "421 4.4.2 %s Error: timeout exceeded",
		    s->srv->conf.hostname);
		(void)session_flush(s);
	}
	session_free(&s, "timeout");
}

static void
session_resume_cb(void *arg)
{
	session_resume(arg);
}

void
session_suspend(struct session *s)
{
	s->suspended = true;
}

void
session_resume(struct session *s)
{
	s->suspended = false;
	s->io_quiet = false;
	session_run(s);
}

void
session_resume_after(struct session *s, uint64_t ms)
{
	s->suspended = true;
	if (s->resume_timer == NULL)
		s->resume_timer = event_timer_add(s->srv->loop, ms,
		    session_resume_cb, s);
	else
		event_timer_reset(s->resume_timer, ms);
}

/* Refuse a connection before it becomes a session (limits, shutdown). */
static void
refuse(int fd, enum smtp_listener kind, const char *host, const char *text)
{
	char	 buf[300];
	int	 n;

	/* On 465 the client expects a TLS handshake: just close. */
	if (kind != SMTP_LISTEN_SUBMISSIONS) {
		n = snprintf(buf, sizeof(buf), "421 4.7.0 %s %s\r\n", host,
		    text);
		if (n > 0 && (size_t)n < sizeof(buf))
			(void)send(fd, buf, (size_t)n,
			    MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	(void)close(fd);
}

static unsigned int
sessions_from(const struct smtpd *srv, const char *ip)
{
	const struct session	*s;
	unsigned int		 n = 0;

	for (s = srv->sessions; s != NULL; s = s->next)
		if (strcmp(s->ip, ip) == 0)
			n++;
	return n;
}

void
session_accept(int fd, const struct net_addr *peer, const char *listener,
    void *data)
{
	struct smtpd		*srv = data;
	struct session		*s;
	enum smtp_listener	 kind;
	char			 ip[NET_ADDRSTRLEN], text[200];

	if (strcmp(listener, "submission") == 0)
		kind = SMTP_LISTEN_SUBMISSION;
	else if (strcmp(listener, "submissions") == 0)
		kind = SMTP_LISTEN_SUBMISSIONS;
	else
		kind = SMTP_LISTEN_SMTP;
	net_addr_str(peer, ip, sizeof(ip));
	if (srv->stopping) {
		refuse(fd, kind, srv->conf.hostname,
		    "Service not available, closing transmission channel");
		return;
	}
	if (srv->nsessions >= srv->conf.max_connections) {
		log_warn("-", "refused address=%s reason=\"too many "
		    "connections\"", ip);
		refuse(fd, kind, srv->conf.hostname,
		    "Error: too many connections");
		return;
	}
	if (sessions_from(srv, ip) >= srv->conf.max_connections_per_ip) {
		log_warn("-", "refused address=%s reason=\"too many "
		    "connections from address\"", ip);
		(void)str_printf(text, sizeof(text), "Error: too many "
		    "connections from %s", ip);
		refuse(fd, kind, srv->conf.hostname, text);
		return;
	}
	if (kind == SMTP_LISTEN_SUBMISSIONS && srv->tls_ctx == NULL) {
		log_warn("-", "refused address=%s reason=\"no TLS "
		    "certificate\"", ip);
		(void)close(fd);
		return;
	}

	s = xcalloc(1, sizeof(*s));
	s->srv = srv;
	s->fd = fd;
	s->peer = *peer;
	(void)str_copy(s->ip, ip, sizeof(s->ip));
	s->listener = kind;
	s->state = SMTP_GREETED;
	s->is_loopback = net_addr_is_loopback(peer);
	s->in_mynetworks = policy_in_networks(peer, srv->conf.mynetworks,
	    srv->conf.nmynetworks);
	session_id_new(s->id, sizeof(s->id));
	str_init(&s->out, 0);
	s->st = stream_new(fd, SESSION_IN_MAX, SESSION_OUT_MAX);
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
	if (kind == SMTP_LISTEN_SUBMISSIONS) {
		if (stream_starttls(s->st, srv->tls_ctx, true, NULL) == -1) {
			session_free(&s, "tls setup failed");
			return;
		}
		s->handshaking = true;
		session_handshake(s);
		return;
	}
	smtp_greet(s);
	(void)session_update(s);
}

void
session_free(struct session **sp, const char *reason)
{
	struct session	*s = *sp;
	struct smtpd	*srv;

	if (s == NULL)
		return;
	*sp = NULL;
	srv = s->srv;
	log_info(s->id, "disconnect address=%s reason=%s helo=%s msgs=%u "
	    "rcpts=%u errors=%u", s->ip, reason, s->helo[0] != '\0' ? "yes" :
	    "no", s->nmsgs, s->nrcpts, s->errors);
	s->state = SMTP_CLOSING;
	spf_check_cancel(&s->spf_check);
	smtp_auth_forget(s);
	smtp_tx_reset(s);
	smtp_auth_release(s);
	event_io_del(&s->io);
	event_timer_del(&s->timer);
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

unsigned int
session_count(const struct smtpd *srv)
{
	return srv->nsessions;
}

/* Stop: sessions idle between transactions are told 421 and closed; the
 * others finish their transaction first (the caller polls). */
void
session_shutdown(struct smtpd *srv)
{
	struct session	*s, *next;

	srv->stopping = true;
	for (s = srv->sessions; s != NULL; s = next) {
		next = s->next;
		if (s->handshaking || s->suspended ||
		    (s->state != SMTP_GREETED && s->state != SMTP_READY))
			continue;
		smtp_close(s, "4.3.2", "Service shutting down, closing "
		    "transmission channel");
		(void)session_update(s);
	}
}
