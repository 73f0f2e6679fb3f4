/* SPDX-License-Identifier: MIT */
/*
 * mailbox_index.c - the index lock, and reading and writing a folder's
 * index + change log under it (formats: mbidx.c, mblog.c, docs/mailbox.md)
 *
 * Every change goes the same way: take the index lock, bring mb->disk up
 * to date (re-read the index only if a compaction replaced it, else just
 * the log's new tail), copy it, let the backend sync the copy with the
 * store, apply the change, append the difference to the log (or compact),
 * drop the lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mailbox_private.h"
#include "mem.h"
#include "str.h"

int
mailbox_index_lock(struct mailbox *mb, struct fail *f)
{
	BUZ_ASSERT(mb->lock_fd == -1);
	if ((mb->lock_fd = mailbox_open_lock(mb->lock_path)) == -1 ||
	    mailbox_lock_fd(mb->lock_fd, true) == -1) {
		log_warn(NULL, "mailbox lock failed path=%s: %s", mb->lock_path,
		    strerror(errno));
		if (mb->lock_fd != -1)
			close(mb->lock_fd);
		mb->lock_fd = -1;
		return fail_set(f, true, "4.2.0",
		    "mailbox is temporarily locked");
	}
	return 0;
}

void
mailbox_index_unlock(struct mailbox *mb)
{
	if (mb->lock_fd != -1)
		close(mb->lock_fd);	/* drops the OFD lock */
	mb->lock_fd = -1;
}

/* ---- the locked refresh every change starts with ---- */

/* The log id the index file at path names, from its header alone. */
static int
index_log_id(const char *path, uint64_t *id_r)
{
	unsigned char h[56];
	int	 fd, i;
	ssize_t	 r;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return -1;
	r = pread(fd, h, sizeof(h), 0);
	close(fd);
	if (r != (ssize_t)sizeof(h))
		return -1;
	*id_r = 0;
	for (i = 0; i < 8; i++)
		*id_r |= (uint64_t)h[48 + i] << (8 * i);
	return 0;
}

#define LOG_READ_MAX	((uint64_t)256 * 1024 * 1024)

/* Start mb->disk over as an empty folder with a new UIDVALIDITY. */
static void
disk_rebuild(struct mailbox *mb)
{
	mbidx_release(&mb->disk);
	mb->disk.uidvalidity = mailbox_new_uidvalidity(mb);
	mb->disk.uidnext = 1;
	mb->disk.log_id = 0;		/* the first write compacts */
	mb->log_pos = MBLOG_HDR;
	mb->log_ok = false;
	mb->rebuilt = true;
	(void)unlink(mb->cache_path);
}

/* Read what the log holds past mb->log_pos into mb->disk.  A committed
 * change that makes no sense ends the log there: mb->disk keeps what
 * came before it (and its UIDVALIDITY), and log_ok stays false, so the
 * next write compacts into a new index and log.  True if it was damaged. */
static bool
log_catch_up(struct mailbox *mb)
{
	struct stat st;
	unsigned char h[MBLOG_HDR];
	uint64_t id;
	char	*buf;
	size_t	 len, used;
	ssize_t	 r;
	int	 fd;
	bool	 damaged = false;

	mb->log_ok = false;
	if (mb->disk.log_id == 0 ||
	    (fd = open(mb->log_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return false;
	if (fstat(fd, &st) == -1 || pread(fd, h, sizeof(h), 0) !=
	    (ssize_t)sizeof(h) || mblog_header_id(h, sizeof(h), &id) == -1 ||
	    id != mb->disk.log_id) {
		close(fd);		/* not ours: the index has it all */
		return false;
	}
	/* Compaction keeps the log near the index's size; one far bigger
	 * was not written by us: ignore it, the next write starts over. */
	if ((uint64_t)st.st_size < mb->log_pos ||
	    (uint64_t)st.st_size - mb->log_pos > LOG_READ_MAX) {
		close(fd);
		return false;
	}
	mb->log_ok = true;
	if ((uint64_t)st.st_size == mb->log_pos) {
		close(fd);
		return false;
	}
	len = (size_t)((uint64_t)st.st_size - mb->log_pos);
	buf = xmalloc(len);
	r = pread(fd, buf, len, (off_t)mb->log_pos);
	close(fd);
	if (r > 0) {
		if (mblog_apply(&mb->disk, buf, (size_t)r, &used) == -1) {
			log_warn(NULL, "mailbox log damaged, ignored from "
			    "offset=%llu path=%s", (unsigned long long)
			    (mb->log_pos + used), mb->log_path);
			mb->log_ok = false;
			damaged = true;
		}
		mb->log_pos += used;
	}
	free(buf);
	return damaged;
}

int
mailbox_refresh_locked(struct mailbox *mb, struct mbidx *fresh, bool *dirty,
    struct fail *f)
{
	uint64_t id;
	int	 rc;

	*dirty = false;
	mb->rebuilt = false;
	/* The index file only changes at a compaction, which gives it a new
	 * log id: the same id means our copy plus the log is current. */
	if (!mb->have_disk || index_log_id(mb->index_path, &id) == -1 ||
	    id != mb->disk.log_id || id == 0) {
		mbidx_release(&mb->disk);
		mb->have_disk = false;
		rc = mbidx_read(&mb->disk, mb->index_path, NULL);
		if (rc == -2)
			return fail_set(f, true, "4.3.0",
			    "cannot read mailbox index");
		if (rc == -1)
			log_warn(NULL, "mailbox index corrupt, rebuilding "
			    "path=%s", mb->index_path);
		if (rc != 1)
			disk_rebuild(mb);
		mb->log_pos = MBLOG_HDR;
		mb->have_disk = true;
	}
	if (log_catch_up(mb))
		*dirty = true;		/* compact it away */
	if (mb->rebuilt)
		*dirty = true;
	mb->disk_uidnext = mb->disk.uidnext;
	mbidx_copy(fresh, &mb->disk);
	if (mb->be->sync(mb, fresh, dirty, f) == -1) {
		mbidx_release(fresh);
		return -1;
	}
	return 0;
}

/* Rewrite the index whole, with a new empty log after it.  Order: the
 * new log under a temporary name, the index naming it, then the log's
 * rename; a crash in between leaves an index whose log is missing or
 * foreign, which readers ignore. */
static int
compact_locked(struct mailbox *mb, struct mbidx *fresh, struct fail *f)
{
	char	*tmp = xmalloc(strlen(mb->log_path) + 8);
	uint64_t id = 0;

	memcpy(tmp, mb->log_path, strlen(mb->log_path));
	memcpy(tmp + strlen(mb->log_path), ".new", 5);
	while (id == 0)
		if (getrandom(&id, sizeof(id), 0) != (ssize_t)sizeof(id))
			id = ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid();
	fresh->log_id = id;
	if (mblog_create(tmp, id) == -1 ||
	    mbidx_write(fresh, mb->index_path, true, NULL) == -1 ||
	    rename(tmp, mb->log_path) == -1) {
		log_warn(NULL, "mailbox index write failed path=%s: %s",
		    mb->index_path, strerror(errno));
		(void)unlink(tmp);
		free(tmp);
		fresh->log_id = mb->disk.log_id;
		mbidx_release(&mb->disk);	/* re-read next time */
		mb->have_disk = false;
		return fail_set(f, true, "4.3.0", "cannot write mailbox index");
	}
	free(tmp);
	mb->log_pos = MBLOG_HDR;
	mb->log_ok = true;
	return 0;
}

/* Append the change pre -> fresh to the log; -1 if the log cannot take
 * it (the caller compacts instead). */
static int
log_append_locked(struct mailbox *mb, struct mbidx *fresh, bool durable)
{
	struct stat st;
	struct str out;
	ssize_t	 w;
	int	 fd, rc = -1;

	if ((fd = open(mb->log_path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return -1;
	str_init(&out, 0);
	mblog_diff(&mb->disk, fresh, &out);
	/* A torn tail from a writer that died goes first. */
	if (fstat(fd, &st) == 0 && (uint64_t)st.st_size != mb->log_pos &&
	    ftruncate(fd, (off_t)mb->log_pos) == -1)
		goto out;
	w = pwrite(fd, out.data, out.len, (off_t)mb->log_pos);
	if (w != (ssize_t)out.len) {
		if (ftruncate(fd, (off_t)mb->log_pos) == -1)
			log_warn(NULL, "mailbox log truncate failed");
		goto out;
	}
	if (durable && fdatasync(fd) == -1)
		goto out;
	mb->log_pos += out.len;
	rc = 0;
out:
	str_release(&out);
	close(fd);
	return rc;
}

/* Bigger than this, the log is folded into a new index. */
#define LOG_COMPACT_MIN	(128 * 1024)

int
mailbox_write_locked(struct mailbox *mb, struct mbidx *fresh, struct fail *f)
{
	struct stat st;
	uint64_t limit = LOG_COMPACT_MIN;
	bool	 durable = fresh->uidnext != mb->disk_uidnext || mb->rebuilt;

	if (stat(mb->index_path, &st) == 0 && (uint64_t)st.st_size > limit)
		limit = (uint64_t)st.st_size;
	fresh->log_id = mb->disk.log_id;
	if (!mb->log_ok || mb->rebuilt || mb->disk.log_id == 0 ||
	    fresh->uidvalidity != mb->disk.uidvalidity ||
	    mb->log_pos > limit ||
	    log_append_locked(mb, fresh, durable) == -1) {
		if (compact_locked(mb, fresh, f) == -1)
			return -1;
	}
	mbidx_release(&mb->disk);
	mbidx_copy(&mb->disk, fresh);
	mb->have_disk = true;
	mb->rebuilt = false;
	/* Our own write must not hide others' changes from the next sync. */
	mb->have_index_st = false;
	return 0;
}
