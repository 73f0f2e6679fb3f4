/* SPDX-License-Identifier: MIT */
/*
 * main.c - buzon-pop3d: the POP3 server on the pop3 and pop3s listeners
 * the supervisor hands over
 *
 * Usage: buzon-pop3d [-c FILE]; normally started by `buzon run`.  All the
 * work is in server.c (setup), session.c and the command files.
 */
#include "pop3d.h"
#include "service.h"

static const char *const pop3d_listeners[] = { "pop3", "pop3s", NULL };

int
main(int argc, char **argv)
{
	static struct pop3d	 srv;
	const struct service	 svc = {
		.name = "buzon-pop3d",
		.accept = pop3_accept,
		.init = pop3d_init,
		.reload = pop3d_reload,
		.shutdown = pop3d_shutdown,
		.data = &srv,
		.listeners = pop3d_listeners,
	};

	return service_main(&svc, argc, argv);
}
