/* SPDX-License-Identifier: MIT */
/*
 * workpool.c - worker threads, a bounded job ring, an eventfd back
 *
 * Two rings of max_jobs slots under one mutex: todo (submitted, not yet
 * taken) and done (worked, done() not yet run).  taken counts the jobs
 * from submit until their done() has been run (or, without done, until the
 * work returned), so neither ring can overflow.  A worker that finishes a
 * job with a done() adds it to the done ring and, when the ring was empty,
 * writes the eventfd; the loop callback reads it, takes the whole done
 * ring and runs the callbacks outside the lock.
 */
#include <sys/eventfd.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "event.h"
#include "log.h"
#include "mem.h"
#include "workpool.h"

struct wp_job {
	workpool_fn	*work;
	workpool_fn	*done;
	void		*arg;
};

struct wp_ring {
	struct wp_job	*slot;
	size_t		 head, n;
};

struct workpool {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;		/* todo not empty, or quit */
	pthread_t	 tids[WORKPOOL_THREADS_MAX];
	unsigned int	 nthreads;
	size_t		 max;
	size_t		 taken;		/* submitted, not finished */
	struct wp_ring	 todo;
	struct wp_ring	 done;
	bool		 quit;
	int		 efd;
	struct event_io	*io;
};

static void
ring_push(struct wp_ring *r, size_t max, const struct wp_job *j)
{
	BUZ_ASSERT(r->n < max);
	r->slot[(r->head + r->n) % max] = *j;
	r->n++;
}

static struct wp_job
ring_pop(struct wp_ring *r, size_t max)
{
	struct wp_job	 j = r->slot[r->head];

	r->head = (r->head + 1) % max;
	r->n--;
	return j;
}

static void
wake_loop(struct workpool *p)
{
	uint64_t	 one = 1;

	while (write(p->efd, &one, sizeof(one)) == -1 && errno == EINTR)
		continue;
	/* EAGAIN: the counter is not zero, the loop is woken already */
}

static void *
worker_main(void *arg)
{
	struct workpool	*p = arg;
	struct wp_job	 j;
	bool		 wake;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->todo.n == 0 && !p->quit)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->todo.n == 0)
			break;		/* quit, and nothing left to do */
		j = ring_pop(&p->todo, p->max);
		pthread_mutex_unlock(&p->mu);
		j.work(j.arg);
		pthread_mutex_lock(&p->mu);
		if (j.done == NULL) {
			p->taken--;
			continue;
		}
		wake = p->done.n == 0;
		ring_push(&p->done, p->max, &j);
		if (wake)
			wake_loop(p);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Run the done() callbacks owed, outside the lock.  Returns how many. */
static size_t
run_done(struct workpool *p)
{
	struct wp_job	*jobs;
	size_t		 n, i;

	pthread_mutex_lock(&p->mu);
	n = p->done.n;
	if (n == 0) {
		pthread_mutex_unlock(&p->mu);
		return 0;
	}
	jobs = xreallocarray(NULL, n, sizeof(*jobs));
	for (i = 0; i < n; i++)
		jobs[i] = ring_pop(&p->done, p->max);
	p->taken -= n;
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < n; i++)
		jobs[i].done(jobs[i].arg);
	free(jobs);
	return n;
}

static void
on_done(int fd, unsigned int events, void *arg)
{
	struct workpool	*p = arg;
	uint64_t	 count;

	(void)events;
	while (read(fd, &count, sizeof(count)) == -1 && errno == EINTR)
		continue;
	(void)run_done(p);
}

struct workpool *
workpool_new(struct event_loop *loop, unsigned int nthreads, size_t max_jobs)
{
	struct workpool	*p;
	sigset_t	 all, old;
	int		 e = 0;

	if (nthreads == 0 || nthreads > WORKPOOL_THREADS_MAX ||
	    max_jobs == 0 || max_jobs > SIZE_MAX / sizeof(struct wp_job)) {
		errno = EINVAL;
		return NULL;
	}
	p = xcalloc(1, sizeof(*p));
	p->max = max_jobs;
	p->efd = -1;
	if ((e = pthread_mutex_init(&p->mu, NULL)) != 0)
		goto fail;
	if ((e = pthread_cond_init(&p->cv, NULL)) != 0)
		goto fail_mu;
	if (loop != NULL) {
		if ((p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1 ||
		    (p->io = event_io_add(loop, p->efd, EVENT_READ, on_done,
		    p)) == NULL) {
			e = errno;
			goto fail_cv;
		}
	}
	p->todo.slot = xreallocarray(NULL, max_jobs, sizeof(struct wp_job));
	p->done.slot = xreallocarray(NULL, max_jobs, sizeof(struct wp_job));
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	while (p->nthreads < nthreads && (e = pthread_create(
	    &p->tids[p->nthreads], NULL, worker_main, p)) == 0)
		p->nthreads++;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (p->nthreads > 0)
		return p;
	free(p->todo.slot);
	free(p->done.slot);
fail_cv:
	event_io_del(&p->io);
	if (p->efd != -1)
		(void)close(p->efd);
	pthread_cond_destroy(&p->cv);
fail_mu:
	pthread_mutex_destroy(&p->mu);
fail:
	free(p);
	errno = e != 0 ? e : EAGAIN;
	return NULL;
}

int
workpool_submit(struct workpool *p, workpool_fn *work, workpool_fn *done,
    void *arg)
{
	struct wp_job	 j = { work, done, arg };

	if (done != NULL && p->io == NULL) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&p->mu);
	if (p->quit || p->taken >= p->max) {
		errno = p->quit ? ESHUTDOWN : EAGAIN;
		pthread_mutex_unlock(&p->mu);
		return -1;
	}
	p->taken++;
	ring_push(&p->todo, p->max, &j);
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

size_t
workpool_pending(struct workpool *p)
{
	size_t	 n;

	pthread_mutex_lock(&p->mu);
	n = p->taken;
	pthread_mutex_unlock(&p->mu);
	return n;
}

unsigned int
workpool_threads(const struct workpool *p)
{
	return p->nthreads;
}

void
workpool_free(struct workpool **pp)
{
	struct workpool	*p = pp != NULL ? *pp : NULL;
	unsigned int	 i;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->quit = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < p->nthreads; i++)
		pthread_join(p->tids[i], NULL);
	(void)run_done(p);
	event_io_del(&p->io);
	if (p->efd != -1)
		(void)close(p->efd);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p->todo.slot);
	free(p->done.slot);
	free(p);
	*pp = NULL;
}
