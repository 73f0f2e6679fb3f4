/* SPDX-License-Identifier: MIT */
/*
 * mime_addr.c - address lists (RFC 5322 3.4 and the obsolete forms of
 * 4.4: routes, spaces around dots, missing parts) and dates (3.3, 4.3)
 *
 * Addresses are read by a small lexer over the value (atoms, quoted
 * strings, domain literals, specials; comments skipped but the last one
 * remembered, as "user@host (Name)" names the user).  Like Dovecot it
 * never fails: what cannot be read is skipped to the next ','.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mem.h"
#include "mime.h"
#include "mime_private.h"
#include "str.h"

#define ADDRS_MAX	10000	/* per field */
#define WORD_MAX	4096

enum tok {
	T_END,
	T_ATOM,		/* atext run, '.' included */
	T_QUOTED,	/* "..." (content in lex->word) */
	T_LITERAL,	/* [...] (with the brackets) */
	T_SPECIAL	/* one of < > @ , ; : and others */
};

/* Bounded buffers: what passes the bound is dropped (a name or a
 * parameter longer than that is junk, not worth an error). */
static void
adds(struct str *s, const void *p, size_t n)
{
	if (str_append(s, p, n) == -1)
		return;
}

static void
addc(struct str *s, char c)
{
	adds(s, &c, 1);
}

static void
adds0(struct str *s, const char *p)
{
	adds(s, p, strlen(p));
}

struct lex {
	const char	*v;
	size_t		 len, i;
	enum tok	 t;
	char		 ch;	/* T_SPECIAL */
	struct str	 word;
	struct str	 comment;	/* the last comment seen */
	bool		 sp_before;	/* whitespace before this token */
};

static bool
is_atext(unsigned char c)
{
	return c > ' ' && c < 0x7f && strchr("()<>[]:;@\\,\"", c) == NULL;
}

static void
lex_skip(struct lex *l)
{
	unsigned int	 depth;

	l->sp_before = false;
	for (;;) {
		while (l->i < l->len && (l->v[l->i] == ' ' ||
		    l->v[l->i] == '\t' || l->v[l->i] == '\r' ||
		    l->v[l->i] == '\n')) {
			l->i++;
			l->sp_before = true;
		}
		if (l->i >= l->len || l->v[l->i] != '(')
			return;
		l->sp_before = true;
		str_clear(&l->comment);
		for (depth = 0; l->i < l->len; l->i++) {
			if (l->v[l->i] == '\\' && l->i + 1 < l->len) {
				l->i++;
				if (depth == 1)
					addc(&l->comment,
					    l->v[l->i]);
				continue;
			}
			if (l->v[l->i] == '(') {
				if (depth++ == 0)
					continue;
			} else if (l->v[l->i] == ')' && --depth == 0) {
				l->i++;
				break;
			}
			if (l->v[l->i] != '\r' && l->v[l->i] != '\n')
				addc(&l->comment, l->v[l->i]);
		}
	}
}

static void
lex_next(struct lex *l)
{
	unsigned char	 c;

	lex_skip(l);
	str_clear(&l->word);
	if (l->i >= l->len) {
		l->t = T_END;
		return;
	}
	c = (unsigned char)l->v[l->i];
	if (c == '"') {
		l->t = T_QUOTED;
		for (l->i++; l->i < l->len && l->v[l->i] != '"'; l->i++) {
			if (l->v[l->i] == '\\' && l->i + 1 < l->len)
				l->i++;
			if (l->v[l->i] == '\r' || l->v[l->i] == '\n')
				continue;
			addc(&l->word, l->v[l->i]);
		}
		if (l->i < l->len)
			l->i++;
		return;
	}
	if (c == '[') {
		l->t = T_LITERAL;
		for (; l->i < l->len && l->v[l->i] != ']'; l->i++) {
			if (l->v[l->i] == '\\' && l->i + 1 < l->len)
				l->i++;
			if (l->v[l->i] == '\r' || l->v[l->i] == '\n')
				continue;
			addc(&l->word, l->v[l->i]);
		}
		addc(&l->word, ']');
		if (l->i < l->len)
			l->i++;
		return;
	}
	if (is_atext(c)) {
		l->t = T_ATOM;
		while (l->i < l->len && is_atext((unsigned char)l->v[l->i]))
			addc(&l->word, l->v[l->i++]);
		return;
	}
	l->t = T_SPECIAL;
	l->ch = (char)c;
	l->i++;
}

static const char *
lex_word(const struct lex *l)
{
	return str_c(&l->word);
}

struct alist {
	struct mime_addr	*a;
	size_t			 n, cap;
};

static void
alist_add(struct alist *al, char *name, char *route, char *mailbox,
    char *host)
{
	if (al->n >= ADDRS_MAX) {
		free(name);
		free(route);
		free(mailbox);
		free(host);
		return;
	}
	if (al->n == al->cap) {
		al->cap = al->cap == 0 ? 4 : al->cap * 2;
		al->a = xreallocarray(al->a, al->cap, sizeof(*al->a));
	}
	al->a[al->n].name = name;
	al->a[al->n].route = route;
	al->a[al->n].mailbox = mailbox;
	al->a[al->n].host = host;
	al->n++;
}

static char *
detach_or_null(struct str *s)
{
	char	*r;

	if (s->len == 0) {
		str_clear(s);
		return NULL;
	}
	r = xstrndup(s->data, s->len);
	str_clear(s);
	return r;
}

/* Words up to a special: as a phrase into out (words separated by one
 * space), and as a local part into local (joined as written) when it is
 * not NULL. */
static void
read_words(struct lex *l, struct str *out, struct str *local)
{
	bool	 first = true;

	while (l->t == T_ATOM || l->t == T_QUOTED) {
		if (!first && (l->sp_before || l->t == T_QUOTED))
			addc(out, ' ');
		adds(out, l->word.data != NULL ? l->word.data :
		    "", l->word.len);
		if (local != NULL)
			adds(local, l->word.data != NULL ?
			    l->word.data : "", l->word.len);
		first = false;
		lex_next(l);
	}
}

/* domain: atoms with dots, or a literal */
static void
read_domain(struct lex *l, struct str *out)
{
	while (l->t == T_ATOM || l->t == T_LITERAL) {
		adds0(out, lex_word(l));
		lex_next(l);
	}
}

/* "<" [route ":"] addr-spec ">" with the '<' taken. */
static void
read_angle(struct lex *l, struct str *route, struct str *mbox,
    struct str *host)
{
	/* obs-route: "@a,@b:" */
	if (l->t == T_SPECIAL && (l->ch == '@' || l->ch == ',')) {
		while (l->t == T_SPECIAL && (l->ch == '@' || l->ch == ',')) {
			if (l->ch == '@') {
				if (route->len > 0)
					addc(route, ',');
				addc(route, '@');
				lex_next(l);
				read_domain(l, route);
			} else
				lex_next(l);
		}
		if (l->t == T_SPECIAL && l->ch == ':')
			lex_next(l);
	}
	{
		struct str	 ph;

		str_init(&ph, WORD_MAX);
		read_words(l, &ph, mbox);
		str_release(&ph);
	}
	if (l->t == T_SPECIAL && l->ch == '@') {
		lex_next(l);
		read_domain(l, host);
	}
	while (l->t != T_END && !(l->t == T_SPECIAL && l->ch == '>'))
		lex_next(l);
	if (l->t == T_SPECIAL)
		lex_next(l);
}

/* One mailbox or group at the lexer; appends to al. */
static void
read_address(struct lex *l, struct alist *al, bool in_group, bool decode,
    bool *group_open)
{
	struct str	 phrase, local, route, mbox, host, dec;
	bool		 angle = false;
	char		*name;

	str_init(&phrase, WORD_MAX);
	str_init(&local, WORD_MAX);
	str_init(&route, WORD_MAX);
	str_init(&mbox, WORD_MAX);
	str_init(&host, WORD_MAX);
	str_init(&dec, WORD_MAX * 2);
	str_clear(&l->comment);
	/* the words first: a display name, or the local part */
	read_words(l, &phrase, &local);
	if (l->t == T_SPECIAL && l->ch == ':' && !in_group) {
		/* group start */
		name = detach_or_null(&phrase);
		alist_add(al, NULL, NULL, name != NULL ? name : xstrdup(""),
		    NULL);
		*group_open = true;
		lex_next(l);
		/* the group's first member follows the ':' at once: no
		 * skipping to a separator */
		goto out;
	}
	if (l->t == T_SPECIAL && l->ch == '<') {
		angle = true;
		lex_next(l);
		read_angle(l, &route, &mbox, &host);
	} else if (l->t == T_SPECIAL && l->ch == '@') {
		/* the words were the local part */
		lex_next(l);
		read_domain(l, &host);
	}
	if (!angle) {
		/* addr-spec alone or a bare word; "a . b" is "a.b" */
		adds(&mbox, local.data != NULL ? local.data :
		    "", local.len);
		str_clear(&phrase);
		/* "user@host (Name)": the comment names it */
		if (l->comment.len > 0)
			adds(&phrase, l->comment.data,
			    l->comment.len);
	}
	if (mbox.len == 0 && host.len == 0 && phrase.len == 0 &&
	    route.len == 0) {
		/* nothing: skip junk to the next separator */
		while (l->t != T_END && !(l->t == T_SPECIAL &&
		    (l->ch == ',' || l->ch == ';')))
			lex_next(l);
		goto done;
	}
	name = NULL;
	if (phrase.len > 0) {
		if (decode && mime_header_decode(phrase.data, phrase.len,
		    &dec) == 0)
			name = detach_or_null(&dec);
		else
			name = detach_or_null(&phrase);
	}
	alist_add(al, name, detach_or_null(&route),
	    xstrndup(mbox.data != NULL ? mbox.data : "", mbox.len),
	    xstrndup(host.data != NULL ? host.data : "", host.len));
done:
	/* to the separator */
	while (l->t != T_END && !(l->t == T_SPECIAL && (l->ch == ',' ||
	    l->ch == ';')))
		lex_next(l);
out:
	str_release(&phrase);
	str_release(&local);
	str_release(&route);
	str_release(&mbox);
	str_release(&host);
	str_release(&dec);
}

static int
addr_parse(const char *v, size_t len, bool decode, struct mime_addr **r,
    size_t *n_r)
{
	struct lex	 l;
	struct alist	 al = { NULL, 0, 0 };
	bool		 group = false;

	memset(&l, 0, sizeof(l));
	l.v = v;
	l.len = len;
	str_init(&l.word, WORD_MAX);
	str_init(&l.comment, WORD_MAX);
	lex_next(&l);
	while (l.t != T_END) {
		if (l.t == T_SPECIAL && l.ch == ',') {
			lex_next(&l);
			continue;
		}
		if (l.t == T_SPECIAL && l.ch == ';') {
			if (group) {
				alist_add(&al, NULL, NULL, NULL, NULL);
				group = false;
			}
			lex_next(&l);
			continue;
		}
		read_address(&l, &al, group, decode, &group);
	}
	if (group)
		alist_add(&al, NULL, NULL, NULL, NULL);
	str_release(&l.word);
	str_release(&l.comment);
	*r = al.a;
	*n_r = al.n;
	return 0;
}

int
mime_addr_parse(const char *v, size_t len, struct mime_addr **r,
    size_t *n_r)
{
	return addr_parse(v, len, true, r, n_r);
}

int
mime_addr_parse_raw(const char *v, size_t len, struct mime_addr **r,
    size_t *n_r)
{
	return addr_parse(v, len, false, r, n_r);
}

void
mime_addr_free(struct mime_addr *a, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		free(a[i].name);
		free(a[i].route);
		free(a[i].mailbox);
		free(a[i].host);
	}
	free(a);
}

/* ---- dates ---- */

static int64_t
days_from_civil(int64_t y, unsigned int m, unsigned int d)
{
	int64_t		 era;
	unsigned int	 yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned int)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

struct dlex {
	const char	*v;
	size_t		 len, i;
};

static void
dskip(struct dlex *d)
{
	unsigned int	 depth;

	for (;;) {
		while (d->i < d->len && (d->v[d->i] == ' ' ||
		    d->v[d->i] == '\t' || d->v[d->i] == '\r' ||
		    d->v[d->i] == '\n'))
			d->i++;
		if (d->i >= d->len || d->v[d->i] != '(')
			return;
		for (depth = 0; d->i < d->len; d->i++) {
			if (d->v[d->i] == '\\' && d->i + 1 < d->len)
				d->i++;
			else if (d->v[d->i] == '(')
				depth++;
			else if (d->v[d->i] == ')' && --depth == 0) {
				d->i++;
				break;
			}
		}
	}
}

/* 1..max digits: the number and how many, 0 if none. */
static unsigned int
ddigits(struct dlex *d, unsigned int max, unsigned int *v)
{
	unsigned int	 n = 0;

	*v = 0;
	while (n < max && d->i < d->len && d->v[d->i] >= '0' &&
	    d->v[d->i] <= '9') {
		*v = *v * 10 + (unsigned int)(d->v[d->i++] - '0');
		n++;
	}
	return n;
}

static size_t
dword(struct dlex *d, char *buf, size_t size)
{
	size_t	 n = 0;

	while (d->i < d->len && ((d->v[d->i] >= 'A' && d->v[d->i] <= 'Z') ||
	    (d->v[d->i] >= 'a' && d->v[d->i] <= 'z'))) {
		if (n + 1 < size)
			buf[n++] = d->v[d->i];
		d->i++;
	}
	buf[n] = '\0';
	return n;
}

static int
zone_name(const char *z)
{
	static const struct {
		const char	*name;
		int		 min;
	} zones[] = {
		{ "UT", 0 }, { "UTC", 0 }, { "GMT", 0 }, { "Z", 0 },
		{ "EST", -300 }, { "EDT", -240 }, { "CST", -360 },
		{ "CDT", -300 }, { "MST", -420 }, { "MDT", -360 },
		{ "PST", -480 }, { "PDT", -420 },
	};
	size_t	 i;

	for (i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
		if (strcasecmp(z, zones[i].name) == 0)
			return zones[i].min;
	return 0;	/* military and unknown zones: RFC 5322 4.3, as -0000 */
}

int
mime_parse_date(const char *v, size_t len, int64_t *t_r)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	struct dlex	 d = { v, len, 0 };
	char		 w[16];
	const char	*mp;
	unsigned int	 day, year, hh, mm, ss = 0, n, zh, zm, mon;
	int		 zone = 0, sign;

	dskip(&d);
	/* [day-of-week ","] */
	if (dword(&d, w, sizeof(w)) > 0) {
		dskip(&d);
		if (d.i < d.len && d.v[d.i] == ',')
			d.i++;
		dskip(&d);
	}
	if (ddigits(&d, 2, &day) == 0 || day < 1 || day > 31)
		return -1;
	dskip(&d);
	if (d.i < d.len && d.v[d.i] == '-')	/* "1-Jan-2020" seen too */
		d.i++;
	if (dword(&d, w, sizeof(w)) < 3)
		return -1;
	w[3] = '\0';
	str_lower(w);
	if ((mp = strstr(months, w)) == NULL || (mp - months) % 3 != 0)
		return -1;
	mon = (unsigned int)(mp - months) / 3 + 1;
	dskip(&d);
	if (d.i < d.len && d.v[d.i] == '-')
		d.i++;
	if ((n = ddigits(&d, 4, &year)) < 2)
		return -1;
	/* RFC 5322 4.3: two digits below 50 are 20xx, others 19xx */
	if (n == 2)
		year += year < 50 ? 2000 : 1900;
	else if (n == 3)
		year += 1900;
	dskip(&d);
	if (ddigits(&d, 2, &hh) == 0 || hh > 23)
		return -1;
	dskip(&d);
	if (d.i >= d.len || d.v[d.i] != ':')
		return -1;
	d.i++;
	dskip(&d);
	if (ddigits(&d, 2, &mm) == 0 || mm > 59)
		return -1;
	dskip(&d);
	if (d.i < d.len && d.v[d.i] == ':') {
		d.i++;
		dskip(&d);
		if (ddigits(&d, 2, &ss) == 0 || ss > 60)
			return -1;
		dskip(&d);
	}
	if (d.i < d.len && (d.v[d.i] == '+' || d.v[d.i] == '-')) {
		sign = d.v[d.i++] == '-' ? -1 : 1;
		if (ddigits(&d, 2, &zh) != 2 || ddigits(&d, 2, &zm) != 2 ||
		    zm > 59)
			return -1;
		zone = sign * (int)(zh * 60 + zm);
	} else if (dword(&d, w, sizeof(w)) > 0)
		zone = zone_name(w);
	*t_r = days_from_civil(year, mon, day) * 86400 + hh * 3600 +
	    mm * 60 + (ss == 60 ? 59 : ss) - (int64_t)zone * 60;
	return 0;
}
