/*
 * dsn.h - render a delivery status notification (RFC 3464)
 *
 * The result is one RFC 5322 message with CRLF line ends, ready to be
 * queued to the envelope sender with the null sender:
 *
 *	multipart/report; report-type=delivery-status
 *	  1. text/plain: what happened, for people
 *	  2. message/delivery-status: per-message fields, then one block per
 *	     recipient (RFC 3464 2.2 and 2.3)
 *	  3. text/rfc822-headers (RET=HDRS, the default) or message/rfc822
 *	     (RET=FULL, when the message is at most full_max bytes; else
 *	     the headers only)
 *
 * The Subject follows the worst action: "Undelivered Mail Returned to
 * Sender" when any recipient failed, else "Delayed Mail (still being
 * retried)", else "Successful Mail Delivery Report".  Boundary and
 * Message-ID are made from the queue id, the time and the host, so the
 * same input gives the same bytes (the golden tests rely on it); a
 * boundary that occurs in the returned content gets a counter appended.
 * Dates are in the local time zone (TZ).
 *
 * Text from peers (diagnostics, addresses) is cut to bounded lengths and
 * any control character becomes a space, so no field can break the
 * message structure.
 */
#ifndef BUZON_DSN_H
#define BUZON_DSN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "deliver.h"
#include "fail.h"
#include "str.h"

#define DSN_FIELD_MAX		900	/* longest field value we copy */
#define DSN_HEADERS_MAX		(256 * 1024)	/* returned header bytes */

enum dsn_action {			/* RFC 3464 2.3.3 */
	DSN_FAILED,
	DSN_DELAYED,
	DSN_DELIVERED,
	DSN_RELAYED,
	DSN_EXPANDED,
};

enum dsn_ret {				/* RFC 3461 4.3 */
	DSN_RET_HDRS,
	DSN_RET_FULL,
};

struct dsn_rcpt {
	const char	*orcpt;		/* ORCPT= as received ("rfc822;a+40b"),
					   xtext decoded here; NULL: none */
	const char	*final;		/* the address we tried */
	enum dsn_action	 action;
	const char	*status;	/* "5.1.1" */
	const char	*remote_mta;	/* host that answered; NULL: none */
	const char	*diag_type;	/* "smtp" (NULL) or e.g. "x-unix" */
	const char	*diag;		/* "550 5.1.1 no such user"; NULL */
	time_t		 last_attempt;	/* 0: no Last-Attempt-Date */
	time_t		 retry_until;	/* delayed only; 0: none */
};

struct dsn {
	const char		*hostname;	/* Reporting-MTA, From: */
	const char		*id;		/* queue id of the original */
	const char		*sender;	/* gets the report (To:) */
	const char		*envid;		/* ENVID= (xtext); NULL none */
	time_t			 arrival;
	time_t			 now;		/* Date:, Message-ID */
	enum dsn_ret		 ret;
	uint64_t		 full_max;	/* RET=FULL bigger: headers;
						   0: no limit */
	const struct dsn_rcpt	*rcpts;
	size_t			 nrcpts;	/* at least 1 */
	const struct deliver_msg *msg;		/* the original; NULL: no
						   third part */
};

/* Append the DSN to out.  0, or -1 with f set (4.3.0: the original could
 * not be read, or out's max was reached); out is then cut back. */
int	 dsn_render(const struct dsn *, struct str *out, struct fail *)
	    __attribute__((warn_unused_result));
/* RFC 3461 4 xtext: decode "+XX" hex escapes into out.  0, or -1 on a
 * bad escape or when it does not fit. */
int	 dsn_xtext_decode(const char *in, char *out, size_t outsize)
	    __attribute__((warn_unused_result));
/* The keyword of an action ("failed", ...). */
const char *dsn_action_name(enum dsn_action);

#endif
