/* SPDX-License-Identifier: MIT */
/*
 * logtee.c - with trace_log set, copy everything the daemons write to
 * stderr into that file as well (see master.h)
 *
 * The daemons' stderr is the write end of one pipe; the supervisor's loop
 * reads the other end and writes each chunk to its own stderr and to the
 * file.  Log lines are written whole by one write() each (log.c) and are
 * shorter than PIPE_BUF, so lines from several daemons never interleave.
 * The supervisor's own lines go to the file through log_set_copy_fd().
 * The file is opened again at every reload, so rotating it is "mv, then
 * buzon reload".
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "log.h"
#include "master.h"
#include "str.h"

static struct {
	int		 rd, wr;	/* the pipe, -1 when off */
	int		 file;
	char		 path[4096];
	struct event_io	*io;
} T = { -1, -1, -1, "", NULL };

static int
logtee_open_file(char *err, size_t errsize)
{
	int	 fd;

	fd = open(T.path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW |
	    O_CLOEXEC, 0640);
	if (fd == -1) {
		str_printf(err, errsize, "cannot open trace_log %s: %s",
		    T.path, strerror(errno));
		return -1;
	}
	if (T.file != -1)
		close(T.file);
	T.file = fd;
	log_set_copy_fd(fd);
	return 0;
}

int
logtee_start(const char *path, char *err, size_t errsize)
{
	int	 p[2];

	if (path == NULL || path[0] == '\0')
		return 0;
	if (!str_copy(T.path, path, sizeof(T.path))) {
		str_printf(err, errsize, "trace_log: path too long");
		return -1;
	}
	if (logtee_open_file(err, errsize) == -1)
		return -1;
	if (pipe2(p, O_CLOEXEC) == -1) {
		str_printf(err, errsize, "pipe: %s", strerror(errno));
		logtee_stop();
		return -1;
	}
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) == -1) {
		str_printf(err, errsize, "pipe: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		logtee_stop();
		return -1;
	}
	T.rd = p[0];
	T.wr = p[1];
	return 0;
}

int
logtee_child_fd(void)
{
	return T.wr;
}

/* Copy what is in the pipe now; false at EOF or a hard error. */
static bool
logtee_copy(void)
{
	char	 buf[8192];
	ssize_t	 n;

	for (;;) {
		if ((n = read(T.rd, buf, sizeof(buf))) == -1) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN;
		}
		if (n == 0)
			return false;
		(void)!write(STDERR_FILENO, buf, (size_t)n);
		if (T.file != -1)
			(void)!write(T.file, buf, (size_t)n);
	}
}

static void
logtee_cb(int fd, unsigned int events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	if (!logtee_copy())
		event_io_del(&T.io);
}

int
logtee_attach(struct event_loop *loop)
{
	if (T.rd == -1)
		return 0;
	if ((T.io = event_io_add(loop, T.rd, EVENT_READ, logtee_cb,
	    NULL)) == NULL)
		return -1;
	return 0;
}

void
logtee_reopen(const char *path)
{
	char	 err[512];

	if (T.rd == -1) {
		if (path != NULL && path[0] != '\0')
			log_warn("-", "trace_log takes effect at the next "
			    "start");
		return;
	}
	if (path != NULL && path[0] != '\0' &&
	    !str_copy(T.path, path, sizeof(T.path))) {
		log_warn("-", "trace_log: path too long, keeping %s", T.path);
		return;
	}
	if (logtee_open_file(err, sizeof(err)) == -1)
		log_warn("-", "%s", err);
}

void
logtee_stop(void)
{
	if (T.rd != -1) {
		(void)logtee_copy();
		close(T.rd);
	}
	event_io_del(&T.io);
	if (T.wr != -1)
		close(T.wr);
	log_set_copy_fd(-1);
	if (T.file != -1)
		close(T.file);
	T.rd = T.wr = T.file = -1;
}
