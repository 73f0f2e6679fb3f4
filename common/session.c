/* SPDX-License-Identifier: MIT */
/*
 * session.c - the connection side of a line-protocol daemon: the only
 * code of smtpd and pop3d that touches a client socket (session.h)
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "log.h"
#include "mem.h"
#include "session.h"
#include "session_id.h"
#include "stream.h"
#include "tls.h"

#define SESS_REFUSE_MAX	300

static void	sess_io(int, unsigned int, void *);
static void	sess_run(struct sess *);
static void	sess_handshake(struct sess *);

void
sess_server_init(struct sess_server *sv, struct event_loop *loop,
    const struct sess_ops *ops, SSL_CTX **tls_ctx)
{
	memset(sv, 0, sizeof(*sv));
	sv->loop = loop;
	sv->ops = ops;
	sv->tls_ctx = tls_ctx;
}

static bool
output_pending(const struct sess *s)
{
	return s->out->len > 0 || stream_output_pending(s->st) > 0;
}

bool
sess_wants_input(const struct sess *s)
{
	return !s->closing && !s->suspended && !s->want_starttls &&
	    !s->handshaking && !s->producing &&
	    stream_output_pending(s->st) < s->p.out_high;
}

void
sess_timer_reset(struct sess *s, uint64_t ms)
{
	if (s->timer != NULL)
		event_timer_reset(s->timer, ms);
}

int
sess_flush(struct sess *s)
{
	size_t	 n, room;

	s->flush_now = false;
	while (s->out->len > 0) {
		n = s->out->len;
		room = s->p.out_max - stream_output_pending(s->st);
		if (n > room)
			n = room;
		if (n == 0)
			break;	/* the rest waits for the socket */
		if (stream_write(s->st, s->out->data, n) == -1) {
			log_warn(s->id, "output buffer full");
			return -1;
		}
		str_consume(s->out, n);
		if (stream_flush(s->st) == -1)
			return -1;
	}
	return stream_flush(s->st) == -1 ? -1 : 0;
}

/* STARTTLS/STLS answered, or an implicit-TLS port: s may be gone. */
static void
tls_begin(struct sess *s)
{
	if (s->fd == -1) {
		sess_free(&s, "no tls in memory");
		return;
	}
	if (stream_starttls(s->st, *s->srv->tls_ctx, true, NULL) == -1) {
		sess_free(&s, "starttls failed");
		return;
	}
	s->handshaking = true;
	if (s->p.handshake_timeout > 0)
		sess_timer_reset(s, s->p.handshake_timeout);
	sess_handshake(s);
}

static void
sess_handshake(struct sess *s)
{
	unsigned int	 ev;
	int		 r;

	r = stream_handshake(s->st);
	if (r == STREAM_AGAIN) {
		ev = stream_events(s->st);
		if (s->io != NULL && event_io_set(s->io, ev) == -1) {
			sess_free(&s, "event error");
			return;
		}
		s->io_events = ev;
		return;
	}
	if (r == -1) {
		sess_free(&s, "tls handshake failed");
		return;
	}
	s->handshaking = false;
	s->is_tls = true;
	tls_describe(stream_ssl(s->st), s->tls_desc, sizeof(s->tls_desc));
	log_info(s->id, "tls established %s", s->tls_desc);
	s->srv->ops->tls_done(s);
	sess_run(s);
}

/* After handling input: write, close, start TLS, choose events.  -1 when
 * the session is gone. */
static int
sess_update(struct sess *s)
{
	unsigned int	 ev;

	if (!s->suspended && !s->producing && sess_flush(s) == -1) {
		sess_free(&s, "write error");
		return -1;
	}
	if (s->closing && !output_pending(s)) {
		sess_free(&s, "quit");
		return -1;
	}
	if (s->want_starttls && !output_pending(s)) {
		s->want_starttls = false;
		tls_begin(s);
		return -1;	/* the handshake runs the session on */
	}
	if (s->peer_eof && sess_wants_input(s)) {
		/* Every complete line is answered (a client may pipeline
		 * QUIT and close its side at once); nothing more will come.
		 * Let the replies go out first. */
		if (!output_pending(s)) {
			sess_free(&s, "disconnect");
			return -1;
		}
		ev = EVENT_WRITE;
	} else if (sess_wants_input(s))
		ev = stream_events(s->st);
	else if (s->producing || stream_output_pending(s->st) > 0)
		ev = EVENT_WRITE;
	else if (s->suspended && !s->io_quiet && s->io_events == EVENT_READ)
		return 0;	/* a client waiting for its reply sends nothing:
				   leave the fd in the set until it does (see
				   sess_io), two epoll_ctl calls less */
	else
		ev = 0;
	if (s->io != NULL) {
		if (event_io_set(s->io, ev) == -1) {
			sess_free(&s, "event error");
			return -1;
		}
		s->io_events = ev;
	}
	return 0;
}

/* Skip an over-long line; 1 when its end was found (and reported). */
static int
skip_line(struct sess *s)
{
	const char	*data, *lf;
	size_t		 len;
	char		 before;

	if (stream_peek(s->st, &data, &len) == 0)
		return 0;
	if ((lf = memchr(data, '\n', len)) == NULL) {
		s->skip_last = data[len - 1];
		stream_discard_input(s->st);
		return 0;
	}
	before = lf > data ? lf[-1] : s->skip_last;
	stream_skip(s->st, (size_t)(lf - data) + 1);
	s->skipping = false;
	s->skip_last = '\0';
	event_timer_del(&s->cmd_timer);		/* the next line has its own */
	s->srv->ops->long_line(s, before != '\r');
	return 1;
}

void
sess_expect_cont(struct sess *s, sess_cont_fn *fn)
{
	s->cont = fn;
	s->cont_secret = fn != NULL;
}

/* Handle one piece of buffered input: 1 done, 0 need more. */
static int
sess_input(struct sess *s)
{
	const struct sess_ops	*ops = s->srv->ops;
	char			*line;
	size_t			 len;
	bool			 bare;
	int			 r;

	if (ops->in_raw != NULL && ops->in_raw(s))
		return ops->raw_input(s);
	if (s->skipping)
		return skip_line(s);
	r = stream_read_line(s->st, ops->line_max(s), &line, &len, &bare);
	if (r == 0)
		return 0;
	if (r == -1) {
		s->skipping = true;
		return 1;
	}
	event_timer_del(&s->cmd_timer);		/* the next line has its own */
	log_trace(s->id, LOG_TRACE_CLIENT, line, len,
	    s->cont_secret || s->mask_next ? LOG_TRACE_SECRET : 0);
	s->mask_next = false;
	if (s->cont != NULL)
		s->cont(s, line, len);
	else
		ops->line(s, line, len, bare);
	return 1;
}

static void
cmd_timeout(void *arg)
{
	struct sess	*s = arg;
	const char	*why;

	why = s->srv->ops->timeout(s, true);
	(void)sess_flush(s);
	sess_free(&s, why);
}

/* After the input is handled: bytes left over while the session waits for
 * input are a line begun and not ended; its deadline runs from here.
 * While the server is busy (output, a delay) the client owes nothing. */
static void
sess_deadline(struct sess *s)
{
	if (s->p.cmd_timeout == 0 || s->srv->loop == NULL)
		return;
	if (!sess_wants_input(s) || (stream_input_pending(s->st) == 0 &&
	    !s->skipping)) {
		event_timer_del(&s->cmd_timer);
		return;
	}
	if (s->cmd_timer == NULL)
		s->cmd_timer = event_timer_add(s->srv->loop, s->p.cmd_timeout,
		    cmd_timeout, s);
}

static void
sess_run(struct sess *s)
{
	const struct sess_ops	*ops = s->srv->ops;
	bool			 backlog, was_raw;
	int			 r;

	do {
		for (;;) {
			if (s->producing) {
				if ((r = ops->produce(s)) == -1) {
					sess_free(&s, "write error");
					return;
				}
				if (r == 0)
					break;
				s->producing = false;
			}
			if (!sess_wants_input(s))
				break;
			was_raw = ops->in_raw != NULL && ops->in_raw(s);
			if (sess_input(s) == 0)
				break;
			if (ops->on_input != NULL)
				ops->on_input(s, was_raw);
			/* Replies also go out once a few KB pile up, so only
			 * the stream's backlog stops input. */
			if ((s->flush_now || s->out->len >= s->p.out_chunk) &&
			    !s->suspended && !s->producing &&
			    sess_flush(s) == -1) {
				sess_free(&s, "write error");
				return;
			}
		}
		/* Stopped by the backlog with input still buffered: if the
		 * flush below drains it, no event would bring us back. */
		backlog = stream_output_pending(s->st) >= s->p.out_high &&
		    stream_input_pending(s->st) > 0;
		sess_deadline(s);
		if (sess_update(s) == -1)
			return;
	} while (backlog && sess_wants_input(s));
}

static void
sess_io(int fd, unsigned int events, void *arg)
{
	struct sess	*s = arg;
	size_t		 before;
	ssize_t		 n;
	int		 i;

	(void)fd;
	if (s->handshaking) {
		sess_handshake(s);
		return;
	}
	if (events & EVENT_WRITE) {
		before = stream_output_pending(s->st);
		if (stream_flush(s->st) == -1) {
			sess_free(&s, "write error");
			return;
		}
		if (stream_output_pending(s->st) < before &&
		    s->srv->ops->on_output != NULL)
			s->srv->ops->on_output(s);
	}
	if ((events & EVENT_READ) && s->suspended)
		s->io_quiet = true;	/* stop watching until resumed */
	if ((events & EVENT_READ) && sess_wants_input(s) && !s->peer_eof) {
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
				sess_free(&s, "read error");
				return;
			}
			if (s->srv->ops->on_read != NULL)
				s->srv->ops->on_read(s, (size_t)n);
			if (stream_fill_drained(s->st))
				break;
		}
	}
	sess_run(s);
}

static void
sess_timeout(void *arg)
{
	struct sess	*s = arg;
	const char	*why;

	why = s->srv->ops->timeout(s, false);
	if (!s->handshaking && !s->producing)
		(void)sess_flush(s);
	sess_free(&s, why);
}

void
sess_suspend(struct sess *s)
{
	s->suspended = true;
}

void
sess_resume(struct sess *s)
{
	s->suspended = false;
	s->io_quiet = false;
	sess_run(s);
}

static void
resume_cb(void *arg)
{
	struct sess	*s = arg;

	s->suspended = false;
	s->io_quiet = false;
	if (s->srv->ops->resumed != NULL)
		s->srv->ops->resumed(s);
	sess_run(s);
}

void
sess_resume_after(struct sess *s, uint64_t ms)
{
	s->suspended = true;
	if (s->srv->loop == NULL)
		return;		/* a memory session: resumed by its driver */
	if (s->resume_timer == NULL)
		s->resume_timer = event_timer_add(s->srv->loop, ms, resume_cb,
		    s);
	else
		event_timer_reset(s->resume_timer, ms);
}

void
sess_produce(struct sess *s)
{
	s->producing = true;
}

unsigned int
sess_count_ip(const struct sess_server *sv, const char *ip)
{
	const struct sess	*s;
	unsigned int		 n = 0;

	for (s = sv->head; s != NULL; s = s->next)
		if (strcmp(s->ip, ip) == 0)
			n++;
	return n;
}

/* Refuse a connection before it costs a session; on an implicit-TLS port
 * the client expects a handshake, so it is only closed. */
static void
refuse(struct sess_server *sv, int fd, enum sess_refuse why, const char *ip,
    bool implicit_tls)
{
	char	 buf[SESS_REFUSE_MAX];
	size_t	 n;

	if (!implicit_tls && sv->ops->refusal(sv, why, ip, buf,
	    sizeof(buf) - 2)) {
		n = strlen(buf);
		buf[n++] = '\r';
		buf[n++] = '\n';
		(void)send(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	(void)close(fd);
}

static void
link_in(struct sess_server *sv, struct sess *s)
{
	s->next = sv->head;
	if (sv->head != NULL)
		sv->head->prev = s;
	sv->head = s;
	sv->count++;
}

static struct sess *
sess_alloc(struct sess_server *sv, size_t size, const struct sess_params *p,
    size_t out_offset)
{
	struct sess	*s;

	BUZ_ASSERT(size >= sizeof(*s) && out_offset + sizeof(struct str) <=
	    size);
	s = xcalloc(1, size);
	s->srv = sv;
	s->p = *p;
	s->out = (struct str *)(void *)((char *)s + out_offset);
	str_init(s->out, 0);
	session_id_new(s->id, sizeof(s->id));
	return s;
}

struct sess *
sess_accept(struct sess_server *sv, size_t size, int fd,
    const struct net_addr *peer, const char *listener, bool implicit_tls,
    const struct sess_params *p, size_t out_offset)
{
	struct sess	*s;
	char		 ip[NET_ADDRSTRLEN];
	int		 one;

	net_addr_str(peer, ip, sizeof(ip));
	if (sv->stopping) {
		log_warn("-", "refused address=%s reason=\"shutting down\"",
		    ip);
		refuse(sv, fd, SESS_REFUSE_STOPPING, ip, implicit_tls);
		return NULL;
	}
	if (implicit_tls && *sv->tls_ctx == NULL) {
		log_warn("-", "refused address=%s reason=\"no TLS "
		    "certificate\"", ip);
		(void)close(fd);
		return NULL;
	}
	if (sv->count >= p->max_total) {
		log_warn("-", "refused address=%s reason=\"too many "
		    "connections\"", ip);
		refuse(sv, fd, SESS_REFUSE_TOTAL, ip, implicit_tls);
		return NULL;
	}
	if (sess_count_ip(sv, ip) >= p->max_per_ip) {
		log_warn("-", "refused address=%s reason=\"too many "
		    "connections from address\"", ip);
		refuse(sv, fd, SESS_REFUSE_PER_IP, ip, implicit_tls);
		return NULL;
	}
	/* Replies are whole writes already; Nagle would only hold back the
	 * last piece of each answer for the peer's delayed ACK. */
	one = 1;
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1 &&
	    errno != EOPNOTSUPP && errno != ENOPROTOOPT)
		log_debug("-", "TCP_NODELAY: %s", strerror(errno));
	s = sess_alloc(sv, size, p, out_offset);
	s->fd = fd;
	s->peer = *peer;
	(void)str_copy(s->ip, ip, sizeof(s->ip));
	s->implicit_tls = implicit_tls;
	s->st = stream_new(fd, p->in_max, p->out_max);
	s->io = event_io_add(sv->loop, fd, 0, sess_io, s);
	s->timer = event_timer_add(sv->loop, p->timeout, sess_timeout, s);
	link_in(sv, s);
	log_info(s->id, "connect address=%s listener=%s", s->ip, listener);
	return s;
}

void
sess_start(struct sess *s)
{
	if (s->fd != -1 && s->io == NULL) {
		sess_free(&s, "event error");
		return;
	}
	if (s->implicit_tls) {
		tls_begin(s);
		return;
	}
	s->srv->ops->greet(s);
	(void)sess_update(s);
}

void
sess_free(struct sess **sp, const char *reason)
{
	struct sess		*s = *sp;
	struct sess_server	*sv;

	if (s == NULL)
		return;
	*sp = NULL;
	sv = s->srv;
	s->closing = true;
	sv->ops->release(s, reason);
	event_io_del(&s->io);
	event_timer_del(&s->timer);
	event_timer_del(&s->cmd_timer);
	event_timer_del(&s->resume_timer);
	stream_free(&s->st);
	if (s->fd != -1)
		(void)close(s->fd);
	str_release(s->out);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		sv->head = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	sv->count--;
	sv->nfreed++;
	free(s);
}

unsigned int
sess_shutdown(struct sess_server *sv)
{
	struct sess	*s, *next;

	sv->stopping = true;
	for (s = sv->head; s != NULL; s = next) {
		next = s->next;
		switch (sv->ops->shutdown(s)) {
		case SESS_SHUT_KEEP:
			break;
		case SESS_SHUT_CLOSE:
			s->closing = true;
			(void)sess_update(s);
			break;
		case SESS_SHUT_FREE:
			if (!s->handshaking && !s->producing)
				(void)sess_flush(s);
			sess_free(&s, "shutdown");
			break;
		}
	}
	return sv->count;
}

/* ---- off the socket ---- */

struct sess *
sess_mem_new(struct sess_server *sv, size_t size,
    const struct sess_params *p, size_t out_offset)
{
	struct sess	*s;

	s = sess_alloc(sv, size, p, out_offset);
	s->fd = -1;
	(void)str_copy(s->ip, "192.0.2.1", sizeof(s->ip));
	(void)net_addr_parse(s->ip, &s->peer);
	s->st = stream_new_mem(p->in_max, p->out_max);
	link_in(sv, s);
	return s;
}

int
sess_feed(struct sess **sp, const void *data, size_t len, bool eof)
{
	struct sess		*s = *sp;
	struct sess_server	*sv = s->srv;
	const char		*p = data;
	unsigned long		 freed = sv->nfreed;
	size_t		 n;

	for (;;) {
		n = stream_feed(s->st, p, len);
		p += n;
		len -= n;
		if (n > 0 && sv->ops->on_read != NULL)
			sv->ops->on_read(s, n);
		if (len == 0 && eof)
			s->peer_eof = true;
		sess_run(s);
		if (sv->nfreed != freed) {
			*sp = NULL;
			return -1;
		}
		if (len == 0 || n == 0)
			break;	/* all in, or no room: the rest is lost */
	}
	return 0;
}
