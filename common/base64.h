/*
 * base64.h - strict RFC 4648 base64, as SASL (RFC 4422) and IMAP use it
 *
 * Encoding and decoding go through OpenSSL (EVP_EncodeBlock and
 * EVP_DecodeBlock); this module adds the checks OpenSSL leaves out so the
 * decoder is strict: the input length is a multiple of 4, every character
 * is in the alphabet, '=' appears only as one or two final pad characters,
 * and the bits a pad leaves over are zero (one byte string has exactly one
 * encoding).  No whitespace or line breaks are accepted.  The empty string
 * encodes to and decodes from "".
 */
#ifndef BUZON_BASE64_H
#define BUZON_BASE64_H

#include <stddef.h>

/* Bytes needed to encode len bytes, not counting the NUL. */
#define BASE64_ENCODED_LEN(len)	((((len) + 2) / 3) * 4)
/* Upper bound of bytes a decode of len characters can produce. */
#define BASE64_DECODED_MAX(len)	(((len) / 4) * 3)

/* Encode len bytes of src into dst, NUL-terminated.  dstsize must be at
 * least BASE64_ENCODED_LEN(len) + 1.  Returns 0 with *outlen_r (may be NULL)
 * set to the encoded length, or -1 if dst is too small (dst untouched). */
int	base64_encode(const void *src, size_t len, char *dst, size_t dstsize,
	    size_t *outlen_r) __attribute__((warn_unused_result));

/* Decode exactly len characters of src into dst (not NUL-terminated, but a
 * NUL is added after the data when room is left).  Returns 0 with
 * *outlen_r set, or -1 when the input is not strict base64 or the result
 * does not fit in dstsize.  dst may hold garbage after -1. */
int	base64_decode(const char *src, size_t len, void *dst, size_t dstsize,
	    size_t *outlen_r) __attribute__((warn_unused_result));

#endif
