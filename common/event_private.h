/*
 * event_private.h - between the portable loop (event.c) and the kernel
 * interface that waits for fds and signals (event_epoll.c on Linux)
 *
 * Not for use outside those two files.
 */
#ifndef BUZON_EVENT_PRIVATE_H
#define BUZON_EVENT_PRIVATE_H

#include <stdbool.h>

#include "event.h"

struct event_backend;

/* A new backend for loop; fatal() if the kernel refuses. */
struct event_backend *event_backend_new(struct event_loop *);
void	 event_backend_free(struct event_backend *);

/* Watch fd for events instead of old (either may be 0: not watched).
 * 0, or -1 with errno. */
int	 event_backend_set(struct event_backend *, int fd, void *ptr,
	    unsigned int old, unsigned int events);

/* Start delivering signo (already blocked by the caller).  0 or -1. */
int	 event_backend_signal_add(struct event_backend *, int signo);

/* Wait up to timeout_ms (-1: forever) and report every ready fd through
 * event_ready() and every signal through event_signal_ready().  Returns 0,
 * also when interrupted (EINTR), or -1 with errno. */
int	 event_backend_wait(struct event_backend *, int timeout_ms);

/* Called back by the backend.  ptr is what event_backend_set() was given;
 * events may include both bits on hang-up or error (event.c narrows them to
 * what the io watches).  event_signal_ready() returns false once the loop
 * is broken, so the backend leaves the rest queued. */
void	 event_ready(struct event_loop *, void *ptr, unsigned int events);
bool	 event_signal_ready(struct event_loop *, int signo);

#endif
