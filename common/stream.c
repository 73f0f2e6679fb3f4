/* SPDX-License-Identifier: MIT */
/*
 * stream.c - buffered, bounded I/O on one socket, plain or TLS
 *
 * Input lives in in[in_off .. in_off + in_len).  Reads consume by moving
 * in_off forward; the live bytes are moved back to the start only when
 * stream_fill() finds no room at the tail, so a burst of pipelined lines
 * costs no memmove per line.  in_scan remembers how far the current
 * pending line was already searched for LF, so input trickling in one
 * byte at a time is scanned once, not once per byte.
 *
 * Output is the same shape: out[out_off .. out_off + out_len).
 *
 * With TLS, OpenSSL may need to write while we read (TLS 1.3 key update)
 * or read while we write; the last "want" of each direction is kept so
 * stream_events() asks the event loop for what OpenSSL is waiting on.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "event.h"
#include "log.h"
#include "mem.h"
#include "str.h"
#include "stream.h"

struct stream {
	int		 fd;
	SSL		*ssl;
	char		*in;
	size_t		 in_max, in_cap, in_off, in_len;
	size_t		 in_scan;	/* pending bytes known to hold no LF */
	char		*out;		/* out_cap + 1 bytes: room for a NUL */
	size_t		 out_max, out_cap, out_off, out_len;
	int		 tls_wlen;	/* SSL_write length to repeat */
	unsigned int	 rd_want;	/* EVENT_* the last SSL_read wanted */
	unsigned int	 wr_want;	/* EVENT_* the last SSL_write wanted */
	unsigned int	 hs_want;	/* EVENT_* the handshake wants */
	bool		 use_send;	/* fd is a socket: send() */
	bool		 drained;	/* last plain fill was short */
	bool		 in_busy;	/* last fill filled all room: grow */
};

/* Buffers start small and double up to their cap as the traffic needs:
 * a three-line session costs a few KiB, not the caps. */
#define STREAM_START	4096u

/* Move *buf (cap bytes, the first used of them in use) into a bigger
 * allocation of newcap (+ extra) bytes; the old one is wiped, as it may
 * hold AUTH data. */
static void
stream_grow(char **buf, size_t *cap, size_t used, size_t newcap,
    size_t extra)
{
	char	*n = xmalloc(newcap + extra);

	memcpy(n, *buf, used);
	mem_wipe(*buf, *cap + extra);
	free(*buf);
	*buf = n;
	*cap = newcap;
}

struct stream *
stream_new(int fd, size_t max_in, size_t max_out)
{
	struct stream	*s;

	BUZ_ASSERT(fd >= 0 && max_in > 0 && max_out > 0 &&
	    max_out < SIZE_MAX);
	s = xcalloc(1, sizeof(*s));
	s->fd = fd;
	s->in_max = max_in;
	s->in_cap = max_in < STREAM_START ? max_in : STREAM_START;
	s->in = xmalloc(s->in_cap);
	s->out_max = max_out;
	s->out_cap = max_out < STREAM_START ? max_out : STREAM_START;
	s->out = xmalloc(s->out_cap + 1);
	s->use_send = true;
	return s;
}

void
stream_free(struct stream **sp)
{
	struct stream	*s;

	if (sp == NULL || (s = *sp) == NULL)
		return;
	/* No SSL_shutdown(): the peer may be gone, and a close_notify
	 * written then would raise SIGPIPE or block.  Mail protocols end
	 * their sessions themselves. */
	SSL_free(s->ssl);
	/* The input may have held AUTH data. */
	mem_wipe(s->in, s->in_cap);
	mem_wipe(s->out, s->out_cap + 1);
	free(s->in);
	free(s->out);
	free(s);
	*sp = NULL;
}

struct stream *
stream_new_mem(size_t max_in, size_t max_out)
{
	struct stream	*s;
	int		 fd;

	/* stream_new() wants a descriptor; a memory stream has none. */
	fd = 0;
	s = stream_new(fd, max_in, max_out);
	s->fd = -1;
	s->use_send = false;
	return s;
}

size_t
stream_feed(struct stream *s, const void *data, size_t len)
{
	size_t	 room;

	if (s->in_off > 0) {
		memmove(s->in, s->in + s->in_off, s->in_len);
		s->in_off = 0;
	}
	while (s->in_cap < s->in_max && s->in_cap - s->in_len < len)
		stream_grow(&s->in, &s->in_cap, s->in_len,
		    s->in_cap > s->in_max / 2 ? s->in_max : s->in_cap * 2, 0);
	room = s->in_cap - s->in_len;
	if (len > room)
		len = room;
	memcpy(s->in + s->in_len, data, len);
	s->in_len += len;
	return len;
}

int
stream_fd(const struct stream *s)
{
	return s->fd;
}

/* Map an SSL_get_error() result to STREAM_AGAIN (with *want set), 0 at a
 * clean end of file, or -1. */
static int
stream_ssl_result(struct stream *s, int ret, unsigned int *want,
    const char *op)
{
	char	 ebuf[160];
	int	 err = SSL_get_error(s->ssl, ret);

	switch (err) {
	case SSL_ERROR_WANT_READ:
		*want = EVENT_READ;
		return STREAM_AGAIN;
	case SSL_ERROR_WANT_WRITE:
		*want = EVENT_WRITE;
		return STREAM_AGAIN;
	case SSL_ERROR_ZERO_RETURN:
		*want = 0;
		return 0;
	case SSL_ERROR_SYSCALL:
		/* EAGAIN and EINTR come back as WANT_* from the socket BIO. */
		log_debug("-", "tls %s failed errno=%s", op,
		    errno != 0 ? strerror(errno) : "eof");
		ERR_clear_error();
		return -1;
	default:
		ERR_error_string_n(ERR_peek_last_error(), ebuf, sizeof(ebuf));
		log_debug("-", "tls %s failed error=%s", op, ebuf);
		ERR_clear_error();
		return -1;
	}
}

ssize_t
stream_fill(struct stream *s)
{
	size_t	 room;
	ssize_t	 n;
	int	 want, r;
	bool	 grow;

	grow = s->in_cap < s->in_max && (s->in_busy ||
	    s->in_len == s->in_cap);
	if (s->in_off > 0 && (grow || s->in_off + s->in_len == s->in_cap)) {
		/* UNSAFE: the only place input moves. */
		memmove(s->in, s->in + s->in_off, s->in_len);
		s->in_off = 0;
	}
	if (grow)
		stream_grow(&s->in, &s->in_cap, s->in_len,
		    s->in_cap > s->in_max / 2 ? s->in_max : s->in_cap * 2, 0);
	s->in_busy = false;
	room = s->in_cap - s->in_off - s->in_len;
	s->drained = false;
	if (room == 0)
		return -1;
	if (s->ssl == NULL) {
		do {
			n = read(s->fd, s->in + s->in_off + s->in_len, room);
		} while (n == -1 && errno == EINTR);
		if (n == -1)
			return errno == EAGAIN || errno == EWOULDBLOCK ?
			    STREAM_AGAIN : -1;
		s->in_len += (size_t)n;
		s->drained = n > 0 && (size_t)n < room;
		s->in_busy = (size_t)n == room;
		return n;
	}
	want = room > INT_MAX ? INT_MAX : (int)room;
	ERR_clear_error();
	r = SSL_read(s->ssl, s->in + s->in_off + s->in_len, want);
	if (r > 0) {
		s->rd_want = 0;
		s->in_len += (size_t)r;
		s->in_busy = (size_t)r == room;
		return r;
	}
	return stream_ssl_result(s, r, &s->rd_want, "read");
}

bool
stream_fill_drained(const struct stream *s)
{
	return s->drained;
}

/* Take n bytes off the front of the input. */
static void
stream_consume(struct stream *s, size_t n)
{
	s->in_off += n;
	s->in_len -= n;
	s->in_scan = 0;
	if (s->in_len == 0)
		s->in_off = 0;
}

int
stream_read_line(struct stream *s, size_t max_line, char **line_r,
    size_t *len_r, bool *bare_lf_r)
{
	char	*base = s->in + s->in_off;
	char	*lf;
	size_t	 len;
	bool	 bare;

	lf = memchr(base + s->in_scan, '\n', s->in_len - s->in_scan);
	if (lf == NULL) {
		s->in_scan = s->in_len;
		/* A trailing CR may still become the CRLF ending. */
		len = s->in_len;
		if (len > 0 && base[len - 1] == '\r')
			len--;
		return len > max_line ? -1 : 0;
	}
	len = (size_t)(lf - base);
	bare = len == 0 || base[len - 1] != '\r';
	if (!bare)
		len--;
	if (len > max_line) {
		/* Stays -1 until skipped. */
		s->in_scan = (size_t)(lf - base);
		return -1;
	}
	base[len] = '\0';
	stream_consume(s, (size_t)(lf - base) + 1);
	*line_r = base;
	*len_r = len;
	if (bare_lf_r != NULL)
		*bare_lf_r = bare;
	return 1;
}

int
stream_skip_line(struct stream *s)
{
	char	*base = s->in + s->in_off;
	char	*lf;

	if ((lf = memchr(base, '\n', s->in_len)) == NULL) {
		stream_discard_input(s);
		return 0;
	}
	stream_consume(s, (size_t)(lf - base) + 1);
	return 1;
}

int
stream_read_bytes(struct stream *s, size_t max, const char **data_r,
    size_t *len_r)
{
	size_t	 n;

	BUZ_ASSERT(max > 0);
	if (s->in_len == 0)
		return 0;
	n = s->in_len < max ? s->in_len : max;
	*data_r = s->in + s->in_off;
	*len_r = n;
	stream_consume(s, n);
	return 1;
}

int
stream_peek(const struct stream *s, const char **data_r, size_t *len_r)
{
	if (s->in_len == 0)
		return 0;
	*data_r = s->in + s->in_off;
	*len_r = s->in_len;
	return 1;
}

void
stream_skip(struct stream *s, size_t n)
{
	BUZ_ASSERT(n <= s->in_len);
	stream_consume(s, n);
}

int
stream_read_exact(struct stream *s, size_t n, const char **data_r)
{
	BUZ_ASSERT(n <= s->in_max);
	if (s->in_len < n)
		return 0;
	*data_r = s->in + s->in_off;
	stream_consume(s, n);
	return 1;
}

size_t
stream_input_pending(const struct stream *s)
{
	return s->in_len;
}

void
stream_discard_input(struct stream *s)
{
	s->in_off = 0;
	s->in_len = 0;
	s->in_scan = 0;
}

/* Room for n more output bytes at the tail, moving pending bytes back or
 * growing the buffer when needed.  Only called once n is known to fit
 * under out_max. */
static char *
stream_out_tail(struct stream *s, size_t n)
{
	size_t	 cap;

	if (s->out_off + s->out_len + n > s->out_cap) {
		/* UNSAFE: the only places output moves.  OpenSSL accepts
		 * it (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER). */
		memmove(s->out, s->out + s->out_off, s->out_len);
		s->out_off = 0;
	}
	if (s->out_len + n > s->out_cap) {
		/* ends: out_len + n <= out_max (the callers checked) */
		for (cap = s->out_cap; cap < s->out_len + n;)
			cap = cap > s->out_max / 2 ? s->out_max : cap * 2;
		stream_grow(&s->out, &s->out_cap, s->out_len, cap, 1);
	}
	return s->out + s->out_off + s->out_len;
}

int
stream_write(struct stream *s, const void *data, size_t len)
{
	if (len > s->out_max - s->out_len)
		return -1;
	if (len == 0)
		return 0;
	memcpy(stream_out_tail(s, len), data, len);
	s->out_len += len;
	return 0;
}

int
stream_printf(struct stream *s, const char *fmt, ...)
{
	va_list	 ap;
	char	*tail;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n > s->out_max - s->out_len)
		return -1;
	tail = stream_out_tail(s, (size_t)n);
	/* out has one spare byte past out_cap for the NUL. */
	va_start(ap, fmt);
	(void)vsnprintf(tail, (size_t)n + 1, fmt, ap);
	va_end(ap);
	s->out_len += (size_t)n;
	return 0;
}

static ssize_t
stream_write_plain(struct stream *s, const char *p, size_t len)
{
	ssize_t	 n;

	for (;;) {
		if (s->use_send) {
			/* Never SIGPIPE on a peer that went away. */
			n = send(s->fd, p, len, MSG_NOSIGNAL);
			if (n == -1 && errno == ENOTSOCK) {
				s->use_send = false;
				continue;
			}
		} else
			n = write(s->fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		return n;
	}
}

int
stream_flush(struct stream *s)
{
	ssize_t	 n;
	int	 r, len;

	if (s->fd == -1) {		/* a memory stream: output dropped */
		s->out_off = s->out_len = 0;
		return 1;
	}
	while (s->out_len > 0) {
		if (s->ssl == NULL) {
			n = stream_write_plain(s, s->out + s->out_off,
			    s->out_len);
			if (n == -1)
				return errno == EAGAIN || errno == EWOULDBLOCK ?
				    STREAM_AGAIN : -1;
		} else {
			/* After WANT_*, OpenSSL wants the same length again. */
			if (s->tls_wlen > 0)
				len = s->tls_wlen;
			else
				len = s->out_len > INT_MAX ? INT_MAX :
				    (int)s->out_len;
			ERR_clear_error();
			r = SSL_write(s->ssl, s->out + s->out_off, len);
			if (r <= 0) {
				s->tls_wlen = len;
				r = stream_ssl_result(s, r, &s->wr_want,
				    "write");
				return r == STREAM_AGAIN ? STREAM_AGAIN : -1;
			}
			s->tls_wlen = 0;
			s->wr_want = 0;
			n = r;
		}
		s->out_off += (size_t)n;
		s->out_len -= (size_t)n;
	}
	s->out_off = 0;
	return 1;
}

size_t
stream_output_pending(const struct stream *s)
{
	return s->out_len;
}

/* A literal IPv4 or IPv6 address is not a host name for SNI (RFC 6066
 * section 3). */
static bool
stream_is_ip_literal(const char *host)
{
	return strspn(host, "0123456789.") == strlen(host) ||
	    strchr(host, ':') != NULL;
}

int
stream_starttls(struct stream *s, SSL_CTX *ctx, bool is_server,
    const char *sni_host)
{
	char	 host[256];

	BUZ_ASSERT(s->ssl == NULL);
	/* RFC 3207 section 4.2: nothing the client sent before the TLS
	 * handshake may be taken as a command after it. */
	stream_discard_input(s);
	if (s->out_len > 0) {
		/* Plain-text replies must go out before the handshake. */
		log_warn("-", "tls starttls with unflushed output bytes=%zu",
		    s->out_len);
		return -1;
	}
	ERR_clear_error();
	if ((s->ssl = SSL_new(ctx)) == NULL || SSL_set_fd(s->ssl, s->fd) != 1)
		goto fail;
	if (is_server)
		SSL_set_accept_state(s->ssl);
	else {
		SSL_set_connect_state(s->ssl);
		if (sni_host != NULL && *sni_host != '\0') {
			/* A DNS name has at most 253 bytes; the copy also
			 * suits the macro's non-const argument. */
			if (!str_copy(host, sni_host, sizeof(host)))
				goto fail;
			if (!stream_is_ip_literal(host) &&
			    SSL_set_tlsext_host_name(s->ssl, host) != 1)
				goto fail;
			/* RFC 6125 name check when the context verifies. */
			if ((SSL_CTX_get_verify_mode(ctx) & SSL_VERIFY_PEER) &&
			    SSL_set1_host(s->ssl, sni_host) != 1)
				goto fail;
		}
	}
	s->hs_want = is_server ? EVENT_READ : EVENT_WRITE;
	s->rd_want = s->wr_want = 0;
	s->tls_wlen = 0;
	return 0;
fail:
	log_debug("-", "tls cannot set up session");
	ERR_clear_error();
	SSL_free(s->ssl);
	s->ssl = NULL;
	return -1;
}

int
stream_handshake(struct stream *s)
{
	int	 r;

	if (s->ssl == NULL)
		return -1;
	if (SSL_is_init_finished(s->ssl))
		return 1;
	ERR_clear_error();
	r = SSL_do_handshake(s->ssl);
	if (r == 1) {
		s->hs_want = 0;
		return 1;
	}
	r = stream_ssl_result(s, r, &s->hs_want, "handshake");
	return r == STREAM_AGAIN ? STREAM_AGAIN : -1;
}

bool
stream_is_tls(const struct stream *s)
{
	return s->ssl != NULL;
}

SSL *
stream_ssl(const struct stream *s)
{
	return s->ssl;
}

unsigned int
stream_events(const struct stream *s)
{
	unsigned int	 ev = 0;

	if (s->ssl != NULL && !SSL_is_init_finished(s->ssl))
		return s->hs_want != 0 ? s->hs_want : EVENT_READ;
	/* Read side: whatever SSL_read last waited for, else input while
	 * there is room for it. */
	if (s->ssl != NULL && s->rd_want == EVENT_WRITE)
		ev |= EVENT_WRITE;
	else if (s->in_len < s->in_max)
		ev |= EVENT_READ;
	/* Write side: pending output, or what SSL_write last waited for. */
	if (s->out_len > 0) {
		if (s->ssl != NULL && s->wr_want == EVENT_READ)
			ev |= EVENT_READ;
		else
			ev |= EVENT_WRITE;
	}
	return ev;
}
