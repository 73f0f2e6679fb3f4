/*
 * tls.h - OpenSSL contexts for servers and clients, and self-signed certs
 *
 * Contexts allow TLS 1.2 and 1.3 only.  SSL_CTX objects are reference
 * counted by OpenSSL: a reload builds a new context and swaps the pointer,
 * and sessions still using the old one keep it alive until they end.
 */
#ifndef BUZON_TLS_H
#define BUZON_TLS_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

#include "fail.h"

/* Server context from a PEM certificate chain and key; the key must match
 * the certificate.  NULL with f filled. */
SSL_CTX	*tls_server_ctx_new(const char *cert_file, const char *key_file,
	    struct fail *f);
/* Client context.  With verify, peers are checked against cafile (or the
 * system store when cafile is NULL); without, any certificate is taken
 * (opportunistic STARTTLS, tests).  NULL with f filled. */
SSL_CTX	*tls_client_ctx_new(bool verify, const char *cafile, struct fail *f);
void	 tls_ctx_free(SSL_CTX **);

/* A daemon's server context: tls_server_ctx_new, and on failure a warning
 * "tls off: <what> reason=..." (what names the features lost, e.g. "no
 * STLS, no pop3s") and NULL: the daemon then runs without TLS. */
SSL_CTX	*tls_server_ctx_load(const char *cert_file, const char *key_file,
	    const char *what);
/* Reload: *ctxp is released and replaced by tls_server_ctx_load() of the
 * files (NULL when they no longer load).  Sessions in TLS hold their own
 * reference to the old context, which lives until they end. */
void	 tls_server_ctx_reload(SSL_CTX **ctxp, const char *cert_file,
	    const char *key_file, const char *what);

/* Write a new self-signed certificate (EC P-256, 10 years, SAN: DNS cn,
 * DNS localhost, IP 127.0.0.1, IP ::1) and its key (mode 0600) through the
 * OpenSSL API.  Files are written to temp names and renamed.  0 or -1. */
int	 tls_selfsigned_write(const char *cert_file, const char *key_file,
	    const char *cn, struct fail *f);

/* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)", the form
 * Postfix puts in Received:. */
void	 tls_describe(SSL *, char *buf, size_t size);
/* SHA-256 fingerprint of the certificate in cert_file, "AB:CD:..". 0/-1. */
int	 tls_cert_fingerprint(const char *cert_file, char *buf, size_t size);

#endif
