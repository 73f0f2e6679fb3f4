/* SPDX-License-Identifier: MIT */
/*
 * spf.c - SPF evaluation with libspf2 over common/dns; the only file that
 * includes <spf2/spf.h>
 *
 * libspf2 asks its DNS layer (an SPF_dns_server_t) for records; ours answers
 * from common/dns, so tests, labs and production resolve the same way, and
 * it is also where our bounds live: it counts queries and void answers,
 * refuses oversized TXT answers and too many records, and marks the check
 * so the result becomes permerror whatever libspf2 made of the truncated
 * data.  Queries for the obsolete SPF RR type (99), which libspf2 still
 * makes before TXT, are answered "no data" without asking DNS.
 *
 * libspf2 prints its messages to stdout by default, which would corrupt
 * the helper's answers; the handlers are pointed at our log instead.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/types.h>

#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include <spf2/spf.h>

#include "dns.h"
#include "log.h"
#include "mem.h"
#include "spf.h"

/* libspf2 wants a default explanation; this marker makes us use ours,
 * spf_default_explanation(). */
#define SPF_DEFAULT_EXPLANATION	"buzon-default-explanation"

enum spf_limit {
	SPF_LIMIT_NONE,
	SPF_LIMIT_QUERIES,
	SPF_LIMIT_VOID,
	SPF_LIMIT_TXT,
	SPF_LIMIT_RR,
};

struct spf_eval {
	SPF_server_t	*server;
	SPF_dns_server_t *layer;
	struct dns	*dns;
	char		*receiver;
	unsigned int	 queries;	/* this check */
	unsigned int	 voids;
	bool		 first_txt;	/* initial record query done */
	enum spf_limit	 limit;		/* bound hit: permerror */
};

static void spf_log_error(const char *, int, const char *)
    __attribute__((noreturn));

static void
spf_log_error(const char *file, int line, const char *msg)
{
	/* libspf2 found a broken invariant of its own: end this process;
	 * the smtpd side answers temperror and starts a new helper. */
	panic("libspf2 error: %s (%s:%d)", msg, file != NULL ? file : "?",
	    line);
}

static void
spf_log_warning(const char *file, int line, const char *msg)
{
	(void)file;
	(void)line;
	log_debug("-", "libspf2 warning=\"%s\"", msg);
}

static void
spf_log_debug(const char *file, int line, const char *msg)
{
	(void)file;
	(void)line;
	(void)msg;
}

static SPF_dns_rr_t *
spf_rr_status(SPF_dns_server_t *layer, const char *domain, ns_type type,
    SPF_dns_stat_t herrno)
{
	SPF_dns_rr_t	*rr;

	rr = SPF_dns_rr_new_init(layer, domain, type, 0, herrno);
	if (rr == NULL)
		fatalx("libspf2: out of memory");
	return rr;
}

/* Copy our records into libspf2's; false if one will not fit. */
static bool
spf_rr_fill(SPF_dns_rr_t *rr, const struct dns_result *res)
{
	const char	*s;
	size_t		 i, len;
	int		 n = 0;

	for (i = 0; i < res->count; i++) {
		const struct dns_rr *r = &res->rr[i];

		switch (res->type) {
		case DNS_T_A:
			if (SPF_dns_rr_buf_realloc(rr, n, sizeof(r->u.a)) !=
			    SPF_E_SUCCESS)
				return false;
			memcpy(&rr->rr[n]->a, &r->u.a, sizeof(r->u.a));
			break;
		case DNS_T_AAAA:
			if (SPF_dns_rr_buf_realloc(rr, n, sizeof(r->u.aaaa)) !=
			    SPF_E_SUCCESS)
				return false;
			memcpy(&rr->rr[n]->aaaa, &r->u.aaaa, sizeof(r->u.aaaa));
			break;
		case DNS_T_TXT:
		case DNS_T_MX:
		case DNS_T_PTR:
			if (res->type == DNS_T_TXT) {
				/* libspf2 reads C strings: a TXT with a NUL
				 * of its own cannot be an SPF record. */
				if (memchr(r->u.txt.data, '\0', r->u.txt.len))
					continue;
				s = r->u.txt.data;
			} else if (res->type == DNS_T_MX) {
				if (strcmp(r->u.mx.host, ".") == 0)
					continue;	/* RFC 7505 null MX */
				s = r->u.mx.host;
			} else
				s = r->u.ptr;
			len = strlen(s);
			if (SPF_dns_rr_buf_realloc(rr, n, len + 1) !=
			    SPF_E_SUCCESS)
				return false;
			memcpy(rr->rr[n]->txt, s, len + 1);
			break;
		default:
			return false;
		}
		n++;
	}
	rr->num_rr = n;
	if (n == 0)
		rr->herrno = NO_DATA;
	return true;
}

static SPF_dns_rr_t *
spf_dns_lookup(SPF_dns_server_t *layer, const char *domain, ns_type type,
    int should_cache)
{
	struct spf_eval		*ev = layer->hook;
	struct dns_result	*res = NULL;
	SPF_dns_rr_t		*rr;
	size_t			 i, total;
	bool			 initial;
	int			 dtype;

	(void)should_cache;
	switch ((int)type) {
	case ns_t_a:
		dtype = DNS_T_A;
		break;
	case ns_t_aaaa:
		dtype = DNS_T_AAAA;
		break;
	case ns_t_mx:
		dtype = DNS_T_MX;
		break;
	case ns_t_ptr:
		dtype = DNS_T_PTR;
		break;
	case ns_t_txt:
		dtype = DNS_T_TXT;
		break;
	default:
		/* ns_t_spf (99) and anything else: never asked. */
		return spf_rr_status(layer, domain, type, NO_DATA);
	}
	if (ev->limit != SPF_LIMIT_NONE)
		return spf_rr_status(layer, domain, type, NO_RECOVERY);
	if (++ev->queries > SPF_DNS_QUERIES_MAX) {
		ev->limit = SPF_LIMIT_QUERIES;
		return spf_rr_status(layer, domain, type, NO_RECOVERY);
	}
	initial = dtype == DNS_T_TXT && !ev->first_txt;
	if (dtype == DNS_T_TXT)
		ev->first_txt = true;

	switch (dns_lookup(ev->dns, domain, dtype, &res)) {
	case DNS_FOUND:
		break;
	case DNS_NXDOMAIN:
	case DNS_NODATA:
		/* RFC 7208 4.6.4: void lookups (not PTR, not the first). */
		if (!initial && dtype != DNS_T_PTR &&
		    ++ev->voids > SPF_VOID_MAX) {
			ev->limit = SPF_LIMIT_VOID;
			dns_result_free(&res);
			return spf_rr_status(layer, domain, type, NO_RECOVERY);
		}
		rr = spf_rr_status(layer, domain, type,
		    res->status == DNS_NXDOMAIN ? HOST_NOT_FOUND : NO_DATA);
		dns_result_free(&res);
		return rr;
	case DNS_TEMPFAIL:
		dns_result_free(&res);
		return spf_rr_status(layer, domain, type, TRY_AGAIN);
	case DNS_PERMFAIL:
		/* A name no resolver would take (macro output) exists not. */
		dns_result_free(&res);
		return spf_rr_status(layer, domain, type, HOST_NOT_FOUND);
	}
	if (res->count > SPF_RR_MAX) {
		ev->limit = SPF_LIMIT_RR;
		dns_result_free(&res);
		return spf_rr_status(layer, domain, type, NO_RECOVERY);
	}
	if (dtype == DNS_T_TXT) {
		for (i = 0, total = 0; i < res->count; i++)
			total += res->rr[i].u.txt.len;
		if (total > SPF_TXT_MAX) {
			ev->limit = SPF_LIMIT_TXT;
			dns_result_free(&res);
			return spf_rr_status(layer, domain, type, NO_RECOVERY);
		}
	}
	rr = spf_rr_status(layer, domain, type, NETDB_SUCCESS);
	rr->ttl = res->ttl;
	if (!spf_rr_fill(rr, res)) {
		SPF_dns_rr_free(rr);
		rr = spf_rr_status(layer, domain, type, NO_RECOVERY);
	}
	dns_result_free(&res);
	return rr;
}

static void
spf_dns_destroy(SPF_dns_server_t *layer)
{
	free(layer);
}

struct spf_eval *
spf_eval_new(struct dns *dns, const char *receiver)
{
	struct spf_eval		*ev;
	SPF_dns_server_t	*layer;
	SPF_response_t		*resp = NULL;

	SPF_error_handler = spf_log_error;
	SPF_warning_handler = spf_log_warning;
	SPF_info_handler = spf_log_debug;
	SPF_debug_handler = spf_log_debug;

	ev = xcalloc(1, sizeof(*ev));
	ev->dns = dns;
	ev->receiver = xstrdup(receiver);
	layer = xcalloc(1, sizeof(*layer));
	layer->destroy = spf_dns_destroy;
	layer->lookup = spf_dns_lookup;
	layer->name = "buzon";
	layer->hook = ev;
	ev->layer = layer;
	if ((ev->server = SPF_server_new_dns(layer, 0)) == NULL)
		fatalx("libspf2: out of memory");
	if (SPF_server_set_rec_dom(ev->server, receiver) != SPF_E_SUCCESS ||
	    SPF_server_set_explanation(ev->server, SPF_DEFAULT_EXPLANATION,
	    &resp) != SPF_E_SUCCESS ||
	    SPF_server_set_sanitize(ev->server, 0) != SPF_E_SUCCESS ||
	    SPF_server_set_max_dns_mech(ev->server, SPF_DNS_TERMS_MAX) !=
	    SPF_E_SUCCESS)
		fatalx("libspf2: cannot configure the SPF server");
	SPF_response_free(resp);
	return ev;
}

void
spf_eval_free(struct spf_eval **evp)
{
	struct spf_eval	*ev = *evp;
	bool		 owned;

	if (ev == NULL)
		return;
	/* libspf2 frees the DNS layer only where it thinks it owns it. */
	owned = ev->server->destroy_resolver != 0;
	SPF_server_free(ev->server);
	if (!owned)
		free(ev->layer);
	free(ev->receiver);
	free(ev);
	*evp = NULL;
}

unsigned int
spf_eval_queries(const struct spf_eval *ev)
{
	return ev->queries;
}

/* What libspf2 concluded, including the answers it leaves as "invalid". */
static enum spf_result
spf_map(SPF_response_t *resp, SPF_errcode_t err)
{
	int	i;

	switch (SPF_response_result(resp)) {
	case SPF_RESULT_NEUTRAL:
		return SPF_RES_NEUTRAL;
	case SPF_RESULT_PASS:
		return SPF_RES_PASS;
	case SPF_RESULT_FAIL:
		return SPF_RES_FAIL;
	case SPF_RESULT_SOFTFAIL:
		return SPF_RES_SOFTFAIL;
	case SPF_RESULT_NONE:
		return SPF_RES_NONE;
	case SPF_RESULT_TEMPERROR:
		return SPF_RES_TEMPERROR;
	case SPF_RESULT_PERMERROR:
		return SPF_RES_PERMERROR;
	default:
		break;
	}
	if (err == SPF_E_DNS_ERROR)
		return SPF_RES_TEMPERROR;
	/* "No SPF record" comes back as SPF_E_NOT_SPF alone; a record that
	 * did not compile as SPF_E_NOT_SPF after the syntax errors. */
	for (i = 0; i < SPF_response_messages(resp); i++) {
		SPF_error_t *e = SPF_response_message(resp, i);

		if (SPF_error_errorp(e) && SPF_error_code(e) != SPF_E_NOT_SPF)
			return SPF_RES_PERMERROR;
	}
	return err == SPF_E_NOT_SPF || err == SPF_E_SUCCESS ? SPF_RES_NONE :
	    SPF_RES_PERMERROR;
}

static const char *
spf_limit_text(enum spf_limit l)
{
	switch (l) {
	case SPF_LIMIT_QUERIES:
		return "too many DNS lookups";
	case SPF_LIMIT_VOID:
		return "too many void DNS lookups";
	case SPF_LIMIT_TXT:
		return "SPF record too large";
	case SPF_LIMIT_RR:
		return "too many DNS records";
	case SPF_LIMIT_NONE:
		break;
	}
	return "";
}

/* The domain of the identity checked: after the last '@' of MAIL FROM,
 * or the HELO name for the null sender. */
static const char *
spf_identity_domain(const struct spf_request *req)
{
	const char	*at;

	if (req->from[0] == '\0')
		return req->helo;
	at = strrchr(req->from, '@');
	return at != NULL ? at + 1 : req->from;
}

static void
spf_default_explanation(struct spf_answer *ans, const struct spf_request *req,
    const char *domain)
{
	char	buf[SPF_EXPL_MAX + 1];

	(void)str_printf(buf, sizeof(buf), "%s does not designate %s as a "
	    "permitted sender", domain, req->ip);
	spf_safe_text(ans->explanation, sizeof(ans->explanation), buf);
}

void
spf_eval_check(struct spf_eval *ev, const struct spf_request *req,
    struct spf_answer *ans)
{
	SPF_request_t	*sreq;
	SPF_response_t	*resp = NULL;
	SPF_errcode_t	 err;
	struct in6_addr	 a6;
	struct in_addr	 a4;
	const char	*domain, *exp;
	int		 rc;

	memset(ans, 0, sizeof(*ans));
	ev->queries = 0;
	ev->voids = 0;
	ev->first_txt = false;
	ev->limit = SPF_LIMIT_NONE;

	if ((sreq = SPF_request_new(ev->server)) == NULL)
		fatalx("libspf2: out of memory");
	if (inet_pton(AF_INET, req->ip, &a4) == 1)
		rc = SPF_request_set_ipv4(sreq, a4);
	else if (inet_pton(AF_INET6, req->ip, &a6) == 1) {
		if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			memcpy(&a4, &a6.s6_addr[12], sizeof(a4));
			rc = SPF_request_set_ipv4(sreq, a4);
		} else
			rc = SPF_request_set_ipv6(sreq, a6);
	} else {
		SPF_request_free(sreq);
		ans->is_error = true;
		(void)str_copy(ans->error, "bad client address",
		    sizeof(ans->error));
		return;
	}
	/* RFC 7208 4.3: a malformed or single-label domain is "none". */
	domain = spf_identity_domain(req);
	if (rc != SPF_E_SUCCESS || !dns_name_is_valid(domain) ||
	    strchr(domain, '.') == NULL || domain[strlen(domain) - 1] == '.' ||
	    (req->helo[0] != '\0' &&
	    SPF_request_set_helo_dom(sreq, req->helo) != SPF_E_SUCCESS) ||
	    SPF_request_set_env_from(sreq,
	    req->from[0] != '\0' ? req->from : req->helo) != 0) {
		SPF_request_free(sreq);
		ans->result = SPF_RES_NONE;
		goto done;
	}
	err = SPF_request_query_mailfrom(sreq, &resp);
	ans->result = ev->limit != SPF_LIMIT_NONE ? SPF_RES_PERMERROR :
	    spf_map(resp, err);
	if (ev->limit != SPF_LIMIT_NONE)
		(void)str_copy(ans->explanation, spf_limit_text(ev->limit),
		    sizeof(ans->explanation));
	else if (ans->result == SPF_RES_FAIL) {
		/*
		 * libspf2 1.2.10 (Debian 12) mangles explanations it expands:
		 * spaces come out as '%' and later macros stay unexpanded.
		 * Take its text only when it shows no trace of that, else
		 * say it ourselves.
		 */
		exp = SPF_response_get_explanation(resp);
		if (exp != NULL && exp[0] != '\0' &&
		    strpbrk(exp, "%{}") == NULL &&
		    strcmp(exp, SPF_DEFAULT_EXPLANATION) != 0)
			spf_safe_text(ans->explanation,
			    sizeof(ans->explanation), exp);
		else
			spf_default_explanation(ans, req, domain);
	}
	SPF_response_free(resp);
	SPF_request_free(sreq);
done:
	spf_received_header(ans->header, sizeof(ans->header), ans->result, req,
	    ev->receiver);
}
