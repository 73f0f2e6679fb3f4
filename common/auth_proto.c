/* SPDX-License-Identifier: MIT */
/*
 * auth_proto.c - parse and format the buzon-auth line protocol
 *
 * The grammar is in auth_proto.h.  Parsing splits on TAB into at most
 * AUTH_PROTO_FIELDS_MAX fields and checks each against its own rule; a
 * field count other than the command's is an error, so nothing trails.
 */

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "auth_proto.h"
#include "base64.h"
#include "mem.h"
#include "str.h"

#define AUTH_PROTO_FIELDS_MAX	8	/* one more than any command has */

struct field {
	const char	*p;
	size_t		 len;
};

/* Split into fields; -1 when there are more than max. */
static int
split(const char *line, size_t len, struct field *f, size_t max, size_t *n_r)
{
	const char	*end = line + len, *p = line, *tab;
	size_t		 n = 0;

	for (;;) {
		if (n == max)
			return -1;
		tab = memchr(p, '\t', (size_t)(end - p));
		f[n].p = p;
		f[n++].len = (size_t)((tab != NULL ? tab : end) - p);
		if (tab == NULL)
			break;
		p = tab + 1;
	}
	*n_r = n;
	return 0;
}

static bool
is_eq(const struct field *f, const char *word)
{
	return f->len == strlen(word) && memcmp(f->p, word, f->len) == 0;
}

/* A decimal id, 1..UINT32_MAX, no leading zero. */
static int
id_parse(const struct field *f, uint32_t *id_r)
{
	uint64_t	 v;

	if (f->len == 0 || f->len > 10 || f->p[0] == '0' ||
	    strnum_u64n(f->p, f->len, 1, UINT32_MAX, &v) == -1)
		return -1;
	*id_r = (uint32_t)v;
	return 0;
}

enum charset {
	CS_SERVICE,	/* [a-z0-9] */
	CS_IP,		/* [0-9A-Fa-f.:] */
	CS_ACCOUNT,	/* no control character (UTF-8 allowed) */
	CS_PRINT,	/* printable ASCII */
	CS_HEX,		/* [0-9A-Fa-f] */
	CS_REASON,	/* [a-z_] */
};

static bool
byte_ok(unsigned char c, enum charset cs)
{
	bool	 lower = c >= 'a' && c <= 'z', digit = c >= '0' && c <= '9';
	bool	 hex = digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');

	switch (cs) {
	case CS_SERVICE:
		return lower || digit;
	case CS_IP:
		return hex || c == '.' || c == ':';
	case CS_ACCOUNT:
		return c >= 0x20 && c != 0x7f;
	case CS_PRINT:
		return c >= 0x20 && c < 0x7f;
	case CS_HEX:
		return hex;
	case CS_REASON:
		return lower || c == '_';
	}
	return false;
}

static bool
text_ok(const char *p, size_t len, size_t min, size_t max, enum charset cs)
{
	size_t	 i;

	if (len < min || len > max)
		return false;
	for (i = 0; i < len; i++)
		if (!byte_ok((unsigned char)p[i], cs))
			return false;
	return true;
}

/* Check field f and copy it into dst (size > max). */
static int
field_take(const struct field *f, size_t min, size_t max, enum charset cs,
    char *dst)
{
	if (!text_ok(f->p, f->len, min, max, cs))
		return -1;
	memcpy(dst, f->p, f->len);
	dst[f->len] = '\0';
	return 0;
}

static int
req_fields(const struct field *f, size_t n, struct auth_proto_req *req)
{
	size_t	 plen;

	if (field_take(&f[2], 1, AUTH_PROTO_SERVICE_MAX, CS_SERVICE,
	    req->service) == -1 ||
	    field_take(&f[3], 0, AUTH_PROTO_IP_MAX, CS_IP, req->ip) == -1 ||
	    field_take(&f[4], 1, AUTH_PROTO_ACCOUNT_MAX, CS_ACCOUNT,
	    req->account) == -1)
		return -1;
	if (req->cmd == AUTH_PROTO_PASS) {
		if (n != 6 || f[5].len == 0 ||
		    f[5].len > AUTH_PROTO_PASS_B64_MAX ||
		    base64_decode(f[5].p, f[5].len, req->password,
		    sizeof(req->password), &plen) == -1 || plen == 0 ||
		    plen > AUTH_PASS_MAX ||
		    memchr(req->password, '\0', plen) != NULL)
			return -1;
		req->password[plen] = '\0';
		return 0;
	}
	if (n != 7 || field_take(&f[5], 1, AUTH_PROTO_TIMESTAMP_MAX, CS_PRINT,
	    req->timestamp) == -1 || f[6].len != AUTH_APOP_DIGEST_LEN ||
	    field_take(&f[6], AUTH_APOP_DIGEST_LEN, AUTH_APOP_DIGEST_LEN,
	    CS_HEX, req->digest) == -1)
		return -1;
	return 0;
}

int
auth_proto_req_parse(const char *line, size_t len, struct auth_proto_req *req)
{
	struct field	 f[AUTH_PROTO_FIELDS_MAX];
	size_t		 n;
	uint32_t	 id;

	mem_wipe(req, sizeof(*req));
	if (len >= AUTH_PROTO_LINE_MAX ||
	    split(line, len, f, AUTH_PROTO_FIELDS_MAX, &n) == -1 || n < 2)
		return -1;
	if (is_eq(&f[0], "PASS"))
		req->cmd = AUTH_PROTO_PASS;
	else if (is_eq(&f[0], "APOP"))
		req->cmd = AUTH_PROTO_APOP;
	else
		return -1;
	if (id_parse(&f[1], &id) == -1)
		return -1;
	if (n < 6 || req_fields(f, n, req) == -1) {
		mem_wipe(req, sizeof(*req));
		req->id = id;
		return -1;
	}
	req->id = id;
	return 0;
}

int
auth_proto_req_format(const struct auth_proto_req *req, struct str *out)
{
	char	 b64[AUTH_PROTO_PASS_B64_MAX + 1];
	size_t	 plen, start = out->len;
	int	 rc = 0;

	if (req->id == 0 ||
	    !text_ok(req->service, strlen(req->service), 1,
	    AUTH_PROTO_SERVICE_MAX, CS_SERVICE) ||
	    !text_ok(req->ip, strlen(req->ip), 0, AUTH_PROTO_IP_MAX, CS_IP) ||
	    !text_ok(req->account, strlen(req->account), 1,
	    AUTH_PROTO_ACCOUNT_MAX, CS_ACCOUNT))
		return -1;
	if (req->cmd == AUTH_PROTO_PASS) {
		plen = strlen(req->password);
		if (plen == 0 || plen > AUTH_PASS_MAX ||
		    base64_encode(req->password, plen, b64, sizeof(b64),
		    NULL) == -1)
			return -1;
		rc = str_appendf(out, "PASS\t%u\t%s\t%s\t%s\t%s\n", req->id,
		    req->service, req->ip, req->account, b64);
		mem_wipe(b64, sizeof(b64));
	} else if (req->cmd == AUTH_PROTO_APOP) {
		if (!text_ok(req->timestamp, strlen(req->timestamp), 1,
		    AUTH_PROTO_TIMESTAMP_MAX, CS_PRINT) ||
		    !text_ok(req->digest, strlen(req->digest),
		    AUTH_APOP_DIGEST_LEN, AUTH_APOP_DIGEST_LEN, CS_HEX))
			return -1;
		rc = str_appendf(out, "APOP\t%u\t%s\t%s\t%s\t%s\t%s\n", req->id,
		    req->service, req->ip, req->account, req->timestamp,
		    req->digest);
	} else
		return -1;
	if (rc == -1) {
		mem_wipe(out->data + start, out->len - start);
		str_truncate(out, start);
	}
	return rc;
}

static const char *const status_words[] = { NULL, "OK", "FAIL", "TEMP" };

int
auth_proto_reply_parse(const char *line, size_t len,
    struct auth_proto_reply *r)
{
	struct field	 f[3];
	size_t		 n;
	int		 st;

	memset(r, 0, sizeof(*r));
	if (len >= AUTH_PROTO_LINE_MAX || split(line, len, f, 3, &n) == -1 ||
	    n != 3)
		return -1;
	for (st = AUTH_PROTO_OK; st <= AUTH_PROTO_TEMP; st++)
		if (is_eq(&f[0], status_words[st]))
			break;
	if (st > AUTH_PROTO_TEMP || id_parse(&f[1], &r->id) == -1)
		return -1;
	r->status = (enum auth_proto_status)st;
	if (st == AUTH_PROTO_OK)
		return field_take(&f[2], 1, AUTH_PROTO_ACCOUNT_MAX, CS_ACCOUNT,
		    r->text);
	return field_take(&f[2], 1, AUTH_PROTO_REASON_MAX, CS_REASON, r->text);
}

int
auth_proto_reply_format(enum auth_proto_status st, uint32_t id,
    const char *text, struct str *out)
{
	size_t	 len = strlen(text);

	if (id == 0 || st < AUTH_PROTO_OK || st > AUTH_PROTO_TEMP)
		return -1;
	if (st == AUTH_PROTO_OK ? !text_ok(text, len, 1, AUTH_PROTO_ACCOUNT_MAX,
	    CS_ACCOUNT) : !text_ok(text, len, 1, AUTH_PROTO_REASON_MAX,
	    CS_REASON))
		return -1;
	return str_appendf(out, "%s\t%u\t%s\n", status_words[st], id, text);
}

int
auth_proto_version_format(struct str *out)
{
	return str_appendf(out, "VERSION\t%d\n", AUTH_PROTO_VERSION);
}

bool
auth_proto_version_ok(const char *line, size_t len)
{
	struct field	 f[3];
	size_t		 n;
	uint64_t	 v;

	return split(line, len, f, 3, &n) == 0 && n >= 2 &&
	    is_eq(&f[0], "VERSION") && f[1].len > 0 && f[1].len < 10 &&
	    strnum_u64n(f[1].p, f[1].len, 1, 999999999, &v) == 0 &&
	    v == AUTH_PROTO_VERSION;
}

int
auth_proto_read(int fd, struct str *in, auth_proto_line_fn *fn, void *arg,
    const char **why_r)
{
	char	*p, *nl;
	size_t	 len;
	ssize_t	 n;

	for (;;) {
		if ((p = str_reserve(in, 4096)) == NULL) {
			*why_r = "line too long";
			return -1;
		}
		n = read(fd, p, 4096);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 0;
		if (n <= 0) {
			*why_r = n == 0 ? "closed" : "read error";
			return -1;
		}
		str_grow_commit(in, (size_t)n);
		while ((nl = memchr(in->data, '\n', in->len)) != NULL) {
			len = (size_t)(nl - in->data);
			*nl = '\0';
			if (fn(arg, in->data, len) == -1) {
				*why_r = "stopped";
				return -1;
			}
			mem_wipe(in->data, len);
			str_consume(in, len + 1);
		}
		if (in->len >= AUTH_PROTO_LINE_MAX) {
			*why_r = "line too long";
			return -1;
		}
	}
}

int
auth_proto_write(int fd, struct str *out, const char **why_r)
{
	ssize_t	 n;

	while (out->len > 0) {
		n = write(fd, out->data, out->len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 0;
		if (n <= 0) {
			*why_r = n == 0 ? "closed" : "write error";
			return -1;
		}
		mem_wipe(out->data, (size_t)n);
		str_consume(out, (size_t)n);
	}
	return 0;
}
