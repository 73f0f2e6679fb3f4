/*
 * fileio.h - whole writes, whole-file reads and stat times, done once
 *
 * write(2) may write less than asked (a pipe, a socket, a full disk) and
 * any blocking call may return EINTR; callers that want all or nothing use
 * fd_write_all().  fd_read_whole() reads a regular file into one buffer
 * with a size cap, the way every index and log in common/ is loaded.
 */
#ifndef BUZON_FILEIO_H
#define BUZON_FILEIO_H

#include <sys/stat.h>

#include <stddef.h>
#include <stdint.h>

/* Write all len bytes of p to fd, again after a short write or EINTR.  0,
 * or -1 with errno set (EIO when write(2) returned 0); on -1 an unknown
 * prefix may have been written.  len 0 writes nothing and returns 0. */
int	 fd_write_all(int fd, const void *p, size_t len)
	    __attribute__((warn_unused_result));

/* Read the regular file open on fd from offset 0 (pread: the file offset
 * does not move) into *buf_r, xmalloc'd with a NUL after the data (free()
 * it), its length in *len_r.  A file that shrinks while it is read gives
 * what was there (*len_r below st_size); one that grows gives st_size
 * bytes.  st_r, when not NULL, gets the fstat taken before the read.
 * 0; or -1 with errno: EINVAL not a regular file, EFBIG larger than max
 * bytes, else fstat's or pread's; nothing is allocated then. */
int	 fd_read_whole(int fd, size_t max, char **buf_r, size_t *len_r,
	    struct stat *st_r) __attribute__((warn_unused_result));

/* The modification time of st in nanoseconds since the epoch. */
int64_t	 stat_mtime_ns(const struct stat *st);

#endif
