/* SPDX-License-Identifier: MIT */
/*
 * accounts_admin.c - changes to the domains, users and aliases maps
 *
 * The admin verbs of `buzon` (and `buzon init --demo`) call these; daemons
 * never do.  Each change is one maps edit, so it waits for other writers
 * and becomes visible to running daemons in one step.  A user's secrets go
 * to the passwd map (mode 0600) and its users record is written without
 * them; the passwd edit is made while the users map is locked (always in
 * that order) and committed first, so a user never exists without the
 * secrets it was given.  A passwd record left by a failed users commit
 * belongs to no user and is harmless.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "accounts.h"
#include "maps.h"
#include "mem.h"
#include "str.h"

/*
 * STATE/auth/, the passwd map's directory: mode 0700, and owned like
 * STATE/maps/ (the buzon user) when root creates it, so that buzon-auth
 * can read what root's admin verbs write.  Only an explicit passwd_map
 * elsewhere is left to its owner.  dir is scratch space of PATH_MAX.
 */
static int
secrets_dir(const struct accounts_conf *c, char *dir, char *err,
    size_t errsize)
{
	struct stat	 st;
	char		 maps[PATH_MAX];

	if (c->passwd_map != NULL && c->passwd_map[0] != '\0')
		return 0;
	if (!str_printf(dir, PATH_MAX, "%s/auth", c->state_dir) ||
	    !str_printf(maps, sizeof(maps), "%s/maps", c->state_dir)) {
		(void)str_printf(err, errsize, "state_dir too long");
		return -1;
	}
	if (mkdir(dir, 0700) == 0) {
		if (geteuid() == 0 && stat(maps, &st) == 0)
			(void)chown(dir, st.st_uid, st.st_gid);
	} else if (errno != EEXIST) {
		(void)str_printf(err, errsize, "%s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

static struct maps_edit *
edit_begin(const struct accounts_conf *c, const char *name,
    unsigned int flags, char *err, size_t errsize)
{
	struct maps_edit *e;
	char		 spec[PATH_MAX], dir[PATH_MAX];
	mode_t		 old;

	bool		 secret = strcmp(name, "passwd") == 0;

	if (!str_printf(dir, sizeof(dir), "%s/maps", c->state_dir) ||
	    accounts_map_spec(c, name, spec, sizeof(spec)) == -1) {
		(void)str_printf(err, errsize, "state_dir too long");
		return NULL;
	}
	if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
		(void)str_printf(err, errsize, "%s: %s", dir, strerror(errno));
		return NULL;
	}
	if (!secret)
		return maps_edit_begin(spec, flags, err, errsize);
	if (secrets_dir(c, dir, err, errsize) == -1)
		return NULL;
	/* A new passwd map is never readable by anyone else, not even for
	 * the moment before passwd_protect(). */
	old = umask(077);
	e = maps_edit_begin(spec, flags, err, errsize);
	(void)umask(old);
	return e;
}

static int
commit(struct maps_edit **e, char *err, size_t errsize)
{
	return maps_edit_commit(e, err, errsize);
}

static int
abort_with(struct maps_edit **e)
{
	maps_edit_abort(e);
	return -1;
}

/* The passwd map holds hashes: only its owner may read it.  The mode
 * sticks: later edits copy the mode of the file they replace. */
static void
passwd_protect(const struct accounts_conf *c)
{
	char	 spec[PATH_MAX], type[16], file[PATH_MAX], err[256];

	if (accounts_map_spec(c, "passwd", spec, sizeof(spec)) == 0 &&
	    maps_spec_file(spec, type, sizeof(type), file, sizeof(file), err,
	    sizeof(err)) == 0)
		(void)chmod(file, 0600);
}

/* Store (u non-NULL) or delete the passwd record of address.  0, or -1
 * with err set. */
static int
passwd_write(const struct accounts_conf *c, const char *address,
    const struct accounts_user *u, char *err, size_t errsize)
{
	struct maps_edit *e;
	struct str	 rec;
	int		 rc;

	if ((e = edit_begin(c, "passwd", 0, err, errsize)) == NULL)
		return -1;
	str_init(&rec, MAPS_VALUE_MAX);
	if (u != NULL) {
		rc = accounts_secret_format(u, &rec) == 0 ? maps_edit_put(e,
		    address, rec.data, rec.len, true) : -1;
	} else
		rc = maps_edit_del(e, address) == -1 ? -1 : 0;
	str_release_secret(&rec);
	if (rc != 0) {
		(void)str_printf(err, errsize, "cannot store the secrets of %s",
		    address);
		return abort_with(&e);
	}
	rc = commit(&e, err, errsize);
	passwd_protect(c);
	return rc;
}

/* Format u as a users record, its secrets left out. */
static int
user_format_public(const struct accounts_user *u, struct str *out)
{
	struct accounts_user	*pub;
	int			 rc;

	pub = xmalloc(sizeof(*pub));
	*pub = *u;
	mem_wipe(pub->hash, sizeof(pub->hash));
	mem_wipe(pub->apop_secret, sizeof(pub->apop_secret));
	rc = accounts_user_format(pub, out);
	mem_wipe(pub, sizeof(*pub));
	free(pub);
	return rc;
}


/* Is domain in the domains map?  1/0/-1 (err set on -1). */
static int
domain_known(const struct accounts_conf *c, const char *domain, char *err,
    size_t errsize)
{
	struct maps	*m;
	struct str	 v;
	char		 spec[PATH_MAX];
	int		 rc;

	if (accounts_map_spec(c, "domains", spec, sizeof(spec)) == -1 ||
	    (m = maps_open(spec, MAPS_F_MISSING_OK, err, errsize)) == NULL)
		return -1;
	str_init(&v, 0);
	rc = maps_lookup(m, domain, &v);
	if (rc == MAPS_ERROR)
		(void)str_printf(err, errsize, "lookup in %s failed", spec);
	str_release(&v);
	maps_close(&m);
	return rc;
}

int
accounts_domain_add(const struct accounts_conf *c, const char *domain,
    char *err, size_t errsize)
{
	struct maps_edit *e;
	char		 d[ACCOUNTS_DOMAIN_MAX + 1];
	int		 rc;

	if (!accounts_domain_valid(domain) || !str_copy(d, domain, sizeof(d))) {
		(void)str_printf(err, errsize, "invalid domain name '%s'",
		    domain);
		return -1;
	}
	str_lower(d);
	if ((e = edit_begin(c, "domains", 0, err, errsize)) == NULL)
		return -1;
	if ((rc = maps_edit_put(e, d, "1", 1, false)) != 0) {
		if (rc == 1)
			(void)str_printf(err, errsize, "domain %s exists", d);
		else
			(void)str_printf(err, errsize, "cannot store %s", d);
		return abort_with(&e);
	}
	return commit(&e, err, errsize);
}

/* How many keys of map name end in "@domain". */
static int
count_in_domain(const struct accounts_conf *c, const char *name,
    const char *domain, size_t *n_r, char *err, size_t errsize)
{
	struct maps_iter *it;
	struct maps	*m;
	struct str	 k, v;
	char		 spec[PATH_MAX];
	size_t		 dl = strlen(domain);
	int		 rc;

	*n_r = 0;
	if (accounts_map_spec(c, name, spec, sizeof(spec)) == -1 ||
	    (m = maps_open(spec, MAPS_F_MISSING_OK, err, errsize)) == NULL)
		return -1;
	if ((it = maps_iter_new(m, err, errsize)) == NULL) {
		maps_close(&m);
		return -1;
	}
	str_init(&k, 0);
	str_init(&v, 0);
	while ((rc = maps_iter_next(it, &k, &v)) == 1)
		if (k.len > dl && k.data[k.len - dl - 1] == '@' &&
		    strcmp(k.data + k.len - dl, domain) == 0)
			(*n_r)++;
	if (rc == -1)
		(void)str_printf(err, errsize, "cannot read %s", spec);
	str_release(&k);
	str_release_secret(&v);
	maps_iter_free(&it);
	maps_close(&m);
	return rc;
}

int
accounts_domain_del(const struct accounts_conf *c, const char *domain,
    char *err, size_t errsize)
{
	struct maps_edit *e;
	char		 d[ACCOUNTS_DOMAIN_MAX + 1];
	size_t		 users, aliases;
	int		 rc;

	if (!str_copy(d, domain, sizeof(d))) {
		(void)str_printf(err, errsize, "unknown domain %s", domain);
		return -1;
	}
	str_lower(d);
	if (count_in_domain(c, "users", d, &users, err, errsize) == -1 ||
	    count_in_domain(c, "aliases", d, &aliases, err, errsize) == -1)
		return -1;
	if (users > 0 || aliases > 0) {
		(void)str_printf(err, errsize, "domain %s still has %zu users "
		    "and %zu aliases; delete them first", d, users, aliases);
		return -1;
	}
	if ((e = edit_begin(c, "domains", 0, err, errsize)) == NULL)
		return -1;
	if ((rc = maps_edit_del(e, d)) != 1) {
		(void)str_printf(err, errsize, rc == 0 ? "unknown domain %s" :
		    "cannot delete %s", d);
		return abort_with(&e);
	}
	return commit(&e, err, errsize);
}

int
accounts_user_add(const struct accounts_conf *c, const struct accounts_user *u,
    char *err, size_t errsize)
{
	struct maps_edit *e;
	struct str	 rec;
	const char	*at = strrchr(u->address, '@');
	int		 rc;

	if (at == NULL || !accounts_address_valid(u->address, false) ||
	    !accounts_local_fits(u->address)) {
		(void)str_printf(err, errsize, "invalid address '%s'",
		    u->address);
		return -1;
	}
	if ((rc = domain_known(c, at + 1, err, errsize)) != 1) {
		if (rc == 0)
			(void)str_printf(err, errsize, "unknown domain %s "
			    "(add it with: buzon domain add %s)", at + 1,
			    at + 1);
		return -1;
	}
	str_init(&rec, MAPS_VALUE_MAX);
	/* Both records must be valid before either map changes. */
	if (accounts_secret_format(u, &rec) == -1 ||
	    user_format_public(u, &rec) == -1) {
		(void)str_printf(err, errsize, "bad user record for %s",
		    u->address);
		str_release_secret(&rec);
		return -1;
	}
	if ((e = edit_begin(c, "users", 0, err, errsize)) == NULL) {
		str_release_secret(&rec);
		return -1;
	}
	rc = maps_edit_put(e, u->address, rec.data, rec.len, false);
	str_release_secret(&rec);
	if (rc != 0) {
		(void)str_printf(err, errsize, rc == 1 ? "user %s exists" :
		    "cannot store %s", u->address);
		return abort_with(&e);
	}
	if (passwd_write(c, u->address, u, err, errsize) == -1)
		return abort_with(&e);
	return commit(&e, err, errsize);
}

int
accounts_user_del(const struct accounts_conf *c, const char *address,
    char *err, size_t errsize)
{
	struct maps_edit *e;
	char		 norm[ACCOUNTS_ADDR_MAX];
	int		 rc;

	if (accounts_normalize(c, address, false, norm, sizeof(norm)) == -1) {
		(void)str_printf(err, errsize, "invalid address '%s'", address);
		return -1;
	}
	if ((e = edit_begin(c, "users", 0, err, errsize)) == NULL)
		return -1;
	if ((rc = maps_edit_del(e, norm)) != 1) {
		(void)str_printf(err, errsize, rc == 0 ? "no such user %s" :
		    "cannot delete %s", norm);
		return abort_with(&e);
	}
	if (commit(&e, err, errsize) == -1)
		return -1;
	return passwd_write(c, norm, NULL, err, errsize);
}

int
accounts_user_change(const struct accounts_conf *c, const char *address,
    enum accounts_user_op op, const char *arg, char *err, size_t errsize)
{
	struct accounts_user *u;
	struct maps_edit *e, *pe = NULL;
	struct str	 v;
	char		 norm[ACCOUNTS_ADDR_MAX];
	int		 rc = -1;

	if (accounts_normalize(c, address, false, norm, sizeof(norm)) == -1) {
		(void)str_printf(err, errsize, "invalid address '%s'", address);
		return -1;
	}
	if ((e = edit_begin(c, "users", 0, err, errsize)) == NULL)
		return -1;
	u = xcalloc(1, sizeof(*u));
	str_init(&v, MAPS_VALUE_MAX);
	switch (maps_edit_lookup(e, norm, &v)) {
	case MAPS_FOUND:
		break;
	case MAPS_NOTFOUND:
		(void)str_printf(err, errsize, "no such user %s", norm);
		goto out;
	default:
		(void)str_printf(err, errsize, "cannot read user %s", norm);
		goto out;
	}
	if (accounts_user_parse(v.data, v.len, u) == -1) {
		(void)str_printf(err, errsize, "bad record for user %s", norm);
		goto out;
	}
	/* The secrets in passwd win over what an old users record holds. */
	if ((pe = edit_begin(c, "passwd", 0, err, errsize)) == NULL)
		goto out;
	str_clear(&v);
	switch (maps_edit_lookup(pe, norm, &v)) {
	case MAPS_FOUND:
		mem_wipe(u->hash, sizeof(u->hash));
		mem_wipe(u->apop_secret, sizeof(u->apop_secret));
		if (accounts_secret_parse(v.data, v.len, u) == 0)
			break;
		/* FALLTHROUGH */
	case MAPS_ERROR:
		(void)str_printf(err, errsize, "cannot read the secrets of %s",
		    norm);
		goto out;
	default:
		break;
	}
	switch (op) {
	case ACCOUNTS_SET_HASH:
		if (!str_copy(u->hash, arg, sizeof(u->hash)))
			goto toolong;
		break;
	case ACCOUNTS_ENABLE:
		u->enabled = true;
		break;
	case ACCOUNTS_DISABLE:
		u->enabled = false;
		break;
	case ACCOUNTS_SET_APOP:
		if (!str_copy(u->apop_secret, arg, sizeof(u->apop_secret)))
			goto toolong;
		break;
	case ACCOUNTS_CLEAR_APOP:
		mem_wipe(u->apop_secret, sizeof(u->apop_secret));
		break;
	}
	if (accounts_secret_format(u, &v) == -1 ||
	    maps_edit_put(pe, norm, v.data, v.len, true) != 0 ||
	    user_format_public(u, &v) == -1 ||
	    maps_edit_put(e, norm, v.data, v.len, true) != 0) {
		(void)str_printf(err, errsize, "cannot store user %s", norm);
		goto out;
	}
	if (commit(&pe, err, errsize) == -1)
		goto out;
	passwd_protect(c);
	rc = commit(&e, err, errsize);
	goto out;
toolong:
	(void)str_printf(err, errsize, "value too long");
out:
	maps_edit_abort(&pe);
	maps_edit_abort(&e);
	str_release_secret(&v);
	mem_wipe(u, sizeof(*u));
	free(u);
	return rc;
}

/* Copy one users record (key, v) into the fresh edit e, stripped of any
 * secret, which moves into pe unless passwd has a record already (newer).
 * 1 moved, 0 copied as it was, -1 error. */
static int
secret_move(struct maps_edit *e, struct maps_edit *pe, const char *key,
    struct str *v, struct accounts_user *u)
{
	struct str	 pv;
	int		 rc;

	if (accounts_user_parse(v->data, v->len, u) == -1 ||
	    (u->hash[0] == '\0' && u->apop_secret[0] == '\0'))
		return maps_edit_put(e, key, v->data, v->len, true) == 0 ?
		    0 : -1;
	str_init(&pv, MAPS_VALUE_MAX);
	rc = maps_edit_lookup(pe, key, &pv);
	str_release_secret(&pv);
	if (rc == MAPS_ERROR)
		return -1;
	str_clear(v);
	if (rc == MAPS_NOTFOUND && (accounts_secret_format(u, v) == -1 ||
	    maps_edit_put(pe, key, v->data, v->len, false) != 0))
		return -1;
	str_clear(v);
	if (user_format_public(u, v) == -1 ||
	    maps_edit_put(e, key, v->data, v->len, true) != 0)
		return -1;
	return 1;
}

/*
 * The users map is rebuilt from empty (MAPS_EDIT_EMPTY), not edited in
 * place: a copy with the record replaced would keep the old hash bytes in
 * the database file's free space, in a map every daemon may read.
 */
int
accounts_secrets_migrate(const struct accounts_conf *c,
    unsigned int *moved_r, char *err, size_t errsize)
{
	struct maps_edit *e, *pe = NULL;
	struct maps	*m = NULL;
	struct maps_iter *it = NULL;
	struct accounts_user *u;
	struct str	 k, v;
	char		 spec[PATH_MAX];
	unsigned int	 moved = 0;
	int		 rc = -1, r;

	if (moved_r != NULL)
		*moved_r = 0;
	if (accounts_map_spec(c, "users", spec, sizeof(spec)) == -1) {
		(void)str_printf(err, errsize, "state_dir too long");
		return -1;
	}
	if ((e = edit_begin(c, "users", MAPS_EDIT_EMPTY, err, errsize)) ==
	    NULL)
		return -1;
	u = xcalloc(1, sizeof(*u));
	str_init(&k, MAPS_KEY_MAX);
	str_init(&v, MAPS_VALUE_MAX);
	/* Read under the edit's lock: no admin change can slip in. */
	if ((m = maps_open(spec, MAPS_F_MISSING_OK, err, errsize)) == NULL ||
	    (it = maps_iter_new(m, err, errsize)) == NULL ||
	    (pe = edit_begin(c, "passwd", 0, err, errsize)) == NULL)
		goto out;
	while ((r = maps_iter_next(it, &k, &v)) == 1) {
		if ((r = secret_move(e, pe, str_c(&k), &v, u)) == -1) {
			(void)str_printf(err, errsize, "cannot move the "
			    "secrets of %s", str_c(&k));
			goto out;
		}
		moved += (unsigned int)r;
		mem_wipe(u, sizeof(*u));
	}
	if (r == -1) {
		(void)str_printf(err, errsize, "cannot read the users map");
		goto out;
	}
	maps_iter_free(&it);
	maps_close(&m);
	if (moved == 0) {	/* nothing to do: leave both maps alone */
		rc = 0;
		goto out;
	}
	/* passwd first: a crash between the two leaves the secret in both
	 * maps, never in neither. */
	if (commit(&pe, err, errsize) == -1)
		goto out;
	passwd_protect(c);
	if (commit(&e, err, errsize) == -1)
		goto out;
	if (moved_r != NULL)
		*moved_r = moved;
	rc = 0;
out:
	maps_iter_free(&it);
	maps_close(&m);
	maps_edit_abort(&pe);
	maps_edit_abort(&e);
	str_release(&k);
	str_release_secret(&v);
	mem_wipe(u, sizeof(*u));
	free(u);
	return rc;
}

int
accounts_alias_key(const struct accounts_conf *c, const char *source,
    char *out, size_t outsize)
{
	size_t	 len = strlen(source);

	if (source[0] == '@') {
		if (!accounts_domain_valid(source + 1) ||
		    !str_copy(out, source, outsize))
			return -1;
		str_lower(out);
		return 0;
	}
	if (strchr(source, '@') != NULL)
		return accounts_local_fits(source) ?
		    accounts_normalize(c, source, true, out, outsize) : -1;
	/* A bare local part: a Dot-string, checked as "x@example". */
	if (len == 0 || len > ACCOUNTS_LOCAL_MAX || source[0] == '"' ||
	    !str_printf(out, outsize, "%s@x.example", source) ||
	    !accounts_address_valid(out, false))
		return -1;
	(void)str_copy(out, source, outsize);
	if (!c->local_part_case_sensitive)
		str_lower(out);
	return 0;
}

/* Append target t to list (comma-separated) unless already there. */
static int
list_add(struct str *list, const char *t)
{
	char	*copy, *p, *next;
	bool	 found = false;

	copy = xstrdup(str_c(list));
	for (p = copy; p != NULL && !found; p = next) {
		if ((next = strchr(p, ',')) != NULL)
			*next++ = '\0';
		found = strcmp(str_trim(p), t) == 0;
	}
	free(copy);
	if (found)
		return 0;
	if (list->len > 0 && str_append_c(list, ',') == -1)
		return -1;
	return str_append_str(list, t);
}

/* A target as stored: valid address, domain lower-cased (the local part
 * of a remote address is the remote host's business). */
static int
target_norm(const char *t, char *out, size_t outsize)
{
	char	*at;

	if (!accounts_address_valid(t, false) || !str_copy(out, t, outsize))
		return -1;
	at = strrchr(out, '@');
	str_lower(at + 1);
	return 0;
}

int
accounts_alias_add(const struct accounts_conf *c, const char *source,
    const char *targets, char *err, size_t errsize)
{
	struct maps_edit *e;
	struct str	 list;
	char		 key[ACCOUNTS_ADDR_MAX + 1], t[ACCOUNTS_ADDR_MAX];
	char		*copy, *p, *next;
	int		 rc = -1;

	if (accounts_alias_key(c, source, key, sizeof(key)) == -1) {
		(void)str_printf(err, errsize, "invalid alias source '%s' "
		    "(LOCAL, LOCAL@DOMAIN or @DOMAIN)", source);
		return -1;
	}
	if ((e = edit_begin(c, "aliases", 0, err, errsize)) == NULL)
		return -1;
	str_init(&list, MAPS_VALUE_MAX);
	if (maps_edit_lookup(e, key, &list) == MAPS_ERROR) {
		(void)str_printf(err, errsize, "cannot read alias %s", key);
		goto out;
	}
	copy = xstrdup(targets);
	for (p = copy; p != NULL; p = next) {
		if ((next = strchr(p, ',')) != NULL)
			*next++ = '\0';
		p = str_trim(p);
		if (target_norm(p, t, sizeof(t)) == -1) {
			(void)str_printf(err, errsize, "invalid target "
			    "address '%s'", p);
			free(copy);
			goto out;
		}
		if (list_add(&list, t) == -1) {
			(void)str_printf(err, errsize, "alias %s too long",
			    key);
			free(copy);
			goto out;
		}
	}
	free(copy);
	if (maps_edit_put(e, key, list.data, list.len, true) != 0) {
		(void)str_printf(err, errsize, "cannot store alias %s", key);
		goto out;
	}
	rc = commit(&e, err, errsize);
out:
	maps_edit_abort(&e);
	str_release(&list);
	return rc;
}

int
accounts_alias_del(const struct accounts_conf *c, const char *source,
    const char *target, char *err, size_t errsize)
{
	struct maps_edit *e;
	struct str	 list, out;
	char		 key[ACCOUNTS_ADDR_MAX + 1], t[ACCOUNTS_ADDR_MAX];
	char		*p, *next;
	bool		 found = false;
	int		 rc = -1;

	if (accounts_alias_key(c, source, key, sizeof(key)) == -1) {
		(void)str_printf(err, errsize, "invalid alias source '%s'",
		    source);
		return -1;
	}
	if (target != NULL && target_norm(target, t, sizeof(t)) == -1) {
		(void)str_printf(err, errsize, "invalid target address '%s'",
		    target);
		return -1;
	}
	if ((e = edit_begin(c, "aliases", 0, err, errsize)) == NULL)
		return -1;
	str_init(&list, MAPS_VALUE_MAX);
	str_init(&out, MAPS_VALUE_MAX);
	switch (maps_edit_lookup(e, key, &list)) {
	case MAPS_FOUND:
		break;
	case MAPS_NOTFOUND:
		(void)str_printf(err, errsize, "no such alias %s", key);
		goto out;
	default:
		(void)str_printf(err, errsize, "cannot read alias %s", key);
		goto out;
	}
	if (target != NULL) {
		for (p = list.data; p != NULL; p = next) {
			if ((next = strchr(p, ',')) != NULL)
				*next++ = '\0';
			p = str_trim(p);
			if (strcmp(p, t) == 0)
				found = true;
			else if (*p != '\0' && list_add(&out, p) == -1)
				goto out;
		}
		if (!found) {
			(void)str_printf(err, errsize, "%s is not a target of "
			    "alias %s", t, key);
			goto out;
		}
	}
	if (out.len > 0)
		rc = maps_edit_put(e, key, out.data, out.len, true);
	else
		rc = maps_edit_del(e, key) == 1 ? 0 : -1;
	if (rc != 0) {
		(void)str_printf(err, errsize, "cannot change alias %s", key);
		rc = -1;
		goto out;
	}
	rc = commit(&e, err, errsize);
out:
	maps_edit_abort(&e);
	str_release(&list);
	str_release(&out);
	return rc;
}
