/* SPDX-License-Identifier: MIT */
/*
 * event.c - the event loop: epoll for fds, a binary heap of timers, signalfd
 *
 * Deletion during dispatch is deferred: a deleted io or timer is marked dead
 * (so the rest of the batch skips it) and freed once the turn is over.
 * Timers due in a turn are first moved off the heap into a due list; one that
 * is reset or deleted before its turn comes is simply skipped, and a timer
 * reset to 0 from its own callback fires in the next turn, not in a loop.
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/signalfd.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "event.h"
#include "log.h"
#include "mem.h"

#define EVENT_BATCH	64

enum timer_state {
	TIMER_IDLE,		/* fired or never armed: off the heap */
	TIMER_ARMED,		/* on the heap */
	TIMER_DUE,		/* on the due list, about to fire this turn */
	TIMER_DEAD		/* deleted, freed at the end of the turn */
};

struct event_io {
	struct event_loop	*loop;
	int			 fd;
	unsigned int		 events;
	bool			 in_epoll;
	bool			 dead;
	bool			 internal;	/* the signalfd */
	event_io_cb		*cb;
	void			*arg;
	struct event_io		*prev, *next;	/* live list */
	struct event_io		*next_dead;
};

struct event_timer {
	struct event_loop	*loop;
	uint64_t		 when;
	uint64_t		 seq;		/* ties fire in order of arming */
	size_t			 idx;		/* heap slot when TIMER_ARMED */
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
	int			 epfd;
	bool			 brk;
	bool			 dispatching;
	uint64_t		 now;
	uint64_t		 seq;
	size_t			 nio;		/* live ios, paused included */
	struct event_io		*ios;
	struct event_timer	*timers;
	struct event_io		*dead_io;
	struct event_timer	**heap;
	size_t			 nheap, heapcap;
	struct event_timer	**due;
	size_t			 ndue, duecap;
	struct event_timer	*dead_timers;
	int			 sigfd;
	struct event_io		*sigio;
	sigset_t		 sigs;
	size_t			 nsig;
	struct event_sig	 sig[NSIG];
};

/* Every signal any loop blocked, for event_signal_reset_child(). */
static sigset_t	event_blocked;
static bool	event_blocked_init;

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
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd == -1)
		fatal("epoll_create1");
	loop->sigfd = -1;
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
	if (loop->sigio != NULL)
		free(loop->sigio);
	if (loop->sigfd != -1)
		(void)close(loop->sigfd);
	(void)close(loop->epfd);
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

static uint32_t
event_epoll_mask(unsigned int events)
{
	uint32_t	 m = 0;

	if (events & EVENT_READ)
		m |= EPOLLIN | EPOLLRDHUP;
	if (events & EVENT_WRITE)
		m |= EPOLLOUT;
	return m;
}

/* A paused io (events 0) is kept out of epoll: epoll would still report
 * hang-ups on it, level-triggered, and spin the loop. */
static int
event_io_sync(struct event_io *io, unsigned int events)
{
	struct epoll_event	 ev;
	int			 op;

	memset(&ev, 0, sizeof(ev));
	ev.events = event_epoll_mask(events);
	ev.data.ptr = io;
	if (events == 0) {
		if (!io->in_epoll)
			return 0;
		if (epoll_ctl(io->loop->epfd, EPOLL_CTL_DEL, io->fd, &ev) == -1)
			return -1;
		io->in_epoll = false;
		return 0;
	}
	op = io->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(io->loop->epfd, op, io->fd, &ev) == -1)
		return -1;
	io->in_epoll = true;
	return 0;
}

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
	if (event_io_sync(io, events & (EVENT_READ | EVENT_WRITE)) == -1) {
		saved = errno;
		free(io);
		errno = saved;
		return NULL;
	}
	io->events = events & (EVENT_READ | EVENT_WRITE);
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
	if (event_io_sync(io, events) == -1)
		return -1;
	io->events = events;
	return 0;
}

void
event_io_del(struct event_io **iop)
{
	struct event_io		*io = *iop;
	struct event_loop	*loop;
	struct epoll_event	 ev;

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
	/* The fd may already be closed (EBADF): it left epoll with it. */
	memset(&ev, 0, sizeof(ev));
	if (io->in_epoll)
		(void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, &ev);
	io->in_epoll = false;
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

static void
event_signal_read(int fd, unsigned int events, void *arg)
{
	struct event_loop		*loop = arg;
	struct signalfd_siginfo		 si;
	ssize_t				 n;
	int				 signo;

	(void)events;
	for (;;) {
		n = read(fd, &si, sizeof(si));
		if (n == -1 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(si))
			break;
		signo = (int)si.ssi_signo;
		if (signo > 0 && signo < NSIG && loop->sig[signo].cb != NULL)
			loop->sig[signo].cb(signo, loop->sig[signo].arg);
		if (loop->brk)
			break;
	}
}

int
event_signal_add(struct event_loop *loop, int signo, event_signal_cb *cb,
    void *arg)
{
	sigset_t		 one;
	struct epoll_event	 ev;
	int			 fd;

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
	if (sigprocmask(SIG_BLOCK, &one, NULL) == -1)
		return -1;
	if (!event_blocked_init) {
		sigemptyset(&event_blocked);
		event_blocked_init = true;
	}
	sigaddset(&event_blocked, signo);
	sigaddset(&loop->sigs, signo);
	fd = signalfd(loop->sigfd, &loop->sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd == -1) {
		sigdelset(&loop->sigs, signo);
		return -1;
	}
	if (loop->sigfd == -1) {
		loop->sigfd = fd;
		loop->sigio = xcalloc(1, sizeof(*loop->sigio));
		loop->sigio->loop = loop;
		loop->sigio->fd = fd;
		loop->sigio->internal = true;
		loop->sigio->cb = event_signal_read;
		loop->sigio->arg = loop;
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.ptr = loop->sigio;
		if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) == -1)
			fatal("epoll_ctl signalfd");
	}
	loop->sig[signo].cb = cb;
	loop->sig[signo].arg = arg;
	loop->nsig++;
	return 0;
}

void
event_signal_reset_child(void)
{
	if (event_blocked_init)
		(void)sigprocmask(SIG_UNBLOCK, &event_blocked, NULL);
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

static void
event_dispatch_io(struct event_io *io, uint32_t got)
{
	unsigned int	 ev = 0;

	if (io->internal) {
		io->cb(io->fd, EVENT_READ, io->arg);
		return;
	}
	if (got & (EPOLLIN | EPOLLRDHUP))
		ev |= EVENT_READ;
	if (got & EPOLLOUT)
		ev |= EVENT_WRITE;
	/* Hang-up and error wake whichever side is waiting. */
	if (got & (EPOLLHUP | EPOLLERR))
		ev |= EVENT_READ | (io->events & EVENT_WRITE);
	ev &= io->events;		/* it may have been paused meanwhile */
	if (ev != 0)
		io->cb(io->fd, ev, io->arg);
}

int
event_loop_run(struct event_loop *loop)
{
	struct epoll_event	 evs[EVENT_BATCH];
	struct event_io		*io;
	int			 n, i;

	BUZ_ASSERT(!loop->dispatching);
	loop->brk = false;
	while (!loop->brk) {
		if (loop->nio == 0 && loop->nheap == 0 && loop->nsig == 0)
			break;
		loop->now = event_clock_ms();
		n = epoll_wait(loop->epfd, evs, EVENT_BATCH,
		    event_timeout(loop));
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		loop->now = event_clock_ms();
		loop->dispatching = true;
		for (i = 0; i < n && !loop->brk; i++) {
			io = evs[i].data.ptr;
			if (io->dead)
				continue;
			event_dispatch_io(io, evs[i].events);
		}
		if (!loop->brk)
			event_run_timers(loop);
		loop->dispatching = false;
		event_free_dead(loop);
	}
	return 0;
}
