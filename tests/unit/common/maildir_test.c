/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <sys/wait.h>

#define TL_WRAP_FSYNC_DIR
#include "mailbox_fixture.h"

TestSuite(maildir, .init = setup, .fini = teardown);

/* An APPEND whose cur/ fsync fails is refused and leaves no file behind
 * (the client tries again: a duplicate at worst, never a message that a
 * crash takes back after its UID was given). */
Test(maildir, append_reports_dir_fsync_failure)
{
	struct mailbox *mb;
	struct mailbox_changes ch;
	struct fail f;
	uint32_t uid = 0;
	char	 p[4096];
	DIR	*d;
	struct dirent *de;
	int	 n = 0;

	mb = open_inbox(0);
	tl_fsync_dir_fails = true;
	cr_assert_eq(mailbox_append(mb, "Subject: x\r\n\r\nhi\r\n", 19, 0,
	    NULL, 0, 0, &uid, &f), -1);
	cr_assert(f.temp);
	tl_fsync_dir_fails = false;
	must_sync(mb, &ch);
	cr_assert_eq(mailbox_count(mb), 0);
	cr_assert(str_printf(p, sizeof(p), "%s/cur", root));
	cr_assert_not_null(d = opendir(p));
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	cr_assert_eq(n, 0);
	cr_assert_eq(mailbox_append(mb, "Subject: x\r\n\r\nhi\r\n", 19, 0,
	    NULL, 0, 0, &uid, &f), 0, "%s", f.text);
	mailbox_close(&mb);
}

Test(maildir, wire_size_from_name)
{
	struct mailbox *mb;
	struct mailbox_msg m;

	/* ",W=" is trusted when it is plausible, as Dovecot writes it */
	tl_deliver(root, "1.x,S=3,W=4", "ab\n");
	tl_deliver(root, "2.x,S=3,W=999", "ab\n");
	mb = open_inbox(0);
	cr_assert_eq(mailbox_msg(mb, 1, &m), 0);
	cr_assert_eq(m.wire_size, 4);
	cr_assert_str_eq(m.key, "1.x,S=3,W=4");
	cr_assert_eq(mailbox_msg(mb, 2, &m), 0);
	cr_assert_eq(m.wire_size, 4);	/* implausible: counted */
	mailbox_close(&mb);
}

Test(maildir, flags_changed_by_another_program)
{
	struct mailbox *mb;
	struct mailbox_changes ch;
	struct mailbox_msg m;
	char	 a[4096], b[4096];

	tl_deliver(root, "1.a", "a\n");
	mb = open_inbox(0);
	cr_assert(str_printf(a, sizeof(a), "%s/cur/1.a:2,", root));
	cr_assert(str_printf(b, sizeof(b), "%s/cur/1.a:2,Sa", root));
	cr_assert_eq(rename(a, b), 0);
	must_sync(mb, &ch);
	cr_assert_eq(ch.n_changed, 1);
	cr_assert_eq(mailbox_msg(mb, 1, &m), 0);
	cr_assert_eq(m.flags, MAILBOX_SEEN);
	/* our rename keeps the letters we do not know */
	cr_assert_eq(mailbox_store(mb, &m.uid, 1, MAILBOX_FLAGS_ADD,
	    MAILBOX_FLAGGED, NULL, 0, 0, NULL, NULL, NULL), 0);
	cr_assert(str_printf(b, sizeof(b), "%s/cur/1.a:2,FSa", root));
	cr_assert_eq(access(b, F_OK), 0);
	mailbox_close(&mb);
}

Test(maildir, store_without_a_listing)
{
	struct mailbox *mb;
	struct mailbox_msg m;
	uint32_t uids[3] = { 1, 2, 3 };
	char	 p[4096];

	tl_deliver(root, "1.a", "a\n");
	tl_deliver(root, "2.b", "b\n");
	tl_deliver(root, "3.c", "c\n");
	mb = open_inbox(0);
	mailbox_close(&mb);
	/* old stamps recorded, then an open that takes the index as is,
	 * without listing cur/: file names are guessed from the flags */
	age_folder(root);
	mb = open_inbox(0);
	mailbox_close(&mb);
	mb = open_inbox(0);
	cr_assert_eq(mailbox_store(mb, uids, 3, MAILBOX_FLAGS_ADD, MAILBOX_SEEN,
	    NULL, 0, 0, NULL, NULL, NULL), 0);
	cr_assert(str_printf(p, sizeof(p), "%s/cur/2.b:2,S", root));
	cr_assert_eq(access(p, F_OK), 0);
	cr_assert_eq(mailbox_msg(mb, 3, &m), 0);
	cr_assert_eq(m.flags, MAILBOX_SEEN);
	mailbox_close(&mb);
	age_folder(root);
	mb = open_inbox(0);
	mailbox_close(&mb);
	mb = open_inbox(0);
	check_wire(mb, 2, "b\r\n", false);
	cr_assert_eq(mailbox_expunge(mb, uids, 1, NULL), 0);
	cr_assert(str_printf(p, sizeof(p), "%s/cur/1.a:2,S", root));
	cr_assert_eq(access(p, F_OK), -1);
	mailbox_close(&mb);
}

Test(maildir, odd_files_in_cur_and_new)
{
	struct mailbox *mb;
	char	 p[4096];

	tl_deliver(root, "1.a", "a\n");
	cr_assert(str_printf(p, sizeof(p), "%s/new/.hidden", root));
	tl_write(p, "x", 1);
	cr_assert(str_printf(p, sizeof(p), "%s/cur/2.b:2,S", root));
	tl_write(p, "b\n", 2);
	cr_assert(str_printf(p, sizeof(p), "%s/cur/2.b:2,ST", root));
	tl_write(p, "b\n", 2);		/* same key twice: one message */
	cr_assert(str_printf(p, sizeof(p), "%s/cur/sub", root));
	cr_assert_eq(mkdir(p, 0700), 0);	/* not a regular file */
	mb = open_inbox(0);
	cr_assert_eq(mailbox_count(mb), 2);
	mailbox_close(&mb);
}

Test(maildir, dovecot_uidlist_imported_once)
{
	struct mailbox *mb;
	struct mailbox_msg m;
	char	 p[4096];
	static const char ul[] = "3 V1234567 N50 Gabcdef\n"
	    "7 :1000.A.host\n"
	    "9 W10 S8 :1001.B.host:2,\n"
	    "12 :gone.host\n";

	cr_assert(str_printf(p, sizeof(p), "%s/cur/1000.A.host:2,S", root));
	tl_write(p, "a\n", 2);
	cr_assert(str_printf(p, sizeof(p), "%s/cur/1001.B.host:2,", root));
	tl_write(p, "b\n", 2);
	tl_deliver(root, "0999.C.host", "c\n");
	cr_assert(str_printf(p, sizeof(p), "%s/dovecot-uidlist", root));
	tl_write(p, ul, strlen(ul));
	mb = open_inbox(0);
	cr_assert_eq(mailbox_uidvalidity(mb), 1234567);
	cr_assert_eq(mailbox_count(mb), 3);
	cr_assert_eq(mailbox_msg(mb, 1, &m), 0);
	cr_assert_eq(m.uid, 7);
	cr_assert_str_eq(m.key, "1000.A.host");
	cr_assert_eq(m.flags, MAILBOX_SEEN);
	cr_assert_eq(uid_at(mb, 2), 9);
	cr_assert_eq(mailbox_msg(mb, 3, &m), 0);
	cr_assert_eq(m.uid, 50);		/* not in the list: a new UID */
	cr_assert_str_eq(m.key, "0999.C.host");
	cr_assert_eq(mailbox_uidnext(mb), 51);
	mailbox_close(&mb);
	cr_assert_eq(access(p, F_OK), -1);
	cr_assert(str_printf(p, sizeof(p), "%s/dovecot-uidlist.imported",
	    root));
	cr_assert_eq(access(p, F_OK), 0);
	/* losing our index later must not revive the old UIDVALIDITY */
	cr_assert(str_printf(p, sizeof(p), "%s/buzon.index", root));
	cr_assert_eq(unlink(p), 0);
	mb = open_inbox(0);
	cr_assert_neq(mailbox_uidvalidity(mb), 1234567);
	mailbox_close(&mb);
}

struct uidlist_case {
	char	 text[128];
};

ParameterizedTestParameters(maildir, dovecot_uidlist_malformed)
{
	static struct uidlist_case cases[] = {
		{ "" }, { "3 N5\n1 :a.b\n" }, { "3 V0 N5\n" },
		{ "3 V1 N5\n2 :a.b\n1 :c.d\n" }, { "3 V1 N5\nx :a.b\n" },
		{ "3 V1 N5\n1 a.b\n" }, { "3 V1 N5\n1 :../a\n" },
		{ "2 V1 N5\n" }, { "1 1\n" }, { "1 9 x\n" },
		{ "3 V1 N5\n1 :\n" }, { "3 V99999999999 N5\n" },
	};
	return cr_make_param_array(struct uidlist_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct uidlist_case *c, maildir, dovecot_uidlist_malformed)
{
	struct mailbox *mb;
	char	 p[4096];

	tl_deliver(root, "a.b", "x\n");
	cr_assert(str_printf(p, sizeof(p), "%s/dovecot-uidlist", root));
	tl_write(p, c->text, strlen(c->text));
	mb = open_inbox(0);
	cr_assert_eq(mailbox_count(mb), 1);
	cr_assert_eq(uid_at(mb, 1), 1, "\"%s\" was used", c->text);
	cr_assert_neq(mailbox_uidvalidity(mb), 1);
	mailbox_close(&mb);
}

Test(maildir, dovecot_uidlist_version1)
{
	struct mailbox *mb;
	char	 p[4096];

	tl_deliver(root, "a.b", "x\n");
	cr_assert(str_printf(p, sizeof(p), "%s/dovecot-uidlist", root));
	tl_write(p, "1 4242 3\n2 a.b:2,S\n", 19);
	mb = open_inbox(0);
	cr_assert_eq(mailbox_uidvalidity(mb), 4242);
	cr_assert_eq(uid_at(mb, 1), 2);
	cr_assert_eq(mailbox_uidnext(mb), 3);
	mailbox_close(&mb);
}

Test(maildir, copy_links_within_maildir)
{
	struct mailbox *a, *b;
	struct mailbox_msg m;
	struct stat st;
	struct fail f;
	const char *kw[] = { "Keep" };
	uint32_t uid = 0, one = 1;
	char	 p[4096], *got;
	size_t	 len;

	tl_deliver(root, "1.a", "Subject: c\n\nbody\n");
	a = open_inbox(0);
	cr_assert_eq(mailbox_store(a, &one, 1, MAILBOX_FLAGS_ADD,
	    MAILBOX_FLAGGED, kw, 1, 0, NULL, NULL, NULL), 0);
	b = mailbox_open(&loc, "Archive", MAILBOX_CREATE, &f);
	cr_assert_not_null(b);
	cr_assert_eq(mailbox_copy(a, 1, b, &uid, &f), 0, "%s", f.text);
	cr_assert_eq(uid, 1);
	cr_assert_eq(mailbox_copy(a, 2, b, &uid, &f), -1);
	must_sync(b, NULL);
	cr_assert_eq(mailbox_count(b), 1);
	cr_assert_eq(mailbox_msg(b, 1, &m), 0);
	cr_assert_eq(m.flags, MAILBOX_FLAGGED);
	cr_assert_eq(m.keywords, 1);
	cr_assert_str_eq(mailbox_keyword_name(b, 0), "Keep");
	got = tl_fetch(b, 1, 5, &len);
	cr_assert_str_eq(got, "Subject: c\r\n\r\nbody\r\n");
	free(got);
	cr_assert(str_printf(p, sizeof(p), "%s/cur/1.a:2,F", root));
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_nlink, 2, "not a hard link");
	/* flags of the copy are its own */
	cr_assert_eq(mailbox_store(b, &uid, 1, MAILBOX_FLAGS_ADD, MAILBOX_SEEN,
	    NULL, 0, 0, NULL, NULL, NULL), 0);
	must_sync(a, NULL);
	cr_assert_eq(mailbox_msg(a, 1, &m), 0);
	cr_assert_eq(m.flags, MAILBOX_FLAGGED);
	mailbox_close(&a);
	mailbox_close(&b);
}

Test(maildir, read_after_outside_renames)
{
	struct mailbox *mb;
	char	 a[4096], b[4096], name[32], *got;
	size_t	 len;
	int	 i;

	for (i = 0; i < 5; i++) {
		cr_assert(str_printf(name, sizeof(name), "%d.x", i));
		tl_deliver(root, name, "m\n");
	}
	mb = open_inbox(0);
	/* another program adds a flag letter to every file; no sync */
	for (i = 0; i < 5; i++) {
		cr_assert(str_printf(a, sizeof(a), "%s/cur/%d.x:2,", root, i));
		cr_assert(str_printf(b, sizeof(b), "%s/cur/%d.x:2,P", root, i));
		cr_assert_eq(rename(a, b), 0);
	}
	for (i = 1; i <= 5; i++) {
		got = tl_fetch(mb, (uint32_t)i, 64, &len);
		cr_assert_str_eq(got, "m\r\n");
		free(got);
	}
	/* our flag change keeps their letter */
	{
		uint32_t uid = 3;

		cr_assert_eq(mailbox_store(mb, &uid, 1, MAILBOX_FLAGS_ADD,
		    MAILBOX_SEEN, NULL, 0, 0, NULL, NULL, NULL), 0);
		cr_assert(str_printf(b, sizeof(b), "%s/cur/2.x:2,PS", root));
		cr_assert_eq(access(b, F_OK), 0);
	}
	mailbox_close(&mb);
}
