/* SPDX-License-Identifier: MIT */
/*
 * main.c - buzon-imapd: the IMAP server on the imap and imaps listeners
 * the supervisor hands over
 *
 * Usage: buzon-imapd [-c FILE]; normally started by `buzon run`.  All the
 * work is in server.c (setup), session.c and the command files.
 */
#include "imapd.h"
#include "service.h"

static const char *const imapd_listeners[] = { "imap", "imaps", NULL };

int
main(int argc, char **argv)
{
	static struct imapd	 srv;
	const struct service	 svc = {
		.name = "buzon-imapd",
		.accept = imap_accept,
		.init = imapd_init,
		.reload = imapd_reload,
		.shutdown = imapd_shutdown,
		.data = &srv,
		.listeners = imapd_listeners,
	};

	return service_main(&svc, argc, argv);
}
