/* SPDX-License-Identifier: MIT */
/*
 * schedule_test.c - retry delays, expiry, DSN decisions, the waiting set
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <stdio.h>
#include <string.h>

#include "queued.h"

static struct queue_conf
conf(void)
{
	struct queue_conf	 c;

	memset(&c, 0, sizeof(c));
	c.retry_min = 300;
	c.retry_max = 3600;
	c.delay_warning_time = 4 * 3600;
	c.max_lifetime = 5 * 86400;
	return c;
}

Test(schedule, retry_doubles_and_caps)
{
	struct queue_conf	 c = conf();
	static const uint64_t	 want[] = { 300, 600, 1200, 2400, 3600, 3600 };
	unsigned int		 i;

	for (i = 0; i < 6; i++)
		cr_assert_eq(queue_retry_delay(&c, i + 1), want[i],
		    "attempt %u", i + 1);
	cr_assert_eq(queue_retry_delay(&c, 1000000), 3600);
	cr_assert_eq(queue_retry_delay(&c, 0), 300);
}

Test(schedule, retry_min_above_max_is_capped)
{
	struct queue_conf	 c = conf();

	c.retry_min = 7200;
	cr_assert_eq(queue_retry_delay(&c, 1), 3600);
	c.retry_min = 0;
	cr_assert_eq(queue_retry_delay(&c, 1), 1);
}

Test(schedule, five_days_of_retries)
{
	struct queue_conf	 c = conf();
	uint64_t		 t = 1000, arrival = 1000;
	unsigned int		 attempts = 0;

	while (!queue_is_expired(&c, arrival, t))
		t += queue_retry_delay(&c, ++attempts);
	/* 300+600+1200+2400 then hourly: about 5 days / 1 h attempts. */
	cr_assert_geq(attempts, 120);
	cr_assert_leq(attempts, 125);
	cr_assert_lt(t - arrival, c.max_lifetime + 3600);
}

Test(schedule, expiry_edges)
{
	struct queue_conf	 c = conf();

	cr_assert(!queue_is_expired(&c, 1000, 1000 + c.max_lifetime - 1));
	cr_assert(queue_is_expired(&c, 1000, 1000 + c.max_lifetime));
	cr_assert(!queue_is_expired(&c, 5000, 1000));	/* clock went back */
}

struct delay_case {
	unsigned int	 notify;
	bool		 null_sender;
	bool		 def;
	uint64_t	 waited;
	bool		 want;
};

ParameterizedTestParameters(schedule, delay_warning)
{
	static struct delay_case cases[] = {
		{ SPOOL_NOTIFY_DELAY, false, false, 4 * 3600, true },
		{ SPOOL_NOTIFY_DELAY, false, false, 4 * 3600 - 1, false },
		{ SPOOL_NOTIFY_DELAY | SPOOL_NOTIFY_FAILURE, false, false,
		    5 * 3600, true },
		{ SPOOL_NOTIFY_FAILURE, false, true, 5 * 3600, false },
		{ SPOOL_NOTIFY_NEVER, false, true, 5 * 3600, false },
		{ 0, false, false, 5 * 3600, false },
		{ 0, false, true, 5 * 3600, true },
		{ SPOOL_NOTIFY_DELAY, true, true, 5 * 3600, false },
	};

	return cr_make_param_array(struct delay_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct delay_case *dc, schedule, delay_warning)
{
	struct queue_conf	 c = conf();

	c.delay_warning_default = dc->def;
	cr_assert_eq(queue_wants_delay_dsn(&c, dc->notify, dc->null_sender,
	    1000, 1000 + dc->waited), dc->want, "notify %u", dc->notify);
	c.delay_warning_time = 0;
	cr_assert(!queue_wants_delay_dsn(&c, dc->notify, dc->null_sender,
	    1000, 1000 + dc->waited));
}

struct owed_case {
	int		 state;
	unsigned int	 notify;
	bool		 null_sender;
	int		 want;
};

ParameterizedTestParameters(schedule, dsn_owed)
{
	static struct owed_case cases[] = {
		{ SPOOL_RCPT_DELIVERED, 0, false, QUEUE_DSN_NONE },
		{ SPOOL_RCPT_DELIVERED, SPOOL_NOTIFY_SUCCESS, false,
		    QUEUE_DSN_SENDER },
		{ SPOOL_RCPT_DELIVERED, SPOOL_NOTIFY_SUCCESS, true,
		    QUEUE_DSN_NONE },
		{ SPOOL_RCPT_DELIVERED, SPOOL_NOTIFY_FAILURE, false,
		    QUEUE_DSN_NONE },
		{ SPOOL_RCPT_BOUNCED, 0, false, QUEUE_DSN_SENDER },
		{ SPOOL_RCPT_BOUNCED, SPOOL_NOTIFY_FAILURE, false,
		    QUEUE_DSN_SENDER },
		{ SPOOL_RCPT_BOUNCED, SPOOL_NOTIFY_SUCCESS, false,
		    QUEUE_DSN_NONE },
		{ SPOOL_RCPT_BOUNCED, SPOOL_NOTIFY_NEVER, false,
		    QUEUE_DSN_NONE },
		{ SPOOL_RCPT_BOUNCED, 0, true, QUEUE_DSN_POSTMASTER },
		{ SPOOL_RCPT_BOUNCED, SPOOL_NOTIFY_NEVER, true,
		    QUEUE_DSN_NONE },
		{ SPOOL_RCPT_EXPIRED, 0, false, QUEUE_DSN_SENDER },
		{ SPOOL_RCPT_EXPIRED, SPOOL_NOTIFY_DELAY, false,
		    QUEUE_DSN_NONE },
		{ SPOOL_RCPT_EXPIRED, 0, true, QUEUE_DSN_POSTMASTER },
		{ SPOOL_RCPT_DEFERRED, 0, false, QUEUE_DSN_NONE },
		{ SPOOL_RCPT_PENDING, SPOOL_NOTIFY_ALL & ~SPOOL_NOTIFY_NEVER,
		    false, QUEUE_DSN_NONE },
	};

	return cr_make_param_array(struct owed_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct owed_case *oc, schedule, dsn_owed)
{
	cr_assert_eq((int)queue_dsn_owed((enum spool_rcpt_state)oc->state,
	    oc->notify, oc->null_sender), oc->want, "state %d notify %u",
	    oc->state, oc->notify);
}

Test(schedule, outcome_merge_temp_wins)
{
	cr_assert_eq(queue_outcome_merge(QUEUE_OK, QUEUE_OK), QUEUE_OK);
	cr_assert_eq(queue_outcome_merge(QUEUE_OK, QUEUE_PERM), QUEUE_PERM);
	cr_assert_eq(queue_outcome_merge(QUEUE_PERM, QUEUE_TEMP), QUEUE_TEMP);
	cr_assert_eq(queue_outcome_merge(QUEUE_TEMP, QUEUE_OK), QUEUE_TEMP);
}

Test(sched, order_by_due_then_id)
{
	struct queue_sched	*s = queue_sched_new();
	char			 id[SPOOL_ID_LEN + 1];
	bool			 force;

	queue_sched_add(s, "0000000000000003", 10, false);
	queue_sched_add(s, "0000000000000002", 10, false);
	queue_sched_add(s, "0000000000000001", 20, true);
	cr_assert_eq(queue_sched_count(s), 3);
	cr_assert_eq(queue_sched_earliest(s), 10);
	cr_assert_eq(queue_sched_next(s, 9, id, &force), 0);
	cr_assert_eq(queue_sched_next(s, 10, id, &force), 1);
	cr_assert_str_eq(id, "0000000000000002");
	cr_assert_eq(queue_sched_next(s, 10, id, &force), 1);
	cr_assert_str_eq(id, "0000000000000003");
	cr_assert_eq(queue_sched_next(s, 10, id, &force), 0);
	cr_assert_eq(queue_sched_next(s, 100, id, &force), 1);
	cr_assert_str_eq(id, "0000000000000001");
	cr_assert(force);
	cr_assert_eq(queue_sched_count(s), 0);
	cr_assert_eq(queue_sched_earliest(s), UINT64_MAX);
	queue_sched_free(&s);
	cr_assert_null(s);
}

Test(sched, add_keeps_earlier_and_absent_keeps_all)
{
	struct queue_sched	*s = queue_sched_new();
	char			 id[SPOOL_ID_LEN + 1];
	bool			 force = true;

	queue_sched_add(s, "00000000000000AA", 50, false);
	queue_sched_add(s, "00000000000000AA", 80, false);
	cr_assert_eq(queue_sched_earliest(s), 50);
	queue_sched_add(s, "00000000000000AA", 30, false);
	cr_assert_eq(queue_sched_earliest(s), 30);
	queue_sched_add_absent(s, "00000000000000AA", 0, true);
	cr_assert_eq(queue_sched_earliest(s), 30);
	cr_assert_eq(queue_sched_count(s), 1);
	cr_assert_eq(queue_sched_next(s, 40, id, &force), 1);
	cr_assert(!force);
	/* The stale heap items (50, 80) are skipped, not returned. */
	cr_assert_eq(queue_sched_next(s, 1000, id, &force), 0);
	queue_sched_free(&s);
}

Test(sched, flush_makes_everything_due_and_forced)
{
	struct queue_sched	*s = queue_sched_new();
	char			 id[SPOOL_ID_LEN + 1];
	bool			 force;
	int			 n = 0;

	queue_sched_add(s, "0000000000000001", 5000, false);
	queue_sched_add(s, "0000000000000002", 9000, false);
	queue_sched_flush(s);
	while (queue_sched_next(s, 0, id, &force) == 1) {
		cr_assert(force);
		n++;
	}
	cr_assert_eq(n, 2);
	queue_sched_free(&s);
}

Test(sched, many_ids_grow_the_table)
{
	struct queue_sched	*s = queue_sched_new();
	char			 id[SPOOL_ID_LEN + 1], prev[SPOOL_ID_LEN + 1];
	bool			 force;
	unsigned int		 i, n = 0;

	for (i = 0; i < 5000; i++) {
		(void)snprintf(id, sizeof(id), "%016u", (i * 7919u) % 5000);
		queue_sched_add(s, id, 1, false);
	}
	cr_assert_eq(queue_sched_count(s), 5000);
	prev[0] = '\0';
	while (queue_sched_next(s, 1, id, &force) == 1) {
		cr_assert_gt(strcmp(id, prev), 0);
		memcpy(prev, id, sizeof(prev));
		n++;
	}
	cr_assert_eq(n, 5000);
	queue_sched_free(&s);
}
