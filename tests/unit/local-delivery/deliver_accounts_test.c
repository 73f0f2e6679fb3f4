/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <string.h>

#include "accounts.h"
#include "deliver.h"
#include "deliver_accounts.h"
#include "settings.h"
#include "str.h"

static struct accounts_conf	 ac = { "/var/lib/buzon", "hash", "+", false,
    NULL, NULL, false };

Test(deliver_accounts, maildir_user)
{
	struct accounts_user	 u;
	struct deliver_rcpt	 r;
	char			 path[256];

	accounts_user_init(&u, "alice@example.org");
	u.quota = 1000;
	cr_assert_eq(deliver_user_rcpt(&ac, &u, "bob@example.com", path,
	    sizeof(path), &r), 0);
	cr_assert_str_eq(path, "/var/lib/buzon/mail/example.org/alice");
	cr_assert_eq(r.path, path);
	cr_assert_eq(r.format, DELIVER_MAILDIR);
	cr_assert_eq(r.quota, 1000);
	cr_assert_str_eq(r.address, "alice@example.org");
	cr_assert_str_eq(r.sender, "bob@example.com");
}

Test(deliver_accounts, mbox_user_gets_inbox)
{
	struct accounts_user	 u;
	struct deliver_rcpt	 r;
	char			 path[256];

	accounts_user_init(&u, "bob@example.org");
	u.format = ACCOUNTS_MBOX;
	cr_assert_eq(deliver_user_rcpt(&ac, &u, "", path, sizeof(path), &r),
	    0);
	cr_assert_str_eq(path, "/var/lib/buzon/mail/example.org/bob/INBOX");
	cr_assert_eq(r.format, DELIVER_MBOX);
	cr_assert_eq(r.quota, 0);
}

Test(deliver_accounts, bad_or_long_path)
{
	struct accounts_user	 u;
	struct deliver_rcpt	 r;
	char			 path[256];

	/* The path comes from the address, whatever the record says. */
	accounts_user_init(&u, "bob@example.org");
	(void)str_copy(u.mailbox, "../../etc", sizeof(u.mailbox));
	cr_assert_eq(deliver_user_rcpt(&ac, &u, "", path, sizeof(path), &r),
	    0);
	cr_assert_str_eq(path, "/var/lib/buzon/mail/example.org/bob");
	accounts_user_init(&u, "../../etc@example.org");
	cr_assert_eq(deliver_user_rcpt(&ac, &u, "", path, sizeof(path), &r),
	    0);
	cr_assert_str_eq(path, "/var/lib/buzon/mail/example.org/%2E.%2F..%2Fetc");
	accounts_user_init(&u, "bob");
	cr_assert_eq(deliver_user_rcpt(&ac, &u, "", path, sizeof(path), &r),
	    -1);
	accounts_user_init(&u, "bob@example.org");
	u.format = ACCOUNTS_MBOX;
	/* Room for the directory but not for "/INBOX". */
	cr_assert_eq(deliver_user_rcpt(&ac, &u, "", path,
	    strlen("/var/lib/buzon/mail/example.org/bob") + 3, &r), -1);
	cr_assert_eq(deliver_user_rcpt(&ac, &u, "", path, 10, &r), -1);
}

Test(deliver_accounts, conf_from_config)
{
	struct config		 cfg;
	struct deliver_conf	 dc;
	struct str		 errs;

	str_init(&errs, 0);
	cr_assert_eq(config_load(&cfg, NULL, &errs), 0, "%s", str_c(&errs));
	cfg.quota_exceeded_bounce = true;
	deliver_conf_from_config(&cfg, &dc);
	cr_assert_eq(dc.lock_timeout, 30);
	cr_assert_eq(dc.stale_lock_time, 300);
	cr_assert(dc.quota_bounce);
	cr_assert_str_eq(dc.hostname, cfg.hostname);
	config_release(&cfg);
	str_release(&errs);
}
