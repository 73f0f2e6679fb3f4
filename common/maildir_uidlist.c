/* SPDX-License-Identifier: MIT */
/*
 * maildir_uidlist.c - read Dovecot's dovecot-uidlist once, on migration
 *
 * When a Maildir copied from Dovecot is opened for the first time (no
 * buzon.index yet), its UIDVALIDITY and UIDs are taken over so IMAP
 * clients keep their caches.  The file is then renamed to
 * dovecot-uidlist.imported, so that a later loss of our own index gives a
 * new UIDVALIDITY instead of reviving old UIDs.
 *
 * Format (version 3, Dovecot 1.1+; version 1 is "1 UIDVALIDITY NEXTUID"):
 *	3 V1275660208 N25022 G3085f01b7f11094c501100008c4a11c1
 *	1 :1275660201.M1P2.host,S=1234
 *	2 W1300 S1234 :1275660202.M3P4.host,S=1234
 * UIDs ascend; the name is the file's base name (a ":2," part, if any,
 * is cut off).  Anything malformed makes the whole file ignored.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "mailbox_private.h"
#include "mem.h"
#include "str.h"

#define UIDLIST_MAX	(64 * 1024 * 1024)

static int
ent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct uidlist_ent *)a)->key,
	    ((const struct uidlist_ent *)b)->key);
}

/* Parse "Xdigits" at *p (X = tag), advancing; -1 if not there. */
static int
tagged(const char *tok, size_t len, char tag, uint32_t *v)
{
	uint64_t n;

	if (len < 2 || tok[0] != tag ||
	    strnum_u64n(tok + 1, len - 1, 1, UINT32_MAX, &n) == -1)
		return -1;
	*v = (uint32_t)n;
	return 0;
}

static bool
key_ok(const char *k, size_t len)
{
	size_t	 i;

	if (len == 0 || len > MBIDX_KEY_MAX || k[0] == '.')
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)k[i] <= 0x20 ||
		    (unsigned char)k[i] >= 0x7f || k[i] == '/' || k[i] == ':')
			return false;
	return true;
}

static int
parse(char *buf, size_t len, struct uidlist *ul)
{
	char	*line = buf, *end = buf + len, *nl, *sp, *name;
	uint64_t uid;
	uint32_t prev = 0;
	size_t	 cap = 0, klen;
	int	 version;

	if ((nl = memchr(line, '\n', (size_t)(end - line))) == NULL)
		return -1;
	*nl = '\0';
	if (strncmp(line, "3 ", 2) == 0) {
		version = 3;
		for (sp = line + 2; *sp != '\0';) {
			size_t	 tl = strcspn(sp, " ");

			if (sp[0] == 'V')
				(void)tagged(sp, tl, 'V', &ul->uidvalidity);
			else if (sp[0] == 'N')
				(void)tagged(sp, tl, 'N', &ul->uidnext);
			sp += tl;
			sp += strspn(sp, " ");
		}
	} else if (strncmp(line, "1 ", 2) == 0) {
		char	*a = line + 2, *b = strchr(a, ' ');

		version = 1;
		if (b == NULL ||
		    strnum_u64n(a, (size_t)(b - a), 1, UINT32_MAX, &uid) == -1)
			return -1;
		ul->uidvalidity = (uint32_t)uid;
		b++;
		if (strnum_u64(b, 1, UINT32_MAX, &uid) == -1)
			return -1;
		ul->uidnext = (uint32_t)uid;
	} else
		return -1;
	if (ul->uidvalidity == 0 || ul->uidnext == 0)
		return -1;
	for (line = nl + 1; line < end; line = nl + 1) {
		if ((nl = memchr(line, '\n', (size_t)(end - line))) == NULL)
			break;		/* a torn last line: ignore it */
		*nl = '\0';
		if ((sp = strchr(line, ' ')) == NULL ||
		    strnum_u64n(line, (size_t)(sp - line), 1, UINT32_MAX - 1,
		    &uid) == -1 || uid <= prev)
			return -1;
		if (version == 3) {
			if ((name = strstr(sp, " :")) == NULL)
				return -1;
			name += 2;
		} else
			name = sp + 1;
		klen = strcspn(name, ":");
		if (!key_ok(name, klen))
			return -1;
		if (ul->n == cap) {
			cap = cap < 64 ? 64 : cap * 2;
			ul->ents = xreallocarray(ul->ents, cap,
			    sizeof(*ul->ents));
		}
		ul->ents[ul->n].key = xstrndup(name, klen);
		ul->ents[ul->n++].uid = (uint32_t)uid;
		prev = (uint32_t)uid;
	}
	if (ul->uidnext <= prev)
		ul->uidnext = prev + 1;
	if (ul->n > 0)
		qsort(ul->ents, ul->n, sizeof(*ul->ents), ent_cmp);
	return 0;
}

int
maildir_uidlist_read(const char *path, struct uidlist *ul)
{
	char	*buf;
	size_t	 got;
	int	 fd, rc;

	memset(ul, 0, sizeof(*ul));
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return 0;
	rc = fd_read_whole(fd, UIDLIST_MAX, &buf, &got, NULL);
	close(fd);
	if (rc == -1)
		return 0;
	rc = parse(buf, got, ul);
	free(buf);
	if (rc == -1) {
		log_warn(NULL, "ignoring malformed %s", path);
		maildir_uidlist_free(ul);
		return 0;
	}
	return 1;
}

uint32_t
maildir_uidlist_find(const struct uidlist *ul, const char *key)
{
	struct uidlist_ent want, *hit;

	if (ul->n == 0)
		return 0;
	want.key = (char *)(uintptr_t)key;
	hit = bsearch(&want, ul->ents, ul->n, sizeof(*ul->ents), ent_cmp);
	return hit != NULL ? hit->uid : 0;
}

void
maildir_uidlist_free(struct uidlist *ul)
{
	size_t	 i;

	for (i = 0; i < ul->n; i++)
		free(ul->ents[i].key);
	free(ul->ents);
	memset(ul, 0, sizeof(*ul));
}
