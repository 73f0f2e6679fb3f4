/* SPDX-License-Identifier: MIT */
/*
 * subs.c - a user's subscriptions (SUBSCRIBE, UNSUBSCRIBE, LSUB, LIST
 * (SUBSCRIBED))
 *
 * One file per user: ROOT/subscriptions for Maildir (where Dovecot keeps
 * its own), ROOT/.buzon/subscriptions for mbox (ROOT's plain files are
 * folders there).  One storage name per line, sorted; replaced whole by
 * rename, so a reader sees the old list or the new one; writers take
 * turns on a lock file beside it.  A name may be
 * subscribed without the folder existing (RFC 3501 6.3.6).
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "folders.h"
#include "mailbox.h"
#include "mem.h"
#include "str.h"

#define SUBS_FILE_MAX	(1024 * 1024)
#define SUBS_MAX	10000	/* names one user may subscribe */

static int
subs_path(const struct mailbox_location *loc, char *buf, size_t size,
    bool mkdirs)
{
	char	 dir[PATH_MAX];

	if (loc->format == MAILBOX_MBOX) {
		if (!str_printf(dir, sizeof(dir), "%s/.buzon", loc->root))
			return -1;
		if (mkdirs && mkdir(dir, 0700) == -1 && errno != EEXIST)
			return -1;
		return str_printf(buf, size, "%s/subscriptions", dir) ? 0 : -1;
	}
	return str_printf(buf, size, "%s/subscriptions", loc->root) ? 0 : -1;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
imap_subs_load(const struct mailbox_location *loc, char ***names_r,
    size_t *n_r)
{
	char	 path[PATH_MAX], *buf, *p, *nl, **v = NULL;
	size_t	 len, n = 0, cap = 0, i, j;
	int	 fd;

	*names_r = NULL;
	*n_r = 0;
	if (subs_path(loc, path, sizeof(path), false) == -1)
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return errno == ENOENT ? 0 : -1;
	if (fd_read_whole(fd, SUBS_FILE_MAX, &buf, &len, NULL) == -1) {
		(void)close(fd);
		return -1;
	}
	(void)close(fd);
	for (p = buf; p < buf + len; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(buf + len - p))) == NULL)
			nl = buf + len;
		*nl = '\0';
		if (*p == '\0' || !mailbox_name_valid(p))
			continue;	/* never trust a line blindly */
		if (n == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n++] = xstrdup(p);
	}
	free(buf);
	if (n > 0)
		qsort(v, n, sizeof(*v), name_cmp);
	/* A line twice (written by hand, or by another server): once. */
	for (i = j = 0; i < n; i++) {
		if (j > 0 && strcmp(v[j - 1], v[i]) == 0)
			free(v[i]);
		else
			v[j++] = v[i];
	}
	n = j;
	*names_r = v;
	*n_r = n;
	return 0;
}

void
imap_subs_free(char **names, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

bool
imap_subs_has(char *const *names, size_t n, const char *name)
{
	return n > 0 && bsearch(&name, names, n, sizeof(*names),
	    name_cmp) != NULL;
}

int
imap_subs_set(const struct mailbox_location *loc, const char *name, bool on)
{
	char		 path[PATH_MAX], tmp[PATH_MAX + 32], **v;
	struct str	 out;
	size_t		 n, i;
	bool		 have;
	int		 fd, lock_fd, rc = -1;

	/* One writer at a time, so that two sessions subscribing at once
	 * both get their name in: the whole read, change and rename under
	 * a lock on a file of its own (the list itself is replaced). */
	if (subs_path(loc, path, sizeof(path), true) == -1 ||
	    !str_printf(tmp, sizeof(tmp), "%s.lock", path))
		return -1;
	if ((lock_fd = open(tmp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) == -1)
		return -1;
	if (flock(lock_fd, LOCK_EX) == -1) {
		(void)close(lock_fd);
		return -1;
	}
	if (imap_subs_load(loc, &v, &n) == -1) {
		(void)close(lock_fd);
		return -1;
	}
	have = imap_subs_has(v, n, name);
	if (have == on) {
		imap_subs_free(v, n);
		(void)close(lock_fd);
		return 0;
	}
	if (on && n >= SUBS_MAX) {
		imap_subs_free(v, n);
		(void)close(lock_fd);
		errno = ENOSPC;
		return -1;
	}
	str_init(&out, 0);
	for (i = 0; i < n; i++)
		if ((on || strcmp(v[i], name) != 0) &&
		    str_appendf(&out, "%s\n", v[i]) == -1)
			goto out;
	if (on && str_appendf(&out, "%s\n", name) == -1)
		goto out;
	if (!str_printf(tmp, sizeof(tmp), "%s.tmp", path))
		goto out;
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd == -1)
		goto out;
	if (fd_write_all(fd, out.data, out.len) == -1 || fsync(fd) == -1) {
		(void)close(fd);
		(void)unlink(tmp);
		goto out;
	}
	(void)close(fd);
	if (rename(tmp, path) == -1) {
		(void)unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	str_release(&out);
	imap_subs_free(v, n);
	(void)close(lock_fd);	/* drops the lock */
	return rc;
}
