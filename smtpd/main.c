/* SPDX-License-Identifier: MIT */
/*
 * main.c - buzon-smtpd: the ESMTP server on the smtp, submission and
 * submissions listeners the supervisor hands over
 *
 * Usage: buzon-smtpd [-c FILE]; normally started by `buzon run`.  All the
 * work is in server.c (setup), session.c and the command files.
 */
#include "service.h"
#include "smtpd.h"

static const char *const smtpd_listeners[] = {
	"smtp", "submission", "submissions", NULL
};

int
main(int argc, char **argv)
{
	static struct smtpd	 srv;
	const struct service	 svc = {
		.name = "buzon-smtpd",
		.accept = smtp_accept,
		.init = smtpd_init,
		.reload = smtpd_reload,
		.shutdown = smtpd_shutdown,
		.data = &srv,
		.listeners = smtpd_listeners,
	};

	return service_main(&svc, argc, argv);
}
