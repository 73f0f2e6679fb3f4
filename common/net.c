/* SPDX-License-Identifier: MIT */
/*
 * net.c - addresses, listening sockets, accept and connect
 *
 * Ports are numeric only: a mail system's config names ports by number, and
 * /etc/services lookups would be one more thing to go wrong at start-up.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "str.h"

/* Longest host part we accept: a DNS name, or any textual IP. */
#define NET_HOSTMAX	256

static int
net_port_parse(const char *port, unsigned int min, uint16_t *r)
{
	unsigned int	 n;

	if (strnum_uint(port, min, 65535, &n) == -1)
		return -1;
	if (r != NULL)
		*r = (uint16_t)n;
	return 0;
}

int
net_split_hostport(const char *s, char *host, size_t hostsize, char *port,
    size_t portsize)
{
	const char	*h, *p, *end;
	size_t		 hlen;

	if (*s == '[') {
		h = s + 1;
		end = strchr(h, ']');
		if (end == NULL || end[1] != ':')
			return -1;
		hlen = (size_t)(end - h);
		p = end + 2;
		if (memchr(h, ':', hlen) == NULL)	/* "[1.2.3.4]:25" */
			return -1;
	} else {
		h = s;
		end = strchr(s, ':');
		if (end == NULL || strchr(end + 1, ':') != NULL)
			return -1;		/* bare IPv6 needs [] */
		hlen = (size_t)(end - h);
		p = end + 1;
	}
	if (hlen == 0 || hlen >= hostsize || net_port_parse(p, 0, NULL) == -1)
		return -1;
	if (!str_copy(port, p, portsize))
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	return 0;
}

int
net_addr_parse(const char *ip, struct net_addr *a)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&a->ss;

	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		a->len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		a->len = sizeof(*sin6);
		return 0;
	}
	return -1;
}

/* The 16-byte IPv6 form of a (IPv4 as ::ffff:a.b.c.d).  -1 if neither. */
static int
net_addr_v6(const struct net_addr *a, uint8_t out[16])
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	switch (a->ss.ss_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)&a->ss;
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &sin->sin_addr, 4);
		return 0;
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)&a->ss;
		memcpy(out, &sin6->sin6_addr, 16);
		return 0;
	default:
		return -1;
	}
}

static bool
net_is_mapped(const uint8_t b[16])
{
	static const uint8_t	 pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };

	return memcmp(b, pfx, sizeof(pfx)) == 0;
}

const char *
net_addr_str(const struct net_addr *a, char *buf, size_t size)
{
	uint8_t	 b[16];

	if (net_addr_v6(a, b) == -1) {
		(void)str_copy(buf, "unknown", size);
		return buf;
	}
	if (net_is_mapped(b)) {
		if (inet_ntop(AF_INET, b + 12, buf, (socklen_t)size) == NULL)
			(void)str_copy(buf, "unknown", size);
	} else if (inet_ntop(AF_INET6, b, buf, (socklen_t)size) == NULL)
		(void)str_copy(buf, "unknown", size);
	return buf;
}

uint16_t
net_addr_port(const struct net_addr *a)
{
	switch (a->ss.ss_family) {
	case AF_INET:
		return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
	case AF_INET6:
		return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
	default:
		return 0;
	}
}

static void
net_addr_set_port(struct net_addr *a, uint16_t port)
{
	if (a->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
	else if (a->ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
}

bool
net_addr_is_loopback(const struct net_addr *a)
{
	uint8_t	 b[16];

	if (net_addr_v6(a, b) == -1)
		return false;
	if (net_is_mapped(b))
		return b[12] == 127;
	return memcmp(b, &in6addr_loopback, 16) == 0;
}

int
net_addr_match(const struct net_addr *a, const char *network)
{
	char		 ip[INET6_ADDRSTRLEN + 1];
	const char	*slash;
	struct net_addr	 net;
	uint8_t		 x[16], y[16];
	unsigned int	 bits, max;
	size_t		 len, full;

	slash = strchr(network, '/');
	len = slash != NULL ? (size_t)(slash - network) : strlen(network);
	if (len == 0 || len >= sizeof(ip))
		return -1;
	memcpy(ip, network, len);
	ip[len] = '\0';
	if (net_addr_parse(ip, &net) == -1)
		return -1;
	max = net.ss.ss_family == AF_INET ? 32 : 128;
	if (slash == NULL)
		bits = max;
	else if (strnum_uint(slash + 1, 0, max, &bits) == -1)
		return -1;
	/* Compare in IPv6 space, IPv4 being ::ffff:0:0/96. */
	if (net.ss.ss_family == AF_INET)
		bits += 96;
	(void)net_addr_v6(&net, y);
	if (net_addr_v6(a, x) == -1)
		return 0;
	full = bits / 8;
	if (memcmp(x, y, full) != 0)
		return 0;
	if (bits % 8 != 0 &&
	    ((x[full] ^ y[full]) & (uint8_t)(0xff << (8 - bits % 8))) != 0)
		return 0;
	return 1;
}

/* "[::1]/128" (Postfix's form) -> "::1/128" for net_addr_match(): 0, or
 * -1 when it does not fit (no network is that long). */
static int
net_unbracket(const char *net, char *out, size_t size)
{
	size_t	 o = 0;

	for (; *net != '\0'; net++) {
		if (*net == '[' || *net == ']')
			continue;
		if (o + 1 >= size)
			return -1;	/* longer than any network */
		out[o++] = *net;
	}
	out[o] = '\0';
	return 0;
}

bool
net_network_valid(const char *network)
{
	struct net_addr	 a;
	char		 buf[NET_ADDRSTRLEN + 8];

	if (net_unbracket(network, buf, sizeof(buf)) == -1)
		return false;
	(void)net_addr_parse("127.0.0.1", &a);
	return net_addr_match(&a, buf) != -1;
}

bool
net_networks_match(const struct net_addr *a, char *const *nets, size_t n)
{
	char	 buf[NET_ADDRSTRLEN + 8];
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (net_unbracket(nets[i], buf, sizeof(buf)) == 0 &&
		    net_addr_match(a, buf) == 1)
			return true;
	}
	return false;
}

/* "192.0.2.1:25" or "[2001:db8::1]:25" */
static const char *
net_addr_hostport(const struct net_addr *a, char *buf, size_t size)
{
	char	 ip[INET6_ADDRSTRLEN];

	(void)net_addr_str(a, ip, sizeof(ip));
	if (strchr(ip, ':') != NULL)
		(void)str_printf(buf, size, "[%s]:%u", ip, net_addr_port(a));
	else
		(void)str_printf(buf, size, "%s:%u", ip, net_addr_port(a));
	return buf;
}

static int
net_listen_one(const struct net_addr *a, int backlog, struct fail *f)
{
	char	 where[NET_ADDRSTRLEN];
	int	 fd, on = 1, saved;

	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		goto fail;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		goto fail;
	if (a->ss.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) == -1)
		goto fail;
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) == -1)
		goto fail;
	if (listen(fd, backlog) == -1)
		goto fail;
	return fd;
fail:
	saved = errno;
	if (fd != -1)
		(void)close(fd);
	errno = saved;
	return fail_set(f, true, "4.3.0", "cannot listen on %s: %s",
	    net_addr_hostport(a, where, sizeof(where)), strerror(saved));
}

int
net_listen(const char *hostport, int backlog, int *fds, size_t max,
    size_t *nfds, struct fail *f)
{
	char		 host[NET_HOSTMAX], port[8];
	struct net_addr	 addrs[16];
	struct addrinfo	 hints, *res, *ai;
	size_t		 naddrs = 0, start = *nfds, i;
	uint16_t	 portnum = 0;
	int		 fd, rc;

	if (net_split_hostport(hostport, host, sizeof(host), port,
	    sizeof(port)) == -1)
		return fail_set(f, false, "5.3.5",
		    "bad listen address \"%s\": expected host:port", hostport);
	(void)net_port_parse(port, 0, &portnum);
	if (strcmp(host, "*") == 0) {
		(void)net_addr_parse("0.0.0.0", &addrs[naddrs++]);
		(void)net_addr_parse("::", &addrs[naddrs++]);
	} else if (net_addr_parse(host, &addrs[0]) == 0)
		naddrs = 1;
	else {
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
		rc = getaddrinfo(host, port, &hints, &res);
		if (rc != 0)
			return fail_set(f, rc == EAI_AGAIN, rc == EAI_AGAIN ?
			    "4.3.0" : "5.3.5", "cannot listen on %s: %s",
			    hostport, gai_strerror(rc));
		for (ai = res; ai != NULL; ai = ai->ai_next) {
			if (naddrs == sizeof(addrs) / sizeof(addrs[0]))
				break;
			if ((ai->ai_family != AF_INET &&
			    ai->ai_family != AF_INET6) ||
			    ai->ai_addrlen > sizeof(addrs[0].ss))
				continue;
			memset(&addrs[naddrs], 0, sizeof(addrs[naddrs]));
			memcpy(&addrs[naddrs].ss, ai->ai_addr, ai->ai_addrlen);
			addrs[naddrs].len = ai->ai_addrlen;
			naddrs++;
		}
		freeaddrinfo(res);
	}
	for (i = 0; i < naddrs; i++) {
		net_addr_set_port(&addrs[i], portnum);
		if (*nfds >= max) {
			fail_set(f, true, "4.3.0", "cannot listen on %s: "
			    "too many listening sockets", hostport);
			goto fail;
		}
		fd = net_listen_one(&addrs[i], backlog, f);
		if (fd == -1) {
			/* "*" on a host without IPv6: IPv4 alone will do. */
			if (strcmp(host, "*") == 0 &&
			    addrs[i].ss.ss_family == AF_INET6 &&
			    errno == EAFNOSUPPORT && *nfds > start)
				continue;
			goto fail;
		}
		fds[(*nfds)++] = fd;
	}
	if (*nfds == start)
		return fail_set(f, true, "4.3.0",
		    "cannot listen on %s: no usable address", hostport);
	return 0;
fail:
	while (*nfds > start)
		(void)close(fds[--(*nfds)]);
	return -1;
}

int
net_accept(int lfd, struct net_addr *peer)
{
	struct net_addr	 dummy;
	int		 fd;

	if (peer == NULL)
		peer = &dummy;
	do {
		peer->len = sizeof(peer->ss);
		fd = accept4(lfd, (struct sockaddr *)&peer->ss, &peer->len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
	} while (fd == -1 && errno == EINTR);
	return fd;
}

static int64_t
net_clock_ms(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for a non-blocking connect on fd until deadline (-1: forever).
 * 0 when connected, else -1 with errno. */
static int
net_connect_wait(int fd, int64_t deadline)
{
	struct pollfd	 pfd;
	int64_t		 left;
	int		 n, err;
	socklen_t	 len = sizeof(err);

	for (;;) {
		left = -1;
		if (deadline >= 0) {
			left = deadline - net_clock_ms();
			if (left < 0)
				left = 0;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		pfd.revents = 0;
		n = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0) {
			if (deadline >= 0 && net_clock_ms() >= deadline) {
				errno = ETIMEDOUT;
				return -1;
			}
			continue;
		}
		break;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return -1;
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

int
net_connect(const char *host, const char *port, int timeout_ms,
    struct fail *f)
{
	struct addrinfo	 hints, *res, *ai;
	struct net_addr	 a;
	char		 where[NET_ADDRSTRLEN];
	int64_t		 deadline = -1;
	int		 fd, rc, err = 0;

	if (net_port_parse(port, 1, NULL) == -1)
		return fail_set(f, false, "5.3.5",
		    "cannot connect to %s: bad port \"%s\"", host, port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		if (rc == EAI_NONAME)
			return fail_set(f, false, "5.1.2",
			    "cannot connect to %s: %s", host, gai_strerror(rc));
		return fail_set(f, true, "4.4.3", "cannot connect to %s: %s",
		    host, gai_strerror(rc));
	}
	if (timeout_ms > 0)
		deadline = net_clock_ms() + timeout_ms;
	where[0] = '\0';
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(a.ss))
			continue;
		memset(&a, 0, sizeof(a));
		memcpy(&a.ss, ai->ai_addr, ai->ai_addrlen);
		a.len = ai->ai_addrlen;
		(void)net_addr_hostport(&a, where, sizeof(where));
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == -1) {
			err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    ((errno == EINPROGRESS || errno == EINTR) &&
		    net_connect_wait(fd, deadline) == 0)) {
			if (net_set_nonblock(fd, false) == -1) {
				err = errno;
				(void)close(fd);
				break;
			}
			freeaddrinfo(res);
			return fd;
		}
		err = errno;
		(void)close(fd);
		if (err == ETIMEDOUT && deadline >= 0 &&
		    net_clock_ms() >= deadline)
			break;
	}
	freeaddrinfo(res);
	if (where[0] == '\0')
		(void)str_copy(where, host, sizeof(where));
	return fail_set(f, true, "4.4.1", "cannot connect to %s: %s", where,
	    strerror(err != 0 ? err : EHOSTUNREACH));
}

int
net_connect_start(const struct net_addr *a, struct fail *f)
{
	char	 where[NET_ADDRSTRLEN];
	int	 fd, saved;

	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		return fail_set(f, true, "4.4.1", "cannot connect to %s: %s",
		    net_addr_hostport(a, where, sizeof(where)),
		    strerror(errno));
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0 ||
	    errno == EINPROGRESS || errno == EINTR)
		return fd;
	saved = errno;
	(void)close(fd);
	return fail_set(f, true, "4.4.1", "cannot connect to %s: %s",
	    net_addr_hostport(a, where, sizeof(where)), strerror(saved));
}

int
net_connect_finish(int fd, struct fail *f)
{
	struct net_addr	 a;
	int		 err;
	socklen_t	 len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return fail_set(f, true, "4.4.1", "connection failed: %s",
		    strerror(errno));
	if (err != 0)
		return fail_set(f, true, "4.4.1", "connection failed: %s",
		    strerror(err));
	if (net_peer_addr(fd, &a) == -1)
		return fail_set(f, true, "4.4.1", "connection failed: %s",
		    errno == ENOTCONN ? "not connected yet" : strerror(errno));
	return 0;
}

int
net_local_addr(int fd, struct net_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->len = sizeof(a->ss);
	return getsockname(fd, (struct sockaddr *)&a->ss, &a->len);
}

int
net_peer_addr(int fd, struct net_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->len = sizeof(a->ss);
	return getpeername(fd, (struct sockaddr *)&a->ss, &a->len);
}

int
net_set_nonblock(int fd, bool on)
{
	int	 fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1)
		return -1;
	fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	return fcntl(fd, F_SETFL, fl) == -1 ? -1 : 0;
}
