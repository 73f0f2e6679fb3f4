/*
 * mime.h - the structure of a message (RFC 5322, MIME RFC 2045-2049) for
 * imapd's FETCH and SEARCH and `buzon mime explain`
 *
 * mime_parse() reads a whole message held in memory (wire form: CRLF, or
 * bare LF, which is then taken as a line end) and builds its part tree
 * with offsets into that buffer; nothing is copied.  It never fails on
 * bad input: a missing boundary ends its part at the end of the parent, a
 * bad Content-Type is text/plain, nesting past MIME_DEPTH_MAX or more than
 * MIME_PARTS_MAX parts stop splitting (the rest is one body), as Dovecot
 * and Postfix do.  The tree borrows the buffer: keep it until
 * mime_free().
 */
#ifndef BUZON_MIME_H
#define BUZON_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct str;

#define MIME_DEPTH_MAX	32
#define MIME_PARTS_MAX	4096
#define MIME_PARAMS_MAX	32

struct mime_param {
	char		*name;		/* lower case, RFC 2231 decoded */
	char		*value;		/* RFC 2231 joined and decoded (UTF-8) */
};

struct mime_part {
	/* Offsets into the message buffer. */
	size_t		 off;		/* the part's header starts here */
	size_t		 hdr_len;	/* header, with the blank line */
	size_t		 body_off;
	size_t		 body_len;
	uint64_t	 body_lines;	/* lines of the body */
	uint64_t	 wire_hdr_len;	/* the same in CRLF form (bare LF */
	uint64_t	 wire_body_len;	/*  counted as CRLF) */
	/* Content-Type (defaults applied: text/plain; charset=us-ascii, or
	 * message/rfc822 inside multipart/digest), lower case. */
	char		 type[64];
	char		 subtype[64];
	struct mime_param *params;	/* of Content-Type */
	size_t		 nparams;
	char		*id;		/* Content-ID, NULL if none */
	char		*description;	/* Content-Description */
	char		*encoding;	/* Content-Transfer-Encoding, lower;
					   NULL: 7bit */
	char		*md5;		/* Content-MD5 */
	char		*disposition;	/* lower; NULL if none */
	struct mime_param *disp_params;
	size_t		 ndisp_params;
	char		*language;	/* Content-Language (raw) */
	char		*location;	/* Content-Location */
	/* multipart: the parts; message/rfc822 (and global): one child,
	 * the encapsulated message (its header is the child's). */
	struct mime_part *children;
	size_t		 nchildren;
	struct mime_part *parent;
};

struct mime_msg {
	const char	*buf;
	size_t		 len;
	struct mime_part root;		/* the message itself */
};

/* Parse; NULL only when out of memory. */
struct mime_msg *mime_parse(const char *buf, size_t len);
void	 mime_free(struct mime_msg **);

/* The part with IMAP part number "1.2.3" (nums[0..n-1], 1-based) as
 * RFC 3501 6.4.5 defines it (a non-multipart message has part 1, itself
 * as body).  NULL if there is none. */
const struct mime_part *mime_part_at(const struct mime_msg *,
	    const uint32_t *nums, size_t n);

/* ---- headers ---- */

/* Walk the header fields of the header at buf[0..len): *pos starts at 0;
 * each call sets the field name (without ':') and the raw value
 * (unfolded lines kept as they are) and returns true, false at the end. */
bool	 mime_header_next(const char *buf, size_t len, size_t *pos,
	    const char **name, size_t *name_len, const char **value,
	    size_t *value_len);
/* The first field called name (no case) of part p: raw value, unfolded
 * (CRLF WSP -> WSP) into out.  1 found, 0 not. */
int	 mime_header_get(const struct mime_msg *, const struct mime_part *,
	    const char *name, struct str *out)
	    __attribute__((warn_unused_result));
/* Decode RFC 2047 encoded words of a header value to UTF-8 (unknown
 * charsets are kept as they are), unfolding it. */
int	 mime_header_decode(const char *, size_t, struct str *out)
	    __attribute__((warn_unused_result));
/* An RFC 5322 date-time (obsolete forms too) to UTC seconds: 0, -1. */
int	 mime_parse_date(const char *, size_t, int64_t *t_r)
	    __attribute__((warn_unused_result));

/* ---- addresses (RFC 5322 3.4, for ENVELOPE and SORT) ---- */

struct mime_addr {
	char		*name;		/* display name, decoded; NULL none */
	char		*route;		/* obsolete route; NULL */
	char		*mailbox;	/* local part; group start: group
					   name, end: NULL with host NULL */
	char		*host;		/* NULL: group start/end marker */
};

/* Parse an address list value into a malloc'ed array (*n_r items);
 * returns 0 (possibly with 0 items), -1 out of memory. */
int	 mime_addr_parse(const char *, size_t, struct mime_addr **r,
	    size_t *n_r) __attribute__((warn_unused_result));
/* The same with display names as they are written (quotes taken off,
 * encoded words kept), as IMAP's ENVELOPE shows them. */
int	 mime_addr_parse_raw(const char *, size_t, struct mime_addr **r,
	    size_t *n_r) __attribute__((warn_unused_result));
void	 mime_addr_free(struct mime_addr *, size_t);

/* ---- bodies ---- */

/* The body of p decoded from its transfer encoding (base64,
 * quoted-printable; others as they are) appended to out.  Bad input is
 * decoded as far as it goes (never fails but for memory). */
int	 mime_body_decode(const struct mime_msg *, const struct mime_part *,
	    struct str *out) __attribute__((warn_unused_result));
/* The text of p for searching and `mime explain`: decoded, then from its
 * charset to UTF-8 (iconv; unknown charsets as they are). */
int	 mime_body_text(const struct mime_msg *, const struct mime_part *,
	    struct str *out) __attribute__((warn_unused_result));

#endif
