/* SPDX-License-Identifier: MIT */
/*
 * cmd_auth.c - the commands of any state and of logging in: CAPABILITY,
 * NOOP, LOGOUT, ID, ENABLE, IDLE, STARTTLS, LOGIN, AUTHENTICATE (PLAIN,
 * LOGIN; SASL-IR)
 *
 * Passwords are checked by buzon-auth (common/authc.h): the session is
 * suspended while the check is out and every other session goes on; the
 * shared failed-login throttle answers there, never here.  A correct
 * login reads the users map (no secrets) for the mail location and
 * quota, then creates the default folders once (folders.h).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "accounts.h"
#include "authc.h"
#include "folders.h"
#include "imapd.h"
#include "log.h"
#include "mem.h"
#include "str.h"

struct imap_login {
	struct authc_req *req;
	char		 user[IMAP_USER_MAX + 1];	/* sanitised, for logs */
};

void
cmd_capability(struct imap_session *s, char *arg)
{
	struct str	 caps;

	(void)arg;
	if (!imap_no_args(s))
		return;
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
	if (!imap_no_args(s))
		return;
	imap_ok(s, NULL, "NOOP completed.");
}

void
cmd_logout(struct imap_session *s, char *arg)
{
	(void)arg;
	if (!imap_no_args(s))
		return;
	imap_untagged(s, "BYE Logging out");
	imap_ok(s, NULL, "Logout completed.");
	imap_set_state(s, IMAP_LOGOUT);
}

/* ID (RFC 2971): log what the client says, answer our name. */
void
cmd_id(struct imap_session *s, char *arg)
{
	struct imap_cur	 c;
	struct imap_str	 k, v;
	bool		 nil;
	char		 ks[64], vs[128], line[512];
	size_t		 n = 0, used = 0;

	(void)arg;
	imap_args(s, &c);
	line[0] = '\0';
	if (!imap_nstring(&c, &k, &nil) || !nil) {
		/* a list of field-value pairs, at most 30 */
		imap_cur_init(&c, s->args, s->args_len);
		if (!imap_take(&c, '(')) {
			imap_bad(s, "Invalid ID arguments.");
			return;
		}
		while (!imap_take(&c, ')')) {
			if ((n > 0 && !imap_sp(&c)) || !imap_string(&c, &k) ||
			    !imap_sp(&c) || !imap_nstring(&c, &v, &nil) ||
			    ++n > 30) {
				imap_bad(s, "Invalid ID arguments.");
				return;
			}
			(void)str_sanitize(ks, sizeof(ks), k.s, k.len);
			(void)str_sanitize(vs, sizeof(vs), nil ? "NIL" : v.s,
			    nil ? 3 : v.len);
			if (used < sizeof(line) - 1) {
				int w = snprintf(line + used, sizeof(line) -
				    used, "%s%s=\"%s\"", used > 0 ? " " : "",
				    ks, vs);

				if (w > 0)
					used += (size_t)w;
			}
		}
	}
	if (!imap_eol(&c)) {
		imap_bad(s, "Invalid ID arguments.");
		return;
	}
	if (line[0] != '\0')
		log_info(s->base.id, "id %s", line);
	imap_untagged(s, "ID (\"name\" \"buzon\" \"vendor\" \"buzon\")");
	imap_ok(s, NULL, "ID completed.");
}

/* ENABLE (RFC 5161): what we know is enabled and said so. */
void
cmd_enable(struct imap_session *s, char *arg)
{
	struct imap_cur	 c;
	struct imap_str	 a;
	struct str	 on;
	unsigned int	 bit;

	(void)arg;
	imap_args(s, &c);
	str_init(&on, 0);
	if (imap_eol(&c)) {
		imap_bad(s, "ENABLE needs a capability.");
		return;
	}
	while (!imap_eol(&c)) {
		if ((on.len > 0 || c.p != s->args) && !imap_sp(&c)) {
			str_release(&on);
			imap_bad(s, "Invalid ENABLE arguments.");
			return;
		}
		if (!imap_atom(&c, &a)) {
			str_release(&on);
			imap_bad(s, "Invalid ENABLE arguments.");
			return;
		}
		bit = imap_str_eq(&a, "CONDSTORE") ? IMAP_EN_CONDSTORE :
		    imap_str_eq(&a, "QRESYNC") ? IMAP_EN_QRESYNC |
		    IMAP_EN_CONDSTORE : imap_str_eq(&a, "UTF8=ACCEPT") ?
		    IMAP_EN_UTF8 : 0;
		if (bit == 0 || (s->enabled & bit) == bit)
			continue;
		s->enabled |= bit;
		if (str_appendf(&on, " %s", imap_str_eq(&a, "CONDSTORE") ?
		    "CONDSTORE" : imap_str_eq(&a, "QRESYNC") ? "QRESYNC" :
		    "UTF8=ACCEPT") == -1)
			break;
	}
	imap_untagged(s, "ENABLED%s", str_c(&on));
	str_release(&on);
	imap_ok(s, NULL, "Enabled.");
}

void
cmd_idle(struct imap_session *s, char *arg)
{
	(void)arg;
	if (!imap_no_args(s))
		return;
	imap_cont(s, "idling");
	imap_idle_start(s);
}

void
cmd_starttls(struct imap_session *s, char *arg)
{
	(void)arg;
	if (!imap_no_args(s))
		return;
	if (s->srv->tls_ctx == NULL) {
		imap_no(s, NULL, "TLS is not configured.");
		return;
	}
	if (s->base.is_tls) {
		imap_bad(s, "TLS is already active.");
		return;
	}
	imap_ok(s, NULL, "Begin TLS negotiation now.");
	s->base.flush_now = true;
	s->want_starttls = true;
}

/* ---- the login ---- */

void
imap_login_forget(struct imap_session *s)
{
	if (s->pending != NULL) {
		authc_cancel(&s->pending->req);
		free(s->pending);
		s->pending = NULL;
	}
}

void
imap_auth_release(struct imap_session *s)
{
	auth_sasl_release(&s->sasl);
	s->base.cont = NULL;
	s->base.cont_secret = false;
}

/* Logged in as account: where the mail is, then the AUTH state. */
static void
login_ok(struct imap_session *s, const char *account)
{
	struct accounts_user	*u;
	struct str		 caps;
	int			 r;

	u = xcalloc(1, sizeof(*u));
	r = accounts_user_lookup(s->srv->accounts, account, u);
	if (r != 1 || accounts_mail_path(accounts_conf(s->srv->accounts), u,
	    s->mail_root, sizeof(s->mail_root)) == -1) {
		log_info(s->base.id, "login refused user=%s reason=%s",
		    account, r == 0 ? "removed" : "lookup");
		if (r == 0)
			imap_no(s, "AUTHENTICATIONFAILED",
			    "Authentication failed.");
		else
			imap_no(s, "UNAVAILABLE", "Temporary authentication "
			    "failure.");
		goto out;
	}
	(void)str_copy(s->user, u->address, sizeof(s->user));
	s->loc.root = s->mail_root;
	s->loc.format = u->format == ACCOUNTS_MBOX ? MAILBOX_MBOX :
	    MAILBOX_MAILDIR;
	s->loc.mbox_inbox = NULL;
	s->quota = u->quota;
	imap_set_state(s, IMAP_AUTH);
	log_info(s->base.id, "login user=%s tls=%s", s->user,
	    s->base.is_tls ? "yes" : "no");
	imap_folders_login(s);
	str_init(&caps, 0);
	imap_capability(s, &caps);
	imap_ok(s, NULL, "[CAPABILITY %s] Logged in", str_c(&caps));
	str_release(&caps);
out:
	mem_wipe(u, sizeof(*u));
	free(u);
}

static void
login_answer(enum authc_result r, const char *account, void *arg)
{
	struct imap_session	*s = arg;
	struct imap_login	*l = s->pending;

	l->req = NULL;
	switch (r) {
	case AUTHC_OK:
		login_ok(s, account);
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
		log_warn(s->base.id, "login tempfail user=%s", l->user);
		imap_no(s, "UNAVAILABLE", "Temporary authentication failure.");
		break;
	}
	imap_login_forget(s);
	imap_resume_after(s, 0);
}

/* Send the check to buzon-auth; the session waits for login_answer(). */
static void
imap_login(struct imap_session *s, const char *user, const char *pass)
{
	struct imapd		*srv = s->srv;
	struct imap_login	*l;

	if (srv->authc == NULL) {	/* never in the daemon: tests */
		imap_no(s, "UNAVAILABLE", "Temporary authentication failure.");
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
	if (!imap_astring(&c, &u)) {
		imap_bad(s, "Error in IMAP command LOGIN: Missing user name "
		    "(usage: LOGIN user password).");
		return;
	}
	if (!imap_sp(&c) || !imap_astring(&c, &p)) {
		imap_bad(s, "Error in IMAP command LOGIN: Missing password "
		    "(usage: LOGIN user password).");
		return;
	}
	if (!imap_eol(&c)) {
		imap_bad(s, "Error in IMAP command LOGIN: Too many arguments "
		    "(a password with spaces goes in quotes).");
		return;
	}
	if (!imap_str_copy(&u, user, sizeof(user)) ||
	    !imap_str_copy(&p, pass, sizeof(pass)) || u.len == 0) {
		explicit_bzero(pass, sizeof(pass));
		imap_no(s, "AUTHENTICATIONFAILED", "Authentication failed.");
		return;
	}
	imap_login(s, user, pass);
	explicit_bzero(pass, sizeof(pass));
	explicit_bzero(s->args, s->args_len);	/* the password in the buffer */
}

static void	sasl_cont(struct sess *, char *, size_t);

static void
sasl_reply(void *sess, const char *line)
{
	struct imap_session *s = sess;

	if (str_appendf(&s->out, "%s\r\n", line) == -1)
		s->base.closing = true;
}

static void
sasl_wait(void *sess, bool more)
{
	struct imap_session *s = sess;

	sess_expect_cont(&s->base, more ? sasl_cont : NULL);
	s->base.flush_now = true;
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
sasl_cont(struct sess *b, char *line, size_t len)
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
	struct imap_str		 mech, ir;
	enum auth_sasl_mech	 m;
	enum auth_sasl_result	 r;
	const char		*chal = NULL;
	char			 name[32], initial[AUTH_SASL_LINE_MAX + 1];
	bool			 has_ir = false;

	(void)arg;
	imap_args(s, &c);
	if (!imap_atom(&c, &mech) || !imap_str_copy(&mech, name,
	    sizeof(name))) {
		imap_bad(s, "Error in IMAP command AUTHENTICATE: Missing "
		    "mechanism.");
		return;
	}
	if (!imap_eol(&c)) {
		if (!imap_sp(&c) || !imap_atom(&c, &ir) ||
		    !imap_str_copy(&ir, initial, sizeof(initial)) ||
		    !imap_eol(&c)) {
			imap_bad(s, "Invalid AUTHENTICATE arguments.");
			return;
		}
		has_ir = true;
		explicit_bzero(s->args, s->args_len);
	}
	if (auth_sasl_mech_parse(name, &m) == -1) {
		explicit_bzero(initial, sizeof(initial));
		imap_no(s, NULL, "Unsupported authentication mechanism.");
		return;
	}
	r = auth_sasl_begin(&s->sasl, m, has_ir ? initial : NULL, &chal);
	explicit_bzero(initial, sizeof(initial));
	auth_sasl_advance(&imap_sasl_ops, s, &s->sasl, r, chal);
}
