/* SPDX-License-Identifier: MIT */
/*
 * dns.c - DNS lookups on libunbound; the only file that includes <unbound.h>
 *
 * Local data goes in through ub_ctx_set_option("local-data:") rather than
 * ub_ctx_data_add(): the latter edits the live local zones, which loses
 * against libunbound's default zones when the context is finalized (a
 * "$ZONE fail.test. refuse" then turned every other name under test. into
 * a network query).  Options are applied in one go at finalization, but a
 * single bad line there breaks the whole context, so each line is first
 * tried on a scratch context with ub_ctx_data_add(), which parses at once
 * and tells us which line is bad.
 *
 * The closed world (local data, no forwarders) is a static local zone for
 * "." plus do-not-query-address for every address: even a name that slips
 * past the zones cannot produce a packet.
 */
#include <arpa/inet.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <unbound.h>

#include "dns.h"
#include "event.h"
#include "log.h"
#include "mem.h"
#include "settings.h"

#define DNS_LINE_MAX		4096	/* one local data line */
#define DNS_DEFAULT_ANCHOR	"/usr/share/dns/root.key"

struct dns_query {
	struct dns		*dns;
	int			 async_id;
	int			 type;
	dns_cb			*cb;
	void			*arg;
	struct dns_query	*prev, *next;
};

struct dns {
	struct ub_ctx		*ctx;
	struct event_loop	*loop;
	struct event_io		*io;
	struct dns_query	*queries;
	size_t			 npending;
};

static void	dns_errf(struct str *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static const char *const dns_zone_types[] = {
	"static", "refuse", "always_nxdomain", "transparent", NULL
};

const char *
dns_status_name(enum dns_status st)
{
	switch (st) {
	case DNS_FOUND:
		return "found";
	case DNS_NXDOMAIN:
		return "nxdomain";
	case DNS_NODATA:
		return "nodata";
	case DNS_TEMPFAIL:
		return "tempfail";
	case DNS_PERMFAIL:
		return "permfail";
	}
	return "?";
}

const char *
dns_type_name(int type)
{
	switch (type) {
	case DNS_T_A:
		return "A";
	case DNS_T_PTR:
		return "PTR";
	case DNS_T_MX:
		return "MX";
	case DNS_T_TXT:
		return "TXT";
	case DNS_T_AAAA:
		return "AAAA";
	case DNS_T_TLSA:
		return "TLSA";
	}
	return "?";
}

/* ---- setup ---- */

void
dns_conf_from_config(struct dns_conf *dc, const struct config *cfg)
{
	memset(dc, 0, sizeof(*dc));
	dc->local_data = cfg->dns_local_data;
	dc->forwarders = (const char *const *)cfg->dns_forwarders.items;
	dc->nforwarders = cfg->dns_forwarders.count;
	dc->dnssec = cfg->dns_dnssec;
	dc->trust_anchor = cfg->dns_trust_anchor;
}

/* Add one message to errs (may be NULL).  A full errs loses the message:
 * the first ones are the useful ones. */
static void
dns_errf(struct str *errs, const char *fmt, ...)
{
	va_list	ap;

	if (errs == NULL)
		return;
	va_start(ap, fmt);
	if (str_vappendf(errs, fmt, ap) == -1)
		log_warn("-", "dns error list full");
	va_end(ap);
}

static int
dns_opt(struct dns *d, const char *opt, const char *val, struct str *errs,
    const char *what)
{
	int	rc;

	if ((rc = ub_ctx_set_option(d->ctx, opt, val)) != 0) {
		if (errs != NULL)
			dns_errf(errs, "%s: %s\n", what, ub_strerror(rc));
		return -1;
	}
	return 0;
}

/* Split off the next blank-separated word of *sp (NULL at the end). */
static char *
dns_word(char **sp)
{
	char	*s = *sp, *w;

	s += strspn(s, " \t");
	if (*s == '\0')
		return NULL;
	w = s;
	s += strcspn(s, " \t");
	if (*s != '\0')
		*s++ = '\0';
	*sp = s;
	return w;
}

/* "$ZONE NAME [TYPE]"; line points past "$ZONE". */
static int
dns_local_zone(struct dns *d, char *line, const char *where, struct str *errs)
{
	char		 val[DNS_NAME_MAX + 64];
	char		*name, *type;
	size_t		 i;

	name = dns_word(&line);
	type = name == NULL ? NULL : dns_word(&line);
	if (name == NULL || (type != NULL && dns_word(&line) != NULL)) {
		dns_errf(errs, "%s: $ZONE wants a name and an optional type\n",
		    where);
		return -1;
	}
	for (i = 0; dns_zone_types[i] != NULL; i++)
		if (type == NULL || strcmp(dns_zone_types[i], type) == 0)
			break;
	if (dns_zone_types[i] == NULL) {
		dns_errf(errs, "%s: unknown zone type \"%.32s\"\n", where,
		    type);
		return -1;
	}
	if (!dns_name_is_valid(name) ||
	    !str_printf(val, sizeof(val), "%s %s", name, dns_zone_types[i]) ||
	    dns_opt(d, "local-zone:", val, NULL, where) == -1) {
		dns_errf(errs, "%s: bad zone name\n", where);
		return -1;
	}
	return 0;
}

static int
dns_load_local(struct dns *d, const char *path, struct str *errs)
{
	struct ub_ctx	*scratch;
	FILE		*fp;
	char		*buf = NULL, *line, where[300], shown[80];
	size_t		 bufsize = 0;
	ssize_t		 n;
	unsigned int	 lineno = 0;
	int		 rc = 0;

	if ((fp = fopen(path, "re")) == NULL) {
		dns_errf(errs, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if ((scratch = ub_ctx_create()) == NULL)
		fatalx("ub_ctx_create failed");
	while ((n = getline(&buf, &bufsize, fp)) != -1) {
		lineno++;
		(void)str_printf(where, sizeof(where), "%s:%u", path, lineno);
		if ((size_t)n > DNS_LINE_MAX) {
			dns_errf(errs, "%s: line too long\n", where);
			rc = -1;
			continue;
		}
		if (memchr(buf, '\0', (size_t)n) != NULL) {
			dns_errf(errs, "%s: NUL byte in line\n", where);
			rc = -1;
			continue;
		}
		buf[strcspn(buf, "\r\n")] = '\0';
		line = str_trim(buf);
		if (*line == '\0' || *line == '#' || *line == ';')
			continue;
		if (strncmp(line, "$ZONE", 5) == 0 &&
		    (line[5] == ' ' || line[5] == '\t' || line[5] == '\0')) {
			if (dns_local_zone(d, line + 5, where, errs) == -1)
				rc = -1;
			continue;
		}
		if (ub_ctx_data_add(scratch, line) != 0) {
			str_sanitize(shown, sizeof(shown), line, strlen(line));
			dns_errf(errs, "%s: not a valid record: %s\n",
			    where, shown);
			rc = -1;
			continue;
		}
		if (dns_opt(d, "local-data:", line, errs, where) == -1)
			rc = -1;
	}
	if (ferror(fp)) {
		dns_errf(errs, "%s: %s\n", path, strerror(errno));
		rc = -1;
	}
	free(buf);
	(void)fclose(fp);
	ub_ctx_delete(scratch);
	return rc;
}

struct dns *
dns_new(const struct dns_conf *conf, struct str *errs)
{
	struct dns		*d;
	struct ub_result	*res = NULL;
	const char		*anchor;
	bool			 local, system = false;
	size_t			 i;
	int			 rc, bad = 0;

	d = xcalloc(1, sizeof(*d));
	if ((d->ctx = ub_ctx_create()) == NULL)
		fatalx("ub_ctx_create failed");
	/* A worker thread, not a forked process, for async queries. */
	if ((rc = ub_ctx_async(d->ctx, 1)) != 0) {
		dns_errf(errs, "dns: %s\n", ub_strerror(rc));
		bad = 1;
	}
	local = conf->local_data != NULL && conf->local_data[0] != '\0';
	for (i = 0; i < conf->nforwarders; i++) {
		if (strcmp(conf->forwarders[i], "system") == 0) {
			system = true;
			continue;
		}
		if ((rc = ub_ctx_set_fwd(d->ctx, conf->forwarders[i])) != 0) {
			dns_errf(errs, "dns_forwarders: \"%.64s\": %s\n",
			    conf->forwarders[i], ub_strerror(rc));
			bad = 1;
		}
	}
	if (conf->nforwarders == 0 && !local)
		system = true;
	if (system) {
		if ((rc = ub_ctx_resolvconf(d->ctx, NULL)) != 0)
			log_warn("-", "dns resolv.conf unusable error=\"%s\"",
			    rc == UB_READFILE ? strerror(errno) :
			    ub_strerror(rc));
		if ((rc = ub_ctx_hosts(d->ctx, NULL)) != 0)
			log_warn("-", "dns hosts file unusable error=\"%s\"",
			    rc == UB_READFILE ? strerror(errno) :
			    ub_strerror(rc));
	}
	if (!local || conf->nforwarders > 0) {
		/* Forwarders on loopback (a local cache, systemd-resolved's
		 * 127.0.0.53) are normal; libunbound skips them by default. */
		if (dns_opt(d, "do-not-query-localhost:", "no", errs,
		    "dns") == -1)
			bad = 1;
	}
	if (local && conf->nforwarders == 0) {
		/* The closed world (see the top of this file). */
		if (dns_opt(d, "local-zone:", ". static", errs, "dns") == -1 ||
		    dns_opt(d, "do-not-query-address:", "0.0.0.0/0", errs,
		    "dns") == -1 ||
		    dns_opt(d, "do-not-query-address:", "::/0", errs,
		    "dns") == -1)
			bad = 1;
	}
	if (local && dns_load_local(d, conf->local_data, errs) == -1)
		bad = 1;
	if (conf->dnssec) {
		anchor = conf->trust_anchor;
		if (anchor == NULL || anchor[0] == '\0')
			anchor = access(DNS_DEFAULT_ANCHOR, R_OK) == 0 ?
			    DNS_DEFAULT_ANCHOR : NULL;
		if (anchor == NULL)
			log_warn("-", "dns dnssec on but no trust anchor: "
			    "nothing will be validated");
		else if (access(anchor, R_OK) == -1) {
			/* libunbound would only say "initialization failure"
			 * at the first query. */
			dns_errf(errs, "dns trust anchor %s: %s\n", anchor,
			    strerror(errno));
			bad = 1;
		} else if ((rc = ub_ctx_add_ta_file(d->ctx, anchor)) != 0) {
			dns_errf(errs, "dns trust anchor %s: %s\n", anchor,
			    ub_strerror(rc));
			bad = 1;
		}
	}
	if (!bad) {
		/* Finalize now, so a broken setup shows here and not at the
		 * first real query.  localhost is always answered locally. */
		rc = ub_resolve(d->ctx, "localhost.", DNS_T_A, 1, &res);
		if (rc != 0) {
			dns_errf(errs, "dns setup: %s\n", ub_strerror(rc));
			bad = 1;
		}
		ub_resolve_free(res);
	}
	if (bad) {
		dns_free(&d);
		return NULL;
	}
	return d;
}

void
dns_free(struct dns **dp)
{
	struct dns		*d = *dp;
	struct dns_query	*q, *next;

	if (d == NULL)
		return;
	for (q = d->queries; q != NULL; q = next) {
		next = q->next;
		(void)ub_cancel(d->ctx, q->async_id);
		free(q);
	}
	if (d->io != NULL)
		event_io_del(&d->io);
	ub_ctx_delete(d->ctx);
	free(d);
	*dp = NULL;
}

int
dns_local_add(struct dns *d, const char *line)
{
	return ub_ctx_data_add(d->ctx, line) == 0 ? 0 : -1;
}

int
dns_local_remove(struct dns *d, const char *name)
{
	if (!dns_name_is_valid(name))
		return -1;
	return ub_ctx_data_remove(d->ctx, name) == 0 ? 0 : -1;
}

/* ---- answers ---- */

bool
dns_name_is_valid(const char *name)
{
	size_t	len = strlen(name), label = 0, i;

	if (len == 0 || (len > DNS_NAME_MAX &&
	    !(len == DNS_NAME_MAX + 1 && name[len - 1] == '.')))
		return false;
	if (strcmp(name, ".") == 0)
		return true;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (c <= ' ' || c >= 0x7f || c == '\\' || c == '"' ||
		    c == ';' || c == '(' || c == ')')
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}

/* Wire-format name at p (n bytes left, uncompressed as libunbound hands
 * them over) to text without the final dot ("." for the root).  Returns
 * the bytes consumed or 0 if malformed. */
static size_t
dns_wire_name(const unsigned char *p, size_t n, char **text_r)
{
	struct str	 s;
	size_t		 off = 0, i;
	unsigned int	 llen;

	str_init(&s, 4 * 255);
	for (;;) {
		if (off >= n)
			goto bad;
		llen = p[off++];
		if (llen == 0)
			break;
		if (llen > 63 || llen > n - off)
			goto bad;
		if (s.len > 0 && str_append_c(&s, '.') == -1)
			goto bad;
		for (i = 0; i < llen; i++) {
			unsigned char c = p[off + i];
			int rc;

			if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
			    c == '*')
				rc = str_append_c(&s, (char)c);
			else
				rc = str_appendf(&s, "\\%03u", c);
			if (rc == -1)
				goto bad;
		}
		off += llen;
	}
	if (s.len == 0 && str_append_c(&s, '.') == -1)
		goto bad;
	*text_r = str_detach(&s, NULL);
	return off;
bad:
	str_release(&s);
	return 0;
}

static int
dns_mx_cmp(const void *a, const void *b)
{
	const struct dns_rr	*x = a, *y = b;

	if (x->u.mx.pref != y->u.mx.pref)
		return x->u.mx.pref < y->u.mx.pref ? -1 : 1;
	return strcmp(x->u.mx.host, y->u.mx.host);
}

/* One rdata into rr; 0 or -1 if malformed. */
static int
dns_parse_rr(int type, const unsigned char *p, size_t n, struct dns_rr *rr)
{
	size_t	off, l;

	switch (type) {
	case DNS_T_A:
		if (n != sizeof(rr->u.a))
			return -1;
		memcpy(&rr->u.a, p, n);
		return 0;
	case DNS_T_AAAA:
		if (n != sizeof(rr->u.aaaa))
			return -1;
		memcpy(&rr->u.aaaa, p, n);
		return 0;
	case DNS_T_MX:
		if (n < 3)
			return -1;
		rr->u.mx.pref = (uint16_t)(p[0] << 8 | p[1]);
		if (dns_wire_name(p + 2, n - 2, &rr->u.mx.host) != n - 2) {
			free(rr->u.mx.host);
			rr->u.mx.host = NULL;
			return -1;
		}
		return 0;
	case DNS_T_PTR:
		if (dns_wire_name(p, n, &rr->u.ptr) != n) {
			free(rr->u.ptr);
			rr->u.ptr = NULL;
			return -1;
		}
		return 0;
	case DNS_T_TXT:
		/* Check the strings tile the rdata before copying. */
		for (off = 0; off < n; off += 1 + l) {
			l = p[off];
			if (l > n - off - 1)
				return -1;
			rr->u.txt.nstrings++;
		}
		if (rr->u.txt.nstrings == 0)
			return -1;
		rr->u.txt.data = xmalloc(n + 1);
		for (off = 0; off < n; off += 1 + l) {
			l = p[off];
			memcpy(rr->u.txt.data + rr->u.txt.len, p + off + 1, l);
			rr->u.txt.len += l;
		}
		rr->u.txt.data[rr->u.txt.len] = '\0';
		return 0;
	case DNS_T_TLSA:
		if (n < 3)
			return -1;
		rr->u.tlsa.usage = p[0];
		rr->u.tlsa.selector = p[1];
		rr->u.tlsa.mtype = p[2];
		rr->u.tlsa.len = n - 3;
		rr->u.tlsa.data = xmemdup(p + 3, n - 3);
		return 0;
	}
	return -1;
}

static void
dns_rr_release(int type, struct dns_rr *rr)
{
	switch (type) {
	case DNS_T_MX:
		free(rr->u.mx.host);
		break;
	case DNS_T_PTR:
		free(rr->u.ptr);
		break;
	case DNS_T_TXT:
		free(rr->u.txt.data);
		break;
	case DNS_T_TLSA:
		free(rr->u.tlsa.data);
		break;
	}
}

void
dns_result_free(struct dns_result **resp)
{
	struct dns_result	*res = *resp;
	size_t			 i;

	if (res == NULL)
		return;
	for (i = 0; i < res->count; i++)
		dns_rr_release(res->type, &res->rr[i]);
	free(res->rr);
	free(res);
	*resp = NULL;
}

static struct dns_result *
dns_result_new(int type, enum dns_status st, const char *error)
{
	struct dns_result	*res;

	res = xcalloc(1, sizeof(*res));
	res->type = type;
	res->status = st;
	if (error != NULL)
		(void)str_copy(res->error, error, sizeof(res->error));
	return res;
}

static const char *
dns_rcode_name(int rcode)
{
	switch (rcode) {
	case 1:
		return "FORMERR";
	case 2:
		return "SERVFAIL";
	case 4:
		return "NOTIMP";
	case 5:
		return "REFUSED";
	}
	return "error";
}

/* Turn libunbound's answer (or error) into ours; consumes ur. */
static struct dns_result *
dns_convert(int type, int err, struct ub_result *ur)
{
	struct dns_result	*res;
	size_t			 n, i;

	if (err != 0) {
		res = dns_result_new(type, err == UB_SYNTAX ? DNS_PERMFAIL :
		    DNS_TEMPFAIL, ub_strerror(err));
		ub_resolve_free(ur);
		return res;
	}
	res = dns_result_new(type, DNS_TEMPFAIL, NULL);
	res->is_secure = ur->secure != 0;
	res->ttl = ur->ttl < 0 ? 0 : (uint32_t)ur->ttl;
	if (ur->bogus) {
		(void)str_printf(res->error, sizeof(res->error),
		    "DNSSEC validation failed: %s",
		    ur->why_bogus != NULL ? ur->why_bogus : "bogus");
	} else if (ur->rcode == 3 || ur->nxdomain) {
		res->status = DNS_NXDOMAIN;
	} else if (ur->rcode != 0) {
		(void)str_printf(res->error, sizeof(res->error),
		    "resolver answered %s", dns_rcode_name(ur->rcode));
	} else if (!ur->havedata || ur->data == NULL || ur->data[0] == NULL) {
		res->status = DNS_NODATA;
	} else {
		for (n = 0; ur->data[n] != NULL; n++)
			continue;
		res->rr = xcalloc(n, sizeof(*res->rr));
		res->status = DNS_FOUND;
		for (i = 0; i < n; i++) {
			if (ur->len[i] < 0 || dns_parse_rr(type,
			    (const unsigned char *)ur->data[i],
			    (size_t)ur->len[i], &res->rr[res->count]) == -1) {
				res->status = DNS_PERMFAIL;
				(void)str_printf(res->error, sizeof(res->error),
				    "malformed %s record", dns_type_name(type));
				dns_rr_release(type, &res->rr[res->count]);
				break;
			}
			res->count++;
		}
		if (res->status != DNS_FOUND) {
			for (i = 0; i < res->count; i++)
				dns_rr_release(type, &res->rr[i]);
			res->count = 0;
		} else if (type == DNS_T_MX)
			qsort(res->rr, res->count, sizeof(*res->rr),
			    dns_mx_cmp);
	}
	ub_resolve_free(ur);
	return res;
}

static bool
dns_type_ok(int type)
{
	return type == DNS_T_A || type == DNS_T_AAAA || type == DNS_T_MX ||
	    type == DNS_T_PTR || type == DNS_T_TXT || type == DNS_T_TLSA;
}

enum dns_status
dns_lookup(struct dns *d, const char *name, int type, struct dns_result **res_r)
{
	struct ub_result	*ur = NULL;
	int			 err;

	if (!dns_type_ok(type)) {
		*res_r = dns_result_new(type, DNS_PERMFAIL, "unsupported type");
		return DNS_PERMFAIL;
	}
	if (!dns_name_is_valid(name)) {
		*res_r = dns_result_new(type, DNS_PERMFAIL,
		    "invalid domain name");
		return DNS_PERMFAIL;
	}
	err = ub_resolve(d->ctx, name, type, 1, &ur);
	*res_r = dns_convert(type, err, ur);
	return (*res_r)->status;
}

/* "1.2.0.192.in-addr.arpa" or the ip6.arpa nibbles; 0 or -1. */
static int
dns_ptr_name(const char *addr, char *buf, size_t size)
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 a[16];
	struct str		 s;
	int			 i, rc = 0;

	str_init(&s, 0);
	if (inet_pton(AF_INET, addr, a) == 1) {
		rc |= str_appendf(&s, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2],
		    a[1], a[0]);
	} else if (inet_pton(AF_INET6, addr, a) == 1) {
		for (i = 15; i >= 0; i--)
			rc |= str_appendf(&s, "%c.%c.", hex[a[i] & 0xf],
			    hex[a[i] >> 4]);
		rc |= str_append_str(&s, "ip6.arpa");
	} else
		rc = -1;
	if (rc == 0 && !str_copy(buf, str_c(&s), size))
		rc = -1;
	str_release(&s);
	return rc;
}

enum dns_status
dns_lookup_ptr(struct dns *d, const char *addr, struct dns_result **res_r)
{
	char	name[80];

	if (dns_ptr_name(addr, name, sizeof(name)) == -1) {
		*res_r = dns_result_new(DNS_T_PTR, DNS_PERMFAIL,
		    "not an IP address");
		return DNS_PERMFAIL;
	}
	return dns_lookup(d, name, DNS_T_PTR, res_r);
}

/* ---- asynchronous ---- */

static void
dns_io_cb(int fd, unsigned int events, void *arg)
{
	struct dns	*d = arg;
	int		 rc;

	(void)fd;
	(void)events;
	if ((rc = ub_process(d->ctx)) != 0)
		log_error("-", "dns ub_process error=\"%s\"", ub_strerror(rc));
}

int
dns_attach(struct dns *d, struct event_loop *loop)
{
	int	fd;

	if (d->loop != NULL)
		return d->loop == loop ? 0 : -1;
	if ((fd = ub_fd(d->ctx)) == -1)
		return -1;
	if ((d->io = event_io_add(loop, fd, EVENT_READ, dns_io_cb, d)) == NULL)
		return -1;
	d->loop = loop;
	return 0;
}

static void
dns_query_unlink(struct dns_query *q)
{
	struct dns	*d = q->dns;

	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		d->queries = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	d->npending--;
}

static void
dns_async_done(void *arg, int err, struct ub_result *ur)
{
	struct dns_query	*q = arg;
	struct dns_result	*res;

	dns_query_unlink(q);
	res = dns_convert(q->type, err, ur);
	q->cb(res, q->arg);
	free(q);
}

struct dns_query *
dns_lookup_async(struct dns *d, const char *name, int type, dns_cb *cb,
    void *arg)
{
	struct dns_query	*q;

	if (d->loop == NULL || !dns_type_ok(type) || !dns_name_is_valid(name))
		return NULL;
	q = xcalloc(1, sizeof(*q));
	q->dns = d;
	q->type = type;
	q->cb = cb;
	q->arg = arg;
	if (ub_resolve_async(d->ctx, name, type, 1, q, dns_async_done,
	    &q->async_id) != 0) {
		free(q);
		return NULL;
	}
	q->next = d->queries;
	if (q->next != NULL)
		q->next->prev = q;
	d->queries = q;
	d->npending++;
	return q;
}

void
dns_cancel(struct dns_query **qp)
{
	struct dns_query	*q = *qp;

	if (q == NULL)
		return;
	(void)ub_cancel(q->dns->ctx, q->async_id);
	dns_query_unlink(q);
	free(q);
	*qp = NULL;
}

size_t
dns_pending(const struct dns *d)
{
	return d->npending;
}
