/* SPDX-License-Identifier: MIT */
/*
 * smtp-load.c - SMTP load generator for bench/smtp-intake and
 * bench/smtp-delivery
 *
 * usage: smtp-load -p PORT [-H ADDR] [-n MESSAGES] [-c SESSIONS]
 *                  [-k PER_CONNECTION] [-u USERS] [-d DOMAIN]
 *                  [-s MIN_SIZE] [-S MAX_SIZE] [-t TIMEOUT_S]
 *                  [-w MAILDIR]...
 *
 * Sends -n messages over -c parallel sessions (one epoll loop, no
 * threads), -k messages per connection (then QUIT and a new one), each to
 * one recipient userI@DOMAIN (I in 1..USERS, round robin), with a body of
 * plain text between -s and -S bytes.  MAIL, RCPT and DATA go in one
 * pipelined batch (RFC 2920); the message follows the 354.  Per message
 * it takes the time the "." line was written and the time its reply was
 * read.
 *
 * With -w (once per recipient Maildir: the directory that holds new/),
 * it also watches each new/ with inotify and waits until every accepted
 * message is a file there; each file is matched to its message by the
 * X-Bench-Id header, giving the time from the 250 to the file.
 *
 * Prints "key=value" lines on stdout (see report()); exit 0 when every
 * message was accepted (and delivered with -w), 1 otherwise, 2 on bad
 * usage.
 */
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"
#include "str.h"

#define MAX_SESSIONS	1000
#define MAX_WATCH	1000
#define INBUF		8192
#define MAX_ERRORS	1000	/* then give up: the server is not there */

enum state {
	S_CONNECT,		/* waiting for connect() to finish */
	S_GREETING,		/* 220 */
	S_EHLO,			/* 250 to EHLO */
	S_ENVELOPE,		/* replies to MAIL, RCPT, DATA */
	S_DOT,			/* reply to the end of data */
	S_QUIT,			/* 221 */
	S_DONE
};

struct msg {
	double		 t_dot;		/* "." line written */
	double		 t_reply;	/* its 250 read; 0: not accepted */
	double		 t_file;	/* file in new/; 0: not seen */
};

struct session {
	int		 fd;
	enum state	 state;
	unsigned int	 replies;	/* still expected in S_ENVELOPE */
	int		 env_ok;
	unsigned int	 sent_here;	/* messages on this connection */
	long		 cur;		/* message in flight, -1: none */
	char		*out;
	size_t		 outlen, outoff;
	char		 in[INBUF];
	size_t		 inlen;
};

struct watch {
	int		 wd;
	char		*dir;		/* .../new */
};

struct seen {
	char		*name;
	int		 w;
	double		 t;
};

static struct {
	struct sockaddr_in addr;
	unsigned int	 n, conc, per_conn, users, min_size, max_size;
	unsigned int	 timeout;
	const char	*domain;
	struct msg	*msgs;
	unsigned int	 next;		/* next message to start */
	unsigned int	 accepted, failed, finished;
	int		 ep, in_fd;
	struct watch	 watch[MAX_WATCH];
	unsigned int	 nwatch;
	struct seen	*seen;
	size_t		 nseen, seencap;
	unsigned int	 overflow;
	char		*text;		/* body source text */
	size_t		 textlen;
	unsigned int	 rng;
	unsigned int	 errors_shown;
	unsigned int	 sess_errors;	/* sessions that ended in an error */
} g;

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned int
rnd(void)
{
	g.rng = g.rng * 1103515245u + 12345u;
	return (g.rng >> 8) & 0xffffff;
}

static void
usage(void)
{
	fprintf(stderr, "usage: smtp-load -p PORT [-H ADDR] [-n MESSAGES] "
	    "[-c SESSIONS] [-k PER_CONNECTION]\n"
	    "       [-u USERS] [-d DOMAIN] [-s MIN_SIZE] [-S MAX_SIZE] "
	    "[-t TIMEOUT_S] [-w MAILDIR]...\n");
	exit(2);
}

/* Plain text lines of words, 60-76 characters, none starting with ".",
 * enough for the largest body. */
static void
make_text(size_t size)
{
	static const char *words[] = { "mail", "queue", "spool", "the",
	    "delivery", "message", "server", "of", "and", "relay", "host",
	    "mailbox", "a", "to", "header", "envelope", "recipient", "is",
	    "sender", "in", "durable", "fsync", "directory", "rename" };
	size_t		 nwords = sizeof(words) / sizeof(words[0]);
	size_t		 len = 0, line = 0, wl;
	const char	*w;

	g.text = xmalloc(size + 128);
	while (len < size) {
		w = words[rnd() % nwords];
		wl = strlen(w);
		if (line > 0 && line + 1 + wl > 60 + rnd() % 17) {
			memcpy(g.text + len, "\r\n", 2);
			len += 2;
			line = 0;
			continue;
		}
		if (line > 0) {
			g.text[len++] = ' ';
			line++;
		}
		memcpy(g.text + len, w, wl);
		len += wl;
		line += wl;
	}
	/* cut after the last whole line */
	while (len > 2 && memcmp(g.text + len - 2, "\r\n", 2) != 0)
		len--;
	g.textlen = len;
}

static void
out_add(struct session *s, const char *p, size_t len)
{
	if (s->outlen + len > 65536 + (size_t)g.max_size)
		panic("smtp-load: output buffer overflow");
	memcpy(s->out + s->outlen, p, len);
	s->outlen += len;
}

static void
out_str(struct session *s, const char *p)
{
	out_add(s, p, strlen(p));
}

static void
queue_envelope(struct session *s)
{
	char	 buf[512];

	s->cur = (long)g.next++;
	if (!str_printf(buf, sizeof(buf), "MAIL FROM:<bench@client.test>\r\n"
	    "RCPT TO:<user%u@%s>\r\nDATA\r\n",
	    (unsigned int)(s->cur % g.users) + 1, g.domain))
		panic("smtp-load: envelope too long");
	out_str(s, buf);
	s->state = S_ENVELOPE;
	s->replies = 3;
	s->env_ok = 1;
}

static void
queue_message(struct session *s)
{
	char	 hdr[1024];
	size_t	 size, off, cut;

	size = g.min_size;
	if (g.max_size > g.min_size)
		size += rnd() % (g.max_size - g.min_size + 1);
	if (!str_printf(hdr, sizeof(hdr),
	    "From: Bench <bench@client.test>\r\n"
	    "To: <user%u@%s>\r\n"
	    "Subject: bench message %ld\r\n"
	    "Date: Mon, 23 Nov 2026 02:00:00 +0000\r\n"
	    "Message-ID: <bench.%ld.%u@client.test>\r\n"
	    "X-Bench-Id: %u.%ld\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n\r\n",
	    (unsigned int)(s->cur % g.users) + 1, g.domain, s->cur, s->cur,
	    (unsigned int)getpid(), (unsigned int)getpid(), s->cur))
		panic("smtp-load: header too long");
	out_str(s, hdr);
	/* a whole-line slice of the text, from a random line start */
	off = rnd() % (g.textlen - size);
	while (off > 0 && memcmp(g.text + off - 2, "\r\n", 2) != 0)
		off--;
	cut = size;
	while (cut > 2 && memcmp(g.text + off + cut - 2, "\r\n", 2) != 0)
		cut--;
	out_add(s, g.text + off, cut);
	out_str(s, ".\r\n");
	s->state = S_DOT;
	g.msgs[s->cur].t_dot = -1;	/* set when the last byte is out */
}

static void
sess_close(struct session *s)
{
	if (s->fd != -1) {
		close(s->fd);
		s->fd = -1;
	}
	s->state = S_DONE;
}

static void
msg_fail(struct session *s, const char *why, const char *line)
{
	if (s->cur >= 0) {
		g.failed++;
		g.finished++;
		s->cur = -1;
	}
	g.sess_errors++;
	if (g.errors_shown++ < 10)
		fprintf(stderr, "smtp-load: %s: %s\n", why, line ? line : "");
}

static void
sess_open(struct session *s)
{
	int	 one = 1;

	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd == -1)
		fatal("socket");
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	s->state = S_CONNECT;
	s->inlen = s->outlen = s->outoff = 0;
	s->sent_here = 0;
	s->cur = -1;
	if (connect(s->fd, (struct sockaddr *)&g.addr, sizeof(g.addr)) == -1 &&
	    errno != EINPROGRESS)
		fatal("connect");
	{
		struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT,
		    .data.ptr = s };

		if (epoll_ctl(g.ep, EPOLL_CTL_ADD, s->fd, &ev) == -1)
			fatal("epoll_ctl");
	}
}

/* After a finished message or at session start: the next message, or
 * QUIT. */
static void
sess_next(struct session *s)
{
	if (g.next < g.n && s->sent_here < g.per_conn) {
		queue_envelope(s);
		s->sent_here++;
	} else {
		out_str(s, "QUIT\r\n");
		s->state = S_QUIT;
	}
}

/* One whole reply (its last line) arrived. */
static void
on_reply(struct session *s, const char *line)
{
	int	 code = (line[0] - '0') * 100 + (line[1] - '0') * 10 +
	    (line[2] - '0');

	switch (s->state) {
	case S_GREETING:
		if (code != 220) {
			msg_fail(s, "greeting", line);
			sess_close(s);
			return;
		}
		out_str(s, "EHLO client.test\r\n");
		s->state = S_EHLO;
		break;
	case S_EHLO:
		if (code != 250) {
			msg_fail(s, "EHLO", line);
			sess_close(s);
			return;
		}
		sess_next(s);
		break;
	case S_ENVELOPE:
		s->replies--;
		if ((s->replies > 0 && code != 250) ||
		    (s->replies == 0 && code != 354)) {
			if (s->env_ok)
				msg_fail(s, "envelope", line);
			s->env_ok = 0;
		}
		if (s->replies > 0)
			break;
		if (s->env_ok)
			queue_message(s);
		else {
			out_str(s, "QUIT\r\n");
			s->state = S_QUIT;
		}
		break;
	case S_DOT:
		if (code == 250) {
			g.msgs[s->cur].t_reply = now();
			g.accepted++;
			g.finished++;
			s->cur = -1;
		} else
			msg_fail(s, "end of data", line);
		sess_next(s);
		break;
	case S_QUIT:
		sess_close(s);
		break;
	default:
		break;
	}
}

static void
sess_read(struct session *s)
{
	ssize_t	 r;
	char	*nl, *start;

	r = read(s->fd, s->in + s->inlen, sizeof(s->in) - s->inlen - 1);
	if (r == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		msg_fail(s, "read", strerror(errno));
		sess_close(s);
		return;
	}
	if (r == 0) {
		if (s->state != S_QUIT)
			msg_fail(s, "connection closed by server", NULL);
		sess_close(s);
		return;
	}
	s->inlen += (size_t)r;
	s->in[s->inlen] = '\0';
	start = s->in;
	while (s->fd != -1 && (nl = memchr(start, '\n',
	    s->inlen - (size_t)(start - s->in))) != NULL) {
		*nl = '\0';
		if (nl - start >= 3 && (nl - start == 3 || start[3] == ' ' ||
		    start[3] == '\r'))
			on_reply(s, start);
		else if (nl - start < 4 || start[3] != '-') {
			msg_fail(s, "bad reply", start);
			sess_close(s);
			return;
		}
		start = nl + 1;
	}
	if (s->fd == -1)
		return;
	s->inlen -= (size_t)(start - s->in);
	memmove(s->in, start, s->inlen);
	if (s->inlen == sizeof(s->in) - 1) {
		msg_fail(s, "reply line too long", NULL);
		sess_close(s);
	}
}

static void
sess_write(struct session *s)
{
	ssize_t	 w;

	while (s->outoff < s->outlen) {
		w = write(s->fd, s->out + s->outoff, s->outlen - s->outoff);
		if (w == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			msg_fail(s, "write", strerror(errno));
			sess_close(s);
			return;
		}
		s->outoff += (size_t)w;
	}
	s->outoff = s->outlen = 0;
	if (s->state == S_DOT && s->cur >= 0 && g.msgs[s->cur].t_dot < 0)
		g.msgs[s->cur].t_dot = now();
}

static void
sess_event(struct session *s, uint32_t events)
{
	int		 err = 0;
	socklen_t	 len = sizeof(err);

	if (s->state == S_CONNECT) {
		if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 ||
		    err != 0) {
			msg_fail(s, "connect", strerror(err));
			sess_close(s);
			return;
		}
		s->state = S_GREETING;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		sess_read(s);
	if (s->fd != -1 && s->outlen > 0)
		sess_write(s);
	if (s->fd != -1) {
		struct epoll_event ev = { .events = EPOLLIN |
		    (s->outlen > 0 ? EPOLLOUT : 0), .data.ptr = s };

		if (epoll_ctl(g.ep, EPOLL_CTL_MOD, s->fd, &ev) == -1)
			fatal("epoll_ctl");
	}
}

static void
watch_add(const char *maildir)
{
	char	 path[PATH_MAX];
	int	 wd;

	if (g.nwatch == MAX_WATCH)
		fatalx("smtp-load: too many -w");
	if (!str_printf(path, sizeof(path), "%s/new", maildir))
		fatalx("smtp-load: path too long: %s", maildir);
	wd = inotify_add_watch(g.in_fd, path, IN_CREATE | IN_MOVED_TO |
	    IN_ONLYDIR);
	if (wd == -1)
		fatal("inotify_add_watch %s", path);
	g.watch[g.nwatch].wd = wd;
	g.watch[g.nwatch].dir = xstrdup(path);
	g.nwatch++;
}

static void
watch_read(void)
{
	char			 buf[65536]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	ssize_t			 r;
	size_t			 off;
	unsigned int		 i;
	double			 t = now();

	for (;;) {
		r = read(g.in_fd, buf, sizeof(buf));
		if (r <= 0)
			return;
		for (off = 0; off < (size_t)r;
		    off += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)(buf + off);
			if (ev->mask & IN_Q_OVERFLOW) {
				g.overflow++;
				continue;
			}
			if (ev->len == 0 || ev->name[0] == '.')
				continue;
			for (i = 0; i < g.nwatch; i++)
				if (g.watch[i].wd == ev->wd)
					break;
			if (i == g.nwatch)
				continue;
			if (g.nseen == g.seencap) {
				g.seencap = g.seencap ? g.seencap * 2 : 1024;
				g.seen = xreallocarray(g.seen, g.seencap,
				    sizeof(*g.seen));
			}
			g.seen[g.nseen].name = xstrdup(ev->name);
			g.seen[g.nseen].w = (int)i;
			g.seen[g.nseen].t = t;
			g.nseen++;
		}
	}
}

/* Match each file seen to its message by X-Bench-Id; returns how many
 * matched. */
static unsigned int
match_files(void)
{
	char		 path[PATH_MAX], buf[4096], tag[64], *p;
	unsigned int	 matched = 0;
	uint64_t	 id;
	size_t		 i, n;
	ssize_t		 r;
	int		 fd;

	/* ours: "X-Bench-Id: PID.N" (files of another run do not count) */
	if (!str_printf(tag, sizeof(tag), "\nX-Bench-Id: %u.",
	    (unsigned int)getpid()))
		panic("smtp-load: tag too long");
	for (i = 0; i < g.nseen; i++) {
		if (!str_printf(path, sizeof(path), "%s/%s",
		    g.watch[g.seen[i].w].dir, g.seen[i].name))
			continue;
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			continue;
		r = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (r <= 0)
			continue;
		buf[r] = '\0';
		if ((p = strstr(buf, tag)) == NULL)
			continue;
		p += strlen(tag);
		for (n = 0; p[n] >= '0' && p[n] <= '9'; n++)
			;
		if (strnum_u64n(p, n, 0, g.n - 1, &id) == -1)
			continue;
		if (g.msgs[id].t_file == 0) {
			g.msgs[id].t_file = g.seen[i].t;
			matched++;
		}
	}
	for (i = 0; i < g.nseen; i++)
		free(g.seen[i].name);
	g.nseen = 0;
	return matched;
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
pct(const double *v, size_t n, double p)
{
	size_t	 i;

	if (n == 0)
		return 0;
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static void
report(double t0, double t_sent, double t_end, unsigned int delivered)
{
	struct rusage	 ru;
	double		*lat, cpu, t_last = 0;
	size_t		 n = 0, i;

	lat = xcalloc(g.n ? g.n : 1, sizeof(*lat));
	for (i = 0; i < g.n; i++)
		if (g.msgs[i].t_reply > 0 && g.msgs[i].t_dot > 0)
			lat[n++] = g.msgs[i].t_reply - g.msgs[i].t_dot;
	qsort(lat, n, sizeof(*lat), cmp_double);
	printf("messages=%u\naccepted=%u\nfailed=%u\nsession_errors=%u\n",
	    g.n, g.accepted, g.failed, g.sess_errors);
	printf("intake_seconds=%.4f\nintake_rate=%.1f\n", t_sent - t0,
	    t_sent > t0 ? g.accepted / (t_sent - t0) : 0.0);
	printf("reply_p50_ms=%.3f\nreply_p99_ms=%.3f\nreply_max_ms=%.3f\n",
	    pct(lat, n, .5) * 1e3, pct(lat, n, .99) * 1e3,
	    n ? lat[n - 1] * 1e3 : 0.0);
	if (g.nwatch > 0) {
		n = 0;
		for (i = 0; i < g.n; i++)
			if (g.msgs[i].t_file > 0 && g.msgs[i].t_reply > 0) {
				lat[n++] = g.msgs[i].t_file -
				    g.msgs[i].t_reply;
				if (g.msgs[i].t_file > t_last)
					t_last = g.msgs[i].t_file;
			}
		qsort(lat, n, sizeof(*lat), cmp_double);
		printf("delivered=%u\ninotify_overflow=%u\n", delivered,
		    g.overflow);
		printf("delivery_seconds=%.4f\ndelivery_rate=%.1f\n",
		    t_last > t0 ? t_last - t0 : 0.0,
		    t_last > t0 ? delivered / (t_last - t0) : 0.0);
		printf("deliver_p50_ms=%.3f\ndeliver_p99_ms=%.3f\n"
		    "deliver_max_ms=%.3f\n", pct(lat, n, .5) * 1e3,
		    pct(lat, n, .99) * 1e3, n ? lat[n - 1] * 1e3 : 0.0);
	}
	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
		    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
		printf("client_cpu_ms=%.1f\nclient_cpu_ms_per_msg=%.4f\n",
		    cpu * 1e3, g.n ? cpu * 1e3 / g.n : 0.0);
	}
	printf("wall_seconds=%.4f\n", t_end - t0);
	free(lat);
}

static unsigned int
num_opt(const char *arg, unsigned int min, unsigned int max)
{
	unsigned int	 v;

	if (strnum_uint(arg, min, max, &v) == -1) {
		fprintf(stderr, "smtp-load: bad number: %s\n", arg);
		usage();
	}
	return v;
}

int
main(int argc, char *argv[])
{
	struct epoll_event	 evs[64];
	struct session		*sess;
	const char		*host = "127.0.0.1";
	double			 t0, t_sent = 0, deadline;
	unsigned int		 i, port = 0, delivered = 0, open_sess;
	int			 ch, nev, k;

	log_init("smtp-load", false, LOG_LEVEL_INFO);
	g.n = 2000;
	g.conc = 20;
	g.per_conn = 1;
	g.users = 10;
	g.min_size = 4096;
	g.max_size = 8192;
	g.timeout = 300;
	g.domain = "bench.test";
	g.rng = (unsigned int)getpid();
	if ((g.in_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		fatal("inotify_init1");
	while ((ch = getopt(argc, argv, "H:p:n:c:k:u:d:s:S:t:w:")) != -1) {
		switch (ch) {
		case 'H':
			host = optarg;
			break;
		case 'p':
			port = num_opt(optarg, 1, 65535);
			break;
		case 'n':
			g.n = num_opt(optarg, 1, 10000000);
			break;
		case 'c':
			g.conc = num_opt(optarg, 1, MAX_SESSIONS);
			break;
		case 'k':
			g.per_conn = num_opt(optarg, 1, UINT_MAX);
			break;
		case 'u':
			g.users = num_opt(optarg, 1, 1000000);
			break;
		case 'd':
			g.domain = optarg;
			break;
		case 's':
			g.min_size = num_opt(optarg, 64, 64 << 20);
			break;
		case 'S':
			g.max_size = num_opt(optarg, 64, 64 << 20);
			break;
		case 't':
			g.timeout = num_opt(optarg, 1, 86400);
			break;
		case 'w':
			watch_add(optarg);
			break;
		default:
			usage();
		}
	}
	if (port == 0 || optind != argc || g.max_size < g.min_size ||
	    strlen(g.domain) > 200)
		usage();
	g.addr.sin_family = AF_INET;
	g.addr.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &g.addr.sin_addr) != 1)
		fatalx("smtp-load: bad address %s", host);
	if (g.conc > g.n)
		g.conc = g.n;
	make_text((size_t)g.max_size * 2 + 4096);
	g.msgs = xcalloc(g.n, sizeof(*g.msgs));
	if ((g.ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("epoll_create1");
	{
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

		if (epoll_ctl(g.ep, EPOLL_CTL_ADD, g.in_fd, &ev) == -1)
			fatal("epoll_ctl");
	}
	sess = xcalloc(g.conc, sizeof(*sess));
	t0 = now();
	deadline = t0 + g.timeout;
	for (i = 0; i < g.conc; i++) {
		sess[i].out = xmalloc(65536 + (size_t)g.max_size);
		sess_open(&sess[i]);
	}
	for (;;) {
		open_sess = 0;
		for (i = 0; i < g.conc; i++) {
			if (sess[i].state == S_DONE && g.next < g.n) {
				sess_open(&sess[i]);
			}
			if (sess[i].state != S_DONE)
				open_sess++;
		}
		if (open_sess == 0 && t_sent == 0)
			t_sent = now();
		if (t_sent != 0) {
			if (g.nwatch == 0)
				break;
			/* all sent: match what arrived so far */
			if (g.nseen > 0)
				delivered += match_files();
			if (delivered >= g.accepted)
				break;
		}
		if (g.sess_errors > MAX_ERRORS) {
			fprintf(stderr, "smtp-load: giving up after %u errors\n",
			    g.sess_errors);
			break;
		}
		if (now() > deadline) {
			fprintf(stderr, "smtp-load: timed out after %u s\n",
			    g.timeout);
			break;
		}
		nev = epoll_wait(g.ep, evs, 64, 100);
		if (nev == -1) {
			if (errno == EINTR)
				continue;
			fatal("epoll_wait");
		}
		for (k = 0; k < nev; k++) {
			if (evs[k].data.ptr == NULL)
				watch_read();
			else
				sess_event(evs[k].data.ptr, evs[k].events);
		}
	}
	if (g.nwatch > 0 && g.nseen > 0)
		delivered += match_files();
	report(t0, t_sent ? t_sent : now(), now(), delivered);
	for (i = 0; i < g.conc; i++) {
		sess_close(&sess[i]);
		free(sess[i].out);
	}
	free(sess);
	for (i = 0; i < g.nwatch; i++)
		free(g.watch[i].dir);
	free(g.seen);
	free(g.msgs);
	free(g.text);
	close(g.ep);
	close(g.in_fd);
	return g.accepted == g.n && (g.nwatch == 0 || delivered == g.n) ?
	    0 : 1;
}
