/*
 * session.h - the connection side of every line-protocol daemon (smtpd,
 * pop3d, imapd next): accept with caps, TLS, the read -> dispatch -> flush
 * loop, deadlines, suspend/resume, the session list, shutdown
 *
 * A protocol plugs in by embedding struct sess as the FIRST member of its
 * own session struct (so a struct sess * converts to it with a cast, see
 * SESS_OF) and by filling one struct sess_ops.  Its accept callback calls
 * sess_accept() (caps, refusal line, allocation, stream, timers, list),
 * fills in its own fields, then sess_start() (greeting, or the implicit
 * TLS handshake first).  From there the layer owns the socket:
 *
 *  - input is read while sess_wants_input(): not closing, not suspended,
 *    not switching to TLS, not producing, output below out_high;
 *  - every complete line goes to ops->line (CRLF or bare LF stripped,
 *    NUL-terminated, which of the two in bare_lf); a line longer than
 *    ops->line_max() is skipped to its end, then ops->long_line is told,
 *    with how that line ended, so the reply comes in step;
 *  - while ops->in_raw() says so (SMTP DATA/BDAT, IMAP literals), input
 *    goes to ops->raw_input instead, which takes bytes with stream_peek/
 *    stream_skip or stream_read_bytes on s->st;
 *  - while s->producing (POP3 RETR/TOP, IMAP FETCH), ops->produce is called
 *    as the socket drains, before any more input is read;
 *  - replies queued in *s->out go to the stream when the input runs dry,
 *    when flush_now is set (a command that ends a pipelined group) or when
 *    out_chunk bytes pile up.
 *
 * Deadlines: s->timer is one timer owned by the protocol's policy (it arms
 * it with sess_timer_reset() from its hooks: on_read, on_output, on_input,
 * tls_done); when it fires ops->timeout(s, false) queues the last words,
 * which are flushed, and the session is freed.  With cmd_timeout > 0 the
 * layer also keeps a per-line deadline: armed when a line is begun and not
 * ended, gone when it ends (ops->timeout(s, true) on expiry).
 *
 * Nothing a hook does may free the session: to end it, set s->closing
 * (replies are flushed, then it is freed) or sess_free() from outside the
 * hooks.
 *
 * imapd plugs in the same way: ops->line gets a tagged command; a line
 * ending in a literal "{n}" or "{n+}" makes the protocol queue "+ go
 * ahead" (for {n}) and switch in_raw() on until n bytes came through
 * raw_input, then back to lines for the rest of the command; IDLE is a
 * state in which ops->line only waits for "DONE", with the session timer
 * set to the IDLE limit; FETCH of a big body uses producing/produce;
 * ops->close_line gives "* BYE ..." for timeouts and shutdown.
 *
 * Off the socket (fuzz targets, unit tests) the same loop runs on a
 * memory stream: sess_mem_new() makes a session without fd, event loop or
 * timers; sess_feed() pushes bytes through the dispatcher and the output
 * goes to a buffer that the caller reads or drops.
 */
#ifndef BUZON_SESSION_H
#define BUZON_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "net.h"
#include "str.h"

struct event_io;
struct event_loop;
struct event_timer;
struct sess;
struct sess_server;
struct stream;

#define SESS_ID_MAX	24
#define SESS_OF(type, sp)	((type *)(void *)(sp))
#define SESS_OF_CONST(type, sp)	((const type *)(const void *)(sp))

/* Why a connection is refused before it becomes a session. */
enum sess_refuse {
	SESS_REFUSE_STOPPING,	/* shutting down */
	SESS_REFUSE_TOTAL,	/* max_total sessions open */
	SESS_REFUSE_PER_IP	/* max_per_ip from this address */
};

/* What shutdown does with one session (ops->shutdown). */
enum sess_shut {
	SESS_SHUT_KEEP,		/* busy: let it finish (caller polls) */
	SESS_SHUT_CLOSE,	/* last words queued, closing set */
	SESS_SHUT_FREE		/* last words queued: flush and free now */
};

struct sess_ops {
	/* The greeting (after the implicit TLS handshake on such ports). */
	void	 (*greet)(struct sess *);
	/* One complete line: NUL-terminated without its ending. */
	void	 (*line)(struct sess *, char *line, size_t len, bool bare_lf);
	/* A line over line_max() was skipped; bare_lf as for line. */
	void	 (*long_line)(struct sess *, bool bare_lf);
	/* The longest line taken now (it may depend on the state). */
	size_t	 (*line_max)(const struct sess *);
	/* Optional: true while input is raw bytes for raw_input. */
	bool	 (*in_raw)(const struct sess *);
	/* Take raw bytes from s->st: 1 took some, 0 need more. */
	int	 (*raw_input)(struct sess *);
	/* Optional (with producing): 1 done (clear producing), 0 wait for
	 * the socket, -1 failed (the session is freed). */
	int	 (*produce)(struct sess *);
	/* Optional clock hooks: n bytes read; output made progress; one
	 * line or raw piece handled (was_raw: in_raw() before it). */
	void	 (*on_read)(struct sess *, size_t n);
	void	 (*on_output)(struct sess *);
	void	 (*on_input)(struct sess *, bool was_raw);
	/* TLS is up (s->tls_desc says what): reset what TLS resets; on an
	 * implicit-TLS port, greet. */
	void	 (*tls_done)(struct sess *);
	/* Optional: a sess_resume_after() delay is over (before input). */
	void	 (*resumed)(struct sess *);
	/* A timer fired (cmd: the per-line deadline): queue the last words
	 * if any can be said, return the reason for the log. */
	const char *(*timeout)(struct sess *, bool cmd);
	/* Shutdown of the server: see enum sess_shut. */
	enum sess_shut (*shutdown)(struct sess *);
	/* The line (without CRLF) a refused connection gets, in buf; false
	 * for none.  Not called on implicit-TLS ports.  sv is the server's
	 * (embedded in the daemon's state: reach it with offsetof). */
	bool	 (*refusal)(const struct sess_server *sv, enum sess_refuse,
		    const char *ip, char *buf, size_t size);
	/* The session goes (reason for the log): log, release what the
	 * protocol holds.  The layer then frees the struct. */
	void	 (*release)(struct sess *, const char *reason);
};

/* The per-daemon half: embedded in the daemon's process state. */
struct sess_server {
	struct event_loop	*loop;
	const struct sess_ops	*ops;
	SSL_CTX			**tls_ctx;	/* the daemon's (reloaded) */
	struct sess		*head;		/* every open session */
	unsigned int		 count;
	unsigned long		 nfreed;	/* sessions freed so far */
	bool			 stopping;
};

/* Sizes and clocks of a session, chosen by the protocol at accept. */
struct sess_params {
	size_t		 in_max;	/* stream input cap */
	size_t		 out_max;	/* stream output cap */
	size_t		 out_high;	/* stop reading past this backlog */
	size_t		 out_chunk;	/* queued replies written at this */
	uint64_t	 timeout;	/* ms: s->timer's first arming */
	uint64_t	 cmd_timeout;	/* ms: one line; 0: no such deadline */
	uint64_t	 handshake_timeout;	/* ms: s->timer during a TLS
						   handshake; 0: leave it */
	unsigned int	 max_total;	/* sessions at once */
	unsigned int	 max_per_ip;
};

/* A continuation line (the answer to a SASL challenge), instead of
 * ops->line. */
typedef void	sess_cont_fn(struct sess *, char *line, size_t len);

struct sess {
	struct sess_server	*srv;
	struct sess		*next, *prev;
	char			 id[SESS_ID_MAX];
	int			 fd;		/* -1: a memory session */
	struct stream		*st;
	struct event_io		*io;
	struct event_timer	*timer;		/* the protocol's deadline */
	struct event_timer	*cmd_timer;	/* a line is due; NULL: none */
	struct event_timer	*resume_timer;
	struct net_addr		 peer;
	char			 ip[NET_ADDRSTRLEN];
	struct str		*out;		/* replies (the protocol's) */
	struct sess_params	 p;
	char			 tls_desc[160];
	unsigned int		 io_events;	/* EVENT_* last set on io */
	char			 skip_last;	/* last byte skipped */
	bool			 implicit_tls;
	bool			 is_tls;
	bool			 want_starttls;	/* answered: flush, then TLS */
	bool			 handshaking;
	bool			 suspended;
	bool			 io_quiet;	/* input came while suspended */
	bool			 skipping;	/* dropping an over-long line */
	bool			 peer_eof;	/* client closed its side */
	bool			 closing;	/* flush, then free */
	bool			 flush_now;	/* write replies at once */
	bool			 producing;	/* ops->produce until done */
	/* Client lines are traced here (log_trace), masked while cont_secret
	 * or, for one line, mask_next is set; with cont set a line goes to
	 * cont instead of ops->line (the protocol sets and clears both). */
	sess_cont_fn		*cont;
	bool			 cont_secret;	/* trace cont's lines masked */
	bool			 mask_next;	/* the next line too, then it is
						   a command again */
};

/* The next lines go to fn, traced masked (a SASL exchange); NULL: back to
 * commands. */
void	 sess_expect_cont(struct sess *, sess_cont_fn *fn);

void	 sess_server_init(struct sess_server *, struct event_loop *,
	    const struct sess_ops *, SSL_CTX **tls_ctx);

/* Admit a connection: refused (line sent unless implicit_tls, fd closed,
 * NULL) when stopping, without a TLS context on an implicit-TLS port, or
 * past the caps; else a zeroed session of size bytes (>= sizeof(struct
 * sess), struct sess first) with stream, io, timer, on the list, "connect"
 * logged.  out is the protocol's reply buffer inside it. */
struct sess *sess_accept(struct sess_server *, size_t size, int fd,
	    const struct net_addr *peer, const char *listener,
	    bool implicit_tls, const struct sess_params *,
	    size_t out_offset);
/* Go: the implicit TLS handshake, or the greeting.  s may be gone after. */
void	 sess_start(struct sess *);
/* Release everything (ops->release first), take it off the list, free it.
 * Accepts *sp == NULL. */
void	 sess_free(struct sess **sp, const char *reason);
/* Tell every session (ops->shutdown); the count left. */
unsigned int sess_shutdown(struct sess_server *);

/* Hold input (work elsewhere: a commit, a password check) and replies. */
void	 sess_suspend(struct sess *);
/* Go on: replies out, input read again. */
void	 sess_resume(struct sess *);
/* Suspend now, resume by itself after ms (ops->resumed first). */
void	 sess_resume_after(struct sess *, uint64_t ms);
/* Start (or restart) ops->produce after the queued replies. */
void	 sess_produce(struct sess *);
/* Arm s->timer for ms from now (nothing for a memory session). */
void	 sess_timer_reset(struct sess *, uint64_t ms);
/* Queued replies to the stream, and the stream to the socket: 0 or -1. */
int	 sess_flush(struct sess *);
bool	 sess_wants_input(const struct sess *);
/* Sessions open from ip. */
unsigned int sess_count_ip(const struct sess_server *, const char *ip);

/* ---- off the socket ---- */

/* A session of size bytes driven by sess_feed(): no fd, no loop, no
 * timers (sv->loop may be NULL); output dropped at each flush; STARTTLS
 * ends it.  The caller fills in its fields, then sess_start(). */
struct sess *sess_mem_new(struct sess_server *, size_t size,
	    const struct sess_params *, size_t out_offset);
/* Push len bytes in and run the loop as a read would: 0, or -1 when the
 * session has ended (it is freed; *sp set to NULL). eof: the peer closed
 * after these bytes. */
int	 sess_feed(struct sess **sp, const void *data, size_t len, bool eof);

#endif
