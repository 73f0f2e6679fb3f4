/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <time.h>

#include "rfc5322.h"

Test(rfc5322, date_utc)
{
	char	 buf[RFC5322_DATE_MAX];

	cr_assert_str_eq(rfc5322_date(0, 1, buf, sizeof(buf)),
	    "Thu, 1 Jan 1970 00:00:00 +0000");
	cr_assert_str_eq(rfc5322_date(1795395723, 1, buf, sizeof(buf)),
	    "Mon, 23 Nov 2026 01:02:03 +0000");
}

Test(rfc5322, date_zone)
{
	char	 buf[RFC5322_DATE_MAX];

	setenv("TZ", "EST5", 1);
	tzset();
	cr_assert_str_eq(rfc5322_date(1795395723, 0, buf, sizeof(buf)),
	    "Sun, 22 Nov 2026 20:02:03 -0500");
	setenv("TZ", "IST-5:30", 1);
	tzset();
	cr_assert_str_eq(rfc5322_date(1795395723, 0, buf, sizeof(buf)),
	    "Mon, 23 Nov 2026 06:32:03 +0530");
}
