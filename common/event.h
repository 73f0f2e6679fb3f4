/*
 * event.h - the event loop: fds (epoll), one-shot timers, signals (signalfd)
 *
 * One loop per process, single-threaded.  Callbacks run from
 * event_loop_run(); any of them may add or delete fds, timers and signals,
 * including the very one that is running (deletion is deferred, so a
 * callback never runs for an object already deleted in the same turn).
 *
 * Handles returned by the *_add() functions belong to the loop: the caller
 * keeps the pointer only to change or delete it, and event_*_del() sets it
 * to NULL.  event_loop_free() releases whatever is still registered but
 * never closes fds.
 */
#ifndef BUZON_EVENT_H
#define BUZON_EVENT_H

#include <stdbool.h>
#include <stdint.h>

#define EVENT_READ	0x01	/* also reported on hang-up and error */
#define EVENT_WRITE	0x02

struct event_loop;
struct event_io;
struct event_timer;

typedef void	event_io_cb(int fd, unsigned int events, void *arg);
typedef void	event_timer_cb(void *arg);
typedef void	event_signal_cb(int signo, void *arg);

struct event_loop *event_loop_new(void);
void	 event_loop_free(struct event_loop **);

/* Run until event_loop_break() or until nothing is registered.  Returns 0,
 * or -1 if epoll itself failed (errno set). */
int	 event_loop_run(struct event_loop *);
void	 event_loop_break(struct event_loop *);
/* Monotonic milliseconds, refreshed once per loop turn. */
uint64_t event_now_ms(struct event_loop *);

/* Watch fd for events (EVENT_READ | EVENT_WRITE, or 0 to register paused).
 * Returns NULL with errno set if epoll refuses the fd (EBADF, EEXIST, EPERM
 * for a regular file).  Delete the io before closing its fd. */
struct event_io *event_io_add(struct event_loop *, int fd, unsigned int events,
	    event_io_cb *, void *arg);
/* Change the events watched; returns 0 or -1 (errno). */
int	 event_io_set(struct event_io *, unsigned int events);
void	 event_io_del(struct event_io **);

/* One-shot timer, ms from now.  Re-arm with event_timer_reset(), also from
 * inside its own callback. */
struct event_timer *event_timer_add(struct event_loop *, uint64_t ms,
	    event_timer_cb *, void *arg);
void	 event_timer_reset(struct event_timer *, uint64_t ms);
void	 event_timer_del(struct event_timer **);

/* Deliver signo through the loop (the signal is blocked and read from a
 * signalfd).  One callback per signal; adding again replaces it.  Returns 0
 * or -1.  Signals of one kind coalesce: a SIGCHLD callback must reap with
 * waitpid(WNOHANG) until none is left.  The signals stay blocked after
 * event_loop_free().  event_signal_reset_child() unblocks every signal the
 * loop took, for a child after fork() and before exec(). */
int	 event_signal_add(struct event_loop *, int signo, event_signal_cb *,
	    void *arg);
void	 event_signal_reset_child(void);

#endif
