/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "mailbox_fixture.h"

TestSuite(mailbox, .init = setup, .fini = teardown);

Test(mailbox, uids_assigned_and_stable)
{
	struct mailbox *mb;
	struct mailbox_msg m;
	uint32_t uidv;
	char	 p[4096];

	tl_deliver(root, "1000.A.host", "Subject: a\n\nbody a\n");
	tl_deliver(root, "1001.B.host", "Subject: b\n\nbody b\n");
	tl_deliver(root, "1002.C.host", "Subject: c\n\nbody c\n");
	mb = open_inbox(0);
	cr_assert_eq(mailbox_count(mb), 3);
	cr_assert_eq(uid_at(mb, 1), 1);
	cr_assert_eq(uid_at(mb, 2), 2);
	cr_assert_eq(uid_at(mb, 3), 3);
	cr_assert_eq(mailbox_uidnext(mb), 4);
	cr_assert_eq(mailbox_msg(mb, 2, &m), 0);
	cr_assert_str_eq(m.key, "1001.B.host");
	cr_assert_eq(mailbox_msg(mb, 4, &m), -1);
	cr_assert_eq(mailbox_msg(mb, 0, &m), -1);
	uidv = mailbox_uidvalidity(mb);
	cr_assert_neq(uidv, 0);
	/* moved to cur/ with an empty info part */
	cr_assert(str_printf(p, sizeof(p), "%s/cur/1000.A.host:2,", root));
	cr_assert_eq(access(p, F_OK), 0);
	cr_assert(str_printf(p, sizeof(p), "%s/new/1000.A.host", root));
	cr_assert_eq(access(p, F_OK), -1);
	mailbox_close(&mb);
	cr_assert_null(mb);

	mb = open_inbox(0);
	cr_assert_eq(mailbox_uidvalidity(mb), uidv);
	cr_assert_eq(mailbox_count(mb), 3);
	cr_assert_eq(mailbox_seq_of_uid(mb, 3), 3);
	cr_assert_eq(mailbox_seq_of_uid(mb, 9), 0);
	cr_assert_eq(mailbox_msg(mb, 3, &m), 0);
	cr_assert_str_eq(m.key, "1002.C.host");
	mailbox_close(&mb);
	mailbox_close(&mb);		/* NULL is fine */
}

Test(mailbox, delivery_seen_at_next_sync)
{
	struct mailbox *mb;
	struct mailbox_changes ch;

	tl_deliver(root, "1.a", "x\n");
	mb = open_inbox(0);
	age_folder(root);
	must_sync(mb, &ch);		/* records the aged stamps */
	age_folder(root);
	must_sync(mb, &ch);
	cr_assert_not(mailbox_has_changed(mb));
	must_sync(mb, &ch);
	cr_assert_eq(ch.new_count, 1);
	cr_assert_eq(ch.n_expunged, 0);
	tl_deliver(root, "2.b", "y\n");
	tl_deliver(root, "3.c", "z\n");
	cr_assert(mailbox_has_changed(mb));
	cr_assert_eq(mailbox_count(mb), 1);	/* the view waits */
	must_sync(mb, &ch);
	cr_assert_eq(ch.old_count, 1);
	cr_assert_eq(ch.new_count, 3);
	cr_assert_eq(mailbox_count(mb), 3);
	cr_assert_eq(uid_at(mb, 3), 3);
	mailbox_close(&mb);
}

Test(mailbox, expunge_by_other_session)
{
	struct mailbox *a, *b;
	struct mailbox_changes ch;
	struct fail f;
	uint32_t uid = 2, *gone;
	size_t	 n;
	uint64_t before;

	tl_deliver(root, "1.a", "a\n");
	tl_deliver(root, "2.b", "b\n");
	tl_deliver(root, "3.c", "c\n");
	a = open_inbox(0);
	b = open_inbox(0);
	before = mailbox_highestmodseq(a);
	cr_assert_eq(mailbox_expunge(b, &uid, 1, &f), 0, "%s", f.text);
	cr_assert_eq(mailbox_count(b), 3);	/* until b syncs too */
	must_sync(a, &ch);
	cr_assert_eq(ch.n_expunged, 1);
	cr_assert_eq(ch.expunged_seqs[0], 2);
	cr_assert_eq(ch.expunged_uids[0], 2);
	cr_assert_eq(ch.new_count, 2);
	cr_assert_eq(uid_at(a, 2), 3);
	cr_assert_gt(mailbox_highestmodseq(a), before);
	cr_assert_eq(mailbox_expunged_since(a, before, &gone, &n), 1);
	cr_assert_eq(n, 1);
	cr_assert_eq(gone[0], 2);
	free(gone);
	cr_assert_eq(mailbox_expunged_since(a, mailbox_highestmodseq(a),
	    &gone, &n), 1);
	cr_assert_eq(n, 0);
	/* a message expunged under a reader is a clean error */
	cr_assert_null(mailbox_stream_open(b, 2, &f));
	cr_assert_not(f.temp);
	mailbox_close(&a);
	mailbox_close(&b);
}

Test(mailbox, uids_never_reused)
{
	struct mailbox *mb;
	struct fail f;
	uint32_t uid = 2;

	tl_deliver(root, "1.a", "a\n");
	tl_deliver(root, "2.b", "b\n");
	mb = open_inbox(0);
	cr_assert_eq(mailbox_expunge(mb, &uid, 1, &f), 0);
	must_sync(mb, NULL);
	tl_deliver(root, "3.c", "c\n");
	must_sync(mb, NULL);
	cr_assert_eq(mailbox_count(mb), 2);
	cr_assert_eq(uid_at(mb, 2), 3);
	mailbox_close(&mb);
	/* and not after reopening either */
	mb = open_inbox(0);
	tl_deliver(root, "4.d", "d\n");
	must_sync(mb, NULL);
	cr_assert_eq(uid_at(mb, 3), 4);
	mailbox_close(&mb);
}

Test(mailbox, wire_sizes_lf_and_crlf)
{
	struct mailbox *mb;

	tl_deliver(root, "1.lf", "Subject: lf\n\nline\n\nlast\n");
	tl_deliver(root, "2.crlf", "Subject: crlf\r\n\r\nline\r\n");
	tl_deliver(root, "3.mixed", "A: b\r\nC: d\n\nbare\rcr\nno-eol");
	tl_deliver(root, "4.empty", "");
	mb = open_inbox(0);
	cr_assert_eq(mailbox_count(mb), 4);
	check_wire(mb, 1, "Subject: lf\r\n\r\nline\r\n\r\nlast\r\n", false);
	check_wire(mb, 2, "Subject: crlf\r\n\r\nline\r\n", true);
	check_wire(mb, 3, "A: b\r\nC: d\r\n\r\nbare\rcr\r\nno-eol", false);
	check_wire(mb, 4, "", true);
	mailbox_close(&mb);
	/* the index keeps the sizes: same answer without reading again */
	mb = open_inbox(0);
	check_wire(mb, 1, "Subject: lf\r\n\r\nline\r\n\r\nlast\r\n", false);
	mailbox_close(&mb);
}

Test(mailbox, flags_round_trip_and_file_names)
{
	struct mailbox *mb, *other;
	struct mailbox_changes ch;
	struct mailbox_msg m;
	struct fail f;
	uint32_t uid = 1;
	uint64_t ms;
	char	 p[4096];
	const char *kw[] = { "$Forwarded", "Work" };
	const char *badkw[] = { "bad kw" };

	tl_deliver(root, "1.a", "a\n");
	tl_deliver(root, "2.b", "b\n");
	mb = open_inbox(0);
	other = open_inbox(0);
	cr_assert_eq(mailbox_msg(mb, 1, &m), 0);
	ms = m.modseq;
	cr_assert_eq(mailbox_store(mb, &uid, 1, MAILBOX_FLAGS_ADD,
	    MAILBOX_SEEN | MAILBOX_FLAGGED, kw, 2, 0, NULL, NULL, &f), 0);
	cr_assert_eq(mailbox_msg(mb, 1, &m), 0);
	cr_assert_eq(m.flags, MAILBOX_SEEN | MAILBOX_FLAGGED);
	cr_assert_gt(m.modseq, ms);
	cr_assert_eq(mailbox_keyword_count(mb), 2);
	cr_assert_str_eq(mailbox_keyword_name(mb, 1), "Work");
	cr_assert_null(mailbox_keyword_name(mb, 2));
	cr_assert_eq(mailbox_keyword_find(mb, "work"), 1);
	cr_assert_eq(mailbox_keyword_find(mb, "nope"), -1);
	cr_assert_eq(m.keywords, 3);
	cr_assert(str_printf(p, sizeof(p), "%s/cur/1.a:2,FS", root));
	cr_assert_eq(access(p, F_OK), 0, "flags not in the file name");

	/* the other session sees it at its next sync */
	must_sync(other, &ch);
	cr_assert_eq(ch.n_changed, 1);
	cr_assert_eq(ch.changed_uids[0], 1);
	cr_assert_eq(mailbox_msg(other, 1, &m), 0);
	cr_assert_eq(m.flags, MAILBOX_SEEN | MAILBOX_FLAGGED);
	cr_assert_eq(mailbox_keyword_count(other), 2);

	cr_assert_eq(mailbox_store(mb, &uid, 1, MAILBOX_FLAGS_REMOVE,
	    MAILBOX_FLAGGED, kw, 1, 0, NULL, NULL, &f), 0);
	cr_assert_eq(mailbox_msg(mb, 1, &m), 0);
	cr_assert_eq(m.flags, MAILBOX_SEEN);
	cr_assert_eq(m.keywords, 2);
	cr_assert(str_printf(p, sizeof(p), "%s/cur/1.a:2,S", root));
	cr_assert_eq(access(p, F_OK), 0);
	cr_assert_eq(mailbox_store(mb, &uid, 1, MAILBOX_FLAGS_REPLACE,
	    MAILBOX_DRAFT | MAILBOX_ANSWERED | MAILBOX_DELETED, NULL, 0, 0,
	    NULL, NULL, &f), 0);
	cr_assert(str_printf(p, sizeof(p), "%s/cur/1.a:2,DRT", root));
	cr_assert_eq(access(p, F_OK), 0);
	/* bad input */
	cr_assert_eq(mailbox_store(mb, &uid, 1, MAILBOX_FLAGS_ADD, 0x100,
	    NULL, 0, 0, NULL, NULL, &f), -1);
	cr_assert_eq(mailbox_store(mb, &uid, 1, MAILBOX_FLAGS_ADD, 0,
	    badkw, 1, 0, NULL, NULL, &f), -1);
	mailbox_close(&mb);
	mailbox_close(&other);

	mb = open_inbox(0);
	cr_assert_eq(mailbox_msg(mb, 1, &m), 0);
	cr_assert_eq(m.flags, MAILBOX_DRAFT | MAILBOX_ANSWERED |
	    MAILBOX_DELETED);
	cr_assert_eq(m.keywords, 0);
	/* \Deleted -> expunge(NULL) takes it */
	cr_assert_eq(mailbox_expunge(mb, NULL, 0, &f), 0);
	must_sync(mb, &ch);
	cr_assert_eq(ch.n_expunged, 1);
	cr_assert_eq(mailbox_count(mb), 1);
	cr_assert_eq(uid_at(mb, 1), 2);
	mailbox_close(&mb);
}

Test(mailbox, unchangedsince)
{
	struct mailbox *mb;
	struct mailbox_msg m;
	struct fail f;
	uint32_t uids[] = { 1, 2 }, *failed;
	size_t	 nf;

	tl_deliver(root, "1.a", "a\n");
	tl_deliver(root, "2.b", "b\n");
	mb = open_inbox(0);
	cr_assert_eq(mailbox_store(mb, &uids[1], 1, MAILBOX_FLAGS_ADD,
	    MAILBOX_SEEN, NULL, 0, 0, NULL, NULL, &f), 0);
	cr_assert_eq(mailbox_msg(mb, 1, &m), 0);
	cr_assert_eq(mailbox_store(mb, uids, 2, MAILBOX_FLAGS_ADD,
	    MAILBOX_FLAGGED, NULL, 0, m.modseq, &failed, &nf, &f), 0);
	cr_assert_eq(nf, 1);
	cr_assert_eq(failed[0], 2);
	free(failed);
	cr_assert_eq(mailbox_msg(mb, 1, &m), 0);
	cr_assert_eq(m.flags, MAILBOX_FLAGGED);
	cr_assert_eq(mailbox_msg(mb, 2, &m), 0);
	cr_assert_eq(m.flags, MAILBOX_SEEN);
	mailbox_close(&mb);
}

Test(mailbox, append_gets_uid)
{
	struct mailbox *mb;
	struct mailbox_msg m;
	struct fail f;
	const char *kw[] = { "Junk" };
	uint32_t uid = 0;
	char	*got;
	size_t	 len;

	tl_deliver(root, "1.a", "a\n");
	mb = open_inbox(0);
	cr_assert_eq(mailbox_append(mb, "Subject: x\r\n\r\nhi\r\n", 19,
	    MAILBOX_SEEN, kw, 1, 1000000000, &uid, &f), 0, "%s", f.text);
	cr_assert_eq(uid, 2);
	cr_assert_eq(mailbox_count(mb), 1);
	must_sync(mb, NULL);
	cr_assert_eq(mailbox_count(mb), 2);
	cr_assert_eq(mailbox_msg(mb, 2, &m), 0);
	cr_assert_eq(m.uid, 2);
	cr_assert_eq(m.flags, MAILBOX_SEEN);
	cr_assert_eq(m.internal_date, 1000000000);
	cr_assert_eq(m.wire_size, 19);
	cr_assert_eq(m.keywords, 1);
	got = tl_fetch(mb, 2, 7, &len);
	cr_assert_str_eq(got, "Subject: x\r\n\r\nhi\r\n");
	free(got);
	cr_assert_eq(mailbox_append(mb, "x", 1, 0x80, NULL, 0, 0, NULL, &f),
	    -1);
	mailbox_close(&mb);
	/* UID survives a reopen, and the file is in cur/ with its flags */
	mb = open_inbox(MAILBOX_RDONLY);
	cr_assert_eq(uid_at(mb, 2), 2);
	cr_assert_eq(mailbox_append(mb, "x", 1, 0, NULL, 0, 0, NULL, &f), -1);
	cr_assert_eq(mailbox_store(mb, &uid, 1, MAILBOX_FLAGS_ADD,
	    MAILBOX_SEEN, NULL, 0, 0, NULL, NULL, &f), -1);
	cr_assert_eq(mailbox_expunge(mb, &uid, 1, &f), -1);
	cr_assert(mailbox_is_readonly(mb));
	cr_assert_eq(mailbox_format(mb), MAILBOX_MAILDIR);
	mailbox_close(&mb);
}

Test(mailbox, cache_blobs)
{
	struct mailbox *a, *b;
	void	*data;
	size_t	 len;

	tl_deliver(root, "1.a", "a\n");
	tl_deliver(root, "2.b", "b\n");
	a = open_inbox(0);
	b = open_inbox(0);
	cr_assert_eq(mailbox_cache_get(a, 1, &data, &len), 0);
	cr_assert_eq(mailbox_cache_put(a, 1, "ENVELOPE-1", 10), 0);
	cr_assert_eq(mailbox_cache_put(a, 2, "E2", 2), 0);
	cr_assert_eq(mailbox_cache_put(a, 1, "ENVELOPE-1b", 11), 0);
	cr_assert_eq(mailbox_cache_put(a, 7, "x", 1), -1);
	cr_assert_eq(mailbox_cache_get(a, 1, &data, &len), 1);
	cr_assert_eq(len, 11);
	cr_assert_eq(memcmp(data, "ENVELOPE-1b", 11), 0);
	free(data);
	cr_assert_eq(mailbox_cache_get(b, 1, &data, &len), 1);
	cr_assert_eq(len, 11);
	cr_assert_eq(memcmp(data, "ENVELOPE-1b", 11), 0);
	free(data);
	cr_assert_eq(mailbox_cache_get(b, 2, &data, &len), 1);
	cr_assert_eq(len, 2);
	free(data);
	cr_assert_eq(mailbox_cache_get(b, 9, &data, &len), 0);
	/* started over under b: b must not hand out uid 2's blob for 1 */
	{
		char	 p[4096], *img;
		size_t	 ilen;

		cr_assert(str_printf(p, sizeof(p), "%s/buzon.cache", root));
		img = tl_read(p, &ilen);
		img[12] ^= 1;	/* a restart: new generation */
		tl_write(p, img, 16);
		free(img);
	}
	cr_assert_eq(mailbox_cache_put(a, 2, "ENVELOPE-2b", 11), 0);
	cr_assert_eq(mailbox_cache_put(a, 2, "ENVELOPE-2c", 11), 0);
	cr_assert_eq(mailbox_cache_get(b, 1, &data, &len), 0);
	cr_assert_eq(mailbox_cache_get(b, 2, &data, &len), 1);
	cr_assert_eq(memcmp(data, "ENVELOPE-2c", 11), 0);
	free(data);
	mailbox_close(&a);
	mailbox_close(&b);
}

Test(mailbox, pop3_lock_is_exclusive)
{
	struct mailbox *a, *b;
	struct fail f;
	pid_t	 pid;
	int	 status;

	a = open_inbox(0);
	b = open_inbox(0);
	cr_assert_eq(mailbox_session_lock(a, &f), 1);
	cr_assert_eq(mailbox_session_lock(a, &f), 1);	/* already ours */
	cr_assert_eq(mailbox_session_lock(b, &f), 0);	/* same process too */
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct mailbox *c = mailbox_open(&loc, "INBOX", 0, NULL);

		_exit(c != NULL && mailbox_session_lock(c, NULL) == 0 ? 0 : 1);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert_eq(WEXITSTATUS(status), 0, "child got the lock");
	/* IMAP work goes on meanwhile */
	tl_deliver(root, "1.a", "a\n");
	must_sync(b, NULL);
	cr_assert_eq(mailbox_count(b), 1);
	mailbox_session_unlock(a);
	cr_assert_eq(mailbox_session_lock(b, &f), 1);
	mailbox_close(&b);		/* close releases it */
	cr_assert_eq(mailbox_session_lock(a, &f), 1);
	mailbox_close(&a);
}

Test(mailbox, watch_paths)
{
	struct mailbox *mb = open_inbox(0);
	const char *p[4];

	cr_assert_eq(mailbox_watch_paths(mb, p, 4), 3);
	cr_assert_not_null(strstr(p[0], "buzon.log"));
	cr_assert_not_null(strstr(p[1], "/new"));
	cr_assert_eq(mailbox_watch_paths(mb, p, 1), 1);
	mailbox_close(&mb);
}

Test(mailbox, missing_folder)
{
	struct fail f;

	cr_assert_null(mailbox_open(&loc, "Nope", 0, &f));
	cr_assert_not(f.temp);
	cr_assert_null(mailbox_open(&loc, "../x", 0, &f));
	cr_assert_not(f.temp);
	cr_assert_null(mailbox_open(&loc, "../x", MAILBOX_CREATE, &f));
}

/* ---- folder names and operations ---- */

struct name_case {
	char	 name[260];
	bool	 ok;
};

ParameterizedTestParameters(mailbox, names)
{
	static struct name_case cases[] = {
		{ "INBOX", true }, { "inbox", true }, { "Sent", true },
		{ "a.b", true }, { "a.b.c", true }, { "Sent Items", true },
		{ "&AOk-t&AOk-", true }, { "~x", true },
		{ "", false }, { "..", false }, { "../x", false },
		{ "a/b", false }, { ".hidden", false }, { "a.", false },
		{ "a..b", false }, { ".", false }, { "a\\b", false },
		{ "a*", false }, { "a%", false }, { "a\tb", false },
		{ "a\nb", false }, { "a\x7f", false }, { "caf\xc3\xa9", false },
		{ "INBOX.x", false }, { "inbox.sub", false },
	};
	return cr_make_param_array(struct name_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct name_case *c, mailbox, names)
{
	cr_assert_eq(mailbox_name_valid(c->name), c->ok, "name \"%s\"",
	    c->name);
}

Test(mailbox, name_lengths)
{
	char	 n[MAILBOX_NAME_MAX + 2];

	memset(n, 'a', sizeof(n));
	n[MAILBOX_NAME_MAX] = '\0';
	cr_assert(mailbox_name_valid(n));
	n[MAILBOX_NAME_MAX] = 'a';
	n[MAILBOX_NAME_MAX + 1] = '\0';
	cr_assert_not(mailbox_name_valid(n));
}

Test(mailbox, folders)
{
	struct mailbox *mb;
	struct fail f;
	char	**v, p[4096];

	cr_assert_eq(mailbox_create(&loc, "Sent", &f), 0);
	cr_assert_eq(mailbox_create(&loc, "Sent", &f), -1);
	cr_assert_not(f.temp);
	cr_assert_eq(mailbox_create(&loc, "a", &f), 0);
	cr_assert_eq(mailbox_create(&loc, "a.b", &f), 0);
	cr_assert_eq(mailbox_create(&loc, "../evil", &f), -1);
	cr_assert_eq(mailbox_create(&loc, "INBOX", &f), 0);
	cr_assert(str_printf(p, sizeof(p), "%s/.a.b/maildirfolder", root));
	cr_assert_eq(access(p, F_OK), 0);
	cr_assert_eq(mailbox_list(&loc, &v, &f), 0);
	cr_assert_str_eq(v[0], "INBOX");
	cr_assert_str_eq(v[1], "Sent");
	cr_assert_str_eq(v[2], "a");
	cr_assert_str_eq(v[3], "a.b");
	cr_assert_null(v[4]);
	mailbox_list_free(&v);
	cr_assert_null(v);

	mb = mailbox_open(&loc, "a.b", 0, &f);
	cr_assert_not_null(mb);
	cr_assert_eq(mailbox_append(mb, "m\n", 2, 0, NULL, 0, 0, NULL, &f), 0);
	mailbox_close(&mb);

	cr_assert_eq(mailbox_rename(&loc, "a", "c", &f), 0, "%s", f.text);
	cr_assert_eq(mailbox_rename(&loc, "c", "c.d", &f), -1);
	cr_assert_eq(mailbox_rename(&loc, "INBOX", "x", &f), -1);
	cr_assert_eq(mailbox_rename(&loc, "nope", "x", &f), -1);
	cr_assert_eq(mailbox_rename(&loc, "c", "Sent", &f), -1);
	cr_assert_eq(mailbox_rename(&loc, "c", "../x", &f), -1);
	mb = mailbox_open(&loc, "c.b", 0, &f);
	cr_assert_not_null(mb, "child did not follow");
	cr_assert_eq(mailbox_count(mb), 1);
	mailbox_close(&mb);

	cr_assert_eq(mailbox_delete(&loc, "c.b", &f), 0);
	cr_assert_eq(mailbox_delete(&loc, "c.b", &f), -1);
	cr_assert_eq(mailbox_delete(&loc, "INBOX", &f), -1);
	cr_assert_eq(mailbox_delete(&loc, "..", &f), -1);
	cr_assert_eq(mailbox_list(&loc, &v, &f), 0);
	cr_assert_str_eq(v[1], "Sent");
	cr_assert_str_eq(v[2], "c");
	cr_assert_null(v[3]);
	mailbox_list_free(&v);

	/* a re-created folder never gets an old UIDVALIDITY back */
	mb = mailbox_open(&loc, "Tmp", MAILBOX_CREATE, &f);
	cr_assert_not_null(mb);
	{
		uint32_t uidv = mailbox_uidvalidity(mb);

		mailbox_close(&mb);
		cr_assert_eq(mailbox_delete(&loc, "Tmp", &f), 0);
		mb = mailbox_open(&loc, "Tmp", MAILBOX_CREATE, &f);
		cr_assert_not_null(mb);
		cr_assert_gt(mailbox_uidvalidity(mb), uidv);
		mailbox_close(&mb);
	}
}

/* ---- LF -> CRLF ---- */

Test(mailbox, crlf_copy_every_split)
{
	static const char in[] = "a\nb\r\n\nc\rd\n\n";
	static const char want[] = "a\r\nb\r\n\r\nc\rd\r\n\r\n";
	char	 out[64], prev;
	size_t	 cut, used, o, n, i;

	for (cut = 0; cut <= sizeof(in) - 1; cut++) {
		prev = '\0';
		o = mailbox_crlf_copy(in, cut, &used, out, sizeof(out), &prev);
		cr_assert_eq(used, cut);
		n = mailbox_crlf_copy(in + cut, sizeof(in) - 1 - cut, &used,
		    out + o, sizeof(out) - o, &prev);
		cr_assert_eq(o + n, sizeof(want) - 1, "cut %zu", cut);
		cr_assert_eq(memcmp(out, want, o + n), 0, "cut %zu", cut);
	}
	/* output room of 2 at a time */
	prev = '\0';
	for (i = 0, o = 0; i < sizeof(in) - 1; i += used)
		o += mailbox_crlf_copy(in + i, sizeof(in) - 1 - i, &used,
		    out + o, 2, &prev);
	cr_assert_eq(o, sizeof(want) - 1);
	cr_assert_eq(memcmp(out, want, o), 0);
	prev = '\0';
	cr_assert_eq(mailbox_crlf_size(in, sizeof(in) - 1, &prev),
	    sizeof(want) - 1);
	prev = '\r';
	cr_assert_eq(mailbox_crlf_size("\n", 1, &prev), 1);
}

/* ---- concurrency ---- */

#define CONC_ITER	60

static void
syncer(int id)
{
	struct mailbox *mb = mailbox_open(&loc, "INBOX", 0, NULL);
	struct mailbox_msg m;
	char	 p[4096];
	uint32_t i, prev;
	FILE	*out;
	int	 it;

	if (mb == NULL)
		_exit(2);
	for (it = 0; it < CONC_ITER; it++) {
		if (mailbox_sync(mb, NULL, NULL) == -1)
			_exit(3);
		for (i = 1, prev = 0; i <= mailbox_count(mb); i++) {
			if (mailbox_msg(mb, i, &m) == -1 || m.uid <= prev)
				_exit(4);
			prev = m.uid;
		}
		if (id == 1 && mailbox_count(mb) > 3 && it % 7 == 0) {
			if (mailbox_msg(mb, 2, &m) == -1 ||
			    mailbox_store(mb, &m.uid, 1, MAILBOX_FLAGS_ADD,
			    MAILBOX_SEEN, NULL, 0, 0, NULL, NULL, NULL) == -1)
				_exit(5);
		}
	}
	if (!str_printf(p, sizeof(p), "%s/seen.%d", root, id) ||
	    (out = fopen(p, "w")) == NULL)
		_exit(6);
	if (mailbox_sync(mb, NULL, NULL) == -1)
		_exit(3);
	for (i = 1; i <= mailbox_count(mb); i++) {
		if (mailbox_msg(mb, i, &m) == -1)
			_exit(7);
		fprintf(out, "%s %u\n", m.key, m.uid);
	}
	fclose(out);
	mailbox_close(&mb);
	_exit(0);
}

Test(mailbox, concurrent_sync_and_delivery)
{
	struct mailbox *mb;
	struct mailbox_msg m;
	pid_t	 pids[3];
	char	 name[64], p[4096], key[256];
	unsigned int uid;
	int	 i, status;
	FILE	*in;

	for (i = 0; i < 3; i++) {
		pids[i] = fork();
		cr_assert_neq(pids[i], -1);
		if (pids[i] == 0) {
			if (i < 2)
				syncer(i);
			for (int k = 0; k < CONC_ITER; k++) {
				(void)str_printf(name, sizeof(name),
				    "%06d.P%d.host", k, (int)getpid());
				tl_deliver(root, name, "Subject: x\n\nbody\n");
			}
			_exit(0);
		}
	}
	for (i = 0; i < 3; i++) {
		cr_assert_eq(waitpid(pids[i], &status, 0), pids[i]);
		cr_assert(WIFEXITED(status));
		cr_assert_eq(WEXITSTATUS(status), 0, "child %d", i);
	}
	mb = open_inbox(0);
	cr_assert_eq(mailbox_count(mb), CONC_ITER, "lost or doubled mail");
	for (i = 1; i <= CONC_ITER; i++) {
		cr_assert_eq(mailbox_msg(mb, (uint32_t)i, &m), 0);
		if (i > 1)
			cr_assert_gt(m.uid, uid_at(mb, (uint32_t)i - 1));
	}
	/* every session saw the same key -> UID map */
	for (i = 0; i < 2; i++) {
		cr_assert(str_printf(p, sizeof(p), "%s/seen.%d", root, i));
		in = fopen(p, "r");
		cr_assert_not_null(in);
		while (fscanf(in, "%255s %u", key, &uid) == 2) {
			uint32_t seq = mailbox_seq_of_uid(mb, uid);

			cr_assert_neq(seq, 0, "uid %u vanished", uid);
			cr_assert_eq(mailbox_msg(mb, seq, &m), 0);
			cr_assert_str_eq(m.key, key, "uid %u changed key", uid);
		}
		fclose(in);
	}
	mailbox_close(&mb);
}

Test(mailbox, own_store_does_not_hide_others_changes)
{
	struct mailbox *a, *b;
	struct mailbox_changes ch;
	uint32_t one = 1, two = 2;

	tl_deliver(root, "1.a", "a\n");
	tl_deliver(root, "2.b", "b\n");
	a = open_inbox(0);
	b = open_inbox(0);
	cr_assert_eq(mailbox_store(b, &two, 1, MAILBOX_FLAGS_ADD,
	    MAILBOX_ANSWERED, NULL, 0, 0, NULL, NULL, NULL), 0);
	cr_assert_eq(mailbox_store(a, &one, 1, MAILBOX_FLAGS_ADD,
	    MAILBOX_SEEN, NULL, 0, 0, NULL, NULL, NULL), 0);
	must_sync(a, &ch);
	cr_assert_eq(ch.n_changed, 1, "b's change was swallowed");
	cr_assert_eq(ch.changed_uids[0], 2);
	mailbox_close(&a);
	mailbox_close(&b);
}

Test(mailbox, stream_of_bad_seq)
{
	struct mailbox *mb = open_inbox(0);
	struct fail f;

	cr_assert_null(mailbox_stream_open(mb, 1, &f));
	cr_assert_null(mailbox_stream_open(mb, 0, &f));
	mailbox_stream_close(NULL == mb ? NULL : &(struct mailbox_stream *){
	    NULL });
	mailbox_close(&mb);
}

Test(mailbox, copy_between_formats)
{
	struct mailbox_location ml = { NULL, MAILBOX_MBOX, NULL };
	struct mailbox *a, *b;
	struct mailbox_msg m;
	struct fail f;
	uint32_t uid = 0, one = 1;
	char	 mroot[4096], *got;
	size_t	 len;

	cr_assert(str_printf(mroot, sizeof(mroot), "%s/mbox", root));
	ml.root = mroot;
	tl_deliver(root, "1.a", "Subject: c\n\nFrom me\n");
	a = open_inbox(0);
	cr_assert_eq(mailbox_store(a, &one, 1, MAILBOX_FLAGS_ADD,
	    MAILBOX_ANSWERED, NULL, 0, 0, NULL, NULL, NULL), 0);
	b = mailbox_open(&ml, "INBOX", 0, &f);
	cr_assert_not_null(b, "%s", f.text);
	cr_assert_eq(mailbox_copy(a, 1, b, &uid, &f), 0, "%s", f.text);
	cr_assert_eq(uid, 1);
	must_sync(b, NULL);
	cr_assert_eq(mailbox_msg(b, 1, &m), 0);
	cr_assert_eq(m.flags, MAILBOX_ANSWERED);
	got = tl_fetch(b, 1, 3, &len);
	cr_assert_str_eq(got, "Subject: c\r\n\r\nFrom me\r\n");
	free(got);
	/* and back */
	cr_assert_eq(mailbox_copy(b, 1, a, &uid, &f), 0, "%s", f.text);
	cr_assert_eq(uid, 2);
	must_sync(a, NULL);
	got = tl_fetch(a, 2, 4096, &len);
	cr_assert_str_eq(got, "Subject: c\r\n\r\nFrom me\r\n");
	free(got);
	mailbox_close(&a);
	mailbox_close(&b);
}

Test(mailbox, stream_seek)
{
	struct mailbox *mb;
	struct mailbox_stream *st;
	struct fail f;
	char	 buf[64];
	ssize_t	 r;
	uint32_t seq;

	tl_deliver(root, "1.lf", "ab\ncd\nef\n");
	tl_deliver(root, "2.crlf", "ab\r\ncd\r\nef\r\n");
	mb = open_inbox(0);
	for (seq = 1; seq <= 2; seq++) {
		st = mailbox_stream_open(mb, seq, &f);
		cr_assert_not_null(st);
		cr_assert_eq(mailbox_stream_seek(st, 4), 0);
		r = mailbox_stream_read(st, buf, 3);
		cr_assert_eq(r, 3);
		cr_assert_eq(memcmp(buf, "cd\r", 3), 0, "seq %u", seq);
		cr_assert_eq(mailbox_stream_seek(st, 2), -1);	/* behind */
		cr_assert_eq(mailbox_stream_seek(st, 8), 0);
		r = mailbox_stream_read(st, buf, sizeof(buf));
		cr_assert_eq(r, 4);
		cr_assert_eq(memcmp(buf, "ef\r\n", 4), 0);
		cr_assert_eq(mailbox_stream_read(st, buf, sizeof(buf)), 0);
		cr_assert_eq(mailbox_stream_seek(st, 99), -1);
		mailbox_stream_close(&st);
	}
	mailbox_close(&mb);
}

static void
mixed_child(int role)
{
	struct mailbox *mb = mailbox_open(&loc, "INBOX", 0, NULL);
	struct mailbox_msg m;
	char	 p[4096], name[64];
	unsigned int expunged = 0;
	uint32_t i, prev;
	FILE	*out;
	int	 it;

	if (mb == NULL)
		_exit(2);
	for (it = 0; it < CONC_ITER; it++) {
		switch (role) {
		case 0:		/* expunges the first message now and then */
			if (mailbox_sync(mb, NULL, NULL) == -1)
				_exit(3);
			if (it % 3 == 0 && mailbox_count(mb) > 0) {
				if (mailbox_msg(mb, 1, &m) == -1 ||
				    mailbox_expunge(mb, &m.uid, 1, NULL) == -1)
					_exit(4);
				expunged++;
			}
			break;
		case 1:		/* flags the last message */
			if (mailbox_sync(mb, NULL, NULL) == -1)
				_exit(3);
			if (mailbox_count(mb) > 0 &&
			    (mailbox_msg(mb, mailbox_count(mb), &m) == -1 ||
			    mailbox_store(mb, &m.uid, 1, MAILBOX_FLAGS_ADD,
			    MAILBOX_SEEN, NULL, 0, 0, NULL, NULL, NULL) == -1))
				_exit(5);
			break;
		case 2:		/* IMAP APPEND */
			if (mailbox_append(mb, "Subject: ap\r\n\r\nx\r\n", 18,
			    0, NULL, 0, 0, NULL, NULL) == -1)
				_exit(6);
			break;
		default:	/* the MDA */
			(void)str_printf(name, sizeof(name), "%06d.D%d.host",
			    it, (int)getpid());
			tl_deliver(root, name, "Subject: x\n\nbody\n");
			break;
		}
		for (i = 1, prev = 0; i <= mailbox_count(mb); i++) {
			if (mailbox_msg(mb, i, &m) == -1 || m.uid <= prev)
				_exit(7);
			prev = m.uid;
		}
	}
	if (role == 0) {
		if (!str_printf(p, sizeof(p), "%s/expunged", root) ||
		    (out = fopen(p, "w")) == NULL)
			_exit(8);
		fprintf(out, "%u\n", expunged);
		fclose(out);
	}
	mailbox_close(&mb);
	_exit(0);
}

Test(mailbox, concurrent_mixed)
{
	struct mailbox *mb;
	struct mailbox_msg m;
	pid_t	 pids[4];
	char	 p[4096];
	unsigned int expunged = 0;
	uint32_t i;
	int	 k, status;
	FILE	*in;

	mb = open_inbox(0);
	mailbox_close(&mb);
	for (k = 0; k < 4; k++) {
		pids[k] = fork();
		cr_assert_neq(pids[k], -1);
		if (pids[k] == 0)
			mixed_child(k);
	}
	for (k = 0; k < 4; k++) {
		cr_assert_eq(waitpid(pids[k], &status, 0), pids[k]);
		cr_assert(WIFEXITED(status));
		cr_assert_eq(WEXITSTATUS(status), 0, "child %d", k);
	}
	cr_assert(str_printf(p, sizeof(p), "%s/expunged", root));
	in = fopen(p, "r");
	cr_assert_not_null(in);
	cr_assert_eq(fscanf(in, "%u", &expunged), 1);
	fclose(in);
	mb = open_inbox(0);
	cr_assert_eq(mailbox_count(mb), 2 * CONC_ITER - expunged,
	    "lost or doubled mail: %u + %u - %u != %u", CONC_ITER, CONC_ITER,
	    expunged, mailbox_count(mb));
	for (i = 2; i <= mailbox_count(mb); i++)
		cr_assert_gt(uid_at(mb, i), uid_at(mb, i - 1));
	cr_assert_eq(mailbox_msg(mb, mailbox_count(mb), &m), 0);
	cr_assert_lt(m.uid, mailbox_uidnext(mb));
	mailbox_close(&mb);
	/* a cold reader (index + log from scratch) agrees */
	mb = open_inbox(0);
	cr_assert_eq(mailbox_count(mb), 2 * CONC_ITER - expunged);
	mailbox_close(&mb);
}
