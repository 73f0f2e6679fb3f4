/*
 * fail.h - why an operation failed, in a form a protocol reply can use
 *
 * Operations return -1 and fill a struct fail: temp says whether a retry may
 * help (4xx / -ERR [SYS/TEMP] / NO [UNAVAILABLE]) or not (5xx), code is the
 * RFC 3463 enhanced status ("4.3.0"), text is safe to show the peer.
 * Details that are not go to the log, not here.
 */
#ifndef BUZON_FAIL_H
#define BUZON_FAIL_H

#include <stdbool.h>

struct fail {
	bool	temp;
	char	code[8];
	char	text[200];
};

/* Fill f (may be NULL) and return -1, so "return fail_set(...)" reads well. */
int	fail_set(struct fail *, bool temp, const char *code, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));
void	fail_clear(struct fail *);

#endif
