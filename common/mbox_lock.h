/*
 * mbox_lock.h - the one way to lock an mbox file for writing
 *
 * Every writer of an mbox (buzon-deliver appending, the mailbox module
 * syncing, appending or expunging) takes the same two locks in the same
 * order, outermost first:
 *
 *   1. the dotlock PATH.lock, created O_EXCL and holding "PID\n" (what
 *      procmail, mutt and Postfix's local(8) honour).  If the directory
 *      does not let us create it (EACCES, EPERM, EROFS) it is skipped
 *      and the fcntl lock alone protects the file.
 *   2. an fcntl write lock on the whole file (an OFD lock where the
 *      system has them: do not fork() while holding it), on the file
 *      opened O_RDWR|O_APPEND|O_CREAT|O_NOFOLLOW (mode 0600).  An expunge
 *      replaces the file by rename, so once locked we check that the path
 *      still names the file we hold, and start over on the new one if not.
 *
 * Both are tried without blocking and retried with a growing pause (10 ms
 * doubling to 200 ms) until timeout_ms after the call, so a writer taking
 * them in another order costs a timeout, never a deadlock.
 *
 * A dotlock is stale, and removed, when it is at least stale_time seconds
 * old AND, if it holds a pid, no process with that pid runs (kill(pid, 0)
 * fails with ESRCH).  Just before removing it we check it is still the
 * same file (inode and mtime), so two breakers cannot remove a fresh one.
 *
 * Release drops the fcntl lock, closes the file, then removes the dotlock.
 */
#ifndef BUZON_MBOX_LOCK_H
#define BUZON_MBOX_LOCK_H

#include <limits.h>
#include <stdbool.h>

#include "fail.h"

#define MBOX_LOCK_STALE_TIME	300	/* seconds, default stale_lock_time */
#define MBOX_LOCK_TIMEOUT_MS	30000	/* default mailbox_lock_timeout */

struct mbox_lock_conf {
	unsigned int	 stale_time;	/* seconds */
	unsigned int	 timeout_ms;	/* wait at most this long in all */
};

struct mbox_lock {
	int		 fd;		/* the locked file, -1 when not held */
	int		 err;		/* after a failure: errno, 0 = timed out */
	bool		 dotlocked;	/* we created lock and must remove it */
	char		 lock[PATH_MAX];	/* PATH.lock */
};

/* Take both locks on path (conf NULL: the defaults above).  0 with l
 * filled: append at the end of l->fd (O_APPEND), and on a failed write
 * ftruncate back to the size before.  -1 with f set (always temp):
 * "4.2.0 mailbox is locked" when the deadline passed (l->err == 0), else
 * "4.3.0" with l->err the errno that stopped us (open of a symlink or a
 * directory, a full disk...); nothing is held then. */
int	 mbox_lock_take(const char *path, const struct mbox_lock_conf *conf,
	    struct mbox_lock *l, struct fail *f)
	    __attribute__((warn_unused_result));

/* Drop what mbox_lock_take() took; harmless when nothing is held. */
void	 mbox_lock_release(struct mbox_lock *l);

#endif
