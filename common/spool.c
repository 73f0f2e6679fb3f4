/* SPDX-License-Identifier: MIT */
/*
 * spool.c - the queue-file format: envelope records, content, end record
 *
 * A queue file is (all integers big-endian):
 *
 *	magic	8 bytes	 89 'B' 'Z' 'Q' 0d 0a 1a 0a
 *	records	u8 type, u32 length, then length bytes of payload
 *
 * The records, in this order ('?' optional, '+' one or more):
 *
 *	'V'  u32 version (1)                                 exactly 4 bytes
 *	'I'  the queue id, 16 base32 characters             exactly 16
 *	'T'  u64 arrival seconds, u32 microseconds (<1e6)   exactly 12
 *	'F'  u32 flags, u8 RET, u8 protocol                 exactly 6
 *	'S'  sender ("" = null sender)                      0..4096
 *	'E'? ENVID        'C'? client address   'H'? HELO name
 *	'N'? client reverse name   'L'? TLS description   'A'? auth user
 *	'R'+ recipient: u32 NOTIFY, then three u16-prefixed strings:
 *	     address (1..4096), ORCPT, original address
 *	'M'  the content (0..SPOOL_MAX_CONTENT bytes)
 *	'Z'  u64 content length, u32 CRC-32C of every byte before the 'M'
 *	     record, u32 CRC-32C of the content             exactly 16
 *
 * Strings are bytes without NUL.  Optional records come in the order
 * shown, each at most once.  'Z' ends exactly at end of file.  The writer
 * leaves the 'M' length 0 until commit, so a file cut anywhere fails.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "bytes.h"
#include "log.h"
#include "mem.h"
#include "spool.h"

static const uint8_t spool_magic[8] = {
	0x89, 'B', 'Z', 'Q', 0x0d, 0x0a, 0x1a, 0x0a
};

#define REC_HDR		5	/* u8 type + u32 length */
#define SPOOL_FIRST_READ 8192	/* bytes read before the envelope is known */
#define END_PAYLOAD	16

/* Envelope string records by rank; 'R', 'M' come after. */
static const char spool_opt_types[] = "ECHNLA";

/* ---- CRC-32C, slicing by 8 ---- */

static uint32_t crc_table[8][256];

__attribute__((constructor)) static void
crc_init(void)
{
	uint32_t	 c;
	int		 i, j, k;

	for (i = 0; i < 256; i++) {
		c = (uint32_t)i;
		for (j = 0; j < 8; j++)
			c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_table[0][i] = c;
	}
	for (i = 0; i < 256; i++)
		for (k = 1; k < 8; k++)
			crc_table[k][i] = (crc_table[k - 1][i] >> 8) ^
			    crc_table[0][crc_table[k - 1][i] & 0xff];
}

uint32_t
spool_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t	*p = buf;
	uint64_t	 w;

	crc = ~crc;
	while (len >= 8) {
		memcpy(&w, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		w = __builtin_bswap64(w);
#endif
		w ^= crc;
		crc = crc_table[7][w & 0xff] ^
		    crc_table[6][(w >> 8) & 0xff] ^
		    crc_table[5][(w >> 16) & 0xff] ^
		    crc_table[4][(w >> 24) & 0xff] ^
		    crc_table[3][(w >> 32) & 0xff] ^
		    crc_table[2][(w >> 40) & 0xff] ^
		    crc_table[1][(w >> 48) & 0xff] ^
		    crc_table[0][w >> 56];
		p += 8;
		len -= 8;
	}
	while (len-- > 0)
		crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* ---- queue ids ---- */

static const char id_alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
static uint64_t id_last_us;

void
spool_id_new(char *id, uint64_t *sec_r, uint32_t *usec_r)
{
	struct timeval		 tv;
	uint64_t		 now, last, pid;
	unsigned __int128	 v;
	int			 i;

	gettimeofday(&tv, NULL);
	now = (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
	/* Strictly increasing within the process, even if the clock stalls
	 * or steps back: the pid then keeps processes apart. */
	last = __atomic_load_n(&id_last_us, __ATOMIC_RELAXED);
	do {
		if (now <= last)
			now = last + 1;
	} while (!__atomic_compare_exchange_n(&id_last_us, &last, now, false,
	    __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	pid = (uint64_t)getpid() & 0x3fffffu;
	v = ((unsigned __int128)(now & ((1ull << 54) - 1)) << 22) | pid;
	for (i = SPOOL_ID_LEN - 1; i >= 0; i--) {
		id[i] = id_alphabet[(unsigned int)(v & 31)];
		v >>= 5;
	}
	id[SPOOL_ID_LEN] = '\0';
	if (sec_r != NULL)
		*sec_r = now / 1000000u;
	if (usec_r != NULL)
		*usec_r = (uint32_t)(now % 1000000u);
}

bool
spool_id_valid(const char *id)
{
	size_t	 i;

	for (i = 0; i < SPOOL_ID_LEN; i++)
		if (id[i] == '\0' || strchr(id_alphabet, id[i]) == NULL)
			return false;
	return id[SPOOL_ID_LEN] == '\0';
}

/* ---- envelope ---- */

void
spool_env_init(struct spool_env *env)
{
	memset(env, 0, sizeof(*env));
	env->sender = xstrdup("");
	env->envid = xstrdup("");
	env->client_addr = xstrdup("");
	env->helo = xstrdup("");
	env->client_name = xstrdup("");
	env->tls = xstrdup("");
	env->auth_user = xstrdup("");
}

void
spool_env_release(struct spool_env *env)
{
	size_t	 i;

	for (i = 0; i < env->nrcpts; i++) {
		free(env->rcpts[i].addr);
		free(env->rcpts[i].orcpt);
		free(env->rcpts[i].original);
	}
	free(env->rcpts);
	free(env->sender);
	free(env->envid);
	free(env->client_addr);
	free(env->helo);
	free(env->client_name);
	free(env->tls);
	free(env->auth_user);
	memset(env, 0, sizeof(*env));
}

void
spool_env_set(char **member, const char *s)
{
	free(*member);
	*member = xstrdup(s != NULL ? s : "");
}

int
spool_env_add_rcpt(struct spool_env *env, const char *addr, const char *orcpt,
    const char *original, unsigned int notify)
{
	struct spool_rcpt	*r;

	if (env->nrcpts >= SPOOL_MAX_RCPTS)
		return -1;
	if (env->nrcpts == env->rcpts_cap) {
		env->rcpts_cap = env->rcpts_cap == 0 ? 8 : env->rcpts_cap * 2;
		env->rcpts = xreallocarray(env->rcpts, env->rcpts_cap,
		    sizeof(*env->rcpts));
	}
	r = &env->rcpts[env->nrcpts++];
	r->addr = xstrdup(addr != NULL ? addr : "");
	r->orcpt = xstrdup(orcpt != NULL ? orcpt : "");
	r->original = xstrdup(original != NULL ? original : "");
	r->notify = notify;
	return 0;
}

const char *
spool_proto_name(enum spool_proto p)
{
	static const char *const names[SPOOL_PROTO_COUNT] = {
		"SMTP", "ESMTP", "ESMTPS", "ESMTPA", "ESMTPSA", "LOCAL"
	};

	if ((unsigned int)p >= SPOOL_PROTO_COUNT)
		return "?";
	return names[p];
}

/* ---- writer ---- */

/* Append a record header; the str has no max, sizes are checked by the
 * callers, so the appends cannot fail. */
static void
emit_hdr(struct str *out, char type, uint32_t len)
{
	uint8_t	 h[REC_HDR];

	h[0] = (uint8_t)type;
	be32_put(h + 1, len);
	BUZ_ASSERT(str_append(out, h, sizeof(h)) == 0);
}

static void
emit_raw(struct str *out, const void *p, size_t len)
{
	BUZ_ASSERT(str_append(out, p, len) == 0);
}

/* Any control character (addresses, xtext and ENVID never hold one). */
static bool
has_ctl(const void *p, size_t len)
{
	const uint8_t	*b = p;
	size_t		 i;

	for (i = 0; i < len; i++)
		if (b[i] < 0x20 || b[i] == 0x7f)
			return true;
	return false;
}

/* A string field: at most SPOOL_MAX_FIELD; when ctl_code is set, no
 * control characters either (else that enhanced code). */
static int
field_ok(const char *s, size_t *len_r, const char *what, const char *ctl_code,
    struct fail *f)
{
	size_t	 len = strlen(s);

	if (len > SPOOL_MAX_FIELD)
		return fail_set(f, false, "5.5.4", "%s too long", what);
	if (ctl_code != NULL && has_ctl(s, len))
		return fail_set(f, false, ctl_code,
		    "control character in %s", what);
	*len_r = len;
	return 0;
}

static int
emit_string(struct str *out, char type, const char *s, bool optional,
    const char *what, const char *ctl_code, struct fail *f)
{
	size_t	 len = 0;

	if (field_ok(s, &len, what, ctl_code, f) == -1)
		return -1;
	if (optional && len == 0)
		return 0;
	emit_hdr(out, type, (uint32_t)len);
	emit_raw(out, s, len);
	return 0;
}

int
spool_write_head(struct spool_writer *w, const struct spool_env *env,
    struct str *out, struct fail *f)
{
	const char *const opt[] = { env->envid, env->client_addr, env->helo,
	    env->client_name, env->tls, env->auth_user };
	const char *const opt_what[] = { "ENVID", "client address",
	    "HELO name", "client name", "TLS description", "auth user" };
	const char *const opt_ctl[] = { "5.5.4", NULL, NULL, NULL, NULL,
	    NULL };
	uint8_t		 b[16];
	size_t		 start = out->len, i, j, len[3] = { 0, 0, 0 };
	const struct spool_rcpt *r;

	memset(w, 0, sizeof(*w));
	if (!spool_id_valid(env->id))
		return fail_set(f, true, "4.3.0", "bad queue id");
	if ((env->flags & ~SPOOL_F_ALL) != 0 || (unsigned int)env->ret > 2 ||
	    (unsigned int)env->proto >= SPOOL_PROTO_COUNT ||
	    env->arrival_usec >= 1000000u)
		return fail_set(f, true, "4.3.0", "bad envelope value");
	if (env->nrcpts == 0 || env->nrcpts > SPOOL_MAX_RCPTS)
		return fail_set(f, false, "5.5.3", "bad recipient count");
	emit_raw(out, spool_magic, sizeof(spool_magic));
	emit_hdr(out, 'V', 4);
	be32_put(b, SPOOL_VERSION);
	emit_raw(out, b, 4);
	emit_hdr(out, 'I', SPOOL_ID_LEN);
	emit_raw(out, env->id, SPOOL_ID_LEN);
	emit_hdr(out, 'T', 12);
	be64_put(b, env->arrival_sec);
	be32_put(b + 8, env->arrival_usec);
	emit_raw(out, b, 12);
	emit_hdr(out, 'F', 6);
	be32_put(b, env->flags);
	b[4] = (uint8_t)env->ret;
	b[5] = (uint8_t)env->proto;
	emit_raw(out, b, 6);
	if (emit_string(out, 'S', env->sender, false, "sender", "5.1.7",
	    f) == -1)
		goto bad;
	for (i = 0; i < sizeof(opt) / sizeof(opt[0]); i++)
		if (emit_string(out, spool_opt_types[i], opt[i], true,
		    opt_what[i], opt_ctl[i], f) == -1)
			goto bad;
	for (i = 0; i < env->nrcpts; i++) {
		r = &env->rcpts[i];
		if (field_ok(r->addr, &len[0], "recipient", "5.1.3",
		    f) == -1 ||
		    field_ok(r->orcpt, &len[1], "ORCPT", "5.5.4", f) == -1 ||
		    field_ok(r->original, &len[2], "original recipient",
		    "5.1.3", f) == -1)
			goto bad;
		if (len[0] == 0 || (r->notify & ~SPOOL_NOTIFY_ALL) != 0) {
			fail_set(f, false, "5.1.3", "bad recipient");
			goto bad;
		}
		emit_hdr(out, 'R', (uint32_t)(4 + 6 + len[0] + len[1] +
		    len[2]));
		be32_put(b, r->notify);
		emit_raw(out, b, 4);
		for (j = 0; j < 3; j++) {
			be16_put(b, (uint16_t)len[j]);
			emit_raw(out, b, 2);
			emit_raw(out, j == 0 ? r->addr : j == 1 ? r->orcpt :
			    r->original, len[j]);
		}
		if (out->len - start > SPOOL_MAX_ENVELOPE) {
			fail_set(f, false, "5.3.4", "envelope too large");
			goto bad;
		}
	}
	w->env_crc = spool_crc32c(0, out->data + start, out->len - start);
	w->len_off = out->len - start + 1;
	emit_hdr(out, 'M', 0);
	return 0;
bad:
	str_truncate(out, start);
	return -1;
}

int
spool_write_content(struct spool_writer *w, const void *p, size_t len)
{
	if (len > SPOOL_MAX_CONTENT || w->content_len > SPOOL_MAX_CONTENT - len)
		return -1;
	w->content_crc = spool_crc32c(w->content_crc, p, len);
	w->content_len += len;
	return 0;
}

void
spool_write_end(const struct spool_writer *w, uint8_t len_r[4],
    uint64_t *len_off_r, uint8_t end_r[SPOOL_END_SIZE])
{
	be32_put(len_r, (uint32_t)w->content_len);
	*len_off_r = w->len_off;
	end_r[0] = 'Z';
	be32_put(end_r + 1, END_PAYLOAD);
	be64_put(end_r + 5, w->content_len);
	be32_put(end_r + 13, w->env_crc);
	be32_put(end_r + 17, w->content_crc);
}

/* ---- reader ---- */

#define PARSE_DONE	0
#define NREQUIRED	5	/* V I T F S */
#define PARSE_MORE	1

int
spool_corrupt(char *why, size_t whysize, const char *fmt, ...)
{
	va_list	 ap;

	if (why != NULL && whysize > 0) {
		va_start(ap, fmt);
		vsnprintf(why, whysize, fmt, ap);
		va_end(ap);
	}
	return SPOOL_ERR_CORRUPT;
}

/* A string field: no NUL inside, at most SPOOL_MAX_FIELD; addresses,
 * xtext and ENVID (strict) hold no control character at all. */
static int
take_string(char **member, const uint8_t *p, size_t len, bool strict)
{
	if (len > SPOOL_MAX_FIELD || memchr(p, '\0', len) != NULL ||
	    (strict && has_ctl(p, len)))
		return -1;
	free(*member);
	*member = xmemdup(p, len);
	return 0;
}

/* Take one u16-prefixed string out of a recipient record. */
static int
take_sub(char **member, const uint8_t *p, size_t len, size_t *pos)
{
	size_t	 n;

	if (len - *pos < 2)
		return -1;
	n = be16_get(p + *pos);
	*pos += 2;
	if (len - *pos < n)
		return -1;
	if (take_string(member, p + *pos, n, true) == -1)
		return -1;
	*pos += n;
	return 0;
}

static int
parse_rcpt(struct spool_env *env, const uint8_t *p, size_t len)
{
	struct spool_rcpt	*r;
	size_t			 pos = 4;
	uint32_t		 notify;

	if (len < 10)
		return -1;
	notify = be32_get(p);
	if ((notify & ~SPOOL_NOTIFY_ALL) != 0)
		return -1;
	if (spool_env_add_rcpt(env, NULL, NULL, NULL, notify) == -1)
		return -1;
	r = &env->rcpts[env->nrcpts - 1];
	if (take_sub(&r->addr, p, len, &pos) == -1 ||
	    take_sub(&r->orcpt, p, len, &pos) == -1 ||
	    take_sub(&r->original, p, len, &pos) == -1)
		return -1;
	if (r->addr[0] == '\0' || pos != len)
		return -1;
	return 0;
}

/*
 * Parse from the start of buf (avail bytes of a file of fsize bytes) up to
 * and including the 'M' header.  PARSE_DONE with env->content_off/len set,
 * PARSE_MORE with *need_r = bytes of file needed, or SPOOL_ERR_CORRUPT.
 */
static int
parse_env(const uint8_t *buf, size_t avail, uint64_t fsize,
    struct spool_env *env, size_t *need_r, char *why, size_t whysize)
{
	static const char order[] = "VITFSECHNLARM";
	const char	*rank;
	size_t		 pos, r, last = 0, next_req = 0;
	uint32_t	 len;
	uint8_t		 type;
	bool		 have_rcpt = false;
	char		**opt[6];

	opt[0] = &env->envid;
	opt[1] = &env->client_addr;
	opt[2] = &env->helo;
	opt[3] = &env->client_name;
	opt[4] = &env->tls;
	opt[5] = &env->auth_user;
	if (fsize < sizeof(spool_magic))
		return spool_corrupt(why, whysize, "short file");
	if (avail < sizeof(spool_magic)) {
		*need_r = sizeof(spool_magic);
		return PARSE_MORE;
	}
	if (memcmp(buf, spool_magic, sizeof(spool_magic)) != 0)
		return spool_corrupt(why, whysize, "bad magic");
	pos = sizeof(spool_magic);
	for (;;) {
		if (fsize - pos < REC_HDR)
			return spool_corrupt(why, whysize, "truncated at %zu", pos);
		if (pos > SPOOL_MAX_ENVELOPE)
			return spool_corrupt(why, whysize, "envelope too large");
		if (avail - pos < REC_HDR) {
			*need_r = pos + REC_HDR;
			return PARSE_MORE;
		}
		type = buf[pos];
		len = be32_get(buf + pos + 1);
		if (type == 0 || (rank = strchr(order, type)) == NULL)
			return spool_corrupt(why, whysize,
			    "unknown record 0x%02x at %zu", type, pos);
		/* V I T F S each once, in order; then the optional ones in
		 * order, each at most once; R repeats; M last. */
		r = (size_t)(rank - order);
		if (r < NREQUIRED ? r != next_req : next_req != NREQUIRED ||
		    r < last || (r == last && type != 'R'))
			return spool_corrupt(why, whysize,
			    "record '%c' out of order at %zu", type, pos);
		if (r < NREQUIRED)
			next_req++;
		last = r;
		pos += REC_HDR;
		if (type == 'M') {
			if (!have_rcpt)
				return spool_corrupt(why, whysize, "no recipient");
			if (len > SPOOL_MAX_CONTENT)
				return spool_corrupt(why, whysize,
				    "content length %u too large", len);
			env->content_off = pos;
			env->content_len = len;
			return PARSE_DONE;
		}
		if (len > (type == 'R' ? 4 + 3 * (2 + SPOOL_MAX_FIELD) :
		    SPOOL_MAX_FIELD))
			return spool_corrupt(why, whysize,
			    "record '%c' length %u too large", type, len);
		if (fsize - pos < len)
			return spool_corrupt(why, whysize, "truncated at %zu", pos);
		if (avail - pos < len) {
			*need_r = pos + len;
			return PARSE_MORE;
		}
		switch (type) {
		case 'V':
			if (len != 4 || be32_get(buf + pos) != SPOOL_VERSION)
				return spool_corrupt(why, whysize, "bad version");
			break;
		case 'I':
			if (len != SPOOL_ID_LEN)
				return spool_corrupt(why, whysize, "bad id record");
			memcpy(env->id, buf + pos, SPOOL_ID_LEN);
			env->id[SPOOL_ID_LEN] = '\0';
			if (!spool_id_valid(env->id))
				return spool_corrupt(why, whysize, "bad id");
			break;
		case 'T':
			if (len != 12)
				return spool_corrupt(why, whysize, "bad time record");
			env->arrival_sec = be64_get(buf + pos);
			env->arrival_usec = be32_get(buf + pos + 8);
			if (env->arrival_usec >= 1000000u)
				return spool_corrupt(why, whysize, "bad time");
			break;
		case 'F':
			if (len != 6)
				return spool_corrupt(why, whysize,
				    "bad flags record");
			env->flags = be32_get(buf + pos);
			if ((env->flags & ~SPOOL_F_ALL) != 0 ||
			    buf[pos + 4] > SPOOL_RET_HDRS ||
			    buf[pos + 5] >= SPOOL_PROTO_COUNT)
				return spool_corrupt(why, whysize, "bad flags");
			env->ret = (enum spool_ret)buf[pos + 4];
			env->proto = (enum spool_proto)buf[pos + 5];
			break;
		case 'S':
			if (take_string(&env->sender, buf + pos, len,
			    true) == -1)
				return spool_corrupt(why, whysize, "bad sender");
			break;
		case 'R':
			if (parse_rcpt(env, buf + pos, len) == -1)
				return spool_corrupt(why, whysize,
				    "bad recipient %zu", env->nrcpts);
			have_rcpt = true;
			break;
		default:
			if (len == 0 || take_string(opt[strchr(
			    spool_opt_types, type) - spool_opt_types],
			    buf + pos, len, type == 'E') == -1)
				return spool_corrupt(why, whysize,
				    "bad record '%c'", type);
			break;
		}
		pos += len;
	}
}

/* Check the end record (16 payload bytes at end) and the envelope CRC. */
static int
check_end(const struct spool_env *env, const uint8_t *end,
    const uint8_t *head, unsigned int flags, uint32_t *content_crc_r,
    char *why, size_t whysize)
{
	if (end[0] != 'Z' || be32_get(end + 1) != END_PAYLOAD)
		return spool_corrupt(why, whysize, "bad end record");
	if (be64_get(end + 5) != env->content_len)
		return spool_corrupt(why, whysize, "content length mismatch");
	if ((flags & SPOOL_READ_NO_CRC) == 0 && spool_crc32c(0, head,
	    env->content_off - REC_HDR) != be32_get(end + 13))
		return spool_corrupt(why, whysize, "envelope checksum mismatch");
	*content_crc_r = be32_get(end + 17);
	return 0;
}

static int
check_layout(const struct spool_env *env, uint64_t fsize, char *why,
    size_t whysize)
{
	if (env->content_off + env->content_len + SPOOL_END_SIZE != fsize)
		return spool_corrupt(why, whysize,
		    "size mismatch: content %llu at %llu, file %llu",
		    (unsigned long long)env->content_len,
		    (unsigned long long)env->content_off,
		    (unsigned long long)fsize);
	return 0;
}

int
spool_parse(const void *buf, size_t len, unsigned int flags,
    struct spool_env *env, char *why, size_t whysize)
{
	const uint8_t	*p = buf;
	size_t		 need;
	uint32_t	 crc;
	int		 rc;

	rc = parse_env(p, len, len, env, &need, why, whysize);
	if (rc == PARSE_MORE)		/* cannot happen: avail == fsize */
		return spool_corrupt(why, whysize, "truncated");
	if (rc != PARSE_DONE)
		return rc;
	if (check_layout(env, len, why, whysize) != 0)
		return SPOOL_ERR_CORRUPT;
	if (check_end(env, p + len - SPOOL_END_SIZE, p, flags, &crc, why,
	    whysize) != 0)
		return SPOOL_ERR_CORRUPT;
	if ((flags & SPOOL_READ_NO_CRC) == 0 &&
	    (flags & SPOOL_READ_VERIFY_CONTENT) != 0 &&
	    spool_crc32c(0, p + env->content_off, env->content_len) != crc)
		return spool_corrupt(why, whysize, "content checksum mismatch");
	env->file_size = len;
	return 0;
}

/* pread exactly len bytes at off: 0, SPOOL_ERR_IO, or SPOOL_ERR_CORRUPT
 * when the file ends early (it shrank under us). */
static int
pread_full(int fd, void *buf, size_t len, uint64_t off, char *why,
    size_t whysize)
{
	ssize_t	 n;
	size_t	 got = 0;

	while (got < len) {
		n = pread(fd, (uint8_t *)buf + got, len - got,
		    (off_t)(off + got));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(why, whysize, "read: %s", strerror(errno));
			return SPOOL_ERR_IO;
		}
		if (n == 0)
			return spool_corrupt(why, whysize, "unexpected end of file");
		got += (size_t)n;
	}
	return 0;
}

static int
verify_content_fd(int fd, const struct spool_env *env, uint32_t want,
    char *why, size_t whysize)
{
	uint8_t		*buf = xmalloc(65536);
	uint64_t	 off = env->content_off, left = env->content_len;
	uint32_t	 crc = 0;
	size_t		 n;
	int		 rc = 0;

	while (left > 0 && rc == 0) {
		n = left > 65536 ? 65536 : (size_t)left;
		if ((rc = pread_full(fd, buf, n, off, why, whysize)) == 0) {
			crc = spool_crc32c(crc, buf, n);
			off += n;
			left -= n;
		}
	}
	free(buf);
	if (rc == 0 && crc != want)
		rc = spool_corrupt(why, whysize, "content checksum mismatch");
	return rc;
}

int
spool_read(int fd, const char *expect_id, unsigned int flags,
    struct spool_env *env, char *why, size_t whysize)
{
	struct stat	 sb;
	uint8_t		*buf = NULL, end[SPOOL_END_SIZE];
	size_t		 avail = 0, want, need;
	uint32_t	 crc;
	uint64_t	 fsize;
	int		 rc;

	if (fstat(fd, &sb) == -1) {
		snprintf(why, whysize, "fstat: %s", strerror(errno));
		return SPOOL_ERR_IO;
	}
	if (!S_ISREG(sb.st_mode))
		return spool_corrupt(why, whysize, "not a regular file");
	fsize = (uint64_t)sb.st_size;
	/* most envelopes are well under 1 KiB: read a little, grow if not */
	want = fsize < SPOOL_FIRST_READ ? (size_t)fsize : SPOOL_FIRST_READ;
	for (;;) {
		buf = xrealloc(buf, want > 0 ? want : 1);
		if ((rc = pread_full(fd, buf + avail, want - avail, avail,
		    why, whysize)) != 0)
			goto out;
		avail = want;
		rc = parse_env(buf, avail, fsize, env, &need, why, whysize);
		if (rc != PARSE_MORE)
			break;
		/* A big envelope: read more and parse again from the top
		 * (parse_env bounds need by SPOOL_MAX_ENVELOPE + a record). */
		want = need > avail * 2 ? need : avail * 2;
		if (want > fsize)
			want = (size_t)fsize;
		spool_env_release(env);
		spool_env_init(env);
	}
	if (rc != PARSE_DONE)
		goto out;
	if ((rc = check_layout(env, fsize, why, whysize)) != 0)
		goto out;
	if ((rc = pread_full(fd, end, sizeof(end), fsize - SPOOL_END_SIZE,
	    why, whysize)) != 0)
		goto out;
	if ((rc = check_end(env, end, buf, flags, &crc, why, whysize)) != 0)
		goto out;
	if (expect_id != NULL && strcmp(expect_id, env->id) != 0) {
		rc = spool_corrupt(why, whysize, "id %s inside file %s", env->id,
		    expect_id);
		goto out;
	}
	if ((flags & SPOOL_READ_NO_CRC) == 0 &&
	    (flags & SPOOL_READ_VERIFY_CONTENT) != 0 &&
	    (rc = verify_content_fd(fd, env, crc, why, whysize)) != 0)
		goto out;
	env->file_size = fsize;
out:
	free(buf);
	return rc;
}
