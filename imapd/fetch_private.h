/*
 * fetch_private.h - what fetch.c and bodystruct.c share
 */
#ifndef BUZON_IMAPD_FETCH_PRIVATE_H
#define BUZON_IMAPD_FETCH_PRIVATE_H

#include <stdbool.h>

struct mime_msg;
struct mime_part;
struct str;

/* ENVELOPE of the message whose header is part p's (the root, or the
 * encapsulated message of a message/rfc822 part). */
int	 fetch_put_envelope(struct str *, const struct mime_msg *,
	    const struct mime_part *, bool utf8)
	    __attribute__((warn_unused_result));
/* BODY (ext false) or BODYSTRUCTURE (ext true) of part p. */
int	 fetch_put_body(struct str *, const struct mime_msg *,
	    const struct mime_part *, bool ext, bool utf8, unsigned int depth)
	    __attribute__((warn_unused_result));

#endif
