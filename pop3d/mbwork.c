/* SPDX-License-Identifier: MIT */
/*
 * mbwork.c - the mailbox work of a login and of QUIT, off the event loop
 *
 * Opening a maildrop syncs its index: for a big mailbox seen for the
 * first time that reads every file name of a Maildir or every byte of an
 * mbox, and the session lock or an mbox lock may have to wait.  QUIT's
 * UPDATE state unlinks messages or rewrites an mbox.  Neither may stall
 * the other sessions of the process, so both run on srv->mbpool while the
 * session waits suspended, and the answer goes out from done() on the
 * loop.  A session that goes away meanwhile (client gone, timeout,
 * shutdown) leaves its job orphaned: the maildrop a login opened is
 * closed unused; the updates a QUIT asked for are carried out all the
 * same, since the client asked for them before it left.
 *
 * Without a pool (memory sessions for fuzzing, unit tests, a pool that
 * could not start) the work is done in place.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "log.h"
#include "mailbox.h"
#include "mem.h"
#include "pop3d.h"
#include "str.h"
#include "workpool.h"

struct pop3_mbjob {
	struct session		*s;	/* NULL: the session is gone */
	bool			 quit;
	char			 id[SESS_ID_MAX];
	struct pop3_maildrop	 drop;
	int			 rc;
	/* a login */
	char			 path[PATH_MAX];
	struct mailbox_location	 loc;
	char			 address[ACCOUNTS_ADDR_MAX];
	bool			 apop;
	bool			 lock;
	char			 reply[256];
	/* QUIT */
	bool			 mark_seen;
	uint32_t		 ndeleted;
};

static void
job_work(void *arg)
{
	struct pop3_mbjob	*j = arg;

	if (j->quit)
		j->rc = maildrop_update(&j->drop, j->mark_seen, j->id);
	else
		j->rc = maildrop_open_at(&j->drop, &j->loc, j->address,
		    j->lock, j->id, j->reply, sizeof(j->reply));
}

static void
job_done(void *arg)
{
	struct pop3_mbjob	*j = arg;
	struct session		*s = j->s;

	if (s != NULL) {
		s->mbjob = NULL;
		if (j->quit)
			pop3_quit_done(s, j->rc, j->ndeleted);
		else {
			if (j->rc == 0)
				s->drop = j->drop;
			pop3_login_done(s, j->address, j->apop, j->rc,
			    j->reply);
			j->rc = -1;	/* the session owns the maildrop */
		}
		pop3_resume_after(s, 0);
	}
	if (j->quit || j->rc == 0)
		maildrop_close(&j->drop);
	mem_wipe(j, sizeof(*j));
	free(j);
}

int
pop3_mbwork_init(struct pop3d *srv, unsigned int threads)
{
	/* Every session may have one job at a time. */
	srv->mbpool = workpool_new(srv->loop, threads,
	    srv->conf.max_connections + 1);
	if (srv->mbpool == NULL) {
		log_warn("-", "mailbox workers unavailable: the mailbox work "
		    "of logins and QUIT runs on the event loop");
		return -1;
	}
	return 0;
}

void
pop3_mbwork_free(struct pop3d *srv)
{
	workpool_free(&srv->mbpool);
}

/* Submit j for s, or do it in place: the session is suspended until
 * done() when it went to the pool. */
static void
submit(struct session *s, struct pop3_mbjob *j)
{
	j->s = s;
	(void)str_copy(j->id, s->id, sizeof(j->id));
	if (s->srv->mbpool != NULL &&
	    workpool_submit(s->srv->mbpool, job_work, job_done, j) == 0) {
		s->mbjob = j;
		sess_suspend(&s->base);
		return;
	}
	job_work(j);
	j->s = NULL;	/* answered here, not by done() */
	if (j->quit) {
		pop3_quit_done(s, j->rc, j->ndeleted);
		maildrop_close(&j->drop);
	} else {
		if (j->rc == 0)
			s->drop = j->drop;
		pop3_login_done(s, j->address, j->apop, j->rc, j->reply);
	}
	mem_wipe(j, sizeof(*j));
	free(j);
}

bool
pop3_mbwork_login(struct session *s, const struct accounts_user *u,
    bool apop)
{
	struct pop3_mbjob	*j;

	j = xcalloc(1, sizeof(*j));
	if (maildrop_location(s->srv->accounts, u, &j->loc, j->path,
	    sizeof(j->path)) == -1) {
		log_error(s->id, "maildrop path too long user=%s",
		    u->address);
		free(j);
		pop3_login_done(s, u->address, apop, -1,
		    "-ERR [SYS/PERM] Mailbox path too long.");
		return false;
	}
	(void)str_copy(j->address, u->address, sizeof(j->address));
	j->apop = apop;
	j->lock = s->srv->conf.lock_session;
	submit(s, j);
	return s->mbjob != NULL;
}

bool
pop3_mbwork_quit(struct session *s)
{
	struct pop3_mbjob	*j;

	j = xcalloc(1, sizeof(*j));
	j->quit = true;
	j->mark_seen = s->srv->conf.mark_seen;
	j->ndeleted = s->drop.ndeleted;
	j->drop = s->drop;	/* the job owns the maildrop from here */
	memset(&s->drop, 0, sizeof(s->drop));
	submit(s, j);
	return s->mbjob != NULL;
}

void
pop3_mbwork_forget(struct session *s)
{
	if (s->mbjob != NULL) {
		s->mbjob->s = NULL;
		s->mbjob = NULL;
	}
}
