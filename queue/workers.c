/* SPDX-License-Identifier: MIT */
/*
 * workers.c - deliver a round of copies with a few threads
 *
 * One durable Maildir delivery is a file fsync plus a directory fsync
 * (~0.7 ms each on ext4); done one after the other they cap the runner at
 * a few hundred messages a second whatever the CPU.  So a round's copies
 * are shared among threads that pull the next job from a common counter;
 * each thread keeps one delivery batch (local-delivery/deliver.h), so the
 * directory fsyncs are paid once per directory and thread per round, and
 * the fsyncs of different threads are in flight together.  The calling
 * thread is one of the workers; the others are a workpool without loop
 * (common/workpool.h) whose job is "help with this round", and the caller
 * waits for them.
 *
 * Workers touch only their jobs and the delivery library: no logging, no
 * maps, no spool state (the runner thread does all of that).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "mem.h"
#include "queued.h"
#include "workpool.h"

#define HOOK_INTERVAL_NS	(2 * 1000 * 1000)	/* 2 ms */

struct queue_workers {
	const struct deliver_conf *conf;
	unsigned int	 n;		/* threads, the caller included */
	struct workpool	*pool;		/* the n - 1 others; NULL if none */
	pthread_mutex_t	 mu;
	pthread_cond_t	 done_cv;
	struct queue_job *jobs;
	size_t		 njobs;
	size_t		 next;		/* next job to take (under mu) */
	unsigned int	 busy;		/* threads still in the round */
	void		(*hook)(void *);	/* the caller's, between runs */
	void		*hook_arg;
};

/* Take the next run of jobs for one mailbox: one thread then pays that
 * directory's fsync once.  *n_r is the run's length, 0 at the end. */
static struct queue_job *
take_jobs(struct queue_workers *w, size_t *n_r)
{
	struct queue_job	*j = NULL;
	size_t			 end;

	pthread_mutex_lock(&w->mu);
	*n_r = 0;
	if (w->next < w->njobs) {
		j = &w->jobs[w->next];
		for (end = w->next + 1; end < w->njobs &&
		    strcmp(w->jobs[end].rcpt.path, j->rcpt.path) == 0; end++)
			continue;
		*n_r = end - w->next;
		w->next = end;
	}
	pthread_mutex_unlock(&w->mu);
	return j;
}

/* Deliver jobs until none is left, in one batch.  The calling thread
 * (caller) runs the hook between runs. */
static void
work_round(struct queue_workers *w, bool caller)
{
	struct deliver_batch	*b = NULL;
	struct queue_job	*j, *run, **mine = NULL;
	size_t			 nmine = 0, cap = 0, i, k, nrun;
	struct fail		 f;

	for (;;) {
		if (caller && w->hook != NULL)
			w->hook(w->hook_arg);
		if ((run = take_jobs(w, &nrun)) == NULL)
			break;
		for (k = 0; k < nrun; k++) {
			j = &run[k];
			if (b == NULL)
				b = deliver_batch_begin(w->conf);
			memset(&j->res, 0, sizeof(j->res));
			fail_clear(&j->fail);
			j->rc = deliver_batch_add(b, &j->rcpt, &j->msg,
			    &j->res, &j->fail);
			if (j->rc != 0)
				continue;
			if (nmine == cap) {
				cap = cap == 0 ? 16 : cap * 2;
				mine = xreallocarray(mine, cap,
				    sizeof(*mine));
			}
			mine[nmine++] = j;
		}
	}
	if (b != NULL && deliver_batch_commit(&b, &f) == -1)
		/* Nothing of this batch may count as delivered. */
		for (i = 0; i < nmine; i++) {
			mine[i]->rc = -1;
			mine[i]->fail = f;
		}
	deliver_batch_free(&b);
	free(mine);
}

/* One of the other threads' part of a round. */
static void
help_round(void *arg)
{
	struct queue_workers	*w = arg;

	work_round(w, false);
	pthread_mutex_lock(&w->mu);
	if (--w->busy == 0)
		pthread_cond_signal(&w->done_cv);
	pthread_mutex_unlock(&w->mu);
}

struct queue_workers *
queue_workers_new(unsigned int n, const struct deliver_conf *conf)
{
	struct queue_workers	*w = xcalloc(1, sizeof(*w));
	unsigned int		 want;

	w->conf = conf;
	want = n == 0 ? 1 : n > WORKPOOL_THREADS_MAX ? WORKPOOL_THREADS_MAX :
	    n;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->done_cv, NULL);
	w->n = 1;
	/* Room for two rounds' helpers: one round's may not all have left
	 * the pool when the next round starts. */
	if (want > 1 && (w->pool = workpool_new(NULL, want - 1,
	    2 * (size_t)(want - 1))) != NULL)
		w->n = workpool_threads(w->pool) + 1;
	if (w->n < want)
		log_warn(NULL, "delivery workers=%u started=%u error=\"%s\"",
		    want, w->n, strerror(errno));
	return w;
}

void
queue_workers_free(struct queue_workers **wp)
{
	struct queue_workers	*w = *wp;

	if (w == NULL)
		return;
	workpool_free(&w->pool);
	pthread_cond_destroy(&w->done_cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
	*wp = NULL;
}

void
queue_workers_set_hook(struct queue_workers *w, void (*fn)(void *),
    void *arg)
{
	w->hook = fn;
	w->hook_arg = arg;
}

void
queue_workers_run(struct queue_workers *w, struct queue_job *jobs, size_t n)
{
	struct timespec	 ts;
	unsigned int	 i;

	if (n == 0)
		return;
	/* Threads that find no job left start no batch: they cost nothing
	 * but the wake-up. */
	pthread_mutex_lock(&w->mu);
	w->jobs = jobs;
	w->njobs = n;
	w->next = 0;
	w->busy = w->n - 1;
	pthread_mutex_unlock(&w->mu);
	for (i = 0; i + 1 < w->n; i++)
		if (workpool_submit(w->pool, help_round, NULL, w) == -1) {
			pthread_mutex_lock(&w->mu);
			w->busy--;
			pthread_mutex_unlock(&w->mu);
		}
	work_round(w, true);
	pthread_mutex_lock(&w->mu);
	while (w->busy > 0) {
		if (w->hook == NULL) {
			pthread_cond_wait(&w->done_cv, &w->mu);
			continue;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += HOOK_INTERVAL_NS;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		if (pthread_cond_timedwait(&w->done_cv, &w->mu, &ts) != 0) {
			pthread_mutex_unlock(&w->mu);
			w->hook(w->hook_arg);
			pthread_mutex_lock(&w->mu);
		}
	}
	w->jobs = NULL;
	w->njobs = 0;
	pthread_mutex_unlock(&w->mu);
}
