/* SPDX-License-Identifier: MIT */
/*
 * handoff.c - the connection handoff record and its fd (see handoff.h)
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "handoff.h"
#include "mem.h"

#define MAGIC		"BZH1"
#define MAGIC_LEN	4
#define HEAD_LEN	6	/* u16 type, u32 length */

enum handoff_field {
	F_ID = 1, F_USER, F_CLIENT, F_FLAGS, F_COOKIE, F_INPUT, F_COUNT
};

static void
put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* Append one field; the caller checked the room (HANDOFF_RECORD_MAX). */
static size_t
field(unsigned char *out, size_t at, enum handoff_field type,
    const void *v, size_t len)
{
	put16(out + at, (uint16_t)type);
	put32(out + at + 2, (uint32_t)len);
	if (len > 0)
		memcpy(out + at + HEAD_LEN, v, len);
	return at + HEAD_LEN + len;
}

int
handoff_encode(const struct handoff *h, unsigned char *out, size_t size,
    size_t *len_r, struct fail *f)
{
	unsigned char	 flags[4];
	size_t		 id = strnlen(h->id, sizeof(h->id)),
			 user = strnlen(h->user, sizeof(h->user)),
			 client = strnlen(h->client, sizeof(h->client)), at;

	if (size < HANDOFF_RECORD_MAX)
		return fail_set(f, true, "4.3.0", "handoff buffer too small");
	if (id == 0 || id > HANDOFF_ID_MAX || user == 0 ||
	    user > HANDOFF_USER_MAX || client == 0 ||
	    client > HANDOFF_CLIENT_MAX || h->input_len > HANDOFF_INPUT_MAX)
		return fail_set(f, true, "4.3.0", "handoff field empty or "
		    "too long");
	memcpy(out, MAGIC, MAGIC_LEN);
	put32(flags, h->flags);
	at = field(out, MAGIC_LEN, F_ID, h->id, id);
	at = field(out, at, F_USER, h->user, user);
	at = field(out, at, F_CLIENT, h->client, client);
	at = field(out, at, F_FLAGS, flags, sizeof(flags));
	at = field(out, at, F_COOKIE, h->cookie, HANDOFF_COOKIE_LEN);
	at = field(out, at, F_INPUT, h->input, h->input_len);
	*len_r = at;
	return 0;
}

/* A text field: 1..max bytes, no NUL. */
static int
text(char *dst, size_t max, const unsigned char *v, size_t len)
{
	if (len == 0 || len > max || memchr(v, '\0', len) != NULL)
		return -1;
	memcpy(dst, v, len);
	dst[len] = '\0';
	return 0;
}

static int
decode_field(struct handoff *h, unsigned int type, const unsigned char *v,
    size_t len)
{
	switch (type) {
	case F_ID:
		return text(h->id, HANDOFF_ID_MAX, v, len);
	case F_USER:
		return text(h->user, HANDOFF_USER_MAX, v, len);
	case F_CLIENT:
		return text(h->client, HANDOFF_CLIENT_MAX, v, len);
	case F_FLAGS:
		if (len != 4)
			return -1;
		h->flags = get32(v);
		return 0;
	case F_COOKIE:
		if (len != HANDOFF_COOKIE_LEN)
			return -1;
		memcpy(h->cookie, v, len);
		return 0;
	case F_INPUT:
		if (len > HANDOFF_INPUT_MAX)
			return -1;
		memcpy(h->input, v, len);
		h->input_len = len;
		return 0;
	default:
		return -1;
	}
}

int
handoff_decode(const unsigned char *in, size_t len, struct handoff *h,
    struct fail *f)
{
	unsigned int	 seen = 0, type;
	size_t		 at = MAGIC_LEN;
	uint32_t	 flen;

	memset(h, 0, sizeof(*h));
	if (len < MAGIC_LEN || memcmp(in, MAGIC, MAGIC_LEN) != 0)
		return fail_set(f, true, "4.3.0", "handoff: bad magic");
	while (at < len) {
		if (len - at < HEAD_LEN)
			return fail_set(f, true, "4.3.0",
			    "handoff: cut field head");
		type = (unsigned int)in[at] << 8 | in[at + 1];
		flen = get32(in + at + 2);
		at += HEAD_LEN;
		if (flen > len - at)
			return fail_set(f, true, "4.3.0",
			    "handoff: field past the end");
		if (type == 0 || type >= F_COUNT || (seen & 1u << type))
			return fail_set(f, true, "4.3.0",
			    "handoff: unknown or repeated field %u", type);
		if (decode_field(h, type, in + at, flen) == -1)
			return fail_set(f, true, "4.3.0",
			    "handoff: bad field %u", type);
		seen |= 1u << type;
		at += flen;
	}
	if ((seen & 0x3eu) != 0x3eu)	/* fields 1-5 */
		return fail_set(f, true, "4.3.0", "handoff: missing field");
	return 0;
}

int
handoff_pair(int sv[2])
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
}

int
handoff_sendmsg(int sock, const void *buf, size_t len, int fd)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	ssize_t		 n;

	memset(&msg, 0, sizeof(msg));
	memset(&ctl, 0, sizeof(ctl));
	iov.iov_base = (void *)(uintptr_t)buf;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (fd != -1) {
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if ((size_t)n != len) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

/* Close every fd in the control part (a refused datagram must not leak). */
static void
close_fds(struct msghdr *msg)
{
	struct cmsghdr	*cm;
	size_t		 i, n;
	int		 fd;

	for (cm = CMSG_FIRSTHDR(msg); cm != NULL; cm = CMSG_NXTHDR(msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int),
			    sizeof(int));
			(void)close(fd);
		}
	}
}

int
handoff_recvmsg(int sock, void *buf, size_t size, size_t *len_r, int *fd_r)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(4 * sizeof(int))];
	} ctl;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	ssize_t		 n;

	*fd_r = -1;
	*len_r = 0;
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = buf;
	iov.iov_len = size;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof(ctl.buf);
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n == -1 && errno == EINTR);
	if (n <= 0)
		return n == 0 ? 0 : -1;
	cm = CMSG_FIRSTHDR(&msg);
	if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 ||
	    (cm != NULL && (cm->cmsg_level != SOL_SOCKET ||
	    cm->cmsg_type != SCM_RIGHTS ||
	    cm->cmsg_len != CMSG_LEN(sizeof(int)) ||
	    CMSG_NXTHDR(&msg, cm) != NULL))) {
		close_fds(&msg);
		errno = EMSGSIZE;
		return -1;
	}
	if (cm != NULL)
		memcpy(fd_r, CMSG_DATA(cm), sizeof(int));
	*len_r = (size_t)n;
	return 1;
}

int
handoff_send(int sock, int fd, const struct handoff *h, struct fail *f)
{
	unsigned char	*buf = xmalloc(HANDOFF_RECORD_MAX);
	size_t		 len;
	int		 rc;

	if (fd == -1 || handoff_encode(h, buf, HANDOFF_RECORD_MAX, &len,
	    f) == -1) {
		free(buf);
		return fail_set(f, true, "4.3.0", "handoff: no fd or bad "
		    "record");
	}
	rc = handoff_sendmsg(sock, buf, len, fd);
	mem_wipe(buf, len);
	free(buf);
	if (rc == -1)
		return fail_set(f, true, "4.3.0", "handoff send: %s",
		    strerror(errno));
	return 0;
}

int
handoff_recv(int sock, int *fd_r, struct handoff *h, struct fail *f)
{
	unsigned char	*buf = xmalloc(HANDOFF_RECORD_MAX + 1);
	size_t		 len;
	int		 rc;

	rc = handoff_recvmsg(sock, buf, HANDOFF_RECORD_MAX + 1, &len, fd_r);
	if (rc == -1)
		(void)fail_set(f, true, "4.3.0", "handoff recv: %s",
		    errno == EMSGSIZE ? "record truncated or not one fd" :
		    strerror(errno));
	else if (rc == 1 && (*fd_r == -1 || len > HANDOFF_RECORD_MAX ||
	    handoff_decode(buf, len, h, f) == -1)) {
		if (*fd_r == -1)
			(void)fail_set(f, true, "4.3.0",
			    "handoff: not exactly one fd");
		else if (len > HANDOFF_RECORD_MAX)
			(void)fail_set(f, true, "4.3.0",
			    "handoff: record truncated");
		if (*fd_r != -1)
			(void)close(*fd_r);
		*fd_r = -1;
		rc = -1;
	}
	mem_wipe(buf, HANDOFF_RECORD_MAX + 1);
	free(buf);
	return rc;
}
