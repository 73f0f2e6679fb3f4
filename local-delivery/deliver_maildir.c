/* SPDX-License-Identifier: MIT */
/*
 * deliver_maildir.c - Maildir delivery and Maildir++ quota
 *
 * A new message is written to tmp/BASE, fsync'd, linked to
 * new/BASE,S=SIZE,W=WIRE and unlinked from tmp/ (a crash leaves at worst a tmp/
 * file, which readers ignore).  BASE is SEC.M<usec>P<pid>Q<seq>.HOST: the
 * microseconds, pid and a per-process counter make it unique on this host,
 * and O_EXCL catches anything else (we then take the next counter value).
 *
 * The quota is counted in maildirsize (Maildir++, common/maildir_quota.h,
 * which imapd's APPEND and COPY keep too): "SIZE 1" is appended after each
 * delivery, and a refusal is always checked against a fresh count, as
 * expunges by other programs are not counted.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "deliver.h"
#include "deliver_private.h"
#include "log.h"
#include "maildir_quota.h"
#include "mem.h"
#include "str.h"

#define NAME_TRIES	100

static unsigned long	 maildir_seq;	/* atomic: queued delivers from
					   several threads */

int
deliver_maildir_name(char *buf, size_t size, time_t sec, long usec,
    pid_t pid, unsigned long seq, const char *host)
{
	struct str	 s;
	int		 rc = 0;

	str_init(&s, size - 1);
	if (str_appendf(&s, "%lld.M%06ldP%ldQ%lu.", (long long)sec, usec,
	    (long)pid, seq) == -1)
		rc = -1;
	for (; rc == 0 && *host != '\0'; host++) {
		if (*host == '/')
			rc = str_append_str(&s, "\\057");
		else if (*host == ':')
			rc = str_append_str(&s, "\\072");
		else
			rc = str_append_c(&s, *host);
	}
	if (rc == 0)
		(void)str_copy(buf, str_c(&s), size);
	str_release(&s);
	return rc;
}

/* Are path and its cur, new and tmp real directories?  1 yes, 0 one is
 * missing, -1 one is a symbolic link (never followed: a Maildir replaced
 * by a link to another directory must not be delivered into) or not a
 * directory, with f set (temporary: the message waits in the queue). */
static int
maildir_check(const char *path, struct fail *f)
{
	static const char *const subs[] = { "", "/cur", "/new", "/tmp" };
	char		 dir[PATH_MAX];
	struct stat	 st;
	size_t		 i;

	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (!str_printf(dir, sizeof(dir), "%s%s", path, subs[i]))
			return fail_set(f, true, "4.3.0", "path too long");
		if (lstat(dir, &st) == -1) {
			if (errno == ENOENT)
				return 0;
			return deliver_fail_errno(f, errno,
			    "cannot open the mailbox");
		}
		if (S_ISLNK(st.st_mode) || !S_ISDIR(st.st_mode)) {
			log_error(NULL, "deliver refused dir=%s reason=%s", dir,
			    S_ISLNK(st.st_mode) ? "symbolic link" :
			    "not a directory");
			return fail_set(f, true, "4.3.0", "mailbox is %s",
			    S_ISLNK(st.st_mode) ? "a symbolic link" :
			    "not a directory");
		}
	}
	return 1;
}

/* Make path (and missing parents), and cur, new, tmp under it. */
static int
maildir_create(struct deliver_batch *b, const char *path, struct fail *f)
{
	static const char *const subs[] = { "cur", "new", "tmp" };
	char		 dir[PATH_MAX];
	size_t		 i;
	int		 rc;

	if ((rc = maildir_check(path, f)) != 0)
		return rc == 1 ? 0 : -1;
	if (deliver_mkdirs(b, path, f) == -1)
		return -1;
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (!str_printf(dir, sizeof(dir), "%s/%s", path, subs[i]))
			return fail_set(f, true, "4.3.0", "path too long");
		if (mkdir(dir, 0700) == 0)
			deliver_batch_dir(b, path);
		else if (errno != EEXIST) {
			log_error(NULL, "deliver mkdir failed dir=%s error=%s",
			    dir, strerror(errno));
			return deliver_fail_errno(f, errno,
			    "cannot create the mailbox");
		}
	}
	log_info(NULL, "deliver created maildir=%s", path);
	/* What is there now must be what we made, not a link. */
	if ((rc = maildir_check(path, f)) != 1)
		return rc == 0 ? fail_set(f, true, "4.3.0",
		    "cannot create the mailbox") : -1;
	return 0;
}

/* ---- quota (common/maildir_quota.h) ---- */

static int
quota_check(const struct deliver_batch *b, const struct deliver_rcpt *r,
    uint64_t size, struct fail *f)
{
	uint64_t	 usage = 0, pending = 0;
	size_t		 i;

	/* A recount sees cur/ and new/: add what this batch still holds. */
	for (i = 0; i < b->npend; i++)
		if (strcmp(b->pend[i].maildir, r->path) == 0)
			pending = deliver_size_add(pending, b->pend[i].size);
	if (maildir_quota_usage(r->path, r->quota, pending, false,
	    &usage) == -1)
		return fail_set(f, true, "4.3.0",
		    "cannot count the mailbox size");
	/* a refusal is checked against a fresh count */
	if (deliver_quota_exceeded(usage, size, r->quota) &&
	    maildir_quota_usage(r->path, r->quota, pending, true,
	    &usage) == -1)
		return fail_set(f, true, "4.3.0",
		    "cannot count the mailbox size");
	if (deliver_quota_exceeded(usage, size, r->quota))
		return fail_set(f, !b->conf->quota_bounce,
		    b->conf->quota_bounce ? "5.2.2" : "4.2.2",
		    "mailbox full: quota exceeded for %s", r->address);
	return 0;
}

/* ---- delivery ---- */

/* Open maildir/sub ("tmp" or "new") with neither component followed if
 * it is a link: what maildir_check() saw may have changed since.  fd, or
 * -1 with errno (ELOOP or ENOTDIR for a link). */
static int
subdir_open(const char *maildir, const char *sub)
{
	int	 root, fd, save;

	root = open(maildir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (root == -1)
		return -1;
	fd = openat(root, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	save = errno;
	(void)close(root);
	errno = save;
	return fd;
}

/* Create tmp/BASE exclusively; fd, or -1 with f set. */
static int
tmp_open(struct deliver_batch *b, const struct deliver_rcpt *r, char *base,
    size_t basesize, char *tmp, size_t tmpsize, struct fail *f)
{
	struct timeval	 tv;
	int		 dfd, fd, i, err;

	if ((dfd = subdir_open(r->path, "tmp")) == -1) {
		log_error(NULL, "deliver open failed dir=%s/tmp error=%s",
		    r->path, strerror(errno));
		return deliver_fail_errno(f, errno, "cannot open the mailbox");
	}
	for (i = 0; i < NAME_TRIES; i++) {
		(void)gettimeofday(&tv, NULL);
		if (deliver_maildir_name(base, basesize, tv.tv_sec,
		    (long)tv.tv_usec, getpid(),
		    __atomic_add_fetch(&maildir_seq, 1, __ATOMIC_RELAXED),
		    deliver_hostname(b->conf)) == -1 ||
		    !str_printf(tmp, tmpsize, "%s/tmp/%s", r->path, base)) {
			(void)close(dfd);
			return fail_set(f, true, "4.3.0", "path too long");
		}
		fd = openat(dfd, base, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd != -1 || errno != EEXIST)
			break;
	}
	err = errno;
	(void)close(dfd);
	if (fd != -1)
		return fd;
	if (i == NAME_TRIES)
		return fail_set(f, true, "4.3.0", "no unique file name");
	log_error(NULL, "deliver open failed file=%s error=%s", tmp,
	    strerror(err));
	return deliver_fail_errno(f, err,
	    "cannot create a file in the mailbox");
}

static void
pending_release(struct deliver_pending *p)
{
	free(p->tmp);
	free(p->dst);
	free(p->newdir);
	free(p->maildir);
}

void
deliver_maildir_discard(struct deliver_batch *b)
{
	size_t	 i;

	for (i = 0; i < b->npend; i++) {
		(void)close(b->pend[i].fd);
		(void)unlink(b->pend[i].tmp);
		pending_release(&b->pend[i]);
	}
	b->npend = 0;
}

/* Move one synced file into new/: link() refuses to replace a file,
 * unlike rename(), which is only the fallback for file systems without
 * hard links.  tmp/ and new/ are opened again without following links,
 * so a Maildir swapped for a link since the file was written is not
 * delivered into either. */
static int
pending_link(struct deliver_pending *p, struct fail *f)
{
	const char	*from = strrchr(p->tmp, '/') + 1;
	const char	*to = strrchr(p->dst, '/') + 1;
	int		 tfd, nfd = -1, rc = -1, err;

	if ((tfd = subdir_open(p->maildir, "tmp")) != -1 &&
	    (nfd = subdir_open(p->maildir, "new")) != -1) {
		if (linkat(tfd, from, nfd, to, 0) == 0) {
			(void)unlinkat(tfd, from, 0);
			rc = 0;
		} else if ((errno == EPERM || errno == ENOTSUP) &&
		    renameat(tfd, from, nfd, to) == 0)
			rc = 0;
	}
	err = errno;
	if (nfd != -1)
		(void)close(nfd);
	if (tfd != -1)
		(void)close(tfd);
	if (rc == 0)
		return 0;
	log_error(NULL, "deliver link failed file=%s error=%s", p->dst,
	    strerror(err));
	(void)unlink(p->tmp);
	return deliver_fail_errno(f, err,
	    "cannot move the message into new/");
}

int
deliver_maildir_flush(struct deliver_batch *b, struct fail *f)
{
	struct deliver_pending	*p;
	size_t			 i;
	int			 rc = 0;

	/* All the fsyncs first: after the first, the journal has usually
	 * written the others' blocks too. */
	for (i = 0; i < b->npend; i++) {
		p = &b->pend[i];
		if (fsync(p->fd) == -1) {
			log_error(NULL, "deliver fsync failed file=%s error=%s",
			    p->tmp, strerror(errno));
			rc = deliver_fail_errno(f, errno,
			    "cannot write the message");
			(void)close(p->fd);
			continue;
		}
		if (close(p->fd) == -1) {
			rc = deliver_fail_errno(f, errno,
			    "cannot write the message");
			continue;
		}
		p->synced = true;
	}
	for (i = 0; i < b->npend; i++) {
		p = &b->pend[i];
		if (!p->synced)
			(void)unlink(p->tmp);
		else if (pending_link(p, f) == -1)
			rc = -1;
		else
			deliver_batch_dir(b, p->newdir);
		pending_release(p);
	}
	b->npend = 0;
	return rc;
}

int
deliver_maildir(struct deliver_batch *b, const struct deliver_rcpt *r,
    const struct deliver_msg *m, struct deliver_result *res, struct fail *f)
{
	struct deliver_out	*o;
	struct deliver_pending	*p;
	char			 base[DELIVER_NAME_MAX], name[DELIVER_NAME_MAX];
	char			 tmp[PATH_MAX], dst[PATH_MAX], newdir[PATH_MAX];
	int			 fd, err;

	if (maildir_create(b, r->path, f) == -1)
		return -1;
	if (r->quota > 0 && quota_check(b, r, deliver_size_add(m->len,
	    deliver_header_len(r)), f) == -1)
		return -1;
	if ((fd = tmp_open(b, r, base, sizeof(base), tmp, sizeof(tmp), f)) ==
	    -1)
		return -1;
	o = xmalloc(sizeof(*o));
	deliver_out_init(o, fd);
	if (deliver_copy(o, r, m, false, f) == -1)
		goto fail;
	if (deliver_out_flush(o) == -1) {
		err = errno;
		log_error(NULL, "deliver write failed file=%s error=%s", tmp,
		    strerror(err));
		(void)deliver_fail_errno(f, err, "cannot write the message");
		goto fail;
	}
	if (!str_printf(name, sizeof(name), "%s,S=%llu,W=%llu", base,
	    (unsigned long long)o->written, (unsigned long long)o->wire) ||
	    !str_printf(newdir, sizeof(newdir), "%s/new", r->path) ||
	    !str_printf(dst, sizeof(dst), "%s/%s", newdir, name)) {
		(void)fail_set(f, true, "4.3.0", "path too long");
		goto fail;
	}
#ifdef SYNC_FILE_RANGE_WRITE
	/* Start the write-back now: the blocks get allocated here, so the
	 * flush's fsyncs find little left to do and share one journal
	 * commit instead of one each (ext4 delayed allocation). */
	(void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
	/* Counted now: should the batch be given up, the count is too high,
	 * which only costs a recount at the next refusal. */
	if (r->quota > 0)
		maildir_quota_add(r->path, o->written);
	/* The fsync and the link into new/ come at the flush. */
	b->pend = xreallocarray(b->pend, b->npend + 1, sizeof(*b->pend));
	p = &b->pend[b->npend++];
	p->fd = fd;
	p->tmp = xstrdup(tmp);
	p->dst = xstrdup(dst);
	p->newdir = xstrdup(newdir);
	p->maildir = xstrdup(r->path);
	p->size = o->written;
	p->synced = false;
	res->size = o->written;
	(void)str_copy(res->name, name, sizeof(res->name));
	free(o);
	if (b->npend >= DELIVER_PENDING_MAX &&
	    deliver_maildir_flush(b, &b->fail) == -1) {
		b->failed = true;
		if (f != NULL)
			*f = b->fail;
		return -1;
	}
	return 0;
fail:
	(void)close(fd);
	(void)unlink(tmp);
	free(o);
	return -1;
}
