/* SPDX-License-Identifier: MIT */
/*
 * settle.c - settling each entry of a round: status records, DSNs, removal
 *
 * Order of durable steps for one entry (docs/queue.md): copies durable
 * (the workers' batch commits) -> DSNs committed -> either the queue file
 * unlinked (every recipient final) or the status records synced.
 */

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mem.h"
#include "queued.h"
#include "runner.h"
#include "str.h"


/* ---- settling one entry ---- */

struct settle {
	struct spool_status_rec	*recs;
	size_t			 nrecs;
	size_t			 cap;
};

static void
settle_rec(struct settle *s, size_t ri, enum spool_rcpt_state state,
    uint64_t now, uint64_t until, const char *code, const char *text)
{
	struct spool_status_rec	*rec;

	if (s->nrecs == s->cap) {
		s->cap = s->cap == 0 ? 8 : s->cap * 2;
		s->recs = xreallocarray(s->recs, s->cap, sizeof(*s->recs));
	}
	rec = &s->recs[s->nrecs++];
	memset(rec, 0, sizeof(*rec));
	rec->rcpt = (uint32_t)ri;
	rec->state = state;
	rec->time = now;
	rec->until = until;
	(void)str_copy(rec->code, code, sizeof(rec->code));
	(void)str_copy(rec->text, text, sizeof(rec->text));
}

/* The new state of an attempted recipient, into st and a record. */
static void
settle_outcome(struct queue_runner *r, struct queue_msg *m, size_t ri,
    const struct rcpt_work *w, uint64_t now, struct settle *s)
{
	struct spool_rcpt_status *st = &m->st[ri];
	char			 text[SPOOL_STATUS_MAX_TEXT + 1];
	char			 child[SPOOL_ID_LEN + 1];
	struct fail		 f;

	switch (w->out) {
	case QUEUE_OK:
		st->state = SPOOL_RCPT_DELIVERED;
		st->until = 0;
		(void)str_copy(st->code, "2.0.0", sizeof(st->code));
		(void)str_printf(st->text, sizeof(st->text),
		    w->ntargets > 1 ? "delivered to %zu mailboxes" :
		    "delivered", w->ntargets);
		break;
	case QUEUE_PERM:
		st->state = SPOOL_RCPT_BOUNCED;
		st->until = 0;
		(void)str_copy(st->code, w->fail.code, sizeof(st->code));
		if (w->ndelivered > 0)
			(void)str_printf(st->text, sizeof(st->text),
			    "%s (delivered to %zu of %zu)", w->fail.text,
			    w->ndelivered, w->ntargets);
		else
			(void)str_copy(st->text, w->fail.text,
			    sizeof(st->text));
		break;
	case QUEUE_TEMP:
		/* Some copies of an expansion are stored: the others go on
		 * in an entry of their own, so a retry does not repeat the
		 * stored ones. */
		if (w->ndelivered > 0 && w->nfailed > 0 &&
		    queue_msg_split(r->enq, m, ri, (const char *const *)
		    w->failed, w->nfailed, child, &f) == 0) {
			log_info(m->id, "to=<%s> continues in %s for %zu of "
			    "%zu targets", m->env.rcpts[ri].addr, child,
			    w->nfailed, w->ntargets);
			st->state = SPOOL_RCPT_DELIVERED;
			st->until = 0;
			(void)str_copy(st->code, "2.0.0", sizeof(st->code));
			(void)str_printf(st->text, sizeof(st->text),
			    "delivered to %zu of %zu, the rest in %s",
			    w->ndelivered, w->ntargets, child);
			break;
		}
		if (queue_is_expired(&r->conf, m->env.arrival_sec, now)) {
			st->state = SPOOL_RCPT_EXPIRED;
			st->until = 0;
			(void)str_printf(text, sizeof(text),
			    "delivery time expired (last error: %s %s)",
			    w->fail.code, w->fail.text);
			(void)str_copy(st->code, "5.4.7", sizeof(st->code));
			(void)str_copy(st->text, text, sizeof(st->text));
			runner_log_attempt(m, ri, m->env.rcpts[ri].addr, "none",
			    "5.4.7", "expired", st->text);
			break;
		}
		st->attempts++;
		st->state = SPOOL_RCPT_DEFERRED;
		st->until = now + queue_retry_delay(&r->conf, st->attempts);
		(void)str_copy(st->code, w->fail.code, sizeof(st->code));
		(void)str_copy(st->text, w->fail.text, sizeof(st->text));
		break;
	}
	st->time = now;
	settle_rec(s, ri, st->state, now, st->until, st->code, st->text);
}

/* Send the DSNs entry m owes now.  Returns false when one could not be
 * queued (the entry must stay and try again). */
static bool
settle_dsns(struct queue_runner *r, struct queue_msg *m, uint64_t now,
    struct settle *s)
{
	struct queue_dsn_item	*items;
	enum queue_dsn_kind	 kind, want;
	struct spool_rcpt_status *st;
	bool			 null = m->env.sender[0] == '\0', ok = true;
	char			 dsn_id[SPOOL_ID_LEN + 1];
	struct fail		 f;
	size_t			 ri, n;
	const char		*to;

	items = xcalloc(m->env.nrcpts, sizeof(*items));
	for (want = QUEUE_DSN_SENDER; want <= QUEUE_DSN_POSTMASTER; want++) {
		n = 0;
		for (ri = 0; ri < m->env.nrcpts; ri++) {
			st = &m->st[ri];
			if (spool_rcpt_state_final(st->state)) {
				if (st->notified)
					continue;
				kind = queue_dsn_owed(st->state,
				    m->env.rcpts[ri].notify, null);
			} else if (st->state == SPOOL_RCPT_DEFERRED &&
			    !st->warned && queue_wants_delay_dsn(&r->conf,
			    m->env.rcpts[ri].notify, null,
			    m->env.arrival_sec, now))
				kind = QUEUE_DSN_SENDER;
			else
				kind = QUEUE_DSN_NONE;
			if (kind != want)
				continue;
			items[n].rcpt = ri;
			items[n].state = st->state;
			items[n].final = m->env.rcpts[ri].addr;
			items[n].code = st->code;
			items[n].text = st->text;
			n++;
		}
		if (n == 0)
			continue;
		to = want == QUEUE_DSN_SENDER ? m->env.sender : r->postmaster;
		if (queue_bounce_send(r->enq, &r->conf, m, items, n, to, now,
		    dsn_id, &f) == -1) {
			log_warn(m->id, "cannot queue DSN to=<%s> error=\"%s "
			    "%s\"", to, f.code, f.text);
			ok = false;
			continue;
		}
		log_info(m->id, "%s notification: %s",
		    want == QUEUE_DSN_SENDER ? "sender delivery status" :
		    "double-bounce", dsn_id);
		for (ri = 0; ri < n; ri++) {
			st = &m->st[items[ri].rcpt];
			if (spool_rcpt_state_final(st->state)) {
				st->notified = true;
				settle_rec(s, items[ri].rcpt,
				    SPOOL_RCPT_NOTIFIED, now, 0, "", dsn_id);
			} else {
				st->warned = true;
				settle_rec(s, items[ri].rcpt,
				    SPOOL_RCPT_WARNED, now, 0, "", dsn_id);
			}
		}
	}
	free(items);
	return ok;
}

static bool
entry_done(const struct queue_msg *m)
{
	bool	 null = m->env.sender[0] == '\0';
	size_t	 ri;

	for (ri = 0; ri < m->env.nrcpts; ri++) {
		if (!spool_rcpt_state_final(m->st[ri].state))
			return false;
		if (!m->st[ri].notified && queue_dsn_owed(m->st[ri].state,
		    m->env.rcpts[ri].notify, null) != QUEUE_DSN_NONE)
			return false;
	}
	return true;
}

/* Append s's records to the entry's status log, durably. */
static int
settle_write(struct queue_runner *r, struct queue_msg *m,
    const struct settle *s)
{
	struct spool_status_log	*log = NULL;
	struct spool_rcpt_status *scratch;
	char			 why[256];
	struct fail		 f;
	size_t			 k;
	int			 rc = 0;

	if (s->nrecs == 0)
		return 0;
	scratch = xcalloc(m->env.nrcpts, sizeof(*scratch));
	if (spool_status_open(r->dirs.status_fd, m->id, scratch,
	    m->env.nrcpts, &log, why, sizeof(why)) != 0) {
		log_error(m->id, "cannot open status log error=\"%s\"", why);
		free(scratch);
		return -1;
	}
	for (k = 0; k < s->nrecs && rc == 0; k++)
		rc = spool_status_append(log, &s->recs[k], false, &f);
	if (rc == 0)
		rc = spool_status_sync(log, &f);
	if (rc != 0)
		log_error(m->id, "cannot write status log error=\"%s\"",
		    f.text);
	spool_status_close(&log);
	free(scratch);
	return rc;
}

void
round_settle(struct queue_runner *r, struct round_msg *rm, uint64_t now)
{
	struct queue_msg	*m = &rm->m;
	struct settle		 s;
	uint64_t		 due = UINT64_MAX;
	bool			 dsn_ok;
	size_t			 ri;

	memset(&s, 0, sizeof(s));
	for (ri = 0; ri < m->env.nrcpts; ri++)
		if (rm->rw[ri].attempted)
			settle_outcome(r, m, ri, &rm->rw[ri], now, &s);
	dsn_ok = settle_dsns(r, m, now, &s);
	if (entry_done(m)) {
		if (queue_msg_remove(&r->dirs, m) == 0) {
			/* Unlinked, still open: the closer frees it. */
			closer_push(&r->closer, m->fd);
			m->fd = -1;
			log_info(m->id, "removed");
			free(s.recs);
			return;
		}
		due = now + IO_RETRY;
	}
	if (settle_write(r, m, &s) == -1)
		due = now + IO_RETRY;
	for (ri = 0; ri < m->env.nrcpts; ri++)
		if (m->st[ri].state == SPOOL_RCPT_DEFERRED &&
		    m->st[ri].until < due)
			due = m->st[ri].until;
		else if (m->st[ri].state == SPOOL_RCPT_PENDING)
			due = now;
	if (!dsn_ok && now + r->conf.retry_min < due)
		due = now + r->conf.retry_min;
	if (due == UINT64_MAX)		/* final, DSN still owed */
		due = now + r->conf.retry_min;
	queue_sched_add(r->sched, m->id, due, false);
	free(s.recs);
}
