/* SPDX-License-Identifier: MIT */
/*
 * runner.c - buzon-queued's loop: set-up, the socket and inotify, scans,
 * the timers (the other parts of the runner: runner.h)
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
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "enqueue.h"
#include "log.h"
#include "mem.h"
#include "queued.h"
#include "runner.h"
#include "str.h"


#define IDLE_RESCAN	32	/* entries since the last scan that make an
				   idle runner look at queue/ again (a
				   burst may overflow the socket) */
#define TMP_MAX_AGE	86400	/* s: stale files in spool/tmp */

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
	queue_conf_copy(&r->conf, c);
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
	queue_conf_copy(&r->conf, c);
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
