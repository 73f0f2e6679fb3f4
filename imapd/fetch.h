/*
 * fetch.h - FETCH (RFC 3501 6.4.5, RFC 9051 6.4.5, BINARY RFC 3516,
 * CONDSTORE RFC 7162) and the flag list every response shows
 *
 * imap_fetch_begin() parses "sequence-set SP (atts) [modifiers]" and
 * chooses the messages; imap_fetch_next() then appends one "* n FETCH
 * (...)" response per call, so the session produces a FETCH of many
 * messages as the socket drains (session.c's produce hook) rather than
 * building it whole.  ENVELOPE and BODYSTRUCTURE are cached in the
 * mailbox (mailbox_cache_put) once computed, so a warm FETCH of them reads
 * no message file.  BODY[...] without .PEEK sets \Seen (not in a
 * read-only folder) and the response then includes FLAGS.
 */
#ifndef BUZON_IMAPD_FETCH_H
#define BUZON_IMAPD_FETCH_H

#include <stdbool.h>
#include <stdint.h>

#include "parse.h"

struct imap_fetch;
struct imap_session;
struct mailbox;
struct mailbox_msg;
struct str;

/* From c (after "FETCH SP" or "UID FETCH SP"): NULL with *err set (text
 * for BAD when *bad, else for NO). */
struct imap_fetch *imap_fetch_begin(struct imap_session *, struct imap_cur *,
	    bool uid, const char **err, bool *bad);
/* Append the next response to out: 1 more may follow, 0 done (nothing
 * appended), -1 failed (*err for NO). */
int	 imap_fetch_next(struct imap_fetch *, struct imap_session *,
	    struct str *out, const char **err)
	    __attribute__((warn_unused_result));
void	 imap_fetch_free(struct imap_fetch **);

/* "(\Seen \Flagged kw ...)" of m, with \Recent when recent. */
int	 imap_put_flags(struct str *, const struct mailbox *,
	    const struct mailbox_msg *, bool recent)
	    __attribute__((warn_unused_result));

/* The flags a folder knows, "(\Answered ... kw)", with "\*" (any new
 * keyword may be stored) when star: SELECT's FLAGS and PERMANENTFLAGS
 * (flags.c). */
int	 imap_put_flag_names(struct str *, const struct mailbox *, bool star)
	    __attribute__((warn_unused_result));

#endif
