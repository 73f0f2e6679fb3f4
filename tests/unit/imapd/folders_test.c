/* SPDX-License-Identifier: MIT */
/*
 * folders_test.c - client names to storage names and back, subscriptions,
 * and the \Recent mark (modified UTF-7 itself: mutf7_test.c)
 */
#include <sys/wait.h>

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "folders.h"
#include "imapd.h"
#include "mailbox.h"
#include "str.h"

static int
name(bool utf8, const char *in, char *out, size_t size, const char **err)
{
	struct imap_session	 s;
	struct imap_str		 str = { in, strlen(in), false, false };

	memset(&s, 0, sizeof(s));
	if (utf8)
		s.enabled = IMAP_EN_UTF8;
	return imap_folder_name(&s, &str, out, size, err);
}

Test(folders, client_names_to_storage)
{
	char		 out[IMAP_FOLDER_MAX + 1];
	const char	*err;

	cr_assert_eq(name(false, "inbox", out, sizeof(out), &err), 0);
	cr_assert_str_eq(out, "INBOX");
	cr_assert_eq(name(false, "Work/2026/Q4", out, sizeof(out), &err), 0);
	cr_assert_str_eq(out, "Work.2026.Q4");
	cr_assert_eq(name(false, "Sent Items", out, sizeof(out), &err), 0);
	cr_assert_str_eq(out, "Sent Items");
	cr_assert_eq(name(false, "Archive/", out, sizeof(out), &err), 0);
	cr_assert_str_eq(out, "Archive");
	cr_assert_eq(name(false, "Entw&APw-rfe", out, sizeof(out), &err), 0);
	cr_assert_str_eq(out, "Entw&APw-rfe");
	/* UTF8=ACCEPT: stored in modified UTF-7, the same folder */
	cr_assert_eq(name(true, "Entw\xc3\xbc" "rfe", out, sizeof(out), &err),
	    0);
	cr_assert_str_eq(out, "Entw&APw-rfe");
}

Test(folders, names_that_cannot_be_stored)
{
	static const char *const bad[] = {
		"", "/", "/a", "a//b", "a/", "my.folder", "..", "a/../b",
		"a\\b", "a*", "a%", "INBOX/child", "Inbox/x", "&AGE-",
		"a\xc3\xa9", "a\r\nb", "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q",
	};
	char		 out[IMAP_FOLDER_MAX + 1];
	const char	*err;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* "a/" is "a": the trailing delimiter is dropped */
		if (strcmp(bad[i], "a/") == 0)
			continue;
		err = NULL;
		cr_assert_eq(name(false, bad[i], out, sizeof(out), &err), -1,
		    "accepted \"%s\"", bad[i]);
		cr_assert_not_null(err);
	}
	cr_assert_eq(name(false, "my.folder", out, sizeof(out), &err), -1);
	cr_assert_str_eq(err, "Character not allowed in mailbox name: '.'");
}

/* The text of each NO, and the edges of depth and of both encodings. */
Test(folders, name_edges)
{
	char		 out[IMAP_FOLDER_MAX + 1];
	const char	*err;

	cr_assert_eq(name(false, "INBOX/x", out, sizeof(out), &err), -1);
	cr_assert_str_eq(err, "INBOX cannot have child folders");
	cr_assert_eq(name(false, "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p", out,
	    sizeof(out), &err), 0);
	cr_assert_str_eq(out, "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p");
	cr_assert_eq(name(false, "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q", out,
	    sizeof(out), &err), -1);
	cr_assert_str_eq(err, "Mailbox name has too many levels");
	/* not the one encoding of its name: two shifts in a row */
	cr_assert_eq(name(false, "&AOk-&AOk-", out, sizeof(out), &err), -1);
	cr_assert_str_eq(err, "Mailbox name is not valid mUTF-7");
	cr_assert_eq(name(false, "a/&AC4-", out, sizeof(out), &err), -1);
	cr_assert_eq(name(false, "x\x7f", out, sizeof(out), &err), -1);
	cr_assert_eq(name(false, "a&-b", out, sizeof(out), &err), 0);
	cr_assert_str_eq(out, "a&-b");
	/* UTF8=ACCEPT: '&' is itself, "&AOk-" is five characters */
	cr_assert_eq(name(true, "a&b", out, sizeof(out), &err), 0);
	cr_assert_str_eq(out, "a&-b");
	cr_assert_eq(name(true, "&AOk-", out, sizeof(out), &err), 0);
	cr_assert_str_eq(out, "&-AOk-");
	cr_assert_eq(name(true, "INBOX", out, sizeof(out), &err), 0);
	cr_assert_str_eq(out, "INBOX");
	cr_assert_eq(name(true, "\xc3\xa9/\xe2\x82\xac", out, sizeof(out),
	    &err), 0);
	cr_assert_str_eq(out, "&AOk-.&IKw-");
	cr_assert_eq(name(true, "a\xc3", out, sizeof(out), &err), -1);
	cr_assert_str_eq(err, "Mailbox name is not valid UTF-8");
	cr_assert_eq(name(true, "\xed\xa0\x80", out, sizeof(out), &err),
	    -1);
	cr_assert_eq(name(true, "a.b", out, sizeof(out), &err), -1);
	cr_assert_str_eq(err, "Character not allowed in mailbox name: '.'");
	cr_assert_eq(name(true, "a/../b", out, sizeof(out), &err), -1);
	cr_assert_eq(name(true, "/a", out, sizeof(out), &err), -1);
}

Test(folders, name_length_bound)
{
	char		 in[MAILBOX_NAME_MAX + 2], out[IMAP_FOLDER_MAX + 1];
	const char	*err;

	memset(in, 'a', MAILBOX_NAME_MAX);
	in[MAILBOX_NAME_MAX] = '\0';
	cr_assert_eq(name(false, in, out, sizeof(out), &err), 0);
	in[MAILBOX_NAME_MAX] = 'a';
	in[MAILBOX_NAME_MAX + 1] = '\0';
	cr_assert_eq(name(false, in, out, sizeof(out), &err), -1);
}

Test(folders, storage_names_back_to_clients)
{
	struct imap_session	 s;
	struct str		 out;

	memset(&s, 0, sizeof(s));
	str_init(&out, 0);
	cr_assert_eq(imap_put_folder(&out, &s, "Work.2026"), 0);
	cr_assert_eq(imap_put_folder(&out, &s, " "), 0);
	cr_assert_eq(imap_put_folder(&out, &s, "Sent Items"), 0);
	cr_assert_eq(imap_put_folder(&out, &s, "INBOX"), 0);
	cr_assert_str_eq(str_c(&out), "Work/2026\" \"\"Sent Items\"INBOX");
	str_clear(&out);
	s.enabled = IMAP_EN_UTF8;
	cr_assert_eq(imap_put_folder(&out, &s, "Entw&APw-rfe"), 0);
	cr_assert_str_eq(str_c(&out), "\"Entw\xc3\xbc" "rfe\"");
	str_clear(&out);
	cr_assert_eq(imap_put_folder(&out, &s, "&-AOk-.&IKw-"), 0);
	cr_assert_str_eq(str_c(&out), "\"&AOk-/\xe2\x82\xac\"");
	str_release(&out);
}

static char	 tmpl[] = "/tmp/buzon-folders-XXXXXX";

/* Lines written into a user's subscriptions file by hand. */
static void
subs_append(const char *dir, const char *lines)
{
	char	 path[96];
	FILE	*fp;

	snprintf(path, sizeof(path), "%s/subscriptions", dir);
	cr_assert_not_null(fp = fopen(path, "a"));
	cr_assert_geq(fputs(lines, fp), 0);
	cr_assert_eq(fclose(fp), 0);
}

Test(folders, subscriptions)
{
	struct mailbox_location	 loc = { NULL, MAILBOX_MAILDIR, NULL };
	char			 dir[sizeof(tmpl)], **v, cmd[64];
	size_t			 n;

	memcpy(dir, tmpl, sizeof(tmpl));
	cr_assert_not_null(mkdtemp(dir));
	loc.root = dir;
	cr_assert_eq(imap_subs_load(&loc, &v, &n), 0);
	cr_assert_eq(n, 0);
	cr_assert_eq(imap_subs_set(&loc, "b", true), 0);
	cr_assert_eq(imap_subs_set(&loc, "a.c", true), 0);
	cr_assert_eq(imap_subs_set(&loc, "b", true), 0);	/* again */
	cr_assert_eq(imap_subs_load(&loc, &v, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(v[0], "a.c");
	cr_assert_str_eq(v[1], "b");
	cr_assert(imap_subs_has(v, n, "b"));
	cr_assert(!imap_subs_has(v, n, "a"));
	imap_subs_free(v, n);
	cr_assert_eq(imap_subs_set(&loc, "b", false), 0);
	cr_assert_eq(imap_subs_set(&loc, "zz", false), 0);	/* not there */
	cr_assert_eq(imap_subs_load(&loc, &v, &n), 0);
	cr_assert_eq(n, 1);
	imap_subs_free(v, n);
	/* a hand-edited file with a bad line: skipped, never a path */
	subs_append(dir, "../../etc\n\nok\n");
	cr_assert_eq(imap_subs_load(&loc, &v, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(v[0], "a.c");
	cr_assert_str_eq(v[1], "ok");
	imap_subs_free(v, n);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

/* Several sessions subscribing at once all get their names in; a name
 * written twice into the file is listed once. */
Test(folders, subscriptions_concurrent_and_duplicates)
{
	struct mailbox_location	 loc = { NULL, MAILBOX_MAILDIR, NULL };
	char			 dir[sizeof(tmpl)], **v, name[16], cmd[96];
	size_t			 n;
	pid_t			 pid[4];
	int			 i, k, st;

	memcpy(dir, tmpl, sizeof(tmpl));
	cr_assert_not_null(mkdtemp(dir));
	loc.root = dir;
	for (i = 0; i < 4; i++) {
		cr_assert_neq(pid[i] = fork(), -1);
		if (pid[i] == 0) {
			for (k = 0; k < 25; k++) {
				(void)snprintf(name, sizeof(name), "f%d.%02d",
				    i, k);
				if (imap_subs_set(&loc, name, true) == -1)
					_exit(1);
			}
			_exit(0);
		}
	}
	for (i = 0; i < 4; i++) {
		cr_assert_eq(waitpid(pid[i], &st, 0), pid[i]);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	cr_assert_eq(imap_subs_load(&loc, &v, &n), 0);
	cr_assert_eq(n, 100);
	cr_assert_str_eq(v[0], "f0.00");
	cr_assert_str_eq(v[99], "f3.24");
	imap_subs_free(v, n);
	subs_append(dir, "f0.00\nf3.24\nf0.00\n");
	cr_assert_eq(imap_subs_load(&loc, &v, &n), 0);
	cr_assert_eq(n, 100);
	for (i = 1; i < (int)n; i++)
		cr_assert_lt(strcmp(v[i - 1], v[i]), 0);
	imap_subs_free(v, n);
	/* and unsubscribing removes the name however often it was there */
	cr_assert_eq(imap_subs_set(&loc, "f0.00", false), 0);
	cr_assert_eq(imap_subs_load(&loc, &v, &n), 0);
	cr_assert_eq(n, 99);
	cr_assert(!imap_subs_has(v, n, "f0.00"));
	imap_subs_free(v, n);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

/* Replace the \Recent mark of mb's folder (recent.c's file). */
static void
recent_write(struct mailbox *mb, const char *text)
{
	char	 path[4096];
	FILE	*fp;

	snprintf(path, sizeof(path), "%s.imap-recent", mailbox_index_path(mb));
	cr_assert_not_null(fp = fopen(path, "w"));
	cr_assert_geq(fputs(text, fp), 0);
	cr_assert_eq(fclose(fp), 0);
}

Test(folders, recent_is_claimed_once)
{
	struct mailbox_location	 loc = { NULL, MAILBOX_MAILDIR, NULL };
	struct mailbox		*mb;
	struct fail		 f;
	char			 dir[sizeof(tmpl)], cmd[64];
	uint32_t		 uid, first;
	int			 i;

	memcpy(dir, tmpl, sizeof(tmpl));
	cr_assert_not_null(mkdtemp(dir));
	loc.root = dir;
	mb = mailbox_open(&loc, "INBOX", 0, &f);
	cr_assert_not_null(mb);
	cr_assert_eq(imap_recent_claim(mb), 0);		/* empty */
	for (i = 0; i < 3; i++)
		cr_assert_eq(mailbox_append(mb, "a: b\r\n\r\nx\r\n", 11, 0,
		    NULL, 0, 0, &uid, &f), 0);
	cr_assert_eq(mailbox_sync(mb, NULL, &f), 0);
	first = imap_recent_peek(mb);
	cr_assert_neq(first, 0);
	cr_assert_eq(imap_recent_peek(mb), first);	/* only looks */
	cr_assert_eq(imap_recent_claim(mb), first);
	cr_assert_eq(imap_recent_claim(mb), 0);		/* taken */
	cr_assert_eq(imap_recent_peek(mb), 0);
	cr_assert_eq(mailbox_append(mb, "a: b\r\n\r\nx\r\n", 11, 0, NULL, 0,
	    0, &uid, &f), 0);
	cr_assert_eq(mailbox_sync(mb, NULL, &f), 0);
	cr_assert_eq(imap_recent_claim(mb), uid);	/* the new one */
	/* A damaged mark, or one of another UIDVALIDITY, costs only
	 * \Recent shown once more: everything is recent again. */
	recent_write(mb, "garbage\n");
	cr_assert_eq(imap_recent_peek(mb), first);
	snprintf(cmd, sizeof(cmd), "%u 999\n", mailbox_uidvalidity(mb) + 1);
	recent_write(mb, cmd);
	cr_assert_eq(imap_recent_peek(mb), first);
	snprintf(cmd, sizeof(cmd), "%u 99999999999\n",
	    mailbox_uidvalidity(mb));
	recent_write(mb, cmd);
	cr_assert_eq(imap_recent_claim(mb), first);
	cr_assert_eq(imap_recent_claim(mb), 0);
	snprintf(cmd, sizeof(cmd), "%u %u\n", mailbox_uidvalidity(mb), uid - 1);
	recent_write(mb, cmd);
	cr_assert_eq(imap_recent_peek(mb), uid);
	mailbox_close(&mb);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}
