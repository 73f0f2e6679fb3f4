/* SPDX-License-Identifier: MIT */
/*
 * runner_test.c - the queue runner in-process against a temp state dir:
 * enqueue with the real API, run rounds, look at mailboxes and the spool
 */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runner_util.h"
#include "spool.h"
#include "str.h"

TestSuite(runner, .init = rt_setup, .fini = rt_teardown);

#define ALICE_NEW	"mail/example.test/alice/new"

static const char msg1[] =
    "Received: from x by mx.example.test\r\n"
    "Message-ID: <one@test>\r\n"
    "Subject: hello\r\n"
    "\r\n"
    "line one\r\n"
    "From me, with a dot:\r\n"
    ".\r\n";

Test(runner, delivers_byte_exact_and_empties_the_queue)
{
	struct queue_runner	*r = rt_runner();
	const char		*rcpts[] = { "alice@example.test", NULL };
	struct str		 got;
	char			 want[1024];
	size_t			 i;

	str_init(&got, 0);
	for (i = 0; i < 10; i++)
		rt_enqueue("sender@remote.test", rcpts, 0, msg1, NULL);
	cr_assert_eq(rt_count("spool/queue"), 10);
	rt_drain(r);
	cr_assert_eq(rt_count("spool/queue"), 0);
	cr_assert_eq(rt_count("spool/status"), 0);
	cr_assert_eq(rt_count(ALICE_NEW), 10);
	cr_assert(str_printf(want, sizeof(want),
	    "Return-Path: <sender@remote.test>\n"
	    "Delivered-To: alice@example.test\n"
	    "Received: from x by mx.example.test\n"
	    "Message-ID: <one@test>\n"
	    "Subject: hello\n"
	    "\n"
	    "line one\n"
	    "From me, with a dot:\n"
	    ".\n"));
	rt_find_file(ALICE_NEW, NULL, &got);
	cr_assert_str_eq(str_c(&got), want);
	str_release(&got);
	queue_runner_free(&r);
}

Test(runner, picks_up_from_a_scan_without_the_socket)
{
	const char		*rcpts[] = { "bob@example.test", NULL };
	struct queue_runner	*r;

	/* Enqueued while no runner listens: found by the start-up scan. */
	rt_enqueue("sender@remote.test", rcpts, 0, msg1, NULL);
	r = rt_runner();
	queue_runner_scan(r, false);
	rt_drain(r);
	cr_assert_eq(rt_count("mail/example.test/bob/new"), 1);
	cr_assert_eq(rt_count("spool/queue"), 0);
	queue_runner_free(&r);
}

Test(runner, alias_fans_out_to_three_users)
{
	struct queue_runner	*r = rt_runner();
	const char		*rcpts[] = { "team@example.test", NULL };
	struct str		 got;

	str_init(&got, 0);
	rt_enqueue("sender@remote.test", rcpts, 0, msg1, NULL);
	rt_drain(r);
	cr_assert_eq(rt_count("mail/example.test/alice/new"), 1);
	cr_assert_eq(rt_count("mail/example.test/bob/new"), 1);
	cr_assert_eq(rt_count("mail/example.test/carol/new"), 1);
	rt_find_file("mail/example.test/carol/new", NULL, &got);
	cr_assert_not_null(strstr(str_c(&got),
	    "Delivered-To: carol@example.test\n"));
	cr_assert_eq(rt_count("spool/queue"), 0);
	str_release(&got);
	queue_runner_free(&r);
}

Test(runner, mbox_user)
{
	struct queue_runner	*r = rt_runner();
	const char		*rcpts[] = { "dave@example.test", NULL };
	struct str		 got;

	str_init(&got, 0);
	rt_enqueue("sender@remote.test", rcpts, 0, msg1, NULL);
	rt_drain(r);
	cr_assert_eq(rt_read("mail/example.test/dave/INBOX", &got), 0);
	cr_assert(strncmp(str_c(&got), "From sender@remote.test ", 24) == 0,
	    "%s", str_c(&got));
	cr_assert_not_null(strstr(str_c(&got), "\n>From me, with a dot:\n"));
	cr_assert_eq(rt_count("spool/queue"), 0);
	str_release(&got);
	queue_runner_free(&r);
}

Test(runner, unknown_after_alias_bounces_to_the_local_sender)
{
	struct queue_runner	*r = rt_runner();
	const char		*rcpts[] = { "ghost@example.test", NULL };
	char			 id[SPOOL_ID_LEN + 1], want[128];
	struct str		 got;

	str_init(&got, 0);
	rt_enqueue("alice@example.test", rcpts, 0, msg1, id);
	rt_drain(r);
	cr_assert_eq(rt_count("spool/queue"), 0);
	cr_assert_eq(rt_count(ALICE_NEW), 1);
	rt_find_file(ALICE_NEW, NULL, &got);
	cr_assert_not_null(strstr(str_c(&got), "Return-Path: <>\n"));
	cr_assert_not_null(strstr(str_c(&got),
	    "Content-Type: multipart/report; report-type=delivery-status;"));
	cr_assert_not_null(strstr(str_c(&got),
	    "Final-Recipient: rfc822; ghost@example.test\n"));
	cr_assert_not_null(strstr(str_c(&got), "Action: failed\n"));
	cr_assert_not_null(strstr(str_c(&got), "Status: 5.1.1\n"));
	cr_assert(str_printf(want, sizeof(want), "X-Buzon-Queue-ID: %s\n",
	    id));
	cr_assert_not_null(strstr(str_c(&got), want));
	cr_assert_not_null(strstr(str_c(&got), "Message-ID: <one@test>\n"),
	    "the original header is attached");
	str_release(&got);
	queue_runner_free(&r);
}

Test(runner, bounce_of_a_bounce_goes_to_postmaster_once)
{
	struct queue_runner	*r = rt_runner();
	const char		*rcpts[] = { "ghost@example.test", NULL };
	struct str		 got;

	str_init(&got, 0);
	rt_enqueue("", rcpts, 0, msg1, NULL);
	rt_drain(r);
	cr_assert_eq(rt_count("spool/queue"), 0);
	/* postmaster is an alias of alice */
	cr_assert_eq(rt_count(ALICE_NEW), 1);
	rt_find_file(ALICE_NEW, NULL, &got);
	cr_assert_not_null(strstr(str_c(&got),
	    "To: <postmaster@example.test>"));
	str_release(&got);
	queue_runner_free(&r);
}

Test(runner, double_bounce_that_fails_ends)
{
	struct queue_runner	*r;
	const char		*rcpts[] = { "ghost@example.test", NULL };

	free(rt_conf.double_bounce);
	rt_conf.double_bounce = strdup("nobody@example.test");
	r = rt_runner();
	rt_enqueue("", rcpts, 0, msg1, NULL);
	rt_drain(r);
	cr_assert_eq(rt_count("spool/queue"), 0);
	cr_assert_eq(rt_count(ALICE_NEW), 0);
	queue_runner_free(&r);
}

Test(runner, notify_never_sends_nothing_success_reports)
{
	struct queue_runner	*r = rt_runner();
	const char		*ghost[] = { "ghost@example.test", NULL };
	const char		*bob[] = { "bob@example.test", NULL };
	struct str		 got;

	str_init(&got, 0);
	rt_enqueue("alice@example.test", ghost, SPOOL_NOTIFY_NEVER, msg1,
	    NULL);
	rt_drain(r);
	cr_assert_eq(rt_count(ALICE_NEW), 0);
	rt_enqueue("alice@example.test", bob, SPOOL_NOTIFY_SUCCESS, msg1,
	    NULL);
	rt_drain(r);
	cr_assert_eq(rt_count("mail/example.test/bob/new"), 1);
	cr_assert_eq(rt_count(ALICE_NEW), 1);
	rt_find_file(ALICE_NEW, NULL, &got);
	cr_assert_not_null(strstr(str_c(&got), "Action: delivered\n"));
	cr_assert_not_null(strstr(str_c(&got),
	    "Subject: Successful Mail Delivery Report"));
	cr_assert_eq(rt_count("spool/queue"), 0);
	str_release(&got);
	queue_runner_free(&r);
}

static void
load_status(const char *id, struct spool_rcpt_status *st, size_t n)
{
	char	 path[128], why[128];
	bool	 torn;
	int	 fd;

	cr_assert(str_printf(path, sizeof(path), "%s/spool/status", rt_dir));
	cr_assert_neq(fd = open(path, O_RDONLY | O_DIRECTORY), -1);
	memset(st, 0, n * sizeof(*st));
	cr_assert_eq(spool_status_load(fd, id, st, n, &torn, why,
	    sizeof(why)), 0, "%s", why);
	close(fd);
}

/* One mailbox named several times by one entry (repeated, by alias, with
 * a "+detail", in another case) gets one copy; every recipient is done. */
Test(runner, duplicate_recipients_give_one_copy)
{
	struct queue_runner	*r = rt_runner();
	const char		*rcpts[] = { "bob@example.test",
				    "bob@example.test", "Bob+tag@EXAMPLE.test",
				    "pal1@example.test", "pal2@example.test",
				    "team@example.test", "alice@example.test",
				    NULL };

	rt_add_alias("pal1@example.test", "bob@example.test");
	rt_add_alias("pal2@example.test",
	    "pal1@example.test,bob+x@example.test");
	rt_enqueue("sender@remote.test", rcpts, 0, msg1, NULL);
	rt_drain(r);
	cr_assert_eq(rt_count("mail/example.test/bob/new"), 1);
	cr_assert_eq(rt_count("mail/example.test/alice/new"), 1);
	cr_assert_eq(rt_count("mail/example.test/carol/new"), 1);
	cr_assert_eq(rt_count("spool/queue"), 0);
	cr_assert_eq(rt_count(ALICE_NEW), 1, "no DSN");
	queue_runner_free(&r);
}

/* Many mailboxes (the table grows), each named three times. */
Test(runner, duplicate_recipients_many_mailboxes)
{
	struct queue_runner	*r = rt_runner();
	const char		*rcpts[62];
	char			 addrs[20][32], all[1024], dir[64];
	size_t			 i, n = 0;

	all[0] = '\0';
	for (i = 0; i < 20; i++) {
		cr_assert(str_printf(addrs[i], sizeof(addrs[i]),
		    "u%zu@example.test", i));
		rt_add_user(addrs[i], false, 0);
		cr_assert(str_printf(all + strlen(all), sizeof(all) -
		    strlen(all), "%s%s", i > 0 ? "," : "", addrs[i]));
	}
	rt_add_alias("everyone@example.test", all);
	for (i = 0; i < 20; i++)
		rcpts[n++] = addrs[i];
	rcpts[n++] = "everyone@example.test";
	for (i = 0; i < 20; i++)
		rcpts[n++] = addrs[19 - i];
	rcpts[n] = NULL;
	rt_enqueue("sender@remote.test", rcpts, 0, msg1, NULL);
	rt_drain(r);
	for (i = 0; i < 20; i++) {
		cr_assert(str_printf(dir, sizeof(dir),
		    "mail/example.test/u%zu/new", i));
		cr_assert_eq(rt_count(dir), 1, "%s", dir);
	}
	cr_assert_eq(rt_count("spool/queue"), 0);
	queue_runner_free(&r);
}

/* A suppressed copy waits with the one made: both deferred, then one copy
 * when the mailbox takes it. */
Test(runner, duplicate_recipient_shares_a_deferral)
{
	struct queue_runner	*r = rt_runner();
	const char		*rcpts[] = { "tiny@example.test",
				    "tiny+x@example.test", NULL };
	struct spool_rcpt_status st[2];
	char			 id[SPOOL_ID_LEN + 1];

	rt_enqueue("alice@example.test", rcpts, 0, msg1, id);
	rt_drain(r);
	cr_assert_eq(rt_count("spool/queue"), 1);
	load_status(id, st, 2);
	cr_assert_eq(st[0].state, SPOOL_RCPT_DEFERRED);
	cr_assert_eq(st[1].state, SPOOL_RCPT_DEFERRED);
	cr_assert_str_eq(st[1].code, "4.2.2");
	cr_assert_eq(rt_count("mail/example.test/tiny/new"), 0);
	queue_runner_free(&r);
}

Test(runner, quota_temp_failure_stays_queued)
{
	struct queue_runner	*r = rt_runner();
	const char		*rcpts[] = { "tiny@example.test",
				    "bob@example.test", NULL };
	struct spool_rcpt_status st[2];
	char			 id[SPOOL_ID_LEN + 1];
	uint64_t		 now = (uint64_t)time(NULL);

	rt_enqueue("alice@example.test", rcpts, 0, msg1, id);
	rt_drain(r);
	cr_assert_eq(rt_count("spool/queue"), 1);
	cr_assert_eq(rt_count("mail/example.test/bob/new"), 1);
	load_status(id, st, 2);
	cr_assert_eq(st[0].state, SPOOL_RCPT_DEFERRED);
	cr_assert_str_eq(st[0].code, "4.2.2");
	cr_assert_geq(st[0].until, now + 300);
	cr_assert_leq(st[0].until, now + 302);
	cr_assert_eq(st[1].state, SPOOL_RCPT_DELIVERED);
	cr_assert_eq(queue_sched_earliest(queue_runner_sched(r)), st[0].until);
	/* Nothing is due before then; at then only tiny is tried again. */
	cr_assert_eq(queue_runner_round(r, now + 10), 0);
	cr_assert_eq(queue_runner_round(r, st[0].until), 1);
	cr_assert_eq(rt_count("mail/example.test/bob/new"), 1);
	load_status(id, st, 2);
	cr_assert_eq(st[0].attempts, 2);
	cr_assert_geq(st[0].until, now + 300 + 600);
	cr_assert_eq(rt_count(ALICE_NEW), 0, "no DSN for a deferral");
	queue_runner_free(&r);
}

Test(runner, expiry_bounces_with_5_4_7)
{
	struct queue_runner	*r = rt_runner();
	const char		*rcpts[] = { "tiny@example.test", NULL };
	uint64_t		 now = (uint64_t)time(NULL);
	struct str		 got;

	str_init(&got, 0);
	rt_enqueue("alice@example.test", rcpts, 0, msg1, NULL);
	rt_drain(r);
	cr_assert_eq(rt_count("spool/queue"), 1);
	cr_assert_eq(queue_runner_round(r, now + 6 * 86400), 1);
	rt_drain(r);
	cr_assert_eq(rt_count("spool/queue"), 0);
	cr_assert_eq(rt_count(ALICE_NEW), 1);
	rt_find_file(ALICE_NEW, NULL, &got);
	cr_assert_not_null(strstr(str_c(&got), "Status: 5.4.7\n"));
	cr_assert_not_null(strstr(str_c(&got), "delivery time expired"));
	str_release(&got);
	queue_runner_free(&r);
}

Test(runner, delay_warning_once)
{
	struct queue_runner	*r = rt_runner();
	const char		*rcpts[] = { "tiny@example.test", NULL };
	uint64_t		 now = (uint64_t)time(NULL);
	struct str		 got;

	str_init(&got, 0);
	rt_enqueue("alice@example.test", rcpts, SPOOL_NOTIFY_DELAY |
	    SPOOL_NOTIFY_FAILURE, msg1, NULL);
	rt_drain(r);
	cr_assert_eq(rt_count(ALICE_NEW), 0);
	cr_assert_eq(queue_runner_round(r, now + 5 * 3600), 1);
	rt_drain(r);
	cr_assert_eq(rt_count(ALICE_NEW), 1);
	rt_find_file(ALICE_NEW, NULL, &got);
	cr_assert_not_null(strstr(str_c(&got), "Action: delayed\n"));
	cr_assert_eq(queue_runner_round(r, now + 7 * 3600), 1);
	rt_drain(r);
	cr_assert_eq(rt_count(ALICE_NEW), 1, "warned only once");
	cr_assert_eq(rt_count("spool/queue"), 1);
	str_release(&got);
	queue_runner_free(&r);
}

Test(runner, remote_recipient_deferred_not_bounced)
{
	struct queue_runner	*r = rt_runner();
	const char		*rcpts[] = { "someone@remote.test", NULL };
	struct spool_rcpt_status st[1];
	char			 id[SPOOL_ID_LEN + 1];

	rt_enqueue("alice@example.test", rcpts, 0, msg1, id);
	rt_drain(r);
	cr_assert_eq(rt_count("spool/queue"), 1);
	load_status(id, st, 1);
	cr_assert_eq(st[0].state, SPOOL_RCPT_DEFERRED);
	cr_assert_str_eq(st[0].code, "4.4.0");
	cr_assert_str_eq(st[0].text, "relay transport not available yet");
	cr_assert_eq(rt_count(ALICE_NEW), 0);
	queue_runner_free(&r);
}

Test(runner, corrupt_entry_is_moved_aside)
{
	struct queue_runner	*r = rt_runner();
	const char		*rcpts[] = { "bob@example.test", NULL };
	char			 path[128], id[SPOOL_ID_LEN + 1];
	int			 fd;

	spool_id_new(id, NULL, NULL);
	cr_assert(str_printf(path, sizeof(path), "%s/spool/queue/%s", rt_dir,
	    id));
	cr_assert_neq(fd = open(path, O_WRONLY | O_CREAT, 0600), -1);
	cr_assert_eq(write(fd, "garbage\n", 8), 8);
	close(fd);
	rt_enqueue("sender@remote.test", rcpts, 0, msg1, NULL);
	queue_runner_scan(r, false);
	rt_drain(r);
	cr_assert_eq(rt_count("spool/queue"), 0);
	cr_assert_eq(rt_count("spool/corrupt"), 1);
	cr_assert_eq(rt_count("mail/example.test/bob/new"), 1);
	queue_runner_free(&r);
}

Test(runner, held_entries_are_not_scheduled)
{
	struct queue_runner	*r = rt_runner();
	const char		*rcpts[] = { "bob@example.test", NULL };
	char			 a[128], b[128], id[SPOOL_ID_LEN + 1];

	rt_enqueue("sender@remote.test", rcpts, 0, msg1, id);
	cr_assert(str_printf(a, sizeof(a), "%s/spool/queue/%s", rt_dir, id));
	cr_assert(str_printf(b, sizeof(b), "%s/spool/hold/%s", rt_dir, id));
	cr_assert_eq(rename(a, b), 0);
	queue_runner_scan(r, false);
	rt_drain(r);
	cr_assert_eq(rt_count("mail/example.test/bob/new"), 0);
	cr_assert_eq(rt_count("spool/hold"), 1);
	queue_runner_free(&r);
}

Test(runner, second_runner_is_refused)
{
	struct queue_runner	*r = rt_runner(), *r2;
	struct fail		 f;

	r2 = queue_runner_new(&rt_conf, &f);
	cr_assert_null(r2);
	cr_assert_not_null(strstr(f.text, "another buzon-queued"));
	queue_runner_free(&r);
}

Test(runner, partial_fan_out_continues_in_a_new_entry)
{
	struct queue_runner	*r;
	const char		*rcpts[] = { "mixed@example.test", NULL };
	char			 id[SPOOL_ID_LEN + 1], path[128], why[128];
	struct spool_env	 env;
	uint64_t		 now = (uint64_t)time(NULL);
	struct str		 got;
	int			 fd;

	str_init(&got, 0);
	rt_add_alias("mixed@example.test", "alice@example.test,"
	    "tiny@example.test");
	r = rt_runner();
	rt_enqueue("sender@remote.test", rcpts, SPOOL_NOTIFY_FAILURE, msg1,
	    id);
	rt_drain(r);
	cr_assert_eq(rt_count(ALICE_NEW), 1);
	/* The original is done; tiny's copy waits in an entry of its own. */
	cr_assert_eq(rt_count("spool/queue"), 1);
	cr_assert_eq(rt_find_file("spool/queue", NULL, &got), 1);
	spool_env_init(&env);
	cr_assert_eq(spool_parse(got.data, got.len, 0, &env, why,
	    sizeof(why)), 0, "%s", why);
	cr_assert_neq(strcmp(env.id, id), 0);
	cr_assert_eq(env.nrcpts, 1);
	cr_assert_str_eq(env.rcpts[0].addr, "tiny@example.test");
	cr_assert_str_eq(env.rcpts[0].original, "mixed@example.test");
	cr_assert_eq(env.rcpts[0].notify, SPOOL_NOTIFY_FAILURE);
	cr_assert_str_eq(env.sender, "sender@remote.test");
	cr_assert_eq(env.content_len, strlen(msg1));
	cr_assert(memcmp(got.data + env.content_off, msg1,
	    strlen(msg1)) == 0);
	/* Its retry does not deliver to alice again. */
	cr_assert_eq(queue_runner_round(r, now + 3600), 1);
	cr_assert_eq(rt_count(ALICE_NEW), 1);
	cr_assert(str_printf(path, sizeof(path), "%s/spool/queue/%s", rt_dir,
	    env.id));
	cr_assert_neq(fd = open(path, O_RDONLY), -1);
	close(fd);
	spool_env_release(&env);
	str_release(&got);
	queue_runner_free(&r);
}
