/* SPDX-License-Identifier: MIT */
/*
 * session.c - imapd on common/session: the hooks of one IMAP connection
 * (the layer owns the socket, session.h)
 *
 * Collecting a command.  Each line is appended to s->cmd; a line that
 * ends in a literal's announcement (parse.h imap_literal_tail()) gets
 * CRLF appended and the n literal bytes are taken raw (ops->raw_input)
 * into s->cmd too, then the next line continues the command.  So the
 * handlers see the whole command in one buffer, literals in place, as
 * parse.h reads it.  Before "+ Ready for literal data" (RFC 3501 7.5) the
 * literal is checked against the bounds: before login IMAP_PREAUTH_LITERAL
 * and IMAP_PREAUTH_COMMAND, after it imap_max_command, for APPEND
 * imap_max_append; a synchronising literal over them is refused with the
 * tag's "NO [TOOBIG]" (the client then sends nothing), a
 * non-synchronising one (LITERAL+, RFC 7888) with BAD and the connection
 * is closed, as its bytes are already on the way.
 *
 * An over-long line is skipped by the layer and answered BAD (with the tag
 * when it continued a command), and the session goes on in step.
 *
 * IDLE (RFC 2177): the line hook waits for DONE; a timer looks at the
 * folder every IMAP_IDLE_POLL_MS with mailbox_has_changed() (no lock, no
 * read when nothing changed) and sends what a sync found.
 *
 * Timers: s->timer is imap_timeout before login, imap_auth_timeout after,
 * imap_idle_timeout in IDLE, imap_send_timeout while output is stuck; then
 * "* BYE Autologout; idle for too long".
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "event.h"
#include "fetch.h"
#include "folders.h"
#include "imapd.h"
#include "log.h"
#include "mailbox.h"
#include "mem.h"
#include "net.h"
#include "session.h"
#include "stream.h"
#include "str.h"

#define SESSION_IN_SLACK	4096	/* input past the longest line */
#define SESSION_OUT_MAX		(IMAP_OUT_HIGH + 2u * 1024 * 1024)
#define SESSION_REPLY_CHUNK	(16u * 1024)
#define SESSION_LIT_PIECE	(64u * 1024)	/* raw bytes taken at once */
#define SESSION_CMD_KEEP	4096	/* command buffer kept between */

#define P(b)	SESS_OF(struct imap_session, (b))
#define CP(b)	SESS_OF_CONST(struct imap_session, (b))

static void
session_touch(struct imap_session *s)
{
	const struct imap_conf	*c = &s->srv->conf;
	uint64_t		 ms;

	if (s->base.st == NULL)
		return;
	if (s->base.producing || stream_output_pending(s->base.st) > 0)
		ms = c->send_timeout;
	else if (s->idling)
		ms = c->idle_timeout;
	else if (s->state == IMAP_NOT_AUTH)
		ms = c->timeout;
	else
		ms = c->auth_timeout;
	sess_timer_reset(&s->base, ms);
}

static void
cmd_reset(struct imap_session *s)
{
	if (s->cmd.cap > SESSION_CMD_KEEP)
		str_release(&s->cmd);
	else
		str_clear(&s->cmd);
	s->lit_left = 0;
	s->in_literal = false;
}

/* ---- IDLE ---- */

static void
idle_stop(struct imap_session *s)
{
	s->idling = false;
	event_timer_del(&s->idle_timer);
}

static void
idle_poll(void *arg)
{
	struct imap_session	*s = arg;
	struct sess		*b = &s->base;

	if (s->state == IMAP_SELECTED && mailbox_has_changed(s->mb)) {
		imap_sync_report(s);
		if (s->out.len > 0 && sess_flush(b) == -1) {
			sess_free(&b, "write error");
			return;
		}
	}
	event_timer_reset(s->idle_timer, IMAP_IDLE_POLL_MS);
}

void
imap_idle_start(struct imap_session *s)
{
	s->idling = true;
	s->base.flush_now = true;
	if (s->srv->loop != NULL && s->state == IMAP_SELECTED)
		s->idle_timer = event_timer_add(s->srv->loop,
		    IMAP_IDLE_POLL_MS, idle_poll, s);
	session_touch(s);
}

static void
idle_line(struct imap_session *s, const char *line)
{
	idle_stop(s);
	if (strcasecmp(line, "DONE") == 0) {
		imap_sync_report(s);
		imap_ok(s, NULL, "Idle completed.");
	} else
		imap_bad(s, "Expected DONE.");
	session_touch(s);
}

/* ---- collecting a command ---- */

/* The verb of the command collected so far (after the tag), for the
 * literal bounds: is it APPEND? */
static bool
cmd_is_append(const struct imap_session *s)
{
	const char	*p = memchr(s->cmd.data, ' ', s->cmd.len);
	size_t		 left;

	if (p == NULL)
		return false;
	p++;
	left = s->cmd.len - (size_t)(p - s->cmd.data);
	return left > 7 && strncasecmp(p, "APPEND ", 7) == 0;
}

/* The tag of the command collected so far, into s->tag ("*" when it has
 * none we can repeat). */
static void
tag_of(struct imap_session *s, const char *p, size_t len)
{
	size_t	 n;

	for (n = 0; n < len && p[n] != ' ' && p[n] != '\0'; n++)
		continue;
	if (n == 0 || n > IMAP_TAG_MAX)
		(void)str_copy(s->tag, "*", sizeof(s->tag));
	else {
		memcpy(s->tag, p, n);
		s->tag[n] = '\0';
	}
}

static void
cmd_tag(struct imap_session *s)
{
	tag_of(s, s->cmd.data != NULL ? s->cmd.data : "", s->cmd.len);
}

/* May a literal of n bytes follow?  Answers and returns false if not. */
static bool
literal_ok(struct imap_session *s, uint64_t n, bool nonsync)
{
	const struct imap_conf	*c = &s->srv->conf;
	uint64_t		 max, lit_max;

	if (s->state == IMAP_NOT_AUTH) {
		max = IMAP_PREAUTH_COMMAND;
		lit_max = IMAP_PREAUTH_LITERAL;
	} else if (cmd_is_append(s)) {
		max = c->max_append + c->max_command;
		lit_max = c->max_append;
	} else
		max = lit_max = c->max_command;
	s->cmd_max = max;
	if (n <= lit_max && n + s->cmd.len + 2 <= max) {
		/* APPEND over what is left of the quota: refused now, so
		 * the client sends nothing (RFC 9208 OVERQUOTA) */
		if (!nonsync && s->state != IMAP_NOT_AUTH &&
		    cmd_is_append(s) && imap_over_quota(s, n)) {
			cmd_tag(s);
			imap_no(s, "OVERQUOTA", "Quota exceeded (mailbox is "
			    "full).");
			return false;
		}
		return true;
	}
	cmd_tag(s);
	if (nonsync) {
		imap_bad(s, "[TOOBIG] Literal too big.");
		imap_untagged(s, "BYE Literal too big.");
		log_info(s->base.id, "non-synchronising literal refused "
		    "size=%llu", (unsigned long long)n);
		imap_set_state(s, IMAP_LOGOUT);
	} else if (s->state == IMAP_NOT_AUTH)
		imap_bad(s, "[TOOBIG] Literal too big before login.");
	else if (cmd_is_append(s))
		imap_no(s, "TOOBIG", "Message too big (the limit is %llu "
		    "bytes).", (unsigned long long)c->max_append);
	else
		imap_no(s, "TOOBIG", "Command too long.");
	return false;
}

static void
imap_line(struct sess *b, char *line, size_t len, bool bare_lf)
{
	struct imap_session	*s = P(b);
	uint64_t		 n, max;
	bool			 nonsync, binary;

	(void)bare_lf;
	if (s->idling) {
		idle_line(s, line);
		return;
	}
	if (s->cmd.len == 0 && len == 0)
		return;			/* empty lines between commands */
	max = s->cmd.len == 0 ? (s->state == IMAP_NOT_AUTH ?
	    IMAP_PREAUTH_COMMAND : s->srv->conf.max_command) : s->cmd_max;
	if (s->cmd.len + len + 2 > max ||
	    str_append(&s->cmd, line, len) == -1) {
		if (s->cmd.len == 0)
			tag_of(s, line, len);
		else
			cmd_tag(s);
		cmd_reset(s);
		imap_bad(s, "[TOOBIG] Command too long.");
		return;
	}
	if (s->cmd.len == len)
		s->cmd_max = max;
	if (imap_literal_tail(line, len, &n, &nonsync, &binary)) {
		if (!literal_ok(s, n, nonsync)) {
			cmd_reset(s);
			return;
		}
		if (str_append(&s->cmd, "\r\n", 2) == -1)
			panic("imap_line: command buffer");
		s->lit_left = n;
		s->in_literal = n > 0;
		if (!nonsync) {
			imap_cont(s, "Ready for literal data");
			b->flush_now = true;
		}
		return;
	}
	imap_dispatch(s);
	cmd_reset(s);
}

static void
imap_long_line(struct sess *b, bool bare_lf)
{
	struct imap_session	*s = P(b);

	(void)bare_lf;
	if (s->idling) {
		idle_stop(s);
		imap_bad(s, "Expected DONE.");
		return;
	}
	if (s->cmd.len > 0) {
		cmd_tag(s);
		cmd_reset(s);
		imap_bad(s, "[TOOBIG] Line too long.");
		return;
	}
	(void)str_copy(s->tag, "*", sizeof(s->tag));
	imap_bad(s, "[TOOBIG] Line too long.");
}

static size_t
imap_line_max(const struct sess *b)
{
	return CP(b)->srv->conf.max_line;
}

static bool
imap_in_raw(const struct sess *b)
{
	return CP(b)->in_literal;
}

static int
imap_raw_input(struct sess *b)
{
	struct imap_session	*s = P(b);
	const char		*data;
	size_t			 len, max;

	max = s->lit_left > SESSION_LIT_PIECE ? SESSION_LIT_PIECE :
	    (size_t)s->lit_left;
	if (stream_read_bytes(b->st, max, &data, &len) == 0)
		return 0;
	if (str_append(&s->cmd, data, len) == -1)
		panic("imap_raw_input: command buffer");
	s->lit_left -= len;
	if (s->lit_left == 0)
		s->in_literal = false;
	return 1;
}

/* ---- output ---- */

static int
imap_produce(struct sess *b)
{
	struct imap_session	*s = P(b);
	struct stream		*st = b->st;
	int			 r;

	for (;;) {
		if (s->out.len > 0) {
			if (stream_output_pending(st) + s->out.len >
			    SESSION_OUT_MAX) {
				if (sess_flush(b) == -1)
					return -1;
				return 0;
			}
			if (stream_write(st, s->out.data, s->out.len) == -1)
				return -1;
			s->bytes_out += s->out.len;
			str_clear(&s->out);
			if (stream_flush(st) == -1)
				return -1;
		}
		if (s->fetch == NULL)
			return 1;
		if (stream_output_pending(st) >= IMAP_OUT_HIGH)
			return 0;
		r = imap_fetch_produce(s, &s->out);
		if (r == 1 && s->out.len == 0)
			return 1;
	}
}

void
imap_start_fetch(struct imap_session *s)
{
	sess_produce(&s->base);
	session_touch(s);
}

/* ---- the rest of the hooks ---- */

static void
imap_greet_hook(struct sess *b)
{
	imap_greet(P(b));
}

static void
imap_tls_done(struct sess *b)
{
	struct imap_session	*s = P(b);

	session_touch(s);
	if (s->is_imaps)
		imap_greet(s);
}

static void
imap_on_input(struct sess *b, bool was_raw)
{
	struct imap_session	*s = P(b);

	(void)was_raw;
	if (s->want_starttls) {
		s->want_starttls = false;
		b->want_starttls = true;
	}
	session_touch(s);
}

static void
imap_on_read(struct sess *b, size_t n)
{
	(void)n;
	session_touch(P(b));
}

static void
imap_on_output(struct sess *b)
{
	session_touch(P(b));
}

static const char *
imap_timeout(struct sess *b, bool cmd)
{
	struct imap_session	*s = P(b);

	if (b->handshaking)
		return "tls handshake timeout";
	if (b->producing)
		return "send timeout";
	if (cmd) {
		imap_untagged(s, "BYE Command not completed in time.");
		return "command timeout";
	}
	imap_untagged(s, "BYE Autologout; idle for too long");
	return "timeout";
}

static void
imap_resumed(struct sess *b)
{
	session_touch(P(b));
}

void
imap_resume_after(struct imap_session *s, uint64_t ms)
{
	sess_timer_reset(&s->base, ms + s->srv->conf.timeout);
	sess_resume_after(&s->base, ms);
}

static enum sess_shut
imap_shutdown(struct sess *b)
{
	if (!b->handshaking && !b->producing)
		imap_untagged(P(b), "BYE Server shutting down.");
	return SESS_SHUT_FREE;
}

static bool
imap_refusal(const struct sess_server *sv, enum sess_refuse why,
    const char *ip, char *buf, size_t size)
{
	(void)sv;
	switch (why) {
	case SESS_REFUSE_STOPPING:
		return false;
	case SESS_REFUSE_TOTAL:
		return str_printf(buf, size, "* BYE [UNAVAILABLE] Too many "
		    "connections.");
	case SESS_REFUSE_PER_IP:
		return str_printf(buf, size, "* BYE [UNAVAILABLE] Too many "
		    "connections from %s.", ip);
	}
	return false;
}

static void
imap_release(struct sess *b, const char *reason)
{
	struct imap_session	*s = P(b);

	log_info(b->id, "disconnect address=%s reason=%s user=%s bytes=%llu "
	    "errors=%u", b->ip, reason, s->user[0] != '\0' ? s->user : "-",
	    (unsigned long long)s->bytes_out, s->errors);
	idle_stop(s);
	if (s->fetch != NULL)
		imap_fetch_free(&s->fetch);
	imap_auth_release(s);
	imap_login_forget(s);
	mailbox_close(&s->mb);
	str_release_secret(&s->cmd);
	str_release(&s->done);
}

const struct sess_ops imap_sess_ops = {
	.greet = imap_greet_hook,
	.line = imap_line,
	.long_line = imap_long_line,
	.line_max = imap_line_max,
	.in_raw = imap_in_raw,
	.raw_input = imap_raw_input,
	.produce = imap_produce,
	.on_read = imap_on_read,
	.on_output = imap_on_output,
	.on_input = imap_on_input,
	.tls_done = imap_tls_done,
	.resumed = imap_resumed,
	.timeout = imap_timeout,
	.shutdown = imap_shutdown,
	.refusal = imap_refusal,
	.release = imap_release,
};

static void
params(const struct imapd *srv, struct sess_params *p)
{
	memset(p, 0, sizeof(*p));
	p->in_max = (size_t)srv->conf.max_line + SESSION_IN_SLACK;
	p->out_max = SESSION_OUT_MAX;
	p->out_high = IMAP_OUT_HIGH;
	p->out_chunk = SESSION_REPLY_CHUNK;
	p->timeout = srv->conf.timeout;
	p->cmd_timeout = srv->conf.command_timeout;
	p->handshake_timeout = srv->conf.command_timeout;
	p->max_total = srv->conf.max_connections;
	p->max_per_ip = srv->conf.max_connections_per_ip;
}

static void
setup(struct imapd *srv, struct imap_session *s)
{
	s->srv = srv;
	s->state = IMAP_NOT_AUTH;
	s->is_loopback = net_addr_is_loopback(&s->base.peer);
	str_init(&s->cmd, 0);
	str_init(&s->done, 0);
	(void)str_copy(s->tag, "*", sizeof(s->tag));
}

static void
server_ready(struct imapd *srv)
{
	if (srv->sv.ops == NULL)
		sess_server_init(&srv->sv, srv->loop, &imap_sess_ops,
		    &srv->tls_ctx);
}

void
imap_accept(int fd, const struct net_addr *peer, const char *listener,
    void *data)
{
	struct imapd		*srv = data;
	struct sess_params	 p;
	struct sess		*b;
	struct imap_session	*s;
	bool			 imaps = strcmp(listener, "imaps") == 0;

	server_ready(srv);
	params(srv, &p);
	b = sess_accept(&srv->sv, sizeof(*s), fd, peer, listener, imaps, &p,
	    offsetof(struct imap_session, out));
	if (b == NULL)
		return;
	s = P(b);
	setup(srv, s);
	s->is_imaps = imaps;
	sess_start(b);
}

struct imap_session *
imap_session_mem(struct imapd *srv)
{
	struct sess_params	 p;
	struct imap_session	*s;

	server_ready(srv);
	params(srv, &p);
	s = P(sess_mem_new(&srv->sv, sizeof(*s), &p,
	    offsetof(struct imap_session, out)));
	setup(srv, s);
	return s;
}

void
imap_session_start(struct imap_session *s)
{
	sess_start(&s->base);
}
