/* SPDX-License-Identifier: MIT */
/*
 * mailbox.c - open, sync, view, flags, expunge, append, POP3 lock
 *
 * Every change runs under the index lock on a fresh copy of the on-disk
 * state (mailbox_index.c).  The view (mb->view) only moves at
 * mailbox_sync(), which diffs the old view against that state.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dir.h"
#include "fileio.h"
#include "log.h"
#include "mailbox_private.h"
#include "mem.h"
#include "str.h"

#ifdef F_OFD_SETLKW
#define LOCK_CMD_WAIT	F_OFD_SETLKW
#define LOCK_CMD_TRY	F_OFD_SETLK
#else
#define LOCK_CMD_WAIT	F_SETLKW
#define LOCK_CMD_TRY	F_SETLK
#endif

/* ---- small helpers ---- */

char *
mailbox_path_join(const char *a, const char *b)
{
	size_t	 la = strlen(a), lb = strlen(b);
	char	*p = xmalloc(la + lb + 2);

	memcpy(p, a, la);
	p[la] = '/';
	memcpy(p + la + 1, b, lb + 1);
	return p;
}

int
mailbox_fsync_dir(const char *path)
{
	return dir_fsync(path);
}

/* Lock fd (whole file) exclusively; wait or not.  OFD locks belong to the
 * open file, not the process, so two sessions of one process exclude each
 * other too. */
int
mailbox_lock_fd(int fd, bool wait)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	while (fcntl(fd, wait ? LOCK_CMD_WAIT : LOCK_CMD_TRY, &fl) == -1) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

int
mailbox_open_lock(const char *path)
{
	return open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
}

uint32_t
mailbox_new_uidvalidity(struct mailbox *mb)
{
	char	 buf[32];
	ssize_t	 r;
	uint64_t last = 0, now = (uint64_t)time(NULL), v;
	int	 fd;

	/* A per-user counter so that a rebuilt or re-created folder never
	 * gets an UIDVALIDITY it had before, even within one second. */
	v = now;
	if ((fd = mailbox_open_lock(mb->uidv_path)) != -1 &&
	    mailbox_lock_fd(fd, true) == 0) {
		r = pread(fd, buf, sizeof(buf) - 1, 0);
		if (r > 0) {
			buf[r] = '\0';
			buf[strcspn(buf, "\n")] = '\0';
			if (strnum_u64(buf, 1, UINT32_MAX, &last) == -1)
				last = 0;
		}
		if (v <= last)
			v = last + 1;
		if (v > UINT32_MAX)
			v = 1;
		(void)str_printf(buf, sizeof(buf), "%llu\n",
		    (unsigned long long)v);
		if (ftruncate(fd, 0) == 0 &&
		    pwrite(fd, buf, strlen(buf), 0) == (ssize_t)strlen(buf))
			(void)fsync(fd);
	}
	if (fd != -1)
		close(fd);
	return (uint32_t)(v & 0xffffffff) != 0 ? (uint32_t)v : 1;
}

/* ---- opening ---- */

static bool
is_inbox(const char *name)
{
	return strcasecmp(name, "INBOX") == 0;
}

static int
make_paths(struct mailbox *mb, const struct mailbox_location *loc,
    struct fail *f)
{
	char	*state, *base;

	mb->root = xstrdup(loc->root);
	mb->uidv_path = mailbox_path_join(loc->root, loc->format ==
	    MAILBOX_MAILDIR ? "buzon.uidvalidity" : ".buzon/uidvalidity");
	if (loc->format == MAILBOX_MAILDIR) {
		mb->be = &maildir_backend;
		if (is_inbox(mb->name))
			mb->path = xstrdup(loc->root);
		else {
			base = xmalloc(strlen(mb->name) + 2);
			base[0] = '.';
			memcpy(base + 1, mb->name, strlen(mb->name) + 1);
			mb->path = mailbox_path_join(loc->root, base);
			free(base);
		}
		mb->index_path = mailbox_path_join(mb->path, "buzon.index");
		mb->log_path = mailbox_path_join(mb->path, "buzon.log");
		mb->cache_path = mailbox_path_join(mb->path, "buzon.cache");
		mb->lock_path = mailbox_path_join(mb->path, "buzon.lock");
		mb->session_path = mailbox_path_join(mb->path, "buzon.pop3.lock");
		mb->new_dir = mailbox_path_join(mb->path, "new");
		mb->cur_dir = mailbox_path_join(mb->path, "cur");
		mb->tmp_dir = mailbox_path_join(mb->path, "tmp");
		return 0;
	}
	mb->be = &mbox_backend;
	if (is_inbox(mb->name))
		mb->path = loc->mbox_inbox != NULL ? xstrdup(loc->mbox_inbox) :
		    mailbox_path_join(loc->root, "INBOX");
	else
		mb->path = mailbox_path_join(loc->root, mb->name);
	state = mailbox_path_join(loc->root, ".buzon");
	if ((mkdir(loc->root, 0700) == -1 && errno != EEXIST) ||
	    (mkdir(state, 0700) == -1 && errno != EEXIST)) {
		free(state);
		return fail_set(f, true, "4.3.0",
		    "cannot create state directory");
	}
	base = is_inbox(mb->name) ? xstrdup("INBOX") : xstrdup(mb->name);
#define STATE_FILE(field, suffix) do {					\
	char	 nb[MAILBOX_NAME_MAX + 32];				\
	(void)str_printf(nb, sizeof(nb), "%s%s", base, suffix);		\
	mb->field = mailbox_path_join(state, nb);			\
} while (0)
	STATE_FILE(index_path, ".index");
	STATE_FILE(log_path, ".log");
	STATE_FILE(cache_path, ".cache");
	STATE_FILE(lock_path, ".lock");
	STATE_FILE(session_path, ".pop3.lock");
#undef STATE_FILE
	free(base);
	free(state);
	return 0;
}

static int
folder_exists(struct mailbox *mb)
{
	struct stat st;

	if (mb->be == &maildir_backend)
		return stat(mb->cur_dir, &st) == 0 && S_ISDIR(st.st_mode);
	return stat(mb->path, &st) == 0 && S_ISREG(st.st_mode);
}

struct mailbox *
mailbox_open(const struct mailbox_location *loc, const char *name,
    unsigned int open_flags, struct fail *f)
{
	struct mailbox *mb;

	if (!is_inbox(name) && !mailbox_name_valid(name)) {
		fail_set(f, false, "5.1.3", "invalid mailbox name");
		return NULL;
	}
	mb = xcalloc(1, sizeof(*mb));
	mb->name = xstrdup(name);
	mb->rdonly = (open_flags & MAILBOX_RDONLY) != 0;
	mb->lock_fd = mb->session_fd = -1;
	mbidx_init(&mb->view);
	mbidx_init(&mb->disk);
	if (make_paths(mb, loc, f) == -1)
		goto bad;
	/* INBOX always exists (RFC 9051 5.1), even before the first mail. */
	if (is_inbox(name))
		open_flags |= MAILBOX_CREATE;
	if (!folder_exists(mb)) {
		if ((open_flags & MAILBOX_CREATE) == 0 ||
		    ((mailbox_create(loc, name, f) == -1) &&
		    !folder_exists(mb))) {
			fail_set(f, false, "5.2.0", "no such mailbox");
			goto bad;
		}
	}
	if (mailbox_sync(mb, NULL, f) == -1)
		goto bad;
	return mb;
bad:
	mailbox_close(&mb);
	return NULL;
}

void
mailbox_close(struct mailbox **pmb)
{
	struct mailbox *mb = *pmb;

	if (mb == NULL)
		return;
	if (mb->be != NULL && mb->be->close != NULL)
		mb->be->close(mb);
	if (mb->session_fd != -1)
		close(mb->session_fd);
	mailbox_index_unlock(mb);
	mbidx_release(&mb->view);
	mbidx_release(&mb->disk);
	free(mb->log_path);
	free(mb->name);
	free(mb->root);
	free(mb->path);
	free(mb->index_path);
	free(mb->cache_path);
	free(mb->lock_path);
	free(mb->session_path);
	free(mb->uidv_path);
	free(mb->new_dir);
	free(mb->cur_dir);
	free(mb->tmp_dir);
	free(mb->ch_exp_seqs);
	free(mb->ch_exp_uids);
	free(mb->ch_changed);
	free(mb);
	*pmb = NULL;
}

/* ---- sync and the view ---- */

static bool
stamp_recent(int64_t ns)
{
	/* mtimes tick coarsely; one this fresh may hide a later change. */
	return ns >= ((int64_t)time(NULL) - 2) * 1000000000LL;
}

bool
mailbox_has_changed(struct mailbox *mb)
{
	struct stat st;

	if (!mb->have_index_st || stat(mb->index_path, &st) == -1 ||
	    st.st_ino != mb->index_st.st_ino ||
	    st.st_size != mb->index_st.st_size ||
	    stat_mtime_ns(&st) != stat_mtime_ns(&mb->index_st) ||
	    stamp_recent(stat_mtime_ns(&st)))
		return true;
	/* The log only grows between compactions (or loses a torn tail). */
	if (stat(mb->log_path, &st) == -1) {
		if (mb->have_log_st)
			return true;
	} else if (!mb->have_log_st || st.st_ino != mb->log_st.st_ino ||
	    st.st_size != mb->log_st.st_size ||
	    stat_mtime_ns(&st) != stat_mtime_ns(&mb->log_st) ||
	    stamp_recent(stat_mtime_ns(&st)))
		return true;
	if (mb->be == &maildir_backend) {
		if (stat(mb->new_dir, &st) == -1 ||
		    stat_mtime_ns(&st) != mb->view.st_mtime_ns ||
		    stamp_recent(mb->view.st_mtime_ns))
			return true;
		if (stat(mb->cur_dir, &st) == -1 ||
		    stat_mtime_ns(&st) != mb->view.st2_mtime_ns ||
		    stamp_recent(mb->view.st2_mtime_ns))
			return true;
		return false;
	}
	return stat(mb->path, &st) == -1 ||
	    (uint64_t)st.st_ino != mb->view.st_ino ||
	    (uint64_t)st.st_size != mb->view.st_size ||
	    stat_mtime_ns(&st) != mb->view.st_mtime_ns ||
	    stamp_recent(mb->view.st_mtime_ns);
}

size_t
mailbox_watch_paths(struct mailbox *mb, const char **paths, size_t n)
{
	size_t	 k = 0;

	if (k < n)
		paths[k++] = mb->log_path;
	if (k < n)
		paths[k++] = mb->be == &maildir_backend ? mb->new_dir :
		    mb->path;
	if (k < n && mb->be == &maildir_backend)
		paths[k++] = mb->cur_dir;
	return k;
}

static void
changes_diff(struct mailbox *mb, const struct mbidx *old,
    struct mbidx *fresh, struct mailbox_changes *ch)
{
	size_t	 i = 0, j = 0, ne = 0, nc = 0;
	bool	 reset = old->uidvalidity != fresh->uidvalidity;

	if (old->n > mb->ch_cap_exp) {
		mb->ch_cap_exp = old->n;
		mb->ch_exp_seqs = xreallocarray(mb->ch_exp_seqs, old->n,
		    sizeof(uint32_t));
		mb->ch_exp_uids = xreallocarray(mb->ch_exp_uids, old->n,
		    sizeof(uint32_t));
	}
	if (fresh->n > mb->ch_cap_changed) {
		mb->ch_cap_changed = fresh->n;
		mb->ch_changed = xreallocarray(mb->ch_changed, fresh->n,
		    sizeof(uint32_t));
	}
	while (i < old->n) {
		const struct mbidx_rec *o = &old->recs[i];

		if (!reset && j < fresh->n && fresh->recs[j].uid < o->uid) {
			j++;		/* cannot happen: new UIDs are higher */
			continue;
		}
		if (!reset && j < fresh->n && fresh->recs[j].uid == o->uid) {
			struct mbidx_rec *m = &fresh->recs[j];

			if (m->modseq != o->modseq || m->flags != o->flags ||
			    m->keywords != o->keywords)
				mb->ch_changed[nc++] = m->uid;
			/* in-memory facts the index does not carry */
			m->cache_off = o->cache_off;
			m->cache_len = o->cache_len;
			if (m->fname == NULL && o->fname != NULL &&
			    mb->be == &maildir_backend)
				m->fname = xstrdup(o->fname);
			i++;
			j++;
			continue;
		}
		mb->ch_exp_seqs[ne] = (uint32_t)(i + 1);
		mb->ch_exp_uids[ne++] = o->uid;
		i++;
	}
	if (ch != NULL) {
		ch->expunged_seqs = mb->ch_exp_seqs;
		ch->expunged_uids = mb->ch_exp_uids;
		ch->n_expunged = ne;
		ch->changed_uids = mb->ch_changed;
		ch->n_changed = nc;
		ch->old_count = (uint32_t)old->n;
		ch->new_count = (uint32_t)fresh->n;
		ch->uidvalidity_changed = reset && old->uidvalidity != 0;
	}
}

int
mailbox_sync(struct mailbox *mb, struct mailbox_changes *ch, struct fail *f)
{
	struct mbidx fresh;
	struct stat st;
	bool	 dirty;

	if (ch != NULL) {
		memset(ch, 0, sizeof(*ch));
		ch->old_count = ch->new_count = (uint32_t)mb->view.n;
	}
	if (!mailbox_has_changed(mb))
		return 0;
	if (mailbox_index_lock(mb, f) == -1)
		return -1;
	if (mailbox_refresh_locked(mb, &fresh, &dirty, f) == -1) {
		mailbox_index_unlock(mb);
		return -1;
	}
	if (dirty && mailbox_write_locked(mb, &fresh, f) == -1) {
		mailbox_index_unlock(mb);
		mbidx_release(&fresh);
		return -1;
	}
	/* The index and log as we leave them, for mailbox_has_changed(). */
	mb->have_index_st = stat(mb->index_path, &st) == 0;
	if (mb->have_index_st)
		mb->index_st = st;
	mb->have_log_st = stat(mb->log_path, &st) == 0;
	if (mb->have_log_st)
		mb->log_st = st;
	mailbox_index_unlock(mb);
	changes_diff(mb, &mb->view, &fresh, ch);
	mbidx_release(&mb->view);
	mb->view = fresh;
	return 0;
}

uint32_t
mailbox_count(const struct mailbox *mb)
{
	return (uint32_t)mb->view.n;
}

uint32_t
mailbox_uidvalidity(const struct mailbox *mb)
{
	return mb->view.uidvalidity;
}

const char *
mailbox_index_path(const struct mailbox *mb)
{
	return mb->index_path;
}

uint32_t
mailbox_uidnext(const struct mailbox *mb)
{
	return mb->view.uidnext;
}

uint64_t
mailbox_highestmodseq(const struct mailbox *mb)
{
	return mb->view.highestmodseq;
}

bool
mailbox_is_readonly(const struct mailbox *mb)
{
	return mb->rdonly;
}

enum mailbox_format
mailbox_format(const struct mailbox *mb)
{
	return mb->be == &maildir_backend ? MAILBOX_MAILDIR : MAILBOX_MBOX;
}

int
mailbox_msg(const struct mailbox *mb, uint32_t seq, struct mailbox_msg *r)
{
	const struct mbidx_rec *m;
	static char	 nokey[] = "";

	if (seq == 0 || seq > mb->view.n)
		return -1;
	m = &mb->view.recs[seq - 1];
	r->seq = seq;
	r->uid = m->uid;
	r->flags = m->flags & MAILBOX_FLAGS_ALL;
	r->keywords = m->keywords;
	r->modseq = m->modseq;
	r->wire_size = m->wire_size;
	r->internal_date = (time_t)m->idate;
	r->key = m->key != NULL ? m->key : nokey;
	return 0;
}

uint32_t
mailbox_seq_of_uid(const struct mailbox *mb, uint32_t uid)
{
	ssize_t	 i = mbidx_find(&mb->view, uid);

	return i < 0 ? 0 : (uint32_t)i + 1;
}

unsigned int
mailbox_keyword_count(const struct mailbox *mb)
{
	return mb->view.n_keywords;
}

const char *
mailbox_keyword_name(const struct mailbox *mb, unsigned int i)
{
	return i < mb->view.n_keywords ? mb->view.keywords[i] : NULL;
}

int
mailbox_keyword_find(const struct mailbox *mb, const char *name)
{
	return mbidx_keyword((struct mbidx *)(uintptr_t)&mb->view, name, false);
}

bool
mailbox_keyword_valid(const char *name)
{
	size_t	 i, len = strlen(name);

	if (len == 0 || len > MAILBOX_KEYWORD_MAX)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return false;
	}
	return true;
}

/* ---- flags ---- */

static int
uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int
mailbox_store(struct mailbox *mb, const uint32_t *uids, size_t n,
    enum mailbox_flag_op op, unsigned int flags, const char *const *kws,
    size_t n_kws, uint64_t unchangedsince, uint32_t **failed_r,
    size_t *n_failed_r, struct fail *f)
{
	struct mbidx fresh;
	uint64_t kwmask = 0;
	uint32_t *failed = NULL, *mine;
	size_t	 i, nf = 0, nmine = 0;
	ssize_t	 k, v;
	bool	 dirty;
	int	 bit;

	if (failed_r != NULL)
		*failed_r = NULL;
	if (n_failed_r != NULL)
		*n_failed_r = 0;
	if (mb->rdonly)
		return fail_set(f, false, "5.2.0", "mailbox is read-only");
	if ((flags & ~MAILBOX_FLAGS_ALL) != 0)
		return fail_set(f, false, "5.5.4", "unknown flag");
	for (i = 0; i < n_kws; i++)
		if (!mailbox_keyword_valid(kws[i]))
			return fail_set(f, false, "5.5.4", "invalid keyword");
	if (mailbox_index_lock(mb, f) == -1)
		return -1;
	if (mailbox_refresh_locked(mb, &fresh, &dirty, f) == -1) {
		mailbox_index_unlock(mb);
		return -1;
	}
	for (i = 0; i < n_kws; i++) {
		if ((bit = mbidx_keyword(&fresh, kws[i],
		    op != MAILBOX_FLAGS_REMOVE)) == -1) {
			if (op == MAILBOX_FLAGS_REMOVE)
				continue;
			mbidx_release(&fresh);
			mailbox_index_unlock(mb);
			return fail_set(f, false, "5.3.0",
			    "too many keywords in this mailbox");
		}
		kwmask |= (uint64_t)1 << bit;
		dirty = true;
	}
	if (n > 0 && unchangedsince != 0)
		failed = xreallocarray(NULL, n, sizeof(*failed));
	mine = xreallocarray(NULL, n + 1, sizeof(*mine));
	for (i = 0; i < n; i++) {
		struct mbidx_rec *m;
		uint32_t nflags, oflags;
		uint64_t nkw;

		if ((k = mbidx_find(&fresh, uids[i])) < 0)
			continue;
		m = &fresh.recs[k];
		if (unchangedsince != 0 && m->modseq > unchangedsince) {
			failed[nf++] = m->uid;
			continue;
		}
		switch (op) {
		case MAILBOX_FLAGS_ADD:
			nflags = m->flags | flags;
			nkw = m->keywords | kwmask;
			break;
		case MAILBOX_FLAGS_REMOVE:
			nflags = m->flags & ~flags;
			nkw = m->keywords & ~kwmask;
			break;
		default:
			nflags = (m->flags & MBR_INTERNAL) | flags;
			nkw = kwmask;
			break;
		}
		if (nflags == m->flags && nkw == m->keywords &&
		    unchangedsince == 0)
			continue;
		mine[nmine++] = m->uid;
		oflags = m->flags;
		m->flags = nflags;
		m->keywords = nkw;
		m->modseq = ++fresh.highestmodseq;
		dirty = true;
		if (m->fname == NULL &&
		    (v = mbidx_find(&mb->view, m->uid)) >= 0 &&
		    mb->view.recs[v].fname != NULL)
			m->fname = xstrdup(mb->view.recs[v].fname);
		if (mb->be->set_flags != NULL &&
		    mb->be->set_flags(mb, m, oflags, f) == -1)
			log_warn(NULL, "mailbox flag rename failed uid=%u",
			    m->uid);
	}
	if (dirty && mailbox_write_locked(mb, &fresh, f) == -1) {
		mbidx_release(&fresh);
		mailbox_index_unlock(mb);
		free(failed);
		free(mine);
		return -1;
	}
	mailbox_index_unlock(mb);
	/* Show this session its own change now; the rest waits for sync. */
	for (i = mb->view.n_keywords; i < fresh.n_keywords; i++)
		mb->view.keywords[mb->view.n_keywords++] =
		    xstrdup(fresh.keywords[i]);
	/* Only the messages changed here: others' changes must still show
	 * up as changes at the next sync. */
	if (fresh.uidvalidity == mb->view.uidvalidity) {
		for (i = 0; i < nmine; i++) {
			struct mbidx_rec *vr;

			if ((k = mbidx_find(&fresh, mine[i])) < 0 ||
			    (v = mbidx_find(&mb->view, mine[i])) < 0)
				continue;
			vr = &mb->view.recs[v];
			vr->flags = fresh.recs[k].flags;
			vr->keywords = fresh.recs[k].keywords;
			vr->modseq = fresh.recs[k].modseq;
			if (fresh.recs[k].fname != NULL) {
				free(vr->fname);
				vr->fname = xstrdup(fresh.recs[k].fname);
			}
		}
		if (fresh.highestmodseq > mb->view.highestmodseq)
			mb->view.highestmodseq = fresh.highestmodseq;
	}
	free(mine);
	mbidx_release(&fresh);
	if (failed != NULL)
		qsort(failed, nf, sizeof(*failed), uid_cmp);
	if (failed_r != NULL)
		*failed_r = failed;
	else
		free(failed);
	if (n_failed_r != NULL)
		*n_failed_r = nf;
	return 0;
}

/* ---- expunge, append ---- */

int
mailbox_expunge(struct mailbox *mb, const uint32_t *uids, size_t n,
    struct fail *f)
{
	struct mbidx fresh;
	bool	*doomed, dirty, any = false;
	size_t	 i;
	ssize_t	 k;
	int	 rc;

	if (mb->rdonly)
		return fail_set(f, false, "5.2.0", "mailbox is read-only");
	if (mailbox_index_lock(mb, f) == -1)
		return -1;
	if (mailbox_refresh_locked(mb, &fresh, &dirty, f) == -1) {
		mailbox_index_unlock(mb);
		return -1;
	}
	doomed = xcalloc(fresh.n + 1, sizeof(*doomed));
	if (uids == NULL) {
		for (i = 0; i < fresh.n; i++)
			if (fresh.recs[i].flags & MAILBOX_DELETED)
				doomed[i] = any = true;
	} else {
		for (i = 0; i < n; i++)
			if ((k = mbidx_find(&fresh, uids[i])) >= 0)
				doomed[k] = any = true;
	}
	rc = 0;
	if (any) {
		rc = mb->be->expunge(mb, &fresh, doomed, f);
		dirty = true;
	}
	free(doomed);
	if (dirty && mailbox_write_locked(mb, &fresh, rc == 0 ? f : NULL) == -1)
		rc = -1;
	mailbox_index_unlock(mb);
	mbidx_release(&fresh);
	return rc;
}

int
mailbox_append(struct mailbox *mb, const void *data, size_t len,
    unsigned int flags, const char *const *kws, size_t n_kws,
    time_t idate, uint32_t *uid_r, struct fail *f)
{
	struct mbidx fresh;
	struct mbidx_rec *m;
	uint64_t kwmask = 0;
	size_t	 i;
	bool	 dirty;
	int	 bit;

	if (mb->rdonly)
		return fail_set(f, false, "5.2.0", "mailbox is read-only");
	if ((flags & ~MAILBOX_FLAGS_ALL) != 0)
		return fail_set(f, false, "5.5.4", "unknown flag");
	if ((uint64_t)len > MAILBOX_MSG_MAX)
		return fail_set(f, false, "5.3.4", "message too big");
	for (i = 0; i < n_kws; i++)
		if (!mailbox_keyword_valid(kws[i]))
			return fail_set(f, false, "5.5.4", "invalid keyword");
	if (idate == 0)
		idate = time(NULL);
	if (mailbox_index_lock(mb, f) == -1)
		return -1;
	if (mailbox_refresh_locked(mb, &fresh, &dirty, f) == -1) {
		mailbox_index_unlock(mb);
		return -1;
	}
	for (i = 0; i < n_kws; i++) {
		if ((bit = mbidx_keyword(&fresh, kws[i], true)) == -1) {
			mbidx_release(&fresh);
			mailbox_index_unlock(mb);
			return fail_set(f, false, "5.3.0",
			    "too many keywords in this mailbox");
		}
		kwmask |= (uint64_t)1 << bit;
	}
	if (mb->be->append(mb, &fresh, data, len, flags, idate, &m, f) == -1) {
		if (dirty)
			(void)mailbox_write_locked(mb, &fresh, NULL);
		mbidx_release(&fresh);
		mailbox_index_unlock(mb);
		return -1;
	}
	m->keywords = kwmask;
	if (uid_r != NULL)
		*uid_r = m->uid;
	if (mailbox_write_locked(mb, &fresh, f) == -1) {
		mbidx_release(&fresh);
		mailbox_index_unlock(mb);
		return -1;
	}
	mbidx_release(&fresh);
	mailbox_index_unlock(mb);
	return 0;
}

/* COPY by hard link, under dst's index lock.  1 done, 0 not possible
 * (copy the bytes instead), -1 failed. */
static int
copy_link(struct mailbox *src, struct mbidx_rec *sm, struct mailbox *dst,
    uint32_t *uid_r, struct fail *f)
{
	struct mbidx fresh;
	struct mbidx_rec *m;
	uint64_t kwmask = 0;
	unsigned int i;
	bool	 dirty;
	int	 bit;

	if (dst->be->link_from == NULL || src->be != dst->be)
		return 0;
	if (mailbox_index_lock(dst, f) == -1)
		return -1;
	if (mailbox_refresh_locked(dst, &fresh, &dirty, f) == -1) {
		mailbox_index_unlock(dst);
		return -1;
	}
	for (i = 0; i < src->view.n_keywords; i++) {
		if ((sm->keywords & ((uint64_t)1 << i)) == 0)
			continue;
		if ((bit = mbidx_keyword(&fresh, src->view.keywords[i],
		    true)) != -1)
			kwmask |= (uint64_t)1 << bit;
	}
	if (dst->be->link_from(dst, &fresh, src, sm,
	    sm->flags & MAILBOX_FLAGS_ALL, &m) == -1) {
		if (dirty)
			(void)mailbox_write_locked(dst, &fresh, NULL);
		mbidx_release(&fresh);
		mailbox_index_unlock(dst);
		return 0;
	}
	m->keywords = kwmask;
	if (uid_r != NULL)
		*uid_r = m->uid;
	if (mailbox_write_locked(dst, &fresh, f) == -1) {
		mbidx_release(&fresh);
		mailbox_index_unlock(dst);
		return -1;
	}
	mbidx_release(&fresh);
	mailbox_index_unlock(dst);
	return 1;
}

int
mailbox_copy(struct mailbox *src, uint32_t seq, struct mailbox *dst,
    uint32_t *uid_r, struct fail *f)
{
	struct mailbox_stream *st;
	struct mbidx_rec *sm;
	const char *kws[MAILBOX_KEYWORDS_MAX];
	struct str s;
	size_t	 nk = 0;
	ssize_t	 r;
	unsigned int i;
	int	 rc;

	if (seq == 0 || seq > src->view.n)
		return fail_set(f, false, "5.5.4", "no such message");
	if (dst->rdonly)
		return fail_set(f, false, "5.2.0", "mailbox is read-only");
	sm = &src->view.recs[seq - 1];
	if ((rc = copy_link(src, sm, dst, uid_r, f)) != 0)
		return rc == 1 ? 0 : -1;
	for (i = 0; i < src->view.n_keywords; i++)
		if (sm->keywords & ((uint64_t)1 << i))
			kws[nk++] = src->view.keywords[i];
	if ((st = mailbox_stream_open(src, seq, f)) == NULL)
		return -1;
	str_init(&s, MAILBOX_MSG_MAX + 65536);
	for (;;) {
		char	*p = str_reserve(&s, 65536);

		if (p == NULL) {
			r = -1;
			break;
		}
		if ((r = mailbox_stream_read(st, p, 65536)) <= 0)
			break;
		str_grow_commit(&s, (size_t)r);
	}
	mailbox_stream_close(&st);
	if (r == -1) {
		str_release(&s);
		return fail_set(f, true, "4.3.0", "cannot read message");
	}
	rc = mailbox_append(dst, s.data != NULL ? s.data : "", s.len,
	    sm->flags & MAILBOX_FLAGS_ALL, kws, nk, (time_t)sm->idate, uid_r,
	    f);
	str_release(&s);
	return rc;
}

int
mailbox_expunged_since(struct mailbox *mb, uint64_t since, uint32_t **uids_r,
    size_t *n_r)
{
	size_t	 i, n = 0;

	*uids_r = NULL;
	*n_r = 0;
	/* The view's history is as of the last sync, which is what the
	 * client has been told about. */
	if (since < mb->view.expunge_floor)
		return 0;
	for (i = 0; i < mb->view.n_exp; i++)
		if (mb->view.exp[i].modseq > since)
			n++;
	if (n > 0)
		*uids_r = xreallocarray(NULL, n, sizeof(uint32_t));
	n = 0;
	for (i = 0; i < mb->view.n_exp; i++)
		if (mb->view.exp[i].modseq > since)
			(*uids_r)[n++] = mb->view.exp[i].uid;
	if (n > 0)
		qsort(*uids_r, n, sizeof(uint32_t), uid_cmp);
	*n_r = n;
	return 1;
}

/* ---- session lock ---- */

int
mailbox_session_lock(struct mailbox *mb, struct fail *f)
{
	int	 fd;

	if (mb->session_fd != -1)
		return 1;
	if ((fd = mailbox_open_lock(mb->session_path)) == -1)
		return fail_set(f, true, "4.3.0", "cannot open session lock");
	if (mailbox_lock_fd(fd, false) == -1) {
		int	 e = errno;

		close(fd);
		if (e == EAGAIN || e == EACCES)
			return 0;
		return fail_set(f, true, "4.3.0", "cannot take session lock");
	}
	mb->session_fd = fd;
	return 1;
}

void
mailbox_session_unlock(struct mailbox *mb)
{
	if (mb->session_fd != -1)
		close(mb->session_fd);
	mb->session_fd = -1;
}
