/* SPDX-License-Identifier: MIT */
/*
 * trace.c - log lines to transcripts: split, mask, filter (see trace.h)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "mem.h"
#include "str.h"
#include "trace.h"

#define TRACE_LINE_MAX	8192
#define TRACE_RCPTS	16	/* local recipients of one message */
#define TRACE_READERS	16	/* their mailbox sessions after delivery */

struct tsess {
	char		 id[64];
	const char	*service;
	char		 user[256];
	bool		 in_use;
	bool		 sasl;		/* inside an AUTH exchange */
	bool		 mask_one;	/* the next client line is secret (an
					   IMAP LOGIN literal) */
	unsigned long	 used;		/* last line number, for eviction */
	char		**held;
	size_t		 nheld;
};

struct trace {
	struct trace_filter	 f;
	trace_out_cb		*out;
	void			*arg;
	struct tsess		 s[TRACE_SESSIONS];
	unsigned long		 nlines;
	/* message mode: who it was delivered to, and the POP3/IMAP
	 * sessions of those users that logged in after it */
	char			 rcpts[TRACE_RCPTS][256];
	size_t			 nrcpts;
	char			 readers[TRACE_READERS][64];
	size_t			 nreaders, next_reader;
};

int
trace_split(char *line, struct trace_rec *r)
{
	char	*p, *q;

	/* TIME */
	if ((p = strchr(line, ' ')) == NULL || p == line)
		return 0;
	*p++ = '\0';
	r->time = line;
	/* PROGRAM[PID]: */
	if ((q = strstr(p, "]: ")) == NULL)
		return 0;
	*q = '\0';
	if ((r->prog = p, p = strrchr(p, '[')) == NULL || p == r->prog)
		return 0;
	*p = '\0';
	p = q + 3;
	/* ID MESSAGE */
	r->id = p;
	if ((q = strchr(p, ' ')) == NULL || q == p)
		return 0;
	*q = '\0';
	r->msg = q + 1;
	return 1;
}

const char *
trace_service(const char *prog)
{
	if (strcmp(prog, "buzon-smtpd") == 0)
		return "smtp";
	if (strcmp(prog, "buzon-pop3d") == 0)
		return "pop3";
	if (strcmp(prog, "buzon-imapd") == 0)
		return "imap";
	return NULL;
}

struct trace *
trace_new(const struct trace_filter *f, trace_out_cb *out, void *arg)
{
	struct trace	*t = xcalloc(1, sizeof(*t));

	t->f = *f;
	t->out = out;
	t->arg = arg;
	return t;
}

static void
tsess_release(struct tsess *s)
{
	size_t	 i;

	for (i = 0; i < s->nheld; i++)
		free(s->held[i]);
	free(s->held);
	memset(s, 0, sizeof(*s));
}

void
trace_free(struct trace **tp)
{
	struct trace	*t = *tp;
	size_t		 i;

	if (t == NULL)
		return;
	for (i = 0; i < TRACE_SESSIONS; i++)
		tsess_release(&t->s[i]);
	free(t);
	*tp = NULL;
}

/* The session of id, made (evicting the least recently used) if new. */
static struct tsess *
tsess_get(struct trace *t, const char *id, const char *service)
{
	struct tsess	*s, *old = &t->s[0];
	size_t		 i;

	for (i = 0; i < TRACE_SESSIONS; i++) {
		s = &t->s[i];
		if (s->in_use && strcmp(s->id, id) == 0 &&
		    s->service == service) {
			s->used = t->nlines;
			return s;
		}
		if (!s->in_use || (old->in_use && s->used < old->used))
			old = s;
	}
	tsess_release(old);
	(void)str_copy(old->id, id, sizeof(old->id));
	old->service = service;
	old->in_use = true;
	old->used = t->nlines;
	return old;
}

/* The value of "key=" in msg (up to a space) into buf; false if absent. */
static bool
msg_value(const char *msg, const char *key, char *buf, size_t size)
{
	size_t		 klen = strlen(key), n;
	const char	*p = msg;

	while ((p = strstr(p, key)) != NULL) {
		if (p == msg || p[-1] == ' ') {
			p += klen;
			n = strcspn(p, " ");
			if (n >= size)
				n = size - 1;
			memcpy(buf, p, n);
			buf[n] = '\0';
			return n > 0;
		}
		p += klen;
	}
	return false;
}

static bool
user_matches(const char *want, const char *user)
{
	size_t	 n;

	if (strcasecmp(want, user) == 0)
		return true;
	if (strchr(want, '@') != NULL)
		return false;
	n = strlen(want);
	return strncasecmp(want, user, n) == 0 && user[n] == '@';
}

/* The SASL exchange of a session: which client lines are secret. */
static void
sasl_track(struct tsess *s, char dir, const char *text)
{
	size_t	 w1 = strcspn(text, " ");
	const char *w2;

	if (dir == 'S') {
		/* 334 (SMTP) and "+ " / "+" (POP3, IMAP) continue it. */
		if (s->sasl && strncmp(text, "334", 3) != 0 &&
		    strncmp(text, "+ ", 2) != 0 && strcmp(text, "+") != 0)
			s->sasl = false;
		return;
	}
	if (s->mask_one) {
		/* a LOGIN's literal: another one follows if it ends in
		 * "{N}" again */
		s->mask_one = text[0] != '\0' && text[strlen(text) - 1] == '}';
		return;
	}
	if (w1 == 4 && strncasecmp(text, "AUTH", 4) == 0) {
		s->sasl = true;
		return;
	}
	if (text[w1] == ' ') {
		w2 = text + w1 + 1;
		if (strncasecmp(w2, "AUTHENTICATE", 12) == 0 &&
		    (w2[12] == ' ' || w2[12] == '\0'))
			s->sasl = true;
		/* IMAP "tag LOGIN user {6}": the literal lines that follow
		 * (the password, or the user and then the password) */
		else if (strncasecmp(w2, "LOGIN ", 6) == 0 &&
		    text[strlen(text) - 1] == '}')
			s->mask_one = true;
	}
}

/* The line to show for a client line: masked as log_trace() would, and
 * wholly within a SASL exchange. */
static void
client_mask(const struct tsess *s, const char *text, char *buf, size_t size)
{
	log_trace_mask(buf, size, text, strlen(text),
	    s->sasl || s->mask_one ? LOG_TRACE_SECRET : 0);
}

static void
tsess_emit(struct trace *t, struct tsess *s, const char *line)
{
	char	**held;

	if (t->f.user != NULL && s->user[0] == '\0') {
		if (s->nheld == TRACE_HELD) {
			free(s->held[0]);
			memmove(s->held, s->held + 1,
			    (s->nheld - 1) * sizeof(*s->held));
			s->nheld--;
		}
		held = xreallocarray(s->held, s->nheld + 1, sizeof(*held));
		held[s->nheld++] = xstrdup(line);
		s->held = held;
		return;
	}
	if (t->f.user == NULL || user_matches(t->f.user, s->user))
		t->out(line, t->arg);
}

/* The user of s is now known: let its held lines out, or drop them. */
static void
tsess_login(struct trace *t, struct tsess *s, const char *user)
{
	size_t	 i;

	(void)str_copy(s->user, user, sizeof(s->user));
	for (i = 0; i < s->nheld; i++) {
		if (t->f.user != NULL && user_matches(t->f.user, s->user))
			t->out(s->held[i], t->arg);
		free(s->held[i]);
	}
	free(s->held);
	s->held = NULL;
	s->nheld = 0;
}

static void
feed_session(struct trace *t, const struct trace_rec *r,
    const char *service)
{
	struct tsess	*s;
	char		 user[256], shown[1100], out[1300];
	char		 dir;

	if (t->f.service != NULL && strcmp(t->f.service, service) != 0)
		return;
	if (strcmp(r->id, "-") == 0)
		return;
	s = tsess_get(t, r->id, service);
	if ((r->msg[0] == 'C' || r->msg[0] == 'S') && r->msg[1] == ':' &&
	    r->msg[2] == ' ') {
		dir = r->msg[0];
		if (dir == 'C') {
			client_mask(s, r->msg + 3, shown, sizeof(shown));
			sasl_track(s, dir, r->msg + 3);
		} else {
			sasl_track(s, dir, r->msg + 3);
			(void)str_copy(shown, r->msg + 3, sizeof(shown));
		}
		(void)str_printf(out, sizeof(out), "%s %s %s %c: %s",
		    r->time, r->id, service, dir, shown);
		tsess_emit(t, s, out);
		return;
	}
	if ((strncmp(r->msg, "auth ok ", 8) == 0 ||
	    strncmp(r->msg, "login ", 6) == 0) &&
	    msg_value(r->msg, "user=", user, sizeof(user)))
		tsess_login(t, s, user);
	else if (strncmp(r->msg, "disconnect ", 11) == 0 ||
	    strcmp(r->msg, "disconnect") == 0)
		tsess_release(s);
}

/* Is word a whole space- or punctuation-separated token of msg? */
static bool
has_token(const char *msg, const char *word)
{
	size_t		 n = strlen(word);
	const char	*p = msg;

	if (n == 0)
		return false;
	while ((p = strstr(p, word)) != NULL) {
		if ((p == msg || strchr(" =<>(),:/", p[-1]) != NULL) &&
		    (p[n] == '\0' || strchr(" =<>(),:/", p[n]) != NULL))
			return true;
		p += n;
	}
	return false;
}

/* A delivery line of the message ("to=<U>, relay=local, ...
 * status=sent"): remember U. */
static void
remember_rcpt(struct trace *t, const char *msg)
{
	char	 v[256];
	size_t	 n;

	if (t->nrcpts == TRACE_RCPTS || strncmp(msg, "to=<", 4) != 0 ||
	    strstr(msg, "relay=local") == NULL ||
	    strstr(msg, "status=sent") == NULL)
		return;
	n = strcspn(msg + 4, ">");
	if (n == 0 || n >= sizeof(v) || msg[4 + n] != '>')
		return;
	memcpy(v, msg + 4, n);
	v[n] = '\0';
	(void)str_copy(t->rcpts[t->nrcpts++], v, sizeof(t->rcpts[0]));
}

/* Is the line one of a mailbox session of a recipient, logged in after
 * the delivery?  Such a session is remembered at its login line. */
static bool
reader_line(struct trace *t, const struct trace_rec *r)
{
	char	 user[256];
	size_t	 i;

	if (trace_service(r->prog) == NULL ||
	    strcmp(trace_service(r->prog), "smtp") == 0)
		return false;
	for (i = 0; i < t->nreaders; i++)
		if (strcmp(t->readers[i], r->id) == 0)
			return true;
	if (strncmp(r->msg, "login ", 6) != 0 ||
	    !msg_value(r->msg, "user=", user, sizeof(user)))
		return false;
	for (i = 0; i < t->nrcpts; i++)
		if (strcasecmp(t->rcpts[i], user) == 0)
			break;
	if (i == t->nrcpts)
		return false;
	/* a ring: the latest sessions win */
	(void)str_copy(t->readers[t->next_reader], r->id,
	    sizeof(t->readers[0]));
	t->next_reader = (t->next_reader + 1) % TRACE_READERS;
	if (t->nreaders < TRACE_READERS)
		t->nreaders++;
	return true;
}

/* Of a reader session, the lines that tell what it did with mail. */
static bool
reader_shows(const char *msg)
{
	static const char *const verbs[] = {
		"C: RETR", "C: TOP", "C: DELE", "C: QUIT", "C: UID FETCH",
		"C: FETCH", "login ", "logout ", "disconnect ", NULL
	};
	const char *const *v;
	const char	*p = msg;

	for (v = verbs; *v != NULL; v++) {
		if (strncasecmp(msg, *v, strlen(*v)) == 0)
			return true;
		/* IMAP: "C: tag FETCH ..." */
		if (strncmp(msg, "C: ", 3) == 0 && (*v)[0] == 'C' &&
		    (p = strchr(msg + 3, ' ')) != NULL &&
		    strncasecmp(p + 1, *v + 3, strlen(*v + 3)) == 0)
			return true;
	}
	return false;
}

static void
feed_message(struct trace *t, const struct trace_rec *r)
{
	char	 out[TRACE_LINE_MAX + 64], shown[1100];
	bool	 hit = strcmp(r->id, t->f.message) == 0 ||
		    has_token(r->msg, t->f.message);

	if (hit && strcmp(r->id, t->f.message) == 0)
		remember_rcpt(t, r->msg);
	if (!hit && (!reader_line(t, r) || !reader_shows(r->msg)))
		return;
	if (strncmp(r->msg, "C: ", 3) == 0) {
		/* client lines masked like any other */
		log_trace_mask(shown, sizeof(shown), r->msg + 3,
		    strlen(r->msg + 3), 0);
		(void)str_printf(out, sizeof(out), "%s %s %s C: %s", r->time,
		    r->prog, r->id, shown);
	} else
		(void)str_printf(out, sizeof(out), "%s %s %s %s", r->time,
		    r->prog, r->id, r->msg);
	t->out(out, t->arg);
}

void
trace_feed(struct trace *t, const char *line)
{
	char		 buf[TRACE_LINE_MAX];
	struct trace_rec r;
	const char	*service;

	(void)str_copy(buf, line, sizeof(buf));
	t->nlines++;
	if (trace_split(buf, &r) != 1)
		return;
	if (t->f.message != NULL) {
		feed_message(t, &r);
		return;
	}
	if ((service = trace_service(r.prog)) != NULL)
		feed_session(t, &r, service);
}
