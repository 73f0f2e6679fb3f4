/*
 * demo.h - the accounts `buzon init --demo` creates
 */
#ifndef BUZON_DEMO_H
#define BUZON_DEMO_H

#include <stdio.h>

#include "settings.h"

/* Create the demo users, aliases and sample mail for the instance of cfg,
 * and print to out how to log in with them.  0 or -1 (message printed to
 * stderr). */
int	demo_accounts_create(const struct config *cfg, FILE *out);

#endif
