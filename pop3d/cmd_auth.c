/* SPDX-License-Identifier: MIT */
/*
 * cmd_auth.c - the AUTHORIZATION state: USER/PASS and APOP (RFC 1939
 * section 7), AUTH with SASL PLAIN and LOGIN (RFC 5034)
 *
 * Every way in ends in pop3_login(): one check sent to buzon-auth
 * (common/authc.h), which alone reads the hashes and APOP secrets, counts
 * the attempt in the shared throttle, and holds its answer for the
 * throttle's delay.  The session waits, suspended, while other sessions go
 * on; a correct login then opens (and, with pop3_lock_session, locks) the
 * maildrop.  buzon-auth down or slow: -ERR [SYS/TEMP].
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "auth.h"
#include "authc.h"
#include "log.h"
#include "mem.h"
#include "pop3d.h"
#include "str.h"

void
pop3_auth_release(struct session *s)
{
	bool	 owes = s->sasl.owes_passwd;

	auth_sasl_release(&s->sasl);
	/* Masking lasts until the exchange ends, however it ends: the line
	 * after an AUTH LOGIN that ended before its password is most likely
	 * the password all the same, so it is traced masked, then handled
	 * as the command it may be. */
	s->base.cont = NULL;
	s->base.cont_secret = false;
	s->base.mask_next = owes;
}

/* A check at buzon-auth, from the command to its answer. */
struct pop3_login {
	struct authc_req *req;		/* NULL once answered */
	bool		 apop;
	char		 user[POP3_USER_MAX + 1];	/* sanitised, for logs */
};

void
pop3_login_forget(struct session *s)
{
	if (s->pending != NULL) {
		authc_cancel(&s->pending->req);
		free(s->pending);
		s->pending = NULL;
	}
}

/* The answer to a correct login: the maildrop is opened (and locked) only
 * now, when the reply goes out (buzon-auth held the answer for any
 * throttle delay, so no lock is held across it), off the loop
 * (mbwork.c).  True while that is under way. */
static bool
pop3_login_answer(struct session *s, const struct accounts_user *u,
    bool apop)
{
	return pop3_mbwork_login(s, u, apop);
}

void
pop3_login_done(struct session *s, const char *address, bool apop, int rc,
    const char *reply)
{
	if (rc == -1) {
		log_info(s->id, "login refused user=%s reason=\"%s\"",
		    address, reply);
		pop3_reply(s, "%s", reply);
		return;
	}
	(void)str_copy(s->login, address, sizeof(s->login));
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
	(void)s;
}

static void
pop3_tempfail(struct session *s, const char *user)
{
	log_warn(s->id, "login tempfail user=%s", user);
	pop3_reply(s, "-ERR [SYS/TEMP] Temporary authentication failure.");
}

/* The answer of buzon-auth, on the loop. */
static void
login_answer(enum authc_result r, const char *account, void *arg)
{
	struct session		*s = arg;
	struct pop3_login	*l = s->pending;
	struct accounts_user	*u;
	bool			 opening = false;

	l->req = NULL;
	switch (r) {
	case AUTHC_OK:
		/* The users map, without secrets, says where the mail is. */
		u = xcalloc(1, sizeof(*u));
		switch (accounts_user_lookup(s->srv->accounts, account, u)) {
		case 1:
			opening = pop3_login_answer(s, u, l->apop);
			break;
		case 0:
			log_info(s->id, "login failed user=%s address=%s "
			    "reason=removed", l->user, s->ip);
			pop3_reply(s, "-ERR [AUTH] Authentication failed.");
			break;
		default:
			pop3_tempfail(s, l->user);
			break;
		}
		mem_wipe(u, sizeof(*u));
		free(u);
		break;
	case AUTHC_FAIL:
		log_info(s->id, "login failed user=%s address=%s", l->user,
		    s->ip);
		pop3_reply(s, "-ERR [AUTH] Authentication failed.");
		break;
	case AUTHC_THROTTLED:
		log_info(s->id, "login throttled user=%s address=%s", l->user,
		    s->ip);
		pop3_reply(s, "-ERR [SYS/TEMP] Too many failed logins, try "
		    "again later.");
		break;
	case AUTHC_TEMP:
		pop3_tempfail(s, l->user);
		break;
	}
	pop3_login_forget(s);
	if (!opening)	/* else the maildrop's done() resumes it */
		pop3_resume_after(s, 0);
}

/* Send the check to buzon-auth; the session waits for login_answer(). */
static void
pop3_login(struct session *s, const char *user, const char *secret,
    const char *apop_ts)
{
	struct pop3d		*srv = s->srv;
	struct pop3_login	*l;

	if (srv->authc == NULL) {	/* never in the daemon: tests */
		pop3_tempfail(s, "-");
		s->user[0] = '\0';
		return;
	}
	l = xcalloc(1, sizeof(*l));
	(void)str_sanitize(l->user, sizeof(l->user), user, strlen(user));
	l->apop = apop_ts != NULL;
	s->pending = l;
	if (apop_ts != NULL)
		l->req = authc_apop(srv->authc, s->ip, user, apop_ts, secret,
		    login_answer, s);
	else
		l->req = authc_pass(srv->authc, s->ip, user, secret,
		    login_answer, s);
	s->user[0] = '\0';
	/* Suspended until the answer; the bound is only a safety net, the
	 * client answers TEMP at its own timeout first. */
	pop3_resume_after(s, authc_timeout_ms(srv->authc) + 5000);
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

static void	auth_cont(struct sess *, char *, size_t);

static void
sasl_reply(void *sess, const char *line)
{
	pop3_reply(sess, "%s", line);
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
	pop3_login(sess, sa->authcid, sa->passwd, NULL);
	pop3_auth_release(sess);
}

static void
sasl_cancelled(void *sess)
{
	pop3_reply(sess, "-ERR Authentication aborted.");
	pop3_auth_release(sess);
}

static void
sasl_bad(void *sess, const char *why)
{
	pop3_error(sess, "-ERR [AUTH] %s", why);
	pop3_auth_release(sess);
}

static const struct auth_sasl_ops pop3_sasl_ops = {
	.prompt = "+ ",
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
	enum auth_sasl_result	 r;
	const char		*chal = NULL;

	r = auth_sasl_step(&s->sasl, line, len, &chal);
	explicit_bzero(line, len);
	auth_sasl_advance(&pop3_sasl_ops, s, &s->sasl, r, chal);
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
	auth_sasl_advance(&pop3_sasl_ops, s, &s->sasl, r, chal);
}
