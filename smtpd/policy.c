/* SPDX-License-Identifier: MIT */
/*
 * policy.c - who may send what through this server
 *
 * The rules (DESIGN.md "No open relay"):
 *   - a recipient in a local domain must exist after aliases, else 550
 *     5.1.1 (Postfix's "User unknown in local recipient table");
 *   - any other recipient only for an authenticated session or a client in
 *     mynetworks, else 554 5.7.1 "Relay access denied";
 *   - on submission the sender must be the login's own address or an alias
 *     that resolves to it, else 553 5.7.1 "not owned by user".
 * A lookup that fails is a temporary failure (451 4.3.0), never "unknown".
 * This is the only file that asks the accounts module about recipients.
 */
#include <string.h>
#include <strings.h>

#include "accounts.h"
#include "log.h"
#include "mem.h"
#include "net.h"
#include "rfc5321.h"
#include "smtpd.h"
#include "str.h"

bool
policy_in_networks(const struct net_addr *a, char *const *nets, size_t n)
{
	return net_networks_match(a, nets, n);
}

/* The address as peers should see it in a reply: sanitised, bounded. */
static const char *
shown(const char *addr, char *buf, size_t size)
{
	return str_sanitize(buf, size, addr, strlen(addr));
}

int
policy_rcpt(struct session *s, const char *rcpt, char *reply, size_t size)
{
	struct accounts_targets	 t;
	struct fail		 f;
	char			 local[RFC5321_PATH_MAX + 1];
	char			 domain[RFC5321_PATH_MAX + 1];
	char			 show[300];
	int			 r;

	shown(rcpt, show, sizeof(show));
	if (rfc5321_split(rcpt, local, sizeof(local), domain,
	    sizeof(domain)) == -1) {
		(void)str_printf(reply, size, "501 5.1.3 Bad recipient address "
		    "syntax");
		return -1;
	}
	r = s->srv->accounts == NULL ? 0 :
	    accounts_is_local_domain(s->srv->accounts, domain);
	if (r == -1) {
		log_warn(s->id, "domain lookup failed domain=%s", show);
		(void)str_printf(reply, size, "451 4.3.0 <%s>: Temporary "
		    "lookup failure", show);
		return -1;
	}
	if (r == 0) {
		if (s->is_authenticated || s->in_mynetworks)
			return 0;
		(void)str_printf(reply, size, "554 5.7.1 <%s>: Relay access "
		    "denied", show);
		return -1;
	}

	memset(&t, 0, sizeof(t));
	r = accounts_resolve(s->srv->accounts, rcpt, &t, &f);
	accounts_targets_release(&t);
	if (r == 1)
		return 0;
	if (r == 0) {
		(void)str_printf(reply, size, "550 5.1.1 <%s>: Recipient "
		    "address rejected: User unknown in local recipient table",
		    show);
		return -1;
	}
	log_warn(s->id, "recipient lookup failed rcpt=%s reason=%s", show,
	    f.text);
	if (f.temp)
		(void)str_printf(reply, size, "451 4.3.0 <%s>: Temporary "
		    "lookup failure", show);
	else
		(void)str_printf(reply, size, "550 %s <%s>: Recipient address "
		    "rejected: %s", f.code, show, f.text);
	return -1;
}

void
policy_postmaster(struct session *s, char *out, size_t size)
{
	const char	*host = s->srv->conf.hostname, *cand[2];
	size_t		 i;

	/* RFC 5321 4.5.1: "<Postmaster>" without a domain must work.  Ours
	 * is the host name if that is a local domain, else its parent
	 * (mail.example.org -> example.org). */
	cand[0] = host;
	cand[1] = strchr(host, '.') != NULL ? strchr(host, '.') + 1 : host;
	for (i = 0; i < 2 && s->srv->accounts != NULL; i++)
		if (accounts_is_local_domain(s->srv->accounts, cand[i]) == 1) {
			(void)str_printf(out, size, "postmaster@%s", cand[i]);
			return;
		}
	(void)str_printf(out, size, "postmaster@%s", host);
}

/* Does addr (an address or alias) lead to the user user? */
static int
resolves_to(struct session *s, const char *addr, const char *user)
{
	struct accounts_targets	 t;
	struct fail		 f;
	size_t			 i;
	int			 r, found = 0;

	memset(&t, 0, sizeof(t));
	r = accounts_resolve(s->srv->accounts, addr, &t, &f);
	if (r == 1) {
		for (i = 0; i < t.count; i++)
			if (t.items[i].is_local &&
			    strcasecmp(t.items[i].address, user) == 0)
				found = 1;
	}
	accounts_targets_release(&t);
	return r == -1 ? -1 : found;
}

int
policy_sender(struct session *s, const char *sender, char *reply,
    size_t size)
{
	char	 norm[ACCOUNTS_ADDR_MAX];
	char	 show[300], user[300];
	int	 r;

	/* The null sender is for bounces; Postfix lets it through too. */
	if (sender[0] == '\0' || s->srv->accounts == NULL)
		return 0;
	if (accounts_normalize(accounts_conf(s->srv->accounts), sender, false,
	    norm, sizeof(norm)) == 0 && strcasecmp(norm, s->auth_user) == 0)
		return 0;
	r = resolves_to(s, sender, s->auth_user);
	if (r == 1)
		return 0;
	shown(sender, show, sizeof(show));
	if (r == -1) {
		(void)str_printf(reply, size, "451 4.3.0 <%s>: Temporary "
		    "lookup failure", show);
		return -1;
	}
	shown(s->auth_user, user, sizeof(user));
	(void)str_printf(reply, size, "553 5.7.1 <%s>: Sender address "
	    "rejected: not owned by user %s", show, user);
	return -1;
}

