/* SPDX-License-Identifier: MIT */
/*
 * fileio.c - whole writes, whole-file reads and stat times
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "fileio.h"
#include "mem.h"

int
fd_write_all(int fd, const void *p, size_t len)
{
	const char	*b = p;
	size_t		 done = 0;
	ssize_t		 n;

	while (done < len) {
		n = write(fd, b + done, len - done);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		done += (size_t)n;
	}
	return 0;
}

int
fd_read_whole(int fd, size_t max, char **buf_r, size_t *len_r,
    struct stat *st_r)
{
	struct stat	 st;
	char		*buf;
	size_t		 len, got = 0;
	ssize_t		 n;
	int		 saved;

	if (fstat(fd, &st) == -1)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		return -1;
	}
	if (st.st_size < 0 || (uint64_t)st.st_size > max) {
		errno = EFBIG;
		return -1;
	}
	len = (size_t)st.st_size;
	buf = xmalloc(len + 1);
	while (got < len) {
		n = pread(fd, buf + got, len - got, (off_t)got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			saved = errno;
			free(buf);
			errno = saved;
			return -1;
		}
		if (n == 0)
			break;		/* shrank */
		got += (size_t)n;
	}
	buf[got] = '\0';
	*buf_r = buf;
	*len_r = got;
	if (st_r != NULL)
		*st_r = st;
	return 0;
}

int64_t
stat_mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}
