/*
 * spf_client.h - smtpd's side of SPF: ask buzon-spf helpers, on the loop
 *
 * The client owns a small pool of buzon-spf processes, each on one end of
 * a socketpair (its stdin and stdout), each busy with at most one request.
 * Checks wait in a FIFO for a free helper.  A helper is started when first
 * needed and started again after it died, was killed for being slow, or
 * broke the protocol; smtpd (never root by then) is its parent, so the
 * helper runs as smtpd's unprivileged user.
 *
 * Every started check ends in exactly one callback, from the loop, never
 * from inside spf_check_start(), unless it is cancelled first.  When no
 * real answer can be had (helper gone, slow, refusing the request, the
 * queue full) the answer is temperror with a Received-SPF field built
 * here, so the policy mapping treats every failure alike.
 */
#ifndef BUZON_SPF_CLIENT_H
#define BUZON_SPF_CLIENT_H

#include <sys/types.h>

#include <stdint.h>

#include "spf.h"

struct event_loop;
struct spf_client;
struct spf_check;

struct spf_client_conf {
	/* The helper command, NULL-terminated; argv[0] is the path
	 * (PKGLIBEXECDIR "/buzon-spf" installed) and the rest its options:
	 * -l dns_local_data, -F each dns_forwarder, -D for dns_dnssec,
	 * -r receiver.  Copied. */
	const char *const *argv;
	const char	*receiver;	/* our host name (local answers) */
	unsigned int	 helpers;	/* pool size, 1..16 */
	uint64_t	 timeout_ms;	/* spf_timeout: per check, waiting
					   in the queue included */
	unsigned int	 max_waiting;	/* checks that may wait for a
					   busy pool; more answer
					   temperror at once */
};

/* The helper command line for buzon.conf (dns_* keys, hostname as the
 * receiver), helper_path first: NULL-terminated, owned by the caller,
 * freed with spf_helper_argv_free().  Fill conf from the same config
 * with spf_client_conf_from_config() (argv borrowed from the vector). */
struct config;
char		**spf_helper_argv(const struct config *,
		    const char *helper_path);
void		 spf_helper_argv_free(char ***);
void		 spf_client_conf_from_config(struct spf_client_conf *,
		    const struct config *, char *const *argv);

typedef void	 spf_check_cb(const struct spf_answer *, void *arg);

/* Never fails (helpers start on demand). */
struct spf_client *spf_client_new(struct event_loop *,
		    const struct spf_client_conf *);
/* Kills the helpers; pending checks end silently (no callbacks). */
void		 spf_client_free(struct spf_client **);

/* Start checking req; cb runs once from the loop with the answer.  The
 * handle is valid until cb starts.  cb may start new checks but must not
 * free the client. */
struct spf_check *spf_check_start(struct spf_client *,
		    const struct spf_request *, spf_check_cb *, void *arg);
/* Drop a check (the session went away): no callback.  A helper busy with
 * it is killed, as its answer is no longer wanted.  Accepts NULL. */
void		 spf_check_cancel(struct spf_check **);

/* Process id of helper i, 0 when none runs (tests, status). */
pid_t		 spf_client_helper_pid(const struct spf_client *,
		    unsigned int i);
/* Helpers started so far, and how many of them replaced one that died or
 * was killed. */
unsigned int	 spf_client_spawns(const struct spf_client *);
unsigned int	 spf_client_restarts(const struct spf_client *);

#endif
