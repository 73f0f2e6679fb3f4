/* SPDX-License-Identifier: MIT */
/*
 * cmd_ctl.c - `buzon stop`, `buzon reload` and `buzon status`: talk to the
 * supervisor named in the pid file
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "master.h"
#include "sandbox.h"
#include "settings.h"
#include "str.h"
#include "verbs.h"

#define STOP_POLL_MS	50
#define STOP_EXTRA_MS	5000	/* on top of shutdown_grace */
#define EXIT_NOT_RUNNING	3	/* LSB: program is not running */
#define EXIT_STATUS_UNKNOWN	4

int	verb_stop(const char *, int, char **);
int	verb_reload(const char *, int, char **);
int	verb_status(const char *, int, char **);

/* The running supervisor's pid: 1 found, 0 not running (printed), -1 error
 * (printed). */
static int
ctl_find(const char *verb, const char *conf_path, bool strict,
    struct config *cfg, pid_t *pid_r)
{
	/* A broken file must not keep anyone from stopping the instance:
	 * the pid file path is derived even then. */
	if (verb_load_config(conf_path, cfg) == -1) {
		if (strict) {
			verb_error(verb, 1, "config has errors; the running "
			    "config is kept");
			return -1;
		}
		verb_error(verb, 1, "warning: config has errors; using %s",
		    cfg->pid_file);
	}
	switch (pidfile_running(cfg->pid_file, pid_r)) {
	case 1:
		if (*pid_r != 0)
			return 1;
		/* Still being written: a starting instance. */
		usleep(100 * 1000);
		if (pidfile_running(cfg->pid_file, pid_r) == 1 && *pid_r != 0)
			return 1;
		verb_error(verb, 1, "%s holds no pid", cfg->pid_file);
		return -1;
	case 0:
		return 0;
	default:
		verb_error(verb, 1, "%s: %s", cfg->pid_file, strerror(errno));
		return -1;
	}
}

int
verb_stop(const char *conf_path, int argc, char **argv)
{
	struct config	 cfg;
	struct timespec	 ts = { 0, STOP_POLL_MS * 1000000L };
	uint64_t	 waited = 0, limit;
	pid_t		 pid, p2;
	int		 rc;

	(void)argv;
	if (argc != 1)
		return verb_error("stop", EXIT_USAGE,
		    "usage: buzon [-c FILE] stop");
	switch (ctl_find("stop", conf_path, false, &cfg, &pid)) {
	case 0:
		rc = verb_error("stop", 1, "not running");
		goto out;
	case -1:
		rc = 1;
		goto out;
	}
	if (kill(pid, SIGTERM) == -1) {
		rc = verb_error("stop", 1, "cannot signal pid %ld: %s",
		    (long)pid, strerror(errno));
		goto out;
	}
	limit = cfg.shutdown_grace + STOP_EXTRA_MS;
	while (pidfile_running(cfg.pid_file, &p2) == 1 && p2 == pid) {
		if (waited >= limit) {
			rc = verb_error("stop", 1, "pid %ld still running "
			    "after %llu s", (long)pid,
			    (unsigned long long)(limit / 1000));
			goto out;
		}
		nanosleep(&ts, NULL);
		waited += STOP_POLL_MS;
	}
	printf("buzon stopped (pid %ld)\n", (long)pid);
	rc = 0;
out:
	config_release(&cfg);
	return rc;
}

int
verb_reload(const char *conf_path, int argc, char **argv)
{
	struct config	 cfg;
	pid_t		 pid;
	int		 rc;

	(void)argv;
	if (argc != 1)
		return verb_error("reload", EXIT_USAGE,
		    "usage: buzon [-c FILE] reload");
	switch (ctl_find("reload", conf_path, true, &cfg, &pid)) {
	case 1:
		if (kill(pid, SIGHUP) == -1)
			rc = verb_error("reload", 1, "cannot signal pid %ld: "
			    "%s", (long)pid, strerror(errno));
		else {
			printf("buzon reloading (pid %ld)\n", (long)pid);
			rc = 0;
		}
		break;
	case 0:
		rc = verb_error("reload", 1, "not running");
		break;
	default:
		rc = 1;
		break;
	}
	config_release(&cfg);
	return rc;
}

/* One status line, "daemon=X pid=N state=S started=EPOCH restarts=N",
 * printed as a table row. */
static void
status_print_line(char *line)
{
	char		*f[5] = { NULL }, *w, *next, buf[32];
	static const char *const keys[] = { "daemon=", "pid=", "state=",
	    "started=", "restarts=" };
	uint64_t	 t;
	time_t		 tt;
	struct tm	 tm;
	size_t		 i;

	for (w = line; w != NULL && *w != '\0'; w = next) {
		if ((next = strchr(w, ' ')) != NULL)
			*next++ = '\0';
		for (i = 0; i < 5; i++)
			if (strncmp(w, keys[i], strlen(keys[i])) == 0)
				f[i] = w + strlen(keys[i]);
	}
	for (i = 0; i < 5; i++)
		if (f[i] == NULL)
			return;
	str_copy(buf, "-", sizeof(buf));
	if (strcmp(f[2], "running") == 0 &&
	    strnum_u64(f[3], 1, INT64_MAX, &t) == 0) {
		tt = (time_t)t;
		if (localtime_r(&tt, &tm) != NULL)
			strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
	}
	printf("  %-14s %-8s pid=%-8s since=%-19s restarts=%s\n", f[0], f[2],
	    f[1], buf, f[4]);
}

/* What the daemons do with the `sandbox` key on this kernel. */
static void
status_print_sandbox(const struct config *cfg)
{
	int	 abi = sandbox_abi();
	bool	 is_off = strcmp(cfg->sandbox, "off") == 0;

	printf("  sandbox=%s landlock_abi=%d daemons %s\n", cfg->sandbox, abi,
	    is_off ? "unconfined (sandbox = off)" : abi >= 2 ?
	    "confined (docs/architecture.md: who can read what)" :
	    "unconfined: the kernel has no Landlock ABI 2");
}

int
verb_status(const char *conf_path, int argc, char **argv)
{
	struct config	 cfg;
	char		 path[PATH_MAX], line[512];
	FILE		*fp;
	pid_t		 pid;
	int		 rc;

	(void)argv;
	if (argc != 1)
		return verb_error("status", EXIT_USAGE,
		    "usage: buzon [-c FILE] status");
	switch (ctl_find("status", conf_path, false, &cfg, &pid)) {
	case 0:
		printf("buzon is not running\n");
		rc = EXIT_NOT_RUNNING;
		goto out;
	case -1:
		rc = EXIT_STATUS_UNKNOWN;
		goto out;
	}
	printf("buzon is running (pid %ld, config %s)\n", (long)pid,
	    cfg.path);
	status_print_sandbox(&cfg);
	rc = 0;
	if (master_status_path(&cfg, path, sizeof(path)) == -1 ||
	    (fp = fopen(path, "re")) == NULL) {
		printf("  (no daemon status yet)\n");
		goto out;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "daemon=", 7) == 0)
			status_print_line(line);
	}
	fclose(fp);
out:
	config_release(&cfg);
	return rc;
}
