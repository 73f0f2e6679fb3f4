/*
 * imapd.h - buzon-imapd: the session, its states, and what the files of
 * imapd/ offer each other (nothing here is used outside this directory)
 *
 * One process serves every session from one event loop on common/session
 * (session.h): the layer reads lines and writes what the handlers queued
 * in s->out.  session.c collects one whole command (its line and every
 * literal, parse.h) and hands it to the command table (commands.c); the
 * handlers read their arguments with a cursor (imap_args()), queue
 * untagged data with imap_untagged() or straight into s->out, and end
 * with exactly one of imap_ok(), imap_no() or imap_bad().
 *
 * Modules and their owners of code:
 *   session.c, commands.c, cmd_auth.c, cmd_select.c, cmd_msg.c, parse.c,
 *     server.c, main.c           the daemon, states, auth, selected state
 *   folders.h: cmd_folder.c, mutf7.c, recent.c, subs.c
 *                                names, LIST/LSUB/STATUS/CREATE/...
 *   fetch.h: fetch.c, envelope.c, bodystruct.c, section.c
 *                                FETCH and the flags list
 *   search.h: search.c, seqset.c, sort.c, thread.c
 *                                SEARCH, SORT, THREAD, sequence sets
 */
#ifndef BUZON_IMAPD_H
#define BUZON_IMAPD_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "auth.h"
#include "cmdtab.h"
#include "mailbox.h"
#include "parse.h"
#include "session.h"
#include "str.h"

struct accounts;
struct authc;
struct config;
struct event_loop;
struct imap_fetch;
struct imap_login;

enum imap_state {
	IMAP_NOT_AUTH,		/* greeting sent, not logged in */
	IMAP_AUTH,		/* logged in, nothing selected */
	IMAP_SELECTED,		/* a folder is selected (s->mb) */
	IMAP_LOGOUT,		/* BYE sent: flush, then close */
	IMAP_STATE_COUNT
};

#define IMAP_TAG_MAX		64	/* bytes of a tag */
#define IMAP_USER_MAX		AUTH_ID_MAX
#define IMAP_FOLDER_MAX		MAILBOX_NAME_MAX	/* storage name */

/* ENABLEd extensions (RFC 5161) and what a client showed it uses. */
#define IMAP_EN_CONDSTORE	0x01	/* ENABLE CONDSTORE or a MODSEQ use */
#define IMAP_EN_QRESYNC		0x02
#define IMAP_EN_UTF8		0x04	/* UTF8=ACCEPT */
#define IMAP_EN_REV2		0x08	/* IMAP4rev2 */

/* The settings imapd uses, resolved from struct config (server.c). */
struct imap_conf {
	const char	*hostname;
	uint64_t	 timeout;		/* ms: idle, not logged in */
	uint64_t	 auth_timeout;		/* ms: idle, logged in (30 min) */
	uint64_t	 idle_timeout;		/* ms: one IDLE */
	uint64_t	 command_timeout;	/* ms: one command / handshake */
	uint64_t	 send_timeout;		/* ms: output without progress */
	unsigned int	 max_errors;
	unsigned int	 max_connections;
	unsigned int	 max_connections_per_ip;
	unsigned int	 max_line;		/* one line of a command */
	uint64_t	 max_command;		/* a command with its literals */
	uint64_t	 max_append;		/* one APPEND literal */
	bool		 plaintext_loopback;
};

/* Process-wide state: one per buzon-imapd. */
struct imapd {
	struct event_loop	*loop;
	struct imap_conf	 conf;
	SSL_CTX			*tls_ctx;	/* NULL: no STARTTLS, no 993 */
	struct accounts		*accounts;
	struct authc		*authc;		/* buzon-auth */
	struct sess_server	 sv;
};

struct imap_session {
	struct sess		 base;		/* first: the connection */
	struct imapd		*srv;
	enum imap_state		 state;
	unsigned int		 enabled;	/* IMAP_EN_* */
	char			 tag[IMAP_TAG_MAX + 1];	/* the command's */
	char			 user[IMAP_USER_MAX + 1];	/* logged in */
	/* The user's mail (valid from login on). */
	char			 mail_root[PATH_MAX];
	char			 mbox_inbox[PATH_MAX];
	struct mailbox_location	 loc;
	uint64_t		 quota;		/* bytes; 0: none */
	/* Selected (IMAP_SELECTED): the folder, its storage name, and the
	 * first UID that is \Recent in this session (recent.c). */
	struct mailbox		*mb;
	char			 folder[IMAP_FOLDER_MAX + 1];
	bool			 readonly;	/* EXAMINE, or read-only */
	uint32_t		 recent_uid;	/* UIDs >= this are \Recent;
						   0: none */
	/* The command being handled: its arguments (parse.h). */
	char			*args;
	size_t			 args_len;
	unsigned int		 errors;
	struct str		 out;		/* replies not yet written */
	/* ---- the rest is core's (session.c, commands.c, cmd_*.c) ---- */
	struct str		 cmd;		/* the command being collected:
						   lines, CRLFs and literals */
	struct str		 done;		/* the tagged reply of the
						   command in dispatch */
	uint64_t		 cmd_max;	/* bound of this command */
	uint64_t		 lit_left;	/* literal bytes yet to come */
	bool			 in_literal;
	bool			 in_dispatch;	/* completions go to done */
	bool			 is_imaps;	/* implicit TLS listener */
	bool			 is_loopback;
	bool			 want_starttls;	/* answered: switch after it */
	bool			 idling;	/* IDLE: waiting for DONE */
	bool			 completed;	/* the command has its reply */
	unsigned int		 kw_shown;	/* keywords FLAGS announced */
	bool			 cmd_nosync;	/* UID FETCH/STORE/SEARCH...:
						   no sync after it */
	unsigned int		 commands;	/* commands before login */
	uint64_t		 bytes_out;
	struct event_timer	*idle_timer;	/* IDLE's mailbox poll */
	struct auth_sasl	 sasl;
	struct imap_login	*pending;	/* a check at buzon-auth */
	struct imap_fetch	*fetch;		/* a FETCH being produced */
};

#define IMAP_PREAUTH_MAX	100	/* commands before a login */
#define IMAP_PREAUTH_LITERAL	4096	/* one literal before a login */
#define IMAP_PREAUTH_COMMAND	65536	/* one command before a login */
#define IMAP_OUT_HIGH		(128u * 1024)	/* stop producing past this */
#define IMAP_IDLE_POLL_MS	1000	/* IDLE looks at the folder */

/* The states a command is allowed in (cmdtab.h). */
#define IMAP_ST_NOAUTH		CMDTAB_ST(IMAP_NOT_AUTH)
#define IMAP_ST_AUTH		(CMDTAB_ST(IMAP_AUTH) | CMDTAB_ST(IMAP_SELECTED))
#define IMAP_ST_SEL		CMDTAB_ST(IMAP_SELECTED)
#define IMAP_ST_ANY		(IMAP_ST_NOAUTH | IMAP_ST_AUTH)

/* Command flags (from CMDTAB_F_LOCAL up). */
#define IMAP_CMD_NOSYNC		CMDTAB_F_LOCAL	/* FETCH, STORE, SEARCH:
						   no EXPUNGE after */

/* A cursor over the current command's arguments. */
void	 imap_args(struct imap_session *, struct imap_cur *);
/* The command has no arguments; else BAD and false. */
bool	 imap_no_args(struct imap_session *);

/* Queue "* " fmt CRLF. */
void	 imap_untagged(struct imap_session *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* The command's completion: "TAG OK [code] text" (code NULL: none). */
void	 imap_ok(struct imap_session *, const char *code, const char *fmt,
	    ...) __attribute__((format(printf, 3, 4)));
void	 imap_no(struct imap_session *, const char *code, const char *fmt,
	    ...) __attribute__((format(printf, 3, 4)));
/* BAD: counts toward max_errors (at the limit "* BYE Too many errors"
 * and close). */
void	 imap_bad(struct imap_session *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Queue a continuation request "+ text". */
void	 imap_cont(struct imap_session *, const char *text);
/* Is uid \Recent in this session? */
bool	 imap_is_recent(const struct imap_session *, uint32_t uid);
/* Number of \Recent messages in the view. */
uint32_t imap_recent_count(const struct imap_session *);

/* ---- commands.c ---- */

/* Handle one whole command (s->cmd): tag, verb, state, the handler, then
 * the mailbox sync and the tagged reply. */
void	 imap_dispatch(struct imap_session *);
/* "* OK [CAPABILITY ...] buzon IMAP4rev1 ready" */
void	 imap_greet(struct imap_session *);
/* The capabilities in this state, space-separated, into buf. */
void	 imap_capability(const struct imap_session *, struct str *);
/* May this session log in with a password now (TLS, or loopback when
 * imap_plaintext_loopback)? */
bool	 imap_login_allowed(const struct imap_session *);
const char *imap_state_name(enum imap_state);
void	 imap_set_state(struct imap_session *, enum imap_state);
/* Bring s->mb up to date and queue what changed: EXPUNGE (or VANISHED
 * with QRESYNC) from the highest down, EXISTS, RECENT, FETCH FLAGS of
 * messages changed by others.  Never during FETCH, STORE or SEARCH. */
void	 imap_sync_report(struct imap_session *);
/* Leave the selected state (no expunge): mailbox closed, back to AUTH. */
void	 imap_unselect(struct imap_session *);

/* ---- cmd_auth.c ---- */
void	 cmd_capability(struct imap_session *, char *);
void	 cmd_noop(struct imap_session *, char *);
void	 cmd_logout(struct imap_session *, char *);
void	 cmd_starttls(struct imap_session *, char *);
void	 cmd_login(struct imap_session *, char *);
void	 cmd_authenticate(struct imap_session *, char *);
void	 cmd_id(struct imap_session *, char *);
void	 cmd_enable(struct imap_session *, char *);
void	 cmd_idle(struct imap_session *, char *);
/* Wipe a SASL exchange; drop a check still at buzon-auth. */
void	 imap_auth_release(struct imap_session *);
void	 imap_login_forget(struct imap_session *);

/* ---- cmd_select.c, cmd_msg.c ---- */
void	 cmd_select(struct imap_session *, char *);
void	 cmd_examine(struct imap_session *, char *);
void	 cmd_check(struct imap_session *, char *);
void	 cmd_close(struct imap_session *, char *);
void	 cmd_unselect(struct imap_session *, char *);
void	 cmd_expunge(struct imap_session *, char *);
void	 cmd_uid(struct imap_session *, char *);
void	 cmd_fetch(struct imap_session *, char *);
void	 cmd_store(struct imap_session *, char *);
void	 cmd_copy(struct imap_session *, char *);
void	 cmd_move(struct imap_session *, char *);
void	 cmd_search(struct imap_session *, char *);
void	 cmd_sort(struct imap_session *, char *);
void	 cmd_thread(struct imap_session *, char *);
void	 cmd_append(struct imap_session *, char *);
/* CONDSTORE comes into use (RFC 7162 3.1): in the selected state the
 * first time, "* OK [HIGHESTMODSEQ n]". */
void	 imap_condstore_on(struct imap_session *);
/* New keywords in the folder: announce FLAGS and PERMANENTFLAGS again
 * before any response uses them. */
void	 imap_flags_news(struct imap_session *);
/* The highest UID of the view (0: empty). */
uint32_t imap_max_uid(const struct imap_session *);
/* A sequence set (uid: of UIDs) as the ascending sequence numbers of the
 * messages in it (malloc'ed).  -1: bad syntax, or a sequence number
 * above EXISTS. */
int	 imap_resolve(struct imap_session *, const struct imap_str *, bool uid,
	    uint32_t **seqs_r, size_t *n_r) __attribute__((warn_unused_result));
void	 imap_uid_expunge(struct imap_session *);
/* FETCH as the socket drains (session.c's produce hook): 1 done, 0 more
 * to come. */
int	 imap_fetch_produce(struct imap_session *, struct str *out);

/* ---- server.c ---- */
int	 imapd_init(struct event_loop *, const struct config *, void *);
int	 imapd_reload(const struct config *, void *);
unsigned int imapd_shutdown(void *);
void	 imapd_conf_from(struct imap_conf *, const struct config *);

/* ---- session.c ---- */
extern const struct sess_ops imap_sess_ops;
void	 imap_accept(int fd, const struct net_addr *peer,
	    const char *listener, void *data);
/* Answer later: keep the replies queued, stop reading for ms. */
void	 imap_resume_after(struct imap_session *, uint64_t ms);
/* Start IDLE: poll the folder, the IDLE timeout. */
void	 imap_idle_start(struct imap_session *);
/* Start producing s->fetch after the queued replies. */
void	 imap_start_fetch(struct imap_session *);
/* Memory sessions (fuzz, tests): fed with sess_feed(&s->base, ...). */
struct imap_session *imap_session_mem(struct imapd *);
void	 imap_session_start(struct imap_session *);

#endif
