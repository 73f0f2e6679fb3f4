/*
 * auth_proto.h - the line protocol between the protocol daemons and
 * buzon-auth
 *
 * One request or reply a line, fields separated by one TAB, the line ended
 * by LF.  Every field is bounded and checked on both sides; a line over
 * AUTH_PROTO_LINE_MAX is an error.  On connect the server sends
 *
 *   VERSION TAB 1
 *
 * and a client that does not know the major version hangs up.  Requests:
 *
 *   PASS TAB id TAB service TAB client-ip TAB account TAB password-b64
 *   APOP TAB id TAB service TAB client-ip TAB account TAB timestamp TAB digest
 *
 * Replies, in any order, matched to requests by id:
 *
 *   OK   TAB id TAB canonical-account
 *   FAIL TAB id TAB reason
 *   TEMP TAB id TAB reason
 *
 * id: decimal 1..4294967295, no leading zero, chosen by the client,
 * unique among its requests in flight.  service: 1..16 of [a-z0-9].
 * client-ip: 0..45 of [0-9A-Fa-f.:] (empty: unknown).  account: 1..255
 * bytes, no control character, no TAB.  password-b64: strict base64 of
 * 1..AUTH_PASS_MAX bytes holding no NUL.  timestamp: 1..255 printable
 * ASCII bytes, no TAB (the "<...>" of the POP3 greeting).  digest: 32 hex
 * digits.  reason: 1..32 of [a-z_]; the reasons sent today are "auth"
 * (FAIL: wrong credentials, unknown or disabled user), "invalid" (FAIL: a
 * request with a good id and a bad field), "throttled", "lookup",
 * "internal", "timeout" and "unavailable" (TEMP).
 */
#ifndef BUZON_AUTH_PROTO_H
#define BUZON_AUTH_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "str.h"

#define AUTH_PROTO_VERSION	1
#define AUTH_PROTO_LINE_MAX	2048	/* bytes, LF included */
#define AUTH_PROTO_SERVICE_MAX	16
#define AUTH_PROTO_IP_MAX	45	/* INET6_ADDRSTRLEN - 1 */
#define AUTH_PROTO_ACCOUNT_MAX	AUTH_ID_MAX
#define AUTH_PROTO_PASS_B64_MAX	((AUTH_PASS_MAX + 2) / 3 * 4)
#define AUTH_PROTO_TIMESTAMP_MAX 255
#define AUTH_PROTO_REASON_MAX	32
#define AUTH_PROTO_TEXT_MAX	AUTH_PROTO_ACCOUNT_MAX

enum auth_proto_cmd {
	AUTH_PROTO_PASS = 1,
	AUTH_PROTO_APOP,
};

struct auth_proto_req {
	enum auth_proto_cmd cmd;
	uint32_t	 id;		/* 0: none could be read */
	char		 service[AUTH_PROTO_SERVICE_MAX + 1];
	char		 ip[AUTH_PROTO_IP_MAX + 1];
	char		 account[AUTH_PROTO_ACCOUNT_MAX + 1];
	char		 password[AUTH_PASS_MAX + 1];	/* PASS, decoded */
	char		 timestamp[AUTH_PROTO_TIMESTAMP_MAX + 1]; /* APOP */
	char		 digest[AUTH_APOP_DIGEST_LEN + 1];	/* APOP */
};

enum auth_proto_status {
	AUTH_PROTO_OK = 1,
	AUTH_PROTO_FAIL,
	AUTH_PROTO_TEMP,
};

struct auth_proto_reply {
	enum auth_proto_status status;
	uint32_t	 id;
	char		 text[AUTH_PROTO_TEXT_MAX + 1];	/* account or reason */
};

/* Parse one request line (len bytes, LF already stripped; the line is not
 * changed).  0 with req filled, or -1: req->id is then the request's id
 * when the command and id were readable (answer "FAIL id invalid"), 0 when
 * not (a broken peer: hang up).  req is wiped before parsing; wipe it
 * again when done (it holds the password). */
int	 auth_proto_req_parse(const char *line, size_t len,
	    struct auth_proto_req *req) __attribute__((warn_unused_result));
/* Append req as one line, LF included, to out.  0, or -1 when a field
 * breaks the rules above (nothing appended). */
int	 auth_proto_req_format(const struct auth_proto_req *, struct str *out)
	    __attribute__((warn_unused_result));
/* Parse one reply line (LF stripped).  0 or -1. */
int	 auth_proto_reply_parse(const char *line, size_t len,
	    struct auth_proto_reply *) __attribute__((warn_unused_result));
/* Append a reply line to out: text is the canonical account for OK, a
 * reason otherwise.  0, or -1 (bad id or text; nothing appended). */
int	 auth_proto_reply_format(enum auth_proto_status, uint32_t id,
	    const char *text, struct str *out)
	    __attribute__((warn_unused_result));
/* The server's greeting line, LF included. */
int	 auth_proto_version_format(struct str *out)
	    __attribute__((warn_unused_result));
/* Is line (LF stripped) a VERSION line of our major version? */
bool	 auth_proto_version_ok(const char *line, size_t len);

/* ---- the socket side, for both ends ---- */

/* Called for each complete line (LF replaced by NUL, len bytes without
 * it).  Return 0 to go on, -1 to stop reading (the connection is being
 * closed). */
typedef int	auth_proto_line_fn(void *arg, char *line, size_t len);

/* Read what fd (non-blocking) has into in and hand each complete line to
 * fn; consumed lines are wiped (they may hold passwords).  0 when fd has
 * nothing more for now, -1 with *why_r set (static text) on end of file,
 * a read error, a line of AUTH_PROTO_LINE_MAX bytes or more, or fn's -1
 * (why "stopped"). */
int	 auth_proto_read(int fd, struct str *in, auth_proto_line_fn *fn,
	    void *arg, const char **why_r) __attribute__((warn_unused_result));
/* Write as much of out as fd takes, wiping what went.  0 (out may still
 * hold bytes: wait for EVENT_WRITE), or -1 with *why_r set. */
int	 auth_proto_write(int fd, struct str *out, const char **why_r)
	    __attribute__((warn_unused_result));

#endif
