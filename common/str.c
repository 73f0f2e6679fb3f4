/* SPDX-License-Identifier: MIT */
/*
 * str.c - growable byte buffers with a hard maximum, bounded string helpers
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mem.h"
#include "str.h"

void
str_init(struct str *s, size_t max)
{
	s->data = NULL;
	s->len = 0;
	s->cap = 0;
	s->max = max;
}

void
str_release(struct str *s)
{
	free(s->data);
	s->data = NULL;
	s->len = s->cap = 0;
}

void
str_release_secret(struct str *s)
{
	if (s->data != NULL)
		mem_wipe(s->data, s->cap);
	str_release(s);
}

struct str *
str_new(size_t max)
{
	struct str	*s = xmalloc(sizeof(*s));

	str_init(s, max);
	return s;
}

void
str_free(struct str **sp)
{
	if (*sp == NULL)
		return;
	str_release(*sp);
	free(*sp);
	*sp = NULL;
}

/* Make room for n more bytes plus the NUL.  -1 when max would be passed. */
static int
str_ensure(struct str *s, size_t n)
{
	size_t	 need, ncap;

	if (__builtin_add_overflow(s->len, n, &need) ||
	    (s->max != 0 && need > s->max) || need == SIZE_MAX)
		return -1;
	need++;				/* the NUL */
	if (need <= s->cap)
		return 0;
	ncap = s->cap < 64 ? 64 : s->cap;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2) {
			ncap = need;
			break;
		}
		ncap *= 2;
	}
	if (s->max != 0 && ncap > s->max + 1 && need <= s->max + 1)
		ncap = s->max + 1;
	s->data = xrealloc(s->data, ncap);
	s->cap = ncap;
	return 0;
}

int
str_append(struct str *s, const void *p, size_t n)
{
	if (str_ensure(s, n) == -1)
		return -1;
	if (n > 0)
		memcpy(s->data + s->len, p, n);
	s->len += n;
	s->data[s->len] = '\0';
	return 0;
}

int
str_append_str(struct str *s, const char *cs)
{
	return str_append(s, cs, strlen(cs));
}

int
str_append_c(struct str *s, char c)
{
	return str_append(s, &c, 1);
}

int
str_vappendf(struct str *s, const char *fmt, va_list ap)
{
	va_list	 ap2;
	int	 n;
	char	 small[256];

	va_copy(ap2, ap);
	n = vsnprintf(small, sizeof(small), fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof(small))
		return str_append(s, small, (size_t)n);
	if (str_ensure(s, (size_t)n) == -1)
		return -1;
	if (vsnprintf(s->data + s->len, (size_t)n + 1, fmt, ap) != n) {
		s->data[s->len] = '\0';
		return -1;
	}
	s->len += (size_t)n;
	return 0;
}

int
str_appendf(struct str *s, const char *fmt, ...)
{
	va_list	 ap;
	int	 rc;

	va_start(ap, fmt);
	rc = str_vappendf(s, fmt, ap);
	va_end(ap);
	return rc;
}

void
str_clear(struct str *s)
{
	s->len = 0;
	if (s->data != NULL)
		s->data[0] = '\0';
}

void
str_truncate(struct str *s, size_t len)
{
	if (len >= s->len)
		return;
	s->len = len;
	s->data[len] = '\0';
}

void
str_consume(struct str *s, size_t n)
{
	if (n >= s->len) {
		str_clear(s);
		return;
	}
	memmove(s->data, s->data + n, s->len - n);
	s->len -= n;
	s->data[s->len] = '\0';
}

char *
str_reserve(struct str *s, size_t n)
{
	if (str_ensure(s, n) == -1)
		return NULL;
	return s->data + s->len;
}

void
str_grow_commit(struct str *s, size_t n)
{
	BUZ_ASSERT(s->len + n < s->cap);
	s->len += n;
	s->data[s->len] = '\0';
}

const char *
str_c(const struct str *s)
{
	return s->data != NULL ? s->data : "";
}

char *
str_detach(struct str *s, size_t *len_r)
{
	char	*p = s->data != NULL ? s->data : xstrdup("");

	if (len_r != NULL)
		*len_r = s->len;
	s->data = NULL;
	s->len = s->cap = 0;
	return p;
}

bool
str_copy(char *dst, const char *src, size_t dstsize)
{
	size_t	 n = strlen(src);

	if (dstsize == 0)
		return false;
	if (n >= dstsize) {
		memcpy(dst, src, dstsize - 1);
		dst[dstsize - 1] = '\0';
		return false;
	}
	memcpy(dst, src, n + 1);
	return true;
}

bool
str_printf(char *dst, size_t dstsize, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(dst, dstsize, fmt, ap);
	va_end(ap);
	return n >= 0 && (size_t)n < dstsize;
}

char *
str_sanitize(char *dst, size_t dstsize, const char *src, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t	 i, o = 0;

	if (dstsize == 0)
		return dst;
	for (i = 0; i < len; i++) {
		unsigned char	 c = (unsigned char)src[i];
		size_t		 need = (c >= 0x20 && c < 0x7f) ? 1 : 4;

		if (o + need + 1 > dstsize) {
			/* leave room for "..." */
			while (o > 0 && o + 4 > dstsize)
				o--;
			if (o + 4 <= dstsize) {
				memcpy(dst + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (need == 1)
			dst[o++] = (char)c;
		else {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	dst[o] = '\0';
	return dst;
}

bool
str_has_prefix_ci(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

void
str_lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

char *
str_trim(char *s)
{
	size_t	 n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

int
strnum_u64n(const char *s, size_t len, uint64_t min, uint64_t max, uint64_t *r)
{
	uint64_t v;
	size_t	 i;

	if (len == 0)
		return -1;
	for (v = 0, i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9' ||
		    v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v < min || v > max)
		return -1;
	*r = v;
	return 0;
}

int
strnum_u64(const char *s, uint64_t min, uint64_t max, uint64_t *r)
{
	return strnum_u64n(s, strlen(s), min, max, r);
}

int
strnum_uint(const char *s, unsigned int min, unsigned int max, unsigned int *r)
{
	uint64_t v;

	if (strnum_u64(s, min, max, &v) == -1)
		return -1;
	*r = (unsigned int)v;
	return 0;
}

int
strnum_size(const char *s, size_t min, size_t max, size_t *r)
{
	uint64_t v;

	if (strnum_u64(s, min, max, &v) == -1)
		return -1;
	*r = (size_t)v;
	return 0;
}
