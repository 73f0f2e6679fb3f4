/*
 * folders.h - IMAP mailbox names and the folder commands
 *
 * A client names folders with '/' as the hierarchy delimiter, in modified
 * UTF-7 (RFC 3501 5.1.3), or in UTF-8 once UTF8=ACCEPT is enabled; "INBOX"
 * in any case is the inbox.  The store (mailbox.h) names them with '.' in
 * printable ASCII: imap_folder_name() maps one to the other and refuses
 * what cannot be stored ('.' in a name component, "..", empty
 * components, bad UTF-7, too long or too deep).  Listings map back.
 *
 * Subscriptions are kept in one file per user (subs.c); \Recent state
 * per folder (recent.c).  The default special-use folders (Sent, Drafts,
 * Trash, Junk, Archive) are created and subscribed at the first login.
 */
#ifndef BUZON_IMAPD_FOLDERS_H
#define BUZON_IMAPD_FOLDERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parse.h"

struct imap_session;
struct mailbox;

#define IMAP_FOLDER_DEPTH_MAX	16	/* components of a name */

/* Client name (as read by imap_astring) -> storage name in out.  0, or -1
 * with *err the text for NO (the name is not one we can store). */
int	 imap_folder_name(const struct imap_session *, const struct imap_str *,
	    char *out, size_t size, const char **err)
	    __attribute__((warn_unused_result));
/* Storage name -> the name a client sees (mUTF-7, or UTF-8 when enabled)
 * appended to out as an astring/string. */
int	 imap_put_folder(struct str *out, const struct imap_session *,
	    const char *storage_name) __attribute__((warn_unused_result));

/* After login: create and subscribe the default folders if missing. */
void	 imap_folders_login(struct imap_session *);

/* \Recent (recent.c): SELECT (read-write) claims the messages no session
 * has seen as recent yet: returns the first UID that is recent for this
 * session (0: none) and records that they are no longer recent for the
 * next one.  EXAMINE and STATUS only look. */
uint32_t imap_recent_claim(struct mailbox *);
uint32_t imap_recent_peek(struct mailbox *);

/* Subscriptions (subs.c), by storage name: load a sorted array (free
 * with imap_subs_free), look one up, add or remove one.  0 or -1. */
struct mailbox_location;
int	 imap_subs_load(const struct mailbox_location *, char ***names_r,
	    size_t *n_r) __attribute__((warn_unused_result));
void	 imap_subs_free(char **, size_t);
bool	 imap_subs_has(char *const *, size_t, const char *name);
int	 imap_subs_set(const struct mailbox_location *, const char *name,
	    bool on) __attribute__((warn_unused_result));

/* Bytes the user's mail takes now (QUOTA), from the quota's count file
 * or, with recount, from the messages. */
uint64_t imap_usage_bytes(struct imap_session *, bool recount);
/* Would add more bytes go over the user's quota (checked against a
 * fresh count before saying yes)?  APPEND's check before the literal. */
bool	 imap_over_quota(struct imap_session *, uint64_t add);
/* add bytes were stored (APPEND, COPY): the count file follows. */
void	 imap_usage_add(struct imap_session *, uint64_t add);

/* The handlers (commands.c's table). */
void	 cmd_create(struct imap_session *, char *);
void	 cmd_delete(struct imap_session *, char *);
void	 cmd_rename(struct imap_session *, char *);
void	 cmd_subscribe(struct imap_session *, char *);
void	 cmd_unsubscribe(struct imap_session *, char *);
void	 cmd_list(struct imap_session *, char *);
void	 cmd_lsub(struct imap_session *, char *);
void	 cmd_status(struct imap_session *, char *);
void	 cmd_namespace(struct imap_session *, char *);
void	 cmd_getquota(struct imap_session *, char *);
void	 cmd_getquotaroot(struct imap_session *, char *);
void	 cmd_setquota(struct imap_session *, char *);

/* mUTF-7 (mutf7.c): 0, or -1 when the input is not valid. */
int	 imap_mutf7_to_utf8(const char *, size_t, struct str *out)
	    __attribute__((warn_unused_result));
int	 imap_utf8_to_mutf7(const char *, size_t, struct str *out)
	    __attribute__((warn_unused_result));

#endif
