/* SPDX-License-Identifier: MIT */
/*
 * cmd_auth.c - the commands of any state and of the not-authenticated
 * state: CAPABILITY, NOOP, LOGOUT, ID (RFC 2971), ENABLE (RFC 5161), IDLE
 * (RFC 2177), STARTTLS, LOGIN and AUTHENTICATE PLAIN/LOGIN with SASL-IR
 * (RFC 4959)
 *
 * Every login ends in imap_login(): one check sent to buzon-auth
 * (common/authc.h), which alone reads the hashes, counts the attempt in
 * the shared throttle and holds its answer for the throttle's delay.  The
 * session waits suspended while the others go on.  A correct login then
 * resolves the user's mail location from the users map.
 */
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "auth.h"
#include "authc.h"
#include "folders.h"
#include "imapd.h"
#include "log.h"
#include "mem.h"
#include "str.h"

/* A check at buzon-auth, from the command to its answer. */
struct imap_login {
	struct authc_req *req;
	char		 user[IMAP_USER_MAX + 1];	/* sanitised, for logs */
};

void
cmd_capability(struct imap_session *s, char *arg)
{
	struct str	caps;

	(void)arg;
	str_init(&caps, 0);
	imap_capability(s, &caps);
	imap_untagged(s, "CAPABILITY %s", str_c(&caps));
	str_release(&caps);
	imap_ok(s, NULL, "Capability completed.");
}

void
cmd_noop(struct imap_session *s, char *arg)
{
	(void)arg;
	imap_ok(s, NULL, "NOOP completed.");
}

void
cmd_logout(struct imap_session *s, char *arg)
{
	(void)arg;
	imap_untagged(s, "BYE Logging out");
	imap_ok(s, NULL, "Logout completed.");
	imap_unselect(s);
	imap_set_state(s, IMAP_LOGOUT);
}

/* RFC 2971: NIL or up to 30 field/value pairs; we answer our name. */
void
cmd_id(struct imap_session *s, char *arg)
{
	struct imap_cur	 c;
	struct imap_str	 k, v;
	bool		 nil;
	int		 n = 0;

	(void)arg;
	imap_args(s, &c);
	if (imap_take(&c, '(')) {
		while (!imap_take(&c, ')')) {
			if ((n > 0 && !imap_sp(&c)) || !imap_string(&c, &k) ||
			    !imap_sp(&c) || !imap_nstring(&c, &v, &nil) ||
			    ++n > 30) {
				imap_bad(s, "Invalid ID parameters.");
				return;
			}
		}
	} else if (!imap_nstring(&c, &k, &nil) || !nil) {
		imap_bad(s, "ID takes NIL or a list of field/value pairs.");
		return;
	}
	if (!imap_eol(&c)) {
		imap_bad(s, "Invalid ID parameters.");
		return;
	}
	imap_untagged(s, "ID (\"name\" \"buzon\")");
	imap_ok(s, NULL, "ID completed.");
}

void
cmd_enable(struct imap_session *s, char *arg)
{
	static const struct {
		const char	*name;
		unsigned int	 bit;
	} exts[] = {
		{ "UTF8=ACCEPT", IMAP_EN_UTF8 },
	};
	struct imap_cur	 c;
	struct imap_str	 a;
	struct str	 on;
	size_t		 i;

	(void)arg;
	imap_args(s, &c);
	str_init(&on, 0);
	do {
		if (!imap_atom(&c, &a)) {
			imap_bad(s, "ENABLE takes one or more extension "
			    "names.");
			str_release(&on);
			return;
		}
		for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
			if (imap_str_eq(&a, exts[i].name) &&
			    (s->enabled & exts[i].bit) == 0) {
				s->enabled |= exts[i].bit;
				if (str_appendf(&on, " %s", exts[i].name) ==
				    -1)
					panic("cmd_enable: buffer");
			}
	} while (imap_sp(&c));
	if (!imap_eol(&c)) {
		imap_bad(s, "%s", c.err);
		str_release(&on);
		return;
	}
	imap_untagged(s, "ENABLED%s", str_c(&on));
	str_release(&on);
	imap_ok(s, NULL, "Enabled.");
}

void
cmd_idle(struct imap_session *s, char *arg)
{
	(void)arg;
	if (s->args_len != 0) {
		imap_bad(s, "IDLE takes no arguments.");
		return;
	}
	imap_cont(s, "idling");
	imap_idle_start(s);
}

void
cmd_starttls(struct imap_session *s, char *arg)
{
	(void)arg;
	if (s->args_len != 0) {
		imap_bad(s, "STARTTLS takes no arguments.");
		return;
	}
	if (s->base.is_tls) {
		imap_bad(s, "TLS is already active.");
		return;
	}
	if (s->srv->tls_ctx == NULL) {
		imap_bad(s, "TLS support isn't enabled.");
		return;
	}
	imap_auth_release(s);
	imap_ok(s, NULL, "Begin TLS negotiation now.");
	s->want_starttls = true;
	s->base.flush_now = true;
}

/* ---- logins ---- */

void
imap_auth_release(struct imap_session *s)
{
	bool	owes = s->sasl.owes_passwd;

	auth_sasl_release(&s->sasl);
	s->base.cont = NULL;
	s->base.cont_secret = false;
	s->base.mask_next = owes;
}

void
imap_login_forget(struct imap_session *s)
{
	if (s->pending != NULL) {
		authc_cancel(&s->pending->req);
		free(s->pending);
		s->pending = NULL;
	}
}

static void
login_tempfail(struct imap_session *s, const char *user)
{
	log_warn(s->base.id, "login tempfail user=%s", user);
	imap_no(s, "UNAVAILABLE", "Temporary authentication failure.");
}

/* A correct login: where the mail is, then the authenticated state. */
static void
login_finish(struct imap_session *s, const struct accounts_user *u)
{
	struct imapd	*srv = s->srv;
	struct str	 caps;

	if (accounts_mail_path(accounts_conf(srv->accounts), u, s->mail_root,
	    sizeof(s->mail_root)) == -1) {
		log_error(s->base.id, "mail path too long user=%s",
		    u->address);
		imap_no(s, "SERVERBUG", "Mailbox path too long.");
		return;
	}
	s->loc.root = s->mail_root;
	s->loc.format = u->format == ACCOUNTS_MBOX ? MAILBOX_MBOX :
	    MAILBOX_MAILDIR;
	s->loc.mbox_inbox = NULL;
	s->quota = u->quota;
	(void)str_copy(s->user, u->address, sizeof(s->user));
	imap_set_state(s, IMAP_AUTH);
	imap_folders_login(s);
	log_info(s->base.id, "login user=%s tls=%s", s->user,
	    s->base.is_tls ? "yes" : "no");
	str_init(&caps, 0);
	imap_capability(s, &caps);
	imap_ok(s, NULL, "[CAPABILITY %s] Logged in", str_c(&caps));
	str_release(&caps);
}

static void
login_answer(enum authc_result r, const char *account, void *arg)
{
	struct imap_session	*s = arg;
	struct imap_login	*l = s->pending;
	struct accounts_user	*u;

	l->req = NULL;
	switch (r) {
	case AUTHC_OK:
		u = xcalloc(1, sizeof(*u));
		switch (accounts_user_lookup(s->srv->accounts, account, u)) {
		case 1:
			login_finish(s, u);
			break;
		case 0:
			log_info(s->base.id, "login failed user=%s address=%s "
			    "reason=removed", l->user, s->base.ip);
			imap_no(s, "AUTHENTICATIONFAILED",
			    "Authentication failed.");
			break;
		default:
			login_tempfail(s, l->user);
			break;
		}
		mem_wipe(u, sizeof(*u));
		free(u);
		break;
	case AUTHC_FAIL:
		log_info(s->base.id, "login failed user=%s address=%s",
		    l->user, s->base.ip);
		imap_no(s, "AUTHENTICATIONFAILED", "Authentication failed.");
		break;
	case AUTHC_THROTTLED:
		log_info(s->base.id, "login throttled user=%s address=%s",
		    l->user, s->base.ip);
		imap_no(s, "UNAVAILABLE", "Too many failed logins, try again "
		    "later.");
		break;
	case AUTHC_TEMP:
		login_tempfail(s, l->user);
		break;
	}
	imap_login_forget(s);
	imap_resume_after(s, 0);
}

static void
imap_login(struct imap_session *s, const char *user, const char *pass)
{
	struct imapd		*srv = s->srv;
	struct imap_login	*l;

	if (srv->authc == NULL) {	/* never in the daemon: tests */
		login_tempfail(s, "-");
		return;
	}
	l = xcalloc(1, sizeof(*l));
	(void)str_sanitize(l->user, sizeof(l->user), user, strlen(user));
	s->pending = l;
	l->req = authc_pass(srv->authc, s->base.ip, user, pass, login_answer,
	    s);
	imap_resume_after(s, authc_timeout_ms(srv->authc) + 5000);
}

void
cmd_login(struct imap_session *s, char *arg)
{
	struct imap_cur	 c;
	struct imap_str	 u, p;
	char		 user[IMAP_USER_MAX + 1], pass[AUTH_PASS_MAX + 1];

	(void)arg;
	imap_args(s, &c);
	if (!imap_login_allowed(s)) {
		imap_no(s, "PRIVACYREQUIRED", "Plaintext authentication "
		    "disallowed on non-secure (SSL/TLS) connections.");
	} else if (!imap_astring(&c, &u) || !imap_sp(&c) ||
	    !imap_astring(&c, &p) || !imap_eol(&c)) {
		imap_bad(s, "LOGIN takes a user name and a password: "
		    "%s LOGIN user password", s->tag);
	} else if (!imap_str_copy(&u, user, sizeof(user)) || user[0] == '\0' ||
	    !imap_str_copy(&p, pass, sizeof(pass))) {
		imap_no(s, "AUTHENTICATIONFAILED", "Authentication failed.");
	} else
		imap_login(s, user, pass);
	explicit_bzero(pass, sizeof(pass));
	explicit_bzero(s->cmd.data, s->cmd.len);
}

static void	auth_cont(struct sess *, char *, size_t);

static void
sasl_reply(void *sess, const char *line)
{
	struct imap_session	*s = sess;

	log_trace(s->base.id, LOG_TRACE_SERVER, line, strlen(line), 0);
	if (str_append_str(&s->out, line) == -1 ||
	    str_append(&s->out, "\r\n", 2) == -1)
		panic("imapd sasl: reply buffer");
}

static void
sasl_wait(void *sess, bool more)
{
	sess_expect_cont(&((struct imap_session *)sess)->base,
	    more ? auth_cont : NULL);
}

static void
sasl_done(void *sess, struct auth_sasl *sa)
{
	imap_login(sess, sa->authcid, sa->passwd);
	imap_auth_release(sess);
}

static void
sasl_cancelled(void *sess)
{
	imap_bad(sess, "Authentication aborted by client.");
	imap_auth_release(sess);
}

static void
sasl_bad(void *sess, const char *why)
{
	imap_bad(sess, "%s", why);
	imap_auth_release(sess);
}

static const struct auth_sasl_ops imap_sasl_ops = {
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
	struct imap_session	*s = SESS_OF(struct imap_session, b);
	enum auth_sasl_result	 r;
	const char		*chal = NULL;

	r = auth_sasl_step(&s->sasl, line, len, &chal);
	explicit_bzero(line, len);
	auth_sasl_advance(&imap_sasl_ops, s, &s->sasl, r, chal);
}

void
cmd_authenticate(struct imap_session *s, char *arg)
{
	struct imap_cur		 c;
	struct imap_str		 m, ir;
	enum auth_sasl_mech	 mech;
	enum auth_sasl_result	 r;
	const char		*chal = NULL;
	char			 name[32], initial[AUTH_SASL_LINE_MAX + 1];
	bool			 has_ir = false;

	(void)arg;
	imap_args(s, &c);
	if (!imap_login_allowed(s)) {
		imap_no(s, "PRIVACYREQUIRED", "Plaintext authentication "
		    "disallowed on non-secure (SSL/TLS) connections.");
		return;
	}
	if (!imap_atom(&c, &m) || !imap_str_copy(&m, name, sizeof(name))) {
		imap_bad(s, "AUTHENTICATE takes a mechanism: %s AUTHENTICATE "
		    "PLAIN", s->tag);
		return;
	}
	if (imap_sp(&c)) {
		if (!imap_atom(&c, &ir) ||
		    !imap_str_copy(&ir, initial, sizeof(initial))) {
			imap_bad(s, "Invalid initial response.");
			return;
		}
		has_ir = true;
	}
	if (!imap_eol(&c)) {
		imap_bad(s, "Invalid AUTHENTICATE arguments.");
		return;
	}
	if (auth_sasl_mech_parse(name, &mech) == -1) {
		imap_no(s, NULL, "Unsupported authentication mechanism.");
		return;
	}
	r = auth_sasl_begin(&s->sasl, mech, has_ir ? initial : NULL, &chal);
	if (has_ir) {
		explicit_bzero(initial, sizeof(initial));
		explicit_bzero(s->cmd.data, s->cmd.len);
	}
	auth_sasl_advance(&imap_sasl_ops, s, &s->sasl, r, chal);
}
