/* SPDX-License-Identifier: MIT */
/*
 * dir.c - directory helpers (dir.h)
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "dir.h"

int
dir_fsync(const char *path)
{
	int	 fd, rc, save;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	save = errno;
	(void)close(fd);
	errno = save;
	return rc;
}
