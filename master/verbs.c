/* SPDX-License-Identifier: MIT */
/*
 * verbs.c - the verb table of `buzon` and its small helpers
 *
 * Each area adds its verbs here, one line each; the functions live in
 * files of their own (run.c, init.c, admin_*.c, ...).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "admin_help.h"
#include "verbs.h"

int	verb_config(const char *, int, char **);
int	verb_domain(const char *, int, char **);
int	verb_user(const char *, int, char **);
int	verb_alias(const char *, int, char **);
int	verb_map(const char *, int, char **);
int	verb_queue(const char *, int, char **);

const struct verb verbs[] = {
	{ "config", verb_config, "config check",
	    "check the config file and name every error with its line",
	    "usage: buzon [-c FILE] config check\n"
	    "\n"
	    "Reads the config file (-c FILE, $BUZON_CONF or the default) and\n"
	    "prints every unknown key and bad value as FILE:LINE: message.\n"
	    "Exits 0 when the file is valid, 1 otherwise.\n" },
	{ "domain", verb_domain, "domain add|del|list",
	    "manage the local mail domains", admin_domain_help },
	{ "user", verb_user, "user add|del|passwd|list|show|...",
	    "manage mail users and their mailboxes", admin_user_help },
	{ "alias", verb_alias, "alias add|del|list",
	    "manage aliases (forwarding, lists, catch-all)", admin_alias_help },
	{ "map", verb_map, "map compile [TYPE:]FILE",
	    "turn a text table into a map file, like postmap", admin_map_help },
	{ "queue", verb_queue, "queue list | queue show ID",
	    "list the mail queue, or show one message",
	    "usage: buzon [-c FILE] queue list\n"
	    "       buzon [-c FILE] queue show ID\n"
	    "\n"
	    "list prints every message in the spool, oldest first, like mailq:\n"
	    "id ('!' when held), size, arrival time and sender, then each\n"
	    "recipient with its delivery status and the last reason.\n"
	    "show prints the envelope of one message (client, TLS, AUTH, DSN\n"
	    "parameters, recipients) and its header section.\n" },
	{ NULL, NULL, NULL, NULL, NULL }
};

const struct verb *
verb_find(const char *name)
{
	const struct verb *v;

	for (v = verbs; v->name != NULL; v++)
		if (strcmp(v->name, name) == 0)
			return v;
	return NULL;
}

bool
verb_wants_help(int argc, char **argv)
{
	int	 i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return true;
	}
	return false;
}

void
verb_print_help(const struct verb *v)
{
	fputs(v->help, stdout);
}

int
verb_error(const char *verb, int code, const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "buzon %s: ", verb);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}
