/*
 * deliver.h - put one message into one local mailbox, Maildir or mbox
 *
 * The content comes either as a buffer or as a byte range of an open file
 * (the spool), read in bounded chunks with pread(): a message is never
 * copied whole into memory.  Line ends are stored as LF: CRLF in the input
 * becomes LF, a bare CR is kept as it is.  Two header fields are put in
 * front of the message:
 *
 *	Return-Path: <SENDER>		("<>" for the null sender)
 *	Delivered-To: ADDRESS
 *
 * and a message that already carries "Delivered-To: ADDRESS" in its header
 * is refused (5.4.6 mail forwarding loop) without touching the mailbox.
 *
 * Maildir: the file is written under tmp/ (O_CREAT|O_EXCL|O_NOFOLLOW),
 * fsync'd, then linked into new/ under its final name and unlinked from
 * tmp/, and new/ is fsync'd (the last three at deliver_batch_commit(),
 * see below).  A missing Maildir
 * (and its cur, new, tmp) is created.  Names are
 *	SECONDS.M<usec>P<pid>Q<seq>.HOST,S=SIZE,W=WIRE
 * (SIZE the file's bytes, WIRE the size with CRLF line ends as POP3 and
 * IMAP send it: Dovecot's ",S=" and ",W=", so readers need neither
 * stat() nor a read to learn them).
 *
 * mbox: the dotlock FILE.lock is taken first, then an fcntl write lock on
 * the whole file (docs/delivery.md: readers take the same locks in the same
 * order).  A "From SENDER DATE" line goes first, lines matching ">*From "
 * get one more ">" (mboxrd), and a blank line ends the message.  The file
 * is fsync'd before the locks are dropped; when any write or the fsync
 * fails the file is truncated back to its old size.
 *
 * Quota (bytes, 0 none): the current usage is the mbox size, or for a
 * Maildir the sum of its Maildir++ "maildirsize" file (common/
 * maildir_quota.h, shared with imapd: rebuilt from the ,S= sizes of every
 * folder when missing, too long, or when it says "over").  Over quota is a
 * temporary failure 4.2.2 unless quota_bounce (then 5.2.2).
 *
 * Every operation returns 0, or -1 with a struct fail: temp says whether
 * the queue should retry or bounce.
 */
#ifndef BUZON_DELIVER_H
#define BUZON_DELIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "fail.h"

#define DELIVER_NAME_MAX	256	/* a Maildir file name */
#define DELIVER_ADDR_MAX	512	/* sender / recipient address */
#define DELIVER_PENDING_MAX	64	/* Maildir files a batch keeps open */

enum deliver_format {
	DELIVER_MAILDIR,
	DELIVER_MBOX,
};

/* The message: buf when non-NULL, else len bytes of fd at offset. */
struct deliver_msg {
	const char	*buf;
	int		 fd;
	uint64_t	 offset;
	uint64_t	 len;
};

struct deliver_conf {
	const char	*hostname;	/* Maildir names; NULL: gethostname() */
	bool		 quota_bounce;	/* over quota: 5.2.2, else 4.2.2 */
	unsigned int	 lock_timeout;	/* seconds to wait for mbox locks */
	unsigned int	 stale_lock_time; /* seconds: an older dotlock whose
					    pid is gone is removed */
};

#define DELIVER_LOCK_TIMEOUT	30
#define DELIVER_STALE_LOCK_TIME	300

/* Where one copy goes. */
struct deliver_rcpt {
	const char		*sender;	/* envelope sender; "" null */
	const char		*address;	/* for Delivered-To */
	const char		*path;		/* Maildir dir or mbox file */
	enum deliver_format	 format;
	uint64_t		 quota;		/* bytes; 0: none */
};

/* What one delivery did (optional out-parameter). */
struct deliver_result {
	uint64_t	 size;			/* bytes stored */
	uint64_t	 offset;		/* mbox: its From line */
	char		 name[DELIVER_NAME_MAX];	/* Maildir: in new/ */
};

struct deliver_batch;

/* Fill c with the defaults (lock times above, hostname NULL). */
void	 deliver_conf_init(struct deliver_conf *);

/*
 * A batch defers the fsyncs: deliver_batch_add() writes a Maildir message
 * to tmp/ (an mbox message is appended and fsync'd at once, under its
 * locks), and deliver_batch_commit() fsyncs the pending files, links them
 * into new/ and fsyncs every directory touched once; only then may the
 * caller count the messages as delivered.  At most DELIVER_PENDING_MAX
 * files wait; adding one more flushes them into new/ first.  Until the
 * commit succeeds the messages may vanish in a crash (and be delivered
 * again: duplicates are allowed, losses are not).  res->name and
 * res->size are final at deliver_batch_add().  conf is borrowed for the
 * life of the batch.
 */
struct deliver_batch *deliver_batch_begin(const struct deliver_conf *);
int	 deliver_batch_add(struct deliver_batch *, const struct deliver_rcpt *,
	    const struct deliver_msg *, struct deliver_result *,
	    struct fail *) __attribute__((warn_unused_result));
/* fsync every touched directory, free the batch, *bp = NULL.  0, or -1
 * (temporary): then none of the batch's deliveries may be counted. */
int	 deliver_batch_commit(struct deliver_batch **, struct fail *)
	    __attribute__((warn_unused_result));
/* Give the batch up (accepts NULL): Maildir messages not yet flushed are
 * removed from tmp/, the rest stay without their directory fsync. */
void	 deliver_batch_free(struct deliver_batch **);

/* One message to one mailbox, durable on return 0 (begin, add, commit). */
int	 deliver(const struct deliver_conf *, const struct deliver_rcpt *,
	    const struct deliver_msg *, struct deliver_result *, struct fail *)
	    __attribute__((warn_unused_result));

/* Compose a Maildir base name "SEC.M<usec>P<pid>Q<seq>.HOST" into buf;
 * '/' and ':' in host become "\057" and "\072".  0, or -1 if it does not
 * fit.  Exposed for tests. */
int	 deliver_maildir_name(char *buf, size_t size, time_t sec, long usec,
	    pid_t pid, unsigned long seq, const char *host)
	    __attribute__((warn_unused_result));

#endif
