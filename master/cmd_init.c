/* SPDX-License-Identifier: MIT */
/*
 * cmd_init.c - `buzon init [--demo] [--force] DIR`: a new instance
 *
 * DIR/buzon.conf gets every parameter written out, commented, with its
 * help line, and the instance's own values set; beside it tls/ (a
 * self-signed certificate), spool/, mail/, maps/, run/ and log/.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "demo.h"
#include "fail.h"
#include "master.h"
#include "settings.h"
#include "str.h"
#include "tls.h"
#include "verbs.h"

#define DEMO_HOSTNAME	"mail.example.test"
#define DEMO_REALM	"example.test"	/* demo_accounts.c's domain */
#define INIT_QUOTA	"1G"	/* user_default_quota, demo included */
#define INIT_KEYS_MAX	16

int	verb_init(const char *, int, char **);

/* The demo listens on loopback only, on unprivileged ports. */
static const char *const demo_listen[][2] = {
	{ "smtp_listen", "127.0.0.1:2525" },
	{ "submission_listen", "127.0.0.1:2587" },
	{ "submissions_listen", "127.0.0.1:2465" },
	{ "pop3_listen", "127.0.0.1:2110" },
	{ "pop3s_listen", "127.0.0.1:2995" },
	{ "imap_listen", "127.0.0.1:2143" },
	{ "imaps_listen", "127.0.0.1:2993" },
};

static int
init_write_conf(const char *conf, const char *tmp, const char *const *keys,
    const char *const *values)
{
	FILE	*fp;
	int	 fd, rc;

	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0640);
	if (fd == -1 || (fp = fdopen(fd, "w")) == NULL) {
		fprintf(stderr, "buzon init: cannot create %s: %s\n", tmp,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	fprintf(fp, "# buzon.conf - written by `buzon init`; see "
	    "buzon.conf(5).\n"
	    "#\n"
	    "# Every parameter is listed with its default, commented out;\n"
	    "# the ones set for this instance are not.  Check edits with\n"
	    "# `buzon -c %s config check`.\n\n", conf);
	rc = conf_write_defaults(config_params, fp, keys, values);
	if (fflush(fp) != 0 || fsync(fileno(fp)) == -1)
		rc = -1;
	if (fclose(fp) != 0)
		rc = -1;
	if (rc == -1 || rename(tmp, conf) == -1) {
		fprintf(stderr, "buzon init: cannot write %s: %s\n", conf,
		    strerror(errno));
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}

static bool
file_exists(const char *path)
{
	struct stat	 st;

	return lstat(path, &st) == 0;
}

/* As root: hand the tree to the configured user. */
static void
init_chown(const struct config *cfg, const char *dir)
{
	static const char *const names[] = { "", "/buzon.conf", "/tls",
	    "/tls/cert.pem", "/tls/key.pem", "/spool", "/mail", "/maps",
	    "/auth", "/run", "/log", NULL };
	char	 path[PATH_MAX], err[256];
	uid_t	 uid;
	gid_t	 gid;
	size_t	 i;

	if (geteuid() != 0)
		return;
	if (priv_lookup(cfg->user, &uid, &gid, err, sizeof(err)) == -1) {
		fprintf(stderr, "buzon init: warning: %s; %s stays owned by "
		    "root\n", err, dir);
		return;
	}
	for (i = 0; names[i] != NULL; i++)
		if (str_printf(path, sizeof(path), "%s%s", dir, names[i]) &&
		    lchown(path, uid, gid) == -1 && errno != ENOENT)
			fprintf(stderr, "buzon init: warning: chown %s: %s\n",
			    path, strerror(errno));
}

int
master_init(const char *dir, bool demo, bool force, char *conf_r,
    size_t size)
{
	const char	*keys[INIT_KEYS_MAX + 1], *values[INIT_KEYS_MAX + 1];
	char		 abs[PATH_MAX], tmp[PATH_MAX + 8], host[256];
	char		 cert[PATH_MAX], key[PATH_MAX], err[512];
	char		 tlog[PATH_MAX];
	struct config	 cfg;
	struct fail	 f;
	size_t		 n = 0, i;
	int		 rc = 1;

	if (mkdir(dir, 0750) == -1 && errno != EEXIST) {
		fprintf(stderr, "buzon init: cannot create %s: %s\n", dir,
		    strerror(errno));
		return 1;
	}
	if (realpath(dir, abs) == NULL) {
		fprintf(stderr, "buzon init: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	if (!str_printf(conf_r, size, "%s/buzon.conf", abs) ||
	    !str_printf(tmp, sizeof(tmp), "%s.tmp", conf_r) ||
	    !str_printf(cert, sizeof(cert), "%s/tls/cert.pem", abs) ||
	    !str_printf(key, sizeof(key), "%s/tls/key.pem", abs) ||
	    !str_printf(tlog, sizeof(tlog), "%s/log/trace.log", abs)) {
		fprintf(stderr, "buzon init: %s: path too long\n", abs);
		return 1;
	}
	if (!force && file_exists(conf_r)) {
		fprintf(stderr, "buzon init: %s exists (use --force to write "
		    "it again)\n", conf_r);
		return 1;
	}
	if (demo)
		str_copy(host, DEMO_HOSTNAME, sizeof(host));
	else if (gethostname(host, sizeof(host)) == -1 || host[0] == '\0')
		str_copy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';

	keys[n] = "hostname", values[n++] = host;
	keys[n] = "state_dir", values[n++] = abs;
	/* One transaction naming a mailbox many times stores one copy, but
	 * many transactions can still fill a disk: new users get a quota. */
	keys[n] = "user_default_quota", values[n++] = INIT_QUOTA;
	if (demo) {
		keys[n] = "log_target", values[n++] = "stderr";
		keys[n] = "trace", values[n++] = "yes";
		/* What `buzon trace` reads while the terminal shows it too. */
		keys[n] = "trace_log", values[n++] = tlog;
		/* Course material logs in with bare names (USER alice). */
		keys[n] = "auth_default_realm", values[n++] = DEMO_REALM;
		for (i = 0; i < sizeof(demo_listen) / sizeof(demo_listen[0]);
		    i++)
			keys[n] = demo_listen[i][0], values[n++] =
			    demo_listen[i][1];
	}
	keys[n] = NULL, values[n] = NULL;

	if (master_state_dirs(abs, (uid_t)-1, (gid_t)-1, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "buzon init: %s\n", err);
		return 1;
	}
	if (init_write_conf(conf_r, tmp, keys, values) == -1)
		return 1;
	printf("created %s\n", conf_r);
	if (file_exists(cert) && file_exists(key))
		printf("kept %s\n", cert);
	else if (tls_selfsigned_write(cert, key, host, &f) == -1) {
		fprintf(stderr, "buzon init: cannot write %s: %s\n", cert,
		    f.text);
		return 1;
	} else
		printf("created %s (self-signed, CN=%s)\n", cert, host);

	/* Read back what was written: a bad file here is a bug. */
	if (verb_load_config(conf_r, &cfg) == -1) {
		fprintf(stderr, "buzon init: %s does not load\n", conf_r);
		goto out;
	}
	init_chown(&cfg, abs);
	printf("created %s/{spool,mail,maps,run,log}\n", abs);
	if (demo && demo_accounts_create(&cfg, stdout) == -1)
		goto out;
	rc = 0;
out:
	config_release(&cfg);
	return rc;
}

int
verb_init(const char *conf_path, int argc, char **argv)
{
	char		 conf[PATH_MAX];
	const char	*dir = NULL;
	bool		 demo = false, force = false;
	int		 i, rc;

	(void)conf_path;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--demo") == 0)
			demo = true;
		else if (strcmp(argv[i], "--force") == 0)
			force = true;
		else if (argv[i][0] == '-' && strcmp(argv[i], "-") != 0)
			return verb_error("init", EXIT_USAGE, "unknown option "
			    "'%s' (usage: buzon init [--demo] [--force] DIR)",
			    argv[i]);
		else if (dir != NULL)
			return verb_error("init", EXIT_USAGE, "one DIR only "
			    "(usage: buzon init [--demo] [--force] DIR)");
		else
			dir = argv[i];
	}
	if (dir == NULL)
		return verb_error("init", EXIT_USAGE,
		    "usage: buzon init [--demo] [--force] DIR");
	rc = master_init(dir, demo, force, conf, sizeof(conf));
	if (rc == 0)
		printf("next: buzon -c %s config check; buzon -c %s run\n",
		    conf, conf);
	return rc;
}
