/*
 * mailbox.h - Maildir and mbox folders with a UID index, for pop3d and imapd
 *
 * A struct mailbox is one folder of one user, opened read-write or
 * read-only.  What it shows is a *view*: the messages as of the last
 * mailbox_sync() (or mailbox_open()), numbered 1..count by sequence number,
 * each with a UID that never changes and is never reused while UIDVALIDITY
 * stays the same.  Changes made by other sessions and deliveries become
 * visible only at the next mailbox_sync(), which reports what changed, so a
 * protocol can send EXPUNGE/EXISTS/FETCH FLAGS at the moment it chooses.
 *
 * Storage stays readable by other tools: Maildir keeps flags in file names
 * (":2,DFRST"), mbox is plain mboxrd.  Beside each folder an index and
 * its change log (docs/mailbox.md) hold UIDVALIDITY, UIDNEXT,
 * HIGHESTMODSEQ and per message its UID, storage key, wire size, internal
 * date, flags, keywords and modseq; a cache file holds parsed data.  A
 * lost or corrupt index is rebuilt from the store with a new UIDVALIDITY.
 * A session keeps what it read between calls, so a sync costs about as
 * much as the changes since the last one.
 *
 * Locking (lock order, outermost first): session lock (one holder for a
 * whole session, for a protocol that wants the folder to itself: POP3's
 * maildrop lock) -> index lock (held only inside one call) -> mbox lock
 * (dotlock + fcntl, common/mbox_lock.h, only inside one call).  A
 * delivery takes no lock into a Maildir and only the mbox lock into an
 * mbox; it never needs the index.  No lock is held between calls except
 * the session lock, so one process may serve many sessions on one folder
 * from one event loop.
 * Locks are OFD locks: do not fork() while inside a call.
 *
 * Folder names (mailbox_name_valid()): "INBOX" (any case) is the root
 * folder.  Others are printable ASCII (0x20..0x7e) without '/', '\\' or
 * '*', '%', up to MAILBOX_NAME_MAX bytes, with '.' as the hierarchy
 * separator and no empty component (so no leading, trailing or doubled
 * '.', hence no ".."), and no component "INBOX" first.  Non-ASCII names
 * are imapd's business (it stores modified UTF-7, which is ASCII).
 * Maildir++: folder "a.b" is the directory ROOT/.a.b; mbox: the file
 * ROOT/a.b.
 *
 * All functions that can fail return -1 and fill the struct fail (which
 * may be NULL); details go to the log.  temp == true means retrying may
 * help (lock timeout, I/O error), false means it will not (no such folder,
 * bad name, read-only).
 */
#ifndef BUZON_MAILBOX_H
#define BUZON_MAILBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "fail.h"

#define MAILBOX_NAME_MAX	200
#define MAILBOX_KEYWORDS_MAX	64	/* per folder; a 65th is refused */
#define MAILBOX_KEYWORD_MAX	100	/* bytes in one keyword */
#define MAILBOX_MSG_MAX		((uint64_t)1 << 32)	/* 4 GiB per message */

/* System flags (IMAP RFC 9051 2.3.2).  \Recent is not stored. */
#define MAILBOX_SEEN		0x01
#define MAILBOX_ANSWERED	0x02
#define MAILBOX_FLAGGED		0x04
#define MAILBOX_DELETED		0x08
#define MAILBOX_DRAFT		0x10
#define MAILBOX_FLAGS_ALL	0x1f

enum mailbox_format {
	MAILBOX_MAILDIR,
	MAILBOX_MBOX
};

/* Where a user's mail lives.  root is a directory: the Maildir++ root (the
 * INBOX's cur/new/tmp and the .Folder directories), or for mbox the
 * directory holding folder files and the ".buzon" state directory.
 * mbox_inbox, for mbox only, is the INBOX file (NULL: ROOT/INBOX), for
 * example /var/mail/USER. */
struct mailbox_location {
	const char		*root;
	enum mailbox_format	 format;
	const char		*mbox_inbox;
};

#define MAILBOX_RDONLY		0x01	/* no index writes, no flag changes */
#define MAILBOX_CREATE		0x02	/* create the folder if missing */

struct mailbox;

/* One message of the view.  key is borrowed until the next sync/close. */
struct mailbox_msg {
	uint32_t	 seq;
	uint32_t	 uid;
	unsigned int	 flags;		/* MAILBOX_SEEN... */
	uint64_t	 keywords;	/* bit i: mailbox_keyword_name(mb, i) */
	uint64_t	 modseq;
	uint64_t	 wire_size;	/* CRLF bytes: what the stream gives */
	time_t		 internal_date;
	const char	*key;		/* Maildir base name; mbox: "" */
};

/* What a sync found, relative to the view before it.  Arrays are owned
 * by the mailbox and valid until the next sync/close.
 * expunged_seqs are sequence numbers of the OLD view, ascending: a protocol
 * sends "* n EXPUNGE" for them from the highest down, and every number is
 * then right.  changed_uids are messages still present whose flags or
 * keywords changed (modseq went up) since the previous view.  The new
 * messages are those with seq > old_count - n_expunged. */
struct mailbox_changes {
	const uint32_t	*expunged_seqs;
	const uint32_t	*expunged_uids;
	size_t		 n_expunged;
	const uint32_t	*changed_uids;
	size_t		 n_changed;
	uint32_t	 old_count;	/* view size before the sync */
	uint32_t	 new_count;	/* view size after: EXISTS */
	bool		 uidvalidity_changed;	/* index rebuilt: start over */
};

/* ---- opening ---- */

/* Open folder name ("INBOX" or a valid name) of loc read-write, or
 * read-only with MAILBOX_RDONLY (no flag changes, expunges or appends;
 * the sync still gives new mail its UIDs).  Loads (or builds) the index
 * and syncs once.  Returns NULL with f filled if the folder does not exist
 * (permanent; unless MAILBOX_CREATE; INBOX is always created), the name
 * is bad, or I/O fails. */
struct mailbox *mailbox_open(const struct mailbox_location *,
	    const char *name, unsigned int open_flags, struct fail *);
void	 mailbox_close(struct mailbox **);	/* accepts NULL, sets NULL */

/* Bring the view up to date: new deliveries get UIDs (Maildir: files in
 * new/ move to cur/), files gone from disk are expunged, flag changes by
 * others show up.  Fills *changes_r (may be NULL). */
int	 mailbox_sync(struct mailbox *, struct mailbox_changes *changes_r,
	    struct fail *) __attribute__((warn_unused_result));

/* Cheap check for IDLE and NOOP: true if a sync would probably find
 * something (index replaced, new/ or the mbox changed).  Never blocks and
 * never takes a lock; false positives are possible, misses are not (at
 * one-second mtime granularity, see docs/mailbox.md). */
bool	 mailbox_has_changed(struct mailbox *);

/* Paths an event loop may watch with inotify to wake an IDLE session
 * (the change log, and new/ and cur/ or the mbox file): up to n of them
 * in paths_r, returns how many.  Borrowed until close.  Files are
 * replaced by rename at times (log compaction, mbox expunge): re-arm the
 * watches after each sync. */
size_t	 mailbox_watch_paths(struct mailbox *, const char **paths_r, size_t n);

/* ---- the view ---- */

uint32_t mailbox_count(const struct mailbox *);
uint32_t mailbox_uidvalidity(const struct mailbox *);
/* The folder's index file: a protocol keeps its own small state beside
 * it (imapd's \Recent mark: this path with a suffix). */
const char *mailbox_index_path(const struct mailbox *);
uint32_t mailbox_uidnext(const struct mailbox *);
uint64_t mailbox_highestmodseq(const struct mailbox *);
bool	 mailbox_is_readonly(const struct mailbox *);
enum mailbox_format mailbox_format(const struct mailbox *);

/* Fill *r for sequence number seq (1..count).  Returns 0, or -1 if seq is
 * out of range. */
int	 mailbox_msg(const struct mailbox *, uint32_t seq,
	    struct mailbox_msg *r) __attribute__((warn_unused_result));
/* Sequence number of uid in the view, 0 if not there. */
uint32_t mailbox_seq_of_uid(const struct mailbox *, uint32_t uid);

/* Keywords of this folder: count, and the name of bit i (borrowed until
 * close), NULL if i >= count.  mailbox_keyword_find() returns the bit or
 * -1. */
unsigned int mailbox_keyword_count(const struct mailbox *);
const char *mailbox_keyword_name(const struct mailbox *, unsigned int i);
int	 mailbox_keyword_find(const struct mailbox *, const char *name);
/* A keyword is an IMAP atom without '\\': printable ASCII except
 * "(){%*\"\\]" and space, 1..MAILBOX_KEYWORD_MAX bytes. */
bool	 mailbox_keyword_valid(const char *name);

/* ---- message content ---- */

struct mailbox_stream;

/* Open message seq for reading its wire form: CRLF line ends, mboxrd
 * quoting undone, exactly msg.wire_size bytes.  Returns NULL and fills f
 * if the message is gone (expunged by another session: permanent) or I/O
 * fails. */
struct mailbox_stream *mailbox_stream_open(struct mailbox *, uint32_t seq,
	    struct fail *);
/* Read up to len wire bytes into buf: >0 bytes, 0 at the end, -1 on I/O
 * error. */
ssize_t	 mailbox_stream_read(struct mailbox_stream *, void *buf, size_t len);
/* Zero copy: if the stored bytes are exactly the wire bytes, set *fd_r
 * (borrowed, valid until close), *off_r and *len_r to the region for
 * sendfile()/splice() and return true; do not mix with stream_read. */
bool	 mailbox_stream_raw(struct mailbox_stream *, int *fd_r, off_t *off_r,
	    uint64_t *len_r);
/* Skip to wire offset off (for BODY[]<off.len>): 0, or -1 if off is
 * past the end or behind the current position, or on I/O error. */
int	 mailbox_stream_seek(struct mailbox_stream *, uint64_t off)
	    __attribute__((warn_unused_result));
void	 mailbox_stream_close(struct mailbox_stream **);

/* LF -> CRLF, resumable.  Copy from in (inlen bytes) to out (outlen
 * bytes, at least 2), turning each LF not preceded by CR into CRLF; *prev
 * carries the last byte copied across calls (start with '\0').  Sets
 * *used_r to the bytes of in consumed and returns the bytes written. */
size_t	 mailbox_crlf_copy(const void *in, size_t inlen, size_t *used_r,
	    void *out, size_t outlen, char *prev);
/* Wire size of len raw bytes continuing after *prev (as above). */
uint64_t mailbox_crlf_size(const void *in, size_t len, char *prev);

/* ---- changes ---- */

enum mailbox_flag_op {
	MAILBOX_FLAGS_ADD,
	MAILBOX_FLAGS_REMOVE,
	MAILBOX_FLAGS_REPLACE
};

/* Change flags and keywords of the messages with the given UIDs (those
 * not in the index any more are skipped).  Keyword names are added to the
 * folder as needed.  With unchangedsince != 0 (CONDSTORE), messages whose
 * modseq is above it are left alone and their UIDs returned in *failed_r
 * (malloc'ed, caller frees; may be NULL when unchangedsince is 0).
 * Every changed message gets a new modseq.  The view is updated for
 * these messages (other changes wait for the next sync). */
int	 mailbox_store(struct mailbox *, const uint32_t *uids, size_t n,
	    enum mailbox_flag_op, unsigned int flags,
	    const char *const *keywords, size_t n_keywords,
	    uint64_t unchangedsince, uint32_t **failed_r, size_t *n_failed_r,
	    struct fail *) __attribute__((warn_unused_result));

/* Remove the messages with these UIDs from storage and index (Maildir:
 * unlink; mbox: rewrite, see docs/mailbox.md).  UIDs already gone are
 * skipped.  The view changes at the next mailbox_sync(), which reports
 * them as expunged.  uids == NULL expunges every message flagged \Deleted
 * in the current index (IMAP CLOSE/EXPUNGE). */
int	 mailbox_expunge(struct mailbox *, const uint32_t *uids, size_t n,
	    struct fail *) __attribute__((warn_unused_result));

/* Add a message (wire or LF form; mbox stores LF and quotes From lines)
 * with flags, keywords and internal date (0: now).  Sets *uid_r (may be
 * NULL) to its UID (IMAP APPENDUID).  It appears in the view at the next
 * sync. */
int	 mailbox_append(struct mailbox *, const void *data, size_t len,
	    unsigned int flags, const char *const *keywords, size_t n_keywords,
	    time_t internal_date, uint32_t *uid_r, struct fail *)
	    __attribute__((warn_unused_result));

/* IMAP COPY: add message seq of src to dst with its flags, keywords and
 * internal date; *uid_r (may be NULL) gets its UID in dst (COPYUID).
 * Maildir to Maildir on one file system hard-links the file; otherwise the
 * wire bytes are copied.  MOVE is COPY, then mailbox_expunge() in src. */
int	 mailbox_copy(struct mailbox *src, uint32_t seq, struct mailbox *dst,
	    uint32_t *uid_r, struct fail *) __attribute__((warn_unused_result));

/* IMAP CONDSTORE/QRESYNC: UIDs expunged with a modseq above since
 * (malloc'ed into *uids_r) and returns 1, or returns 0 if the index no
 * longer remembers that far back (then report every UID not in the view
 * as vanished), -1 on error. */
int	 mailbox_expunged_since(struct mailbox *, uint64_t since,
	    uint32_t **uids_r, size_t *n_r) __attribute__((warn_unused_result));

/* ---- cache of parsed data (ENVELOPE, BODYSTRUCTURE) ---- */

/* Store up to MAILBOX_CACHE_MAX bytes for message uid (replacing any
 * earlier blob).  Best effort: a failure only costs a re-parse. */
#define MAILBOX_CACHE_MAX	(256 * 1024)
int	 mailbox_cache_put(struct mailbox *, uint32_t uid, const void *, size_t)
	    __attribute__((warn_unused_result));
/* Fetch the blob for uid into a malloc'ed buffer: 1 found, 0 none. */
int	 mailbox_cache_get(struct mailbox *, uint32_t uid, void **data_r,
	    size_t *len_r) __attribute__((warn_unused_result));

/* ---- session lock: one holder of the folder at a time ---- */

/* Take the folder's session lock without waiting: 1 taken (held until
 * mailbox_session_unlock() or close; taking it again is a no-op), 0
 * another open of the folder holds it, in this process or another, -1
 * error.  Only sessions that want the folder to themselves take it (pop3d:
 * RFC 1939's maildrop lock, 0 is -ERR [IN-USE]); the index and the
 * deliveries never wait for it.  The lock file keeps its historical name
 * (buzon.pop3.lock, .pop3.lock) so that a running older pop3d and a new one
 * still exclude each other. */
int	 mailbox_session_lock(struct mailbox *, struct fail *)
	    __attribute__((warn_unused_result));
void	 mailbox_session_unlock(struct mailbox *);

/* ---- folders ---- */

/* True if name is a folder name this module accepts (see the top). */
bool	 mailbox_name_valid(const char *name);

/* List the folders of loc (INBOX first, then sorted by name): a
 * malloc'ed NULL-terminated array of malloc'ed names; free with
 * mailbox_list_free(). */
int	 mailbox_list(const struct mailbox_location *, char ***names_r,
	    struct fail *) __attribute__((warn_unused_result));
void	 mailbox_list_free(char ***names);
int	 mailbox_create(const struct mailbox_location *, const char *name,
	    struct fail *) __attribute__((warn_unused_result));
/* Deletes the folder and its messages; INBOX cannot be deleted.  Children
 * ("a.b" for "a") stay. */
int	 mailbox_delete(const struct mailbox_location *, const char *name,
	    struct fail *) __attribute__((warn_unused_result));
/* Renames folder from and its children ("from.x" -> "to.x").  Renaming
 * INBOX is refused (IMAP's "move INBOX's mail" is imapd's job). */
int	 mailbox_rename(const struct mailbox_location *, const char *from,
	    const char *to, struct fail *) __attribute__((warn_unused_result));

#endif
