/* SPDX-License-Identifier: MIT */
/*
 * mailbox_cache.c - per-message blobs (ENVELOPE, BODYSTRUCTURE) for imapd
 */
#include "config.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mailbox_private.h"
#include "mem.h"

#define CACHE_MAGIC	"BZCACHE1"

/* ---- cache ----
 *
 * buzon.cache is append-only: a 16-byte header ("BZCACHE1", u32
 * uidvalidity, u32 0) then records of u32 uid, u32 length, u64 FNV-1a of
 * the data, the data.  Readers index it into the view's records as they go;
 * a record whose hash does not match (torn write) ends the scan.  The index
 * never points into it, so losing it costs only re-parsing. */

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

static int
cache_open(struct mailbox *mb, bool create)
{
	unsigned char h[16];
	struct stat st;
	uint32_t v = 0;
	int	 fd, i;

	fd = open(mb->cache_path, O_RDWR | O_NOFOLLOW | O_CLOEXEC |
	    (create ? O_CREAT : 0), 0600);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1) {
		close(fd);
		return -1;
	}
	if (st.st_size >= 16 && pread(fd, h, 16, 0) == 16 &&
	    memcmp(h, CACHE_MAGIC, 8) == 0) {
		for (i = 0; i < 4; i++)
			v |= (uint32_t)h[8 + i] << (8 * i);
		if (v == mb->view.uidvalidity) {
			if ((uint64_t)st.st_size < mb->cache_scanned)
				mb->cache_scanned = 0;	/* started over */
			return fd;
		}
	}
	mb->cache_scanned = 0;
	if (!create || mailbox_lock_fd(fd, true) == -1) {
		close(fd);
		return -1;
	}
	/* Wrong or empty: start it over (under its own lock). */
	memcpy(h, CACHE_MAGIC, 8);
	for (i = 0; i < 4; i++)
		h[8 + i] = (unsigned char)(mb->view.uidvalidity >> (8 * i));
	memset(h + 12, 0, 4);
	if (ftruncate(fd, 0) == -1 || pwrite(fd, h, 16, 0) != 16) {
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
	    (end = lseek(fd, 0, SEEK_END)) == -1 ||
	    pwrite(fd, buf, 16 + len, end) != (ssize_t)(16 + len)) {
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
	int	 fd;

	*data_r = NULL;
	*len_r = 0;
	if ((k = mbidx_find(&mb->view, uid)) < 0)
		return 0;
	m = &mb->view.recs[k];
	if ((fd = cache_open(mb, false)) == -1)
		return 0;
	/* Only the part written since we last looked is read. */
	if (m->cache_off == 0 && fstat(fd, &st) == 0 &&
	    (uint64_t)st.st_size > mb->cache_scanned)
		cache_scan(mb, fd, st.st_size);
	if (m->cache_off == 0) {
		close(fd);
		return 0;
	}
	buf = xmalloc((size_t)m->cache_len + 1);
	if (pread(fd, buf, m->cache_len, (off_t)m->cache_off) !=
	    (ssize_t)m->cache_len) {
		free(buf);
		close(fd);
		m->cache_off = 0;
		return 0;
	}
	close(fd);
	*data_r = buf;
	*len_r = m->cache_len;
	return 1;
}
