/* SPDX-License-Identifier: MIT */
/*
 * worker.c - the threads buzon-auth hashes on
 *
 * A queue in, a queue out, one mutex.  The loop learns of finished jobs
 * through an eventfd-like pipe: a worker writes one byte when the out
 * queue goes from empty to non-empty; the loop drains the pipe and the
 * whole queue.  Workers touch nothing but the job they hold.
 */
#include "settings.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "authd.h"
#include "log.h"
#include "mem.h"

struct authd_pool {
	struct authd		*srv;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	struct authd_job	*in_head, *in_tail;
	struct authd_job	*out_head, *out_tail;
	bool			 stopping;
	unsigned int		 busy;		/* submitted, not back */
	unsigned int		 nthreads;
	pthread_t		*threads;
	int			 pipe[2];
	struct event_io		*io;
};

void
authd_job_check(struct authd_job *j)
{
	/* Unknown users cost a dummy hash: same time, same answer. */
	j->verified = accounts_auth_check(&j->at, j->secret,
	    j->cmd == AUTH_PROTO_APOP ? j->timestamp : NULL);
	mem_wipe(j->secret, sizeof(j->secret));
}

static void
queue_put(struct authd_job **head, struct authd_job **tail,
    struct authd_job *j)
{
	j->next = NULL;
	if (*tail != NULL)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
}

static void *
worker_main(void *arg)
{
	struct authd_pool	*p = arg;
	struct authd_job	*j;
	bool			 was_empty;
	ssize_t			 n;

	(void)pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->in_head == NULL && !p->stopping)
			(void)pthread_cond_wait(&p->cv, &p->mu);
		if (p->stopping)
			break;
		j = p->in_head;
		if ((p->in_head = j->next) == NULL)
			p->in_tail = NULL;
		(void)pthread_mutex_unlock(&p->mu);
		authd_job_check(j);
		(void)pthread_mutex_lock(&p->mu);
		was_empty = p->out_head == NULL;
		queue_put(&p->out_head, &p->out_tail, j);
		if (was_empty) {
			do {
				n = write(p->pipe[1], "", 1);
			} while (n == -1 && errno == EINTR);
			/* EAGAIN: a byte is already there to wake the loop. */
		}
	}
	(void)pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void
pool_drain(int fd, unsigned int events, void *arg)
{
	struct authd_pool	*p = arg;
	struct authd_job	*j, *next;
	char			 buf[64];

	(void)events;
	while (read(fd, buf, sizeof(buf)) > 0)
		continue;
	(void)pthread_mutex_lock(&p->mu);
	j = p->out_head;
	p->out_head = p->out_tail = NULL;
	(void)pthread_mutex_unlock(&p->mu);
	for (; j != NULL; j = next) {
		next = j->next;
		j->next = NULL;
		p->busy--;
		authd_job_done(p->srv, j);
	}
}

struct authd_pool *
authd_pool_new(struct authd *srv, unsigned int nthreads)
{
	struct authd_pool	*p = xcalloc(1, sizeof(*p));
	unsigned int		 i;

	p->srv = srv;
	if (pipe2(p->pipe, O_NONBLOCK | O_CLOEXEC) == -1)
		fatal("auth workers: pipe");
	if ((p->io = event_io_add(srv->loop, p->pipe[0], EVENT_READ,
	    pool_drain, p)) == NULL)
		fatal("auth workers: event");
	(void)pthread_mutex_init(&p->mu, NULL);
	(void)pthread_cond_init(&p->cv, NULL);
	p->threads = xcalloc(nthreads, sizeof(*p->threads));
	for (i = 0; i < nthreads; i++) {
		if ((errno = pthread_create(&p->threads[i], NULL, worker_main,
		    p)) != 0)
			fatal("auth workers: thread");
		p->nthreads++;
	}
	return p;
}

void
authd_pool_submit(struct authd_pool *p, struct authd_job *j)
{
	p->busy++;
	(void)pthread_mutex_lock(&p->mu);
	queue_put(&p->in_head, &p->in_tail, j);
	(void)pthread_cond_signal(&p->cv);
	(void)pthread_mutex_unlock(&p->mu);
}

unsigned int
authd_pool_busy(const struct authd_pool *p)
{
	return p->busy;
}

static void
jobs_wipe(struct authd_job *j)
{
	struct authd_job	*next;

	for (; j != NULL; j = next) {
		next = j->next;
		mem_wipe(j, sizeof(*j));
		free(j);
	}
}

void
authd_pool_free(struct authd_pool **pp)
{
	struct authd_pool	*p = *pp;
	unsigned int		 i;

	if (p == NULL)
		return;
	(void)pthread_mutex_lock(&p->mu);
	p->stopping = true;
	(void)pthread_cond_broadcast(&p->cv);
	(void)pthread_mutex_unlock(&p->mu);
	for (i = 0; i < p->nthreads; i++)
		(void)pthread_join(p->threads[i], NULL);
	jobs_wipe(p->in_head);
	jobs_wipe(p->out_head);
	event_io_del(&p->io);
	(void)close(p->pipe[0]);
	(void)close(p->pipe[1]);
	(void)pthread_mutex_destroy(&p->mu);
	(void)pthread_cond_destroy(&p->cv);
	free(p->threads);
	free(p);
	*pp = NULL;
}
