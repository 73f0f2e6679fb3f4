/*
 * auth.h - password hashes, SASL PLAIN and LOGIN, APOP, failed-login
 * throttling
 *
 * What smtpd, pop3d and imapd share to check credentials.  This module
 * knows nothing about where users live: accounts.h looks users up and
 * calls these (accounts_login()).  A later auth backend (PAM) would sit
 * beside accounts_login() and use the SASL and throttle parts unchanged.
 *
 * Secrets that pass through here (passwords, SASL buffers, APOP secrets)
 * are wiped when done with; none is ever logged.
 */
#ifndef BUZON_AUTH_H
#define BUZON_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- password hashes: crypt(3) from libxcrypt ---- */

#define AUTH_HASH_MAX	384	/* CRYPT_OUTPUT_SIZE, NUL included */

enum auth_hash_scheme {
	AUTH_HASH_YESCRYPT,	/* "$y$", the default */
	AUTH_HASH_SHA512,	/* "$6$", accepted and available */
};

/* Hash password with a fresh random salt into out (AUTH_HASH_MAX bytes).
 * 0, or -1 if libcrypt fails (no entropy, unsupported scheme). */
int	 auth_hash_password(const char *password, enum auth_hash_scheme,
	    char *out, size_t outsize) __attribute__((warn_unused_result));
/* Whether a stored hash is of a scheme we verify ("$y$" or "$6$"). */
bool	 auth_hash_supported(const char *hash);
/* Check password against hash in constant time (CRYPTO_memcmp of crypt_r
 * output).  hash NULL (unknown user) or unsupported: a dummy yescrypt hash
 * is checked instead so the answer (false) takes the same time. */
bool	 auth_verify_password(const char *password, const char *hash);

/* ---- APOP (RFC 1939 section 7) ---- */

#define AUTH_APOP_DIGEST_LEN	32	/* hex MD5 */

/* out (at least AUTH_APOP_DIGEST_LEN + 1) = lowercase hex
 * MD5(timestamp secret).  0 or -1. */
int	 auth_apop_digest(const char *timestamp, const char *secret, char *out,
	    size_t outsize) __attribute__((warn_unused_result));
/* Compare the client's digest (hex, either case) with the one secret
 * gives, in constant time.  secret NULL (unknown user, APOP not enabled):
 * a dummy is used and the answer is false. */
bool	 auth_apop_verify(const char *timestamp, const char *secret,
	    const char *digest);

/* ---- SASL server side: PLAIN (RFC 4616) and LOGIN ---- */

#define AUTH_ID_MAX		255	/* authcid / authzid bytes */
#define AUTH_PASS_MAX		1023	/* password bytes */
#define AUTH_SASL_LINE_MAX	4096	/* base64 chars in one response */

enum auth_sasl_mech {
	AUTH_SASL_PLAIN = 1,
	AUTH_SASL_LOGIN,
};

enum auth_sasl_result {
	AUTH_SASL_CONTINUE,	/* send *challenge_r (base64; "" for none) */
	AUTH_SASL_DONE,		/* authcid and passwd are ready to check */
	AUTH_SASL_CANCELLED,	/* client sent "*" (RFC 4422 3.5) */
	AUTH_SASL_BAD,		/* malformed; error says why (peer-safe) */
};

struct auth_sasl {
	enum auth_sasl_mech mech;
	int		 step;
	const char	*error;			/* static text after BAD */
	bool		 owes_passwd;	/* LOGIN: the password line is yet
					   to come, even after BAD or "*"
					   (a client may send it anyway):
					   trace the next line masked */
	char		 authzid[AUTH_ID_MAX + 1];
	char		 authcid[AUTH_ID_MAX + 1];
	char		 passwd[AUTH_PASS_MAX + 1];
};

/* The mechanisms we offer, for EHLO / CAPA / CAPABILITY: "PLAIN LOGIN". */
#define AUTH_SASL_MECHS	"PLAIN LOGIN"

/* Mechanism by name, any case: 0, or -1 if we do not offer it. */
int	 auth_sasl_mech_parse(const char *name, enum auth_sasl_mech *r)
	    __attribute__((warn_unused_result));

/* Start an exchange.  initial is the initial response from the command
 * line (RFC 4954, 5034, 4959), NULL when none was given; "=" means an empty
 * one.  The challenge (borrowed, static) goes in *challenge_r when the
 * result is CONTINUE.  PLAIN without initial response asks with an empty
 * challenge; LOGIN asks "VXNlcm5hbWU6" (Username:) then "UGFzc3dvcmQ6"
 * (Password:), and takes an initial response as the user name. */
enum auth_sasl_result auth_sasl_begin(struct auth_sasl *,
	    enum auth_sasl_mech, const char *initial, const char **challenge_r);
/* Feed one client response line (base64, no CRLF; len bytes).  "*"
 * cancels.  Lines over AUTH_SASL_LINE_MAX, bad base64, missing or extra
 * NULs, empty names, too long fields, and a PLAIN authzid other than empty
 * or the authcid (we do not let one user act for another) give BAD. */
enum auth_sasl_result auth_sasl_step(struct auth_sasl *, const char *line,
	    size_t len, const char **challenge_r);
/* Wipe everything (call after every exchange, whatever the result). */
void	 auth_sasl_release(struct auth_sasl *);

/* ---- failed-login throttling, shared by all processes ---- */

/*
 * State lives in one small file (STATE/run/auth_throttle) of fixed-size
 * slots, read and written under an fcntl lock, so every daemon and every
 * connection counts the same failures.  There are two counters per
 * attempt: one for the user name, one for the client IP.  After n
 * failures (n >= 1) an answer waits failure_delay * 2^(n-1), at most
 * max_delay.  A user reaching max_failures (an IP reaching 3 times that,
 * since many users may share one address) is refused outright until
 * lockout_time has passed since the last failure; a counter with no
 * failure for lockout_time starts again from zero.  A success clears the
 * user's counter, not the IP's.
 */
struct auth_throttle_conf {
	uint64_t	 failure_delay;	/* ms, delay after the first failure */
	uint64_t	 max_delay;	/* ms */
	unsigned int	 max_failures;	/* 0: never refuse */
	uint64_t	 lockout_time;	/* ms */
};

#define AUTH_THROTTLE_OK	0
#define AUTH_THROTTLE_REFUSE	1

struct auth_throttle;

/* Open (creating if needed) the state file.  NULL with a message in err. */
struct auth_throttle *auth_throttle_open(const char *path,
	    const struct auth_throttle_conf *, char *err, size_t errsize);
void	 auth_throttle_close(struct auth_throttle **);
/* Before checking a password: AUTH_THROTTLE_OK with *delay_ms_r set (wait
 * that long before answering, whatever the result), AUTH_THROTTLE_REFUSE
 * (answer a temporary failure without checking), or -1 if the state file
 * failed (callers go on with delay failure_delay: fail safe, not open).
 * ip and user may be NULL or "" when unknown; peer text is fine (it is
 * sanitised before logging). */
int	 auth_throttle_check(struct auth_throttle *, const char *ip,
	    const char *user, uint64_t *delay_ms_r)
	    __attribute__((warn_unused_result));
/* After the check: count a failure or clear the user's count.  0 or -1. */
int	 auth_throttle_record(struct auth_throttle *, const char *ip,
	    const char *user, bool ok);

#endif
