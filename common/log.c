/* SPDX-License-Identifier: MIT */
/*
 * log.c - one event per line, to stderr or syslog
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "str.h"

#define LOG_LINE_MAX	2048

static char		 log_name[64] = "buzon";
static bool		 log_syslog;
static bool		 log_tracing;
static enum log_level	 log_min = LOG_LEVEL_INFO;
static int		 log_copy = -1;

void
log_init(const char *progname, bool to_syslog, enum log_level min)
{
	(void)str_copy(log_name, progname, sizeof(log_name));
	if (log_syslog)
		closelog();
	log_syslog = to_syslog;
	log_min = min;
	if (log_syslog)
		openlog(log_name, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void
log_set_copy_fd(int fd)
{
	log_copy = fd;
}

void
log_set_level(enum log_level l)
{
	log_min = l;
}

void
log_set_trace(bool on)
{
	log_tracing = on;
}

bool
log_trace_enabled(void)
{
	return log_tracing;
}

const char *
log_progname(void)
{
	return log_name;
}

int
log_level_parse(const char *s, enum log_level *r)
{
	static const struct { const char *name; enum log_level l; } t[] = {
		{ "debug", LOG_LEVEL_DEBUG }, { "info", LOG_LEVEL_INFO },
		{ "warn", LOG_LEVEL_WARN }, { "warning", LOG_LEVEL_WARN },
		{ "error", LOG_LEVEL_ERROR },
	};
	size_t	 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcasecmp(s, t[i].name) == 0) {
			*r = t[i].l;
			return 0;
		}
	return -1;
}

static void
log_emit(enum log_level l, const char *id, const char *msg)
{
	static const int prio[] = { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR };
	char		 line[LOG_LINE_MAX + 128];
	char		 ts[32];
	struct timespec	 now;
	struct tm	 tm;
	int		 n, save = errno;

	if (id == NULL || *id == '\0')
		id = "-";
	if (log_syslog) {
		syslog(prio[l], "%s %s", id, msg);
		errno = save;
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s.%03ldZ %s[%ld]: %s %s\n", ts,
	    now.tv_nsec / 1000000, log_name, (long)getpid(), id, msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* One write per line keeps lines whole when processes share stderr. */
	(void)!write(STDERR_FILENO, line, (size_t)n);
	if (log_copy != -1)
		(void)!write(log_copy, line, (size_t)n);
	errno = save;
}

static void
log_vmsg(enum log_level l, const char *id, const char *fmt, va_list ap)
{
	char	 msg[LOG_LINE_MAX];

	if (l < log_min)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_emit(l, id, msg);
}

void
log_msg(enum log_level l, const char *id, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vmsg(l, id, fmt, ap);
	va_end(ap);
}

#define LOG_FN(name, level)						\
void									\
name(const char *id, const char *fmt, ...)				\
{									\
	va_list	 ap;							\
									\
	va_start(ap, fmt);						\
	log_vmsg(level, id, fmt, ap);					\
	va_end(ap);							\
}

LOG_FN(log_debug, LOG_LEVEL_DEBUG)
LOG_FN(log_info, LOG_LEVEL_INFO)
LOG_FN(log_warn, LOG_LEVEL_WARN)
LOG_FN(log_error, LOG_LEVEL_ERROR)

/* Length of the first n space-separated words of line (with the spaces
 * after them), or len when the line has no word after them. */
static size_t
words_len(const char *line, size_t len, int n)
{
	size_t	 i = 0;

	while (n-- > 0) {
		while (i < len && line[i] != ' ')
			i++;
		if (i >= len)
			return len;
		while (i < len && line[i] == ' ')
			i++;
	}
	return i;
}

static bool
word_is(const char *w, size_t wlen, const char *verb)
{
	return wlen == strlen(verb) && strncasecmp(w, verb, wlen) == 0;
}

/*
 * How many leading bytes of a client line may be shown.  SMTP/POP3
 * "AUTH MECH resp", POP3 "PASS x" and "APOP user digest", IMAP
 * "tag LOGIN user pass" and "tag AUTHENTICATE MECH resp".
 */
/* Bytes before the first space in the len bytes at p (no NUL needed). */
static size_t
word_len(const char *p, size_t len)
{
	const char	*sp = memchr(p, ' ', len);

	return sp != NULL ? (size_t)(sp - p) : len;
}

static size_t
visible_len(const char *line, size_t len)
{
	size_t	 w1 = word_len(line, len);
	size_t	 w2;
	const char *second;

	if (word_is(line, w1, "PASS"))
		return words_len(line, len, 1);
	if (word_is(line, w1, "AUTH") || word_is(line, w1, "APOP"))
		return words_len(line, len, 2);
	/* IMAP: the verb is the second word. */
	if ((w2 = words_len(line, len, 1)) == len)
		return len;
	second = line + w2;
	w1 = word_len(second, len - w2);
	if (word_is(second, w1, "LOGIN"))
		return words_len(line, len, 3);
	if (word_is(second, w1, "AUTHENTICATE"))
		return words_len(line, len, 3);
	return len;
}

void
log_trace_mask(char *dst, size_t dstsize, const char *line, size_t len,
    unsigned int flags)
{
	size_t	 show, o;

	if (flags & LOG_TRACE_SECRET)
		show = 0;
	else
		show = visible_len(line, len);
	str_sanitize(dst, dstsize, line, show);
	if (show < len) {
		o = strlen(dst);
		if (o + 5 <= dstsize)
			memcpy(dst + o, "****", 5);
	}
}

void
log_trace(const char *id, char dir, const char *line, size_t len,
    unsigned int flags)
{
	char	 buf[1024];

	if (!log_tracing)
		return;
	if (dir == LOG_TRACE_CLIENT)
		log_trace_mask(buf, sizeof(buf), line, len, flags);
	else if (flags & LOG_TRACE_SECRET)
		str_copy(buf, "****", sizeof(buf));
	else
		str_sanitize(buf, sizeof(buf), line, len);
	log_msg(LOG_LEVEL_INFO, id, "%c: %s", dir, buf);
}

static void __attribute__((noreturn))
log_die(bool with_errno, bool abrt, const char *fmt, va_list ap)
{
	char	 msg[LOG_LINE_MAX];
	int	 save = errno;
	size_t	 n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno) {
		n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(save));
	}
	log_emit(LOG_LEVEL_ERROR, abrt ? "panic" : "fatal", msg);
	if (abrt)
		abort();
	exit(EXIT_TEMPFAIL);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_die(true, false, fmt, ap);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_die(false, false, fmt, ap);
}

void
panic(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_die(false, true, fmt, ap);
}
