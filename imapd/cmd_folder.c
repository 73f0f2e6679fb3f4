/* SPDX-License-Identifier: MIT */
/*
 * cmd_folder.c - the folder commands: CREATE, DELETE, RENAME, SUBSCRIBE,
 * UNSUBSCRIBE, LIST (RFC 3501 6.3.8, LIST-EXTENDED RFC 5258, LIST-STATUS
 * RFC 5819, SPECIAL-USE RFC 6154, CHILDREN RFC 3348), LSUB, STATUS (with
 * SIZE, RFC 8438, and HIGHESTMODSEQ), NAMESPACE, and QUOTA (RFC 9208)
 *
 * Listings work on storage names (mailbox.h) turned into client names
 * (folder_name.c), so the wildcards see '/' as the delimiter.  Parents
 * that do not exist but have children ("a" of "a/b") are listed as
 * \Noselect (\NonExistent in extended listings) where a pattern reaches
 * them, as RFC 3501 asks for '%'.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "folders.h"
#include "imapd.h"
#include "log.h"
#include "mailbox.h"
#include "maildir_quota.h"
#include "mem.h"
#include "str.h"

#define LIST_PATTERNS_MAX	32
#define STATUS_ITEMS_MAX	16

/* The default special-use folders (SPECIAL-USE), created at first login. */
static const struct {
	const char	*name;
	const char	*use;
} special[] = {
	{ "Drafts", "\\Drafts" },
	{ "Sent", "\\Sent" },
	{ "Trash", "\\Trash" },
	{ "Junk", "\\Junk" },
	{ "Archive", "\\Archive" },
};

static const char *
special_use(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(special) / sizeof(special[0]); i++)
		if (strcmp(special[i].name, name) == 0)
			return special[i].use;
	return NULL;
}

void
imap_folders_login(struct imap_session *s)
{
	char		 path[PATH_MAX], dir[PATH_MAX];
	struct stat	 st;
	struct fail	 f;
	FILE		*fp;
	size_t		 i;

	/* Once per user: a marker beside the folders says it was done, so a
	 * user who deletes Junk does not get it back at the next login. */
	if (!str_printf(path, sizeof(path), "%s/%s", s->loc.root,
	    s->loc.format == MAILBOX_MBOX ? ".buzon/imap-folders" :
	    "buzon.imap-folders") || lstat(path, &st) == 0)
		return;
	for (i = 0; i < sizeof(special) / sizeof(special[0]); i++) {
		if (mailbox_create(&s->loc, special[i].name, &f) == -1 &&
		    strstr(f.text, "exist") == NULL) {
			log_warn(s->base.id, "create %s failed: %s",
			    special[i].name, f.text);
			continue;
		}
		if (imap_subs_set(&s->loc, special[i].name, true) == -1)
			log_warn(s->base.id, "subscribe %s failed",
			    special[i].name);
	}
	if (imap_subs_set(&s->loc, "INBOX", true) == -1)
		log_warn(s->base.id, "subscribe INBOX failed");
	if (s->loc.format == MAILBOX_MBOX &&
	    str_printf(dir, sizeof(dir), "%s/.buzon", s->loc.root))
		(void)mkdir(dir, 0700);
	if ((fp = fopen(path, "we")) != NULL)
		(void)fclose(fp);
}

/* ---- output ---- */

/* Append to the replies.  The buffer grows on demand; past its cap the
 * session cannot be answered in step any more, so it ends. */
static void
put(struct imap_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
put(struct imap_session *s, const char *fmt, ...)
{
	va_list	 ap;
	int	 rc;

	va_start(ap, fmt);
	rc = str_vappendf(&s->out, fmt, ap);
	va_end(ap);
	if (rc == -1 && !s->base.closing) {
		log_warn(s->base.id, "reply too big: closing");
		s->base.closing = true;
	}
}

/* A folder name as the client sees it. */
static void
put_folder(struct imap_session *s, const char *storage)
{
	if (imap_put_folder(&s->out, s, storage) == -1 && !s->base.closing) {
		log_warn(s->base.id, "reply too big: closing");
		s->base.closing = true;
	}
}

/* ---- names ---- */

/* Read a mailbox argument and map it; NO (and false) when it cannot be
 * stored, BAD when it is not there at all. */
static bool
arg_folder(struct imap_session *s, struct imap_cur *c, char *out,
    size_t size)
{
	struct imap_str	 name;
	const char	*err;

	if (!imap_astring(c, &name)) {
		imap_bad(s, "%s", c->err != NULL ? c->err :
		    "Missing mailbox name");
		return false;
	}
	if (imap_folder_name(s, &name, out, size, &err) == -1) {
		imap_no(s, "CANNOT", "%s", err);
		return false;
	}
	return true;
}

static bool
args_end(struct imap_session *s, struct imap_cur *c)
{
	if (!imap_eol(c)) {
		imap_bad(s, "Unexpected arguments");
		return false;
	}
	return true;
}

/* Does the folder exist? */
static bool
folder_exists(char *const *names, const char *name)
{
	size_t	 i;

	for (i = 0; names != NULL && names[i] != NULL; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

void
cmd_create(struct imap_session *s, char *arg)
{
	struct imap_cur	 c;
	struct fail	 f;
	char		 name[IMAP_FOLDER_MAX + 1], **names;

	(void)arg;
	imap_args(s, &c);
	if (!arg_folder(s, &c, name, sizeof(name)) || !args_end(s, &c))
		return;
	if (strcmp(name, "INBOX") == 0) {
		imap_no(s, "ALREADYEXISTS", "Mailbox already exists");
		return;
	}
	if (mailbox_list(&s->loc, &names, &f) == 0) {
		bool have = folder_exists(names, name);

		mailbox_list_free(&names);
		if (have) {
			imap_no(s, "ALREADYEXISTS", "Mailbox already exists");
			return;
		}
	}
	if (mailbox_create(&s->loc, name, &f) == -1) {
		imap_no(s, f.temp ? "SERVERBUG" : "CANNOT", "%s", f.text);
		return;
	}
	imap_ok(s, NULL, "Create completed.");
}

void
cmd_delete(struct imap_session *s, char *arg)
{
	struct imap_cur	 c;
	struct fail	 f;
	char		 name[IMAP_FOLDER_MAX + 1], **names;
	bool		 have = false;

	(void)arg;
	imap_args(s, &c);
	if (!arg_folder(s, &c, name, sizeof(name)) || !args_end(s, &c))
		return;
	if (strcmp(name, "INBOX") == 0) {
		imap_no(s, "CANNOT", "INBOX can't be deleted.");
		return;
	}
	if (mailbox_list(&s->loc, &names, &f) == 0) {
		have = folder_exists(names, name);
		mailbox_list_free(&names);
	}
	if (!have) {
		imap_no(s, "NONEXISTENT", "Mailbox doesn't exist: %s", name);
		return;
	}
	if (s->state == IMAP_SELECTED && strcmp(s->folder, name) == 0) {
		imap_no(s, "INUSE", "Can't delete the selected mailbox");
		return;
	}
	if (mailbox_delete(&s->loc, name, &f) == -1) {
		imap_no(s, f.temp ? "SERVERBUG" : "CANNOT", "%s", f.text);
		return;
	}
	/* Its subscription stays (RFC 3501 6.3.4 lets it outlive the
	 * folder, and Dovecot keeps it). */
	imap_ok(s, NULL, "Delete completed.");
}

/* RENAME INBOX: its messages move to a new folder, INBOX stays, empty. */
static void
rename_inbox(struct imap_session *s, const char *to)
{
	struct mailbox	*src, *dst;
	struct mailbox_msg m;
	struct fail	 f;
	uint32_t	*uids, i, n;

	if (mailbox_create(&s->loc, to, &f) == -1) {
		imap_no(s, "CANNOT", "%s", f.text);
		return;
	}
	if ((src = mailbox_open(&s->loc, "INBOX", 0, &f)) == NULL) {
		imap_no(s, "SERVERBUG", "%s", f.text);
		return;
	}
	if ((dst = mailbox_open(&s->loc, to, 0, &f)) == NULL) {
		mailbox_close(&src);
		imap_no(s, "SERVERBUG", "%s", f.text);
		return;
	}
	n = mailbox_count(src);
	uids = xcalloc(n > 0 ? n : 1, sizeof(*uids));
	for (i = 0; i < n; i++) {
		if (mailbox_msg(src, i + 1, &m) == -1 ||
		    mailbox_copy(src, i + 1, dst, NULL, &f) == -1)
			break;
		uids[i] = m.uid;
	}
	if (i < n || mailbox_expunge(src, uids, n, &f) == -1)
		imap_no(s, "SERVERBUG", "Rename of INBOX failed half-way");
	else
		imap_ok(s, NULL, "Rename completed.");
	free(uids);
	mailbox_close(&dst);
	mailbox_close(&src);
}

/* RENAME of a parent that exists only through its children ("a/b" of
 * "a/b/c", \Noselect): its children move, as Dovecot does.  True when
 * there was a child to move (and all moved). */
static bool
rename_children(struct imap_session *s, char **names, const char *from,
    const char *to)
{
	struct fail	 f;
	char		 nto[IMAP_FOLDER_MAX + 1];
	size_t		 i, len = strlen(from);
	bool		 any = false;

	for (i = 0; names[i] != NULL; i++) {
		if (strncmp(names[i], from, len) != 0 || names[i][len] != '.')
			continue;
		/* a grandchild went with its parent already */
		if (i > 0 && any && strncmp(names[i], names[i - 1],
		    strlen(names[i - 1])) == 0 &&
		    names[i][strlen(names[i - 1])] == '.')
			continue;
		if (!str_printf(nto, sizeof(nto), "%s%s", to, names[i] + len) ||
		    mailbox_rename(&s->loc, names[i], nto, &f) == -1) {
			log_warn(s->base.id, "rename %s: %s", names[i],
			    f.text);
			return false;
		}
		any = true;
	}
	return any;
}

void
cmd_rename(struct imap_session *s, char *arg)
{
	struct imap_cur	 c;
	struct fail	 f;
	char		 from[IMAP_FOLDER_MAX + 1], to[IMAP_FOLDER_MAX + 1];
	char		**names, **subs;
	size_t		 nsubs;
	bool		 have_from = false, have_to = false, sub = false;

	(void)arg;
	imap_args(s, &c);
	if (!arg_folder(s, &c, from, sizeof(from)))
		return;
	if (!imap_sp(&c)) {
		imap_bad(s, "%s", c.err);
		return;
	}
	if (!arg_folder(s, &c, to, sizeof(to)) || !args_end(s, &c))
		return;
	if (mailbox_list(&s->loc, &names, &f) == 0) {
		have_from = folder_exists(names, from);
		have_to = folder_exists(names, to);
		/* a \Noselect parent: its children move, also under a
		 * folder that exists (their names must be free) */
		if (!have_from && strcmp(to, "INBOX") != 0 &&
		    rename_children(s, names, from, to)) {
			mailbox_list_free(&names);
			imap_ok(s, NULL, "Rename completed.");
			return;
		}
		mailbox_list_free(&names);
	}
	if (!have_from) {
		imap_no(s, "NONEXISTENT", "Mailbox doesn't exist.");
		return;
	}
	if (have_to || strcmp(to, "INBOX") == 0) {
		imap_no(s, "ALREADYEXISTS", "Target mailbox already exists");
		return;
	}
	if (strcmp(from, "INBOX") == 0) {
		rename_inbox(s, to);
		return;
	}
	if (s->state == IMAP_SELECTED && strcmp(s->folder, from) == 0) {
		imap_no(s, "INUSE", "Can't rename the selected mailbox");
		return;
	}
	if (mailbox_rename(&s->loc, from, to, &f) == -1) {
		imap_no(s, f.temp ? "SERVERBUG" : "CANNOT", "%s", f.text);
		return;
	}
	/* A subscription follows its folder, as Dovecot's does. */
	if (imap_subs_load(&s->loc, &subs, &nsubs) == 0) {
		sub = imap_subs_has(subs, nsubs, from);
		imap_subs_free(subs, nsubs);
	}
	if (sub && (imap_subs_set(&s->loc, from, false) == -1 ||
	    imap_subs_set(&s->loc, to, true) == -1))
		log_warn(s->base.id, "subscription of %s not moved", from);
	imap_ok(s, NULL, "Rename completed.");
}

static void
subscribe(struct imap_session *s, bool on)
{
	struct imap_cur	 c;
	char		 name[IMAP_FOLDER_MAX + 1];

	imap_args(s, &c);
	if (!arg_folder(s, &c, name, sizeof(name)) || !args_end(s, &c))
		return;
	/* only folders that exist are subscribed (Dovecot's rule) */
	if (on && strcmp(name, "INBOX") != 0) {
		struct fail	 f;
		char		**names;
		bool		 have = false;

		if (mailbox_list(&s->loc, &names, &f) == 0) {
			have = folder_exists(names, name);
			mailbox_list_free(&names);
		}
		if (!have) {
			imap_no(s, "NONEXISTENT", "Mailbox doesn't exist.");
			return;
		}
	}
	if (imap_subs_set(&s->loc, name, on) == -1) {
		imap_no(s, "SERVERBUG", "Cannot update the subscriptions");
		return;
	}
	imap_ok(s, NULL, on ? "Subscribe completed." :
	    "Unsubscribe completed.");
}

void
cmd_subscribe(struct imap_session *s, char *arg)
{
	(void)arg;
	subscribe(s, true);
}

void
cmd_unsubscribe(struct imap_session *s, char *arg)
{
	(void)arg;
	subscribe(s, false);
}

/* ---- STATUS ---- */

enum {
	ST_MESSAGES, ST_RECENT, ST_UIDNEXT, ST_UIDVALIDITY, ST_UNSEEN,
	ST_SIZE, ST_HIGHESTMODSEQ, ST_DELETED, ST_NITEMS
};

static const char *const status_names[ST_NITEMS] = {
	"MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "SIZE",
	"HIGHESTMODSEQ", "DELETED"
};

/* "(item ...)": the items in order (at most STATUS_ITEMS_MAX). */
static bool
status_items(struct imap_cur *c, int *items, size_t *n_r)
{
	struct imap_str	 a;
	size_t		 n = 0;
	int		 i;

	if (!imap_take(c, '(')) {
		c->err = "Expected a list of status items";
		return false;
	}
	for (;;) {
		if (!imap_atom(c, &a))
			return false;
		for (i = 0; i < ST_NITEMS; i++)
			if (imap_str_eq(&a, status_names[i]))
				break;
		if (i == ST_NITEMS) {
			c->err = "Unknown status item";
			return false;
		}
		if (n == STATUS_ITEMS_MAX) {
			c->err = "Too many status items";
			return false;
		}
		items[n++] = i;
		if (imap_take(c, ')'))
			break;
		if (!imap_sp(c))
			return false;
	}
	*n_r = n;
	return true;
}

/* "* STATUS name (...)" of storage name; NO text in *err on failure. */
static int
status_put(struct imap_session *s, const char *name, const int *items,
    size_t n, const char **err)
{
	struct mailbox		*mb;
	struct mailbox_msg	 m;
	struct fail		 f;
	uint64_t		 size = 0;
	uint32_t		 count, unseen = 0, deleted = 0, recent = 0;
	uint32_t		 i, first;
	size_t			 k;
	bool			 own;

	own = !(s->state == IMAP_SELECTED && strcmp(s->folder, name) == 0);
	if (own) {
		if ((mb = mailbox_open(&s->loc, name, MAILBOX_RDONLY,
		    &f)) == NULL) {
			*err = f.temp ? "Cannot read the mailbox" :
			    "Mailbox doesn't exist";
			return -1;
		}
	} else
		mb = s->mb;
	count = mailbox_count(mb);
	for (i = 1; i <= count; i++) {
		if (mailbox_msg(mb, i, &m) == -1)
			continue;
		if (!(m.flags & MAILBOX_SEEN))
			unseen++;
		if (m.flags & MAILBOX_DELETED)
			deleted++;
		size += m.wire_size;
	}
	if (own) {
		first = imap_recent_peek(mb);
		if (first != 0)
			recent = count - mailbox_seq_of_uid(mb, first) + 1;
	} else
		recent = imap_recent_count(s);
	put(s, "%s", "* STATUS ");
	put_folder(s, name);
	put(s, "%s", " (");
	for (k = 0; k < n; k++) {
		put(s, "%s%s ", k > 0 ? " " : "",
		    status_names[items[k]]);
		switch (items[k]) {
		case ST_MESSAGES:
			put(s, "%" PRIu32, count);
			break;
		case ST_RECENT:
			put(s, "%" PRIu32, recent);
			break;
		case ST_UIDNEXT:
			put(s, "%" PRIu32,
			    mailbox_uidnext(mb));
			break;
		case ST_UIDVALIDITY:
			put(s, "%" PRIu32,
			    mailbox_uidvalidity(mb));
			break;
		case ST_UNSEEN:
			put(s, "%" PRIu32, unseen);
			break;
		case ST_SIZE:
			put(s, "%" PRIu64, size);
			break;
		case ST_HIGHESTMODSEQ:
			put(s, "%" PRIu64,
			    mailbox_highestmodseq(mb));
			break;
		case ST_DELETED:
			put(s, "%" PRIu32, deleted);
			break;
		}
	}
	put(s, "%s", ")\r\n");
	if (own)
		mailbox_close(&mb);
	return 0;
}

void
cmd_status(struct imap_session *s, char *arg)
{
	struct imap_cur	 c;
	char		 name[IMAP_FOLDER_MAX + 1];
	const char	*err;
	int		 items[STATUS_ITEMS_MAX];
	size_t		 n;

	(void)arg;
	imap_args(s, &c);
	if (!arg_folder(s, &c, name, sizeof(name)))
		return;
	if (!imap_sp(&c) || !status_items(&c, items, &n)) {
		imap_bad(s, "%s", c.err != NULL ? c.err : "Bad status items");
		return;
	}
	if (!args_end(s, &c))
		return;
	if (status_put(s, name, items, n, &err) == -1) {
		imap_no(s, strcmp(err, "Mailbox doesn't exist") == 0 ?
		    "NONEXISTENT" : "SERVERBUG", "%s", err);
		return;
	}
	imap_ok(s, NULL, "Status completed.");
}

/* ---- LIST and LSUB ---- */

struct lentry {
	char		*name;		/* client form, '/' (mUTF-7) */
	char		*storage;	/* '.' form; NULL: no such folder */
	bool		 exists;
	bool		 subscribed;
	bool		 children;	/* an existing folder below */
	bool		 sub_children;	/* a subscribed name below */
};

struct listing {
	struct lentry	*e;
	size_t		 n, cap;
};

static struct lentry *
listing_find(struct listing *l, const char *name)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->e[i].name, name) == 0)
			return &l->e[i];
	return NULL;
}

static struct lentry *
listing_add(struct listing *l, const char *name)
{
	struct lentry	*e;

	if ((e = listing_find(l, name)) != NULL)
		return e;
	if (l->n == l->cap) {
		l->cap = l->cap == 0 ? 32 : l->cap * 2;
		l->e = xreallocarray(l->e, l->cap, sizeof(*l->e));
	}
	e = &l->e[l->n++];
	memset(e, 0, sizeof(*e));
	e->name = xstrdup(name);
	return e;
}

static void
listing_free(struct listing *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++) {
		free(l->e[i].name);
		free(l->e[i].storage);
	}
	free(l->e);
	memset(l, 0, sizeof(*l));
}

/* Client form of a storage name. */
static char *
client_name(const char *storage)
{
	char	*c = xstrdup(storage), *p;

	if (strcasecmp(storage, "INBOX") != 0)
		for (p = c; *p != '\0'; p++)
			if (*p == '.')
				*p = '/';
	return c;
}

/* Add name and, as not existing, every parent of it. */
static struct lentry *
listing_add_path(struct listing *l, const char *name)
{
	char	*tmp = xstrdup(name), *slash;

	for (slash = strchr(tmp, '/'); slash != NULL;
	    slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		(void)listing_add(l, tmp);
		*slash = '/';
	}
	free(tmp);
	return listing_add(l, name);
}

static int
lentry_cmp(const void *a, const void *b)
{
	const struct lentry *x = a, *y = b;

	if (strcmp(x->name, "INBOX") == 0)
		return strcmp(y->name, "INBOX") == 0 ? 0 : -1;
	if (strcmp(y->name, "INBOX") == 0)
		return 1;
	return strcmp(x->name, y->name);
}

static int
listing_build(struct imap_session *s, struct listing *l)
{
	struct lentry	*e;
	struct fail	 f;
	char		**names, **subs, *cn;
	size_t		 i, j, nsubs, len;

	memset(l, 0, sizeof(*l));
	if (mailbox_list(&s->loc, &names, &f) == -1)
		return -1;
	for (i = 0; names[i] != NULL; i++) {
		cn = client_name(names[i]);
		e = listing_add_path(l, cn);
		free(cn);
		e->exists = true;
		free(e->storage);
		e->storage = xstrdup(names[i]);
	}
	mailbox_list_free(&names);
	if (imap_subs_load(&s->loc, &subs, &nsubs) == 0) {
		for (i = 0; i < nsubs; i++) {
			cn = client_name(subs[i]);
			e = listing_add_path(l, cn);
			free(cn);
			e->subscribed = true;
			if (e->storage == NULL)
				e->storage = xstrdup(subs[i]);
		}
		imap_subs_free(subs, nsubs);
	}
	qsort(l->e, l->n, sizeof(*l->e), lentry_cmp);
	for (i = 0; i < l->n; i++) {
		len = strlen(l->e[i].name);
		for (j = 0; j < l->n; j++)
			if (strncmp(l->e[j].name, l->e[i].name, len) == 0 &&
			    l->e[j].name[len] == '/') {
				if (l->e[j].exists)
					l->e[i].children = true;
				if (l->e[j].subscribed)
					l->e[i].sub_children = true;
			}
		/* A parent made up for a listing is stored under no name. */
		if (l->e[i].storage == NULL) {
			char *p;

			l->e[i].storage = xstrdup(l->e[i].name);
			for (p = l->e[i].storage; *p != '\0'; p++)
				if (*p == '/')
					*p = '.';
		}
	}
	return 0;
}

/* IMAP wildcards: '*' anything, '%' anything but the delimiter.  ci:
 * without case (INBOX). */
static bool
wild_match(const char *p, const char *n, bool ci)
{
	for (; *p != '\0'; p++, n++) {
		if (*p == '*' || *p == '%') {
			bool	 any = *p == '*';

			while (p[1] == '*' || p[1] == '%') {
				if (*++p == '*')
					any = true;
			}
			for (;; n++) {
				if (wild_match(p + 1, n, ci))
					return true;
				if (*n == '\0' || (!any && *n == '/'))
					return false;
			}
		}
		if (*n == '\0')
			return false;
		if (ci ? tolower((unsigned char)*p) !=
		    tolower((unsigned char)*n) : *p != *n)
			return false;
	}
	return *n == '\0';
}

static bool
name_match(const char *pattern, const char *name)
{
	/* "INBOX" matches in any case, and so does the INBOX part of a
	 * pattern. */
	if (strcmp(name, "INBOX") == 0)
		return wild_match(pattern, name, true);
	return wild_match(pattern, name, false);
}

#define SEL_SUBSCRIBED	0x01
#define SEL_RECURSIVE	0x02
#define SEL_SPECIAL	0x04
#define RET_SUBSCRIBED	0x01
#define RET_CHILDREN	0x02
#define RET_SPECIAL	0x04
#define RET_STATUS	0x08

struct list_req {
	bool		 lsub;
	bool		 extended;	/* selection or return options */
	unsigned int	 sel, ret;
	char		*patterns[LIST_PATTERNS_MAX];	/* ref + pattern */
	size_t		 npatterns;
	int		 items[STATUS_ITEMS_MAX];
	size_t		 nitems;
};

static bool
any_match(const struct list_req *r, const char *name)
{
	size_t	 i;

	for (i = 0; i < r->npatterns; i++)
		if (name_match(r->patterns[i], name))
			return true;
	return false;
}

static void
put_entry(struct imap_session *s, const struct list_req *r,
    const struct lentry *e, bool childinfo)
{
	const char	*use = e->exists ? special_use(e->storage) : NULL;
	bool		 sp = false;

#define ATTR(a)	do { put(s, "%s%s", sp ? " " : "", (a)); \
		sp = true; } while (0)
	put(s, "* %s (", r->lsub ? "LSUB" : "LIST");
	if (r->lsub) {
		if (!e->subscribed)
			ATTR("\\Noselect");
		else if (use != NULL)
			ATTR(use);
	} else {
		if (!e->exists)
			ATTR(r->extended && (r->sel & SEL_SUBSCRIBED) ?
			    "\\NonExistent" : "\\Noselect");
		if (e->exists || !(r->sel & SEL_SUBSCRIBED) || e->children)
			ATTR(e->children ? "\\HasChildren" :
			    "\\HasNoChildren");
		if (e->subscribed && ((r->sel & SEL_SUBSCRIBED) ||
		    (r->ret & RET_SUBSCRIBED)))
			ATTR("\\Subscribed");
		if (use != NULL)
			ATTR(use);
	}
#undef ATTR
	put(s, "%s", ") \"/\" ");
	put_folder(s, e->storage);
	if (childinfo)
		put(s, "%s", " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
	put(s, "%s", "\r\n");
	if (!r->lsub && (r->ret & RET_STATUS) && e->exists) {
		const char *err;

		(void)status_put(s, e->storage, r->items, r->nitems, &err);
	}
}

/* Has e a subscribed descendant that the patterns do not list itself?
 * Only then does CHILDINFO tell the client something (RFC 5258 3.5). */
static bool
unlisted_sub_child(const struct list_req *r, const struct listing *l,
    const struct lentry *e)
{
	size_t	 i, len = strlen(e->name);

	for (i = 0; i < l->n; i++)
		if (l->e[i].subscribed &&
		    strncmp(l->e[i].name, e->name, len) == 0 &&
		    l->e[i].name[len] == '/' && !any_match(r, l->e[i].name))
			return true;
	return false;
}

static void
run_list(struct imap_session *s, const struct list_req *r)
{
	struct listing	 l;
	struct lentry	*e;
	size_t		 i;
	bool		 sel, child;

	if (listing_build(s, &l) == -1) {
		imap_no(s, "SERVERBUG", "Cannot list the mailboxes");
		return;
	}
	for (i = 0; i < l.n; i++) {
		e = &l.e[i];
		if (!any_match(r, e->name))
			continue;
		if (r->lsub) {
			/* Subscribed ones, and parents reached by '%' of
			 * subscribed children (as \Noselect). */
			if (e->subscribed || e->sub_children)
				put_entry(s, r, e, false);
			continue;
		}
		sel = true;
		if ((r->sel & SEL_SUBSCRIBED) && !e->subscribed)
			sel = false;
		if ((r->sel & SEL_SPECIAL) &&
		    (!e->exists || special_use(e->storage) == NULL))
			sel = false;
		/* Made-up parents appear in plain listings only. */
		if (!e->exists && !e->subscribed && r->sel != 0)
			sel = false;
		child = (r->sel & SEL_RECURSIVE) && (r->sel & SEL_SUBSCRIBED)
		    && e->sub_children && unlisted_sub_child(r, &l, e);
		if (sel || child)
			put_entry(s, r, e, child);
	}
	listing_free(&l);
	imap_ok(s, NULL, "%s completed.", r->lsub ? "Lsub" : "List");
}

static bool
list_options(struct imap_cur *c, unsigned int *bits, bool is_return,
    struct list_req *r)
{
	struct imap_str	 a;

	if (!imap_take(c, '(')) {
		c->err = "Expected a list of options";
		return false;
	}
	if (imap_take(c, ')'))
		return true;
	for (;;) {
		if (!imap_atom(c, &a))
			return false;
		if (!is_return && imap_str_eq(&a, "SUBSCRIBED"))
			*bits |= SEL_SUBSCRIBED;
		else if (!is_return && imap_str_eq(&a, "RECURSIVEMATCH"))
			*bits |= SEL_RECURSIVE;
		else if (!is_return && imap_str_eq(&a, "SPECIAL-USE"))
			*bits |= SEL_SPECIAL;
		else if (!is_return && imap_str_eq(&a, "REMOTE"))
			;	/* no remote mailboxes here */
		else if (is_return && imap_str_eq(&a, "SUBSCRIBED"))
			*bits |= RET_SUBSCRIBED;
		else if (is_return && imap_str_eq(&a, "CHILDREN"))
			*bits |= RET_CHILDREN;
		else if (is_return && imap_str_eq(&a, "SPECIAL-USE"))
			*bits |= RET_SPECIAL;
		else if (is_return && imap_str_eq(&a, "STATUS")) {
			*bits |= RET_STATUS;
			if (!imap_sp(c) ||
			    !status_items(c, r->items, &r->nitems))
				return false;
		} else {
			c->err = "Unknown LIST option";
			return false;
		}
		if (imap_take(c, ')'))
			return true;
		if (!imap_sp(c))
			return false;
	}
}

/* ref + pattern into r (mUTF-7 form, so UTF-8 patterns match too). */
static bool
add_pattern(struct imap_session *s, struct list_req *r,
    const struct imap_str *ref, const struct imap_str *pat,
    struct imap_cur *c)
{
	struct str	 raw, m7;
	char		*p;

	if (r->npatterns == LIST_PATTERNS_MAX) {
		c->err = "Too many patterns";
		return false;
	}
	str_init(&raw, 0);
	str_init(&m7, 0);
	if (str_append(&raw, ref->s, ref->len) == -1 ||
	    str_append(&raw, pat->s, pat->len) == -1 ||
	    memchr(raw.data != NULL ? raw.data : "", '\0', raw.len) != NULL) {
		str_release(&raw);
		c->err = "Invalid pattern";
		return false;
	}
	if ((s->enabled & IMAP_EN_UTF8) && raw.len > 0) {
		if (imap_utf8_to_mutf7(raw.data, raw.len, &m7) == -1) {
			str_release(&raw);
			c->err = "Pattern is not valid UTF-8";
			return false;
		}
		p = xstrdup(str_c(&m7));
	} else
		p = xstrdup(str_c(&raw));
	str_release(&raw);
	str_release(&m7);
	r->patterns[r->npatterns++] = p;
	return true;
}

static void
list_cmd(struct imap_session *s, bool lsub)
{
	struct imap_cur	 c;
	struct imap_str	 ref, pat;
	struct list_req	 r;
	size_t		 i;
	bool		 ok = false;

	memset(&r, 0, sizeof(r));
	r.lsub = lsub;
	imap_args(s, &c);
	if (!lsub && imap_peek(&c, '(')) {
		r.extended = true;
		if (!list_options(&c, &r.sel, false, &r) || !imap_sp(&c))
			goto bad;
		if ((r.sel & SEL_RECURSIVE) && r.sel == SEL_RECURSIVE) {
			c.err = "RECURSIVEMATCH needs another selection option";
			goto bad;
		}
	}
	if (!imap_astring(&c, &ref))
		goto bad;
	if (!imap_sp(&c))
		goto bad;
	if (!lsub && imap_take(&c, '(')) {
		r.extended = true;
		for (;;) {
			if (!imap_list_mailbox(&c, &pat) ||
			    !add_pattern(s, &r, &ref, &pat, &c))
				goto bad;
			if (imap_take(&c, ')'))
				break;
			if (!imap_sp(&c))
				goto bad;
		}
	} else if (!imap_list_mailbox(&c, &pat) ||
	    !add_pattern(s, &r, &ref, &pat, &c))
		goto bad;
	if (!lsub && !imap_eol(&c)) {
		struct imap_str	 kw;

		if (!imap_sp(&c) || !imap_atom(&c, &kw) ||
		    !imap_str_eq(&kw, "RETURN") || !imap_sp(&c) ||
		    !list_options(&c, &r.ret, true, &r))
			goto bad;
		r.extended = true;
	}
	if (!imap_eol(&c)) {
		c.err = "Unexpected arguments";
		goto bad;
	}
	ok = true;
	if (r.npatterns == 1 && r.patterns[0][0] == '\0' && !lsub &&
	    pat.len == 0) {
		/* LIST "" "": the delimiter and the root (RFC 3501 6.3.8) */
		imap_untagged(s, "LIST (\\Noselect) \"/\" \"\"");
		imap_ok(s, NULL, "List completed.");
	} else
		run_list(s, &r);
bad:
	if (!ok)
		imap_bad(s, "%s", c.err != NULL ? c.err : "Invalid arguments");
	for (i = 0; i < r.npatterns; i++)
		free(r.patterns[i]);
}

void
cmd_list(struct imap_session *s, char *arg)
{
	(void)arg;
	list_cmd(s, false);
}

void
cmd_lsub(struct imap_session *s, char *arg)
{
	(void)arg;
	list_cmd(s, true);
}

void
cmd_namespace(struct imap_session *s, char *arg)
{
	struct imap_cur	 c;

	(void)arg;
	imap_args(s, &c);
	if (!args_end(s, &c))
		return;
	imap_untagged(s, "NAMESPACE ((\"\" \"/\")) NIL NIL");
	imap_ok(s, NULL, "Namespace completed.");
}

/* ---- QUOTA (RFC 9208): one root "", the user's quota ---- */

/* What the user's mail takes: a Maildir's maildirsize (common/
 * maildir_quota.h, which delivery keeps too; recount: from the files), or
 * the size of every mbox file. */
uint64_t
imap_usage_bytes(struct imap_session *s, bool recount)
{
	struct fail	 f;
	struct stat	 st;
	char		**names, path[PATH_MAX];
	uint64_t	 sum = 0;
	size_t		 i;

	if (s->loc.format == MAILBOX_MAILDIR)
		return maildir_quota_usage(s->loc.root, s->quota, 0, recount,
		    &sum) == 0 ? sum : 0;
	if (mailbox_list(&s->loc, &names, &f) == -1)
		return 0;
	for (i = 0; names[i] != NULL; i++) {
		if (strcmp(names[i], "INBOX") == 0 && s->loc.mbox_inbox != NULL)
			(void)str_copy(path, s->loc.mbox_inbox, sizeof(path));
		else if (!str_printf(path, sizeof(path), "%s/%s", s->loc.root,
		    names[i]))
			continue;
		if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
			sum += (uint64_t)st.st_size;
	}
	mailbox_list_free(&names);
	return sum;
}

bool
imap_over_quota(struct imap_session *s, uint64_t add)
{
	if (s->quota == 0)
		return false;
	/* a refusal is checked against a fresh count, as delivery does */
	return imap_usage_bytes(s, false) + add > s->quota &&
	    imap_usage_bytes(s, true) + add > s->quota;
}

void
imap_usage_add(struct imap_session *s, uint64_t add)
{
	if (s->loc.format == MAILBOX_MAILDIR && add > 0)
		maildir_quota_add(s->loc.root, add);
}

static void
put_quota(struct imap_session *s)
{
	imap_untagged(s, "QUOTA \"\" (STORAGE %" PRIu64 " %" PRIu64 ")",
	    (imap_usage_bytes(s, false) + 1023) / 1024, s->quota / 1024);
}

void
cmd_getquotaroot(struct imap_session *s, char *arg)
{
	struct imap_cur	 c;
	struct imap_str	 raw;
	char		 name[IMAP_FOLDER_MAX + 1];
	const char	*err;

	(void)arg;
	imap_args(s, &c);
	if (!imap_astring(&c, &raw)) {
		imap_bad(s, "%s", c.err);
		return;
	}
	if (!args_end(s, &c))
		return;
	if (imap_folder_name(s, &raw, name, sizeof(name), &err) == -1) {
		imap_no(s, "CANNOT", "%s", err);
		return;
	}
	put(s, "%s", "* QUOTAROOT ");
	put_folder(s, name);
	put(s, "%s", s->quota > 0 ? " \"\"\r\n" : "\r\n");
	if (s->quota > 0)
		put_quota(s);
	imap_ok(s, NULL, "Getquotaroot completed.");
}

void
cmd_getquota(struct imap_session *s, char *arg)
{
	struct imap_cur	 c;
	struct imap_str	 root;

	(void)arg;
	imap_args(s, &c);
	if (!imap_astring(&c, &root)) {
		imap_bad(s, "%s", c.err);
		return;
	}
	if (!args_end(s, &c))
		return;
	if (root.len != 0 || s->quota == 0) {
		imap_no(s, "NONEXISTENT", "No such quota root");
		return;
	}
	put_quota(s);
	imap_ok(s, NULL, "Getquota completed.");
}

void
cmd_setquota(struct imap_session *s, char *arg)
{
	(void)arg;
	/* Quotas are the administrator's: `buzon user quota`. */
	imap_no(s, "NOPERM", "Quotas are set by the administrator");
}
