/* SPDX-License-Identifier: MIT */
/*
 * accounts.c - domain, user and alias lookups, logins, alias resolution
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "auth.h"
#include "log.h"
#include "maps.h"
#include "mem.h"
#include "str.h"

struct accounts {
	struct accounts_conf	 conf;
	char			*state_dir;
	char			*map_type;
	char			*delimiter;
	char			*realm;
	struct maps		*domains;
	struct maps		*users;
	struct maps		*aliases;
	struct maps		*passwd;	/* NULL: no read_secrets */
	char			*passwd_map;
};

int
accounts_map_spec(const struct accounts_conf *c, const char *name, char *out,
    size_t outsize)
{
	if (strcmp(name, "passwd") == 0 && c->passwd_map != NULL &&
	    c->passwd_map[0] != '\0')
		return str_copy(out, c->passwd_map, outsize) ? 0 : -1;
	/* The passwd map lives apart from the maps the daemons read, in
	 * STATE/auth/ (mode 0700), so a daemon's sandbox can allow maps/ as
	 * a whole and still never reach a hash. */
	return str_printf(out, outsize, "%s:%s/%s/%s",
	    c->map_type != NULL ? c->map_type : "hash", c->state_dir,
	    strcmp(name, "passwd") == 0 ? "auth" : "maps", name) ? 0 : -1;
}

static struct maps *
accounts_map_open(const struct accounts_conf *c, const char *name, char *err,
    size_t errsize)
{
	char	 spec[PATH_MAX];

	if (accounts_map_spec(c, name, spec, sizeof(spec)) == -1) {
		(void)str_printf(err, errsize, "state_dir too long");
		return NULL;
	}
	return maps_open(spec, MAPS_F_MISSING_OK, err, errsize);
}

struct accounts *
accounts_open(const struct accounts_conf *c, char *err, size_t errsize)
{
	struct accounts	*a;

	a = xcalloc(1, sizeof(*a));
	a->state_dir = xstrdup(c->state_dir);
	a->map_type = xstrdup(c->map_type != NULL ? c->map_type : "hash");
	a->delimiter = xstrdup(c->recipient_delimiter != NULL ?
	    c->recipient_delimiter : "");
	a->realm = xstrdup(c->default_realm != NULL ? c->default_realm : "");
	a->conf.default_realm = a->realm;
	a->conf.state_dir = a->state_dir;
	a->conf.map_type = a->map_type;
	a->conf.recipient_delimiter = a->delimiter;
	a->conf.local_part_case_sensitive = c->local_part_case_sensitive;
	a->passwd_map = xstrdup(c->passwd_map != NULL ? c->passwd_map : "");
	a->conf.passwd_map = a->passwd_map;
	a->conf.read_secrets = c->read_secrets;
	if ((a->domains = accounts_map_open(c, "domains", err, errsize)) ==
	    NULL || (a->users = accounts_map_open(c, "users", err, errsize)) ==
	    NULL || (a->aliases = accounts_map_open(c, "aliases", err,
	    errsize)) == NULL || (c->read_secrets &&
	    (a->passwd = accounts_map_open(c, "passwd", err, errsize)) ==
	    NULL)) {
		accounts_close(&a);
		return NULL;
	}
	return a;
}

void
accounts_close(struct accounts **ap)
{
	struct accounts	*a = *ap;

	if (a == NULL)
		return;
	maps_close(&a->domains);
	maps_close(&a->users);
	maps_close(&a->aliases);
	maps_close(&a->passwd);
	free(a->passwd_map);
	free(a->state_dir);
	free(a->map_type);
	free(a->delimiter);
	free(a->realm);
	free(a);
	*ap = NULL;
}

const struct accounts_conf *
accounts_conf(const struct accounts *a)
{
	return &a->conf;
}

static void
lookup_failed(struct accounts *a, struct maps *m, const char *what)
{
	(void)a;
	log_error(NULL, "map lookup failed map=%s what=%s", maps_name(m), what);
}

int
accounts_is_local_domain(struct accounts *a, const char *domain)
{
	char		 d[ACCOUNTS_DOMAIN_MAX + 1];
	struct str	 v;
	int		 rc;

	if (!str_copy(d, domain, sizeof(d)))
		return 0;
	str_lower(d);
	str_init(&v, MAPS_VALUE_MAX);
	rc = maps_lookup(a->domains, d, &v);
	str_release(&v);
	if (rc == MAPS_ERROR)
		lookup_failed(a, a->domains, "domain");
	return rc;
}

/* The secrets of a found user: the passwd record when there is one,
 * else what an old users record holds.  1 or -1 (u wiped). */
static int
secret_get(struct accounts *a, const char *norm, struct accounts_user *u)
{
	struct str	 v;
	int		 rc;

	if (a->passwd == NULL) {
		mem_wipe(u->hash, sizeof(u->hash));
		mem_wipe(u->apop_secret, sizeof(u->apop_secret));
		return MAPS_FOUND;
	}
	str_init(&v, MAPS_VALUE_MAX);
	rc = maps_lookup(a->passwd, norm, &v);
	if (rc == MAPS_FOUND) {
		mem_wipe(u->hash, sizeof(u->hash));
		mem_wipe(u->apop_secret, sizeof(u->apop_secret));
		if (accounts_secret_parse(v.data, v.len, u) == -1) {
			log_error(NULL, "bad passwd record map=%s user=%s",
			    maps_name(a->passwd), norm);
			rc = MAPS_ERROR;
		}
	} else if (rc == MAPS_NOTFOUND)
		rc = MAPS_FOUND;	/* an old record: secrets in users */
	else
		lookup_failed(a, a->passwd, "passwd");
	str_release_secret(&v);
	if (rc == MAPS_ERROR)
		mem_wipe(u, sizeof(*u));
	return rc;
}

/* Users map lookup by normalised address. */
static int
user_get(struct accounts *a, const char *norm, struct accounts_user *u)
{
	struct str	 v;
	int		 rc;

	str_init(&v, MAPS_VALUE_MAX);
	rc = maps_lookup(a->users, norm, &v);
	if (rc == MAPS_FOUND) {
		memset(u, 0, sizeof(*u));
		(void)str_copy(u->address, norm, sizeof(u->address));
		if (accounts_user_parse(v.data, v.len, u) == -1) {
			log_error(NULL, "bad user record map=%s user=%s",
			    maps_name(a->users), norm);
			mem_wipe(u, sizeof(*u));
			rc = MAPS_ERROR;
		}
	} else if (rc == MAPS_ERROR)
		lookup_failed(a, a->users, "user");
	str_release_secret(&v);
	if (rc == MAPS_FOUND)
		rc = secret_get(a, norm, u);
	return rc;
}

int
accounts_user_lookup(struct accounts *a, const char *address,
    struct accounts_user *u)
{
	char	 norm[ACCOUNTS_ADDR_MAX];

	if (accounts_normalize(&a->conf, address, false, norm, sizeof(norm))
	    == -1)
		return 0;
	return user_get(a, norm, u);
}

int
accounts_login_lookup(struct accounts *a, const char *name,
    struct accounts_user *u)
{
	char	 norm[ACCOUNTS_ADDR_MAX];

	if (accounts_login_name(&a->conf, name, norm, sizeof(norm)) == -1)
		return 0;
	return user_get(a, norm, u);
}

/* The check once the user is looked up (found: 1 or 0).  Unknown users
 * cost a dummy hash: same time, same answer.  1 or 0; u wiped on 0. */
static int
login_verify(int found, const char *secret, const char *apop_timestamp,
    struct accounts_user *u)
{
	bool	 ok;

	if (apop_timestamp != NULL)
		ok = auth_apop_verify(apop_timestamp, found == 1 &&
		    u->apop_secret[0] != '\0' ? u->apop_secret : NULL, secret);
	else
		ok = auth_verify_password(secret, found == 1 ? u->hash : NULL);
	if (found == 1 && ok && u->enabled)
		return 1;
	if (found == 1)
		mem_wipe(u, sizeof(*u));
	return 0;
}

int
accounts_login(struct accounts *a, const char *address, const char *password,
    struct accounts_user *u)
{
	int	 rc;

	if ((rc = accounts_login_lookup(a, address, u)) == -1)
		return -1;
	return login_verify(rc, password, NULL, u);
}

int
accounts_login_apop(struct accounts *a, const char *address,
    const char *timestamp, const char *digest, struct accounts_user *u)
{
	int	 rc;

	if ((rc = accounts_login_lookup(a, address, u)) == -1)
		return -1;
	return login_verify(rc, digest, timestamp, u);
}

enum accounts_auth_result
accounts_auth_begin(struct accounts *a, struct auth_throttle *t,
    const char *ip, const char *user, struct accounts_attempt *at)
{
	int	 found;

	memset(at, 0, sizeof(*at));
	if (accounts_login_name(&a->conf, user, at->account,
	    sizeof(at->account)) == -1)
		at->account[0] = '\0';	/* no address: one record for all */
	found = at->account[0] != '\0' ? user_get(a, at->account, &at->u) : 0;
	if (found == -1) {
		mem_wipe(at, sizeof(*at));
		return ACCOUNTS_AUTH_TEMPFAIL;
	}
	at->found = found == 1;
	if (t == NULL)
		return ACCOUNTS_AUTH_OK;
	/* Counted before the check: parallel tries gain nothing. */
	switch (auth_throttle_reserve(t, ip, at->account, at->found,
	    &at->ticket)) {
	case AUTH_THROTTLE_OK:
		break;
	case AUTH_THROTTLE_REFUSE:
		mem_wipe(at, sizeof(*at));
		return ACCOUNTS_AUTH_THROTTLED;
	default:
		/* The ticket holds the base delay: go on. */
		log_warn(NULL, "auth throttle state unusable");
		break;
	}
	at->has_ticket = true;
	at->delay_ms = at->ticket.delay_ms;
	return ACCOUNTS_AUTH_OK;
}

bool
accounts_auth_check(struct accounts_attempt *at, const char *secret,
    const char *apop_timestamp)
{
	bool	 ok;

	ok = login_verify(at->found ? 1 : 0, secret, apop_timestamp,
	    &at->u) == 1;
	mem_wipe(at->u.hash, sizeof(at->u.hash));
	mem_wipe(at->u.apop_secret, sizeof(at->u.apop_secret));
	return ok;
}

enum accounts_auth_result
accounts_auth_end(struct auth_throttle *t, struct accounts_attempt *at,
    bool verified)
{
	if (t != NULL && at->has_ticket)
		(void)auth_throttle_finish(t, &at->ticket, verified);
	return verified ? ACCOUNTS_AUTH_OK : ACCOUNTS_AUTH_FAILED;
}

enum accounts_auth_result
accounts_authenticate(struct accounts *a, struct auth_throttle *t,
    const char *ip, const char *user, const char *secret,
    const char *apop_timestamp, struct accounts_user *u,
    uint64_t *delay_ms_r)
{
	struct accounts_attempt		*at = xmalloc(sizeof(*at));
	enum accounts_auth_result	 r;

	*delay_ms_r = 0;
	r = accounts_auth_begin(a, t, ip, user, at);
	if (r == ACCOUNTS_AUTH_OK) {
		*delay_ms_r = at->delay_ms;
		r = accounts_auth_end(t, at, accounts_auth_check(at, secret,
		    apop_timestamp));
		if (r == ACCOUNTS_AUTH_OK)
			*u = at->u;
	}
	mem_wipe(at, sizeof(*at));
	free(at);
	return r;
}

/* ---- alias resolution ---- */

struct resolve {
	struct accounts		*a;
	struct accounts_targets	*t;
	struct fail		*f;
	const char		*chain[ACCOUNTS_ALIAS_DEPTH + 2];
	size_t			 depth;
};

static bool
in_chain(const struct resolve *r, const char *key)
{
	size_t	 i;

	for (i = 0; i < r->depth; i++)
		if (strcmp(r->chain[i], key) == 0)
			return true;
	return false;
}

static int
add_target(struct resolve *r, const char *address, const char *detail,
    bool is_local)
{
	struct accounts_targets *t = r->t;
	size_t	 i;

	for (i = 0; i < t->count; i++)
		if (strcmp(t->items[i].address, address) == 0)
			return 0;
	if (t->count >= ACCOUNTS_ALIAS_FANOUT)
		return fail_set(r->f, false, "5.4.6",
		    "alias expansion has too many targets");
	t->items = xreallocarray(t->items, t->count + 1, sizeof(*t->items));
	t->items[t->count].address = xstrdup(address);
	t->items[t->count].detail = detail != NULL && *detail != '\0' ?
	    xstrdup(detail) : NULL;
	t->items[t->count].is_local = is_local;
	t->count++;
	return 0;
}

static int	expand(struct resolve *, const char *address);

/* Expand the targets of alias key (value val): comma-separated list. */
static int
expand_alias(struct resolve *r, const char *key, const char *val)
{
	char	*list, *p, *next, *tgt;
	int	 rc = 0;

	if (r->depth > ACCOUNTS_ALIAS_DEPTH)
		return fail_set(r->f, false, "5.4.6",
		    "alias nesting deeper than %d", ACCOUNTS_ALIAS_DEPTH);
	list = xstrdup(val);
	r->chain[r->depth++] = key;
	for (p = list; p != NULL && rc != -1; p = next) {
		if ((next = strchr(p, ',')) != NULL)
			*next++ = '\0';
		tgt = str_trim(p);
		if (*tgt == '\0')
			continue;
		if ((rc = expand(r, tgt)) == 0)
			log_warn(NULL, "alias target is no user alias=%s "
			    "target=%s", key, tgt);
	}
	r->depth--;
	free(list);
	return rc == -1 ? -1 : 0;
}

/* Look key up in the aliases map unless it is being expanded already
 * (then *looped is set).  1 expanded, 0 not an alias, -1 failed. */
static int
try_alias(struct resolve *r, const char *key, bool *looped)
{
	struct str	 v;
	int		 rc;

	if (in_chain(r, key)) {
		*looped = true;
		return 0;
	}
	str_init(&v, MAPS_VALUE_MAX);
	rc = maps_lookup(r->a->aliases, key, &v);
	if (rc == MAPS_FOUND)
		rc = expand_alias(r, key, str_c(&v)) == -1 ? -1 : 1;
	else if (rc == MAPS_ERROR) {
		lookup_failed(r->a, r->a->aliases, "alias");
		(void)fail_set(r->f, true, "4.3.0", "alias lookup failed");
	}
	str_release(&v);
	return rc;
}

/* 1 delivered somewhere, 0 no such local address, -1 failed. */
static int
expand(struct resolve *r, const char *address)
{
	struct accounts_user *u;
	char	 full[ACCOUNTS_ADDR_MAX], norm[ACCOUNTS_ADDR_MAX];
	char	 key[ACCOUNTS_ADDR_MAX + 1];
	const char *domain;
	bool	 looped = false;
	size_t	 llen, flen;
	int	 local, rc;

	if (accounts_normalize(&r->a->conf, address, true, full,
	    sizeof(full)) == -1 ||
	    accounts_normalize(&r->a->conf, address, false, norm,
	    sizeof(norm)) == -1)
		return fail_set(r->f, false, "5.1.3", "bad address syntax");
	domain = strrchr(norm, '@') + 1;
	if ((local = accounts_is_local_domain(r->a, domain)) == -1)
		return fail_set(r->f, true, "4.3.0", "domain lookup failed");

	if (strcmp(full, norm) != 0 && (rc = try_alias(r, full, &looped)) != 0)
		return rc;
	if ((rc = try_alias(r, norm, &looped)) != 0)
		return rc;
	if (!local) {
		/* The remote host decides what its local parts mean. */
		(void)str_copy(key, address, sizeof(key));
		str_lower(strrchr(key, '@') + 1);
		return add_target(r, key, NULL, false) == -1 ? -1 : 1;
	}
	(void)str_printf(key, sizeof(key), "%.*s", (int)(domain - norm - 1),
	    norm);
	if ((rc = try_alias(r, key, &looped)) != 0)
		return rc;
	u = xmalloc(sizeof(*u));
	rc = user_get(r->a, norm, u);
	mem_wipe(u, sizeof(*u));
	free(u);
	if (rc == MAPS_ERROR)
		return fail_set(r->f, true, "4.3.0", "user lookup failed");
	if (rc == MAPS_FOUND) {
		/* full's local part is norm's, a delimiter, the detail. */
		llen = (size_t)(domain - norm - 1);
		flen = (size_t)(strrchr(full, '@') - full);
		key[0] = '\0';
		if (flen > llen + 1)
			(void)str_printf(key, sizeof(key), "%.*s",
			    (int)(flen - llen - 1), full + llen + 1);
		return add_target(r, norm, key, true) == -1 ? -1 : 1;
	}
	(void)str_printf(key, sizeof(key), "@%s", domain);
	if ((rc = try_alias(r, key, &looped)) != 0)
		return rc;
	if (looped)
		return fail_set(r->f, false, "5.4.6", "alias loop at %s", norm);
	return 0;
}

int
accounts_resolve(struct accounts *a, const char *address,
    struct accounts_targets *t, struct fail *f)
{
	struct resolve	 r;
	size_t		 before;
	int		 rc;

	memset(&r, 0, sizeof(r));
	memset(t, 0, sizeof(*t));
	r.a = a;
	r.t = t;
	r.f = f;
	before = t->count;
	rc = expand(&r, address);
	if (rc == -1) {
		accounts_targets_release(t);
		return -1;
	}
	if (t->count == before) {
		accounts_targets_release(t);
		return 0;
	}
	return 1;
}

void
accounts_targets_release(struct accounts_targets *t)
{
	size_t	 i;

	for (i = 0; i < t->count; i++) {
		free(t->items[i].address);
		free(t->items[i].detail);
	}
	free(t->items);
	t->items = NULL;
	t->count = 0;
}
