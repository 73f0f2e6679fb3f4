/*
 * rfc5322.h - Internet message format helpers (RFC 5322)
 */
#ifndef BUZON_RFC5322_H
#define BUZON_RFC5322_H

#include <stddef.h>
#include <time.h>

#define RFC5322_DATE_MAX	48

/* "Mon, 23 Nov 2026 01:02:03 +0000" (3.3) in local time with its zone
 * offset; utc forces +0000.  Returns buf. */
char	*rfc5322_date(time_t, int utc, char *buf, size_t size);

#endif
