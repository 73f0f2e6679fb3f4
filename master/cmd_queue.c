/* SPDX-License-Identifier: MIT */
/*
 * cmd_queue.c - `buzon queue list` and `buzon queue show ID`
 *
 * The reading is queue/queue_admin.c; this file only finds the state
 * directory from the config.  The verbs that change the queue (flush,
 * hold, release, delete, ...) come with the queue runner.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "../queue/queue_admin.h"
#include "str.h"
#include "verbs.h"

int	verb_queue(const char *, int, char **);

int
verb_queue(const char *conf_path, int argc, char **argv)
{
	struct config	 cfg;
	struct str	 errs;
	int		 rc;

	if (argc < 2 || (strcmp(argv[1], "list") == 0 && argc != 2) ||
	    (strcmp(argv[1], "show") == 0 && argc != 3) ||
	    (strcmp(argv[1], "list") != 0 && strcmp(argv[1], "show") != 0))
		return verb_error("queue", EXIT_USAGE,
		    "usage: buzon [-c FILE] queue list | queue show ID");
	memset(&cfg, 0, sizeof(cfg));
	str_init(&errs, 0);
	if (config_load(&cfg, conf_path, &errs) == -1) {
		fputs(str_c(&errs), stderr);
		rc = 1;
		goto out;
	}
	if (strcmp(argv[1], "list") == 0) {
		rc = queue_admin_list(stdout, cfg.state_dir) == 0 ? 0 : 1;
	} else {
		rc = queue_admin_show(stdout, cfg.state_dir, argv[2]);
		if (rc == 1)
			verb_error("queue", 1, "%s: no such message", argv[2]);
		rc = rc == 0 ? 0 : 1;
	}
out:
	config_release(&cfg);
	str_release(&errs);
	return rc;
}
