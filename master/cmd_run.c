/* SPDX-License-Identifier: MIT */
/*
 * cmd_run.c - `buzon run` (foreground) and `buzon start` (background)
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "master.h"
#include "settings.h"
#include "str.h"
#include "verbs.h"

#define START_TIMEOUT_MS	30000

int	verb_run(const char *, int, char **);
int	verb_start(const char *, int, char **);

int
verb_run(const char *conf_path, int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return verb_error("run", EXIT_USAGE,
		    "usage: buzon [-c FILE] run");
	return master_run(conf_path, -1);
}

/* stdio of the background supervisor: /dev/null in, the log file (when
 * logging to stderr) or /dev/null out. */
static int
start_stdio(const struct config *cfg, char *err, size_t errsize)
{
	char	 path[PATH_MAX];
	uid_t	 uid = (uid_t)-1;
	gid_t	 gid = (gid_t)-1;
	int	 in, out;

	if (geteuid() == 0 &&
	    priv_lookup(cfg->user, &uid, &gid, err, errsize) == -1)
		return -1;
	if (master_state_dirs(cfg->state_dir, uid, gid, err, errsize) == -1)
		return -1;
	if (strcmp(cfg->log_target, "stderr") == 0) {
		if (!str_printf(path, sizeof(path), "%s/log/buzon.log",
		    cfg->state_dir)) {
			str_printf(err, errsize, "log path too long");
			return -1;
		}
		out = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW |
		    O_CLOEXEC, 0640);
		if (out != -1 && uid != (uid_t)-1 &&
		    fchown(out, uid, gid) == -1) {
			close(out);
			out = -1;
		}
	} else {
		str_copy(path, "/dev/null", sizeof(path));
		out = open(path, O_WRONLY | O_CLOEXEC);
	}
	if (out == -1) {
		str_printf(err, errsize, "cannot open %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if ((in = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1 ||
	    dup2(in, 0) == -1 || dup2(out, 1) == -1 || dup2(out, 2) == -1) {
		str_printf(err, errsize, "stdio: %s", strerror(errno));
		return -1;
	}
	close(in);
	close(out);
	return 0;
}

/* Wait for "ok" or "error: ..." from the new supervisor. */
static int
start_wait(int fd, pid_t pid, const char *logname)
{
	char		 buf[1200];
	size_t		 len = 0;
	ssize_t		 n;
	struct pollfd	 pfd = { .fd = fd, .events = POLLIN };
	int		 r;

	while (len < sizeof(buf) - 1) {
		if ((r = poll(&pfd, 1, START_TIMEOUT_MS)) == -1 &&
		    errno == EINTR)
			continue;
		if (r <= 0) {
			fprintf(stderr, "buzon start: no answer from pid %ld "
			    "after %d s; see %s\n", (long)pid,
			    START_TIMEOUT_MS / 1000, logname);
			return 1;
		}
		if ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	if (strncmp(buf, "ok\n", 3) == 0) {
		printf("buzon started (pid %ld)\n", (long)pid);
		return 0;
	}
	if (strncmp(buf, "error: ", 7) == 0) {
		buf[strcspn(buf, "\n")] = '\0';
		fprintf(stderr, "buzon start: %s\n", buf + 7);
	} else
		fprintf(stderr, "buzon start: failed to start; see %s\n",
		    logname);
	return 1;
}

int
verb_start(const char *conf_path, int argc, char **argv)
{
	struct config	 cfg;
	char		 err[512], logname[PATH_MAX];
	pid_t		 pid;
	int		 p[2], rc;

	(void)argv;
	if (argc != 1)
		return verb_error("start", EXIT_USAGE,
		    "usage: buzon [-c FILE] start");
	if (verb_load_config(conf_path, &cfg) == -1) {
		config_release(&cfg);
		return 1;
	}
	switch (pidfile_running(cfg.pid_file, &pid)) {
	case 1:
		config_release(&cfg);
		return verb_error("start", 1, "already running (pid %ld)",
		    (long)pid);
	case -1:
		rc = verb_error("start", 1, "%s: %s", cfg.pid_file,
		    strerror(errno));
		config_release(&cfg);
		return rc;
	}
	if (strcmp(cfg.log_target, "stderr") == 0)
		str_printf(logname, sizeof(logname), "%s/log/buzon.log",
		    cfg.state_dir);
	else
		str_copy(logname, "syslog", sizeof(logname));
	if (pipe2(p, O_CLOEXEC) == -1) {
		config_release(&cfg);
		return verb_error("start", 1, "pipe: %s", strerror(errno));
	}
	fflush(NULL);
	if ((pid = fork()) == -1) {
		config_release(&cfg);
		return verb_error("start", 1, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		close(p[0]);
		err[0] = '\0';
		if (setsid() == -1)
			str_printf(err, sizeof(err), "setsid: %s",
			    strerror(errno));
		else
			(void)start_stdio(&cfg, err, sizeof(err));
		if (err[0] != '\0') {
			(void)!dprintf(p[1], "error: %s\n", err);
			_exit(1);
		}
		config_release(&cfg);
		_exit(master_run(conf_path, p[1]));
	}
	close(p[1]);
	rc = start_wait(p[0], pid, logname);
	close(p[0]);
	config_release(&cfg);
	return rc;
}
