/* SPDX-License-Identifier: MIT */
/*
 * tls.c - OpenSSL contexts for servers and clients, and self-signed certs
 *
 * Contexts take TLS 1.2 and 1.3 only, forward-secret AEAD suites for 1.2,
 * and never renegotiate (a renegotiation in the middle of a pipelined SMTP
 * or IMAP session buys nothing and has a history of bugs).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "fail.h"
#include "fileio.h"
#include "log.h"
#include "str.h"
#include "tls.h"

/* TLS 1.2 suites: ECDHE/DHE key exchange with AEAD only.  TLS 1.3 suites
 * are OpenSSL's defaults, which are all good. */
#define TLS_CIPHERS_12 \
	"ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL:!eNULL"

#define TLS_SELFSIGNED_DAYS	3650

/* The most recent OpenSSL error as text, and the queue cleared. */
static const char *
tls_err(char *buf, size_t size)
{
	unsigned long	 e = ERR_peek_last_error();

	if (e == 0)
		(void)str_copy(buf, "unknown error", size);
	else
		ERR_error_string_n(e, buf, size);
	ERR_clear_error();
	return buf;
}

static SSL_CTX *
tls_ctx_common(const SSL_METHOD *method, struct fail *f)
{
	SSL_CTX	*ctx;
	char	 ebuf[160];

	ERR_clear_error();
	if ((ctx = SSL_CTX_new(method)) == NULL) {
		fail_set(f, true, "4.7.0", "cannot create TLS context: %s",
		    tls_err(ebuf, sizeof(ebuf)));
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS_12) != 1) {
		fail_set(f, true, "4.7.0", "cannot configure TLS context: %s",
		    tls_err(ebuf, sizeof(ebuf)));
		SSL_CTX_free(ctx);
		return NULL;
	}
	/*
	 * Mail protocols end sessions themselves (QUIT, LOGOUT, the DATA
	 * dot), so a peer that drops TCP without close_notify is a plain end
	 * of file, not a truncation attack.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	/*
	 * stream.c writes from a buffer it may compact between retries and
	 * wants to know how much of it went out.
	 */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return ctx;
}

/* open() the file first so a missing or unreadable file gets errno's text,
 * which says more than OpenSSL's "system lib". */
static int
tls_check_readable(const char *what, const char *path, struct fail *f)
{
	int	 fd;

	if (path == NULL || *path == '\0')
		return fail_set(f, true, "4.7.0", "no TLS %s file configured",
		    what);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return fail_set(f, true, "4.7.0", "cannot open TLS %s %s: %s",
		    what, path, strerror(errno));
	(void)close(fd);
	return 0;
}

SSL_CTX *
tls_server_ctx_new(const char *cert_file, const char *key_file,
    struct fail *f)
{
	SSL_CTX	*ctx;
	char	 ebuf[160];

	if (tls_check_readable("certificate", cert_file, f) == -1 ||
	    tls_check_readable("key", key_file, f) == -1)
		return NULL;
	if ((ctx = tls_ctx_common(TLS_server_method(), f)) == NULL)
		return NULL;
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* Built-in DH groups sized to the key, for TLS 1.2 clients without
	 * ECDHE. */
	(void)SSL_CTX_set_dh_auto(ctx, 1);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		fail_set(f, true, "4.7.0", "cannot load TLS certificate %s: %s",
		    cert_file, tls_err(ebuf, sizeof(ebuf)));
		goto fail;
	}
	/* OpenSSL 3 already refuses a key that does not match the
	 * certificate here; SSL_CTX_check_private_key() below makes sure. */
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
		if (ERR_GET_REASON(ERR_peek_last_error()) ==
		    X509_R_KEY_VALUES_MISMATCH)
			goto mismatch;
		fail_set(f, true, "4.7.0", "cannot load TLS key %s: %s",
		    key_file, tls_err(ebuf, sizeof(ebuf)));
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1)
		goto mismatch;
	return ctx;
mismatch:
	ERR_clear_error();
	fail_set(f, true, "4.7.0", "TLS key %s does not match certificate %s",
	    key_file, cert_file);
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

SSL_CTX *
tls_client_ctx_new(bool verify, const char *cafile, struct fail *f)
{
	SSL_CTX	*ctx;
	char	 ebuf[160];
	int	 rc;

	if ((ctx = tls_ctx_common(TLS_client_method(), f)) == NULL)
		return NULL;
	if (!verify) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return ctx;
	}
	if (cafile != NULL) {
		if (tls_check_readable("CA", cafile, f) == -1)
			goto fail;
		rc = SSL_CTX_load_verify_locations(ctx, cafile, NULL);
	} else
		rc = SSL_CTX_set_default_verify_paths(ctx);
	if (rc != 1) {
		fail_set(f, true, "4.7.0", "cannot load TLS CA %s: %s",
		    cafile != NULL ? cafile : "(system store)",
		    tls_err(ebuf, sizeof(ebuf)));
		goto fail;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

void
tls_ctx_free(SSL_CTX **pp)
{
	if (pp == NULL || *pp == NULL)
		return;
	SSL_CTX_free(*pp);
	*pp = NULL;
}

SSL_CTX *
tls_server_ctx_load(const char *cert_file, const char *key_file,
    const char *what)
{
	struct fail	 f;
	SSL_CTX		*ctx;

	ctx = tls_server_ctx_new(cert_file, key_file, &f);
	if (ctx == NULL)
		log_warn("-", "tls off: %s reason=\"%s\"", what, f.text);
	return ctx;
}

void
tls_server_ctx_reload(SSL_CTX **ctxp, const char *cert_file,
    const char *key_file, const char *what)
{
	SSL_CTX	*ctx;

	ctx = tls_server_ctx_load(cert_file, key_file, what);
	tls_ctx_free(ctxp);
	*ctxp = ctx;
}

/* A host name for CN and SAN: letters, digits, '-', '.', 1..64 bytes (the
 * X.520 upper bound for CN).  Anything else could smuggle extra SAN
 * entries through the comma-separated config string. */
static bool
tls_cn_is_valid(const char *cn)
{
	size_t	 n;

	for (n = 0; cn[n] != '\0'; n++) {
		if ((cn[n] < 'a' || cn[n] > 'z') &&
		    (cn[n] < 'A' || cn[n] > 'Z') &&
		    (cn[n] < '0' || cn[n] > '9') && cn[n] != '-' &&
		    cn[n] != '.')
			return false;
	}
	return n >= 1 && n <= 64;
}

static int
tls_add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX	 v3;
	X509_EXTENSION	*ext;
	int		 rc;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value)) == NULL)
		return -1;
	rc = X509_add_ext(x, ext, -1) == 1 ? 0 : -1;
	X509_EXTENSION_free(ext);
	return rc;
}

/* Random positive 127-bit serial (RFC 5280 4.1.2.2: at most 20 octets). */
static int
tls_set_serial(X509 *x)
{
	BIGNUM		*bn;
	ASN1_INTEGER	*ai = NULL;
	int		 rc = -1;

	if ((bn = BN_new()) == NULL)
		return -1;
	if (BN_rand(bn, 127, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) == 1 &&
	    (ai = BN_to_ASN1_INTEGER(bn, NULL)) != NULL &&
	    X509_set_serialNumber(x, ai) == 1)
		rc = 0;
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	return rc;
}

static X509 *
tls_make_cert(EVP_PKEY *pkey, const char *cn)
{
	X509		*x;
	X509_NAME	*name;
	char		 san[160];

	if ((x = X509_new()) == NULL)
		return NULL;
	if (strcmp(cn, "localhost") == 0)
		(void)str_copy(san, "DNS:localhost", sizeof(san));
	else if (!str_printf(san, sizeof(san), "DNS:%s,DNS:localhost", cn))
		goto fail;
	if (!str_printf(san + strlen(san), sizeof(san) - strlen(san),
	    ",IP:127.0.0.1,IP:::1"))
		goto fail;
	if (X509_set_version(x, X509_VERSION_3) != 1 ||
	    tls_set_serial(x) == -1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), TLS_SELFSIGNED_DAYS, 0,
	    NULL) == NULL ||
	    X509_set_pubkey(x, pkey) != 1)
		goto fail;
	name = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1)
		goto fail;
	if (tls_add_ext(x, NID_basic_constraints, "critical,CA:FALSE") == -1 ||
	    tls_add_ext(x, NID_key_usage,
	    "critical,digitalSignature") == -1 ||
	    tls_add_ext(x, NID_ext_key_usage, "serverAuth,clientAuth") == -1 ||
	    tls_add_ext(x, NID_subject_key_identifier, "hash") == -1 ||
	    tls_add_ext(x, NID_subject_alt_name, san) == -1)
		goto fail;
	if (X509_sign(x, pkey, EVP_sha256()) == 0)
		goto fail;
	return x;
fail:
	X509_free(x);
	return NULL;
}

/* fsync the directory holding path, so a rename into it is durable. */
static int
tls_fsync_dir(const char *path)
{
	char	 dir[PATH_MAX];
	char	*slash;
	int	 fd, rc;

	if (!str_copy(dir, path, sizeof(dir)))
		return -1;
	if ((slash = strrchr(dir, '/')) == NULL)
		(void)str_copy(dir, ".", sizeof(dir));
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	(void)close(fd);
	return rc;
}

/* Write len bytes to a new temp file beside path, mode exactly, fsync'd.
 * The temp name goes to tmp (size tmpsize).  0, or -1 with f filled. */
static int
tls_write_temp(const char *path, char *tmp, size_t tmpsize, mode_t mode,
    const char *data, size_t len, struct fail *f)
{
	unsigned char	 rnd[6];
	int		 fd, saved;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return fail_set(f, true, "4.7.0", "no random bytes");
	if (!str_printf(tmp, tmpsize, "%s.tmp.%ld.%02x%02x%02x%02x%02x%02x",
	    path, (long)getpid(), rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
	    rnd[5]))
		return fail_set(f, false, "5.7.0", "path too long: %s", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    mode);
	if (fd == -1)
		return fail_set(f, true, "4.7.0", "cannot create %s: %s", tmp,
		    strerror(errno));
	if (fchmod(fd, mode) == -1)
		goto fail;
	if (fd_write_all(fd, data, len) == -1 || fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	saved = errno;
	if (fd != -1)
		(void)close(fd);
	(void)unlink(tmp);
	return fail_set(f, true, "4.7.0", "cannot write %s: %s", tmp,
	    strerror(saved));
}

int
tls_selfsigned_write(const char *cert_file, const char *key_file,
    const char *cn, struct fail *f)
{
	EVP_PKEY	*pkey = NULL;
	X509		*x = NULL;
	BIO		*kbio = NULL, *cbio = NULL;
	char		*kdata, *cdata;
	long		 klen, clen;
	char		 ktmp[PATH_MAX], ctmp[PATH_MAX], ebuf[160];
	bool		 have_ktmp = false, have_ctmp = false;
	int		 rc = -1;

	if (!tls_cn_is_valid(cn))
		return fail_set(f, false, "5.7.0",
		    "invalid name for a certificate: use a host name");
	if (strcmp(cert_file, key_file) == 0)
		return fail_set(f, false, "5.7.0",
		    "certificate and key need two different files");
	ERR_clear_error();
	if ((pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL ||
	    (x = tls_make_cert(pkey, cn)) == NULL) {
		fail_set(f, true, "4.7.0", "cannot make certificate: %s",
		    tls_err(ebuf, sizeof(ebuf)));
		goto out;
	}
	/* The key goes through secure memory so no copy lingers on the heap. */
	if ((kbio = BIO_new(BIO_s_secmem())) == NULL ||
	    (cbio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_PrivateKey(kbio, pkey, NULL, NULL, 0, NULL,
	    NULL) != 1 ||
	    PEM_write_bio_X509(cbio, x) != 1) {
		fail_set(f, true, "4.7.0", "cannot encode certificate: %s",
		    tls_err(ebuf, sizeof(ebuf)));
		goto out;
	}
	klen = BIO_get_mem_data(kbio, &kdata);
	clen = BIO_get_mem_data(cbio, &cdata);
	if (klen <= 0 || clen <= 0) {
		fail_set(f, true, "4.7.0", "cannot encode certificate");
		goto out;
	}
	if (tls_write_temp(key_file, ktmp, sizeof(ktmp), 0600, kdata,
	    (size_t)klen, f) == -1)
		goto out;
	have_ktmp = true;
	if (tls_write_temp(cert_file, ctmp, sizeof(ctmp), 0644, cdata,
	    (size_t)clen, f) == -1)
		goto out;
	have_ctmp = true;
	/* Key first: a crash between the renames leaves a new key beside an
	 * old cert, which tls_server_ctx_new() refuses loudly. */
	if (rename(ktmp, key_file) == -1) {
		fail_set(f, true, "4.7.0", "cannot rename %s: %s", ktmp,
		    strerror(errno));
		goto out;
	}
	have_ktmp = false;
	if (rename(ctmp, cert_file) == -1) {
		fail_set(f, true, "4.7.0", "cannot rename %s: %s", ctmp,
		    strerror(errno));
		goto out;
	}
	have_ctmp = false;
	if (tls_fsync_dir(key_file) == -1 || tls_fsync_dir(cert_file) == -1) {
		fail_set(f, true, "4.7.0", "cannot sync directory of %s: %s",
		    cert_file, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (have_ktmp)
		(void)unlink(ktmp);
	if (have_ctmp)
		(void)unlink(ctmp);
	BIO_free(kbio);
	BIO_free(cbio);
	X509_free(x);
	EVP_PKEY_free(pkey);
	return rc;
}

void
tls_describe(SSL *ssl, char *buf, size_t size)
{
	const SSL_CIPHER	*c;
	int			 bits, alg_bits = 0;

	if (size == 0)
		return;
	if (ssl == NULL || (c = SSL_get_current_cipher(ssl)) == NULL) {
		(void)str_copy(buf, "no TLS", size);
		return;
	}
	bits = SSL_CIPHER_get_bits(c, &alg_bits);
	(void)str_printf(buf, size, "%s with cipher %s (%d/%d bits)",
	    SSL_get_version(ssl), SSL_CIPHER_get_name(c), bits, alg_bits);
}

int
tls_cert_fingerprint(const char *cert_file, char *buf, size_t size)
{
	static const char	 hex[] = "0123456789ABCDEF";
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen = 0, i;
	BIO			*bio;
	X509			*x = NULL;
	int			 rc = -1;

	ERR_clear_error();
	if ((bio = BIO_new_file(cert_file, "r")) == NULL)
		goto out;
	if ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL ||
	    X509_digest(x, EVP_sha256(), md, &mdlen) != 1 || mdlen == 0)
		goto out;
	if (size < (size_t)mdlen * 3)
		goto out;
	for (i = 0; i < mdlen; i++) {
		buf[i * 3] = hex[md[i] >> 4];
		buf[i * 3 + 1] = hex[md[i] & 0x0f];
		buf[i * 3 + 2] = i + 1 < mdlen ? ':' : '\0';
	}
	rc = 0;
out:
	ERR_clear_error();
	X509_free(x);
	BIO_free(bio);
	return rc;
}
