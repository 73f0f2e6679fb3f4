/* SPDX-License-Identifier: MIT */
/*
 * main.c - buzon-auth: checks passwords and APOP digests for smtpd, pop3d
 * and imapd on the unix socket STATE/run/auth.sock
 *
 * Usage: buzon-auth -c FILE; started by `buzon run` like the other
 * daemons (buzon-auth(8)).  It is the only daemon that opens the passwd
 * map.  All the work is in server.c and worker.c.
 */
#include "settings.h"

#include <stdio.h>
#include <string.h>

#include "authd.h"
#include "service.h"

static const char authd_help[] =
	"usage: buzon-auth -c FILE\n"
	"\n"
	"The buzon password checker: smtpd and pop3d send it every login\n"
	"over the unix socket STATE/run/auth.sock (mode 0660, made at\n"
	"start).  It alone reads the passwd map (hashes, APOP secrets),\n"
	"checks hashes on auth_worker_threads threads, and holds the\n"
	"failed-login throttle (auth_failure_delay, auth_max_delay,\n"
	"auth_penalty_time, auth_address_max_failures,\n"
	"login_trusted_networks).  Started and restarted by `buzon run`;\n"
	"never as root.  See buzon-auth(8) and buzon.conf(5).\n";

int
main(int argc, char **argv)
{
	static struct authd	 srv;
	const struct service	 svc = {
		.name = "buzon-auth",
		.init = authd_init,
		.reload = authd_reload,
		.shutdown = authd_shutdown,
		.data = &srv,
	};

	if (argc == 2 && (strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0)) {
		fputs(authd_help, stdout);
		return 0;
	}
	return service_main(&svc, argc, argv);
}
