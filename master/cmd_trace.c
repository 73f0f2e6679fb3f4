/* SPDX-License-Identifier: MIT */
/*
 * cmd_trace.c - `buzon trace [--follow] [--service S] [--user U]
 * [--message ID]`: the instance's log as C:/S: transcripts
 *
 * Reads trace_log (else STATE/log/buzon.log, where `buzon start` logs
 * with log_target = stderr) and hands each line to trace.c.  --follow
 * starts at the end and waits for more like `tail -F`: when the file is
 * renamed or replaced (rotation) it finishes the old one and goes on with
 * the new one from its start; when it is truncated it starts over.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "settings.h"
#include "str.h"
#include "trace.h"
#include "verbs.h"

#define TRACE_BUF	16384
#define TRACE_POLL_MS	200

int	verb_trace(const char *, int, char **);

static const char usage[] = "usage: buzon [-c FILE] trace [--follow] "
    "[--service smtp|pop3|imap] [--user USER] [--message ID]";

struct reader {
	int	 fd;
	char	 buf[TRACE_BUF];
	size_t	 len;
	bool	 skipping;	/* inside a line longer than buf: drop it */
};

static void
print_line(const char *line, void *arg)
{
	(void)arg;
	puts(line);
}

/* Feed every whole line in r->buf; keep a partial one. */
static void
reader_lines(struct reader *r, struct trace *t)
{
	char	*p = r->buf, *nl;
	size_t	 left = r->len;

	while ((nl = memchr(p, '\n', left)) != NULL) {
		*nl = '\0';
		if (!r->skipping)
			trace_feed(t, p);
		r->skipping = false;
		left -= (size_t)(nl + 1 - p);
		p = nl + 1;
	}
	if (left == sizeof(r->buf)) {	/* no newline in a full buffer */
		r->skipping = true;
		left = 0;
	}
	memmove(r->buf, p, left);
	r->len = left;
}

/* Read what is there now: 0 at EOF, -1 on error. */
static int
reader_drain(struct reader *r, struct trace *t)
{
	ssize_t	 n;

	for (;;) {
		n = read(r->fd, r->buf + r->len, sizeof(r->buf) - r->len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? 0 : -1;
		r->len += (size_t)n;
		reader_lines(r, t);
	}
}

static void
sleep_ms(long ms)
{
	struct timespec	 ts = { ms / 1000, (ms % 1000) * 1000000L };

	(void)nanosleep(&ts, NULL);
}

/* tail -F: follow path for ever, across rotation and truncation. */
static int
follow(const char *path, struct reader *r, struct trace *t)
{
	struct stat	 st_fd, st_path;
	off_t		 pos;
	int		 fd;

	for (;;) {
		if (reader_drain(r, t) == -1)
			return verb_error("trace", 1, "%s: %s", path,
			    strerror(errno));
		fflush(stdout);
		sleep_ms(TRACE_POLL_MS);
		if (fstat(r->fd, &st_fd) == -1)
			return verb_error("trace", 1, "%s: %s", path,
			    strerror(errno));
		pos = lseek(r->fd, 0, SEEK_CUR);
		if (pos != -1 && st_fd.st_size < pos) {
			/* truncated in place: start over */
			(void)lseek(r->fd, 0, SEEK_SET);
			r->len = 0;
			continue;
		}
		if (stat(path, &st_path) == -1 ||
		    (st_path.st_ino == st_fd.st_ino &&
		    st_path.st_dev == st_fd.st_dev))
			continue;
		/* rotated: finish the old file, then the new one from 0 */
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			continue;
		(void)reader_drain(r, t);
		close(r->fd);
		r->fd = fd;
	}
}

static const char *
log_path(const struct config *cfg, char *buf, size_t size)
{
	if (cfg->trace_log != NULL && cfg->trace_log[0] != '\0')
		return cfg->trace_log;
	if (!str_printf(buf, size, "%s/log/buzon.log", cfg->state_dir))
		return NULL;
	return buf;
}

int
verb_trace(const char *conf_path, int argc, char **argv)
{
	static struct reader	 r;
	struct trace_filter	 f = { NULL, NULL, NULL };
	struct config		 cfg;
	struct trace		*t;
	char			 pbuf[PATH_MAX];
	const char		*path;
	bool			 follow_on = false;
	int			 i, rc = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--follow") == 0 ||
		    strcmp(argv[i], "-f") == 0)
			follow_on = true;
		else if (strcmp(argv[i], "--service") == 0 && i + 1 < argc)
			f.service = argv[++i];
		else if (strcmp(argv[i], "--user") == 0 && i + 1 < argc)
			f.user = argv[++i];
		else if (strcmp(argv[i], "--message") == 0 && i + 1 < argc)
			f.message = argv[++i];
		else
			return verb_error("trace", EXIT_USAGE, "%s", usage);
	}
	if (f.service != NULL && strcmp(f.service, "smtp") != 0 &&
	    strcmp(f.service, "pop3") != 0 && strcmp(f.service, "imap") != 0)
		return verb_error("trace", EXIT_USAGE, "--service is smtp, "
		    "pop3 or imap, not %s", f.service);
	if (f.message != NULL && (f.service != NULL || f.user != NULL))
		return verb_error("trace", EXIT_USAGE, "--message goes alone "
		    "(with --follow at most)");
	if (verb_load_config(conf_path, &cfg) == -1) {
		config_release(&cfg);
		return 1;
	}
	if ((path = log_path(&cfg, pbuf, sizeof(pbuf))) == NULL) {
		config_release(&cfg);
		return verb_error("trace", 1, "log path too long");
	}
	if (path != pbuf)
		(void)str_copy(pbuf, path, sizeof(pbuf));
	config_release(&cfg);
	memset(&r, 0, sizeof(r));
	if ((r.fd = open(pbuf, O_RDONLY | O_CLOEXEC)) == -1)
		return verb_error("trace", 1, "cannot read the log %s: %s "
		    "(set trace_log, or start with log_target = stderr)",
		    pbuf, strerror(errno));
	t = trace_new(&f, print_line, NULL);
	if (follow_on) {
		if (lseek(r.fd, 0, SEEK_END) == -1)
			rc = verb_error("trace", 1, "%s: %s", pbuf,
			    strerror(errno));
		else
			rc = follow(pbuf, &r, t);
	} else if (reader_drain(&r, t) == -1)
		rc = verb_error("trace", 1, "%s: %s", pbuf, strerror(errno));
	else if (r.len > 0 && !r.skipping) {
		r.buf[r.len < sizeof(r.buf) ? r.len : sizeof(r.buf) - 1] =
		    '\0';
		trace_feed(t, r.buf);
	}
	trace_free(&t);
	close(r.fd);
	fflush(stdout);
	return rc;
}
