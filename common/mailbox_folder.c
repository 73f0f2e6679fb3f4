/* SPDX-License-Identifier: MIT */
/*
 * mailbox_folder.c - folder names, and list/create/delete/rename
 *
 * A client's name never becomes a path unless mailbox_name_valid() said
 * yes: no '/', no empty component (so no "." or ".." anywhere), no control
 * bytes.  Maildir++ puts folder "a.b" in ROOT/.a.b; mbox in the file
 * ROOT/a.b, with its index under ROOT/.buzon/.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "mailbox_private.h"
#include "mem.h"
#include "str.h"

bool
mailbox_name_valid(const char *name)
{
	size_t	 i, len = strlen(name), comp = 0;

	if (strcasecmp(name, "INBOX") == 0)
		return true;
	if (len == 0 || len > MAILBOX_NAME_MAX)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c < 0x20 || c >= 0x7f || strchr("/\\*%", c) != NULL)
			return false;
		if (c == '.') {
			if (comp == 0)
				return false;	/* leading or doubled dot */
			comp = 0;
		} else
			comp++;
	}
	if (comp == 0)
		return false;			/* trailing dot */
	/* INBOX's children would need a second layout; not offered. */
	if (strncasecmp(name, "INBOX.", 6) == 0)
		return false;
	return true;
}

static bool
is_inbox(const char *name)
{
	return strcasecmp(name, "INBOX") == 0;
}

static char *
folder_path(const struct mailbox_location *loc, const char *name)
{
	char	*base, *p;

	if (loc->format == MAILBOX_MBOX)
		return mailbox_path_join(loc->root, name);
	base = xmalloc(strlen(name) + 2);
	base[0] = '.';
	memcpy(base + 1, name, strlen(name) + 1);
	p = mailbox_path_join(loc->root, base);
	free(base);
	return p;
}

static int
mkdir_maildir(const char *dir)
{
	static const char *const subs[] = { "cur", "new", "tmp" };
	char	*p;
	size_t	 i;

	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return -1;
	for (i = 0; i < 3; i++) {
		p = mailbox_path_join(dir, subs[i]);
		if (mkdir(p, 0700) == -1 && errno != EEXIST) {
			free(p);
			return -1;
		}
		free(p);
	}
	return 0;
}

int
mailbox_create(const struct mailbox_location *loc, const char *name,
    struct fail *f)
{
	struct stat st;
	char	*p;
	int	 fd, rc = 0;

	if (!mailbox_name_valid(name))
		return fail_set(f, false, "5.1.3", "invalid mailbox name");
	if (mkdir(loc->root, 0700) == -1 && errno != EEXIST)
		return fail_set(f, true, "4.3.0", "cannot create mail root");
	if (loc->format == MAILBOX_MAILDIR) {
		if (is_inbox(name)) {
			if (mkdir_maildir(loc->root) == -1)
				return fail_set(f, true, "4.3.0",
				    "cannot create mailbox");
			return 0;
		}
		p = folder_path(loc, name);
		if (lstat(p, &st) == 0) {
			free(p);
			return fail_set(f, false, "5.2.0",
			    "mailbox already exists");
		}
		if (mkdir_maildir(p) == -1) {
			rc = fail_set(f, true, "4.3.0",
			    "cannot create mailbox");
		} else {
			/* Maildir++ marks a folder with this file. */
			char	*mf = mailbox_path_join(p, "maildirfolder");

			if ((fd = open(mf, O_WRONLY | O_CREAT | O_CLOEXEC,
			    0600)) != -1)
				close(fd);
			free(mf);
			(void)mailbox_fsync_dir(loc->root);
		}
		free(p);
		return rc;
	}
	p = is_inbox(name) && loc->mbox_inbox != NULL ?
	    xstrdup(loc->mbox_inbox) : folder_path(loc, is_inbox(name) ?
	    "INBOX" : name);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1)
		rc = errno == EEXIST ? (is_inbox(name) ? 0 : fail_set(f, false,
		    "5.2.0", "mailbox already exists")) : fail_set(f, true,
		    "4.3.0", "cannot create mailbox");
	else
		close(fd);
	free(p);
	return rc;
}

static int
rm_tree(const char *dir)
{
	DIR	*d;
	struct dirent *de;
	struct stat st;
	char	*p;
	int	 rc = 0;

	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		p = mailbox_path_join(dir, de->d_name);
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			rc |= rm_tree(p);
		else if (unlink(p) == -1 && errno != ENOENT)
			rc = -1;
		free(p);
	}
	closedir(d);
	if (rmdir(dir) == -1 && errno != ENOENT)
		rc = -1;
	return rc;
}

static void
mbox_state_files(const struct mailbox_location *loc, const char *name,
    const char *to)
{
	static const char *const sfx[] = { ".index", ".log", ".cache",
	    ".lock", ".pop3.lock" };
	char	 a[MAILBOX_NAME_MAX + 40], b[MAILBOX_NAME_MAX + 40];
	size_t	 i;

	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		char	*pa, *pb;

		(void)str_printf(a, sizeof(a), ".buzon/%s%s", name, sfx[i]);
		pa = mailbox_path_join(loc->root, a);
		if (to == NULL)
			(void)unlink(pa);
		else {
			(void)str_printf(b, sizeof(b), ".buzon/%s%s", to,
			    sfx[i]);
			pb = mailbox_path_join(loc->root, b);
			(void)rename(pa, pb);
			free(pb);
		}
		free(pa);
	}
}

int
mailbox_delete(const struct mailbox_location *loc, const char *name,
    struct fail *f)
{
	struct stat st;
	char	*p;
	int	 rc = 0;

	if (is_inbox(name))
		return fail_set(f, false, "5.2.0", "INBOX cannot be deleted");
	if (!mailbox_name_valid(name))
		return fail_set(f, false, "5.1.3", "invalid mailbox name");
	p = folder_path(loc, name);
	if (lstat(p, &st) == -1) {
		free(p);
		return fail_set(f, false, "5.2.0", "no such mailbox");
	}
	if (loc->format == MAILBOX_MAILDIR) {
		/* Rename out of the folder namespace first, so a half-done
		 * delete never looks like a folder. */
		char	 base[64], *gone;

		(void)str_printf(base, sizeof(base), "buzon.deleting.%ld",
		    (long)getpid());
		gone = mailbox_path_join(loc->root, base);
		(void)rm_tree(gone);
		if (rename(p, gone) == -1 || rm_tree(gone) == -1)
			rc = fail_set(f, true, "4.3.0",
			    "cannot delete mailbox");
		free(gone);
	} else {
		if (unlink(p) == -1)
			rc = fail_set(f, true, "4.3.0",
			    "cannot delete mailbox");
		else
			mbox_state_files(loc, name, NULL);
	}
	free(p);
	return rc;
}

/* Files beside mbox folders that are not folders: dotlocks and the
 * rewrite's temporary file. */
static bool
mbox_not_folder(const char *nm)
{
	size_t	 len = strlen(nm);

	return (len > 5 && strcmp(nm + len - 5, ".lock") == 0) ||
	    strstr(nm, ".buzon-new.") != NULL;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
mailbox_list(const struct mailbox_location *loc, char ***names_r,
    struct fail *f)
{
	DIR	*d;
	struct dirent *de;
	struct stat st;
	char	**v = NULL, *p, *sub;
	const char *nm;
	size_t	 n = 0, cap = 0;

	*names_r = NULL;
	if ((d = opendir(loc->root)) == NULL)
		return fail_set(f, errno != ENOENT, "4.3.0",
		    "cannot list mailboxes");
	cap = 16;
	v = xreallocarray(NULL, cap, sizeof(*v));
	v[n++] = xstrdup("INBOX");
	while ((de = readdir(d)) != NULL) {
		nm = de->d_name;
		if (loc->format == MAILBOX_MAILDIR) {
			if (nm[0] != '.' || !mailbox_name_valid(nm + 1))
				continue;
			p = mailbox_path_join(loc->root, nm);
			sub = mailbox_path_join(p, "cur");
			free(p);
			if (stat(sub, &st) == -1 || !S_ISDIR(st.st_mode)) {
				free(sub);
				continue;
			}
			free(sub);
			nm++;
		} else {
			if (!mailbox_name_valid(nm) || is_inbox(nm) ||
			    mbox_not_folder(nm))
				continue;
			p = mailbox_path_join(loc->root, nm);
			if (lstat(p, &st) == -1 || !S_ISREG(st.st_mode)) {
				free(p);
				continue;
			}
			free(p);
		}
		if (n + 1 >= cap) {
			cap *= 2;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n++] = xstrdup(nm);
	}
	closedir(d);
	qsort(v + 1, n - 1, sizeof(*v), name_cmp);
	v[n] = NULL;
	*names_r = v;
	return 0;
}

void
mailbox_list_free(char ***pv)
{
	char	**v = *pv;
	size_t	 i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
	*pv = NULL;
}

int
mailbox_rename(const struct mailbox_location *loc, const char *from,
    const char *to, struct fail *f)
{
	char	**names, *a, *b, nto[MAILBOX_NAME_MAX + 1];
	struct stat st;
	size_t	 i, flen = strlen(from);
	int	 rc = 0;

	if (is_inbox(from))
		return fail_set(f, false, "5.2.0", "INBOX cannot be renamed");
	if (!mailbox_name_valid(from) || !mailbox_name_valid(to) ||
	    is_inbox(to))
		return fail_set(f, false, "5.1.3", "invalid mailbox name");
	if (strncmp(to, from, flen) == 0 && to[flen] == '.')
		return fail_set(f, false, "5.2.0",
		    "cannot rename a mailbox into itself");
	a = folder_path(loc, from);
	b = folder_path(loc, to);
	if (lstat(a, &st) == -1)
		rc = fail_set(f, false, "5.2.0", "no such mailbox");
	else if (lstat(b, &st) == 0)
		rc = fail_set(f, false, "5.2.0", "mailbox already exists");
	else if (rename(a, b) == -1)
		rc = fail_set(f, true, "4.3.0", "cannot rename mailbox");
	else if (loc->format == MAILBOX_MBOX)
		mbox_state_files(loc, from, to);
	free(a);
	free(b);
	if (rc == -1)
		return -1;
	/* Children follow: "from.x" -> "to.x". */
	if (mailbox_list(loc, &names, NULL) == -1)
		return 0;
	for (i = 0; names[i] != NULL; i++) {
		if (strncmp(names[i], from, flen) != 0 || names[i][flen] != '.')
			continue;
		if (!str_printf(nto, sizeof(nto), "%s%s", to,
		    names[i] + flen) ||
		    !mailbox_name_valid(nto))
			continue;
		a = folder_path(loc, names[i]);
		b = folder_path(loc, nto);
		if (lstat(b, &st) == -1 && rename(a, b) == 0 &&
		    loc->format == MAILBOX_MBOX)
			mbox_state_files(loc, names[i], nto);
		free(a);
		free(b);
	}
	mailbox_list_free(&names);
	(void)mailbox_fsync_dir(loc->root);
	return 0;
}
