/* SPDX-License-Identifier: MIT */
/*
 * parse.c - the argument cursor over a collected IMAP command and the
 * string writers (parse.h); grammar of RFC 3501 section 9 and RFC 9051
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "parse.h"
#include "str.h"

#define IMAP_QUOTED_MAX	1024	/* longest string we send quoted */

static const char *const months[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

static bool
is_ctl(unsigned char ch)
{
	return ch < 0x20 || ch == 0x7f;
}

/* ATOM-CHAR: CHAR (7-bit, not NUL) except atom-specials. */
static bool
is_atom_char(unsigned char ch)
{
	if (ch == 0 || ch >= 0x80 || is_ctl(ch))
		return false;
	return strchr("(){ %*\"\\]", ch) == NULL;
}

static bool
is_astring_char(unsigned char ch)
{
	return is_atom_char(ch) || ch == ']';
}

static bool
is_list_char(unsigned char ch)
{
	return is_atom_char(ch) || ch == '%' || ch == '*' || ch == ']';
}

static bool
fail(struct imap_cur *c, const char *err)
{
	c->err = err;
	return false;
}

static char
lower(char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

void
imap_cur_init(struct imap_cur *c, char *buf, size_t len)
{
	c->p = buf;
	c->end = buf + len;
	c->err = NULL;
}

bool
imap_eol(const struct imap_cur *c)
{
	return c->p >= c->end;
}

bool
imap_peek(const struct imap_cur *c, char ch)
{
	return c->p < c->end && *c->p == ch;
}

bool
imap_take(struct imap_cur *c, char ch)
{
	if (!imap_peek(c, ch))
		return false;
	c->p++;
	return true;
}

bool
imap_sp(struct imap_cur *c)
{
	if (imap_eol(c))
		return fail(c, "Missing argument");
	if (*c->p != ' ')
		return fail(c, "Expected a space");
	c->p++;
	if (imap_peek(c, ' '))
		return fail(c, "Extra space");
	return true;
}

/* A run of bytes for which ok() holds, at least one. */
static bool
run(struct imap_cur *c, struct imap_str *out, bool (*ok)(unsigned char),
    const char *err)
{
	char	*start = c->p;

	while (c->p < c->end && ok((unsigned char)*c->p))
		c->p++;
	if (c->p == start)
		return fail(c, imap_eol(c) ? "Missing argument" : err);
	out->s = start;
	out->len = (size_t)(c->p - start);
	out->literal = false;
	out->literal8 = false;
	return true;
}

bool
imap_atom(struct imap_cur *c, struct imap_str *out)
{
	return run(c, out, is_atom_char, "Invalid characters in atom");
}

/* quoted: DQUOTE *QUOTED-CHAR DQUOTE, unescaped in place.  8-bit bytes
 * are taken (RFC 9051 and UTF8=ACCEPT allow UTF-8 there). */
static bool
quoted(struct imap_cur *c, struct imap_str *out)
{
	char	*w, *start;

	c->p++;				/* the opening quote */
	start = w = c->p;
	for (;;) {
		unsigned char	ch;

		if (c->p >= c->end)
			return fail(c, "Missing '\"'");
		ch = (unsigned char)*c->p;
		if (ch == '"')
			break;
		if (ch == '\0' || ch == '\r' || ch == '\n')
			return fail(c, "Invalid character in quoted string");
		if (ch == '\\') {
			if (c->p + 1 >= c->end)
				return fail(c, "Missing '\"'");
			ch = (unsigned char)c->p[1];
			if (ch != '"' && ch != '\\')
				return fail(c,
				    "Invalid escape in quoted string");
			c->p++;
		}
		*w++ = (char)ch;
		c->p++;
	}
	c->p++;				/* the closing quote */
	out->s = start;
	out->len = (size_t)(w - start);
	out->literal = false;
	out->literal8 = false;
	return true;
}

/* Digits as a number no larger than max; false on none or overflow. */
static bool
digits(struct imap_cur *c, uint64_t max, uint64_t *r)
{
	uint64_t	 v = 0;
	char		*start = c->p;

	while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
		uint64_t	d = (uint64_t)(*c->p - '0');

		if (v > (max - d) / 10) {
			c->p = start;
			return fail(c, "Number too big");
		}
		v = v * 10 + d;
		c->p++;
	}
	if (c->p == start)
		return fail(c, imap_eol(c) ? "Missing argument" :
		    "Expected a number");
	*r = v;
	return true;
}

/* literal: "{" number64 ["+"] "}" CRLF, then the bytes, all in the
 * buffer; literal8 with a leading "~". */
static bool
literal(struct imap_cur *c, struct imap_str *out)
{
	char		*start = c->p;
	bool		 is8 = false;
	uint64_t	 n;

	if (imap_take(c, '~'))
		is8 = true;
	if (!imap_take(c, '{')) {
		c->p = start;
		return fail(c, "Invalid literal");
	}
	if (!digits(c, INT64_MAX, &n)) {
		c->p = start;
		return fail(c, "Invalid literal size");
	}
	(void)imap_take(c, '+');
	if (!imap_take(c, '}') || !imap_take(c, '\r') || !imap_take(c, '\n')) {
		c->p = start;
		return fail(c, "Invalid literal");
	}
	if (n > (uint64_t)(c->end - c->p)) {
		c->p = start;
		return fail(c, "Literal shorter than announced");
	}
	out->s = c->p;
	out->len = (size_t)n;
	out->literal = true;
	out->literal8 = is8;
	c->p += n;
	return true;
}

/* "~{": a literal8; a '~' alone is an atom character. */
static bool
at_literal8(const struct imap_cur *c)
{
	return c->end - c->p >= 2 && c->p[0] == '~' && c->p[1] == '{';
}

bool
imap_string(struct imap_cur *c, struct imap_str *out)
{
	if (imap_eol(c))
		return fail(c, "Missing argument");
	if (*c->p == '"')
		return quoted(c, out);
	if (*c->p == '{' || at_literal8(c))
		return literal(c, out);
	return fail(c, "Expected a string");
}

bool
imap_astring(struct imap_cur *c, struct imap_str *out)
{
	if (!imap_eol(c) && (*c->p == '"' || *c->p == '{' || at_literal8(c)))
		return imap_string(c, out);
	return run(c, out, is_astring_char, "Invalid characters in atom");
}

bool
imap_nstring(struct imap_cur *c, struct imap_str *out, bool *is_nil)
{
	char	*start = c->p;

	*is_nil = false;
	if (!imap_eol(c) && (*c->p == '"' || *c->p == '{' || at_literal8(c)))
		return imap_string(c, out);
	if (!imap_atom(c, out))
		return fail(c, "Expected a string or NIL");
	if (!imap_str_eq(out, "NIL")) {
		c->p = start;
		return fail(c, "Expected a string or NIL");
	}
	*is_nil = true;
	out->s = NULL;
	out->len = 0;
	return true;
}

bool
imap_list_mailbox(struct imap_cur *c, struct imap_str *out)
{
	if (!imap_eol(c) && (*c->p == '"' || *c->p == '{' || at_literal8(c)))
		return imap_string(c, out);
	return run(c, out, is_list_char, "Invalid characters in mailbox");
}

bool
imap_flag(struct imap_cur *c, struct imap_str *out, bool allow_star)
{
	char	*start = c->p;

	if (imap_take(c, '\\')) {
		if (allow_star && imap_take(c, '*')) {
			out->s = start;
			out->len = 2;
			out->literal = out->literal8 = false;
			return true;
		}
		if (!imap_atom(c, out)) {
			c->p = start;
			return fail(c, "Invalid flag");
		}
		out->s = start;
		out->len = (size_t)(c->p - start);
		return true;
	}
	if (!imap_atom(c, out))
		return fail(c, imap_eol(c) ? "Missing argument" :
		    "Invalid flag");
	return true;
}

bool
imap_number(struct imap_cur *c, uint32_t *r)
{
	uint64_t	v;

	if (!digits(c, UINT32_MAX, &v))
		return false;
	*r = (uint32_t)v;
	return true;
}

bool
imap_number64(struct imap_cur *c, uint64_t *r)
{
	return digits(c, INT64_MAX, r);
}

bool
imap_nz_number(struct imap_cur *c, uint32_t *r)
{
	if (imap_peek(c, '0'))
		return fail(c, "Expected a non-zero number");
	return imap_number(c, r);
}

static bool
is_seq_char(unsigned char ch)
{
	return (ch >= '0' && ch <= '9') || ch == ':' || ch == ',' ||
	    ch == '*';
}

bool
imap_seqset_text(struct imap_cur *c, struct imap_str *out)
{
	char	*start = c->p;

	if (imap_peek(c, '$')) {
		c->p++;
		out->s = start;
		out->len = 1;
		out->literal = out->literal8 = false;
	} else if (!run(c, out, is_seq_char, "Invalid sequence set"))
		return false;
	if (!imap_eol(c) && *c->p != ' ' && *c->p != ')') {
		c->p = start;
		return fail(c, "Invalid sequence set");
	}
	return true;
}

static int
month_of(const char *p)
{
	int	i;

	for (i = 0; i < 12; i++)
		if (lower(p[0]) == lower(months[i][0]) &&
		    lower(p[1]) == lower(months[i][1]) &&
		    lower(p[2]) == lower(months[i][2]))
			return i;
	return -1;
}

static bool
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static bool
valid_day(int d, int mon, int year)
{
	static const int mdays[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	int	max = mdays[mon];

	if (mon == 1 && is_leap(year))
		max = 29;
	return d >= 1 && d <= max;
}

/* n digits exactly at p into *r. */
static bool
fixed_digits(const char *p, int n, int *r)
{
	int	v = 0, i;

	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (p[i] - '0');
	}
	*r = v;
	return true;
}

/* date-text at c: day "-" Mon "-" yyyy, day 1 or 2 digits, or with a
 * leading space when fixed (date-day-fixed). */
static bool
date_text(struct imap_cur *c, bool fixed, struct tm *tm)
{
	char	*p = c->p;
	int	 day, mon, year, nd;

	if (fixed && p < c->end && *p == ' ')
		p++;
	nd = 0;
	while (nd < 2 && p + nd < c->end && p[nd] >= '0' && p[nd] <= '9')
		nd++;
	if (nd == 0 || !fixed_digits(p, nd, &day))
		return false;
	p += nd;
	if (c->end - p < 9 || p[0] != '-' || p[4] != '-')
		return false;
	if ((mon = month_of(p + 1)) < 0)
		return false;
	if (!fixed_digits(p + 5, 4, &year) || year < 1)
		return false;
	if (!valid_day(day, mon, year))
		return false;
	memset(tm, 0, sizeof(*tm));
	tm->tm_mday = day;
	tm->tm_mon = mon;
	tm->tm_year = year - 1900;
	c->p = p + 9;
	return true;
}

bool
imap_date(struct imap_cur *c, time_t *r)
{
	char		*start = c->p;
	bool		 q;
	struct tm	 tm;

	q = imap_take(c, '"');
	if (!date_text(c, false, &tm) || (q && !imap_take(c, '"'))) {
		c->p = start;
		return fail(c, imap_eol(c) ? "Missing argument" :
		    "Invalid date");
	}
	*r = timegm(&tm);
	return true;
}

bool
imap_datetime(struct imap_cur *c, time_t *r)
{
	char		*start = c->p, *p;
	struct tm	 tm;
	int		 hh, mm, ss, zh, zm;
	long		 off;

	if (!imap_take(c, '"'))
		goto bad;
	if (!date_text(c, true, &tm))
		goto bad;
	p = c->p;
	/* SP hh:mm:ss SP +hhmm DQUOTE */
	if (c->end - p < 16 || p[0] != ' ' || p[3] != ':' || p[6] != ':' ||
	    p[9] != ' ' || (p[10] != '+' && p[10] != '-') || p[15] != '"')
		goto bad;
	if (!fixed_digits(p + 1, 2, &hh) || !fixed_digits(p + 4, 2, &mm) ||
	    !fixed_digits(p + 7, 2, &ss) || !fixed_digits(p + 11, 2, &zh) ||
	    !fixed_digits(p + 13, 2, &zm))
		goto bad;
	if (hh > 23 || mm > 59 || ss > 60 || zm > 59)
		goto bad;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	off = (long)zh * 3600 + (long)zm * 60;
	if (p[10] == '-')
		off = -off;
	*r = timegm(&tm) - off;
	c->p = p + 16;
	return true;
bad:
	c->p = start;
	return fail(c, imap_eol(c) ? "Missing argument" : "Invalid date-time");
}

bool
imap_str_eq(const struct imap_str *s, const char *lit)
{
	size_t	i, n = strlen(lit);

	if (s->len != n)
		return false;
	for (i = 0; i < n; i++)
		if (lower(s->s[i]) != lower(lit[i]))
			return false;
	return true;
}

bool
imap_str_copy(const struct imap_str *s, char *buf, size_t size)
{
	if (s->len >= size || memchr(s->s, '\0', s->len) != NULL)
		return false;
	memcpy(buf, s->s, s->len);
	buf[s->len] = '\0';
	return true;
}

bool
imap_literal_tail(const char *line, size_t len, uint64_t *n_r,
    bool *nonsync_r, bool *binary_r)
{
	size_t		 i, end;
	uint64_t	 n = 0;
	bool		 nonsync = false;

	if (len < 3 || line[len - 1] != '}')
		return false;
	end = len - 1;
	if (line[end - 1] == '+') {
		nonsync = true;
		end--;
	}
	i = end;
	while (i > 0 && line[i - 1] >= '0' && line[i - 1] <= '9')
		i--;
	if (i == end || i == 0 || line[i - 1] != '{')
		return false;
	*binary_r = i >= 2 && line[i - 2] == '~';
	for (; i < end; i++) {
		uint64_t	d = (uint64_t)(line[i] - '0');

		if (n > ((uint64_t)INT64_MAX - d) / 10)
			n = UINT64_MAX;		/* too big: caller refuses */
		else
			n = n * 10 + d;
		if (n == UINT64_MAX)
			break;
	}
	*nonsync_r = nonsync;
	*n_r = n;
	return true;
}

/* ---- writing ---- */

int
imap_put_string(struct str *out, const char *s, size_t len, bool utf8)
{
	size_t	i;
	bool	lit = len > IMAP_QUOTED_MAX;

	for (i = 0; i < len && !lit; i++) {
		unsigned char	ch = (unsigned char)s[i];

		if (ch == '\0' || ch == '\r' || ch == '\n' ||
		    (ch >= 0x80 && !utf8))
			lit = true;
	}
	if (lit) {
		if (str_appendf(out, "{%zu}\r\n", len) == -1)
			return -1;
		return str_append(out, s, len);
	}
	if (str_append_c(out, '"') == -1)
		return -1;
	for (i = 0; i < len; i++) {
		if ((s[i] == '"' || s[i] == '\\') &&
		    str_append_c(out, '\\') == -1)
			return -1;
		if (str_append_c(out, s[i]) == -1)
			return -1;
	}
	return str_append_c(out, '"');
}

int
imap_put_nstring(struct str *out, const char *s, size_t len, bool utf8)
{
	if (s == NULL)
		return str_append(out, "NIL", 3);
	return imap_put_string(out, s, len, utf8);
}

int
imap_put_astring(struct str *out, const char *s, size_t len, bool utf8)
{
	size_t	i;
	bool	atom = len > 0 && len <= IMAP_QUOTED_MAX;

	for (i = 0; i < len && atom; i++)
		if (!is_astring_char((unsigned char)s[i]))
			atom = false;
	if (atom && len == 3 && lower(s[0]) == 'n' && lower(s[1]) == 'i' &&
	    lower(s[2]) == 'l')
		atom = false;
	if (atom)
		return str_append(out, s, len);
	return imap_put_string(out, s, len, utf8);
}

int
imap_put_datetime(struct str *out, time_t t)
{
	struct tm	tm;

	if (gmtime_r(&t, &tm) == NULL)
		return -1;
	return str_appendf(out, "\"%02d-%s-%04d %02d:%02d:%02d +0000\"",
	    tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
}
