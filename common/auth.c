/* SPDX-License-Identifier: MIT */
/*
 * auth.c - password hashes through crypt(3), and APOP digests
 */
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "auth.h"
#include "mem.h"
#include "str.h"

/*
 * Checked instead of a real hash for unknown users, so they cost one
 * yescrypt at the default cost like everyone else.  Its password is not
 * kept anywhere and the answer for a NULL hash is false regardless.
 */
static const char dummy_hash[] =
    "$y$j9T$QqvIxtnP02cEpRClVgwbJ.$21bS9yzqw8KUMCcyLbIZnP7vlwmPIn79EjHWxaHdzNA";
/* For APOP: a secret nobody has. */
static const char dummy_apop_secret[] = "\x01no-such-secret\x01";

int
auth_hash_password(const char *password, enum auth_hash_scheme scheme,
    char *out, size_t outsize)
{
	struct crypt_data *cd;
	char		 salt[CRYPT_GENSALT_OUTPUT_SIZE];
	const char	*prefix, *h;
	int		 rc = -1;

	prefix = scheme == AUTH_HASH_SHA512 ? "$6$" : "$y$";
	/* NULL random bytes: libxcrypt takes them from the OS. */
	if (crypt_gensalt_rn(prefix, 0, NULL, 0, salt, sizeof(salt)) == NULL)
		return -1;
	cd = xcalloc(1, sizeof(*cd));
	h = crypt_r(password, salt, cd);
	if (h != NULL && h[0] != '*' && str_copy(out, h, outsize))
		rc = 0;
	mem_wipe(cd, sizeof(*cd));
	free(cd);
	return rc;
}

bool
auth_hash_supported(const char *hash)
{
	return hash != NULL && (strncmp(hash, "$y$", 3) == 0 ||
	    strncmp(hash, "$6$", 3) == 0);
}

bool
auth_verify_password(const char *password, const char *hash)
{
	struct crypt_data *cd;
	const char	*h, *want = hash;
	bool		 real = auth_hash_supported(hash), ok = false;
	size_t		 len;

	if (!real)
		want = dummy_hash;
	cd = xcalloc(1, sizeof(*cd));
	h = crypt_r(password, want, cd);
	if (h != NULL && h[0] != '*') {
		len = strlen(want);
		ok = strlen(h) == len && CRYPTO_memcmp(h, want, len) == 0;
	}
	mem_wipe(cd, sizeof(*cd));
	free(cd);
	return real && ok;
}

int
auth_apop_digest(const char *timestamp, const char *secret, char *out,
    size_t outsize)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0, i;
	EVP_MD_CTX	*ctx;
	int		 ok;

	if (outsize < AUTH_APOP_DIGEST_LEN + 1)
		return -1;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, timestamp, strlen(timestamp)) == 1 &&
	    EVP_DigestUpdate(ctx, secret, strlen(secret)) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 16;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -1;
	for (i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0x0f];
	}
	out[2 * mdlen] = '\0';
	OPENSSL_cleanse(md, sizeof(md));
	return 0;
}

bool
auth_apop_verify(const char *timestamp, const char *secret,
    const char *digest)
{
	char	 want[AUTH_APOP_DIGEST_LEN + 1], got[AUTH_APOP_DIGEST_LEN + 1];
	bool	 ok;

	if (auth_apop_digest(timestamp, secret != NULL ? secret :
	    dummy_apop_secret, want, sizeof(want)) == -1)
		return false;
	/* Clients may send upper-case hex. */
	if (!str_copy(got, digest, sizeof(got)) ||
	    strlen(got) != AUTH_APOP_DIGEST_LEN)
		return false;
	str_lower(got);
	ok = CRYPTO_memcmp(got, want, AUTH_APOP_DIGEST_LEN) == 0;
	mem_wipe(want, sizeof(want));
	return secret != NULL && ok;
}
