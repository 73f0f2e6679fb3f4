/*
 * mailbox_private.h - what mailbox.c, maildir.c, mbox.c and mbidx.c
 * share.  Nothing outside common/mailbox* and their tests may include it.
 */
#ifndef BUZON_MAILBOX_PRIVATE_H
#define BUZON_MAILBOX_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "mailbox.h"

/* Record bits above the IMAP flags: storage facts, never shown. */
#define MBR_QUOTED	0x0100	/* mbox: has ">From " lines to unquote */
#define MBR_TRAIL	0x0200	/* mbox: last LF belongs to the separator */
#define MBR_INTERNAL	0xff00

/* One message in the index.  key/fname are heap strings owned by the
 * record (mbidx_release frees them). */
struct mbidx_rec {
	uint32_t	 uid;
	uint32_t	 flags;		/* MAILBOX_* | MBR_* */
	uint64_t	 keywords;
	uint64_t	 modseq;
	int64_t		 idate;
	uint64_t	 wire_size;
	uint64_t	 raw_size;	/* Maildir: file size; mbox: chunk */
	uint64_t	 offset;	/* mbox: offset of the "From " line */
	uint64_t	 hash;		/* mbox: content hash for re-matching */
	uint64_t	 cache_off;	/* 0: no cache blob */
	uint32_t	 cache_len;
	uint32_t	 aux;		/* mbox: length of the "From " line */
	char		*key;		/* Maildir base name; mbox: NULL */
	char		*fname;		/* Maildir: name in cur/ (not stored) */
	bool		 seen_on_disk;	/* sync scratch */
};

struct mbidx_exp {
	uint32_t	 uid;
	uint64_t	 modseq;
};

/* Limits that keep a hostile or broken index file from costing much. */
#define MBIDX_MSGS_MAX		10000000u
#define MBIDX_EXP_MAX		20000u		/* expunge history kept */
#define MBIDX_KEY_MAX		255u

struct mbidx {
	uint32_t	 uidvalidity;
	uint32_t	 uidnext;
	uint64_t	 highestmodseq;
	uint64_t	 expunge_floor;	/* history complete above this */
	uint64_t	 log_id;	/* the buzon.log that continues this */
	/* storage stamp at the last sync: mbox file, or Maildir new/ + cur/ */
	uint64_t	 st_ino;
	uint64_t	 st_size;
	int64_t		 st_mtime_ns;
	int64_t		 st2_mtime_ns;
	char		*keywords[MAILBOX_KEYWORDS_MAX];
	unsigned int	 n_keywords;
	struct mbidx_rec *recs;		/* ascending UID */
	size_t		 n, cap;
	struct mbidx_exp *exp;		/* ascending modseq */
	size_t		 n_exp, exp_cap;
	int		 fd;		/* mbox: the file the offsets are in */
};

void	 mbidx_init(struct mbidx *);
void	 mbidx_release(struct mbidx *);
/* Parse an index file image.  0 ok, -1 malformed (idx is left empty). */
int	 mbidx_parse(struct mbidx *, const void *buf, size_t len);
/* Serialize into a malloc'ed buffer. */
void	*mbidx_serialize(const struct mbidx *, size_t *len_r);
/* Read path: 1 loaded, 0 missing, -1 corrupt (idx empty), -2 I/O error. */
int	 mbidx_read(struct mbidx *, const char *path, struct stat *st_r);
/* Write atomically: tmp, fsync, rename; with durable, fsync the
 * directory too (needed once UIDs were handed out).  0, or -1 (errno)
 * when a step failed, the directory fsync included: the new file may
 * then be in place but is not known to survive a crash. */
int	 mbidx_write(const struct mbidx *, const char *path, bool durable,
	    struct stat *st_r);
/* Append a record (uid must be above every uid present). */
struct mbidx_rec *mbidx_add(struct mbidx *, uint32_t uid);
/* Index of uid in recs, or -1. */
ssize_t	 mbidx_find(const struct mbidx *, uint32_t uid);
/* Drop recs[i], remembering the expunge at a new modseq (or at the
 * given one). */
void	 mbidx_expunge_at(struct mbidx *, size_t i);
void	 mbidx_expunge_with(struct mbidx *, size_t i, uint64_t modseq);
/* One message record in the file encoding (shared with the log). */
struct str;
int	 mbidx_rec_read(const unsigned char **p, size_t *left,
	    struct mbidx_rec *);
void	 mbidx_rec_write(struct str *, const struct mbidx_rec *);
bool	 mbidx_rec_ok(const struct mbidx *, const struct mbidx_rec *);
void	 mbidx_put(struct str *, uint64_t v, size_t n);

/* mblog.c: the change log after the index (docs/mailbox.md). */
#define MBLOG_HDR	16
/* Create path (O_EXCL) holding only a header for log id, fsynced. */
int	 mblog_create(const char *path, uint64_t id);
/* The log id of a log file image; -1 if it is not one. */
int	 mblog_header_id(const void *buf, size_t len, uint64_t *id_r);
/* Apply the committed records of buf (log bytes from some record start)
 * to idx, with the checks mbidx_parse() makes of an index (so what comes
 * out always reads back).  0 with *used_r the bytes up to the last
 * commit; or -1 when a committed change makes no sense: idx then holds
 * every commit before it, *used_r is their length, and uidnext and
 * highestmodseq have moved past what the rest claims (so no UID is given
 * twice); the caller stops reading the log there and compacts at its
 * next write, and UIDVALIDITY stays. */
int	 mblog_apply(struct mbidx *, const void *buf, size_t len,
	    size_t *used_r);
/* Append to out the records that turn pre into post, then a commit. */
void	 mblog_diff(const struct mbidx *pre, const struct mbidx *post,
	    struct str *out);
/* Deep copy. */
void	 mbidx_copy(struct mbidx *dst, const struct mbidx *src);
/* Keyword bit for name, adding it if add; -1 if unknown or full. */
int	 mbidx_keyword(struct mbidx *, const char *name, bool add);
uint64_t mbidx_hash(const void *, size_t, uint64_t seed);

struct mailbox_backend {
	const char *name;
	/* Bring idx (fresh from disk, index lock held) up to date with the
	 * store; set *dirty if idx changed. */
	int	(*sync)(struct mailbox *, struct mbidx *, bool *dirty,
		    struct fail *);
	/* Open message rec for reading (fills the stream's fd/range). */
	int	(*open_msg)(struct mailbox *, const struct mbidx_rec *,
		    struct mailbox_stream *, struct fail *);
	/* Apply the record's new flags to storage (Maildir file names). */
	int	(*set_flags)(struct mailbox *, struct mbidx_rec *,
		    unsigned int old_flags, struct fail *);
	/* Remove the records with doomed[i] from storage and from idx. */
	int	(*expunge)(struct mailbox *, struct mbidx *, const bool *doomed,
		    struct fail *);
	/* Maildir only: hard-link src's file rec into this folder as a new
	 * message (flags, idate as given); -1 with errno EXDEV etc. means
	 * "copy the bytes instead". */
	int	(*link_from)(struct mailbox *, struct mbidx *,
		    struct mailbox *src, struct mbidx_rec *rec,
		    unsigned int flags, struct mbidx_rec **rec_r);
	/* Store one message, add its record to idx. */
	int	(*append)(struct mailbox *, struct mbidx *, const void *,
		    size_t, unsigned int flags, time_t idate,
		    struct mbidx_rec **rec_r,
		    struct fail *);
	void	(*close)(struct mailbox *);
};

extern const struct mailbox_backend maildir_backend;
extern const struct mailbox_backend mbox_backend;

struct mailbox {
	const struct mailbox_backend *be;
	char		*name;
	char		*root;
	char		*path;		/* Maildir folder dir, or mbox file */
	char		*index_path;
	char		*cache_path;
	char		*lock_path;
	char		*session_path;
	char		*uidv_path;	/* ROOT/buzon.uidvalidity */
	char		*new_dir, *cur_dir, *tmp_dir;	/* Maildir */
	bool		 rdonly;
	struct mbidx	 view;
	struct stat	 index_st;	/* index file as last read/written */
	bool		 have_index_st;
	int		 lock_fd;	/* index lock, only inside a call */
	int		 session_fd;
	unsigned int	 append_seq;
	uint64_t	 cache_scanned;	/* cache file read up to here */
	uint32_t	 cache_gen;	/* ... in this generation of it */
	/* The index as on disk (index file + log up to log_pos), kept
	 * between calls so that a refresh reads only the log's new tail. */
	struct mbidx	 disk;
	bool		 have_disk;
	uint64_t	 log_pos;
	bool		 log_ok;	/* the log file belongs to disk */
	bool		 rebuilt;	/* disk was just started over */
	uint32_t	 disk_uidnext;	/* UIDNEXT before this change */
	char		*log_path;
	struct stat	 log_st;	/* log as of the view */
	bool		 have_log_st;
	/* last sync's report */
	uint32_t	*ch_exp_seqs, *ch_exp_uids, *ch_changed;
	size_t		 ch_cap_exp, ch_cap_changed;
};

struct mailbox_stream {
	int		 fd;
	bool		 own_fd;
	uint64_t	 off;		/* current raw offset */
	uint64_t	 end;		/* raw end offset */
	uint64_t	 start;
	uint64_t	 pos;		/* wire bytes handed out so far */
	bool		 raw_ok;	/* stored bytes == wire bytes */
	bool		 unquote;	/* mboxrd: one '>' off >+From lines */
	bool		 at_bol;
	bool		 pending_lf;	/* CR went out, its LF did not */
	char		 prev;
	char		 buf[16384];
	size_t		 bpos, blen;
};

/* Helpers shared by the backends.  mailbox_lock_fd() takes an exclusive
 * OFD lock on the whole file, waiting or not: 0 or -1 (errno EAGAIN if
 * held elsewhere). */
int	 mailbox_open_lock(const char *path);
int	 mailbox_lock_fd(int fd, bool wait);

/* mailbox_index.c.  The index lock is held only inside one call.
 * refresh_locked fills fresh with the on-disk state synced with the store
 * (*dirty: it differs from what is on disk); write_locked records fresh
 * as the new on-disk state (log append or compaction). */
int	 mailbox_index_lock(struct mailbox *, struct fail *);
void	 mailbox_index_unlock(struct mailbox *);
int	 mailbox_refresh_locked(struct mailbox *, struct mbidx *fresh,
	    bool *dirty, struct fail *);
int	 mailbox_write_locked(struct mailbox *, struct mbidx *fresh,
	    struct fail *);
char	*mailbox_path_join(const char *a, const char *b);
/* dir_fsync() for this module: the one name its unit tests wrap
 * (TL_WRAP_FSYNC_DIR) to make directory fsyncs fail. */
int	 mailbox_fsync_dir(const char *path);
uint32_t mailbox_new_uidvalidity(struct mailbox *);

/* maildir_uidlist.c: Dovecot's UID list, read once on migration. */
struct uidlist_ent {
	char		*key;
	uint32_t	 uid;
};
struct uidlist {
	uint32_t	 uidvalidity, uidnext;
	struct uidlist_ent *ents;	/* sorted by key */
	size_t		 n;
};
/* 1 read, 0 missing or malformed (ul empty). */
int	 maildir_uidlist_read(const char *path, struct uidlist *);
uint32_t maildir_uidlist_find(const struct uidlist *, const char *key);
void	 maildir_uidlist_free(struct uidlist *);

/* mboxrd: a line of 1..MBOX_QUOTE_MAX-1 '>' then "From " is quoted.
 * p holds avail bytes of the line start (at least MBOX_QUOTE_MAX + 5, or
 * the whole rest of the message). */
#define MBOX_QUOTE_MAX	1000
bool	 mbox_line_quoted(const char *p, size_t avail);


#endif
