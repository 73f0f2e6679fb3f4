/* SPDX-License-Identifier: MIT */
/*
 * queue_ctl_test.c - hold, release, delete, bounce, retry, flush, with and
 * without a runner, and under a runner's lock
 */
#include <criterion/criterion.h>

#include <sys/file.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "queue_ctl.h"
#include "runner_util.h"
#include "spool.h"
#include "str.h"

TestSuite(queue_ctl, .init = rt_setup, .fini = rt_teardown);

static const char msg1[] = "Subject: x\r\n\r\nbody\r\n";

static void
enqueue_to(const char *rcpt, char *id)
{
	const char	*rcpts[] = { rcpt, NULL };

	rt_enqueue("alice@example.test", rcpts, 0, msg1, id);
}

Test(queue_ctl, hold_then_release_delivers)
{
	struct queue_runner	*r = rt_runner();
	char			 id[SPOOL_ID_LEN + 1], err[256];
	bool			 notified;

	enqueue_to("bob@example.test", id);
	cr_assert_eq(queue_ctl_hold(rt_dir, id, err, sizeof(err)), 1, "%s",
	    err);
	cr_assert_eq(rt_count("spool/hold"), 1);
	cr_assert_eq(rt_count("spool/queue"), 0);
	rt_drain(r);		/* the id from enqueue finds nothing */
	cr_assert_eq(rt_count("mail/example.test/bob/new"), 0);
	cr_assert_eq(queue_ctl_hold(rt_dir, id, err, sizeof(err)), 0);
	cr_assert_eq(queue_ctl_release(rt_dir, id, &notified, err,
	    sizeof(err)), 1, "%s", err);
	cr_assert(notified);
	rt_drain(r);
	cr_assert_eq(rt_count("mail/example.test/bob/new"), 1);
	cr_assert_eq(rt_count("spool/hold"), 0);
	cr_assert_eq(rt_count("spool/queue"), 0);
	queue_runner_free(&r);
}

Test(queue_ctl, hold_all_release_all)
{
	char	 err[256];
	bool	 notified = true;
	int	 i;

	for (i = 0; i < 5; i++)
		enqueue_to("bob@example.test", NULL);
	cr_assert_eq(queue_ctl_hold(rt_dir, "ALL", err, sizeof(err)), 5);
	cr_assert_eq(rt_count("spool/hold"), 5);
	cr_assert_eq(queue_ctl_release(rt_dir, "ALL", &notified, err,
	    sizeof(err)), 5);
	cr_assert(!notified, "no runner listens");
	cr_assert_eq(rt_count("spool/queue"), 5);
}

Test(queue_ctl, delete_one_and_all)
{
	struct queue_runner	*r = rt_runner();
	char			 id[SPOOL_ID_LEN + 1], err[256];

	enqueue_to("tiny@example.test", id);	/* deferred: has a log */
	rt_drain(r);
	cr_assert_eq(rt_count("spool/status"), 1);
	cr_assert_eq(queue_ctl_delete(rt_dir, id, err, sizeof(err)), 1);
	cr_assert_eq(rt_count("spool/queue"), 0);
	cr_assert_eq(rt_count("spool/status"), 0);
	cr_assert_eq(queue_ctl_delete(rt_dir, id, err, sizeof(err)), 0);
	cr_assert_eq(queue_ctl_delete(rt_dir, "../../etc", err,
	    sizeof(err)), 0);
	enqueue_to("bob@example.test", NULL);
	enqueue_to("bob@example.test", id);
	cr_assert_eq(queue_ctl_hold(rt_dir, id, err, sizeof(err)), 1);
	cr_assert_eq(queue_ctl_delete(rt_dir, "ALL", err, sizeof(err)), 2);
	cr_assert_eq(rt_count("spool/queue") + rt_count("spool/hold"), 0);
	rt_drain(r);
	cr_assert_eq(rt_count("mail/example.test/bob/new"), 0);
	queue_runner_free(&r);
}

Test(queue_ctl, bounce_returns_to_sender)
{
	struct queue_runner	*r = rt_runner();
	char			 id[SPOOL_ID_LEN + 1], err[256];
	struct str		 got;
	bool			 notified;

	str_init(&got, 0);
	enqueue_to("tiny@example.test", id);
	rt_drain(r);
	cr_assert_eq(rt_count("spool/queue"), 1);
	cr_assert_eq(queue_ctl_bounce(rt_dir, id, &notified, err,
	    sizeof(err)), 1, "%s", err);
	cr_assert(notified);
	rt_drain(r);
	cr_assert_eq(rt_count("spool/queue"), 0);
	cr_assert_eq(rt_count("spool/status"), 0);
	cr_assert_eq(rt_find_file("mail/example.test/alice/new", NULL, &got),
	    1);
	cr_assert_not_null(strstr(str_c(&got), "Status: 5.0.0\n"));
	cr_assert_not_null(strstr(str_c(&got),
	    "bounced by the administrator"));
	str_release(&got);
	queue_runner_free(&r);
}

Test(queue_ctl, bounce_a_held_message)
{
	char	 id[SPOOL_ID_LEN + 1], err[256];
	bool	 notified = true;
	struct queue_runner *r;

	enqueue_to("bob@example.test", id);
	cr_assert_eq(queue_ctl_hold(rt_dir, id, err, sizeof(err)), 1);
	cr_assert_eq(queue_ctl_bounce(rt_dir, id, &notified, err,
	    sizeof(err)), 1, "%s", err);
	cr_assert(!notified);
	/* The runner, started later, sends the DSN and nothing to bob. */
	r = rt_runner();
	queue_runner_scan(r, false);
	rt_drain(r);
	cr_assert_eq(rt_count("mail/example.test/bob/new"), 0);
	cr_assert_eq(rt_count("mail/example.test/alice/new"), 1);
	cr_assert_eq(rt_count("spool/queue") + rt_count("spool/hold"), 0);
	queue_runner_free(&r);
}

Test(queue_ctl, retry_ignores_the_backoff)
{
	struct queue_runner	*r = rt_runner();
	struct spool_rcpt_status st;
	char			 id[SPOOL_ID_LEN + 1], err[256], path[128];
	bool			 notified;
	bool			 torn;
	int			 fd;

	enqueue_to("tiny@example.test", id);
	rt_drain(r);
	cr_assert_eq(queue_runner_round(r, (uint64_t)time(NULL)), 0);
	cr_assert_eq(queue_ctl_retry(rt_dir, id, &notified, err,
	    sizeof(err)), 1);
	cr_assert(notified);
	rt_drain(r);
	cr_assert(str_printf(path, sizeof(path), "%s/spool/status", rt_dir));
	fd = open(path, O_RDONLY | O_DIRECTORY);
	memset(&st, 0, sizeof(st));
	cr_assert_eq(spool_status_load(fd, id, &st, 1, &torn, err,
	    sizeof(err)), 0);
	close(fd);
	cr_assert_eq(st.attempts, 2);
	cr_assert_eq(queue_ctl_retry(rt_dir, "0000000000000000", &notified,
	    err, sizeof(err)), 0);
	cr_assert_eq(queue_ctl_hold(rt_dir, id, err, sizeof(err)), 1);
	cr_assert_eq(queue_ctl_retry(rt_dir, id, &notified, err,
	    sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "held"));
	queue_runner_free(&r);
}

Test(queue_ctl, flush_reaches_the_runner)
{
	struct queue_runner	*r;
	char			 err[256];
	bool			 notified = true;

	cr_assert_eq(queue_ctl_flush(rt_dir, &notified, err, sizeof(err)), 0);
	cr_assert(!notified);
	r = rt_runner();
	cr_assert_eq(queue_ctl_flush(rt_dir, &notified, err, sizeof(err)), 0);
	cr_assert(notified);
	queue_runner_free(&r);
}

Test(queue_ctl, waits_for_the_runners_lock)
{
	char		 id[SPOOL_ID_LEN + 1], err[256], path[128];
	struct timespec	 a, b;
	pid_t		 pid;
	int		 fd, p[2], status;
	char		 c;

	enqueue_to("bob@example.test", id);
	cr_assert(str_printf(path, sizeof(path), "%s/spool/queue/%s", rt_dir,
	    id));
	cr_assert_eq(pipe(p), 0);
	if ((pid = fork()) == 0) {
		fd = open(path, O_RDONLY);
		(void)flock(fd, LOCK_EX);
		(void)write(p[1], "x", 1);
		usleep(300 * 1000);
		_exit(0);
	}
	cr_assert_eq(read(p[0], &c, 1), 1);
	clock_gettime(CLOCK_MONOTONIC, &a);
	cr_assert_eq(queue_ctl_hold(rt_dir, id, err, sizeof(err)), 1, "%s",
	    err);
	clock_gettime(CLOCK_MONOTONIC, &b);
	cr_assert_geq((b.tv_sec - a.tv_sec) * 1000 +
	    (b.tv_nsec - a.tv_nsec) / 1000000, 200);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert_eq(rt_count("spool/hold"), 1);
}
