/* SPDX-License-Identifier: MIT */
/*
 * demo_accounts.c - demo users and mail for `buzon init --demo`
 *
 * A placeholder until the accounts module (users, aliases, domains maps)
 * exists: it replaces this file.
 */
#include "config.h"

#include <stdio.h>

#include "demo.h"

int
demo_accounts_create(const struct config *cfg, FILE *out)
{
	(void)cfg;
	fprintf(out, "Demo accounts: none yet (users and mailboxes come with "
	    "the accounts module).\n");
	return 0;
}
