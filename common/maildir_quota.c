/* SPDX-License-Identifier: MIT */
/*
 * maildir_quota.c - Maildir++ usage through maildirsize (maildir_quota.h)
 */
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "maildir_quota.h"
#include "str.h"

static uint64_t
size_add(uint64_t a, uint64_t b)
{
	uint64_t	 sum;

	return __builtin_add_overflow(a, b, &sum) ? UINT64_MAX : sum;
}

int
maildir_name_size(const char *name, uint64_t *size_r)
{
	const char	*p, *e;

	if ((p = strstr(name, ",S=")) == NULL)
		return 0;
	p += 3;
	for (e = p; *e >= '0' && *e <= '9'; e++)
		continue;
	if (e == p || (*e != '\0' && *e != ',' && *e != ':'))
		return 0;
	return strnum_u64n(p, (size_t)(e - p), 0, UINT64_MAX, size_r) == 0 ?
	    1 : 0;
}

/* Sum the sizes of the messages in dir. */
static int
scan_dir(const char *dir, uint64_t *total)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	uint64_t	 sz;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (maildir_name_size(de->d_name, &sz) == 1) {
			*total = size_add(*total, sz);
			continue;
		}
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW)
		    == 0 && S_ISREG(st.st_mode))
			*total = size_add(*total, (uint64_t)st.st_size);
	}
	(void)closedir(d);
	return 0;
}

/* cur/ and new/ of folder (root itself, or root/.Name). */
static int
scan_folder(const char *folder, uint64_t *total)
{
	char	 dir[PATH_MAX];

	if (!str_printf(dir, sizeof(dir), "%s/cur", folder) ||
	    scan_dir(dir, total) == -1 ||
	    !str_printf(dir, sizeof(dir), "%s/new", folder) ||
	    scan_dir(dir, total) == -1)
		return -1;
	return 0;
}

/* The whole Maildir++: the root and every ".Folder" beside it. */
static int
count(const char *root, uint64_t *total)
{
	DIR		*d;
	struct dirent	*de;
	char		 sub[PATH_MAX];

	if (scan_folder(root, total) == -1)
		return -1;
	if ((d = opendir(root)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.' || de->d_name[1] == '\0' ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		/* a folder is a directory with cur/: others are not mail */
		if (str_printf(sub, sizeof(sub), "%s/%s", root, de->d_name))
			(void)scan_folder(sub, total);
	}
	(void)closedir(d);
	return 0;
}

static int
rebuild(const char *root, uint64_t quota, uint64_t pending,
    uint64_t *usage_r)
{
	char		 tmp[PATH_MAX], dst[PATH_MAX], line[64];
	uint64_t	 total = pending;
	int		 fd, len;

	if (count(root, &total) == -1)
		return -1;
	*usage_r = total;
	/* Best effort: the count above is what matters now. */
	if (!str_printf(tmp, sizeof(tmp), "%s/tmp/maildirsize.%ld", root,
	    (long)getpid()) ||
	    !str_printf(dst, sizeof(dst), "%s/maildirsize", root))
		return 0;
	len = snprintf(line, sizeof(line), "%lluS\n%llu 0\n",
	    (unsigned long long)quota, (unsigned long long)total);
	if (len <= 0 || (size_t)len >= sizeof(line))
		return 0;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1)
		return 0;
	if (write(fd, line, (size_t)len) != len || rename(tmp, dst) == -1)
		(void)unlink(tmp);
	(void)close(fd);
	return 0;
}

/* Read maildirsize: 1 with *usage_r, 0 when it must be rebuilt. */
static int
read_file(const char *root, uint64_t *usage_r)
{
	char		 file[PATH_MAX], buf[MAILDIR_QUOTA_FILE_MAX + 1];
	char		*line, *nl, *sp;
	uint64_t	 v;
	int64_t		 total = 0;
	ssize_t		 n;
	int		 fd;
	bool		 neg;

	if (!str_printf(file, sizeof(file), "%s/maildirsize", root) ||
	    (fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf));
	(void)close(fd);
	if (n <= 0 || n > MAILDIR_QUOTA_FILE_MAX)
		return 0;
	buf[n] = '\0';
	if ((line = strchr(buf, '\n')) == NULL)
		return 0;
	for (line++; *line != '\0'; line = nl + 1) {
		if ((nl = strchr(line, '\n')) == NULL)
			return 0;	/* a partial last line: rebuild */
		*nl = '\0';
		if ((sp = strchr(line, ' ')) != NULL)
			*sp = '\0';
		neg = line[0] == '-';
		if (strnum_u64(line + neg, 0, INT64_MAX, &v) == -1)
			return 0;
		/* A sum past the int64 range is a damaged file: rebuild
		 * rather than let it wrap to a small usage. */
		if (neg ? __builtin_sub_overflow(total, (int64_t)v, &total) :
		    __builtin_add_overflow(total, (int64_t)v, &total))
			return 0;
	}
	*usage_r = total < 0 ? 0 : (uint64_t)total;
	return 1;
}

int
maildir_quota_usage(const char *root, uint64_t quota, uint64_t pending,
    bool recount, uint64_t *usage_r)
{
	if (!recount && read_file(root, usage_r) == 1)
		return 0;
	return rebuild(root, quota, pending, usage_r);
}

void
maildir_quota_add(const char *root, uint64_t size)
{
	char	 file[PATH_MAX], line[32];
	int	 fd, len;

	if (!str_printf(file, sizeof(file), "%s/maildirsize", root))
		return;
	if ((fd = open(file, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC)) ==
	    -1)
		return;
	len = snprintf(line, sizeof(line), "%llu 1\n",
	    (unsigned long long)size);
	if (len > 0 && (size_t)len < sizeof(line))
		(void)!write(fd, line, (size_t)len);
	(void)close(fd);
}
