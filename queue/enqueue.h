/*
 * enqueue.h - put a message into the spool, durably, and tell queued
 *
 * The one way mail enters the queue (smtpd, bounces, local submission).
 * A message is written to STATE/spool/tmp/ID as it arrives (bounded
 * buffer, never the whole message in memory), and becomes visible in
 * STATE/spool/queue/ID only at commit, after the file is fsync'd; commit
 * returns after the queue directory is fsync'd too.  So: before commit
 * returns 0, a crash leaves nothing in queue/ (at most a stale tmp/ file,
 * which the queue runner removes); after it, the message survives.  Only
 * then may smtpd answer 250.
 *
 *	enqueue_begin()       new handle and queue id (for the Received header)
 *	enqueue_envelope()    once, before any content
 *	enqueue_write() ...   content as it arrives (CRLF, dot-unstuffed)
 *	enqueue_commit()      or enqueue_commit_batch() for several at once
 *	enqueue_rollback()    instead, to drop it (RSET, 5xx at end of DATA)
 *
 * Every failure is -1 with a struct fail ready for the SMTP reply: disk
 * full, quota, file size limit or a read-only / unwritable spool give
 * {temp, "4.3.1", "Insufficient system storage"}; other I/O errors
 * {temp, "4.3.0", ...}; a message over SPOOL_MAX_CONTENT 5.3.4.  After a
 * failure the handle stays usable as a sink: further writes return -1 at
 * once (so smtpd can read DATA to its end, then reply), and commit returns
 * the same failure.  The temp file is removed as soon as a write fails.
 *
 * SIGXFSZ must be ignored by the process (RLIMIT_FSIZE then gives EFBIG).
 * A struct enqueue is used by one thread at a time, with one exception:
 * one thread may commit (enqueue_commit_batch() of messages nobody else
 * touches) while another begins, writes and rolls back other messages.
 *
 * In an event-loop daemon (smtpd): enqueue_begin() at DATA (the id goes
 * into the Received header), enqueue_envelope(), then enqueue_write() for
 * each chunk of unstuffed content; a session whose DATA ended is put on a
 * list instead of committing at once, and enqueue_commit_batch() commits
 * the whole list on smtpd's committer thread before the 250 (or 4xx)
 * replies go out.  A commit takes about one fsync (more messages in a
 * batch barely cost more), during which the loop serves everyone else;
 * see docs/spool.md.
 */
#ifndef BUZON_ENQUEUE_H
#define BUZON_ENQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fail.h"
#include "spool.h"

struct enqueue;
struct enqueue_msg;

/* Open the spool under state_dir, creating STATE/spool/{tmp,queue,hold,
 * corrupt,status} and STATE/run (mode 0700) when missing.  0 or -1. */
int	 enqueue_open(const char *state_dir, struct enqueue **q_r,
	    struct fail *)
	    __attribute__((warn_unused_result));
/* Accepts NULL; open messages must have been committed or rolled back. */
void	 enqueue_close(struct enqueue **);

/* Threads used by enqueue_commit_batch() to fsync files in parallel
 * (default 8, at most 32; 1 = the calling thread alone).  The helper
 * threads start at the first batch of two or more messages and stay until
 * enqueue_close(); a batch wakes only as many as it has messages, and the
 * caller's thread is one of them.  Set it before the first commit.  One
 * commit at a time per struct enqueue (any one thread); enqueue_begin()
 * may run meanwhile on another thread.  See docs/spool.md for
 * measurements. */
void	 enqueue_set_sync_threads(struct enqueue *, unsigned int n);

/* Start a message: a new queue id and arrival time.  Nothing is created
 * on disk until the buffered bytes pass the buffer size or commit. */
int	 enqueue_begin(struct enqueue *, struct enqueue_msg **m_r,
	    struct fail *)
	    __attribute__((warn_unused_result));
/* The message's queue id (SPOOL_ID_LEN chars); valid while the handle is. */
const char *enqueue_id(const struct enqueue_msg *);
/* Content bytes written so far. */
uint64_t enqueue_size(const struct enqueue_msg *);

/* Write the envelope: every field of env except id and arrival time, which
 * are the handle's.  Exactly once, before any enqueue_write(). */
int	 enqueue_envelope(struct enqueue_msg *, const struct spool_env *,
	    struct fail *)
	    __attribute__((warn_unused_result));
/* Append content bytes. */
int	 enqueue_write(struct enqueue_msg *, const void *, size_t,
	    struct fail *)
	    __attribute__((warn_unused_result));

/* Make the message durable and visible, then notify the queue runner.
 * Always consumes *mp (sets it NULL).  0: the caller may reply 250. */
int	 enqueue_commit(struct enqueue_msg **mp, struct fail *)
	    __attribute__((warn_unused_result));
/*
 * Commit n messages of the same struct enqueue together: each file is
 * fsync'd (in parallel with sync threads), all are renamed, then the queue
 * directory is fsync'd once and one notification carries all the ids.
 * Consumes every msgs[i].  rc_r[i] is 0 or -1 (with fails[i]) per message;
 * returns 0 when all committed, -1 when any failed.
 */
int	 enqueue_commit_batch(struct enqueue_msg **msgs, size_t n, int *rc_r,
	    struct fail *fails);
/* Drop the message: remove its temp file.  Accepts NULL, sets *mp NULL. */
void	 enqueue_rollback(struct enqueue_msg **mp);

/* Queue-runner helper: remove files in tmp/ older than max_age seconds
 * (left by a crash before commit).  Returns how many were removed. */
unsigned int enqueue_clean_tmp(struct enqueue *, uint64_t max_age);

#endif
