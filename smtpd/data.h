/*
 * data.h - the body of an SMTP DATA command, line by line
 *
 * smtpd reads DATA with stream_read_line(), which hands over each line
 * without its ending and says whether that ending was CRLF or a bare LF.
 * data_line() decides, for each, whether the message ends there, undoes
 * dot-stuffing (RFC 5321 4.5.2), and passes the content on with CRLF line
 * ends to a sink (the spool writer), while it checks the limits.
 *
 * SMTP smuggling: the message ends only at a line "." that ends in CRLF and
 * follows a line that ended in CRLF (CRLF.CRLF).  "\n.\n", "\r.\r",
 * "\n.\r\n" and the like are content, never an end, so a second message
 * can never be hidden inside the first.  A bare CR inside a line fails the
 * message (550 5.5.2): no normalisation of it is safe, as a server further
 * on may take "\r.\r" for an end.  A bare LF is a policy:
 *   DATA_BARE_NORMALIZE  it ends a line as CRLF would, and is stored as CRLF
 *                        (Postfix 3.9's default), but never helps form the
 *                        end of data
 *   DATA_BARE_REJECT     it makes the message fail with 550 5.5.2
 * Limits that fail the message (the rest is still read up to the end, so
 * the session stays in step, then the error is returned):
 *   max_size      content bytes as stored         -> 552 5.3.4
 *   max_line      octets of one line, without CRLF -> 500 5.5.2 (RFC 5321
 *                 4.5.3.1.6 says 998; max_line adds the tolerance)
 *   max_headers   header fields                   -> 552 5.3.4
 *   max_header_size bytes of the header section   -> 552 5.3.4
 *   max_received  Received: fields (mail loop)    -> 554 5.4.6
 */
#ifndef BUZON_SMTPD_DATA_H
#define BUZON_SMTPD_DATA_H

#include <stdbool.h>
#include <stddef.h>

#include "fail.h"

enum data_bare {
	DATA_BARE_NORMALIZE,
	DATA_BARE_REJECT,
};

struct data_conf {
	size_t		 max_size;
	size_t		 max_line;
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
	bool			 has_message_id;
	bool			 has_date;
	bool			 has_from;
	bool			 failed;	/* fail holds the reply */
	int			 reply;		/* its SMTP code (0: sink) */
	struct fail		 fail;
	bool			 raw;		/* BDAT: no dots, no end line */
	data_header_end_fn	*header_end;	/* optional */
};

enum data_result {
	DATA_CONTINUE,	/* more lines follow */
	DATA_DONE,	/* the "." line: check d->failed for the reply */
};

void	 data_begin(struct data *, const struct data_conf *, data_sink_fn *,
	    void *sink_arg);
/* Feed one line (len bytes, without its ending; line[len] need not be
 * NUL).  bare_lf: the line ended in LF alone.  too_long: the reader had to
 * cut this line because it passed the reader's own cap (counted as a
 * max_line failure; the pieces still arrive as lines). */
enum data_result data_line(struct data *, const char *line, size_t len,
	    bool bare_lf, bool too_long);
/* Raw mode (BDAT, RFC 3030): set d->raw after data_begin(); lines are
 * taken as they are (no dot-unstuffing, "." is content), the caller has
 * already turned every line end into CRLF, and calls data_end() after the
 * last line. */
void	 data_end(struct data *);
/* Add bytes of our own (from header_end) to the content, counted toward
 * max_size. */
void	 data_insert(struct data *, const char *buf, size_t len);
/* The SMTP reply code for a failed message: 552 (size, headers), 554
 * (loop), 500 (line too long), 550 (bare CR/LF), and for a sink failure
 * 452 (4.3.1), 451 (other temporary) or 554. */
int	 data_reply_code(const struct data *);

#endif
