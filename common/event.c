/* SPDX-License-Identifier: MIT */
/*
 * event.c - the event loop: fds and signals through the backend
 * (event_epoll.c), one-shot timers on a binary heap
 *
 * Deletion during dispatch is deferred: a deleted io or timer is marked dead
 * (so the rest of the batch skips it) and freed once the turn is over.
 * Timers due in a turn are first moved off the heap into a due list; one that
 * is reset or deleted before its turn comes is simply skipped, and a timer
 * reset to 0 from its own callback fires in the next turn, not in a loop.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "event.h"
#include "event_private.h"
#include "log.h"
#include "mem.h"

enum timer_state {
	TIMER_IDLE,		/* fired or never armed: off the heap */
	TIMER_ARMED,		/* on the heap */
	TIMER_DUE,		/* on the due list, about to fire this turn */
	TIMER_DEAD		/* deleted, freed at the end of the turn */
};

struct event_io {
	struct event_loop	*loop;
	int			 fd;
	unsigned int		 events;	/* 0: paused */
	bool			 dead;
	event_io_cb		*cb;
	void			*arg;
	struct event_io		*prev, *next;	/* live list */
	struct event_io		*next_dead;
};

struct event_timer {
	struct event_loop	*loop;
	uint64_t		 when;
	uint64_t		 seq;		/* ties: order of arming */
	size_t			 idx;		/* if ARMED */
	enum timer_state	 state;
	event_timer_cb		*cb;
	void			*arg;
	struct event_timer	*prev, *next;	/* live list */
	struct event_timer	*next_dead;
};

struct event_sig {
	event_signal_cb		*cb;
	void			*arg;
};

struct event_loop {
	struct event_backend	*be;
	bool			 brk;
	bool			 dispatching;
	bool			 fresh;		/* now re-read */
	uint64_t		 now;
	uint64_t		 seq;
	size_t			 nio;		/* live ios */
	struct event_io		*ios;
	struct event_timer	*timers;
	struct event_io		*dead_io;
	struct event_timer	**heap;
	size_t			 nheap, heapcap;
	struct event_timer	**due;
	size_t			 ndue, duecap;
	struct event_timer	*dead_timers;
	sigset_t		 sigs;
	size_t			 nsig;
	struct event_sig	 sig[NSIG];
};

static uint64_t
event_clock_ms(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		fatal("clock_gettime");
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct event_loop *
event_loop_new(void)
{
	struct event_loop	*loop;

	loop = xcalloc(1, sizeof(*loop));
	loop->be = event_backend_new(loop);
	sigemptyset(&loop->sigs);
	loop->now = event_clock_ms();
	return loop;
}

static void
event_free_dead(struct event_loop *loop)
{
	struct event_io		*io;
	struct event_timer	*t;

	while ((io = loop->dead_io) != NULL) {
		loop->dead_io = io->next_dead;
		free(io);
	}
	while ((t = loop->dead_timers) != NULL) {
		loop->dead_timers = t->next_dead;
		free(t);
	}
}

void
event_loop_free(struct event_loop **loopp)
{
	struct event_loop	*loop = *loopp;
	struct event_io		*io;
	struct event_timer	*t;

	if (loop == NULL)
		return;
	*loopp = NULL;
	BUZ_ASSERT(!loop->dispatching);
	event_free_dead(loop);
	while ((io = loop->ios) != NULL) {
		loop->ios = io->next;
		free(io);
	}
	while ((t = loop->timers) != NULL) {
		loop->timers = t->next;
		free(t);
	}
	free(loop->heap);
	free(loop->due);
	event_backend_free(loop->be);
	free(loop);
}

void
event_loop_break(struct event_loop *loop)
{
	loop->brk = true;
}

uint64_t
event_now_ms(struct event_loop *loop)
{
	return loop->now;
}

/* ---- fds ---- */

struct event_io *
event_io_add(struct event_loop *loop, int fd, unsigned int events,
    event_io_cb *cb, void *arg)
{
	struct event_io	*io;
	int		 saved;

	BUZ_ASSERT(fd >= 0 && cb != NULL);
	io = xcalloc(1, sizeof(*io));
	io->loop = loop;
	io->fd = fd;
	io->cb = cb;
	io->arg = arg;
	events &= EVENT_READ | EVENT_WRITE;
	if (event_backend_set(loop->be, fd, io, 0, events) == -1) {
		saved = errno;
		free(io);
		errno = saved;
		return NULL;
	}
	io->events = events;
	io->next = loop->ios;
	if (io->next != NULL)
		io->next->prev = io;
	loop->ios = io;
	loop->nio++;
	return io;
}

int
event_io_set(struct event_io *io, unsigned int events)
{
	events &= EVENT_READ | EVENT_WRITE;
	BUZ_ASSERT(!io->dead);
	if (events == io->events)
		return 0;
	if (event_backend_set(io->loop->be, io->fd, io, io->events,
	    events) == -1)
		return -1;
	io->events = events;
	return 0;
}

void
event_io_del(struct event_io **iop)
{
	struct event_io		*io = *iop;
	struct event_loop	*loop;

	if (io == NULL)
		return;
	*iop = NULL;
	loop = io->loop;
	BUZ_ASSERT(!io->dead);
	if (io->prev != NULL)
		io->prev->next = io->next;
	else
		loop->ios = io->next;
	if (io->next != NULL)
		io->next->prev = io->prev;
	/* The fd may already be closed (EBADF): it left the set with it. */
	(void)event_backend_set(loop->be, io->fd, io, io->events, 0);
	io->events = 0;
	io->dead = true;
	loop->nio--;
	if (loop->dispatching) {
		io->next_dead = loop->dead_io;
		loop->dead_io = io;
	} else
		free(io);
}

/* ---- timers: a min-heap on (when, seq) ---- */

static bool
timer_before(const struct event_timer *a, const struct event_timer *b)
{
	if (a->when != b->when)
		return a->when < b->when;
	return a->seq < b->seq;
}

static void
heap_set(struct event_loop *loop, size_t i, struct event_timer *t)
{
	loop->heap[i] = t;
	t->idx = i;
}

static void
heap_up(struct event_loop *loop, size_t i)
{
	struct event_timer	*t = loop->heap[i];
	size_t			 parent;

	while (i > 0) {
		parent = (i - 1) / 2;
		if (!timer_before(t, loop->heap[parent]))
			break;
		heap_set(loop, i, loop->heap[parent]);
		i = parent;
	}
	heap_set(loop, i, t);
}

static void
heap_down(struct event_loop *loop, size_t i)
{
	struct event_timer	*t = loop->heap[i];
	size_t			 c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= loop->nheap)
			break;
		if (c + 1 < loop->nheap &&
		    timer_before(loop->heap[c + 1], loop->heap[c]))
			c++;
		if (!timer_before(loop->heap[c], t))
			break;
		heap_set(loop, i, loop->heap[c]);
		i = c;
	}
	heap_set(loop, i, t);
}

static void
heap_insert(struct event_loop *loop, struct event_timer *t)
{
	if (loop->nheap == loop->heapcap) {
		loop->heapcap = loop->heapcap == 0 ? 16 : loop->heapcap * 2;
		loop->heap = xreallocarray(loop->heap, loop->heapcap,
		    sizeof(*loop->heap));
	}
	heap_set(loop, loop->nheap++, t);
	heap_up(loop, t->idx);
}

static void
heap_remove(struct event_loop *loop, struct event_timer *t)
{
	size_t			 i = t->idx;
	struct event_timer	*last;

	BUZ_ASSERT(i < loop->nheap && loop->heap[i] == t);
	last = loop->heap[--loop->nheap];
	if (last != t) {
		heap_set(loop, i, last);
		heap_up(loop, i);
		heap_down(loop, last->idx);
	}
	t->idx = SIZE_MAX;
}

static void
timer_arm(struct event_timer *t, uint64_t ms)
{
	struct event_loop	*loop = t->loop;

	t->when = ms > UINT64_MAX - loop->now ? UINT64_MAX : loop->now + ms;
	t->seq = loop->seq++;
	t->state = TIMER_ARMED;
	heap_insert(loop, t);
}

struct event_timer *
event_timer_add(struct event_loop *loop, uint64_t ms, event_timer_cb *cb,
    void *arg)
{
	struct event_timer	*t;

	BUZ_ASSERT(cb != NULL);
	t = xcalloc(1, sizeof(*t));
	t->loop = loop;
	t->cb = cb;
	t->arg = arg;
	t->idx = SIZE_MAX;
	t->next = loop->timers;
	if (t->next != NULL)
		t->next->prev = t;
	loop->timers = t;
	timer_arm(t, ms);
	return t;
}

void
event_timer_reset(struct event_timer *t, uint64_t ms)
{
	BUZ_ASSERT(t->state != TIMER_DEAD);
	if (t->state == TIMER_ARMED)
		heap_remove(t->loop, t);
	timer_arm(t, ms);
}

void
event_timer_del(struct event_timer **tp)
{
	struct event_timer	*t = *tp;
	struct event_loop	*loop;

	if (t == NULL)
		return;
	*tp = NULL;
	loop = t->loop;
	BUZ_ASSERT(t->state != TIMER_DEAD);
	if (t->state == TIMER_ARMED)
		heap_remove(loop, t);
	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		loop->timers = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	t->state = TIMER_DEAD;
	if (loop->dispatching) {
		t->next_dead = loop->dead_timers;
		loop->dead_timers = t;
	} else
		free(t);
}

static void
event_run_timers(struct event_loop *loop)
{
	struct event_timer	*t;
	size_t			 i;

	loop->ndue = 0;
	while (loop->nheap > 0 && loop->heap[0]->when <= loop->now) {
		t = loop->heap[0];
		heap_remove(loop, t);
		t->state = TIMER_DUE;
		if (loop->ndue == loop->duecap) {
			loop->duecap = loop->duecap == 0 ? 16 :
			    loop->duecap * 2;
			loop->due = xreallocarray(loop->due, loop->duecap,
			    sizeof(*loop->due));
		}
		loop->due[loop->ndue++] = t;
	}
	for (i = 0; i < loop->ndue; i++) {
		t = loop->due[i];
		if (t->state != TIMER_DUE || loop->brk)
			continue;
		t->state = TIMER_IDLE;
		t->cb(t->arg);
	}
	/* Due timers skipped by a break go back on the heap. */
	for (i = 0; i < loop->ndue; i++) {
		t = loop->due[i];
		if (t->state == TIMER_DUE) {
			t->state = TIMER_ARMED;
			heap_insert(loop, t);
		}
	}
	loop->ndue = 0;
}

/* ---- signals ---- */

/* The first callback after a wait refreshes the clock, so that timers
 * armed from it count from the wake-up, not from before the sleep. */
static void
event_refresh(struct event_loop *loop)
{
	if (!loop->fresh) {
		loop->now = event_clock_ms();
		loop->fresh = true;
	}
}

bool
event_signal_ready(struct event_loop *loop, int signo)
{
	if (loop->brk)
		return false;
	event_refresh(loop);
	if (signo > 0 && signo < NSIG && loop->sig[signo].cb != NULL)
		loop->sig[signo].cb(signo, loop->sig[signo].arg);
	return !loop->brk;
}

int
event_signal_add(struct event_loop *loop, int signo, event_signal_cb *cb,
    void *arg)
{
	sigset_t	 one, old;
	int		 saved;

	if (signo <= 0 || signo >= NSIG || cb == NULL ||
	    signo == SIGKILL || signo == SIGSTOP) {
		errno = EINVAL;
		return -1;
	}
	if (sigismember(&loop->sigs, signo) == 1) {
		loop->sig[signo].cb = cb;
		loop->sig[signo].arg = arg;
		return 0;
	}
	sigemptyset(&one);
	sigaddset(&one, signo);
	if (sigprocmask(SIG_BLOCK, &one, &old) == -1)
		return -1;
	if (event_backend_signal_add(loop->be, signo) == -1) {
		saved = errno;
		if (sigismember(&old, signo) == 0)
			(void)sigprocmask(SIG_UNBLOCK, &one, NULL);
		errno = saved;
		return -1;
	}
	sigaddset(&loop->sigs, signo);
	loop->sig[signo].cb = cb;
	loop->sig[signo].arg = arg;
	loop->nsig++;
	return 0;
}

/* ---- the loop ---- */

static int
event_timeout(struct event_loop *loop)
{
	uint64_t	 when;

	if (loop->nheap == 0)
		return -1;
	when = loop->heap[0]->when;
	if (when <= loop->now)
		return 0;
	if (when - loop->now > INT_MAX)
		return INT_MAX;
	return (int)(when - loop->now);
}

void
event_ready(struct event_loop *loop, void *ptr, unsigned int events)
{
	struct event_io	*io = ptr;

	if (loop->brk || io->dead)
		return;
	event_refresh(loop);
	events &= io->events;		/* it may have been paused */
	if (events != 0)
		io->cb(io->fd, events, io->arg);
}

int
event_loop_run(struct event_loop *loop)
{
	int	 timeout;

	BUZ_ASSERT(!loop->dispatching);
	loop->brk = false;
	while (!loop->brk) {
		if (loop->nio == 0 && loop->nheap == 0 && loop->nsig == 0)
			break;
		loop->now = event_clock_ms();
		timeout = event_timeout(loop);
		/* Nothing runs while the backend sleeps, so the turn can be
		 * marked as dispatching from here on. */
		loop->dispatching = true;
		loop->fresh = false;
		if (event_backend_wait(loop->be, timeout) == -1) {
			loop->dispatching = false;
			event_free_dead(loop);
			return -1;
		}
		event_refresh(loop);
		if (!loop->brk)
			event_run_timers(loop);
		loop->dispatching = false;
		event_free_dead(loop);
	}
	return 0;
}
