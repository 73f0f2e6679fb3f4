/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "base64.h"

struct b64_case {
	char	 plain[16];
	size_t	 plen;
	char	 enc[24];
};

ParameterizedTestParameters(base64, rfc4648_vectors)
{
	static struct b64_case cases[] = {
		{ "", 0, "" }, { "f", 1, "Zg==" }, { "fo", 2, "Zm8=" },
		{ "foo", 3, "Zm9v" }, { "foob", 4, "Zm9vYg==" },
		{ "fooba", 5, "Zm9vYmE=" }, { "foobar", 6, "Zm9vYmFy" },
		{ "\0u\0p", 4, "AHUAcA==" },
	};
	return cr_make_param_array(struct b64_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct b64_case *c, base64, rfc4648_vectors)
{
	char	 enc[32], dec[32];
	size_t	 n = 99;

	cr_assert_eq(base64_encode(c->plain, c->plen, enc, sizeof(enc), &n), 0);
	cr_assert_str_eq(enc, c->enc);
	cr_assert_eq(n, strlen(c->enc));
	cr_assert_eq(base64_decode(c->enc, strlen(c->enc), dec, sizeof(dec),
	    &n), 0);
	cr_assert_eq(n, c->plen);
	cr_assert_eq(memcmp(dec, c->plain, n), 0);
	cr_assert_eq(dec[n], '\0');
}

struct bad_case {
	char	 in[24];
};

ParameterizedTestParameters(base64, rejects)
{
	static struct bad_case cases[] = {
		{ "Zg=" }, { "Zg" }, { "Z===" }, { "====" }, { "Zm9v!A==" },
		{ " Zm9v" }, { "Zm9v " }, { "Zm\n9v" }, { "Zh==" },
		{ "Zm9=" }, { "Zg==Zg==" }, { "=Zg=" }, { "Zm=v" },
		{ "Zm9vYg=A" }, { "Zm9v\r\n" },
	};
	return cr_make_param_array(struct bad_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad_case *c, base64, rejects)
{
	char	 dec[32];
	size_t	 n = 7;

	cr_assert_eq(base64_decode(c->in, strlen(c->in), dec, sizeof(dec), &n),
	    -1, "input \"%s\"", c->in);
	cr_assert_eq(n, 7);
}

Test(base64, sizes_are_checked)
{
	char	 out[8];
	size_t	 n;

	/* 6 bytes encode to 8 chars + NUL: 8 bytes is one short. */
	cr_assert_eq(base64_encode("foobar", 6, out, sizeof(out), &n), -1);
	cr_assert_eq(base64_encode("fooba", 5, out, 8, &n), -1);
	/* Decoding needs room for the pad bytes OpenSSL writes. */
	cr_assert_eq(base64_decode("Zm9vYg==", 8, out, 5, &n), -1);
	cr_assert_eq(base64_decode("Zm9vYg==", 8, out, 6, &n), 0);
	cr_assert_eq(n, 4);
	cr_assert_eq(memcmp(out, "foob", 4), 0);
}

Test(base64, sasl_prompts)
{
	char	 out[16];

	cr_assert_eq(base64_encode("Username:", 9, out, sizeof(out), NULL), 0);
	cr_assert_str_eq(out, "VXNlcm5hbWU6");
	cr_assert_eq(base64_encode("Password:", 9, out, sizeof(out), NULL), 0);
	cr_assert_str_eq(out, "UGFzc3dvcmQ6");
}
