/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accounts_config.h"
#include "mem.h"
#include "settings.h"
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
	cr_assert_str_eq(ac.default_realm, "");
	cr_assert_eq(tc.failure_delay, 2000);
	cr_assert_eq(tc.max_delay, 15000);
	cr_assert_eq(tc.penalty_time, 30000);
	cr_assert_eq(tc.address_max_failures, 100);
	cr_assert_eq(tc.ntrusted, 0);
	cr_assert_null(tc.clock);
	cr_assert_not(cfg.pop3_lock_session);
	cr_assert(cfg.apop_enable);
	cr_assert_eq(cfg.password_min_length, 0);
	cr_assert_eq(auth_throttle_path(&cfg, p, sizeof(p)), 0);
	cr_assert(strstr(p, "/run/auth_throttle") != NULL);
	cr_assert_eq(auth_throttle_path(&cfg, p, 4), -1);
	config_release(&cfg);
	str_release(&errs);
}

static void
load_with_state(struct config *cfg, const char *state_dir)
{
	struct str	 errs;

	memset(cfg, 0, sizeof(*cfg));
	str_init(&errs, 0);
	cr_assert_eq(config_load(cfg, NULL, &errs), 0, "%s", str_c(&errs));
	str_release(&errs);
	free(cfg->state_dir);
	cfg->state_dir = xstrdup(state_dir);
}

Test(accounts_config, throttle_from_config)
{
	struct config		 cfg;
	struct auth_throttle	*t;
	char			 dir[64], run[PATH_MAX], file[PATH_MAX];

	cr_assert(str_copy(dir, "/tmp/buzon-acfg-XXXXXX", sizeof(dir)));
	cr_assert_not_null(mkdtemp(dir));
	cr_assert(str_printf(run, sizeof(run), "%s/run", dir));
	cr_assert(str_printf(file, sizeof(file), "%s/auth_throttle", run));
	cr_assert_eq(mkdir(run, 0700), 0);
	load_with_state(&cfg, dir);
	t = auth_throttle_from_config(&cfg);
	cr_assert_not_null(t);
	auth_throttle_close(&t);
	cr_assert_null(t);
	cr_assert_eq(access(file, F_OK), 0);
	config_release(&cfg);
	(void)unlink(file);
	(void)rmdir(run);
	(void)rmdir(dir);
}

Test(accounts_config, throttle_from_config_failures)
{
	struct config	 cfg;
	char		 longdir[PATH_MAX + 8];

	/* No such directory: off, not fatal. */
	load_with_state(&cfg, "/nonexistent/buzon-acfg");
	cr_assert_null(auth_throttle_from_config(&cfg));
	config_release(&cfg);
	/* A state_dir too long for a path. */
	memset(longdir, 'a', sizeof(longdir) - 1);
	longdir[0] = '/';
	longdir[sizeof(longdir) - 1] = '\0';
	load_with_state(&cfg, longdir);
	cr_assert_null(auth_throttle_from_config(&cfg));
	config_release(&cfg);
}
