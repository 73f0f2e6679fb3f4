/*
 * stream.h - buffered, bounded, non-blocking I/O on one socket, plain or TLS
 *
 * Owns its two buffers and its SSL object, never the fd.  The buffers start
 * at 4 KiB and double as the traffic needs, up to their caps, so an idle
 * or three-line session costs a few KiB whatever the caps.  Input is
 * capped at max_in bytes: a line longer than that is an error to answer and close on,
 * not a reason to grow.  Output is capped at max_out bytes: a writer that
 * outruns its peer gets -1 from stream_write() and must stop producing until
 * stream_flush() has drained the buffer (backpressure).
 *
 * Lines and byte runs returned by stream_read_*() point into the input
 * buffer and die at the next stream_fill(), stream_read_*() or
 * stream_starttls() call: copy what must live longer.
 *
 * The same stream works blocking (clients, tools: every call waits) or
 * non-blocking (daemons: STREAM_AGAIN says wait for stream_events()).
 * Plain writes never raise SIGPIPE; OpenSSL's writes can, so programs that
 * use TLS streams ignore SIGPIPE (a dead peer is then -1 with EPIPE).
 */
#ifndef BUZON_STREAM_H
#define BUZON_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#define STREAM_AGAIN	(-2)	/* would block: wait for stream_events() */

struct stream;

struct stream *stream_new(int fd, size_t max_in, size_t max_out);
/* A stream on no socket (fuzz targets, tests): input only through
 * stream_feed(), output dropped by stream_flush(). */
struct stream *stream_new_mem(size_t max_in, size_t max_out);
/* Append up to len bytes to the input as a read would; returns how many
 * fitted under max_in. */
size_t	 stream_feed(struct stream *, const void *, size_t);
void	 stream_free(struct stream **);		/* frees SSL, keeps the fd */
int	 stream_fd(const struct stream *);

/* Read what the socket has into the input buffer.  Returns bytes read (> 0),
 * 0 at end of file, -1 on error (or the input buffer already full),
 * STREAM_AGAIN when nothing is ready.  Before waiting for EVENT_READ, call
 * it until STREAM_AGAIN: with TLS, OpenSSL may hold decrypted bytes that
 * did not fit, and the fd shows nothing of them. */
ssize_t	 stream_fill(struct stream *);
/* True when the last stream_fill() on a plain socket returned fewer bytes
 * than the buffer had room for: the socket was read dry, so another call
 * would almost surely give STREAM_AGAIN and the caller may wait for
 * EVENT_READ at once (saves one read() per burst).  Always false with TLS,
 * whose bytes may wait inside OpenSSL. */
bool	 stream_fill_drained(const struct stream *);

/* Take the next LF-terminated line off the input, CRLF or LF stripped and
 * NUL-terminated in place (a bare LF ending is flagged in *bare_lf_r, which
 * may be NULL).  Returns 1 with *line_r and *len_r set, 0 if no full line is
 * buffered yet, -1 if the pending line already exceeds max_line (the caller
 * answers and closes; stream_skip_line() can drop it instead).  max_line
 * counts the line without its CRLF or LF.  A -1 repeats until skipped. */
int	 stream_read_line(struct stream *, size_t max_line, char **line_r,
	    size_t *len_r, bool *bare_lf_r);
/* Drop buffered input up to and including the next LF; 1 if one was found,
 * 0 if everything buffered was dropped and the line goes on (call it again
 * after the next stream_fill() until it returns 1). */
int	 stream_skip_line(struct stream *);
/* Take up to max (> 0) buffered bytes (literals, BDAT chunks).  1 with
 * *data_r and *len_r set (len >= 1), 0 when nothing is buffered. */
int	 stream_read_bytes(struct stream *, size_t max, const char **data_r,
	    size_t *len_r);
/* Look at everything buffered without taking it: 1 with *data_r and *len_r
 * set (len >= 1), 0 when nothing is buffered.  stream_skip() then takes
 * the first n (<= len) of those bytes. */
int	 stream_peek(const struct stream *, const char **data_r,
	    size_t *len_r);
void	 stream_skip(struct stream *, size_t n);
/* Take exactly n bytes if that many are buffered: 1, else 0.  n must not
 * exceed max_in. */
int	 stream_read_exact(struct stream *, size_t n, const char **data_r);
size_t	 stream_input_pending(const struct stream *);
void	 stream_discard_input(struct stream *);

/* Queue bytes for output.  0, or -1 if max_out would be exceeded (nothing
 * queued). */
int	 stream_write(struct stream *, const void *, size_t)
	    __attribute__((warn_unused_result));
int	 stream_printf(struct stream *, const char *, ...)
	    __attribute__((format(printf, 2, 3), warn_unused_result));
/* Send queued output: 1 when all is sent, STREAM_AGAIN if some remains,
 * -1 on error. */
int	 stream_flush(struct stream *);
size_t	 stream_output_pending(const struct stream *);

/* Begin TLS on this stream as server (or client).  Any input already
 * buffered is discarded first: bytes a client pipelined after STARTTLS
 * must never be read as commands (RFC 3207 section 4.2, CVE-2011-0411).
 * Output must be flushed before (the plain-text reply to STARTTLS), else
 * -1.  A client's sni_host (may be NULL) is sent as SNI unless it is an
 * address, and checked against the certificate when the context verifies.
 * Then drive the handshake with stream_handshake().  0 or -1. */
int	 stream_starttls(struct stream *, SSL_CTX *, bool is_server,
	    const char *sni_host);
/* 1 when the handshake is done, STREAM_AGAIN while it needs I/O, -1 when it
 * failed (reason in the log at debug level). */
int	 stream_handshake(struct stream *);
bool	 stream_is_tls(const struct stream *);
SSL	*stream_ssl(const struct stream *);

/* EVENT_READ and/or EVENT_WRITE (from event.h) the stream needs next:
 * READ when it wants input, WRITE while output is pending, and whatever
 * the TLS layer asked for during a handshake or renegotiation. */
unsigned int stream_events(const struct stream *);

#endif
