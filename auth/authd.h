/*
 * authd.h - buzon-auth, the one process that reads password hashes and
 * APOP secrets
 *
 * server.c owns the unix socket STATE/run/auth.sock (made by this daemon
 * at start, mode 0660, replaced in one rename) and its connections: it
 * reads requests (auth_proto.h), looks the user up, reserves a throttle
 * attempt, hands the hash check to a worker thread (worker.c), and sends
 * the answer once the throttle's delay is over.  Lookups and the throttle
 * run on the loop (they are fast and their handles are not shared with
 * threads); only hashing runs on the workers.
 */
#ifndef BUZON_AUTHD_H
#define BUZON_AUTHD_H

#include <stdbool.h>
#include <stdint.h>

#include "accounts.h"
#include "auth.h"
#include "auth_proto.h"
#include "settings.h"
#include "event.h"

#define AUTHD_CONN_INFLIGHT_MAX	256	/* requests one connection may have
					   open; more answer TEMP */

struct authd_conn;

/* One check, from the request to the reply. */
struct authd_job {
	struct authd_conn	*conn;		/* NULL: the connection is gone */
	struct authd_job	*next;		/* worker queue, held list */
	struct authd_job	*prev;		/* held list */
	uint32_t		 id;
	enum auth_proto_cmd	 cmd;
	bool			 verified;	/* set by the worker */
	struct accounts_attempt	 at;	/* lookup, throttle ticket, delay */
	char			 service[AUTH_PROTO_SERVICE_MAX + 1];
	char			 ip[AUTH_PROTO_IP_MAX + 1];
	char			 user[AUTH_PROTO_ACCOUNT_MAX + 1]; /* for logs */
	char			 secret[AUTH_PASS_MAX + 1];	/* password or
							   APOP digest */
	char			 timestamp[AUTH_PROTO_TIMESTAMP_MAX + 1];
	struct event_timer	*hold;		/* the throttle delay */
};

struct authd_pool;

struct authd {
	struct event_loop	*loop;
	const struct config	*cfg;
	struct accounts		*accounts;
	struct auth_throttle	*throttle;	/* NULL: no throttling */
	struct authd_pool	*pool;
	int			 lfd;
	struct event_io		*lio;
	char			 sock_path[108];
	unsigned int		 nconns;
	struct authd_conn	*conns;
};

/* service callbacks (server.c) */
int	 authd_init(struct event_loop *, const struct config *, void *);
int	 authd_reload(const struct config *, void *);
unsigned int authd_shutdown(void *);

/* The answer of a checked job, on the loop (server.c). */
void	 authd_job_done(struct authd *, struct authd_job *);

/*
 * worker.c: nthreads threads (common/workpool) checking jobs.  authd_pool_submit() hands a
 * job over (the workers touch only its at, secret, timestamp and verified
 * fields, and wipe the secrets); the loop gets it back through
 * authd_job_done(), in the order checks finish.
 */
struct authd_pool *authd_pool_new(struct authd *, unsigned int nthreads);
/* 0; -1 when the pool is full (the caller answers TEMP; j is still its). */
int	 authd_pool_submit(struct authd_pool *, struct authd_job *)
	    __attribute__((warn_unused_result));
/* Jobs handed over and not yet back. */
unsigned int authd_pool_busy(const struct authd_pool *);
/* Stop and join the threads; only when no job is out. */
void	 authd_pool_free(struct authd_pool **);
/* The check itself, as a worker runs it (for tests). */
void	 authd_job_check(struct authd_job *);

#endif
