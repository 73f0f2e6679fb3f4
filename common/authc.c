/* SPDX-License-Identifier: MIT */
/*
 * authc.c - non-blocking client of buzon-auth (see authc.h)
 *
 * One socket, one output buffer (requests, passwords inside: wiped as
 * soon as they are written), one input buffer (replies, one a line).
 * Each request has its own timer: the timeout, or, for an answer known at
 * submit time, a 0 ms timer that delivers it from the loop.
 */
#include "settings.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth_proto.h"
#include "authc.h"
#include "log.h"
#include "mem.h"
#include "str.h"

#define AUTHC_BACKOFF_MIN	100	/* ms */
#define AUTHC_BACKOFF_MAX	5000
#define AUTHC_IN_MAX		(4 * AUTH_PROTO_LINE_MAX)
#define AUTHC_OUT_MAX		(4u << 20)	/* 4 MiB of requests */

enum authc_state { AUTHC_DOWN, AUTHC_CONNECTING, AUTHC_UP };

struct authc_req {
	struct authc		*c;
	struct authc_req	*prev, *next;
	uint32_t		 id;
	authc_cb		*cb;
	void			*arg;
	struct event_timer	*timer;
	enum authc_result	 early;		/* known at submit */
	bool			 has_early;
};

struct authc {
	struct event_loop	*loop;
	char			*path;
	char			*service;
	uint64_t		 timeout_ms;
	enum authc_state	 state;
	int			 fd;
	struct event_io		*io;
	bool			 got_version;
	struct str		 in, out;
	uint32_t		 next_id;
	uint64_t		 backoff_ms;	/* 0: try at once */
	uint64_t		 next_try_ms;
	struct authc_req	*reqs;
	size_t			 nreqs;
};

int
authc_socket_path(const char *state_dir, char *out, size_t outsize)
{
	return str_printf(out, outsize, "%s/%s", state_dir, AUTHC_SOCKET) &&
	    strlen(out) < sizeof(((struct sockaddr_un *)0)->sun_path) ? 0 : -1;
}

struct authc *
authc_new(struct event_loop *loop, const char *path, const char *service,
    uint64_t timeout_ms)
{
	struct authc	*c = xcalloc(1, sizeof(*c));

	c->loop = loop;
	c->path = xstrdup(path);
	c->service = xstrdup(service);
	c->timeout_ms = timeout_ms;
	c->fd = -1;
	str_init(&c->in, AUTHC_IN_MAX);
	str_init(&c->out, AUTHC_OUT_MAX);
	return c;
}

static void
req_unlink(struct authc_req *r)
{
	struct authc	*c = r->c;

	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		c->reqs = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	c->nreqs--;
	event_timer_del(&r->timer);
	free(r);
}

/* Answer r and forget it. */
static void
req_answer(struct authc_req *r, enum authc_result res, const char *account)
{
	authc_cb	*cb = r->cb;
	void		*arg = r->arg;

	req_unlink(r);
	cb(res, account, arg);
}

/* Answer everything in flight: TEMP, or what was known at submit.  A
 * callback may submit again: it then finds the state DOWN. */
static void
req_answer_all(struct authc *c)
{
	struct authc_req *r;

	while ((r = c->reqs) != NULL)
		req_answer(r, r->has_early ? r->early : AUTHC_TEMP, "");
}

static void
authc_close(struct authc *c)
{
	event_io_del(&c->io);
	if (c->fd != -1)
		(void)close(c->fd);
	c->fd = -1;
	c->state = AUTHC_DOWN;
	c->got_version = false;
	str_release(&c->in);
	str_release_secret(&c->out);
}

/* The connection broke: everything in flight gets a temporary failure. */
static void
authc_drop(struct authc *c, const char *why)
{
	log_warn("-", "auth service lost socket=%s reason=\"%s\" pending=%zu",
	    c->path, why, c->nreqs);
	authc_close(c);
	c->next_try_ms = event_now_ms(c->loop) + c->backoff_ms;
	req_answer_all(c);
}

static void
authc_fail_connect(struct authc *c, int err)
{
	c->backoff_ms = c->backoff_ms == 0 ? AUTHC_BACKOFF_MIN :
	    c->backoff_ms * 2 > AUTHC_BACKOFF_MAX ? AUTHC_BACKOFF_MAX :
	    c->backoff_ms * 2;
	log_warn("-", "auth service unreachable socket=%s error=\"%s\" "
	    "retry_ms=%llu", c->path, strerror(err),
	    (unsigned long long)c->backoff_ms);
	authc_close(c);
	c->next_try_ms = event_now_ms(c->loop) + c->backoff_ms;
}

static void	authc_io(int, unsigned int, void *);

static int
authc_connect(struct authc *c)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (!str_copy(sun.sun_path, c->path, sizeof(sun.sun_path))) {
		authc_fail_connect(c, ENAMETOOLONG);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		authc_fail_connect(c, errno);
		return -1;
	}
	c->fd = fd;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		c->state = AUTHC_UP;
	else if (errno == EINPROGRESS || errno == EAGAIN)
		c->state = AUTHC_CONNECTING;
	else {
		authc_fail_connect(c, errno);
		return -1;
	}
	c->io = event_io_add(c->loop, fd, EVENT_READ | EVENT_WRITE, authc_io,
	    c);
	if (c->io == NULL) {
		authc_fail_connect(c, errno);
		return -1;
	}
	return 0;
}

static void
authc_flush(struct authc *c)
{
	const char	*why;

	if (auth_proto_write(c->fd, &c->out, &why) == -1) {
		authc_drop(c, why);
		return;
	}
	if (c->out.len == 0)
		str_release_secret(&c->out);
	(void)event_io_set(c->io, EVENT_READ |
	    (c->out.len > 0 ? EVENT_WRITE : 0));
}

static void
authc_reply(struct authc *c, const char *line, size_t len)
{
	struct auth_proto_reply	 rep;
	struct authc_req	*r;
	enum authc_result	 res;

	if (!c->got_version) {
		if (!auth_proto_version_ok(line, len)) {
			authc_drop(c, "unknown protocol version");
			return;
		}
		c->got_version = true;
		return;
	}
	if (auth_proto_reply_parse(line, len, &rep) == -1) {
		authc_drop(c, "bad reply");
		return;
	}
	for (r = c->reqs; r != NULL && (r->id != rep.id || r->has_early);
	    r = r->next)
		continue;
	if (r == NULL)
		return;		/* timed out or cancelled */
	if (rep.status == AUTH_PROTO_OK)
		res = AUTHC_OK;
	else if (rep.status == AUTH_PROTO_FAIL)
		res = AUTHC_FAIL;
	else if (strcmp(rep.text, "throttled") == 0)
		res = AUTHC_THROTTLED;
	else
		res = AUTHC_TEMP;
	req_answer(r, res, res == AUTHC_OK ? rep.text : "");
}

static int
authc_line(void *arg, char *line, size_t len)
{
	struct authc	*c = arg;

	authc_reply(c, line, len);
	return c->state == AUTHC_UP ? 0 : -1;
}

static void
authc_read(struct authc *c)
{
	const char	*why;

	if (auth_proto_read(c->fd, &c->in, authc_line, c, &why) == -1 &&
	    c->state == AUTHC_UP)
		authc_drop(c, why);
}

static void
authc_io(int fd, unsigned int events, void *arg)
{
	struct authc	*c = arg;
	socklen_t	 len = sizeof(int);
	int		 err = 0;

	if (c->state == AUTHC_CONNECTING) {
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			err = errno;
		if (err != 0) {
			authc_fail_connect(c, err);
			req_answer_all(c);
			return;
		}
		c->state = AUTHC_UP;
	}
	c->backoff_ms = 0;
	if (events & EVENT_READ) {
		authc_read(c);
		if (c->state != AUTHC_UP)
			return;
	}
	authc_flush(c);
}

static void
req_timer(void *arg)
{
	struct authc_req	*r = arg;

	if (r->has_early) {
		req_answer(r, r->early, "");
		return;
	}
	log_warn("-", "auth service timeout id=%u", r->id);
	req_answer(r, AUTHC_TEMP, "");
}

static struct authc_req *
req_new(struct authc *c, authc_cb *cb, void *arg)
{
	struct authc_req	*r = xcalloc(1, sizeof(*r));

	r->c = c;
	r->cb = cb;
	r->arg = arg;
	if (++c->next_id == 0)
		c->next_id = 1;
	r->id = c->next_id;
	r->next = c->reqs;
	if (c->reqs != NULL)
		c->reqs->prev = r;
	c->reqs = r;
	c->nreqs++;
	r->timer = event_timer_add(c->loop, c->timeout_ms, req_timer, r);
	if (r->timer == NULL)
		fatalx("auth client: no timer");
	return r;
}

static void
req_early(struct authc_req *r, enum authc_result res)
{
	r->has_early = true;
	r->early = res;
	event_timer_reset(r->timer, 0);
}

/* Queue req on the connection, connecting first if need be. */
static struct authc_req *
authc_submit(struct authc *c, struct auth_proto_req *pr, authc_cb *cb,
    void *arg)
{
	struct authc_req	*r = req_new(c, cb, arg);

	pr->id = r->id;
	(void)str_copy(pr->service, c->service, sizeof(pr->service));
	if (c->state == AUTHC_DOWN &&
	    event_now_ms(c->loop) >= c->next_try_ms)
		(void)authc_connect(c);
	if (c->state == AUTHC_DOWN)
		req_early(r, AUTHC_TEMP);
	else if (auth_proto_req_format(pr, &c->out) == -1)
		req_early(r, AUTHC_FAIL);	/* a field out of bounds */
	else if (c->io != NULL)
		(void)event_io_set(c->io, EVENT_READ | EVENT_WRITE);
	mem_wipe(pr, sizeof(*pr));
	return r;
}

static bool
fields_fit(struct auth_proto_req *pr, const char *ip, const char *account)
{
	return str_copy(pr->ip, ip != NULL ? ip : "", sizeof(pr->ip)) &&
	    str_copy(pr->account, account, sizeof(pr->account));
}

struct authc_req *
authc_pass(struct authc *c, const char *ip, const char *account,
    const char *password, authc_cb *cb, void *arg)
{
	struct auth_proto_req	*pr = xcalloc(1, sizeof(*pr));
	struct authc_req	*r;

	pr->cmd = AUTH_PROTO_PASS;
	if (!fields_fit(pr, ip, account) ||
	    !str_copy(pr->password, password, sizeof(pr->password)))
		pr->account[0] = '\0';	/* refused by the formatter */
	r = authc_submit(c, pr, cb, arg);
	free(pr);
	return r;
}

struct authc_req *
authc_apop(struct authc *c, const char *ip, const char *account,
    const char *timestamp, const char *digest, authc_cb *cb, void *arg)
{
	struct auth_proto_req	*pr = xcalloc(1, sizeof(*pr));
	struct authc_req	*r;

	pr->cmd = AUTH_PROTO_APOP;
	if (!fields_fit(pr, ip, account) ||
	    !str_copy(pr->timestamp, timestamp, sizeof(pr->timestamp)) ||
	    !str_copy(pr->digest, digest, sizeof(pr->digest)))
		pr->account[0] = '\0';
	r = authc_submit(c, pr, cb, arg);
	free(pr);
	return r;
}

void
authc_cancel(struct authc_req **rp)
{
	if (*rp == NULL)
		return;
	req_unlink(*rp);
	*rp = NULL;
}

uint64_t
authc_timeout_ms(const struct authc *c)
{
	return c->timeout_ms;
}

size_t
authc_pending(const struct authc *c)
{
	return c->nreqs;
}

void
authc_free(struct authc **cp)
{
	struct authc	*c = *cp;

	if (c == NULL)
		return;
	while (c->reqs != NULL)
		req_unlink(c->reqs);
	authc_close(c);
	free(c->path);
	free(c->service);
	free(c);
	*cp = NULL;
}
