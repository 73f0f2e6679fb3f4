/* SPDX-License-Identifier: MIT */
/*
 * admin_domain.c - `buzon domain add|del|list`
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "admin_help.h"
#include "maps.h"
#include "mem.h"
#include "str.h"
#include "verbs.h"

int	verb_domain(const char *, int, char **);

const char admin_domain_help[] =
	"usage: buzon [-c FILE] domain add DOMAIN\n"
	"       buzon [-c FILE] domain del DOMAIN\n"
	"       buzon [-c FILE] domain list\n"
	"\n"
	"The local domains: mail to them is delivered here, to users and\n"
	"aliases of the domain.  Names are stored in lower case.  A domain\n"
	"is deleted only once it has no users and no aliases left.  Changes\n"
	"take effect at once, also while the mail system runs.\n"
	"\n"
	"Exit status: 0 done; 1 failed (invalid name, domain exists, unknown\n"
	"domain, users left); 2 bad usage.\n";

int
verb_domain(const char *conf_path, int argc, char **argv)
{
	struct admin	 a;
	char		 err[512];
	int		 rc;

	if (argc < 2 || (strcmp(argv[1], "list") == 0 ? argc != 2 :
	    argc != 3))
		return verb_error("domain", EXIT_USAGE, "usage: buzon domain "
		    "add DOMAIN | del DOMAIN | list");
	if (strcmp(argv[1], "add") != 0 && strcmp(argv[1], "del") != 0 &&
	    strcmp(argv[1], "list") != 0)
		return verb_error("domain", EXIT_USAGE, "unknown action '%s' "
		    "(add, del or list)", argv[1]);
	if ((rc = admin_open("domain", conf_path, &a)) != 0)
		return rc;
	if (strcmp(argv[1], "list") == 0)
		rc = admin_list_map("domain", &a, "domains", false, NULL);
	else if (strcmp(argv[1], "add") == 0) {
		if (accounts_domain_add(&a.ac, argv[2], err, sizeof(err)) == -1)
			rc = verb_error("domain", 1, "%s", err);
	} else if (accounts_domain_del(&a.ac, argv[2], err, sizeof(err)) == -1)
		rc = verb_error("domain", 1, "%s", err);
	admin_close(&a);
	return rc;
}
