/* SPDX-License-Identifier: MIT */
/*
 * queue_admin.c - `buzon queue list` and `buzon queue show ID`
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mem.h"
#include "queue_admin.h"
#include "spool.h"
#include "str.h"

#define SHOW_MAX_HEADER	(256u * 1024)	/* bytes of header section shown */

struct entry {
	char	 id[SPOOL_ID_LEN + 1];
	bool	 held;
};

/* Length of the valid UTF-8 sequence at p (at most n bytes) for a code
 * point a terminal shows as text, or 0: overlongs, surrogates, C1
 * controls (U+0080..U+009F, which some terminals obey) do not count. */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	uint32_t	 cp;
	size_t		 len, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1fu;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0fu;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07u;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3fu);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
	    (cp >= 0x80 && cp <= 0x9f))
		return 0;
	return len;
}

/* Print peer text: printable ASCII, tabs and valid UTF-8 as they are,
 * every other byte as \xNN (so no escape sequence reaches a terminal). */
static void
put_text(FILE *out, const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, n;

	while (i < len) {
		if (p[i] >= 0x80 && (n = utf8_len(p + i, len - i)) > 0) {
			fwrite(p + i, 1, n, out);
			i += n;
		} else if ((p[i] < 0x20 && p[i] != '\t') || p[i] >= 0x7f) {
			fprintf(out, "\\x%02x", p[i++]);
		} else {
			fputc(p[i++], out);
		}
	}
}

static void
put_str(FILE *out, const char *s)
{
	put_text(out, s, strlen(s));
}

/* Local time, "2026-11-23 01:16:42" or (long) RFC 5322 style. */
static void
fmt_time(char *buf, size_t size, uint64_t t, bool is_long)
{
	struct tm	 tm;
	time_t		 tt = (time_t)t;
	size_t		 n = 0;

	if (localtime_r(&tt, &tm) != NULL)
		n = is_long ? strftime(buf, size, "%a, %d %b %Y %H:%M:%S %z",
		    &tm) : strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
	if (n == 0)
		(void)str_copy(buf, "?", size);
}

static int
cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->id,
	    ((const struct entry *)b)->id);
}

/* Collect the ids in STATE/spool/{queue,hold}.  -1 if queue/ is missing. */
static int
collect(const char *state, struct entry **ents_r, size_t *n_r)
{
	static const char *const subs[2] = { SPOOL_DIR_QUEUE, SPOOL_DIR_HOLD };
	struct entry	*ents = NULL;
	struct dirent	*de;
	DIR		*d;
	char		 path[4096];
	size_t		 n = 0, cap = 0;
	int		 i;

	for (i = 0; i < 2; i++) {
		if (!str_printf(path, sizeof(path), "%s/%s", state, subs[i]))
			goto toolong;
		if ((d = opendir(path)) == NULL) {
			/* no hold/ yet, or no spool yet in a state directory
			 * that exists: nothing queued */
			if (errno == ENOENT &&
			    (i == 1 || access(state, F_OK) == 0))
				continue;
			fprintf(stderr, "buzon queue: %s: %s\n", path,
			    strerror(errno));
			free(ents);
			return -1;
		}
		while ((de = readdir(d)) != NULL) {
			if (!spool_id_valid(de->d_name))
				continue;
			if (n == cap) {
				cap = cap == 0 ? 64 : cap * 2;
				ents = xreallocarray(ents, cap, sizeof(*ents));
			}
			memcpy(ents[n].id, de->d_name, sizeof(ents[n].id));
			ents[n].held = i == 1;
			n++;
		}
		closedir(d);
	}
	if (n > 0)
		qsort(ents, n, sizeof(*ents), cmp_entry);
	*ents_r = ents;
	*n_r = n;
	return 0;
toolong:
	fprintf(stderr, "buzon queue: state directory path too long\n");
	return -1;
}

/* Open and read one entry: 0, 1 when gone, SPOOL_ERR_* otherwise. */
static int
load(const char *state, const struct entry *e, struct spool_env *env,
    int *fd_r, char *why, size_t whysize)
{
	char	 path[4096];
	int	 fd, rc;

	if (!str_printf(path, sizeof(path), "%s/%s/%s", state,
	    e->held ? SPOOL_DIR_HOLD : SPOOL_DIR_QUEUE, e->id)) {
		(void)str_copy(why, "path too long", whysize);
		return SPOOL_ERR_IO;
	}
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 1;
		snprintf(why, whysize, "%s", strerror(errno));
		return SPOOL_ERR_IO;
	}
	rc = spool_read(fd, e->id, 0, env, why, whysize);
	if (rc != 0 || fd_r == NULL)
		close(fd);
	else
		*fd_r = fd;
	return rc;
}

/* The replayed status of every recipient (PENDING when there is none). */
static struct spool_rcpt_status *
status_of(const char *state, const struct spool_env *env, char *why,
    size_t whysize, int *rc_r)
{
	struct spool_rcpt_status *st;
	char			 path[4096];
	bool			 torn;
	int			 dfd;

	st = xcalloc(env->nrcpts, sizeof(*st));
	*rc_r = 0;
	if (!str_printf(path, sizeof(path), "%s/%s", state, SPOOL_DIR_STATUS))
		return st;
	if ((dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return st;
	*rc_r = spool_status_load(dfd, env->id, st, env->nrcpts, &torn, why,
	    whysize);
	close(dfd);
	if (*rc_r != 0)
		memset(st, 0, env->nrcpts * sizeof(*st));
	return st;
}

static void
put_rcpt_status(FILE *out, const struct spool_rcpt_status *st)
{
	char	 t[32];

	fputs(spool_rcpt_state_name(st->state), out);
	if (st->code[0] != '\0') {
		fputc(' ', out);
		put_str(out, st->code);
	}
	if (st->text[0] != '\0') {
		fputc(' ', out);
		put_str(out, st->text);
	}
	if (st->state == SPOOL_RCPT_DEFERRED && st->until != 0) {
		fmt_time(t, sizeof(t), st->until, false);
		fprintf(out, " (next attempt %s)", t);
	}
	if (st->attempts > 1)
		fprintf(out, " [%u attempts]", st->attempts);
}

int
queue_admin_list(FILE *out, const char *state)
{
	struct spool_env	 env;
	struct spool_rcpt_status *st;
	struct entry		*ents;
	char			 why[256], t[32];
	size_t			 n, i, j, shown = 0;
	uint64_t		 bytes = 0;
	int			 rc, src;

	if (collect(state, &ents, &n) == -1)
		return -1;
	if (n == 0) {
		fprintf(out, "Mail queue is empty\n");
		free(ents);
		return 0;
	}
	fprintf(out, "%-17s %9s %-19s %s\n", "ID", "SIZE", "ARRIVAL",
	    "SENDER / RECIPIENTS");
	for (i = 0; i < n; i++) {
		spool_env_init(&env);
		rc = load(state, &ents[i], &env, NULL, why, sizeof(why));
		if (rc == 1) {		/* delivered meanwhile */
			spool_env_release(&env);
			continue;
		}
		shown++;
		if (rc != 0) {
			fprintf(out, "%s%c %s: ", ents[i].id,
			    ents[i].held ? '!' : ' ', rc == SPOOL_ERR_CORRUPT ?
			    "corrupt" : "unreadable");
			put_str(out, why);
			fputc('\n', out);
			spool_env_release(&env);
			continue;
		}
		bytes += env.content_len;
		fmt_time(t, sizeof(t), env.arrival_sec, false);
		fprintf(out, "%s%c %9llu %s <", env.id, ents[i].held ? '!' :
		    ' ', (unsigned long long)env.content_len, t);
		put_str(out, env.sender);
		fputs(">\n", out);
		st = status_of(state, &env, why, sizeof(why), &src);
		if (src != 0) {
			fputs("    (status log unreadable: ", out);
			put_str(out, why);
			fputs(")\n", out);
		}
		for (j = 0; j < env.nrcpts; j++) {
			fputs("    ", out);
			put_str(out, env.rcpts[j].addr);
			fputs("  ", out);
			put_rcpt_status(out, &st[j]);
			fputc('\n', out);
		}
		free(st);
		spool_env_release(&env);
	}
	fprintf(out, "-- %zu message%s, %llu bytes\n", shown,
	    shown == 1 ? "" : "s", (unsigned long long)bytes);
	free(ents);
	return 0;
}

static const char *
notify_words(unsigned int notify, char *buf, size_t size)
{
	static const char *const names[] = { "NEVER", "SUCCESS", "FAILURE",
	    "DELAY" };
	size_t	 i;

	buf[0] = '\0';
	if (notify == 0)
		return "default";
	for (i = 0; i < 4; i++) {
		if ((notify & (1u << i)) == 0)
			continue;
		if (buf[0] != '\0')
			(void)str_copy(buf + strlen(buf), ",",
			    size - strlen(buf));
		(void)str_copy(buf + strlen(buf), names[i], size - strlen(buf));
	}
	return buf;
}

static void
field(FILE *out, const char *name, const char *value)
{
	fprintf(out, "%-14s", name);
	put_str(out, value[0] != '\0' ? value : "-");
	fputc('\n', out);
}

/* The header section: up to the first empty line, at most
 * SHOW_MAX_HEADER bytes, CRLF shown as a plain line end. */
static int
show_headers(FILE *out, int fd, const struct spool_env *env)
{
	char		*buf, *p, *eol, *end;
	size_t		 len;
	ssize_t		 got;

	len = env->content_len < SHOW_MAX_HEADER ? (size_t)env->content_len :
	    SHOW_MAX_HEADER;
	buf = xmalloc(len + 1);
	got = pread(fd, buf, len, (off_t)env->content_off);
	if (got != (ssize_t)len) {
		free(buf);
		return -1;
	}
	end = buf + len;
	for (p = buf; p < end; p = eol + 1) {
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			eol = end;
		len = (size_t)(eol - p);
		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (len == 0)
			break;
		put_text(out, p, len);
		fputc('\n', out);
		if (eol == end)
			break;
	}
	free(buf);
	return 0;
}

int
queue_admin_show(FILE *out, const char *state, const char *id)
{
	struct spool_env	 env;
	struct spool_rcpt_status *st;
	struct entry		 e;
	struct stat		 sb;
	char			 why[256], t[64], path[4096], nb[64];
	size_t			 j;
	int			 rc, src, fd = -1;

	if (!spool_id_valid(id))
		return 1;
	memcpy(e.id, id, sizeof(e.id));
	e.held = false;
	if (!str_printf(path, sizeof(path), "%s/%s/%s", state, SPOOL_DIR_HOLD,
	    id))
		return -1;
	if (stat(path, &sb) == 0)
		e.held = true;
	spool_env_init(&env);
	rc = load(state, &e, &env, &fd, why, sizeof(why));
	if (rc != 0) {
		spool_env_release(&env);
		if (rc == 1)
			return 1;
		fprintf(stderr, "buzon queue: %s: %s: %s\n", id,
		    rc == SPOOL_ERR_CORRUPT ? "corrupt" : "unreadable", why);
		return -1;
	}
	field(out, "id:", env.id);
	field(out, "state:", e.held ? "held" : "queued");
	fmt_time(t, sizeof(t), env.arrival_sec, true);
	field(out, "arrival:", t);
	snprintf(nb, sizeof(nb), "%llu", (unsigned long long)env.content_len);
	field(out, "size:", nb);
	fprintf(out, "%-14s<", "sender:");
	put_str(out, env.sender);
	fputs(">\n", out);
	field(out, "protocol:", spool_proto_name(env.proto));
	field(out, "client:", env.client_addr);
	field(out, "client name:", env.client_name);
	field(out, "helo:", env.helo);
	field(out, "tls:", env.tls);
	field(out, "auth user:", env.auth_user);
	field(out, "body:", (env.flags & SPOOL_F_BINARYMIME) ? "BINARYMIME" :
	    (env.flags & SPOOL_F_8BITMIME) ? "8BITMIME" : "7BIT");
	field(out, "smtputf8:", (env.flags & SPOOL_F_SMTPUTF8) ? "yes" : "no");
	field(out, "dsn ret:", env.ret == SPOOL_RET_FULL ? "FULL" :
	    env.ret == SPOOL_RET_HDRS ? "HDRS" : "-");
	field(out, "dsn envid:", env.envid);
	st = status_of(state, &env, why, sizeof(why), &src);
	if (src != 0) {
		fputs("status log:   unreadable: ", out);
		put_str(out, why);
		fputc('\n', out);
	}
	for (j = 0; j < env.nrcpts; j++) {
		fprintf(out, "recipient %zu:  ", j + 1);
		put_str(out, env.rcpts[j].addr);
		fputc('\n', out);
		if (env.rcpts[j].original[0] != '\0')
			field(out, "  original:", env.rcpts[j].original);
		if (env.rcpts[j].orcpt[0] != '\0')
			field(out, "  orcpt:", env.rcpts[j].orcpt);
		field(out, "  notify:", notify_words(env.rcpts[j].notify, nb,
		    sizeof(nb)));
		fprintf(out, "%-14s", "  status:");
		put_rcpt_status(out, &st[j]);
		fputc('\n', out);
	}
	free(st);
	fputs("\n", out);
	rc = show_headers(out, fd, &env);
	close(fd);
	spool_env_release(&env);
	return rc;
}
