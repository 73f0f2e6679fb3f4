/*
 * conf.h - "key = value" configuration files with typed parameters
 *
 * A file is lines of "key = value"; '#' starts a comment (at the start of a
 * line or after whitespace), blank lines are ignored, keys are
 * [a-z0-9_]+.  A value runs to the end of the line, trimmed; it may be
 * continued on the next line by starting that line with whitespace
 * (Postfix main.cf style).  Every key belongs to a table of struct
 * conf_param that says its type, default, bounds and where it is stored in
 * a caller's struct.  Types:
 *
 *   STRING  any text                  PATH   text; relative paths are made
 *   UINT    "100" within [min, max]          absolute against base_dir
 *   SIZE    "10M", "512k", "1G", bytes BOOL   yes/no, true/false, on/off, 1/0
 *   TIME    "30s", "5m", "2h", "1d", "250ms", bare number = seconds; stored
 *           in milliseconds
 *   LIST    words separated by commas and/or whitespace
 *   ADDRS   list of host:port (net.h syntax), each checked
 *   ENUM    one of the words in the param's choices ("none|tag|reject-fail")
 *
 * Unknown keys, duplicate keys, bad values and out-of-range numbers are
 * errors "FILE:LINE: message"; conf_load() reports every one of them, not
 * just the first (after 100 it says so and stops reading).  Keys absent
 * from the file take their defaults.
 */
#ifndef BUZON_CONF_H
#define BUZON_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "str.h"

enum conf_type {
	CONF_T_STRING,
	CONF_T_PATH,
	CONF_T_UINT,
	CONF_T_SIZE,
	CONF_T_TIME,
	CONF_T_BOOL,
	CONF_T_LIST,
	CONF_T_ADDRS,
	CONF_T_NETS,
	CONF_T_ENUM,
};

/* What a LIST, ADDRS or NETS value is stored as. */
struct conf_list {
	char	**items;
	size_t	  count;
};

struct conf_param {
	const char	*key;
	enum conf_type	 type;
	const char	*def;		/* default, in file syntax; "" for none */
	uint64_t	 min, max;	/* UINT, SIZE, TIME (ms) bounds */
	size_t		 offset;	/* offsetof(struct ..., member) */
	const char	*choices;	/* ENUM: "a|b|c" */
	const char	*help;		/* one line for docs and buzon init */
};

/*
 * Storage per type: STRING, PATH, ENUM: char * (owned, never NULL);
 * UINT: unsigned int; SIZE: size_t; TIME: uint64_t ms; BOOL: bool;
 * LIST, ADDRS, NETS: struct conf_list (owned).  NETS entries are
 * addresses or address/prefix ("192.0.2.0/24", "[::1]/128").
 */
#define CONF_STRING(k, d, s, m, h) { k, CONF_T_STRING, d, 0, 0, offsetof(s, m), NULL, h }
#define CONF_PATH(k, d, s, m, h)   { k, CONF_T_PATH, d, 0, 0, offsetof(s, m), NULL, h }
#define CONF_UINT(k, d, lo, hi, s, m, h) { k, CONF_T_UINT, d, lo, hi, offsetof(s, m), NULL, h }
#define CONF_SIZE(k, d, lo, hi, s, m, h) { k, CONF_T_SIZE, d, lo, hi, offsetof(s, m), NULL, h }
#define CONF_TIME(k, d, lo, hi, s, m, h) { k, CONF_T_TIME, d, lo, hi, offsetof(s, m), NULL, h }
#define CONF_BOOL(k, d, s, m, h)   { k, CONF_T_BOOL, d, 0, 0, offsetof(s, m), NULL, h }
#define CONF_LIST(k, d, s, m, h)   { k, CONF_T_LIST, d, 0, 0, offsetof(s, m), NULL, h }
#define CONF_ADDRS(k, d, s, m, h)  { k, CONF_T_ADDRS, d, 0, 0, offsetof(s, m), NULL, h }
#define CONF_NETS(k, d, s, m, h)   { k, CONF_T_NETS, d, 0, 0, offsetof(s, m), NULL, h }
#define CONF_ENUM(k, d, c, s, m, h) { k, CONF_T_ENUM, d, 0, 0, offsetof(s, m), c, h }
#define CONF_END { NULL, 0, NULL, 0, 0, 0, NULL, NULL }

/* Set every parameter of the table in obj to its default.  0, or -1 if a
 * default itself is bad (a bug: the message goes to errs). */
int	 conf_defaults(const struct conf_param *, void *obj, const char *base_dir,
	    struct str *errs);
/* Read path into obj (defaults first).  0 when the file is valid, -1 with
 * one "FILE:LINE: message\n" per problem appended to errs (or a single
 * "FILE: strerror" if it cannot be read).  obj holds defaults and the good
 * values even on -1; release it with conf_release() either way.
 * A regular file that changes while it is read (rewritten in place) is
 * read again, a few times over about 200 ms; if it never holds still it
 * is refused with "FILE: changed while being read ...".  A file changed
 * in the last 50 ms is looked at again after that long, so a writer
 * paused between two writes is not taken for a finished one. */
int	 conf_load(const struct conf_param *, void *obj, const char *path,
	    const char *base_dir, struct str *errs);
/* Same, from a buffer (tests, fuzzing); name is used in messages. */
int	 conf_load_buf(const struct conf_param *, void *obj, const char *name,
	    const char *buf, size_t len, const char *base_dir, struct str *errs);
void	 conf_release(const struct conf_param *, void *obj);
/* How conf_load() opens its file: open(path, O_RDONLY | O_CLOEXEC |
 * O_NOCTTY) by default; a sandboxed daemon routes it to a helper
 * (sandbox.h).  The fd, or -1 with errno set.  NULL restores open(). */
typedef int	conf_open_fn(const char *path);
void	 conf_set_open(conf_open_fn *);

/* Parse one value of a type (shared with the command line and tests).
 * 0 or -1 with a message in err. */
int	 conf_parse_size(const char *, uint64_t *bytes_r, char *err, size_t errsize);
int	 conf_parse_time(const char *, uint64_t *ms_r, char *err, size_t errsize);
int	 conf_parse_bool(const char *, bool *r);
int	 conf_list_split(const char *, struct conf_list *);
void	 conf_list_release(struct conf_list *);

/* Write every parameter as a commented block: "# help\n#key = default\n"
 * (or "key = value" when the value is in set_keys/set_values).  Used by
 * buzon init to write a full config. */
int	 conf_write_defaults(const struct conf_param *, FILE *,
	    const char *const *set_keys, const char *const *set_values);

#endif
