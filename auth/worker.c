/* SPDX-License-Identifier: MIT */
/*
 * worker.c - the threads buzon-auth hashes on
 *
 * A common/workpool of auth_worker_threads threads: the work is the
 * check itself (the worker touches only the job it holds and wipes its
 * secret), the answer comes back on the loop through authd_job_done().
 */
#include "settings.h"

#include <errno.h>
#include <stdlib.h>

#include "auth.h"
#include "authd.h"
#include "log.h"
#include "mem.h"
#include "workpool.h"

/* Checks queued or running at once; beyond, requests get TEMP. */
#define AUTHD_POOL_JOBS_MAX	4096

struct authd_pool {
	struct authd		*srv;
	struct workpool		*wp;
	unsigned int		 busy;		/* submitted, not back */
};

struct authd_pool_job {
	struct authd_pool	*p;
	struct authd_job	*j;
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
job_work(void *arg)
{
	struct authd_pool_job	*pj = arg;

	authd_job_check(pj->j);
}

static void
job_done(void *arg)
{
	struct authd_pool_job	*pj = arg;
	struct authd_pool	*p = pj->p;
	struct authd_job	*j = pj->j;

	free(pj);
	p->busy--;
	authd_job_done(p->srv, j);
}

struct authd_pool *
authd_pool_new(struct authd *srv, unsigned int nthreads)
{
	struct authd_pool	*p = xcalloc(1, sizeof(*p));

	p->srv = srv;
	if ((p->wp = workpool_new(srv->loop, nthreads,
	    AUTHD_POOL_JOBS_MAX)) == NULL)
		fatal("auth workers");
	return p;
}

int
authd_pool_submit(struct authd_pool *p, struct authd_job *j)
{
	struct authd_pool_job	*pj = xmalloc(sizeof(*pj));

	pj->p = p;
	pj->j = j;
	if (workpool_submit(p->wp, job_work, job_done, pj) == -1) {
		free(pj);
		return -1;
	}
	p->busy++;
	return 0;
}

unsigned int
authd_pool_busy(const struct authd_pool *p)
{
	return p->busy;
}

void
authd_pool_free(struct authd_pool **pp)
{
	struct authd_pool	*p = *pp;

	if (p == NULL)
		return;
	/* Called with no job out (authd_shutdown() waits for busy == 0),
	 * so no done() runs from here. */
	workpool_free(&p->wp);
	free(p);
	*pp = NULL;
}
