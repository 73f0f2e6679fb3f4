/* SPDX-License-Identifier: MIT */
/*
 * mbox_lock.c - dotlock plus fcntl, the locking every mbox writer shares
 *
 * See mbox_lock.h for the contract and docs/mailbox.md for the why.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mbox_lock.h"
#include "str.h"

/* Open file description locks where there are: they conflict with
 * classic fcntl locks both ways, and are not dropped when the process
 * closes some other fd of the same file. */
#ifdef F_OFD_SETLK
#define MBOX_SETLK	F_OFD_SETLK
#else
#define MBOX_SETLK	F_SETLK
#endif

/* Milliseconds on the monotonic clock. */
static int64_t
now_ms(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleep *ms (but not past deadline), then double *ms up to 200.  0, or
 * -1 when the deadline has passed already. */
static int
pause_until(unsigned int *ms, int64_t deadline)
{
	struct timespec	 ts;
	int64_t		 left;

	if ((left = deadline - now_ms()) <= 0)
		return -1;
	if (left > (int64_t)*ms)
		left = *ms;
	ts.tv_sec = 0;
	ts.tv_nsec = (long)left * 1000000L;
	(void)nanosleep(&ts, NULL);
	if (*ms < 200)
		*ms *= 2;
	return 0;
}

/* Remove the dotlock if it is stale (see mbox_lock.h): 1 gone (removed
 * or vanished), 0 kept. */
static int
break_stale(const char *lock, unsigned int stale_time)
{
	struct stat	 st, st2;
	char		 buf[32];
	ssize_t		 n;
	uint64_t	 pid;
	int		 fd;

	if (lstat(lock, &st) == -1)
		return errno == ENOENT ? 1 : 0;
	if (time(NULL) - st.st_mtime < (time_t)stale_time)
		return 0;
	if ((fd = open(lock, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) != -1) {
		n = read(fd, buf, sizeof(buf) - 1);
		(void)close(fd);
		if (n > 0) {
			buf[n] = '\0';
			buf[strcspn(buf, "\n")] = '\0';
			if (strnum_u64(buf, 1, INT_MAX, &pid) == 0 &&
			    (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
				return 0;	/* its owner still runs */
		}
	}
	/* Another process may have broken it and locked anew meanwhile. */
	if (lstat(lock, &st2) == -1 || st2.st_ino != st.st_ino ||
	    st2.st_dev != st.st_dev || st2.st_mtime != st.st_mtime)
		return 0;
	if (unlink(lock) == -1)
		return 0;
	log_warn(NULL, "removed stale lock=%s", lock);
	return 1;
}

/* 0 taken (or impossible here: l->dotlocked false), -1 with l->err. */
static int
dotlock_take(struct mbox_lock *l, unsigned int stale_time, int64_t deadline)
{
	char		 pid[24];
	unsigned int	 ms = 10;
	size_t		 len;
	int		 fd;

	for (;;) {
		fd = open(l->lock, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		if (fd != -1)
			break;
		if (errno == EACCES || errno == EPERM || errno == EROFS) {
			log_debug(NULL, "no dotlock possible lock=%s error=%s",
			    l->lock, strerror(errno));
			return 0;
		}
		if (errno != EEXIST) {
			l->err = errno;
			return -1;
		}
		if (break_stale(l->lock, stale_time) == 1)
			continue;
		if (pause_until(&ms, deadline) == -1)
			return -1;
	}
	(void)str_printf(pid, sizeof(pid), "%ld\n", (long)getpid());
	len = strlen(pid);
	errno = 0;
	if (write(fd, pid, len) != (ssize_t)len) {
		l->err = errno != 0 ? errno : EIO;
		(void)close(fd);
		(void)unlink(l->lock);
		return -1;
	}
	(void)close(fd);
	l->dotlocked = true;
	return 0;
}

/* Open path and take its fcntl lock, again on the new file if an expunge
 * renamed one into place meanwhile.  0 with l->fd, or -1 with l->err. */
static int
fcntl_take(struct mbox_lock *l, const char *path, int64_t deadline)
{
	struct flock	 fl;
	struct stat	 a, b;
	unsigned int	 ms = 10;

	for (;;) {
		l->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		if (l->fd == -1) {
			l->err = errno;
			return -1;
		}
		for (;;) {
			memset(&fl, 0, sizeof(fl));
			fl.l_type = F_WRLCK;
			fl.l_whence = SEEK_SET;
			if (fcntl(l->fd, MBOX_SETLK, &fl) == 0)
				break;
			if (errno != EAGAIN && errno != EACCES &&
			    errno != EINTR)
				l->err = errno;
			if (l->err != 0 || pause_until(&ms, deadline) == -1) {
				(void)close(l->fd);
				l->fd = -1;
				return -1;
			}
		}
		if (fstat(l->fd, &a) == 0 && stat(path, &b) == 0 &&
		    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
			return 0;
		(void)close(l->fd);	/* replaced under us: again */
		l->fd = -1;
		if (now_ms() >= deadline)
			return -1;
	}
}

int
mbox_lock_take(const char *path, const struct mbox_lock_conf *conf,
    struct mbox_lock *l, struct fail *f)
{
	unsigned int	 stale = MBOX_LOCK_STALE_TIME;
	int64_t		 deadline;

	l->fd = -1;
	l->err = 0;
	l->dotlocked = false;
	l->lock[0] = '\0';
	if (conf != NULL) {
		stale = conf->stale_time;
		deadline = now_ms() + (int64_t)conf->timeout_ms;
	} else
		deadline = now_ms() + MBOX_LOCK_TIMEOUT_MS;
	if (!str_printf(l->lock, sizeof(l->lock), "%s.lock", path)) {
		l->lock[0] = '\0';
		l->err = ENAMETOOLONG;
		return fail_set(f, true, "4.3.0", "mailbox path too long");
	}
	if (dotlock_take(l, stale, deadline) == 0 &&
	    fcntl_take(l, path, deadline) == 0)
		return 0;
	mbox_lock_release(l);
	if (l->err == 0)
		return fail_set(f, true, "4.2.0",
		    "mailbox is locked, try again later");
	log_error(NULL, "mbox lock failed mbox=%s error=%s", path,
	    strerror(l->err));
	return fail_set(f, true, "4.3.0", "cannot lock the mailbox: %s",
	    strerror(l->err));
}

void
mbox_lock_release(struct mbox_lock *l)
{
	struct flock	 fl;

	if (l->fd != -1) {
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_UNLCK;
		fl.l_whence = SEEK_SET;
		(void)fcntl(l->fd, MBOX_SETLK, &fl);
		(void)close(l->fd);
	}
	l->fd = -1;
	if (l->dotlocked)
		(void)unlink(l->lock);
	l->dotlocked = false;
}
