/* SPDX-License-Identifier: MIT */

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "handoff.h"
#include "str.h"

static struct handoff *
sample(void)
{
	struct handoff	*h = calloc(1, sizeof(*h));

	cr_assert_not_null(h);
	(void)str_copy(h->id, "4f1c2a", sizeof(h->id));
	(void)str_copy(h->user, "alice@example.test", sizeof(h->user));
	(void)str_copy(h->client, "192.0.2.7", sizeof(h->client));
	h->flags = HANDOFF_F_TLS;
	memset(h->cookie, 0xa5, sizeof(h->cookie));
	memcpy(h->input, "STAT\r\nLIST\r\n", 12);
	h->input_len = 12;
	return h;
}

static bool
same(const struct handoff *a, const struct handoff *b)
{
	return strcmp(a->id, b->id) == 0 && strcmp(a->user, b->user) == 0 &&
	    strcmp(a->client, b->client) == 0 && a->flags == b->flags &&
	    memcmp(a->cookie, b->cookie, sizeof(a->cookie)) == 0 &&
	    a->input_len == b->input_len &&
	    memcmp(a->input, b->input, a->input_len) == 0;
}

/* Is fd open, and is it the same file as other? */
static bool
same_file(int fd, int other)
{
	struct stat	 a, b;

	return fstat(fd, &a) == 0 && fstat(other, &b) == 0 &&
	    a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

Test(handoff, fd_and_state_cross)
{
	struct handoff	*h = sample(), *got = calloc(1, sizeof(*got));
	struct fail	 f;
	int		 sv[2], p[2], fd;

	cr_assert_eq(handoff_pair(sv), 0);
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(handoff_send(sv[0], p[0], h, &f), 0);
	cr_assert_eq(handoff_recv(sv[1], &fd, got, &f), 1, "%s", f.text);
	cr_assert_neq(fd, p[0]);
	cr_assert(same_file(fd, p[0]));
	cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	cr_assert(same(h, got));
	/* Bytes written at the far end come out of the received fd. */
	cr_assert_eq(write(p[1], "x", 1), 1);
	{
		char	 c;

		cr_assert_eq(read(fd, &c, 1), 1);
		cr_assert_eq(c, 'x');
	}
	(void)close(fd);
	(void)close(sv[0]);
	cr_assert_eq(handoff_recv(sv[1], &fd, got, &f), 0);
	cr_assert_eq(fd, -1);
	free(h);
	free(got);
}

Test(handoff, full_input_and_no_input)
{
	struct handoff	*h = sample(), *got = calloc(1, sizeof(*got));
	struct fail	 f;
	int		 sv[2], fd;

	cr_assert_eq(handoff_pair(sv), 0);
	memset(h->input, 'A', HANDOFF_INPUT_MAX);
	h->input_len = HANDOFF_INPUT_MAX;
	cr_assert_eq(handoff_send(sv[0], 0, h, &f), 0, "%s", f.text);
	cr_assert_eq(handoff_recv(sv[1], &fd, got, &f), 1, "%s", f.text);
	cr_assert(same(h, got));
	(void)close(fd);
	h->input_len = 0;
	cr_assert_eq(handoff_send(sv[0], 0, h, &f), 0);
	cr_assert_eq(handoff_recv(sv[1], &fd, got, &f), 1);
	cr_assert_eq(got->input_len, 0);
	(void)close(fd);
	h->input_len = HANDOFF_INPUT_MAX + 1;
	cr_assert_eq(handoff_send(sv[0], 0, h, &f), -1);
	free(h);
	free(got);
}

Test(handoff, empty_fields_refused_on_send)
{
	struct handoff	*h = sample();
	struct fail	 f;
	int		 sv[2];

	cr_assert_eq(handoff_pair(sv), 0);
	h->user[0] = '\0';
	cr_assert_eq(handoff_send(sv[0], 0, h, &f), -1);
	free(h);
}

/* A datagram with the given bytes and fds (n of them). */
static void
raw_send(int sock, const void *buf, size_t len, const int *fds, size_t n)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(4 * sizeof(int))];
	} ctl;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cm;

	memset(&msg, 0, sizeof(msg));
	memset(&ctl, 0, sizeof(ctl));
	iov.iov_base = (void *)(uintptr_t)buf;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (n > 0) {
		msg.msg_control = ctl.buf;
		msg.msg_controllen = CMSG_SPACE(n * sizeof(int));
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(n * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, n * sizeof(int));
	}
	cr_assert_eq(sendmsg(sock, &msg, 0), (ssize_t)len);
}

static int
open_fds(void)
{
	int	 fd, n = 0;

	for (fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) != -1)
			n++;
	return n;
}

Test(handoff, wrong_fd_counts_refused_and_closed)
{
	struct handoff	*h = sample(), *got = calloc(1, sizeof(*got));
	unsigned char	*rec = malloc(HANDOFF_RECORD_MAX);
	struct fail	 f;
	size_t		 len;
	int		 sv[2], fds[2], fd, before;

	cr_assert_eq(handoff_pair(sv), 0);
	cr_assert_eq(handoff_encode(h, rec, HANDOFF_RECORD_MAX, &len, &f), 0);
	before = open_fds();
	raw_send(sv[0], rec, len, NULL, 0);
	cr_assert_eq(handoff_recv(sv[1], &fd, got, &f), -1);
	cr_assert_eq(fd, -1);
	cr_assert(strstr(f.text, "one fd") != NULL, "%s", f.text);
	fds[0] = fds[1] = 0;
	raw_send(sv[0], rec, len, fds, 2);
	cr_assert_eq(handoff_recv(sv[1], &fd, got, &f), -1);
	cr_assert_eq(open_fds(), before, "refused fds leaked");
	/* A bad record with a good fd: the fd is closed too. */
	rec[0] = 'X';
	raw_send(sv[0], rec, len, fds, 1);
	cr_assert_eq(handoff_recv(sv[1], &fd, got, &f), -1);
	cr_assert_eq(open_fds(), before);
	free(rec);
	free(h);
	free(got);
}

Test(handoff, oversized_datagram_refused)
{
	struct handoff	*got = calloc(1, sizeof(*got));
	unsigned char	*big = calloc(1, HANDOFF_RECORD_MAX + 100);
	struct fail	 f;
	int		 sv[2], fd = 0;

	cr_assert_eq(handoff_pair(sv), 0);
	memcpy(big, "BZH1", 4);
	raw_send(sv[0], big, HANDOFF_RECORD_MAX + 100, &fd, 1);
	cr_assert_eq(handoff_recv(sv[1], &fd, got, &f), -1);
	cr_assert(strstr(f.text, "truncated") != NULL, "%s", f.text);
	free(big);
	free(got);
}

/* ---- the record alone: every bad shape ---- */

struct bad_case {
	char		 name[32];
	unsigned char	 rec[96];
	size_t		 len;
};

#define F(t, l)	0, (t), 0, 0, 0, (l)
/* A good record: id "a", user "u", client "c", flags, cookie (zeros). */
#define GOOD_HEAD \
	'B', 'Z', 'H', '1', F(1, 1), 'a', F(2, 1), 'u', F(3, 1), 'c', \
	F(4, 4), 0, 0, 0, 1, F(5, 32)
#define GOOD_LEN	(4 + 6 + 1 + 6 + 1 + 6 + 1 + 6 + 4 + 6 + 32)

ParameterizedTestParameters(handoff, bad_records)
{
	static struct bad_case cases[] = {
		{ "empty", { 0 }, 0 },
		{ "bad magic", { 'B', 'Z', 'H', '2' }, 4 },
		{ "magic only", { 'B', 'Z', 'H', '1' }, 4 },
		{ "cut head", { 'B', 'Z', 'H', '1', 0, 1, 0 }, 7 },
		{ "past the end", { 'B', 'Z', 'H', '1', F(1, 9), 'a' }, 11 },
		{ "unknown type", { 'B', 'Z', 'H', '1', F(9, 1), 'a' }, 11 },
		{ "type zero", { 'B', 'Z', 'H', '1', F(0, 1), 'a' }, 11 },
		{ "repeat", { 'B', 'Z', 'H', '1', F(1, 1), 'a', F(1, 1),
		    'b' }, 18 },
		{ "empty id", { 'B', 'Z', 'H', '1', F(1, 0) }, 10 },
		{ "nul in user", { 'B', 'Z', 'H', '1', F(2, 2), 'u', 0 },
		    12 },
		{ "flags len 3", { 'B', 'Z', 'H', '1', F(4, 3), 0, 0, 1 },
		    13 },
		{ "cookie len 2", { 'B', 'Z', 'H', '1', F(5, 2), 0, 0 }, 12 },
		{ "no cookie", { 'B', 'Z', 'H', '1', F(1, 1), 'a', F(2, 1),
		    'u', F(3, 1), 'c', F(4, 4), 0, 0, 0, 1 }, 35 },
		{ "trailing byte", { GOOD_HEAD }, GOOD_LEN + 1 },
	};
	return cr_make_param_array(struct bad_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad_case *c, handoff, bad_records)
{
	struct handoff	*h = calloc(1, sizeof(*h));
	struct fail	 f;

	cr_assert_eq(handoff_decode(c->rec, c->len, h, &f), -1, "%s",
	    c->name);
	free(h);
}

Test(handoff, good_minimal_record)
{
	static const unsigned char rec[GOOD_LEN] = { GOOD_HEAD };
	struct handoff	*h = calloc(1, sizeof(*h));
	struct fail	 f;

	cr_assert_eq(sizeof(rec), GOOD_LEN);
	cr_assert_eq(handoff_decode(rec, sizeof(rec), h, &f), 0, "%s",
	    f.text);
	cr_assert_str_eq(h->user, "u");
	cr_assert_eq(h->flags, 1);
	cr_assert_eq(h->input_len, 0);
	free(h);
}
