/* SPDX-License-Identifier: MIT */
/*
 * cmd_auth.c - AUTH PLAIN and LOGIN (RFC 4954) over common/auth.h
 *
 * AUTH is offered only over TLS (or from loopback when configured), as
 * Postfix does: before that the command is answered "503 5.5.1 Error:
 * authentication not enabled".  Continuation lines come back through
 * s->cont and are traced masked.  Failed logins are counted in the shared
 * throttle and the answer is delayed on a timer (the loop never sleeps).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "log.h"
#include "mem.h"
#include "smtpd.h"
#include "str.h"

void
smtp_auth_release(struct session *s)
{
	if (s->sasl != NULL) {
		auth_sasl_release(s->sasl);
		free(s->sasl);
		s->sasl = NULL;
	}
	s->cont = NULL;
	s->cont_secret = false;
}

static void	auth_result(struct session *, enum auth_sasl_result,
		    const char *);

static void
auth_cont(struct session *s, char *line, size_t len)
{
	const char		*chal = NULL;
	enum auth_sasl_result	 r;

	r = auth_sasl_step(s->sasl, line, len, &chal);
	auth_result(s, r, chal);
}

static void
auth_check(struct session *s)
{
	struct auth_sasl	*sa = s->sasl;
	char			 user[SMTP_USER_MAX + 1];
	uint64_t		 delay = 0;
	int			 r, t = AUTH_THROTTLE_OK;

	str_sanitize(user, sizeof(user), sa->authcid, strlen(sa->authcid));
	if (s->srv->throttle != NULL) {
		t = auth_throttle_check(s->srv->throttle, s->ip, sa->authcid,
		    &delay);
		if (t == -1)
			delay = 1000;	/* no state file: fail safe */
	}
	if (t == AUTH_THROTTLE_REFUSE) {
		log_info(s->id, "auth refused user=%s reason=throttled", user);
		smtp_error(s, "454 4.7.0 Temporary authentication failure");
		smtp_auth_release(s);
		return;
	}
	r = policy_login(s, sa->authcid, sa->passwd);
	if (s->srv->throttle != NULL && r != -1)
		(void)auth_throttle_record(s->srv->throttle, s->ip,
		    sa->authcid, r == 1);
	smtp_auth_release(s);
	if (r == 1) {
		s->is_authenticated = true;
		log_info(s->id, "auth ok user=%s", user);
		smtp_reply(s, "235 2.7.0 Authentication successful");
	} else if (r == 0) {
		log_info(s->id, "auth failed user=%s", user);
		smtp_error(s, "535 5.7.8 Error: authentication failed: "
		    "authentication failure");
	} else {
		log_warn(s->id, "auth tempfail user=%s", user);
		smtp_error(s, "454 4.7.0 Temporary authentication failure");
	}
	if (delay > 0)
		session_resume_after(s, delay);
}

static void
auth_result(struct session *s, enum auth_sasl_result r, const char *chal)
{
	s->flush_now = true;
	switch (r) {
	case AUTH_SASL_CONTINUE:
		smtp_reply(s, "334 %s", chal != NULL ? chal : "");
		s->cont = auth_cont;
		s->cont_secret = true;
		return;
	case AUTH_SASL_CANCELLED:
		smtp_auth_release(s);
		smtp_error(s, "501 5.0.0 Authentication aborted");
		return;
	case AUTH_SASL_BAD:
		smtp_auth_release(s);
		smtp_error(s, "501 5.5.2 Cannot decode response");
		return;
	case AUTH_SASL_DONE:
		s->cont = NULL;
		s->cont_secret = false;
		auth_check(s);
		return;
	}
	panic("auth_result: %d", (int)r);
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
	auth_result(s, r, chal);
}
