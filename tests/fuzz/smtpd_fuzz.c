/* SPDX-License-Identifier: MIT */
/*
 * smtpd_fuzz.c - libFuzzer target: SMTP command dispatch, DATA and BDAT
 *
 * The input is what a client sends, after three bytes of setup (listener,
 * TLS or not, the size of each read).  It goes through a memory session
 * (common/session.h sess_feed()): the same line splitting, over-long line
 * skipping, DATA and BDAT raw input and state machine as on a socket.  A
 * real spool in a temp dir takes the content; a finished message is
 * rolled back instead of committed (no fsync per input).
 * There are no accounts maps, so every recipient is remote and AUTH
 * always fails; relay is allowed from the client's network so that
 * transactions reach DATA.
 */
#include <ftw.h>
#include <stdint.h>
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enqueue.h"
#include "event.h"
#include "log.h"
#include "smtpd.h"
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

/* A session waiting for work elsewhere (a commit in the batch, an AUTH
 * check or delay): settle it as a failed commit would, and go on.  -1
 * when the session is gone. */
static int
settle(struct session **sp)
{
	struct session	*s = *sp;
	unsigned long	 freed = srv.sv.nfreed;

	while (s->base.suspended) {
		smtp_batch_forget(s);
		smtp_tx_reset(s);
		sess_resume(&s->base);
		if (srv.sv.nfreed != freed) {
			*sp = NULL;
			return -1;
		}
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct session	*s;
	struct sess	*b;
	size_t		 off, n, piece;

	init_once();
	if (size < 3)
		return 0;
	s = smtp_session_mem(&srv, data[0] == 'S' ? SMTP_LISTEN_SUBMISSION :
	    SMTP_LISTEN_SMTP);
	s->in_mynetworks = true;
	s->is_tls = data[1] == 'T';
	/* Reads of 1..2041 bytes, or all at once: lines and content split
	 * wherever a network could split them. */
	piece = data[2] == 0 ? size : 1 + ((size_t)data[2] - 1) * 8;
	smtp_session_start(s);
	b = &s->base;
	for (off = 3; off < size && b != NULL; off += n) {
		n = size - off < piece ? size - off : piece;
		if (sess_feed(&b, data + off, n, off + n == size) == -1)
			break;
		s = SESS_OF(struct session, b);
		if (settle(&s) == -1)
			b = NULL;
	}
	sess_free(&b, "fuzz over");
	return 0;
}
