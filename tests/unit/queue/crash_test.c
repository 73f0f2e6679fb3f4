/* SPDX-License-Identifier: MIT */
/*
 * crash_test.c - kill -9 of the runner in the middle of a 2,000-message
 * run, twice, then a restart: every message is in the mailbox at least
 * once (counted by Message-ID), the queue is empty
 */
#include <criterion/criterion.h>

#include <sys/wait.h>

#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mem.h"
#include "runner_util.h"
#include "str.h"

#define NMSG		2000
#define MAILDIR		"mail/example.test/alice/new"

TestSuite(crash, .init = rt_setup, .fini = rt_teardown, .timeout = 60);

/* Run a runner in a child; kill -9 it once the Maildir holds at least
 * `at` messages (or the queue is empty). */
static void
run_and_kill(size_t at)
{
	struct queue_runner	*r;
	struct timespec		 pause = { 0, 2 * 1000 * 1000 };
	pid_t			 pid;
	int			 status;

	if ((pid = fork()) == 0) {
		r = rt_runner();
		queue_runner_scan(r, false);
		for (;;)
			rt_drain(r);
	}
	cr_assert_neq(pid, -1);
	while (rt_count(MAILDIR) < at && rt_count("spool/queue") > 0)
		(void)nanosleep(&pause, NULL);
	cr_assert_eq(kill(pid, SIGKILL), 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status));
}

Test(crash, kill_9_loses_nothing)
{
	struct queue_runner	*r;
	struct str		 body;
	unsigned char		*seen;
	const char		*p;
	size_t			 i, n, dups = 0, missing = 0, files;
	uint64_t		 k;

	str_init(&body, 0);
	rt_enqueue_many("alice@example.test", "crash", NMSG);
	cr_assert_eq(rt_count("spool/queue"), NMSG);
	run_and_kill(NMSG / 4);
	run_and_kill(NMSG * 3 / 5);
	n = rt_count(MAILDIR);
	cr_log_info("after two kills: %zu files, %zu queued", n,
	    rt_count("spool/queue"));
	r = rt_runner();
	queue_runner_scan(r, false);
	rt_drain(r);
	queue_runner_free(&r);
	cr_assert_eq(rt_count("spool/queue"), 0);

	/* Count Message-IDs over every file of the Maildir. */
	seen = xcalloc(NMSG, 1);
	files = rt_count(MAILDIR);
	{
		char		 dir[PATH_MAX], file[PATH_MAX + 300];
		struct dirent	*de;
		DIR		*d;

		cr_assert(str_printf(dir, sizeof(dir), "%s/%s", rt_dir,
		    MAILDIR));
		cr_assert_not_null(d = opendir(dir));
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			cr_assert(str_printf(file, sizeof(file), "%s/%s",
			    MAILDIR, de->d_name));
			cr_assert_eq(rt_read(file, &body), 0);
			p = strstr(str_c(&body), "Message-ID: <crash.");
			cr_assert_not_null(p, "%s", file);
			cr_assert_eq(strnum_u64n(p + 19, strspn(p + 19,
			    "0123456789"), 0, NMSG - 1, &k), 0, "%s", file);
			if (seen[k]++ > 0)
				dups++;
		}
		closedir(d);
	}
	for (i = 0; i < NMSG; i++)
		if (seen[i] == 0)
			missing++;
	cr_log_info("files=%zu duplicates=%zu missing=%zu", files, dups,
	    missing);
	cr_assert_eq(missing, 0, "%zu messages lost", missing);
	cr_assert_eq(files, NMSG + dups);
	free(seen);
	str_release(&body);
}
