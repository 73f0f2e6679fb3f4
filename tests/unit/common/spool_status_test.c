/* SPDX-License-Identifier: MIT */
#include <sys/resource.h>
#include <sys/stat.h>

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spool.h"
#include "str.h"

static void
mkrec(struct spool_status_rec *r, uint32_t rcpt, enum spool_rcpt_state st,
    uint64_t until, const char *code, const char *text)
{
	memset(r, 0, sizeof(*r));
	r->rcpt = rcpt;
	r->state = st;
	r->time = 1700000000;
	r->until = until;
	snprintf(r->code, sizeof(r->code), "%s", code);
	snprintf(r->text, sizeof(r->text), "%s", text);
}

/* magic + the records: rcpt 0 deferred twice then delivered, rcpt 1
 * deferred, warned, rcpt 2 bounced then (ignored) deferred, notified. */
static void
sample(struct str *s, size_t *ends, size_t *nends)
{
	struct spool_status_rec	 r;

	str_init(s, 0);
	cr_assert_eq(str_append(s, "\x89" "BZS\r\n\x1a\n", 8), 0);
	*nends = 0;
#define ADD(...) do { mkrec(&r, __VA_ARGS__); \
	cr_assert_eq(spool_status_encode(&r, s), 0); \
	ends[(*nends)++] = s->len; } while (0)
	ADD(0, SPOOL_RCPT_DEFERRED, 1700000300, "4.4.1", "connect timeout");
	ADD(1, SPOOL_RCPT_DEFERRED, 1700000300, "4.2.2", "over quota");
	ADD(0, SPOOL_RCPT_DEFERRED, 1700000900, "4.4.1", "again");
	ADD(2, SPOOL_RCPT_BOUNCED, 0, "5.1.1", "no such user");
	ADD(0, SPOOL_RCPT_DELIVERED, 0, "2.0.0", "maildir");
	ADD(1, SPOOL_RCPT_WARNED, 0, "", "");
	ADD(2, SPOOL_RCPT_DEFERRED, 5, "4.0.0", "must be ignored");
	ADD(2, SPOOL_RCPT_NOTIFIED, 0, "", "");
#undef ADD
}

static void
check_full(const struct spool_rcpt_status *st)
{
	cr_assert_eq(st[0].state, SPOOL_RCPT_DELIVERED);
	cr_assert_eq(st[0].attempts, 2);
	cr_assert_str_eq(st[0].code, "2.0.0");
	cr_assert_eq(st[1].state, SPOOL_RCPT_DEFERRED);
	cr_assert(st[1].warned);
	cr_assert_eq(st[1].until, 1700000300);
	cr_assert_str_eq(st[1].text, "over quota");
	cr_assert_eq(st[2].state, SPOOL_RCPT_BOUNCED);
	cr_assert_str_eq(st[2].code, "5.1.1");
	cr_assert(st[2].notified);
	cr_assert_eq(st[3].state, SPOOL_RCPT_PENDING);
}

Test(spool_status, replay)
{
	struct spool_rcpt_status st[4];
	struct str	 s;
	size_t		 ends[16], n;
	bool		 torn;
	char		 why[200];

	sample(&s, ends, &n);
	memset(st, 0, sizeof(st));
	cr_assert_eq(spool_status_replay(s.data, s.len, st, 4, &torn, why,
	    sizeof(why)), (int64_t)s.len, "%s", why);
	cr_assert_not(torn);
	check_full(st);
	/* a recipient out of range is corruption */
	memset(st, 0, sizeof(st));
	cr_assert_eq(spool_status_replay(s.data, s.len, st, 2, &torn, why,
	    sizeof(why)), SPOOL_ERR_CORRUPT);
	str_release(&s);
}

Test(spool_status, torn_tail_at_every_offset)
{
	struct spool_rcpt_status st[4];
	struct str	 s;
	size_t		 ends[16], n, cut, k;
	int64_t		 good;
	bool		 torn;
	char		 why[200];

	sample(&s, ends, &n);
	for (cut = 0; cut <= s.len; cut++) {
		memset(st, 0, sizeof(st));
		good = spool_status_replay(s.data, cut, st, 4, &torn, why,
		    sizeof(why));
		/* the good length is the last record end at or before cut */
		for (k = n; k > 0 && ends[k - 1] > cut; k--)
			continue;
		cr_assert_eq(good, cut < 8 ? 0 : k > 0 ? (int64_t)ends[k - 1] :
		    8, "cut %zu: %s", cut, why);
		cr_assert_eq(torn, cut != (size_t)good, "cut %zu", cut);
	}
	str_release(&s);
}

Test(spool_status, bad_crc_last_is_torn_middle_is_corrupt)
{
	struct spool_rcpt_status st[4];
	struct str	 s;
	size_t		 ends[16], n;
	bool		 torn;
	char		 why[200];

	sample(&s, ends, &n);
	s.data[s.len - 6] ^= 0x20;		/* in the last record */
	memset(st, 0, sizeof(st));
	cr_assert_eq(spool_status_replay(s.data, s.len, st, 4, &torn, why,
	    sizeof(why)), (int64_t)ends[n - 2]);
	cr_assert(torn);
	cr_assert_not(st[2].notified);
	s.data[s.len - 6] ^= 0x20;
	s.data[ends[1] - 6] ^= 0x20;		/* in the second record */
	memset(st, 0, sizeof(st));
	cr_assert_eq(spool_status_replay(s.data, s.len, st, 4, &torn, why,
	    sizeof(why)), SPOOL_ERR_CORRUPT);
	s.data[ends[1] - 6] ^= 0x20;
	s.data[ends[1]] = 'X';			/* bad type, data after */
	cr_assert_eq(spool_status_replay(s.data, s.len, st, 4, &torn, why,
	    sizeof(why)), ends[1], "%s", why);	/* small log: torn */
	str_release(&s);
}

Test(spool_status, bad_magic_and_garbage)
{
	struct spool_rcpt_status st[1];
	char		 buf[3000], why[200];
	bool		 torn;
	int64_t		 rc;
	unsigned int	 seed = 7;
	size_t		 i, round;

	cr_assert_eq(spool_status_replay("BZS", 3, st, 1, &torn, why,
	    sizeof(why)), SPOOL_ERR_CORRUPT);
	cr_assert_eq(spool_status_replay("\x89" "BZQ\r\n\x1a\n", 8, st, 1,
	    &torn, why, sizeof(why)), SPOOL_ERR_CORRUPT);
	cr_assert_eq(spool_status_replay("", 0, st, 1, &torn, why,
	    sizeof(why)), 0);
	cr_assert_not(torn);
	for (round = 0; round < 300; round++) {
		memcpy(buf, "\x89" "BZS\r\n\x1a\n", 8);
		for (i = 8; i < sizeof(buf); i++)
			buf[i] = (char)rand_r(&seed);
		memset(st, 0, sizeof(st));
		rc = spool_status_replay(buf, sizeof(buf), st, 1, &torn, why,
		    sizeof(why));
		cr_assert(rc == SPOOL_ERR_CORRUPT || (rc == 8 && torn));
		cr_assert_eq(st[0].state, SPOOL_RCPT_PENDING);
	}
}

Test(spool_status, encode_rejects_bad_records)
{
	struct spool_status_rec	 r;
	struct str		 s;

	str_init(&s, 0);
	mkrec(&r, 0, SPOOL_RCPT_PENDING, 0, "", "");
	cr_assert_eq(spool_status_encode(&r, &s), -1);
	mkrec(&r, 0, SPOOL_RCPT_STATE_COUNT, 0, "", "");
	cr_assert_eq(spool_status_encode(&r, &s), -1);
	mkrec(&r, 0, SPOOL_RCPT_DEFERRED, 0, "", "");
	memset(r.code, 'x', sizeof(r.code));		/* no NUL */
	cr_assert_eq(spool_status_encode(&r, &s), -1);
	cr_assert_eq(s.len, 0);
	str_release(&s);
}

static int
tmpdir(char *path, size_t size)
{
	int	 fd;

	snprintf(path, size, "/tmp/spool_status_test.XXXXXX");
	cr_assert_not_null(mkdtemp(path));
	fd = open(path, O_RDONLY | O_DIRECTORY);
	cr_assert_neq(fd, -1);
	return fd;
}

static void
rmtree(const char *path)
{
	char	 cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	cr_assert_eq(system(cmd), 0);
}

Test(spool_status, open_append_reopen_cuts_torn_tail)
{
	struct spool_rcpt_status st[4];
	struct spool_status_rec	 r;
	struct spool_status_log	*log;
	struct fail		 f;
	struct stat		 sb;
	char			 dir[64], id[SPOOL_ID_LEN + 1], why[200];
	bool			 torn;
	off_t			 good;
	int			 dfd, fd;

	dfd = tmpdir(dir, sizeof(dir));
	spool_id_new(id, NULL, NULL);
	memset(st, 0, sizeof(st));
	cr_assert_eq(spool_status_load(dfd, id, st, 4, &torn, why,
	    sizeof(why)), 0);			/* absent = empty */
	cr_assert_eq(spool_status_open(dfd, id, st, 4, &log, why,
	    sizeof(why)), 0, "%s", why);
	mkrec(&r, 3, SPOOL_RCPT_DEFERRED, 99, "4.4.1", "later");
	cr_assert_eq(spool_status_append(log, &r, false, &f), 0);
	mkrec(&r, 1, SPOOL_RCPT_DELIVERED, 0, "2.0.0", "ok");
	cr_assert_eq(spool_status_append(log, &r, true, &f), 0);
	spool_status_close(&log);
	cr_assert_null(log);
	cr_assert_eq(fstatat(dfd, id, &sb, 0), 0);
	good = sb.st_size;

	/* a crash mid-append: half a record at the end */
	fd = openat(dfd, id, O_WRONLY | O_APPEND);
	cr_assert_eq(write(fd, "S\0\0\0\x30garbage", 12), 12);
	close(fd);
	memset(st, 0, sizeof(st));
	cr_assert_eq(spool_status_load(dfd, id, st, 4, &torn, why,
	    sizeof(why)), 0);
	cr_assert(torn);
	cr_assert_eq(st[1].state, SPOOL_RCPT_DELIVERED);
	cr_assert_eq(st[3].state, SPOOL_RCPT_DEFERRED);

	memset(st, 0, sizeof(st));
	cr_assert_eq(spool_status_open(dfd, id, st, 4, &log, why,
	    sizeof(why)), 0, "%s", why);
	cr_assert_eq(fstatat(dfd, id, &sb, 0), 0);
	cr_assert_eq(sb.st_size, good);		/* tail cut off */
	mkrec(&r, 3, SPOOL_RCPT_DELIVERED, 0, "2.0.0", "ok");
	cr_assert_eq(spool_status_append(log, &r, true, &f), 0);
	spool_status_close(&log);
	memset(st, 0, sizeof(st));
	cr_assert_eq(spool_status_load(dfd, id, st, 4, &torn, why,
	    sizeof(why)), 0);
	cr_assert_not(torn);
	cr_assert_eq(st[3].state, SPOOL_RCPT_DELIVERED);
	cr_assert_eq(st[3].attempts, 1);
	cr_assert_eq(spool_status_remove(dfd, id), 0);
	cr_assert_eq(spool_status_remove(dfd, id), 0);
	cr_assert_eq(spool_status_remove(dfd, "../x"), -1);
	close(dfd);
	rmtree(dir);
}

Test(spool_status, failed_append_leaves_no_torn_record)
{
	struct spool_rcpt_status st[1];
	struct spool_status_rec	 r;
	struct spool_status_log	*log;
	struct rlimit		 rl;
	struct stat		 sb;
	struct fail		 f;
	char			 dir[64], id[SPOOL_ID_LEN + 1], why[200];
	bool			 torn;
	int			 dfd;

	dfd = tmpdir(dir, sizeof(dir));
	spool_id_new(id, NULL, NULL);
	memset(st, 0, sizeof(st));
	cr_assert_eq(spool_status_open(dfd, id, st, 1, &log, why,
	    sizeof(why)), 0);
	signal(SIGXFSZ, SIG_IGN);
	rl.rlim_cur = rl.rlim_max = 8 + 30;	/* room for part of one */
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	mkrec(&r, 0, SPOOL_RCPT_DEFERRED, 1, "4.4.1", "a long enough text");
	cr_assert_eq(spool_status_append(log, &r, true, &f), -1);
	cr_assert_str_eq(f.code, "4.3.1");
	cr_assert_eq(fstatat(dfd, id, &sb, 0), 0);
	cr_assert_eq(sb.st_size, 8);
	spool_status_close(&log);
	cr_assert_eq(spool_status_load(dfd, id, st, 1, &torn, why,
	    sizeof(why)), 0);
	cr_assert_not(torn);
	close(dfd);
	rmtree(dir);
}
