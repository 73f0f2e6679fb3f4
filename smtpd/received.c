/* SPDX-License-Identifier: MIT */
/*
 * received.c - the Received: trace field smtpd prepends
 */
#include <string.h>

#include "received.h"
#include "rfc5322.h"

const char *
received_protocol(const struct received_info *r)
{
	static const char *const names[2][2][2] = {
		/* [utf8][tls][auth] */
		{ { "ESMTP", "ESMTPA" }, { "ESMTPS", "ESMTPSA" } },
		{ { "UTF8SMTP", "UTF8SMTPA" }, { "UTF8SMTPS", "UTF8SMTPSA" } },
	};

	if (!r->esmtp)
		return "SMTP";
	return names[r->smtputf8][r->tls != NULL][r->auth_user != NULL];
}

/* Peer text in a comment or a domain slot: printable ASCII only, and no
 * characters that would end a comment or a header early. */
static int
append_clean(struct str *out, const char *s, size_t max)
{
	size_t	 i;

	for (i = 0; s[i] != '\0' && i < max; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x21 || c > 0x7e || c == '(' || c == ')' || c == '\\')
			c = '?';
		if (str_append_c(out, (char)c) == -1)
			return -1;
	}
	return 0;
}

int
received_format(const struct received_info *r, struct str *out)
{
	char	 date[RFC5322_DATE_MAX];
	int	 rc = 0;

	rc |= str_append_str(out, "Received: from ");
	rc |= append_clean(out, r->helo != NULL && *r->helo != '\0' ?
	    r->helo : "unknown", 255);
	rc |= str_append_str(out, " (");
	rc |= append_clean(out, r->rdns != NULL ? r->rdns : "unknown", 255);
	rc |= str_appendf(out, " [%s])\r\n", r->ip);
	if (r->tls != NULL)
		rc |= str_appendf(out, "\t(using %s)\r\n", r->tls);
	if (r->auth_user != NULL) {
		rc |= str_append_str(out, "\t(Authenticated sender: ");
		rc |= append_clean(out, r->auth_user, 255);
		rc |= str_append_str(out, ")\r\n");
	}
	rc |= str_appendf(out, "\tby %s (buzon) with %s id %s", r->hostname,
	    received_protocol(r), r->queue_id);
	if (r->rcpt != NULL) {
		rc |= str_append_str(out, "\r\n\tfor <");
		rc |= append_clean(out, r->rcpt, 256);
		rc |= str_append_str(out, ">");
	}
	rc |= str_appendf(out, "; %s\r\n",
	    rfc5322_date(r->when, 0, date, sizeof(date)));
	return rc == 0 ? 0 : -1;
}
