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

/*
 * The continuation exchange as every protocol runs it: after
 * auth_sasl_begin() or auth_sasl_step(), auth_sasl_advance() sends the
 * challenge behind the protocol's prompt ("334 " for SMTP, "+ " for POP3
 * and IMAP) and asks for the next line, or ends the exchange and calls
 * the matching handler.  Handlers are called after wait(false), so they
 * may start a new command.
 */
struct auth_sasl_ops {
	const char	*prompt;	/* "334 ", "+ " */
	/* Queue one reply line (no CRLF). */
	void		(*reply)(void *sess, const char *line);
	/* more: the next client line is a SASL response (trace it masked);
	 * false: back to commands. */
	void		(*wait)(void *sess, bool more);
	void		(*done)(void *sess, struct auth_sasl *);
	void		(*cancelled)(void *sess);
	void		(*bad)(void *sess, const char *why);
};

void	 auth_sasl_advance(const struct auth_sasl_ops *, void *sess,
	    struct auth_sasl *, enum auth_sasl_result, const char *challenge);

/* ---- failed-login throttling, shared by all processes ---- */

/*
 * Penalise the failures, not the honest (docs/accounts.md "Failed
 * logins").  Every attempt counts on two records: one for the pair
 * (client address, normalised account), one for the address alone.
 *
 * A pair that has failed n times answers its next attempt no sooner than
 * failure_delay * 2^(n-1) (at most max_delay) after the last one: 2, 4,
 * 8, 15 s with the defaults.  A correct password for another account from
 * the same address does not wait.  Attempts are counted when reserved,
 * before the password is checked, and the answers of one pair are spaced
 * one after the other: an attempt that would have to wait longer than
 * max_delay is refused without a check, so parallel attempts gain little.
 * The one exception: a pair with no failure on record (only attempts in
 * flight) answers up to five at once (is_burst), for clients that open
 * several connections together; they set the schedule as failures
 * would, and a failure among them sets it again at its finish.
 * An address past address_max_failures (spraying many accounts) has its
 * own such schedule over all its attempts.  A record with no attempt for
 * penalty_time is forgotten; a success clears the pair and takes one off
 * the address.  Nothing ever refuses a correct password for longer than
 * that: an attacker elsewhere cannot lock a user out.  Addresses in
 * trusted networks are exempt.
 *
 * State lives in one file (STATE/run/auth_throttle) of fixed-size slots,
 * read and written under an fcntl lock, so every daemon and connection
 * sees the same counts.  Records are found by a keyed hash (a random key
 * in the file), so a client cannot choose names that land on another's
 * record; a full bucket never gives up a live record of a real account to
 * a new one: the new attempt waits max_delay instead (fail closed).
 */

/* The clock, in ms since the epoch (tests inject their own). */
typedef uint64_t	auth_throttle_clock_fn(void);

struct auth_throttle_conf {
	uint64_t	 failure_delay;	/* ms, wait after the first failure */
	uint64_t	 max_delay;	/* ms, the longest wait */
	uint64_t	 penalty_time;	/* ms, a quiet record is forgotten */
	unsigned int	 address_max_failures;	/* 0: no address schedule */
	char *const	*trusted;	/* networks exempt ("192.0.2.0/24") */
	size_t		 ntrusted;
	auth_throttle_clock_fn *clock;	/* NULL: CLOCK_REALTIME */
};

#define AUTH_THROTTLE_OK	0
#define AUTH_THROTTLE_REFUSE	1

/* One reserved attempt, from auth_throttle_reserve() to _finish(). */
struct auth_throttle_ticket {
	uint64_t	 pair;		/* record keys; 0: none kept */
	uint64_t	 address;
	uint64_t	 delay_ms;	/* answer no sooner than this */
	bool		 is_exempt;	/* trusted network */
	bool		 is_burst;	/* let through at once (no failure on
					   record); its failure sets the
					   pair's schedule at finish */
};

struct auth_throttle;

/* Open (creating if needed) the state file.  NULL with a message in err.
 * conf is copied, the trusted networks too. */
struct auth_throttle *auth_throttle_open(const char *path,
	    const struct auth_throttle_conf *, char *err, size_t errsize);
void	 auth_throttle_close(struct auth_throttle **);
/* Before checking a password: count the attempt of ip (numeric, may be
 * NULL or "") for account (normalised by the caller; "" for a name that
 * is no address), is_known telling whether the account exists.
 * AUTH_THROTTLE_OK with tk->delay_ms set (answer no sooner, whatever the
 * result), AUTH_THROTTLE_REFUSE (answer a temporary failure at once and
 * check nothing), or -1 if the state file failed (tk->delay_ms is then
 * failure_delay: fail safe, not open). */
int	 auth_throttle_reserve(struct auth_throttle *, const char *ip,
	    const char *account, bool is_known, struct auth_throttle_ticket *tk)
	    __attribute__((warn_unused_result));
/* After the check: a success clears the pair and takes the attempt off the
 * address; a failure stays counted.  0 or -1. */
int	 auth_throttle_finish(struct auth_throttle *,
	    const struct auth_throttle_ticket *, bool ok);
/* The delay after n failures: 0, failure_delay, doubling, max_delay. */
uint64_t auth_throttle_delay(const struct auth_throttle_conf *,
	    uint32_t failures);

#endif
