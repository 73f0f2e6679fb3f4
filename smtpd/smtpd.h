/*
 * smtpd.h - buzon-smtpd: the session, its states, and what the files of
 * smtpd/ offer each other (nothing here is used outside this directory)
 *
 * One process serves every session from one event loop.  common/session
 * (session.h) owns the socket: it reads, splits lines, runs the TLS
 * handshakes and writes what the handlers queued; session.c holds smtpd's
 * hooks on it (DATA and BDAT bytes, the deadlines, the refusal lines).  The
 * handlers (commands.c, cmd_*.c) never touch the socket: they look at a
 * line, change the session through smtp_set_state() and the tx, and
 * queue replies with smtp_reply() into s->out.  policy.c answers "may this
 * recipient / sender go through", cmd_data.c moves content to the spool.
 *
 * Lifetimes: a session lives from accept to sess_free(); its
 * transaction (s->tx) from MAIL to the end of DATA/BDAT LAST or RSET,
 * freed by smtp_tx_reset().  Nothing keeps a pointer into the stream's
 * buffer across an event-loop turn.
 */
#ifndef BUZON_SMTPD_H
#define BUZON_SMTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "auth.h"
#include "cmdtab.h"
#include "data.h"
#include "fail.h"
#include "net.h"
#include "params.h"
#include "rfc5321.h"
#include "session.h"
#include "str.h"

struct accounts;
struct config;
struct enqueue;
struct enqueue_msg;
struct event_io;
struct event_loop;
struct event_timer;
struct session;
struct smtp_committer;
struct spf_check;
struct spf_client;
struct stream;

enum smtp_state {
	SMTP_GREETED,		/* greeting sent, no HELO/EHLO yet */
	SMTP_READY,		/* after HELO/EHLO or a finished transaction */
	SMTP_MAIL,		/* MAIL accepted */
	SMTP_RCPT,		/* at least one RCPT accepted */
	SMTP_DATA,		/* reading DATA lines */
	SMTP_BDAT,		/* between BDAT chunks (RFC 3030) */
	SMTP_CLOSING,		/* replies flushed, then closed */
	SMTP_STATE_COUNT
};

#define ST(s)		CMDTAB_ST(s)
#define ST_ANY		CMDTAB_ST_ANY
#define ST_IDLE		(ST(SMTP_GREETED) | ST(SMTP_READY))

#define CMD_PRE_TLS	CMDTAB_F_PRE_TLS /* before STARTTLS where it is required */
#define CMD_GROUP_END	CMDTAB_F_GROUP_END /* RFC 2920: last in a pipelined group */

enum smtp_listener {
	SMTP_LISTEN_SMTP,		/* 25: MX, relay for mynetworks/auth */
	SMTP_LISTEN_SUBMISSION,		/* 587: STARTTLS, then AUTH required */
	SMTP_LISTEN_SUBMISSIONS,	/* 465: implicit TLS, AUTH required */
};

/* Command lines: RFC 5321 4.5.3.1.4 says 512; we take up to
 * smtpd_max_line (default 2048, Postfix's line_length_limit) and answer
 * "line too long" past that.  AUTH lines may be longer (RFC 4954 section
 * 4: 12288).  Message content has no line limit (data.h). */
#define SMTP_AUTH_LINE_MAX	12288
#define SMTP_HELO_MAX		255
#define SMTP_USER_MAX		255
#define SMTP_OUT_HIGH		(64u * 1024)	/* stop reading past this */

/* The settings smtpd uses, resolved from struct config (main.c). */
struct smtpd_conf {
	const char	*hostname;
	size_t		 max_message;
	size_t		 max_line;		/* command lines */
	unsigned int	 max_recipients;
	uint64_t	 timeout;		/* ms */
	uint64_t	 data_timeout;		/* ms */
	unsigned int	 min_data_rate;		/* bytes/s */
	unsigned int	 max_connections;
	unsigned int	 max_connections_per_ip;
	unsigned int	 max_errors;
	unsigned int	 max_commands_preauth;
	bool		 auth_plaintext_loopback;
	int		 spf_policy;		/* enum spf_policy */
	bool		 spf_reject_permerror;
	char *const	*mynetworks;
	size_t		 nmynetworks;
	struct data_conf data;
};

/* Process-wide state: one per buzon-smtpd. */
struct smtpd {
	struct event_loop	*loop;
	struct smtpd_conf	 conf;
	SSL_CTX			*tls_ctx;	/* NULL: no STARTTLS, no 465 */
	struct accounts		*accounts;	/* NULL: no local domains */
	struct authc		*authc;		/* buzon-auth */
	struct enqueue		*spool;		/* NULL: 451 at DATA */
	struct spf_client	*spf;		/* NULL: no SPF checks */
	char			**spf_argv;	/* the helper's command */
	struct sess_server	 sv;		/* the sessions (session.h) */
	struct session		**batch;	/* finished, to commit */
	size_t			 nbatch, batch_cap;
	struct event_timer	*batch_timer;
	struct smtp_committer	*committer;	/* NULL: commit on the loop */
};

struct smtp_rcpt {
	char		*addr;
	char		*orcpt;
	unsigned int	 notify;
};

/* The mail transaction: MAIL to end of data. */
struct smtp_tx {
	bool			 has_sender;
	char			 sender[RFC5321_PATH_MAX + 1];	/* "" = <> */
	struct mail_params	 mp;
	char			*spf_header; /* "Received-SPF: ..." or NULL */
	struct smtp_rcpt	*rcpts;
	size_t			 nrcpts, rcpts_cap;
	size_t			 rcpts_accepted; /* 250s to RCPT, repeats too:
						    what max_recipients bounds */
	struct enqueue_msg	*msg;		/* open spool file */
	char			 queue_id[32];
	struct data		 data;
	bool			 data_started;	/* data_begin() done */
	/* BDAT (RFC 3030) */
	bool			 bdat;		/* this tx uses BDAT */
	bool			 bdat_chunk;	/* reading a chunk now */
	bool			 bdat_last;	/* current chunk is LAST */
	bool			 bdat_discard;	/* read the chunk, then error */
	char			 bdat_error[128];	/* the reply then */
	uint64_t		 bdat_left;	/* bytes of the chunk to read */
	uint64_t		 bdat_size;	/* bytes of the chunk */
	uint64_t		 bdat_total;	/* bytes of all chunks */
};

struct session {
	struct sess		 base;		/* first: the connection */
	struct smtpd		*srv;
	char			 id[24];	/* base's, for the handlers */
	struct net_addr		 peer;
	char			 ip[NET_ADDRSTRLEN];
	enum smtp_listener	 listener;
	enum smtp_state		 state;
	bool			 is_loopback;
	bool			 in_mynetworks;
	bool			 is_tls;
	bool			 is_esmtp;
	bool			 is_authenticated;
	/* STARTTLS answered: the layer switches once the 220 is out */
	bool			 want_starttls;
	bool			 helo_seen;
	char			 helo[SMTP_HELO_MAX + 1];
	char			 auth_user[SMTP_USER_MAX + 1];
	char			 tls_desc[160];
	uint64_t		 data_start;	/* ms: DATA or a chunk began */
	uint64_t		 data_read;	/* bytes read since then */
	unsigned int		 errors;
	unsigned int		 commands;
	unsigned int		 nmsgs;
	unsigned int		 nrcpts;
	struct auth_sasl	*sasl;
	struct spf_check	*spf_check;	/* MAIL waits for SPF */
	struct smtp_login	*login;		/* AUTH waits for its check */
	struct str		 out;		/* replies not yet written */
	struct smtp_tx		 tx;
};

/* The smtpd side of common/session: greeting, lines, DATA/BDAT bytes. */
extern const struct sess_ops smtp_sess_ops;

/* ---- commands.c ---- */

/* Queue one reply line (CRLF added, traced). */
void	 smtp_reply(struct session *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Same, for a 4xx/5xx the peer caused: counts toward max_errors and, at the
 * limit, adds "421 4.7.0 ... too many errors" and closes. */
void	 smtp_error(struct session *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Queue "421 4.x.x HOSTNAME text" and close after the flush. */
void	 smtp_close(struct session *, const char *code, const char *text);
/* Handle one command line (NUL-terminated, without CRLF, len bytes). */
void	 smtp_dispatch(struct session *, char *line, size_t len);
/* The greeting, once the session is ready to talk. */
void	 smtp_greet(struct session *);
const char *smtp_state_name(enum smtp_state);
/* Is AUTH offered to this session right now? */
bool	 smtp_auth_offered(const struct session *);
/* Is STARTTLS offered to this session right now? */
bool	 smtp_starttls_offered(const struct session *);
/* Forget the transaction (RSET, HELO, end of data, STARTTLS, free). */
void	 smtp_tx_reset(struct session *);
/* "ESMTPSA" etc. for logs and Received. */
const char *smtp_proto(const struct session *);

/* ---- cmd_mail.c ---- */
void	 cmd_mail(struct session *, char *arg);
void	 cmd_rcpt(struct session *, char *arg);

/* ---- cmd_data.c ---- */
void	 cmd_data(struct session *, char *arg);
void	 cmd_bdat(struct session *, char *arg);
/* BDAT refused before cmd_bdat() (530 before STARTTLS): read and drop
 * its chunk, then answer reply. */
void	 smtp_bdat_refuse(struct session *, char *arg, const char *reply);
/* Bytes inside DATA from session.c: returns how many belong to the
 * message (all, or up to the end-of-data line; see data_feed()). */
size_t	 smtp_data_bytes(struct session *, const char *buf, size_t len);
/* Bytes of the current BDAT chunk; smtp_bdat_end() once all are read. */
void	 smtp_bdat_bytes(struct session *, const char *buf, size_t len);
void	 smtp_bdat_end(struct session *);
/* Commit every message finished since the last commit started (the
 * batch timer).  With a committer thread the fsyncs run there while the
 * loop serves everyone else; one batch is in flight at a time, and the
 * messages finished meanwhile form the next one.  Without it (no thread
 * could start, and in unit tests) the loop commits inline. */
void	 smtp_batch_commit(struct smtpd *);
/* Take s out of the batch (its session is going away): roll back.  A
 * message already in flight still commits; its session gets no reply. */
void	 smtp_batch_forget(struct session *);
/* Start the committer thread: -1 if it cannot start (commits stay on the
 * loop).  _stop() waits for a batch in flight and ends the thread. */
int	 smtp_committer_start(struct smtpd *);
void	 smtp_committer_stop(struct smtpd *);

/* ---- cmd_auth.c ---- */
void	 cmd_auth(struct session *, char *arg);
/* Wipe any AUTH exchange in progress. */
void	 smtp_auth_release(struct session *);
/* The session is going away: a password check still running finds no
 * one to answer. */
void	 smtp_auth_forget(struct session *);

/* ---- policy.c ---- */
/* Is ip inside one of the networks? */
bool	 policy_in_networks(const struct net_addr *, char *const *nets,
	    size_t n);
/* May mail for rcpt be taken from this session?  0, or -1 with the whole
 * reply ("554 5.7.1 <x>: Relay access denied") in reply. */
int	 policy_rcpt(struct session *, const char *rcpt, char *reply,
	    size_t size);
/* The address "RCPT TO:<Postmaster>" stands for (RFC 5321 4.5.1). */
void	 policy_postmaster(struct session *, char *out, size_t size);
/* On submission: is sender the authenticated user's (or an alias of it)?
 * 0, or -1 with the reply in reply. */
int	 policy_sender(struct session *, const char *sender, char *reply,
	    size_t size);
/* A login being checked by buzon-auth (cmd_auth.c). */
struct smtp_login {
	struct authc_req *req;		/* NULL once answered */
	char		 user[SMTP_USER_MAX + 1];	/* sanitised, for logs */
};

/* ---- server.c: the service callbacks (service.h) ---- */
int	 smtpd_init(struct event_loop *, const struct config *, void *);
int	 smtpd_reload(const struct config *, void *);
unsigned int smtpd_shutdown(void *);
/* Fill c from cfg (pointers borrowed from cfg). */
void	 smtpd_conf_from(struct smtpd_conf *c, const struct config *cfg);

/* ---- session.c ---- */
void	 smtp_accept(int fd, const struct net_addr *peer,
	    const char *listener, void *data);
void	 smtp_set_state(struct session *, enum smtp_state);
/* Stop handling input until smtp_resume() (replies stay queued). */
void	 smtp_suspend(struct session *);
void	 smtp_resume(struct session *);
/* Run smtp_resume() after ms (AUTH failure delay). */
void	 smtp_resume_after(struct session *, uint64_t ms);
/* Memory sessions (fuzz, tests): a session on no socket, fed with
 * sess_feed(&s->base, ...) after smtp_session_start(). */
struct session *smtp_session_mem(struct smtpd *, enum smtp_listener);
void	 smtp_session_start(struct session *);

#endif
