/* SPDX-License-Identifier: MIT */
/*
 * closer.c - the fd closer thread of the queue runner
 *
 * See struct fd_closer in runner.h: a workpool of one thread whose jobs
 * are close() calls and need no answer.
 */
#include <stdint.h>
#include <unistd.h>

#include "runner.h"
#include "workpool.h"

#define CLOSER_MAX	1024	/* fds waiting for the closer; beyond, the
				   runner closes them itself */

static void
close_work(void *arg)
{
	(void)close((int)(intptr_t)arg);
}

void
closer_start(struct fd_closer *c)
{
	c->pool = workpool_new(NULL, 1, CLOSER_MAX);
}

void
closer_stop(struct fd_closer *c)
{
	workpool_free(&c->pool);
}

void
closer_push(struct fd_closer *c, int fd)
{
	if (c->pool == NULL || workpool_submit(c->pool, close_work, NULL,
	    (void *)(intptr_t)fd) == -1)
		(void)close(fd);
}
