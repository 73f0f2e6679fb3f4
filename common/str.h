/*
 * str.h - growable byte buffers with a hard maximum, and bounded string helpers
 *
 * A struct str owns its data.  The data is always NUL-terminated one byte
 * past len (so str_c() can hand it to C string functions), but may hold NULs
 * of its own.  Appends that would take len past max fail with -1 and leave
 * the buffer unchanged: a bound is an error to report, never a silent
 * truncation.  max == 0 means "no limit beyond memory".
 *
 * strnum_*() parse a whole string as an unsigned decimal number: digits
 * only, no sign, no space, no wrap, inside [min, max].  On error they return
 * -1 and leave the result untouched.
 */
#ifndef BUZON_STR_H
#define BUZON_STR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct str {
	char	*data;		/* NUL-terminated; NULL until first append */
	size_t	 len;
	size_t	 cap;		/* bytes allocated, including the NUL */
	size_t	 max;		/* hard limit on len; 0: none */
};

void	 str_init(struct str *, size_t max);
void	 str_release(struct str *);		/* frees; leaves an empty str */
struct str *str_new(size_t max);
void	 str_free(struct str **);		/* accepts NULL, sets *p NULL */

/* Appends return 0, or -1 if the result would exceed max (unchanged). */
int	 str_append(struct str *, const void *, size_t)
	    __attribute__((warn_unused_result));
int	 str_append_str(struct str *, const char *)
	    __attribute__((warn_unused_result));
int	 str_append_c(struct str *, char)
	    __attribute__((warn_unused_result));
int	 str_appendf(struct str *, const char *, ...)
	    __attribute__((format(printf, 2, 3), warn_unused_result));
int	 str_vappendf(struct str *, const char *, va_list)
	    __attribute__((format(printf, 2, 0), warn_unused_result));

void	 str_clear(struct str *);		/* len = 0, keeps memory */
void	 str_truncate(struct str *, size_t len);	/* no-op if len >= s->len */
/* Drop the first n bytes (consumed input). */
void	 str_consume(struct str *, size_t n);
/* Make room for n more bytes; returns a pointer to write them or NULL when
 * that would exceed max.  Commit them with str_grow_commit(). */
char	*str_reserve(struct str *, size_t n);
void	 str_grow_commit(struct str *, size_t n);	/* UNSAFE: only after str_reserve */
/* Borrowed NUL-terminated view; valid until the next change. Never NULL. */
const char *str_c(const struct str *);
/* Hand the buffer to the caller (free() it); the str becomes empty. */
char	*str_detach(struct str *, size_t *len_r);
/* Wipe contents (secrets) then release. */
void	 str_release_secret(struct str *);

/* strlcpy: returns false (and still NUL-terminates) if src did not fit. */
bool	 str_copy(char *dst, const char *src, size_t dstsize);
/* snprintf that reports truncation as false. */
bool	 str_printf(char *dst, size_t dstsize, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Copy len bytes of untrusted peer text into dst (size dstsize) for
 * logging: printable ASCII kept, everything else as \xNN, result cut (with
 * "...") to fit.  Returns dst. */
char	*str_sanitize(char *dst, size_t dstsize, const char *src, size_t len);
/* ASCII case-insensitive prefix test. */
bool	 str_has_prefix_ci(const char *s, const char *prefix);
/* Lower-case ASCII letters in place. */
void	 str_lower(char *s);
/* Strip leading and trailing spaces and tabs in place; returns s moved. */
char	*str_trim(char *s);

int	 strnum_u64(const char *, uint64_t min, uint64_t max, uint64_t *r)
	    __attribute__((warn_unused_result));
int	 strnum_uint(const char *, unsigned int min, unsigned int max, unsigned int *r)
	    __attribute__((warn_unused_result));
int	 strnum_size(const char *, size_t min, size_t max, size_t *r)
	    __attribute__((warn_unused_result));
/* Same, over exactly len bytes (need not be NUL-terminated). */
int	 strnum_u64n(const char *, size_t len, uint64_t min, uint64_t max, uint64_t *r)
	    __attribute__((warn_unused_result));

#endif
