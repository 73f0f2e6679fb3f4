/*
 * queued.h - buzon-queued: the queue runner (this directory only)
 *
 * The runner owns STATE/spool/queue: it picks up new ids from the datagram
 * socket STATE/run/queued.sock (and from a periodic scan of queue/),
 * resolves each recipient through the accounts maps, delivers local
 * copies with the delivery library in worker threads, records what
 * happened in the status log (docs/spool.md), sends DSNs through the
 * enqueue API, and removes an entry once every recipient is final.  See
 * docs/queue.md for the schedule, the rounds and the crash argument.
 *
 * Split:
 *	schedule.c  pure decisions (retry delay, expiry, which DSN is owed)
 *	            and the set of ids waiting for their next attempt
 *	workers.c   the delivery thread pool
 *	message.c   one queue entry: load, lock, quarantine, status, remove
 *	bounce.c    DSNs for one entry, enqueued with the null sender
 *	runner.c    rounds, the socket, timers, scanning
 */
#ifndef BUZON_QUEUED_H
#define BUZON_QUEUED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accounts.h"
#include "deliver.h"
#include "event.h"
#include "fail.h"
#include "spool.h"

struct config;
struct enqueue;

/* Settings of the runner, in seconds unless named otherwise.  Strings are
 * owned (queue_conf_release()). */
struct queue_conf {
	char		*state_dir;
	char		*hostname;
	unsigned int	 workers;		/* delivery threads, >= 1 */
	uint64_t	 retry_min;
	uint64_t	 retry_max;
	uint64_t	 delay_warning_time;	/* 0: never warn */
	bool		 delay_warning_default;	/* warn without NOTIFY= */
	uint64_t	 max_lifetime;
	char		*double_bounce;		/* "postmaster" or an address */
	uint64_t	 scan_interval_ms;
	uint64_t	 bounce_full_max;	/* bytes of RET=FULL returned */
	/* for the delivery library and the maps */
	bool		 quota_bounce;
	unsigned int	 lock_timeout;
	unsigned int	 stale_lock_time;
	char		*map_type;
	char		*recipient_delimiter;
	bool		 local_part_case_sensitive;
};

/* Take the runner's settings from the config (copies). */
void	 queue_conf_from_config(struct queue_conf *, const struct config *);
void	 queue_conf_release(struct queue_conf *);

/* ---- schedule.c: decisions ---- */

/* Delay before attempt attempts + 1 after attempts (>= 1) temporary
 * failures: retry_min doubled per failure, at most retry_max. */
uint64_t queue_retry_delay(const struct queue_conf *, unsigned int attempts);
/* Has the message outlived max_lifetime at now? */
bool	 queue_is_expired(const struct queue_conf *, uint64_t arrival,
	    uint64_t now);
/* Is a delay warning due for a deferred recipient (not yet warned)?
 * Needs a sender, NOTIFY=DELAY (or no NOTIFY and delay_warning_default)
 * and delay_warning_time passed since arrival. */
bool	 queue_wants_delay_dsn(const struct queue_conf *, unsigned int notify,
	    bool null_sender, uint64_t arrival, uint64_t now);

enum queue_dsn_kind {
	QUEUE_DSN_NONE,		/* nothing owed */
	QUEUE_DSN_SENDER,	/* a DSN to the envelope sender */
	QUEUE_DSN_POSTMASTER,	/* a failure of a null-sender message: to
				   double_bounce (never back to <>) */
};
/* Who gets a DSN for a recipient in a final state: delivered with
 * NOTIFY=SUCCESS, bounced or expired unless NOTIFY=NEVER (or NOTIFY given
 * without FAILURE).  Null sender: failures go to the postmaster, success
 * reports nowhere. */
enum queue_dsn_kind queue_dsn_owed(enum spool_rcpt_state, unsigned int notify,
	    bool null_sender);

/* How one recipient's copies went, worst first. */
enum queue_outcome {
	QUEUE_OK = 0,
	QUEUE_PERM = 1,
	QUEUE_TEMP = 2,
};
/* Combine the outcome of one more target: a temporary failure means the
 * recipient is retried, else a permanent one bounces it. */
enum queue_outcome queue_outcome_merge(enum queue_outcome, enum queue_outcome);

/* ---- schedule.c: ids waiting for their next attempt ---- */

struct queue_sched;

struct queue_sched *queue_sched_new(void);
void	 queue_sched_free(struct queue_sched **);
/* Schedule id at due (seconds; 0: now).  An id already waiting keeps the
 * earlier time; force (ignore the recipients' retry times) adds up. */
void	 queue_sched_add(struct queue_sched *, const char *id, uint64_t due,
	    bool force);
/* The same, but an id already waiting is left as it is (scans). */
void	 queue_sched_add_absent(struct queue_sched *, const char *id,
	    uint64_t due, bool force);
/* Make every waiting id due now, forced (flush). */
void	 queue_sched_flush(struct queue_sched *);
/* Take the next id due at now: 1 with id (SPOOL_ID_LEN + 1) and *force_r
 * set, 0 none due. */
int	 queue_sched_next(struct queue_sched *, uint64_t now, char *id,
	    bool *force_r);
/* The earliest due time waiting, or UINT64_MAX when none. */
uint64_t queue_sched_earliest(struct queue_sched *);
size_t	 queue_sched_count(const struct queue_sched *);

/* ---- workers.c ---- */

/* One copy of a message into one mailbox. */
struct queue_job {
	struct deliver_rcpt	 rcpt;		/* strings: the caller's */
	struct deliver_msg	 msg;
	int			 rc;		/* out: 0 or -1 with fail */
	struct fail		 fail;
	struct deliver_result	 res;
};

struct queue_workers;

/* n threads (1: the caller alone) delivering with conf (borrowed). */
struct queue_workers *queue_workers_new(unsigned int n,
	    const struct deliver_conf *);
void	 queue_workers_free(struct queue_workers **);
/* Deliver every job, each thread with its own batch; returns when all
 * are done and durable (rc 0) or failed.  Jobs for one mailbox should be
 * adjacent: a thread takes such a run whole, so each directory is
 * fsync'd once per round. */
void	 queue_workers_run(struct queue_workers *, struct queue_job *, size_t);
/* While a round runs, the calling thread calls fn(arg) between its own
 * runs and every 2 ms while it waits for the others (the runner reads its
 * socket there, so a burst of notifications does not overflow it). */
void	 queue_workers_set_hook(struct queue_workers *, void (*fn)(void *),
	    void *arg);

/* ---- runner.c ---- */

struct queue_runner;

/* Open the spool (creating it), the maps, the socket and the workers.
 * NULL with f set: the daemon cannot run (another runner holds the lock,
 * the spool is unusable). */
struct queue_runner *queue_runner_new(const struct queue_conf *,
	    struct fail *);
/* A runner that was started must be stopped first (its loop may be gone
 * by then). */
void	 queue_runner_free(struct queue_runner **);
/* Remove stale temp files, schedule everything in queue/ and hook the
 * socket and timers into loop. */
int	 queue_runner_start(struct queue_runner *, struct event_loop *);
/* Unhook from the loop: no more rounds.  A round never runs across
 * turns, so nothing is left half done. */
void	 queue_runner_stop(struct queue_runner *);
bool	 queue_runner_stopped(const struct queue_runner *);
/* Replace the settings (workers take effect at the next start). */
void	 queue_runner_reconf(struct queue_runner *, const struct queue_conf *);
/* Add every entry of queue/ to the schedule (due now when force). */
void	 queue_runner_scan(struct queue_runner *, bool force);
/* Take the names inotify saw arrive in queue/ into the schedule. */
void	 queue_runner_read_inotify(struct queue_runner *);
/* Read what waits on the socket (ids, FLUSH) into the schedule. */
void	 queue_runner_read_socket(struct queue_runner *);
/* Run one round: up to a round's worth of entries due at now.  Returns
 * how many entries were worked on (0: nothing was due). */
size_t	 queue_runner_round(struct queue_runner *, uint64_t now);
/* The schedule, for tests. */
struct queue_sched *queue_runner_sched(struct queue_runner *);

/* ---- message.c / bounce.c (used by runner.c) ---- */

/* Where the runner keeps its directories. */
struct queue_dirs {
	int		 queue_fd;
	int		 hold_fd;
	int		 corrupt_fd;
	int		 status_fd;
};

/* Move queue/ID (and its status log, as ID.status) to corrupt/. */
void	 queue_quarantine(const struct queue_dirs *, const char *id,
	    const char *why);

/* A loaded entry. */
struct queue_msg {
	char			 id[SPOOL_ID_LEN + 1];
	int			 fd;		/* queue file, flock'd */
	struct spool_env	 env;
	struct spool_rcpt_status *st;		/* per recipient, replayed */
	bool			 had_log;	/* status/ID existed */
	bool			 force;
};

enum queue_load {
	QUEUE_LOAD_OK,
	QUEUE_LOAD_GONE,	/* no such file (removed, held) */
	QUEUE_LOAD_BUSY,	/* locked by an admin verb: try soon */
	QUEUE_LOAD_RETRY,	/* I/O error: try later */
	QUEUE_LOAD_CORRUPT,	/* moved aside */
};

enum queue_load queue_msg_load(const struct queue_dirs *, const char *id,
	    struct queue_msg *);
void	 queue_msg_release(struct queue_msg *);

/* A new entry with m's envelope and content for targets[0..n) of
 * recipient ri (ORCPT, NOTIFY and the original address kept), committed.
 * 0 with its id in child_r, or -1 with f. */
int	 queue_msg_split(struct enqueue *, const struct queue_msg *, size_t ri,
	    const char *const *targets, size_t n, char *child_r,
	    struct fail *) __attribute__((warn_unused_result));

/* Remove the entry: the queue file, then its status log. */
int	 queue_msg_remove(const struct queue_dirs *, struct queue_msg *);

/* One DSN: recipients of m (indexes) with their new states, to the
 * envelope sender or to rcpt_override (double bounce).  0, or -1 with f
 * (temporary: retry the DSN later). */
struct queue_dsn_item {
	size_t			 rcpt;
	enum spool_rcpt_state	 state;		/* DELIVERED, BOUNCED, EXPIRED,
						   or DEFERRED (delay) */
	const char		*final;		/* address tried */
	const char		*code;
	const char		*text;
};

int	 queue_bounce_send(struct enqueue *, const struct queue_conf *,
	    const struct queue_msg *, const struct queue_dsn_item *, size_t n,
	    const char *to, uint64_t now, char *dsn_id_r, struct fail *)
	    __attribute__((warn_unused_result));

#endif
