/* SPDX-License-Identifier: MIT */
/*
 * mbidx_fuzz.c - any bytes as a mailbox index file, and as change log
 * records: the parsers must reject or accept without crashing, and an
 * index they accept must serialize back to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mailbox_private.h"
#include "str.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The input as u8 type, u8 length, payload... framed into log records
 * with good checksums, so that the record appliers themselves get
 * exercised. */
static void
frame_as_log(const uint8_t *data, size_t len)
{
	struct mbidx idx;
	struct mbidx_rec *m;
	struct str out;
	size_t	 off = 0, n, start, used;
	uint32_t i;

	str_init(&out, 0);
	while (len - off >= 2) {
		n = data[off + 1];
		if (len - off - 2 < n)
			n = len - off - 2;
		start = out.len;
		mbidx_put(&out, data[off] % 6, 4);
		mbidx_put(&out, n, 4);
		if (n > 0 && str_append(&out, data + off + 2, n) == -1)
			break;
		mbidx_put(&out, mbidx_hash(out.data + start, 8 + n, 0), 8);
		off += 2 + n;
	}
	mbidx_init(&idx);
	idx.uidvalidity = 1;
	idx.uidnext = 1;
	for (i = 0; i < 3; i++) {
		m = mbidx_add(&idx, idx.uidnext++);
		m->modseq = ++idx.highestmodseq;
	}
	if (out.len > 0 && mblog_apply(&idx, out.data, out.len, &used) == 0)
		BUZ_ASSERT(used <= out.len);
	mbidx_release(&idx);
	str_release(&out);
}

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
	struct mbidx_rec *m;
	size_t	 used;

	if (mbidx_parse(&idx, data, len) == 0)
		mbidx_release(&idx);
	/* As log records applied to a small folder. */
	mbidx_init(&idx);
	idx.uidvalidity = 1;
	idx.uidnext = 1;
	for (i = 0; i < 3; i++) {
		m = mbidx_add(&idx, idx.uidnext++);
		m->modseq = ++idx.highestmodseq;
	}
	if (mblog_apply(&idx, data, len, &used) == 0)
		BUZ_ASSERT(used <= len);
	mbidx_release(&idx);
	frame_as_log(data, len);
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
