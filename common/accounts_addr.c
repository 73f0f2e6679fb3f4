/* SPDX-License-Identifier: MIT */
/*
 * accounts_addr.c - address syntax (rfc5321.h) and normalisation
 */
#include <string.h>

#include "accounts.h"
#include "rfc5321.h"
#include "str.h"

/*
 * The grammar is rfc5321.c's, with UTF-8 always allowed: users and aliases
 * may be created with UTF-8 addresses, and smtpd only lets one through
 * after SMTPUTF8 (RFC 6531 3.5).  What is added here is only the policy
 * of which domains a user may live at: no address literal.
 */
bool
accounts_domain_valid(const char *d)
{
	return d[0] != '[' && rfc5321_domain_valid(d, RFC5321_UTF8);
}

bool
accounts_address_valid(const char *a, bool allow_literal)
{
	const char	*at = strrchr(a, '@');

	if (at == NULL || !rfc5321_mailbox_valid(a, RFC5321_UTF8))
		return false;
	return allow_literal || at[1] != '[';
}

bool
accounts_local_fits(const char *address)
{
	const char	*at = strrchr(address, '@');

	return at != NULL && (size_t)(at - address) <= ACCOUNTS_LOCAL_MAX;
}

int
accounts_normalize(const struct accounts_conf *c, const char *address,
    bool keep_detail, char *out, size_t outsize)
{
	const char	*delim = c->recipient_delimiter;
	char		 buf[ACCOUNTS_ADDR_MAX];
	char		*at;
	size_t		 cut;

	if (!accounts_address_valid(address, true) ||
	    !str_copy(buf, address, sizeof(buf)))
		return -1;
	at = strrchr(buf, '@');
	str_lower(at + 1);
	*at = '\0';
	if (!c->local_part_case_sensitive)
		str_lower(buf);
	/* "+detail": cut at the first delimiter, but never to nothing, and
	 * never inside a quoted local part. */
	if (!keep_detail && delim != NULL && *delim != '\0' && buf[0] != '"') {
		cut = strcspn(buf, delim);
		if (cut > 0 && buf[cut] != '\0')
			buf[cut] = '\0';
	}
	if (!str_printf(out, outsize, "%s@%s", buf, at + 1))
		return -1;
	return 0;
}

int
accounts_login_name(const struct accounts_conf *c, const char *name,
    char *out, size_t outsize)
{
	char	 buf[ACCOUNTS_ADDR_MAX];

	if (strchr(name, '@') == NULL && c->default_realm != NULL &&
	    c->default_realm[0] != '\0') {
		if (!str_printf(buf, sizeof(buf), "%s@%s", name,
		    c->default_realm))
			return -1;
		name = buf;
	}
	return accounts_normalize(c, name, false, out, outsize);
}
