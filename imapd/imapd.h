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
	/* ... the rest is session.c's (collecting, literals, IDLE) */
};

/* A cursor over the current command's arguments. */
void	 imap_args(struct imap_session *, struct imap_cur *);

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
/* Is uid \Recent in this session? */
bool	 imap_is_recent(const struct imap_session *, uint32_t uid);
/* Number of \Recent messages in the view. */
uint32_t imap_recent_count(const struct imap_session *);

#endif
