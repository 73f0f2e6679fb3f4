/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "workpool.h"

static struct event_loop *loop;
static pthread_t loop_thread;

static void
setup(void)
{
	loop = event_loop_new();
	cr_assert_not_null(loop);
	loop_thread = pthread_self();
}

static void
teardown(void)
{
	event_loop_free(&loop);
}

TestSuite(workpool, .init = setup, .fini = teardown, .timeout = 20);

#define MANY	20000

struct job {
	unsigned int	 worked;	/* times work ran */
	unsigned int	 done;		/* times done ran */
	bool		 off_loop;	/* work ran on a worker */
	bool		 sig_blocked;	/* with SIGTERM blocked */
	bool		 done_on_loop;
};

static struct job	 jobs[MANY];
static unsigned int	 ndone;
static unsigned int	 want;

static void
work(void *arg)
{
	struct job	*j = arg;
	sigset_t	 cur;

	__atomic_add_fetch(&j->worked, 1, __ATOMIC_RELAXED);
	j->off_loop = !pthread_equal(pthread_self(), loop_thread);
	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	j->sig_blocked = sigismember(&cur, SIGTERM) == 1;
}

static void
done(void *arg)
{
	struct job	*j = arg;

	j->done++;
	j->done_on_loop = pthread_equal(pthread_self(), loop_thread);
	if (++ndone == want)
		event_loop_break(loop);
}

static void
on_timeout(void *arg)
{
	(void)arg;
	event_loop_break(loop);
}

static void
run_loop(void)
{
	struct event_timer *t = event_timer_add(loop, 10000, on_timeout, NULL);

	cr_assert_eq(event_loop_run(loop), 0);
	event_timer_del(&t);
}

/* Every job is worked once on a worker and comes back once, on the loop. */
Test(workpool, many_jobs_all_come_back_on_the_loop)
{
	struct workpool	*p = workpool_new(loop, 4, MANY);
	size_t		 i;

	cr_assert_not_null(p);
	cr_assert_eq(workpool_threads(p), 4);
	memset(jobs, 0, sizeof(jobs));
	ndone = 0;
	want = MANY;
	for (i = 0; i < MANY; i++)
		cr_assert_eq(workpool_submit(p, work, done, &jobs[i]), 0);
	run_loop();
	cr_assert_eq(ndone, MANY);
	for (i = 0; i < MANY; i++) {
		cr_assert_eq(jobs[i].worked, 1, "job %zu", i);
		cr_assert_eq(jobs[i].done, 1, "job %zu", i);
		cr_assert(jobs[i].off_loop);
		cr_assert(jobs[i].sig_blocked);
		cr_assert(jobs[i].done_on_loop);
	}
	cr_assert_eq(workpool_pending(p), 0);
	workpool_free(&p);
	cr_assert_null(p);
}

static pthread_mutex_t	 gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 gate_cv = PTHREAD_COND_INITIALIZER;
static bool		 gate_open;

static void
gated_work(void *arg)
{
	pthread_mutex_lock(&gate_mu);
	while (!gate_open)
		pthread_cond_wait(&gate_cv, &gate_mu);
	pthread_mutex_unlock(&gate_mu);
	work(arg);
}

static void
gate_set(bool open)
{
	pthread_mutex_lock(&gate_mu);
	gate_open = open;
	pthread_cond_broadcast(&gate_cv);
	pthread_mutex_unlock(&gate_mu);
}

/* max_jobs counts a job until its done() has run, not just while queued. */
Test(workpool, queue_full)
{
	struct workpool	*p = workpool_new(loop, 1, 4);
	size_t		 i;

	cr_assert_not_null(p);
	memset(jobs, 0, sizeof(jobs));
	ndone = 0;
	want = 4;
	gate_set(false);
	for (i = 0; i < 4; i++)
		cr_assert_eq(workpool_submit(p, gated_work, done, &jobs[i]),
		    0);
	cr_assert_eq(workpool_submit(p, gated_work, done, &jobs[4]), -1);
	cr_assert_eq(errno, EAGAIN);
	cr_assert_eq(workpool_pending(p), 4);
	gate_set(true);
	/* worked, but done() not run yet: still full */
	while (__atomic_load_n(&jobs[3].worked, __ATOMIC_RELAXED) == 0)
		usleep(1000);
	cr_assert_eq(workpool_submit(p, gated_work, done, &jobs[4]), -1);
	cr_assert_eq(errno, EAGAIN);
	run_loop();
	cr_assert_eq(ndone, 4);
	cr_assert_eq(workpool_pending(p), 0);
	want = 5;
	cr_assert_eq(workpool_submit(p, work, done, &jobs[4]), 0);
	run_loop();
	cr_assert_eq(jobs[4].done, 1);
	workpool_free(&p);
}

static struct workpool	*chain_pool;
static int		 late_submit_rc, late_submit_errno;

static void
slow_work(void *arg)
{
	usleep(2000);
	work(arg);
}

static void
done_then_submit(void *arg)
{
	done(arg);
	late_submit_rc = workpool_submit(chain_pool, work, done, &jobs[0]);
	late_submit_errno = errno;
}

/* Free with jobs queued and running: all are worked, every done() runs
 * once on the freeing thread, and none may submit any more. */
Test(workpool, shutdown_with_jobs_in_flight)
{
	size_t	 i, n = 40;

	chain_pool = workpool_new(loop, 2, n);
	cr_assert_not_null(chain_pool);
	memset(jobs, 0, sizeof(jobs));
	ndone = 0;
	want = 0;
	for (i = 1; i <= n; i++)
		cr_assert_eq(workpool_submit(chain_pool, slow_work,
		    done_then_submit, &jobs[i]), 0);
	workpool_free(&chain_pool);
	cr_assert_null(chain_pool);
	cr_assert_eq(ndone, n);
	for (i = 1; i <= n; i++) {
		cr_assert_eq(jobs[i].worked, 1, "job %zu", i);
		cr_assert_eq(jobs[i].done, 1, "job %zu", i);
		cr_assert(jobs[i].done_on_loop);
	}
	cr_assert_eq(late_submit_rc, -1);
	cr_assert_eq(late_submit_errno, ESHUTDOWN);
	cr_assert_eq(jobs[0].worked, 0);
}

static struct workpool	*relay_pool;

static void
done_relay(void *arg)
{
	struct job	*j = arg;

	done(arg);
	if (j < &jobs[9])
		cr_assert_eq(workpool_submit(relay_pool, work, done_relay,
		    j + 1), 0);
}

/* A done() may hand the next job over (the smtpd committer does). */
Test(workpool, done_submits_the_next)
{
	relay_pool = workpool_new(loop, 1, 1);
	cr_assert_not_null(relay_pool);
	memset(jobs, 0, sizeof(jobs));
	ndone = 0;
	want = 10;
	cr_assert_eq(workpool_submit(relay_pool, work, done_relay, &jobs[0]),
	    0);
	run_loop();
	cr_assert_eq(ndone, 10);
	cr_assert_eq(jobs[9].done, 1);
	workpool_free(&relay_pool);
}

/* Without a loop: work only; done() is refused. */
Test(workpool, no_loop)
{
	struct workpool	*p = workpool_new(NULL, 3, 8);
	size_t		 i, submitted = 0;

	cr_assert_not_null(p);
	memset(jobs, 0, sizeof(jobs));
	cr_assert_eq(workpool_submit(p, work, done, &jobs[0]), -1);
	cr_assert_eq(errno, EINVAL);
	for (i = 0; i < 100; i++) {
		while (workpool_submit(p, work, NULL, &jobs[i]) == -1) {
			cr_assert_eq(errno, EAGAIN);
			usleep(100);
		}
		submitted++;
	}
	workpool_free(&p);
	for (i = 0; i < submitted; i++)
		cr_assert_eq(jobs[i].worked, 1);
	cr_assert_eq(jobs[0].done, 0);
}

Test(workpool, bad_arguments)
{
	struct workpool	*none = NULL;

	cr_assert_null(workpool_new(loop, 0, 1));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(workpool_new(loop, WORKPOOL_THREADS_MAX + 1, 1));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(workpool_new(loop, 1, 0));
	cr_assert_eq(errno, EINVAL);
	workpool_free(&none);
	workpool_free(NULL);
}
