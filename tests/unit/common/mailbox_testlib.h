/*
 * mailbox_testlib.h - helpers the mailbox, mbidx and mbox tests share:
 * a scratch mail root, Maildir deliveries the way an MDA does them, files.
 */
#ifndef BUZON_MAILBOX_TESTLIB_H
#define BUZON_MAILBOX_TESTLIB_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mailbox.h"
#include "mem.h"
#include "str.h"

/* tmpfs when there is one: the index fsyncs a lot. */
static inline char *
tl_mkroot(void)
{
	char	 tmpl[128];
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	cr_assert(str_printf(tmpl, sizeof(tmpl), "%s/buzon-mbox-XXXXXX", base));
	cr_assert_not_null(mkdtemp(tmpl));
	return xstrdup(tmpl);
}

static inline void
tl_rmtree(const char *dir)
{
	DIR	*d;
	struct dirent *de;
	struct stat st;
	char	 p[4096];

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (!str_printf(p, sizeof(p), "%s/%s", dir, de->d_name))
			continue;
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			tl_rmtree(p);
		else
			(void)unlink(p);
	}
	closedir(d);
	(void)rmdir(dir);
}

static inline void
tl_write(const char *path, const void *data, size_t len)
{
	int	 fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	cr_assert_neq(fd, -1, "open %s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static inline void
tl_append(const char *path, const void *data, size_t len)
{
	int	 fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);

	cr_assert_neq(fd, -1);
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static inline char *
tl_read(const char *path, size_t *len_r)
{
	struct stat st;
	char	*buf;
	int	 fd = open(path, O_RDONLY);

	cr_assert_neq(fd, -1, "open %s", path);
	cr_assert_eq(fstat(fd, &st), 0);
	buf = xmalloc((size_t)st.st_size + 1);
	cr_assert_eq(read(fd, buf, (size_t)st.st_size), st.st_size);
	buf[st.st_size] = '\0';
	close(fd);
	*len_r = (size_t)st.st_size;
	return buf;
}

/* Deliver into DIR/new the Maildir way: tmp/, then rename. */
static inline void
tl_deliver(const char *dir, const char *name, const char *body)
{
	char	 t[4096], n[4096];

	cr_assert(str_printf(t, sizeof(t), "%s/tmp/%s", dir, name));
	cr_assert(str_printf(n, sizeof(n), "%s/new/%s", dir, name));
	tl_write(t, body, strlen(body));
	cr_assert_eq(rename(t, n), 0);
}

static inline void
tl_maildir(const char *dir)
{
	char	 p[4096];

	(void)mkdir(dir, 0700);
	cr_assert(str_printf(p, sizeof(p), "%s/cur", dir));
	(void)mkdir(p, 0700);
	cr_assert(str_printf(p, sizeof(p), "%s/new", dir));
	(void)mkdir(p, 0700);
	cr_assert(str_printf(p, sizeof(p), "%s/tmp", dir));
	(void)mkdir(p, 0700);
}

/* All wire bytes of message seq, read len bytes at a time. */
static inline char *
tl_fetch(struct mailbox *mb, uint32_t seq, size_t chunk, size_t *len_r)
{
	struct mailbox_stream *st;
	struct fail f;
	char	*buf = NULL;
	size_t	 len = 0;
	ssize_t	 r;

	st = mailbox_stream_open(mb, seq, &f);
	cr_assert_not_null(st, "stream_open %u: %s", seq, f.text);
	buf = xmalloc(chunk + 1);
	for (;;) {
		buf = xrealloc(buf, len + chunk + 1);
		r = mailbox_stream_read(st, buf + len, chunk);
		cr_assert_geq(r, 0);
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	mailbox_stream_close(&st);
	*len_r = len;
	return buf;
}

#ifdef TL_WRAP_FSYNC_DIR
/*
 * Directory fsync failures on demand: a program that defines
 * TL_WRAP_FSYNC_DIR links with -Wl,--wrap=mailbox_fsync_dir, so the
 * library's calls come here; while tl_fsync_dir_fails is set they fail
 * with EIO.
 */
static bool	 tl_fsync_dir_fails;

int	 __real_mailbox_fsync_dir(const char *);
int	 __wrap_mailbox_fsync_dir(const char *);

int
__wrap_mailbox_fsync_dir(const char *path)
{
	if (tl_fsync_dir_fails) {
		errno = EIO;
		return -1;
	}
	return __real_mailbox_fsync_dir(path);
}
#endif

#endif
