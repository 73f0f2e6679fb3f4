/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "fail.h"
#include "str.h"
#include "tls.h"

static char	 dir[64];
static char	 cert[PATH_MAX], key[PATH_MAX];

static void
setup(void)
{
	cr_assert(str_copy(dir, "/tmp/buzon-tls-XXXXXX", sizeof(dir)));
	cr_assert_not_null(mkdtemp(dir));
	cr_assert(str_printf(cert, sizeof(cert), "%s/cert.pem", dir));
	cr_assert(str_printf(key, sizeof(key), "%s/key.pem", dir));
}

static void
teardown(void)
{
	DIR		*d;
	struct dirent	*e;
	char		 p[PATH_MAX];

	if ((d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (str_printf(p, sizeof(p), "%s/%s", dir, e->d_name))
			(void)unlink(p);
	}
	closedir(d);
	(void)rmdir(dir);
}

TestSuite(tls, .init = setup, .fini = teardown);

static void
write_file(const char *path, const char *text)
{
	FILE	*fp = fopen(path, "w");

	cr_assert_not_null(fp);
	cr_assert_eq(fputs(text, fp) >= 0, true);
	cr_assert_eq(fclose(fp), 0);
}

static X509 *
read_cert(const char *path)
{
	FILE	*fp = fopen(path, "r");
	X509	*x;

	cr_assert_not_null(fp);
	x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	cr_assert_not_null(x);
	return x;
}

static int
count_dir_entries(void)
{
	DIR		*d = opendir(dir);
	struct dirent	*e;
	int		 n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

Test(tls, selfsigned_files_and_modes)
{
	struct fail	 f;
	struct stat	 st;

	umask(077);		/* the cert must still come out 0644 */
	cr_assert_eq(tls_selfsigned_write(cert, key, "mx.example.org", &f), 0,
	    "%s", f.text);
	cr_assert_eq(stat(key, &st), 0);
	cr_assert(S_ISREG(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0600);
	cr_assert_eq(stat(cert, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0644);
	cr_assert_eq(count_dir_entries(), 2, "temp files left behind");
}

Test(tls, selfsigned_certificate_contents)
{
	struct fail			 f;
	X509				*x;
	EVP_PKEY			*pk;
	GENERAL_NAMES			*sans;
	BASIC_CONSTRAINTS		*bc;
	const ASN1_INTEGER		*serial;
	char				 cn[128], name[64];
	int				 i, days, secs, crit;
	bool				 dns_cn = false, dns_lh = false;
	bool				 ip4 = false, ip6 = false;

	cr_assert_eq(tls_selfsigned_write(cert, key, "mx.example.org", &f), 0,
	    "%s", f.text);
	x = read_cert(cert);

	cr_assert_eq(X509_get_version(x), X509_VERSION_3);
	cr_assert_gt(X509_NAME_get_text_by_NID(X509_get_subject_name(x),
	    NID_commonName, cn, sizeof(cn)), 0);
	cr_assert_str_eq(cn, "mx.example.org");
	cr_assert_eq(X509_NAME_cmp(X509_get_subject_name(x),
	    X509_get_issuer_name(x)), 0);

	pk = X509_get0_pubkey(x);
	cr_assert_eq(EVP_PKEY_get_base_id(pk), EVP_PKEY_EC);
	cr_assert_eq(EVP_PKEY_get_utf8_string_param(pk, "group", name,
	    sizeof(name), NULL), 1);
	cr_assert_str_eq(name, "prime256v1");
	cr_assert_eq(X509_verify(x, pk), 1, "not self-signed");

	serial = X509_get0_serialNumber(x);
	cr_assert_eq(serial->type, V_ASN1_INTEGER, "serial must be positive");
	cr_assert_geq(serial->length, 8);

	bc = X509_get_ext_d2i(x, NID_basic_constraints, &crit, NULL);
	cr_assert_not_null(bc);
	cr_assert_eq(bc->ca, 0);
	cr_assert_eq(crit, 1);
	BASIC_CONSTRAINTS_free(bc);
	cr_assert_eq(X509_check_ca(x), 0);

	sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	cr_assert_not_null(sans);
	for (i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
		GENERAL_NAME	*g = sk_GENERAL_NAME_value(sans, i);
		const unsigned char *d;
		int		 len;

		if (g->type == GEN_DNS) {
			d = ASN1_STRING_get0_data(g->d.dNSName);
			len = ASN1_STRING_length(g->d.dNSName);
			if (len == 14 && memcmp(d, "mx.example.org", 14) == 0)
				dns_cn = true;
			if (len == 9 && memcmp(d, "localhost", 9) == 0)
				dns_lh = true;
		} else if (g->type == GEN_IPADD) {
			d = ASN1_STRING_get0_data(g->d.iPAddress);
			len = ASN1_STRING_length(g->d.iPAddress);
			if (len == 4 && memcmp(d, "\x7f\0\0\x01", 4) == 0)
				ip4 = true;
			if (len == 16 && memcmp(d,
			    "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 16) == 0)
				ip6 = true;
		}
	}
	GENERAL_NAMES_free(sans);
	cr_assert(dns_cn && dns_lh && ip4 && ip6, "SAN incomplete");
	cr_assert_eq(X509_check_host(x, "localhost", 0, 0, NULL), 1);
	cr_assert_eq(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
	cr_assert_eq(X509_check_ip_asc(x, "::1", 0), 1);

	/* About ten years, starting now. */
	cr_assert_eq(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x),
	    X509_get0_notAfter(x)), 1);
	cr_assert_geq(days, 3649);
	cr_assert_leq(days, 3651);
	cr_assert_leq(X509_cmp_current_time(X509_get0_notBefore(x)), 0);
	X509_free(x);
}

Test(tls, selfsigned_serials_differ)
{
	struct fail	 f;
	X509		*a, *b;

	cr_assert_eq(tls_selfsigned_write(cert, key, "a.example", &f), 0);
	a = read_cert(cert);
	cr_assert_eq(tls_selfsigned_write(cert, key, "a.example", &f), 0,
	    "overwriting must work: %s", f.text);
	b = read_cert(cert);
	cr_assert_neq(ASN1_INTEGER_cmp(X509_get0_serialNumber(a),
	    X509_get0_serialNumber(b)), 0);
	X509_free(a);
	X509_free(b);
}

Test(tls, selfsigned_localhost_cn)
{
	struct fail	 f;
	SSL_CTX		*ctx;

	cr_assert_eq(tls_selfsigned_write(cert, key, "localhost", &f), 0,
	    "%s", f.text);
	ctx = tls_server_ctx_new(cert, key, &f);
	cr_assert_not_null(ctx, "%s", f.text);
	tls_ctx_free(&ctx);
	cr_assert_null(ctx);
	tls_ctx_free(&ctx);		/* NULL is fine */
	tls_ctx_free(NULL);
}

Test(tls, selfsigned_rejects_bad_names)
{
	static const char *const bad[] = {
		"", "a,IP:10.0.0.1", "a b", "a/b", "x\n",
		"0123456789012345678901234567890123456789012345678901234567890"
		"12345",
	};
	struct fail	 f;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fail_clear(&f);
		cr_assert_eq(tls_selfsigned_write(cert, key, bad[i], &f), -1,
		    "name \"%s\"", bad[i]);
		cr_assert_str_eq(f.text,
		    "invalid name for a certificate: use a host name");
	}
	cr_assert_eq(count_dir_entries(), 0);
}

Test(tls, selfsigned_one_file_for_both)
{
	struct fail	 f;

	cr_assert_eq(tls_selfsigned_write(cert, cert, "mx.example", &f), -1);
	cr_assert_str_eq(f.text,
	    "certificate and key need two different files");
	cr_assert_eq(count_dir_entries(), 0);
}

Test(tls, selfsigned_missing_directory)
{
	struct fail	 f;
	char		 c[PATH_MAX], k[PATH_MAX];

	cr_assert(str_printf(c, sizeof(c), "%s/nodir/cert.pem", dir));
	cr_assert(str_printf(k, sizeof(k), "%s/nodir/key.pem", dir));
	cr_assert_eq(tls_selfsigned_write(c, k, "mx.example", &f), -1);
	cr_assert(strstr(f.text, "cannot create") != NULL, "%s", f.text);
	cr_assert(strstr(f.text, "No such file or directory") != NULL, "%s",
	    f.text);
}

Test(tls, selfsigned_replaces_symlink_without_following)
{
	struct fail	 f;
	struct stat	 st;
	char		 target[PATH_MAX];

	cr_assert(str_printf(target, sizeof(target), "%s/target", dir));
	write_file(target, "keep me\n");
	cr_assert_eq(symlink(target, key), 0);
	cr_assert_eq(tls_selfsigned_write(cert, key, "mx.example", &f), 0,
	    "%s", f.text);
	cr_assert_eq(lstat(key, &st), 0);
	cr_assert(S_ISREG(st.st_mode), "key is still a symlink");
	cr_assert_eq(stat(target, &st), 0);
	cr_assert_eq(st.st_size, 8, "symlink target was written through");
}

Test(tls, server_ctx_missing_files)
{
	struct fail	 f;
	char		 want[PATH_MAX + 64];

	cr_assert_null(tls_server_ctx_new(cert, key, &f));
	cr_assert(str_printf(want, sizeof(want),
	    "cannot open TLS certificate %s: No such file or directory", cert));
	cr_assert_str_eq(f.text, want);
	cr_assert_str_eq(f.code, "4.7.0");

	cr_assert_eq(tls_selfsigned_write(cert, key, "mx.example", &f), 0);
	cr_assert_eq(unlink(key), 0);
	cr_assert_null(tls_server_ctx_new(cert, key, &f));
	cr_assert(str_printf(want, sizeof(want),
	    "cannot open TLS key %s: No such file or directory", key));
	cr_assert_str_eq(f.text, want);

	cr_assert_null(tls_server_ctx_new("", key, &f));
	cr_assert_str_eq(f.text, "no TLS certificate file configured");
	cr_assert_null(tls_server_ctx_new(cert, NULL, &f));
	cr_assert_str_eq(f.text, "no TLS key file configured");
}

Test(tls, server_ctx_mismatched_key)
{
	struct fail	 f;
	char		 c2[PATH_MAX], k2[PATH_MAX];
	char		 want[2 * PATH_MAX + 64];

	cr_assert(str_printf(c2, sizeof(c2), "%s/cert2.pem", dir));
	cr_assert(str_printf(k2, sizeof(k2), "%s/key2.pem", dir));
	cr_assert_eq(tls_selfsigned_write(cert, key, "one.example", &f), 0);
	cr_assert_eq(tls_selfsigned_write(c2, k2, "two.example", &f), 0);
	cr_assert_null(tls_server_ctx_new(cert, k2, &f));
	cr_assert(str_printf(want, sizeof(want),
	    "TLS key %s does not match certificate %s", k2, cert));
	cr_assert_str_eq(f.text, want);
	cr_assert_eq(ERR_peek_error(), 0, "OpenSSL error queue left dirty");
}

Test(tls, server_ctx_garbage_files)
{
	struct fail	 f;

	write_file(cert, "not a certificate\n");
	write_file(key, "not a key\n");
	cr_assert_null(tls_server_ctx_new(cert, key, &f));
	cr_assert(strncmp(f.text, "cannot load TLS certificate ", 28) == 0,
	    "%s", f.text);

	cr_assert_eq(tls_selfsigned_write(cert, key, "mx.example", &f), 0);
	write_file(key, "-----BEGIN PRIVATE KEY-----\nAAAA\n"
	    "-----END PRIVATE KEY-----\n");
	cr_assert_null(tls_server_ctx_new(cert, key, &f));
	cr_assert(strncmp(f.text, "cannot load TLS key ", 20) == 0, "%s",
	    f.text);
}

Test(tls, server_ctx_settings)
{
	struct fail	 f;
	SSL_CTX		*ctx;

	cr_assert_eq(tls_selfsigned_write(cert, key, "mx.example", &f), 0);
	ctx = tls_server_ctx_new(cert, key, &f);
	cr_assert_not_null(ctx, "%s", f.text);
	cr_assert_eq(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
	cr_assert_neq(SSL_CTX_get_options(ctx) & SSL_OP_NO_RENEGOTIATION, 0);
	cr_assert_neq(SSL_CTX_get_mode(ctx) & SSL_MODE_ENABLE_PARTIAL_WRITE,
	    0);
	cr_assert_neq(SSL_CTX_get_mode(ctx) &
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER, 0);
	tls_ctx_free(&ctx);
}

Test(tls, client_ctx)
{
	struct fail	 f;
	SSL_CTX		*ctx;
	char		 want[PATH_MAX + 64];

	ctx = tls_client_ctx_new(false, NULL, &f);
	cr_assert_not_null(ctx, "%s", f.text);
	cr_assert_eq(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_NONE);
	cr_assert_eq(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
	tls_ctx_free(&ctx);

	ctx = tls_client_ctx_new(true, NULL, &f);
	cr_assert_not_null(ctx, "%s", f.text);
	cr_assert_eq(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_PEER);
	tls_ctx_free(&ctx);

	cr_assert_null(tls_client_ctx_new(true, cert, &f));
	cr_assert(str_printf(want, sizeof(want),
	    "cannot open TLS CA %s: No such file or directory", cert));
	cr_assert_str_eq(f.text, want);

	write_file(cert, "junk\n");
	cr_assert_null(tls_client_ctx_new(true, cert, &f));
	cr_assert(strncmp(f.text, "cannot load TLS CA ", 19) == 0, "%s",
	    f.text);

	cr_assert_eq(tls_selfsigned_write(cert, key, "mx.example", &f), 0);
	ctx = tls_client_ctx_new(true, cert, &f);
	cr_assert_not_null(ctx, "%s", f.text);
	tls_ctx_free(&ctx);
}

Test(tls, fingerprint_format)
{
	struct fail	 f;
	X509		*x;
	unsigned char	*der = NULL, md[32];
	unsigned int	 mdlen = 0;
	char		 fp[96], want[96];
	int		 derlen, i;

	cr_assert_eq(tls_selfsigned_write(cert, key, "mx.example", &f), 0);
	cr_assert_eq(tls_cert_fingerprint(cert, fp, sizeof(fp)), 0);
	cr_assert_eq(strlen(fp), 95);
	for (i = 0; i < 95; i++) {
		if (i % 3 == 2)
			cr_assert_eq(fp[i], ':', "offset %d in %s", i, fp);
		else
			cr_assert(strchr("0123456789ABCDEF", fp[i]) != NULL,
			    "offset %d in %s", i, fp);
	}

	/* The digest of the DER encoding, computed another way. */
	x = read_cert(cert);
	derlen = i2d_X509(x, &der);
	cr_assert_gt(derlen, 0);
	cr_assert_eq(EVP_Digest(der, (size_t)derlen, md, &mdlen,
	    EVP_sha256(), NULL), 1);
	cr_assert_eq(mdlen, 32);
	for (i = 0; i < 32; i++)
		cr_assert(str_printf(want + i * 3, sizeof(want) - (size_t)i * 3,
		    i < 31 ? "%02X:" : "%02X", md[i]));
	cr_assert_str_eq(fp, want);
	OPENSSL_free(der);
	X509_free(x);

	cr_assert_eq(tls_cert_fingerprint(cert, fp, 95), -1, "too small");
	cr_assert_eq(tls_cert_fingerprint(key, fp, sizeof(fp)), -1);
	cr_assert_eq(unlink(cert), 0);
	cr_assert_eq(tls_cert_fingerprint(cert, fp, sizeof(fp)), -1);
}

Test(tls, describe_without_session)
{
	char	 buf[64];

	tls_describe(NULL, buf, sizeof(buf));
	cr_assert_str_eq(buf, "no TLS");
	tls_describe(NULL, buf, 3);
	cr_assert_str_eq(buf, "no");
}

Test(tls, server_ctx_load_and_reload)
{
	struct fail	 f;
	SSL_CTX		*ctx, *old;

	/* No files: NULL (with a warning), and the daemon runs without. */
	cr_assert_null(tls_server_ctx_load(cert, key, "no STLS"));
	cr_assert_eq(tls_selfsigned_write(cert, key, "localhost", &f), 0,
	    "%s", f.text);
	ctx = tls_server_ctx_load(cert, key, "no STLS");
	cr_assert_not_null(ctx);
	/* A session holding the old context keeps it across the reload. */
	old = ctx;
	cr_assert_eq(SSL_CTX_up_ref(old), 1);
	tls_server_ctx_reload(&ctx, cert, key, "no STLS");
	cr_assert_not_null(ctx);
	cr_assert_neq(ctx, old);
	cr_assert_not_null(SSL_CTX_get0_certificate(old));
	tls_ctx_free(&old);
	/* The files are gone: the reload leaves no context. */
	cr_assert_eq(unlink(cert), 0);
	tls_server_ctx_reload(&ctx, cert, key, "no STLS");
	cr_assert_null(ctx);
	/* From none to none. */
	tls_server_ctx_reload(&ctx, cert, key, "no STLS");
	cr_assert_null(ctx);
}
