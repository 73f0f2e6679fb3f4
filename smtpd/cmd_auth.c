/* SPDX-License-Identifier: MIT */
/*
 * cmd_auth.c - AUTH PLAIN and LOGIN (RFC 4954) over common/auth.h
 *
 * AUTH is offered only over TLS (or from loopback when configured), as
 * Postfix does: before that the command is answered "503 5.5.1 Error:
 * authentication not enabled".  Continuation lines come back through
 * s->cont and are traced masked.  Failed logins are counted in the shared
 * throttle and the answer is delayed on a timer (the loop never sleeps).
 * The password hash (yescrypt: slow on purpose) is checked on a worker
 * thread that hands the result back through a pipe; the session waits,
 * suspended.  A worker touches only its struct smtp_login.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "event.h"
#include "log.h"
#include "mem.h"
#include "smtpd.h"
#include "str.h"

/* The line after an AUTH LOGIN that ended before its password: most
 * likely the password all the same, so it was traced masked; it is
 * handled as the command it may be. */
static void
auth_masked_line(struct session *s, char *line, size_t len)
{
	s->cont = NULL;
	s->cont_secret = false;
	smtp_dispatch(s, line, len);
}

void
smtp_auth_release(struct session *s)
{
	bool	 owes = false;

	if (s->sasl != NULL) {
		owes = s->sasl->owes_passwd;
		auth_sasl_release(s->sasl);
		free(s->sasl);
		s->sasl = NULL;
	}
	/* Masking lasts until the exchange ends, however it ends. */
	s->cont = owes ? auth_masked_line : NULL;
	s->cont_secret = owes;
}

static void	auth_result(struct session *, enum auth_sasl_result,
		    const char *);

static void
auth_cont(struct session *s, char *line, size_t len)
{
	const char		*chal = NULL;
	enum auth_sasl_result	 r;

	r = auth_sasl_step(s->sasl, line, len, &chal);
	auth_result(s, r, chal);
}

/* ---- the password check, off the loop ---- */

#define LOGIN_THREADS_MAX	16	/* more at once are checked inline */

static void
login_verify(struct smtp_login *l)
{
	/* Unknown users cost a dummy hash: same time, same answer. */
	l->verified = auth_verify_password(l->passwd,
	    l->found ? l->hash : NULL);
	mem_wipe(l->passwd, sizeof(l->passwd));
}

static void *
login_thread(void *arg)
{
	struct smtp_login	*l = arg;
	ssize_t			 n;

	/* Only l is touched here: l->s belongs to the loop thread. */
	login_verify(l);
	/* The pipe has room: at most LOGIN_THREADS_MAX pointers wait. */
	do {
		n = write(l->notify_fd, &l, sizeof(l));
	} while (n == -1 && errno == EINTR);
	if (n != (ssize_t)sizeof(l))
		panic("login worker: cannot reach the loop");
	return NULL;
}

static void
login_free(struct smtp_login *l)
{
	mem_wipe(l, sizeof(*l));
	free(l);
}

/* The answer, on the loop. */
static void
login_finish(struct session *s, struct smtp_login *l)
{
	bool	 ok = l->found && l->enabled && l->verified;

	if (s->srv->throttle != NULL)
		(void)auth_throttle_finish(s->srv->throttle, &l->ticket, ok);
	if (ok) {
		s->is_authenticated = true;
		(void)str_copy(s->auth_user, l->address, sizeof(s->auth_user));
		log_info(s->id, "auth ok user=%s", l->user);
		smtp_reply(s, "235 2.7.0 Authentication successful");
	} else {
		log_info(s->id, "auth failed user=%s", l->user);
		smtp_error(s, "535 5.7.8 Error: authentication failed: "
		    "authentication failure");
	}
	s->base.flush_now = true;
	if (l->delay > 0)
		smtp_resume_after(s, l->delay);
}

static void
login_pipe_cb(int fd, unsigned int events, void *arg)
{
	struct smtpd		*srv = arg;
	struct smtp_login	*l;
	struct session		*s;
	ssize_t			 n;

	(void)events;
	while ((n = read(fd, &l, sizeof(l))) == (ssize_t)sizeof(l)) {
		srv->login_threads--;
		if ((s = l->s) != NULL) {
			s->login = NULL;
			login_finish(s, l);
			if (l->delay == 0)
				smtp_resume(s);
		}
		login_free(l);
	}
}

int
smtp_auth_workers_init(struct smtpd *srv)
{
	if (pipe2(srv->login_pipe, O_NONBLOCK | O_CLOEXEC) == -1)
		return -1;
	srv->login_io = event_io_add(srv->loop, srv->login_pipe[0],
	    EVENT_READ, login_pipe_cb, srv);
	if (srv->login_io == NULL) {
		(void)close(srv->login_pipe[0]);
		(void)close(srv->login_pipe[1]);
		return -1;
	}
	return 0;
}

void
smtp_auth_workers_release(struct smtpd *srv)
{
	/* Only when no check runs: a worker still writes to the pipe. */
	if (srv->login_io == NULL || srv->login_threads > 0)
		return;
	event_io_del(&srv->login_io);
	(void)close(srv->login_pipe[0]);
	(void)close(srv->login_pipe[1]);
}

void
smtp_auth_forget(struct session *s)
{
	if (s->login != NULL) {
		s->login->s = NULL;	/* the loop frees it when it is back */
		s->login = NULL;
	}
}

/* Start checking the login; the reply comes from login_finish(). */
static void
login_start(struct session *s, struct smtp_login *l)
{
	struct smtpd	*srv = s->srv;
	pthread_attr_t	 attr;
	pthread_t	 t;
	bool		 started = false;

	l->notify_fd = srv->login_pipe[1];
	if (srv->login_io != NULL && srv->login_threads < LOGIN_THREADS_MAX &&
	    pthread_attr_init(&attr) == 0) {
		if (pthread_attr_setdetachstate(&attr,
		    PTHREAD_CREATE_DETACHED) == 0 &&
		    pthread_create(&t, &attr, login_thread, l) == 0)
			started = true;
		(void)pthread_attr_destroy(&attr);
	}
	if (started) {
		srv->login_threads++;
		s->login = l;
		smtp_suspend(s);
		return;
	}
	/* No worker: check here (the loop waits that long). */
	login_verify(l);
	login_finish(s, l);
	login_free(l);
}

static void
auth_check(struct session *s)
{
	struct auth_sasl	*sa = s->sasl;
	struct smtp_login	*l;
	int			 r, t = AUTH_THROTTLE_OK;

	l = xcalloc(1, sizeof(*l));
	l->s = s;
	str_sanitize(l->user, sizeof(l->user), sa->authcid,
	    strlen(sa->authcid));
	r = policy_login_lookup(s, sa->authcid, l);
	if (r == -1) {
		log_warn(s->id, "auth tempfail user=%s", l->user);
		smtp_error(s, "454 4.7.0 Temporary authentication failure");
		smtp_auth_release(s);
		login_free(l);
		return;
	}
	l->found = r == 1;
	/* Counted here, before the worker checks: parallel attempts all
	 * see each other. */
	if (s->srv->throttle != NULL) {
		t = auth_throttle_reserve(s->srv->throttle, s->ip, l->address,
		    l->found, &l->ticket);
		l->delay = l->ticket.delay_ms;
	}
	if (t == AUTH_THROTTLE_REFUSE) {
		log_info(s->id, "auth refused user=%s reason=throttled",
		    l->user);
		smtp_error(s, "454 4.7.0 Temporary authentication failure");
		smtp_auth_release(s);
		login_free(l);
		return;
	}
	(void)str_copy(l->passwd, sa->passwd, sizeof(l->passwd));
	smtp_auth_release(s);
	login_start(s, l);
}

static void
auth_result(struct session *s, enum auth_sasl_result r, const char *chal)
{
	s->base.flush_now = true;
	switch (r) {
	case AUTH_SASL_CONTINUE:
		smtp_reply(s, "334 %s", chal != NULL ? chal : "");
		s->cont = auth_cont;
		s->cont_secret = true;
		return;
	case AUTH_SASL_CANCELLED:
		smtp_auth_release(s);
		smtp_error(s, "501 5.0.0 Authentication aborted");
		return;
	case AUTH_SASL_BAD:
		smtp_auth_release(s);
		smtp_error(s, "501 5.5.2 Cannot decode response");
		return;
	case AUTH_SASL_DONE:
		s->cont = NULL;
		s->cont_secret = false;
		auth_check(s);
		return;
	}
	panic("auth_result: %d", (int)r);
}

void
cmd_auth(struct session *s, char *arg)
{
	enum auth_sasl_mech	 mech;
	enum auth_sasl_result	 r;
	const char		*chal = NULL;
	char			*initial;

	if (s->is_authenticated) {
		smtp_error(s, "503 5.5.1 Error: already authenticated");
		return;
	}
	if (!smtp_auth_offered(s)) {
		smtp_error(s, "503 5.5.1 Error: authentication not enabled");
		return;
	}
	initial = arg + strcspn(arg, " \t");
	if (*initial != '\0')
		*initial++ = '\0';
	initial = str_trim(initial);
	if (arg[0] == '\0') {
		smtp_error(s, "501 5.5.4 Syntax: AUTH mechanism");
		return;
	}
	if (auth_sasl_mech_parse(arg, &mech) == -1) {
		smtp_error(s, "504 5.5.4 Unsupported authentication mechanism");
		return;
	}
	s->sasl = xcalloc(1, sizeof(*s->sasl));
	r = auth_sasl_begin(s->sasl, mech, initial[0] != '\0' ? initial : NULL,
	    &chal);
	auth_result(s, r, chal);
}
