/* SPDX-License-Identifier: MIT */
/*
 * session.c - smtpd on common/session: the hooks of one SMTP connection
 * (the layer owns the socket, session.h)
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
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "log.h"
#include "net.h"
#include "session.h"
#include "smtpd.h"
#include "spf_client.h"
#include "stream.h"
#include "str.h"

#define SESSION_IN_MAX	(64u * 1024)
#define SESSION_OUT_MAX	(256u * 1024)
#define SMTP_OUT_CHUNK	4096	/* queued replies written at this size */

#define S(b)	SESS_OF(struct session, (b))
#define CS(b)	SESS_OF_CONST(struct session, (b))

void
smtp_set_state(struct session *s, enum smtp_state st)
{
	if (s->state == st)
		return;
	log_debug(s->id, "state %s -> %s", smtp_state_name(s->state),
	    smtp_state_name(st));
	s->state = st;
	if (st == SMTP_CLOSING)
		s->base.closing = true;
}

static bool
in_content(const struct session *s)
{
	return s->state == SMTP_DATA || s->tx.bdat_chunk;
}

static bool
smtp_in_raw(const struct sess *b)
{
	return in_content(CS(b));
}

/* Content started (DATA accepted, or a BDAT chunk announced). */
static void
content_clock_start(struct session *s)
{
	s->data_start = event_now_ms(s->srv->loop);
	s->data_read = 0;
	sess_timer_reset(&s->base, s->srv->conf.data_timeout);
}

/* ops->on_read: n bytes arrived.  Inside content the timer is the nearer
 * of the idle limit (smtpd_data_timeout from now) and the deadline that a
 * client keeping up smtpd_min_data_rate never reaches; between commands
 * bytes alone move nothing (the timer restarts when a command is
 * complete). */
static void
smtp_on_read(struct sess *b, size_t n)
{
	struct session		*s = S(b);
	const struct smtpd_conf	*c = &s->srv->conf;
	uint64_t		 now, deadline, idle;

	if (!in_content(s) || b->timer == NULL)
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
	sess_timer_reset(b, deadline > now ? deadline - now : 0);
}

/* ops->on_input: deadlines (see atop this file): each command has
 * smtpd_timeout from the end of the one before, and content its own
 * clock.  STARTTLS answered: the layer switches once the 220 is out. */
static void
smtp_on_input(struct sess *b, bool was_raw)
{
	struct session	*s = S(b);

	if (s->want_starttls) {
		s->want_starttls = false;
		b->want_starttls = true;
	}
	if (b->timer == NULL)
		return;
	if (in_content(s)) {
		if (!was_raw)
			content_clock_start(s);
	} else
		sess_timer_reset(b, s->srv->conf.timeout);
}

static void
smtp_tls_done(struct sess *b)
{
	struct session	*s = S(b);

	s->is_tls = true;
	(void)str_copy(s->tls_desc, b->tls_desc, sizeof(s->tls_desc));
	sess_timer_reset(b, s->srv->conf.timeout);
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
		smtp_set_state(s, SMTP_GREETED);
	}
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

/* ops->raw_input: DATA or BDAT bytes: 1 done, 0 need more. */
static int
smtp_raw_input(struct sess *b)
{
	struct session	*s = S(b);
	struct smtp_tx	*tx = &s->tx;
	const char	*data;
	size_t		 len, max;

	if (tx->bdat_chunk) {
		if (tx->bdat_left == 0) {
			smtp_bdat_end(s);
			return 1;
		}
		max = tx->bdat_left > SESSION_IN_MAX ? SESSION_IN_MAX :
		    (size_t)tx->bdat_left;
		if (stream_read_bytes(b->st, max, &data, &len) == 0)
			return 0;
		tx->bdat_left -= len;
		smtp_bdat_bytes(s, data, len);
		trace_content(s, data, len);
		return 1;
	}
	/* Content has no line limit: every byte goes to the DATA parser,
	 * which says where the message ends (data.h). */
	if (stream_peek(b->st, &data, &len) == 0)
		return 0;
	len = smtp_data_bytes(s, data, len);
	trace_content(s, data, len);
	stream_skip(b->st, len);
	return 1;
}

static size_t
smtp_line_max(const struct sess *b)
{
	const struct session	*s = CS(b);

	return s->srv->conf.max_line > SMTP_AUTH_LINE_MAX ?
	    s->srv->conf.max_line : SMTP_AUTH_LINE_MAX;
}

static void
smtp_line(struct sess *b, char *line, size_t len, bool bare_lf)
{
	struct session	*s = S(b);

	(void)bare_lf;
	smtp_dispatch(s, line, len);
}

static void
smtp_long_line(struct sess *b, bool bare_lf)
{
	struct session	*s = S(b);

	(void)bare_lf;
	smtp_auth_release(s);
	smtp_error(s, "500 5.5.0 Error: line too long");
	b->flush_now = true;
}

static void
smtp_greet_hook(struct sess *b)
{
	smtp_greet(S(b));
}

static const char *
smtp_timeout(struct sess *b, bool cmd)
{
	struct session	*s = S(b);

	(void)cmd;
	if (!b->handshaking)
		smtp_reply(s, "421 4.4.2 %s Error: timeout exceeded",
		    s->srv->conf.hostname);
	return "timeout";
}

void
smtp_suspend(struct session *s)
{
	sess_suspend(&s->base);
}

void
smtp_resume(struct session *s)
{
	sess_resume(&s->base);
}

void
smtp_resume_after(struct session *s, uint64_t ms)
{
	sess_resume_after(&s->base, ms);
}

/* Stop: sessions idle between transactions are told 421 and closed; the
 * others finish their transaction first (the caller polls). */
static enum sess_shut
smtp_shutdown(struct sess *b)
{
	struct session	*s = S(b);

	if (b->handshaking || b->suspended ||
	    (s->state != SMTP_GREETED && s->state != SMTP_READY))
		return SESS_SHUT_KEEP;
	smtp_close(s, "4.3.2", "Service shutting down, closing "
	    "transmission channel");
	return SESS_SHUT_CLOSE;
}

static bool
smtp_refusal(const struct sess_server *sv, enum sess_refuse why,
    const char *ip, char *buf, size_t size)
{
	const struct smtpd *srv = (const struct smtpd *)(const void *)
	    ((const char *)sv - offsetof(struct smtpd, sv));
	const char	*host = srv->conf.hostname != NULL ?
	    srv->conf.hostname : "-";

	switch (why) {
	case SESS_REFUSE_STOPPING:
		return str_printf(buf, size, "421 4.7.0 %s Service not "
		    "available, closing transmission channel", host);
	case SESS_REFUSE_TOTAL:
		return str_printf(buf, size, "421 4.7.0 %s Error: too many "
		    "connections", host);
	case SESS_REFUSE_PER_IP:
		return str_printf(buf, size, "421 4.7.0 %s Error: too many "
		    "connections from %s", host, ip);
	}
	return false;
}

static void
smtp_release(struct sess *b, const char *reason)
{
	struct session	*s = S(b);

	log_info(s->id, "disconnect address=%s reason=%s helo=%s msgs=%u "
	    "rcpts=%u errors=%u", s->ip, reason, s->helo[0] != '\0' ? "yes" :
	    "no", s->nmsgs, s->nrcpts, s->errors);
	s->state = SMTP_CLOSING;
	spf_check_cancel(&s->spf_check);
	smtp_auth_forget(s);
	smtp_tx_reset(s);
	smtp_auth_release(s);
}

const struct sess_ops smtp_sess_ops = {
	.greet = smtp_greet_hook,
	.line = smtp_line,
	.long_line = smtp_long_line,
	.line_max = smtp_line_max,
	.in_raw = smtp_in_raw,
	.raw_input = smtp_raw_input,
	.on_read = smtp_on_read,
	.on_input = smtp_on_input,
	.tls_done = smtp_tls_done,
	.timeout = smtp_timeout,
	.shutdown = smtp_shutdown,
	.refusal = smtp_refusal,
	.release = smtp_release,
};

static void
params(const struct smtpd *srv, struct sess_params *p)
{
	memset(p, 0, sizeof(*p));
	p->in_max = SESSION_IN_MAX;
	p->out_max = SESSION_OUT_MAX;
	p->out_high = SMTP_OUT_HIGH;
	p->out_chunk = SMTP_OUT_CHUNK;
	p->timeout = srv->conf.timeout;
	p->max_total = srv->conf.max_connections;
	p->max_per_ip = srv->conf.max_connections_per_ip;
}

static void
server_ready(struct smtpd *srv)
{
	if (srv->sv.ops == NULL)
		sess_server_init(&srv->sv, srv->loop, &smtp_sess_ops,
		    &srv->tls_ctx);
}

/* Our view of a new session (the layer has its own). */
static void
setup(struct smtpd *srv, struct session *s, enum smtp_listener kind)
{
	s->srv = srv;
	s->peer = s->base.peer;
	(void)str_copy(s->ip, s->base.ip, sizeof(s->ip));
	(void)str_copy(s->id, s->base.id, sizeof(s->id));
	s->listener = kind;
	s->state = SMTP_GREETED;
	s->is_loopback = net_addr_is_loopback(&s->peer);
	s->in_mynetworks = policy_in_networks(&s->peer, srv->conf.mynetworks,
	    srv->conf.nmynetworks);
}

void
smtp_accept(int fd, const struct net_addr *peer, const char *listener,
    void *data)
{
	struct smtpd		*srv = data;
	struct sess_params	 p;
	struct sess		*b;
	enum smtp_listener	 kind;

	if (strcmp(listener, "submission") == 0)
		kind = SMTP_LISTEN_SUBMISSION;
	else if (strcmp(listener, "submissions") == 0)
		kind = SMTP_LISTEN_SUBMISSIONS;
	else
		kind = SMTP_LISTEN_SMTP;
	server_ready(srv);
	params(srv, &p);
	b = sess_accept(&srv->sv, sizeof(struct session), fd, peer, listener,
	    kind == SMTP_LISTEN_SUBMISSIONS, &p,
	    offsetof(struct session, out));
	if (b == NULL)
		return;
	setup(srv, S(b), kind);
	sess_start(b);
}

struct session *
smtp_session_mem(struct smtpd *srv, enum smtp_listener kind)
{
	struct sess_params	 p;
	struct session		*s;

	server_ready(srv);
	params(srv, &p);
	s = S(sess_mem_new(&srv->sv, sizeof(*s), &p,
	    offsetof(struct session, out)));
	setup(srv, s, kind);
	return s;
}

void
smtp_session_start(struct session *s)
{
	sess_start(&s->base);
}
