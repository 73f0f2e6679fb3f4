/* SPDX-License-Identifier: MIT */
/*
 * rfc5321.c - SMTP addresses (RFC 5321 4.1.2, 4.1.3; RFC 6531 3.3)
 *
 * The one address grammar: smtpd parses paths with it and the accounts
 * layer (users, aliases, `buzon user add`) validates with it, so what
 * RCPT accepts is what a user can be created as.  UTF-8 is taken only as
 * well-formed sequences (RFC 3629, RFC 6532 3.1 UTF8-non-ascii) and only
 * with RFC5321_UTF8.  U-labels are compared as given: no IDNA mapping
 * to A-labels (RFC 5890) is done, so none of its libraries is needed.
 */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "rfc5321.h"
#include "str.h"

static bool
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* atext of RFC 5322 3.2.3 (what a Dot-string atom may hold), ASCII only. */
static bool
is_atext(unsigned char c)
{
	return is_alpha(c) || is_digit(c) || (c != '\0' &&
	    strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* qtextSMTP (%d32-33 / %d35-91 / %d93-126) */
static bool
is_qtext(unsigned char c)
{
	return c >= 32 && c <= 126 && c != '"' && c != '\\';
}

size_t
rfc5321_utf8_len(const char *s)
{
	const unsigned char	*u = (const unsigned char *)s;
	unsigned int		 cp, min;
	size_t			 n, i;

	if (u[0] < 0xc2)		/* ASCII, continuation, overlong C0/C1 */
		return 0;
	if (u[0] < 0xe0) {
		n = 2, cp = u[0] & 0x1fu, min = 0x80;
	} else if (u[0] < 0xf0) {
		n = 3, cp = u[0] & 0x0fu, min = 0x800;
	} else if (u[0] < 0xf5) {
		n = 4, cp = u[0] & 0x07u, min = 0x10000;
	} else
		return 0;
	for (i = 1; i < n; i++) {
		if ((u[i] & 0xc0) != 0x80)	/* also stops at the NUL */
			return 0;
		cp = cp << 6 | (u[i] & 0x3fu);
	}
	/* RFC 3629 section 3: no overlong forms, no surrogates, nothing past
	 * U+10FFFF; and no C1 controls (RFC 6532 3.1 wants no controls). */
	if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff ||
	    cp <= 0x9f)
		return 0;
	return n;
}

/* Octets of the UTF-8 character at s when flags allow UTF-8 and it is
 * well formed, else 0. */
static size_t
utf8_char(const char *s, unsigned int flags)
{
	return (flags & RFC5321_UTF8) ? rfc5321_utf8_len(s) : 0;
}

static bool
address_literal_valid(const char *s, size_t len)
{
	char		 buf[64];
	unsigned char	 bin[16];

	if (len < 3 || s[0] != '[' || s[len - 1] != ']' || len - 2 >= sizeof(buf))
		return false;
	memcpy(buf, s + 1, len - 2);
	buf[len - 2] = '\0';
	if (strncasecmp(buf, "IPv6:", 5) == 0)
		return inet_pton(AF_INET6, buf + 5, bin) == 1;
	/* RFC 5321 IPv4-address-literal: Snum 3("." Snum), no leading
	 * zeros trouble: inet_pton takes exactly dotted-quad. */
	return inet_pton(AF_INET, buf, bin) == 1;
}

static bool
domain_valid_n(const char *s, size_t len, unsigned int flags)
{
	size_t	 i, n, label = 0;
	bool	 prev_hyphen = false;

	if (len == 0 || len > RFC5321_DOMAIN_MAX)
		return false;
	if (s[0] == '[')
		return address_literal_valid(s, len);
	for (i = 0; i < len; i += n) {
		unsigned char c = (unsigned char)s[i];

		n = 1;
		if (c == '.') {
			if (label == 0 || prev_hyphen)
				return false;
			label = 0;
			continue;
		}
		if (c == '-') {
			if (label == 0)
				return false;
			prev_hyphen = true;
		} else if (is_alpha(c) || is_digit(c))
			prev_hyphen = false;
		else if (c >= 0x80 && (n = utf8_char(s + i, flags)) != 0 &&
		    i + n <= len)
			prev_hyphen = false;	/* U-label, taken as given */
		else
			return false;
		if ((label += n) > 63)
			return false;
	}
	return label > 0 && !prev_hyphen;
}

bool
rfc5321_domain_valid(const char *s, unsigned int flags)
{
	return domain_valid_n(s, strlen(s), flags);
}

/* Length of a valid local part at the start of s, ending at '@'; 0 if it
 * is not valid. */
static size_t
local_part_len(const char *s, unsigned int flags)
{
	size_t	 i = 0, n;

	if (s[0] == '"') {
		for (i = 1; s[i] != '"'; i += n) {
			n = 1;
			if (s[i] == '\\') {
				/* quoted-pairSMTP: %d92 %d32-126 */
				if ((unsigned char)s[i + 1] < 32 ||
				    (unsigned char)s[i + 1] > 126)
					return 0;
				n = 2;
			} else if (!is_qtext((unsigned char)s[i]) &&
			    (n = utf8_char(s + i, flags)) == 0)
				return 0;
		}
		i++;
	} else {
		bool	 atom = false;

		for (; s[i] != '@' && s[i] != '\0'; i += n) {
			n = 1;
			if (s[i] == '.') {
				if (!atom)
					return 0;
				atom = false;
			} else if (is_atext((unsigned char)s[i]) ||
			    (n = utf8_char(s + i, flags)) != 0)
				atom = true;
			else
				return 0;
		}
		if (!atom)
			return 0;
	}
	/* RFC 5321 4.5.3.1.1 says 64 octets, but 4.5.3.1 asks receivers to
	 * take longer: VERP and SRS senders exceed it, and Postfix takes
	 * them.  The path limit (256) bounds it. */
	if (s[i] != '@')
		return 0;
	return i;
}

bool
rfc5321_mailbox_valid(const char *s, unsigned int flags)
{
	size_t	 n = local_part_len(s, flags);

	if (n == 0 || strlen(s) > RFC5321_PATH_MAX - 2)
		return false;
	return rfc5321_domain_valid(s + n + 1, flags);
}

int
rfc5321_parse_path(const char *in, unsigned int flags, char *out,
    size_t outsize, const char **rest_r, const char **err_r)
{
	const char	*p = in, *start, *end;
	bool		 bracket;
	size_t		 n;

	if (flags & RFC5321_LENIENT)
		while (*p == ' ')
			p++;
	bracket = *p == '<';
	if (!bracket && !(flags & RFC5321_LENIENT)) {
		*err_r = "Syntax error in address: missing '<'";
		return -1;
	}
	if (bracket)
		p++;
	/* Source route: "@a,@b:" (RFC 5321 4.1.2 A-d-l), accepted, dropped. */
	if (*p == '@') {
		const char *colon = strchr(p, ':');
		const char *close = strchr(p, '>');

		if (colon == NULL || (close != NULL && colon > close)) {
			*err_r = "Syntax error in source route";
			return -1;
		}
		p = colon + 1;
	}
	start = p;
	if (*p == '"') {
		/* Skip the quoted local part so a quoted '>' or ' ' is data. */
		for (p++; *p != '"' && *p != '\0'; p++)
			if (*p == '\\' && p[1] != '\0')
				p++;
		if (*p == '"')
			p++;
	}
	while (*p != '\0' && *p != '>' && *p != ' ')
		p++;
	end = p;
	if (bracket) {
		if (*p != '>') {
			*err_r = "Syntax error in address: missing '>'";
			return -1;
		}
		p++;
	}
	if ((flags & RFC5321_LENIENT) == 0 && *p != '\0' && *p != ' ') {
		*err_r = "Syntax error: garbage after address";
		return -1;
	}
	n = (size_t)(end - start);
	if (n == 0) {
		if (!bracket || !(flags & RFC5321_NULL_OK)) {
			*err_r = "Syntax error: empty address not allowed here";
			return -1;
		}
	} else {
		char	 tmp[RFC5321_PATH_MAX + 1];

		if (n > RFC5321_PATH_MAX - 2) {
			*err_r = "Address too long";
			return -1;
		}
		memcpy(tmp, start, n);
		tmp[n] = '\0';
		if (!rfc5321_mailbox_valid(tmp, flags)) {
			*err_r = rfc5321_is_8bit(tmp) && !(flags & RFC5321_UTF8) ?
			    "Address contains 8-bit characters; use SMTPUTF8" :
			    "Syntax error in mailbox address";
			return -1;
		}
	}
	if (n + 1 > outsize) {
		*err_r = "Address too long";
		return -1;
	}
	memcpy(out, start, n);
	out[n] = '\0';
	while (*p == ' ')
		p++;
	*rest_r = p;
	return 0;
}

int
rfc5321_split(const char *mailbox, char *local, size_t localsize,
    char *domain, size_t domainsize)
{
	const char	*at = NULL, *p;
	bool		 quoted = false;
	size_t		 n;

	for (p = mailbox; *p != '\0'; p++) {
		if (*p == '\\' && quoted && p[1] != '\0')
			p++;
		else if (*p == '"')
			quoted = !quoted;
		else if (*p == '@' && !quoted)
			at = p;
	}
	if (at == NULL)
		return -1;
	n = (size_t)(at - mailbox);
	if (n + 1 > localsize)
		return -1;
	memcpy(local, mailbox, n);
	local[n] = '\0';
	return str_copy(domain, at + 1, domainsize) ? 0 : -1;
}

int
rfc5321_unquote_local(const char *local, char *out, size_t outsize)
{
	size_t	 i, o = 0;

	if (local[0] != '"')
		return str_copy(out, local, outsize) ? 0 : -1;
	for (i = 1; local[i] != '\0' && local[i] != '"'; i++) {
		if (local[i] == '\\' && local[i + 1] != '\0')
			i++;
		if (o + 1 >= outsize)
			return -1;
		out[o++] = local[i];
	}
	if (outsize == 0)
		return -1;
	out[o] = '\0';
	return 0;
}

bool
rfc5321_is_8bit(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}
