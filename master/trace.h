/*
 * trace.h - read buzon's log as protocol transcripts (`buzon trace`)
 *
 * A log line is "TIME PROGRAM[PID]: ID MESSAGE" (common/log.h).  With
 * trace on, protocol daemons log each line they read or write as "C: ..."
 * and "S: ...".  A trace takes log lines one at a time and hands on, by
 * its out callback, either
 *
 *   transcript lines:	"TIME ID SERVICE C: line" (or S:), for the sessions
 *			that pass the service and user filters; or
 *   message lines:	"TIME PROGRAM ID MESSAGE", every line about one queue
 *			id (filter.message set): its own lines, the smtpd
 *			reply that named it, its deliveries, and then, for
 *			each local recipient, the POP3 and IMAP sessions
 *			that logged in as that user after the delivery:
 *			their login, RETR, TOP, DELE, FETCH, QUIT and
 *			logout lines.  The logs do not say which message a
 *			RETR sent, so these are the sessions that could
 *			have read it, not proof that one did.
 *
 * Client lines are masked again on the way (log_trace_mask()), and the
 * lines of a SASL exchange (after AUTH or AUTHENTICATE, while the server
 * answers 334 or "+") are shown as "****", as are the literal lines of an
 * IMAP LOGIN ("a LOGIN alice {6}"), so a log written by an older version
 * with credentials in clear never shows them either.
 *
 * A session's user is known from its login line ("auth ok user=U" in
 * smtpd, "login user=U" in pop3d and imapd), after the lines that logged
 * in; with a user filter a session's lines are held until then and
 * dropped if it ends without that user.  At most TRACE_SESSIONS sessions
 * and TRACE_HELD lines per session are held; past that the oldest are
 * dropped.
 */
#ifndef BUZON_TRACE_H
#define BUZON_TRACE_H

#include <stdbool.h>
#include <stddef.h>

#define TRACE_SESSIONS	512
#define TRACE_HELD	256

struct trace;

struct trace_filter {
	const char	*service;	/* "smtp", "pop3", "imap"; NULL: all */
	const char	*user;		/* NULL: all; "u" also matches u@dom */
	const char	*message;	/* a queue id: message mode */
};

/* One log line split in place: borrowed pointers into the caller's copy,
 * with NULs written over the separators. */
struct trace_rec {
	const char	*time;
	const char	*prog;		/* "buzon-pop3d", PID dropped */
	const char	*id;
	const char	*msg;
};

typedef void	trace_out_cb(const char *line, void *arg);

/* Split line (NUL-terminated, no newline; modified).  Returns 1, or 0 when
 * it is not a log line of buzon's form. */
int	 trace_split(char *line, struct trace_rec *r);
/* "smtp", "pop3", "imap" for the daemon prog, or NULL. */
const char *trace_service(const char *prog);

/* A new trace; the filter's strings must outlive it. */
struct trace *trace_new(const struct trace_filter *, trace_out_cb *,
	    void *arg);
/* Feed one log line (no newline; at most 8 KiB are looked at). */
void	 trace_feed(struct trace *, const char *line);
void	 trace_free(struct trace **);

#endif
