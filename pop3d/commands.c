/* SPDX-License-Identifier: MIT */
/*
 * commands.c - the POP3 verb table, dispatch, reply helpers, and the
 * commands that need no maildrop: CAPA, NOOP, STLS, QUIT before login
 *
 * Replies follow Dovecot's wording where it has one, so that scripts and
 * course material written against it read the same here.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "pop3d.h"
#include "str.h"

static void	cmd_capa(struct session *, char *);
static void	cmd_noop(struct session *, char *);
static void	cmd_stls(struct session *, char *);

/* states: the ST() mask where the verb is legal */
CMDTAB_STRUCT(pop3_cmd, struct session);

#define AUTHZ	ST(POP3_AUTHORIZATION)
#define TRANS	ST(POP3_TRANSACTION)

static const struct pop3_cmd pop3_cmds[] = {
	{ "USER", cmd_user, AUTHZ, CMD_LOGIN },
	{ "PASS", cmd_pass, AUTHZ, CMD_LOGIN },
	{ "APOP", cmd_apop, AUTHZ, CMD_LOGIN },
	{ "AUTH", cmd_auth, AUTHZ, CMD_LOGIN },
	{ "STLS", cmd_stls, AUTHZ, 0 },
	{ "CAPA", cmd_capa, AUTHZ | TRANS, 0 },
	{ "QUIT", cmd_quit, AUTHZ | TRANS, 0 },
	{ "NOOP", cmd_noop, TRANS, 0 },
	{ "STAT", cmd_stat, TRANS, 0 },
	{ "LIST", cmd_list, TRANS, 0 },
	{ "UIDL", cmd_uidl, TRANS, 0 },
	{ "RETR", cmd_retr, TRANS, 0 },
	{ "TOP", cmd_top, TRANS, 0 },
	{ "DELE", cmd_dele, TRANS, 0 },
	{ "RSET", cmd_rset, TRANS, 0 },
	{ NULL, NULL, 0, 0 }
};

const char *
pop3_state_name(enum pop3_state st)
{
	static const char *const names[POP3_STATE_COUNT] = {
		"authorization", "transaction", "update", "closing"
	};

	return (unsigned int)st < POP3_STATE_COUNT ? names[st] : "?";
}

int
pop3_split(char *line, char **verb_r, char **rest_r)
{
	char	*sp;

	if (line[0] == '\0' || line[0] == ' ')
		return -1;
	*verb_r = line;
	if ((sp = strchr(line, ' ')) == NULL) {
		*rest_r = line + strlen(line);
		return 0;
	}
	*sp = '\0';
	*rest_r = sp + 1;
	return 0;
}

int
pop3_args(char *rest, char **argv, int max)
{
	int	 n = 0;
	char	*p = rest;

	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			return n;
		if (n == max)
			return -1;
		argv[n++] = p;
		while (*p != ' ' && *p != '\0')
			p++;
		if (*p == ' ')
			*p++ = '\0';
	}
}

int
pop3_msgnum(const char *s, uint32_t *r)
{
	uint64_t	 v;

	if (strnum_u64(s, 1, UINT32_MAX, &v) == -1)
		return -1;
	*r = (uint32_t)v;
	return 0;
}

void
pop3_uidl(uint32_t uid, uint32_t uidvalidity, char *out, size_t size)
{
	if (!str_printf(out, size, "%08X%08X", (unsigned int)uid,
	    (unsigned int)uidvalidity))
		panic("pop3_uidl: buffer too small");
}

static void
pop3_vreply(struct session *s, const char *fmt, va_list ap)
{
	char	 line[1024];
	int	 n;

	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		panic("pop3_reply: vsnprintf");
	if ((size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;
	log_trace(s->id, LOG_TRACE_SERVER, line, (size_t)n, 0);
	if (str_append(&s->out, line, (size_t)n) == -1 ||
	    str_append(&s->out, "\r\n", 2) == -1)
		panic("pop3_reply: output buffer");
}

void
pop3_reply(struct session *s, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	pop3_vreply(s, fmt, ap);
	va_end(ap);
}

void
pop3_error(struct session *s, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	pop3_vreply(s, fmt, ap);
	va_end(ap);
	if (++s->errors >= s->srv->conf.max_errors &&
	    s->state != POP3_CLOSING) {
		pop3_reply(s, "-ERR Too many bad commands.");
		log_info(s->id, "too many errors errors=%u", s->errors);
		pop3_set_state(s, POP3_CLOSING);
	}
}

void
pop3_reply_line(struct session *s, const char *line)
{
	if (line[0] == '.' && str_append_c(&s->out, '.') == -1)
		panic("pop3_reply_line: output buffer");
	if (str_append_str(&s->out, line) == -1 ||
	    str_append(&s->out, "\r\n", 2) == -1)
		panic("pop3_reply_line: output buffer");
	log_trace(s->id, LOG_TRACE_SERVER, line, strlen(line), 0);
}

bool
pop3_login_allowed(const struct session *s)
{
	return s->is_tls || (s->is_loopback && s->srv->conf.plaintext_loopback);
}

void
pop3_greet(struct session *s)
{
	static unsigned int	 counter;

	if (s->srv->conf.apop_enable) {
		/* RFC 1939 section 7: unique for each greeting. */
		(void)str_printf(s->timestamp, sizeof(s->timestamp),
		    "<%ld.%u.%lld@%s>", (long)getpid(), ++counter,
		    (long long)time(NULL), s->srv->conf.hostname);
		pop3_reply(s, "+OK buzon POP3 ready %s", s->timestamp);
	} else
		pop3_reply(s, "+OK buzon POP3 ready.");
}

/* RFC 2449 section 5 */
static void
cmd_capa(struct session *s, char *arg)
{
	(void)arg;
	pop3_reply(s, "+OK");
	pop3_reply_line(s, "CAPA");
	pop3_reply_line(s, "TOP");
	pop3_reply_line(s, "UIDL");
	pop3_reply_line(s, "RESP-CODES");
	pop3_reply_line(s, "PIPELINING");
	pop3_reply_line(s, "AUTH-RESP-CODE");
	if (s->state == POP3_AUTHORIZATION) {
		if (!s->is_tls && s->srv->tls_ctx != NULL)
			pop3_reply_line(s, "STLS");
		if (pop3_login_allowed(s)) {
			pop3_reply_line(s, "USER");
			pop3_reply_line(s, "SASL " AUTH_SASL_MECHS);
		}
	}
	pop3_reply_line(s, "IMPLEMENTATION buzon");
	pop3_reply(s, ".");
}

static void
cmd_noop(struct session *s, char *arg)
{
	(void)arg;
	pop3_reply(s, "+OK");
}

/* RFC 2595 section 4 */
static void
cmd_stls(struct session *s, char *arg)
{
	if (arg[0] != '\0') {
		pop3_error(s, "-ERR STLS takes no arguments.");
		return;
	}
	if (s->is_tls) {
		pop3_error(s, "-ERR TLS is already active.");
		return;
	}
	if (s->srv->tls_ctx == NULL) {
		pop3_reply(s, "-ERR TLS support isn't enabled.");
		return;
	}
	pop3_auth_release(s);
	s->user[0] = '\0';
	pop3_reply(s, "+OK Begin TLS negotiation now.");
	s->want_starttls = true;
}

void
pop3_dispatch(struct session *s, char *line, size_t len)
{
	const struct pop3_cmd	*c;
	char			 vbuf[48];
	char			*verb, *rest;

	if (s->state == POP3_AUTHORIZATION &&
	    ++s->commands > POP3_PREAUTH_MAX) {
		pop3_reply(s, "-ERR Too many commands before login.");
		pop3_set_state(s, POP3_CLOSING);
		return;
	}
	if (pop3_split(line, &verb, &rest) == -1) {
		pop3_error(s, "-ERR Unknown command: ");
		return;
	}
	CMDTAB_FIND(pop3_cmds, verb, c);
	if (c->verb != NULL && c->fn != cmd_auth &&
	    len > s->max_line) {
		pop3_error(s, "-ERR Line too long.");
		return;
	}
	if (c->verb == NULL) {
		(void)str_sanitize(vbuf, sizeof(vbuf), verb, strlen(verb));
		pop3_error(s, "-ERR Unknown command: %s", vbuf);
	} else if (!CMDTAB_ALLOWED(c, s->state)) {
		if (s->state == POP3_AUTHORIZATION)
			pop3_error(s, "-ERR Unknown command: %s (log in "
			    "first)", c->verb);
		else
			pop3_error(s, "-ERR Unknown command: %s (already "
			    "logged in)", c->verb);
	} else if ((c->flags & CMD_LOGIN) && !pop3_login_allowed(s)) {
		pop3_error(s, "-ERR [AUTH] Plaintext authentication disallowed "
		    "on non-secure (SSL/TLS) connections.");
	} else
		c->fn(s, rest);
}
