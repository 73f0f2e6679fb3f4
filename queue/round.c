/* SPDX-License-Identifier: MIT */
/*
 * round.c - one round of the queue runner: collect, plan, deliver
 *
 * Collect up to ROUND_MAX due entries, load and lock each; plan one job
 * per mailbox and recipient (resolving in this thread: the maps are not
 * shared between threads, and a mailbox named twice gets one copy); hand
 * every job to the workers at once and fold the results back.
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deliver_accounts.h"
#include "log.h"
#include "mem.h"
#include "queued.h"
#include "runner.h"
#include "str.h"


#define ROUND_MAX	64	/* entries per round */
#define BUSY_RETRY	1	/* s: an admin verb holds the entry */

/* ---- one round ---- */

static double
delay_since(const struct spool_env *env)
{
	struct timespec	 ts;
	double		 d;

	clock_gettime(CLOCK_REALTIME, &ts);
	d = (double)ts.tv_sec - (double)env->arrival_sec +
	    ((double)ts.tv_nsec / 1e9 - (double)env->arrival_usec / 1e6);
	return d < 0 ? 0 : d;
}

/* One Postfix-style line per attempt and target. */
void
runner_log_attempt(const struct queue_msg *m, size_t i, const char *to,
    const char *relay, const char *code, const char *status,
    const char *text)
{
	const struct spool_rcpt	*rc = &m->env.rcpts[i];
	const char		*orig;
	char			 to_s[ACCOUNTS_ADDR_MAX * 2];
	char			 orig_s[SPOOL_MAX_FIELD + 1];
	char			 text_s[SPOOL_STATUS_MAX_TEXT + 1];

	orig = rc->original[0] != '\0' ? rc->original : rc->addr;
	(void)str_sanitize(to_s, sizeof(to_s), to, strlen(to));
	(void)str_sanitize(text_s, sizeof(text_s), text, strlen(text));
	if (strcmp(orig, to) == 0)
		log_info(m->id, "to=<%s>, relay=%s, delay=%.2f, dsn=%s, "
		    "status=%s (%s)", to_s, relay, delay_since(&m->env), code,
		    status, text_s);
	else {
		(void)str_sanitize(orig_s, sizeof(orig_s), orig,
		    strlen(orig));
		log_info(m->id, "to=<%s>, orig_to=<%s>, relay=%s, delay=%.2f, "
		    "dsn=%s, status=%s (%s)", to_s, orig_s, relay,
		    delay_since(&m->env), code, status, text_s);
	}
}

static const char *
outcome_status(const struct fail *f)
{
	return f->temp ? "deferred" : "bounced";
}

/* Target (NULL: the recipient as a whole) failed with f. */
static void
rcpt_fail(struct rcpt_work *w, const char *target, const struct fail *f)
{
	enum queue_outcome	 o = f->temp ? QUEUE_TEMP : QUEUE_PERM;

	if (target != NULL) {
		w->failed = xreallocarray(w->failed, w->nfailed + 1,
		    sizeof(*w->failed));
		w->failed[w->nfailed++] = xstrdup(target);
	}

	if (w->out == QUEUE_OK || o > w->out)
		w->fail = *f;
	w->out = queue_outcome_merge(w->out, o);
}

/* Queue one copy; dr's strings are copied (the address for Delivered-To
 * is the target's, which keeps its case and sub-address as resolved). */
static void
round_add_job(struct round *rd, size_t mi, size_t ri, const char *address,
    const struct deliver_rcpt *dr)
{
	struct round_msg	*rm = &rd->msgs[mi];
	struct queue_job	*j;
	struct job_ref		*ref;

	if (rd->njobs == rd->jobs_cap) {
		rd->jobs_cap = rd->jobs_cap == 0 ? 64 : rd->jobs_cap * 2;
		rd->jobs = xreallocarray(rd->jobs, rd->jobs_cap,
		    sizeof(*rd->jobs));
		rd->refs = xreallocarray(rd->refs, rd->jobs_cap,
		    sizeof(*rd->refs));
	}
	ref = &rd->refs[rd->njobs];
	ref->seq = rd->njobs;
	ref->msg = mi;
	ref->rcpt = ri;
	ref->address = xstrdup(address);
	ref->path = xstrdup(dr->path);
	j = &rd->jobs[rd->njobs++];
	memset(j, 0, sizeof(*j));
	/* The strings are pointed to at delivery time (refs may move). */
	j->rcpt.format = dr->format;
	j->rcpt.quota = dr->quota;
	j->msg.fd = rm->m.fd;
	j->msg.offset = rm->m.env.content_off;
	j->msg.len = rm->m.env.content_len;
	rm->rw[ri].ntargets++;
}

static size_t
path_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a */

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return (size_t)h;
}

/* The slot for path: the job going there, or the empty slot it takes. */
static size_t *
round_slot(struct round *rd, const char *path)
{
	size_t	 i = path_hash(path) & (rd->nslots - 1);

	while (rd->slots[i] != 0 && strcmp(rd->refs[rd->slots[i] - 1].path,
	    path) != 0)
		i = (i + 1) & (rd->nslots - 1);
	return &rd->slots[i];
}

/* Start the table over for the next entry (a big one's table goes). */
static void
round_slots_reset(struct round *rd)
{
	if (rd->nslots > 1024) {
		free(rd->slots);
		rd->slots = NULL;
		rd->nslots = 0;
	} else if (rd->nslots > 0)
		memset(rd->slots, 0, rd->nslots * sizeof(*rd->slots));
	rd->nused = 0;
}

/* Suppress a second copy of entry mi into one mailbox, as Postfix's
 * cleanup drops duplicate recipients: 1 if a job of mi already goes to
 * path (recipient ri then follows its result), else 0, and path is
 * taken by the job the caller adds next. */
static int
round_dedup(struct round *rd, size_t mi, size_t ri, const char *address,
    const char *path)
{
	struct job_dup	*d;
	size_t		*slot, k, n;

	if (rd->nused * 2 >= rd->nslots) {
		n = rd->nslots == 0 ? 16 : rd->nslots * 2;
		free(rd->slots);
		rd->slots = xcalloc(n, sizeof(*rd->slots));
		rd->nslots = n;
		for (k = rd->msgs[mi].job_first; k < rd->njobs; k++)
			*round_slot(rd, rd->refs[k].path) = k + 1;
	}
	slot = round_slot(rd, path);
	if (*slot == 0) {
		*slot = rd->njobs + 1;
		rd->nused++;
		return 0;
	}
	rd->dups = xreallocarray(rd->dups, rd->ndups + 1, sizeof(*rd->dups));
	d = &rd->dups[rd->ndups++];
	d->seq = *slot - 1;
	d->rcpt = ri;
	d->address = xstrdup(address);
	rd->msgs[mi].rw[ri].ntargets++;
	return 1;
}

/* Resolve recipient ri of entry mi and queue its local copies. */
static void
plan_rcpt(struct queue_runner *r, struct round *rd, size_t mi, size_t ri)
{
	struct round_msg	*rm = &rd->msgs[mi];
	struct queue_msg	*m = &rm->m;
	struct rcpt_work	*w = &rm->rw[ri];
	const char		*addr = m->env.rcpts[ri].addr;
	struct accounts_targets	 t;
	struct accounts_user	 u;
	struct deliver_rcpt	 dr;
	struct fail		 f;
	char			 path[PATH_MAX];
	size_t			 k;
	int			 rc;

	w->attempted = true;
	memset(&t, 0, sizeof(t));
	fail_clear(&f);
	rc = accounts_resolve(r->acc, addr, &t, &f);
	if (rc == 0 || (rc == 1 && t.count == 0))
		fail_set(&f, false, "5.1.1", "no such user here: %s", addr);
	if (rc != 1 || t.count == 0) {
		rcpt_fail(w, NULL, &f);
		runner_log_attempt(m, ri, addr, "local", f.code,
		    outcome_status(&f), f.text);
		if (rc == 1)
			accounts_targets_release(&t);
		return;
	}
	for (k = 0; k < t.count; k++) {
		if (!t.items[k].is_local) {
			fail_set(&f, true, "4.4.0",
			    "relay transport not available yet");
			w->ntargets++;
			rcpt_fail(w, t.items[k].address, &f);
			runner_log_attempt(m, ri, t.items[k].address, "none",
			    f.code, "deferred", f.text);
			continue;
		}
		rc = accounts_user_lookup(r->acc, t.items[k].address, &u);
		if (rc == 1 && deliver_user_rcpt(&r->aconf, &u,
		    m->env.sender, path, sizeof(path), &dr) == -1)
			rc = -2;
		if (rc != 1) {
			fail_set(&f, true, "4.3.0", rc == 0 ?
			    "user record vanished" : rc == -2 ?
			    "mailbox path too long" : "user lookup failed");
			w->ntargets++;
			rcpt_fail(w, t.items[k].address, &f);
			runner_log_attempt(m, ri, t.items[k].address, "local",
			    f.code, "deferred", f.text);
			continue;
		}
		if (round_dedup(rd, mi, ri, t.items[k].address, dr.path) == 0)
			round_add_job(rd, mi, ri, t.items[k].address, &dr);
	}
	accounts_targets_release(&t);
}

void
round_collect(struct queue_runner *r, struct round *rd, uint64_t now,
    size_t *worked_r)
{
	char		 id[SPOOL_ID_LEN + 1];
	bool		 force;
	struct round_msg *rm;

	rd->msgs = xcalloc(ROUND_MAX, sizeof(*rd->msgs));
	while (rd->nmsgs < ROUND_MAX &&
	    queue_sched_next(r->sched, now, id, &force) == 1) {
		(*worked_r)++;
		rm = &rd->msgs[rd->nmsgs];
		switch (queue_msg_load(&r->dirs, id, &rm->m)) {
		case QUEUE_LOAD_OK:
			rm->m.force = force;
			rm->rw = xcalloc(rm->m.env.nrcpts, sizeof(*rm->rw));
			rd->nmsgs++;
			continue;
		case QUEUE_LOAD_BUSY:
			queue_sched_add(r->sched, id, now + BUSY_RETRY, force);
			break;
		case QUEUE_LOAD_RETRY:
			queue_sched_add(r->sched, id, now + IO_RETRY, force);
			break;
		default:
			break;
		}
		queue_msg_release(&rm->m);
	}
}

void
round_plan(struct queue_runner *r, struct round *rd, uint64_t now)
{
	struct spool_rcpt_status *st;
	struct queue_msg	*m;
	size_t			 mi, ri;

	for (mi = 0; mi < rd->nmsgs; mi++) {
		m = &rd->msgs[mi].m;
		rd->msgs[mi].job_first = rd->njobs;
		round_slots_reset(rd);
		for (ri = 0; ri < m->env.nrcpts; ri++) {
			st = &m->st[ri];
			if (spool_rcpt_state_final(st->state))
				continue;
			if (st->state == SPOOL_RCPT_DEFERRED &&
			    st->until > now && !m->force)
				continue;
			plan_rcpt(r, rd, mi, ri);
		}
	}
}

static int
ref_cmp(const void *a, const void *b)
{
	const struct job_ref	*x = a, *y = b;
	int			 c = strcmp(x->path, y->path);

	if (c != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Order the jobs by mailbox (then as planned), point them at their
 * strings, run them, fold the results back. */
void
round_deliver(struct queue_runner *r, struct round *rd)
{
	struct round_msg	*rm;
	struct queue_job	*j, *sorted;
	struct job_dup		*d;
	size_t			 k, *pos;
	char			 text[128];

	if (rd->njobs == 0)
		return;
	qsort(rd->refs, rd->njobs, sizeof(*rd->refs), ref_cmp);
	sorted = xreallocarray(NULL, rd->jobs_cap > 0 ? rd->jobs_cap : 1,
	    sizeof(*sorted));
	pos = xreallocarray(NULL, rd->njobs, sizeof(*pos));
	for (k = 0; k < rd->njobs; k++) {
		sorted[k] = rd->jobs[rd->refs[k].seq];
		pos[rd->refs[k].seq] = k;
	}
	free(rd->jobs);
	rd->jobs = sorted;
	for (k = 0; k < rd->njobs; k++) {
		rm = &rd->msgs[rd->refs[k].msg];
		j = &rd->jobs[k];
		j->rcpt.sender = rm->m.env.sender;
		j->rcpt.address = rd->refs[k].address;
		j->rcpt.path = rd->refs[k].path;
	}
	queue_workers_run(r->workers, rd->jobs, rd->njobs);
	for (k = 0; k < rd->njobs; k++) {
		rm = &rd->msgs[rd->refs[k].msg];
		j = &rd->jobs[k];
		if (j->rc == 0) {
			rm->rw[rd->refs[k].rcpt].ndelivered++;
			(void)str_printf(text, sizeof(text), "delivered to %s",
			    j->rcpt.format == DELIVER_MBOX ? "mbox" :
			    "maildir");
			runner_log_attempt(&rm->m, rd->refs[k].rcpt,
			    j->rcpt.address, "local", "2.0.0", "sent", text);
		} else {
			rcpt_fail(&rm->rw[rd->refs[k].rcpt],
			    j->rcpt.address, &j->fail);
			runner_log_attempt(&rm->m, rd->refs[k].rcpt,
			    j->rcpt.address, "local", j->fail.code,
			    outcome_status(&j->fail), j->fail.text);
		}
	}
	/* A suppressed copy shares the outcome of the one made. */
	for (k = 0; k < rd->ndups; k++) {
		d = &rd->dups[k];
		j = &rd->jobs[pos[d->seq]];
		rm = &rd->msgs[rd->refs[pos[d->seq]].msg];
		if (j->rc == 0) {
			rm->rw[d->rcpt].ndelivered++;
			runner_log_attempt(&rm->m, d->rcpt, d->address, "local",
			    "2.0.0", "sent", "duplicate, delivered once");
		} else {
			rcpt_fail(&rm->rw[d->rcpt], d->address, &j->fail);
			runner_log_attempt(&rm->m, d->rcpt, d->address, "local",
			    j->fail.code, outcome_status(&j->fail),
			    j->fail.text);
		}
	}
	free(pos);
}

void
round_free(struct round *rd)
{
	struct rcpt_work	*w;
	size_t			 k, i;

	for (k = 0; k < rd->nmsgs; k++) {
		for (i = 0; i < rd->msgs[k].m.env.nrcpts; i++) {
			w = &rd->msgs[k].rw[i];
			while (w->nfailed > 0)
				free(w->failed[--w->nfailed]);
			free(w->failed);
		}
		queue_msg_release(&rd->msgs[k].m);
		free(rd->msgs[k].rw);
	}
	for (k = 0; k < rd->njobs; k++) {
		free(rd->refs[k].address);
		free(rd->refs[k].path);
	}
	for (k = 0; k < rd->ndups; k++)
		free(rd->dups[k].address);
	free(rd->dups);
	free(rd->slots);
	free(rd->msgs);
	free(rd->jobs);
	free(rd->refs);
	memset(rd, 0, sizeof(*rd));
}
