/* SPDX-License-Identifier: MIT */
/*
 * cmd_mail.c - the TRANSACTION state (RFC 1939 section 5: STAT, LIST,
 * RETR, DELE, NOOP, RSET; section 7: TOP, UIDL) and QUIT with the UPDATE
 * state (section 6)
 *
 * Sizes are wire sizes from the index: exactly the bytes RETR sends
 * before byte stuffing and the terminating line, as every POP3 server
 * counts them.  Deletions are only marks until QUIT.
 */
#include <inttypes.h>
#include <string.h>

#include "log.h"
#include "mailbox.h"
#include "pop3d.h"
#include "str.h"

/* Message n of arg, or NULL after answering why not.  One argument with
 * want_args 1; with 2 the second is left in *second_r. */
static struct pop3_msg *
get_msg(struct session *s, char *arg, int want_args, char **second_r,
    uint32_t *n_r)
{
	struct pop3_maildrop	*d = &s->drop;
	char			*argv[3], safe[48];
	uint32_t		 n;
	int			 argc;

	argc = pop3_args(arg, argv, want_args);
	if (argc != want_args) {
		pop3_error(s, "-ERR %s.", want_args == 1 ?
		    "Expected one argument: a message number" :
		    "Expected two arguments: a message number and a line "
		    "count");
		return NULL;
	}
	if (pop3_msgnum(argv[0], &n) == -1) {
		(void)str_sanitize(safe, sizeof(safe), argv[0],
		    strlen(argv[0]));
		pop3_error(s, "-ERR Invalid message number: %s", safe);
		return NULL;
	}
	if (n > d->count) {
		pop3_reply(s, "-ERR There's no message %" PRIu32 ".", n);
		return NULL;
	}
	if (d->msgs[n - 1].deleted) {
		pop3_reply(s, "-ERR Message is deleted.");
		return NULL;
	}
	if (second_r != NULL)
		*second_r = argv[1];
	*n_r = n;
	return &d->msgs[n - 1];
}

void
cmd_stat(struct session *s, char *arg)
{
	(void)arg;
	pop3_reply(s, "+OK %" PRIu32 " %" PRIu64,
	    s->drop.count - s->drop.ndeleted, s->drop.size);
}

/* LIST and UIDL: one message, or all that are not deleted. */
static void
list_or_uidl(struct session *s, char *arg, bool uidl)
{
	struct pop3_maildrop	*d = &s->drop;
	struct pop3_msg		*m;
	char			 u[24];
	uint32_t		 n;

	if (arg[0] != '\0') {
		if ((m = get_msg(s, arg, 1, NULL, &n)) == NULL)
			return;
		if (uidl) {
			pop3_uidl(m->uid, d->uidvalidity, u, sizeof(u));
			pop3_reply(s, "+OK %" PRIu32 " %s", n, u);
		} else
			pop3_reply(s, "+OK %" PRIu32 " %" PRIu64, n, m->size);
		return;
	}
	if (uidl)
		pop3_reply(s, "+OK");
	else
		pop3_reply(s, "+OK %" PRIu32 " messages:",
		    d->count - d->ndeleted);
	s->listing.d = d;
	s->listing.next = 1;
	s->listing.uidl = uidl;
	s->listing.id = s->id;
	pop3_xfer_init(&s->xfer, maildrop_list_read, &s->listing, false, 0);
	pop3_start_xfer(s);
}

void
cmd_list(struct session *s, char *arg)
{
	list_or_uidl(s, arg, false);
}

void
cmd_uidl(struct session *s, char *arg)
{
	list_or_uidl(s, arg, true);
}

/* RETR and TOP: answer, then let session.c send the message. */
static void
send_msg(struct session *s, struct pop3_msg *m, uint32_t n, bool is_top,
    uint64_t lines)
{
	struct mailbox_stream	*ms;
	uint64_t		 len;
	off_t			 off;
	int			 fd;

	if ((ms = maildrop_stream(&s->drop, n)) == NULL) {
		log_warn(s->id, "message gone uid=%" PRIu32, m->uid);
		pop3_reply(s, "-ERR [SYS/TEMP] Message is no longer in the "
		    "mailbox.");
		return;
	}
	if (is_top)
		pop3_reply(s, "+OK");
	else {
		pop3_reply(s, "+OK %" PRIu64 " octets", m->size);
		m->retrieved = true;
		s->nretr++;
	}
	s->mstream = ms;
	/* Zero copy where nothing needs changing on the way (not in TLS). */
	if (!is_top && !s->is_tls &&
	    maildrop_raw(&s->drop, ms, &fd, &off, &len)) {
		pop3_start_sendfile(s, fd, off, len);
		return;
	}
	pop3_xfer_init(&s->xfer, maildrop_read, ms, is_top, lines);
	pop3_start_xfer(s);
}

void
cmd_retr(struct session *s, char *arg)
{
	struct pop3_msg	*m;
	uint32_t	 n;

	if ((m = get_msg(s, arg, 1, NULL, &n)) != NULL)
		send_msg(s, m, n, false, 0);
}

void
cmd_top(struct session *s, char *arg)
{
	struct pop3_msg	*m;
	char		*count, safe[48];
	uint64_t	 lines;
	uint32_t	 n;

	if ((m = get_msg(s, arg, 2, &count, &n)) == NULL)
		return;
	if (strnum_u64(count, 0, UINT64_MAX, &lines) == -1) {
		(void)str_sanitize(safe, sizeof(safe), count, strlen(count));
		pop3_error(s, "-ERR Invalid line count: %s", safe);
		return;
	}
	send_msg(s, m, n, true, lines);
}

void
cmd_dele(struct session *s, char *arg)
{
	struct pop3_msg	*m;
	uint32_t	 n;

	if ((m = get_msg(s, arg, 1, NULL, &n)) == NULL)
		return;
	m->deleted = true;
	s->drop.ndeleted++;
	s->drop.size -= m->size;
	pop3_reply(s, "+OK Marked to be deleted.");
}

void
cmd_rset(struct session *s, char *arg)
{
	struct pop3_maildrop	*d = &s->drop;
	uint32_t		 i;

	(void)arg;
	for (i = 0; i < d->count; i++)
		if (d->msgs[i].deleted) {
			d->msgs[i].deleted = false;
			d->size += d->msgs[i].size;
		}
	d->ndeleted = 0;
	pop3_reply(s, "+OK");
}

void
cmd_quit(struct session *s, char *arg)
{
	(void)arg;
	if (s->state == POP3_AUTHORIZATION) {
		pop3_reply(s, "+OK Logging out.");
		pop3_set_state(s, POP3_CLOSING);
		return;
	}
	pop3_set_state(s, POP3_UPDATE);
	/* The UPDATE state, off the loop (mbwork.c): pop3_quit_done(). */
	(void)pop3_mbwork_quit(s);
}

void
pop3_quit_done(struct session *s, int rc, uint32_t ndeleted)
{
	if (rc == -1)
		pop3_reply(s, "-ERR [SYS/TEMP] Some deleted messages were not "
		    "removed.");
	else if (ndeleted > 0)
		pop3_reply(s, "+OK Logging out, messages deleted.");
	else
		pop3_reply(s, "+OK Logging out.");
	log_info(s->id, "logout user=%s retr=%u dele=%" PRIu32 " bytes=%"
	    PRIu64, s->login, s->nretr, ndeleted, s->bytes_out);
	pop3_set_state(s, POP3_CLOSING);
}
