/*
 * spf.h - SPF (RFC 7208): results, the smtpd policy, the helper protocol,
 * and evaluation with libspf2 over common/dns
 *
 * Evaluation (spf_eval_*) runs only inside the buzon-spf helper and the
 * tests: libspf2 has had memory-safety bugs in macro expansion
 * (CVE-2021-20314, CVE-2023-42118), so smtpd never links it and asks a
 * helper process through spf_client.h instead.  Everything else here is
 * plain C that smtpd uses: result names, the policy mapping and the wire
 * format.
 *
 * Wire format between smtpd and buzon-spf (a stream socket, one request
 * at a time): a message is a sequence of records, each one type byte, a
 * two-byte big-endian length and that many bytes of data, ended by a
 * record of type SPF_REC_END with length 0.  Data is text without NULs.
 *   request: SPF_REC_IP (client address, required), SPF_REC_HELO,
 *            SPF_REC_FROM (MAIL FROM address, empty for the null sender)
 *   answer:  SPF_REC_RESULT ("pass", ...), SPF_REC_EXPL, SPF_REC_HEADER
 *            (the whole "Received-SPF: ..." field, no CRLF), or
 *            SPF_REC_ERROR alone when the request was refused.
 * Each record type appears at most once; unknown types, NULs, duplicates
 * and data longer than its field are errors.
 */
#ifndef BUZON_SPF_H
#define BUZON_SPF_H

#include <stdbool.h>
#include <stddef.h>

#include "str.h"

enum spf_result {
	SPF_RES_NONE,
	SPF_RES_NEUTRAL,
	SPF_RES_PASS,
	SPF_RES_FAIL,
	SPF_RES_SOFTFAIL,
	SPF_RES_TEMPERROR,
	SPF_RES_PERMERROR,
};

/* Bounds of the request fields (text length, without NUL). */
#define SPF_IP_MAX		64
#define SPF_HELO_MAX		255
#define SPF_FROM_MAX		512	/* RFC 5321 path: 256 */
#define SPF_EXPL_MAX		255
#define SPF_HEADER_MAX		2500
#define SPF_ERROR_MAX		127
/* A whole message on the wire, END record included. */
#define SPF_MSG_MAX		4096

#define SPF_REC_END		'e'
#define SPF_REC_IP		'i'
#define SPF_REC_HELO		'h'
#define SPF_REC_FROM		'f'
#define SPF_REC_RESULT		'r'
#define SPF_REC_EXPL		'x'
#define SPF_REC_HEADER		's'
#define SPF_REC_ERROR		'z'

struct spf_request {
	char	ip[SPF_IP_MAX + 1];	/* "192.0.2.1", "2001:db8::1" */
	char	helo[SPF_HELO_MAX + 1];	/* as the client sent it */
	char	from[SPF_FROM_MAX + 1];	/* "" for the null sender */
};

struct spf_answer {
	enum spf_result	result;
	bool		is_error;	/* helper refused the request */
	/* printable ASCII */
	char		explanation[SPF_EXPL_MAX + 1];
	/* "Received-SPF: ...", folded, no final CRLF */
	char		header[SPF_HEADER_MAX + 1];
	char		error[SPF_ERROR_MAX + 1];	/* when is_error */
};

/* "pass", "fail", ...; and back (0, or -1 if unknown). */
const char	*spf_result_name(enum spf_result);
int		 spf_result_parse(const char *, enum spf_result *r);

/*
 * The smtpd policy (smtpd_spf_policy = none | tag | reject-fail):
 *
 *   policy       other   fail          temperror   permerror
 *   none         accept  accept        accept      accept
 *   tag          tag     tag           tag         tag
 *   reject-fail  tag     550 5.7.23    451 4.7.24  tag, or 550 5.7.24
 *                        + explanation             if reject_permerror
 *
 * "tag" means accept and add the Received-SPF header.  The caller skips the
 * check altogether for authenticated and trusted-network clients.
 */
enum spf_policy {
	SPF_POLICY_NONE,
	SPF_POLICY_TAG,
	SPF_POLICY_REJECT_FAIL,
};

enum spf_action {
	SPF_ACT_ACCEPT,		/* nothing to do */
	SPF_ACT_TAG,		/* accept, prepend answer->header */
	SPF_ACT_REJECT,		/* reply code/enhanced/text, 5xx */
	SPF_ACT_TEMPFAIL,	/* reply code/enhanced/text, 4xx */
};

struct spf_decision {
	enum spf_action	action;
	int		code;		/* 550, 451; 0 for accept/tag */
	char		enhanced[8];	/* "5.7.23" */
	char		text[SPF_EXPL_MAX + 64];	/* reply, no code */
};

/* "none", "tag", "reject-fail" (the conf.h ENUM choices); 0 or -1. */
#define SPF_POLICY_CHOICES	"none|tag|reject-fail"
int		 spf_policy_parse(const char *, enum spf_policy *r);
/* Pure: what smtpd does with an answer.  Never fails. */
void		 spf_policy_decide(enum spf_policy, bool reject_permerror,
		    const struct spf_answer *, struct spf_decision *);

/* Build the Received-SPF field (RFC 7208 section 9.1) into header (size
 * bytes, NUL-terminated, no final CRLF): result, a comment naming receiver,
 * sender and address, then client-ip, envelope-from, helo, receiver and
 * identity (mailfrom, or helo for the null sender), folded into three
 * lines joined by CRLF TAB, each under 998 bytes.  Peer text is made safe:
 * non-printable bytes become '?', quoted-strings and comments are escaped
 * and cut at bounds.  If it still does not fit size, only
 * "Received-SPF: RESULT" is written. */
void		 spf_received_header(char *header, size_t size,
		    enum spf_result, const struct spf_request *,
		    const char *receiver);
/* Copy untrusted text for an SMTP reply or header: printable ASCII only
 * (others become '?'), at most size - 1 bytes.  Returns dst. */
char		*spf_safe_text(char *dst, size_t size, const char *src);

/* The wire format.  Encoders append one whole message to out: 0, or -1
 * when a field is over its bound (out unchanged).  Decoders look at the
 * bytes buffered in buf: 1 with *msg filled and *used_r set to the bytes
 * the message took, 0 when more bytes are needed, -1 when the message is
 * malformed (reason in err).  After -1, *used_r is the length of the bad
 * message if its framing was sound (the reader may skip it and go on), or
 * 0 if the stream cannot be trusted any more (the reader must close). */
int		 spf_request_encode(const struct spf_request *,
		    struct str *out) __attribute__((warn_unused_result));
int		 spf_request_decode(const void *buf, size_t len,
		    struct spf_request *, size_t *used_r, char *err,
		    size_t errsize);
int		 spf_answer_encode(const struct spf_answer *,
		    struct str *out) __attribute__((warn_unused_result));
int		 spf_answer_decode(const void *buf, size_t len,
		    struct spf_answer *, size_t *used_r, char *err,
		    size_t errsize);

/*
 * Evaluation (smtpd/spf.c, libspf2): only in buzon-spf and tests.
 *
 * An spf_eval uses the given struct dns (borrowed, must outlive it) for
 * every lookup libspf2 makes, and enforces our own bounds on top of
 * libspf2's: at most SPF_DNS_TERMS_MAX DNS-querying terms (RFC 7208
 * 4.6.4, libspf2's own count), at most SPF_DNS_QUERIES_MAX queries in all,
 * at most SPF_VOID_MAX void lookups (NXDOMAIN/NODATA), TXT answers of at
 * most SPF_TXT_MAX bytes in all and at most SPF_RR_MAX records per answer.
 * Going over any of them is permerror.  receiver is our host name (the
 * %{r} macro and the header).
 */
#define SPF_DNS_TERMS_MAX	10
#define SPF_DNS_QUERIES_MAX	50
#define SPF_VOID_MAX		2
#define SPF_TXT_MAX		4096
#define SPF_RR_MAX		64

struct dns;
struct spf_eval;

struct spf_eval	*spf_eval_new(struct dns *, const char *receiver);
void		 spf_eval_free(struct spf_eval **);
/* Check req; always fills ans.  A client address that is not an IPv4 or
 * IPv6 address is a refusal (is_error); a bad MAIL FROM or HELO domain is
 * the SPF result none (RFC 7208 4.3). */
void		 spf_eval_check(struct spf_eval *,
		    const struct spf_request *, struct spf_answer *);
/* DNS queries the last check made (tests). */
unsigned int	 spf_eval_queries(const struct spf_eval *);

#endif
