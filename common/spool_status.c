/* SPDX-License-Identifier: MIT */
/*
 * spool_status.c - the per-message delivery status log (status/ID)
 *
 * The queue file is never rewritten after commit; what happened to each
 * recipient goes into a small append-only log beside it (format in
 * spool.h and docs/spool.md).  Every record carries its own CRC, so a
 * crash in the middle of an append leaves a torn tail that replay can
 * tell from real corruption: a bad record that reaches end of file (or
 * whose length cannot be trusted and which could be the last) is torn and
 * ignored; a bad record with more data after it is corruption.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bytes.h"
#include "fileio.h"
#include "log.h"
#include "mem.h"
#include "spool.h"

static const uint8_t status_magic[8] = {
	0x89, 'B', 'Z', 'S', 0x0d, 0x0a, 0x1a, 0x0a
};

#define ST_HDR		5			/* u8 'S' + u32 length */
#define ST_CRC		4
#define ST_MIN_PAYLOAD	24			/* empty code and text */
#define ST_MAX_PAYLOAD	(ST_MIN_PAYLOAD + 7 + SPOOL_STATUS_MAX_TEXT)

struct spool_status_log {
	int		 fd;
	uint64_t	 size;		/* good bytes; a failed append is cut
					   back to this */
	char		 id[SPOOL_ID_LEN + 1];
};

const char *
spool_rcpt_state_name(enum spool_rcpt_state s)
{
	static const char *const names[SPOOL_RCPT_STATE_COUNT] = {
		"pending", "delivered", "bounced", "deferred", "warned",
		"expired", "notified"
	};

	if ((unsigned int)s >= SPOOL_RCPT_STATE_COUNT)
		return "?";
	return names[s];
}

bool
spool_rcpt_state_final(enum spool_rcpt_state s)
{
	return s == SPOOL_RCPT_DELIVERED || s == SPOOL_RCPT_BOUNCED ||
	    s == SPOOL_RCPT_EXPIRED;
}

int
spool_status_encode(const struct spool_status_rec *rec, struct str *out)
{
	uint8_t		 b[ST_HDR + ST_MAX_PAYLOAD + ST_CRC];
	size_t		 clen = strnlen(rec->code, sizeof(rec->code));
	size_t		 tlen = strnlen(rec->text, sizeof(rec->text));
	size_t		 n = 0, plen;

	if (clen >= sizeof(rec->code) || tlen > SPOOL_STATUS_MAX_TEXT ||
	    rec->state == SPOOL_RCPT_PENDING ||
	    (unsigned int)rec->state >= SPOOL_RCPT_STATE_COUNT)
		return -1;
	plen = ST_MIN_PAYLOAD + clen + tlen;
	b[n++] = 'S';
	be32_put(b + n, (uint32_t)plen);
	n += 4;
	be32_put(b + n, rec->rcpt);
	n += 4;
	b[n++] = (uint8_t)rec->state;
	be32_put(b + n, (uint32_t)(rec->time >> 32));
	be32_put(b + n + 4, (uint32_t)rec->time);
	n += 8;
	be32_put(b + n, (uint32_t)(rec->until >> 32));
	be32_put(b + n + 4, (uint32_t)rec->until);
	n += 8;
	b[n++] = (uint8_t)clen;
	memcpy(b + n, rec->code, clen);
	n += clen;
	b[n++] = (uint8_t)(tlen >> 8);
	b[n++] = (uint8_t)tlen;
	memcpy(b + n, rec->text, tlen);
	n += tlen;
	be32_put(b + n, spool_crc32c(0, b, n));
	n += ST_CRC;
	return str_append(out, b, n);
}

/* Decode one payload whose CRC was good.  0, or -1 if a field is bad. */
static int
decode(const uint8_t *p, size_t len, struct spool_status_rec *rec)
{
	size_t	 clen, tlen;

	if (len < ST_MIN_PAYLOAD)
		return -1;
	rec->rcpt = be32_get(p);
	rec->state = (enum spool_rcpt_state)p[4];
	rec->time = be64_get(p + 5);
	rec->until = be64_get(p + 13);
	clen = p[21];
	if (p[4] == SPOOL_RCPT_PENDING || p[4] >= SPOOL_RCPT_STATE_COUNT ||
	    clen >= sizeof(rec->code) || len < ST_MIN_PAYLOAD + clen)
		return -1;
	tlen = (size_t)p[22 + clen] << 8 | p[23 + clen];
	if (tlen > SPOOL_STATUS_MAX_TEXT || len != ST_MIN_PAYLOAD + clen + tlen)
		return -1;
	memcpy(rec->code, p + 22, clen);
	rec->code[clen] = '\0';
	memcpy(rec->text, p + 24 + clen, tlen);
	rec->text[tlen] = '\0';
	if (memchr(rec->code, '\0', clen) != NULL ||
	    memchr(rec->text, '\0', tlen) != NULL)
		return -1;
	return 0;
}

static void
apply(struct spool_rcpt_status *st, const struct spool_status_rec *rec)
{
	if (rec->state == SPOOL_RCPT_WARNED) {
		st->warned = true;
		return;
	}
	if (rec->state == SPOOL_RCPT_NOTIFIED) {
		st->notified = true;
		return;
	}
	if (spool_rcpt_state_final(st->state))
		return;
	if (rec->state == SPOOL_RCPT_DEFERRED)
		st->attempts++;
	st->state = rec->state;
	st->time = rec->time;
	st->until = rec->until;
	memcpy(st->code, rec->code, sizeof(st->code));
	memcpy(st->text, rec->text, sizeof(st->text));
}

int64_t
spool_status_replay(const void *buf, size_t len, struct spool_rcpt_status *st,
    size_t nrcpts, bool *torn_r, char *why, size_t whysize)
{
	const uint8_t		*p = buf;
	struct spool_status_rec	*rec;
	size_t			 pos, plen, left;
	int64_t			 rc;

	*torn_r = false;
	if (len > SPOOL_STATUS_MAX_LOG)
		return spool_corrupt(why, whysize, "status log too large");
	if (len < sizeof(status_magic)) {
		/* a crash while the log was being created */
		if (memcmp(p, status_magic, len) != 0)
			return spool_corrupt(why, whysize, "bad magic");
		*torn_r = len > 0;
		return 0;
	}
	if (memcmp(p, status_magic, sizeof(status_magic)) != 0)
		return spool_corrupt(why, whysize, "bad magic");
	rec = xmalloc(sizeof(*rec));
	pos = sizeof(status_magic);
	while (pos < len) {
		left = len - pos;
		plen = left >= ST_HDR ? be32_get(p + pos + 1) : 0;
		if (left < ST_HDR || p[pos] != 'S' ||
		    plen < ST_MIN_PAYLOAD || plen > ST_MAX_PAYLOAD) {
			/* the length is not to be trusted: torn only if
			 * this could be the last record */
			if (left < ST_HDR + ST_MAX_PAYLOAD + ST_CRC)
				goto torn;
			rc = spool_corrupt(why, whysize, "bad record at %zu",
			    pos);
			goto out;
		}
		if (left < ST_HDR + plen + ST_CRC)
			goto torn;
		if (spool_crc32c(0, p + pos, ST_HDR + plen) !=
		    be32_get(p + pos + ST_HDR + plen)) {
			if (left == ST_HDR + plen + ST_CRC)
				goto torn;
			rc = spool_corrupt(why, whysize, "checksum at %zu", pos);
			goto out;
		}
		if (decode(p + pos + ST_HDR, plen, rec) == -1) {
			rc = spool_corrupt(why, whysize, "bad record at %zu",
			    pos);
			goto out;
		}
		if (rec->rcpt >= nrcpts) {
			rc = spool_corrupt(why, whysize,
			    "recipient %u of %zu at %zu", rec->rcpt, nrcpts,
			    pos);
			goto out;
		}
		apply(&st[rec->rcpt], rec);
		pos += ST_HDR + plen + ST_CRC;
	}
	rc = (int64_t)pos;
	goto out;
torn:
	*torn_r = true;
	rc = (int64_t)pos;
out:
	free(rec);
	return rc;
}

/* Read the whole of fd (bounded by SPOOL_STATUS_MAX_LOG). */
static int
read_all(int fd, uint8_t **buf_r, size_t *len_r, char *why, size_t whysize)
{
	char	*buf;

	if (fd_read_whole(fd, SPOOL_STATUS_MAX_LOG, &buf, len_r, NULL) == -1) {
		if (errno == EINVAL)
			return spool_corrupt(why, whysize, "not a regular file");
		if (errno == EFBIG)
			return spool_corrupt(why, whysize,
			    "status log too large");
		snprintf(why, whysize, "read: %s", strerror(errno));
		return SPOOL_ERR_IO;
	}
	*buf_r = (uint8_t *)buf;
	return 0;
}

int
spool_status_load(int dirfd, const char *id, struct spool_rcpt_status *st,
    size_t nrcpts, bool *torn_r, char *why, size_t whysize)
{
	uint8_t	*buf = NULL;
	size_t	 len;
	int64_t	 n;
	int	 fd, rc;

	*torn_r = false;
	if (!spool_id_valid(id))
		return spool_corrupt(why, whysize, "bad id");
	fd = openat(dirfd, id, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT)
		return 0;
	if (fd == -1) {
		snprintf(why, whysize, "open %s: %s", id, strerror(errno));
		return SPOOL_ERR_IO;
	}
	rc = read_all(fd, &buf, &len, why, whysize);
	close(fd);
	if (rc != 0)
		return rc;
	n = spool_status_replay(buf, len, st, nrcpts, torn_r, why, whysize);
	free(buf);
	return n < 0 ? (int)n : 0;
}

int
spool_status_open(int dirfd, const char *id, struct spool_rcpt_status *st,
    size_t nrcpts, struct spool_status_log **log_r, char *why,
    size_t whysize)
{
	struct spool_status_log	*log;
	uint8_t			*buf = NULL;
	size_t			 len = 0;
	int64_t			 good = 0;
	bool			 created = false, torn = false;
	int			 fd, rc;

	*log_r = NULL;
	if (!spool_id_valid(id))
		return spool_corrupt(why, whysize, "bad id");
	fd = openat(dirfd, id, O_RDWR | O_APPEND | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd != -1)
		created = true;
	else if (errno == EEXIST)
		fd = openat(dirfd, id, O_RDWR | O_APPEND | O_NOFOLLOW |
		    O_CLOEXEC);
	if (fd == -1) {
		snprintf(why, whysize, "open %s: %s", id, strerror(errno));
		return SPOOL_ERR_IO;
	}
	if (!created) {
		if ((rc = read_all(fd, &buf, &len, why, whysize)) != 0)
			goto fail;
		good = spool_status_replay(buf, len, st, nrcpts, &torn, why,
		    whysize);
		free(buf);
		if (good < 0) {
			rc = (int)good;
			goto fail;
		}
		if ((size_t)good < len && ftruncate(fd, (off_t)good) == -1)
			goto io;
	}
	if (good == 0) {
		if (fd_write_all(fd, status_magic, sizeof(status_magic)) == -1)
			goto io;
		good = sizeof(status_magic);
	}
	if ((created || torn) && fdatasync(fd) == -1)
		goto io;
	/* a new name must be durable before anything relies on it */
	if (created && fsync(dirfd) == -1)
		goto io;
	log = xcalloc(1, sizeof(*log));
	log->fd = fd;
	log->size = (uint64_t)good;
	memcpy(log->id, id, sizeof(log->id));
	*log_r = log;
	return 0;
io:
	snprintf(why, whysize, "status log %s: %s", id, strerror(errno));
	rc = SPOOL_ERR_IO;
fail:
	if (created)
		(void)unlinkat(dirfd, id, 0);
	close(fd);
	return rc;
}

int
spool_status_append(struct spool_status_log *log,
    const struct spool_status_rec *rec, bool sync, struct fail *f)
{
	struct str	 out;
	int		 rc = 0;

	str_init(&out, 0);
	if (spool_status_encode(rec, &out) == -1) {
		str_release(&out);
		return fail_set(f, true, "4.3.0", "bad status record");
	}
	if (fd_write_all(log->fd, out.data, out.len) == -1) {
		rc = fail_set(f, true, errno == ENOSPC || errno == EDQUOT ||
		    errno == EFBIG ? "4.3.1" : "4.3.0",
		    "status log write: %s", strerror(errno));
		/* never leave a torn record for the next append to follow */
		if (ftruncate(log->fd, (off_t)log->size) == -1)
			log_warn(log->id, "status log truncate: %s",
			    strerror(errno));
	} else {
		log->size += out.len;
		if (sync)
			rc = spool_status_sync(log, f);
	}
	str_release(&out);
	return rc;
}

int
spool_status_sync(struct spool_status_log *log, struct fail *f)
{
	if (fdatasync(log->fd) == -1)
		return fail_set(f, true, "4.3.0", "status log sync: %s",
		    strerror(errno));
	return 0;
}

void
spool_status_close(struct spool_status_log **logp)
{
	if (*logp == NULL)
		return;
	close((*logp)->fd);
	free(*logp);
	*logp = NULL;
}

int
spool_status_remove(int dirfd, const char *id)
{
	if (!spool_id_valid(id))
		return -1;
	if (unlinkat(dirfd, id, 0) == -1 && errno != ENOENT)
		return -1;
	return 0;
}
