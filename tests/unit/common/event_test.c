/* SPDX-License-Identifier: MIT */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "event.h"

static struct event_loop *loop;

static void
nb_pair(int p[2])
{
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p), 0);
}

static void
setup(void)
{
	loop = event_loop_new();
}

static void
teardown(void)
{
	event_loop_free(&loop);
}

TestSuite(event, .init = setup, .fini = teardown, .timeout = 5);

/* ---- timers ---- */

static char	order[32];
static size_t	norder;

static void
mark(void *arg)
{
	const char	*c = arg;

	if (norder < sizeof(order) - 1)
		order[norder++] = *c;
}

Test(event, empty_loop_returns)
{
	cr_assert_eq(event_loop_run(loop), 0);
}

Test(event, timers_fire_in_order)
{
	struct event_timer	*t[4];
	uint64_t		 start = event_now_ms(loop);

	t[0] = event_timer_add(loop, 30, mark, "c");
	t[1] = event_timer_add(loop, 10, mark, "a");
	t[2] = event_timer_add(loop, 20, mark, "b");
	t[3] = event_timer_add(loop, 10, mark, "A");	/* ties: after a */
	cr_assert_eq(event_loop_run(loop), 0);
	cr_assert_str_eq(order, "aAbc");
	cr_assert_geq(event_now_ms(loop) - start, 30);
	for (size_t i = 0; i < 4; i++)
		event_timer_del(&t[i]);
	cr_assert_null(t[0]);
}

Test(event, many_timers_heap_order)
{
	static const uint64_t	 ms[] = { 9, 3, 7, 1, 8, 2, 6, 4, 5, 0 };
	static char		 tags[] = "9371826450";
	struct event_timer	*t[10];

	for (size_t i = 0; i < 10; i++)
		t[i] = event_timer_add(loop, ms[i], mark, &tags[i]);
	/* reset one to the front and delete another before running */
	event_timer_reset(t[0], 0);		/* '9' now, after '0' */
	event_timer_del(&t[4]);				/* no '8' */
	cr_assert_eq(event_loop_run(loop), 0);
	cr_assert_str_eq(order, "091234567");
	for (size_t i = 0; i < 10; i++)
		event_timer_del(&t[i]);
}

static struct event_timer	*self_timer;
static int			 self_count;

static void
rearm(void *arg)
{
	(void)arg;
	if (++self_count < 3)
		event_timer_reset(self_timer, 1);
}

Test(event, timer_reset_from_own_callback)
{
	self_timer = event_timer_add(loop, 1, rearm, NULL);
	cr_assert_eq(event_loop_run(loop), 0);
	cr_assert_eq(self_count, 3);
	event_timer_del(&self_timer);
}

static void
del_self(void *arg)
{
	(void)arg;
	self_count++;
	event_timer_del(&self_timer);
}

Test(event, timer_delete_from_own_callback)
{
	self_timer = event_timer_add(loop, 0, del_self, NULL);
	cr_assert_eq(event_loop_run(loop), 0);
	cr_assert_eq(self_count, 1);
	cr_assert_null(self_timer);
}

static struct event_timer	*victim;

static void
del_victim(void *arg)
{
	mark(arg);
	event_timer_del(&victim);
}

Test(event, timer_delete_other_due_in_same_turn)
{
	struct event_timer	*first;

	first = event_timer_add(loop, 5, del_victim, "k");
	victim = event_timer_add(loop, 5, mark, "v");	/* same expiry */
	cr_assert_eq(event_loop_run(loop), 0);
	cr_assert_str_eq(order, "k");
	cr_assert_null(victim);
	event_timer_del(&first);
}

static void
stop(void *arg)
{
	mark(arg);
	event_loop_break(loop);
}

Test(event, break_stops_the_loop)
{
	struct event_timer	*a, *b;

	a = event_timer_add(loop, 1, stop, "x");
	b = event_timer_add(loop, 3000, mark, "y");
	cr_assert_eq(event_loop_run(loop), 0);
	cr_assert_str_eq(order, "x");
	event_timer_del(&a);
	event_timer_del(&b);
}

static void
noop_io(int fd, unsigned int events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
}

Test(event, free_releases_live_objects)
{
	int	 sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	(void)event_timer_add(loop, 100, mark, "z");
	(void)event_io_add(loop, sv[0], EVENT_READ, noop_io, NULL);
	event_loop_free(&loop);
	cr_assert_null(loop);
	/* the fd is still ours */
	cr_assert_eq(write(sv[1], "x", 1), 1);
	cr_assert_eq(close(sv[0]), 0);
	close(sv[1]);
}

/* ---- fds ---- */

static int		 sv[2];
static unsigned int	 seen_events;
static char		 got[16];
static struct event_io	*io_a, *io_b;

static void
on_read(int fd, unsigned int events, void *arg)
{
	ssize_t	 n;

	(void)arg;
	seen_events |= events;
	n = read(fd, got, sizeof(got) - 1);
	cr_assert_gt(n, 0);
	got[n] = '\0';
	event_io_del(&io_a);
}

Test(event, io_read_readiness)
{
	nb_pair(sv);
	io_a = event_io_add(loop, sv[0], EVENT_READ, on_read, NULL);
	cr_assert_not_null(io_a);
	cr_assert_eq(write(sv[1], "hello", 5), 5);
	cr_assert_eq(event_loop_run(loop), 0);
	cr_assert_str_eq(got, "hello");
	cr_assert_eq(seen_events, EVENT_READ);
	cr_assert_null(io_a);
	close(sv[0]);
	close(sv[1]);
}

static void
on_write_read(int fd, unsigned int events, void *arg)
{
	ssize_t	 n;

	(void)arg;
	seen_events |= events;
	if (events & EVENT_WRITE) {
		cr_assert_eq(write(fd, "ping", 4), 4);
		/* switch to reading the answer */
		cr_assert_eq(event_io_set(io_a, EVENT_READ), 0);
		return;
	}
	n = read(fd, got, sizeof(got) - 1);
	cr_assert_eq(n, 4);
	got[n] = '\0';
	event_io_del(&io_a);
}

static void
echo_peer(int fd, unsigned int events, void *arg)
{
	char	 buf[16];
	ssize_t	 n;

	(void)arg;
	cr_assert_eq(events, EVENT_READ);
	n = read(fd, buf, sizeof(buf));
	cr_assert_eq(n, 4);
	cr_assert_eq(memcmp(buf, "ping", 4), 0);
	cr_assert_eq(write(fd, "pong", 4), 4);
	event_io_del(&io_b);
}

Test(event, io_write_then_read)
{
	nb_pair(sv);
	io_a = event_io_add(loop, sv[0], EVENT_WRITE, on_write_read, NULL);
	io_b = event_io_add(loop, sv[1], EVENT_READ, echo_peer, NULL);
	cr_assert_eq(event_loop_run(loop), 0);
	cr_assert_str_eq(got, "pong");
	cr_assert_eq(seen_events, EVENT_READ | EVENT_WRITE);
	cr_assert_null(io_a);
	cr_assert_null(io_b);
	close(sv[0]);
	close(sv[1]);
}

static int	 reads;

static void
count_read(int fd, unsigned int events, void *arg)
{
	char	 c;

	(void)arg;
	(void)events;
	reads++;
	if (read(fd, &c, 1) != 1 || c == 'q')
		event_io_del(&io_a);
}

Test(event, paused_io_is_not_reported)
{
	struct event_timer	*t;

	nb_pair(sv);
	io_a = event_io_add(loop, sv[0], 0, count_read, NULL);
	cr_assert_not_null(io_a);
	cr_assert_eq(write(sv[1], "q", 1), 1);
	t = event_timer_add(loop, 20, stop, "t");
	cr_assert_eq(event_loop_run(loop), 0);
	cr_assert_eq(reads, 0);
	cr_assert_eq(event_io_set(io_a, EVENT_READ), 0);
	cr_assert_eq(event_loop_run(loop), 0);
	cr_assert_eq(reads, 1);
	cr_assert_null(io_a);
	event_timer_del(&t);
	close(sv[0]);
	close(sv[1]);
}

Test(event, hangup_reports_read)
{
	nb_pair(sv);
	io_a = event_io_add(loop, sv[0], EVENT_READ, count_read, NULL);
	close(sv[1]);
	cr_assert_eq(event_loop_run(loop), 0);
	cr_assert_eq(reads, 1);
	close(sv[0]);
}

Test(event, io_add_bad_fd)
{
	cr_assert_null(event_io_add(loop, 999, EVENT_READ, count_read, NULL));
	cr_assert_eq(errno, EBADF);
	cr_assert_eq(event_loop_run(loop), 0);
}

/* Two ios ready in the same epoll batch: whichever runs first deletes the
 * other, which must not be called. */
static int	 pair_calls;

static void
del_other(int fd, unsigned int events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	pair_calls++;
	event_io_del(&io_a);
	event_io_del(&io_b);
}

Test(event, io_delete_other_ready_in_same_batch)
{
	int	 sv2[2];

	nb_pair(sv);
	nb_pair(sv2);
	cr_assert_eq(write(sv[1], "a", 1), 1);
	cr_assert_eq(write(sv2[1], "b", 1), 1);
	io_a = event_io_add(loop, sv[0], EVENT_READ, del_other, NULL);
	io_b = event_io_add(loop, sv2[0], EVENT_READ, del_other, NULL);
	cr_assert_eq(event_loop_run(loop), 0);
	cr_assert_eq(pair_calls, 1);
	close(sv[0]);
	close(sv[1]);
	close(sv2[0]);
	close(sv2[1]);
}

/* Deleting the io and closing its fd, then reusing the fd number for a new
 * io within the same callback. */
static void
del_close_reopen(int fd, unsigned int events, void *arg)
{
	int	 s2[2];

	(void)events;
	(void)arg;
	pair_calls++;
	event_io_del(&io_a);
	close(fd);
	nb_pair(s2);
	sv[0] = s2[0];
	close(s2[1]);		/* new io gets a hang-up */
	io_b = event_io_add(loop, s2[0], EVENT_READ, count_read, NULL);
	io_a = io_b;
	io_b = NULL;
}

Test(event, io_delete_close_and_reuse_fd)
{
	nb_pair(sv);
	cr_assert_eq(write(sv[1], "a", 1), 1);
	io_a = event_io_add(loop, sv[0], EVENT_READ, del_close_reopen, NULL);
	cr_assert_eq(event_loop_run(loop), 0);
	cr_assert_eq(pair_calls, 1);
	cr_assert_eq(reads, 1);
	close(sv[0]);
	close(sv[1]);
}

/* ---- signals ---- */

static int	 sig_seen;

static void
on_signal(int signo, void *arg)
{
	(void)arg;
	sig_seen = signo;
	event_loop_break(loop);
}

Test(event, signal_via_kill)
{
	cr_assert_eq(event_signal_add(loop, SIGUSR1, on_signal, NULL), 0);
	cr_assert_eq(kill(getpid(), SIGUSR1), 0);
	cr_assert_eq(event_loop_run(loop), 0);
	cr_assert_eq(sig_seen, SIGUSR1);
}

static void
on_other(int signo, void *arg)
{
	(void)arg;
	sig_seen = -signo;
	event_loop_break(loop);
}

Test(event, signal_add_again_replaces)
{
	cr_assert_eq(event_signal_add(loop, SIGUSR2, on_signal, NULL), 0);
	cr_assert_eq(event_signal_add(loop, SIGUSR2, on_other, NULL), 0);
	cr_assert_eq(event_signal_add(loop, SIGHUP, on_signal, NULL), 0);
	cr_assert_eq(kill(getpid(), SIGUSR2), 0);
	cr_assert_eq(event_loop_run(loop), 0);
	cr_assert_eq(sig_seen, -SIGUSR2);
	cr_assert_eq(kill(getpid(), SIGHUP), 0);
	cr_assert_eq(event_loop_run(loop), 0);
	cr_assert_eq(sig_seen, SIGHUP);
}

Test(event, signal_bad)
{
	cr_assert_eq(event_signal_add(loop, 0, on_signal, NULL), -1);
	cr_assert_eq(event_signal_add(loop, SIGKILL, on_signal, NULL), -1);
	cr_assert_eq(event_signal_add(loop, NSIG, on_signal, NULL), -1);
}

static pid_t	 child_pid;
static int	 child_status = -1;

static void
on_chld(int signo, void *arg)
{
	pid_t	 pid;
	int	 status;

	(void)signo;
	(void)arg;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if (pid == child_pid)
			child_status = status;
	if (child_status != -1)
		event_loop_break(loop);
}

Test(event, sigchld_from_forked_child)
{
	cr_assert_eq(event_signal_add(loop, SIGCHLD, on_chld, NULL), 0);
	child_pid = fork();
	cr_assert_neq(child_pid, -1);
	if (child_pid == 0) {
		event_signal_reset_child();
		_exit(7);
	}
	cr_assert_eq(event_loop_run(loop), 0);
	cr_assert(WIFEXITED(child_status));
	cr_assert_eq(WEXITSTATUS(child_status), 7);
}

Test(event, reset_child_unblocks)
{
	sigset_t	 cur;

	cr_assert_eq(event_signal_add(loop, SIGUSR1, on_signal, NULL), 0);
	cr_assert_eq(sigprocmask(SIG_BLOCK, NULL, &cur), 0);
	cr_assert_eq(sigismember(&cur, SIGUSR1), 1);
	event_signal_reset_child();
	cr_assert_eq(sigprocmask(SIG_BLOCK, NULL, &cur), 0);
	cr_assert_eq(sigismember(&cur, SIGUSR1), 0);
}

/* ---- more deletion and reset cases ---- */

static struct event_timer	*later;

static void
push_later(void *arg)
{
	mark(arg);
	event_timer_reset(later, 30);
}

Test(event, timer_reset_other_due_in_same_turn)
{
	struct event_timer	*first;
	uint64_t		 start = event_now_ms(loop);

	first = event_timer_add(loop, 2, push_later, "p");
	later = event_timer_add(loop, 2, mark, "l");
	cr_assert_eq(event_loop_run(loop), 0);
	cr_assert_str_eq(order, "pl");
	cr_assert_geq(event_now_ms(loop) - start, 30);
	event_timer_del(&first);
	event_timer_del(&later);
}

static void
io_kills_timer(int fd, unsigned int events, void *arg)
{
	char	 c;

	(void)events;
	(void)arg;
	cr_assert_eq(read(fd, &c, 1), 1);
	pair_calls++;
	event_timer_del(&victim);
	event_io_del(&io_a);
}

Test(event, io_deletes_timer_due_in_same_turn)
{
	nb_pair(sv);
	victim = event_timer_add(loop, 0, mark, "v");
	cr_assert_eq(write(sv[1], "a", 1), 1);
	io_a = event_io_add(loop, sv[0], EVENT_READ, io_kills_timer, NULL);
	cr_assert_eq(event_loop_run(loop), 0);
	cr_assert_eq(pair_calls, 1);
	cr_assert_str_eq(order, "");
	close(sv[0]);
	close(sv[1]);
}

static volatile sig_atomic_t	 alarms;

static void
on_alarm(int signo)
{
	(void)signo;
	alarms++;
}

Test(event, eintr_does_not_stop_the_loop)
{
	struct sigaction	 sa;
	struct itimerval	 it;
	struct event_timer	*t;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;		/* no SA_RESTART */
	cr_assert_eq(sigaction(SIGALRM, &sa, NULL), 0);
	memset(&it, 0, sizeof(it));
	it.it_value.tv_usec = 5000;
	t = event_timer_add(loop, 40, mark, "t");
	cr_assert_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
	cr_assert_eq(event_loop_run(loop), 0);
	cr_assert_eq(alarms, 1);
	cr_assert_str_eq(order, "t");
	event_timer_del(&t);
}

static uint64_t	 lag_ms;

static void
measure_lag(int fd, unsigned int events, void *arg)
{
	struct timespec	 ts;
	uint64_t	 real;
	char		 c;

	(void)events;
	(void)arg;
	cr_assert_eq(read(fd, &c, 1), 1);
	cr_assert_eq(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
	real = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	lag_ms = real - event_now_ms(loop);
	event_io_del(&io_a);
}

/* After a long sleep the clock seen by callbacks is the wake-up time. */
Test(event, now_is_fresh_after_wait)
{
	pid_t	 pid;
	int	 status;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		usleep(60000);
		_exit(write(sv[1], "x", 1) == 1 ? 0 : 1);
	}
	io_a = event_io_add(loop, sv[0], EVENT_READ, measure_lag, NULL);
	cr_assert_eq(event_loop_run(loop), 0);
	cr_assert_leq(lag_ms, 20);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	close(sv[0]);
	close(sv[1]);
}

Test(event, io_set_on_closed_fd_fails)
{
	nb_pair(sv);
	io_a = event_io_add(loop, sv[0], EVENT_READ, count_read, NULL);
	cr_assert_not_null(io_a);
	close(sv[0]);
	cr_assert_eq(event_io_set(io_a, EVENT_WRITE), -1);
	cr_assert_eq(errno, EBADF);
	event_io_del(&io_a);
	cr_assert_eq(event_loop_run(loop), 0);
	close(sv[1]);
}

Test(event, io_add_twice_fails)
{
	nb_pair(sv);
	io_a = event_io_add(loop, sv[0], EVENT_READ, count_read, NULL);
	cr_assert_null(event_io_add(loop, sv[0], EVENT_READ, count_read, NULL));
	cr_assert_eq(errno, EEXIST);
	event_io_del(&io_a);
	close(sv[0]);
	close(sv[1]);
}
