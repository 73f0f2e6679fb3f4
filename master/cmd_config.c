/* SPDX-License-Identifier: MIT */
/*
 * cmd_config.c - `buzon config check`
 */
#include <stdio.h>
#include <string.h>

#include "settings.h"
#include "str.h"
#include "verbs.h"

int	verb_config(const char *, int, char **);

int
verb_config(const char *conf_path, int argc, char **argv)
{
	struct config	 cfg;
	struct str	 errs;
	int		 rc;

	if (argc != 2 || strcmp(argv[1], "check") != 0)
		return verb_error("config", EXIT_USAGE,
		    "usage: buzon [-c FILE] config check");
	memset(&cfg, 0, sizeof(cfg));
	str_init(&errs, 0);
	rc = config_load(&cfg, conf_path, &errs);
	if (rc == -1) {
		fputs(str_c(&errs), stderr);
		rc = 1;
	} else {
		printf("%s: OK\n", conf_path);
		rc = 0;
	}
	config_release(&cfg);
	str_release(&errs);
	return rc;
}
