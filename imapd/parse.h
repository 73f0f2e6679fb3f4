/*
 * parse.h - reading IMAP command arguments (RFC 3501/9051 section 9) and
 * writing IMAP strings
 *
 * imapd collects one whole command before it is handled: the tagged line
 * and, for every literal the client announced ("{n}" or "{n+}", "~{n}"
 * for BINARY literal8), CRLF, the n literal bytes and the rest of the
 * command.  A handler gets a cursor over the arguments (after
 * "tag SP command", with the SP after the command consumed) and reads
 * them in order.  Readers return true and advance, or return false and
 * leave c->err set to a short text for the BAD reply (the cursor is then
 * left where it stopped).  The buffer is the session's and writable:
 * quoted strings are unescaped in place, so an imap_str points into it
 * and stays valid for the rest of the command.  Strings may hold NUL
 * bytes only when they came as literals; imap_str_copy() refuses them.
 */
#ifndef BUZON_IMAPD_PARSE_H
#define BUZON_IMAPD_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct str;

#define IMAP_DEPTH_MAX	16	/* nested parentheses a reader follows */

struct imap_str {
	const char	*s;
	size_t		 len;
	bool		 literal;	/* came as a literal */
	bool		 literal8;	/* ~{n}: may hold any byte */
};

struct imap_cur {
	char		*p;	/* next byte */
	char		*end;	/* one past the last byte */
	const char	*err;	/* why the last reader failed */
};

void	 imap_cur_init(struct imap_cur *, char *buf, size_t len);
/* Nothing left. */
bool	 imap_eol(const struct imap_cur *);
/* The next byte is ch (no advance). */
bool	 imap_peek(const struct imap_cur *, char ch);
/* Take ch if it is next. */
bool	 imap_take(struct imap_cur *, char ch);
/* Exactly one SP. */
bool	 imap_sp(struct imap_cur *);
/* 1*ATOM-CHAR (not: ( ) { SP CTL % * " \ ]). */
bool	 imap_atom(struct imap_cur *, struct imap_str *);
/* ASTRING-CHAR run (atom chars and ']') or a string. */
bool	 imap_astring(struct imap_cur *, struct imap_str *);
/* A quoted string or a literal. */
bool	 imap_string(struct imap_cur *, struct imap_str *);
/* NIL (*is_nil set) or a string. */
bool	 imap_nstring(struct imap_cur *, struct imap_str *, bool *is_nil);
/* list-mailbox: 1*(ATOM-CHAR / '%' / '*' / ']') or a string. */
bool	 imap_list_mailbox(struct imap_cur *, struct imap_str *);
/* A flag: "\" atom, or atom (a keyword); "\*" only with allow_star. */
bool	 imap_flag(struct imap_cur *, struct imap_str *, bool allow_star);
/* number (RFC 9051: 0..2^32-1) and number64 (0..2^63-1). */
bool	 imap_number(struct imap_cur *, uint32_t *);
bool	 imap_number64(struct imap_cur *, uint64_t *);
/* nz-number. */
bool	 imap_nz_number(struct imap_cur *, uint32_t *);
/* The text of a sequence-set (digits, ':', ',', '*', or "$"); parsing
 * it is seqset.h's. */
bool	 imap_seqset_text(struct imap_cur *, struct imap_str *);
/* date: "d-Mon-yyyy" bare or quoted; midnight UTC of that day. */
bool	 imap_date(struct imap_cur *, time_t *);
/* date-time: "dd-Mon-yyyy hh:mm:ss +hhmm" quoted, as UTC seconds. */
bool	 imap_datetime(struct imap_cur *, time_t *);

/* s equals lit without case (lit is ASCII, NUL-terminated). */
bool	 imap_str_eq(const struct imap_str *, const char *lit);
/* Copy into buf NUL-terminated: false if it does not fit or holds NUL. */
bool	 imap_str_copy(const struct imap_str *, char *buf, size_t size);

/* Does the line (len bytes, CRLF stripped) end in a literal's
 * announcement "{n}", "{n+}" or "~{n}"?  Then *n_r is n (UINT64_MAX when
 * it does not fit 2^63-1, to refuse), *nonsync_r tells "{n+}"
 * (LITERAL+), *binary_r "~{" (literal8).  Session.c decides from this
 * whether to send "+ Ready for literal data" and how many bytes follow. */
bool	 imap_literal_tail(const char *line, size_t len, uint64_t *n_r,
	    bool *nonsync_r, bool *binary_r);

/* ---- writing ---- */

/* A string as the grammar's "string": quoted when it is short (<= 1024
 * bytes) and holds no CR, LF, NUL or 8-bit byte (unless utf8 is true,
 * then 8-bit is quoted too), else a literal "{n}\r\n" + bytes. */
int	 imap_put_string(struct str *, const char *, size_t, bool utf8)
	    __attribute__((warn_unused_result));
/* nstring: NIL for s == NULL. */
int	 imap_put_nstring(struct str *, const char *, size_t, bool utf8)
	    __attribute__((warn_unused_result));
/* astring: an atom when every byte is an ASTRING-CHAR (and it is not
 * "NIL" and not empty), else as imap_put_string(). */
int	 imap_put_astring(struct str *, const char *, size_t, bool utf8)
	    __attribute__((warn_unused_result));
/* A date-time "dd-Mon-yyyy hh:mm:ss +0000" (quoted) of t in UTC. */
int	 imap_put_datetime(struct str *, time_t)
	    __attribute__((warn_unused_result));

#endif
