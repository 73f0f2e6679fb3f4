/*
 * handoff.h - hand a client connection to another process
 *
 * After a login the pre-login front passes the connection to the process
 * that serves the user (through the parent, which never reads client
 * bytes): one datagram on a SOCK_SEQPACKET unix socket carries the client
 * fd (SCM_RIGHTS) and a typed record of the session state, so the new
 * owner can go on where the front stopped.  The fd is the client socket
 * for a plaintext connection; for TLS it is the front's end of a
 * socketpair over which the front, which keeps the TLS state, proxies
 * plaintext (is_tls says which, for logs and capabilities).
 *
 * The record (all integers big-endian):
 *   "BZH1"  magic
 *   then fields, each  u16 type, u32 length, length bytes:
 *     1 session id   1..HANDOFF_ID_MAX bytes
 *     2 user         1..HANDOFF_USER_MAX bytes (the normalised address)
 *     3 client       1..HANDOFF_CLIENT_MAX bytes ("192.0.2.7" or "[v6]")
 *     4 flags        4 bytes: HANDOFF_F_*
 *     5 cookie       HANDOFF_COOKIE_LEN bytes (who vouches for the login)
 *     6 input        0..HANDOFF_INPUT_MAX bytes the client pipelined
 *                    after its login command, not yet read
 * Fields 1-5 must each appear once, 6 at most once, in any order; an
 * unknown type, a repeat, a bad length, bytes left over, a truncated
 * datagram or a control part that is not exactly one fd refuse the
 * record (and close any fd that came with it).
 */
#ifndef BUZON_HANDOFF_H
#define BUZON_HANDOFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fail.h"

#define HANDOFF_ID_MAX		23
#define HANDOFF_USER_MAX	255
#define HANDOFF_CLIENT_MAX	63
#define HANDOFF_COOKIE_LEN	32
#define HANDOFF_INPUT_MAX	(16u * 1024)
/* Largest record: magic, six field heads, their contents. */
#define HANDOFF_RECORD_MAX	(4 + 6 * 6 + HANDOFF_ID_MAX + \
				 HANDOFF_USER_MAX + HANDOFF_CLIENT_MAX + 4 + \
				 HANDOFF_COOKIE_LEN + HANDOFF_INPUT_MAX)

#define HANDOFF_F_TLS		0x01	/* the fd carries TLS-proxied text */

struct handoff {
	char		 id[HANDOFF_ID_MAX + 1];
	char		 user[HANDOFF_USER_MAX + 1];
	char		 client[HANDOFF_CLIENT_MAX + 1];
	uint32_t	 flags;
	unsigned char	 cookie[HANDOFF_COOKIE_LEN];
	unsigned char	 input[HANDOFF_INPUT_MAX];
	size_t		 input_len;
};

/* A SOCK_SEQPACKET socketpair, close-on-exec: sv[0] for the sender. */
int	 handoff_pair(int sv[2]) __attribute__((warn_unused_result));

/* Send h and fd (which stays open here: close it after) on sock.  0, or
 * -1 with f filled (a field too long or empty, or the send failed; a
 * blocking socket is expected). */
int	 handoff_send(int sock, int fd, const struct handoff *,
	    struct fail *f) __attribute__((warn_unused_result));

/* Receive one record on sock into *h and the fd into *fd_r (close-on-
 * exec, now the caller's).  1 with both set; 0 at end of file; -1 with f
 * filled for a refused record (see above) or a failed read, *fd_r -1. */
int	 handoff_recv(int sock, int *fd_r, struct handoff *,
	    struct fail *f) __attribute__((warn_unused_result));

/* The datagram layer under both, for any short typed message with at
 * most one fd: send len bytes of buf and fd (-1: none) as one datagram,
 * 0 or -1 with errno.  Receive one datagram into buf[size]: 1 with
 * *len_r and *fd_r (-1: no fd came); 0 at end of file; -1 with errno,
 * EMSGSIZE for a truncated datagram or more than one fd (all closed). */
int	 handoff_sendmsg(int sock, const void *buf, size_t len, int fd)
	    __attribute__((warn_unused_result));
int	 handoff_recvmsg(int sock, void *buf, size_t size, size_t *len_r,
	    int *fd_r) __attribute__((warn_unused_result));

/* Encode / decode the record alone (for tests and fuzzing).  encode:
 * bytes written to out (size >= HANDOFF_RECORD_MAX), or -1.  decode: 0,
 * or -1 with f filled. */
int	 handoff_encode(const struct handoff *, unsigned char *out,
	    size_t size, size_t *len_r, struct fail *f)
	    __attribute__((warn_unused_result));
int	 handoff_decode(const unsigned char *in, size_t len,
	    struct handoff *, struct fail *f)
	    __attribute__((warn_unused_result));

#endif
