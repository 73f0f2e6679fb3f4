/*
 * pop3d.h - buzon-pop3d: the session, its states, and what the files of
 * pop3d/ offer each other (nothing here is used outside this directory)
 *
 * One process serves every session from one event loop.  common/session
 * (session.h) owns the socket: it reads and splits lines, runs the TLS
 * handshakes and writes what the handlers queued in s->out; session.c
 * holds pop3d's hooks on it, among them the bytes of a RETR or TOP in
 * progress (s->xfer), produced as the socket drains.  The
 * handlers (commands.c, cmd_auth.c, cmd_mail.c) never touch the socket:
 * they look at a line, change the session through pop3_set_state(),
 * and queue replies with pop3_reply()/pop3_error().
 *
 * A POP3 session's view of the maildrop (maildrop.c) is fixed at login
 * (RFC 1939 section 8: messages that arrive during the session stay
 * invisible until the next one); DELE only marks, and the marks are
 * carried out in the UPDATE state at QUIT.  A dropped connection changes
 * nothing.
 */
#ifndef BUZON_POP3D_H
#define BUZON_POP3D_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "auth.h"
#include "cmdtab.h"
#include "net.h"
#include "session.h"
#include "str.h"

struct accounts;
struct accounts_user;
struct authc;
struct pop3_login;
struct config;
struct event_io;
struct event_loop;
struct event_timer;
struct mailbox;
struct mailbox_location;
struct mailbox_stream;
struct session;
struct stream;

enum pop3_state {
	POP3_AUTHORIZATION,	/* greeting sent, not logged in */
	POP3_TRANSACTION,	/* logged in, maildrop open */
	POP3_UPDATE,		/* QUIT: carrying out DELE, then close */
	POP3_CLOSING,		/* replies flushed, then closed */
	POP3_STATE_COUNT
};

#define ST(s)		CMDTAB_ST(s)
#define ST_ANY		CMDTAB_ST_ANY

/* Allowed where logins need TLS first; a login command (TLS or loopback
 * rule).  The table is common/cmdtab.h's. */
#define CMD_PRE_TLS	CMDTAB_F_PRE_TLS
#define CMD_LOGIN	CMDTAB_F_LOGIN

/* Command lines: RFC 2449 section 4 says 255 octets with CRLF; we take
 * pop3_max_line.  AUTH lines may be as long as SASL needs. */
#define POP3_AUTH_LINE_MAX	(AUTH_SASL_LINE_MAX + 64)
#define POP3_ARGS_MAX		8	/* arguments we look at */
#define POP3_PREAUTH_MAX	100	/* commands before a login */
#define POP3_USER_MAX		AUTH_ID_MAX
#define POP3_OUT_HIGH		(128u * 1024)	/* stop producing past this */

/* The settings pop3d uses, resolved from struct config (server.c). */
struct pop3_conf {
	const char	*hostname;
	uint64_t	 timeout;		/* ms: idle (autologout) */
	uint64_t	 command_timeout;	/* ms: one command line, or a
						   TLS handshake */
	uint64_t	 send_timeout;		/* ms: output without progress */
	unsigned int	 max_errors;
	unsigned int	 max_connections;	/* sessions at once */
	unsigned int	 max_connections_per_ip;
	unsigned int	 max_line;
	bool		 plaintext_loopback;
	bool		 mark_seen;
	bool		 apop_enable;
	bool		 lock_session;		/* [IN-USE] for a second one */
};

/* Process-wide state: one per buzon-pop3d. */
struct pop3d {
	struct event_loop	*loop;
	struct pop3_conf	 conf;
	SSL_CTX			*tls_ctx;	/* NULL: no STLS, no 995 */
	struct accounts		*accounts;
	struct authc		*authc;		/* buzon-auth */
	struct sess_server	 sv;		/* the sessions (session.h) */
	struct workpool		*mbpool;	/* mailbox work (mbwork.c) */
};

/* One message of the session's view (fixed at login). */
struct pop3_msg {
	uint32_t	 uid;
	uint64_t	 size;		/* wire size: what RETR sends */
	bool		 deleted;	/* DELE'd, not yet RSET */
	bool		 retrieved;	/* RETR'd: \Seen at QUIT */
};

/* The maildrop of a logged-in session (maildrop.c). */
struct pop3_maildrop {
	struct mailbox	*mb;
	struct pop3_msg	*msgs;		/* [0] is message 1 */
	uint32_t	 count;
	uint32_t	 uidvalidity;
	uint32_t	 ndeleted;
	uint64_t	 size;		/* of messages not deleted */
	bool		 is_locked;	/* holds the POP3 maildrop lock */
};

/* ---- xfer.c: the bytes of RETR and TOP ---- */

/* Where the message bytes come from: like read(2), >0, 0 at the end, -1
 * on error. */
typedef ssize_t	pop3_read_fn(void *ctx, void *buf, size_t len);

#define POP3_XFER_BUF	(64u * 1024)

/*
 * A message on its way out as a multi-line response (RFC 1939 section 3):
 * lines starting with '.' get one more, a bare LF becomes CRLF, a last
 * line without its end gets one, and ".\r\n" ends it.  With a line limit
 * (TOP n m) it stops after the header, the blank line and m body lines.
 * Reads POP3_XFER_BUF bytes at a time, so a message of any size costs a
 * bounded amount of memory.
 */
struct pop3_xfer {
	pop3_read_fn	*read;
	void		*ctx;
	char		*in;		/* POP3_XFER_BUF */
	size_t		 in_pos, in_len;
	bool		 has_limit;	/* TOP */
	uint64_t	 lines_left;	/* TOP: body lines still to send */
	bool		 in_body;	/* past the blank line */
	bool		 bol;		/* at the start of a line */
	bool		 blank;		/* this line so far is "" or "\r" */
	char		 prev;		/* last byte sent */
	bool		 eof;		/* nothing more to send of the body */
	unsigned int	 tail;		/* bytes of the end sequence sent */
	char		 end[5];	/* "\r\n.\r\n" or ".\r\n" */
	unsigned int	 end_len;
	uint64_t	 sent;		/* message bytes sent, stuffing not
					   counted (for tests and logs) */
};

/* Start; with has_limit, send the header and `lines` body lines. */
void	 pop3_xfer_init(struct pop3_xfer *, pop3_read_fn *, void *ctx,
	    bool has_limit, uint64_t lines);
/* Write up to size (>= 8) bytes of the response into out, *len_r set.
 * 1 when the terminating ".\r\n" has been written, 0 when there is more,
 * -1 when the source failed. */
int	 pop3_xfer_produce(struct pop3_xfer *, char *out, size_t size,
	    size_t *len_r) __attribute__((warn_unused_result));
void	 pop3_xfer_release(struct pop3_xfer *);

/* ---- commands.c ---- */

/* Split a command line in place: *verb_r is the first word, *rest_r
 * what follows the first space ("" if none).  0, or -1 for an empty
 * line or one that starts with a space. */
int	 pop3_split(char *line, char **verb_r, char **rest_r)
	    __attribute__((warn_unused_result));
/* Split rest in place at spaces (runs of them count as one) into at most
 * max words.  Returns the count, or -1 if there are more than max. */
int	 pop3_args(char *rest, char **argv, int max)
	    __attribute__((warn_unused_result));
/* A message number: digits only, 1..UINT32_MAX.  0 or -1. */
int	 pop3_msgnum(const char *, uint32_t *r)
	    __attribute__((warn_unused_result));
/* The UIDL of a message: "%08X%08X" of UID and UIDVALIDITY, 16
 * characters (out at least 17 bytes).  The same pair IMAP shows, so both
 * agree on which message is which. */
void	 pop3_uidl(uint32_t uid, uint32_t uidvalidity, char *out, size_t size);

/* Queue one reply line (CRLF added, traced). */
void	 pop3_reply(struct session *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Same, for an -ERR the peer caused (bad command or syntax): counts
 * toward max_errors and at the limit closes with "Too many bad commands". */
void	 pop3_error(struct session *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Queue a line of a multi-line response: byte-stuffed, CRLF added.
 * The terminating "." goes with pop3_reply(). */
void	 pop3_reply_line(struct session *, const char *line);
/* Handle one command line (NUL-terminated, without CRLF, len bytes). */
void	 pop3_dispatch(struct session *, char *line, size_t len);
void	 pop3_greet(struct session *);
const char *pop3_state_name(enum pop3_state);
/* May this session log in now (TLS, or loopback when allowed)? */
bool	 pop3_login_allowed(const struct session *);

/* ---- cmd_auth.c: USER, PASS, APOP, AUTH ---- */
void	 cmd_user(struct session *, char *);
void	 cmd_pass(struct session *, char *);
void	 cmd_apop(struct session *, char *);
void	 cmd_auth(struct session *, char *);
/* Wipe a login in progress (password, SASL state). */
void	 pop3_auth_release(struct session *);
/* The maildrop of a correct login is open (rc 0, in s->drop) or could
 * not be (rc -1, reply is the whole -ERR line): answer the client. */
void	 pop3_login_done(struct session *, const char *address, bool apop,
	    int rc, const char *reply);
/* Drop a login still waiting for buzon-auth (sess_free). */
void	 pop3_login_forget(struct session *);
/* The session resumes (session.c): nothing left to do, as the answer of
 * buzon-auth was given when it came. */
void	 pop3_login_resume(struct session *);

/* ---- cmd_mail.c: the TRANSACTION state and QUIT ---- */
void	 cmd_stat(struct session *, char *);
void	 cmd_list(struct session *, char *);
void	 cmd_uidl(struct session *, char *);
void	 cmd_retr(struct session *, char *);
void	 cmd_top(struct session *, char *);
void	 cmd_dele(struct session *, char *);
void	 cmd_rset(struct session *, char *);
void	 cmd_quit(struct session *, char *);
/* The UPDATE state is over (rc -1: some deletions failed): answer. */
void	 pop3_quit_done(struct session *, int rc, uint32_t ndeleted);

/* ---- mbwork.c: a login's maildrop open and QUIT's UPDATE, on worker
 * threads while the session waits ---- */
struct workpool;
struct pop3_mbjob;
/* Start threads workers (pop3d_init, after the sandbox).  -1 when none
 * could start: the work is then done on the loop. */
int	 pop3_mbwork_init(struct pop3d *, unsigned int threads);
/* Stop them; done() of orphaned jobs runs here. */
void	 pop3_mbwork_free(struct pop3d *);
/* Open u's maildrop for a correct login, then pop3_login_done().  True
 * while that is under way (the session is suspended, done() resumes
 * it); false when it was done in place. */
bool	 pop3_mbwork_login(struct session *, const struct accounts_user *,
	    bool apop);
/* Carry out s->drop's UPDATE state (the job takes the maildrop), then
 * pop3_quit_done(); true while under way, as above. */
bool	 pop3_mbwork_quit(struct session *);
/* The session goes: its job, if any, finishes without it. */
void	 pop3_mbwork_forget(struct session *);

/* ---- maildrop.c ---- */
/* Open u's INBOX, take the POP3 maildrop lock when lock (pop3_lock_session)
 * and fix the view.  0; or -1 with the whole reply line ("-ERR [IN-USE]
 * ...") in reply. */
int	 maildrop_open(struct pop3_maildrop *, const struct accounts *,
	    const struct accounts_user *, bool lock, const char *id,
	    char *reply, size_t size) __attribute__((warn_unused_result));
/* The UPDATE state: expunge the DELE'd messages, flag the RETR'd ones
 * \Seen when mark_seen.  0, or -1 if some deleted message stayed. */
int	 maildrop_update(struct pop3_maildrop *, bool mark_seen,
	    const char *id) __attribute__((warn_unused_result));
/* u's INBOX location: loc->root points at path (size bytes).  0, -1 when
 * the path is too long. */
int	 maildrop_location(const struct accounts *, const struct accounts_user *,
	    struct mailbox_location *loc, char *path, size_t size)
	    __attribute__((warn_unused_result));
/* maildrop_open() at a resolved location: touches no accounts data, so a
 * worker thread may run it.  address is for the logs. */
int	 maildrop_open_at(struct pop3_maildrop *, const struct mailbox_location *,
	    const char *address, bool lock, const char *id, char *reply,
	    size_t size) __attribute__((warn_unused_result));
/* Unlock and close (no changes).  Accepts a closed one. */
void	 maildrop_close(struct pop3_maildrop *);
/* Open message n (1..count) for reading: NULL if it is gone. */
struct mailbox_stream *maildrop_stream(struct pop3_maildrop *, uint32_t n);
/* pop3_read_fn over a struct mailbox_stream. */
ssize_t	 maildrop_read(void *ctx, void *buf, size_t len);
/* Zero copy: true with the file region (fd borrowed from ms) when the
 * message can go to the socket exactly as stored and is big enough for
 * that to pay (128 KiB to 256 MiB): Maildir, stored bytes
 * are the wire bytes (CRLF), no line starts with '.', and the last line
 * ends with CRLF.  The check scans a read-only mapping of the file
 * (Maildir files never change once delivered).  Do not read ms after. */
bool	 maildrop_raw(struct pop3_maildrop *, struct mailbox_stream *ms,
	    int *fd_r, off_t *off_r, uint64_t *len_r);

/* The lines of LIST or UIDL without argument, produced as the socket
 * drains (a maildrop of a million messages must not need its listing in
 * memory).  Each line is traced under id. */
struct pop3_listing {
	const struct pop3_maildrop *d;
	uint32_t	 next;		/* message number of the next line */
	bool		 uidl;
	const char	*id;
};
/* pop3_read_fn over a struct pop3_listing: whole lines only. */
ssize_t	 maildrop_list_read(void *ctx, void *buf, size_t len);

/* ---- server.c: the service callbacks (service.h) ---- */
int	 pop3d_init(struct event_loop *, const struct config *, void *);
int	 pop3d_reload(const struct config *, void *);
unsigned int pop3d_shutdown(void *);
void	 pop3d_conf_from(struct pop3_conf *, const struct config *);

/* ---- session.c ---- */

struct session {
	struct sess		 base;		/* first: the connection */
	struct pop3d		*srv;
	char			 id[24];	/* base's, for the handlers */
	struct net_addr		 peer;
	char			 ip[NET_ADDRSTRLEN];
	enum pop3_state		 state;
	bool			 is_pop3s;	/* implicit TLS listener */
	bool			 is_loopback;
	bool			 is_tls;
	bool			 want_starttls;	/* STLS answered: the layer
						   switches after the +OK */
	char			 timestamp[128];	/* APOP "<...>" */
	char			 user[POP3_USER_MAX + 1];	/* USER */
	char			 login[POP3_USER_MAX + 1];	/* logged in */
	unsigned int		 max_line;	/* pop3_max_line at accept:
						   the input buffer fits it */
	unsigned int		 errors;
	unsigned int		 commands;
	unsigned int		 nretr;
	uint64_t		 bytes_out;
	struct auth_sasl	 sasl;
	struct pop3_login	*pending;	/* a check at buzon-auth */
	struct pop3_mbjob	*mbjob;		/* mailbox work under way */
	struct pop3_maildrop	 drop;
	struct mailbox_stream	*mstream;	/* RETR/TOP in progress */
	struct pop3_listing	 listing;	/* LIST/UIDL in progress */
	struct pop3_xfer	 xfer;
	bool			 zc;		/* transfer by sendfile() */
	bool			 zc_corked;	/* TCP_CORK on */
	int			 zc_fd;		/* borrowed from mstream */
	off_t			 zc_off;
	uint64_t		 zc_left;
	unsigned int		 nsendfile;	/* messages sent zero-copy */
	struct str		 out;		/* replies not yet written */
};

/* The pop3d side of common/session: greeting, lines, RETR/TOP output. */
extern const struct sess_ops pop3_sess_ops;

void	 pop3_accept(int fd, const struct net_addr *peer,
	    const char *listener, void *data);
void	 pop3_set_state(struct session *, enum pop3_state);
/* Answer later: keep the queued replies and stop reading for ms. */
void	 pop3_resume_after(struct session *, uint64_t ms);
/* Send the bytes of s->xfer after the queued replies. */
void	 pop3_start_xfer(struct session *);
/* Send len bytes of fd from off with sendfile(), then ".\r\n", after the
 * queued replies (s->mstream owns fd). */
void	 pop3_start_sendfile(struct session *, int fd, off_t off,
	    uint64_t len);
/* Memory sessions (fuzz, tests): a session on no socket, fed with
 * sess_feed(&s->base, ...) after pop3_session_start(). */
struct session *pop3_session_mem(struct pop3d *);
void	 pop3_session_start(struct session *);

#endif
