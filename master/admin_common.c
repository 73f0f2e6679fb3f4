/* SPDX-License-Identifier: MIT */
/*
 * admin_common.c - config, passwords and listing for the account verbs
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "accounts_config.h"
#include "admin.h"
#include "maps.h"
#include "mem.h"
#include "settings.h"
#include "str.h"
#include "verbs.h"

void
admin_accounts_conf(const struct config *cfg, struct accounts_conf *ac)
{
	accounts_config(cfg, ac);
}

int
admin_open(const char *verb, const char *conf_path, struct admin *a)
{
	struct str	 errs;
	int		 rc;

	memset(a, 0, sizeof(*a));
	str_init(&errs, 0);
	rc = config_load(&a->cfg, conf_path, &errs);
	if (rc == -1) {
		fputs(str_c(&errs), stderr);
		str_release(&errs);
		config_release(&a->cfg);
		return verb_error(verb, 1, "cannot use config %s", conf_path);
	}
	str_release(&errs);
	admin_accounts_conf(&a->cfg, &a->ac);
	a->password_min_length = a->cfg.password_min_length;
	return 0;
}

void
admin_close(struct admin *a)
{
	config_release(&a->cfg);
}

/* One line from fp into buf without its newline: 0, or -1 (EOF before
 * anything, too long). */
static int
read_line(FILE *fp, char *buf, size_t size)
{
	size_t	 len;

	if (fgets(buf, (int)size, fp) == NULL)
		return -1;
	len = strlen(buf);
	if (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	else if (!feof(fp))
		return -1;			/* longer than buf */
	if (len > 0 && buf[len - 1] == '\r')
		buf[--len] = '\0';
	return 0;
}

/* Prompt on the terminal with echo off. */
static int
tty_read(FILE *tty, const char *prompt, char *buf, size_t size)
{
	struct termios	 old, noecho;
	int		 fd = fileno(tty), rc;

	if (tcgetattr(fd, &old) == -1)
		return -1;
	noecho = old;
	noecho.c_lflag &= ~(tcflag_t)ECHO;
	noecho.c_lflag |= ECHONL;
	fputs(prompt, tty);
	fflush(tty);
	if (tcsetattr(fd, TCSAFLUSH, &noecho) == -1)
		return -1;
	rc = read_line(tty, buf, size);
	(void)tcsetattr(fd, TCSAFLUSH, &old);
	return rc;
}

int
admin_read_password(const char *verb, const struct admin *a,
    bool from_stdin, const char *what, char *buf, size_t size)
{
	char	 again[ADMIN_PASSWORD_MAX + 2], prompt[128];
	FILE	*tty;
	int	 rc = 0;

	if (from_stdin) {
		if (read_line(stdin, buf, size) == -1)
			return verb_error(verb, 1, "no %s on stdin, or it is "
			    "longer than %zu bytes", what, size - 1);
	} else {
		if ((tty = fopen("/dev/tty", "r+")) == NULL)
			return verb_error(verb, EXIT_USAGE, "no terminal to "
			    "ask for the %s: use --password-stdin", what);
		(void)str_printf(prompt, sizeof(prompt), "New %s: ", what);
		if (tty_read(tty, prompt, buf, size) == -1)
			rc = verb_error(verb, 1, "cannot read the %s", what);
		else {
			(void)str_printf(prompt, sizeof(prompt),
			    "Retype new %s: ", what);
			if (tty_read(tty, prompt, again, sizeof(again)) == -1 ||
			    strcmp(buf, again) != 0)
				rc = verb_error(verb, 1, "the two %ss differ",
				    what);
		}
		mem_wipe(again, sizeof(again));
		fclose(tty);
		if (rc != 0) {
			mem_wipe(buf, size);
			return rc;
		}
	}
	if (buf[0] == '\0')
		return verb_error(verb, 1, "empty %s", what);
	if (strlen(buf) < a->password_min_length) {
		mem_wipe(buf, size);
		return verb_error(verb, 1, "%s too short: at least %u "
		    "characters (password_min_length)", what,
		    a->password_min_length);
	}
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
admin_print_sorted(char **items, size_t n)
{
	size_t	 i;

	if (n > 0)
		qsort(items, n, sizeof(*items), cmp_str);
	for (i = 0; i < n; i++) {
		puts(items[i]);
		free(items[i]);
	}
	free(items);
}

int
admin_list_map(const char *verb, const struct admin *a, const char *name,
    bool with_value, const char *suffix)
{
	struct maps_iter *it;
	struct maps	*m;
	struct str	 k, v;
	char		 spec[PATH_MAX], err[512];
	char		**items = NULL;
	size_t		 n = 0, sl = suffix != NULL ? strlen(suffix) : 0;
	int		 rc;

	if (accounts_map_spec(&a->ac, name, spec, sizeof(spec)) == -1)
		return verb_error(verb, 1, "state_dir too long");
	if ((m = maps_open(spec, MAPS_F_MISSING_OK, err, sizeof(err))) == NULL)
		return verb_error(verb, 1, "%s", err);
	if ((it = maps_iter_new(m, err, sizeof(err))) == NULL) {
		maps_close(&m);
		return verb_error(verb, 1, "%s", err);
	}
	str_init(&k, 0);
	str_init(&v, 0);
	while ((rc = maps_iter_next(it, &k, &v)) == 1) {
		if (sl > 0 && (k.len <= sl ||
		    strcmp(k.data + k.len - sl, suffix) != 0))
			continue;
		items = xreallocarray(items, n + 1, sizeof(*items));
		if (with_value) {
			if (str_appendf(&k, " %s", str_c(&v)) == -1)
				rc = -1;
		}
		items[n++] = xstrdup(str_c(&k));
	}
	maps_iter_free(&it);
	maps_close(&m);
	str_release(&k);
	str_release_secret(&v);
	admin_print_sorted(items, n);
	if (rc == -1)
		return verb_error(verb, 75, "cannot read %s", spec);
	return 0;
}
