/* SPDX-License-Identifier: MIT */
/*
 * deliver_mbox.c - append to an mbox under dotlock + fcntl locks
 *
 * The locks are common/mbox_lock.h's, shared with the mailbox module
 * (docs/delivery.md): the dotlock FILE.lock, then an fcntl F_WRLCK on the
 * whole file, waiting up to lock_timeout; a dotlock older than
 * stale_lock_time whose pid no longer runs is broken.  If an expunge
 * renamed a new file into place while we waited, we lock that one.
 *
 * Format: mboxrd.  "From SENDER DATE" (asctime, local time; MAILER-DAEMON
 * for the null sender), the message with every ">*From " line given one
 * more '>', then one empty line.  Any failure truncates the file back to
 * the size it had when we locked it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "deliver.h"
#include "deliver_private.h"
#include "log.h"
#include "mbox_lock.h"
#include "mem.h"
#include "str.h"

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
	if (r->quota > 0 && deliver_quota_exceeded((uint64_t)old,
	    deliver_size_add(deliver_size_add(m->len, deliver_header_len(r)),
	    128), r->quota))
		return fail_set(f, !b->conf->quota_bounce,
		    b->conf->quota_bounce ? "5.2.2" : "4.2.2",
		    "mailbox full: quota exceeded for %s", r->address);
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
	res->offset = (uint64_t)old;
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
	char			 dir[PATH_MAX], *slash;
	struct mbox_lock_conf	 lc;
	struct mbox_lock	*l;
	struct stat		 st;
	int			 rc;
	bool			 created;

	if (!str_copy(dir, r->path, sizeof(dir)))
		return fail_set(f, true, "4.3.0", "path too long");
	if ((slash = strrchr(dir, '/')) == NULL)
		(void)str_copy(dir, ".", sizeof(dir));
	else if (slash == dir)
		dir[1] = '\0';		/* "/mbox": the root */
	else
		*slash = '\0';
	/* The user's directory, like the mbox itself, is not followed if
	 * it is a link. */
	if (lstat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			log_error(NULL, "deliver refused dir=%s reason=%s",
			    dir, S_ISLNK(st.st_mode) ? "symbolic link" :
			    "not a directory");
			return fail_set(f, true, "4.3.0", "mailbox is %s",
			    S_ISLNK(st.st_mode) ? "a symbolic link" :
			    "not a directory");
		}
	} else if (errno != ENOENT) {
		return deliver_fail_errno(f, errno, "cannot reach the mailbox");
	} else if (deliver_mkdirs(b, dir, f) == -1) {
		/* only a first delivery makes the path */
		return -1;
	}
	lc.stale_time = b->conf->stale_lock_time;
	lc.timeout_ms = b->conf->lock_timeout > UINT_MAX / 1000 ? UINT_MAX :
	    b->conf->lock_timeout * 1000;
	created = lstat(r->path, &st) == -1 && errno == ENOENT;
	l = xmalloc(sizeof(*l));
	if (mbox_lock_take(r->path, &lc, l, f) == -1) {
		if (l->err != 0)	/* EDQUOT, ENOSPC... as elsewhere */
			(void)deliver_fail_errno(f, l->err,
			    "cannot lock the mailbox");
		free(l);
		return -1;
	}
	rc = mbox_append(b, r, m, l->fd, res, f);
	mbox_lock_release(l);
	free(l);
	if (rc == 0 && created)
		deliver_batch_dir(b, dir);
	return rc;
}
