/* SPDX-License-Identifier: MIT */
/*
 * rfc5322.c - Internet message format helpers
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "rfc5322.h"

char *
rfc5322_date(time_t t, int utc, char *buf, size_t size)
{
	static const char *const days[] = {
		"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr",
		"May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm	 tm;
	long		 off;
	char		 sign = '+';

	if (utc)
		gmtime_r(&t, &tm);
	else
		localtime_r(&t, &tm);
	off = utc ? 0 : tm.tm_gmtoff / 60;
	if (off < 0) {
		sign = '-';
		off = -off;
	}
	/* Names by hand: strftime's %a/%b follow the locale, 5322 does not. */
	snprintf(buf, size, "%s, %d %s %04d %02d:%02d:%02d %c%02ld%02ld",
	    days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, sign,
	    off / 60, off % 60);
	return buf;
}
