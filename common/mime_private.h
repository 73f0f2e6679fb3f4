/*
 * mime_private.h - what the files of common/mime share (not for callers)
 */
#ifndef BUZON_MIME_PRIVATE_H
#define BUZON_MIME_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

struct str;

/* Convert len bytes in charset to UTF-8, appending to out.  Returns 1
 * converted, 0 the charset is unknown (nothing appended), -1 out bounds
 * of out.  Bytes that do not convert become U+FFFD. */
int	 mime_charset_to_utf8(const char *charset, const char *, size_t,
	    struct str *out) __attribute__((warn_unused_result));
/* Charsets whose bytes are taken as they are (ASCII, UTF-8). */
bool	 mime_charset_is_utf8(const char *charset);
/* Lenient decoders (appending to out): base64 skips characters outside
 * the alphabet and stops at '='; quoted-printable keeps a bad '=' as it
 * is, drops soft line breaks and whitespace before a line end.  With
 * q_header, '_' is a space (RFC 2047 "Q"). */
int	 mime_base64_decode(const char *, size_t, struct str *out)
	    __attribute__((warn_unused_result));
int	 mime_qp_decode(const char *, size_t, bool q_header, struct str *out)
	    __attribute__((warn_unused_result));
/* Append CRLF WSP unfolded (CR and LF dropped). */
int	 mime_unfold(const char *, size_t, struct str *out)
	    __attribute__((warn_unused_result));

#endif
