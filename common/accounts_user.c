/* SPDX-License-Identifier: MIT */
/*
 * accounts_user.c - user records and mailbox creation
 *
 * Record, version 1 (fields separated by one TAB, no trailing newline):
 *   1  hash  apop-hex  mailbox  maildir|mbox  quota  0|1
 * apop-hex is the APOP secret in hex (empty: APOP off), so the secret may
 * hold any byte but NUL; the mailbox is relative to STATE/mail, with no
 * "..", no leading "/" and no control characters.  It records
 * accounts_mailbox_name() of the address for readers of the map; the path
 * mail is delivered to and read from is always computed from the address
 * (accounts_mail_path()), so no record can point into another user's
 * mailbox.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accounts.h"
#include "dir.h"
#include "mem.h"
#include "str.h"

#define REC_FIELDS	7

/* The folders every new mailbox gets (Maildir++ ".NAME", or mbox files). */
static const char *const folders[] = { "Sent", "Drafts", "Trash", "Junk" };

/* A local part byte kept as it is in the mailbox directory's name. */
static bool
name_byte_plain(unsigned char c, bool first)
{
	return c > 0x20 && c < 0x7f && c != '/' && c != '%' &&
	    !(first && c == '.');
}

int
accounts_mailbox_name(const char *address, char *out, size_t outsize)
{
	static const char hex[] = "0123456789ABCDEF";
	const char	*at = strrchr(address, '@');
	const unsigned char *p;
	struct str	 s;
	int		 rc = 0;

	if (at == NULL || at == address || (size_t)(at - address) >
	    ACCOUNTS_LOCAL_MAX || !accounts_domain_valid(at + 1))
		return -1;
	str_init(&s, ACCOUNTS_MAILBOX_NAME_MAX);
	rc |= str_appendf(&s, "%s/", at + 1);
	for (p = (const unsigned char *)address; p < (const unsigned char *)at;
	    p++) {
		if (name_byte_plain(*p, p == (const unsigned char *)address))
			rc |= str_append_c(&s, (char)*p);
		else {
			rc |= str_append_c(&s, '%');
			rc |= str_append_c(&s, hex[*p >> 4]);
			rc |= str_append_c(&s, hex[*p & 0x0f]);
		}
	}
	if (rc == 0 && !str_copy(out, str_c(&s), outsize))
		rc = -1;
	str_release(&s);
	return rc == 0 ? 0 : -1;
}

void
accounts_user_init(struct accounts_user *u, const char *address)
{
	memset(u, 0, sizeof(*u));
	(void)str_copy(u->address, address, sizeof(u->address));
	if (accounts_mailbox_name(address, u->mailbox, sizeof(u->mailbox)) ==
	    -1)
		u->mailbox[0] = '\0';
	u->format = ACCOUNTS_MAILDIR;
	u->enabled = true;
}

/* A relative path that stays below STATE/mail. */
static bool
mailbox_ok(const char *m)
{
	const char	*p;

	if (m[0] == '\0' || m[0] == '/')
		return false;
	for (p = m; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	for (p = m; p != NULL; p = strchr(p, '/')) {
		if (*p == '/')
			p++;
		if (strncmp(p, "..", 2) == 0 && (p[2] == '/' || p[2] == '\0'))
			return false;
	}
	return true;
}

/* "1" TAB hash TAB apop-hex, the head of both record kinds. */
static int
secrets_append(const struct accounts_user *u, struct str *out)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s;
	int		 rc = 0;

	if (strpbrk(u->hash, "\t\r\n") != NULL)
		return -1;
	str_clear(out);
	rc |= str_appendf(out, "1\t%s\t", u->hash);
	for (s = (const unsigned char *)u->apop_secret; *s != '\0'; s++) {
		rc |= str_append_c(out, hex[*s >> 4]);
		rc |= str_append_c(out, hex[*s & 0x0f]);
	}
	return rc == 0 ? 0 : -1;
}

int
accounts_secret_format(const struct accounts_user *u, struct str *out)
{
	return secrets_append(u, out);
}

int
accounts_user_format(const struct accounts_user *u, struct str *out)
{
	int		 rc = 0;

	if (!mailbox_ok(u->mailbox) || secrets_append(u, out) == -1)
		return -1;
	rc |= str_appendf(out, "\t%s\t%s\t%llu\t%d", u->mailbox,
	    u->format == ACCOUNTS_MBOX ? "mbox" : "maildir",
	    (unsigned long long)u->quota, u->enabled ? 1 : 0);
	return rc == 0 ? 0 : -1;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int
field_copy(char *dst, size_t size, const char *s, size_t len)
{
	if (len >= size || memchr(s, '\0', len) != NULL)
		return -1;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

/* Split val into exactly want fields.  0 or -1. */
static int
fields_split(const char *val, size_t len, const char **f, size_t *flen,
    size_t want)
{
	const char	*end = val + len, *p, *tab = NULL;
	size_t		 n = 0;

	for (p = val; n < want; p = tab + 1) {
		tab = memchr(p, '\t', (size_t)(end - p));
		f[n] = p;
		flen[n++] = (size_t)((tab != NULL ? tab : end) - p);
		if (tab == NULL)
			break;
	}
	if (n != want || tab != NULL)
		return -1;
	return flen[0] == 1 && f[0][0] == '1' ? 0 : -1;
}

/* Fields 1 and 2 of either record: hash and apop-hex. */
static int
secrets_parse(const char **f, const size_t *flen, struct accounts_user *u)
{
	size_t		 i;
	int		 hi, lo;

	if (field_copy(u->hash, sizeof(u->hash), f[1], flen[1]) == -1 ||
	    flen[2] % 2 != 0 || flen[2] / 2 >= sizeof(u->apop_secret))
		return -1;
	for (i = 0; i < flen[2] / 2; i++) {
		if ((hi = hexval(f[2][2 * i])) < 0 ||
		    (lo = hexval(f[2][2 * i + 1])) < 0 || (hi | lo) == 0)
			return -1;
		u->apop_secret[i] = (char)(hi << 4 | lo);
	}
	u->apop_secret[i] = '\0';
	return 0;
}

int
accounts_secret_parse(const char *val, size_t len, struct accounts_user *u)
{
	const char	*f[3];
	size_t		 flen[3];

	if (fields_split(val, len, f, flen, 3) == -1)
		return -1;
	return secrets_parse(f, flen, u);
}

int
accounts_user_parse(const char *val, size_t len, struct accounts_user *u)
{
	const char	*f[REC_FIELDS];
	size_t		 flen[REC_FIELDS];
	char		 num[24];

	if (fields_split(val, len, f, flen, REC_FIELDS) == -1 ||
	    secrets_parse(f, flen, u) == -1)
		return -1;
	if (field_copy(u->mailbox, sizeof(u->mailbox), f[3], flen[3]) == -1 ||
	    !mailbox_ok(u->mailbox))
		return -1;
	if (flen[4] == 7 && memcmp(f[4], "maildir", 7) == 0)
		u->format = ACCOUNTS_MAILDIR;
	else if (flen[4] == 4 && memcmp(f[4], "mbox", 4) == 0)
		u->format = ACCOUNTS_MBOX;
	else
		return -1;
	if (field_copy(num, sizeof(num), f[5], flen[5]) == -1 ||
	    strnum_u64(num, 0, UINT64_MAX, &u->quota) == -1)
		return -1;
	if (flen[6] != 1 || (f[6][0] != '0' && f[6][0] != '1'))
		return -1;
	u->enabled = f[6][0] == '1';
	return 0;
}

int
accounts_mail_path(const struct accounts_conf *c,
    const struct accounts_user *u, char *out, size_t outsize)
{
	char	 name[ACCOUNTS_MAILBOX_NAME_MAX + 1];

	/* From the address, never from the record's mailbox field: a
	 * record written before names were encoded may say "d/bob/new". */
	if (accounts_mailbox_name(u->address, name, sizeof(name)) == -1)
		return -1;
	return str_printf(out, outsize, "%s/mail/%s", c->state_dir, name) ?
	    0 : -1;
}

/* mkdir that accepts an existing directory, then gives it to the owner of
 * STATE/mail when we run as root. */
static int
mkdir_owned(const char *path, const struct stat *owner)
{
	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		return -1;
	if (owner != NULL && chown(path, owner->st_uid, owner->st_gid) == -1)
		return -1;
	return 0;
}

static int
file_create(const char *path, const struct stat *owner)
{
	int	 fd;

	fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	if (owner != NULL && fchown(fd, owner->st_uid, owner->st_gid) == -1) {
		(void)close(fd);
		return -1;
	}
	return close(fd);
}

/* fsync every directory from STATE down to base, base's folders too, so
 * that the whole new path (a new domain's directory included) and what
 * it holds survive a crash.  base is under STATE (accounts_mail_path()).
 * 0, or -1 with err set. */
static int
mailbox_sync_path(const struct accounts_conf *c, const char *base,
    bool maildir, char *err, size_t errsize)
{
	char		 dir[PATH_MAX];
	size_t		 top = strlen(c->state_dir), i;
	const char	*sep;

	if (strncmp(base, c->state_dir, top) != 0 || base[top] != '/' ||
	    !str_copy(dir, base, sizeof(dir))) {
		(void)str_printf(err, errsize, "%s: not a path under %s", base,
		    c->state_dir);
		return -1;
	}
	/* STATE, then each directory below it down to base itself. */
	for (sep = base + top; sep != NULL; sep = strchr(sep + 1, '/')) {
		dir[sep - base] = '\0';
		if (dir_fsync(dir[0] != '\0' ? dir : "/") == -1)
			goto fail;
		dir[sep - base] = '/';
	}
	if (dir_fsync(dir) == -1)
		goto fail;
	for (i = 0; maildir && i < sizeof(folders) / sizeof(folders[0]); i++)
		if (!str_printf(dir, sizeof(dir), "%s/.%s", base,
		    folders[i]) || dir_fsync(dir) == -1)
			goto fail;
	return 0;
fail:
	(void)str_printf(err, errsize, "fsync %s: %s", dir, strerror(errno));
	return -1;
}

int
accounts_mailbox_create(const struct accounts_conf *c,
    const struct accounts_user *u, char *err, size_t errsize)
{
	static const char *const subs[] = { "cur", "new", "tmp" };
	struct stat	 st, *owner = NULL;
	char		 base[PATH_MAX], path[PATH_MAX], mail[PATH_MAX];
	char		*slash;
	size_t		 i, j;

	if (!str_printf(mail, sizeof(mail), "%s/mail", c->state_dir) ||
	    accounts_mail_path(c, u, base, sizeof(base)) == -1 ||
	    strncmp(base, mail, strlen(mail)) != 0 ||
	    base[strlen(mail)] != '/') {
		(void)str_printf(err, errsize, "bad mailbox path");
		return -1;
	}
	if (mkdir(mail, 0755) == -1 && errno != EEXIST)
		goto fail_mail;
	if (stat(mail, &st) == -1)
		goto fail_mail;
	if (geteuid() == 0)
		owner = &st;
	/* Every directory between STATE/mail and the mailbox. */
	for (slash = base + strlen(mail) + 1; (slash = strchr(slash, '/')) !=
	    NULL; slash++) {
		*slash = '\0';
		if (mkdir_owned(base, owner) == -1) {
			(void)str_printf(err, errsize, "%s: %s", base,
			    strerror(errno));
			return -1;
		}
		*slash = '/';
	}
	if (mkdir_owned(base, owner) == -1)
		goto fail_base;
	if (u->format == ACCOUNTS_MBOX) {
		if (!str_printf(path, sizeof(path), "%s/INBOX", base) ||
		    file_create(path, owner) == -1)
			goto fail_path;
		for (i = 0; i < sizeof(folders) / sizeof(folders[0]); i++)
			if (!str_printf(path, sizeof(path), "%s/%s", base,
			    folders[i]) || file_create(path, owner) == -1)
				goto fail_path;
		return mailbox_sync_path(c, base, false, err, errsize);
	}
	for (j = 0; j < sizeof(subs) / sizeof(subs[0]); j++)
		if (!str_printf(path, sizeof(path), "%s/%s", base, subs[j]) ||
		    mkdir_owned(path, owner) == -1)
			goto fail_path;
	/* Maildir++: each folder a maildir named ".NAME", marked as such. */
	for (i = 0; i < sizeof(folders) / sizeof(folders[0]); i++) {
		if (!str_printf(path, sizeof(path), "%s/.%s", base,
		    folders[i]) || mkdir_owned(path, owner) == -1)
			goto fail_path;
		for (j = 0; j < sizeof(subs) / sizeof(subs[0]); j++)
			if (!str_printf(path, sizeof(path), "%s/.%s/%s", base,
			    folders[i], subs[j]) ||
			    mkdir_owned(path, owner) == -1)
				goto fail_path;
		if (!str_printf(path, sizeof(path), "%s/.%s/maildirfolder",
		    base, folders[i]) || file_create(path, owner) == -1)
			goto fail_path;
	}
	return mailbox_sync_path(c, base, true, err, errsize);
fail_mail:
	(void)str_printf(err, errsize, "%s: %s", mail, strerror(errno));
	return -1;
fail_base:
	(void)str_printf(err, errsize, "%s: %s", base, strerror(errno));
	return -1;
fail_path:
	(void)str_printf(err, errsize, "%s: %s", path, strerror(errno));
	return -1;
}
