/* SPDX-License-Identifier: MIT */
/*
 * recent.c - \Recent (RFC 3501 2.3.2): a message is recent in the first
 * session that selects its folder read-write after it arrived
 *
 * The mark is one small file beside the folder's index
 * (INDEX.imap-recent): "UIDVALIDITY HIGHEST\n", the highest UID some
 * session has already been shown as recent.  SELECT claims everything
 * above it under an exclusive lock on the file and writes the new
 * highest; EXAMINE and STATUS only read it.  A new UIDVALIDITY (index
 * rebuilt) starts over.  Losing the file costs only \Recent flags shown
 * once more; it is never trusted for anything else.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "folders.h"
#include "mailbox.h"
#include "str.h"

#define RECENT_SUFFIX	".imap-recent"

/* The highest UID already shown recent, from the open file fd (0 when
 * empty, unreadable or of another UIDVALIDITY). */
static uint32_t
recent_read(int fd, uint32_t uidvalidity)
{
	char		 buf[64];
	ssize_t		 n;
	unsigned long	 v, h;

	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (sscanf(buf, "%lu %lu", &v, &h) != 2 || v != uidvalidity ||
	    h > UINT32_MAX)
		return 0;
	return (uint32_t)h;
}

static int
recent_open(struct mailbox *mb, int flags)
{
	char	 path[PATH_MAX];

	if (!str_printf(path, sizeof(path), "%s" RECENT_SUFFIX,
	    mailbox_index_path(mb)))
		return -1;
	return open(path, flags | O_CLOEXEC | O_NOFOLLOW, 0600);
}

/* The first UID of the view above high, 0 if none. */
static uint32_t
first_above(struct mailbox *mb, uint32_t high)
{
	struct mailbox_msg	 m;
	uint32_t		 n = mailbox_count(mb), lo = 1, hi = n, mid;

	if (n == 0 || mailbox_msg(mb, n, &m) == -1 || m.uid <= high)
		return 0;
	/* UIDs ascend with the sequence numbers: the first one above. */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (mailbox_msg(mb, mid, &m) == -1)
			return 0;
		if (m.uid > high)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (mailbox_msg(mb, lo, &m) == -1)
		return 0;
	return m.uid;
}

uint32_t
imap_recent_claim(struct mailbox *mb)
{
	struct mailbox_msg	 m;
	uint32_t		 high, first, n = mailbox_count(mb);
	char			 line[64];
	int			 fd, len;

	if (n == 0 || mailbox_msg(mb, n, &m) == -1)
		return 0;
	if ((fd = recent_open(mb, O_RDWR | O_CREAT)) == -1)
		return 0;	/* nothing recorded: nothing claimed */
	if (flock(fd, LOCK_EX) == -1) {
		(void)close(fd);
		return 0;
	}
	high = recent_read(fd, mailbox_uidvalidity(mb));
	first = first_above(mb, high);
	if (first != 0) {
		len = snprintf(line, sizeof(line), "%" PRIu32 " %" PRIu32 "\n",
		    mailbox_uidvalidity(mb), m.uid);
		/* Same length or longer each time, but truncate anyway. */
		if (len <= 0 || ftruncate(fd, 0) == -1 ||
		    pwrite(fd, line, (size_t)len, 0) != len)
			first = 0;	/* not recorded: do not claim */
	}
	(void)close(fd);	/* drops the lock */
	return first;
}

uint32_t
imap_recent_peek(struct mailbox *mb)
{
	uint32_t	 high = 0, first;
	int		 fd;

	if ((fd = recent_open(mb, O_RDONLY)) != -1) {
		if (flock(fd, LOCK_SH) == 0)
			high = recent_read(fd, mailbox_uidvalidity(mb));
		(void)close(fd);
	}
	first = first_above(mb, high);
	return first;
}
