/* SPDX-License-Identifier: MIT */
/*
 * queue_ctl.c - the admin verbs that change the queue (see queue_ctl.h)
 *
 * Status log writes here (bounce) follow the runner's rule: they are made
 * only under the entry's lock, so there is one writer at a time.
 */
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"
#include "queue_ctl.h"
#include "spool.h"
#include "str.h"

struct ctl {
	int	 queue_fd;
	int	 hold_fd;
	int	 status_fd;
	char	*err;
	size_t	 errsize;
};

static int ctl_err(struct ctl *, int e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fill the caller's err ("what: strerror(e)" when e); returns -1. */
static int
ctl_err(struct ctl *c, int e, const char *fmt, ...)
{
	char	 buf[512];
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (e != 0)
		(void)str_printf(c->err, c->errsize, "%s: %s", buf,
		    strerror(e));
	else
		(void)str_copy(c->err, buf, c->errsize);
	return -1;
}

static int
ctl_open(struct ctl *c, const char *state_dir, char *err, size_t errsize)
{
	static const char *const subs[3] = {
	    SPOOL_DIR_QUEUE, SPOOL_DIR_HOLD, SPOOL_DIR_STATUS };
	int		*fds[3];
	char		 path[PATH_MAX];
	int		 i;

	c->err = err;
	c->errsize = errsize;
	fds[0] = &c->queue_fd;
	fds[1] = &c->hold_fd;
	fds[2] = &c->status_fd;
	c->queue_fd = c->hold_fd = c->status_fd = -1;
	for (i = 0; i < 3; i++) {
		if (!str_printf(path, sizeof(path), "%s/%s", state_dir,
		    subs[i]))
			return ctl_err(c, 0, "%s: path too long", state_dir);
		if ((*fds[i] = open(path, O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC)) == -1)
			return ctl_err(c, errno, "%s", path);
	}
	return 0;
}

static void
ctl_close(struct ctl *c)
{
	if (c->queue_fd != -1)
		close(c->queue_fd);
	if (c->hold_fd != -1)
		close(c->hold_fd);
	if (c->status_fd != -1)
		close(c->status_fd);
}

/*
 * Open and lock dirfd/id.  1 with *fd_r (locked; close to unlock), 0 when
 * there is no such entry (any more), -1 with err.
 */
static int
ctl_lock(struct ctl *c, int dirfd, const char *id, int *fd_r)
{
	struct timespec	 pause = { 0, 10 * 1000 * 1000 };
	struct stat	 a, b;
	unsigned int	 waited = 0;
	int		 fd, e;

	for (;;) {
		if ((fd = openat(dirfd, id, O_RDONLY | O_NOFOLLOW |
		    O_CLOEXEC)) == -1) {
			if (errno == ENOENT)
				return 0;
			return ctl_err(c, errno, "%s", id);
		}
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			/* Still the same file under that name? */
			if (fstat(fd, &a) == 0 && fstatat(dirfd, id, &b,
			    AT_SYMLINK_NOFOLLOW) == 0 &&
			    a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
				*fd_r = fd;
				return 1;
			}
			close(fd);
			continue;	/* moved meanwhile: look again */
		}
		e = errno;
		close(fd);
		if (e != EWOULDBLOCK)
			return ctl_err(c, e, "lock %s", id);
		if (waited >= QUEUE_CTL_LOCK_WAIT)
			return ctl_err(c, 0, "%s: busy (the queue runner holds "
			    "it)", id);
		(void)nanosleep(&pause, NULL);
		waited += 10;
	}
}

/* Call fn for id, or for every entry of dirfd when id is ALL.  Returns
 * the sum of fn's results (1 per changed entry) or -1. */
static int
ctl_each(struct ctl *c, int dirfd, const char *id,
    int (*fn)(struct ctl *, int dirfd, const char *id, void *), void *arg)
{
	struct dirent	*de;
	DIR		*d;
	int		 fd, n = 0, rc;

	if (strcmp(id, QUEUE_CTL_ALL) != 0) {
		if (!spool_id_valid(id))
			return 0;
		return fn(c, dirfd, id, arg);
	}
	if ((fd = dup(dirfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return ctl_err(c, errno, "%s", "spool");
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (!spool_id_valid(de->d_name))
			continue;
		if ((rc = fn(c, dirfd, de->d_name, arg)) == -1) {
			n = -1;
			break;
		}
		n += rc;
	}
	closedir(d);
	return n;
}

static int
ctl_move(struct ctl *c, int from, int to, const char *id)
{
	int	 fd, rc;

	if ((rc = ctl_lock(c, from, id, &fd)) != 1)
		return rc;
	if (renameat(from, id, to, id) == -1) {
		rc = ctl_err(c, errno, "move %s", id);
	} else if (fsync(to) == -1 || fsync(from) == -1) {
		rc = ctl_err(c, errno, "fsync spool after moving %s", id);
	}
	close(fd);
	return rc;
}

static int
do_hold(struct ctl *c, int dirfd, const char *id, void *arg)
{
	(void)arg;
	return ctl_move(c, dirfd, c->hold_fd, id);
}

static int
do_release(struct ctl *c, int dirfd, const char *id, void *arg)
{
	struct str	*ids = arg;
	int		 rc;

	if ((rc = ctl_move(c, dirfd, c->queue_fd, id)) == 1 &&
	    ids->len + SPOOL_ID_LEN + 1 <= 4096 &&
	    (str_append_str(ids, id) == -1 || str_append_c(ids, '\n') == -1))
		str_clear(ids);
	return rc;
}

static int
do_delete(struct ctl *c, int dirfd, const char *id, void *arg)
{
	int	 fd, rc;

	(void)arg;
	if ((rc = ctl_lock(c, dirfd, id, &fd)) != 1)
		return rc;
	if (unlinkat(dirfd, id, 0) == -1)
		rc = ctl_err(c, errno, "remove %s", id);
	else {
		(void)spool_status_remove(c->status_fd, id);
		if (fsync(dirfd) == -1)
			rc = ctl_err(c, errno, "fsync spool after removing %s",
			    id);
	}
	close(fd);
	return rc;
}

int
queue_ctl_notify(const char *state_dir, const char *text, char *err,
    size_t errsize)
{
	struct sockaddr_un	 sun;
	int			 s, rc = 1;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (!str_printf(sun.sun_path, sizeof(sun.sun_path), "%s/%s",
	    state_dir, SPOOL_NOTIFY_SOCKET)) {
		(void)str_copy(err, "socket path too long", errsize);
		return -1;
	}
	if ((s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1) {
		(void)str_printf(err, errsize, "socket: %s", strerror(errno));
		return -1;
	}
	if (sendto(s, text, strlen(text), MSG_DONTWAIT,
	    (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (errno == ENOENT || errno == ECONNREFUSED)
			rc = 0;
		else {
			(void)str_printf(err, errsize, "%s: %s", sun.sun_path,
			    strerror(errno));
			rc = -1;
		}
	}
	close(s);
	return rc;
}

static void
notify(const char *state_dir, const char *text, bool *notified_r)
{
	char	 err[256];
	bool	 sent = queue_ctl_notify(state_dir, text, err,
		    sizeof(err)) == 1;

	if (notified_r != NULL)
		*notified_r = sent;
}

int
queue_ctl_hold(const char *state_dir, const char *id, char *err,
    size_t errsize)
{
	struct ctl	 c;
	int		 n = -1;

	if (ctl_open(&c, state_dir, err, errsize) == 0)
		n = ctl_each(&c, c.queue_fd, id, do_hold, NULL);
	ctl_close(&c);
	return n;
}

int
queue_ctl_release(const char *state_dir, const char *id, bool *notified_r,
    char *err, size_t errsize)
{
	struct ctl	 c;
	struct str	 ids;
	int		 n = -1;

	if (notified_r != NULL)
		*notified_r = false;
	str_init(&ids, 0);
	if (ctl_open(&c, state_dir, err, errsize) == 0)
		n = ctl_each(&c, c.hold_fd, id, do_release, &ids);
	ctl_close(&c);
	/* Many at once: a flush is shorter than their ids. */
	if (n > 0)
		notify(state_dir, ids.len > 0 && (size_t)n * (SPOOL_ID_LEN +
		    1) == ids.len ? str_c(&ids) : "FLUSH\n", notified_r);
	str_release(&ids);
	return n;
}

int
queue_ctl_delete(const char *state_dir, const char *id, char *err,
    size_t errsize)
{
	struct ctl	 c;
	int		 n = -1, m;

	if (ctl_open(&c, state_dir, err, errsize) == 0 &&
	    (n = ctl_each(&c, c.queue_fd, id, do_delete, NULL)) >= 0) {
		if ((m = ctl_each(&c, c.hold_fd, id, do_delete, NULL)) == -1)
			n = -1;
		else
			n += m;
	}
	ctl_close(&c);
	return n;
}

/* Append a bounced record for every recipient not yet final. */
static int
bounce_locked(struct ctl *c, int fd, const char *id)
{
	struct spool_env	 env;
	struct spool_rcpt_status *st = NULL;
	struct spool_status_log	*log = NULL;
	struct spool_status_rec	 rec;
	struct fail		 f;
	char			 why[256];
	size_t			 i;
	int			 rc = -1;

	spool_env_init(&env);
	if (spool_read(fd, id, 0, &env, why, sizeof(why)) != 0) {
		ctl_err(c, 0, "%s", why);
		goto out;
	}
	st = xcalloc(env.nrcpts, sizeof(*st));
	if (spool_status_open(c->status_fd, id, st, env.nrcpts, &log, why,
	    sizeof(why)) != 0) {
		ctl_err(c, 0, "status log: %s", why);
		goto out;
	}
	memset(&rec, 0, sizeof(rec));
	rec.state = SPOOL_RCPT_BOUNCED;
	rec.time = (uint64_t)time(NULL);
	(void)str_copy(rec.code, "5.0.0", sizeof(rec.code));
	(void)str_copy(rec.text, "bounced by the administrator",
	    sizeof(rec.text));
	rc = 0;
	for (i = 0; i < env.nrcpts && rc == 0; i++) {
		if (spool_rcpt_state_final(st[i].state))
			continue;
		rec.rcpt = (uint32_t)i;
		rc = spool_status_append(log, &rec, false, &f);
	}
	if (rc == 0)
		rc = spool_status_sync(log, &f);
	if (rc != 0)
		ctl_err(c, 0, "status log: %s", f.text);
out:
	spool_status_close(&log);
	free(st);
	spool_env_release(&env);
	return rc == 0 ? 1 : -1;
}

int
queue_ctl_bounce(const char *state_dir, const char *id, bool *notified_r,
    char *err, size_t errsize)
{
	struct ctl	 c;
	char		 text[SPOOL_ID_LEN + 2];
	int		 fd, n = -1;

	if (notified_r != NULL)
		*notified_r = false;
	if (!spool_id_valid(id))
		return 0;
	if (ctl_open(&c, state_dir, err, errsize) == -1)
		goto out;
	/* A held entry goes back to the queue: the runner sends the DSN. */
	if ((n = ctl_move(&c, c.hold_fd, c.queue_fd, id)) == -1)
		goto out;
	if ((n = ctl_lock(&c, c.queue_fd, id, &fd)) != 1)
		goto out;
	n = bounce_locked(&c, fd, id);
	close(fd);
	if (n == 1 && str_printf(text, sizeof(text), "%s\n", id))
		notify(state_dir, text, notified_r);
out:
	ctl_close(&c);
	return n;
}

int
queue_ctl_retry(const char *state_dir, const char *id, bool *notified_r,
    char *err, size_t errsize)
{
	struct ctl	 c;
	struct stat	 sb;
	char		 text[SPOOL_ID_LEN + 2];
	int		 n = -1;

	if (notified_r != NULL)
		*notified_r = false;
	if (!spool_id_valid(id))
		return 0;
	if (ctl_open(&c, state_dir, err, errsize) == -1)
		goto out;
	if (fstatat(c.queue_fd, id, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
		n = 1;
		if (str_printf(text, sizeof(text), "%s\n", id))
			notify(state_dir, text, notified_r);
	} else if (fstatat(c.hold_fd, id, &sb, AT_SYMLINK_NOFOLLOW) == 0)
		n = ctl_err(&c, 0, "%s is held: release it first", id);
	else
		n = 0;
out:
	ctl_close(&c);
	return n;
}

int
queue_ctl_flush(const char *state_dir, bool *notified_r, char *err,
    size_t errsize)
{
	int	 rc = queue_ctl_notify(state_dir, "FLUSH\n", err, errsize);

	if (notified_r != NULL)
		*notified_r = rc == 1;
	return rc == -1 ? -1 : 0;
}
