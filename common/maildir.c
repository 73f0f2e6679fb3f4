/* SPDX-License-Identifier: MIT */
/*
 * maildir.c - the Maildir backend (cr.yp.to/proto/maildir.html, Maildir++)
 *
 * A message's storage key is its file's base name (before ":2,"); its
 * flags live both in the index and in the name's info part, letters in
 * ASCII order: D draft, F flagged, R answered, S seen, T deleted (other
 * letters, e.g. P or Dovecot's lowercase keywords, are kept as found).
 * Deliveries write tmp/ and rename into new/ without any lock; the sync
 * (under the index lock) moves new/ files to cur/ with ":2," and gives them
 * UIDs in name order (names start with the delivery time).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "mailbox_private.h"
#include "mem.h"
#include "str.h"

static const struct {
	char		 c;
	unsigned int	 flag;
} letters[] = {
	{ 'D', MAILBOX_DRAFT }, { 'F', MAILBOX_FLAGGED },
	{ 'R', MAILBOX_ANSWERED }, { 'S', MAILBOX_SEEN },
	{ 'T', MAILBOX_DELETED },
};

static unsigned int
name_flags(const char *name)
{
	const char *info = strstr(name, ":2,");
	unsigned int f = 0;
	size_t	 i;

	if (info == NULL)
		return 0;
	for (info += 3; *info != '\0'; info++)
		for (i = 0; i < sizeof(letters) / sizeof(letters[0]); i++)
			if (*info == letters[i].c)
				f |= letters[i].flag;
	return f;
}

/* key + ":2," + our letters and any others of old, in ASCII order. */
static char *
name_with_flags(const char *key, unsigned int flags, const char *old)
{
	const char *info = old != NULL ? strstr(old, ":2,") : NULL;
	bool	 have[128];
	char	 buf[MBIDX_KEY_MAX + 140];
	size_t	 i, o;
	int	 c;

	memset(have, 0, sizeof(have));
	if (info != NULL)
		for (info += 3; *info != '\0'; info++)
			if ((unsigned char)*info < 128 &&
			    ((*info >= 'a' && *info <= 'z') ||
			    (*info >= 'A' && *info <= 'Z')))
				have[(unsigned char)*info] = true;
	for (i = 0; i < sizeof(letters) / sizeof(letters[0]); i++)
		have[(unsigned char)letters[i].c] =
		    (flags & letters[i].flag) != 0;
	o = strlen(key);
	BUZ_ASSERT(o <= MBIDX_KEY_MAX);
	memcpy(buf, key, o);
	memcpy(buf + o, ":2,", 3);
	o += 3;
	for (c = 'A'; c <= 'z'; c++)
		if (have[c])
			buf[o++] = (char)c;
	buf[o] = '\0';
	return xstrdup(buf);
}

static bool
key_ok(const char *k, size_t len)
{
	size_t	 i;

	if (len == 0 || len > MBIDX_KEY_MAX || k[0] == '.')
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)k[i] <= 0x20 ||
		    (unsigned char)k[i] >= 0x7f || k[i] == '/')
			return false;
	return true;
}

static bool
recent(int64_t ns)
{
	return ns >= ((int64_t)time(NULL) - 2) * 1000000000LL;
}

/* Wire size of a file: from ",W=n" in its name if there, else by reading. */
static int
file_wire_size(int dirfd, const char *name, uint64_t *wire_r, struct stat *st)
{
	const char *w = strstr(name, ",W=");
	char	 num[24], buf[65536], prev = '\0';
	size_t	 i;
	ssize_t	 r;
	int	 fd;

	if ((fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, st) == -1 || !S_ISREG(st->st_mode)) {
		close(fd);
		return -1;
	}
	if (w != NULL) {
		for (i = 0, w += 3; i < sizeof(num) - 1 && w[i] >= '0' &&
		    w[i] <= '9'; i++)
			num[i] = w[i];
		num[i] = '\0';
		if (strnum_u64(num, (uint64_t)st->st_size,
		    2 * (uint64_t)st->st_size, wire_r) == 0) {
			close(fd);
			return 0;
		}
	}
	*wire_r = 0;
	while ((r = read(fd, buf, sizeof(buf))) != 0) {
		if (r == -1) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		*wire_r += mailbox_crlf_size(buf, (size_t)r, &prev);
	}
	close(fd);
	return 0;
}

/* Move every file of new/ to cur/ with an empty info part; returns how
 * many moved, -1 if new/ cannot be read. */
static int
move_new(struct mailbox *mb)
{
	DIR	*d;
	struct dirent *de;
	char	 to[MBIDX_KEY_MAX + 8];
	int	 n = 0, nfd, cfd;

	if ((d = opendir(mb->new_dir)) == NULL)
		return -1;
	nfd = dirfd(d);
	if ((cfd = open(mb->cur_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1) {
		closedir(d);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		const char *colon = strchr(de->d_name, ':');
		size_t	 klen = colon != NULL ? (size_t)(colon - de->d_name) :
		    strlen(de->d_name);

		if (de->d_name[0] == '.' || !key_ok(de->d_name, klen))
			continue;
		if (!str_printf(to, sizeof(to), "%s%s", de->d_name,
		    colon != NULL ? "" : ":2,"))
			continue;
		if (renameat(nfd, de->d_name, cfd, to) == 0)
			n++;
		else if (errno != ENOENT)
			log_warn(NULL, "maildir cannot move %s to cur: %s",
			    de->d_name, strerror(errno));
	}
	close(cfd);
	closedir(d);
	return n;
}

struct keyref {
	const char	*key;
	size_t		 i;
};

static int
keyref_cmp(const void *a, const void *b)
{
	return strcmp(((const struct keyref *)a)->key,
	    ((const struct keyref *)b)->key);
}

static int
str_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct newmsg {
	const char	*name;
	size_t		 klen;
	uint32_t	 uid;		/* from dovecot-uidlist, else 0 */
	bool		 dup;
};

/* Imported UIDs first, ascending, then the rest in name order. */
static int
newmsg_cmp(const void *a, const void *b)
{
	const struct newmsg *x = a, *y = b;

	if (x->uid != 0 && y->uid != 0)
		return x->uid < y->uid ? -1 : x->uid > y->uid;
	if (x->uid != 0 || y->uid != 0)
		return x->uid != 0 ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* A folder seen for the first time (index just built, empty) that came
 * from Dovecot keeps its UIDVALIDITY and UIDs. */
static void
import_uidlist(struct mailbox *mb, struct mbidx *idx, struct newmsg *nm,
    size_t n)
{
	struct uidlist ul;
	char	*path, *done, key[MBIDX_KEY_MAX + 1];
	size_t	 i;
	bool	 any = false;

	if (idx->n != 0 || idx->uidnext != 1 || idx->n_exp != 0)
		return;
	path = mailbox_path_join(mb->path, "dovecot-uidlist");
	if (maildir_uidlist_read(path, &ul) == 1) {
		for (i = 0; i < n; i++) {
			if (nm[i].dup || nm[i].klen > MBIDX_KEY_MAX)
				continue;
			memcpy(key, nm[i].name, nm[i].klen);
			key[nm[i].klen] = '\0';
			if ((nm[i].uid = maildir_uidlist_find(&ul, key)) != 0)
				any = true;
		}
		idx->uidvalidity = ul.uidvalidity;
		idx->uidnext = ul.uidnext;
		if (any)
			qsort(nm, n, sizeof(*nm), newmsg_cmp);
		maildir_uidlist_free(&ul);
		done = mailbox_path_join(mb->path, "dovecot-uidlist.imported");
		if (rename(path, done) == -1)
			log_warn(NULL, "cannot rename %s: %s", path,
			    strerror(errno));
		log_info(NULL, "imported dovecot-uidlist path=%s "
		    "uidvalidity=%u", mb->path, idx->uidvalidity);
		free(done);
	}
	free(path);
}

static int
maildir_sync(struct mailbox *mb, struct mbidx *idx, bool *dirty,
    struct fail *f)
{
	struct stat sn, sc, st;
	struct newmsg *nm;
	struct keyref *refs, want, *hit;
	DIR	*d;
	struct dirent *de;
	char	**fresh = NULL, kbuf[MBIDX_KEY_MAX + 1];
	size_t	 i, n_fresh = 0, cap_fresh = 0;
	int	 iter, moved, cfd;

	if (stat(mb->new_dir, &sn) == -1 || stat(mb->cur_dir, &sc) == -1)
		return fail_set(f, true, "4.3.0", "mailbox is gone");
	if (idx->st_mtime_ns == stat_mtime_ns(&sn) &&
	    !recent(stat_mtime_ns(&sn)) &&
	    idx->st2_mtime_ns == stat_mtime_ns(&sc) &&
	    !recent(stat_mtime_ns(&sc)))
		return 0;	/* nothing delivered, moved or renamed */
	/* Record new/'s mtime from a pass that moved nothing, so a delivery
	 * after it shows as a new mtime. */
	for (iter = 0; iter < 10; iter++) {
		if (stat(mb->new_dir, &sn) == -1)
			return fail_set(f, true, "4.3.0", "mailbox is gone");
		if ((moved = move_new(mb)) == -1)
			return fail_set(f, true, "4.3.0", "cannot read new/");
		if (moved == 0)
			break;
	}
	if (stat(mb->cur_dir, &sc) == -1 || (d = opendir(mb->cur_dir)) == NULL)
		return fail_set(f, true, "4.3.0", "cannot read cur/");
	cfd = dirfd(d);
	refs = xreallocarray(NULL, idx->n + 1, sizeof(*refs));
	for (i = 0; i < idx->n; i++) {
		refs[i].key = idx->recs[i].key != NULL ? idx->recs[i].key : "";
		refs[i].i = i;
		idx->recs[i].seen_on_disk = false;
	}
	qsort(refs, idx->n, sizeof(*refs), keyref_cmp);
	while ((de = readdir(d)) != NULL) {
		const char *colon = strchr(de->d_name, ':');
		size_t	 klen = colon != NULL ? (size_t)(colon - de->d_name) :
		    strlen(de->d_name);
		struct mbidx_rec *m;
		unsigned int nf;

		if (de->d_name[0] == '.' || !key_ok(de->d_name, klen))
			continue;
		memcpy(kbuf, de->d_name, klen);
		kbuf[klen] = '\0';
		want.key = kbuf;
		hit = bsearch(&want, refs, idx->n, sizeof(*refs), keyref_cmp);
		if (hit == NULL) {
			if (n_fresh == cap_fresh) {
				cap_fresh = cap_fresh < 64 ? 64 : cap_fresh * 2;
				fresh = xreallocarray(fresh, cap_fresh,
				    sizeof(*fresh));
			}
			fresh[n_fresh++] = xstrdup(de->d_name);
			continue;
		}
		m = &idx->recs[hit->i];
		if (m->seen_on_disk)
			continue;	/* same key twice: keep the first */
		m->seen_on_disk = true;
		if (m->fname == NULL || strcmp(m->fname, de->d_name) != 0) {
			free(m->fname);
			m->fname = xstrdup(de->d_name);
		}
		nf = name_flags(de->d_name);
		if ((m->flags & MAILBOX_FLAGS_ALL) != nf) {
			/* Another program changed the flags in the name. */
			m->flags = (m->flags & MBR_INTERNAL) | nf;
			m->modseq = ++idx->highestmodseq;
			*dirty = true;
		}
	}
	free(refs);
	for (i = idx->n; i-- > 0;) {
		if (!idx->recs[i].seen_on_disk) {
			mbidx_expunge_at(idx, i);
			*dirty = true;
		}
	}
	if (n_fresh > 0)
		qsort(fresh, n_fresh, sizeof(*fresh), str_ptr_cmp);
	nm = xreallocarray(NULL, n_fresh + 1, sizeof(*nm));
	for (i = 0; i < n_fresh; i++) {
		const char *colon = strchr(fresh[i], ':');

		nm[i].name = fresh[i];
		nm[i].klen = colon != NULL ? (size_t)(colon - fresh[i]) :
		    strlen(fresh[i]);
		nm[i].uid = 0;
		nm[i].dup = i > 0 && nm[i - 1].klen == nm[i].klen &&
		    strncmp(fresh[i - 1], fresh[i], nm[i].klen) == 0;
	}
	import_uidlist(mb, idx, nm, n_fresh);
	for (i = 0; i < n_fresh; i++) {
		struct mbidx_rec *m;
		uint64_t wire;
		uint32_t uid;

		if (nm[i].dup)
			continue;	/* same key twice: keep the first */
		if (file_wire_size(cfd, nm[i].name, &wire, &st) == -1)
			continue;	/* vanished meanwhile */
		if (nm[i].uid != 0)
			uid = nm[i].uid;
		else if (idx->uidnext == UINT32_MAX)
			break;	/* out of UIDs: needs a new UIDVALIDITY */
		else
			uid = idx->uidnext++;
		m = mbidx_add(idx, uid);
		m->key = xstrndup(nm[i].name, nm[i].klen);
		m->fname = xstrdup(nm[i].name);
		m->flags = name_flags(nm[i].name);
		m->modseq = ++idx->highestmodseq;
		m->idate = st.st_mtim.tv_sec;
		m->raw_size = (uint64_t)st.st_size;
		m->wire_size = wire;
		m->seen_on_disk = true;
		*dirty = true;
	}
	free(nm);
	for (i = 0; i < n_fresh; i++)
		free(fresh[i]);
	free(fresh);
	closedir(d);
	if (idx->st_mtime_ns != stat_mtime_ns(&sn) ||
	    idx->st2_mtime_ns != stat_mtime_ns(&sc)) {
		idx->st_mtime_ns = stat_mtime_ns(&sn);
		idx->st2_mtime_ns = stat_mtime_ns(&sc);
		*dirty = true;
	}
	return 0;
}

/* Find the current file name of m's key in cur/ (after a rename by
 * another program, or a guess from the flags that was wrong).  The same
 * listing refreshes every file name of the view, so a FETCH over the
 * whole folder lists cur/ once, not once per message.  Sets m->fname;
 * -1 (errno ENOENT) if the message is gone. */
static int
find_fname(struct mailbox *mb, struct mbidx_rec *m)
{
	struct mbidx *v = &mb->view;
	struct keyref *refs, want, *hit;
	DIR	*d;
	struct dirent *de;
	char	 kbuf[MBIDX_KEY_MAX + 1];
	size_t	 klen = strlen(m->key), i, n = 0, dl;
	int	 rc = -1;

	if ((d = opendir(mb->cur_dir)) == NULL)
		return -1;
	refs = xreallocarray(NULL, v->n + 1, sizeof(*refs));
	for (i = 0; i < v->n; i++)
		if (v->recs[i].key != NULL) {
			refs[n].key = v->recs[i].key;
			refs[n++].i = i;
		}
	qsort(refs, n, sizeof(*refs), keyref_cmp);
	while ((de = readdir(d)) != NULL) {
		dl = strcspn(de->d_name, ":");
		if (dl == klen && strncmp(de->d_name, m->key, klen) == 0) {
			free(m->fname);
			m->fname = xstrdup(de->d_name);
			rc = 0;
		}
		if (dl > MBIDX_KEY_MAX || n == 0)
			continue;
		memcpy(kbuf, de->d_name, dl);
		kbuf[dl] = '\0';
		want.key = kbuf;
		hit = bsearch(&want, refs, n, sizeof(*refs), keyref_cmp);
		if (hit != NULL && &v->recs[hit->i] != m &&
		    (v->recs[hit->i].fname == NULL ||
		    strcmp(v->recs[hit->i].fname, de->d_name) != 0)) {
			free(v->recs[hit->i].fname);
			v->recs[hit->i].fname = xstrdup(de->d_name);
		}
	}
	closedir(d);
	free(refs);
	if (rc == -1)
		errno = ENOENT;
	return rc;
}

static int
open_cur(struct mailbox *mb, struct mbidx_rec *m)
{
	char	*p;
	int	 fd, tries;

	if (m->key == NULL)
		return -1;
	if (m->fname == NULL)
		m->fname = name_with_flags(m->key, m->flags, NULL);
	for (tries = 0; tries < 2; tries++) {
		p = mailbox_path_join(mb->cur_dir, m->fname);
		fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		free(p);
		if (fd != -1 || errno != ENOENT || find_fname(mb, m) == -1)
			return fd;
	}
	return -1;
}

static int
maildir_open_msg(struct mailbox *mb, const struct mbidx_rec *cm,
    struct mailbox_stream *st, struct fail *f)
{
	struct mbidx_rec *m = (struct mbidx_rec *)(uintptr_t)cm;
	struct stat sb;
	int	 fd;

	if ((fd = open_cur(mb, m)) == -1) {
		if (errno == ENOENT)
			return fail_set(f, false, "5.2.0",
			    "message was expunged");
		return fail_set(f, true, "4.3.0", "cannot open message");
	}
	if (fstat(fd, &sb) == -1) {
		close(fd);
		return fail_set(f, true, "4.3.0", "cannot open message");
	}
	st->fd = fd;
	st->own_fd = true;
	st->off = 0;
	st->end = (uint64_t)sb.st_size;
	st->raw_ok = m->wire_size == (uint64_t)sb.st_size;
	return 0;
}

static int
maildir_set_flags(struct mailbox *mb, struct mbidx_rec *m,
    unsigned int old_flags, struct fail *f)
{
	char	*to, *a, *b;
	int	 tries, rc = -1;

	(void)f;
	if (m->key == NULL)
		return -1;
	/* Our own renames leave exactly these letters; guess before
	 * listing cur/ (a STORE on 1:* must not read cur/ per message). */
	if (m->fname == NULL)
		m->fname = name_with_flags(m->key, old_flags, NULL);
	for (tries = 0; tries < 2 && rc == -1; tries++) {
		to = name_with_flags(m->key, m->flags, m->fname);
		if (strcmp(to, m->fname) == 0) {
			free(to);
			return 0;
		}
		a = mailbox_path_join(mb->cur_dir, m->fname);
		b = mailbox_path_join(mb->cur_dir, to);
		rc = rename(a, b);
		free(a);
		free(b);
		if (rc == 0) {
			free(m->fname);
			m->fname = to;
		} else {
			free(to);
			if (errno != ENOENT || find_fname(mb, m) == -1)
				break;
		}
	}
	return rc;
}

static int
maildir_expunge(struct mailbox *mb, struct mbidx *idx, const bool *doomed,
    struct fail *f)
{
	size_t	 i;
	char	*p;

	(void)f;
	for (i = idx->n; i-- > 0;) {
		struct mbidx_rec *m = &idx->recs[i];

		if (!doomed[i])
			continue;
		if (m->fname == NULL)
			m->fname = name_with_flags(m->key, m->flags, NULL);
		p = mailbox_path_join(mb->cur_dir, m->fname);
		if (unlink(p) == -1 && errno == ENOENT &&
		    find_fname(mb, m) == 0) {
			free(p);
			p = mailbox_path_join(mb->cur_dir, m->fname);
			(void)unlink(p);
		}
		free(p);
		mbidx_expunge_at(idx, i);
	}
	return 0;
}

/* A new unique Maildir base name carrying the raw and wire sizes. */
static bool
new_base(struct mailbox *mb, uint64_t raw, uint64_t wire, char *base,
    size_t size)
{
	struct timeval tv;
	char	 host[64];
	size_t	 i;

	if (gethostname(host, sizeof(host)) == -1)
		(void)str_copy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	for (i = 0; host[i] != '\0'; i++)
		if (host[i] == '/' || host[i] == ':' || host[i] == ',' ||
		    (unsigned char)host[i] <= 0x20 ||
		    (unsigned char)host[i] >= 0x7f)
			host[i] = '_';
	gettimeofday(&tv, NULL);
	return str_printf(base, size, "%lld.M%ldP%ldQ%u.%s,S=%llu,W=%llu",
	    (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(),
	    ++mb->append_seq, host, (unsigned long long)raw,
	    (unsigned long long)wire);
}

static int
maildir_append(struct mailbox *mb, struct mbidx *idx, const void *data,
    size_t len, unsigned int flags, time_t idate, struct mbidx_rec **rec_r,
    struct fail *f)
{
	struct timespec ts[2];
	struct mbidx_rec *m;
	char	 base[MBIDX_KEY_MAX + 1], prev = '\0';
	char	*tmp, *to, *cur;
	uint64_t wire = mailbox_crlf_size(data, len, &prev);
	int	 fd;

	if (!new_base(mb, len, wire, base, sizeof(base)))
		return fail_set(f, true, "4.3.0", "cannot name message");
	tmp = mailbox_path_join(mb->tmp_dir, base);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		free(tmp);
		return fail_set(f, true, "4.3.0", "cannot create message");
	}
	ts[0].tv_sec = ts[1].tv_sec = idate;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (fd_write_all(fd, data, len) == -1 || fsync(fd) == -1 || futimens(fd, ts) == -1) {
		close(fd);
		(void)unlink(tmp);
		free(tmp);
		return fail_set(f, true, "4.3.0", "cannot write message");
	}
	close(fd);
	to = name_with_flags(base, flags, NULL);
	cur = mailbox_path_join(mb->cur_dir, to);
	if (rename(tmp, cur) == -1) {
		(void)unlink(tmp);
		free(tmp);
		free(cur);
		free(to);
		return fail_set(f, true, "4.3.0", "cannot store message");
	}
	free(tmp);
	/* The UID is durable at the index write; the file must be too, or
	 * the client is told to try again (a duplicate at worst). */
	if (mailbox_fsync_dir(mb->cur_dir) == -1) {
		log_error(NULL, "maildir fsync failed dir=%s: %s", mb->cur_dir,
		    strerror(errno));
		(void)unlink(cur);
		free(cur);
		free(to);
		return fail_set(f, true, "4.3.0", "cannot store message");
	}
	free(cur);
	m = mbidx_add(idx, idx->uidnext++);
	m->key = xstrdup(base);
	m->fname = to;
	m->flags = flags;
	m->modseq = ++idx->highestmodseq;
	m->idate = idate;
	m->raw_size = len;
	m->wire_size = wire;
	*rec_r = m;
	return 0;
}

static int
maildir_link_from(struct mailbox *mb, struct mbidx *idx, struct mailbox *src,
    struct mbidx_rec *sm, unsigned int flags, struct mbidx_rec **rec_r)
{
	struct mbidx_rec *m;
	char	 base[MBIDX_KEY_MAX + 1], *from, *to, *name;
	int	 tries, rc = -1;

	if (sm->key == NULL || idx->uidnext == UINT32_MAX ||
	    !new_base(mb, sm->raw_size, sm->wire_size, base, sizeof(base)))
		return -1;
	if (sm->fname == NULL)
		sm->fname = name_with_flags(sm->key, sm->flags, NULL);
	name = name_with_flags(base, flags, NULL);
	to = mailbox_path_join(mb->cur_dir, name);
	for (tries = 0; tries < 2 && rc == -1; tries++) {
		from = mailbox_path_join(src->cur_dir, sm->fname);
		rc = link(from, to);
		free(from);
		if (rc == -1 && (errno != ENOENT || find_fname(src, sm) == -1))
			break;
	}
	if (rc == 0 && mailbox_fsync_dir(mb->cur_dir) == -1) {
		log_error(NULL, "maildir fsync failed dir=%s: %s", mb->cur_dir,
		    strerror(errno));
		(void)unlink(to);
		rc = -1;
	}
	free(to);
	if (rc == -1) {
		free(name);
		return -1;
	}
	m = mbidx_add(idx, idx->uidnext++);
	m->key = xstrdup(base);
	m->fname = name;
	m->flags = flags;
	m->modseq = ++idx->highestmodseq;
	m->idate = sm->idate;	/* one inode, one mtime */
	m->raw_size = sm->raw_size;
	m->wire_size = sm->wire_size;
	*rec_r = m;
	return 0;
}

const struct mailbox_backend maildir_backend = {
	.name = "maildir",
	.sync = maildir_sync,
	.open_msg = maildir_open_msg,
	.set_flags = maildir_set_flags,
	.expunge = maildir_expunge,
	.append = maildir_append,
	.link_from = maildir_link_from,
	.close = NULL,
};
