/* SPDX-License-Identifier: MIT */
/*
 * cmd_queue.c - `buzon queue list|show|flush|retry|hold|release|delete|
 * bounce`
 *
 * The reading is queue/queue_admin.c, the changes queue/queue_ctl.c; this
 * file parses the arguments, finds the state directory and words the
 * results.
 */
#include <stdio.h>
#include <string.h>

#include "../queue/queue_admin.h"
#include "../queue/queue_ctl.h"
#include "settings.h"
#include "spool.h"
#include "str.h"
#include "verbs.h"

int	verb_queue(const char *, int, char **);

#define EXIT_TEMPFAIL	75

struct queue_verb {
	const char	*name;
	int		 nargs;		/* after the verb */
	bool		 all_ok;	/* takes ALL */
};

static const struct queue_verb queue_verbs[] = {
	{ "list", 0, false },
	{ "show", 1, false },
	{ "flush", 0, false },
	{ "retry", 1, false },
	{ "hold", 1, true },
	{ "release", 1, true },
	{ "delete", 1, true },
	{ "bounce", 1, false },
	{ NULL, 0, false }
};

static const char usage[] = "usage: buzon [-c FILE] queue list | show ID | "
    "flush | retry ID | hold ID|ALL | release ID|ALL | delete ID|ALL | "
    "bounce ID";

static void
not_running(void)
{
	fprintf(stderr, "buzon queue: buzon-queued is not running; it will "
	    "act on this when it starts\n");
}

static int
changed(const char *what, const char *id, int n, bool notified,
    const char *err)
{
	if (n == -1)
		return verb_error("queue", 1, "%s", err);
	if (strcmp(id, QUEUE_CTL_ALL) != 0) {
		if (n == 0)
			return verb_error("queue", 1, "%s: no such message",
			    id);
		printf("%s: %s\n", id, what);
	} else
		printf("%d message%s %s\n", n, n == 1 ? "" : "s", what);
	if (!notified && n > 0 && (strcmp(what, "released") == 0 ||
	    strcmp(what, "bounced") == 0))
		not_running();
	return 0;
}

static int
queue_change(const char *state, const char *verb, const char *id)
{
	char	 err[512] = "";
	bool	 notified = true;
	int	 n;

	if (strcmp(verb, "flush") == 0) {
		if (queue_ctl_flush(state, &notified, err, sizeof(err)) == -1)
			return verb_error("queue", EXIT_TEMPFAIL, "%s", err);
		if (!notified)
			return verb_error("queue", EXIT_TEMPFAIL,
			    "buzon-queued is not running");
		printf("flush requested\n");
		return 0;
	}
	if (strcmp(id, QUEUE_CTL_ALL) != 0 && !spool_id_valid(id))
		return verb_error("queue", 1, "%s: not a queue id", id);
	if (strcmp(verb, "retry") == 0) {
		n = queue_ctl_retry(state, id, &notified, err, sizeof(err));
		if (n == 1 && !notified)
			return verb_error("queue", EXIT_TEMPFAIL,
			    "buzon-queued is not running");
		return changed("retry requested", id, n, true, err);
	}
	if (strcmp(verb, "hold") == 0)
		return changed("held", id, queue_ctl_hold(state, id, err,
		    sizeof(err)), true, err);
	if (strcmp(verb, "release") == 0) {
		n = queue_ctl_release(state, id, &notified, err, sizeof(err));
		return changed("released", id, n, notified, err);
	}
	if (strcmp(verb, "delete") == 0)
		return changed("deleted", id, queue_ctl_delete(state, id, err,
		    sizeof(err)), true, err);
	n = queue_ctl_bounce(state, id, &notified, err, sizeof(err));
	return changed("bounced", id, n, notified, err);
}

int
verb_queue(const char *conf_path, int argc, char **argv)
{
	const struct queue_verb	*v;
	struct config		 cfg;
	int			 rc;

	for (v = queue_verbs; argc >= 2 && v->name != NULL &&
	    strcmp(v->name, argv[1]) != 0; v++)
		continue;
	if (argc < 2 || v->name == NULL || argc != 2 + v->nargs)
		return verb_error("queue", EXIT_USAGE, "%s", usage);
	if (!v->all_ok && v->nargs == 1 &&
	    strcmp(argv[2], QUEUE_CTL_ALL) == 0)
		return verb_error("queue", EXIT_USAGE, "queue %s takes one "
		    "id, not ALL", v->name);
	memset(&cfg, 0, sizeof(cfg));
	if (verb_load_config(conf_path, &cfg) == -1) {
		config_release(&cfg);
		return 1;
	}
	if (strcmp(v->name, "list") == 0) {
		rc = queue_admin_list(stdout, cfg.state_dir) == 0 ? 0 : 1;
	} else if (strcmp(v->name, "show") == 0) {
		rc = queue_admin_show(stdout, cfg.state_dir, argv[2]);
		if (rc == 1)
			verb_error("queue", 1, "%s: no such message", argv[2]);
		rc = rc == 0 ? 0 : 1;
	} else
		rc = queue_change(cfg.state_dir, v->name,
		    v->nargs == 1 ? argv[2] : "");
	config_release(&cfg);
	return rc;
}
