/* SPDX-License-Identifier: MIT */
/*
 * server.c - buzon-auth's socket, connections and the life of a check
 *
 * The socket is made here, not by the supervisor: it is bound under a
 * temporary name with umask 0117 (so mode 0660 from the start) and
 * renamed over STATE/run/auth.sock, so a stale socket of a previous run is
 * replaced in one step and a client never finds the name missing while we
 * run.  Clients reconnect on their own after a restart (authc.h).
 *
 * A check: parse (a bad field with a good id: "FAIL id invalid"; a line
 * that is no request: hang up), look up the user and its secrets, reserve
 * a throttle attempt (refused: "TEMP id throttled" at once), hash on a
 * worker, finish the throttle attempt, then hold the answer for the
 * throttle's delay on a timer and send it.  Every answer waits at least
 * that delay, right or wrong, as the throttle asks (auth.h).
 */
#include "settings.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accounts_config.h"
#include "authc.h"
#include "authd.h"
#include "log.h"
#include "maps.h"
#include "mem.h"
#include "sandbox.h"
#include "str.h"

#define AUTHD_BACKLOG	128
#define AUTHD_IN_MAX	(4 * AUTH_PROTO_LINE_MAX)
#define AUTHD_OUT_MAX	(1u << 20)

struct authd_conn {
	struct authd		*srv;
	struct authd_conn	*prev, *next;
	int			 fd;
	struct event_io		*io;
	struct str		 in, out;
	unsigned int		 inflight;	/* at workers or held */
	struct authd_job	*held;		/* answers waiting on delays */
	bool			 closed;	/* fd gone; free when idle */
	unsigned int		 cid;
};

static void	conn_io(int, unsigned int, void *);

/* A closed connection lives on while checks of it are at the workers;
 * it is freed only here, at the end of an event's handling (never inside
 * conn_close(), whose callers still look at it). */
static void
conn_free_if_idle(struct authd_conn *c)
{
	if (!c->closed || c->inflight > 0)
		return;
	free(c);
}

static void
job_free(struct authd_job *j)
{
	mem_wipe(j, sizeof(*j));
	free(j);
}

static void
conn_close(struct authd_conn *c, const char *why)
{
	struct authd		*srv = c->srv;
	struct authd_job	*j, *next;

	if (c->closed)
		return;
	log_debug("-", "auth client closed conn=%u reason=\"%s\"", c->cid,
	    why);
	for (j = c->held; j != NULL; j = next) {
		next = j->next;
		event_timer_del(&j->hold);
		job_free(j);
		c->inflight--;
	}
	c->held = NULL;
	event_io_del(&c->io);
	(void)close(c->fd);
	str_release_secret(&c->in);
	str_release(&c->out);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	srv->nconns--;
	c->closed = true;
}

static void
conn_flush(struct authd_conn *c)
{
	const char	*why;

	if (auth_proto_write(c->fd, &c->out, &why) == -1) {
		conn_close(c, why);
		return;
	}
	(void)event_io_set(c->io, EVENT_READ |
	    (c->out.len > 0 ? EVENT_WRITE : 0));
}

static void
conn_reply(struct authd_conn *c, enum auth_proto_status st, uint32_t id,
    const char *text)
{
	if (auth_proto_reply_format(st, id, text, &c->out) == -1) {
		conn_close(c, "reply does not fit");
		return;
	}
	conn_flush(c);
}

static void
job_log(const struct authd_job *j, const char *what)
{
	char	 safe[AUTH_PROTO_ACCOUNT_MAX + 1];

	(void)str_sanitize(safe, sizeof(safe), j->user, strlen(j->user));
	log_info("-", "auth %s service=%s method=%s user=%s address=%s",
	    what, j->service, j->cmd == AUTH_PROTO_APOP ? "apop" : "password",
	    safe, j->ip[0] != '\0' ? j->ip : "-");
}

/* Send the answer of a checked job. */
static void
job_answer(struct authd_conn *c, struct authd_job *j)
{
	bool	 ok = j->verified;

	job_log(j, ok ? "ok" : "failed");
	c->inflight--;
	if (ok)
		conn_reply(c, AUTH_PROTO_OK, j->id, j->at.u.address);
	else
		conn_reply(c, AUTH_PROTO_FAIL, j->id, "auth");
	job_free(j);
}

static void
job_hold_done(void *arg)
{
	struct authd_job	*j = arg;
	struct authd_conn	*c = j->conn;

	event_timer_del(&j->hold);
	if (j->prev != NULL)
		j->prev->next = j->next;
	else
		c->held = j->next;
	if (j->next != NULL)
		j->next->prev = j->prev;
	job_answer(c, j);
	conn_free_if_idle(c);
}

void
authd_job_done(struct authd *srv, struct authd_job *j)
{
	struct authd_conn	*c = j->conn;

	(void)accounts_auth_end(srv->throttle, &j->at, j->verified);
	if (c->closed) {
		c->inflight--;
		job_free(j);
		conn_free_if_idle(c);
		return;
	}
	if (j->at.delay_ms == 0) {
		job_answer(c, j);
		conn_free_if_idle(c);
		return;
	}
	j->prev = NULL;
	j->next = c->held;
	if (c->held != NULL)
		c->held->prev = j;
	c->held = j;
	j->hold = event_timer_add(srv->loop, j->at.delay_ms, job_hold_done,
	    j);
	if (j->hold == NULL)
		fatalx("auth: no timer");
}

/* Look up, reserve, and hand to a worker; or answer at once. */
static void
conn_request(struct authd_conn *c, struct auth_proto_req *req)
{
	struct authd		*srv = c->srv;
	struct authd_job	*j;

	if (c->inflight >= AUTHD_CONN_INFLIGHT_MAX) {
		conn_reply(c, AUTH_PROTO_TEMP, req->id, "internal");
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->conn = c;
	j->id = req->id;
	j->cmd = req->cmd;
	(void)str_copy(j->service, req->service, sizeof(j->service));
	(void)str_copy(j->ip, req->ip, sizeof(j->ip));
	(void)str_copy(j->user, req->account, sizeof(j->user));
	switch (accounts_auth_begin(srv->accounts, srv->throttle, j->ip,
	    req->account, &j->at)) {
	case ACCOUNTS_AUTH_OK:
		break;
	case ACCOUNTS_AUTH_THROTTLED:
		job_log(j, "throttled");
		conn_reply(c, AUTH_PROTO_TEMP, j->id, "throttled");
		job_free(j);
		return;
	default:
		job_log(j, "tempfail");
		conn_reply(c, AUTH_PROTO_TEMP, j->id, "lookup");
		job_free(j);
		return;
	}
	(void)str_copy(j->secret, req->cmd == AUTH_PROTO_APOP ? req->digest :
	    req->password, sizeof(j->secret));
	(void)str_copy(j->timestamp, req->timestamp, sizeof(j->timestamp));
	if (authd_pool_submit(srv->pool, j) == -1) {
		/* AUTHD_POOL_JOBS_MAX checks queued: an overload.  The
		 * attempt stays counted, as an unanswered one would. */
		(void)accounts_auth_end(srv->throttle, &j->at, false);
		job_log(j, "tempfail");
		conn_reply(c, AUTH_PROTO_TEMP, j->id, "internal");
		job_free(j);
		return;
	}
	c->inflight++;
}

static int
conn_line(void *arg, char *line, size_t len)
{
	struct authd_conn	*c = arg;
	struct auth_proto_req	*req = xmalloc(sizeof(*req));

	if (auth_proto_req_parse(line, len, req) == 0)
		conn_request(c, req);
	else if (req->id != 0)
		conn_reply(c, AUTH_PROTO_FAIL, req->id, "invalid");
	else {
		log_warn("-", "auth client sent no request conn=%u", c->cid);
		conn_close(c, "protocol error");
	}
	mem_wipe(req, sizeof(*req));
	free(req);
	return c->closed ? -1 : 0;
}

static void
conn_read(struct authd_conn *c)
{
	const char	*why;

	if (auth_proto_read(c->fd, &c->in, conn_line, c, &why) == -1 &&
	    !c->closed) {
		if (strcmp(why, "line too long") == 0)
			log_warn("-", "auth client line too long conn=%u",
			    c->cid);
		conn_close(c, why);
	}
}

static void
conn_io(int fd, unsigned int events, void *arg)
{
	struct authd_conn	*c = arg;

	(void)fd;
	if (events & EVENT_READ)
		conn_read(c);
	if (!c->closed)
		conn_flush(c);
	conn_free_if_idle(c);
}

static void
accept_cb(int lfd, unsigned int events, void *arg)
{
	static unsigned int	 cids;
	struct authd		*srv = arg;
	struct authd_conn	*c;
	int			 fd;

	(void)events;
	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC))
	    != -1) {
		c = xcalloc(1, sizeof(*c));
		c->srv = srv;
		c->fd = fd;
		c->cid = ++cids;
		str_init(&c->in, AUTHD_IN_MAX);
		str_init(&c->out, AUTHD_OUT_MAX);
		if ((c->io = event_io_add(srv->loop, fd, EVENT_READ, conn_io,
		    c)) == NULL || auth_proto_version_format(&c->out) == -1) {
			event_io_del(&c->io);
			(void)close(fd);
			str_release(&c->out);
			free(c);
			continue;
		}
		c->next = srv->conns;
		if (srv->conns != NULL)
			srv->conns->prev = c;
		srv->conns = c;
		srv->nconns++;
		conn_flush(c);
		conn_free_if_idle(c);
	}
	if (errno != EAGAIN && errno != EINTR)
		log_warn("-", "auth accept failed error=\"%s\"",
		    strerror(errno));
}

/* Bind under a temporary name, then rename over the real one. */
static int
socket_make(struct authd *srv, const char *state_dir)
{
	struct sockaddr_un	 sun;
	char			 tmp[sizeof(sun.sun_path)];
	mode_t			 old;
	int			 fd, rc;

	if (authc_socket_path(state_dir, srv->sock_path,
	    sizeof(srv->sock_path)) == -1 ||
	    !str_printf(tmp, sizeof(tmp), "%s.%ld", srv->sock_path,
	    (long)getpid())) {
		log_error("-", "auth socket path too long state_dir=%s",
		    state_dir);
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	(void)str_copy(sun.sun_path, tmp, sizeof(sun.sun_path));
	(void)unlink(tmp);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return -1;
	old = umask(0117);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	(void)umask(old);
	if (rc == -1 || listen(fd, AUTHD_BACKLOG) == -1 ||
	    rename(tmp, srv->sock_path) == -1) {
		log_error("-", "auth socket %s: %s", srv->sock_path,
		    strerror(errno));
		(void)unlink(tmp);
		(void)close(fd);
		return -1;
	}
	srv->lfd = fd;
	return 0;
}

/*
 * Before the worker threads start: buzon-auth reads the config, maps/ and
 * the passwd map's directory (STATE/auth/, or the directory of an
 * explicit passwd_map), and writes run/ (its socket, the throttle file).
 * No mailbox, no spool, no TLS key.
 */
static int
authd_sandbox(const struct config *cfg)
{
	static const char *const rw[] = { "run", NULL };
	static const char *const ro[] = { "auth", NULL };
	char	 type[16], file[PATH_MAX], err[256], *slash;

	if (cfg->passwd_map == NULL || cfg->passwd_map[0] == '\0') {
		/* A rule needs its directory: make STATE/auth/ now if
		 * nothing has yet, or the first user added later could not
		 * log in. */
		if (str_printf(file, sizeof(file), "%s/auth", cfg->state_dir) &&
		    mkdir(file, 0700) == -1 && errno != EEXIST)
			log_warn("-", "%s: %s", file, strerror(errno));
		return sandbox_daemon_ro(cfg, "buzon-auth", rw, ro, NULL);
	}
	if (maps_spec_file(cfg->passwd_map, type, sizeof(type), file,
	    sizeof(file), err, sizeof(err)) == -1) {
		log_error("-", "passwd_map: %s", err);
		return -1;
	}
	if ((slash = strrchr(file, '/')) != NULL && slash != file)
		*slash = '\0';
	return sandbox_daemon_ro(cfg, "buzon-auth", rw, ro, file);
}

int
authd_init(struct event_loop *loop, const struct config *cfg, void *data)
{
	struct authd		*srv = data;
	struct accounts_conf	 ac;
	char			 err[512];

	memset(srv, 0, sizeof(*srv));
	srv->loop = loop;
	srv->cfg = cfg;
	srv->lfd = -1;
	accounts_config(cfg, &ac);
	ac.read_secrets = true;		/* we alone */
	if ((srv->accounts = accounts_open(&ac, err, sizeof(err))) == NULL) {
		log_error("-", "accounts: %s", err);
		return -1;
	}
	srv->throttle = auth_throttle_from_config(cfg);
	if (socket_make(srv, cfg->state_dir) == -1)
		return -1;
	if ((srv->lio = event_io_add(loop, srv->lfd, EVENT_READ, accept_cb,
	    srv)) == NULL) {
		log_error("-", "auth socket: %s", strerror(errno));
		return -1;
	}
	if (authd_sandbox(cfg) == -1)
		return -1;
	srv->pool = authd_pool_new(srv, cfg->auth_worker_threads);
	log_info("-", "auth ready socket=%s workers=%u", srv->sock_path,
	    cfg->auth_worker_threads);
	return 0;
}

int
authd_reload(const struct config *cfg, void *data)
{
	struct authd	*srv = data;

	/* New throttle settings (trusted networks, delays); the state file
	 * and its counts stay. */
	auth_throttle_close(&srv->throttle);
	srv->throttle = auth_throttle_from_config(cfg);
	srv->cfg = cfg;
	log_info("-", "reloaded");
	return 0;
}

unsigned int
authd_shutdown(void *data)
{
	struct authd		*srv = data;
	struct authd_conn	*c;
	struct stat		 st, lst;

	if (srv->lio != NULL) {
		event_io_del(&srv->lio);
		/* Unlink only our own socket, not a successor's. */
		if (fstat(srv->lfd, &lst) == 0 &&
		    stat(srv->sock_path, &st) == 0 && st.st_ino == lst.st_ino)
			(void)unlink(srv->sock_path);
		(void)close(srv->lfd);
		srv->lfd = -1;
	}
	/* Checks under way finish; answers held for a delay are dropped
	 * (their clients answer a temporary failure). */
	if (srv->pool != NULL && authd_pool_busy(srv->pool) > 0)
		return authd_pool_busy(srv->pool);
	while ((c = srv->conns) != NULL) {
		conn_close(c, "shutdown");
		conn_free_if_idle(c);
	}
	authd_pool_free(&srv->pool);
	accounts_close(&srv->accounts);
	auth_throttle_close(&srv->throttle);
	return 0;
}
