/* SPDX-License-Identifier: MIT */
/*
 * cmd_auth.c - AUTH PLAIN and LOGIN (RFC 4954) over common/auth.h
 *
 * AUTH is offered only over TLS (or from loopback when configured), as
 * Postfix does: before that the command is answered "503 5.5.1 Error:
 * authentication not enabled".  Continuation lines come back through
 * s->cont and are traced masked.  The SASL exchange is decoded here; the
 * password itself goes to buzon-auth (common/authc.h), which alone reads
 * the hashes, counts failures in the shared throttle and holds its answer
 * for the throttle's delay.  The session waits, suspended, meanwhile; if
 * buzon-auth is down or slow the answer is 454.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "authc.h"
#include "event.h"
#include "log.h"
#include "mem.h"
#include "smtpd.h"
#include "str.h"

void
smtp_auth_release(struct session *s)
{
	bool	 owes = false;

	if (s->sasl != NULL) {
		owes = s->sasl->owes_passwd;
		auth_sasl_release(s->sasl);
		free(s->sasl);
		s->sasl = NULL;
	}
	/* Masking lasts until the exchange ends, however it ends: the line
	 * after an AUTH LOGIN that ended before its password is most likely
	 * the password all the same, so it is traced masked, then handled
	 * as the command it may be. */
	s->base.cont = NULL;
	s->base.cont_secret = false;
	s->base.mask_next = owes;
}

static void
login_free(struct smtp_login **lp)
{
	if (*lp == NULL)
		return;
	authc_cancel(&(*lp)->req);
	free(*lp);
	*lp = NULL;
}

void
smtp_auth_forget(struct session *s)
{
	login_free(&s->login);
}

/* The answer, on the loop. */
static void
login_answer(enum authc_result r, const char *account, void *arg)
{
	struct session	*s = arg;
	const char	*user = s->login->user;

	s->login->req = NULL;
	switch (r) {
	case AUTHC_OK:
		s->is_authenticated = true;
		(void)str_copy(s->auth_user, account, sizeof(s->auth_user));
		log_info(s->id, "auth ok user=%s", account);
		smtp_reply(s, "235 2.7.0 Authentication successful");
		break;
	case AUTHC_FAIL:
		log_info(s->id, "auth failed user=%s", user);
		smtp_error(s, "535 5.7.8 Error: authentication failed: "
		    "authentication failure");
		break;
	case AUTHC_THROTTLED:
		log_info(s->id, "auth refused user=%s reason=throttled", user);
		smtp_error(s, "454 4.7.0 Temporary authentication failure");
		break;
	case AUTHC_TEMP:
		log_warn(s->id, "auth tempfail user=%s", user);
		smtp_error(s, "454 4.7.0 Temporary authentication failure");
		break;
	}
	login_free(&s->login);
	s->base.flush_now = true;
	smtp_resume(s);
}

static void	auth_cont(struct sess *, char *, size_t);

static void
sasl_reply(void *sess, const char *line)
{
	struct session	*s = sess;

	s->base.flush_now = true;
	smtp_reply(s, "%s", line);
}

static void
sasl_wait(void *sess, bool more)
{
	sess_expect_cont(&((struct session *)sess)->base,
	    more ? auth_cont : NULL);
}

static void
sasl_done(void *sess, struct auth_sasl *sa)
{
	struct session	*s = sess;
	struct smtp_login *l;

	if (s->srv->accounts == NULL || s->srv->authc == NULL) {
		/* No users (a bare test setup): nothing to log in to, as
		 * before; no client of buzon-auth: a temporary failure. */
		smtp_auth_release(s);
		s->base.flush_now = true;
		if (s->srv->accounts == NULL)
			smtp_error(s, "535 5.7.8 Error: authentication failed: "
			    "authentication failure");
		else
			smtp_error(s, "454 4.7.0 Temporary authentication "
			    "failure");
		return;
	}
	l = xcalloc(1, sizeof(*l));
	str_sanitize(l->user, sizeof(l->user), sa->authcid,
	    strlen(sa->authcid));
	s->login = l;
	l->req = authc_pass(s->srv->authc, s->ip, sa->authcid, sa->passwd,
	    login_answer, s);
	smtp_auth_release(s);
	smtp_suspend(s);
}

static void
sasl_cancelled(void *sess)
{
	struct session	*s = sess;

	s->base.flush_now = true;
	smtp_auth_release(s);
	smtp_error(s, "501 5.0.0 Authentication aborted");
}

static void
sasl_bad(void *sess, const char *why)
{
	struct session	*s = sess;

	(void)why;
	s->base.flush_now = true;
	smtp_auth_release(s);
	smtp_error(s, "501 5.5.2 Cannot decode response");
}

static const struct auth_sasl_ops smtp_sasl_ops = {
	.prompt = "334 ",
	.reply = sasl_reply,
	.wait = sasl_wait,
	.done = sasl_done,
	.cancelled = sasl_cancelled,
	.bad = sasl_bad,
};

static void
auth_cont(struct sess *b, char *line, size_t len)
{
	struct session		*s = SESS_OF(struct session, b);
	const char		*chal = NULL;
	enum auth_sasl_result	 r;

	r = auth_sasl_step(s->sasl, line, len, &chal);
	auth_sasl_advance(&smtp_sasl_ops, s, s->sasl, r, chal);
}

void
cmd_auth(struct session *s, char *arg)
{
	enum auth_sasl_mech	 mech;
	enum auth_sasl_result	 r;
	const char		*chal = NULL;
	char			*initial;

	if (s->is_authenticated) {
		smtp_error(s, "503 5.5.1 Error: already authenticated");
		return;
	}
	if (!smtp_auth_offered(s)) {
		smtp_error(s, "503 5.5.1 Error: authentication not enabled");
		return;
	}
	initial = arg + strcspn(arg, " \t");
	if (*initial != '\0')
		*initial++ = '\0';
	initial = str_trim(initial);
	if (arg[0] == '\0') {
		smtp_error(s, "501 5.5.4 Syntax: AUTH mechanism");
		return;
	}
	if (auth_sasl_mech_parse(arg, &mech) == -1) {
		smtp_error(s, "504 5.5.4 Unsupported authentication mechanism");
		return;
	}
	s->sasl = xcalloc(1, sizeof(*s->sasl));
	r = auth_sasl_begin(s->sasl, mech, initial[0] != '\0' ? initial : NULL,
	    &chal);
	auth_sasl_advance(&smtp_sasl_ops, s, s->sasl, r, chal);
}
