/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <criterion/criterion.h>
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

Test(auth_throttle, shared_between_processes)
{
	struct auth_throttle *t;
	uint64_t	 d;
	pid_t		 pid[2];
	int		 i, j, status;

	/* Two processes fail logins for one user at the same time. */
	for (j = 0; j < 2; j++) {
		if ((pid[j] = fork()) == 0) {
			t = topen();
			for (i = 0; i < 3; i++)
				if (auth_throttle_record(t, "192.0.2.9",
				    "carol", false) != 0)
					_exit(1);
			auth_throttle_close(&t);
			_exit(0);
		}
		cr_assert_gt(pid[j], 0);
	}
	for (j = 0; j < 2; j++) {
		cr_assert_eq(waitpid(pid[j], &status, 0), pid[j]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	t = topen();
	cr_assert_eq(auth_throttle_check(t, "203.0.113.5", "carol", &d),
	    AUTH_THROTTLE_REFUSE);
	auth_throttle_close(&t);
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
