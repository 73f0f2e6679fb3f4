/* SPDX-License-Identifier: MIT */
/*
 * pop3_fuzz.c - arbitrary client lines into the POP3 command dispatch,
 * and arbitrary message bytes through the RETR/TOP transfer
 *
 * The first byte picks the mode.  Commands: the next byte is the size of
 * each read, the rest goes through a memory session (common/session.h
 * sess_feed(): the same line splitting, long-line skipping and state
 * machine as on a socket; no maildrop, logins against empty maps), first
 * in the AUTHORIZATION state, then again in TRANSACTION with an empty
 * maildrop.  Transfer: the rest is a message;
 * its response, unstuffed, must give back the message with CRLF line
 * ends, and must end with exactly one terminating line.
 */
#include <stddef.h>
#include <stdint.h>
#include <crypt.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "log.h"
#include "mailbox.h"
#include "mem.h"
#include "pop3d.h"
#include "str.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The protocol is fuzzed here, not the password hash: a yescrypt check
 * (milliseconds, megabytes) per PASS or AUTH would cap this target at a
 * few hundred inputs a second.  Every check fails, as with the empty
 * maps. */
char *
crypt_r(const char *phrase, const char *setting, struct crypt_data *cd)
{
	(void)phrase;
	(void)setting;
	(void)cd;
	return (char *)(uintptr_t)"*0";
}

static struct accounts	*accounts;

/* A login delay or check: answer it at once.  -1 when the session is
 * gone. */
static int
settle(struct pop3d *srv, struct session **sp)
{
	struct session	*s = *sp;
	unsigned long	 freed = srv->sv.nfreed;

	while (s->base.suspended) {
		pop3_login_resume(s);
		sess_resume(&s->base);
		if (srv->sv.nfreed != freed) {
			*sp = NULL;
			return -1;
		}
	}
	return 0;
}

/* The bytes through a memory session, in reads of piece bytes. */
static void
run_session(struct pop3d *srv, struct session *s, const char *data,
    size_t size, size_t piece)
{
	struct sess	*b = &s->base;
	size_t		 off, n;

	pop3_session_start(s);
	for (off = 0; off < size && b != NULL; off += n) {
		n = size - off < piece ? size - off : piece;
		if (sess_feed(&b, data + off, n, off + n == size) == -1)
			break;
		s = SESS_OF(struct session, b);
		if (settle(srv, &s) == -1)
			b = NULL;
	}
	sess_free(&b, "fuzz over");
}

static void
fuzz_commands(const char *data, size_t size)
{
	struct pop3d		 srv;
	struct session		*s;
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
		return;
	piece = (unsigned char)data[0] == 0 ? size :
	    1 + ((size_t)(unsigned char)data[0] - 1) * 8;
	data++;
	size--;
	memset(&srv, 0, sizeof(srv));
	srv.conf.hostname = "fuzz.example";
	srv.conf.max_errors = 1000;
	srv.conf.max_line = 255;
	srv.conf.timeout = srv.conf.send_timeout = 1000;
	srv.conf.command_timeout = 1000;
	srv.conf.max_connections = srv.conf.max_connections_per_ip = 10;
	srv.conf.plaintext_loopback = true;
	srv.conf.apop_enable = true;
	srv.accounts = accounts;

	s = pop3_session_mem(&srv);
	s->is_loopback = true;
	run_session(&srv, s, data, size, piece);

	/* TRANSACTION with an empty maildrop: no command reaches storage. */
	s = pop3_session_mem(&srv);
	s->is_loopback = true;
	s->drop.msgs = xcalloc(1, sizeof(*s->drop.msgs));
	s->state = POP3_TRANSACTION;
	run_session(&srv, s, data, size, piece);
}

struct src {
	const char	*p;
	size_t		 left, chunk;
};

static ssize_t
src_read(void *ctx, void *buf, size_t len)
{
	struct src	*s = ctx;
	size_t		 n = s->left < len ? s->left : len;

	if (n > s->chunk)
		n = s->chunk;
	memcpy(buf, s->p, n);
	s->p += n;
	s->left -= n;
	return (ssize_t)n;
}

/* out, unstuffed and without its terminator, must be want. */
static void
unstuff_check(const struct str *out, const struct str *want)
{
	struct str	 plain;
	size_t		 j, end;
	bool		 bol = true;

	if (out->len < 3 || memcmp(out->data + out->len - 3, ".\r\n", 3) != 0)
		abort();
	end = out->len - 3;
	str_init(&plain, 0);
	for (j = 0; j < end; j++) {
		if (bol && out->data[j] == '.') {
			if (j + 1 >= end || out->data[j + 1] != '.')
				abort();	/* a dot line not stuffed */
			j++;
		}
		(void)str_append_c(&plain, out->data[j]);
		bol = out->data[j] == '\n';
	}
	if (!bol && plain.len > 0)
		abort();	/* the last line not ended */
	if (plain.len != want->len || (plain.len > 0 &&
	    memcmp(plain.data, want->data, plain.len) != 0))
		abort();
	str_release(&plain);
}

static void
fuzz_xfer(const char *data, size_t size)
{
	struct pop3_xfer	 x;
	struct src		 src = { data, size, 1 + size % 97 };
	struct str		 out, want;
	char			 buf[64];
	size_t			 len, i;
	int			 r;

	str_init(&out, 0);
	pop3_xfer_init(&x, src_read, &src, false, 0);
	do {
		r = pop3_xfer_produce(&x, buf, 8 + size % 50, &len);
		if (str_append(&out, buf, len) == -1)
			abort();
	} while (r == 0);
	if (r != 1)
		abort();
	pop3_xfer_release(&x);

	/* What the client must see: CRLF lines, then ".\r\n". */
	str_init(&want, 0);
	for (i = 0; i < size; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			(void)str_append_c(&want, '\r');
		(void)str_append_c(&want, data[i]);
	}
	if (want.len > 0 && want.data[want.len - 1] != '\n')
		(void)str_append(&want, "\r\n", 2);
	unstuff_check(&out, &want);
	str_release(&want);
	str_release(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		fuzz_xfer((const char *)data + 1, size - 1);
	else
		fuzz_commands((const char *)data + 1, size - 1);
	return 0;
}
