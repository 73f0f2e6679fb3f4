/* SPDX-License-Identifier: MIT */
/*
 * auth_sasl.c - SASL PLAIN (RFC 4616) and LOGIN as a small state machine
 *
 * The protocol daemons own the wire: they pass in the initial response
 * and each client line, and send back the challenge we return with their
 * own prefix ("334 " in SMTP, "+ " in POP3 and IMAP).
 *
 * LOGIN has no RFC; we follow what clients do (draft-murchison-sasl-login):
 * the server asks "Username:" then "Password:", base64 each, and a client
 * may send the user name as an initial response.
 */
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "base64.h"
#include "mem.h"
#include "str.h"

#define LOGIN_ASK_USER	"VXNlcm5hbWU6"	/* "Username:" */
#define LOGIN_ASK_PASS	"UGFzc3dvcmQ6"	/* "Password:" */

enum {
	STEP_PLAIN_WAIT,	/* PLAIN: waiting for the one response */
	STEP_LOGIN_USER,	/* LOGIN: asked for the user name */
	STEP_LOGIN_PASS,	/* LOGIN: asked for the password */
	STEP_OVER,
};

int
auth_sasl_mech_parse(const char *name, enum auth_sasl_mech *r)
{
	if (strcasecmp(name, "PLAIN") == 0)
		*r = AUTH_SASL_PLAIN;
	else if (strcasecmp(name, "LOGIN") == 0)
		*r = AUTH_SASL_LOGIN;
	else
		return -1;
	return 0;
}

static enum auth_sasl_result
sasl_bad(struct auth_sasl *s, const char *why)
{
	s->step = STEP_OVER;
	s->error = why;
	mem_wipe(s->passwd, sizeof(s->passwd));
	return AUTH_SASL_BAD;
}

/* Copy len bytes into a field of size size: no NUL inside, fits. */
static bool
sasl_field(char *dst, size_t size, const char *src, size_t len)
{
	if (len >= size || memchr(src, '\0', len) != NULL)
		return false;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return true;
}

/* authzid NUL authcid NUL passwd, exactly two NULs. */
static enum auth_sasl_result
sasl_plain(struct auth_sasl *s, const char *buf, size_t len)
{
	const char	*n1, *n2;

	if ((n1 = memchr(buf, '\0', len)) == NULL ||
	    (n2 = memchr(n1 + 1, '\0', len - (size_t)(n1 + 1 - buf))) == NULL)
		return sasl_bad(s, "malformed PLAIN response (missing NUL)");
	if (!sasl_field(s->authzid, sizeof(s->authzid), buf,
	    (size_t)(n1 - buf)) ||
	    !sasl_field(s->authcid, sizeof(s->authcid), n1 + 1,
	    (size_t)(n2 - n1 - 1)) ||
	    !sasl_field(s->passwd, sizeof(s->passwd), n2 + 1,
	    len - (size_t)(n2 + 1 - buf)))
		return sasl_bad(s, "malformed PLAIN response "
		    "(extra NUL or field too long)");
	if (s->authcid[0] == '\0' || s->passwd[0] == '\0')
		return sasl_bad(s, "malformed PLAIN response (empty field)");
	if (s->authzid[0] != '\0' && strcasecmp(s->authzid, s->authcid) != 0)
		return sasl_bad(s, "authorization identity not permitted");
	s->step = STEP_OVER;
	return AUTH_SASL_DONE;
}

/* Decode and act on one response (from the command line or a line). */
static enum auth_sasl_result
sasl_response(struct auth_sasl *s, const char *line, size_t len,
    const char **challenge_r)
{
	char			 buf[AUTH_SASL_LINE_MAX / 4 * 3 + 1];
	size_t			 n;
	enum auth_sasl_result	 r;

	/* This line is the password, whatever becomes of it. */
	if (s->step == STEP_LOGIN_PASS)
		s->owes_passwd = false;
	if (len == 1 && line[0] == '*') {
		s->step = STEP_OVER;
		mem_wipe(s->passwd, sizeof(s->passwd));
		return AUTH_SASL_CANCELLED;
	}
	if (len > AUTH_SASL_LINE_MAX)
		return sasl_bad(s, "response too long");
	if (len == 1 && line[0] == '=')
		len = 0;
	else if (len == 0 && s->step == STEP_PLAIN_WAIT)
		return sasl_bad(s, "empty response");
	if (base64_decode(line, len, buf, sizeof(buf), &n) == -1)
		return sasl_bad(s, "invalid base64 data");
	switch (s->step) {
	case STEP_PLAIN_WAIT:
		r = sasl_plain(s, buf, n);
		break;
	case STEP_LOGIN_USER:
		if (n == 0 || !sasl_field(s->authcid, sizeof(s->authcid), buf,
		    n)) {
			r = sasl_bad(s, "invalid user name");
			break;
		}
		s->step = STEP_LOGIN_PASS;
		*challenge_r = LOGIN_ASK_PASS;
		r = AUTH_SASL_CONTINUE;
		break;
	case STEP_LOGIN_PASS:
		if (!sasl_field(s->passwd, sizeof(s->passwd), buf, n)) {
			r = sasl_bad(s, "invalid password data");
			break;
		}
		s->step = STEP_OVER;
		r = AUTH_SASL_DONE;
		break;
	default:
		r = sasl_bad(s, "authentication exchange is over");
		break;
	}
	mem_wipe(buf, sizeof(buf));
	return r;
}

enum auth_sasl_result
auth_sasl_begin(struct auth_sasl *s, enum auth_sasl_mech mech,
    const char *initial, const char **challenge_r)
{
	memset(s, 0, sizeof(*s));
	s->mech = mech;
	*challenge_r = "";
	switch (mech) {
	case AUTH_SASL_PLAIN:
		s->step = STEP_PLAIN_WAIT;
		break;
	case AUTH_SASL_LOGIN:
		s->step = STEP_LOGIN_USER;
		s->owes_passwd = true;
		*challenge_r = LOGIN_ASK_USER;
		break;
	default:
		return sasl_bad(s, "unknown mechanism");
	}
	if (initial == NULL)
		return AUTH_SASL_CONTINUE;
	return sasl_response(s, initial, strlen(initial), challenge_r);
}

enum auth_sasl_result
auth_sasl_step(struct auth_sasl *s, const char *line, size_t len,
    const char **challenge_r)
{
	*challenge_r = "";
	return sasl_response(s, line, len, challenge_r);
}

void
auth_sasl_release(struct auth_sasl *s)
{
	mem_wipe(s, sizeof(*s));
	s->step = STEP_OVER;
}

void
auth_sasl_advance(const struct auth_sasl_ops *ops, void *sess,
    struct auth_sasl *sa, enum auth_sasl_result r, const char *chal)
{
	char	 line[AUTH_SASL_LINE_MAX + 16];

	switch (r) {
	case AUTH_SASL_CONTINUE:
		(void)str_printf(line, sizeof(line), "%s%s", ops->prompt,
		    chal != NULL ? chal : "");
		ops->reply(sess, line);
		ops->wait(sess, true);
		return;
	case AUTH_SASL_DONE:
		ops->wait(sess, false);
		ops->done(sess, sa);
		return;
	case AUTH_SASL_CANCELLED:
		ops->wait(sess, false);
		ops->cancelled(sess);
		return;
	case AUTH_SASL_BAD:
		break;
	}
	ops->wait(sess, false);
	ops->bad(sess, sa->error != NULL ? sa->error : "Invalid response.");
}
