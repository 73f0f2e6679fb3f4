/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth.h"
#include "str.h"

static char	 dir[64];
static char	 path[128];
static const struct auth_throttle_conf conf = {
	.failure_delay = 100, .max_delay = 800, .max_failures = 5,
	.lockout_time = 300,
};

static void
setup(void)
{
	(void)str_copy(dir, "/tmp/thr_test.XXXXXX", sizeof(dir));
	cr_assert_not_null(mkdtemp(dir));
	cr_assert(str_printf(path, sizeof(path), "%s/auth_throttle", dir));
}

static void
teardown(void)
{
	(void)unlink(path);
	(void)rmdir(dir);
}

TestSuite(auth_throttle, .init = setup, .fini = teardown);

static struct auth_throttle *
topen(void)
{
	struct auth_throttle *t;
	char	 err[256];

	t = auth_throttle_open(path, &conf, err, sizeof(err));
	cr_assert_not_null(t, "%s", err);
	return t;
}

Test(auth_throttle, growing_delay_then_refusal)
{
	struct auth_throttle *t = topen();
	uint64_t	 d = 99;
	int		 i;
	static const uint64_t want[] = { 0, 100, 200, 400, 800 };

	for (i = 0; i < 5; i++) {
		cr_assert_eq(auth_throttle_check(t, "192.0.2.7",
		    "alice@example.test", &d), AUTH_THROTTLE_OK);
		cr_assert_eq(d, want[i], "after %d failures: %llu", i,
		    (unsigned long long)d);
		cr_assert_eq(auth_throttle_record(t, "192.0.2.7",
		    "alice@example.test", false), 0);
	}
	cr_assert_eq(auth_throttle_check(t, "192.0.2.7", "ALICE@example.test",
	    &d), AUTH_THROTTLE_REFUSE);
	/* Another user from another address is not affected. */
	cr_assert_eq(auth_throttle_check(t, "192.0.2.8", "bob@example.test",
	    &d), AUTH_THROTTLE_OK);
	cr_assert_eq(d, 0);
	/* The same user from elsewhere is (the counter is per user). */
	cr_assert_eq(auth_throttle_check(t, "198.51.100.1",
	    "alice@example.test", &d), AUTH_THROTTLE_REFUSE);
	/* The lockout ends lockout_time after the last failure. */
	usleep(320 * 1000);
	cr_assert_eq(auth_throttle_check(t, "192.0.2.7", "alice@example.test",
	    &d), AUTH_THROTTLE_OK);
	cr_assert_eq(d, 0);
	auth_throttle_close(&t);
	cr_assert_null(t);
}

Test(auth_throttle, success_clears_user_not_ip)
{
	struct auth_throttle *t = topen();
	uint64_t	 d;

	cr_assert_eq(auth_throttle_record(t, "192.0.2.7", "a", false), 0);
	cr_assert_eq(auth_throttle_record(t, "192.0.2.7", "a", false), 0);
	cr_assert_eq(auth_throttle_record(t, "192.0.2.7", "a", true), 0);
	cr_assert_eq(auth_throttle_check(t, NULL, "a", &d), AUTH_THROTTLE_OK);
	cr_assert_eq(d, 0);
	cr_assert_eq(auth_throttle_check(t, "192.0.2.7", "", &d),
	    AUTH_THROTTLE_OK);
	cr_assert_eq(d, 200);
	auth_throttle_close(&t);
}

Test(auth_throttle, ip_limit_is_higher)
{
	struct auth_throttle *t = topen();
	char		 user[32];
	uint64_t	 d;
	int		 i;

	/* Many users from one address: refused at 3 x max_failures. */
	for (i = 0; i < 14; i++) {
		cr_assert(str_printf(user, sizeof(user), "u%d", i));
		cr_assert_eq(auth_throttle_record(t, "2001:db8::1", user,
		    false), 0);
	}
	cr_assert_eq(auth_throttle_check(t, "2001:db8::1", "new", &d),
	    AUTH_THROTTLE_OK);
	cr_assert_eq(d, 800);
	cr_assert_eq(auth_throttle_record(t, "2001:db8::1", "u99", false), 0);
	cr_assert_eq(auth_throttle_check(t, "2001:db8::1", "new", &d),
	    AUTH_THROTTLE_REFUSE);
	auth_throttle_close(&t);
}

/* No failure may be lost when many record at once: the count must reach
 * max_failures exactly.  (A clock read before waiting for the lock used
 * to wrap "now - last_fail" and reset the counter.) */
static const struct auth_throttle_conf conf_race = {
	.failure_delay = 1, .max_delay = 8, .max_failures = 40,
	.lockout_time = 600000,
};

static void
record_n(int n)
{
	struct auth_throttle *t;
	char	 err[256];
	int	 i;

	t = auth_throttle_open(path, &conf_race, err, sizeof(err));
	if (t == NULL)
		_exit(2);
	for (i = 0; i < n; i++)
		if (auth_throttle_record(t, "192.0.2.10", "dave", false) != 0)
			_exit(1);
	auth_throttle_close(&t);
}

static void
assert_count_is_max(void)
{
	struct auth_throttle *t;
	char	 err[256];
	uint64_t d;

	t = auth_throttle_open(path, &conf_race, err, sizeof(err));
	cr_assert_not_null(t, "%s", err);
	cr_assert_eq(auth_throttle_check(t, NULL, "dave", &d),
	    AUTH_THROTTLE_REFUSE, "a failure was lost");
	auth_throttle_close(&t);
}

Test(auth_throttle, no_lost_update_between_processes)
{
	pid_t	 pid[4];
	int	 j, status;

	for (j = 0; j < 4; j++) {
		if ((pid[j] = fork()) == 0) {
			record_n(10);
			_exit(0);
		}
		cr_assert_gt(pid[j], 0);
	}
	for (j = 0; j < 4; j++) {
		cr_assert_eq(waitpid(pid[j], &status, 0), pid[j]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_count_is_max();
}

static struct auth_throttle *shared_t;

static void *
thread_record(void *arg)
{
	int	 i;

	(void)arg;
	for (i = 0; i < 10; i++)
		if (auth_throttle_record(shared_t, "192.0.2.11", "dave",
		    false) != 0)
			return (void *)1;
	return NULL;
}

Test(auth_throttle, no_lost_update_between_threads)
{
	pthread_t th[4];
	void	*rv;
	char	 err[256];
	int	 j;

	/* smtpd checks passwords on worker threads sharing one handle. */
	shared_t = auth_throttle_open(path, &conf_race, err, sizeof(err));
	cr_assert_not_null(shared_t, "%s", err);
	for (j = 0; j < 4; j++)
		cr_assert_eq(pthread_create(&th[j], NULL, thread_record, NULL),
		    0);
	for (j = 0; j < 4; j++) {
		cr_assert_eq(pthread_join(th[j], &rv), 0);
		cr_assert_null(rv);
	}
	auth_throttle_close(&shared_t);
	assert_count_is_max();
}

Test(auth_throttle, bad_file_is_rebuilt)
{
	struct auth_throttle *t;
	FILE		*fp;
	uint64_t	 d;

	fp = fopen(path, "w");
	cr_assert_not_null(fp);
	fputs("garbage", fp);
	fclose(fp);
	t = topen();
	cr_assert_eq(auth_throttle_check(t, "192.0.2.1", "x", &d),
	    AUTH_THROTTLE_OK);
	cr_assert_eq(d, 0);
	auth_throttle_close(&t);
}

Test(auth_throttle, unopenable_path)
{
	char	 err[256];

	cr_assert_null(auth_throttle_open("/nonexistent/dir/x", &conf, err,
	    sizeof(err)));
	cr_assert(strstr(err, "/nonexistent/dir/x") != NULL);
}
