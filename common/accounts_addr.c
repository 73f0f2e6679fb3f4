/* SPDX-License-Identifier: MIT */
/*
 * accounts_addr.c - RFC 5321 address syntax and normalisation
 */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include "accounts.h"
#include "str.h"

/* RFC 5322 atext, as RFC 5321 uses it in Atom. */
static bool
is_atext(unsigned char c)
{
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c)
	    != NULL);
}

/* Dot-string = Atom *("." Atom) */
static bool
dot_string_valid(const char *s, size_t len)
{
	size_t	 i;
	bool	 prev_dot = true;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (prev_dot)
				return false;
			prev_dot = true;
		} else if (is_atext((unsigned char)s[i]))
			prev_dot = false;
		else
			return false;
	}
	return !prev_dot;
}

/* Quoted-string = DQUOTE *QcontentSMTP DQUOTE */
static bool
quoted_string_valid(const char *s, size_t len)
{
	size_t	 i;

	if (len < 2 || s[0] != '"' || s[len - 1] != '"')
		return false;
	for (i = 1; i < len - 1; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\\') {
			if (++i >= len - 1 || s[i] < 32 || s[i] > 126)
				return false;
		} else if (c < 32 || c > 126 || c == '"')
			return false;
	}
	return true;
}

static bool
domain_valid(const char *d, size_t len)
{
	size_t	 i, label = 0;

	if (len == 0 || len > ACCOUNTS_DOMAIN_MAX)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)d[i];

		if (c == '.') {
			/* A label ends in a letter or digit. */
			if (label == 0 || d[i - 1] == '-')
				return false;
			label = 0;
		} else if (isalnum(c) || (c == '-' && label > 0)) {
			if (++label > 63)
				return false;
		} else
			return false;
	}
	return label > 0 && d[len - 1] != '-';
}

/* address-literal: "[" IPv4 / "IPv6:" ... "]", checked loosely. */
static bool
literal_valid(const char *d, size_t len)
{
	size_t	 i;

	if (len < 3 || d[0] != '[' || d[len - 1] != ']')
		return false;
	i = 1;
	if (len > 6 && strncasecmp(d + 1, "IPv6:", 5) == 0)
		i = 6;
	for (; i < len - 1; i++)
		if (!isxdigit((unsigned char)d[i]) && d[i] != '.' &&
		    d[i] != ':')
			return false;
	return true;
}

bool
accounts_domain_valid(const char *d)
{
	return domain_valid(d, strlen(d));
}

bool
accounts_address_valid(const char *a, bool allow_literal)
{
	const char	*at = strrchr(a, '@');
	size_t		 llen, dlen;

	if (at == NULL)
		return false;
	llen = (size_t)(at - a);
	dlen = strlen(at + 1);
	if (llen > ACCOUNTS_LOCAL_MAX)
		return false;
	if (!dot_string_valid(a, llen) && !quoted_string_valid(a, llen))
		return false;
	if (domain_valid(at + 1, dlen))
		return true;
	return allow_literal && literal_valid(at + 1, dlen);
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
