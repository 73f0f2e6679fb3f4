/*
 * workpool.h - a few threads for blocking work, results back on the loop
 *
 * The event loop must not block (fsync, close of a big unlinked file,
 * password hashing); such work goes to a workpool: N threads take jobs
 * from one bounded queue, and when a job's work is done its done callback
 * runs on the loop thread, from the loop (the pool's eventfd is registered
 * with common/event.h).  That is the one way results come back: work()
 * runs on a worker and must touch only what the job owns; done() runs on
 * the loop and may touch anything the loop does, submit more jobs, or
 * free the job.  Jobs are started in the order submitted; with more than
 * one thread they may finish, and their done() run, in another order.
 *
 * Worker threads start with every signal blocked, so signals keep going
 * to the loop's signalfd.
 */
#ifndef BUZON_WORKPOOL_H
#define BUZON_WORKPOOL_H

#include <stddef.h>

struct event_loop;
struct workpool;

typedef void	workpool_fn(void *arg);

#define WORKPOOL_THREADS_MAX	64

/* Start nthreads (1..WORKPOOL_THREADS_MAX) workers taking at most
 * max_jobs jobs at a time (queued, running, or waiting for their done();
 * at least 1).  loop may be NULL for a pool whose jobs have no done().
 * If some threads cannot start the pool runs with fewer; NULL with errno
 * set when none can (or the eventfd cannot be had, or the arguments are
 * out of range): the caller then does the work itself. */
struct workpool *workpool_new(struct event_loop *, unsigned int nthreads,
	    size_t max_jobs);

/* Queue work(arg) for a worker; after it returns, done(arg) runs on the
 * loop thread unless done is NULL.  0; or -1 with errno EAGAIN when
 * max_jobs are taken (the caller runs the work itself or waits for a
 * done()), EINVAL when done is given to a pool without a loop, ESHUTDOWN
 * once workpool_free() has begun (a done() it runs cannot submit). */
int	 workpool_submit(struct workpool *, workpool_fn *work,
	    workpool_fn *done, void *arg) __attribute__((warn_unused_result));

/* Jobs submitted whose work or done() is still to come. */
size_t	 workpool_pending(struct workpool *);

/* Stop: every job already submitted is still worked, the threads end,
 * and the done() callbacks still owed run here, on the calling thread
 * (the loop's), before the pool is freed.  NULL is a no-op; sets *p to
 * NULL. */
void	 workpool_free(struct workpool **);

/* How many threads did start (1..nthreads). */
unsigned int workpool_threads(const struct workpool *);

#endif
