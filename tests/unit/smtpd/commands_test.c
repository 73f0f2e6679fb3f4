/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <criterion/criterion.h>

#include "smtpd.h"

Test(commands, state_names)
{
	cr_assert_str_eq(smtp_state_name(SMTP_READY), "ready");
}
