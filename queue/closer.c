/* SPDX-License-Identifier: MIT */
/*
 * closer.c - the fd closer thread of the queue runner
 *
 * See struct fd_closer in runner.h.
 */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "mem.h"
#include "runner.h"

#define CLOSER_MAX	1024	/* fds waiting for the closer; beyond, the
				   runner closes them itself */

static void *
closer_main(void *arg)
{
	struct fd_closer	*c = arg;
	int			*fds;
	size_t			 n, i;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (c->n == 0 && !c->quit)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->n == 0)
			break;		/* quit, nothing left */
		fds = c->fds;
		n = c->n;
		c->fds = NULL;
		c->n = c->cap = 0;
		pthread_mutex_unlock(&c->mu);
		for (i = 0; i < n; i++)
			(void)close(fds[i]);
		free(fds);
		pthread_mutex_lock(&c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* No thread: closer_push() closes inline. */
void
closer_start(struct fd_closer *c)
{
	if (pthread_mutex_init(&c->mu, NULL) != 0)
		return;
	if (pthread_cond_init(&c->cv, NULL) != 0) {
		pthread_mutex_destroy(&c->mu);
		return;
	}
	if (pthread_create(&c->tid, NULL, closer_main, c) != 0) {
		pthread_cond_destroy(&c->cv);
		pthread_mutex_destroy(&c->mu);
		return;
	}
	c->running = true;
}

/* Close every fd handed over, then end the thread. */
void
closer_stop(struct fd_closer *c)
{
	if (!c->running)
		return;
	pthread_mutex_lock(&c->mu);
	c->quit = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->tid, NULL);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c->fds);
	c->fds = NULL;
	c->running = false;
}

void
closer_push(struct fd_closer *c, int fd)
{
	bool	 queued = false;

	if (c->running) {
		pthread_mutex_lock(&c->mu);
		if (c->n < CLOSER_MAX) {
			if (c->n == c->cap) {
				c->cap = c->cap == 0 ? 64 : c->cap * 2;
				c->fds = xreallocarray(c->fds, c->cap,
				    sizeof(*c->fds));
			}
			c->fds[c->n++] = fd;
			queued = true;
			pthread_cond_signal(&c->cv);
		}
		pthread_mutex_unlock(&c->mu);
	}
	if (!queued)
		(void)close(fd);
}
