/*
 * accounts.h - local domains, users and aliases: the one module daemons ask
 *
 * "Is this domain ours?", "who is this user, where is their mail, may they
 * log in?", "where does mail for this address go?".  Three maps under
 * STATE/maps (see maps.h for the type:path scheme and concurrency):
 *
 *   domains   key: domain, lower case           value: "1"
 *   users     key: normalised address           value: a user record
 *   aliases   key: normalised address, a bare   value: targets separated
 *             local part (any local domain) or         by commas
 *             "@domain" (catch-all)
 *
 * A fourth map, passwd (config key passwd_map, default
 * "MAP_TYPE:STATE/auth/passwd", mode 0600), holds the secrets, so that the
 * daemons facing clients can read users without reading any hash:
 *
 *   passwd    key: normalised address           value: a secret record
 *
 * A user record is tab-separated and versioned (accounts_user_format()):
 *   "1" TAB hash TAB apop-secret-hex TAB mailbox TAB format TAB quota TAB
 *   enabled
 * and is written with the hash and APOP fields empty: they live in the
 * secret record (accounts_secret_format()):
 *   "1" TAB hash TAB apop-secret-hex
 * A users record written before the split still carries them: readers
 * take them from there when passwd has no record for the user, and the
 * next admin change of that user moves them into passwd.  Readers refuse
 * versions they do not know (a lookup error, not "no such user"), so a
 * newer writer never gets misread.
 *
 * Addresses are normalised before every lookup: the domain is lower-cased,
 * the local part too unless local_part_case_sensitive, and a sub-address
 * ("alice+lists") is cut at the first recipient delimiter character.
 *
 * Every lookup answers 1 found, 0 not found, -1 failed; -1 is a temporary
 * failure for the caller (4xx, [SYS/TEMP], NO [UNAVAILABLE]), never "no such
 * user".  The settings are passed in (struct accounts_conf), so this module
 * does not depend on the config file loader.
 */
#ifndef BUZON_ACCOUNTS_H
#define BUZON_ACCOUNTS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "fail.h"
#include "str.h"

#define ACCOUNTS_LOCAL_MAX	64	/* RFC 5321 4.5.3.1.1 */
#define ACCOUNTS_DOMAIN_MAX	255	/* RFC 5321 4.5.3.1.2 */
#define ACCOUNTS_ADDR_MAX \
	(ACCOUNTS_LOCAL_MAX + 1 + ACCOUNTS_DOMAIN_MAX + 1)	/* NUL too */
/* "DOMAIN/" and a local part of which every byte may take 3 */
#define ACCOUNTS_MAILBOX_NAME_MAX \
	(ACCOUNTS_DOMAIN_MAX + 1 + 3 * ACCOUNTS_LOCAL_MAX)
#define ACCOUNTS_ALIAS_DEPTH	10	/* nested alias expansions */
#define ACCOUNTS_ALIAS_FANOUT	1000	/* addresses one resolve may yield */

struct accounts_conf {
	const char	*state_dir;	/* STATE: STATE/maps, STATE/mail */
	const char	*map_type;	/* "hash" (NULL), "btree" or "lmdb" */
	const char	*recipient_delimiter; /* "+" ; NULL or "": none */
	bool		 local_part_case_sensitive;
	const char	*default_realm;	/* added to bare login names; NULL
					   or "": none */
	const char	*passwd_map;	/* secrets map spec; NULL or "":
					   MAP_TYPE:STATE/auth/passwd */
	bool		 read_secrets;	/* accounts_open(): open the passwd
					   map and hand out hashes and APOP
					   secrets (buzon-auth, admin verbs);
					   false: never (everyone else) */
};

enum accounts_format {
	ACCOUNTS_MAILDIR,
	ACCOUNTS_MBOX,
};

struct accounts_user {
	char		 address[ACCOUNTS_ADDR_MAX];	/* normalised */
	char		 hash[AUTH_HASH_MAX];		/* crypt(3) */
	char		 apop_secret[AUTH_PASS_MAX + 1]; /* "": APOP off */
	char		 mailbox[PATH_MAX];	/* relative to STATE/mail */
	enum accounts_format format;
	uint64_t	 quota;			/* bytes; 0: none */
	bool		 enabled;
};

/* One place mail for an address goes. */
struct accounts_target {
	char		*address;	/* local: the user's address */
	char		*detail;	/* local: the sub-address ("lists" of
					   alice+lists@), or NULL */
	bool		 is_local;	/* a user of ours; false: relay it */
};

struct accounts_targets {
	struct accounts_target *items;
	size_t		 count;
};

struct accounts;

/* ---- syntax and names (no maps needed) ---- */

/* RFC 5321 Mailbox as rfc5321_mailbox_valid() with RFC5321_UTF8 takes it
 * (the same grammar smtpd parses paths with; UTF-8 local parts and
 * U-labels allowed, RFC 6531); allow_literal also takes "[192.0.2.1]" and
 * "[IPv6:...]" as the domain. */
bool	 accounts_address_valid(const char *, bool allow_literal);
/* Is the local part of address (before its last '@') at most
 * ACCOUNTS_LOCAL_MAX octets, as users and aliases we create must be?
 * Lookups take longer ones (they are simply not found). */
bool	 accounts_local_fits(const char *address);
/* RFC 5321 Domain (rfc5321_domain_valid() with RFC5321_UTF8): labels of
 * at most 63 octets, at most 255 in all; no address literal. */
bool	 accounts_domain_valid(const char *);
/* Normalise address into out (ACCOUNTS_ADDR_MAX): domain lower-cased,
 * local part lower-cased unless case-sensitive, sub-address cut unless
 * keep_detail.  Case folding is ASCII only: UTF-8 characters (local part
 * and U-labels) are kept and compared as given.  0, or -1 when address is
 * not valid RFC 5321. */
int	 accounts_normalize(const struct accounts_conf *, const char *address,
	    bool keep_detail, char *out, size_t outsize)
	    __attribute__((warn_unused_result));
/* The account a login name means, into out (ACCOUNTS_ADDR_MAX): a name
 * without "@" gets "@" default_realm (when set), then it is normalised as
 * above, sub-address cut ("alice+1@" is alice@).  0, or -1 when it is no
 * address.  Logins, throttle records and lookups all use this one form. */
int	 accounts_login_name(const struct accounts_conf *, const char *name,
	    char *out, size_t outsize) __attribute__((warn_unused_result));
/* "type:STATE/maps/NAME" for name "domains", "users" or "aliases";
 * for "passwd" the passwd_map setting when one is given. */
int	 accounts_map_spec(const struct accounts_conf *, const char *name,
	    char *out, size_t outsize) __attribute__((warn_unused_result));
/*
 * The mailbox of a normalised address, relative to STATE/mail:
 * "DOMAIN/NAME", where NAME is the local part as one path component:
 * every byte kept but '/', '%', a leading '.', space, control and
 * non-ASCII bytes, which become "%XX" (upper-case hex).  So NAME is never
 * ".", ".." or hidden, never holds a '/', and two addresses never share
 * one (the encoding is one to one); a plain name such as "alice" is
 * itself.  At most ACCOUNTS_MAILBOX_NAME_MAX bytes.  0, or -1 when
 * address has no local part or no valid domain, or out is too small.
 */
int	 accounts_mailbox_name(const char *address, char *out,
	    size_t outsize) __attribute__((warn_unused_result));
/* The absolute path of u's mailbox: STATE/mail/ and the
 * accounts_mailbox_name() of u->address (the record's mailbox field is
 * not used).  0 or -1. */
int	 accounts_mail_path(const struct accounts_conf *,
	    const struct accounts_user *, char *out, size_t outsize)
	    __attribute__((warn_unused_result));

/* ---- user records ---- */

/* Fill u with the defaults for a new user at a normalised address:
 * mailbox accounts_mailbox_name(), Maildir, no quota, enabled, no hash. */
void	 accounts_user_init(struct accounts_user *, const char *address);
/* Serialise u into out (cleared first).  0, or -1 when a field holds a
 * tab or newline or does not fit. */
int	 accounts_user_format(const struct accounts_user *, struct str *out)
	    __attribute__((warn_unused_result));
/* Parse a record; u->address is left alone.  0, or -1 (unknown version,
 * wrong field count, bad value). */
int	 accounts_user_parse(const char *val, size_t len,
	    struct accounts_user *) __attribute__((warn_unused_result));
/* Serialise u's secrets (hash, APOP secret) as a passwd record into out
 * (cleared first).  0, or -1 when the hash holds a tab or newline. */
int	 accounts_secret_format(const struct accounts_user *, struct str *out)
	    __attribute__((warn_unused_result));
/* Parse a passwd record into u->hash and u->apop_secret (nothing else is
 * touched).  0, or -1 (unknown version, wrong field count, bad hex). */
int	 accounts_secret_parse(const char *val, size_t len,
	    struct accounts_user *) __attribute__((warn_unused_result));
/* Create u's mailbox: Maildir (cur, new, tmp) with the Maildir++ folders
 * .Sent .Drafts .Trash .Junk, or a directory of mbox files INBOX, Sent,
 * Drafts, Trash, Junk.  Existing parts are kept.  Made by root, the tree
 * is given to the owner of STATE/mail.  Every directory from STATE down
 * to the mailbox and its folders is fsync'd, so a new domain's directory
 * survives a crash too.  0, or -1 with a message in err. */
int	 accounts_mailbox_create(const struct accounts_conf *,
	    const struct accounts_user *, char *err, size_t errsize);

/* ---- lookups ---- */

/* Open the maps read-only (missing ones are empty): domains, users,
 * aliases, and passwd if conf->read_secrets.  Lookups fill a user's
 * hash and APOP secret from passwd (or from a users record that still
 * holds them); without read_secrets they are always empty.  The conf is
 * copied.  NULL with a message in err. */
struct accounts *accounts_open(const struct accounts_conf *, char *err,
	    size_t errsize);
void	 accounts_close(struct accounts **);
const struct accounts_conf *accounts_conf(const struct accounts *);

/* Is domain (any case) one of ours?  1/0/-1. */
int	 accounts_is_local_domain(struct accounts *, const char *domain)
	    __attribute__((warn_unused_result));
/* Look up the user an address names (normalised first).  1 with u
 * filled, 0 no such user (or not a valid address), -1 failed. */
int	 accounts_user_lookup(struct accounts *, const char *address,
	    struct accounts_user *u) __attribute__((warn_unused_result));
/* The same for a login name (accounts_login_name(): the default realm
 * applies). */
int	 accounts_login_lookup(struct accounts *, const char *name,
	    struct accounts_user *u) __attribute__((warn_unused_result));
/* Check a login: 1 the password is right and the user is enabled (u
 * filled), 0 refused (unknown user, wrong password and disabled user all
 * look the same and cost the same), -1 failed (tempfail). */
int	 accounts_login(struct accounts *, const char *address,
	    const char *password, struct accounts_user *u)
	    __attribute__((warn_unused_result));
/* Same for APOP: 0 also when the user has no APOP secret. */
int	 accounts_login_apop(struct accounts *, const char *address,
	    const char *timestamp, const char *digest, struct accounts_user *u)
	    __attribute__((warn_unused_result));

enum accounts_auth_result {
	ACCOUNTS_AUTH_OK,	/* logged in; u filled */
	ACCOUNTS_AUTH_FAILED,	/* wrong credentials (or unknown, disabled) */
	ACCOUNTS_AUTH_THROTTLED,	/* refused for now: too many failures */
	ACCOUNTS_AUTH_TEMPFAIL,	/* a map lookup failed */
};

/*
 * A login in three steps, so that the slow middle one can run on another
 * thread (buzon-auth's workers) while the first and last, which use the
 * maps and the throttle, stay on the loop:
 *
 * accounts_auth_begin(): the user lookup and the throttle reservation
 * (keyed by the account as accounts_login_name() gives it; t may be NULL:
 * no throttling; ip is the peer's address).  OK: go on to the check,
 * at->delay_ms set; THROTTLED or TEMPFAIL: answer that now, at wiped.
 *
 * accounts_auth_check(): the password (or, with apop_timestamp set, the
 * APOP digest in secret) check; an unknown user costs a dummy hash.  It
 * touches only at, so any thread may run it.  true: right and enabled.
 * at's secrets are wiped either way.
 *
 * accounts_auth_end(): the throttle's finish.  OK (at->u filled, without
 * secrets) or FAILED.
 *
 * Whatever the result, the answer waits at->delay_ms (on a timer, never in
 * a sleep).  THROTTLED and TEMPFAIL are temporary errors for the client;
 * FAILED is the one "authentication failed".
 */
struct accounts_attempt {
	struct accounts_user		 u;	/* found: with its secrets */
	bool				 found;
	char				 account[ACCOUNTS_ADDR_MAX];
					/* normalised; "": no address */
	struct auth_throttle_ticket	 ticket;
	bool				 has_ticket;
	uint64_t			 delay_ms;
};

enum accounts_auth_result accounts_auth_begin(struct accounts *,
	    struct auth_throttle *t, const char *ip, const char *user,
	    struct accounts_attempt *at);
bool	 accounts_auth_check(struct accounts_attempt *, const char *secret,
	    const char *apop_timestamp);
enum accounts_auth_result accounts_auth_end(struct auth_throttle *t,
	    struct accounts_attempt *, bool verified);
/* The three in one, on this thread (tools and tests): u filled on OK,
 * *delay_ms_r the delay. */
enum accounts_auth_result accounts_authenticate(struct accounts *,
	    struct auth_throttle *t, const char *ip, const char *user,
	    const char *secret, const char *apop_timestamp,
	    struct accounts_user *u, uint64_t *delay_ms_r);

/*
 * Where mail for address goes, after aliases.  Rules, for each address:
 * an alias for the exact address (with its sub-address, then without),
 * for a local domain an alias for the bare local part, then the user of
 * that name, then the domain's "@domain" catch-all; an address in a domain
 * that is not ours is a remote target.  An alias naming itself (alice:
 * alice, archive) means the user alice.  Expansion stops at
 * ACCOUNTS_ALIAS_DEPTH nesting levels and ACCOUNTS_ALIAS_FANOUT targets,
 * duplicates are dropped, and a target that is no user is skipped (logged).
 * Returns 1 with t filled (release it), 0 no such local address, -1 with
 * f filled: temporary (a lookup failed) or permanent (loop, too deep, too
 * many, bad syntax).
 */
int	 accounts_resolve(struct accounts *, const char *address,
	    struct accounts_targets *t, struct fail *f)
	    __attribute__((warn_unused_result));
void	 accounts_targets_release(struct accounts_targets *);

/*
 * ---- changes, for the admin verbs ----
 * Each is one map edit (maps_edit_begin ... commit): serialised with other
 * writers, invisible to readers until complete.  0, or -1 with a message
 * for the admin in err ("unknown domain example.org", "user ... exists").
 */

enum accounts_user_op {
	ACCOUNTS_SET_HASH,	/* arg: crypt(3) hash */
	ACCOUNTS_ENABLE,
	ACCOUNTS_DISABLE,
	ACCOUNTS_SET_APOP,	/* arg: secret */
	ACCOUNTS_CLEAR_APOP,
};

int	 accounts_domain_add(const struct accounts_conf *, const char *domain,
	    char *err, size_t errsize) __attribute__((warn_unused_result));
/* Refused while users or aliases of the domain remain. */
int	 accounts_domain_del(const struct accounts_conf *, const char *domain,
	    char *err, size_t errsize) __attribute__((warn_unused_result));
/* Add u (u->address normalised, in a local domain, not yet a user). */
int	 accounts_user_add(const struct accounts_conf *,
	    const struct accounts_user *, char *err, size_t errsize)
	    __attribute__((warn_unused_result));
/* Remove the user (not the mailbox, which the admin removes by hand). */
int	 accounts_user_del(const struct accounts_conf *, const char *address,
	    char *err, size_t errsize) __attribute__((warn_unused_result));
int	 accounts_user_change(const struct accounts_conf *, const char *address,
	    enum accounts_user_op, const char *arg, char *err, size_t errsize)
	    __attribute__((warn_unused_result));
/* Move the secrets that users records written before the passwd map
 * existed still carry into the passwd map, and rewrite those records
 * without them.  A passwd record already there wins (it is newer).  Both
 * maps change or neither.  *moved_r (may be NULL) gets the number of
 * records rewritten; 0 with nothing to do.  0, or -1 with err. */
int	 accounts_secrets_migrate(const struct accounts_conf *,
	    unsigned int *moved_r, char *err, size_t errsize)
	    __attribute__((warn_unused_result));
/* Normalise an alias source ("local", "local@domain", "@domain") into out.
 * 0 or -1 (bad syntax). */
int	 accounts_alias_key(const struct accounts_conf *, const char *source,
	    char *out, size_t outsize) __attribute__((warn_unused_result));
/* Add targets (comma-separated addresses) to source's alias, creating it;
 * targets already there are not repeated. */
int	 accounts_alias_add(const struct accounts_conf *, const char *source,
	    const char *targets, char *err, size_t errsize)
	    __attribute__((warn_unused_result));
/* Remove one target (target non-NULL) or the whole alias. */
int	 accounts_alias_del(const struct accounts_conf *, const char *source,
	    const char *target, char *err, size_t errsize)
	    __attribute__((warn_unused_result));

#endif
