/* SPDX-License-Identifier: MIT */
/*
 * cmd_auth.c - the AUTHORIZATION state: USER/PASS and APOP (RFC 1939
 * section 7), AUTH with SASL PLAIN and LOGIN (RFC 5034)
 *
 * Every way in ends in pop3_login(): one accounts_authenticate() call
 * (throttle reservation, password or APOP digest, throttle finish).  The
 * answer waits for the throttle's delay on a timer, never in a sleep, so
 * other sessions go on meanwhile; a correct login opens (and, with
 * pop3_lock_session, locks) the maildrop only when that wait is over.
 */
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "auth.h"
#include "log.h"
#include "mem.h"
#include "pop3d.h"
#include "str.h"

/* The line after an AUTH LOGIN that ended before its password: most
 * likely the password all the same, so it was traced masked; it is
 * handled as the command it may be. */
static void
auth_masked_line(struct session *s, char *line, size_t len)
{
	s->cont = NULL;
	s->cont_secret = false;
	pop3_dispatch(s, line, len);
}

void
pop3_auth_release(struct session *s)
{
	bool	 owes = s->sasl.owes_passwd;

	auth_sasl_release(&s->sasl);
	/* Masking lasts until the exchange ends, however it ends. */
	s->cont = owes ? auth_masked_line : NULL;
	s->cont_secret = owes;
}

void
pop3_login_forget(struct session *s)
{
	if (s->pending != NULL) {
		explicit_bzero(s->pending, sizeof(*s->pending));
		free(s->pending);
		s->pending = NULL;
	}
}

/* The answer to a correct login: the maildrop is opened (and locked) only
 * now, when the reply goes out. */
static void
pop3_login_answer(struct session *s, const struct accounts_user *u,
    bool apop)
{
	struct pop3d	*srv = s->srv;
	char		 reply[256];

	if (maildrop_open(&s->drop, srv->accounts, u, srv->conf.lock_session,
	    s->id, reply, sizeof(reply)) == -1) {
		log_info(s->id, "login refused user=%s reason=\"%s\"",
		    u->address, reply);
		pop3_reply(s, "%s", reply);
		return;
	}
	(void)str_copy(s->login, u->address, sizeof(s->login));
	log_info(s->id, "login user=%s method=%s tls=%s messages=%u "
	    "size=%llu", s->login, apop ? "apop" : "password",
	    s->is_tls ? "yes" : "no", s->drop.count,
	    (unsigned long long)s->drop.size);
	pop3_set_state(s, POP3_TRANSACTION);
	pop3_reply(s, "+OK Logged in.");
}

void
pop3_login_resume(struct session *s)
{
	if (s->pending == NULL)
		return;
	pop3_login_answer(s, s->pending, s->pending_apop);
	pop3_login_forget(s);
}

static void
pop3_login(struct session *s, const char *user, const char *secret,
    const char *apop_ts)
{
	struct pop3d			*srv = s->srv;
	struct accounts_user		 u;
	enum accounts_auth_result	 r;
	uint64_t			 delay = 0;
	char				 safe[POP3_USER_MAX + 1];

	(void)str_sanitize(safe, sizeof(safe), user, strlen(user));
	r = accounts_authenticate(srv->accounts, srv->throttle, s->ip, user,
	    secret, apop_ts, &u, &delay);
	switch (r) {
	case ACCOUNTS_AUTH_OK:
		if (delay == 0) {
			pop3_login_answer(s, &u, apop_ts != NULL);
			break;
		}
		/* Never hold the maildrop lock across the delay: a second
		 * session would find it taken for nothing. */
		s->pending = xmalloc(sizeof(*s->pending));
		*s->pending = u;
		/* Only the mailbox fields wait: no secret stays on the heap
		 * for the length of the delay. */
		mem_wipe(s->pending->hash, sizeof(s->pending->hash));
		mem_wipe(s->pending->apop_secret,
		    sizeof(s->pending->apop_secret));
		s->pending_apop = apop_ts != NULL;
		break;
	case ACCOUNTS_AUTH_FAILED:
		log_info(s->id, "login failed user=%s address=%s", safe, s->ip);
		pop3_reply(s, "-ERR [AUTH] Authentication failed.");
		break;
	case ACCOUNTS_AUTH_THROTTLED:
		log_info(s->id, "login throttled user=%s address=%s", safe,
		    s->ip);
		pop3_reply(s, "-ERR [SYS/TEMP] Too many failed logins, try "
		    "again later.");
		break;
	case ACCOUNTS_AUTH_TEMPFAIL:
	default:
		log_warn(s->id, "login tempfail user=%s", safe);
		pop3_reply(s, "-ERR [SYS/TEMP] Temporary authentication "
		    "failure.");
		break;
	}
	explicit_bzero(&u, sizeof(u));
	s->user[0] = '\0';
	if (delay > 0)
		pop3_resume_after(s, delay);
}

void
cmd_user(struct session *s, char *arg)
{
	char	*argv[2];
	int	 n;

	n = pop3_args(arg, argv, 1);
	if (n != 1) {
		pop3_error(s, "-ERR USER takes one argument: the user name.");
		return;
	}
	if (!str_copy(s->user, argv[0], sizeof(s->user))) {
		s->user[0] = '\0';
		pop3_error(s, "-ERR User name too long.");
		return;
	}
	pop3_reply(s, "+OK");
}

/* The password is the rest of the line: it may hold spaces. */
void
cmd_pass(struct session *s, char *arg)
{
	size_t	 len = strlen(arg);

	if (s->user[0] == '\0') {
		explicit_bzero(arg, len);
		pop3_error(s, "-ERR No username given.");
		return;
	}
	if (len == 0 || len > AUTH_PASS_MAX) {
		explicit_bzero(arg, len);
		pop3_error(s, "-ERR PASS takes one argument: the password.");
		return;
	}
	pop3_login(s, s->user, arg, NULL);
	explicit_bzero(arg, len);
}

void
cmd_apop(struct session *s, char *arg)
{
	char	*argv[3];

	if (!s->srv->conf.apop_enable || s->timestamp[0] == '\0') {
		pop3_error(s, "-ERR APOP not enabled.");
		return;
	}
	if (pop3_args(arg, argv, 2) != 2) {
		pop3_error(s, "-ERR APOP takes two arguments: name and "
		    "digest.");
		return;
	}
	if (strlen(argv[0]) > POP3_USER_MAX ||
	    strlen(argv[1]) != AUTH_APOP_DIGEST_LEN) {
		pop3_reply(s, "-ERR [AUTH] Authentication failed.");
		return;
	}
	pop3_login(s, argv[0], argv[1], s->timestamp);
}

static void	auth_cont(struct session *, char *, size_t);

static void
auth_result(struct session *s, enum auth_sasl_result r, const char *chal)
{
	switch (r) {
	case AUTH_SASL_CONTINUE:
		pop3_reply(s, "+ %s", chal);
		s->cont = auth_cont;
		s->cont_secret = true;
		return;
	case AUTH_SASL_DONE:
		s->cont = NULL;
		s->cont_secret = false;
		pop3_login(s, s->sasl.authcid, s->sasl.passwd, NULL);
		break;
	case AUTH_SASL_CANCELLED:
		pop3_reply(s, "-ERR Authentication aborted.");
		break;
	case AUTH_SASL_BAD:
	default:
		pop3_error(s, "-ERR [AUTH] %s", s->sasl.error != NULL ?
		    s->sasl.error : "Invalid response.");
		break;
	}
	pop3_auth_release(s);
}

static void
auth_cont(struct session *s, char *line, size_t len)
{
	enum auth_sasl_result	 r;
	const char		*chal = NULL;

	r = auth_sasl_step(&s->sasl, line, len, &chal);
	explicit_bzero(line, len);
	auth_result(s, r, chal);
}

void
cmd_auth(struct session *s, char *arg)
{
	enum auth_sasl_mech	 mech;
	enum auth_sasl_result	 r;
	const char		*chal = NULL;
	char			*argv[3];
	int			 n;

	n = pop3_args(arg, argv, 2);
	if (n == 0) {
		/* RFC 1734 style: list the mechanisms. */
		pop3_reply(s, "+OK");
		pop3_reply_line(s, "PLAIN");
		pop3_reply_line(s, "LOGIN");
		pop3_reply(s, ".");
		return;
	}
	if (n == -1) {
		pop3_error(s, "-ERR Invalid AUTH arguments.");
		return;
	}
	if (auth_sasl_mech_parse(argv[0], &mech) == -1) {
		pop3_error(s, "-ERR Unsupported authentication mechanism.");
		return;
	}
	r = auth_sasl_begin(&s->sasl, mech, n == 2 ? argv[1] : NULL, &chal);
	if (n == 2)
		explicit_bzero(argv[1], strlen(argv[1]));
	auth_result(s, r, chal);
}
