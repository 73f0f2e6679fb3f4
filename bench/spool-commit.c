/* SPDX-License-Identifier: MIT */
/*
 * spool-commit.c - how fast can the spool take mail, fsync on
 *
 * usage: spool-commit [-d DIR] [-n MESSAGES] [-s SIZE] [-b BATCH]
 *                     [-t SYNC_THREADS] [-c CONCURRENCY]
 *
 * Writes -n messages of -s bytes (1 recipient) through the enqueue API
 * into DIR (default: a fresh directory under the current one, removed at
 * the end; use the file system the spool will live on).  -b N commits N
 * messages at once with enqueue_commit_batch() (-t threads fsync the
 * files in parallel); -c N runs N independent writers, each committing
 * alone (the shape of N smtpd processes).  Prints commits/second, the
 * p50/p99/max latency of one commit call and the CPU time (user + system)
 * per message.
 */
#include <sys/resource.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "enqueue.h"
#include "log.h"
#include "mem.h"
#include "spool.h"
#include "str.h"

struct opts {
	const char	*dir;
	unsigned int	 n, size, batch, threads, conc;
};

struct worker {
	const struct opts *o;
	unsigned int	 n;
	double		*lat;		/* seconds per commit call */
	unsigned int	 nlat;
	int		 rc;
};

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *
run(void *arg)
{
	struct worker		*w = arg;
	const struct opts	*o = w->o;
	struct enqueue		*q;
	struct enqueue_msg	**m;
	struct spool_env	 env;
	struct fail		 f, *fails;
	char			*body;
	unsigned int		 done = 0, k, i;
	int			*rc;
	double			 t0;

	if (enqueue_open(o->dir, &q, &f) == -1) {
		fprintf(stderr, "enqueue_open: %s\n", f.text);
		w->rc = 1;
		return NULL;
	}
	enqueue_set_sync_threads(q, o->threads);
	m = xcalloc(o->batch, sizeof(*m));
	rc = xcalloc(o->batch, sizeof(*rc));
	fails = xcalloc(o->batch, sizeof(*fails));
	body = xmalloc(o->size);
	for (i = 0; i < o->size; i++)
		body[i] = (i % 72 == 70) ? '\r' : (i % 72 == 71) ? '\n' : 'x';
	spool_env_init(&env);
	spool_env_set(&env.sender, "bench@example.org");
	spool_env_set(&env.client_addr, "127.0.0.1");
	spool_env_set(&env.helo, "localhost");
	env.proto = SPOOL_PROTO_ESMTP;
	if (spool_env_add_rcpt(&env, "user@example.org", NULL, NULL, 0) == -1)
		fatalx("rcpt");
	while (done < w->n) {
		k = w->n - done < o->batch ? w->n - done : o->batch;
		for (i = 0; i < k; i++)
			if (enqueue_begin(q, &m[i], &f) == -1 ||
			    enqueue_envelope(m[i], &env, &f) == -1 ||
			    enqueue_write(m[i], body, o->size, &f) == -1)
				fatalx("enqueue: %s", f.text);
		t0 = now();
		if (enqueue_commit_batch(m, k, rc, fails) == -1)
			fatalx("commit: %s", fails[0].text);
		w->lat[w->nlat++] = now() - t0;
		done += k;
	}
	spool_env_release(&env);
	free(body);
	free(fails);
	free(rc);
	free(m);
	enqueue_close(&q);
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static unsigned int
num(const char *s, unsigned int max)
{
	unsigned int	 v;

	if (strnum_uint(s, 1, max, &v) == -1)
		fatalx("bad number '%s'", s);
	return v;
}

int
main(int argc, char **argv)
{
	struct opts	 o = { NULL, 2000, 4096, 1, 1, 1 };
	struct worker	*w;
	pthread_t	*tids;
	char		 tmpl[] = "./spool-bench.XXXXXX", cmd[600];
	struct rusage	 ru;
	double		 t0, el, cpu, *all;
	unsigned int	 i, j, nall = 0;
	int		 ch;

	log_init("spool-commit", false, LOG_LEVEL_WARN);
	while ((ch = getopt(argc, argv, "d:n:s:b:t:c:")) != -1) {
		switch (ch) {
		case 'd': o.dir = optarg; break;
		case 'n': o.n = num(optarg, 10000000); break;
		case 's': o.size = num(optarg, 100000000); break;
		case 'b': o.batch = num(optarg, 100000); break;
		case 't': o.threads = num(optarg, 32); break;
		case 'c': o.conc = num(optarg, 256); break;
		default:
			fprintf(stderr, "usage: spool-commit [-d DIR] [-n N] "
			    "[-s SIZE] [-b BATCH] [-t THREADS] [-c CONC]\n");
			return 2;
		}
	}
	if (o.dir == NULL && (o.dir = mkdtemp(tmpl)) == NULL)
		fatal("mkdtemp");
	w = xcalloc(o.conc, sizeof(*w));
	tids = xcalloc(o.conc, sizeof(*tids));
	for (i = 0; i < o.conc; i++) {
		w[i].o = &o;
		w[i].n = o.n / o.conc + (i < o.n % o.conc ? 1 : 0);
		w[i].lat = xcalloc(w[i].n + 1, sizeof(double));
	}
	t0 = now();
	for (i = 0; i < o.conc; i++)
		if (pthread_create(&tids[i], NULL, run, &w[i]) != 0)
			fatalx("pthread_create");
	for (i = 0; i < o.conc; i++)
		pthread_join(tids[i], NULL);
	el = now() - t0;
	getrusage(RUSAGE_SELF, &ru);
	cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	all = xcalloc(o.n + 1, sizeof(double));
	for (i = 0; i < o.conc; i++) {
		if (w[i].rc != 0)
			return 1;
		for (j = 0; j < w[i].nlat; j++)
			all[nall++] = w[i].lat[j];
		free(w[i].lat);
	}
	qsort(all, nall, sizeof(double), cmp_double);
	printf("messages=%u size=%u batch=%u sync_threads=%u writers=%u: "
	    "%.0f commits/s, commit call p50=%.2fms p99=%.2fms max=%.2fms, "
	    "cpu %.3fms/message\n",
	    o.n, o.size, o.batch, o.threads, o.conc, o.n / el,
	    all[nall / 2] * 1e3, all[nall * 99 / 100] * 1e3,
	    all[nall - 1] * 1e3, cpu * 1e3 / o.n);
	if (o.dir == tmpl) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tmpl);
	}
	free(all);
	free(tids);
	free(w);
	return 0;
}
