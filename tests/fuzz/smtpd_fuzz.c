/* SPDX-License-Identifier: MIT */
/*
 * smtpd_fuzz.c - libFuzzer target: SMTP command dispatch, DATA and BDAT
 *
 * The input is what a client sends.  It is cut into lines as session.c
 * cuts them (LF ends a line, a CR before it belongs to the ending) and fed
 * to the same handlers: commands to smtp_dispatch() (or the AUTH
 * continuation), DATA bytes to smtp_data_bytes() in pieces of a few
 * bytes, BDAT chunks as raw bytes.  A real spool in a temp dir takes the content; a finished
 * message is rolled back instead of committed (no fsync per input).
 * There are no accounts maps, so every recipient is remote and AUTH
 * always fails; relay is allowed from the client's network so that
 * transactions reach DATA.
 */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enqueue.h"
#include "event.h"
#include "log.h"
#include "smtpd.h"
#include "str.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct smtpd	 srv;
static char		 tmpdir[] = "/tmp/smtpd-fuzz-XXXXXX";
static char		 net[] = "192.0.2.0/24";
static char		*nets[] = { net };

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	(void)remove(path);
	return 0;
}

static void
cleanup(void)
{
	enqueue_close(&srv.spool);
	(void)nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
init_once(void)
{
	static bool	 done;
	struct fail	 f;

	if (done)
		return;
	done = true;
	log_init("smtpd_fuzz", false, LOG_LEVEL_ERROR);
	if (mkdtemp(tmpdir) == NULL)
		fatal("mkdtemp");
	(void)atexit(cleanup);
	srv.loop = event_loop_new();
	srv.conf.hostname = "fuzz.example";
	srv.conf.max_message = 1 << 20;
	srv.conf.max_recipients = 20;
	srv.conf.max_errors = 50;
	srv.conf.max_commands_preauth = 50;
	srv.conf.mynetworks = nets;
	srv.conf.nmynetworks = 1;
	srv.conf.timeout = srv.conf.data_timeout = 1000;
	srv.conf.data.max_size = 1 << 20;
	srv.conf.max_line = 2048;
	srv.conf.data.max_headers = 100;
	srv.conf.data.max_header_size = 16384;
	srv.conf.data.max_received = 10;
	if (enqueue_open(tmpdir, &srv.spool, &f) == -1)
		fatalx("enqueue_open: %s", f.text);
}

/* A finished message waits in the batch: drop it, as a failed commit
 * would, and let the session go on. */
static void
settle(struct session *s)
{
	if (!s->suspended)
		return;
	smtp_batch_forget(s);
	s->suspended = false;
	smtp_tx_reset(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct session	 s;
	const char	*p = (const char *)data, *end = p + size, *lf;
	char		 line[SMTP_AUTH_LINE_MAX + 1];
	size_t		 len, n;
	bool		 bare;

	init_once();
	memset(&s, 0, sizeof(s));
	s.srv = &srv;
	s.state = SMTP_GREETED;
	s.listener = size > 0 && data[0] == 'S' ? SMTP_LISTEN_SUBMISSION :
	    SMTP_LISTEN_SMTP;
	(void)str_copy(s.id, "fuzz", sizeof(s.id));
	(void)str_copy(s.ip, "192.0.2.1", sizeof(s.ip));
	(void)net_addr_parse(s.ip, &s.peer);
	s.in_mynetworks = true;
	s.is_tls = size > 1 && data[1] == 'T';
	str_init(&s.out, 0);

	while (p < end && s.state != SMTP_CLOSING) {
		if (s.tx.bdat_chunk) {
			n = (size_t)(end - p);
			if (n > s.tx.bdat_left)
				n = (size_t)s.tx.bdat_left;
			smtp_bdat_bytes(&s, p, n);
			s.tx.bdat_left -= n;
			p += n;
			if (s.tx.bdat_left == 0)
				smtp_bdat_end(&s);
			settle(&s);
			str_clear(&s.out);
			continue;
		}
		if (s.state == SMTP_DATA) {
			/* pieces of 1..16 bytes, as reads may give them */
			n = (size_t)(end - p);
			if (n > 1 + ((size_t)(unsigned char)*p & 15))
				n = 1 + ((size_t)(unsigned char)*p & 15);
			p += smtp_data_bytes(&s, p, n);
			settle(&s);
			str_clear(&s.out);
			continue;
		}
		if ((lf = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;		/* no full line: the session waits */
		len = (size_t)(lf - p);
		bare = !(len > 0 && p[len - 1] == '\r');
		if (!bare)
			len--;
		if (len > sizeof(line) - 1) {
			/* session.c skips it and answers "line too long" */
			p = lf + 1;
			continue;
		}
		memcpy(line, p, len);
		line[len] = '\0';
		p = lf + 1;
		if (s.cont != NULL)
			s.cont(&s, line, len);
		else
			smtp_dispatch(&s, line, len);
		settle(&s);
		str_clear(&s.out);
	}
	s.state = SMTP_CLOSING;
	smtp_tx_reset(&s);
	smtp_auth_release(&s);
	str_release(&s.out);
	return 0;
}
