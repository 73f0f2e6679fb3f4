/* SPDX-License-Identifier: MIT */
/*
 * maps_db.c - the Berkeley DB map driver (hash: and btree:)
 *
 * The only file that includes <db.h>.  No DB environment: every map file
 * is written once by one editor and read-only afterwards (see maps.h), so
 * BDB's own locking and logging are not needed.  Files are opened with
 * DB_UNKNOWN when read so a hash map and a btree map both open.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <db.h>

#include "maps_driver.h"
#include "mem.h"
#include "str.h"

struct db_handle {
	DB	*db;
	bool	 writable;
};

/* maps.c reports failures with the return code; keep BDB off stderr. */
static void
mdb_errcall(const DB_ENV *env, const char *prefix, const char *msg)
{
	(void)env;
	(void)prefix;
	(void)msg;
}

static void *
mdb_open(const char *file, const char *type, bool create, char *err,
    size_t errsize)
{
	struct db_handle *h;
	DBTYPE	 t = DB_UNKNOWN;
	DB	*db;
	int	 rc;

	if ((rc = db_create(&db, NULL, 0)) != 0) {
		(void)str_printf(err, errsize, "db_create: %s",
		    db_strerror(rc));
		return NULL;
	}
	db->set_errcall(db, mdb_errcall);
	if (create)
		t = strcmp(type, "btree") == 0 ? DB_BTREE : DB_HASH;
	rc = db->open(db, NULL, file, NULL, t,
	    create ? DB_CREATE | DB_EXCL : DB_RDONLY, 0640);
	if (rc != 0) {
		(void)str_printf(err, errsize, "%s: %s", file,
		    rc > 0 ? strerror(rc) : db_strerror(rc));
		(void)db->close(db, 0);
		if (rc > 0)
			errno = rc;
		return NULL;
	}
	h = xcalloc(1, sizeof(*h));
	h->db = db;
	h->writable = create;
	return h;
}

static void
mdb_close(void *p)
{
	struct db_handle *h = p;

	if (h == NULL)
		return;
	(void)h->db->close(h->db, 0);
	free(h);
}

static int
mdb_fd(void *p)
{
	struct db_handle *h = p;
	int	 fd;

	if (h->db->fd(h->db, &fd) != 0)
		return -1;
	return fd;
}

static void
mdb_dbt(DBT *d, const void *data, size_t len)
{
	memset(d, 0, sizeof(*d));
	d->data = (void *)(uintptr_t)data;
	d->size = (u_int32_t)len;
}

static int
mdb_get(void *p, const char *key, size_t klen, struct str *val)
{
	struct db_handle *h = p;
	DBT	 k, v;
	int	 rc;

	mdb_dbt(&k, key, klen);
	mdb_dbt(&v, NULL, 0);
	rc = h->db->get(h->db, NULL, &k, &v, 0);
	if (rc == DB_NOTFOUND || rc == DB_KEYEMPTY)
		return 0;
	if (rc != 0)
		return -1;
	str_clear(val);
	if (str_append(val, v.data, v.size) == -1)
		return -1;
	return 1;
}

static int
mdb_put(void *p, const char *key, size_t klen, const void *val, size_t vlen,
    bool replace)
{
	struct db_handle *h = p;
	DBT	 k, v;
	int	 rc;

	mdb_dbt(&k, key, klen);
	mdb_dbt(&v, val, vlen);
	rc = h->db->put(h->db, NULL, &k, &v, replace ? 0 : DB_NOOVERWRITE);
	if (rc == DB_KEYEXIST)
		return 1;
	return rc == 0 ? 0 : -1;
}

static int
mdb_del(void *p, const char *key, size_t klen)
{
	struct db_handle *h = p;
	DBT	 k;
	int	 rc;

	mdb_dbt(&k, key, klen);
	rc = h->db->del(h->db, NULL, &k, 0);
	if (rc == DB_NOTFOUND)
		return 0;
	return rc == 0 ? 1 : -1;
}

static void *
mdb_cursor_open(void *p)
{
	struct db_handle *h = p;
	DBC	*c;

	if (h->db->cursor(h->db, NULL, &c, 0) != 0)
		return NULL;
	return c;
}

static int
mdb_cursor_next(void *p, struct str *key, struct str *val)
{
	DBC	*c = p;
	DBT	 k, v;
	int	 rc;

	mdb_dbt(&k, NULL, 0);
	mdb_dbt(&v, NULL, 0);
	rc = c->get(c, &k, &v, DB_NEXT);
	if (rc == DB_NOTFOUND)
		return 0;
	if (rc != 0)
		return -1;
	str_clear(key);
	str_clear(val);
	if (str_append(key, k.data, k.size) == -1 ||
	    str_append(val, v.data, v.size) == -1)
		return -1;
	return 1;
}

static void
mdb_cursor_close(void *p)
{
	DBC	*c = p;

	if (c != NULL)
		(void)c->close(c);
}

static int
mdb_sync(void *p)
{
	struct db_handle *h = p;

	return h->db->sync(h->db, 0) == 0 ? 0 : -1;
}

const struct maps_driver maps_db_driver = {
	".db", true, mdb_open, mdb_close, mdb_fd, mdb_get, mdb_put, mdb_del,
	mdb_cursor_open, mdb_cursor_next, mdb_cursor_close, mdb_sync
};
