/* SPDX-License-Identifier: MIT */
/*
 * event_epoll.c - the Linux backend of the event loop: epoll and signalfd
 *
 * The signalfd is registered in the epoll set with a NULL pointer, which no
 * io ever uses, so one epoll_wait() reports fds and signals alike.
 */
#include <sys/epoll.h>
#include <sys/signalfd.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event_private.h"
#include "log.h"
#include "mem.h"

#define EVENT_BATCH	64

struct event_backend {
	struct event_loop	*loop;
	int			 epfd;
	int			 sigfd;
	sigset_t		 sigs;
};

/* Every signal any loop took, for event_signal_reset_child(). */
static sigset_t	event_blocked;
static bool	event_blocked_init;

struct event_backend *
event_backend_new(struct event_loop *loop)
{
	struct event_backend	*be;

	be = xcalloc(1, sizeof(*be));
	be->loop = loop;
	be->sigfd = -1;
	sigemptyset(&be->sigs);
	be->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (be->epfd == -1)
		fatal("epoll_create1");
	return be;
}

void
event_backend_free(struct event_backend *be)
{
	if (be->sigfd != -1)
		(void)close(be->sigfd);
	(void)close(be->epfd);
	free(be);
}

int
event_backend_set(struct event_backend *be, int fd, void *ptr,
    unsigned int old, unsigned int events)
{
	struct epoll_event	 ev;
	int			 op;

	memset(&ev, 0, sizeof(ev));
	if (events & EVENT_READ)
		ev.events |= EPOLLIN | EPOLLRDHUP;
	if (events & EVENT_WRITE)
		ev.events |= EPOLLOUT;
	ev.data.ptr = ptr;
	/* A paused fd leaves the set: epoll would still report a hang-up on
	 * it, level-triggered, and spin the loop. */
	if (events == 0)
		op = EPOLL_CTL_DEL;
	else
		op = old == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
	if (old == 0 && events == 0)
		return 0;
	return epoll_ctl(be->epfd, op, fd, &ev);
}

int
event_backend_signal_add(struct event_backend *be, int signo)
{
	struct epoll_event	 ev;
	int			 fd;

	if (!event_blocked_init) {
		sigemptyset(&event_blocked);
		event_blocked_init = true;
	}
	sigaddset(&event_blocked, signo);
	sigaddset(&be->sigs, signo);
	fd = signalfd(be->sigfd, &be->sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd == -1) {
		sigdelset(&be->sigs, signo);
		return -1;
	}
	if (be->sigfd == -1) {
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.ptr = NULL;
		if (epoll_ctl(be->epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
			(void)close(fd);
			sigdelset(&be->sigs, signo);
			return -1;
		}
		be->sigfd = fd;
	}
	return 0;
}

void
event_signal_reset_child(void)
{
	if (event_blocked_init)
		(void)sigprocmask(SIG_UNBLOCK, &event_blocked, NULL);
}

static void
event_backend_signals(struct event_backend *be)
{
	struct signalfd_siginfo	 si;
	ssize_t			 n;

	for (;;) {
		n = read(be->sigfd, &si, sizeof(si));
		if (n == -1 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(si))
			return;
		if (!event_signal_ready(be->loop, (int)si.ssi_signo))
			return;
	}
}

int
event_backend_wait(struct event_backend *be, int timeout_ms)
{
	struct epoll_event	 evs[EVENT_BATCH];
	unsigned int		 ev;
	int			 n, i;

	n = epoll_wait(be->epfd, evs, EVENT_BATCH, timeout_ms);
	if (n == -1)
		return errno == EINTR ? 0 : -1;
	for (i = 0; i < n; i++) {
		if (evs[i].data.ptr == NULL) {
			event_backend_signals(be);
			continue;
		}
		ev = 0;
		if (evs[i].events & (EPOLLIN | EPOLLRDHUP))
			ev |= EVENT_READ;
		if (evs[i].events & EPOLLOUT)
			ev |= EVENT_WRITE;
		/* Hang-up and error wake whichever side is waiting. */
		if (evs[i].events & (EPOLLHUP | EPOLLERR))
			ev |= EVENT_READ | EVENT_WRITE;
		event_ready(be->loop, evs[i].data.ptr, ev);
	}
	return 0;
}
