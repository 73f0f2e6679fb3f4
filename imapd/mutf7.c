/* SPDX-License-Identifier: MIT */
/*
 * mutf7.c - modified UTF-7 (RFC 3501 5.1.3) to and from UTF-8
 *
 * Printable US-ASCII (0x20..0x7e) stands for itself, '&' is written "&-",
 * and everything else is UTF-16BE in a modified BASE64 (',' for '/', no
 * padding) between '&' and '-'.  Decoding is strict, as a server must be
 * about names it will store: printable ASCII inside a shift, bits left
 * over, an odd byte, an unpaired surrogate, a control character, an
 * unterminated shift, two shifts in a row, or an 8-bit byte make the
 * input invalid.  Encoding takes valid UTF-8 only (no overlong
 * forms, no surrogates, nothing above U+10FFFF) and, like decoding, no
 * control character (NUL, U+0001..U+001F, DEL), so what one direction
 * writes the other reads back.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "folders.h"
#include "str.h"

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int
b64_value(unsigned char c)
{
	const char	*p;

	if (c == '\0' || (p = strchr(b64, c)) == NULL)
		return -1;
	return (int)(p - b64);
}

/* Append code point cp as UTF-8. */
static int
put_utf8(struct str *out, uint32_t cp)
{
	char	 b[4];
	size_t	 n;

	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return str_append(out, b, n);
}

/* Decode one shift: in[0..len) is the BASE64 between '&' and '-'. */
static int
decode_shift(const char *in, size_t len, struct str *out)
{
	uint32_t	 bits = 0, hi = 0, unit;
	unsigned int	 nbits = 0;
	size_t		 i;
	int		 v;

	for (i = 0; i < len; i++) {
		if ((v = b64_value((unsigned char)in[i])) == -1)
			return -1;
		bits = (bits << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		unit = (bits >> nbits) & 0xffff;
		bits &= (1u << nbits) - 1;
		if (hi != 0) {
			if (unit < 0xdc00 || unit > 0xdfff)
				return -1;	/* high surrogate alone */
			if (put_utf8(out, 0x10000 + ((hi - 0xd800) << 10) +
			    (unit - 0xdc00)) == -1)
				return -1;
			hi = 0;
		} else if (unit >= 0xd800 && unit <= 0xdbff)
			hi = unit;
		else if (unit >= 0xdc00 && unit <= 0xdfff)
			return -1;	/* low surrogate alone */
		else if (unit >= 0x20 && unit <= 0x7e)
			return -1;	/* must stand for itself */
		else if (unit < 0x20 || unit == 0x7f)
			return -1;	/* no control characters in names */
		else if (put_utf8(out, unit) == -1)
			return -1;
	}
	/* Leftover: fewer than 6 bits, all zero. */
	if (hi != 0 || nbits >= 6 || bits != 0)
		return -1;
	return 0;
}

int
imap_mutf7_to_utf8(const char *in, size_t len, struct str *out)
{
	size_t		 i = 0, j;
	bool		 after_shift = false;

	while (i < len) {
		unsigned char c = (unsigned char)in[i];

		if (c < 0x20 || c > 0x7e)
			return -1;
		if (c != '&') {
			if (str_append_c(out, (char)c) == -1)
				return -1;
			after_shift = false;
			i++;
			continue;
		}
		for (j = i + 1; j < len && in[j] != '-'; j++)
			continue;
		if (j == len)
			return -1;		/* unterminated */
		if (j == i + 1) {
			if (str_append_c(out, '&') == -1)
				return -1;
			after_shift = false;
		} else {
			if (after_shift)
				return -1;	/* "&AOk-&AOk-": one shift */
			if (decode_shift(in + i + 1, j - i - 1, out) == -1)
				return -1;
			after_shift = true;
		}
		i = j + 1;
	}
	return 0;
}

/* The next code point of UTF-8 at in[*i..len), strictly. */
static int
get_utf8(const unsigned char *in, size_t len, size_t *i, uint32_t *cp_r)
{
	uint32_t	 cp, min;
	size_t		 n, k;
	unsigned char	 c = in[*i];

	if (c < 0x80) {
		*cp_r = c;
		(*i)++;
		return 0;
	}
	if ((c & 0xe0) == 0xc0)
		n = 1, cp = c & 0x1f, min = 0x80;
	else if ((c & 0xf0) == 0xe0)
		n = 2, cp = c & 0x0f, min = 0x800;
	else if ((c & 0xf8) == 0xf0)
		n = 3, cp = c & 0x07, min = 0x10000;
	else
		return -1;
	for (k = 1; k <= n; k++) {
		if (*i + k >= len || (in[*i + k] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (in[*i + k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*i += n + 1;
	*cp_r = cp;
	return 0;
}

/* Close a shift: flush the bits left (zero-padded) and '-'. */
static int
end_shift(struct str *out, uint32_t bits, unsigned int nbits)
{
	if (nbits > 0 &&
	    str_append_c(out, b64[(bits << (6 - nbits)) & 0x3f]) == -1)
		return -1;
	return str_append_c(out, '-');
}

int
imap_utf8_to_mutf7(const char *in, size_t len, struct str *out)
{
	const unsigned char *u = (const unsigned char *)in;
	uint32_t	 cp, units[2], bits = 0;
	unsigned int	 nbits = 0, nu, k;
	bool		 shifted = false;
	size_t		 i = 0;

	while (i < len) {
		if (get_utf8(u, len, &i, &cp) == -1)
			return -1;
		if (cp < 0x20 || cp == 0x7f)
			return -1;	/* the decoder refuses them too */
		if (cp >= 0x20 && cp <= 0x7e) {
			if (shifted) {
				if (end_shift(out, bits, nbits) == -1)
					return -1;
				shifted = false;
				bits = nbits = 0;
			}
			if (str_append_c(out, (char)cp) == -1 ||
			    (cp == '&' && str_append_c(out, '-') == -1))
				return -1;
			continue;
		}
		if (!shifted) {
			if (str_append_c(out, '&') == -1)
				return -1;
			shifted = true;
		}
		if (cp >= 0x10000) {
			units[0] = 0xd800 + ((cp - 0x10000) >> 10);
			units[1] = 0xdc00 + ((cp - 0x10000) & 0x3ff);
			nu = 2;
		} else {
			units[0] = cp;
			nu = 1;
		}
		for (k = 0; k < nu; k++) {
			bits = (bits << 16) | units[k];
			nbits += 16;
			while (nbits >= 6) {
				nbits -= 6;
				if (str_append_c(out,
				    b64[(bits >> nbits) & 0x3f]) == -1)
					return -1;
			}
			bits &= (1u << nbits) - 1;
		}
	}
	if (shifted && end_shift(out, bits, nbits) == -1)
		return -1;
	return 0;
}
