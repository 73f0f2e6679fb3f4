/* SPDX-License-Identifier: MIT */
/*
 * spf_proto.c - the records smtpd and buzon-spf exchange (format in spf.h)
 *
 * The decoder reads a whole message before judging it: a bad field is
 * remembered and the scan goes on to the END record, so a reader can skip
 * one bad message and stay in step.  Only broken framing (a message that
 * would pass SPF_MSG_MAX) makes the stream unusable.
 */
#include <string.h>

#include "spf.h"
#include "str.h"

struct spf_field {
	char	 type;
	char	*dst;
	size_t	 max;		/* text bytes; dst holds max + 1 */
	bool	 seen;
};

struct spf_out {
	char		 type;
	const char	*src;
	size_t		 max;
	bool		 present;
};

static int
spf_rec_put(struct str *out, char type, const char *data)
{
	size_t		 len = strlen(data);
	unsigned char	 hdr[3];

	if (len > 0xffff)
		return -1;
	hdr[0] = (unsigned char)type;
	hdr[1] = (unsigned char)(len >> 8);
	hdr[2] = (unsigned char)(len & 0xff);
	if (str_append(out, hdr, sizeof(hdr)) == -1 ||
	    str_append(out, data, len) == -1)
		return -1;
	return 0;
}

static int
spf_encode(struct str *out, const struct spf_out *f, size_t n)
{
	size_t	 start = out->len, i;

	for (i = 0; i < n; i++) {
		if (!f[i].present)
			continue;
		if (strlen(f[i].src) > f[i].max ||
		    spf_rec_put(out, f[i].type, f[i].src) == -1)
			goto bad;
	}
	if (spf_rec_put(out, SPF_REC_END, "") == -1 ||
	    out->len - start > SPF_MSG_MAX)
		goto bad;
	return 0;
bad:
	str_truncate(out, start);
	return -1;
}

static void
spf_err(char *err, size_t errsize, const char *msg)
{
	if (err != NULL && errsize > 0 && err[0] == '\0')
		(void)str_copy(err, msg, errsize);
}

/* 1 message read (err[0] != '\0' if it was bad), 0 need more, -1 framing
 * broken. */
static int
spf_decode(const unsigned char *buf, size_t len, struct spf_field *f,
    size_t n, size_t *used_r, char *err, size_t errsize)
{
	size_t		 off = 0, rlen, i;
	unsigned char	 type;

	if (errsize > 0)
		err[0] = '\0';
	*used_r = 0;
	for (i = 0; i < n; i++) {
		f[i].seen = false;
		f[i].dst[0] = '\0';
	}
	for (;;) {
		if (off + 3 > SPF_MSG_MAX) {
			(void)str_copy(err, "message too long", errsize);
			return -1;
		}
		if (len - off < 3)
			return 0;
		type = buf[off];
		rlen = (size_t)buf[off + 1] << 8 | buf[off + 2];
		if (off + 3 + rlen > SPF_MSG_MAX) {
			(void)str_copy(err, "message too long", errsize);
			return -1;
		}
		if (len - off - 3 < rlen)
			return 0;
		off += 3;
		if (type == SPF_REC_END) {
			if (rlen != 0)
				spf_err(err, errsize, "END record with data");
			*used_r = off + rlen;
			return 1;
		}
		for (i = 0; i < n && f[i].type != (char)type; i++)
			continue;
		if (i == n)
			spf_err(err, errsize, "unknown record type");
		else if (f[i].seen)
			spf_err(err, errsize, "duplicate record");
		else if (rlen > f[i].max)
			spf_err(err, errsize, "record too long");
		else if (memchr(buf + off, '\0', rlen) != NULL)
			spf_err(err, errsize, "NUL in record");
		else {
			memcpy(f[i].dst, buf + off, rlen);
			f[i].dst[rlen] = '\0';
			f[i].seen = true;
		}
		off += rlen;
	}
}

int
spf_request_encode(const struct spf_request *req, struct str *out)
{
	struct spf_out f[] = {
		{ SPF_REC_IP, req->ip, SPF_IP_MAX, true },
		{ SPF_REC_HELO, req->helo, SPF_HELO_MAX, true },
		{ SPF_REC_FROM, req->from, SPF_FROM_MAX, true },
	};

	return spf_encode(out, f, sizeof(f) / sizeof(f[0]));
}

int
spf_request_decode(const void *buf, size_t len, struct spf_request *req,
    size_t *used_r, char *err, size_t errsize)
{
	struct spf_field f[] = {
		{ SPF_REC_IP, req->ip, SPF_IP_MAX, false },
		{ SPF_REC_HELO, req->helo, SPF_HELO_MAX, false },
		{ SPF_REC_FROM, req->from, SPF_FROM_MAX, false },
	};
	int	rc;

	rc = spf_decode(buf, len, f, sizeof(f) / sizeof(f[0]), used_r, err,
	    errsize);
	if (rc != 1)
		return rc;
	if (err[0] == '\0' && req->ip[0] == '\0')
		spf_err(err, errsize, "no client address");
	return err[0] == '\0' ? 1 : -1;
}

int
spf_answer_encode(const struct spf_answer *ans, struct str *out)
{
	struct spf_out f[] = {
		{ SPF_REC_RESULT, spf_result_name(ans->result), 15,
		    !ans->is_error },
		{ SPF_REC_EXPL, ans->explanation, SPF_EXPL_MAX,
		    !ans->is_error && ans->explanation[0] != '\0' },
		{ SPF_REC_HEADER, ans->header, SPF_HEADER_MAX, !ans->is_error },
		{ SPF_REC_ERROR, ans->error, SPF_ERROR_MAX, ans->is_error },
	};

	return spf_encode(out, f, sizeof(f) / sizeof(f[0]));
}

int
spf_answer_decode(const void *buf, size_t len, struct spf_answer *ans,
    size_t *used_r, char *err, size_t errsize)
{
	char		 result[16];
	struct spf_field f[] = {
		{ SPF_REC_RESULT, result, sizeof(result) - 1, false },
		{ SPF_REC_EXPL, ans->explanation, SPF_EXPL_MAX, false },
		{ SPF_REC_HEADER, ans->header, SPF_HEADER_MAX, false },
		{ SPF_REC_ERROR, ans->error, SPF_ERROR_MAX, false },
	};
	int	rc;

	ans->is_error = false;
	ans->result = SPF_RES_TEMPERROR;
	rc = spf_decode(buf, len, f, sizeof(f) / sizeof(f[0]), used_r, err,
	    errsize);
	if (rc != 1)
		return rc;
	if (err[0] != '\0')
		return -1;
	if (f[3].seen) {
		if (f[0].seen || f[1].seen || f[2].seen) {
			spf_err(err, errsize, "error answer with a result");
			return -1;
		}
		ans->is_error = true;
		return 1;
	}
	if (!f[0].seen || spf_result_parse(result, &ans->result) == -1) {
		spf_err(err, errsize, "no valid result");
		return -1;
	}
	return 1;
}
