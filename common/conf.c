/* SPDX-License-Identifier: MIT */
/*
 * conf.c - "key = value" files into typed parameters
 *
 * The parser works on the whole file in memory (at most CONF_MAX_FILE
 * bytes).  Physical lines end in LF (a CR before it is dropped) and may not
 * be longer than CONF_MAX_LINE bytes nor hold a NUL.  A logical line is a
 * line that starts with a non-blank character plus every following line
 * that starts with a blank (Postfix main.cf style); blank lines and
 * comment lines in between are skipped.  Comments are stripped from each
 * physical line before the pieces are joined with one space.
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "mem.h"
#include "net.h"
#include "str.h"

#define CONF_MAX_LINE	4096
#define CONF_MAX_FILE	(1024 * 1024)
#define CONF_SHOW	80	/* bytes of a bad value quoted in a message */
#define CONF_MAX_ERRORS	100	/* then stop reading the file */
#define CONF_READ_TRIES	5	/* reads of a file that keeps changing */
#define CONF_SETTLE_MS	50	/* a file changed this recently may be half written */

struct conf_ctx {
	const struct conf_param	*params;
	void			*obj;
	const char		*name;
	const char		*base_dir;
	struct str		*errs;
	size_t			*seen;		/* per param: line setting it */
	size_t			 nerrs;
	int			 rc;
};

static void	 conf_err(struct conf_ctx *, size_t, const char *, ...)
	    __attribute__((format(printf, 3, 4)));

static void
conf_err(struct conf_ctx *c, size_t line, const char *fmt, ...)
{
	va_list	 ap;

	c->rc = -1;
	c->nerrs++;
	if (c->errs == NULL || c->nerrs > CONF_MAX_ERRORS + 1)
		return;
	if (c->nerrs == CONF_MAX_ERRORS + 1) {
		/* said once; parse() stops reading after it */
		if (str_appendf(c->errs, "%s: more than %d errors, stopped "
		    "reading\n", c->name, CONF_MAX_ERRORS) == -1)
			c->rc = -1;
		return;
	}
	/* A full errs buffer loses messages, but rc still says "bad". */
	if (line > 0) {
		if (str_appendf(c->errs, "%s:%zu: ", c->name, line) == -1)
			return;
	} else if (str_appendf(c->errs, "%s: ", c->name) == -1)
		return;
	va_start(ap, fmt);
	if (str_vappendf(c->errs, fmt, ap) == -1) {
		va_end(ap);
		return;
	}
	va_end(ap);
	if (str_append_c(c->errs, '\n') == -1)
		return;
}

/* Quote untrusted text for a message: sanitized and cut. */
static const char *
show(char *buf, size_t size, const char *s)
{
	return str_sanitize(buf, size, s, strlen(s));
}

static bool
is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/*
 * Numbers with unit suffixes.
 */

struct unit {
	const char	*suffix;
	uint64_t	 mult;
};

static const struct unit size_units[] = {
	{ "", 1 }, { "k", 1024 }, { "K", 1024 }, { "M", 1024 * 1024 },
	{ "G", 1024 * 1024 * 1024 }, { NULL, 0 }
};

static const struct unit time_units[] = {
	{ "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60 * 1000 },
	{ "h", 3600 * 1000 }, { "d", 86400 * 1000 },
	{ "w", 7ULL * 86400 * 1000 }, { NULL, 0 }
};

/* 1 ok, 0 not a number with one of the units, -1 overflow. */
static int
parse_units(const char *s, const struct unit *units, uint64_t *r)
{
	const struct unit *u;
	size_t	 n = strspn(s, "0123456789");
	uint64_t v, out;

	if (n == 0)
		return 0;
	for (u = units; u->suffix != NULL; u++)
		if (strcmp(s + n, u->suffix) == 0)
			break;
	if (u->suffix == NULL)
		return 0;
	if (strnum_u64n(s, n, 0, UINT64_MAX, &v) == -1)
		return -1;
	if (__builtin_mul_overflow(v, u->mult, &out))
		return -1;
	*r = out;
	return 1;
}

int
conf_parse_size(const char *s, uint64_t *bytes_r, char *err, size_t errsize)
{
	char	 q[CONF_SHOW];

	switch (parse_units(s, size_units, bytes_r)) {
	case 1:
		return 0;
	case 0:
		(void)str_printf(err, errsize, "'%s' is not a size "
		    "(use a number with optional k, M, G)",
		    show(q, sizeof(q), s));
		return -1;
	default:
		(void)str_printf(err, errsize, "'%s' is too large",
		    show(q, sizeof(q), s));
		return -1;
	}
}

int
conf_parse_time(const char *s, uint64_t *ms_r, char *err, size_t errsize)
{
	char	 q[CONF_SHOW];

	switch (parse_units(s, time_units, ms_r)) {
	case 1:
		return 0;
	case 0:
		(void)str_printf(err, errsize, "'%s' is not a time "
		    "(use a number with optional ms, s, m, h, d, w)",
		    show(q, sizeof(q), s));
		return -1;
	default:
		(void)str_printf(err, errsize, "'%s' is too large",
		    show(q, sizeof(q), s));
		return -1;
	}
}

/* v in the largest unit that divides it exactly: "10M", "90s", "1500ms". */
static const char *
fmt_units(char *buf, size_t size, uint64_t v, const struct unit *units,
    const char *bare)
{
	const struct unit *u, *best = NULL;

	for (u = units; u->suffix != NULL; u++) {
		if (u->suffix[0] == '\0' || strcmp(u->suffix, "K") == 0)
			continue;
		if (v % u->mult == 0 && (best == NULL || u->mult > best->mult))
			best = u;
	}
	if (v == 0 || best == NULL)
		(void)str_printf(buf, size, "%llu%s", (unsigned long long)v,
		    bare);
	else
		(void)str_printf(buf, size, "%llu%s",
		    (unsigned long long)(v / best->mult), best->suffix);
	return buf;
}

int
conf_parse_bool(const char *s, bool *r)
{
	static const struct { const char *w; bool v; } words[] = {
		{ "yes", true }, { "no", false }, { "true", true },
		{ "false", false }, { "on", true }, { "off", false },
		{ "1", true }, { "0", false },
	};
	size_t	 i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasecmp(s, words[i].w) == 0) {
			*r = words[i].v;
			return 0;
		}
	return -1;
}

/*
 * Lists.
 */

int
conf_list_split(const char *s, struct conf_list *l)
{
	const char *p = s;
	size_t	 n, cap = 0;

	l->items = NULL;
	l->count = 0;
	for (;;) {
		p += strspn(p, ", \t\r\n");
		if (*p == '\0')
			break;
		n = strcspn(p, ", \t\r\n");
		if (l->count == cap) {
			cap = cap == 0 ? 4 : cap * 2;
			l->items = xreallocarray(l->items, cap,
			    sizeof(*l->items));
		}
		l->items[l->count++] = xstrndup(p, n);
		p += n;
	}
	return 0;
}

void
conf_list_release(struct conf_list *l)
{
	size_t	 i;

	for (i = 0; i < l->count; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->count = 0;
}

/*
 * host:port, as net.h describes it.  Checked here with no lookups: a name
 * only has to look like one.
 */

static bool
is_hostname(const char *h)
{
	size_t	 label = 0, total = 0;
	char	 prev = '.';

	for (; *h != '\0'; h++, total++) {
		if (*h == '.') {
			if (label == 0 || prev == '-')
				return false;
			label = 0;
		} else if ((*h >= 'a' && *h <= 'z') ||
		    (*h >= 'A' && *h <= 'Z') || (*h >= '0' && *h <= '9') ||
		    (*h == '-' && label > 0)) {
			if (++label > 63)
				return false;
		} else
			return false;
		prev = *h;
	}
	return total > 0 && total <= 253 && prev != '-';
}

/* 0, or -1 with why it is not a host:port in err. */
static int
check_hostport(const char *s, char *err, size_t errsize)
{
	char		 host[256];
	const char	*colon, *port;
	size_t		 hlen;
	unsigned int	 pnum;
	unsigned char	 buf[sizeof(struct in6_addr)];

	if (s[0] == '[') {
		colon = strchr(s, ']');
		if (colon == NULL || colon[1] != ':') {
			(void)str_printf(err, errsize,
			    "use [address]:port for IPv6");
			return -1;
		}
		hlen = (size_t)(colon - s - 1);
		port = colon + 2;
		if (hlen == 0 || hlen >= sizeof(host)) {
			(void)str_printf(err, errsize, "bad IPv6 address");
			return -1;
		}
		memcpy(host, s + 1, hlen);
		host[hlen] = '\0';
		if (inet_pton(AF_INET6, host, buf) != 1) {
			(void)str_printf(err, errsize, "bad IPv6 address");
			return -1;
		}
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL) {
			(void)str_printf(err, errsize, "port missing");
			return -1;
		}
		hlen = (size_t)(colon - s);
		port = colon + 1;
		if (memchr(s, ':', hlen) != NULL) {
			(void)str_printf(err, errsize,
			    "use [address]:port for IPv6");
			return -1;
		}
		if (hlen == 0) {
			(void)str_printf(err, errsize,
			    "host missing (use *:PORT for every address)");
			return -1;
		}
		if (hlen >= sizeof(host)) {
			(void)str_printf(err, errsize, "host name too long");
			return -1;
		}
		memcpy(host, s, hlen);
		host[hlen] = '\0';
		if (strcmp(host, "*") == 0)
			;
		else if (strspn(host, "0123456789.") == hlen) {
			if (inet_pton(AF_INET, host, buf) != 1) {
				(void)str_printf(err, errsize,
				    "bad IPv4 address");
				return -1;
			}
		} else if (!is_hostname(host)) {
			(void)str_printf(err, errsize, "bad host name");
			return -1;
		}
	}
	if (strnum_uint(port, 1, 65535, &pnum) == -1) {
		(void)str_printf(err, errsize,
		    "port must be a number in 1..65535");
		return -1;
	}
	return 0;
}

/*
 * Storing values.
 */

static void *
slot(const struct conf_ctx *c, const struct conf_param *p)
{
	return (char *)c->obj + p->offset;
}

static void
enum_choices(char *buf, size_t size, const char *choices)
{
	size_t	 i, o = 0;

	for (i = 0; choices[i] != '\0' && o + 3 < size; i++) {
		if (choices[i] == '|') {
			buf[o++] = ',';
			buf[o++] = ' ';
		} else
			buf[o++] = choices[i];
	}
	buf[o] = '\0';
}

static bool
enum_has(const char *choices, const char *v)
{
	size_t	 n = strlen(v);
	const char *p = choices;

	if (n == 0)
		return false;
	while (p != NULL) {
		if (strncmp(p, v, n) == 0 && (p[n] == '|' || p[n] == '\0'))
			return true;
		p = strchr(p, '|');
		if (p != NULL)
			p++;
	}
	return false;
}

static char *
make_path(const char *v, const char *base_dir)
{
	struct str	 s;
	size_t		 n;

	if (v[0] == '\0' || v[0] == '/' || base_dir == NULL ||
	    base_dir[0] == '\0')
		return xstrdup(v);
	str_init(&s, 0);
	n = strlen(base_dir);
	while (n > 1 && base_dir[n - 1] == '/')
		n--;
	if (str_append(&s, base_dir, n) == -1 ||
	    (!(n == 1 && base_dir[0] == '/') && str_append_c(&s, '/') == -1) ||
	    str_append_str(&s, v) == -1)
		panic("make_path: unbounded str failed");
	return str_detach(&s, NULL);
}

static void
range_msg(char *buf, size_t size, const struct conf_param *p, uint64_t lo,
    uint64_t hi)
{
	char	 a[32], b[32];

	switch (p->type) {
	case CONF_T_SIZE:
		(void)str_printf(buf, size, "%s..%s",
		    fmt_units(a, sizeof(a), lo, size_units, ""),
		    fmt_units(b, sizeof(b), hi, size_units, ""));
		break;
	case CONF_T_TIME:
		(void)str_printf(buf, size, "%s..%s",
		    fmt_units(a, sizeof(a), lo, time_units, "ms"),
		    fmt_units(b, sizeof(b), hi, time_units, "ms"));
		break;
	default:
		(void)str_printf(buf, size, "%llu..%llu",
		    (unsigned long long)lo, (unsigned long long)hi);
		break;
	}
}

/* The effective bounds of a number param: max 0 means "as large as the
 * storage holds". */
static void
bounds(const struct conf_param *p, uint64_t *lo, uint64_t *hi)
{
	uint64_t	 cap;

	switch (p->type) {
	case CONF_T_UINT:
		cap = UINT_MAX;
		break;
	case CONF_T_SIZE:
		cap = SIZE_MAX;
		break;
	default:
		cap = UINT64_MAX;
		break;
	}
	*lo = p->min;
	*hi = p->max == 0 || p->max > cap ? cap : p->max;
}

/*
 * Parse v for p and store it, freeing what was there when replace is set.
 * 0, or -1 with the reason (without "FILE:LINE: key: ") in err.
 */
static int
set_value(struct conf_ctx *c, const struct conf_param *p, const char *v,
    bool replace, char *err, size_t errsize)
{
	void		*dst = slot(c, p);
	char		 q[CONF_SHOW], why[128], range[80];
	uint64_t	 n = 0, lo, hi;
	unsigned int	 u;
	bool		 b;
	struct conf_list l;
	size_t		 i;

	switch (p->type) {
	case CONF_T_STRING:
	case CONF_T_PATH:
	case CONF_T_ENUM:
		if (p->type == CONF_T_ENUM && !enum_has(p->choices, v)) {
			enum_choices(why, sizeof(why), p->choices);
			(void)str_printf(err, errsize, "'%s' is not one of: %s",
			    show(q, sizeof(q), v), why);
			return -1;
		}
		if (replace)
			free(*(char **)dst);
		*(char **)dst = p->type == CONF_T_PATH ?
		    make_path(v, c->base_dir) : xstrdup(v);
		return 0;
	case CONF_T_UINT:
		if (v[0] == '\0' || strspn(v, "0123456789") != strlen(v)) {
			(void)str_printf(err, errsize, "'%s' is not a number",
			    show(q, sizeof(q), v));
			return -1;
		}
		bounds(p, &lo, &hi);
		if (strnum_uint(v, (unsigned int)lo, (unsigned int)hi,
		    &u) == -1) {
			range_msg(range, sizeof(range), p, lo, hi);
			(void)str_printf(err, errsize,
			    "'%s' is out of range (%s)", show(q, sizeof(q), v),
			    range);
			return -1;
		}
		*(unsigned int *)dst = u;
		return 0;
	case CONF_T_SIZE:
	case CONF_T_TIME:
		if ((p->type == CONF_T_SIZE ?
		    conf_parse_size(v, &n, err, errsize) :
		    conf_parse_time(v, &n, err, errsize)) == -1)
			return -1;
		bounds(p, &lo, &hi);
		if (n < lo || n > hi) {
			range_msg(range, sizeof(range), p, lo, hi);
			(void)str_printf(err, errsize,
			    "'%s' is out of range (%s)", show(q, sizeof(q), v),
			    range);
			return -1;
		}
		if (p->type == CONF_T_SIZE)
			*(size_t *)dst = (size_t)n;
		else
			*(uint64_t *)dst = n;
		return 0;
	case CONF_T_BOOL:
		if (conf_parse_bool(v, &b) == -1) {
			(void)str_printf(err, errsize, "'%s' is not a boolean "
			    "(use yes or no)", show(q, sizeof(q), v));
			return -1;
		}
		*(bool *)dst = b;
		return 0;
	case CONF_T_LIST:
	case CONF_T_ADDRS:
	case CONF_T_NETS:
		if (conf_list_split(v, &l) == -1) {
			(void)str_printf(err, errsize, "bad list");
			return -1;
		}
		for (i = 0; p->type == CONF_T_ADDRS && i < l.count; i++) {
			if (check_hostport(l.items[i], why, sizeof(why)) == 0)
				continue;
			(void)str_printf(err, errsize,
			    "'%s' is not a host:port: %s",
			    show(q, sizeof(q), l.items[i]), why);
			conf_list_release(&l);
			return -1;
		}
		for (i = 0; p->type == CONF_T_NETS && i < l.count; i++) {
			if (net_network_valid(l.items[i]))
				continue;
			(void)str_printf(err, errsize, "'%s' is not an address "
			    "or address/prefix", show(q, sizeof(q), l.items[i]));
			conf_list_release(&l);
			return -1;
		}
		if (replace)
			conf_list_release(dst);
		*(struct conf_list *)dst = l;
		return 0;
	}
	panic("conf: bad type %d for %s", (int)p->type, p->key);
}

/* A value that cannot fail, so the object is always safe to release. */
static void
set_empty(struct conf_ctx *c, const struct conf_param *p)
{
	void	*dst = slot(c, p);

	switch (p->type) {
	case CONF_T_STRING:
	case CONF_T_PATH:
	case CONF_T_ENUM:
		*(char **)dst = xstrdup("");
		break;
	case CONF_T_UINT:
		*(unsigned int *)dst = 0;
		break;
	case CONF_T_SIZE:
		*(size_t *)dst = 0;
		break;
	case CONF_T_TIME:
		*(uint64_t *)dst = 0;
		break;
	case CONF_T_BOOL:
		*(bool *)dst = false;
		break;
	case CONF_T_LIST:
	case CONF_T_ADDRS:
	case CONF_T_NETS:
		((struct conf_list *)dst)->items = NULL;
		((struct conf_list *)dst)->count = 0;
		break;
	}
}

static int
defaults(struct conf_ctx *c)
{
	const struct conf_param *p;
	char	 err[256];

	for (p = c->params; p->key != NULL; p++)
		if (set_value(c, p, p->def != NULL ? p->def : "", false,
		    err, sizeof(err)) == -1) {
			set_empty(c, p);
			conf_err(c, 0, "default for %s: %s", p->key, err);
		}
	return c->rc;
}

int
conf_defaults(const struct conf_param *params, void *obj, const char *base_dir,
    struct str *errs)
{
	struct conf_ctx	 c = { params, obj, "defaults", base_dir, errs, NULL,
	    0, 0 };

	return defaults(&c);
}

void
conf_release(const struct conf_param *params, void *obj)
{
	const struct conf_param *p;
	void	*dst;

	for (p = params; p->key != NULL; p++) {
		dst = (char *)obj + p->offset;
		switch (p->type) {
		case CONF_T_STRING:
		case CONF_T_PATH:
		case CONF_T_ENUM:
			free(*(char **)dst);
			*(char **)dst = NULL;
			break;
		case CONF_T_LIST:
		case CONF_T_ADDRS:
		case CONF_T_NETS:
			conf_list_release(dst);
			break;
		default:
			break;
		}
	}
}

/*
 * Keys.
 */

/* Edit distance, an adjacent swap counting as one edit (optimal string
 * alignment).  Keys are short; longer strings are "far". */
static size_t
distance(const char *a, const char *b)
{
	size_t	 la = strlen(a), lb = strlen(b), i, j, d[3][64 + 1];
	size_t	 cost, v;

	if (la > 64 || lb > 64)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++) {
		size_t	*cur = d[i % 3], *prev = d[(i - 1) % 3];
		size_t	*prev2 = d[(i + 1) % 3];

		cur[0] = i;
		for (j = 1; j <= lb; j++) {
			cost = a[i - 1] == b[j - 1] ? 0 : 1;
			v = prev[j - 1] + cost;
			if (prev[j] + 1 < v)
				v = prev[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < v)
				v = prev2[j - 2] + 1;
			cur[j] = v;
		}
	}
	return d[la % 3][lb];
}

static const struct conf_param *
near_key(const struct conf_param *params, const char *key)
{
	const struct conf_param *p, *best = NULL;
	size_t	 d, bestd = 3, lk = strlen(key), lp;

	for (p = params; p->key != NULL; p++) {
		lp = strlen(p->key);
		if (lp > lk + 2 || lk > lp + 2)
			continue;
		d = distance(key, p->key);
		if (d < bestd && d < lk) {
			bestd = d;
			best = p;
		}
	}
	return best;
}

static bool
is_key(const char *k)
{
	return k[0] != '\0' &&
	    strspn(k, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(k);
}

/* One logical line, comments already gone. */
static void
entry(struct conf_ctx *c, size_t line, char *text)
{
	const struct conf_param *p, *near;
	char	*eq, *key, *val, q[CONF_SHOW], err[512];

	eq = strchr(text, '=');
	if (eq == NULL) {
		conf_err(c, line, "missing '=' in '%s' (use key = value)",
		    show(q, sizeof(q), str_trim(text)));
		return;
	}
	*eq = '\0';
	key = str_trim(text);
	val = str_trim(eq + 1);
	if (!is_key(key)) {
		conf_err(c, line, "bad key '%s' (use a-z, 0-9 and _)",
		    show(q, sizeof(q), key));
		return;
	}
	for (p = c->params; p->key != NULL; p++)
		if (strcmp(p->key, key) == 0)
			break;
	if (p->key == NULL) {
		near = near_key(c->params, key);
		if (near != NULL)
			conf_err(c, line,
			    "unknown key '%s' (did you mean '%s'?)",
			    show(q, sizeof(q), key), near->key);
		else
			conf_err(c, line, "unknown key '%s'",
			    show(q, sizeof(q), key));
		return;
	}
	if (c->seen[p - c->params] != 0) {
		conf_err(c, line, "duplicate key '%s' (first set on line %zu)",
		    key, c->seen[p - c->params]);
		return;
	}
	c->seen[p - c->params] = line;
	if (set_value(c, p, val, true, err, sizeof(err)) == -1)
		conf_err(c, line, "%s: %s", key, err);
}

/* Cut a '#' comment: at the start or after a blank. */
static void
strip_comment(char *s)
{
	char	*h;

	for (h = s; (h = strchr(h, '#')) != NULL; h++)
		if (h == s || is_blank(h[-1])) {
			*h = '\0';
			return;
		}
}

static void
parse(struct conf_ctx *c, const char *buf, size_t len)
{
	const struct conf_param *p;
	struct str	 cur;		/* the logical line being built */
	size_t		 lineno = 0, start = 0, n, nparams = 0;
	bool		 have = false, skip = false;
	const char	*nl, *end = buf + len;
	char		 line[CONF_MAX_LINE + 1], *t;

	for (p = c->params; p->key != NULL; p++)
		nparams++;
	c->seen = xcalloc(nparams + 1, sizeof(*c->seen));
	str_init(&cur, 0);

	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		buf += 3;	/* a UTF-8 byte order mark */
	while (buf < end && c->nerrs <= CONF_MAX_ERRORS) {
		lineno++;
		nl = memchr(buf, '\n', (size_t)(end - buf));
		n = nl != NULL ? (size_t)(nl - buf) : (size_t)(end - buf);
		t = NULL;
		if (n > 0 && buf[n - 1] == '\r')
			n--;
		if (n > CONF_MAX_LINE)
			conf_err(c, lineno, "line longer than %d bytes",
			    CONF_MAX_LINE);
		else if (memchr(buf, '\0', n) != NULL)
			conf_err(c, lineno, "NUL byte in line");
		else {
			memcpy(line, buf, n);
			line[n] = '\0';
			t = line;
		}
		buf = nl != NULL ? nl + 1 : end;

		if (t == NULL) {
			/* The bad line ends any entry; lines continuing it
			 * are dropped with it. */
			if (have)
				entry(c, start, cur.data);
			have = false;
			skip = true;
			continue;
		}
		strip_comment(t);
		if (t[strspn(t, " \t")] == '\0')
			continue;	/* blank or comment only */
		if (is_blank(t[0])) {
			if (have) {
				if (str_append_c(&cur, ' ') == -1 ||
				    str_append_str(&cur, str_trim(t)) == -1)
					panic("conf: unbounded str failed");
			} else if (!skip)
				conf_err(c, lineno, "continuation line "
				    "without a key = value line before it");
			continue;
		}
		if (have)
			entry(c, start, cur.data);
		str_clear(&cur);
		if (str_append_str(&cur, t) == -1)
			panic("conf: unbounded str failed");
		have = true;
		skip = false;
		start = lineno;
	}
	if (have)
		entry(c, start, cur.data);
	str_release(&cur);
	free(c->seen);
	c->seen = NULL;
}

int
conf_load_buf(const struct conf_param *params, void *obj, const char *name,
    const char *buf, size_t len, const char *base_dir, struct str *errs)
{
	struct conf_ctx	 c = { params, obj, name, base_dir, errs, NULL, 0, 0 };

	if (defaults(&c) == -1)
		return -1;
	if (len > CONF_MAX_FILE) {
		conf_err(&c, 0, "file larger than %d bytes", CONF_MAX_FILE);
		return -1;
	}
	parse(&c, buf, len);
	return c.rc;
}

/* Same file, same version: a rewrite in place changes the size or the
 * modification or change time (a rename changes the inode). */
static bool
conf_same_version(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	    a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	    a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	    a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Read fd from offset off to EOF or CONF_MAX_FILE + 1 bytes (one more than
 * allowed, to see that the file is too large).  0 with *len_r, or -1. */
static int
conf_read_fd(int fd, off_t off, char *buf, size_t *len_r)
{
	size_t	 len = 0;
	ssize_t	 r;

	while (len < CONF_MAX_FILE + 1) {
		if (off >= 0)
			r = pread(fd, buf + len, CONF_MAX_FILE + 1 - len,
			    off + (off_t)len);
		else
			r = read(fd, buf + len, CONF_MAX_FILE + 1 - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0)
			break;
		len += (size_t)r;
	}
	*len_r = len;
	return 0;
}

/* Milliseconds until the file has not changed for CONF_SETTLE_MS; 0 when
 * it has been quiet that long.  File times are coarse (a clock tick), so a
 * writer that paused between two writes would look done. */
static unsigned int
conf_settle_ms(const struct stat *st)
{
	struct timespec	 now;
	int64_t		 age;

	if (clock_gettime(CLOCK_REALTIME, &now) == -1)
		return CONF_SETTLE_MS;
	age = ((int64_t)now.tv_sec - (int64_t)st->st_ctim.tv_sec) * 1000 +
	    ((int64_t)now.tv_nsec - (int64_t)st->st_ctim.tv_nsec) / 1000000;
	if (age >= CONF_SETTLE_MS)
		return 0;
	/* a time in the future (clock steps) waits once, at most this long */
	return age < 0 ? CONF_SETTLE_MS : CONF_SETTLE_MS - (unsigned int)age;
}

/*
 * Read a whole regular file as one version of it: stat before and after
 * the read, and after a moment more when the file changed just before;
 * read again when the file changed meanwhile (an editor or a script
 * rewriting it in place), CONF_READ_TRIES times at most.  Other files (a
 * pipe) are read once.  0 with *len_r; -1 with errno set, or with errno 0
 * when the file never held still.
 */
static int
conf_read_stable(int fd, char *buf, size_t *len_r)
{
	struct stat	 before, after, later;
	unsigned int	 i, settle;

	if (fstat(fd, &before) == -1)
		return -1;
	if (!S_ISREG(before.st_mode))
		return conf_read_fd(fd, -1, buf, len_r);
	for (i = 0; i < CONF_READ_TRIES; i++) {
		if (i > 0) {
			/* 10, 20, 40, 80 ms: let the writer finish */
			(void)usleep(10000u << (i - 1));
			if (fstat(fd, &before) == -1)
				return -1;
		}
		if (conf_read_fd(fd, 0, buf, len_r) == -1 ||
		    fstat(fd, &after) == -1)
			return -1;
		if (!conf_same_version(&before, &after) ||
		    (*len_r <= CONF_MAX_FILE && (off_t)*len_r != after.st_size))
			continue;
		if ((settle = conf_settle_ms(&after)) > 0) {
			(void)usleep(settle * 1000u);
			if (fstat(fd, &later) == -1)
				return -1;
			if (!conf_same_version(&after, &later))
				continue;
		}
		return 0;
	}
	errno = 0;
	return -1;
}

static conf_open_fn	*conf_open;

void
conf_set_open(conf_open_fn *fn)
{
	conf_open = fn;
}

int
conf_load(const struct conf_param *params, void *obj, const char *path,
    const char *base_dir, struct str *errs)
{
	struct conf_ctx	 c = { params, obj, path, base_dir, errs, NULL, 0, 0 };
	char		*buf;
	size_t		 len = 0;
	int		 fd, rc;

	fd = conf_open != NULL ? conf_open(path) :
	    open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd == -1) {
		conf_err(&c, 0, "%s", strerror(errno));
		(void)defaults(&c);
		return -1;
	}
	buf = xmalloc(CONF_MAX_FILE + 1);
	if (conf_read_stable(fd, buf, &len) == -1) {
		if (errno == 0)
			conf_err(&c, 0, "changed while being read, %d times; "
			    "not used (write the new file beside it and "
			    "rename it into place)", CONF_READ_TRIES);
		else
			conf_err(&c, 0, "%s", strerror(errno));
		(void)close(fd);
		free(buf);
		(void)defaults(&c);
		return -1;
	}
	(void)close(fd);
	rc = conf_load_buf(params, obj, path, buf, len, base_dir, errs);
	free(buf);
	return rc;
}

/*
 * Writing a full config.
 */

int
conf_write_defaults(const struct conf_param *params, FILE *fp,
    const char *const *set_keys, const char *const *set_values)
{
	const struct conf_param *p;
	const char	*v;
	size_t		 i;
	bool		 set;

	/* Refuse keys we do not know and values that would not read back. */
	for (i = 0; set_keys != NULL && set_keys[i] != NULL; i++) {
		for (p = params; p->key != NULL; p++)
			if (strcmp(p->key, set_keys[i]) == 0)
				break;
		if (p->key == NULL || set_values == NULL ||
		    set_values[i] == NULL ||
		    strpbrk(set_values[i], "\r\n") != NULL)
			return -1;
	}
	for (p = params; p->key != NULL; p++) {
		v = p->def != NULL ? p->def : "";
		set = false;
		for (i = 0; set_keys != NULL && set_keys[i] != NULL; i++)
			if (strcmp(p->key, set_keys[i]) == 0) {
				v = set_values[i];
				set = true;
			}
		if (p != params)
			(void)fputc('\n', fp);
		if (p->help != NULL && p->help[0] != '\0')
			(void)fprintf(fp, "# %s\n", p->help);
		if (p->type == CONF_T_ENUM)
			(void)fprintf(fp, "# one of: %s\n", p->choices);
		(void)fprintf(fp, "%s%s =%s%s\n", set ? "" : "#", p->key,
		    v[0] != '\0' ? " " : "", v);
	}
	if (fflush(fp) == EOF || ferror(fp))
		return -1;
	return 0;
}
