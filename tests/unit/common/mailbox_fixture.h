/*
 * mailbox_fixture.h - the scratch Maildir every mailbox test suite starts
 * from (included by one test program each; see mailbox_testlib.h).
 */
#ifndef BUZON_MAILBOX_FIXTURE_H
#define BUZON_MAILBOX_FIXTURE_H

#include <time.h>

#include "mailbox_testlib.h"

static char *root;
static struct mailbox_location loc;

static inline void
setup(void)
{
	root = tl_mkroot();
	loc.root = root;
	loc.format = MAILBOX_MAILDIR;
	loc.mbox_inbox = NULL;
	tl_maildir(root);
}

static inline void
teardown(void)
{
	tl_rmtree(root);
	free(root);
}

static inline struct mailbox *
open_inbox(unsigned int flags)
{
	struct fail f;
	struct mailbox *mb = mailbox_open(&loc, "INBOX", flags, &f);

	cr_assert_not_null(mb, "open: %s", f.text);
	return mb;
}

static inline void
must_sync(struct mailbox *mb, struct mailbox_changes *ch)
{
	struct fail f;

	cr_assert_eq(mailbox_sync(mb, ch, &f), 0, "sync: %s", f.text);
}

static inline uint32_t
uid_at(struct mailbox *mb, uint32_t seq)
{
	struct mailbox_msg m;

	cr_assert_eq(mailbox_msg(mb, seq, &m), 0);
	return m.uid;
}

/* Push every mtime of the folder 10 s back, so no stamp counts as fresh. */
static inline void
age_folder(const char *dir)
{
	struct timespec ts[2];
	char	 p[4096];
	static const char *const sub[] = { "new", "cur", "buzon.index",
	    "buzon.log" };
	size_t	 i;

	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - 10;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	for (i = 0; i < 4; i++) {
		cr_assert(str_printf(p, sizeof(p), "%s/%s", dir, sub[i]));
		(void)utimensat(AT_FDCWD, p, ts, 0);
	}
}

static inline void
check_wire(struct mailbox *mb, uint32_t seq, const char *want, bool raw)
{
	struct mailbox_msg m;
	struct mailbox_stream *st;
	struct fail f;
	char	*got;
	size_t	 len, chunk;
	int	 fd;
	off_t	 off;
	uint64_t rlen;

	cr_assert_eq(mailbox_msg(mb, seq, &m), 0);
	cr_assert_eq(m.wire_size, strlen(want), "seq %u", seq);
	for (chunk = 1; chunk <= 9; chunk += 4) {
		got = tl_fetch(mb, seq, chunk, &len);
		cr_assert_eq(len, m.wire_size);
		cr_assert_str_eq(got, want, "chunk %zu", chunk);
		free(got);
	}
	got = tl_fetch(mb, seq, 65536, &len);
	cr_assert_str_eq(got, want);
	free(got);
	st = mailbox_stream_open(mb, seq, &f);
	cr_assert_not_null(st);
	cr_assert_eq(mailbox_stream_raw(st, &fd, &off, &rlen), raw);
	if (raw) {
		cr_assert_eq(rlen, m.wire_size);
		cr_assert_geq(fd, 0);
	}
	mailbox_stream_close(&st);
}

#endif
