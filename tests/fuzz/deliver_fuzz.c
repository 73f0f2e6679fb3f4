/* SPDX-License-Identifier: MIT */
/*
 * deliver_fuzz.c - arbitrary bytes as a message to deliver and to bounce
 *
 * The first byte picks mboxrd quoting and a cut point; the rest is the
 * message.  The content filter must give the same bytes and the same loop
 * verdict whether the message comes in one piece or cut in two, and the
 * DSN renderer must take the message as the original (headers only and
 * full).  A difference or a crash is a bug.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "deliver.h"
#include "deliver_private.h"
#include "dsn.h"
#include "str.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct deliver_out	 out;

/* Filter msg (cut at cut) into the file fd; returns the bytes. */
static char *
run(int fd, const char *msg, size_t len, size_t cut, bool mboxrd,
    size_t *outlen, bool *loop)
{
	struct deliver_xform	 x;
	char			*buf;

	if (ftruncate(fd, 0) == -1 || lseek(fd, 0, SEEK_SET) == -1)
		abort();
	deliver_out_init(&out, fd);
	deliver_xform_init(&x, mboxrd, "bob@example.org");
	deliver_xform_feed(&x, &out, msg, cut);
	deliver_xform_feed(&x, &out, msg + cut, len - cut);
	deliver_xform_finish(&x, &out);
	if (deliver_out_flush(&out) == -1)
		abort();
	*outlen = (size_t)out.written;
	*loop = x.loop;
	buf = malloc(*outlen + 1);
	if (buf == NULL || pread(fd, buf, *outlen, 0) != (ssize_t)*outlen)
		abort();
	return buf;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int		 fd = -1;
	struct deliver_msg	 m;
	struct dsn_rcpt		 r;
	struct dsn		 d;
	struct str		 s;
	struct fail		 f;
	const char		*msg;
	char			*a, *b;
	size_t			 len, cut, alen, blen;
	bool			 mboxrd, aloop, bloop;

	if (size < 1)
		return 0;
	/* In memory: a tmpfile() on disk spent a tenth of the time in the
	 * file system's truncate. */
	if (fd == -1 && (fd = memfd_create("deliver_fuzz", MFD_CLOEXEC)) == -1)
		abort();
	mboxrd = data[0] & 1;
	msg = (const char *)data + 1;
	len = size - 1;
	cut = len == 0 ? 0 : (data[0] >> 1) % (len + 1);
	a = run(fd, msg, len, 0, mboxrd, &alen, &aloop);
	b = run(fd, msg, len, cut, mboxrd, &blen, &bloop);
	if (alen != blen || memcmp(a, b, alen) != 0 || aloop != bloop)
		abort();
	free(a);
	free(b);

	memset(&m, 0, sizeof(m));
	m.buf = msg;
	m.fd = -1;
	m.len = len;
	memset(&r, 0, sizeof(r));
	r.final = "bob@example.org";
	r.action = DSN_FAILED;
	r.status = "5.1.1";
	r.diag = "550 5.1.1 no such user";
	memset(&d, 0, sizeof(d));
	d.hostname = "mx.example.org";
	d.id = "0123456789ABCDEF";
	d.sender = "alice@example.com";
	d.rcpts = &r;
	d.nrcpts = 1;
	d.msg = &m;
	d.ret = data[0] & 2 ? DSN_RET_FULL : DSN_RET_HDRS;
	str_init(&s, 0);
	if (dsn_render(&d, &s, &f) == -1)
		abort();
	str_release(&s);
	return 0;
}
