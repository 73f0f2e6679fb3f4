/* SPDX-License-Identifier: MIT */
/*
 * admin_user.c - `buzon user add|del|passwd|list|show|enable|disable|apop`
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "admin_help.h"
#include "auth.h"
#include "conf.h"
#include "mem.h"
#include "settings.h"
#include "str.h"
#include "verbs.h"

int	verb_user(const char *, int, char **);

const char admin_user_help[] =
	"usage: buzon [-c FILE] user add ADDRESS [--mbox] [--quota SIZE]\n"
	"                                 [--password-stdin]\n"
	"       buzon [-c FILE] user del ADDRESS\n"
	"       buzon [-c FILE] user passwd ADDRESS [--password-stdin |\n"
	"                                           --hash-stdin]\n"
	"       buzon [-c FILE] user list [DOMAIN]\n"
	"       buzon [-c FILE] user show ADDRESS\n"
	"       buzon [-c FILE] user enable|disable ADDRESS\n"
	"       buzon [-c FILE] user apop enable ADDRESS [--password-stdin]\n"
	"       buzon [-c FILE] user apop disable ADDRESS\n"
	"\n"
	"Users log in with their full address and receive mail there.\n"
	"add     creates the user in a local domain (see buzon domain) and\n"
	"        the mailbox STATE/mail/DOMAIN/LOCALPART (a '/', '%', a\n"
	"        leading '.', a space or a control byte in LOCALPART is\n"
	"        written %XX, so every address has a directory of its own):\n"
	"        a Maildir with the folders Sent, Drafts, Trash and Junk, or\n"
	"        with --mbox mbox files; --quota SIZE (e.g. 500M, 2G; 0 =\n"
	"        none) limits it\n"
	"        (default: user_default_quota, which buzon init sets to 1G).\n"
	"del     removes the user; the mailbox stays on disk.\n"
	"passwd  sets a new password; with --hash-stdin, takes a crypt(3)\n"
	"        hash ($y$ yescrypt or $6$ SHA-512) as one line of standard\n"
	"        input instead, as copied from another server's shadow file.\n"
	"list    prints every user (of DOMAIN), one a line.\n"
	"show    prints a user's settings (never the password).\n"
	"enable, disable  allow or refuse the user's logins; mail is\n"
	"        still delivered.\n"
	"apop    stores a separate APOP secret for POP3 APOP logins, or\n"
	"        removes it.  APOP needs the server to keep that secret\n"
	"        readable, not hashed: use a secret used nowhere else.\n"
	"\n"
	"Passwords are read without echo from the terminal, twice, or with\n"
	"--password-stdin as one line of standard input (for scripts).\n"
	"They are stored as yescrypt hashes in the passwd map (mode 0600,\n"
	"read only by buzon-auth); the users map holds the rest.\n"
	"\n"
	"Exit status: 0 done; 1 failed (invalid address, unknown domain, user\n"
	"exists, no such user, password refused); 2 bad usage; 75 a map could\n"
	"not be read.\n";

#define USER_USAGE "usage: buzon user add ADDRESS [--mbox] " \
	"[--quota SIZE] [--password-stdin] | del ADDRESS | passwd ADDRESS " \
	"[--password-stdin | --hash-stdin] | list [DOMAIN] | show ADDRESS | enable ADDRESS " \
	"| disable ADDRESS | apop enable|disable ADDRESS [--password-stdin]"

struct user_args {
	const char	*address;
	const char	*domain;	/* list */
	bool		 mbox;
	bool		 password_stdin;
	bool		 hash_stdin;	/* passwd: a ready crypt(3) hash */
	bool		 has_quota;
	uint64_t	 quota;
};

/* Options after the action; one positional (ADDRESS or DOMAIN).  0 or an
 * exit code. */
static int
user_parse(int argc, char **argv, int first, bool need_pos,
    struct user_args *u, bool allow_add_opts)
{
	char	 err[128];
	int	 i;

	for (i = first; i < argc; i++) {
		if (strcmp(argv[i], "--password-stdin") == 0)
			u->password_stdin = true;
		else if (strcmp(argv[i], "--hash-stdin") == 0)
			u->hash_stdin = u->password_stdin = true;
		else if (allow_add_opts && strcmp(argv[i], "--mbox") == 0)
			u->mbox = true;
		else if (allow_add_opts && strcmp(argv[i], "--quota") == 0) {
			if (++i >= argc)
				return verb_error("user", EXIT_USAGE,
				    "--quota needs a SIZE");
			if (conf_parse_size(argv[i], &u->quota, err,
			    sizeof(err)) == -1)
				return verb_error("user", EXIT_USAGE,
				    "bad --quota '%s': %s", argv[i], err);
			u->has_quota = true;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0')
			return verb_error("user", EXIT_USAGE, "unknown option "
			    "'%s'", argv[i]);
		else if (u->address == NULL)
			u->address = argv[i];
		else
			return verb_error("user", EXIT_USAGE, "%s", USER_USAGE);
	}
	if (need_pos && u->address == NULL)
		return verb_error("user", EXIT_USAGE, "%s", USER_USAGE);
	return 0;
}

static int
user_add(struct admin *a, struct user_args *ua)
{
	struct accounts_user *u;
	struct accounts	*acc;
	char		 norm[ACCOUNTS_ADDR_MAX], err[512];
	char		 pw[ADMIN_PASSWORD_MAX + 2];
	int		 rc;

	/* The name as stored: no sub-address, no literal domain.  A refused
	 * name may hold any octet: it is shown escaped. */
	if (!accounts_address_valid(ua->address, false) ||
	    accounts_normalize(&a->ac, ua->address, true, norm,
	    sizeof(norm)) == -1)
		return verb_error("user", 1, "invalid address '%s' (RFC 5321 "
		    "local@domain, UTF-8 allowed)", str_sanitize(err,
		    sizeof(err), ua->address, strlen(ua->address)));
	if (accounts_normalize(&a->ac, ua->address, false, err, sizeof(err))
	    == 0 && strcmp(err, norm) != 0)
		return verb_error("user", 1, "invalid address '%s': it holds "
		    "the recipient delimiter '%s'", ua->address,
		    a->ac.recipient_delimiter);
	u = xcalloc(1, sizeof(*u));
	accounts_user_init(u, norm);
	u->format = ua->mbox ? ACCOUNTS_MBOX : ACCOUNTS_MAILDIR;
	u->quota = ua->has_quota ? ua->quota : a->cfg.user_default_quota;
	/* Fail early, before asking for a password. */
	rc = 0;
	if ((acc = accounts_open(&a->ac, err, sizeof(err))) == NULL)
		rc = verb_error("user", 1, "%s", err);
	else {
		const char *at = strrchr(norm, '@');

		switch (accounts_is_local_domain(acc, at + 1)) {
		case 1:
			break;
		case 0:
			rc = verb_error("user", 1, "unknown domain %s (add it "
			    "with: buzon domain add %s)", at + 1, at + 1);
			break;
		default:
			rc = verb_error("user", 75, "cannot read the domains "
			    "map");
		}
		if (rc == 0 && accounts_user_lookup(acc, norm, u) == 1)
			rc = verb_error("user", 1, "user %s exists", norm);
		accounts_close(&acc);
	}
	if (rc == 0)
		rc = admin_read_password("user", a, ua->password_stdin,
		    "password", pw, sizeof(pw));
	if (rc == 0 && auth_hash_password(pw, AUTH_HASH_YESCRYPT, u->hash,
	    sizeof(u->hash)) == -1)
		rc = verb_error("user", 1, "cannot hash the password");
	mem_wipe(pw, sizeof(pw));
	if (rc == 0 && accounts_mailbox_create(&a->ac, u, err, sizeof(err))
	    == -1)
		rc = verb_error("user", 1, "cannot create the mailbox: %s",
		    err);
	if (rc == 0 && accounts_user_add(&a->ac, u, err, sizeof(err)) == -1)
		rc = verb_error("user", 1, "%s", err);
	mem_wipe(u, sizeof(*u));
	free(u);
	return rc;
}

static int
user_show(struct admin *a, const char *address)
{
	struct accounts_user *u;
	struct accounts	*acc;
	struct accounts_conf ac = a->ac;
	char		 err[512], path[PATH_MAX];
	int		 rc = 0;

	ac.read_secrets = true;		/* to name the hash's scheme */
	if ((acc = accounts_open(&ac, err, sizeof(err))) == NULL)
		return verb_error("user", 1, "%s", err);
	u = xcalloc(1, sizeof(*u));
	switch (accounts_user_lookup(acc, address, u)) {
	case 1:
		if (accounts_mail_path(&a->ac, u, path, sizeof(path)) == -1)
			(void)str_copy(path, u->mailbox, sizeof(path));
		printf("address: %s\n", u->address);
		printf("enabled: %s\n", u->enabled ? "yes" : "no");
		printf("mailbox: %s\n", path);
		printf("format: %s\n", u->format == ACCOUNTS_MBOX ? "mbox" :
		    "maildir");
		printf("quota: %llu\n", (unsigned long long)u->quota);
		printf("password: %s\n", strncmp(u->hash, "$y$", 3) == 0 ?
		    "yescrypt" : strncmp(u->hash, "$6$", 3) == 0 ?
		    "sha512-crypt" : "unusable");
		printf("apop: %s\n", u->apop_secret[0] != '\0' ? "enabled" :
		    "disabled");
		break;
	case 0:
		rc = verb_error("user", 1, "no such user %s", address);
		break;
	default:
		rc = verb_error("user", 75, "cannot read the users map");
	}
	mem_wipe(u, sizeof(*u));
	free(u);
	accounts_close(&acc);
	return rc;
}

static int
user_list(struct admin *a, const char *domain)
{
	char	 suffix[ACCOUNTS_DOMAIN_MAX + 2];

	if (domain == NULL)
		return admin_list_map("user", a, "users", false, NULL);
	if (!str_printf(suffix, sizeof(suffix), "@%s", domain))
		return verb_error("user", 1, "invalid domain '%s'", domain);
	str_lower(suffix);
	return admin_list_map("user", a, "users", false, suffix);
}

static int
user_change(struct admin *a, const char *address, enum accounts_user_op op,
    const char *arg)
{
	char	 err[512];

	if (accounts_user_change(&a->ac, address, op, arg, err, sizeof(err))
	    == -1)
		return verb_error("user", 1, "%s", err);
	return 0;
}

/* passwd and apop enable: read a secret, then store it (hashed for
 * passwd, as is for APOP). */
static int
user_secret(struct admin *a, struct user_args *ua, bool apop)
{
	struct accounts_user *u;
	struct accounts	*acc;
	char		 pw[ADMIN_PASSWORD_MAX + 2], hash[AUTH_HASH_MAX];
	char		 err[512];
	int		 rc = 0;

	if ((acc = accounts_open(&a->ac, err, sizeof(err))) == NULL)
		return verb_error("user", 1, "%s", err);
	u = xcalloc(1, sizeof(*u));
	switch (accounts_user_lookup(acc, ua->address, u)) {
	case 1:
		break;
	case 0:
		rc = verb_error("user", 1, "no such user %s", ua->address);
		break;
	default:
		rc = verb_error("user", 75, "cannot read the users map");
	}
	mem_wipe(u, sizeof(*u));
	free(u);
	accounts_close(&acc);
	if (rc != 0)
		return rc;
	if ((rc = admin_read_password("user", a, ua->password_stdin,
	    apop ? "APOP secret" : ua->hash_stdin ? "hash" : "password", pw,
	    sizeof(pw))) != 0)
		return rc;
	if (apop)
		rc = user_change(a, ua->address, ACCOUNTS_SET_APOP, pw);
	else if (ua->hash_stdin) {
		/* Only hashes we verify; crypt(3) output has no space. */
		if (!auth_hash_supported(pw) || strlen(pw) >= AUTH_HASH_MAX ||
		    strpbrk(pw, " \t\r\n:") != NULL)
			rc = verb_error("user", 1, "not a yescrypt ($y$) or "
			    "SHA-512 ($6$) crypt(3) hash");
		else
			rc = user_change(a, ua->address, ACCOUNTS_SET_HASH,
			    pw);
	}
	else if (auth_hash_password(pw, AUTH_HASH_YESCRYPT, hash,
	    sizeof(hash)) == -1)
		rc = verb_error("user", 1, "cannot hash the password");
	else
		rc = user_change(a, ua->address, ACCOUNTS_SET_HASH, hash);
	mem_wipe(pw, sizeof(pw));
	return rc;
}

int
verb_user(const char *conf_path, int argc, char **argv)
{
	struct user_args ua;
	struct admin	 a;
	const char	*act;
	char		 err[512];
	int		 rc, first = 2;
	bool		 apop_on = false;

	memset(&ua, 0, sizeof(ua));
	if (argc < 2)
		return verb_error("user", EXIT_USAGE, "%s", USER_USAGE);
	act = argv[1];
	if (strcmp(act, "apop") == 0) {
		if (argc < 3 || (strcmp(argv[2], "enable") != 0 &&
		    strcmp(argv[2], "disable") != 0))
			return verb_error("user", EXIT_USAGE, "usage: buzon "
			    "user apop enable|disable ADDRESS "
			    "[--password-stdin]");
		apop_on = strcmp(argv[2], "enable") == 0;
		first = 3;
	} else if (strcmp(act, "add") != 0 && strcmp(act, "del") != 0 &&
	    strcmp(act, "passwd") != 0 && strcmp(act, "list") != 0 &&
	    strcmp(act, "show") != 0 && strcmp(act, "enable") != 0 &&
	    strcmp(act, "disable") != 0)
		return verb_error("user", EXIT_USAGE, "unknown action '%s' "
		    "(add, del, passwd, list, show, enable, disable, apop)",
		    act);
	if ((rc = user_parse(argc, argv, first, strcmp(act, "list") != 0, &ua,
	    strcmp(act, "add") == 0)) != 0)
		return rc;
	if ((rc = admin_open("user", conf_path, &a)) != 0)
		return rc;
	if (strcmp(act, "add") == 0)
		rc = user_add(&a, &ua);
	else if (strcmp(act, "del") == 0) {
		if (accounts_user_del(&a.ac, ua.address, err, sizeof(err))
		    == -1)
			rc = verb_error("user", 1, "%s", err);
		else
			printf("deleted %s; the mailbox stays on disk\n",
			    ua.address);
	} else if (strcmp(act, "passwd") == 0)
		rc = user_secret(&a, &ua, false);
	else if (strcmp(act, "list") == 0)
		rc = user_list(&a, ua.address);
	else if (strcmp(act, "show") == 0)
		rc = user_show(&a, ua.address);
	else if (strcmp(act, "enable") == 0)
		rc = user_change(&a, ua.address, ACCOUNTS_ENABLE, NULL);
	else if (strcmp(act, "disable") == 0)
		rc = user_change(&a, ua.address, ACCOUNTS_DISABLE, NULL);
	else if (apop_on)
		rc = user_secret(&a, &ua, true);
	else
		rc = user_change(&a, ua.address, ACCOUNTS_CLEAR_APOP, NULL);
	admin_close(&a);
	return rc;
}
