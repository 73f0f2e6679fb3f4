/* SPDX-License-Identifier: MIT */
/*
 * pidfile.c - STATE/run/buzon.pid: one supervisor at a time
 *
 * Format: the decimal pid and a newline.  The supervisor keeps the file
 * open under an exclusive flock(); whether an instance is alive is asked
 * of the lock, not of kill(pid, 0), so a pid reused by another program
 * after a crash does not keep buzon from starting.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "master.h"
#include "str.h"

static int
pid_read(int fd, pid_t *pid_r)
{
	char		 buf[32];
	ssize_t		 n;
	unsigned int	 v;

	if ((n = pread(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return -1;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (strnum_uint(buf, 1, 0x7fffffff, &v) == -1)
		return -1;
	*pid_r = (pid_t)v;
	return 0;
}

int
pidfile_running(const char *path, pid_t *pid_r)
{
	int	 fd, rc;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		close(fd);		/* nobody holds it: stale */
		return 0;
	}
	if (errno != EWOULDBLOCK) {
		close(fd);
		return -1;
	}
	/* Held: the holder may still be writing its pid. */
	rc = pid_read(fd, pid_r);
	close(fd);
	if (rc == -1)
		*pid_r = 0;
	return 1;
}

int
pidfile_create(const char *path, pid_t *other_r)
{
	char	 tmp[4096], buf[32];
	int	 fd, tries, len, rc = -1;

	/* Locked and written under a temporary name, then linked into place
	 * (link() fails if the name exists, like O_EXCL): the file never
	 * appears unlocked or empty to pidfile_running(). */
	if (!str_printf(tmp, sizeof(tmp), "%s.%ld.tmp", path,
	    (long)getpid())) {
		errno = ENAMETOOLONG;
		return -1;
	}
	(void)unlink(tmp);
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0644);
	if (fd == -1)
		return -1;
	len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (flock(fd, LOCK_EX | LOCK_NB) == -1 || len < 0 ||
	    (size_t)len >= sizeof(buf) || write(fd, buf, (size_t)len) != len)
		goto out;
	for (tries = 0; tries < 5; tries++) {
		if (link(tmp, path) == 0) {
			rc = fd;
			goto out;
		}
		if (errno != EEXIST)
			goto out;
		switch (pidfile_running(path, other_r)) {
		case 1:
			rc = -2;
			goto out;
		case 0:
			/* Stale: replace it (if another starter removed it
			 * first, the next link() decides). */
			if (unlink(path) == -1 && errno != ENOENT)
				goto out;
			continue;
		default:
			goto out;
		}
	}
	errno = EAGAIN;
out:
	(void)unlink(tmp);
	if (rc < 0)
		close(fd);
	return rc;
}

void
pidfile_remove(const char *path, int fd)
{
	pid_t	 pid;

	if (fd == -1)
		return;
	if (pid_read(fd, &pid) == 0 && pid == getpid())
		(void)unlink(path);
	close(fd);
}
