/* SPDX-License-Identifier: MIT */
/*
 * cmd_mail.c - MAIL FROM and RCPT TO
 *
 * Paths are parsed leniently (RFC5321_LENIENT): "MAIL FROM: <a@b>" with a
 * space after the colon, as Postfix takes by default and as course
 * material types it.  The ESMTP parameters go through params.c.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "mem.h"
#include "params.h"
#include "rfc5321.h"
#include "smtpd.h"
#include "spf.h"
#include "spf_client.h"
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

static void
mail_accept(struct session *s)
{
	s->tx.has_sender = true;
	smtp_set_state(s, SMTP_MAIL);
	smtp_reply(s, "250 2.1.0 Ok");
}

/*
 * SPF (RFC 7208) on the smtp listener only: submission clients are
 * authenticated, and relay networks and logged-in users are ours.  The
 * check runs in a helper process (spf_client.h); the session waits,
 * suspended, so pipelined commands keep their order.
 */
static bool
spf_wanted(const struct session *s)
{
	return s->srv->spf != NULL && s->listener == SMTP_LISTEN_SMTP &&
	    s->srv->conf.spf_policy != SPF_POLICY_NONE &&
	    !s->is_authenticated && !s->in_mynetworks;
}

static void
spf_done(const struct spf_answer *ans, void *arg)
{
	struct session		*s = arg;
	struct spf_decision	 d;
	char			 from[RFC5321_PATH_MAX * 4 + 1];

	s->spf_check = NULL;
	spf_policy_decide((enum spf_policy)s->srv->conf.spf_policy,
	    s->srv->conf.spf_reject_permerror, ans, &d);
	str_sanitize(from, sizeof(from), s->tx.sender, strlen(s->tx.sender));
	log_info(s->id, "spf result=%s from=<%s> action=%s",
	    spf_result_name(ans->result), from,
	    d.action == SPF_ACT_REJECT ? "reject" :
	    d.action == SPF_ACT_TEMPFAIL ? "tempfail" :
	    d.action == SPF_ACT_TAG ? "tag" : "accept");
	s->base.flush_now = true;
	switch (d.action) {
	case SPF_ACT_REJECT:
	case SPF_ACT_TEMPFAIL:
		s->tx.sender[0] = '\0';
		smtp_error(s, "%d %s %s", d.code, d.enhanced, d.text);
		break;
	case SPF_ACT_TAG:
		if (ans->header[0] != '\0') {
			free(s->tx.spf_header);
			s->tx.spf_header = xstrdup(ans->header);
		}
		mail_accept(s);
		break;
	case SPF_ACT_ACCEPT:
		mail_accept(s);
		break;
	}
	smtp_resume(s);
}

static void
spf_begin(struct session *s)
{
	struct spf_request	 req;

	memset(&req, 0, sizeof(req));
	(void)str_copy(req.ip, s->ip, sizeof(req.ip));
	(void)str_copy(req.helo, s->helo, sizeof(req.helo));
	(void)str_copy(req.from, s->tx.sender, sizeof(req.from));
	smtp_suspend(s);
	s->spf_check = spf_check_start(s->srv->spf, &req, spf_done, s);
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
		smtp_error(s, "%d %s %s", params_reply_code(&f), f.code,
		    f.text);
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
	if (spf_wanted(s)) {
		spf_begin(s);
		return;
	}
	mail_accept(s);
}

/* "<Postmaster>" with no domain: 0 with the address in path, or -1. */
static int
postmaster(struct session *s, const char *p, char *path, size_t size,
    const char **rest_r)
{
	while (*p == ' ')
		p++;
	if (strncasecmp(p, "<postmaster>", 12) != 0 ||
	    (p[12] != '\0' && p[12] != ' '))
		return -1;
	for (p += 12; *p == ' '; p++)
		continue;
	*rest_r = p;
	policy_postmaster(s, path, size);
	return 0;
}

/* Recipients a RCPT is compared with: the last ones kept, so that a
 * large smtpd_max_recipients costs no quadratic time; the queue drops
 * what is left. */
#define RCPT_DUP_SCAN	256

/* Is path, with these DSN parameters, a recipient the transaction has
 * already (among the last RCPT_DUP_SCAN)?  The domain is compared in any
 * case, the local part exactly (it may be case-sensitive); the queue
 * folds what is left (aliases, "+detail") into one copy per mailbox. */
static bool
rcpt_is_duplicate(const struct smtp_tx *tx, const char *path,
    const char *orcpt, unsigned int notify)
{
	const char	*at, *oat;
	size_t		 i;

	at = strrchr(path, '@');
	for (i = tx->nrcpts > RCPT_DUP_SCAN ? tx->nrcpts - RCPT_DUP_SCAN : 0;
	    i < tx->nrcpts; i++) {
		const struct smtp_rcpt *r = &tx->rcpts[i];

		if (r->notify != notify || strcmp(r->orcpt, orcpt) != 0)
			continue;
		if (at == NULL || (oat = strrchr(r->addr, '@')) == NULL) {
			if (strcmp(r->addr, path) == 0)
				return true;
			continue;
		}
		if (oat - r->addr == at - path &&
		    memcmp(r->addr, path, (size_t)(at - path)) == 0 &&
		    strcasecmp(oat, at) == 0)
			return true;
	}
	return false;
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
	    sizeof(path), &rest, &err) == -1 &&
	    postmaster(s, p, path, sizeof(path), &rest) == -1) {
		smtp_error(s, "501 5.1.3 Bad recipient address syntax");
		return;
	}
	/* Repeats count too, as in Postfix: the limit bounds the RCPTs a
	 * client may send, not only the recipients kept. */
	if (tx->rcpts_accepted >= s->srv->conf.max_recipients) {
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
		smtp_error(s, "%d %s %s", params_reply_code(&f), f.code,
		    f.text);
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
	/* A repeat is accepted and dropped, as Postfix's cleanup does: one
	 * transaction naming a mailbox 100 times stores one copy. */
	tx->rcpts_accepted++;
	if (rcpt_is_duplicate(tx, path, rp.orcpt, rp.notify)) {
		log_debug(s->id, "smtp duplicate recipient dropped");
		smtp_reply(s, "250 2.1.5 Ok");
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
	smtp_set_state(s, SMTP_RCPT);
	smtp_reply(s, "250 2.1.5 Ok");
}
