/* SPDX-License-Identifier: MIT */
/*
 * main.c - buzon-auth: checks passwords and APOP digests for smtpd, pop3d
 * and imapd on the unix socket STATE/run/auth.sock
 *
 * Usage: buzon-auth [-c FILE]; started by `buzon run` like the other
 * daemons.  It is the only daemon that opens the passwd map.
 */
#include "config.h"

#include "authd.h"
#include "service.h"

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

	return service_main(&svc, argc, argv);
}
