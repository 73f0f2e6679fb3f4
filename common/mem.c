/* SPDX-License-Identifier: MIT */
/*
 * mem.c - allocation that never returns NULL
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mem.h"

void *
xmalloc(size_t size)
{
	void	*p;

	if (size == 0)
		size = 1;
	if ((p = malloc(size)) == NULL)
		fatal("malloc %zu bytes", size);
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void	*p;

	if (nmemb == 0 || size == 0)
		nmemb = size = 1;
	if ((p = calloc(nmemb, size)) == NULL)
		fatal("calloc %zu x %zu bytes", nmemb, size);
	return p;
}

void *
xrealloc(void *ptr, size_t size)
{
	void	*p;

	if (size == 0)
		size = 1;
	if ((p = realloc(ptr, size)) == NULL)
		fatal("realloc %zu bytes", size);
	return p;
}

void *
xreallocarray(void *ptr, size_t nmemb, size_t size)
{
	size_t	 total;

	if (__builtin_mul_overflow(nmemb, size, &total)) {
		errno = ENOMEM;
		fatal("reallocarray %zu x %zu bytes overflows", nmemb, size);
	}
	return xrealloc(ptr, total);
}

char *
xstrdup(const char *s)
{
	return xmemdup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	return xmemdup(s, strnlen(s, n));
}

void *
xmemdup(const void *p, size_t len)
{
	char	*d;

	if (len == SIZE_MAX)
		fatalx("memdup: size overflows");
	d = xmalloc(len + 1);
	if (len > 0)
		memcpy(d, p, len);
	d[len] = '\0';
	return d;
}

void
mem_wipe(void *p, size_t len)
{
	if (p != NULL && len > 0)
		explicit_bzero(p, len);
}
