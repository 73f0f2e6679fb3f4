/* SPDX-License-Identifier: MIT */
/*
 * maildrop.c - a POP3 session's INBOX: lock, fixed view, UPDATE
 *
 * At login the INBOX is opened, with pop3_lock_session the POP3 maildrop
 * lock taken (RFC 1939 section 8: a second session gets [IN-USE]; IMAP and
 * deliveries go on), and the mailbox synced once.  Without the lock (the
 * default) a second session, a user's other device, gets its own view just
 * the same; what one expunges the other finds gone (RETR -ERR, DELE of it
 * a no-op at QUIT).  The view is then copied
 * into s->drop.msgs and never synced again, so messages delivered or
 * expunged by others during the session change nothing here (a RETR of
 * a message another client expunged answers -ERR).  UIDs and wire sizes
 * come from the mailbox index: LIST and STAT cost no message reads.
 */
#include <inttypes.h>
#include <limits.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "log.h"
#include "mailbox.h"
#include "mem.h"
#include "pop3d.h"
#include "str.h"

int
maildrop_open(struct pop3_maildrop *d, const struct accounts *a,
    const struct accounts_user *u, bool lock, const char *id, char *reply,
    size_t size)
{
	struct mailbox_location	 loc;
	char			 path[PATH_MAX];

	memset(d, 0, sizeof(*d));
	if (maildrop_location(a, u, &loc, path, sizeof(path)) == -1) {
		log_error(id, "maildrop path too long user=%s", u->address);
		(void)str_copy(reply, "-ERR [SYS/PERM] Mailbox path too long.",
		    size);
		return -1;
	}
	return maildrop_open_at(d, &loc, u->address, lock, id, reply, size);
}

int
maildrop_location(const struct accounts *a, const struct accounts_user *u,
    struct mailbox_location *loc, char *path, size_t size)
{
	if (accounts_mail_path(accounts_conf(a), u, path, size) == -1)
		return -1;
	loc->root = path;
	loc->format = u->format == ACCOUNTS_MBOX ? MAILBOX_MBOX :
	    MAILBOX_MAILDIR;
	loc->mbox_inbox = NULL;
	return 0;
}

int
maildrop_open_at(struct pop3_maildrop *d, const struct mailbox_location *loc,
    const char *address, bool lock, const char *id, char *reply, size_t size)
{
	struct mailbox_msg	 m;
	struct fail		 f;
	uint32_t		 i;
	int			 r;

	memset(d, 0, sizeof(*d));
	if ((d->mb = mailbox_open(loc, "INBOX", 0, &f)) == NULL) {
		log_error(id, "maildrop open failed user=%s path=%s "
		    "reason=\"%s\"", address, loc->root, f.text);
		(void)str_printf(reply, size, "-ERR [SYS/%s] Cannot open the "
		    "mailbox.", f.temp ? "TEMP" : "PERM");
		return -1;
	}
	r = lock ? mailbox_session_lock(d->mb, &f) : 1;
	if (r != 1) {
		if (r == 0)
			(void)str_copy(reply, "-ERR [IN-USE] Mailbox is locked "
			    "by another POP3 session.", size);
		else {
			log_error(id, "maildrop lock failed user=%s "
			    "reason=\"%s\"", address, f.text);
			(void)str_copy(reply, "-ERR [SYS/TEMP] Cannot lock the "
			    "mailbox.", size);
		}
		mailbox_close(&d->mb);
		return -1;
	}
	d->is_locked = lock;
	/* Another POP3 session may have expunged before we got the lock. */
	if (mailbox_sync(d->mb, NULL, &f) == -1) {
		log_error(id, "maildrop sync failed user=%s reason=\"%s\"",
		    address, f.text);
		(void)str_copy(reply, "-ERR [SYS/TEMP] Cannot read the "
		    "mailbox.", size);
		mailbox_close(&d->mb);
		return -1;
	}
	d->count = mailbox_count(d->mb);
	d->uidvalidity = mailbox_uidvalidity(d->mb);
	d->msgs = xcalloc(d->count > 0 ? d->count : 1, sizeof(*d->msgs));
	for (i = 0; i < d->count; i++) {
		if (mailbox_msg(d->mb, i + 1, &m) == -1)
			panic("maildrop: message %u of %u missing", i + 1,
			    d->count);
		d->msgs[i].uid = m.uid;
		d->msgs[i].size = m.wire_size;
		d->size += m.wire_size;
	}
	return 0;
}

void
maildrop_close(struct pop3_maildrop *d)
{
	if (d->mb != NULL) {
		if (d->is_locked)
			mailbox_session_unlock(d->mb);
		mailbox_close(&d->mb);
	}
	free(d->msgs);
	memset(d, 0, sizeof(*d));
}

int
maildrop_update(struct pop3_maildrop *d, bool mark_seen, const char *id)
{
	struct fail	 f;
	uint32_t	*uids;
	size_t		 n = 0, i;
	int		 rc = 0;

	if (d->mb == NULL || d->count == 0)
		return 0;
	uids = xreallocarray(NULL, d->count, sizeof(*uids));
	if (mark_seen) {
		for (i = 0; i < d->count; i++)
			if (d->msgs[i].retrieved && !d->msgs[i].deleted)
				uids[n++] = d->msgs[i].uid;
		if (n > 0 && mailbox_store(d->mb, uids, n, MAILBOX_FLAGS_ADD,
		    MAILBOX_SEEN, NULL, 0, 0, NULL, NULL, &f) == -1)
			log_warn(id, "marking seen failed reason=\"%s\"",
			    f.text);
	}
	n = 0;
	for (i = 0; i < d->count; i++)
		if (d->msgs[i].deleted)
			uids[n++] = d->msgs[i].uid;
	if (n > 0 && mailbox_expunge(d->mb, uids, n, &f) == -1) {
		log_error(id, "expunge failed messages=%zu reason=\"%s\"", n,
		    f.text);
		rc = -1;
	}
	free(uids);
	return rc;
}

struct mailbox_stream *
maildrop_stream(struct pop3_maildrop *d, uint32_t n)
{
	struct mailbox_stream	*ms;
	struct mailbox_msg	 m;
	struct fail		 f;
	uint32_t		 seq;

	BUZ_ASSERT(n >= 1 && n <= d->count);
	/* The view never moves, so sequence numbers stay right; checking
	 * the UID guards against a surprise. */
	seq = mailbox_seq_of_uid(d->mb, d->msgs[n - 1].uid);
	if (seq == 0 || mailbox_msg(d->mb, seq, &m) == -1)
		return NULL;
	ms = mailbox_stream_open(d->mb, seq, &f);
	return ms;
}

ssize_t
maildrop_read(void *ctx, void *buf, size_t len)
{
	return mailbox_stream_read(ctx, buf, len);
}

ssize_t
maildrop_list_read(void *ctx, void *buf, size_t len)
{
	struct pop3_listing		*l = ctx;
	const struct pop3_maildrop	*d = l->d;
	const struct pop3_msg		*m;
	char				*out = buf, u[24];
	size_t				 n = 0;
	int				 k;

	/* a line is at most 10 + 1 + 20 + 2 bytes */
	while (l->next <= d->count && len - n >= 40) {
		m = &d->msgs[l->next - 1];
		if (!m->deleted) {
			if (l->uidl) {
				pop3_uidl(m->uid, d->uidvalidity, u, sizeof(u));
				k = snprintf(out + n, len - n, "%" PRIu32 " %s",
				    l->next, u);
			} else
				k = snprintf(out + n, len - n, "%" PRIu32 " %"
				    PRIu64, l->next, m->size);
			BUZ_ASSERT(k > 0 && (size_t)k < len - n - 2);
			log_trace(l->id, LOG_TRACE_SERVER, out + n, (size_t)k,
			    0);
			n += (size_t)k;
			out[n++] = '\r';
			out[n++] = '\n';
		}
		l->next++;
	}
	if (n == 0)
		log_trace(l->id, LOG_TRACE_SERVER, ".", 1, 0);
	return (ssize_t)n;
}

/* Small messages go the ordinary way: copying them into the stream,
 * several per write, beats a mapping, a scan and three system calls each
 * (bench/pop3.py --crlf).  Huge ones too: a mapping that big is not free. */
#define MAILDROP_RAW_MIN	((uint64_t)128 << 10)
#define MAILDROP_RAW_MAX	((uint64_t)256 << 20)

bool
maildrop_raw(struct pop3_maildrop *d, struct mailbox_stream *ms, int *fd_r,
    off_t *off_r, uint64_t *len_r)
{
	const char	*p;
	void		*map;
	long		 pg;
	off_t		 off, base;
	uint64_t	 len;
	size_t		 maplen;
	bool		 ok;
	int		 fd;

	if (mailbox_format(d->mb) != MAILBOX_MAILDIR ||
	    !mailbox_stream_raw(ms, &fd, &off, &len) ||
	    len < MAILDROP_RAW_MIN ||
	    len > MAILDROP_RAW_MAX || (pg = sysconf(_SC_PAGESIZE)) <= 0)
		return false;
	base = off - off % pg;
	maplen = (size_t)(len + (uint64_t)(off - base));
	map = mmap(NULL, maplen, PROT_READ, MAP_PRIVATE, fd, base);
	if (map == MAP_FAILED)
		return false;
	p = (const char *)map + (off - base);
	ok = p[0] != '.' && p[len - 2] == '\r' && p[len - 1] == '\n' &&
	    memmem(p, (size_t)len, "\n.", 2) == NULL;
	(void)munmap(map, maplen);
	if (ok) {
		*fd_r = fd;
		*off_r = off;
		*len_r = len;
	}
	return ok;
}
