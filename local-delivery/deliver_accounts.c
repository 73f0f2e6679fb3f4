/* SPDX-License-Identifier: MIT */
/*
 * deliver_accounts.c - user records to delivery targets
 */
#include <string.h>

#include "accounts.h"
#include "deliver.h"
#include "deliver_accounts.h"
#include "settings.h"
#include "str.h"

int
deliver_user_rcpt(const struct accounts_conf *ac,
    const struct accounts_user *u, const char *sender, char *path,
    size_t pathsize, struct deliver_rcpt *r)
{
	size_t	 len;

	if (accounts_mail_path(ac, u, path, pathsize) == -1)
		return -1;
	if (u->format == ACCOUNTS_MBOX) {
		len = strlen(path);
		if (!str_copy(path + len, "/INBOX", pathsize - len))
			return -1;
	}
	memset(r, 0, sizeof(*r));
	r->sender = sender;
	r->address = u->address;
	r->path = path;
	r->format = u->format == ACCOUNTS_MBOX ? DELIVER_MBOX :
	    DELIVER_MAILDIR;
	r->quota = u->quota;
	return 0;
}

void
deliver_conf_from_config(const struct config *cfg, struct deliver_conf *dc)
{
	deliver_conf_init(dc);
	dc->hostname = cfg->hostname;
	dc->quota_bounce = cfg->quota_exceeded_bounce;
	dc->lock_timeout = (unsigned int)(cfg->mailbox_lock_timeout / 1000);
	dc->stale_lock_time = (unsigned int)(cfg->stale_lock_time / 1000);
}
