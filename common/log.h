/*
 * log.h - one event per line, to stderr or syslog (facility mail)
 *
 * Every line carries the program name and an id (session or queue id, "-"
 * when there is none): on stderr "TIME PROGRAM[PID]: ID message", in syslog
 * the same without the time.  Messages are "event key=value ..." (STYLE.md);
 * anything that came from a peer goes through str_sanitize() first.
 *
 * With trace on, protocol sessions log every line they read or write as
 * "C: ..." / "S: ..." so a transcript reads like the telnet session it was.
 * Credentials never reach the log: log_trace() masks AUTH/PASS/APOP/LOGIN
 * arguments itself, and callers flag SASL continuation lines as secret.
 */
#ifndef BUZON_LOG_H
#define BUZON_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR,
};

/* Program name for every line; to_syslog false logs to stderr.  Safe to
 * call again (reload).  Before any call, logs go to stderr as "buzon". */
void	 log_init(const char *progname, bool to_syslog, enum log_level min);
void	 log_set_level(enum log_level);
/* Also write every stderr line to fd (-1: stop); the fd stays the
 * caller's.  Ignored when logging to syslog. */
void	 log_set_copy_fd(int fd);
void	 log_set_trace(bool);
bool	 log_trace_enabled(void);
/* Parse "debug", "info", "warn", "error": 0, or -1 if unknown. */
int	 log_level_parse(const char *, enum log_level *r);
const char *log_progname(void);

void	 log_msg(enum log_level, const char *id, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	 log_debug(const char *id, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 log_info(const char *id, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 log_warn(const char *id, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 log_error(const char *id, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#define LOG_TRACE_CLIENT	'C'
#define LOG_TRACE_SERVER	'S'
#define LOG_TRACE_SECRET	0x01	/* mask the whole line (SASL data) */

/* Log one protocol line when trace is on (no-op otherwise).  The line is
 * len bytes without CRLF; dir is LOG_TRACE_CLIENT or LOG_TRACE_SERVER. */
void	 log_trace(const char *id, char dir, const char *line, size_t len,
	    unsigned int flags);
/* The masked form of a client line, as log_trace() would show it, written
 * to dst (sanitized, NUL-terminated).  Exposed for tests. */
void	 log_trace_mask(char *dst, size_t dstsize, const char *line, size_t len,
	    unsigned int flags);

/* Cannot run: log (fatal() adds strerror(errno)) and exit(75). */
void	 fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	 fatalx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
/* A bug: log and abort(). */
void	 panic(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#define BUZ_ASSERT(e) \
	((e) ? (void)0 : panic("assertion failed: %s (%s:%d)", #e, __FILE__, __LINE__))

#define EXIT_TEMPFAIL	75

#endif
