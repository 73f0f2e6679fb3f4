/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <string.h>

#include "bytes.h"

Test(bytes, big_endian_layout)
{
	uint8_t	 b[8];

	be16_put(b, 0x0102);
	cr_assert(b[0] == 1 && b[1] == 2);
	be32_put(b, 0x01020304u);
	cr_assert(memcmp(b, "\x01\x02\x03\x04", 4) == 0);
	be64_put(b, 0x0102030405060708ull);
	cr_assert(memcmp(b, "\x01\x02\x03\x04\x05\x06\x07\x08", 8) == 0);
	cr_assert_eq(be64_get(b), 0x0102030405060708ull);
	cr_assert_eq(be32_get(b + 4), 0x05060708u);
	cr_assert_eq(be16_get(b + 6), 0x0708);
}

Test(bytes, little_endian_layout)
{
	uint8_t	 b[8];

	le32_put(b, 0x01020304u);
	cr_assert(memcmp(b, "\x04\x03\x02\x01", 4) == 0);
	le64_put(b, 0x0102030405060708ull);
	cr_assert(memcmp(b, "\x08\x07\x06\x05\x04\x03\x02\x01", 8) == 0);
	cr_assert_eq(le64_get(b), 0x0102030405060708ull);
	cr_assert_eq(le32_get(b + 4), 0x01020304u);
}

Test(bytes, bounds_round_trip)
{
	static const uint64_t v64[] = { 0, 1, 0xff, 0x80ull << 56,
	    UINT64_MAX, UINT64_MAX - 1 };
	uint8_t	 b[9];
	size_t	 i;

	for (i = 0; i < sizeof(v64) / sizeof(v64[0]); i++) {
		/* unaligned on purpose */
		be64_put(b + 1, v64[i]);
		cr_assert_eq(be64_get(b + 1), v64[i]);
		le64_put(b + 1, v64[i]);
		cr_assert_eq(le64_get(b + 1), v64[i]);
		be32_put(b + 1, (uint32_t)v64[i]);
		cr_assert_eq(be32_get(b + 1), (uint32_t)v64[i]);
		le32_put(b + 1, (uint32_t)v64[i]);
		cr_assert_eq(le32_get(b + 1), (uint32_t)v64[i]);
		be16_put(b + 1, (uint16_t)v64[i]);
		cr_assert_eq(be16_get(b + 1), (uint16_t)v64[i]);
	}
	be32_put(b, UINT32_MAX);
	cr_assert(b[0] == 0xff && b[3] == 0xff);
	/* top bit set: no sign extension on the way back */
	be16_put(b, 0x8000);
	cr_assert_eq(be16_get(b), 0x8000);
	cr_assert_eq(be32_get("\x80\0\0\0"), 0x80000000u);
}
