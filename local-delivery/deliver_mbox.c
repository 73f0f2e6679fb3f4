/* SPDX-License-Identifier: MIT */
/*
 * deliver_mbox.c - append to an mbox under dotlock + fcntl locks
 *
 * Lock order (docs/delivery.md): the dotlock FILE.lock, then an fcntl
 * F_WRLCK on the whole file; released in the reverse order.  Both are
 * tried without blocking and retried with a growing pause until
 * lock_timeout, so a writer that takes them in the other order costs a
 * timeout, never a deadlock.
 *
 * The dotlock is created with O_EXCL and holds "PID\n".  One older than
 * stale_lock_time whose pid no longer runs (or holds no pid) is removed;
 * we check that it is still the same file (inode and mtime) just before.
 *
 * Format: mboxrd.  "From SENDER DATE" (asctime, local time; MAILER-DAEMON
 * for the null sender), the message with every ">*From " line given one
 * more '>', then one empty line.  Any failure truncates the file back to
 * the size it had when we locked it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "deliver.h"
#include "deliver_private.h"
#include "log.h"
#include "mem.h"
#include "str.h"

/* Pause between lock attempts: 10 ms doubling to 200 ms. */
static void
lock_pause(unsigned int *ms)
{
	struct timespec	 ts;

	ts.tv_sec = 0;
	ts.tv_nsec = (long)*ms * 1000000L;
	(void)nanosleep(&ts, NULL);
	if (*ms < 200)
		*ms *= 2;
}

/* Milliseconds on the monotonic clock. */
static int64_t
now_ms(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Is the dotlock at lock stale?  Removes it when so; 1 removed, 0 not. */
static int
dotlock_break_stale(const char *lock, unsigned int stale_time)
{
	struct stat	 st, st2;
	char		 buf[32];
	ssize_t		 n;
	uint64_t	 pid;
	int		 fd;
	bool		 dead = true;

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
			    (kill((pid_t)pid, 0) == 0 || errno == EPERM))
				dead = false;
		}
	}
	if (!dead)
		return 0;
	/* Another process may have broken it and locked anew meanwhile. */
	if (lstat(lock, &st2) == -1 || st2.st_ino != st.st_ino ||
	    st2.st_mtime != st.st_mtime)
		return 0;
	if (unlink(lock) == -1)
		return 0;
	log_warn(NULL, "deliver removed stale lock=%s", lock);
	return 1;
}

static int
dotlock_take(const struct deliver_conf *c, const char *lock,
    int64_t deadline, struct fail *f)
{
	char		 pid[24];
	unsigned int	 ms = 10;
	int		 fd, len;

	for (;;) {
		fd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		if (fd != -1)
			break;
		if (errno != EEXIST) {
			log_error(NULL, "deliver dotlock failed lock=%s "
			    "error=%s", lock, strerror(errno));
			return deliver_fail_errno(f, errno,
			    "cannot lock the mailbox");
		}
		if (dotlock_break_stale(lock, c->stale_lock_time) == 1)
			continue;
		if (now_ms() >= deadline)
			return fail_set(f, true, "4.2.0",
			    "mailbox is locked, try again later");
		lock_pause(&ms);
	}
	len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (len <= 0 || write(fd, pid, (size_t)len) != len) {
		(void)close(fd);
		(void)unlink(lock);
		return fail_set(f, true, "4.3.0", "cannot write the lock");
	}
	(void)close(fd);
	return 0;
}

static int
fcntl_take(int fd, int64_t deadline, struct fail *f)
{
	struct flock	 fl;
	unsigned int	 ms = 10;

	for (;;) {
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (fcntl(fd, F_SETLK, &fl) == 0)
			return 0;
		if (errno != EAGAIN && errno != EACCES && errno != EINTR)
			return deliver_fail_errno(f, errno,
			    "cannot lock the mailbox");
		if (now_ms() >= deadline)
			return fail_set(f, true, "4.2.0",
			    "mailbox is locked, try again later");
		lock_pause(&ms);
	}
}

static void
fcntl_release(int fd)
{
	struct flock	 fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_UNLCK;
	fl.l_whence = SEEK_SET;
	(void)fcntl(fd, F_SETLK, &fl);
}

/* "From SENDER DATE\n": no space may sit inside SENDER. */
static void
from_line(struct deliver_out *o, const char *sender)
{
	char		 date[64], c;
	struct tm	 tm;
	time_t		 t;

	deliver_out_put(o, "From ", 5);
	if (sender[0] == '\0')
		deliver_out_put(o, "MAILER-DAEMON", 13);
	for (; *sender != '\0'; sender++) {
		c = *sender == ' ' || *sender == '\t' ? '_' : *sender;
		deliver_out_put(o, &c, 1);
	}
	t = time(NULL);
	if (localtime_r(&t, &tm) == NULL ||
	    strftime(date, sizeof(date), " %a %b %e %H:%M:%S %Y\n", &tm) == 0)
		(void)str_copy(date, " Thu Jan  1 00:00:00 1970\n",
		    sizeof(date));
	deliver_out_put(o, date, strlen(date));
}

static int
mbox_append(struct deliver_batch *b, const struct deliver_rcpt *r,
    const struct deliver_msg *m, int fd, struct deliver_result *res,
    struct fail *f)
{
	struct deliver_out	*o;
	struct stat		 st;
	off_t			 old;
	uint64_t		 start;
	int			 err;

	if (fstat(fd, &st) == -1)
		return deliver_fail_errno(f, errno, "cannot read the mailbox");
	if (!S_ISREG(st.st_mode))
		return fail_set(f, true, "4.3.0",
		    "mailbox is not a regular file");
	old = st.st_size;
	if (r->quota > 0 && (uint64_t)old + m->len + deliver_header_len(r) +
	    128 > r->quota)
		return fail_set(f, !b->conf->quota_bounce,
		    b->conf->quota_bounce ? "5.2.2" : "4.2.2",
		    "mailbox full: quota exceeded for %s", r->address);
	if (lseek(fd, old, SEEK_SET) == -1)
		return deliver_fail_errno(f, errno, "cannot seek the mailbox");
	o = xmalloc(sizeof(*o));
	deliver_out_init(o, fd);
	from_line(o, r->sender);
	start = o->written;
	if (deliver_copy(o, r, m, true, f) == -1)
		goto fail;
	if (o->last != '\n')
		deliver_out_put(o, "\n", 1);
	deliver_out_put(o, "\n", 1);
	if (deliver_out_flush(o) == -1 || fsync(fd) == -1) {
		err = errno;
		log_error(NULL, "deliver write failed mbox=%s error=%s",
		    r->path, strerror(err));
		(void)deliver_fail_errno(f, err, "cannot write the message");
		goto fail;
	}
	res->size = o->written - start;
	free(o);
	return 0;
fail:
	free(o);
	if (ftruncate(fd, old) == -1 || fsync(fd) == -1)
		log_error(NULL, "deliver cannot truncate mbox=%s size=%lld "
		    "error=%s", r->path, (long long)old, strerror(errno));
	return -1;
}

int
deliver_mbox(struct deliver_batch *b, const struct deliver_rcpt *r,
    const struct deliver_msg *m, struct deliver_result *res, struct fail *f)
{
	char		 lock[PATH_MAX], dir[PATH_MAX], *slash;
	struct stat	 st;
	int64_t		 deadline;
	int		 fd, rc;
	bool		 created;

	if (!str_printf(lock, sizeof(lock), "%s.lock", r->path) ||
	    !str_copy(dir, r->path, sizeof(dir)))
		return fail_set(f, true, "4.3.0", "path too long");
	if ((slash = strrchr(dir, '/')) == NULL)
		(void)str_copy(dir, ".", sizeof(dir));
	else if (slash == dir)
		dir[1] = '\0';		/* "/mbox": the root */
	else
		*slash = '\0';
	if (stat(dir, &st) == -1 && mkdir(dir, 0700) == -1 && errno != EEXIST)
		return deliver_fail_errno(f, errno,
		    "cannot create the mailbox directory");
	deadline = now_ms() + (int64_t)b->conf->lock_timeout * 1000;
	if (dotlock_take(b->conf, lock, deadline, f) == -1)
		return -1;
	created = lstat(r->path, &st) == -1 && errno == ENOENT;
	fd = open(r->path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1) {
		log_error(NULL, "deliver open failed mbox=%s error=%s",
		    r->path, strerror(errno));
		rc = deliver_fail_errno(f, errno, "cannot open the mailbox");
		(void)unlink(lock);
		return rc;
	}
	if ((rc = fcntl_take(fd, deadline, f)) == 0) {
		rc = mbox_append(b, r, m, fd, res, f);
		fcntl_release(fd);
	}
	(void)close(fd);
	(void)unlink(lock);
	if (rc == 0 && created)
		deliver_batch_dir(b, dir);
	return rc;
}
