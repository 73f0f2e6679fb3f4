/* SPDX-License-Identifier: MIT */
/*
 * message.c - one queue entry: open and lock it, load envelope and status,
 * move it aside when it is corrupt, remove it when it is done
 *
 * The runner holds flock(LOCK_EX) on the queue file from load to release;
 * the admin verbs (queue/queue_ctl.c) take the same lock before they move
 * or delete an entry, so neither ever works on a file the other is
 * changing.  A lock is on the inode and survives a rename: after taking
 * it, the runner checks that queue/ID still names the same file (a verb
 * may have moved it to hold/ just before).
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "enqueue.h"
#include "log.h"
#include "mem.h"
#include "queued.h"
#include "str.h"

void
queue_quarantine(const struct queue_dirs *d, const char *id, const char *why)
{
	char	 name[SPOOL_ID_LEN + 16];

	if (renameat(d->queue_fd, id, d->corrupt_fd, id) == -1) {
		log_error(id, "cannot move corrupt entry aside reason=\"%s\" "
		    "error=\"%s\"", why, strerror(errno));
		return;
	}
	(void)str_printf(name, sizeof(name), "%s.status", id);
	(void)renameat(d->status_fd, id, d->corrupt_fd, name);
	(void)fsync(d->corrupt_fd);
	(void)fsync(d->queue_fd);
	log_error(id, "moved to corrupt/ reason=\"%s\"", why);
}

void
queue_msg_release(struct queue_msg *m)
{
	if (m->fd != -1)
		close(m->fd);		/* drops the lock */
	m->fd = -1;
	spool_env_release(&m->env);
	free(m->st);
	m->st = NULL;
}

enum queue_load
queue_msg_load(const struct queue_dirs *d, const char *id,
    struct queue_msg *m)
{
	struct stat	 a, b;
	char		 why[256], name[SPOOL_ID_LEN + 16];
	bool		 torn = false;
	int		 rc;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	spool_env_init(&m->env);
	(void)str_copy(m->id, id, sizeof(m->id));
	if ((m->fd = openat(d->queue_fd, id, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return QUEUE_LOAD_GONE;
		log_warn(id, "cannot open queue file error=\"%s\"",
		    strerror(errno));
		return QUEUE_LOAD_RETRY;
	}
	if (flock(m->fd, LOCK_EX | LOCK_NB) == -1)
		return errno == EWOULDBLOCK ? QUEUE_LOAD_BUSY :
		    QUEUE_LOAD_RETRY;
	if (fstat(m->fd, &a) == -1 ||
	    fstatat(d->queue_fd, id, &b, AT_SYMLINK_NOFOLLOW) == -1 ||
	    a.st_ino != b.st_ino || a.st_dev != b.st_dev)
		return QUEUE_LOAD_GONE;
	rc = spool_read(m->fd, id, SPOOL_READ_VERIFY_CONTENT, &m->env, why,
	    sizeof(why));
	if (rc == SPOOL_ERR_CORRUPT) {
		queue_quarantine(d, id, why);
		return QUEUE_LOAD_CORRUPT;
	}
	if (rc != 0) {
		log_warn(id, "cannot read queue file error=\"%s\"", why);
		return QUEUE_LOAD_RETRY;
	}
	m->st = xcalloc(m->env.nrcpts, sizeof(*m->st));
	m->had_log = fstatat(d->status_fd, id, &b, AT_SYMLINK_NOFOLLOW) == 0;
	if (!m->had_log)
		return QUEUE_LOAD_OK;
	rc = spool_status_load(d->status_fd, id, m->st, m->env.nrcpts, &torn,
	    why, sizeof(why));
	if (rc == SPOOL_ERR_CORRUPT) {
		/* Forget what it said: every recipient is pending again
		 * (duplicates, never a loss). */
		(void)str_printf(name, sizeof(name), "%s.status", id);
		if (renameat(d->status_fd, id, d->corrupt_fd, name) == -1)
			(void)unlinkat(d->status_fd, id, 0);
		log_error(id, "status log moved to corrupt/ reason=\"%s\"",
		    why);
		memset(m->st, 0, m->env.nrcpts * sizeof(*m->st));
		m->had_log = false;
	} else if (rc != 0) {
		log_warn(id, "cannot read status log error=\"%s\"", why);
		return QUEUE_LOAD_RETRY;
	}
	return QUEUE_LOAD_OK;
}

int
queue_msg_remove(const struct queue_dirs *d, struct queue_msg *m)
{
	if (unlinkat(d->queue_fd, m->id, 0) == -1 && errno != ENOENT) {
		log_error(m->id, "cannot remove queue file error=\"%s\"",
		    strerror(errno));
		return -1;
	}
	if (spool_status_remove(d->status_fd, m->id) == -1)
		log_warn(m->id, "cannot remove status log error=\"%s\"",
		    strerror(errno));
	return 0;
}

int
queue_msg_split(struct enqueue *q, const struct queue_msg *m, size_t ri,
    const char *const *targets, size_t n, char *child_r, struct fail *f)
{
	const struct spool_env	*e = &m->env;
	const struct spool_rcpt	*rc = &e->rcpts[ri];
	struct enqueue_msg	*em = NULL;
	struct spool_env	 env;
	char			 buf[64 * 1024];
	uint64_t		 off, left;
	ssize_t			 got;
	size_t			 i;
	int			 rv = -1;

	spool_env_init(&env);
	spool_env_set(&env.sender, e->sender);
	spool_env_set(&env.envid, e->envid);
	spool_env_set(&env.client_addr, e->client_addr);
	spool_env_set(&env.helo, e->helo);
	spool_env_set(&env.client_name, e->client_name);
	spool_env_set(&env.tls, e->tls);
	spool_env_set(&env.auth_user, e->auth_user);
	env.ret = e->ret;
	env.flags = e->flags;
	env.proto = e->proto;
	for (i = 0; i < n; i++)
		if (spool_env_add_rcpt(&env, targets[i], rc->orcpt,
		    rc->original[0] != '\0' ? rc->original : rc->addr,
		    rc->notify) == -1) {
			fail_set(f, true, "4.3.0", "too many targets");
			goto out;
		}
	if (enqueue_begin(q, &em, f) == -1 ||
	    enqueue_envelope(em, &env, f) == -1)
		goto out;
	for (off = e->content_off, left = e->content_len; left > 0;
	    off += (uint64_t)got, left -= (uint64_t)got) {
		got = pread(m->fd, buf, left < sizeof(buf) ? (size_t)left :
		    sizeof(buf), (off_t)off);
		if (got <= 0) {
			fail_set(f, true, "4.3.0", "cannot read the queue file");
			goto out;
		}
		if (enqueue_write(em, buf, (size_t)got, f) == -1)
			goto out;
	}
	(void)str_copy(child_r, enqueue_id(em), SPOOL_ID_LEN + 1);
	rv = enqueue_commit(&em, f);
out:
	enqueue_rollback(&em);
	spool_env_release(&env);
	return rv;
}
