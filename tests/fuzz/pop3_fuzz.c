/* SPDX-License-Identifier: MIT */
/*
 * pop3_fuzz.c - arbitrary client lines into the POP3 command dispatch,
 * and arbitrary message bytes through the RETR/TOP transfer
 *
 * The first byte picks the mode.  Commands: the rest is split at LF and
 * each line dispatched on a socketless session (no maildrop, logins
 * against empty maps), first in the AUTHORIZATION state, then again in
 * TRANSACTION with an empty maildrop.  Transfer: the rest is a message;
 * its response, unstuffed, must give back the message with CRLF line
 * ends, and must end with exactly one terminating line.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "log.h"
#include "mailbox.h"
#include "mem.h"
#include "pop3d.h"
#include "str.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct accounts	*accounts;

/* What session.c does with a transfer a command started (LIST, UIDL). */
static void
drain(struct session *s)
{
	char	 buf[128];
	size_t	 len;
	int	 r;

	BUZ_ASSERT(!s->zc);
	while ((r = pop3_xfer_produce(&s->xfer, buf, sizeof(buf), &len)) == 0)
		continue;
	if (r != 1)
		abort();
	pop3_xfer_release(&s->xfer);
	mailbox_stream_close(&s->mstream);
	s->xfer_active = false;
}

static void
run_lines(struct session *s, const char *data, size_t size)
{
	char	*buf, *line, *nl, *end;

	buf = xmemdup(data, size);
	end = buf + size;
	for (line = buf; line < end && s->state != POP3_CLOSING;
	    line = nl + 1) {
		if ((nl = memchr(line, '\n', (size_t)(end - line))) == NULL)
			nl = end;
		*nl = '\0';
		str_clear(&s->out);
		if (s->cont != NULL)
			s->cont(s, line, strlen(line));
		else
			pop3_dispatch(s, line, strlen(line));
		if (s->xfer_active)
			drain(s);
	}
	free(buf);
}

static void
fuzz_commands(const char *data, size_t size)
{
	struct pop3d		 srv;
	struct session		 s;
	char			 err[256];

	if (accounts == NULL) {
		static const struct accounts_conf ac = {
			"/nonexistent/buzon-fuzz", "hash", "+", false
		};

		log_set_level(LOG_LEVEL_ERROR);
		accounts = accounts_open(&ac, err, sizeof(err));
		if (accounts == NULL)
			abort();
	}
	memset(&srv, 0, sizeof(srv));
	srv.conf.hostname = "fuzz.example";
	srv.conf.max_errors = 1000;
	srv.conf.max_line = 255;
	srv.conf.plaintext_loopback = true;
	srv.conf.apop_enable = true;
	srv.accounts = accounts;
	memset(&s, 0, sizeof(s));
	s.srv = &srv;
	s.max_line = srv.conf.max_line;
	s.is_loopback = true;
	(void)str_copy(s.id, "fuzz", sizeof(s.id));
	(void)str_copy(s.ip, "127.0.0.1", sizeof(s.ip));
	str_init(&s.out, 0);
	pop3_greet(&s);
	run_lines(&s, data, size);
	pop3_auth_release(&s);

	/* TRANSACTION with an empty maildrop: no command reaches storage. */
	memset(&s.drop, 0, sizeof(s.drop));
	s.drop.msgs = xcalloc(1, sizeof(*s.drop.msgs));
	s.state = POP3_TRANSACTION;
	s.errors = 0;
	run_lines(&s, data, size);
	pop3_auth_release(&s);
	maildrop_close(&s.drop);	/* frees msgs */
	str_release(&s.out);
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
