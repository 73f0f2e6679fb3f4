/* SPDX-License-Identifier: MIT */
/*
 * spf_client.c - a pool of buzon-spf helpers driven from the event loop
 *
 * A request is a few hundred bytes and a helper has at most one in
 * flight, so it always fits the empty socket buffer: a short write means
 * the helper is broken, not slow, and it is killed.  Answers are read
 * into a fixed buffer of SPF_MSG_MAX bytes; anything beyond one answer,
 * or an answer nobody asked for, is a broken helper too.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "log.h"
#include "mem.h"
#include "settings.h"
#include "spf_client.h"
#include "str.h"

#define SPF_HELPERS_MAX		16
#define SPF_RETRY_MIN_MS	1000	/* after a helper failed to start */
#define SPF_RETRY_MAX_MS	30000

struct spf_helper {
	struct spf_client	*c;
	pid_t			 pid;		/* 0: not running */
	int			 fd;
	struct event_io		*io;
	struct spf_check	*cur;
	bool			 started;	/* next is a restart */
	unsigned int		 fails;		/* startup failures in a row */
	uint64_t		 retry_at;	/* no respawn before (loop ms) */
	unsigned char		 in[SPF_MSG_MAX];
	size_t			 inlen;
};

struct spf_check {
	struct spf_client	*c;
	struct spf_request	 req;
	spf_check_cb		*cb;
	void			*arg;
	struct spf_helper	*h;		/* on a helper, or NULL */
	bool			 queued;
	struct event_timer	*timer;
	bool			 has_early;	/* answered at once */
	struct spf_answer	 early;
	struct spf_check	*prev, *next;	/* queue */
};

struct spf_client {
	struct event_loop	*loop;
	char			**argv;
	char			*receiver;
	uint64_t		 timeout;
	unsigned int		 max_waiting;
	unsigned int		 nhelpers;
	struct spf_helper	 helpers[SPF_HELPERS_MAX];
	struct spf_check	*qhead, *qtail;
	unsigned int		 nwaiting;
	unsigned int		 spawns, restarts;
	struct event_timer	*kick;		/* dispatch on the next turn */
};

static void	spf_dispatch(struct spf_client *);
static struct spf_helper *spf_idle_helper(struct spf_client *);

struct spf_client *
spf_client_new(struct event_loop *loop, const struct spf_client_conf *conf)
{
	struct spf_client	*c;
	size_t			 n, i;

	BUZ_ASSERT(conf->argv != NULL && conf->argv[0] != NULL);
	c = xcalloc(1, sizeof(*c));
	c->loop = loop;
	for (n = 0; conf->argv[n] != NULL; n++)
		continue;
	c->argv = xreallocarray(NULL, n + 1, sizeof(*c->argv));
	for (i = 0; i < n; i++)
		c->argv[i] = xstrdup(conf->argv[i]);
	c->argv[n] = NULL;
	c->receiver = xstrdup(conf->receiver != NULL ? conf->receiver : "");
	c->timeout = conf->timeout_ms;
	c->max_waiting = conf->max_waiting;
	c->nhelpers = conf->helpers;
	if (c->nhelpers < 1)
		c->nhelpers = 1;
	if (c->nhelpers > SPF_HELPERS_MAX)
		c->nhelpers = SPF_HELPERS_MAX;
	for (i = 0; i < c->nhelpers; i++) {
		c->helpers[i].c = c;
		c->helpers[i].fd = -1;
	}
	return c;
}

/* ---- from the configuration ---- */

static void
spf_argv_push(char ***v, size_t *n, const char *s)
{
	*v = xreallocarray(*v, *n + 2, sizeof(**v));
	(*v)[(*n)++] = xstrdup(s);
	(*v)[*n] = NULL;
}

char **
spf_helper_argv(const struct config *cfg, const char *helper_path)
{
	char	**v = NULL;
	size_t	  n = 0, i;

	spf_argv_push(&v, &n, helper_path);
	if (cfg->dns_local_data[0] != '\0') {
		spf_argv_push(&v, &n, "-l");
		spf_argv_push(&v, &n, cfg->dns_local_data);
	}
	for (i = 0; i < cfg->dns_forwarders.count; i++) {
		spf_argv_push(&v, &n, "-F");
		spf_argv_push(&v, &n, cfg->dns_forwarders.items[i]);
	}
	if (cfg->dns_dnssec)
		spf_argv_push(&v, &n, "-D");
	if (cfg->dns_trust_anchor[0] != '\0') {
		spf_argv_push(&v, &n, "-T");
		spf_argv_push(&v, &n, cfg->dns_trust_anchor);
	}
	if (cfg->hostname[0] != '\0') {
		spf_argv_push(&v, &n, "-r");
		spf_argv_push(&v, &n, cfg->hostname);
	}
	if (cfg->user[0] != '\0') {
		spf_argv_push(&v, &n, "-u");
		spf_argv_push(&v, &n, cfg->user);
	}
	return v;
}

void
spf_helper_argv_free(char ***vp)
{
	char	**v = *vp, **p;

	if (v == NULL)
		return;
	for (p = v; *p != NULL; p++)
		free(*p);
	free(v);
	*vp = NULL;
}

void
spf_client_conf_from_config(struct spf_client_conf *conf,
    const struct config *cfg, char *const *argv)
{
	memset(conf, 0, sizeof(*conf));
	conf->argv = (const char *const *)argv;
	conf->receiver = cfg->hostname;
	conf->helpers = cfg->spf_helpers;
	conf->timeout_ms = cfg->spf_timeout;
	conf->max_waiting = 64 * cfg->spf_helpers;
}

/* ---- helpers ---- */

/* Close, kill and reap; returns the wait status, or -1 if there was no
 * process (or someone else reaped it). */
static int
spf_helper_stop(struct spf_helper *h)
{
	int	status = -1;

	if (h->io != NULL)
		event_io_del(&h->io);
	if (h->fd != -1) {
		(void)close(h->fd);
		h->fd = -1;
	}
	if (h->pid > 0) {
		(void)kill(h->pid, SIGKILL);
		while (waitpid(h->pid, &status, 0) == -1)
			if (errno != EINTR) {
				status = -1;
				break;
			}
		h->pid = 0;
	}
	h->inlen = 0;
	return status;
}

static void	spf_helper_readable(int, unsigned int, void *);

static int
spf_helper_spawn(struct spf_helper *h)
{
	struct spf_client	*c = h->c;
	int			 sv[2];
	pid_t			 pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_error("-", "spf helper socketpair error=\"%s\"",
		    strerror(errno));
		return -1;
	}
	if ((pid = fork()) == -1) {
		log_error("-", "spf helper fork error=\"%s\"", strerror(errno));
		(void)close(sv[0]);
		(void)close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		/* Only async-signal-safe calls: the parent may have threads. */
		if (dup2(sv[1], STDIN_FILENO) == -1 ||
		    dup2(sv[1], STDOUT_FILENO) == -1)
			_exit(EXIT_TEMPFAIL);
		closefrom(STDERR_FILENO + 1);
		event_signal_reset_child();
		execv(c->argv[0], c->argv);
		_exit(127);
	}
	(void)close(sv[1]);
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) == -1 ||
	    (h->io = event_io_add(c->loop, sv[0], EVENT_READ,
	    spf_helper_readable, h)) == NULL) {
		h->fd = sv[0];
		h->pid = pid;
		spf_helper_stop(h);
		return -1;
	}
	h->fd = sv[0];
	h->pid = pid;
	h->inlen = 0;
	c->spawns++;
	if (h->started)
		c->restarts++;
	h->started = true;
	log_debug("-", "spf helper started pid=%ld", (long)pid);
	return 0;
}

/* ---- ending checks ---- */

static void
spf_temperror(const struct spf_client *c, const struct spf_request *req,
    const char *why, struct spf_answer *ans)
{
	memset(ans, 0, sizeof(*ans));
	ans->result = SPF_RES_TEMPERROR;
	(void)str_copy(ans->explanation, why, sizeof(ans->explanation));
	spf_received_header(ans->header, sizeof(ans->header), SPF_RES_TEMPERROR,
	    req, c->receiver);
}

static void
spf_unqueue(struct spf_check *k)
{
	struct spf_client	*c = k->c;

	if (!k->queued)
		return;
	if (k->prev != NULL)
		k->prev->next = k->next;
	else
		c->qhead = k->next;
	if (k->next != NULL)
		k->next->prev = k->prev;
	else
		c->qtail = k->prev;
	k->prev = k->next = NULL;
	k->queued = false;
	c->nwaiting--;
}

/* Detach k from queue, helper and timer, and free it. */
static void
spf_check_drop(struct spf_check *k)
{
	spf_unqueue(k);
	if (k->h != NULL) {
		k->h->cur = NULL;
		k->h = NULL;
	}
	if (k->timer != NULL)
		event_timer_del(&k->timer);
	free(k);
}

static void
spf_check_finish(struct spf_check *k, const struct spf_answer *ans)
{
	spf_check_cb	*cb = k->cb;
	void		*arg = k->arg;
	struct spf_answer copy = *ans;

	spf_check_drop(k);
	cb(&copy, arg);
}

/* Helper h is dead or must die; its check, if any, gets temperror. */
static void
spf_helper_fail(struct spf_helper *h, const char *why)
{
	struct spf_check	*k = h->cur;
	struct spf_answer	 ans;

	pid_t			 pid = h->pid;
	int			 status;
	uint64_t		 delay;

	status = spf_helper_stop(h);
	log_warn("-", "spf helper failed pid=%ld reason=\"%s\" status=%d",
	    (long)pid, why, status);
	/*
	 * A helper that exits with an error status never got going (exec
	 * failed, bad DNS setup): starting it again at once would only
	 * fail again, so wait, longer each time.  One killed by a signal
	 * (a crash on one hostile record) is replaced at once.
	 */
	if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) != 0) {
		h->fails++;
		delay = SPF_RETRY_MIN_MS << (h->fails < 6 ? h->fails - 1 : 5);
		if (delay > SPF_RETRY_MAX_MS)
			delay = SPF_RETRY_MAX_MS;
		h->retry_at = event_now_ms(h->c->loop) + delay;
	} else
		h->fails = 0;
	if (k != NULL) {
		spf_temperror(h->c, &k->req, "SPF check failed", &ans);
		spf_check_finish(k, &ans);
	}
}

static void
spf_helper_readable(int fd, unsigned int events, void *arg)
{
	struct spf_helper	*h = arg;
	struct spf_client	*c = h->c;
	struct spf_check	*k;
	struct spf_answer	 ans;
	char			 err[SPF_ERROR_MAX + 1];
	size_t			 used;
	ssize_t			 n;
	int			 rc;

	(void)events;
	n = read(fd, h->in + h->inlen, sizeof(h->in) - h->inlen);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		spf_helper_fail(h, n == 0 ? "exited" : strerror(errno));
		spf_dispatch(c);
		return;
	}
	h->inlen += (size_t)n;
	if (h->cur == NULL) {
		spf_helper_fail(h, "answer nobody asked for");
		spf_dispatch(c);
		return;
	}
	rc = spf_answer_decode(h->in, h->inlen, &ans, &used, err, sizeof(err));
	if (rc == 0 && h->inlen < sizeof(h->in))
		return;
	if (rc != 1 || used != h->inlen) {
		spf_helper_fail(h, rc == 1 ? "more than one answer" :
		    rc == 0 ? "answer too long" : err);
		spf_dispatch(c);
		return;
	}
	h->inlen = 0;
	h->fails = 0;
	k = h->cur;
	if (ans.is_error) {
		log_warn("-", "spf helper refused request error=\"%s\"",
		    ans.error);
		spf_temperror(c, &k->req, "SPF check failed", &ans);
	}
	spf_check_finish(k, &ans);
	spf_dispatch(c);
}

/* ---- dispatch ---- */

static struct spf_helper *
spf_idle_helper(struct spf_client *c)
{
	struct spf_helper	*dead = NULL;
	uint64_t		 now = event_now_ms(c->loop);
	unsigned int		 i;

	for (i = 0; i < c->nhelpers; i++) {
		struct spf_helper *h = &c->helpers[i];

		if (h->cur != NULL)
			continue;
		if (h->pid > 0)
			return h;
		if (dead == NULL && h->retry_at <= now)
			dead = h;
	}
	return dead;
}

/* Helpers free to take a check now (running, or allowed to start). */
static unsigned int
spf_idle_count(const struct spf_client *c)
{
	uint64_t	now = event_now_ms(c->loop);
	unsigned int	i, n = 0;

	for (i = 0; i < c->nhelpers; i++)
		if (c->helpers[i].cur == NULL && (c->helpers[i].pid > 0 ||
		    c->helpers[i].retry_at <= now))
			n++;
	return n;
}

/* No helper runs and none may be started yet. */
static bool
spf_all_down(const struct spf_client *c)
{
	uint64_t	now = event_now_ms(c->loop);
	unsigned int	i;

	for (i = 0; i < c->nhelpers; i++)
		if (c->helpers[i].pid > 0 || c->helpers[i].retry_at <= now)
			return false;
	return true;
}

static void
spf_dispatch(struct spf_client *c)
{
	struct spf_helper	*h;
	struct spf_check	*k;
	struct spf_answer	 ans;
	struct str		 out;
	ssize_t			 n;

	while (c->qhead != NULL && (h = spf_idle_helper(c)) != NULL) {
		k = c->qhead;
		spf_unqueue(k);
		if (h->pid == 0 && spf_helper_spawn(h) == -1) {
			spf_temperror(c, &k->req, "SPF helper unavailable",
			    &ans);
			spf_check_finish(k, &ans);
			continue;
		}
		str_init(&out, SPF_MSG_MAX);
		if (spf_request_encode(&k->req, &out) == -1)
			panic("spf request over its bounds");
		n = send(h->fd, out.data, out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
		k->h = h;
		h->cur = k;
		if (n < 0 || (size_t)n != out.len)
			spf_helper_fail(h, n < 0 ? strerror(errno) :
			    "short write");
		str_release(&out);
	}
	/* Waiting is pointless while every helper is in its retry delay. */
	while (c->qhead != NULL && spf_all_down(c)) {
		k = c->qhead;
		spf_unqueue(k);
		spf_temperror(c, &k->req, "SPF helper unavailable", &ans);
		spf_check_finish(k, &ans);
	}
}

/* ---- checks ---- */

static void
spf_check_timeout(void *arg)
{
	struct spf_check	*k = arg;
	struct spf_client	*c = k->c;
	struct spf_answer	 ans;

	/* A fired one-shot timer stays with the loop until deleted. */
	event_timer_del(&k->timer);
	if (k->has_early) {
		ans = k->early;
		spf_check_finish(k, &ans);
		return;
	}
	if (k->h != NULL) {
		/* Slow means stuck or attacked: replace the helper. */
		log_warn("-", "spf helper timed out pid=%ld", (long)k->h->pid);
		k->h->cur = NULL;
		spf_helper_stop(k->h);
		k->h = NULL;
	}
	spf_temperror(c, &k->req, "SPF check timed out", &ans);
	spf_check_finish(k, &ans);
	spf_dispatch(c);
}

static void
spf_kick(void *arg)
{
	struct spf_client	*c = arg;

	event_timer_del(&c->kick);	/* fired, still the loop's */
	spf_dispatch(c);
}

struct spf_check *
spf_check_start(struct spf_client *c, const struct spf_request *req,
    spf_check_cb *cb, void *arg)
{
	struct spf_check	*k;

	k = xcalloc(1, sizeof(*k));
	k->c = c;
	k->req = *req;
	k->cb = cb;
	k->arg = arg;
	if (c->nwaiting >= c->max_waiting + spf_idle_count(c)) {
		/* Overload: answer on the next turn, never from here. */
		log_warn("-", "spf queue full waiting=%u", c->nwaiting);
		spf_temperror(c, req, "SPF checks overloaded", &k->early);
		k->has_early = true;
		k->timer = event_timer_add(c->loop, 0, spf_check_timeout, k);
		return k;
	}
	k->timer = event_timer_add(c->loop, c->timeout, spf_check_timeout, k);
	k->queued = true;
	k->prev = c->qtail;
	if (c->qtail != NULL)
		c->qtail->next = k;
	else
		c->qhead = k;
	c->qtail = k;
	c->nwaiting++;
	/* Dispatch from the loop, so no answer (not even a failure to
	 * start a helper) can reach the caller from inside this call. */
	if (c->kick == NULL)
		c->kick = event_timer_add(c->loop, 0, spf_kick, c);
	return k;
}

void
spf_check_cancel(struct spf_check **kp)
{
	struct spf_check	*k = *kp;
	struct spf_helper	*h;

	if (k == NULL)
		return;
	if ((h = k->h) != NULL) {
		h->cur = NULL;
		k->h = NULL;
		spf_helper_stop(h);
	}
	spf_check_drop(k);
	*kp = NULL;
}

void
spf_client_free(struct spf_client **cp)
{
	struct spf_client	*c = *cp;
	unsigned int		 i;
	char			**a;

	if (c == NULL)
		return;
	for (i = 0; i < c->nhelpers; i++) {
		struct spf_helper *h = &c->helpers[i];

		if (h->cur != NULL)
			spf_check_drop(h->cur);
		spf_helper_stop(h);
	}
	while (c->qhead != NULL)
		spf_check_drop(c->qhead);
	if (c->kick != NULL)
		event_timer_del(&c->kick);
	for (a = c->argv; *a != NULL; a++)
		free(*a);
	free(c->argv);
	free(c->receiver);
	free(c);
	*cp = NULL;
}

pid_t
spf_client_helper_pid(const struct spf_client *c, unsigned int i)
{
	return i < c->nhelpers ? c->helpers[i].pid : 0;
}

unsigned int
spf_client_spawns(const struct spf_client *c)
{
	return c->spawns;
}

unsigned int
spf_client_restarts(const struct spf_client *c)
{
	return c->restarts;
}
