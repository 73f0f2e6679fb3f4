/*
 * authc.h - the protocol daemons' client of buzon-auth
 *
 * smtpd, pop3d (and imapd) never read a password hash or APOP secret:
 * they send each check to buzon-auth over its unix socket
 * (STATE/run/auth.sock, auth_proto.h) and get the answer back on their
 * event loop.  One struct authc per process holds one connection; many
 * checks may be in flight on it, answered in any order.
 *
 * The connection is made on demand, without blocking.  When it fails, or
 * breaks, every check in flight is answered AUTHC_TEMP, and no new
 * connection is tried before a backoff (100 ms, doubling to 5 s, back to
 * none after a success) has passed: checks submitted meanwhile are
 * answered AUTHC_TEMP at once.  A check with no answer after timeout_ms is
 * answered AUTHC_TEMP (a late answer is dropped).
 *
 * Every answer, including the ones known at submit time, is delivered from
 * the event loop, never from inside authc_pass()/authc_apop(), exactly
 * once unless the request is cancelled first.
 */
#ifndef BUZON_AUTHC_H
#define BUZON_AUTHC_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"

#define AUTHC_SOCKET	"run/auth.sock"	/* under state_dir */

enum authc_result {
	AUTHC_OK,		/* account: the canonical account */
	AUTHC_FAIL,		/* wrong credentials, unknown or disabled */
	AUTHC_THROTTLED,	/* too many failed logins: try later */
	AUTHC_TEMP,		/* buzon-auth down, slow, or a lookup failed */
};

/* account is the canonical (normalised) account on AUTHC_OK, "" else;
 * borrowed for the call. */
typedef void	authc_cb(enum authc_result, const char *account, void *arg);

struct authc;
struct authc_req;

/* STATE/run/auth.sock into out.  0 or -1 (too long). */
int	 authc_socket_path(const char *state_dir, char *out, size_t outsize)
	    __attribute__((warn_unused_result));
/* A client for socket_path; service names the caller ("smtp", "pop3") in
 * requests; timeout_ms bounds each check (it must cover the throttle's
 * longest delay, which buzon-auth holds answers for).  Nothing is
 * connected yet.  Never NULL. */
struct authc *authc_new(struct event_loop *, const char *socket_path,
	    const char *service, uint64_t timeout_ms);
/* Close; pending checks are dropped without their callbacks. */
void	 authc_free(struct authc **);
/* Check a password for a login name (as the client typed it; buzon-auth
 * normalises it); ip is the client's numeric address ("" if unknown).
 * The password is copied into the output buffer and wiped once sent.  The
 * handle is valid until the callback runs or authc_cancel(); never NULL. */
struct authc_req *authc_pass(struct authc *, const char *ip,
	    const char *account, const char *password, authc_cb *, void *arg);
/* The same for APOP: the greeting's timestamp and the client's digest. */
struct authc_req *authc_apop(struct authc *, const char *ip,
	    const char *account, const char *timestamp, const char *digest,
	    authc_cb *, void *arg);
/* Forget a check (the session went away): its callback never runs.
 * Accepts NULL; sets *reqp NULL. */
void	 authc_cancel(struct authc_req **reqp);
/* The timeout_ms given to authc_new(). */
uint64_t authc_timeout_ms(const struct authc *);
/* Checks in flight (for tests and shutdown). */
size_t	 authc_pending(const struct authc *);

#endif
