/* SPDX-License-Identifier: MIT */
/*
 * folder_name.c - IMAP mailbox names to the store's names and back
 * (folders.h)
 *
 * IMAP "a/b" (delimiter '/') is the store's "a.b"; a '.' inside a
 * component cannot be stored, so it is refused, as Dovecot does on
 * Maildir++.  Names come in modified UTF-7, or in UTF-8 once UTF8=ACCEPT
 * is enabled (then stored as modified UTF-7, so both kinds of client see
 * one folder).  Whatever passes is also checked by mailbox_name_valid(),
 * the store's own gate, before it can become a path.
 */
#include <string.h>
#include <strings.h>

#include "folders.h"
#include "imapd.h"
#include "mailbox.h"
#include "str.h"

/* Valid UTF-8 without controls? (imap_utf8_to_mutf7 checks the rest.) */
static bool
has_ctl(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return true;
	return false;
}

int
imap_folder_name(const struct imap_session *s, const struct imap_str *in,
    char *out, size_t size, const char **err)
{
	struct str	 m7, u8;
	const char	*p;
	size_t		 len = in->len, i, ncomp = 1, comp = 0;
	int		 rc = -1;

	*err = "Invalid mailbox name";
	if (len > 0 && in->s[len - 1] == '/')
		len--;		/* CREATE "a/": the trailing delimiter */
	if (len == 0 || memchr(in->s, '\0', len) != NULL ||
	    has_ctl(in->s, len))
		return -1;
	if (len == 5 && strncasecmp(in->s, "INBOX", 5) == 0)
		return str_copy(out, "INBOX", size) ? 0 : -1;
	str_init(&m7, 0);
	str_init(&u8, 0);
	if (s != NULL && (s->enabled & IMAP_EN_UTF8)) {
		if (imap_utf8_to_mutf7(in->s, len, &m7) == -1) {
			*err = "Mailbox name is not valid UTF-8";
			goto out;
		}
	} else {
		if (imap_mutf7_to_utf8(in->s, len, &u8) == -1) {
			*err = "Mailbox name is not valid mUTF-7";
			goto out;
		}
		if (str_append(&m7, in->s, len) == -1)
			goto out;
	}
	p = str_c(&m7);
	if (m7.len >= 6 && strncasecmp(p, "INBOX/", 6) == 0) {
		*err = "INBOX cannot have child folders";
		goto out;
	}
	for (i = 0; i < m7.len; i++) {
		if (p[i] == '.') {
			*err = "Character not allowed in mailbox name: '.'";
			goto out;
		}
		if (p[i] == '\\' || p[i] == '*' || p[i] == '%') {
			*err = "Character not allowed in mailbox name";
			goto out;
		}
		if (p[i] == '/') {
			if (comp == 0)
				goto out;	/* empty component */
			if (++ncomp > IMAP_FOLDER_DEPTH_MAX) {
				*err = "Mailbox name has too many levels";
				goto out;
			}
			comp = 0;
			m7.data[i] = '.';
		} else
			comp++;
	}
	if (comp == 0)
		goto out;
	if (m7.len >= size || m7.len > MAILBOX_NAME_MAX) {
		*err = "Mailbox name too long";
		goto out;
	}
	memcpy(out, m7.data, m7.len);
	out[m7.len] = '\0';
	if (!mailbox_name_valid(out))
		goto out;
	rc = 0;
out:
	str_release(&m7);
	str_release(&u8);
	return rc;
}

int
imap_put_folder(struct str *out, const struct imap_session *s,
    const char *name)
{
	struct str	 client, u8;
	size_t		 i;
	int		 rc;

	str_init(&client, 0);
	str_init(&u8, 0);
	if (str_append_str(&client, name) == -1) {
		str_release(&client);
		return -1;
	}
	if (strcasecmp(name, "INBOX") != 0)
		for (i = 0; i < client.len; i++)
			if (client.data[i] == '.')
				client.data[i] = '/';
	if (s != NULL && (s->enabled & IMAP_EN_UTF8) &&
	    imap_mutf7_to_utf8(client.data, client.len, &u8) == 0)
		rc = imap_put_astring(out, u8.data, u8.len, true);
	else
		rc = imap_put_astring(out, client.data, client.len, false);
	str_release(&client);
	str_release(&u8);
	return rc;
}
