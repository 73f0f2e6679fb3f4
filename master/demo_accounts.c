/* SPDX-License-Identifier: MIT */
/*
 * demo_accounts.c - demo domain, users and mail for `buzon init --demo`
 *
 * example.test with alice and bob (random passwords, printed once),
 * postmaster@ going to alice, and a welcome message in each INBOX so the
 * POP3 and IMAP lab sessions have something to RETR and FETCH.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "accounts.h"
#include "admin.h"
#include "auth.h"
#include "demo.h"
#include "mem.h"
#include "settings.h"
#include "str.h"

#define DEMO_DOMAIN	"example.test"
#define DEMO_PW_LEN	12

/* A password easy to type: no 0/O, 1/l/I. */
static int
demo_password(char *pw, size_t size)
{
	static const char set[] = "abcdefghijkmnopqrstuvwxyz"
	    "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	unsigned char	 r[DEMO_PW_LEN];
	size_t		 i;

	if (size < DEMO_PW_LEN + 1 || RAND_bytes(r, sizeof(r)) != 1)
		return -1;
	for (i = 0; i < DEMO_PW_LEN; i++)
		pw[i] = set[r[i] % (sizeof(set) - 1)];
	pw[DEMO_PW_LEN] = '\0';
	mem_wipe(r, sizeof(r));
	return 0;
}

/* Deliver a welcome message the Maildir way: tmp/, fsync, rename to new/. */
static int
demo_welcome(const struct accounts_conf *ac, const struct accounts_user *u)
{
	char		 dir[PATH_MAX], tmp[PATH_MAX], dst[PATH_MAX], date[64];
	struct str	 msg;
	time_t		 now = time(NULL);
	struct tm	 tm;
	struct stat	 st;
	int		 fd, rc = -1;

	if (accounts_mail_path(ac, u, dir, sizeof(dir)) == -1 ||
	    !str_printf(tmp, sizeof(tmp), "%s/tmp/%lld.demo.buzon", dir,
	    (long long)now) ||
	    !str_printf(dst, sizeof(dst), "%s/new/%lld.demo.buzon", dir,
	    (long long)now))
		return -1;
	(void)localtime_r(&now, &tm);
	(void)strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	str_init(&msg, 0);
	if (str_appendf(&msg, "From: postmaster@" DEMO_DOMAIN "\r\n"
	    "To: %s\r\n"
	    "Subject: Welcome to buzon\r\n"
	    "Date: %s\r\n"
	    "Message-ID: <welcome.%lld@" DEMO_DOMAIN ">\r\n"
	    "\r\n"
	    "This is the demo mailbox of %s.\r\n"
	    "Read it with POP3 (RETR 1) or IMAP (FETCH 1 BODY[]).\r\n",
	    u->address, date, (long long)now, u->address) == -1)
		goto out;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1)
		goto out;
	/* Made by root: the mail tree belongs to the daemons' user. */
	if (geteuid() == 0 && stat(dir, &st) == 0)
		(void)fchown(fd, st.st_uid, st.st_gid);
	if (write(fd, msg.data, msg.len) != (ssize_t)msg.len || fsync(fd) == -1)
		(void)unlink(tmp);
	else if (rename(tmp, dst) == 0)
		rc = 0;
	(void)close(fd);
out:
	str_release(&msg);
	return rc;
}

static int
demo_user(const struct accounts_conf *ac, const char *local, uint64_t quota,
    FILE *out)
{
	struct accounts_user *u;
	char		 addr[ACCOUNTS_ADDR_MAX], pw[DEMO_PW_LEN + 1], err[512];
	int		 rc = -1;

	(void)str_printf(addr, sizeof(addr), "%s@" DEMO_DOMAIN, local);
	u = xcalloc(1, sizeof(*u));
	accounts_user_init(u, addr);
	u->quota = quota;
	if (demo_password(pw, sizeof(pw)) == -1 ||
	    auth_hash_password(pw, AUTH_HASH_YESCRYPT, u->hash,
	    sizeof(u->hash)) == -1) {
		fprintf(stderr, "buzon init: cannot make a password for %s\n",
		    addr);
		goto out;
	}
	if (accounts_mailbox_create(ac, u, err, sizeof(err)) == -1 ||
	    accounts_user_add(ac, u, err, sizeof(err)) == -1) {
		fprintf(stderr, "buzon init: %s\n", err);
		goto out;
	}
	if (demo_welcome(ac, u) == -1)
		fprintf(stderr, "buzon init: cannot write the welcome message "
		    "for %s: %s\n", addr, strerror(errno));
	fprintf(out, "  %-22s password: %s\n", addr, pw);
	rc = 0;
out:
	mem_wipe(pw, sizeof(pw));
	mem_wipe(u, sizeof(*u));
	free(u);
	return rc;
}

int
demo_accounts_create(const struct config *cfg, FILE *out)
{
	struct accounts_conf ac;
	char		 err[512];

	admin_accounts_conf(cfg, &ac);
	if (accounts_domain_add(&ac, DEMO_DOMAIN, err, sizeof(err)) == -1) {
		fprintf(stderr, "buzon init: %s\n", err);
		return -1;
	}
	fprintf(out, "created domain " DEMO_DOMAIN " with the demo users:\n");
	if (demo_user(&ac, "alice", cfg->user_default_quota, out) == -1 ||
	    demo_user(&ac, "bob", cfg->user_default_quota, out) == -1)
		return -1;
	if (accounts_alias_add(&ac, "postmaster", "alice@" DEMO_DOMAIN, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "buzon init: %s\n", err);
		return -1;
	}
	fprintf(out, "  postmaster@" DEMO_DOMAIN " goes to alice.\n"
	    "The passwords are shown only now; change one with\n"
	    "  buzon -c %s user passwd alice@" DEMO_DOMAIN "\n", cfg->path);
	return 0;
}
