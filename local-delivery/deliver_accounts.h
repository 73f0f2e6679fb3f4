/*
 * deliver_accounts.h - where a user's mail goes, in deliver.h's terms
 *
 * The glue between accounts.h (users and their mailboxes) and deliver.h,
 * so buzon-deliver and the queue runner agree on every path: a Maildir
 * user's mail goes to STATE/mail/MAILBOX, an mbox user's to the file
 * STATE/mail/MAILBOX/INBOX (the other files there are folders).
 */
#ifndef BUZON_DELIVER_ACCOUNTS_H
#define BUZON_DELIVER_ACCOUNTS_H

#include <stddef.h>

#include "accounts.h"
#include "deliver.h"
#include "settings.h"

/* Fill r for user u with the envelope sender (borrowed, as is u, whose
 * address becomes Delivered-To); the mailbox path is written to path.
 * 0, or -1 when the path is bad or does not fit. */
int	 deliver_user_rcpt(const struct accounts_conf *,
	    const struct accounts_user *u, const char *sender, char *path,
	    size_t pathsize, struct deliver_rcpt *r)
	    __attribute__((warn_unused_result));
/* The delivery settings of buzon.conf (hostname, quota_exceeded_bounce,
 * mailbox_lock_timeout, stale_lock_time); strings borrowed from cfg. */
void	 deliver_conf_from_config(const struct config *,
	    struct deliver_conf *);

#endif
