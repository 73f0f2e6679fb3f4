/* SPDX-License-Identifier: MIT */
#include <sys/mman.h>
#include <sys/wait.h>

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mem.h"
#include "spool.h"
#include "str.h"

static const char content[] =
    "Received: from pc23.ejemplo.com (pc23.ejemplo.com [192.0.2.7])\r\n"
    "\tby mx.example.org (buzon) with ESMTPS id 0123456789ABCDEF\r\n"
    "Subject: =?UTF-8?Q?ma=C3=B1ana?=\r\n"
    "\r\n"
    "Body with 8 bit: \xc3\xb1 and a lone dot line\r\n"
    ".\r\n"
    "end\r\n";

static void
fill_env(struct spool_env *env, size_t nrcpts)
{
	char	 addr[64], orig[64];
	size_t	 i;

	spool_env_init(env);
	spool_id_new(env->id, &env->arrival_sec, &env->arrival_usec);
	spool_env_set(&env->sender, "usuario@ejemplo.com");
	env->ret = SPOOL_RET_HDRS;
	spool_env_set(&env->envid, "QQ314159+2Bx");
	env->flags = SPOOL_F_SMTPUTF8 | SPOOL_F_8BITMIME;
	env->proto = SPOOL_PROTO_ESMTPSA;
	spool_env_set(&env->client_addr, "2001:db8::7");
	spool_env_set(&env->helo, "pc23.ejemplo.com");
	spool_env_set(&env->client_name, "pc23.ejemplo.com");
	spool_env_set(&env->tls, "TLSv1.3 TLS_AES_256_GCM_SHA384 256/256");
	spool_env_set(&env->auth_user, "usuario");
	cr_assert_eq(spool_env_add_rcpt(env, "jos\xc3\xa9@ejemplo.com",
	    "utf-8;jos\\x{E9}@ejemplo.com", "", SPOOL_NOTIFY_SUCCESS |
	    SPOOL_NOTIFY_FAILURE), 0);
	cr_assert_eq(spool_env_add_rcpt(env, "\xff\xfe" "8bit@x", "", "",
	    SPOOL_NOTIFY_NEVER), 0);
	for (i = 2; i < nrcpts; i++) {
		snprintf(addr, sizeof(addr), "user%zu@example.org", i);
		snprintf(orig, sizeof(orig), "alias%zu@example.org", i);
		cr_assert_eq(spool_env_add_rcpt(env, addr, "", orig,
		    (unsigned int)(i & SPOOL_NOTIFY_ALL)), 0);
	}
}

/* Encode env and body into a complete file image. */
static void
build(const struct spool_env *env, const char *body, size_t len,
    struct str *out)
{
	struct spool_writer	 w;
	struct fail		 f;
	uint8_t			 lenb[4], end[SPOOL_END_SIZE];
	uint64_t		 off;

	str_init(out, 0);
	cr_assert_eq(spool_write_head(&w, env, out, &f), 0, "%s", f.text);
	cr_assert_eq(spool_write_content(&w, body, len), 0);
	cr_assert_eq(str_append(out, body, len), 0);
	spool_write_end(&w, lenb, &off, end);
	cr_assert_leq(off + 4, out->len);
	memcpy(out->data + off, lenb, 4);
	cr_assert_eq(str_append(out, end, sizeof(end)), 0);
}

static void
assert_same(const struct spool_env *a, const struct spool_env *b)
{
	size_t	 i;

	cr_assert_str_eq(a->id, b->id);
	cr_assert_eq(a->arrival_sec, b->arrival_sec);
	cr_assert_eq(a->arrival_usec, b->arrival_usec);
	cr_assert_str_eq(a->sender, b->sender);
	cr_assert_eq(a->ret, b->ret);
	cr_assert_str_eq(a->envid, b->envid);
	cr_assert_eq(a->flags, b->flags);
	cr_assert_eq(a->proto, b->proto);
	cr_assert_str_eq(a->client_addr, b->client_addr);
	cr_assert_str_eq(a->helo, b->helo);
	cr_assert_str_eq(a->client_name, b->client_name);
	cr_assert_str_eq(a->tls, b->tls);
	cr_assert_str_eq(a->auth_user, b->auth_user);
	cr_assert_eq(a->nrcpts, b->nrcpts);
	for (i = 0; i < a->nrcpts; i++) {
		cr_assert_str_eq(a->rcpts[i].addr, b->rcpts[i].addr);
		cr_assert_str_eq(a->rcpts[i].orcpt, b->rcpts[i].orcpt);
		cr_assert_str_eq(a->rcpts[i].original, b->rcpts[i].original);
		cr_assert_eq(a->rcpts[i].notify, b->rcpts[i].notify);
	}
}

static int
memfile(const void *p, size_t len)
{
	int	 fd = memfd_create("spool", MFD_CLOEXEC);

	cr_assert_neq(fd, -1);
	cr_assert_eq(write(fd, p, len), (ssize_t)len);
	return fd;
}

Test(spool, crc32c_check_value)
{
	/* the CRC-32C check value of "123456789" (RFC 3720 B.4 family) */
	cr_assert_eq(spool_crc32c(0, "123456789", 9), 0xe3069283u);
	cr_assert_eq(spool_crc32c(spool_crc32c(0, "1234", 4), "56789", 5),
	    0xe3069283u);
	cr_assert_eq(spool_crc32c(0, "", 0), 0);
}

Test(spool, round_trip_every_field)
{
	struct spool_env	 env, got;
	struct str		 img;
	char			 why[200];
	int			 fd;

	fill_env(&env, 2);
	build(&env, content, sizeof(content) - 1, &img);
	spool_env_init(&got);
	cr_assert_eq(spool_parse(img.data, img.len, SPOOL_READ_VERIFY_CONTENT,
	    &got, why, sizeof(why)), 0, "%s", why);
	assert_same(&env, &got);
	cr_assert_eq(got.content_len, sizeof(content) - 1);
	cr_assert_eq(memcmp(img.data + got.content_off, content,
	    sizeof(content) - 1), 0);
	cr_assert_eq(got.file_size, img.len);
	spool_env_release(&got);

	fd = memfile(img.data, img.len);
	spool_env_init(&got);
	cr_assert_eq(spool_read(fd, env.id, SPOOL_READ_VERIFY_CONTENT, &got,
	    why, sizeof(why)), 0, "%s", why);
	assert_same(&env, &got);
	cr_assert_eq(got.content_len, sizeof(content) - 1);
	spool_env_release(&got);
	close(fd);
	spool_env_release(&env);
	str_release(&img);
}

Test(spool, null_sender_and_defaults)
{
	struct spool_env	 env, got;
	struct str		 img;
	char			 why[200];

	spool_env_init(&env);
	spool_id_new(env.id, NULL, NULL);
	cr_assert_eq(spool_env_add_rcpt(&env, "postmaster", NULL, NULL, 0), 0);
	build(&env, "", 0, &img);
	spool_env_init(&got);
	cr_assert_eq(spool_parse(img.data, img.len, SPOOL_READ_VERIFY_CONTENT,
	    &got, why, sizeof(why)), 0, "%s", why);
	assert_same(&env, &got);
	cr_assert_str_eq(got.sender, "");
	cr_assert_eq(got.ret, SPOOL_RET_NONE);
	cr_assert_eq(got.proto, SPOOL_PROTO_SMTP);
	cr_assert_eq(got.content_len, 0);
	spool_env_release(&got);
	spool_env_release(&env);
	str_release(&img);
}

Test(spool, thousand_recipients_from_fd)
{
	struct spool_env	 env, got;
	struct str		 img;
	char			 why[200];
	int			 fd;

	fill_env(&env, 1000);
	/* the envelope passes the reader's first read */
	spool_env_set(&env.rcpts[999].original, NULL);
	build(&env, content, sizeof(content) - 1, &img);
	fd = memfile(img.data, img.len);
	spool_env_init(&got);
	cr_assert_eq(spool_read(fd, NULL, 0, &got, why, sizeof(why)), 0,
	    "%s", why);
	assert_same(&env, &got);
	cr_assert_str_eq(got.rcpts[500].addr, "user500@example.org");
	cr_assert_str_eq(got.rcpts[500].original, "alias500@example.org");
	spool_env_release(&got);
	close(fd);
	spool_env_release(&env);
	str_release(&img);
}

Test(spool, big_envelope_over_first_read)
{
	struct spool_env	 env, got;
	struct str		 img;
	char			 why[200], big[SPOOL_MAX_FIELD + 1];
	size_t			 i;
	int			 fd;

	fill_env(&env, 2);
	memset(big, 'x', SPOOL_MAX_FIELD);
	big[SPOOL_MAX_FIELD] = '\0';
	for (i = 0; i < 60; i++)
		cr_assert_eq(spool_env_add_rcpt(&env, big, big, big, 0), 0);
	build(&env, content, sizeof(content) - 1, &img);
	cr_assert_gt(img.len, 3 * 65536);
	fd = memfile(img.data, img.len);
	spool_env_init(&got);
	cr_assert_eq(spool_read(fd, env.id, SPOOL_READ_VERIFY_CONTENT, &got,
	    why, sizeof(why)), 0, "%s", why);
	assert_same(&env, &got);
	spool_env_release(&got);
	close(fd);
	spool_env_release(&env);
	str_release(&img);
}

Test(spool, writer_rejects_bad_envelopes)
{
	struct spool_env	 env;
	struct spool_writer	 w;
	struct str		 out;
	struct fail		 f;
	char			 big[SPOOL_MAX_FIELD + 2];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	str_init(&out, 0);
	spool_env_init(&env);
	spool_id_new(env.id, NULL, NULL);
	cr_assert_eq(spool_write_head(&w, &env, &out, &f), -1); /* no rcpt */
	cr_assert_str_eq(f.code, "5.5.3");
	cr_assert_eq(spool_env_add_rcpt(&env, "a@b", NULL, NULL, 0), 0);
	spool_env_set(&env.sender, big);
	cr_assert_eq(spool_write_head(&w, &env, &out, &f), -1);
	cr_assert_str_eq(f.code, "5.5.4");
	cr_assert_eq(out.len, 0);			/* nothing left */
	spool_env_set(&env.sender, "");
	spool_env_set(&env.rcpts[0].orcpt, big);
	cr_assert_eq(spool_write_head(&w, &env, &out, &f), -1);
	spool_env_set(&env.rcpts[0].orcpt, "");
	env.rcpts[0].notify = 0x10;
	cr_assert_eq(spool_write_head(&w, &env, &out, &f), -1);
	env.rcpts[0].notify = 0;
	spool_env_set(&env.rcpts[0].addr, "");
	cr_assert_eq(spool_write_head(&w, &env, &out, &f), -1);
	spool_env_set(&env.rcpts[0].addr, "a@b\r\nX-Evil: 1");
	cr_assert_eq(spool_write_head(&w, &env, &out, &f), -1);
	cr_assert_str_eq(f.code, "5.1.3");
	spool_env_set(&env.rcpts[0].addr, "a@b");
	spool_env_set(&env.rcpts[0].original, "x\ty@b");
	cr_assert_eq(spool_write_head(&w, &env, &out, &f), -1);
	spool_env_set(&env.rcpts[0].original, "");
	spool_env_set(&env.rcpts[0].orcpt, "rfc822;a\x7f@b");
	cr_assert_eq(spool_write_head(&w, &env, &out, &f), -1);
	cr_assert_str_eq(f.code, "5.5.4");
	spool_env_set(&env.rcpts[0].orcpt, "");
	spool_env_set(&env.sender, "s\n@b");
	cr_assert_eq(spool_write_head(&w, &env, &out, &f), -1);
	cr_assert_str_eq(f.code, "5.1.7");
	spool_env_set(&env.sender, "");
	spool_env_set(&env.envid, "id\r");
	cr_assert_eq(spool_write_head(&w, &env, &out, &f), -1);
	spool_env_set(&env.envid, "");
	env.flags = 0x80;
	cr_assert_eq(spool_write_head(&w, &env, &out, &f), -1);
	env.flags = 0;
	env.id[3] = 'I';				/* not base32 */
	cr_assert_eq(spool_write_head(&w, &env, &out, &f), -1);
	cr_assert_eq(out.len, 0);
	spool_id_new(env.id, NULL, NULL);
	cr_assert_eq(spool_write_head(&w, &env, &out, &f), 0);
	spool_env_release(&env);
	str_release(&out);
}

Test(spool, truncated_at_every_offset_is_corrupt)
{
	struct spool_env	 env, got;
	struct str		 img;
	char			 why[200];
	size_t			 cut;
	int			 fd;

	fill_env(&env, 3);
	build(&env, content, sizeof(content) - 1, &img);
	for (cut = 0; cut < img.len; cut++) {
		spool_env_init(&got);
		cr_assert_eq(spool_parse(img.data, cut, 0, &got, why,
		    sizeof(why)), SPOOL_ERR_CORRUPT, "cut %zu", cut);
		spool_env_release(&got);
		fd = memfile(img.data, cut);
		spool_env_init(&got);
		cr_assert_eq(spool_read(fd, NULL, 0, &got, why, sizeof(why)),
		    SPOOL_ERR_CORRUPT, "fd cut %zu", cut);
		spool_env_release(&got);
		close(fd);
	}
	/* and one byte too many */
	cr_assert_eq(str_append_c(&img, 'x'), 0);
	spool_env_init(&got);
	cr_assert_eq(spool_parse(img.data, img.len, 0, &got, why,
	    sizeof(why)), SPOOL_ERR_CORRUPT);
	spool_env_release(&got);
	spool_env_release(&env);
	str_release(&img);
}

Test(spool, every_bit_flip_is_caught)
{
	struct spool_env	 env, got;
	struct str		 img;
	char			 why[200];
	size_t			 i;
	int			 bit, rc;

	fill_env(&env, 2);
	build(&env, content, sizeof(content) - 1, &img);
	for (i = 0; i < img.len; i++) {
		for (bit = 0; bit < 8; bit++) {
			img.data[i] ^= (char)(1 << bit);
			spool_env_init(&got);
			rc = spool_parse(img.data, img.len,
			    SPOOL_READ_VERIFY_CONTENT, &got, why, sizeof(why));
			spool_env_release(&got);
			img.data[i] ^= (char)(1 << bit);
			cr_assert_eq(rc, SPOOL_ERR_CORRUPT, "byte %zu bit %d",
			    i, bit);
		}
	}
	spool_env_release(&env);
	str_release(&img);
}

Test(spool, content_checked_only_when_asked)
{
	struct spool_env	 env, got;
	struct str		 img;
	char			 why[200];
	int			 fd;

	fill_env(&env, 2);
	build(&env, content, sizeof(content) - 1, &img);
	img.data[img.len - SPOOL_END_SIZE - 3] ^= 1;	/* in the content */
	fd = memfile(img.data, img.len);
	spool_env_init(&got);
	cr_assert_eq(spool_read(fd, NULL, 0, &got, why, sizeof(why)), 0);
	spool_env_release(&got);
	spool_env_init(&got);
	cr_assert_eq(spool_read(fd, NULL, SPOOL_READ_VERIFY_CONTENT, &got,
	    why, sizeof(why)), SPOOL_ERR_CORRUPT);
	cr_assert_str_eq(why, "content checksum mismatch");
	spool_env_release(&got);
	close(fd);
	spool_env_release(&env);
	str_release(&img);
}

Test(spool, wrong_id_is_corrupt)
{
	struct spool_env	 env, got;
	struct str		 img;
	char			 why[200], other[SPOOL_ID_LEN + 1];
	int			 fd;

	fill_env(&env, 2);
	build(&env, content, sizeof(content) - 1, &img);
	fd = memfile(img.data, img.len);
	spool_id_new(other, NULL, NULL);
	spool_env_init(&got);
	cr_assert_eq(spool_read(fd, other, 0, &got, why, sizeof(why)),
	    SPOOL_ERR_CORRUPT);
	spool_env_release(&got);
	close(fd);
	spool_env_release(&env);
	str_release(&img);
}

Test(spool, not_a_regular_file)
{
	struct spool_env	 got;
	char			 why[200];
	int			 fd = open("/", O_RDONLY | O_DIRECTORY);

	spool_env_init(&got);
	cr_assert_eq(spool_read(fd, NULL, 0, &got, why, sizeof(why)),
	    SPOOL_ERR_CORRUPT);
	spool_env_release(&got);
	close(fd);
}

/* ---- hand-made records, checked without CRCs ---- */

static void
rec(struct str *s, char type, const void *p, uint32_t len)
{
	uint8_t	 h[5] = { (uint8_t)type, (uint8_t)(len >> 24),
	    (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len };

	cr_assert_eq(str_append(s, h, 5), 0);
	if (len > 0)
		cr_assert_eq(str_append(s, p, len), 0);
}

/* A minimal valid file; skip names a record type to leave out, dup one
 * to write twice, and a record 'R' payload may be replaced. */
static void
handmade(struct str *s, char skip, char dup, const void *rp, uint32_t rlen,
    uint32_t mlen_field)
{
	static const uint8_t magic[8] = { 0x89, 'B', 'Z', 'Q', 13, 10, 26, 10 };
	static const uint8_t ver[4] = { 0, 0, 0, 1 };
	static const uint8_t t[12] = { 0, 0, 0, 0, 0x60, 0, 0, 0, 0, 0, 0, 5 };
	static const uint8_t fl[6] = { 0, 0, 0, 3, 1, 2 };
	static const uint8_t r[] = { 0, 0, 0, 4, 0, 3, 'a', '@', 'b', 0, 0,
	    0, 0 };
	static const uint8_t z[16] = { 0, 0, 0, 0, 0, 0, 0, 2 };
	char			 id[SPOOL_ID_LEN + 1];
	const char		*order = "VITFSHRMZ";
	const char		*o;

	spool_id_new(id, NULL, NULL);
	str_init(s, 0);
	cr_assert_eq(str_append(s, magic, 8), 0);
	for (o = order; *o != '\0'; o++) {
		int	 times = *o == dup ? 2 : 1;

		if (*o == skip)
			continue;
		while (times-- > 0) {
			switch (*o) {
			case 'V': rec(s, 'V', ver, 4); break;
			case 'I': rec(s, 'I', id, SPOOL_ID_LEN); break;
			case 'T': rec(s, 'T', t, 12); break;
			case 'F': rec(s, 'F', fl, 6); break;
			case 'S': rec(s, 'S', "a@b", 3); break;
			case 'H': rec(s, 'H', "helo", 4); break;
			case 'R':
				if (rp != NULL)
					rec(s, 'R', rp, rlen);
				else
					rec(s, 'R', r, sizeof(r));
				break;
			case 'M':
				rec(s, 'M', "ok", 2);
				s->data[s->len - 6] = (char)(mlen_field >> 24);
				s->data[s->len - 5] = (char)(mlen_field >> 16);
				s->data[s->len - 4] = (char)(mlen_field >> 8);
				s->data[s->len - 3] = (char)mlen_field;
				break;
			case 'Z': rec(s, 'Z', z, 16); break;
			}
		}
	}
}

static int
parse_nocrc(const struct str *s)
{
	struct spool_env	 got;
	char			 why[200];
	int			 rc;

	spool_env_init(&got);
	rc = spool_parse(s->data, s->len, SPOOL_READ_NO_CRC, &got, why,
	    sizeof(why));
	spool_env_release(&got);
	return rc;
}

Test(spool, handmade_minimal_is_valid)
{
	struct str	 s;

	handmade(&s, 0, 0, NULL, 0, 2);
	cr_assert_eq(parse_nocrc(&s), 0);
	str_release(&s);
}

Test(spool, missing_duplicate_or_misordered_records)
{
	static const char types[] = "VITFSHRMZ";
	struct str	 s;
	size_t		 i;

	for (i = 0; types[i] != '\0'; i++) {
		handmade(&s, types[i], 0, NULL, 0, 2);
		cr_assert_eq(parse_nocrc(&s), types[i] == 'H' ? 0 :
		    SPOOL_ERR_CORRUPT, "skip %c", types[i]);
		str_release(&s);
		if (types[i] == 'R')		/* may repeat */
			continue;
		handmade(&s, 0, types[i], NULL, 0, 2);
		cr_assert_eq(parse_nocrc(&s), SPOOL_ERR_CORRUPT, "dup %c",
		    types[i]);
		str_release(&s);
	}
	handmade(&s, 0, 'R', NULL, 0, 2);
	cr_assert_eq(parse_nocrc(&s), 0);
	str_release(&s);
}

Test(spool, oversized_lengths_rejected)
{
	static const uint32_t lens[] = { 0xffffffffu, 0xfffffff1u,
	    0x80000000u, SPOOL_MAX_FIELD + 1u, 3 };
	struct str	 s;
	size_t		 i;

	/* the content length field */
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		handmade(&s, 0, 0, NULL, 0, lens[i]);
		cr_assert_eq(parse_nocrc(&s), SPOOL_ERR_CORRUPT, "M len %u",
		    lens[i]);
		str_release(&s);
	}
	/* the sender record length (offset 8 + 9 + 21 + 17 + 11 + 1) */
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]) - 1; i++) {
		handmade(&s, 0, 0, NULL, 0, 2);
		s.data[67] = (char)(lens[i] >> 24);
		s.data[68] = (char)(lens[i] >> 16);
		s.data[69] = (char)(lens[i] >> 8);
		s.data[70] = (char)lens[i];
		cr_assert_eq(s.data[66], 'S');
		cr_assert_eq(parse_nocrc(&s), SPOOL_ERR_CORRUPT, "S len %u",
		    lens[i]);
		str_release(&s);
	}
}

Test(spool, control_characters_in_addresses_are_corrupt)
{
	static const uint8_t r[] = { 0, 0, 0, 0, 0, 3, 'a', '\n', 'b', 0, 0,
	    0, 0 };
	struct str	 s;

	handmade(&s, 0, 0, r, sizeof(r), 2);
	cr_assert_eq(parse_nocrc(&s), SPOOL_ERR_CORRUPT);
	str_release(&s);
	handmade(&s, 0, 0, NULL, 0, 2);
	s.data[72] = '\r';			/* the sender "a@b" */
	cr_assert_eq(s.data[71], 'a');
	cr_assert_eq(parse_nocrc(&s), SPOOL_ERR_CORRUPT);
	/* other fields may hold them (HELO): the record after S */
	s.data[72] = '@';
	cr_assert_eq(s.data[74], 'H');
	s.data[80] = '\t';
	cr_assert_eq(parse_nocrc(&s), 0);
	str_release(&s);
}

Test(spool, bad_recipient_records)
{
	static const uint8_t bad[][16] = {
		{ 0, 0, 0, 0x10, 0, 1, 'a', 0, 0, 0, 0 },	/* notify */
		{ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },		/* empty addr */
		{ 0, 0, 0, 0, 0, 2, 'a', 0, 0, 0, 0, 0 },	/* NUL */
		{ 0, 0, 0, 0, 0, 9, 'a', 0, 0, 0, 0 },		/* overrun */
		{ 0, 0, 0, 0, 0, 1, 'a', 0, 0, 0, 0, 7 },	/* trailing */
		{ 0, 0, 0, 0, 0, 1, 'a', 0, 0 },		/* short */
	};
	static const uint32_t lens[] = { 11, 11, 12, 11, 12, 9 };
	struct str	 s;
	size_t		 i;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		handmade(&s, 0, 0, bad[i], lens[i], 2);
		cr_assert_eq(parse_nocrc(&s), SPOOL_ERR_CORRUPT, "case %zu",
		    i);
		str_release(&s);
	}
}

Test(spool, garbage_never_accepted)
{
	struct spool_env	 got;
	uint8_t			 buf[4096];
	char			 why[200];
	unsigned int		 seed = 12345;
	size_t			 i, round;

	for (round = 0; round < 500; round++) {
		for (i = 0; i < sizeof(buf); i++)
			buf[i] = (uint8_t)rand_r(&seed);
		if (round % 2 == 0)		/* a good magic, random rest */
			memcpy(buf, "\x89" "BZQ\r\n\x1a\n", 8);
		spool_env_init(&got);
		cr_assert_eq(spool_parse(buf, (size_t)rand_r(&seed) %
		    sizeof(buf), 0, &got, why, sizeof(why)),
		    SPOOL_ERR_CORRUPT);
		spool_env_release(&got);
	}
}

/* ---- ids ---- */

static int
cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

Test(spool, ids_unique_sorted_valid)
{
	char	(*ids)[SPOOL_ID_LEN + 1] = xcalloc(10000, sizeof(*ids));
	size_t	 i;

	for (i = 0; i < 10000; i++) {
		spool_id_new(ids[i], NULL, NULL);
		cr_assert(spool_id_valid(ids[i]), "%s", ids[i]);
		if (i > 0)
			cr_assert_gt(strcmp(ids[i], ids[i - 1]), 0,
			    "%s after %s", ids[i], ids[i - 1]);
	}
	free(ids);
	cr_assert_not(spool_id_valid("0123456789ABCDE"));
	cr_assert_not(spool_id_valid("0123456789ABCDEFG"));
	cr_assert_not(spool_id_valid("0123456789ABCDEI"));
	cr_assert_not(spool_id_valid("0123456789abcdef"));
	cr_assert_not(spool_id_valid("../../etc/passwd"));
	cr_assert(spool_id_valid("0123456789ABCDEF"));
}

Test(spool, ids_unique_across_processes)
{
	char	(*ids)[SPOOL_ID_LEN + 1] = xcalloc(20000, sizeof(*ids));
	int	 p[2], status;
	pid_t	 pid;
	size_t	 i, got = 0;
	ssize_t	 n;

	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		char	 id[SPOOL_ID_LEN + 1];

		close(p[0]);
		for (i = 0; i < 10000; i++) {
			spool_id_new(id, NULL, NULL);
			if (write(p[1], id, SPOOL_ID_LEN + 1) !=
			    SPOOL_ID_LEN + 1)
				_exit(1);
		}
		_exit(0);
	}
	close(p[1]);
	for (i = 0; i < 10000; i++)
		spool_id_new(ids[i], NULL, NULL);
	while (got < 10000 * (SPOOL_ID_LEN + 1) &&
	    (n = read(p[0], (char *)ids[10000] + got,
	    10000 * (SPOOL_ID_LEN + 1) - got)) > 0)
		got += (size_t)n;
	close(p[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert_eq(status, 0);
	cr_assert_eq(got, 10000 * (SPOOL_ID_LEN + 1));
	qsort(ids, 20000, sizeof(*ids), cmp_id);
	for (i = 1; i < 20000; i++)
		cr_assert_neq(strcmp(ids[i], ids[i - 1]), 0, "dup %s", ids[i]);
	free(ids);
}

Test(spool, names)
{
	cr_assert_str_eq(spool_proto_name(SPOOL_PROTO_ESMTPSA), "ESMTPSA");
	cr_assert_str_eq(spool_proto_name(SPOOL_PROTO_COUNT), "?");
	cr_assert_str_eq(spool_rcpt_state_name(SPOOL_RCPT_DEFERRED),
	    "deferred");
	cr_assert_str_eq(spool_rcpt_state_name(SPOOL_RCPT_STATE_COUNT), "?");
	cr_assert(spool_rcpt_state_final(SPOOL_RCPT_BOUNCED));
	cr_assert_not(spool_rcpt_state_final(SPOOL_RCPT_DEFERRED));
}
