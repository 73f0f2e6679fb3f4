/*
 * params.h - ESMTP parameters of MAIL FROM and RCPT TO
 *
 * MAIL: SIZE (RFC 1870), BODY (RFC 6152), SMTPUTF8 (RFC 6531), RET and
 * ENVID (RFC 3461), AUTH (RFC 4954).  RCPT: NOTIFY and ORCPT (RFC 3461).
 * Parsing is in place over the parameter string; values that must live
 * on are copied into the structs (bounded).  Errors come back as a full
 * reply code + enhanced code + text in a struct fail (temp is never set):
 * 555 5.5.4 for an unknown or unsupported parameter, 501 5.5.4 for a bad
 * value or a repeated one, 552 5.3.4 for a declared SIZE over the limit.
 */
#ifndef BUZON_SMTPD_PARAMS_H
#define BUZON_SMTPD_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fail.h"

#define PARAMS_ENVID_MAX	100	/* RFC 3461 4.4 */
#define PARAMS_ORCPT_MAX	500	/* RFC 3461 4.2 */

enum mail_body {
	MAIL_BODY_NONE,		/* not given: 7BIT by default */
	MAIL_BODY_7BIT,
	MAIL_BODY_8BITMIME,
};

enum mail_ret {
	MAIL_RET_NONE,
	MAIL_RET_FULL,
	MAIL_RET_HDRS,
};

#define NOTIFY_NEVER	0x01
#define NOTIFY_SUCCESS	0x02
#define NOTIFY_FAILURE	0x04
#define NOTIFY_DELAY	0x08

struct mail_params {
	uint64_t	 size;		/* 0: not declared */
	enum mail_body	 body;
	bool		 smtputf8;
	enum mail_ret	 ret;
	char		 envid[PARAMS_ENVID_MAX + 1];	/* xtext, as sent */
	char		 auth[PARAMS_ORCPT_MAX + 1];	/* AUTH=, as sent */
};

struct rcpt_params {
	unsigned int	 notify;	/* 0: not given */
	char		 orcpt[PARAMS_ORCPT_MAX + 1];	/* "rfc822;x@y", as sent */
};

/* What the server offers: parameters of extensions it did not advertise
 * are unknown (555). */
struct params_offer {
	bool		 dsn;
	bool		 smtputf8;
	uint64_t	 max_size;	/* 0: SIZE without a limit */
};

/* s: the text after the path ("SIZE=10 BODY=8BITMIME"), modified in
 * place.  0, or -1 with f filled (enhanced code and text); the basic reply
 * code comes from params_reply_code(). */
int	 params_mail(char *s, const struct params_offer *, struct mail_params *,
	    struct fail *f);
int	 params_rcpt(char *s, const struct params_offer *, struct rcpt_params *,
	    struct fail *f);
/* The SMTP reply code that goes with a failure these functions filled:
 * 552 for 5.3.4, 555 for an unknown parameter, else 501. */
int	 params_reply_code(const struct fail *f);
/* xtext (RFC 3461 4): printable ASCII except '+' and '=', and "+HH". */
bool	 params_xtext_valid(const char *s);

#endif
