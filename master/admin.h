/*
 * admin.h - what the account verbs (domain, user, alias, map) share
 *
 * Each verb loads the config, derives the accounts settings from it and
 * changes the maps through accounts.h.  Passwords are read once, from
 * stdin (--password-stdin) or from the terminal without echo, and wiped
 * after use.
 */
#ifndef BUZON_ADMIN_H
#define BUZON_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

#include "accounts.h"
#include "settings.h"
#define ADMIN_PASSWORD_MAX	AUTH_PASS_MAX

struct admin {
	struct config		 cfg;
	struct accounts_conf	 ac;
	unsigned int		 password_min_length;	/* 0: no policy */
};

/* The accounts settings a config gives (borrowed from cfg). */
void	admin_accounts_conf(const struct config *, struct accounts_conf *);
/* Load the config for verb; 0, or an exit code after printing why. */
int	admin_open(const char *verb, const char *conf_path, struct admin *);
void	admin_close(struct admin *);
/* Read a password into buf: one line of stdin when from_stdin, else
 * twice from the terminal without echo.  Checks the configured minimum
 * length.  0, or an exit code after printing why. */
int	admin_read_password(const char *verb, const struct admin *,
	    bool from_stdin, const char *what, char *buf, size_t size);
/* Print every key of map name ("domains", "users", "aliases"), sorted,
 * one a line ("KEY VALUE" if with_value), only keys ending in suffix when
 * it is not NULL.  0 or an exit code. */
int	admin_list_map(const char *verb, const struct admin *, const char *name,
	    bool with_value, const char *suffix);
/* Sort and print a list of strings, one a line; frees them. */
void	admin_print_sorted(char **items, size_t n);

#endif
