/*
 * maps.h - key/value lookup tables on disk (Berkeley DB, LMDB)
 *
 * A map is named "type:path": "hash:" and "btree:" are Berkeley DB files
 * (PATH.db), "lmdb:" an LMDB file (PATH.lmdb, one file, no lock file).  No
 * prefix means hash.  Keys are strings (stored without their NUL); values
 * are byte strings.
 *
 * Concurrency: write-new-then-rename.  A map file, once in place, is never
 * written again.  A writer (maps_edit_begin) takes PATH.lock with fcntl,
 * copies the current map into PATH.db.tmp, applies its changes there,
 * fsyncs it and renames it over PATH.db, then fsyncs the directory.  Readers
 * stat() the path before each lookup and reopen when the inode changed, so
 * they see either the old or the new map as a whole, never a half-written
 * record; a writer that dies leaves the old map and a stale .tmp that the
 * next writer removes.  Writers are serialised by the lock; readers never
 * lock.  This suits maps of up to some hundred thousand records, which
 * is what users, aliases and domains maps hold.
 *
 * Lookups answer MAPS_FOUND, MAPS_NOTFOUND or MAPS_ERROR: an error is a
 * temporary failure for the caller, never "not found".
 */
#ifndef BUZON_MAPS_H
#define BUZON_MAPS_H

#include <stdbool.h>
#include <stddef.h>

#include "str.h"

#define MAPS_FOUND	1
#define MAPS_NOTFOUND	0
#define MAPS_ERROR	(-1)

#define MAPS_KEY_MAX	511	/* longest key, bytes (LMDB's limit) */
#define MAPS_VALUE_MAX	65536	/* longest value, bytes */

/* maps_open() flags */
#define MAPS_F_MISSING_OK	0x01	/* no file yet: an empty map */

/* maps_edit_begin() flags */
#define MAPS_EDIT_EMPTY		0x01	/* start empty (compile), not a copy */

struct maps;
struct maps_iter;
struct maps_edit;

/* Whether a driver ("hash", "btree", "lmdb") is built in. */
bool	 maps_type_available(const char *type);
/* Split spec into its type and the file a driver uses (path plus suffix).
 * 0, or -1 (unknown type, empty or too long path) with a message in err. */
int	 maps_spec_file(const char *spec, char *type, size_t typesize,
	    char *file, size_t filesize, char *err, size_t errsize);

/* Open a map read-only.  NULL on error with a message in err (the map
 * does not exist and MAPS_F_MISSING_OK is not set, unknown type, a corrupt
 * file).  Free with maps_close(). */
struct maps *maps_open(const char *spec, unsigned int flags, char *err,
	    size_t errsize);
void	 maps_close(struct maps **);
/* The spec the map was opened with (borrowed, lives as long as the map). */
const char *maps_name(const struct maps *);

/* Look key up; on MAPS_FOUND the value is put in val (cleared first).
 * The map is reopened first if a writer replaced it. */
int	 maps_lookup(struct maps *, const char *key, struct str *val)
	    __attribute__((warn_unused_result));

/* Walk every record, in no particular order for hash maps (key order for
 * btree and lmdb).  The iterator walks the map file it started on, so a
 * replacement during the walk is not seen; do not call maps_lookup() on
 * the same map until maps_iter_free() (it may switch files).
 * maps_iter_next() returns 1 with key and val filled, 0 at the end, -1 on
 * error. */
struct maps_iter *maps_iter_new(struct maps *, char *err, size_t errsize);
int	 maps_iter_next(struct maps_iter *, struct str *key, struct str *val)
	    __attribute__((warn_unused_result));
void	 maps_iter_free(struct maps_iter **);

/*
 * Changing a map.  maps_edit_begin() waits for the lock, then copies the
 * current map (none yet is fine) unless MAPS_EDIT_EMPTY.  Changes are seen
 * by nobody but the editor until maps_edit_commit() puts them in place;
 * maps_edit_abort() drops them.  Both free the edit and release the lock.
 */
struct maps_edit *maps_edit_begin(const char *spec, unsigned int flags,
	    char *err, size_t errsize);
/* Store key = val.  Returns 0, 1 if key exists and replace is false
 * (nothing changed), -1 on error. */
int	 maps_edit_put(struct maps_edit *, const char *key, const void *val,
	    size_t vlen, bool replace) __attribute__((warn_unused_result));
/* Remove key: 1 removed, 0 was not there, -1 error. */
int	 maps_edit_del(struct maps_edit *, const char *key)
	    __attribute__((warn_unused_result));
/* Look up in the map being edited (1/0/-1 as maps_lookup). */
int	 maps_edit_lookup(struct maps_edit *, const char *key, struct str *val)
	    __attribute__((warn_unused_result));
/* Walk the map being edited. */
struct maps_iter *maps_edit_iter_new(struct maps_edit *, char *err,
	    size_t errsize);
/* Durably replace the map.  0, or -1 with a message in err (the old map
 * stays).  *ep is freed and set to NULL either way. */
int	 maps_edit_commit(struct maps_edit **, char *err, size_t errsize)
	    __attribute__((warn_unused_result));
void	 maps_edit_abort(struct maps_edit **);

#endif
