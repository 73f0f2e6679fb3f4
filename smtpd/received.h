/*
 * received.h - the Received: trace field smtpd prepends (RFC 5321 4.4)
 *
 * In the layout Postfix uses, so tools that parse Postfix headers read ours:
 *
 *   Received: from HELO (RDNS [IP])
 *   	(using TLSv1.3 with cipher ... (256/256 bits))
 *   	(Authenticated sender: USER)
 *   	by HOSTNAME (buzon) with PROTOCOL id QUEUEID
 *   	for <RCPT>; DATE
 *
 * The TLS and authentication lines appear only when they apply, "for" only
 * with exactly one recipient (RFC 5321 7.2: do not disclose the others).
 * PROTOCOL follows RFC 3848 and RFC 6531: SMTP, ESMTP, ESMTPS, ESMTPA,
 * ESMTPSA, and UTF8SMTP... for SMTPUTF8 transactions.  Peer text (HELO
 * name, user) is sanitised.  Lines end in CRLF.
 */
#ifndef BUZON_SMTPD_RECEIVED_H
#define BUZON_SMTPD_RECEIVED_H

#include <stdbool.h>
#include <time.h>

#include "str.h"

struct received_info {
	const char	*helo;		/* as the client sent it; may be NULL */
	const char	*rdns;		/* verified reverse name, or NULL */
	const char	*ip;		/* "192.0.2.7" or "2001:db8::1" */
	const char	*tls;		/* tls_describe() text, or NULL */
	const char	*auth_user;	/* or NULL */
	const char	*hostname;	/* ours */
	bool		 esmtp;		/* EHLO rather than HELO */
	bool		 smtputf8;
	const char	*queue_id;
	const char	*rcpt;		/* the only recipient, or NULL */
	time_t		 when;
};

/* The protocol word for the "with" clause. */
const char *received_protocol(const struct received_info *);
/* Append the whole field to out.  0, or -1 if out's max would be passed. */
int	 received_format(const struct received_info *, struct str *out);

#endif
