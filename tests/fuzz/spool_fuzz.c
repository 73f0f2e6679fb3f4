/* SPDX-License-Identifier: MIT */
/*
 * spool_fuzz.c - libFuzzer target for the queue-file and status-log readers
 *
 * Input: one mode byte, then the bytes of a file.
 *   mode % 4 == 0: spool_parse() without CRCs (reaches every record check);
 *                  a file it accepts is written back out with the writer
 *                  and must read back equal, with CRCs this time
 *   mode % 4 == 1: spool_parse() with CRCs and content verification
 *   mode % 4 == 2: spool_read() from a memfd (the buffered fd reader)
 *   mode % 4 == 3: spool_status_replay() for (mode >> 2) recipients
 * Whatever the reader says, it must not crash, leak or read out of bounds,
 * and what it accepts must lie inside the input.
 */
#include <sys/mman.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spool.h"
#include "str.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(e)	do { if (!(e)) abort(); } while (0)

static void
same(const struct spool_env *a, const struct spool_env *b)
{
	size_t	 i;

	CHECK(strcmp(a->id, b->id) == 0);
	CHECK(a->arrival_sec == b->arrival_sec);
	CHECK(a->arrival_usec == b->arrival_usec);
	CHECK(strcmp(a->sender, b->sender) == 0);
	CHECK(a->ret == b->ret && a->flags == b->flags && a->proto == b->proto);
	CHECK(strcmp(a->envid, b->envid) == 0);
	CHECK(strcmp(a->client_addr, b->client_addr) == 0);
	CHECK(strcmp(a->helo, b->helo) == 0);
	CHECK(strcmp(a->client_name, b->client_name) == 0);
	CHECK(strcmp(a->tls, b->tls) == 0);
	CHECK(strcmp(a->auth_user, b->auth_user) == 0);
	CHECK(a->nrcpts == b->nrcpts);
	for (i = 0; i < a->nrcpts; i++) {
		CHECK(strcmp(a->rcpts[i].addr, b->rcpts[i].addr) == 0);
		CHECK(strcmp(a->rcpts[i].orcpt, b->rcpts[i].orcpt) == 0);
		CHECK(strcmp(a->rcpts[i].original, b->rcpts[i].original) == 0);
		CHECK(a->rcpts[i].notify == b->rcpts[i].notify);
	}
}

/* Write env and its content out again and read it back with CRCs. */
static void
rewrite(const struct spool_env *env, const uint8_t *buf)
{
	struct spool_writer	 w;
	struct spool_env	 back;
	struct str		 out;
	struct fail		 f;
	uint8_t			 lenb[4], end[SPOOL_END_SIZE];
	uint64_t		 off;
	char			 why[200];

	str_init(&out, 0);
	CHECK(spool_write_head(&w, env, &out, &f) == 0);
	CHECK(spool_write_content(&w, buf + env->content_off,
	    (size_t)env->content_len) == 0);
	CHECK(str_append(&out, buf + env->content_off,
	    (size_t)env->content_len) == 0);
	spool_write_end(&w, lenb, &off, end);
	memcpy(out.data + off, lenb, 4);
	CHECK(str_append(&out, end, sizeof(end)) == 0);
	spool_env_init(&back);
	CHECK(spool_parse(out.data, out.len, SPOOL_READ_VERIFY_CONTENT, &back,
	    why, sizeof(why)) == 0);
	same(env, &back);
	spool_env_release(&back);
	str_release(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spool_rcpt_status *st;
	struct spool_env	 env;
	const uint8_t		*p;
	char			 why[200];
	size_t			 len, n;
	bool			 torn;
	int64_t			 good;
	int			 rc, fd;

	if (size < 1)
		return 0;
	p = data + 1;
	len = size - 1;
	spool_env_init(&env);
	switch (data[0] % 4) {
	case 0:
	case 1:
		rc = spool_parse(p, len, data[0] % 4 == 0 ? SPOOL_READ_NO_CRC :
		    SPOOL_READ_VERIFY_CONTENT, &env, why, sizeof(why));
		CHECK(rc == 0 || rc == SPOOL_ERR_CORRUPT);
		if (rc == 0) {
			CHECK(env.nrcpts > 0);
			CHECK(env.content_off + env.content_len +
			    SPOOL_END_SIZE == len);
			if (data[0] % 4 == 0)
				rewrite(&env, p);
		}
		break;
	case 2:
		fd = memfd_create("spool_fuzz", MFD_CLOEXEC);
		CHECK(fd != -1);
		CHECK(write(fd, p, len) == (ssize_t)len);
		rc = spool_read(fd, NULL, SPOOL_READ_VERIFY_CONTENT, &env, why,
		    sizeof(why));
		CHECK(rc == 0 || rc == SPOOL_ERR_CORRUPT);
		if (rc == 0)
			CHECK(env.file_size == len);
		close(fd);
		break;
	default:
		n = data[0] >> 2;
		st = calloc(n + 1, sizeof(*st));
		CHECK(st != NULL);
		good = spool_status_replay(p, len, st, n, &torn, why,
		    sizeof(why));
		CHECK(good == SPOOL_ERR_CORRUPT ||
		    (good >= 0 && (size_t)good <= len &&
		    torn == ((size_t)good != len)));
		free(st);
		break;
	}
	spool_env_release(&env);
	return 0;
}
