/*
 * data.h - the content of an SMTP message, DATA or BDAT, byte by byte
 *
 * session.c hands every byte that arrives inside DATA (or a BDAT chunk) to
 * data_feed(), in runs of whatever size the socket gave, split anywhere.
 * data_feed() finds the end of data, undoes dot-stuffing (RFC 5321 4.5.2),
 * and passes the content on with CRLF line ends to a sink (the spool
 * writer), while it checks the limits.  Nothing depends on where the runs
 * were cut: the same bytes in one run or one byte at a time give the same
 * content, the same end and the same verdict.
 *
 * Lines of message content have no length limit (real mail has lines far
 * over RFC 5321's 998 octets: HTML, generated reports, base64 without line
 * breaks); every octet is kept unchanged.  Only the message size bounds
 * them.  Line limits are for commands.
 *
 * SMTP smuggling: the message ends only at a line "." that ends in CRLF and
 * follows a line that ended in CRLF (CRLF.CRLF).  "\n.\n", "\r.\r",
 * "\n.\r\n" and the like are content, never an end, so a second message
 * can never be hidden inside the first, however long the line before it.
 * A bare CR fails the message (550 5.5.2): no normalisation of it is safe,
 * as a server further on may take "\r.\r" for an end.  A bare LF is a
 * policy, the same in DATA and BDAT:
 *   DATA_BARE_NORMALIZE  it ends a line as CRLF would, and is stored as CRLF
 *                        (Postfix 3.9's default), but never helps form the
 *                        end of data
 *   DATA_BARE_REJECT     it makes the message fail with 550 5.5.2
 * Limits that fail the message (the rest is still read up to the end, so
 * the session stays in step, then the error is returned):
 *   max_size      content bytes as stored         -> 552 5.3.4
 *   max_headers   header fields                   -> 552 5.3.4
 *   max_header_size bytes of the header section   -> 552 5.3.4
 *   max_received  Received: fields (mail loop)    -> 554 5.4.6
 * A header line is held (in d->hline, at most max_header_size bytes) until
 * it ends, to be looked at whole; body lines are never held.
 */
#ifndef BUZON_SMTPD_DATA_H
#define BUZON_SMTPD_DATA_H

#include <stdbool.h>
#include <stddef.h>

#include "fail.h"
#include "str.h"

enum data_bare {
	DATA_BARE_NORMALIZE,
	DATA_BARE_REJECT,
};

struct data_conf {
	size_t		 max_size;
	unsigned int	 max_headers;
	size_t		 max_header_size;
	unsigned int	 max_received;
	enum data_bare	 bare;
};

/* Content goes to the sink: 0, or -1 with f filled (e.g. spool write
 * failed, 4.3.1).  After a sink error the rest is still read and dropped. */
typedef int	data_sink_fn(void *arg, const char *buf, size_t len,
		    struct fail *f);
struct data;
/* Called once where the header section ends (before the line that ends
 * it, or at the end of the message when it has no body): the place to add
 * missing fields with data_insert(). */
typedef void	data_header_end_fn(struct data *, void *arg);

struct data {
	const struct data_conf	*conf;
	data_sink_fn		*sink;
	void			*sink_arg;
	size_t			 size;		/* content bytes passed on */
	unsigned int		 headers;	/* header fields seen */
	size_t			 header_size;
	unsigned int		 received;	/* Received: fields seen */
	bool			 in_headers;
	bool			 prev_crlf;	/* last line ended in CRLF */
	bool			 bol;		/* at the start of a line */
	bool			 dot;		/* the line so far is "." */
	bool			 cr;		/* a CR waits for its LF */
	bool			 has_message_id;
	bool			 has_date;
	bool			 has_from;
	bool			 failed;	/* fail holds the reply */
	int			 reply;		/* its SMTP code (0: sink) */
	struct fail		 fail;
	bool			 raw;		/* BDAT: no dots, no end line */
	data_header_end_fn	*header_end;	/* optional */
	struct str		 hline;		/* the header line so far */
};

/* Start a message; d owns memory until data_release(). */
void	 data_begin(struct data *, const struct data_conf *, data_sink_fn *,
	    void *sink_arg);
/* Frees what d holds (safe on a zeroed or released struct data). */
void	 data_release(struct data *);
/* Feed len bytes of content.  Returns how many were taken: all of them,
 * or, when the end-of-data line "." CRLF ends inside buf, the bytes up to
 * and including its LF, with *done_r set (check d->failed for the reply;
 * the bytes after it are the client's next commands).  In raw mode (BDAT,
 * RFC 3030: set d->raw after data_begin()) there are no dots and no end
 * line: everything is taken and the caller calls data_end() after the last
 * chunk. */
size_t	 data_feed(struct data *, const char *buf, size_t len, bool *done_r);
/* Raw mode: the last chunk is in.  A last line without its CRLF gets one
 * (a CR left waiting is a bare CR). */
void	 data_end(struct data *);
/* Add bytes of our own (from header_end) to the content, counted toward
 * max_size. */
void	 data_insert(struct data *, const char *buf, size_t len);
/* The SMTP reply code for a failed message: 552 (size, headers), 554
 * (loop), 550 (bare CR/LF), and for a sink failure 452 (4.3.1), 451
 * (other temporary) or 554. */
int	 data_reply_code(const struct data *);

#endif
