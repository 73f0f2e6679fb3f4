/* SPDX-License-Identifier: MIT */
#include <sys/socket.h>
#include <netinet/in.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "net.h"

TestSuite(net, .timeout = 5);

/* ---- host:port ---- */

struct hp_case {
	char	in[64];
	int	rc;
	char	host[48];
	char	port[8];
};

ParameterizedTestParameters(net, split_hostport)
{
	static struct hp_case cases[] = {
		{ "127.0.0.1:25", 0, "127.0.0.1", "25" },
		{ "[::1]:25", 0, "::1", "25" },
		{ "[2001:db8::1]:587", 0, "2001:db8::1", "587" },
		{ "*:25", 0, "*", "25" },
		{ "localhost:2525", 0, "localhost", "2525" },
		{ "mx.example.org:0", 0, "mx.example.org", "0" },
		{ "host:65535", 0, "host", "65535" },
		{ "", -1, "", "" },
		{ "[::1", -1, "", "" },
		{ "[::1]", -1, "", "" },
		{ "[::1]25", -1, "", "" },
		{ "[]:25", -1, "", "" },
		{ "[1.2.3.4]:25", -1, "", "" },
		{ "1.2.3.4", -1, "", "" },
		{ ":x", -1, "", "" },
		{ ":25", -1, "", "" },
		{ "host:", -1, "", "" },
		{ "host:x", -1, "", "" },
		{ "host:99999", -1, "", "" },
		{ "host:65536", -1, "", "" },
		{ "host:-1", -1, "", "" },
		{ "host:25 ", -1, "", "" },
		{ "::1:25", -1, "", "" },
		{ "a:b:25", -1, "", "" },
	};

	return cr_make_param_array(struct hp_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct hp_case *c, net, split_hostport)
{
	char	 host[48] = "unset", port[8] = "unset";

	cr_assert_eq(net_split_hostport(c->in, host, sizeof(host), port,
	    sizeof(port)), c->rc, "input \"%s\"", c->in);
	if (c->rc == 0) {
		cr_assert_str_eq(host, c->host);
		cr_assert_str_eq(port, c->port);
	}
}

Test(net, split_hostport_small_buffers)
{
	char	 host[4], port[8];

	cr_assert_eq(net_split_hostport("abcd:25", host, sizeof(host), port,
	    sizeof(port)), -1);
	cr_assert_eq(net_split_hostport("abc:25", host, sizeof(host), port,
	    sizeof(port)), 0);
	cr_assert_str_eq(host, "abc");
	cr_assert_eq(net_split_hostport("abc:25", host, sizeof(host), port,
	    2), -1);
}

/* ---- addresses ---- */

struct str_case {
	char	in[48];
	char	out[48];
	bool	loopback;
};

ParameterizedTestParameters(net, addr_str)
{
	static struct str_case cases[] = {
		{ "192.0.2.7", "192.0.2.7", false },
		{ "127.0.0.1", "127.0.0.1", true },
		{ "127.255.0.9", "127.255.0.9", true },
		{ "128.0.0.1", "128.0.0.1", false },
		{ "::1", "::1", true },
		{ "::2", "::2", false },
		{ "2001:DB8::1", "2001:db8::1", false },
		{ "::ffff:192.0.2.7", "192.0.2.7", false },
		{ "::ffff:127.0.0.2", "127.0.0.2", true },
	};

	return cr_make_param_array(struct str_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct str_case *c, net, addr_str)
{
	struct net_addr	 a;
	char		 buf[NET_ADDRSTRLEN];

	cr_assert_eq(net_addr_parse(c->in, &a), 0);
	cr_assert_str_eq(net_addr_str(&a, buf, sizeof(buf)), c->out);
	cr_assert_eq(net_addr_is_loopback(&a), c->loopback, "%s", c->in);
	cr_assert_eq(net_addr_port(&a), 0);
}

Test(net, addr_parse_bad)
{
	struct net_addr	 a;

	cr_assert_eq(net_addr_parse("", &a), -1);
	cr_assert_eq(net_addr_parse("1.2.3", &a), -1);
	cr_assert_eq(net_addr_parse("1.2.3.256", &a), -1);
	cr_assert_eq(net_addr_parse("[::1]", &a), -1);
	cr_assert_eq(net_addr_parse("127.0.0.1:25", &a), -1);
	cr_assert_eq(net_addr_parse("localhost", &a), -1);
	cr_assert_eq(net_addr_parse(":::", &a), -1);
}

Test(net, addr_str_unknown_family)
{
	struct net_addr	 a;
	char		 buf[NET_ADDRSTRLEN];

	memset(&a, 0, sizeof(a));
	a.ss.ss_family = AF_UNIX;
	cr_assert_str_eq(net_addr_str(&a, buf, sizeof(buf)), "unknown");
	cr_assert_not(net_addr_is_loopback(&a));
	cr_assert_eq(net_addr_match(&a, "0.0.0.0/0"), 0);
	cr_assert_eq(net_addr_port(&a), 0);
}

struct match_case {
	char	addr[48];
	char	net[64];
	int	rc;
};

ParameterizedTestParameters(net, addr_match)
{
	static struct match_case cases[] = {
		{ "192.0.2.7", "192.0.2.0/24", 1 },
		{ "192.0.3.7", "192.0.2.0/24", 0 },
		{ "192.0.2.7", "192.0.2.7", 1 },
		{ "192.0.2.7", "192.0.2.8", 0 },
		{ "192.0.2.7", "192.0.2.7/32", 1 },
		{ "192.0.2.7", "0.0.0.0/0", 1 },
		{ "10.1.2.3", "10.0.0.0/8", 1 },
		{ "11.1.2.3", "10.0.0.0/8", 0 },
		{ "172.31.255.255", "172.16.0.0/12", 1 },
		{ "172.32.0.0", "172.16.0.0/12", 0 },
		{ "192.0.2.129", "192.0.2.128/25", 1 },
		{ "192.0.2.127", "192.0.2.128/25", 0 },
		{ "::ffff:192.0.2.7", "192.0.2.0/24", 1 },
		{ "192.0.2.7", "::ffff:192.0.2.0/120", 1 },
		{ "2001:db8::1", "2001:db8::/32", 1 },
		{ "2001:db9::1", "2001:db8::/32", 0 },
		{ "2001:db8::1", "2001:db8::1", 1 },
		{ "2001:db8::1", "2001:db8::2", 0 },
		{ "2001:db8::1", "::/0", 1 },
		{ "2001:db8::1", "0.0.0.0/0", 0 },
		{ "192.0.2.7", "2001:db8::/32", 0 },
		{ "fe80::1", "fe80::/10", 1 },
		{ "febf::1", "fe80::/10", 1 },
		{ "fec0::1", "fe80::/10", 0 },
		{ "192.0.2.7", "192.0.2.0/33", -1 },
		{ "192.0.2.7", "192.0.2.0/", -1 },
		{ "192.0.2.7", "192.0.2.0/x", -1 },
		{ "192.0.2.7", "192.0.2.0/-1", -1 },
		{ "192.0.2.7", "192.0.2.0/24/1", -1 },
		{ "2001:db8::1", "2001:db8::/129", -1 },
		{ "192.0.2.7", "", -1 },
		{ "192.0.2.7", "/24", -1 },
		{ "192.0.2.7", "example.org/24", -1 },
	};

	return cr_make_param_array(struct match_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct match_case *c, net, addr_match)
{
	struct net_addr	 a;

	cr_assert_eq(net_addr_parse(c->addr, &a), 0);
	cr_assert_eq(net_addr_match(&a, c->net), c->rc, "%s in %s",
	    c->addr, c->net);
}

/* ---- listen, accept, connect ---- */

static bool
is_cloexec(int fd)
{
	return (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
}

static bool
is_nonblock(int fd)
{
	return (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
}

static void
round_trip(const char *hostport, const char *ip)
{
	struct net_addr	 la, peer, pa;
	struct fail	 f;
	char		 port[8], buf[NET_ADDRSTRLEN], c;
	int		 fds[2], cfd, afd;
	size_t		 n = 0;

	memset(&f, 0, sizeof(f));
	cr_assert_eq(net_listen(hostport, 16, fds, 2, &n, &f), 0, "%s",
	    f.text);
	cr_assert_eq(n, 1);
	cr_assert(is_cloexec(fds[0]));
	cr_assert(is_nonblock(fds[0]));
	cr_assert_eq(net_local_addr(fds[0], &la), 0);
	cr_assert_gt(net_addr_port(&la), 0);
	cr_assert_str_eq(net_addr_str(&la, buf, sizeof(buf)), ip);

	/* nothing pending yet */
	cr_assert_eq(net_accept(fds[0], NULL), -1);
	cr_assert_eq(errno, EAGAIN);

	snprintf(port, sizeof(port), "%u", net_addr_port(&la));
	cfd = net_connect(ip, port, 1000, &f);
	cr_assert_geq(cfd, 0, "%s", f.text);
	cr_assert(is_cloexec(cfd));
	cr_assert_not(is_nonblock(cfd));

	afd = net_accept(fds[0], &peer);
	cr_assert_geq(afd, 0);
	cr_assert(is_cloexec(afd));
	cr_assert(is_nonblock(afd));
	cr_assert_str_eq(net_addr_str(&peer, buf, sizeof(buf)), ip);
	cr_assert(net_addr_is_loopback(&peer));
	cr_assert_eq(net_peer_addr(afd, &pa), 0);
	cr_assert_eq(net_addr_port(&pa), net_addr_port(&peer));

	cr_assert_eq(write(cfd, "x", 1), 1);
	cr_assert_eq(poll(&(struct pollfd){ afd, POLLIN, 0 }, 1, 1000), 1);
	cr_assert_eq(read(afd, &c, 1), 1);
	cr_assert_eq(c, 'x');
	close(afd);
	close(cfd);
	close(fds[0]);
}

Test(net, listen_connect_accept_v4)
{
	round_trip("127.0.0.1:0", "127.0.0.1");
}

static bool
have_v6(void)
{
	struct sockaddr_in6	 sin6;
	int			 fd;
	bool			 ok;

	fd = socket(AF_INET6, SOCK_STREAM, 0);
	if (fd == -1)
		return false;
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr = in6addr_loopback;
	ok = bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) == 0;
	close(fd);
	return ok;
}

Test(net, listen_connect_accept_v6)
{
	if (!have_v6())
		cr_skip_test("no IPv6 loopback");
	round_trip("[::1]:0", "::1");
}

Test(net, listen_star_gives_two_sockets)
{
	struct net_addr	 a;
	struct fail	 f;
	char		 buf[NET_ADDRSTRLEN];
	int		 fds[4], on = 0;
	socklen_t	 len = sizeof(on);
	size_t		 n = 0;

	if (!have_v6())
		cr_skip_test("no IPv6");
	cr_assert_eq(net_listen("*:0", 8, fds, 4, &n, &f), 0, "%s", f.text);
	cr_assert_eq(n, 2);
	cr_assert_eq(net_local_addr(fds[0], &a), 0);
	cr_assert_str_eq(net_addr_str(&a, buf, sizeof(buf)), "0.0.0.0");
	cr_assert_eq(net_local_addr(fds[1], &a), 0);
	cr_assert_str_eq(net_addr_str(&a, buf, sizeof(buf)), "::");
	cr_assert_eq(getsockopt(fds[1], IPPROTO_IPV6, IPV6_V6ONLY, &on, &len),
	    0);
	cr_assert_eq(on, 1);
	close(fds[0]);
	close(fds[1]);
}

Test(net, listen_name)
{
	struct fail	 f;
	int		 fds[4];
	size_t		 n = 0, i;

	cr_assert_eq(net_listen("localhost:0", 8, fds, 4, &n, &f), 0, "%s",
	    f.text);
	cr_assert_geq(n, 1);
	for (i = 0; i < n; i++)
		close(fds[i]);
}

Test(net, listen_in_use)
{
	struct net_addr	 a;
	struct fail	 f;
	char		 hp[32], want[80];
	int		 fds[2];
	size_t		 n = 0;

	cr_assert_eq(net_listen("127.0.0.1:0", 8, fds, 2, &n, &f), 0);
	cr_assert_eq(net_local_addr(fds[0], &a), 0);
	snprintf(hp, sizeof(hp), "127.0.0.1:%u", net_addr_port(&a));
	cr_assert_eq(net_listen(hp, 8, fds, 2, &n, &f), -1);
	cr_assert_eq(n, 1);			/* the first one is kept */
	snprintf(want, sizeof(want),
	    "cannot listen on %s: Address already in use", hp);
	cr_assert_str_eq(f.text, want);
	cr_assert(f.temp);
	close(fds[0]);
}

Test(net, listen_bad)
{
	struct fail	 f;
	int		 fds[2];
	size_t		 n = 0;

	cr_assert_eq(net_listen("127.0.0.1", 8, fds, 2, &n, &f), -1);
	cr_assert_str_eq(f.text,
	    "bad listen address \"127.0.0.1\": expected host:port");
	cr_assert_not(f.temp);
	cr_assert_eq(net_listen("192.0.2.1:0", 8, fds, 2, &n, &f), -1);
	cr_assert_str_eq(f.text,
	    "cannot listen on 192.0.2.1:0: Cannot assign requested address");
	cr_assert_eq(net_listen("no-such-host.invalid:25", 8, fds, 2, &n, &f),
	    -1);
	cr_assert(strncmp(f.text, "cannot listen on no-such-host.invalid:25: ",
	    42) == 0, "%s", f.text);
	cr_assert_eq(n, 0);
}

Test(net, listen_too_many)
{
	struct fail	 f;
	int		 fds[1];
	size_t		 n = 0;

	if (!have_v6())
		cr_skip_test("no IPv6");
	cr_assert_eq(net_listen("*:0", 8, fds, 1, &n, &f), -1);
	cr_assert_eq(n, 0);				/* first fd closed */
	cr_assert_str_eq(f.text,
	    "cannot listen on *:0: too many listening sockets");
}

/* A port that nobody listens on: bind one, close it. */
static unsigned int
closed_port(void)
{
	struct net_addr	 a;
	struct fail	 f;
	int		 fds[1];
	size_t		 n = 0;
	unsigned int	 port;

	cr_assert_eq(net_listen("127.0.0.1:0", 1, fds, 1, &n, &f), 0);
	cr_assert_eq(net_local_addr(fds[0], &a), 0);
	port = net_addr_port(&a);
	close(fds[0]);
	return port;
}

Test(net, connect_refused)
{
	struct fail	 f;
	char		 port[8], want[80];
	unsigned int	 p = closed_port();

	snprintf(port, sizeof(port), "%u", p);
	cr_assert_eq(net_connect("127.0.0.1", port, 1000, &f), -1);
	snprintf(want, sizeof(want),
	    "cannot connect to 127.0.0.1:%u: Connection refused", p);
	cr_assert_str_eq(f.text, want);
	cr_assert(f.temp);
	cr_assert_str_eq(f.code, "4.4.1");
}

Test(net, connect_bad_args)
{
	struct fail	 f;

	cr_assert_eq(net_connect("127.0.0.1", "0", 1000, &f), -1);
	cr_assert_str_eq(f.text, "cannot connect to 127.0.0.1: bad port \"0\"");
	cr_assert_eq(net_connect("127.0.0.1", "smtp", 1000, &f), -1);
	cr_assert_eq(net_connect("127.0.0.1", "70000", 1000, &f), -1);
	cr_assert_eq(net_connect("no-such-host.invalid", "25", 1000, &f), -1);
	cr_assert(strncmp(f.text, "cannot connect to no-such-host.invalid: ",
	    40) == 0, "%s", f.text);
}

Test(net, connect_timeout)
{
	struct fail	 f;
	int		 fd = -1;

	/* A listener whose backlog is full does not answer SYNs on Linux;
	 * fill it, then one more connect has to time out. */
	int		 lfds[1], c[4];
	size_t		 n = 0, i, nc = 0;
	struct net_addr	 a;
	char		 port[8], want[80];

	cr_assert_eq(net_listen("127.0.0.1:0", 0, lfds, 1, &n, &f), 0);
	cr_assert_eq(net_local_addr(lfds[0], &a), 0);
	snprintf(port, sizeof(port), "%u", net_addr_port(&a));
	for (i = 0; i < 4; i++) {
		fd = net_connect("127.0.0.1", port, 100, &f);
		if (fd == -1)
			break;
		c[nc++] = fd;
	}
	if (fd != -1)
		cr_skip_test("backlog never filled");
	snprintf(want, sizeof(want),
	    "cannot connect to 127.0.0.1:%s: Connection timed out", port);
	cr_assert_str_eq(f.text, want);
	cr_assert(f.temp);
	for (i = 0; i < nc; i++)
		close(c[i]);
	close(lfds[0]);
}

Test(net, connect_start_finish)
{
	struct net_addr	 a;
	struct fail	 f;
	struct pollfd	 pfd;
	int		 fds[1], fd, afd;
	size_t		 n = 0;

	cr_assert_eq(net_listen("127.0.0.1:0", 4, fds, 1, &n, &f), 0);
	cr_assert_eq(net_local_addr(fds[0], &a), 0);
	fd = net_connect_start(&a, &f);
	cr_assert_geq(fd, 0, "%s", f.text);
	cr_assert(is_nonblock(fd));
	cr_assert(is_cloexec(fd));
	pfd.fd = fd;
	pfd.events = POLLOUT;
	cr_assert_eq(poll(&pfd, 1, 1000), 1);
	cr_assert_eq(net_connect_finish(fd, &f), 0, "%s", f.text);
	afd = net_accept(fds[0], NULL);
	cr_assert_geq(afd, 0);
	close(afd);
	close(fd);
	close(fds[0]);
}

Test(net, connect_start_refused)
{
	struct net_addr	 a;
	struct fail	 f;
	struct pollfd	 pfd;
	int		 fd;

	cr_assert_eq(net_addr_parse("127.0.0.1", &a), 0);
	((struct sockaddr_in *)&a.ss)->sin_port = htons(closed_port());
	fd = net_connect_start(&a, &f);
	cr_assert_geq(fd, 0, "%s", f.text);
	pfd.fd = fd;
	pfd.events = POLLOUT;
	cr_assert_eq(poll(&pfd, 1, 1000), 1);
	cr_assert_eq(net_connect_finish(fd, &f), -1);
	cr_assert_str_eq(f.text, "connection failed: Connection refused");
	close(fd);
}

Test(net, set_nonblock)
{
	int	 sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	cr_assert_not(is_nonblock(sv[0]));
	cr_assert_eq(net_set_nonblock(sv[0], true), 0);
	cr_assert(is_nonblock(sv[0]));
	cr_assert_eq(net_set_nonblock(sv[0], false), 0);
	cr_assert_not(is_nonblock(sv[0]));
	close(sv[0]);
	close(sv[1]);
	cr_assert_eq(net_set_nonblock(sv[0], true), -1);
	cr_assert_eq(net_accept(sv[0], NULL), -1);
	cr_assert_eq(errno, EBADF);
}

Test(net, addr_str_small_buffer)
{
	struct net_addr	 a;
	char		 buf[8];

	cr_assert_eq(net_addr_parse("192.0.2.77", &a), 0);
	cr_assert_str_eq(net_addr_str(&a, buf, sizeof(buf)), "unknown");
	cr_assert_eq(net_addr_parse("2001:db8::1", &a), 0);
	cr_assert_str_eq(net_addr_str(&a, buf, 4), "unk");
}

Test(net, connect_finish_not_connected)
{
	struct fail	 f;
	int		 fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(net_connect_finish(fd, &f), -1);
	cr_assert_str_eq(f.text, "connection failed: not connected yet");
	close(fd);
	cr_assert_eq(net_connect_finish(fd, &f), -1);
	cr_assert_str_eq(f.text, "connection failed: Bad file descriptor");
}

Test(net, local_peer_addr_bad_fd)
{
	struct net_addr	 a;

	cr_assert_eq(net_local_addr(-1, &a), -1);
	cr_assert_eq(net_peer_addr(-1, &a), -1);
}

/* A value longer than any network is refused whole, never judged on a
 * cut-down copy ("::1/000...0" would pass). */
Test(net, network_too_long_is_invalid)
{
	char	 v[80];

	memset(v, '0', sizeof(v));
	memcpy(v, "::1/", 4);
	memcpy(v + sizeof(v) - 3, "8x", 3);
	cr_assert_not(net_network_valid(v));
	cr_assert(net_network_valid("[::1]/128"));
	cr_assert(net_network_valid("127.0.0.0/8"));
}
