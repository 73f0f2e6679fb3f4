/*
 * runner.h - the queue runner's insides, shared by its files
 *
 * runner.c       set-up, the socket and inotify, scanning, the event loop
 * runner_conf.c  settings: queue_conf from buzon.conf, the postmaster
 * closer.c       the thread that closes removed queue files
 * round.c        one round: collect due entries, plan the copies, deliver
 * settle.c       settle each entry: status records, DSNs, removal
 *
 * Nothing here is for use outside queue/ (queued.h is the runner's API).
 */
#ifndef BUZON_QUEUE_RUNNER_H
#define BUZON_QUEUE_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accounts.h"
#include "deliver.h"
#include "queued.h"

#define IO_RETRY	60	/* s: the entry could not be read */

/*
 * The closer: a thread (a workpool of one, closer.c) that closes the fds
 * of removed queue files.  The runner unlinks an entry while it still
 * holds the file open, so its close() is the last reference: the kernel frees the inode and blocks
 * there (with a synchronous discard on discard-mounted ext4), which
 * measured as the limit of the whole runner when done in this thread.
 * Deferring it changes nothing on disk that matters: the name is gone
 * (durably or not: a crash then only repeats a delivery).
 */
struct fd_closer {
	struct workpool	*pool;		/* one thread, no done(); NULL: none */
};

struct queue_runner {
	struct queue_conf	 conf;
	struct deliver_conf	 dconf;
	struct accounts_conf	 aconf;
	struct queue_dirs	 dirs;
	int			 lock_fd;
	int			 sock;
	int			 inotify_fd;	/* renames into queue/ */
	struct accounts		*acc;
	struct enqueue		*enq;
	struct queue_sched	*sched;
	struct queue_workers	*workers;
	struct event_loop	*loop;
	struct event_io		*sock_io;
	struct event_io		*inotify_io;
	struct event_timer	*work_timer;
	struct event_timer	*scan_timer;
	size_t			 since_scan;
	char			 postmaster[ACCOUNTS_ADDR_MAX];
	struct fd_closer	 closer;
};

/* What a round knows about one recipient of one entry. */
struct rcpt_work {
	bool			 attempted;
	enum queue_outcome	 out;
	struct fail		 fail;		/* the worst failure */
	size_t			 ntargets;
	size_t			 ndelivered;
	char			**failed;	/* targets not delivered */
	size_t			 nfailed;
};

struct round_msg {
	struct queue_msg	 m;
	struct rcpt_work	*rw;
	size_t			 job_first;	/* its first job */
};

/* A job's strings and where its result goes. */
struct job_ref {
	size_t			 seq;		/* index in planning order */
	size_t			 msg;
	size_t			 rcpt;
	char			*address;
	char			*path;
};

/* A copy not made: job seq already delivers the entry to that mailbox
 * (a recipient named twice, two aliases of one user, "+detail"). */
struct job_dup {
	size_t			 seq;
	size_t			 rcpt;
	char			*address;
};

struct round {
	struct round_msg	*msgs;
	size_t			 nmsgs;
	struct queue_job	*jobs;
	struct job_ref		*refs;
	size_t			 njobs;
	size_t			 jobs_cap;
	struct job_dup		*dups;
	size_t			 ndups;
	/* The mailboxes the entry being planned has a job for: open
	 * addressing by path, a slot holds a job index + 1. */
	size_t			*slots;
	size_t			 nslots, nused;
};

/* closer.c: start the thread (without one, closer_push() closes inline);
 * stop closes every fd handed over, then ends it. */
void	 closer_start(struct fd_closer *);
void	 closer_stop(struct fd_closer *);
void	 closer_push(struct fd_closer *, int fd);

/* runner_conf.c */
void	 queue_conf_copy(struct queue_conf *dst, const struct queue_conf *src);
void	 runner_apply_conf(struct queue_runner *);
void	 runner_find_postmaster(struct queue_runner *);

/* round.c: a round is collect, plan, deliver, then round_settle() of each
 * entry, then round_free(). */
void	 round_collect(struct queue_runner *, struct round *, uint64_t now,
	    size_t *worked_r);
void	 round_plan(struct queue_runner *, struct round *, uint64_t now);
void	 round_deliver(struct queue_runner *, struct round *);
void	 round_free(struct round *);
void	 runner_log_attempt(const struct queue_msg *, size_t i, const char *to,
	    const char *relay, const char *code, const char *status,
	    const char *text);

/* settle.c */
void	 round_settle(struct queue_runner *, struct round_msg *, uint64_t now);

#endif
