/* SPDX-License-Identifier: MIT */
/*
 * base64.c - strict base64 over OpenSSL's block coder
 *
 * EVP_DecodeBlock() skips leading and trailing whitespace, treats '=' as a
 * zero digit and returns 3 bytes for every 4 characters, pad included; it
 * never looks at whether a pad is where it may be.  So we validate the
 * text first, then let OpenSSL decode and cut the pad bytes off.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include "base64.h"

/* Value of a base64 digit, or -1. */
static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
base64_encode(const void *src, size_t len, char *dst, size_t dstsize,
    size_t *outlen_r)
{
	int	 n;

	if (len > (SIZE_MAX / 4) - 3 || len > INT32_MAX / 2 ||
	    dstsize < BASE64_ENCODED_LEN(len) + 1)
		return -1;
	if (len == 0) {
		dst[0] = '\0';
		n = 0;
	} else
		n = EVP_EncodeBlock((unsigned char *)dst,
		    (const unsigned char *)src, (int)len);
	if (n < 0)
		return -1;
	if (outlen_r != NULL)
		*outlen_r = (size_t)n;
	return 0;
}

int
base64_decode(const char *src, size_t len, void *dst, size_t dstsize,
    size_t *outlen_r)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t	 i, pad = 0, out;
	int	 n, v;

	if (len % 4 != 0 || len > INT32_MAX / 2)
		return -1;
	if (len == 0) {
		if (dstsize > 0)
			((char *)dst)[0] = '\0';
		*outlen_r = 0;
		return 0;
	}
	if (s[len - 1] == '=')
		pad = s[len - 2] == '=' ? 2 : 1;
	for (i = 0; i < len - pad; i++)
		if (b64_value(s[i]) < 0)
			return -1;
	/* The digit before the pad must not carry bits past the data. */
	v = b64_value(s[len - pad - 1]);
	if ((pad == 1 && (v & 0x03) != 0) || (pad == 2 && (v & 0x0f) != 0))
		return -1;
	out = len / 4 * 3 - pad;
	/* OpenSSL writes the pad bytes too. */
	if (dstsize < len / 4 * 3)
		return -1;
	n = EVP_DecodeBlock(dst, s, (int)len);
	if (n < 0 || (size_t)n != len / 4 * 3)
		return -1;
	if (out < dstsize)
		((char *)dst)[out] = '\0';
	*outlen_r = out;
	return 0;
}
