/* SPDX-License-Identifier: MIT */
/*
 * maps.c - "type:path" maps: reopen-on-replace readers, copy-and-rename
 * editors (the scheme is described in maps.h and docs/accounts.md)
 *
 * Files of one map PATH (hash shown; lmdb uses .lmdb):
 *   PATH.db       the map; replaced as a whole, never written in place
 *   PATH.db.tmp   the next version while an editor builds it
 *   PATH.lock     fcntl lock that serialises editors (never removed)
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "maps.h"
#include "maps_driver.h"
#include "mem.h"
#include "str.h"

struct maps {
	char			*spec;
	char			 type[16];
	char			 file[PATH_MAX];
	const struct maps_driver *drv;
	void			*h;	/* NULL: no file (missing_ok) */
	dev_t			 dev;
	ino_t			 ino;
	bool			 missing_ok;
};

struct maps_iter {
	const struct maps_driver *drv;
	void			*c;
};

struct maps_edit {
	char			 type[16];
	char			 file[PATH_MAX];
	char			 tmp[PATH_MAX];
	const struct maps_driver *drv;
	void			*h;
	int			 lockfd;
	bool			 locked;
};

static const struct maps_driver *
maps_driver_for(const char *type)
{
	if (strcmp(type, "hash") == 0 || strcmp(type, "btree") == 0)
		return &maps_db_driver;
	if (strcmp(type, "lmdb") == 0)
		return &maps_lmdb_driver;
	return NULL;
}

bool
maps_type_available(const char *type)
{
	const struct maps_driver *d = maps_driver_for(type);

	return d != NULL && d->available;
}

int
maps_spec_file(const char *spec, char *type, size_t typesize, char *file,
    size_t filesize, char *err, size_t errsize)
{
	const struct maps_driver *d;
	const char	*colon, *path = spec;
	char		 t[16] = "hash";

	/* A "type:" prefix is letters only, so "./a:b" stays a path. */
	colon = strchr(spec, ':');
	if (colon != NULL && colon > spec &&
	    strspn(spec, "abcdefghijklmnopqrstuvwxyz") ==
	    (size_t)(colon - spec)) {
		if ((size_t)(colon - spec) >= sizeof(t)) {
			(void)str_printf(err, errsize,
			    "unknown map type in '%s'", spec);
			return -1;
		}
		memcpy(t, spec, (size_t)(colon - spec));
		t[colon - spec] = '\0';
		path = colon + 1;
	}
	if ((d = maps_driver_for(t)) == NULL) {
		(void)str_printf(err, errsize, "unknown map type '%s' "
		    "(hash, btree or lmdb)", t);
		return -1;
	}
	if (!d->available) {
		(void)str_printf(err, errsize, "map type '%s' is not built in "
		    "(rebuild with liblmdb-dev installed)", t);
		return -1;
	}
	if (*path == '\0') {
		(void)str_printf(err, errsize, "map '%s' names no file", spec);
		return -1;
	}
	if (!str_copy(type, t, typesize) ||
	    !str_printf(file, filesize, "%s%s", path, d->suffix)) {
		(void)str_printf(err, errsize, "map name too long");
		return -1;
	}
	return 0;
}

/* Open the file now at m->file if it is not the one we hold. */
static int
maps_refresh(struct maps *m, char *err, size_t errsize)
{
	struct stat	 st;
	void		*h;
	int		 fd;

	if (stat(m->file, &st) == -1) {
		if (errno == ENOENT && m->missing_ok) {
			m->drv->close(m->h);
			m->h = NULL;
			return 0;
		}
		(void)str_printf(err, errsize, "%s: %s", m->file,
		    strerror(errno));
		return -1;
	}
	if (m->h != NULL && st.st_dev == m->dev && st.st_ino == m->ino)
		return 0;
	if ((h = m->drv->open(m->file, m->type, false, err, errsize)) == NULL)
		return -1;
	/* The file at the path may have changed again since stat(). */
	if ((fd = m->drv->fd(h)) != -1 && fstat(fd, &st) == -1) {
		(void)str_printf(err, errsize, "%s: %s", m->file,
		    strerror(errno));
		m->drv->close(h);
		return -1;
	}
	m->drv->close(m->h);
	m->h = h;
	m->dev = st.st_dev;
	m->ino = st.st_ino;
	return 0;
}

struct maps *
maps_open(const char *spec, unsigned int flags, char *err, size_t errsize)
{
	struct maps	*m;

	m = xcalloc(1, sizeof(*m));
	if (maps_spec_file(spec, m->type, sizeof(m->type), m->file,
	    sizeof(m->file), err, errsize) == -1) {
		free(m);
		return NULL;
	}
	m->drv = maps_driver_for(m->type);
	m->missing_ok = (flags & MAPS_F_MISSING_OK) != 0;
	m->spec = xstrdup(spec);
	if (maps_refresh(m, err, errsize) == -1) {
		maps_close(&m);
		return NULL;
	}
	return m;
}

void
maps_close(struct maps **mp)
{
	struct maps	*m = *mp;

	if (m == NULL)
		return;
	if (m->h != NULL)
		m->drv->close(m->h);
	free(m->spec);
	free(m);
	*mp = NULL;
}

const char *
maps_name(const struct maps *m)
{
	return m->spec;
}

static bool
maps_key_ok(const char *key)
{
	size_t	 len = strlen(key);

	return len > 0 && len <= MAPS_KEY_MAX;
}

int
maps_lookup(struct maps *m, const char *key, struct str *val)
{
	char	 err[256];

	if (!maps_key_ok(key))
		return MAPS_NOTFOUND;
	if (maps_refresh(m, err, sizeof(err)) == -1)
		return MAPS_ERROR;
	if (m->h == NULL)
		return MAPS_NOTFOUND;
	return m->drv->get(m->h, key, strlen(key), val);
}

static struct maps_iter *
maps_iter_on(const struct maps_driver *drv, void *h, char *err,
    size_t errsize)
{
	struct maps_iter *it;

	it = xcalloc(1, sizeof(*it));
	it->drv = drv;
	if (h != NULL && (it->c = drv->cursor_open(h)) == NULL) {
		(void)str_printf(err, errsize, "cannot open a cursor");
		free(it);
		return NULL;
	}
	return it;
}

struct maps_iter *
maps_iter_new(struct maps *m, char *err, size_t errsize)
{
	if (maps_refresh(m, err, errsize) == -1)
		return NULL;
	return maps_iter_on(m->drv, m->h, err, errsize);
}

int
maps_iter_next(struct maps_iter *it, struct str *key, struct str *val)
{
	if (it->c == NULL)
		return 0;
	return it->drv->cursor_next(it->c, key, val);
}

void
maps_iter_free(struct maps_iter **itp)
{
	struct maps_iter *it = *itp;

	if (it == NULL)
		return;
	if (it->c != NULL)
		it->drv->cursor_close(it->c);
	free(it);
	*itp = NULL;
}

/* The directory part of file into dir. */
static bool
maps_dir_of(const char *file, char *dir, size_t dirsize)
{
	char	*slash;

	if (!str_copy(dir, file, dirsize))
		return false;
	if ((slash = strrchr(dir, '/')) == NULL)
		return str_copy(dir, ".", dirsize);
	if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	return true;
}

/* Copy every record of the current map file (if any) into the edit. */
static int
maps_edit_copy(struct maps_edit *e, char *err, size_t errsize)
{
	struct str	 k, v;
	void		*old, *c;
	int		 rc;

	if (access(e->file, F_OK) == -1) {
		if (errno == ENOENT)
			return 0;
		(void)str_printf(err, errsize, "%s: %s", e->file,
		    strerror(errno));
		return -1;
	}
	if ((old = e->drv->open(e->file, e->type, false, err, errsize)) == NULL)
		return -1;
	if ((c = e->drv->cursor_open(old)) == NULL) {
		(void)str_printf(err, errsize, "%s: cannot read", e->file);
		e->drv->close(old);
		return -1;
	}
	str_init(&k, MAPS_KEY_MAX);
	str_init(&v, MAPS_VALUE_MAX);
	while ((rc = e->drv->cursor_next(c, &k, &v)) == 1)
		if (e->drv->put(e->h, k.data, k.len, v.data, v.len,
		    true) != 0) {
			rc = -1;
			break;
		}
	if (rc == -1)
		(void)str_printf(err, errsize, "%s: copy failed", e->file);
	str_release(&k);
	str_release_secret(&v);
	e->drv->cursor_close(c);
	e->drv->close(old);
	return rc;
}

struct maps_edit *
maps_edit_begin(const char *spec, unsigned int flags, char *err,
    size_t errsize)
{
	struct maps_edit *e;
	struct flock	 fl;
	struct stat	 st;
	char		 lock[PATH_MAX], dir[PATH_MAX];
	size_t		 plen;

	e = xcalloc(1, sizeof(*e));
	e->lockfd = -1;
	if (maps_spec_file(spec, e->type, sizeof(e->type), e->file,
	    sizeof(e->file), err, errsize) == -1)
		goto fail;
	e->drv = maps_driver_for(e->type);
	plen = strlen(e->file) - strlen(e->drv->suffix);
	if (!str_printf(e->tmp, sizeof(e->tmp), "%s.tmp", e->file) ||
	    !str_printf(lock, sizeof(lock), "%.*s.lock", (int)plen, e->file)) {
		(void)str_printf(err, errsize, "map name too long");
		goto fail;
	}
	e->lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (e->lockfd == -1) {
		(void)str_printf(err, errsize, "%s: %s", lock, strerror(errno));
		goto fail;
	}
	/* Root's lock file must stay usable by the buzon user's editors. */
	if (geteuid() == 0 && maps_dir_of(e->file, dir, sizeof(dir)) &&
	    stat(dir, &st) == 0)
		(void)fchown(e->lockfd, st.st_uid, st.st_gid);
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	while (fcntl(e->lockfd, F_SETLKW, &fl) == -1) {
		if (errno != EINTR) {
			(void)str_printf(err, errsize, "lock %s: %s", lock,
			    strerror(errno));
			goto fail;
		}
	}
	e->locked = true;
	/* Under the lock, a .tmp can only be left by an editor that died. */
	if (unlink(e->tmp) == -1 && errno != ENOENT) {
		(void)str_printf(err, errsize, "%s: %s", e->tmp,
		    strerror(errno));
		goto fail;
	}
	if ((e->h = e->drv->open(e->tmp, e->type, true, err, errsize)) == NULL)
		goto fail;
	if ((flags & MAPS_EDIT_EMPTY) == 0 &&
	    maps_edit_copy(e, err, errsize) == -1)
		goto fail;
	return e;
fail:
	maps_edit_abort(&e);
	return NULL;
}

int
maps_edit_put(struct maps_edit *e, const char *key, const void *val,
    size_t vlen, bool replace)
{
	if (!maps_key_ok(key) || vlen > MAPS_VALUE_MAX)
		return -1;
	return e->drv->put(e->h, key, strlen(key), val, vlen, replace);
}

int
maps_edit_del(struct maps_edit *e, const char *key)
{
	if (!maps_key_ok(key))
		return 0;
	return e->drv->del(e->h, key, strlen(key));
}

int
maps_edit_lookup(struct maps_edit *e, const char *key, struct str *val)
{
	if (!maps_key_ok(key))
		return MAPS_NOTFOUND;
	return e->drv->get(e->h, key, strlen(key), val);
}

struct maps_iter *
maps_edit_iter_new(struct maps_edit *e, char *err, size_t errsize)
{
	return maps_iter_on(e->drv, e->h, err, errsize);
}

/* fsync a file or directory by name. */
static int
maps_fsync_path(const char *path, int oflags)
{
	int	 fd, rc;

	if ((fd = open(path, oflags | O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	(void)close(fd);
	return rc;
}

/* New files get the mode and owner of the file they replace, or of the
 * directory (group) with mode 0640: daemons read maps as the buzon user. */
static void
maps_edit_perms(struct maps_edit *e, const char *dir)
{
	struct stat	 st;

	if (stat(e->file, &st) == 0) {
		(void)chmod(e->tmp, st.st_mode & 07777);
		if (geteuid() == 0)
			(void)chown(e->tmp, st.st_uid, st.st_gid);
	} else if (geteuid() == 0 && stat(dir, &st) == 0)
		(void)chown(e->tmp, st.st_uid, st.st_gid);
}

int
maps_edit_commit(struct maps_edit **ep, char *err, size_t errsize)
{
	struct maps_edit *e = *ep;
	char		 dir[PATH_MAX];
	int		 rc = -1;

	if (!maps_dir_of(e->file, dir, sizeof(dir)))
		goto out;
	if (e->drv->sync(e->h) == -1) {
		(void)str_printf(err, errsize, "%s: write failed", e->tmp);
		goto out;
	}
	e->drv->close(e->h);
	e->h = NULL;
	maps_edit_perms(e, dir);
	if (maps_fsync_path(e->tmp, 0) == -1) {
		(void)str_printf(err, errsize, "fsync %s: %s", e->tmp,
		    strerror(errno));
		goto out;
	}
	if (rename(e->tmp, e->file) == -1) {
		(void)str_printf(err, errsize, "rename %s: %s", e->tmp,
		    strerror(errno));
		goto out;
	}
	if (maps_fsync_path(dir, O_DIRECTORY) == -1) {
		(void)str_printf(err, errsize, "fsync %s: %s", dir,
		    strerror(errno));
		goto out;
	}
	rc = 0;
out:
	maps_edit_abort(ep);
	return rc;
}

void
maps_edit_abort(struct maps_edit **ep)
{
	struct maps_edit *e = *ep;

	if (e == NULL)
		return;
	if (e->h != NULL)
		e->drv->close(e->h);
	if (e->locked)
		(void)unlink(e->tmp);
	if (e->lockfd != -1)
		(void)close(e->lockfd);
	free(e);
	*ep = NULL;
}
