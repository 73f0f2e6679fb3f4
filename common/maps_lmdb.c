/* SPDX-License-Identifier: MIT */
/*
 * maps_lmdb.c - the LMDB map driver (lmdb:)
 *
 * The only file that includes <lmdb.h>.  A map is one file (MDB_NOSUBDIR)
 * opened with MDB_NOLOCK: files are immutable once renamed into place and
 * the editor holds maps.c's lock, so LMDB's reader table is not needed and
 * readers need no write access to anything.  A reader keeps one read
 * transaction for the life of the handle; the editor keeps one write
 * transaction that sync commits.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>

#include "maps_driver.h"
#include "mem.h"
#include "str.h"

#define LMDB_MAPSIZE	((size_t)256 << 20)	/* largest map file */

struct lmdb_handle {
	MDB_env	*env;
	MDB_txn	*txn;
	MDB_dbi	 dbi;
};

static void
lm_close(void *p)
{
	struct lmdb_handle *h = p;

	if (h == NULL)
		return;
	if (h->txn != NULL)
		mdb_txn_abort(h->txn);
	mdb_env_close(h->env);
	free(h);
}

static void *
lm_open(const char *file, const char *type, bool create, char *err,
    size_t errsize)
{
	struct lmdb_handle *h;
	unsigned int	 fl = MDB_NOSUBDIR | MDB_NOLOCK;
	int		 rc;

	(void)type;
	if (create && access(file, F_OK) == 0) {
		(void)str_printf(err, errsize, "%s: %s", file,
		    strerror(EEXIST));
		return NULL;
	}
	if (!create && access(file, R_OK) == -1) {
		(void)str_printf(err, errsize, "%s: %s", file, strerror(errno));
		return NULL;
	}
	h = xcalloc(1, sizeof(*h));
	if ((rc = mdb_env_create(&h->env)) != 0) {
		(void)str_printf(err, errsize, "mdb_env_create: %s",
		    mdb_strerror(rc));
		free(h);
		return NULL;
	}
	if (!create)
		fl |= MDB_RDONLY;
	if ((rc = mdb_env_set_mapsize(h->env, LMDB_MAPSIZE)) != 0 ||
	    (rc = mdb_env_open(h->env, file, fl, 0640)) != 0 ||
	    (rc = mdb_txn_begin(h->env, NULL, create ? 0 : MDB_RDONLY,
	    &h->txn)) != 0 ||
	    (rc = mdb_dbi_open(h->txn, NULL, create ? MDB_CREATE : 0,
	    &h->dbi)) != 0) {
		(void)str_printf(err, errsize, "%s: %s", file,
		    mdb_strerror(rc));
		lm_close(h);
		if (rc > 0)
			errno = rc;
		return NULL;
	}
	return h;
}

static int
lm_fd(void *p)
{
	struct lmdb_handle *h = p;
	mdb_filehandle_t fd;

	if (mdb_env_get_fd(h->env, &fd) != 0)
		return -1;
	return fd;
}

static int
lm_get(void *p, const char *key, size_t klen, struct str *val)
{
	struct lmdb_handle *h = p;
	MDB_val	 k, v;
	int	 rc;

	if (h->txn == NULL)
		return -1;
	k.mv_data = (void *)(uintptr_t)key;
	k.mv_size = klen;
	rc = mdb_get(h->txn, h->dbi, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return -1;
	str_clear(val);
	if (str_append(val, v.mv_data, v.mv_size) == -1)
		return -1;
	return 1;
}

static int
lm_put(void *p, const char *key, size_t klen, const void *val, size_t vlen,
    bool replace)
{
	struct lmdb_handle *h = p;
	MDB_val	 k, v;
	int	 rc;

	if (h->txn == NULL)
		return -1;
	k.mv_data = (void *)(uintptr_t)key;
	k.mv_size = klen;
	v.mv_data = (void *)(uintptr_t)val;
	v.mv_size = vlen;
	rc = mdb_put(h->txn, h->dbi, &k, &v, replace ? 0 : MDB_NOOVERWRITE);
	if (rc == MDB_KEYEXIST)
		return 1;
	return rc == 0 ? 0 : -1;
}

static int
lm_del(void *p, const char *key, size_t klen)
{
	struct lmdb_handle *h = p;
	MDB_val	 k;
	int	 rc;

	if (h->txn == NULL)
		return -1;
	k.mv_data = (void *)(uintptr_t)key;
	k.mv_size = klen;
	rc = mdb_del(h->txn, h->dbi, &k, NULL);
	if (rc == MDB_NOTFOUND)
		return 0;
	return rc == 0 ? 1 : -1;
}

static void *
lm_cursor_open(void *p)
{
	struct lmdb_handle *h = p;
	MDB_cursor *c;

	if (h->txn == NULL || mdb_cursor_open(h->txn, h->dbi, &c) != 0)
		return NULL;
	return c;
}

static int
lm_cursor_next(void *p, struct str *key, struct str *val)
{
	MDB_cursor *c = p;
	MDB_val	 k, v;
	int	 rc;

	rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return -1;
	str_clear(key);
	str_clear(val);
	if (str_append(key, k.mv_data, k.mv_size) == -1 ||
	    str_append(val, v.mv_data, v.mv_size) == -1)
		return -1;
	return 1;
}

static void
lm_cursor_close(void *p)
{
	if (p != NULL)
		mdb_cursor_close(p);
}

static int
lm_sync(void *p)
{
	struct lmdb_handle *h = p;
	int	 rc;

	if (h->txn == NULL)
		return -1;
	rc = mdb_txn_commit(h->txn);
	h->txn = NULL;
	if (rc != 0)
		return -1;
	return mdb_env_sync(h->env, 1) == 0 ? 0 : -1;
}

const struct maps_driver maps_lmdb_driver = {
	".lmdb", true, lm_open, lm_close, lm_fd, lm_get, lm_put, lm_del,
	lm_cursor_open, lm_cursor_next, lm_cursor_close, lm_sync
};
