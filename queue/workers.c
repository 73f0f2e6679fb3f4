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
 * thread is one of the workers.
 *
 * Workers touch only their jobs and the delivery library: no logging, no
 * maps, no spool state (the runner thread does all of that).
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mem.h"
#include "queued.h"

struct queue_workers {
	const struct deliver_conf *conf;
	unsigned int	 n;		/* threads, the caller included */
	pthread_t	*threads;	/* n - 1 */
	pthread_mutex_t	 mu;
	pthread_cond_t	 start_cv;
	pthread_cond_t	 done_cv;
	uint64_t	 generation;	/* bumped per round */
	bool		 quit;
	struct queue_job *jobs;
	size_t		 njobs;
	size_t		 next;		/* next job to take (under mu) */
	unsigned int	 busy;		/* threads still in the round */
};

static struct queue_job *
take_job(struct queue_workers *w)
{
	struct queue_job	*j = NULL;

	pthread_mutex_lock(&w->mu);
	if (w->next < w->njobs)
		j = &w->jobs[w->next++];
	pthread_mutex_unlock(&w->mu);
	return j;
}

/* Deliver jobs until none is left, in one batch. */
static void
work_round(struct queue_workers *w)
{
	struct deliver_batch	*b = NULL;
	struct queue_job	*j, **mine = NULL;
	size_t			 nmine = 0, cap = 0, i;
	struct fail		 f;

	while ((j = take_job(w)) != NULL) {
		if (b == NULL)
			b = deliver_batch_begin(w->conf);
		memset(&j->res, 0, sizeof(j->res));
		fail_clear(&j->fail);
		j->rc = deliver_batch_add(b, &j->rcpt, &j->msg, &j->res,
		    &j->fail);
		if (j->rc == 0) {
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

static void *
worker_main(void *arg)
{
	struct queue_workers	*w = arg;
	uint64_t		 seen = 0;

	for (;;) {
		pthread_mutex_lock(&w->mu);
		while (!w->quit && w->generation == seen)
			pthread_cond_wait(&w->start_cv, &w->mu);
		if (w->quit) {
			pthread_mutex_unlock(&w->mu);
			return NULL;
		}
		seen = w->generation;
		pthread_mutex_unlock(&w->mu);
		work_round(w);
		pthread_mutex_lock(&w->mu);
		if (--w->busy == 0)
			pthread_cond_signal(&w->done_cv);
		pthread_mutex_unlock(&w->mu);
	}
}

struct queue_workers *
queue_workers_new(unsigned int n, const struct deliver_conf *conf)
{
	struct queue_workers	*w = xcalloc(1, sizeof(*w));
	unsigned int		 i;
	int			 e;

	w->conf = conf;
	w->n = n == 0 ? 1 : n;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->start_cv, NULL);
	pthread_cond_init(&w->done_cv, NULL);
	w->threads = xcalloc(w->n, sizeof(*w->threads));
	for (i = 0; i + 1 < w->n; i++)
		if ((e = pthread_create(&w->threads[i], NULL, worker_main,
		    w)) != 0) {
			log_warn(NULL, "delivery workers=%u started=%u "
			    "error=\"%s\"", w->n, i + 1, strerror(e));
			w->n = i + 1;
			break;
		}
	return w;
}

void
queue_workers_free(struct queue_workers **wp)
{
	struct queue_workers	*w = *wp;
	unsigned int		 i;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->quit = true;
	pthread_cond_broadcast(&w->start_cv);
	pthread_mutex_unlock(&w->mu);
	for (i = 0; i + 1 < w->n; i++)
		pthread_join(w->threads[i], NULL);
	pthread_cond_destroy(&w->start_cv);
	pthread_cond_destroy(&w->done_cv);
	pthread_mutex_destroy(&w->mu);
	free(w->threads);
	free(w);
	*wp = NULL;
}

void
queue_workers_run(struct queue_workers *w, struct queue_job *jobs, size_t n)
{
	if (n == 0)
		return;
	/* Threads that find no job left start no batch: they cost nothing
	 * but the wake-up. */
	pthread_mutex_lock(&w->mu);
	w->jobs = jobs;
	w->njobs = n;
	w->next = 0;
	w->busy = w->n - 1;
	w->generation++;
	pthread_cond_broadcast(&w->start_cv);
	pthread_mutex_unlock(&w->mu);
	work_round(w);
	pthread_mutex_lock(&w->mu);
	while (w->busy > 0)
		pthread_cond_wait(&w->done_cv, &w->mu);
	w->jobs = NULL;
	w->njobs = 0;
	pthread_mutex_unlock(&w->mu);
}
