/* SPDX-License-Identifier: MIT */
/*
 * queue-delivery.c - enqueue to Maildir new/, end to end through queued
 *
 * usage: queue-delivery [-n MESSAGES] [-c WRITERS] [-u USERS] [-s SIZE]
 *                       [-w WORKERS] [-d DIR]
 *
 * Makes a state directory (under DIR, default the current one; removed at
 * the end) with domain bench.test and USERS Maildir users, starts the
 * queue runner in a child process (the code of buzon-queued, event loop
 * and all, with WORKERS delivery threads), and has WRITERS threads
 * enqueue MESSAGES messages of SIZE bytes, each committed alone with
 * fsync as smtpd does after DATA.  inotify on every new/ tells when a
 * message lands.  Prints messages/second (first commit to last file), the
 * latency from the end of a commit to its file in new/ (p50, p99, max),
 * and the runner's CPU time (user + system) per message.
 */
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "accounts.h"
#include "enqueue.h"
#include "event.h"
#include "log.h"
#include "mem.h"
#include "queued.h"
#include "spool.h"
#include "str.h"

#define MAXUSERS	64

struct opts {
	char		 state[PATH_MAX];
	unsigned int	 n, conc, users, size, workers;
};

static struct opts	 o;
static double		*committed;	/* per message, monotonic s */
static double		*landed;
static unsigned int	 next_msg;
static double		 enqueue_done;
static pthread_mutex_t	 mu = PTHREAD_MUTEX_INITIALIZER;

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
setup_state(void)
{
	struct accounts_conf	 ac;
	struct accounts_user	 u;
	char			 addr[64], err[256], path[PATH_MAX + 64];
	unsigned int		 i;

	memset(&ac, 0, sizeof(ac));
	ac.state_dir = o.state;
	if (accounts_domain_add(&ac, "bench.test", err, sizeof(err)) == -1)
		fatalx("domain: %s", err);
	for (i = 0; i < o.users; i++) {
		(void)str_printf(addr, sizeof(addr), "u%u@bench.test", i);
		accounts_user_init(&u, addr);
		if (accounts_user_add(&ac, &u, err, sizeof(err)) == -1)
			fatalx("user: %s", err);
		(void)str_printf(path, sizeof(path), "%s/mail", o.state);
		(void)mkdir(path, 0700);
		(void)str_printf(path, sizeof(path), "%s/mail/bench.test",
		    o.state);
		(void)mkdir(path, 0700);
		(void)str_printf(path, sizeof(path), "%s/mail/bench.test/u%u",
		    o.state, i);
		(void)mkdir(path, 0700);
		(void)str_printf(path, sizeof(path),
		    "%s/mail/bench.test/u%u/new", o.state, i);
		(void)mkdir(path, 0700);
		(void)str_printf(path, sizeof(path),
		    "%s/mail/bench.test/u%u/cur", o.state, i);
		(void)mkdir(path, 0700);
		(void)str_printf(path, sizeof(path),
		    "%s/mail/bench.test/u%u/tmp", o.state, i);
		(void)mkdir(path, 0700);
	}
}

static void
on_term(int signo, void *arg)
{
	(void)signo;
	event_loop_break(arg);
}

static void
run_queued(void)
{
	struct queue_conf	 c;
	struct queue_runner	*r;
	struct event_loop	*loop;
	struct fail		 f;

	memset(&c, 0, sizeof(c));
	c.state_dir = xstrdup(o.state);
	c.hostname = xstrdup("bench.test");
	c.workers = o.workers;
	c.retry_min = 300;
	c.retry_max = 3600;
	c.max_lifetime = 5 * 86400;
	c.double_bounce = xstrdup("postmaster");
	c.scan_interval_ms = 60000;
	c.map_type = xstrdup("hash");
	c.recipient_delimiter = xstrdup("+");
	log_set_level(getenv("BENCH_LOG") != NULL ? LOG_LEVEL_INFO :
	    LOG_LEVEL_WARN);
	if ((loop = event_loop_new()) == NULL)
		fatalx("event loop");
	if ((r = queue_runner_new(&c, &f)) == NULL)
		fatalx("runner: %s", f.text);
	if (event_signal_add(loop, SIGTERM, on_term, loop) == -1 ||
	    queue_runner_start(r, loop) == -1)
		fatalx("runner start");
	(void)write(STDOUT_FILENO, "", 0);
	(void)event_loop_run(loop);
	queue_runner_stop(r);
	queue_runner_free(&r);
	event_loop_free(&loop);
	queue_conf_release(&c);
	_exit(0);
}

static void *
writer(void *arg)
{
	struct enqueue		*q;
	struct enqueue_msg	*m;
	struct spool_env	 env;
	struct fail		 f;
	struct str		 body;
	char			 rcpt[64];
	unsigned int		 i;

	(void)arg;
	if (enqueue_open(o.state, &q, &f) == -1)
		fatalx("enqueue_open: %s", f.text);
	str_init(&body, 0);
	for (;;) {
		pthread_mutex_lock(&mu);
		i = next_msg < o.n ? next_msg++ : o.n;
		pthread_mutex_unlock(&mu);
		if (i == o.n)
			break;
		str_clear(&body);
		if (str_appendf(&body, "X-Bench-Seq: %u\r\nSubject: bench\r\n"
		    "\r\n", i) == -1)
			fatalx("body");
		while (body.len + 2 < o.size)
			if (str_append_str(&body, "0123456789012345678901234"
			    "5678901234567890123456789012345678901234567\r\n")
			    == -1)
				fatalx("body");
		(void)str_printf(rcpt, sizeof(rcpt), "u%u@bench.test",
		    i % o.users);
		spool_env_init(&env);
		spool_env_set(&env.sender, "sender@remote.test");
		if (spool_env_add_rcpt(&env, rcpt, "", "", 0) == -1 ||
		    enqueue_begin(q, &m, &f) == -1 ||
		    enqueue_envelope(m, &env, &f) == -1 ||
		    enqueue_write(m, body.data, body.len, &f) == -1 ||
		    enqueue_commit(&m, &f) == -1)
			fatalx("enqueue: %s", f.text);
		committed[i] = now();
		spool_env_release(&env);
	}
	str_release(&body);
	enqueue_close(&q);
	pthread_mutex_lock(&mu);
	if (now() > enqueue_done)
		enqueue_done = now();
	pthread_mutex_unlock(&mu);
	return NULL;
}

/* The digits at s, up to the line end. */
static int
strnum_uint_prefix(const char *s, unsigned int *r)
{
	char	 digits[16];
	size_t	 len = strspn(s, "0123456789");

	if (len == 0 || len >= sizeof(digits))
		return -1;
	memcpy(digits, s, len);
	digits[len] = '\0';
	return strnum_uint(digits, 0, UINT_MAX, r);
}

/* Wait for every message to land; read each new file's sequence. */
static void
watch(int ifd, const int *wd, const char (*dirs)[PATH_MAX])
{
	char			 buf[64 * 1024], path[PATH_MAX * 2], head[512];
	const struct inotify_event *ev;
	unsigned int		 got = 0, u, seq;
	ssize_t			 n, k;
	char			*p, *q;
	int			 fd;

	while (got < o.n) {
		if ((n = read(ifd, buf, sizeof(buf))) <= 0)
			fatal("inotify read");
		for (p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)(void *)p;
			if (ev->len == 0)
				continue;
			for (u = 0; u < o.users && wd[u] != ev->wd; u++)
				continue;
			if (u == o.users)
				continue;
			(void)str_printf(path, sizeof(path), "%s/%s", dirs[u],
			    ev->name);
			if ((fd = open(path, O_RDONLY)) == -1)
				continue;
			k = read(fd, head, sizeof(head) - 1);
			close(fd);
			if (k <= 0)
				continue;
			head[k] = '\0';
			if ((q = strstr(head, "X-Bench-Seq: ")) == NULL ||
			    strnum_uint_prefix(q + 13, &seq) == -1 ||
			    seq >= o.n)
				fatalx("bad file %s", path);
			if (landed[seq] == 0) {
				landed[seq] = now();
				got++;
			}
		}
	}
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	char		 dirs[MAXUSERS][PATH_MAX], cmd[PATH_MAX + 16];
	const char	*base = ".";
	int		 ch, ifd, wd[MAXUSERS], status;
	unsigned int	 i;
	pthread_t	*th;
	pid_t		 pid;
	struct rusage	 ru;
	double		 t0, t1, *lat, cpu;

	o.n = 2000;
	o.conc = 4;
	o.users = 10;
	o.size = 4096;
	o.workers = 4;
	while ((ch = getopt(argc, argv, "n:c:u:s:w:d:")) != -1) {
		switch (ch) {
		case 'n':
		case 'c':
		case 'u':
		case 's':
		case 'w':
			if (strnum_uint(optarg, 1, 10000000, &i) == -1)
				fatalx("bad -%c", ch);
			if (ch == 'n')
				o.n = i;
			else if (ch == 'c')
				o.conc = i;
			else if (ch == 'u')
				o.users = i > MAXUSERS ? MAXUSERS : i;
			else if (ch == 's')
				o.size = i;
			else
				o.workers = i;
			break;
		case 'd':
			base = optarg;
			break;
		default:
			fprintf(stderr, "usage: queue-delivery [-n MESSAGES] "
			    "[-c WRITERS] [-u USERS] [-s SIZE] [-w WORKERS] "
			    "[-d DIR]\n");
			return 2;
		}
	}
	log_init("queue-delivery", false, LOG_LEVEL_WARN);
	signal(SIGXFSZ, SIG_IGN);
	(void)str_printf(o.state, sizeof(o.state), "%s/qbench.XXXXXX", base);
	if (mkdtemp(o.state) == NULL)
		fatal("mkdtemp");
	setup_state();
	committed = xcalloc(o.n, sizeof(double));
	landed = xcalloc(o.n, sizeof(double));
	if ((ifd = inotify_init1(IN_CLOEXEC)) == -1)
		fatal("inotify");
	for (i = 0; i < o.users; i++) {
		(void)str_printf(dirs[i], sizeof(dirs[i]),
		    "%s/mail/bench.test/u%u/new", o.state, i);
		if ((wd[i] = inotify_add_watch(ifd, dirs[i], IN_MOVED_TO |
		    IN_CREATE)) == -1)
			fatal("inotify_add_watch %s", dirs[i]);
	}
	if ((pid = fork()) == 0)
		run_queued();
	usleep(200 * 1000);		/* let it bind its socket */
	t0 = now();
	th = xcalloc(o.conc, sizeof(*th));
	for (i = 0; i < o.conc; i++)
		if (pthread_create(&th[i], NULL, writer, NULL) != 0)
			fatalx("pthread_create");
	watch(ifd, wd, (const char (*)[PATH_MAX])dirs);
	t1 = now();
	for (i = 0; i < o.conc; i++)
		pthread_join(th[i], NULL);
	(void)kill(pid, SIGTERM);
	(void)waitpid(pid, &status, 0);
	(void)getrusage(RUSAGE_CHILDREN, &ru);
	cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	lat = xcalloc(o.n, sizeof(double));
	for (i = 0; i < o.n; i++)
		lat[i] = landed[i] > committed[i] && committed[i] > 0 ?
		    landed[i] - committed[i] : 0;
	qsort(lat, o.n, sizeof(double), cmp_double);
	printf("messages=%u size=%u writers=%u users=%u workers=%u\n", o.n,
	    o.size, o.conc, o.users, o.workers);
	printf("throughput %.0f msg/s (%.2f s)\n", o.n / (t1 - t0), t1 - t0);
	printf("enqueue alone %.0f msg/s (%.2f s)\n", o.n / (enqueue_done -
	    t0), enqueue_done - t0);
	printf("commit->new/ latency p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
	    lat[o.n / 2] * 1000, lat[(size_t)o.n * 99 / 100] * 1000,
	    lat[o.n - 1] * 1000);
	printf("queued CPU %.3f ms/message\n", cpu * 1000 / o.n);
	(void)str_printf(cmd, sizeof(cmd), "rm -rf '%s'", o.state);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", o.state);
	free(lat);
	free(th);
	free(committed);
	free(landed);
	return 0;
}
