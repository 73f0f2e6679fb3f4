/* SPDX-License-Identifier: MIT */
/*
 * runner.c - buzon-queued's loop: the socket, the schedule, the rounds
 *
 * A round takes up to ROUND_MAX entries due now, loads and locks each,
 * resolves every recipient still to do (in this thread: the maps are not
 * shared between threads), hands all local copies of the round to the
 * workers at once, then settles each entry: log lines, status records,
 * DSNs, removal or the next attempt.
 *
 * Order of durable steps for one entry (docs/queue.md): copies durable
 * (the workers' batch commits) -> DSNs committed -> either the queue file
 * unlinked (every recipient final) or the status records synced.  An entry
 * whose every recipient ends final in one pass needs no status log at
 * all: the queue file itself says "not done" until it is unlinked, and a
 * crash before that only repeats deliveries and DSNs (duplicates, the
 * durability rule allows them; losses it does not).
 */
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "deliver_accounts.h"
#include "enqueue.h"
#include "log.h"
#include "maps.h"
#include "mem.h"
#include "queued.h"
#include "settings.h"
#include "str.h"

#define ROUND_MAX	64	/* entries per round */
#define BUSY_RETRY	1	/* s: an admin verb holds the entry */
#define IO_RETRY	60	/* s: the entry could not be read */
#define IDLE_RESCAN	32	/* entries since the last scan that make an
				   idle runner look at queue/ again (a
				   burst may overflow the socket) */
#define TMP_MAX_AGE	86400	/* s: stale files in spool/tmp */
#define CLOSER_MAX	1024	/* fds waiting for the closer; beyond, the
				   runner closes them itself */

/*
 * The closer: a thread that closes the fds of removed queue files.  The
 * runner unlinks an entry while it still holds the file open, so its
 * close() is the last reference: the kernel frees the inode and blocks
 * there (with a synchronous discard on discard-mounted ext4), which
 * measured as the limit of the whole runner when done in this thread.
 * Deferring it changes nothing on disk that matters: the name is gone
 * (durably or not: a crash then only repeats a delivery).
 */
struct fd_closer {
	pthread_t	 tid;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	int		*fds;
	size_t		 n, cap;
	bool		 quit;
	bool		 running;
};

struct queue_runner {
	struct queue_conf	 conf;
	struct deliver_conf	 dconf;
	struct accounts_conf	 aconf;
	struct queue_dirs	 dirs;
	int			 lock_fd;
	int			 sock;
	int			 inotify_fd;	/* renames into queue/ */
	struct accounts		*acc;
	struct enqueue		*enq;
	struct queue_sched	*sched;
	struct queue_workers	*workers;
	struct event_loop	*loop;
	struct event_io		*sock_io;
	struct event_io		*inotify_io;
	struct event_timer	*work_timer;
	struct event_timer	*scan_timer;
	size_t			 since_scan;
	char			 postmaster[ACCOUNTS_ADDR_MAX];
	struct fd_closer	 closer;
};

static void *
closer_main(void *arg)
{
	struct fd_closer	*c = arg;
	int			*fds;
	size_t			 n, i;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (c->n == 0 && !c->quit)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->n == 0)
			break;		/* quit, nothing left */
		fds = c->fds;
		n = c->n;
		c->fds = NULL;
		c->n = c->cap = 0;
		pthread_mutex_unlock(&c->mu);
		for (i = 0; i < n; i++)
			(void)close(fds[i]);
		free(fds);
		pthread_mutex_lock(&c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* No thread: closer_push() closes inline. */
static void
closer_start(struct fd_closer *c)
{
	if (pthread_mutex_init(&c->mu, NULL) != 0)
		return;
	if (pthread_cond_init(&c->cv, NULL) != 0) {
		pthread_mutex_destroy(&c->mu);
		return;
	}
	if (pthread_create(&c->tid, NULL, closer_main, c) != 0) {
		pthread_cond_destroy(&c->cv);
		pthread_mutex_destroy(&c->mu);
		return;
	}
	c->running = true;
}

/* Close every fd handed over, then end the thread. */
static void
closer_stop(struct fd_closer *c)
{
	if (!c->running)
		return;
	pthread_mutex_lock(&c->mu);
	c->quit = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->tid, NULL);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c->fds);
	c->fds = NULL;
	c->running = false;
}

static void
closer_push(struct fd_closer *c, int fd)
{
	bool	 queued = false;

	if (c->running) {
		pthread_mutex_lock(&c->mu);
		if (c->n < CLOSER_MAX) {
			if (c->n == c->cap) {
				c->cap = c->cap == 0 ? 64 : c->cap * 2;
				c->fds = xreallocarray(c->fds, c->cap,
				    sizeof(*c->fds));
			}
			c->fds[c->n++] = fd;
			queued = true;
			pthread_cond_signal(&c->cv);
		}
		pthread_mutex_unlock(&c->mu);
	}
	if (!queued)
		(void)close(fd);
}

/* What a round knows about one recipient of one entry. */
struct rcpt_work {
	bool			 attempted;
	enum queue_outcome	 out;
	struct fail		 fail;		/* the worst failure */
	size_t			 ntargets;
	size_t			 ndelivered;
	char			**failed;	/* targets not delivered */
	size_t			 nfailed;
};

struct round_msg {
	struct queue_msg	 m;
	struct rcpt_work	*rw;
	size_t			 job_first;	/* its first job */
};

/* A job's strings and where its result goes. */
struct job_ref {
	size_t			 seq;		/* index in planning order */
	size_t			 msg;
	size_t			 rcpt;
	char			*address;
	char			*path;
};

/* A copy not made: job seq already delivers the entry to that mailbox
 * (a recipient named twice, two aliases of one user, "+detail"). */
struct job_dup {
	size_t			 seq;
	size_t			 rcpt;
	char			*address;
};

struct round {
	struct round_msg	*msgs;
	size_t			 nmsgs;
	struct queue_job	*jobs;
	struct job_ref		*refs;
	size_t			 njobs;
	size_t			 jobs_cap;
	struct job_dup		*dups;
	size_t			 ndups;
	/* The mailboxes the entry being planned has a job for: open
	 * addressing by path, a slot holds a job index + 1. */
	size_t			*slots;
	size_t			 nslots, nused;
};

/* ---- settings ---- */

static char *
dup_or_empty(const char *s)
{
	return xstrdup(s != NULL ? s : "");
}

void
queue_conf_from_config(struct queue_conf *c, const struct config *cfg)
{
	memset(c, 0, sizeof(*c));
	c->state_dir = dup_or_empty(cfg->state_dir);
	c->hostname = dup_or_empty(cfg->hostname);
	c->workers = cfg->queue_delivery_workers;
	c->retry_min = cfg->queue_retry_min / 1000;
	c->retry_max = cfg->queue_retry_max / 1000;
	c->delay_warning_time = cfg->delay_warning_time / 1000;
	c->delay_warning_default = cfg->delay_warning_default;
	c->max_lifetime = cfg->maximal_queue_lifetime / 1000;
	c->double_bounce = dup_or_empty(cfg->double_bounce_recipient);
	c->scan_interval_ms = cfg->queue_scan_interval;
	c->bounce_full_max = cfg->bounce_size_limit;
	c->quota_bounce = cfg->quota_exceeded_bounce;
	c->lock_timeout = (unsigned int)(cfg->mailbox_lock_timeout / 1000);
	c->stale_lock_time = (unsigned int)(cfg->stale_lock_time / 1000);
	c->map_type = dup_or_empty(cfg->map_type);
	c->recipient_delimiter = dup_or_empty(cfg->recipient_delimiter);
	c->local_part_case_sensitive = cfg->local_part_case_sensitive;
}

static void
conf_copy(struct queue_conf *dst, const struct queue_conf *src)
{
	*dst = *src;
	dst->state_dir = dup_or_empty(src->state_dir);
	dst->hostname = dup_or_empty(src->hostname);
	dst->double_bounce = dup_or_empty(src->double_bounce);
	dst->map_type = dup_or_empty(src->map_type);
	dst->recipient_delimiter = dup_or_empty(src->recipient_delimiter);
}

void
queue_conf_release(struct queue_conf *c)
{
	free(c->state_dir);
	free(c->hostname);
	free(c->double_bounce);
	free(c->map_type);
	free(c->recipient_delimiter);
	memset(c, 0, sizeof(*c));
}

static void
runner_apply_conf(struct queue_runner *r)
{
	deliver_conf_init(&r->dconf);
	r->dconf.hostname = r->conf.hostname[0] != '\0' ? r->conf.hostname :
	    NULL;
	r->dconf.quota_bounce = r->conf.quota_bounce;
	if (r->conf.lock_timeout > 0)
		r->dconf.lock_timeout = r->conf.lock_timeout;
	if (r->conf.stale_lock_time > 0)
		r->dconf.stale_lock_time = r->conf.stale_lock_time;
	memset(&r->aconf, 0, sizeof(r->aconf));
	r->aconf.state_dir = r->conf.state_dir;
	r->aconf.map_type = r->conf.map_type;
	r->aconf.recipient_delimiter = r->conf.recipient_delimiter;
	r->aconf.local_part_case_sensitive = r->conf.local_part_case_sensitive;
}

/* double_bounce_recipient, with "@" and the first local domain (in map
 * order) added when it is a bare local part; the host name when there is
 * no local domain. */
static void
runner_find_postmaster(struct queue_runner *r)
{
	struct maps	*m;
	struct maps_iter *it;
	struct str	 key, val, best;
	char		 spec[PATH_MAX + 16], err[256];
	const char	*dom;

	if (strchr(r->conf.double_bounce, '@') != NULL) {
		(void)str_copy(r->postmaster, r->conf.double_bounce,
		    sizeof(r->postmaster));
		return;
	}
	str_init(&key, 0);
	str_init(&val, 0);
	str_init(&best, 0);
	if (accounts_map_spec(&r->aconf, "domains", spec, sizeof(spec)) == 0 &&
	    (m = maps_open(spec, MAPS_F_MISSING_OK, err, sizeof(err))) !=
	    NULL) {
		if ((it = maps_iter_new(m, err, sizeof(err))) != NULL) {
			while (maps_iter_next(it, &key, &val) == 1)
				if (best.len == 0 || strcmp(str_c(&key),
				    str_c(&best)) < 0) {
					str_clear(&best);
					if (str_append(&best, key.data,
					    key.len) == -1)
						str_clear(&best);
				}
			maps_iter_free(&it);
		}
		maps_close(&m);
	}
	dom = best.len > 0 ? str_c(&best) : r->conf.hostname;
	if (!str_printf(r->postmaster, sizeof(r->postmaster), "%s@%s",
	    r->conf.double_bounce, dom))
		(void)str_copy(r->postmaster, "postmaster",
		    sizeof(r->postmaster));
	str_release(&key);
	str_release(&val);
	str_release(&best);
}

/* ---- set-up ---- */

static int
open_dir(const char *state, const char *sub, struct fail *f)
{
	char	 path[PATH_MAX];
	int	 fd;

	if (!str_printf(path, sizeof(path), "%s/%s", state, sub))
		return fail_set(f, true, "4.3.0", "path too long");
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return fail_set(f, true, "4.3.0", "%s: %s", path,
		    strerror(errno));
	return fd;
}

static int
open_socket(struct queue_runner *r, struct fail *f)
{
	struct sockaddr_un	 sun;
	int			 size = 1024 * 1024;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (!str_printf(sun.sun_path, sizeof(sun.sun_path), "%s/%s",
	    r->conf.state_dir, SPOOL_NOTIFY_SOCKET))
		return fail_set(f, true, "4.3.0", "socket path too long");
	if ((r->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		return fail_set(f, true, "4.3.0", "socket: %s",
		    strerror(errno));
	/* Best effort: a larger buffer rides out bursts of commits. */
	(void)setsockopt(r->sock, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	(void)unlink(sun.sun_path);
	if (bind(r->sock, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		return fail_set(f, true, "4.3.0", "bind %s: %s", sun.sun_path,
		    strerror(errno));
	return 0;
}

/*
 * The datagrams of enqueue are a hint: Linux queues at most
 * net.unix.max_dgram_qlen (default 10) of them on a socket and the
 * sender drops the rest, so a burst of commits loses most.  inotify on
 * queue/ loses nothing (an overflow is reported, and answered with a
 * scan), so it is what picks new entries up; the socket carries the
 * admin requests (FLUSH, an id to retry now).
 */
static int
open_inotify(struct queue_runner *r, struct fail *f)
{
	char	 path[PATH_MAX];

	if (!str_printf(path, sizeof(path), "%s/%s", r->conf.state_dir,
	    SPOOL_DIR_QUEUE))
		return fail_set(f, true, "4.3.0", "path too long");
	if ((r->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1 ||
	    inotify_add_watch(r->inotify_fd, path, IN_MOVED_TO |
	    IN_CREATE | IN_ONLYDIR) == -1)
		return fail_set(f, true, "4.3.0", "inotify %s: %s", path,
		    strerror(errno));
	return 0;
}

void
queue_runner_read_inotify(struct queue_runner *r)
{
	char				 buf[16 * 1024]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event	*ev;
	ssize_t				 n;
	char				*p;

	for (;;) {
		if ((n = read(r->inotify_fd, buf, sizeof(buf))) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			return;
		}
		for (p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)(void *)p;
			if (ev->mask & IN_Q_OVERFLOW)
				queue_runner_scan(r, false);
			else if (ev->len > 0 && spool_id_valid(ev->name))
				queue_sched_add(r->sched, ev->name, 0, false);
		}
	}
}

static void
read_socket_hook(void *arg)
{
	queue_runner_read_inotify(arg);
	queue_runner_read_socket(arg);
}

struct queue_runner *
queue_runner_new(const struct queue_conf *c, struct fail *f)
{
	struct queue_runner	*r = xcalloc(1, sizeof(*r));
	char			 path[PATH_MAX], err[256];

	r->dirs.queue_fd = r->dirs.hold_fd = r->dirs.corrupt_fd =
	    r->dirs.status_fd = r->lock_fd = r->sock = r->inotify_fd = -1;
	conf_copy(&r->conf, c);
	runner_apply_conf(r);
	if (enqueue_open(r->conf.state_dir, &r->enq, f) == -1)
		goto fail;
	if (!str_printf(path, sizeof(path), "%s/run/queued.lock",
	    r->conf.state_dir)) {
		fail_set(f, true, "4.3.0", "path too long");
		goto fail;
	}
	if ((r->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1) {
		fail_set(f, true, "4.3.0", "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (flock(r->lock_fd, LOCK_EX | LOCK_NB) == -1) {
		fail_set(f, true, "4.3.0", "another buzon-queued runs on %s",
		    r->conf.state_dir);
		goto fail;
	}
	if ((r->dirs.queue_fd = open_dir(r->conf.state_dir, SPOOL_DIR_QUEUE,
	    f)) == -1 ||
	    (r->dirs.hold_fd = open_dir(r->conf.state_dir, SPOOL_DIR_HOLD,
	    f)) == -1 ||
	    (r->dirs.corrupt_fd = open_dir(r->conf.state_dir,
	    SPOOL_DIR_CORRUPT, f)) == -1 ||
	    (r->dirs.status_fd = open_dir(r->conf.state_dir, SPOOL_DIR_STATUS,
	    f)) == -1)
		goto fail;
	if (open_socket(r, f) == -1 || open_inotify(r, f) == -1)
		goto fail;
	if ((r->acc = accounts_open(&r->aconf, err, sizeof(err))) == NULL) {
		fail_set(f, true, "4.3.0", "accounts: %s", err);
		goto fail;
	}
	runner_find_postmaster(r);
	r->sched = queue_sched_new();
	r->workers = queue_workers_new(r->conf.workers, &r->dconf);
	queue_workers_set_hook(r->workers, read_socket_hook, r);
	closer_start(&r->closer);
	return r;
fail:
	queue_runner_free(&r);
	return NULL;
}

static void
close_fd(int *fd)
{
	if (*fd != -1)
		close(*fd);
	*fd = -1;
}

void
queue_runner_free(struct queue_runner **rp)
{
	struct queue_runner	*r = *rp;

	if (r == NULL)
		return;
	BUZ_ASSERT(r->loop == NULL);	/* queue_runner_stop() first */
	closer_stop(&r->closer);
	queue_workers_free(&r->workers);
	queue_sched_free(&r->sched);
	accounts_close(&r->acc);
	enqueue_close(&r->enq);
	close_fd(&r->sock);
	close_fd(&r->inotify_fd);
	close_fd(&r->dirs.queue_fd);
	close_fd(&r->dirs.hold_fd);
	close_fd(&r->dirs.corrupt_fd);
	close_fd(&r->dirs.status_fd);
	close_fd(&r->lock_fd);
	queue_conf_release(&r->conf);
	free(r);
	*rp = NULL;
}

void
queue_runner_stop(struct queue_runner *r)
{
	event_io_del(&r->sock_io);
	event_io_del(&r->inotify_io);
	event_timer_del(&r->work_timer);
	event_timer_del(&r->scan_timer);
	r->loop = NULL;
}

bool
queue_runner_stopped(const struct queue_runner *r)
{
	return r->loop == NULL;
}

void
queue_runner_reconf(struct queue_runner *r, const struct queue_conf *c)
{
	unsigned int	 workers = r->conf.workers;

	queue_conf_release(&r->conf);
	conf_copy(&r->conf, c);
	r->conf.workers = workers;
	runner_apply_conf(r);
	runner_find_postmaster(r);
}

struct queue_sched *
queue_runner_sched(struct queue_runner *r)
{
	return r->sched;
}

/* ---- scanning and the socket ---- */

void
queue_runner_scan(struct queue_runner *r, bool force)
{
	struct dirent	*de;
	DIR		*d;
	size_t		 before;
	int		 fd;

	if ((fd = dup(r->dirs.queue_fd)) == -1 ||
	    (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		log_warn(NULL, "cannot scan the queue error=\"%s\"",
		    strerror(errno));
		return;
	}
	before = queue_sched_count(r->sched);
	rewinddir(d);
	while ((de = readdir(d)) != NULL)
		if (spool_id_valid(de->d_name))
			queue_sched_add_absent(r->sched, de->d_name, 0, force);
	closedir(d);
	if (r->loop != NULL && queue_sched_count(r->sched) > before)
		log_info(NULL, "scan found entries=%zu not announced",
		    queue_sched_count(r->sched) - before);
	r->since_scan = 0;
}

void
queue_runner_read_socket(struct queue_runner *r)
{
	char	 buf[4097], *line, *nl;
	ssize_t	 n;

	for (;;) {
		n = recv(r->sock, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		buf[n] = '\0';
		for (line = buf; *line != '\0'; line = nl) {
			if ((nl = strchr(line, '\n')) != NULL)
				*nl++ = '\0';
			else
				nl = line + strlen(line);
			if (strcmp(line, "FLUSH") == 0) {
				log_info(NULL, "flush requested");
				queue_sched_flush(r->sched);
				queue_runner_scan(r, true);
			} else if (spool_id_valid(line))
				queue_sched_add(r->sched, line, 0, true);
		}
	}
}

/* ---- one round ---- */

static double
delay_since(const struct spool_env *env)
{
	struct timespec	 ts;
	double		 d;

	clock_gettime(CLOCK_REALTIME, &ts);
	d = (double)ts.tv_sec - (double)env->arrival_sec +
	    ((double)ts.tv_nsec / 1e9 - (double)env->arrival_usec / 1e6);
	return d < 0 ? 0 : d;
}

/* One Postfix-style line per attempt and target. */
static void
log_attempt(const struct queue_msg *m, size_t i, const char *to,
    const char *relay, const char *code, const char *status,
    const char *text)
{
	const struct spool_rcpt	*rc = &m->env.rcpts[i];
	const char		*orig;
	char			 to_s[ACCOUNTS_ADDR_MAX * 2];
	char			 orig_s[SPOOL_MAX_FIELD + 1];
	char			 text_s[SPOOL_STATUS_MAX_TEXT + 1];

	orig = rc->original[0] != '\0' ? rc->original : rc->addr;
	(void)str_sanitize(to_s, sizeof(to_s), to, strlen(to));
	(void)str_sanitize(text_s, sizeof(text_s), text, strlen(text));
	if (strcmp(orig, to) == 0)
		log_info(m->id, "to=<%s>, relay=%s, delay=%.2f, dsn=%s, "
		    "status=%s (%s)", to_s, relay, delay_since(&m->env), code,
		    status, text_s);
	else {
		(void)str_sanitize(orig_s, sizeof(orig_s), orig,
		    strlen(orig));
		log_info(m->id, "to=<%s>, orig_to=<%s>, relay=%s, delay=%.2f, "
		    "dsn=%s, status=%s (%s)", to_s, orig_s, relay,
		    delay_since(&m->env), code, status, text_s);
	}
}

static const char *
outcome_status(const struct fail *f)
{
	return f->temp ? "deferred" : "bounced";
}

/* Target (NULL: the recipient as a whole) failed with f. */
static void
rcpt_fail(struct rcpt_work *w, const char *target, const struct fail *f)
{
	enum queue_outcome	 o = f->temp ? QUEUE_TEMP : QUEUE_PERM;

	if (target != NULL) {
		w->failed = xreallocarray(w->failed, w->nfailed + 1,
		    sizeof(*w->failed));
		w->failed[w->nfailed++] = xstrdup(target);
	}

	if (w->out == QUEUE_OK || o > w->out)
		w->fail = *f;
	w->out = queue_outcome_merge(w->out, o);
}

/* Queue one copy; dr's strings are copied (the address for Delivered-To
 * is the target's, which keeps its case and sub-address as resolved). */
static void
round_add_job(struct round *rd, size_t mi, size_t ri, const char *address,
    const struct deliver_rcpt *dr)
{
	struct round_msg	*rm = &rd->msgs[mi];
	struct queue_job	*j;
	struct job_ref		*ref;

	if (rd->njobs == rd->jobs_cap) {
		rd->jobs_cap = rd->jobs_cap == 0 ? 64 : rd->jobs_cap * 2;
		rd->jobs = xreallocarray(rd->jobs, rd->jobs_cap,
		    sizeof(*rd->jobs));
		rd->refs = xreallocarray(rd->refs, rd->jobs_cap,
		    sizeof(*rd->refs));
	}
	ref = &rd->refs[rd->njobs];
	ref->seq = rd->njobs;
	ref->msg = mi;
	ref->rcpt = ri;
	ref->address = xstrdup(address);
	ref->path = xstrdup(dr->path);
	j = &rd->jobs[rd->njobs++];
	memset(j, 0, sizeof(*j));
	/* The strings are pointed to at delivery time (refs may move). */
	j->rcpt.format = dr->format;
	j->rcpt.quota = dr->quota;
	j->msg.fd = rm->m.fd;
	j->msg.offset = rm->m.env.content_off;
	j->msg.len = rm->m.env.content_len;
	rm->rw[ri].ntargets++;
}

static size_t
path_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a */

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return (size_t)h;
}

/* The slot for path: the job going there, or the empty slot it takes. */
static size_t *
round_slot(struct round *rd, const char *path)
{
	size_t	 i = path_hash(path) & (rd->nslots - 1);

	while (rd->slots[i] != 0 && strcmp(rd->refs[rd->slots[i] - 1].path,
	    path) != 0)
		i = (i + 1) & (rd->nslots - 1);
	return &rd->slots[i];
}

/* Start the table over for the next entry (a big one's table goes). */
static void
round_slots_reset(struct round *rd)
{
	if (rd->nslots > 1024) {
		free(rd->slots);
		rd->slots = NULL;
		rd->nslots = 0;
	} else if (rd->nslots > 0)
		memset(rd->slots, 0, rd->nslots * sizeof(*rd->slots));
	rd->nused = 0;
}

/* Suppress a second copy of entry mi into one mailbox, as Postfix's
 * cleanup drops duplicate recipients: 1 if a job of mi already goes to
 * path (recipient ri then follows its result), else 0, and path is
 * taken by the job the caller adds next. */
static int
round_dedup(struct round *rd, size_t mi, size_t ri, const char *address,
    const char *path)
{
	struct job_dup	*d;
	size_t		*slot, k, n;

	if (rd->nused * 2 >= rd->nslots) {
		n = rd->nslots == 0 ? 16 : rd->nslots * 2;
		free(rd->slots);
		rd->slots = xcalloc(n, sizeof(*rd->slots));
		rd->nslots = n;
		for (k = rd->msgs[mi].job_first; k < rd->njobs; k++)
			*round_slot(rd, rd->refs[k].path) = k + 1;
	}
	slot = round_slot(rd, path);
	if (*slot == 0) {
		*slot = rd->njobs + 1;
		rd->nused++;
		return 0;
	}
	rd->dups = xreallocarray(rd->dups, rd->ndups + 1, sizeof(*rd->dups));
	d = &rd->dups[rd->ndups++];
	d->seq = *slot - 1;
	d->rcpt = ri;
	d->address = xstrdup(address);
	rd->msgs[mi].rw[ri].ntargets++;
	return 1;
}

/* Resolve recipient ri of entry mi and queue its local copies. */
static void
plan_rcpt(struct queue_runner *r, struct round *rd, size_t mi, size_t ri)
{
	struct round_msg	*rm = &rd->msgs[mi];
	struct queue_msg	*m = &rm->m;
	struct rcpt_work	*w = &rm->rw[ri];
	const char		*addr = m->env.rcpts[ri].addr;
	struct accounts_targets	 t;
	struct accounts_user	 u;
	struct deliver_rcpt	 dr;
	struct fail		 f;
	char			 path[PATH_MAX];
	size_t			 k;
	int			 rc;

	w->attempted = true;
	memset(&t, 0, sizeof(t));
	fail_clear(&f);
	rc = accounts_resolve(r->acc, addr, &t, &f);
	if (rc == 0 || (rc == 1 && t.count == 0))
		fail_set(&f, false, "5.1.1", "no such user here: %s", addr);
	if (rc != 1 || t.count == 0) {
		rcpt_fail(w, NULL, &f);
		log_attempt(m, ri, addr, "local", f.code,
		    outcome_status(&f), f.text);
		if (rc == 1)
			accounts_targets_release(&t);
		return;
	}
	for (k = 0; k < t.count; k++) {
		if (!t.items[k].is_local) {
			fail_set(&f, true, "4.4.0",
			    "relay transport not available yet");
			w->ntargets++;
			rcpt_fail(w, t.items[k].address, &f);
			log_attempt(m, ri, t.items[k].address, "none",
			    f.code, "deferred", f.text);
			continue;
		}
		rc = accounts_user_lookup(r->acc, t.items[k].address, &u);
		if (rc == 1 && deliver_user_rcpt(&r->aconf, &u,
		    m->env.sender, path, sizeof(path), &dr) == -1)
			rc = -2;
		if (rc != 1) {
			fail_set(&f, true, "4.3.0", rc == 0 ?
			    "user record vanished" : rc == -2 ?
			    "mailbox path too long" : "user lookup failed");
			w->ntargets++;
			rcpt_fail(w, t.items[k].address, &f);
			log_attempt(m, ri, t.items[k].address, "local",
			    f.code, "deferred", f.text);
			continue;
		}
		if (round_dedup(rd, mi, ri, t.items[k].address, dr.path) == 0)
			round_add_job(rd, mi, ri, t.items[k].address, &dr);
	}
	accounts_targets_release(&t);
}

static void
round_collect(struct queue_runner *r, struct round *rd, uint64_t now,
    size_t *worked_r)
{
	char		 id[SPOOL_ID_LEN + 1];
	bool		 force;
	struct round_msg *rm;

	rd->msgs = xcalloc(ROUND_MAX, sizeof(*rd->msgs));
	while (rd->nmsgs < ROUND_MAX &&
	    queue_sched_next(r->sched, now, id, &force) == 1) {
		(*worked_r)++;
		rm = &rd->msgs[rd->nmsgs];
		switch (queue_msg_load(&r->dirs, id, &rm->m)) {
		case QUEUE_LOAD_OK:
			rm->m.force = force;
			rm->rw = xcalloc(rm->m.env.nrcpts, sizeof(*rm->rw));
			rd->nmsgs++;
			continue;
		case QUEUE_LOAD_BUSY:
			queue_sched_add(r->sched, id, now + BUSY_RETRY, force);
			break;
		case QUEUE_LOAD_RETRY:
			queue_sched_add(r->sched, id, now + IO_RETRY, force);
			break;
		default:
			break;
		}
		queue_msg_release(&rm->m);
	}
}

static void
round_plan(struct queue_runner *r, struct round *rd, uint64_t now)
{
	struct spool_rcpt_status *st;
	struct queue_msg	*m;
	size_t			 mi, ri;

	for (mi = 0; mi < rd->nmsgs; mi++) {
		m = &rd->msgs[mi].m;
		rd->msgs[mi].job_first = rd->njobs;
		round_slots_reset(rd);
		for (ri = 0; ri < m->env.nrcpts; ri++) {
			st = &m->st[ri];
			if (spool_rcpt_state_final(st->state))
				continue;
			if (st->state == SPOOL_RCPT_DEFERRED &&
			    st->until > now && !m->force)
				continue;
			plan_rcpt(r, rd, mi, ri);
		}
	}
}

static int
ref_cmp(const void *a, const void *b)
{
	const struct job_ref	*x = a, *y = b;
	int			 c = strcmp(x->path, y->path);

	if (c != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Order the jobs by mailbox (then as planned), point them at their
 * strings, run them, fold the results back. */
static void
round_deliver(struct queue_runner *r, struct round *rd)
{
	struct round_msg	*rm;
	struct queue_job	*j, *sorted;
	struct job_dup		*d;
	size_t			 k, *pos;
	char			 text[128];

	if (rd->njobs == 0)
		return;
	qsort(rd->refs, rd->njobs, sizeof(*rd->refs), ref_cmp);
	sorted = xreallocarray(NULL, rd->jobs_cap > 0 ? rd->jobs_cap : 1,
	    sizeof(*sorted));
	pos = xreallocarray(NULL, rd->njobs, sizeof(*pos));
	for (k = 0; k < rd->njobs; k++) {
		sorted[k] = rd->jobs[rd->refs[k].seq];
		pos[rd->refs[k].seq] = k;
	}
	free(rd->jobs);
	rd->jobs = sorted;
	for (k = 0; k < rd->njobs; k++) {
		rm = &rd->msgs[rd->refs[k].msg];
		j = &rd->jobs[k];
		j->rcpt.sender = rm->m.env.sender;
		j->rcpt.address = rd->refs[k].address;
		j->rcpt.path = rd->refs[k].path;
	}
	queue_workers_run(r->workers, rd->jobs, rd->njobs);
	for (k = 0; k < rd->njobs; k++) {
		rm = &rd->msgs[rd->refs[k].msg];
		j = &rd->jobs[k];
		if (j->rc == 0) {
			rm->rw[rd->refs[k].rcpt].ndelivered++;
			(void)str_printf(text, sizeof(text), "delivered to %s",
			    j->rcpt.format == DELIVER_MBOX ? "mbox" :
			    "maildir");
			log_attempt(&rm->m, rd->refs[k].rcpt,
			    j->rcpt.address, "local", "2.0.0", "sent", text);
		} else {
			rcpt_fail(&rm->rw[rd->refs[k].rcpt],
			    j->rcpt.address, &j->fail);
			log_attempt(&rm->m, rd->refs[k].rcpt,
			    j->rcpt.address, "local", j->fail.code,
			    outcome_status(&j->fail), j->fail.text);
		}
	}
	/* A suppressed copy shares the outcome of the one made. */
	for (k = 0; k < rd->ndups; k++) {
		d = &rd->dups[k];
		j = &rd->jobs[pos[d->seq]];
		rm = &rd->msgs[rd->refs[pos[d->seq]].msg];
		if (j->rc == 0) {
			rm->rw[d->rcpt].ndelivered++;
			log_attempt(&rm->m, d->rcpt, d->address, "local",
			    "2.0.0", "sent", "duplicate, delivered once");
		} else {
			rcpt_fail(&rm->rw[d->rcpt], d->address, &j->fail);
			log_attempt(&rm->m, d->rcpt, d->address, "local",
			    j->fail.code, outcome_status(&j->fail),
			    j->fail.text);
		}
	}
	free(pos);
}

static void
round_free(struct round *rd)
{
	struct rcpt_work	*w;
	size_t			 k, i;

	for (k = 0; k < rd->nmsgs; k++) {
		for (i = 0; i < rd->msgs[k].m.env.nrcpts; i++) {
			w = &rd->msgs[k].rw[i];
			while (w->nfailed > 0)
				free(w->failed[--w->nfailed]);
			free(w->failed);
		}
		queue_msg_release(&rd->msgs[k].m);
		free(rd->msgs[k].rw);
	}
	for (k = 0; k < rd->njobs; k++) {
		free(rd->refs[k].address);
		free(rd->refs[k].path);
	}
	for (k = 0; k < rd->ndups; k++)
		free(rd->dups[k].address);
	free(rd->dups);
	free(rd->slots);
	free(rd->msgs);
	free(rd->jobs);
	free(rd->refs);
	memset(rd, 0, sizeof(*rd));
}

/* ---- settling one entry ---- */

struct settle {
	struct spool_status_rec	*recs;
	size_t			 nrecs;
	size_t			 cap;
};

static void
settle_rec(struct settle *s, size_t ri, enum spool_rcpt_state state,
    uint64_t now, uint64_t until, const char *code, const char *text)
{
	struct spool_status_rec	*rec;

	if (s->nrecs == s->cap) {
		s->cap = s->cap == 0 ? 8 : s->cap * 2;
		s->recs = xreallocarray(s->recs, s->cap, sizeof(*s->recs));
	}
	rec = &s->recs[s->nrecs++];
	memset(rec, 0, sizeof(*rec));
	rec->rcpt = (uint32_t)ri;
	rec->state = state;
	rec->time = now;
	rec->until = until;
	(void)str_copy(rec->code, code, sizeof(rec->code));
	(void)str_copy(rec->text, text, sizeof(rec->text));
}

/* The new state of an attempted recipient, into st and a record. */
static void
settle_outcome(struct queue_runner *r, struct queue_msg *m, size_t ri,
    const struct rcpt_work *w, uint64_t now, struct settle *s)
{
	struct spool_rcpt_status *st = &m->st[ri];
	char			 text[SPOOL_STATUS_MAX_TEXT + 1];
	char			 child[SPOOL_ID_LEN + 1];
	struct fail		 f;

	switch (w->out) {
	case QUEUE_OK:
		st->state = SPOOL_RCPT_DELIVERED;
		st->until = 0;
		(void)str_copy(st->code, "2.0.0", sizeof(st->code));
		(void)str_printf(st->text, sizeof(st->text),
		    w->ntargets > 1 ? "delivered to %zu mailboxes" :
		    "delivered", w->ntargets);
		break;
	case QUEUE_PERM:
		st->state = SPOOL_RCPT_BOUNCED;
		st->until = 0;
		(void)str_copy(st->code, w->fail.code, sizeof(st->code));
		if (w->ndelivered > 0)
			(void)str_printf(st->text, sizeof(st->text),
			    "%s (delivered to %zu of %zu)", w->fail.text,
			    w->ndelivered, w->ntargets);
		else
			(void)str_copy(st->text, w->fail.text,
			    sizeof(st->text));
		break;
	case QUEUE_TEMP:
		/* Some copies of an expansion are stored: the others go on
		 * in an entry of their own, so a retry does not repeat the
		 * stored ones. */
		if (w->ndelivered > 0 && w->nfailed > 0 &&
		    queue_msg_split(r->enq, m, ri, (const char *const *)
		    w->failed, w->nfailed, child, &f) == 0) {
			log_info(m->id, "to=<%s> continues in %s for %zu of "
			    "%zu targets", m->env.rcpts[ri].addr, child,
			    w->nfailed, w->ntargets);
			st->state = SPOOL_RCPT_DELIVERED;
			st->until = 0;
			(void)str_copy(st->code, "2.0.0", sizeof(st->code));
			(void)str_printf(st->text, sizeof(st->text),
			    "delivered to %zu of %zu, the rest in %s",
			    w->ndelivered, w->ntargets, child);
			break;
		}
		if (queue_is_expired(&r->conf, m->env.arrival_sec, now)) {
			st->state = SPOOL_RCPT_EXPIRED;
			st->until = 0;
			(void)str_printf(text, sizeof(text),
			    "delivery time expired (last error: %s %s)",
			    w->fail.code, w->fail.text);
			(void)str_copy(st->code, "5.4.7", sizeof(st->code));
			(void)str_copy(st->text, text, sizeof(st->text));
			log_attempt(m, ri, m->env.rcpts[ri].addr, "none",
			    "5.4.7", "expired", st->text);
			break;
		}
		st->attempts++;
		st->state = SPOOL_RCPT_DEFERRED;
		st->until = now + queue_retry_delay(&r->conf, st->attempts);
		(void)str_copy(st->code, w->fail.code, sizeof(st->code));
		(void)str_copy(st->text, w->fail.text, sizeof(st->text));
		break;
	}
	st->time = now;
	settle_rec(s, ri, st->state, now, st->until, st->code, st->text);
}

/* Send the DSNs entry m owes now.  Returns false when one could not be
 * queued (the entry must stay and try again). */
static bool
settle_dsns(struct queue_runner *r, struct queue_msg *m, uint64_t now,
    struct settle *s)
{
	struct queue_dsn_item	*items;
	enum queue_dsn_kind	 kind, want;
	struct spool_rcpt_status *st;
	bool			 null = m->env.sender[0] == '\0', ok = true;
	char			 dsn_id[SPOOL_ID_LEN + 1];
	struct fail		 f;
	size_t			 ri, n;
	const char		*to;

	items = xcalloc(m->env.nrcpts, sizeof(*items));
	for (want = QUEUE_DSN_SENDER; want <= QUEUE_DSN_POSTMASTER; want++) {
		n = 0;
		for (ri = 0; ri < m->env.nrcpts; ri++) {
			st = &m->st[ri];
			if (spool_rcpt_state_final(st->state)) {
				if (st->notified)
					continue;
				kind = queue_dsn_owed(st->state,
				    m->env.rcpts[ri].notify, null);
			} else if (st->state == SPOOL_RCPT_DEFERRED &&
			    !st->warned && queue_wants_delay_dsn(&r->conf,
			    m->env.rcpts[ri].notify, null,
			    m->env.arrival_sec, now))
				kind = QUEUE_DSN_SENDER;
			else
				kind = QUEUE_DSN_NONE;
			if (kind != want)
				continue;
			items[n].rcpt = ri;
			items[n].state = st->state;
			items[n].final = m->env.rcpts[ri].addr;
			items[n].code = st->code;
			items[n].text = st->text;
			n++;
		}
		if (n == 0)
			continue;
		to = want == QUEUE_DSN_SENDER ? m->env.sender : r->postmaster;
		if (queue_bounce_send(r->enq, &r->conf, m, items, n, to, now,
		    dsn_id, &f) == -1) {
			log_warn(m->id, "cannot queue DSN to=<%s> error=\"%s "
			    "%s\"", to, f.code, f.text);
			ok = false;
			continue;
		}
		log_info(m->id, "%s notification: %s",
		    want == QUEUE_DSN_SENDER ? "sender delivery status" :
		    "double-bounce", dsn_id);
		for (ri = 0; ri < n; ri++) {
			st = &m->st[items[ri].rcpt];
			if (spool_rcpt_state_final(st->state)) {
				st->notified = true;
				settle_rec(s, items[ri].rcpt,
				    SPOOL_RCPT_NOTIFIED, now, 0, "", dsn_id);
			} else {
				st->warned = true;
				settle_rec(s, items[ri].rcpt,
				    SPOOL_RCPT_WARNED, now, 0, "", dsn_id);
			}
		}
	}
	free(items);
	return ok;
}

static bool
entry_done(const struct queue_msg *m)
{
	bool	 null = m->env.sender[0] == '\0';
	size_t	 ri;

	for (ri = 0; ri < m->env.nrcpts; ri++) {
		if (!spool_rcpt_state_final(m->st[ri].state))
			return false;
		if (!m->st[ri].notified && queue_dsn_owed(m->st[ri].state,
		    m->env.rcpts[ri].notify, null) != QUEUE_DSN_NONE)
			return false;
	}
	return true;
}

/* Append s's records to the entry's status log, durably. */
static int
settle_write(struct queue_runner *r, struct queue_msg *m,
    const struct settle *s)
{
	struct spool_status_log	*log = NULL;
	struct spool_rcpt_status *scratch;
	char			 why[256];
	struct fail		 f;
	size_t			 k;
	int			 rc = 0;

	if (s->nrecs == 0)
		return 0;
	scratch = xcalloc(m->env.nrcpts, sizeof(*scratch));
	if (spool_status_open(r->dirs.status_fd, m->id, scratch,
	    m->env.nrcpts, &log, why, sizeof(why)) != 0) {
		log_error(m->id, "cannot open status log error=\"%s\"", why);
		free(scratch);
		return -1;
	}
	for (k = 0; k < s->nrecs && rc == 0; k++)
		rc = spool_status_append(log, &s->recs[k], false, &f);
	if (rc == 0)
		rc = spool_status_sync(log, &f);
	if (rc != 0)
		log_error(m->id, "cannot write status log error=\"%s\"",
		    f.text);
	spool_status_close(&log);
	free(scratch);
	return rc;
}

static void
round_settle(struct queue_runner *r, struct round_msg *rm, uint64_t now)
{
	struct queue_msg	*m = &rm->m;
	struct settle		 s;
	uint64_t		 due = UINT64_MAX;
	bool			 dsn_ok;
	size_t			 ri;

	memset(&s, 0, sizeof(s));
	for (ri = 0; ri < m->env.nrcpts; ri++)
		if (rm->rw[ri].attempted)
			settle_outcome(r, m, ri, &rm->rw[ri], now, &s);
	dsn_ok = settle_dsns(r, m, now, &s);
	if (entry_done(m)) {
		if (queue_msg_remove(&r->dirs, m) == 0) {
			/* Unlinked, still open: the closer frees it. */
			closer_push(&r->closer, m->fd);
			m->fd = -1;
			log_info(m->id, "removed");
			free(s.recs);
			return;
		}
		due = now + IO_RETRY;
	}
	if (settle_write(r, m, &s) == -1)
		due = now + IO_RETRY;
	for (ri = 0; ri < m->env.nrcpts; ri++)
		if (m->st[ri].state == SPOOL_RCPT_DEFERRED &&
		    m->st[ri].until < due)
			due = m->st[ri].until;
		else if (m->st[ri].state == SPOOL_RCPT_PENDING)
			due = now;
	if (!dsn_ok && now + r->conf.retry_min < due)
		due = now + r->conf.retry_min;
	if (due == UINT64_MAX)		/* final, DSN still owed */
		due = now + r->conf.retry_min;
	queue_sched_add(r->sched, m->id, due, false);
	free(s.recs);
}

size_t
queue_runner_round(struct queue_runner *r, uint64_t now)
{
	struct round	 rd;
	size_t		 worked = 0, mi;

	memset(&rd, 0, sizeof(rd));
	round_collect(r, &rd, now, &worked);
	round_plan(r, &rd, now);
	round_deliver(r, &rd);
	for (mi = 0; mi < rd.nmsgs; mi++)
		round_settle(r, &rd.msgs[mi], now);
	round_free(&rd);
	r->since_scan += worked;
	return worked;
}

/* ---- the event loop ---- */

static void
arm_work(struct queue_runner *r)
{
	uint64_t	 due = queue_sched_earliest(r->sched);
	uint64_t	 now = (uint64_t)time(NULL), ms;

	if (due == UINT64_MAX)
		ms = r->conf.scan_interval_ms;
	else if (due <= now)
		ms = 0;
	else
		ms = (due - now) * 1000;
	if (ms > r->conf.scan_interval_ms)
		ms = r->conf.scan_interval_ms;
	event_timer_reset(r->work_timer, ms);
}

static void
on_work(void *arg)
{
	struct queue_runner	*r = arg;

	if (queue_runner_round(r, (uint64_t)time(NULL)) > 0) {
		event_timer_reset(r->work_timer, 0);
		return;
	}
	if (r->since_scan >= IDLE_RESCAN) {
		queue_runner_scan(r, false);
		event_timer_reset(r->work_timer, 0);
		return;
	}
	arm_work(r);
}

static void
on_scan(void *arg)
{
	struct queue_runner	*r = arg;

	queue_runner_scan(r, false);
	(void)enqueue_clean_tmp(r->enq, TMP_MAX_AGE);
	event_timer_reset(r->scan_timer, r->conf.scan_interval_ms);
	arm_work(r);
}

static void
on_socket(int fd, unsigned int events, void *arg)
{
	struct queue_runner	*r = arg;

	(void)fd;
	(void)events;
	queue_runner_read_inotify(r);
	queue_runner_read_socket(r);
	arm_work(r);
}

/* Status logs whose entry is gone (a crash between the unlink of the
 * queue file and of its log) are removed at start. */
static void
remove_orphan_logs(struct queue_runner *r)
{
	struct dirent	*de;
	struct stat	 sb;
	DIR		*d;
	int		 fd;

	if ((fd = dup(r->dirs.status_fd)) == -1 ||
	    (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (!spool_id_valid(de->d_name) ||
		    fstatat(r->dirs.queue_fd, de->d_name, &sb,
		    AT_SYMLINK_NOFOLLOW) == 0 ||
		    fstatat(r->dirs.hold_fd, de->d_name, &sb,
		    AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
			continue;
		if (unlinkat(r->dirs.status_fd, de->d_name, 0) == 0)
			log_info(de->d_name, "removed status log of a "
			    "finished entry");
	}
	closedir(d);
}

int
queue_runner_start(struct queue_runner *r, struct event_loop *loop)
{
	unsigned int	 n;

	r->loop = loop;
	/* Only old ones: smtpd may be writing the young ones right now. */
	if ((n = enqueue_clean_tmp(r->enq, TMP_MAX_AGE)) > 0)
		log_info(NULL, "removed %u unfinished temp files", n);
	remove_orphan_logs(r);
	queue_runner_scan(r, false);
	log_info(NULL, "started queued=%zu workers=%u postmaster=<%s>",
	    queue_sched_count(r->sched), r->conf.workers, r->postmaster);
	if ((r->sock_io = event_io_add(loop, r->sock, EVENT_READ, on_socket,
	    r)) == NULL || (r->inotify_io = event_io_add(loop, r->inotify_fd,
	    EVENT_READ, on_socket, r)) == NULL)
		return -1;
	r->work_timer = event_timer_add(loop, 0, on_work, r);
	r->scan_timer = event_timer_add(loop, r->conf.scan_interval_ms,
	    on_scan, r);
	return 0;
}
