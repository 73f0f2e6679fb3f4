/*
 * spool.h - the queue-file format shared by smtpd, queued and `buzon queue`
 *
 * A queue file holds one message: a fixed magic, typed length-prefixed
 * envelope records, the content as one record (the exact bytes as received,
 * CRLF line ends, Received header already prepended), and an end record
 * that carries the content length and two CRC-32C checksums.  The layout of
 * every record is described atop spool.c and in docs/spool.md.
 *
 * This module is pure format: it encodes and decodes, and reads a file
 * given an fd.  Creating, syncing and renaming files is queue/enqueue.c.
 *
 * Readers trust nothing: every length is bounded, every fixed-size record
 * must have exactly its size, every record must be consumed exactly, records
 * must come in the documented order, and the end record must sit exactly at
 * end of file with matching sizes and checksums.  A file that fails any of
 * this is SPOOL_ERR_CORRUPT: the queue runner moves it to corrupt/, it never
 * delivers part of it.
 *
 * Beside each queue file the queue runner keeps a per-message status log
 * (status/ID): append-only, one CRC-protected record per delivery attempt
 * outcome.  spool_status_*() below write and replay it.
 */
#ifndef BUZON_SPOOL_H
#define BUZON_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fail.h"
#include "str.h"

/* Spool layout under the state directory (all mode 0700). */
#define SPOOL_DIR		"spool"
#define SPOOL_DIR_TMP		"spool/tmp"	/* being written; never read */
#define SPOOL_DIR_QUEUE		"spool/queue"	/* committed, to deliver */
#define SPOOL_DIR_HOLD		"spool/hold"	/* committed, held by admin */
#define SPOOL_DIR_CORRUPT	"spool/corrupt"	/* failed to parse; kept */
#define SPOOL_DIR_STATUS	"spool/status"	/* per-message status logs */
#define SPOOL_NOTIFY_SOCKET	"run/queued.sock" /* datagrams of ids */

/* Queue ids: 16 characters of Crockford base32 (0-9, A-Z without I L O U),
 * encoding microseconds since the epoch (54 bits) then the pid (22 bits).
 * Fixed length, so string order is arrival order. */
#define SPOOL_ID_LEN		16

/* Bounds a reader enforces (and the writer refuses to exceed). */
#define SPOOL_VERSION		1
#define SPOOL_MAX_FIELD		4096		/* any one string */
#define SPOOL_MAX_RCPTS		100000
#define SPOOL_MAX_ENVELOPE	(32u * 1024 * 1024)	/* all before content */
#define SPOOL_MAX_CONTENT	0xfffffff0u	/* content record payload */

/* Return values of the readers (0 is success). */
#define SPOOL_ERR_IO		(-1)	/* read failed: retry later */
#define SPOOL_ERR_CORRUPT	(-2)	/* the bytes are bad: move aside */

enum spool_ret {			/* RFC 3461 RET= */
	SPOOL_RET_NONE = 0,
	SPOOL_RET_FULL = 1,
	SPOOL_RET_HDRS = 2,
};

enum spool_proto {			/* the "with" of the Received header */
	SPOOL_PROTO_SMTP = 0,		/* HELO */
	SPOOL_PROTO_ESMTP,
	SPOOL_PROTO_ESMTPS,		/* TLS */
	SPOOL_PROTO_ESMTPA,		/* AUTH without TLS (loopback) */
	SPOOL_PROTO_ESMTPSA,		/* TLS and AUTH */
	SPOOL_PROTO_LOCAL,		/* made here: bounces, submission */
	SPOOL_PROTO_COUNT
};

/* Message flags (spool_env.flags). */
#define SPOOL_F_SMTPUTF8	0x01u	/* RFC 6531 SMTPUTF8 on MAIL */
#define SPOOL_F_8BITMIME	0x02u	/* RFC 6152 BODY=8BITMIME */
#define SPOOL_F_BINARYMIME	0x04u	/* RFC 3030 BODY=BINARYMIME */
#define SPOOL_F_ALL		0x07u

/* RFC 3461 NOTIFY= per recipient; 0 = not given (default: FAILURE). */
#define SPOOL_NOTIFY_NEVER	0x01u
#define SPOOL_NOTIFY_SUCCESS	0x02u
#define SPOOL_NOTIFY_FAILURE	0x04u
#define SPOOL_NOTIFY_DELAY	0x08u
#define SPOOL_NOTIFY_ALL	0x0fu

struct spool_rcpt {
	char		*addr;		/* envelope recipient, no <> */
	char		*orcpt;		/* ORCPT= as received ("rfc822;a@b",
					   xtext); "" when not given */
	char		*original;	/* address before alias expansion;
					   "" when the same as addr */
	unsigned int	 notify;	/* SPOOL_NOTIFY_* */
};

/*
 * The envelope.  Every char * is owned by the struct, NUL-terminated and
 * never NULL after spool_env_init() ("" means absent).  Strings hold any
 * bytes but NUL (UTF-8 addresses are kept as they came); the sender, the
 * recipient and original addresses, ORCPT and ENVID hold no control
 * character (0-31, 127) either: the writer refuses, the reader rejects.
 */
struct spool_env {
	char		 id[SPOOL_ID_LEN + 1];
	uint64_t	 arrival_sec;		/* when enqueue began */
	uint32_t	 arrival_usec;
	char		*sender;		/* "" = null sender <> */
	enum spool_ret	 ret;
	char		*envid;			/* ENVID= as received (xtext) */
	unsigned int	 flags;			/* SPOOL_F_* */
	enum spool_proto proto;
	char		*client_addr;		/* "192.0.2.7", "2001:db8::1" */
	char		*helo;			/* HELO/EHLO argument */
	char		*client_name;		/* verified reverse name */
	char		*tls;			/* "TLSv1.3 TLS_AES_..." */
	char		*auth_user;		/* SASL login or "" */
	struct spool_rcpt *rcpts;
	size_t		 nrcpts;
	size_t		 rcpts_cap;

	/* Filled by the readers: where the content is in the file. */
	uint64_t	 content_off;
	uint64_t	 content_len;
	uint64_t	 file_size;
};

void	 spool_env_init(struct spool_env *);
void	 spool_env_release(struct spool_env *);	/* then init again */
/* Replace one string member with a copy of s (NULL = "").  Example:
 * spool_env_set(&env.sender, "a@b"). */
void	 spool_env_set(char **member, const char *s);
/* Add a recipient (strings copied; NULL = "").  -1 when the envelope
 * already holds SPOOL_MAX_RCPTS. */
int	 spool_env_add_rcpt(struct spool_env *, const char *addr,
	    const char *orcpt, const char *original, unsigned int notify)
	    __attribute__((warn_unused_result));
/* "ESMTPSA" etc.; "?" for a bad value. */
const char *spool_proto_name(enum spool_proto);

/*
 * Writer.  spool_write_head() appends to out the magic, the envelope and
 * the header of the content record (its length still 0); these bytes are
 * the start of the file (out should have no max: the sizes are bounded
 * here).  Feed every content byte to spool_write_content() as it is
 * written to the file; then spool_write_end() gives the 4 bytes to write
 * at file offset *len_off_r (the content length) and the end record to
 * append after the content.
 */
struct spool_writer {
	uint32_t	 env_crc;
	uint32_t	 content_crc;
	uint64_t	 content_len;
	uint64_t	 len_off;	/* file offset of the content length */
};

#define SPOOL_END_SIZE	21	/* the end record, header included */

/* 0, or -1 with fail when a field is too long (5.5.4), there are no or
 * too many recipients (5.5.3), a recipient is empty or has bad NOTIFY bits
 * (5.1.3), the envelope passes SPOOL_MAX_ENVELOPE (5.3.4), or the id,
 * flags, RET, protocol or microseconds are out of range (4.3.0: a bug of
 * the caller).  out is left as it was on -1. */
int	 spool_write_head(struct spool_writer *, const struct spool_env *,
	    struct str *out, struct fail *)
	    __attribute__((warn_unused_result));
/* -1 when the content would exceed SPOOL_MAX_CONTENT (nothing counted). */
int	 spool_write_content(struct spool_writer *, const void *, size_t)
	    __attribute__((warn_unused_result));
void	 spool_write_end(const struct spool_writer *, uint8_t len_r[4],
	    uint64_t *len_off_r, uint8_t end_r[SPOOL_END_SIZE]);

/* Reader flags. */
#define SPOOL_READ_VERIFY_CONTENT 0x01u	/* also check the content CRC */
#define SPOOL_READ_NO_CRC	  0x02u	/* skip both CRCs (fuzzing only) */

/*
 * Load the envelope of the queue file open on fd into env (which must be
 * freshly initialised; release it whatever the result).  expect_id, when
 * not NULL, must equal the id inside (the file name).  Returns 0, or
 * SPOOL_ERR_IO / SPOOL_ERR_CORRUPT with the reason in why (for the log,
 * never for a peer).  On 0, env->content_off/len say where the content is:
 * stream it with pread() or mmap() it.  Reads only the envelope and the end
 * record unless SPOOL_READ_VERIFY_CONTENT is given.
 */
int	 spool_read(int fd, const char *expect_id, unsigned int flags,
	    struct spool_env *, char *why, size_t whysize)
	    __attribute__((warn_unused_result));
/* The same over a whole file image in memory: 0 or SPOOL_ERR_CORRUPT. */
int	 spool_parse(const void *buf, size_t len, unsigned int flags,
	    struct spool_env *, char *why, size_t whysize)
	    __attribute__((warn_unused_result));

/* Queue ids.  spool_id_new() makes a fresh id (monotonic within the
 * process, unique across processes by the pid) and optionally returns its
 * time; id must have room for SPOOL_ID_LEN + 1 bytes. */
void	 spool_id_new(char *id, uint64_t *sec_r, uint32_t *usec_r);
bool	 spool_id_valid(const char *);

/* CRC-32C (Castagnoli) continued from crc (start with 0). */
uint32_t spool_crc32c(uint32_t crc, const void *, size_t);
/* For the spool readers: write the reason (printf-style) to why, which may
 * be NULL, and return SPOOL_ERR_CORRUPT. */
int	 spool_corrupt(char *why, size_t whysize, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/*
 * Status log: STATE/spool/status/ID, written only by the queue runner.
 * A fixed 8-byte magic, then records; each record is
 *   u8 type 'S' | u32 payload length | payload | u32 CRC-32C of all before
 * with the payload
 *   u32 rcpt index | u8 state | u64 time | u64 until | u8 code length |
 *   code | u16 text length | text
 * A record whose bytes run past end of file, or whose CRC fails as the last
 * thing in the file, is a torn append (crash mid-write): replay ignores it
 * and spool_status_open() cuts it off before appending.  A bad record with
 * good data after it is corruption (SPOOL_ERR_CORRUPT).
 */
enum spool_rcpt_state {
	SPOOL_RCPT_PENDING = 0,		/* no outcome yet (never in the log) */
	SPOOL_RCPT_DELIVERED = 1,	/* final */
	SPOOL_RCPT_BOUNCED = 2,		/* final: failed permanently, DSN due */
	SPOOL_RCPT_DEFERRED = 3,	/* temporary failure; retry at until */
	SPOOL_RCPT_WARNED = 4,		/* delay warning sent (not final) */
	SPOOL_RCPT_EXPIRED = 5,		/* final: gave up, DSN due */
	SPOOL_RCPT_NOTIFIED = 6,	/* the DSN for the final state (or
					   the success DSN) is enqueued */
	SPOOL_RCPT_STATE_COUNT
};

#define SPOOL_STATUS_MAX_TEXT	1000
#define SPOOL_STATUS_MAX_LOG	(64u * 1024 * 1024)	/* a larger log is
							   corrupt */

struct spool_status_rec {
	uint32_t	 rcpt;		/* index into spool_env.rcpts */
	enum spool_rcpt_state state;
	uint64_t	 time;		/* when it happened (seconds) */
	uint64_t	 until;		/* DEFERRED: next attempt; else 0 */
	char		 code[8];	/* enhanced status "4.4.1" or "" */
	char		 text[SPOOL_STATUS_MAX_TEXT + 1]; /* diagnostic */
};

/* What replay makes of a log: per recipient, its latest outcome (final
 * states stick: a DELIVERED/BOUNCED/EXPIRED recipient stays so; WARNED and
 * NOTIFIED only set their flag). */
struct spool_rcpt_status {
	enum spool_rcpt_state state;
	bool		 warned;	/* a delay warning went out */
	bool		 notified;	/* its DSN went out */
	unsigned int	 attempts;	/* DEFERRED records seen */
	uint64_t	 time;
	uint64_t	 until;
	char		 code[8];
	char		 text[SPOOL_STATUS_MAX_TEXT + 1];
};

/* "delivered", "bounced", ...; "?" for a bad value. */
const char *spool_rcpt_state_name(enum spool_rcpt_state);
bool	 spool_rcpt_state_final(enum spool_rcpt_state);

/* Encode one record (with its CRC) onto out; -1 on a bad field. */
int	 spool_status_encode(const struct spool_status_rec *, struct str *out)
	    __attribute__((warn_unused_result));
/*
 * Replay a status log image into st[0..nrcpts) (which the caller zeroes:
 * all PENDING).  Records naming a recipient >= nrcpts are corruption.
 * Returns the number of good bytes (the length to keep: a torn tail is
 * after it, *torn_r says so) or SPOOL_ERR_CORRUPT with why.  A missing log
 * is the same as an empty one.
 */
int64_t	 spool_status_replay(const void *buf, size_t len,
	    struct spool_rcpt_status *st, size_t nrcpts, bool *torn_r,
	    char *why, size_t whysize)
	    __attribute__((warn_unused_result));
/* Read and replay the log of id in the status directory dirfd: 0 (also
 * when there is no log), SPOOL_ERR_IO or SPOOL_ERR_CORRUPT. */
int	 spool_status_load(int dirfd, const char *id,
	    struct spool_rcpt_status *st, size_t nrcpts, bool *torn_r,
	    char *why, size_t whysize)
	    __attribute__((warn_unused_result));

/*
 * An open log to append to.  spool_status_open() creates the log if
 * missing (and fsyncs the directory then, so the log itself survives a
 * crash), replays it into st and cuts off a torn tail.
 * spool_status_append() writes one record and, when sync is set, fdatasyncs
 * before returning: call it with sync only after the delivery it records is
 * itself durable.  The runner may append several records with sync false
 * and then call spool_status_sync() once.
 */
struct spool_status_log;

int	 spool_status_open(int dirfd, const char *id,
	    struct spool_rcpt_status *st, size_t nrcpts,
	    struct spool_status_log **log_r, char *why, size_t whysize)
	    __attribute__((warn_unused_result));
int	 spool_status_append(struct spool_status_log *,
	    const struct spool_status_rec *, bool sync, struct fail *)
	    __attribute__((warn_unused_result));
int	 spool_status_sync(struct spool_status_log *, struct fail *)
	    __attribute__((warn_unused_result));
void	 spool_status_close(struct spool_status_log **);
/* Remove the log of id (after the queue file is gone); 0 also when absent. */
int	 spool_status_remove(int dirfd, const char *id);

#endif
