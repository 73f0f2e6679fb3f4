/* SPDX-License-Identifier: MIT */
/*
 * admin_alias.c - `buzon alias add|del|list`
 */
#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "admin_help.h"
#include "verbs.h"

int	verb_alias(const char *, int, char **);

const char admin_alias_help[] =
	"usage: buzon [-c FILE] alias add SOURCE TARGET[,TARGET...]\n"
	"       buzon [-c FILE] alias del SOURCE [TARGET]\n"
	"       buzon [-c FILE] alias list\n"
	"\n"
	"Aliases send mail for SOURCE to other addresses, local or remote.\n"
	"SOURCE is an address (info@example.test), a bare local part that\n"
	"works in every local domain (postmaster), or @DOMAIN, the catch-all\n"
	"for addresses of DOMAIN that are no user.  Targets are full\n"
	"addresses; an alias may name other aliases (up to 10 deep) and\n"
	"itself, to keep a copy: alice@example.test -> alice@example.test,\n"
	"archive@example.org.  add appends to an existing alias; del\n"
	"removes one TARGET, or the whole alias.  list prints\n"
	"SOURCE TARGET,... lines.\n"
	"\n"
	"Exit status: 0 done; 1 failed (invalid source or target, no such\n"
	"alias); 2 bad usage.\n";

int
verb_alias(const char *conf_path, int argc, char **argv)
{
	struct admin	 a;
	char		 err[512];
	int		 rc;

	if (argc < 2 ||
	    (strcmp(argv[1], "list") == 0 && argc != 2) ||
	    (strcmp(argv[1], "add") == 0 && argc != 4) ||
	    (strcmp(argv[1], "del") == 0 && argc != 3 && argc != 4))
		return verb_error("alias", EXIT_USAGE, "usage: buzon alias "
		    "add SOURCE TARGET[,TARGET...] | del SOURCE [TARGET] | "
		    "list");
	if (strcmp(argv[1], "add") != 0 && strcmp(argv[1], "del") != 0 &&
	    strcmp(argv[1], "list") != 0)
		return verb_error("alias", EXIT_USAGE, "unknown action '%s' "
		    "(add, del or list)", argv[1]);
	if ((rc = admin_open("alias", conf_path, &a)) != 0)
		return rc;
	if (strcmp(argv[1], "list") == 0)
		rc = admin_list_map("alias", &a, "aliases", true, NULL);
	else if (strcmp(argv[1], "add") == 0) {
		if (accounts_alias_add(&a.ac, argv[2], argv[3], err,
		    sizeof(err)) == -1)
			rc = verb_error("alias", 1, "%s", err);
	} else if (accounts_alias_del(&a.ac, argv[2], argc == 4 ? argv[3] :
	    NULL, err, sizeof(err)) == -1)
		rc = verb_error("alias", 1, "%s", err);
	admin_close(&a);
	return rc;
}
