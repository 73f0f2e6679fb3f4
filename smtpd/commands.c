/* SPDX-License-Identifier: MIT */
/*
 * commands.c - the SMTP verb table, dispatch, reply helpers and the small
 * commands (EHLO, HELO, STARTTLS, RSET, NOOP, QUIT, VRFY, HELP)
 *
 * Reply texts follow Postfix where it has one, so scripts and course
 * material written against Postfix read the same lines from us.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "mem.h"
#include "smtpd.h"
#include "str.h"

static void	cmd_ehlo(struct session *, char *);
static void	cmd_helo(struct session *, char *);
static void	cmd_starttls(struct session *, char *);
static void	cmd_rset(struct session *, char *);
static void	cmd_noop(struct session *, char *);
static void	cmd_quit(struct session *, char *);
static void	cmd_vrfy(struct session *, char *);
static void	cmd_help(struct session *, char *);

/* state_text: the 503 text for the wrong state */
CMDTAB_STRUCT_TEXT(smtp_cmd, struct session);

#define ST_TX		(ST(SMTP_MAIL) | ST(SMTP_RCPT) | ST(SMTP_BDAT))

static const struct smtp_cmd smtp_cmds[] = {
	{ "EHLO", cmd_ehlo, ST_IDLE | ST_TX, CMD_PRE_TLS | CMD_GROUP_END,
	    NULL },
	{ "HELO", cmd_helo, ST_IDLE | ST_TX, CMD_PRE_TLS | CMD_GROUP_END,
	    NULL },
	{ "STARTTLS", cmd_starttls, ST_IDLE, CMD_PRE_TLS | CMD_GROUP_END,
	    "Error: MAIL transaction in progress" },
	{ "AUTH", cmd_auth, ST_IDLE, CMD_GROUP_END,
	    "Error: MAIL transaction in progress" },
	{ "MAIL", cmd_mail, ST_IDLE, 0, "Error: nested MAIL command" },
	{ "RCPT", cmd_rcpt, ST(SMTP_MAIL) | ST(SMTP_RCPT), 0,
	    "Error: need MAIL command" },
	{ "DATA", cmd_data, ST(SMTP_RCPT), CMD_GROUP_END,
	    "Error: need RCPT command" },
	/* BDAT checks the state itself: the chunk must be read either way */
	{ "BDAT", cmd_bdat, ST_ANY, 0, NULL },
	{ "RSET", cmd_rset, ST_ANY, CMD_PRE_TLS | CMD_GROUP_END, NULL },
	{ "NOOP", cmd_noop, ST_ANY, CMD_PRE_TLS | CMD_GROUP_END, NULL },
	{ "QUIT", cmd_quit, ST_ANY, CMD_PRE_TLS | CMD_GROUP_END, NULL },
	{ "VRFY", cmd_vrfy, ST_ANY, CMD_GROUP_END, NULL },
	{ "HELP", cmd_help, ST_ANY, CMD_PRE_TLS | CMD_GROUP_END, NULL },
	{ NULL, NULL, 0, 0, NULL }
};

static const char *const state_names[SMTP_STATE_COUNT] = {
	"greeted", "ready", "mail", "rcpt", "data", "bdat", "closing",
};

const char *
smtp_state_name(enum smtp_state st)
{
	return (unsigned int)st < SMTP_STATE_COUNT ? state_names[st] : "?";
}

static void
smtp_vreply(struct session *s, const char *fmt, va_list ap)
{
	char	 line[1024];
	int	 n;

	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		panic("smtp_reply: bad format");
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;	/* our replies are never this long */
	log_trace(s->id, LOG_TRACE_SERVER, line, (size_t)n, 0);
	if (str_append(&s->out, line, (size_t)n) == -1 ||
	    str_append(&s->out, "\r\n", 2) == -1)
		panic("smtp_reply: unbounded str failed");
}

void
smtp_reply(struct session *s, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	smtp_vreply(s, fmt, ap);
	va_end(ap);
}

void
smtp_close(struct session *s, const char *code, const char *text)
{
	smtp_reply(s, "421 %s %s %s", code, s->srv->conf.hostname, text);
	s->base.flush_now = true;
	smtp_set_state(s, SMTP_CLOSING);
}

void
smtp_error(struct session *s, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	smtp_vreply(s, fmt, ap);
	va_end(ap);
	if (++s->errors >= s->srv->conf.max_errors &&
	    s->state != SMTP_CLOSING) {
		log_info(s->id, "too many errors errors=%u", s->errors);
		smtp_close(s, "4.7.0", "Error: too many errors");
	}
}

void
smtp_greet(struct session *s)
{
	smtp_reply(s, "220 %s ESMTP buzon", s->srv->conf.hostname);
	s->base.flush_now = true;
}

bool
smtp_starttls_offered(const struct session *s)
{
	return !s->is_tls && s->srv->tls_ctx != NULL;
}

bool
smtp_auth_offered(const struct session *s)
{
	if (s->is_authenticated)
		return false;
	return s->is_tls ||
	    (s->is_loopback && s->srv->conf.auth_plaintext_loopback);
}

const char *
smtp_proto(const struct session *s)
{
	if (!s->is_esmtp)
		return "SMTP";
	if (s->is_tls)
		return s->is_authenticated ? "ESMTPSA" : "ESMTPS";
	return s->is_authenticated ? "ESMTPA" : "ESMTP";
}

void
smtp_tx_reset(struct session *s)
{
	struct smtp_tx	*tx = &s->tx;
	size_t		 i;

	smtp_batch_forget(s);
	for (i = 0; i < tx->nrcpts; i++) {
		free(tx->rcpts[i].addr);
		free(tx->rcpts[i].orcpt);
	}
	free(tx->rcpts);
	free(tx->spf_header);
	data_release(&tx->data);
	/* An open spool file is rolled back by whoever owns the glue. */
	BUZ_ASSERT(tx->msg == NULL);
	memset(tx, 0, sizeof(*tx));
	if (s->state != SMTP_CLOSING && s->state != SMTP_GREETED)
		smtp_set_state(s, SMTP_READY);
}

/* Copy the HELO/EHLO name; 0 or -1 after replying 501. */
static int
helo_name(struct session *s, const char *verb, char *arg)
{
	arg = str_trim(arg);
	if (arg[0] == '\0') {
		smtp_error(s, "501 5.5.4 Syntax: %s hostname", verb);
		return -1;
	}
	if (strlen(arg) > SMTP_HELO_MAX) {
		smtp_error(s, "501 5.5.4 Syntax: %s hostname (too long)",
		    verb);
		return -1;
	}
	(void)str_copy(s->helo, arg, sizeof(s->helo));
	s->helo_seen = true;
	smtp_tx_reset(s);
	smtp_set_state(s, SMTP_READY);
	return 0;
}

static void
cmd_ehlo(struct session *s, char *arg)
{
	const struct smtpd_conf *c = &s->srv->conf;

	if (helo_name(s, "EHLO", arg) == -1)
		return;
	s->is_esmtp = true;
	smtp_reply(s, "250-%s", c->hostname);
	smtp_reply(s, "250-PIPELINING");
	smtp_reply(s, "250-SIZE %zu", c->max_message);
	if (smtp_starttls_offered(s))
		smtp_reply(s, "250-STARTTLS");
	if (smtp_auth_offered(s))
		smtp_reply(s, "250-AUTH PLAIN LOGIN");
	smtp_reply(s, "250-ENHANCEDSTATUSCODES");
	smtp_reply(s, "250-8BITMIME");
	smtp_reply(s, "250-DSN");
	smtp_reply(s, "250-SMTPUTF8");
	smtp_reply(s, "250 CHUNKING");
}

static void
cmd_helo(struct session *s, char *arg)
{
	if (helo_name(s, "HELO", arg) == -1)
		return;
	s->is_esmtp = false;
	smtp_reply(s, "250 %s", s->srv->conf.hostname);
}

static void
cmd_starttls(struct session *s, char *arg)
{
	if (arg[0] != '\0') {
		smtp_error(s, "501 5.5.4 Syntax: STARTTLS");
		return;
	}
	if (s->is_tls) {
		smtp_error(s, "554 5.5.1 Error: TLS already active");
		return;
	}
	if (s->srv->tls_ctx == NULL) {
		smtp_error(s, "502 5.5.1 Error: command not implemented");
		return;
	}
	smtp_reply(s, "220 2.0.0 Ready to start TLS");
	/* session.c flushes, then starts TLS, discarding any pipelined input
	 * (RFC 3207 section 4.2), and resets the session. */
	s->want_starttls = true;
}

static void
cmd_rset(struct session *s, char *arg)
{
	if (str_trim(arg)[0] != '\0') {
		smtp_error(s, "501 5.5.4 Syntax: RSET");
		return;
	}
	smtp_tx_reset(s);
	smtp_reply(s, "250 2.0.0 Ok");
}

static void
cmd_noop(struct session *s, char *arg)
{
	(void)arg;	/* RFC 5321 4.1.1.9: a parameter is allowed */
	smtp_reply(s, "250 2.0.0 Ok");
}

static void
cmd_quit(struct session *s, char *arg)
{
	(void)arg;
	smtp_reply(s, "221 2.0.0 Bye");
	smtp_set_state(s, SMTP_CLOSING);
}

static void
cmd_vrfy(struct session *s, char *arg)
{
	if (str_trim(arg)[0] == '\0') {
		smtp_error(s, "501 5.5.4 Syntax: VRFY address");
		return;
	}
	/* RFC 5321 3.5.3: 252 without saying whether the user exists. */
	smtp_reply(s, "252 2.0.0 Send mail, it will be delivered if the "
	    "address exists");
}

static void
cmd_help(struct session *s, char *arg)
{
	(void)arg;
	smtp_reply(s, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT "
	    "RSET NOOP QUIT VRFY HELP STARTTLS AUTH");
}

static bool
needs_auth_first(const struct session *s)
{
	return s->listener != SMTP_LISTEN_SMTP && !s->is_authenticated;
}

/* Refuse a command before its handler runs.  A refused BDAT still has its
 * chunk coming: it is read and dropped first, never taken for commands. */
static void
smtp_refuse(struct session *s, const struct smtp_cmd *c, char *arg,
    const char *reply)
{
	if (c->fn == cmd_bdat)
		smtp_bdat_refuse(s, arg, reply);
	else
		smtp_error(s, "%s", reply);
}

void
smtp_dispatch(struct session *s, char *line, size_t len)
{
	const struct smtp_cmd	*c;
	char			*arg;

	/* Postfix takes a bare LF and stray white space around the verb. */
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' ||
	    line[len - 1] == '\r'))
		line[--len] = '\0';
	while (*line == ' ' || *line == '\t')
		line++, len--;
	if (len > s->srv->conf.max_line) {
		smtp_error(s, "500 5.5.0 Error: line too long");
		return;
	}
	if (memchr(line, '\0', len) != NULL) {
		smtp_error(s, "500 5.5.2 Error: bad syntax");
		return;
	}
	arg = line + strcspn(line, " \t");
	if (*arg != '\0')
		*arg++ = '\0';
	while (*arg == ' ' || *arg == '\t')
		arg++;

	if (needs_auth_first(s) &&
	    ++s->commands > s->srv->conf.max_commands_preauth) {
		log_info(s->id, "too many commands before authentication");
		smtp_close(s, "4.7.0",
		    "Error: too many commands before authentication");
		return;
	}

	CMDTAB_FIND(smtp_cmds, line, c);
	if (c->verb == NULL)	/* RFC 5321 4.2.4: 500, as Postfix says */
		smtp_error(s, "500 5.5.2 Error: command not recognized");
	else if (s->listener == SMTP_LISTEN_SUBMISSION && !s->is_tls &&
	    s->srv->tls_ctx != NULL && !(c->flags & CMD_PRE_TLS))
		smtp_refuse(s, c, arg,
		    "530 5.7.0 Must issue a STARTTLS command first");
	else if (!CMDTAB_ALLOWED(c, s->state))
		smtp_error(s, "503 5.5.1 %s", c->state_text != NULL ?
		    c->state_text : "Error: bad sequence of commands");
	else
		c->fn(s, arg);
	if (c->verb == NULL || (c->flags & CMD_GROUP_END))
		s->base.flush_now = true;
}
