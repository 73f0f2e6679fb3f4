/* SPDX-License-Identifier: MIT */
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
static uint64_t	 fake_ms = 1700000000000ULL;

static uint64_t
fake_clock(void)
{
	return fake_ms;
}

/* The shipped defaults (buzon.conf(5)), on the injected clock. */
static const struct auth_throttle_conf conf = {
	.failure_delay = 2000, .max_delay = 15000, .penalty_time = 30000,
	.address_max_failures = 100, .clock = fake_clock,
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
topen_with(const struct auth_throttle_conf *c)
{
	struct auth_throttle *t;
	char	 err[256];

	t = auth_throttle_open(path, c, err, sizeof(err));
	cr_assert_not_null(t, "%s", err);
	return t;
}

static struct auth_throttle *
topen(void)
{
	return topen_with(&conf);
}

/* One attempt: reserve, then finish; returns the delay (or UINT64_MAX
 * when refused).  The client waits the delay when wait is set. */
static uint64_t
attempt(struct auth_throttle *t, const char *ip, const char *account,
    bool ok, bool wait)
{
	struct auth_throttle_ticket tk;
	int	 r;

	r = auth_throttle_reserve(t, ip, account, true, &tk);
	cr_assert(r == AUTH_THROTTLE_OK || r == AUTH_THROTTLE_REFUSE);
	if (r == AUTH_THROTTLE_REFUSE)
		return UINT64_MAX;
	if (wait)
		fake_ms += tk.delay_ms;
	cr_assert_eq(auth_throttle_finish(t, &tk, ok), 0);
	return tk.delay_ms;
}

Test(auth_throttle, delay_grows_like_dovecot)
{
	struct auth_throttle *t = topen();
	static const uint64_t want[] = { 0, 2000, 4000, 8000, 15000, 15000,
	    15000, 15000, 15000, 15000 };
	size_t	 i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_assert_eq(attempt(t, "192.0.2.7", "alice@example.test",
		    false, true), want[i], "attempt %zu", i + 1);
	auth_throttle_close(&t);
}

Test(auth_throttle, delay_formula_bounds)
{
	cr_assert_eq(auth_throttle_delay(&conf, 0), 0);
	cr_assert_eq(auth_throttle_delay(&conf, 1), 2000);
	cr_assert_eq(auth_throttle_delay(&conf, 3), 8000);
	cr_assert_eq(auth_throttle_delay(&conf, 4), 15000);	/* 16 s capped */
	cr_assert_eq(auth_throttle_delay(&conf, UINT32_MAX), 15000);
}

/* The classroom: ten failures for one user, then correct logins. */
Test(auth_throttle, others_are_not_slowed)
{
	struct auth_throttle *t = topen();
	int	 i;

	for (i = 0; i < 10; i++)
		(void)attempt(t, "127.0.0.1", "alice@example.test", false,
		    true);
	/* Another user from the same address: at once. */
	cr_assert_eq(attempt(t, "127.0.0.1", "bob@example.test", true,
	    false), 0);
	/* The same user from elsewhere: at once (no lockout to hand out). */
	cr_assert_eq(attempt(t, "198.51.100.1", "alice@example.test", true,
	    false), 0);
	/* The same user from there: within max_delay, and then clear. */
	cr_assert_leq(attempt(t, "127.0.0.1", "alice@example.test", true,
	    true), 15000);
	cr_assert_eq(attempt(t, "127.0.0.1", "alice@example.test", true,
	    false), 0);
	auth_throttle_close(&t);
}

Test(auth_throttle, penalty_fades)
{
	struct auth_throttle *t = topen();
	int	 i;

	for (i = 0; i < 10; i++)
		(void)attempt(t, "127.0.0.1", "alice@example.test", false,
		    true);
	/* One ms short of penalty_time: still counted (the next wait after
	 * one more failure is the full 15 s). */
	fake_ms += 29999;
	cr_assert_eq(attempt(t, "127.0.0.1", "alice@example.test", false,
	    false), 0);
	cr_assert_eq(attempt(t, "127.0.0.1", "alice@example.test", false,
	    false), 15000);
	/* Quiet for penalty_time since that last answer: forgotten. */
	fake_ms += 15000 + 30000;
	cr_assert_eq(attempt(t, "127.0.0.1", "alice@example.test", false,
	    false), 0);
	cr_assert_eq(attempt(t, "127.0.0.1", "alice@example.test", false,
	    false), 2000);
	auth_throttle_close(&t);
}

/* Attempts are counted when reserved.  A pair with no failure on record
 * lets five through at once (a client opening several connections);
 * past them parallel ones queue on the schedule the burst set, and are
 * refused past max_delay. */
Test(auth_throttle, parallel_attempts_burst_then_refuse)
{
	static const struct auth_throttle_conf c = {
		.failure_delay = 1000, .max_delay = 3000,
		.penalty_time = 30000, .clock = fake_clock,
	};
	struct auth_throttle *t = topen_with(&c);
	struct auth_throttle_ticket tk[5], extra;
	int	 i;

	for (i = 0; i < 5; i++) {
		cr_assert_eq(auth_throttle_reserve(t, "192.0.2.1", "a@x.test",
		    true, &tk[i]), AUTH_THROTTLE_OK);
		cr_assert_eq(tk[i].delay_ms, 0, "attempt %d", i);
		cr_assert(tk[i].is_burst);
	}
	/* One over the burst waits the schedule the fifth set (3 s, at the
	 * limit); two over, and far over, would wait 6 s: refused. */
	cr_assert_eq(auth_throttle_reserve(t, "192.0.2.1", "a@x.test", true,
	    &extra), AUTH_THROTTLE_OK);
	cr_assert_not(extra.is_burst);
	cr_assert_eq(extra.delay_ms, 3000);
	for (i = 0; i < 100; i++)
		cr_assert_eq(auth_throttle_reserve(t, "192.0.2.1", "a@x.test",
		    true, &extra), AUTH_THROTTLE_REFUSE);
	/* All five were wrong: each failure keeps the pair on schedule. */
	for (i = 0; i < 5; i++)
		cr_assert_eq(auth_throttle_finish(t, &tk[i], false), 0);
	cr_assert_eq(attempt(t, "192.0.2.1", "a@x.test", false, false),
	    UINT64_MAX);
	/* Refusals are not counted: once the schedule has drained, one
	 * more is answered then, and the next waits the capped delay. */
	fake_ms += 12000;
	cr_assert_eq(attempt(t, "192.0.2.1", "a@x.test", false, true), 0);
	cr_assert_eq(attempt(t, "192.0.2.1", "a@x.test", false, false), 3000);
	auth_throttle_close(&t);
}

/* Five connections of one user at once (a mail client, a phone and a
 * laptop behind one address): none waits, and once they are in the pair
 * is clean again. */
Test(auth_throttle, one_user_connecting_five_times_at_once_waits_not)
{
	struct auth_throttle *t = topen();
	struct auth_throttle_ticket tk[5];
	int	 i;

	for (i = 0; i < 5; i++) {
		cr_assert_eq(auth_throttle_reserve(t, "192.0.2.1", "a@x.test",
		    true, &tk[i]), AUTH_THROTTLE_OK);
		cr_assert_eq(tk[i].delay_ms, 0);
	}
	for (i = 0; i < 5; i++)
		cr_assert_eq(auth_throttle_finish(t, &tk[i], true), 0);
	for (i = 0; i < 5; i++)
		cr_assert_eq(attempt(t, "192.0.2.1", "a@x.test", true, false),
		    0);
	auth_throttle_close(&t);
}

/* A pair that has failed once gets no burst: its next attempts are spaced
 * as before. */
Test(auth_throttle, no_burst_after_a_failure)
{
	struct auth_throttle *t = topen();
	struct auth_throttle_ticket tk;

	cr_assert_eq(attempt(t, "192.0.2.1", "a@x.test", false, false), 0);
	cr_assert_eq(auth_throttle_reserve(t, "192.0.2.1", "a@x.test", true,
	    &tk), AUTH_THROTTLE_OK);
	cr_assert_not(tk.is_burst);
	cr_assert_eq(tk.delay_ms, 2000);
	auth_throttle_close(&t);
}

/* A failure inside a burst sets the schedule at its finish. */
Test(auth_throttle, failure_in_a_burst_spaces_the_next)
{
	struct auth_throttle *t = topen();
	struct auth_throttle_ticket a, b;

	cr_assert_eq(auth_throttle_reserve(t, "192.0.2.1", "a@x.test", true,
	    &a), AUTH_THROTTLE_OK);
	cr_assert_eq(auth_throttle_reserve(t, "192.0.2.1", "a@x.test", true,
	    &b), AUTH_THROTTLE_OK);
	cr_assert(a.is_burst && b.is_burst);
	cr_assert_eq(auth_throttle_finish(t, &a, false), 0);
	cr_assert_eq(auth_throttle_finish(t, &b, false), 0);
	/* two failures: the next waits delay(2), 4 s after them */
	cr_assert_eq(attempt(t, "192.0.2.1", "a@x.test", false, false), 4000);
	auth_throttle_close(&t);
}

Test(auth_throttle, default_burst_of_forty_gets_six_checks)
{
	struct auth_throttle *t = topen();
	struct auth_throttle_ticket tk;
	int	 i, ok = 0;

	for (i = 0; i < 40; i++)
		if (auth_throttle_reserve(t, "192.0.2.1", "a@x.test", true,
		    &tk) == AUTH_THROTTLE_OK)
			ok++;
	cr_assert_eq(ok, 6);	/* the burst at 0 s, then one at 15 s */
	auth_throttle_close(&t);
}

Test(auth_throttle, address_limit_is_much_higher)
{
	static const struct auth_throttle_conf c = {
		.failure_delay = 2000, .max_delay = 15000,
		.penalty_time = 30000, .address_max_failures = 5,
		.clock = fake_clock,
	};
	struct auth_throttle *t = topen_with(&c);
	struct auth_throttle_ticket tk;
	char	 user[32];
	int	 i;

	/* One short of the limit: a new account answers at once. */
	for (i = 0; i < 4; i++) {
		(void)str_printf(user, sizeof(user), "u%d@x.test", i);
		cr_assert_eq(attempt(t, "2001:db8::1", user, false, false), 0);
	}
	/* A success takes one attempt off the address again. */
	cr_assert_eq(attempt(t, "2001:db8::1", "good@x.test", true, false),
	    0);
	cr_assert_eq(attempt(t, "2001:db8::1", "u4@x.test", false, false), 0);
	/* At the limit: every account from there waits, growing. */
	cr_assert_eq(attempt(t, "2001:db8::1", "new@x.test", false, false),
	    2000);
	cr_assert_eq(attempt(t, "2001:db8::1", "new2@x.test", false, false),
	    2000 + 4000);
	/* Then (8 s more) at the limit once more, and past it: refused,
	 * not checked. */
	cr_assert_eq(attempt(t, "2001:db8::1", "other@x.test", false, false),
	    6000 + 8000);
	for (i = 0; i < 50; i++)
		cr_assert_eq(auth_throttle_reserve(t, "2001:db8::1",
		    "other@x.test", true, &tk), AUTH_THROTTLE_REFUSE);
	/* Another address is not touched. */
	cr_assert_eq(attempt(t, "2001:db8::2", "new@x.test", true, false), 0);
	auth_throttle_close(&t);
}

/* The address's count leaks at address_max_failures per penalty_time: a
 * classroom behind one address mistyping now and then never reaches the
 * limit, however long the lesson and however busy the address; a spray
 * at the same rate as the leak's limit still does. */
Test(auth_throttle, spread_typos_never_add_up)
{
	static const struct auth_throttle_conf c = {
		.failure_delay = 2000, .max_delay = 15000,
		.penalty_time = 30000, .address_max_failures = 5,
		.clock = fake_clock,
	};
	struct auth_throttle *t = topen_with(&c);
	char	 user[32];
	int	 i;

	/* Two hours: a typo by a new student every 7 s (slower than one per
	 * penalty_time / max = 6 s) with correct logins between. */
	for (i = 0; i < 1000; i++) {
		(void)str_printf(user, sizeof(user), "s%d@x.test", i);
		cr_assert_eq(attempt(t, "192.0.2.7", user, false, false), 0,
		    "typo %d delayed", i);
		cr_assert_eq(attempt(t, "192.0.2.7", "good@x.test", true,
		    false), 0, "correct login %d delayed", i);
		fake_ms += 7000;
	}
	/* Six typos in three seconds: a spray; the address waits. */
	for (i = 0; i < 5; i++) {
		(void)str_printf(user, sizeof(user), "t%d@x.test", i);
		(void)attempt(t, "192.0.2.7", user, false, false);
		fake_ms += 500;
	}
	cr_assert_gt(attempt(t, "192.0.2.7", "good@x.test", true, false), 0);
	/* Quiet for a while: it leaks back under the limit. */
	fake_ms += 31000;
	cr_assert_eq(attempt(t, "192.0.2.7", "good@x.test", true, false), 0);
	auth_throttle_close(&t);
}

Test(auth_throttle, trusted_networks_are_exempt)
{
	static char *const nets[] = { "192.0.2.0/24", "[2001:db8::]/32" };
	struct auth_throttle_conf c = conf;
	struct auth_throttle *t;
	int	 i;

	c.trusted = nets;
	c.ntrusted = 2;
	t = topen_with(&c);
	for (i = 0; i < 50; i++) {
		cr_assert_eq(attempt(t, "192.0.2.9", "a@x.test", false, false),
		    0);
		cr_assert_eq(attempt(t, "2001:db8::5", "a@x.test", false,
		    false), 0);
	}
	/* Next door is not trusted. */
	(void)attempt(t, "192.0.3.9", "a@x.test", false, false);
	cr_assert_eq(attempt(t, "192.0.3.9", "a@x.test", false, false), 2000);
	auth_throttle_close(&t);
}

/* The old table let a few hundred failures for chosen unknown names, one
 * per address, evict a victim's record.  A flood of unknown names from
 * many addresses leaves it in place; once the table is full, a new record
 * waits max_delay rather than taking a live one (fail closed). */
Test(auth_throttle, flood_does_not_evict_a_victim)
{
	struct auth_throttle *t = topen();
	struct auth_throttle_ticket tk;
	char	 ip[64], user[64];
	int	 i, refused = 0;

	for (i = 0; i < 6; i++)
		(void)attempt(t, "203.0.113.5", "victim@x.test", false, true);
	for (i = 0; i < 60000; i++) {
		(void)str_printf(ip, sizeof(ip), "10.%d.%d.%d", i >> 16,
		    (i >> 8) & 255, i & 255);
		(void)str_printf(user, sizeof(user), "nobody%d@x.test", i);
		if (auth_throttle_reserve(t, ip, user, false, &tk) ==
		    AUTH_THROTTLE_OK)
			(void)auth_throttle_finish(t, &tk, false);
		else
			refused++;
	}
	cr_assert_eq(attempt(t, "203.0.113.5", "victim@x.test", false,
	    false), 15000, "the victim's record was evicted");
	/* The table is full of live address records: a new pair fails
	 * closed. */
	cr_assert_eq(attempt(t, "198.51.100.77", "fresh@x.test", true,
	    false), 15000);
	(void)refused;
	auth_throttle_close(&t);
}

/* Unknown names from one address cannot push out the records of real
 * accounts in their buckets either. */
Test(auth_throttle, unknown_names_yield_to_real_accounts)
{
	struct auth_throttle_conf c = conf;
	struct auth_throttle *t;
	struct auth_throttle_ticket tk;
	char	 user[64];
	int	 i;

	c.address_max_failures = 0;	/* let the flood through */
	t = topen_with(&c);
	for (i = 0; i < 30000; i++) {
		(void)str_printf(user, sizeof(user), "nobody%d@x.test", i);
		cr_assert_eq(auth_throttle_reserve(t, "192.0.2.50", user,
		    false, &tk), AUTH_THROTTLE_OK);
		(void)auth_throttle_finish(t, &tk, false);
	}
	/* Another unknown name finds no room: it fails closed. */
	cr_assert_eq(auth_throttle_reserve(t, "192.0.2.51", "nobody@x.test",
	    false, &tk), AUTH_THROTTLE_OK);
	cr_assert_eq(tk.delay_ms, 15000);
	/* A real account takes an unknown name's slot: a record of its own
	 * (not fail closed) and its growing delay. */
	cr_assert_eq(attempt(t, "198.51.100.8", "alice@x.test", false, false),
	    0);
	cr_assert_eq(attempt(t, "198.51.100.8", "alice@x.test", false, false),
	    2000);
	auth_throttle_close(&t);
}

/* No attempt may be lost when many reserve at once: 40 reservations from
 * 4 processes or threads at one instant give exactly 4 answers (as the
 * burst test above, sequentially). */
static int
reserve_n(struct auth_throttle *t, int n)
{
	struct auth_throttle_ticket tk;
	int	 i, ok = 0, r;

	for (i = 0; i < n; i++) {
		r = auth_throttle_reserve(t, "192.0.2.10", "dave@x.test", true,
		    &tk);
		if (r == -1)
			return -1;
		if (r == AUTH_THROTTLE_OK)
			ok++;
	}
	return ok;
}

Test(auth_throttle, no_lost_update_between_processes)
{
	pid_t	 pid[4];
	int	 j, status, total = 0;

	for (j = 0; j < 4; j++) {
		if ((pid[j] = fork()) == 0) {
			struct auth_throttle *t;
			char	 err[256];
			int	 n;

			t = auth_throttle_open(path, &conf, err, sizeof(err));
			if (t == NULL)
				_exit(100);
			n = reserve_n(t, 10);
			auth_throttle_close(&t);
			_exit(n < 0 ? 101 : n);
		}
		cr_assert_gt(pid[j], 0);
	}
	for (j = 0; j < 4; j++) {
		cr_assert_eq(waitpid(pid[j], &status, 0), pid[j]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) <= 10);
		total += WEXITSTATUS(status);
	}
	cr_assert_eq(total, 6);
}

static struct auth_throttle *shared_t;

static void *
thread_reserve(void *arg)
{
	int	*ok = arg;

	*ok = reserve_n(shared_t, 10);
	return NULL;
}

Test(auth_throttle, no_lost_update_between_threads)
{
	pthread_t th[4];
	int	 ok[4], j, total = 0;

	/* smtpd checks passwords on worker threads sharing one handle. */
	shared_t = topen();
	for (j = 0; j < 4; j++)
		cr_assert_eq(pthread_create(&th[j], NULL, thread_reserve,
		    &ok[j]), 0);
	for (j = 0; j < 4; j++) {
		cr_assert_eq(pthread_join(th[j], NULL), 0);
		cr_assert_geq(ok[j], 0);
		total += ok[j];
	}
	cr_assert_eq(total, 6);
	auth_throttle_close(&shared_t);
}

Test(auth_throttle, clock_stepping_back_forgets_nothing)
{
	struct auth_throttle *t = topen();

	(void)attempt(t, "192.0.2.3", "a@x.test", false, false);
	fake_ms -= 3600000;
	cr_assert_eq(attempt(t, "192.0.2.3", "a@x.test", false, false), 2000);
	auth_throttle_close(&t);
}

Test(auth_throttle, bad_file_is_rebuilt)
{
	struct auth_throttle *t;
	FILE		*fp;

	fp = fopen(path, "w");
	cr_assert_not_null(fp);
	fputs("garbage", fp);
	fclose(fp);
	t = topen();
	cr_assert_eq(attempt(t, "192.0.2.1", "x@x.test", false, false), 0);
	auth_throttle_close(&t);
	/* Reopened, the file (and its hash key) is kept. */
	t = topen();
	cr_assert_eq(attempt(t, "192.0.2.1", "x@x.test", false, false), 2000);
	auth_throttle_close(&t);
}

Test(auth_throttle, odd_input_is_bounded)
{
	struct auth_throttle *t = topen();
	char	 longname[600];

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	/* NULL, "" and over-long names all work (one shared record). */
	cr_assert_eq(attempt(t, NULL, NULL, false, false), 0);
	cr_assert_eq(attempt(t, "", "", false, false), 2000);
	cr_assert_eq(attempt(t, "192.0.2.1", longname, false, false), 0);
	cr_assert_eq(attempt(t, "192.0.2.1", "", false, false), 2000);
	auth_throttle_close(&t);
}

Test(auth_throttle, unopenable_path)
{
	char	 err[256];

	cr_assert_null(auth_throttle_open("/nonexistent/dir/x", &conf, err,
	    sizeof(err)));
	cr_assert(strstr(err, "/nonexistent/dir/x") != NULL);
}
