/*
 * mem.h - allocation that never returns NULL
 *
 * Every x*() function either succeeds or calls fatal() (exit 75).  Size
 * arithmetic is overflow-checked: there is no way to ask for n * size bytes
 * that wraps.  What they return is owned by the caller and freed with free().
 */
#ifndef BUZON_MEM_H
#define BUZON_MEM_H

#include <stddef.h>

void	*xmalloc(size_t size);
void	*xcalloc(size_t nmemb, size_t size);
void	*xrealloc(void *ptr, size_t size);
/* realloc to nmemb * size bytes; fatal on overflow. */
void	*xreallocarray(void *ptr, size_t nmemb, size_t size);
char	*xstrdup(const char *s);
/* Copy at most n bytes of s and NUL-terminate. */
char	*xstrndup(const char *s, size_t n);
/* Copy len bytes and append a NUL (so text blobs can be used as strings). */
void	*xmemdup(const void *p, size_t len);

/* Wipe a secret so the compiler cannot drop the store. */
void	 mem_wipe(void *p, size_t len);

#endif
