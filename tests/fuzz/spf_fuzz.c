/* SPDX-License-Identifier: MIT */
/*
 * spf_fuzz.c - hostile TXT records through libspf2 and our DNS layer
 *
 * The input is split at newlines: the first line is the local part of
 * MAIL FROM (for %{l} and friends), the next ones become TXT records of
 * fuzz.test (twice), inc.fuzz.test and exp.fuzz.test in a closed-world
 * local zone, so include:, redirect=, exp= and macros all reach real
 * data.  Then the whole input also goes through the helper wire-format
 * decoders.  Anything but a clean return (crash, sanitizer report, leak)
 * is a bug.
 *
 * Speed: libunbound's synchronous ub_resolve() builds a whole worker for
 * every query (a random state seeded through 1500 rounds of SHA-256, the
 * 64k outgoing port table), 0.5 to 1.7 ms a query under the sanitizers,
 * while the answer itself comes from the local zone in microseconds; that
 * held the target at about 1000 inputs a second.  The target is linked
 * with -Wl,--wrap=ub_resolve (smtpd/smtpd.am), so dns.c's calls land in
 * __wrap_ub_resolve() below, which asks the same context through
 * ub_resolve_async() and waits for the answer: the context's one
 * background worker thread, set up once, answers from the same local
 * zones and hands back the same ub_result, so dns_lookup(), dns_convert()
 * and the record parsers run exactly as in the daemon.  Only libunbound's
 * own foreground worker setup is left out.
 *
 * Memory: libunbound never gives back what a local record took from the
 * zone's region, removed or not (about 550 bytes for each add), so the
 * context and the evaluator on it are made anew every FUZZ_DNS_RENEW
 * inputs; without that a run reached the 2 GB RSS limit before 2M inputs.
 * Every input starts from the same fixed records either way.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <unbound.h>

#include "dns.h"
#include "log.h"
#include "spf.h"
#include "str.h"

#define FUZZ_INPUT_MAX	16384
#define FUZZ_DNS_RENEW	20000	/* inputs on one libunbound context */

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	__wrap_ub_resolve(struct ub_ctx *, const char *, int, int,
	    struct ub_result **);

struct fuzz_wait {
	bool		 done;
	int		 err;
	struct ub_result *result;
};

static struct dns	*fuzz_dns;
static struct spf_eval	*fuzz_eval;

static const char *const fuzz_names[] = {
	"fuzz.test.", "fuzz.test.", "inc.fuzz.test.", "exp.fuzz.test.",
};

/* A zone-file TXT line for owner with data as its text: character-strings
 * of at most 255 bytes, every byte outside printable ASCII (and the
 * quote, backslash and semicolon) as \DDD. */
static int
fuzz_txt_line(struct str *s, const char *owner, const uint8_t *p, size_t n)
{
	size_t	i, in_string = 0;
	int	rc;

	str_clear(s);
	rc = str_appendf(s, "%s 60 IN TXT \"", owner);
	for (i = 0; i < n && rc == 0; i++) {
		if (in_string == 255) {
			rc = str_append_str(s, "\" \"");
			in_string = 0;
		}
		if (p[i] >= ' ' && p[i] <= '~' && p[i] != '"' && p[i] != '\\' &&
		    p[i] != ';')
			rc |= str_append_c(s, (char)p[i]);
		else
			rc |= str_appendf(s, "\\%03u", p[i]);
		in_string++;
	}
	rc |= str_append_c(s, '"');
	return rc;
}

static void
fuzz_resolved(void *arg, int err, struct ub_result *result)
{
	struct fuzz_wait	*w = arg;

	w->done = true;
	w->err = err;
	w->result = result;
}

/* ub_resolve() through the context's background worker (see the top). */
int
__wrap_ub_resolve(struct ub_ctx *ctx, const char *name, int rrtype,
    int rrclass, struct ub_result **result)
{
	struct fuzz_wait	 w = { false, 0, NULL };
	int			 rc;

	*result = NULL;
	rc = ub_resolve_async(ctx, name, rrtype, rrclass, &w, fuzz_resolved,
	    NULL);
	if (rc != 0)
		return rc;
	while (!w.done)
		if (ub_wait(ctx) != 0)
			abort();	/* w would be left to the worker */
	*result = w.result;
	return w.err;
}

static void
fuzz_init(void)
{
	struct dns_conf	 conf = { 0 };
	struct str	 errs;

	conf.local_data = "/dev/null";	/* closed world, no records */
	str_init(&errs, 0);
	if ((fuzz_dns = dns_new(&conf, &errs)) == NULL)
		fatalx("dns: %s", str_c(&errs));
	str_release(&errs);
	if (dns_local_add(fuzz_dns, "a.fuzz.test. 60 IN A 192.0.2.1") == -1 ||
	    dns_local_add(fuzz_dns,
	    "a.fuzz.test. 60 IN AAAA 2001:db8::1") == -1 ||
	    dns_local_add(fuzz_dns, "10.2.0.192.in-addr.arpa. 60 IN PTR "
	    "a.fuzz.test.") == -1)
		fatalx("dns: cannot add fixed records");
	fuzz_eval = spf_eval_new(fuzz_dns, "mx.fuzz.test");
}

static void
fuzz_wire(const uint8_t *data, size_t size)
{
	struct spf_request	 req;
	struct spf_answer	 ans;
	struct spf_decision	 d;
	size_t			 used;
	char			 err[SPF_ERROR_MAX + 1];
	struct str		 out;

	if (spf_request_decode(data, size, &req, &used, err,
	    sizeof(err)) == 1) {
		str_init(&out, 0);
		if (spf_request_encode(&req, &out) == -1)
			abort();		/* decoded fields always fit */
		str_release(&out);
	}
	if (spf_answer_decode(data, size, &ans, &used, err, sizeof(err)) == 1)
		spf_policy_decide(SPF_POLICY_REJECT_FAIL, true, &ans, &d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spf_request	 req;
	struct spf_answer	 ans;
	struct spf_decision	 d;
	struct str		 line;
	const uint8_t		*p = data, *nl;
	size_t			 left = size, n, i;
	int			 refused = 0;
	static unsigned int	 inputs;

	if (inputs++ % FUZZ_DNS_RENEW == 0) {
		if (fuzz_eval == NULL)
			log_init("spf_fuzz", false, LOG_LEVEL_ERROR);
		spf_eval_free(&fuzz_eval);
		dns_free(&fuzz_dns);
		fuzz_init();
	}
	if (size > FUZZ_INPUT_MAX)
		return 0;
	fuzz_wire(data, size);

	memset(&req, 0, sizeof(req));
	(void)str_copy(req.ip, size > 0 && data[0] & 1 ? "2001:db8::9" :
	    "192.0.2.10", sizeof(req.ip));
	(void)str_copy(req.helo, "client.fuzz.test", sizeof(req.helo));
	/* Line 0: the local part, bounded, made of printable bytes. */
	nl = memchr(p, '\n', left);
	n = nl != NULL ? (size_t)(nl - p) : left;
	for (i = 0; i < n && i < 64; i++)
		req.from[i] = p[i] > ' ' && p[i] <= '~' ? (char)p[i] : 'x';
	(void)str_copy(req.from + i, "@fuzz.test", sizeof(req.from) - i);
	p += n + (nl != NULL);
	left -= n + (nl != NULL);

	str_init(&line, 0);
	for (i = 0; i < sizeof(fuzz_names) / sizeof(fuzz_names[0]); i++) {
		if (left == 0 && i > 0)
			break;
		nl = memchr(p, '\n', left);
		n = nl != NULL ? (size_t)(nl - p) : left;
		/* Lines libunbound refuses (too long) just add nothing. */
		if (fuzz_txt_line(&line, fuzz_names[i], p, n) == 0)
			refused += dns_local_add(fuzz_dns, str_c(&line)) == -1;
		p += n + (nl != NULL);
		left -= n + (nl != NULL);
	}
	str_release(&line);

	spf_eval_check(fuzz_eval, &req, &ans);
	spf_policy_decide(SPF_POLICY_REJECT_FAIL, false, &ans, &d);

	for (i = 0; i < sizeof(fuzz_names) / sizeof(fuzz_names[0]); i++)
		if (dns_local_remove(fuzz_dns, fuzz_names[i]) == -1)
			abort();
	(void)refused;
	return 0;
}
