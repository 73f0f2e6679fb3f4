/* SPDX-License-Identifier: MIT */
/*
 * cmd_mail.c - MAIL FROM and RCPT TO
 *
 * Paths are parsed leniently (RFC5321_LENIENT): "MAIL FROM: <a@b>" with a
 * space after the colon, as Postfix takes by default and as course
 * material types it.  The ESMTP parameters go through params.c.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "mem.h"
#include "params.h"
#include "rfc5321.h"
#include "smtpd.h"
#include "str.h"

static void
offer(const struct session *s, struct params_offer *o)
{
	o->dsn = true;
	o->smtputf8 = true;
	o->max_size = s->srv->conf.max_message;
}

/* Take "FROM:" / "TO:" off arg; NULL when it is not there. */
static char *
after_keyword(char *arg, const char *kw)
{
	size_t	 n = strlen(kw);

	if (strncasecmp(arg, kw, n) != 0)
		return NULL;
	return arg + n;
}

void
cmd_mail(struct session *s, char *arg)
{
	struct smtp_tx		*tx = &s->tx;
	struct params_offer	 o;
	struct fail		 f;
	const char		*rest, *err;
	char			 path[RFC5321_PATH_MAX + 1];
	char			 reply[600];
	char			*p;

	if (s->listener != SMTP_LISTEN_SMTP && !s->is_authenticated) {
		smtp_error(s, "530 5.7.0 Authentication required");
		return;
	}
	if ((p = after_keyword(arg, "FROM:")) == NULL) {
		smtp_error(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	if (rfc5321_parse_path(p, RFC5321_LENIENT | RFC5321_NULL_OK |
	    RFC5321_UTF8, path, sizeof(path), &rest, &err) == -1) {
		smtp_error(s, "501 5.1.7 Bad sender address syntax");
		return;
	}
	offer(s, &o);
	memset(&tx->mp, 0, sizeof(tx->mp));
	/* params_mail() works in place on its own copy of the rest */
	if (str_copy(reply, rest, sizeof(reply)) == false) {
		smtp_error(s, "501 5.5.4 Error: too many parameters");
		return;
	}
	if (params_mail(reply, &o, &tx->mp, &f) == -1) {
		smtp_error(s, "%d %s %s", params_reply_code(&f), f.code, f.text);
		return;
	}
	if (rfc5321_is_8bit(path) && !tx->mp.smtputf8) {
		smtp_error(s, "553 5.6.7 Must declare SMTPUTF8 to send unicode "
		    "address");
		return;
	}
	if (s->listener != SMTP_LISTEN_SMTP &&
	    policy_sender(s, path, reply, sizeof(reply)) == -1) {
		smtp_error(s, "%s", reply);
		return;
	}
	(void)str_copy(tx->sender, path, sizeof(tx->sender));
	tx->has_sender = true;
	session_set_state(s, SMTP_MAIL);
	smtp_reply(s, "250 2.1.0 Ok");
}

void
cmd_rcpt(struct session *s, char *arg)
{
	struct smtp_tx		*tx = &s->tx;
	struct params_offer	 o;
	struct rcpt_params	 rp;
	struct smtp_rcpt	*r;
	struct fail		 f;
	const char		*rest, *err;
	char			 path[RFC5321_PATH_MAX + 1];
	char			 buf[600];
	char			*p;

	if ((p = after_keyword(arg, "TO:")) == NULL) {
		smtp_error(s, "501 5.5.4 Syntax: RCPT TO:<address>");
		return;
	}
	if (rfc5321_parse_path(p, RFC5321_LENIENT | RFC5321_UTF8, path,
	    sizeof(path), &rest, &err) == -1) {
		smtp_error(s, "501 5.1.3 Bad recipient address syntax");
		return;
	}
	if (tx->nrcpts >= s->srv->conf.max_recipients) {
		smtp_error(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	offer(s, &o);
	memset(&rp, 0, sizeof(rp));
	if (!str_copy(buf, rest, sizeof(buf))) {
		smtp_error(s, "501 5.5.4 Error: too many parameters");
		return;
	}
	if (params_rcpt(buf, &o, &rp, &f) == -1) {
		smtp_error(s, "%d %s %s", params_reply_code(&f), f.code, f.text);
		return;
	}
	if (rfc5321_is_8bit(path) && !tx->mp.smtputf8) {
		smtp_error(s, "553 5.6.7 Must declare SMTPUTF8 to send unicode "
		    "address");
		return;
	}
	if (policy_rcpt(s, path, buf, sizeof(buf)) == -1) {
		smtp_error(s, "%s", buf);
		return;
	}
	if (tx->nrcpts == tx->rcpts_cap) {
		tx->rcpts_cap = tx->rcpts_cap == 0 ? 4 : tx->rcpts_cap * 2;
		tx->rcpts = xreallocarray(tx->rcpts, tx->rcpts_cap,
		    sizeof(*tx->rcpts));
	}
	r = &tx->rcpts[tx->nrcpts++];
	r->addr = xstrdup(path);
	r->orcpt = xstrdup(rp.orcpt);
	r->notify = rp.notify;
	session_set_state(s, SMTP_RCPT);
	smtp_reply(s, "250 2.1.5 Ok");
}
