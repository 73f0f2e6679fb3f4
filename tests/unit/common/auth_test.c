/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <string.h>
#include <time.h>

#include "auth.h"

Test(auth, yescrypt_by_default)
{
	char	 h[AUTH_HASH_MAX], h2[AUTH_HASH_MAX];

	cr_assert_eq(auth_hash_password("s3cret pw", AUTH_HASH_YESCRYPT, h,
	    sizeof(h)), 0);
	cr_assert_eq(strncmp(h, "$y$", 3), 0, "%s", h);
	cr_assert(auth_hash_supported(h));
	cr_assert(auth_verify_password("s3cret pw", h));
	cr_assert_not(auth_verify_password("s3cret pW", h));
	cr_assert_not(auth_verify_password("", h));
	/* Fresh salt every time. */
	cr_assert_eq(auth_hash_password("s3cret pw", AUTH_HASH_YESCRYPT, h2,
	    sizeof(h2)), 0);
	cr_assert_str_neq(h, h2);
}

Test(auth, sha512_accepted)
{
	char	 h[AUTH_HASH_MAX];

	cr_assert_eq(auth_hash_password("pw", AUTH_HASH_SHA512, h, sizeof(h)),
	    0);
	cr_assert_eq(strncmp(h, "$6$", 3), 0);
	cr_assert(auth_verify_password("pw", h));
	cr_assert_not(auth_verify_password("pX", h));
	/* A hash made elsewhere (Python crypt, SHA-512, password "secret"). */
	cr_assert(auth_verify_password("secret", "$6$saltsalt$"
	    "TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT"
	    "0Y77vwPZN.Pq.H91p5hVO1"));
}

Test(auth, small_buffer_fails)
{
	char	 h[10];

	cr_assert_eq(auth_hash_password("pw", AUTH_HASH_YESCRYPT, h, sizeof(h)),
	    -1);
}

Test(auth, unknown_and_unsupported_hashes_fail)
{
	cr_assert_not(auth_verify_password("x", NULL));
	cr_assert_not(auth_verify_password("x", ""));
	cr_assert_not(auth_verify_password("x", "*"));
	cr_assert_not(auth_verify_password("x", "!locked"));
	/* Plain DES and MD5-crypt are not accepted even when right. */
	cr_assert_not(auth_hash_supported("$1$abc$def"));
	cr_assert_not(auth_verify_password("password", "$1$saltsalt$"
	    "qjXMvbEw8oaL.CzflDtaK/"));
	cr_assert_not(auth_hash_supported("abJnggxhB/yWI"));
}

/* Best of five in CPU time, so a busy machine does not skew one side. */
static double
elapsed(const char *pw, const char *hash)
{
	struct timespec	 a, b;
	double		 t, best = 1e9;
	int		 i;

	for (i = 0; i < 5; i++) {
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
		(void)auth_verify_password(pw, hash);
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
		t = (double)(b.tv_sec - a.tv_sec) +
		    (double)(b.tv_nsec - a.tv_nsec) / 1e9;
		if (t < best)
			best = t;
	}
	return best;
}

Test(auth, unknown_user_costs_a_hash)
{
	char	 h[AUTH_HASH_MAX];
	double	 known, unknown;

	cr_assert_eq(auth_hash_password("pw", AUTH_HASH_YESCRYPT, h, sizeof(h)),
	    0);
	known = elapsed("wrong", h);
	unknown = elapsed("wrong", NULL);
	/* Same work: well within a factor of 3 (machines are noisy). */
	cr_assert(unknown > known / 3 && unknown < known * 3,
	    "known %.4fs unknown %.4fs", known, unknown);
}

Test(auth, apop_rfc1939_vector)
{
	char	 d[AUTH_APOP_DIGEST_LEN + 1];

	cr_assert_eq(auth_apop_digest("<1896.697170952@dbc.mtview.ca.us>",
	    "tanstaaf", d, sizeof(d)), 0);
	cr_assert_str_eq(d, "c4c9334bac560ecc979e58001b3e22fb");
	cr_assert_eq(auth_apop_digest("<a@b>", "x", d, 32), -1);
}

Test(auth, apop_verify)
{
	const char	*ts = "<1896.697170952@dbc.mtview.ca.us>";

	cr_assert(auth_apop_verify(ts, "tanstaaf",
	    "c4c9334bac560ecc979e58001b3e22fb"));
	cr_assert(auth_apop_verify(ts, "tanstaaf",
	    "C4C9334BAC560ECC979E58001B3E22FB"));
	cr_assert_not(auth_apop_verify(ts, "tanstaaF",
	    "c4c9334bac560ecc979e58001b3e22fb"));
	cr_assert_not(auth_apop_verify("<1.2@x>", "tanstaaf",
	    "c4c9334bac560ecc979e58001b3e22fb"));
	cr_assert_not(auth_apop_verify(ts, "tanstaaf",
	    "c4c9334bac560ecc979e58001b3e22f"));
	cr_assert_not(auth_apop_verify(ts, "tanstaaf",
	    "c4c9334bac560ecc979e58001b3e22fb0"));
	cr_assert_not(auth_apop_verify(ts, NULL,
	    "c4c9334bac560ecc979e58001b3e22fb"));
}
