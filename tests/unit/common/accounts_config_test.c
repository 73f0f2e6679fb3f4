/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <criterion/criterion.h>
#include <string.h>

#include "accounts_config.h"
#include "str.h"

Test(accounts_config, defaults)
{
	struct config		 cfg;
	struct accounts_conf	 ac;
	struct auth_throttle_conf tc;
	struct str		 errs;
	char			 p[4096];

	memset(&cfg, 0, sizeof(cfg));
	str_init(&errs, 0);
	cr_assert_eq(config_load(&cfg, NULL, &errs), 0, "%s", str_c(&errs));
	accounts_config(&cfg, &ac);
	cr_assert_str_eq(ac.state_dir, cfg.state_dir);
	cr_assert_str_eq(ac.map_type, "hash");
	cr_assert_str_eq(ac.recipient_delimiter, "+");
	cr_assert_not(ac.local_part_case_sensitive);
	auth_throttle_config(&cfg, &tc);
	cr_assert_eq(tc.failure_delay, 1000);
	cr_assert_eq(tc.max_delay, 16000);
	cr_assert_eq(tc.max_failures, 10);
	cr_assert_eq(tc.lockout_time, 15 * 60 * 1000);
	cr_assert(cfg.apop_enable);
	cr_assert_eq(cfg.password_min_length, 0);
	cr_assert_eq(auth_throttle_path(&cfg, p, sizeof(p)), 0);
	cr_assert(strstr(p, "/run/auth_throttle") != NULL);
	cr_assert_eq(auth_throttle_path(&cfg, p, 4), -1);
	config_release(&cfg);
	str_release(&errs);
}
