/*
 * rfc5321.h - SMTP addresses: paths, mailboxes, domains (RFC 5321 4.1.2,
 * RFC 6531 for SMTPUTF8)
 *
 * Pure functions over NUL-terminated strings; nothing is allocated.
 * Limits (RFC 5321 4.5.3.1): domain 255 octets, path 256.  The 64 of a
 * local part is not enforced here (real senders exceed it, Postfix takes
 * them; 4.5.3.1 asks for tolerance): the path limit bounds it, and the
 * accounts layer keeps 64 for the users and aliases it creates.
 *
 * This is the one address grammar: smtpd's MAIL and RCPT and the accounts
 * layer (users, aliases, `buzon user add`) all validate with
 * rfc5321_mailbox_valid().  With RFC5321_UTF8, octets >= 0x80 are taken
 * only as well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates,
 * nothing past U+10FFFF) and never as C1 controls (U+0080-U+009F), in
 * Dot-string atoms, Quoted-strings and domain labels alike (RFC 6531 3.3).
 * U-labels are taken as given: no IDNA conversion to A-labels is done.
 */
#ifndef BUZON_RFC5321_H
#define BUZON_RFC5321_H

#include <stdbool.h>
#include <stddef.h>

#define RFC5321_LOCAL_MAX	64
#define RFC5321_DOMAIN_MAX	255
#define RFC5321_PATH_MAX	256

#define RFC5321_UTF8		0x01	/* accept UTF-8 (SMTPUTF8, RFC 6531) */
#define RFC5321_NULL_OK		0x02	/* "<>" is a valid path (MAIL FROM) */
#define RFC5321_LENIENT		0x04	/* allow spaces after the colon and
					 * around the path, and a path without
					 * angle brackets (Postfix-like, port 25) */

/* Is s a domain: sub-domains of letters, digits and inner hyphens joined by
 * dots (with UTF8, UTF-8 characters are allowed in labels; a label is at
 * most 63 octets however it is spelt), or an address literal [192.0.2.1] /
 * [IPv6:2001:db8::1]? */
bool	 rfc5321_domain_valid(const char *s, unsigned int flags);
/* Is s a Mailbox: Local-part "@" Domain, the local part a Dot-string or a
 * Quoted-string? */
bool	 rfc5321_mailbox_valid(const char *s, unsigned int flags);

/*
 * Parse the path at the start of in ("<a@b.c> SIZE=10", also after
 * "FROM:"/"TO:" has been removed by the caller).  A source route
 * (<@x,@y:a@b.c>) is accepted and dropped.  On success returns 0, the
 * mailbox (quotes kept as sent) is copied to out (size outsize; "" for the
 * null path), and *rest_r points at the parameters after the path with
 * leading spaces skipped.  On error returns -1 and *err_r says why, in
 * words fit for a 501 reply.
 */
int	 rfc5321_parse_path(const char *in, unsigned int flags, char *out,
	    size_t outsize, const char **rest_r, const char **err_r);

/* Split mailbox at its last '@' outside quotes into local part and domain
 * (each copied; sizes include the NUL).  0 or -1. */
int	 rfc5321_split(const char *mailbox, char *local, size_t localsize,
	    char *domain, size_t domainsize);
/* Remove the quoting of a Quoted-string local part ("a b"@x -> a b); a
 * Dot-string is copied as is.  0 or -1 (does not fit). */
int	 rfc5321_unquote_local(const char *local, char *out, size_t outsize);
/* Octets of the well-formed non-ASCII UTF-8 character at the start of s
 * (2 to 4), or 0 when s does not start with one (ASCII, a stray
 * continuation byte, an overlong form, a surrogate, past U+10FFFF, a C1
 * control, or a sequence cut short by the NUL). */
size_t	 rfc5321_utf8_len(const char *s);
/* Does s contain octets >= 0x80? */
bool	 rfc5321_is_8bit(const char *s);

#endif
