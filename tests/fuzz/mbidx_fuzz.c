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
	void	*out;
	size_t	 olen;

	if (mbidx_parse(&idx, data, len) == 0) {
		out = mbidx_serialize(&idx, &olen);
		BUZ_ASSERT(olen == len && memcmp(out, data, len) == 0);
		free(out);
		mbidx_release(&idx);
	}
	return 0;
}
