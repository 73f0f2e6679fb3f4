/* SPDX-License-Identifier: MIT */
/*
 * mailbox_cache.c - per-message blobs (ENVELOPE, BODYSTRUCTURE) for imapd
 *
 * buzon.cache: "BZCACHE1", u32 UIDVALIDITY, u32 generation, then records
 * u32 uid, u32 length, u64 FNV-1a of the data, the data.  Append-only
 * under an OFD lock; a later record for a UID replaces earlier ones.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bytes.h"
#include "mailbox_private.h"
#include "mem.h"

#define CACHE_MAGIC	"BZCACHE1"
/* Past this size the cache starts over: stale blobs are never reclaimed
 * one by one, and re-parsing is the only cost of losing them. */
#define CACHE_FILE_MAX	(64 * 1024 * 1024)

/* Readers index the file into the view's records as they go; a record
 * whose hash does not match (torn write) ends the scan.  The index never
 * points into it, so losing it costs only re-parsing. */

static void
cache_scan(struct mailbox *mb, int fd, off_t size)
{
	unsigned char h[16];
	uint64_t off = mb->cache_scanned < 16 ? 16 : mb->cache_scanned, hash;
	uint32_t uid, len;
	ssize_t	 k;
	void	*buf;
	int	 i;

	while (off + 16 <= (uint64_t)size) {
		if (pread(fd, h, 16, (off_t)off) != 16)
			return;
		uid = len = 0;
		hash = 0;
		for (i = 0; i < 4; i++) {
			uid |= (uint32_t)h[i] << (8 * i);
			len |= (uint32_t)h[4 + i] << (8 * i);
		}
		for (i = 0; i < 8; i++)
			hash |= (uint64_t)h[8 + i] << (8 * i);
		if (len > MAILBOX_CACHE_MAX || off + 16 + len > (uint64_t)size)
			return;
		buf = xmalloc(len + 1);
		if (pread(fd, buf, len, (off_t)(off + 16)) != (ssize_t)len ||
		    mbidx_hash(buf, len, 0) != hash) {
			free(buf);
			return;
		}
		free(buf);
		if ((k = mbidx_find(&mb->view, uid)) >= 0) {
			mb->view.recs[k].cache_off = off + 16;
			mb->view.recs[k].cache_len = len;
		}
		off += 16 + len;
		mb->cache_scanned = off;
	}
}

/* Forget where our view thinks blobs are: the file started over. */
static void
cache_forget(struct mailbox *mb, uint32_t gen)
{
	size_t	 j;

	for (j = 0; j < mb->view.n; j++)
		mb->view.recs[j].cache_off = 0;
	mb->cache_scanned = 16;
	mb->cache_gen = gen;
}

/* Write a fresh header with a new generation (file locked by caller). */
static int
cache_restart(struct mailbox *mb, int fd)
{
	unsigned char h[16];
	uint32_t gen = 0;
	int	 i;

	while (gen == 0 || gen == mb->cache_gen)
		if (getrandom(&gen, sizeof(gen), 0) != (ssize_t)sizeof(gen))
			gen = (uint32_t)time(NULL) ^ (uint32_t)getpid() ^
			    (mb->cache_gen + 1);
	memcpy(h, CACHE_MAGIC, 8);
	for (i = 0; i < 4; i++) {
		h[8 + i] = (unsigned char)(mb->view.uidvalidity >> (8 * i));
		h[12 + i] = (unsigned char)(gen >> (8 * i));
	}
	if (ftruncate(fd, 0) == -1 || pwrite(fd, h, 16, 0) != 16)
		return -1;
	cache_forget(mb, gen);
	return 0;
}

static int
cache_open(struct mailbox *mb, bool create)
{
	unsigned char h[16];
	struct stat st;
	int	 fd;

	fd = open(mb->cache_path, O_RDWR | O_NOFOLLOW | O_CLOEXEC |
	    (create ? O_CREAT : 0), 0600);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1) {
		close(fd);
		return -1;
	}
	if (st.st_size >= 16 && pread(fd, h, 16, 0) == 16 &&
	    memcmp(h, CACHE_MAGIC, 8) == 0 &&
	    le32_get(h + 8) == mb->view.uidvalidity) {
		if (le32_get(h + 12) != mb->cache_gen)
			cache_forget(mb, le32_get(h + 12));
		return fd;
	}
	if (!create || mailbox_lock_fd(fd, true) == -1 ||
	    cache_restart(mb, fd) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

int
mailbox_cache_put(struct mailbox *mb, uint32_t uid, const void *data,
    size_t len)
{
	unsigned char h[16];
	uint64_t hash;
	char	*buf;
	ssize_t	 k;
	int	 fd, i;
	off_t	 end;

	if (len > MAILBOX_CACHE_MAX || (k = mbidx_find(&mb->view, uid)) < 0)
		return -1;
	if ((fd = cache_open(mb, true)) == -1)
		return -1;
	hash = mbidx_hash(data, len, 0);
	for (i = 0; i < 4; i++) {
		h[i] = (unsigned char)(uid >> (8 * i));
		h[4 + i] = (unsigned char)(len >> (8 * i));
	}
	for (i = 0; i < 8; i++)
		h[8 + i] = (unsigned char)(hash >> (8 * i));
	buf = xmalloc(16 + len);
	memcpy(buf, h, 16);
	memcpy(buf + 16, data, len);
	/* One write under the lock keeps records whole and in place. */
	if (mailbox_lock_fd(fd, true) == -1 ||
	    (end = lseek(fd, 0, SEEK_END)) == -1) {
		free(buf);
		close(fd);
		return -1;
	}
	if (end > CACHE_FILE_MAX) {
		if (cache_restart(mb, fd) == -1) {
			free(buf);
			close(fd);
			return -1;
		}
		end = 16;
	}
	if (pwrite(fd, buf, 16 + len, end) != (ssize_t)(16 + len)) {
		free(buf);
		close(fd);
		return -1;
	}
	free(buf);
	close(fd);
	mb->view.recs[k].cache_off = (uint64_t)end + 16;
	mb->view.recs[k].cache_len = (uint32_t)len;
	return 0;
}

int
mailbox_cache_get(struct mailbox *mb, uint32_t uid, void **data_r,
    size_t *len_r)
{
	struct mbidx_rec *m;
	struct stat st;
	void	*buf;
	ssize_t	 k;
	int	 fd, tries;

	*data_r = NULL;
	*len_r = 0;
	if ((k = mbidx_find(&mb->view, uid)) < 0)
		return 0;
	m = &mb->view.recs[k];
	if ((fd = cache_open(mb, false)) == -1)
		return 0;
	buf = NULL;
	for (tries = 0; tries < 2; tries++) {
		/* Only the part written since we last looked is read. */
		if (m->cache_off == 0 && fstat(fd, &st) == 0 &&
		    (uint64_t)st.st_size > mb->cache_scanned)
			cache_scan(mb, fd, st.st_size);
		if (m->cache_off == 0)
			break;
		/* Check the record: a writer may have replaced it. */
		buf = xmalloc((size_t)m->cache_len + 16);
		if (m->cache_off >= 32 && pread(fd, buf,
		    (size_t)m->cache_len + 16, (off_t)m->cache_off - 16) ==
		    (ssize_t)m->cache_len + 16 && le32_get(buf) == uid &&
		    le32_get((char *)buf + 4) == m->cache_len &&
		    le64_get((char *)buf + 8) == mbidx_hash((char *)buf + 16,
		    m->cache_len, 0))
			break;
		free(buf);
		buf = NULL;
		m->cache_off = 0;
	}
	if (buf == NULL) {
		close(fd);
		return 0;
	}
	memmove(buf, (char *)buf + 16, m->cache_len);
	close(fd);
	*data_r = buf;
	*len_r = m->cache_len;
	return 1;
}
