/* SPDX-License-Identifier: MIT */
/*
 * mbox_lock.c - dotlock plus fcntl, the locking every mbox writer shares
 *
 * Order: the dotlock FILE.lock first (what procmail, mutt and Postfix's
 * local(8) honour), then an fcntl write lock on the file itself.  Expunge
 * replaces the file by rename, so after getting the fcntl lock we check the
 * path still names the file we locked, and start over if not; otherwise a
 * writer that waited on the old file would append to an unlinked inode.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mailbox_private.h"
#include "str.h"

#define DOTLOCK_STALE	300	/* seconds */
#define LOCK_WAIT_MS	30000

#ifdef F_OFD_SETLK
#define MBOX_SETLK	F_OFD_SETLK
#else
#define MBOX_SETLK	F_SETLK
#endif

static void
nap(unsigned int *waited_ms)
{
	struct timespec ts = { 0, 5 * 1000 * 1000 };

	nanosleep(&ts, NULL);
	*waited_ms += 5;
}

/* 1 taken, 0 not possible here (directory not writable), -1 timed out. */
static int
dotlock(const char *lock, unsigned int *waited)
{
	struct stat st;
	char	 pid[24];
	int	 fd;

	for (;;) {
		fd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		if (fd != -1) {
			(void)str_printf(pid, sizeof(pid), "%ld\n",
			    (long)getpid());
			if (write(fd, pid, strlen(pid)) == -1)
				log_debug(NULL, "dotlock pid write failed");
			close(fd);
			return 1;
		}
		if (errno == EACCES || errno == EROFS || errno == EPERM)
			return 0;
		if (errno != EEXIST)
			return -1;
		if (lstat(lock, &st) == 0 &&
		    st.st_mtime + DOTLOCK_STALE < time(NULL)) {
			log_warn(NULL, "removing stale dotlock %s", lock);
			(void)unlink(lock);
			continue;
		}
		if (*waited >= LOCK_WAIT_MS)
			return -1;
		nap(waited);
	}
}

int
mailbox_mbox_lock(const char *path, struct mailbox_mbox_lock *l,
    struct fail *f)
{
	char	 lock[4096];
	struct flock fl;
	struct stat a, b;
	unsigned int waited = 0;
	bool	 locked;
	int	 rc;

	l->fd = -1;
	l->dotlocked = false;
	if (!str_printf(lock, sizeof(lock), "%s.lock", path))
		return fail_set(f, false, "5.3.0", "mailbox path too long");
	if ((rc = dotlock(lock, &waited)) == -1)
		return fail_set(f, true, "4.2.0", "mailbox is locked");
	l->dotlocked = rc == 1;
	for (;;) {
		l->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		if (l->fd == -1)
			break;
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		locked = false;
		for (;;) {
			if (fcntl(l->fd, MBOX_SETLK, &fl) == 0) {
				locked = true;
				break;
			}
			if ((errno != EAGAIN && errno != EACCES &&
			    errno != EINTR) || waited >= LOCK_WAIT_MS)
				break;
			nap(&waited);
		}
		if (!locked)
			break;
		if (fstat(l->fd, &a) == 0 && stat(path, &b) == 0 &&
		    a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			return 0;
		close(l->fd);		/* replaced under us: again */
		l->fd = -1;
	}
	if (l->fd != -1)
		close(l->fd);
	l->fd = -1;
	if (l->dotlocked)
		(void)unlink(lock);
	l->dotlocked = false;
	return fail_set(f, true, "4.2.0", "cannot lock mailbox");
}

void
mailbox_mbox_unlock(const char *path, struct mailbox_mbox_lock *l)
{
	char	 lock[4096];

	if (l->fd != -1)
		close(l->fd);
	l->fd = -1;
	if (l->dotlocked && str_printf(lock, sizeof(lock), "%s.lock", path))
		(void)unlink(lock);
	l->dotlocked = false;
}
