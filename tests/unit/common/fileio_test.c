/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "fileio.h"

#define BIG	(1024 * 1024)

struct drain {
	int	 fd;
	size_t	 got;
	unsigned int delay_us;	/* before reading, and between reads */
	uint8_t	 sum;
};

static void *
drain_main(void *arg)
{
	struct drain	*d = arg;
	uint8_t		 buf[4096];
	ssize_t		 n;
	ssize_t		 i;

	usleep(d->delay_us);
	while ((n = read(d->fd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < n; i++)
			d->sum = (uint8_t)(d->sum + buf[i]);
		d->got += (size_t)n;
		if (d->delay_us > 0)
			usleep(d->delay_us / 100);
	}
	return NULL;
}

static uint8_t *
pattern(size_t len, uint8_t *sum_r)
{
	uint8_t	*p = malloc(len);
	size_t	 i;

	cr_assert_not_null(p);
	*sum_r = 0;
	for (i = 0; i < len; i++) {
		p[i] = (uint8_t)(i * 7 + 3);
		*sum_r = (uint8_t)(*sum_r + p[i]);
	}
	return p;
}

/* A pipe holds 64 KiB: 1 MiB goes in many short writes. */
Test(fileio, write_all_through_short_writes)
{
	struct drain	 d = { .delay_us = 0 };
	pthread_t	 t;
	uint8_t		*p, sum;
	int		 fds[2];

	cr_assert(pipe(fds) == 0);
	d.fd = fds[0];
	p = pattern(BIG, &sum);
	cr_assert(pthread_create(&t, NULL, drain_main, &d) == 0);
	cr_assert_eq(fd_write_all(fds[1], p, BIG), 0);
	close(fds[1]);
	pthread_join(t, NULL);
	cr_assert_eq(d.got, (size_t)BIG);
	cr_assert_eq(d.sum, sum);
	close(fds[0]);
	free(p);
}

static volatile sig_atomic_t alarms;

static void
on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

/* The writer blocks on a full pipe while a timer interrupts it (no
 * SA_RESTART): every EINTR or short write is taken up again. */
Test(fileio, write_all_through_eintr)
{
	struct sigaction sa;
	struct itimerval it = { { 0, 2000 }, { 0, 2000 } }, off = { 0 };
	struct drain	 d = { .delay_us = 100000 };
	pthread_t	 t;
	sigset_t	 block;
	uint8_t		*p, sum;
	int		 fds[2];

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	cr_assert(sigaction(SIGALRM, &sa, NULL) == 0);
	cr_assert(pipe(fds) == 0);
	d.fd = fds[0];
	p = pattern(BIG, &sum);
	/* only this thread takes the alarms */
	sigemptyset(&block);
	sigaddset(&block, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	cr_assert(pthread_create(&t, NULL, drain_main, &d) == 0);
	pthread_sigmask(SIG_UNBLOCK, &block, NULL);
	cr_assert(setitimer(ITIMER_REAL, &it, NULL) == 0);
	cr_assert_eq(fd_write_all(fds[1], p, BIG), 0);
	cr_assert(setitimer(ITIMER_REAL, &off, NULL) == 0);
	close(fds[1]);
	pthread_join(t, NULL);
	cr_assert_gt(alarms, 0);
	cr_assert_eq(d.got, (size_t)BIG);
	cr_assert_eq(d.sum, sum);
	close(fds[0]);
	free(p);
}

Test(fileio, write_all_errors)
{
	int	 fds[2];

	cr_assert_eq(fd_write_all(-1, "x", 1), -1);
	cr_assert_eq(errno, EBADF);
	/* nothing to write: no call at all, even on a bad fd */
	cr_assert_eq(fd_write_all(-1, "", 0), 0);
	signal(SIGPIPE, SIG_IGN);
	cr_assert(pipe(fds) == 0);
	close(fds[0]);
	cr_assert_eq(fd_write_all(fds[1], "abc", 3), -1);
	cr_assert_eq(errno, EPIPE);
	close(fds[1]);
}

static int
temp_file(const void *data, size_t len)
{
	char	 path[] = "/tmp/fileio_test.XXXXXX";
	int	 fd;

	fd = mkstemp(path);
	cr_assert(fd >= 0);
	unlink(path);
	if (len > 0)
		cr_assert_eq(fd_write_all(fd, data, len), 0);
	return fd;
}

Test(fileio, read_whole_empty)
{
	struct stat st;
	char	*buf;
	size_t	 len = 99;
	int	 fd = temp_file("", 0);

	cr_assert_eq(fd_read_whole(fd, 0, &buf, &len, &st), 0);
	cr_assert_eq(len, 0);
	cr_assert_eq(buf[0], '\0');
	cr_assert(S_ISREG(st.st_mode));
	free(buf);
	close(fd);
}

Test(fileio, read_whole_at_the_cap_and_past_it)
{
	char	*buf = NULL;
	size_t	 len;
	int	 fd = temp_file("0123456789", 10);

	/* the file offset is at the end: the read is from 0 all the same */
	cr_assert_eq(fd_read_whole(fd, 10, &buf, &len, NULL), 0);
	cr_assert_eq(len, 10);
	cr_assert_str_eq(buf, "0123456789");
	cr_assert_eq(lseek(fd, 0, SEEK_CUR), 10);
	free(buf);
	buf = NULL;
	cr_assert_eq(fd_read_whole(fd, 9, &buf, &len, NULL), -1);
	cr_assert_eq(errno, EFBIG);
	cr_assert_null(buf);
	close(fd);
}

/* A sparse 8 GiB file is refused by its size, before any allocation. */
Test(fileio, read_whole_huge)
{
	char	*buf = NULL;
	size_t	 len;
	int	 fd = temp_file("", 0);

	cr_assert(ftruncate(fd, (off_t)8 << 30) == 0);
	cr_assert_eq(fd_read_whole(fd, 64u << 20, &buf, &len, NULL), -1);
	cr_assert_eq(errno, EFBIG);
	cr_assert_null(buf);
	close(fd);
}

Test(fileio, read_whole_not_regular)
{
	char	*buf = NULL;
	size_t	 len;
	int	 fds[2], fd;

	cr_assert(pipe(fds) == 0);
	cr_assert_eq(fd_read_whole(fds[0], 100, &buf, &len, NULL), -1);
	cr_assert_eq(errno, EINVAL);
	close(fds[0]);
	close(fds[1]);
	fd = open("/tmp", O_RDONLY | O_DIRECTORY);
	cr_assert(fd >= 0);
	cr_assert_eq(fd_read_whole(fd, 100, &buf, &len, NULL), -1);
	cr_assert_eq(errno, EINVAL);
	close(fd);
	cr_assert_eq(fd_read_whole(-1, 100, &buf, &len, NULL), -1);
	cr_assert_eq(errno, EBADF);
	cr_assert_null(buf);
}

Test(fileio, mtime_ns)
{
	struct timespec ts[2] = { { 1700000000, 123456789 },
	    { 1700000000, 123456789 } };
	struct stat st;
	int	 fd = temp_file("x", 1);

	cr_assert(futimens(fd, ts) == 0);
	cr_assert(fstat(fd, &st) == 0);
	cr_assert_eq(stat_mtime_ns(&st), 1700000000123456789LL);
	st.st_mtim.tv_sec = 0;
	st.st_mtim.tv_nsec = 999999999;
	cr_assert_eq(stat_mtime_ns(&st), 999999999LL);
	close(fd);
}
