/*
 * net.h - addresses, listening sockets, accept and connect
 *
 * Every fd this module returns is close-on-exec.  Listening and accepted
 * sockets are non-blocking.  Host:port strings are "192.0.2.1:25",
 * "[2001:db8::1]:25", "*:25" (every IPv4 and IPv6 address) or
 * "localhost:25"; a list separates entries with commas and/or spaces.
 */
#ifndef BUZON_NET_H
#define BUZON_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "fail.h"

#define NET_ADDRSTRLEN	64	/* fits "[v6]:port" */

struct net_addr {
	struct sockaddr_storage	 ss;
	socklen_t		 len;
};

/* Split "host:port" / "[v6]:port" into its parts; the port must be a
 * number 0-65535.  0 or -1. */
int	 net_split_hostport(const char *, char *host, size_t hostsize,
	    char *port, size_t portsize);
/* Parse a numeric IPv4/IPv6 address (no port) into a. 0 or -1. */
int	 net_addr_parse(const char *ip, struct net_addr *a);
/* "192.0.2.7" or "2001:db8::1" (IPv4-mapped IPv6 shown as IPv4). */
const char *net_addr_str(const struct net_addr *, char *buf, size_t size);
uint16_t net_addr_port(const struct net_addr *);
bool	 net_addr_is_loopback(const struct net_addr *);
/* Does a lie inside the network "192.0.2.0/24", "2001:db8::/32" or a bare
 * address?  -1 when the network string does not parse. */
int	 net_addr_match(const struct net_addr *, const char *network);
/* Whether network is one net_addr_match() takes, also in Postfix's
 * bracketed form "[::1]/128". */
bool	 net_network_valid(const char *network);
/* Does a lie in any of the n networks (either form)? */
bool	 net_networks_match(const struct net_addr *, char *const *nets,
	    size_t n);

/* Bind and listen on one host:port (all its addresses for "*" or a name).
 * Appends the fds to fds[*nfds], at most max in all.  IPv6 sockets are
 * IPV6_V6ONLY; SO_REUSEADDR is set.  0, or -1 with f filled (every fd this
 * call opened is closed again). */
int	 net_listen(const char *hostport, int backlog, int *fds, size_t max,
	    size_t *nfds, struct fail *f);
/* Accept one connection: non-blocking, close-on-exec fd, or -1 with errno
 * (EAGAIN when nothing is pending). peer may be NULL. */
int	 net_accept(int lfd, struct net_addr *peer);
/* Connect to host:port within timeout_ms (<= 0: no limit), trying each
 * address in turn; port is numeric.  Returns a blocking fd, or -1 with f
 * filled. */
int	 net_connect(const char *host, const char *port, int timeout_ms,
	    struct fail *f);
/* Start a non-blocking connect to a; returns the fd (connection may still
 * be in progress: wait for EVENT_WRITE, then net_connect_finish()). */
int	 net_connect_start(const struct net_addr *a, struct fail *f);
/* 0 once connected, -1 with f filled.  The fd stays non-blocking. */
int	 net_connect_finish(int fd, struct fail *f);
/* Local and peer address of a connected socket. 0 or -1. */
int	 net_local_addr(int fd, struct net_addr *a);
int	 net_peer_addr(int fd, struct net_addr *a);
int	 net_set_nonblock(int fd, bool on);

#endif
