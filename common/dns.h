/*
 * dns.h - DNS lookups on libunbound, synchronous or on the event loop
 *
 * One struct dns is one resolver context.  Where it sends queries depends
 * on struct dns_conf:
 *
 *   local_data  forwarders      queries go to
 *   ----------  ----------      ----------------------------------------
 *   ""          none            the system resolver (/etc/resolv.conf and
 *                               /etc/hosts)
 *   FILE        none            nowhere: a closed world.  Only the records
 *                               of FILE exist; every other name is
 *                               NXDOMAIN, and no packet ever leaves the
 *                               host (tests, teaching labs)
 *   any         "system"        the system resolver, FILE (if any) first
 *   any         ADDR[@PORT]...  those forwarders, FILE (if any) first
 *
 * The local data file holds one resource record per line in zone-file
 * form ("example.test. 300 IN TXT \"v=spf1 -all\""); '#' and ';' at the
 * start of a line begin comments and blank lines are ignored.  An owner
 * name in the file answers only from the file: a type it does not list
 * there is NODATA, not a network query (libunbound's "transparent" zone).
 * A line "$ZONE NAME [TYPE]" declares a whole local zone (TYPE is static,
 * the default, or refuse, always_nxdomain, transparent): names under a
 * static zone that the file does not list are NXDOMAIN and never go to
 * the network.  A refuse zone makes lookups under it fail as a broken
 * resolver would (DNS_TEMPFAIL), which is how tests simulate one.  Bad
 * lines are all reported, "FILE:LINE: message", and make dns_new() fail.
 *
 * DNSSEC: with dnssec on and a trust anchor (trust_anchor, or Debian's
 * /usr/share/dns/root.key when that is empty and present), answers carry
 * is_secure, and bogus answers are DNS_TEMPFAIL (as a validating resolver
 * answers SERVFAIL).  With dnssec off nothing is validated and is_secure
 * is always false.
 *
 * Not thread-safe: one struct dns per thread (libunbound's own worker
 * thread is its business).
 */
#ifndef BUZON_DNS_H
#define BUZON_DNS_H

#include <netinet/in.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "str.h"

struct event_loop;

/* RR types we parse (the IANA numbers). */
#define DNS_T_A		1
#define DNS_T_PTR	12
#define DNS_T_MX	15
#define DNS_T_TXT	16
#define DNS_T_AAAA	28
#define DNS_T_TLSA	52

#define DNS_NAME_MAX	253	/* text form, without the final dot */

enum dns_status {
	DNS_FOUND,		/* rr[] holds at least one record */
	DNS_NXDOMAIN,		/* the name does not exist */
	DNS_NODATA,		/* the name exists, not with this type */
	DNS_TEMPFAIL,		/* resolver failure, timeout, bogus */
	DNS_PERMFAIL,		/* a query that can never work (bad
				   name) or an answer we cannot parse */
};

struct dns_conf {
	const char		 *local_data;	/* path or NULL/"" */
	/* "system" or ADDR[@PORT] */
	const char *const	 *forwarders;
	size_t			  nforwarders;
	bool			  dnssec;
	const char		 *trust_anchor;	/* path or NULL/"" */
};

struct dns_mx {
	uint16_t	 pref;
	char		*host;		/* no final dot */
};

struct dns_txt {
	char		*data;		/* strings joined + NUL */
	size_t		 len;		/* may hold NULs too */
	size_t		 nstrings;	/* how many character-strings */
};

struct dns_tlsa {
	uint8_t		 usage, selector, mtype;
	unsigned char	*data;
	size_t		 len;
};

struct dns_rr {
	union {
		struct in_addr	 a;
		struct in6_addr	 aaaa;
		struct dns_mx	 mx;
		char		*ptr;	/* no final dot */
		struct dns_txt	 txt;
		struct dns_tlsa	 tlsa;
	} u;
};

/* A whole answer; owned by whoever got it, freed with dns_result_free(). */
struct dns_result {
	enum dns_status	 status;
	int		 type;		/* as asked */
	bool		 is_secure;	/* DNSSEC-validated */
	uint32_t	 ttl;
	size_t		 count;		/* > 0 only if DNS_FOUND */
	struct dns_rr	*rr;		/* MX sorted by preference */
	char		 error[160];	/* why, for TEMP/PERMFAIL */
};

/* Fill conf from buzon.conf's dns_* keys (borrowing from cfg). */
struct config;
void		 dns_conf_from_config(struct dns_conf *,
		    const struct config *);

/* Create a context.  NULL on failure, with every problem appended to errs
 * ("FILE:LINE: message\n" for bad local data lines, all of them). */
struct dns	*dns_new(const struct dns_conf *, struct str *errs);
/* Cancels whatever is still pending (no callbacks run) and frees. */
void		 dns_free(struct dns **);

/* Look name up (text, final dot optional).  Always stores a result in
 * *res_r, also on failure, and returns its status. */
enum dns_status	 dns_lookup(struct dns *, const char *name, int type,
		    struct dns_result **res_r);
/* PTR lookup of an address given as text ("192.0.2.1", "2001:db8::1"):
 * DNS_PERMFAIL if it is not an address. */
enum dns_status	 dns_lookup_ptr(struct dns *, const char *addr,
		    struct dns_result **res_r);
void		 dns_result_free(struct dns_result **);

/* Is name one we would ask for: text, labels of 1..63 bytes, at most 253
 * bytes (plus an optional final dot), no spaces, controls or zone-file
 * specials (\\ \" ; ( )). */
bool		 dns_name_is_valid(const char *name);

/* Add one zone-file line to the local data of a running context, or drop
 * every local record of a name.  0 or -1.  Meant for tests and fuzzing
 * (the file is the normal way). */
int		 dns_local_add(struct dns *, const char *rr_line)
		    __attribute__((warn_unused_result));
int		 dns_local_remove(struct dns *, const char *name)
		    __attribute__((warn_unused_result));

const char	*dns_status_name(enum dns_status);
/* "TXT", "MX", ...; "TYPE<n>" style names are not produced: unknown is
 * "?". */
const char	*dns_type_name(int type);

/*
 * Asynchronous lookups on an event loop.  dns_attach() registers the
 * resolver's fd with the loop (once; 0 or -1).  dns_lookup_async() returns
 * a handle, or NULL with the callback not called if the query could not
 * even be started (then *res_r style failure is the caller's to report).
 * The callback runs from the loop, once, and owns res.  The handle is
 * valid until the callback starts; dns_cancel() before that drops the
 * query and the callback never runs.
 */
struct dns_query;
typedef void	 dns_cb(struct dns_result *res, void *arg);

int		 dns_attach(struct dns *, struct event_loop *)
		    __attribute__((warn_unused_result));
struct dns_query *dns_lookup_async(struct dns *, const char *name, int type,
		    dns_cb *, void *arg);
void		 dns_cancel(struct dns_query **);
/* Queries started and not yet answered or cancelled. */
size_t		 dns_pending(const struct dns *);

#endif
