/* SPDX-License-Identifier: MIT */
/*
 * imap_fuzz.c - arbitrary client bytes into buzon-imapd's command
 * collection (literals, long lines, IDLE, SASL continuations) and
 * dispatch, on memory sessions (common/session.h sess_feed(): the same
 * line splitting and state machine as on a socket)
 *
 * The first byte is the size of each read (0: all at once).  The rest
 * goes through a session in the not-authenticated state (logins fail:
 * there is no buzon-auth), then through one in the authenticated state
 * whose mail root does not exist, so every command that would reach
 * storage answers NO and no input touches a file.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "imapd.h"
#include "log.h"
#include "str.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct accounts	*accounts;

static void
run_session(struct imapd *srv, struct imap_session *s, const char *data,
    size_t size, size_t piece)
{
	struct sess	*b = &s->base;
	size_t		 off, n;

	imap_session_start(s);
	for (off = 0; off < size && b != NULL; off += n) {
		unsigned long	 freed = srv->sv.nfreed;

		n = size - off < piece ? size - off : piece;
		if (sess_feed(&b, data + off, n, off + n == size) == -1)
			break;
		/* A delayed answer: go on at once. */
		while (b->suspended && srv->sv.nfreed == freed)
			sess_resume(b);
		if (srv->sv.nfreed != freed)
			b = NULL;
	}
	sess_free(&b, "fuzz over");
}

int
LLVMFuzzerTestOneInput(const uint8_t *udata, size_t size)
{
	const char		*data = (const char *)udata;
	struct imapd		 srv;
	struct imap_session	*s;
	size_t			 piece;
	char			 err[256];

	if (accounts == NULL) {
		static const struct accounts_conf ac = {
			.state_dir = "/nonexistent/buzon-fuzz",
			.map_type = "hash", .recipient_delimiter = "+"
		};

		log_set_level(LOG_LEVEL_ERROR);
		accounts = accounts_open(&ac, err, sizeof(err));
		if (accounts == NULL)
			abort();
	}
	if (size < 1)
		return 0;
	piece = udata[0] == 0 ? size : 1 + ((size_t)udata[0] - 1) * 8;
	data++;
	size--;
	memset(&srv, 0, sizeof(srv));
	srv.conf.hostname = "fuzz.example";
	srv.conf.max_errors = 1000;
	srv.conf.max_line = 8192;
	srv.conf.max_command = 65536;
	srv.conf.max_append = 65536;
	srv.conf.timeout = srv.conf.auth_timeout = 1000;
	srv.conf.idle_timeout = srv.conf.send_timeout = 1000;
	srv.conf.command_timeout = 1000;
	srv.conf.max_connections = srv.conf.max_connections_per_ip = 10;
	srv.conf.plaintext_loopback = true;
	srv.accounts = accounts;

	s = imap_session_mem(&srv);
	s->is_loopback = true;
	run_session(&srv, s, data, size, piece);

	s = imap_session_mem(&srv);
	s->is_loopback = true;
	(void)str_copy(s->user, "fuzz@example.test", sizeof(s->user));
	(void)str_copy(s->mail_root, "/nonexistent/buzon-fuzz/mail",
	    sizeof(s->mail_root));
	s->loc.root = s->mail_root;
	s->loc.format = MAILBOX_MAILDIR;
	s->state = IMAP_AUTH;
	run_session(&srv, s, data, size, piece);
	return 0;
}
