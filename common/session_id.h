/*
 * session_id.h - ids for the sessions of a network daemon
 *
 * An id is 10 lower-case hex digits: the low 24 bits of the current time
 * in seconds, then the low 16 bits of a counter shared by every caller in
 * the process.  It only has to tell apart the sessions in a daemon's log,
 * so it is short, not secret and not unique across processes.  Not
 * thread-safe: call it from one thread (the event loop).
 */
#ifndef BUZON_SESSION_ID_H
#define BUZON_SESSION_ID_H

#include <stddef.h>

/* Bytes an id takes, terminating NUL included. */
#define SESSION_ID_SIZE	11

/* Write a new id into buf.  size must be at least SESSION_ID_SIZE
 * (panic otherwise): a truncated id would mislead. */
void	 session_id_new(char *buf, size_t size);

#endif
