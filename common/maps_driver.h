/*
 * maps_driver.h - what maps.c needs from a storage driver (internal)
 *
 * A driver opens one file either read-only (an existing map) or as a new,
 * empty file to fill (create: the file must not exist).  The generic layer
 * in maps.c does the locking, copying, fsync and rename; a driver only
 * stores records.  Keys are klen bytes, no NUL.  Results: get 1/0/-1,
 * put 0 / 1 (exists, replace false) / -1, del 1/0/-1, cursor_next 1/0/-1.
 */
#ifndef BUZON_MAPS_DRIVER_H
#define BUZON_MAPS_DRIVER_H

#include <stdbool.h>
#include <stddef.h>

#include "str.h"

struct maps_driver {
	const char	*suffix;	/* ".db" */
	bool		 available;
	void	*(*open)(const char *file, const char *type, bool create,
		    char *err, size_t errsize);
	void	 (*close)(void *h);
	int	 (*fd)(void *h);	/* for fstat; -1 if unknown */
	int	 (*get)(void *h, const char *key, size_t klen, struct str *val);
	int	 (*put)(void *h, const char *key, size_t klen, const void *val,
		    size_t vlen, bool replace);
	int	 (*del)(void *h, const char *key, size_t klen);
	void	*(*cursor_open)(void *h);
	int	 (*cursor_next)(void *c, struct str *key, struct str *val);
	void	 (*cursor_close)(void *c);
	/* Everything written reaches the file (then maps.c fsyncs it). */
	int	 (*sync)(void *h);
};

extern const struct maps_driver maps_db_driver;
extern const struct maps_driver maps_lmdb_driver;

#endif
