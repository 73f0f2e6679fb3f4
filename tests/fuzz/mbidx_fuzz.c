/* SPDX-License-Identifier: MIT */
/*
 * mbidx_fuzz.c - any bytes as a mailbox index file: the parser must reject
 * or accept without crashing, and what it accepts must serialize back to
 * the same bytes.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mailbox_private.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct mbidx idx;
	unsigned char *in;
	void	*out;
	size_t	 olen, i;
	uint64_t sum;

	/* Raw bytes first, then with a correct trailer, so that the fuzzer
	 * gets past the checksum into the structure. */
	if (mbidx_parse(&idx, data, len) == 0)
		mbidx_release(&idx);
	if (len < 8)
		return 0;
	in = malloc(len);
	if (in == NULL)
		return 0;
	memcpy(in, data, len);
	sum = mbidx_hash(in, len - 8, 0);
	for (i = 0; i < 8; i++)
		in[len - 8 + i] = (unsigned char)(sum >> (8 * i));
	if (mbidx_parse(&idx, in, len) == 0) {
		out = mbidx_serialize(&idx, &olen);
		BUZ_ASSERT(olen == len && memcmp(out, in, len) == 0);
		free(out);
		mbidx_release(&idx);
	}
	free(in);
	return 0;
}
