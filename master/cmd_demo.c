/* SPDX-License-Identifier: MIT */
/*
 * cmd_demo.c - `buzon demo [--dir DIR]`: a ready-to-try instance in the
 * foreground, with the commands to reach each service by hand
 */
#include <sys/stat.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "master.h"
#include "net.h"
#include "settings.h"
#include "str.h"
#include "verbs.h"

#define DEMO_DIR	"buzon-demo"

int	verb_demo(const char *, int, char **);

/* The first address of a listener as "host" and "port" for a client:
 * a wildcard becomes 127.0.0.1.  false when the service is off. */
static bool
demo_addr(const struct config *cfg, const char *name, char *host,
    size_t hsize, char *port, size_t psize)
{
	const struct conf_list	*l = master_listen_list(cfg, name);

	if (l == NULL || l->count == 0 ||
	    net_split_hostport(l->items[0], host, hsize, port, psize) == -1)
		return false;
	if (strcmp(host, "*") == 0 || strcmp(host, "0.0.0.0") == 0 ||
	    host[0] == '\0')
		str_copy(host, "127.0.0.1", hsize);
	else if (strcmp(host, "::") == 0)
		str_copy(host, "::1", hsize);
	return true;
}

/* Is the program of the daemon that serves listener kind name there to
 * run?  The supervisor skips a missing one, so the demo must not offer
 * its port. */
static bool
demo_served(const struct config *cfg, const char *name)
{
	const struct daemon_spec *d;
	char		 self[PATH_MAX], dir[PATH_MAX], path[PATH_MAX];
	bool		 build_tree = false;
	ssize_t		 n;
	size_t		 i;

	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) == -1)
		n = 0;
	self[n] = '\0';
	if (master_daemon_dir(cfg, self, dir, sizeof(dir), &build_tree) == -1)
		return false;
	for (d = master_daemons; d->prog != NULL; d++)
		for (i = 0; d->listeners[i] != NULL; i++)
			if (strcmp(d->listeners[i], name) == 0)
				return master_daemon_path(dir, build_tree, d,
				    path, sizeof(path)) == 0 &&
				    access(path, X_OK) == 0;
	return false;
}

static void
demo_line(const struct config *cfg, const char *label, const char *name,
    const char *how)
{
	char	 host[NET_ADDRSTRLEN], port[16], hp[NET_ADDRSTRLEN + 24];

	if (!demo_addr(cfg, name, host, sizeof(host), port, sizeof(port))) {
		printf("  %-12s (off: %s_listen is empty)\n", label, name);
		return;
	}
	if (!demo_served(cfg, name)) {
		printf("  %-12s (not in this build yet)\n", label);
		return;
	}
	if (strchr(host, ':') != NULL)
		str_printf(hp, sizeof(hp), "[%s]:%s", host, port);
	else
		str_printf(hp, sizeof(hp), "%s:%s", host, port);
	if (strcmp(how, "telnet") == 0)
		printf("  %-12s telnet %s %s\n", label, host, port);
	else if (how[0] != '\0')
		printf("  %-12s openssl s_client -starttls %s -connect %s\n",
		    label, how, hp);
	else
		printf("  %-12s openssl s_client -connect %s\n", label, hp);
}

/* Print how to reach each service, from the config in force. */
static void
demo_print(const struct config *cfg)
{
	printf("\nbuzon demo: %s (config %s)\n\n", cfg->state_dir, cfg->path);
	printf("Connect by hand:\n");
	demo_line(cfg, "SMTP", "smtp", "telnet");
	demo_line(cfg, "Submission", "submission", "smtp");
	demo_line(cfg, "Submissions", "submissions", "");
	demo_line(cfg, "POP3", "pop3", "telnet");
	demo_line(cfg, "POP3S", "pop3s", "");
	demo_line(cfg, "IMAP", "imap", "telnet");
	demo_line(cfg, "IMAPS", "imaps", "");
	printf("\nTLS certificate (self-signed, also the CA to trust): %s\n"
	    "  e.g. openssl s_client -CAfile %s -connect ...\n",
	    cfg->tls_cert, cfg->tls_cert);
	if (strcmp(cfg->log_target, "stderr") == 0)
		printf("Log: this terminal%s\n", cfg->trace ?
		    " (trace is on: sessions show as C:/S: lines)" : "");
	if (cfg->trace_log[0] != '\0')
		printf("Also in %s: `buzon -c %s trace --follow`\n"
		    "  shows the sessions live, passwords masked.\n",
		    cfg->trace_log, cfg->path);
	else
		printf("Log: syslog, facility mail\n");
	printf("Ctrl-C to stop.\n\n");
	fflush(stdout);
}

int
verb_demo(const char *conf_path, int argc, char **argv)
{
	struct config	 cfg;
	struct stat	 st;
	const char	*dir = DEMO_DIR;
	char		 conf[PATH_MAX];
	int		 i, rc;

	(void)conf_path;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else
			return verb_error("demo", EXIT_USAGE,
			    "usage: buzon demo [--dir DIR]");
	}
	if (!str_printf(conf, sizeof(conf), "%s/buzon.conf", dir))
		return verb_error("demo", 1, "%s: path too long", dir);
	if (stat(conf, &st) == -1) {
		printf("creating the demo in %s\n", dir);
		if ((rc = master_init(dir, true, false, conf,
		    sizeof(conf))) != 0)
			return rc;
	}
	if (verb_load_config(conf, &cfg) == -1) {
		config_release(&cfg);
		return verb_error("demo", 1, "fix %s (or remove %s to start "
		    "afresh)", conf, dir);
	}
	demo_print(&cfg);
	str_copy(conf, cfg.path, sizeof(conf));
	config_release(&cfg);
	return master_run(conf, -1);
}
