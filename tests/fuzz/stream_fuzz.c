/* SPDX-License-Identifier: MIT */
/*
 * stream_fuzz.c - libFuzzer target for the stream input side
 *
 * Input: four header bytes, then the payload.
 *   [0] max_line choice   [1] max_in choice   [2] chunk size (1..256)
 *   [3] operation pattern (2 bits per step: line, bytes, exact, line)
 * The payload goes through a socketpair in chunks; after each chunk the
 * stream is filled and read with the chosen operations.  Every line read
 * is echoed through stream_write()/stream_flush() and must come back out
 * of the peer unchanged.  At the end, every payload byte must have been
 * consumed exactly once.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stream.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const size_t max_lines[] = { 0, 1, 2, 3, 7, 64, 512, 1000, 4096 };
static const size_t max_ins[] = { 1, 2, 3, 8, 64, 1024, 4096 };

#define CHECK(e)	do { if (!(e)) abort(); } while (0)

struct fz {
	struct stream	*s;
	int		 peer;
	size_t		 max_line, max_in;
	size_t		 consumed;	/* payload bytes read or skipped */
	uint8_t		 ops;
	unsigned int	 step;
	bool		 skipping;
};

/* Read back what the stream wrote and compare. */
static void
fz_echo(struct fz *z, const char *line, size_t len)
{
	char	 buf[8192];
	size_t	 got = 0;
	ssize_t	 n;

	CHECK(len + 2 <= sizeof(buf));
	CHECK(stream_write(z->s, line, len) == 0);
	CHECK(stream_printf(z->s, "\r\n") == 0);
	CHECK(stream_flush(z->s) == 1);
	while (got < len + 2) {
		n = read(z->peer, buf + got, len + 2 - got);
		CHECK(n > 0);
		got += (size_t)n;
	}
	CHECK(memcmp(buf, line, len) == 0);
	CHECK(buf[len] == '\r' && buf[len + 1] == '\n');
}

static void
fz_drain(struct fz *z)
{
	const char	*data;
	char		*line;
	size_t		 len, before, n;
	bool		 bare;
	int		 rc;

	for (;;) {
		before = stream_input_pending(z->s);
		if (z->skipping) {
			rc = stream_skip_line(z->s);
			z->consumed += before - stream_input_pending(z->s);
			if (rc == 0)
				return;
			z->skipping = false;
			continue;
		}
		switch ((z->ops >> (2 * (z->step++ % 4))) & 3) {
		case 1:
			n = z->max_line + 1;
			rc = stream_read_bytes(z->s, n, &data, &len);
			if (rc == 0)
				return;
			CHECK(rc == 1 && len >= 1 && len <= n);
			CHECK(data != NULL);
			z->consumed += len;
			break;
		case 2:
			n = z->max_line % (z->max_in + 1);
			rc = stream_read_exact(z->s, n, &data);
			CHECK(rc == 0 || rc == 1);
			if (rc == 0) {
				CHECK(before < n);
				/* Fall back to a line so the input moves on. */
				goto line;
			}
			z->consumed += n;
			if (n == 0)
				goto line;
			break;
		default:
		line:
			rc = stream_read_line(z->s, z->max_line, &line, &len,
			    &bare);
			if (rc == 0)
				return;
			if (rc == -1) {
				z->skipping = true;
				continue;
			}
			CHECK(rc == 1 && len <= z->max_line);
			CHECK(line[len] == '\0');
			CHECK(memchr(line, '\n', len) == NULL);
			CHECK(before - stream_input_pending(z->s) ==
			    len + (bare ? 1 : 2));
			z->consumed += len + (bare ? 1 : 2);
			fz_echo(z, line, len);
			break;
		}
	}
}

/* Fill until the socket is dry.  A full buffer that holds no complete
 * line is what a daemon answers and closes on: here it is skipped. */
static void
fz_pump(struct fz *z)
{
	ssize_t	 n;
	size_t	 before;

	for (;;) {
		n = stream_fill(z->s);
		if (n == STREAM_AGAIN || n == 0)
			break;
		if (n == -1) {
			CHECK(stream_input_pending(z->s) == z->max_in);
			fz_drain(z);
			if (stream_input_pending(z->s) == z->max_in) {
				before = stream_input_pending(z->s);
				z->skipping = stream_skip_line(z->s) == 0;
				z->consumed += before -
				    stream_input_pending(z->s);
			}
			continue;
		}
		CHECK(n > 0);
		fz_drain(z);
	}
	fz_drain(z);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz	 z;
	int		 fds[2], fl;
	size_t		 chunk, off, n, before;

	if (size < 4 || size > 65536)
		return 0;
	memset(&z, 0, sizeof(z));
	z.max_line = max_lines[data[0] % (sizeof(max_lines) /
	    sizeof(max_lines[0]))];
	z.max_in = max_ins[data[1] % (sizeof(max_ins) / sizeof(max_ins[0]))];
	chunk = (size_t)data[2] + 1;
	z.ops = data[3];
	data += 4;
	size -= 4;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == -1)
		abort();
	fl = fcntl(fds[0], F_GETFL);
	CHECK(fl != -1 && fcntl(fds[0], F_SETFL, fl | O_NONBLOCK) != -1);
	z.peer = fds[1];
	z.s = stream_new(fds[0], z.max_in, 8192);

	for (off = 0; off < size; off += n) {
		n = size - off < chunk ? size - off : chunk;
		CHECK(write(fds[1], data + off, n) == (ssize_t)n);
		fz_pump(&z);
	}
	CHECK(shutdown(fds[1], SHUT_WR) == 0);
	fz_pump(&z);
	CHECK(stream_fill(z.s) == 0 || stream_input_pending(z.s) == z.max_in);
	/* What is left is an unterminated tail no read could take. */
	before = stream_input_pending(z.s);
	CHECK(z.consumed + before == size);
	stream_discard_input(z.s);
	CHECK(stream_input_pending(z.s) == 0);
	CHECK(stream_output_pending(z.s) == 0);

	stream_free(&z.s);
	(void)close(fds[0]);
	(void)close(fds[1]);
	return 0;
}
