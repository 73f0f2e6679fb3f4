/* SPDX-License-Identifier: MIT */
/*
 * spf_policy.c - SPF result names, the smtpd policy mapping and the
 * Received-SPF header: pure functions, no libspf2
 */
#include <string.h>

#include "spf.h"
#include "str.h"

static const char *const spf_names[] = {
	[SPF_RES_NONE] = "none",
	[SPF_RES_NEUTRAL] = "neutral",
	[SPF_RES_PASS] = "pass",
	[SPF_RES_FAIL] = "fail",
	[SPF_RES_SOFTFAIL] = "softfail",
	[SPF_RES_TEMPERROR] = "temperror",
	[SPF_RES_PERMERROR] = "permerror",
};

const char *
spf_result_name(enum spf_result r)
{
	if ((size_t)r >= sizeof(spf_names) / sizeof(spf_names[0]))
		return "?";
	return spf_names[r];
}

int
spf_result_parse(const char *s, enum spf_result *r)
{
	size_t	i;

	for (i = 0; i < sizeof(spf_names) / sizeof(spf_names[0]); i++) {
		if (strcmp(s, spf_names[i]) == 0) {
			*r = (enum spf_result)i;
			return 0;
		}
	}
	return -1;
}

int
spf_policy_parse(const char *s, enum spf_policy *r)
{
	if (strcmp(s, "none") == 0)
		*r = SPF_POLICY_NONE;
	else if (strcmp(s, "tag") == 0)
		*r = SPF_POLICY_TAG;
	else if (strcmp(s, "reject-fail") == 0)
		*r = SPF_POLICY_REJECT_FAIL;
	else
		return -1;
	return 0;
}

char *
spf_safe_text(char *dst, size_t size, const char *src)
{
	size_t	i;

	if (size == 0)
		return dst;
	for (i = 0; i + 1 < size && src[i] != '\0'; i++)
		dst[i] = src[i] >= ' ' && src[i] <= '~' ? src[i] : '?';
	dst[i] = '\0';
	return dst;
}

void
spf_policy_decide(enum spf_policy policy, bool reject_permerror,
    const struct spf_answer *ans, struct spf_decision *d)
{
	char	exp[SPF_EXPL_MAX + 1];

	memset(d, 0, sizeof(*d));
	if (policy == SPF_POLICY_NONE) {
		d->action = SPF_ACT_ACCEPT;
		return;
	}
	d->action = SPF_ACT_TAG;
	if (policy != SPF_POLICY_REJECT_FAIL)
		return;
	switch (ans->result) {
	case SPF_RES_FAIL:
		/* RFC 7208 8.4: 550 5.7.23 (RFC 7372), with the explanation. */
		d->action = SPF_ACT_REJECT;
		d->code = 550;
		(void)str_copy(d->enhanced, "5.7.23", sizeof(d->enhanced));
		spf_safe_text(exp, sizeof(exp), ans->explanation);
		if (exp[0] != '\0')
			(void)str_printf(d->text, sizeof(d->text),
			    "SPF validation failed: %s", exp);
		else
			(void)str_copy(d->text, "SPF validation failed",
			    sizeof(d->text));
		break;
	case SPF_RES_TEMPERROR:
		/* RFC 7208 8.6: 451 4.7.24. */
		d->action = SPF_ACT_TEMPFAIL;
		d->code = 451;
		(void)str_copy(d->enhanced, "4.7.24", sizeof(d->enhanced));
		(void)str_copy(d->text, "Temporary SPF validation error, "
		    "try again later", sizeof(d->text));
		break;
	case SPF_RES_PERMERROR:
		/* RFC 7208 8.7: 550 5.7.24, if the receiver chooses to. */
		if (!reject_permerror)
			break;
		d->action = SPF_ACT_REJECT;
		d->code = 550;
		(void)str_copy(d->enhanced, "5.7.24", sizeof(d->enhanced));
		(void)str_copy(d->text, "SPF record of the sender domain is "
		    "broken", sizeof(d->text));
		break;
	default:
		break;
	}
}

/* Append peer text as a quoted-string (RFC 5322 3.2.4) of at most max
 * bytes, cut between characters so the quoting stays balanced. */
static int
spf_hdr_quoted(struct str *s, const char *text, size_t max)
{
	const char	*p;
	size_t		 used = 2;
	int		 rc = str_append_c(s, '"');

	for (p = text; *p != '\0' && rc == 0; p++) {
		char c = *p >= ' ' && *p <= '~' ? *p : '?';
		size_t n = c == '"' || c == '\\' ? 2 : 1;

		if (used + n > max)
			break;
		used += n;
		if (n == 2)
			rc = str_append_c(s, '\\');
		if (rc == 0)
			rc = str_append_c(s, c);
	}
	return rc == 0 ? str_append_c(s, '"') : -1;
}

/* Append peer text inside a comment, parentheses and backslashes escaped,
 * spaces and controls as '?', at most max bytes. */
static int
spf_hdr_ctext(struct str *s, const char *text, size_t max)
{
	const char	*p;
	size_t		 used = 0;
	int		 rc = 0;

	for (p = text; *p != '\0' && rc == 0; p++) {
		char c = *p > ' ' && *p <= '~' ? *p : '?';
		size_t n = c == '(' || c == ')' || c == '\\' ? 2 : 1;

		if (used + n > max)
			break;
		used += n;
		if (n == 2)
			rc = str_append_c(s, '\\');
		if (rc == 0)
			rc = str_append_c(s, c);
	}
	return rc;
}

/* A value: a dot-atom as is when it is one, else a quoted-string. */
static int
spf_hdr_value(struct str *s, const char *text, size_t max)
{
	const char	*p;

	if (text[0] == '\0' || text[0] == '.' || strlen(text) > max)
		return spf_hdr_quoted(s, text, max);
	for (p = text; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') ||
		    strchr("!#$%&'*+-/=?^_`{|}~.", *p) != NULL) ||
		    (*p == '.' && (p[1] == '.' || p[1] == '\0')))
			return spf_hdr_quoted(s, text, max);
	}
	return str_append_str(s, text);
}

void
spf_received_header(char *header, size_t size, enum spf_result r,
    const struct spf_request *req, const char *receiver)
{
	struct str	 s;
	char		 sender[SPF_HELO_MAX + 16];
	const char	*domain, *at, *who;
	int		 rc;

	if (size == 0)
		return;
	/* The identity: MAIL FROM, or postmaster@HELO (RFC 7208 2.4). */
	if (req->from[0] != '\0') {
		at = strrchr(req->from, '@');
		domain = at != NULL ? at + 1 : req->from;
		who = req->from;
	} else {
		(void)str_printf(sender, sizeof(sender), "postmaster@%s",
		    req->helo);
		domain = req->helo;
		who = sender;
	}
	/*
	 * Three lines, folded, each well under RFC 5322's 998 bytes even for
	 * hostile input: the comment, client-ip and envelope-from, then helo,
	 * receiver and identity.
	 */
	str_init(&s, 0);
	rc = str_appendf(&s, "Received-SPF: %s (", spf_result_name(r));
	rc |= spf_hdr_ctext(&s, receiver, 128);
	rc |= str_append_str(&s, ": ");
	switch (r) {
	case SPF_RES_PASS:
	case SPF_RES_FAIL:
	case SPF_RES_SOFTFAIL:
		rc |= str_appendf(&s, "domain of %s",
		    r == SPF_RES_SOFTFAIL ? "transitioning " : "");
		rc |= spf_hdr_ctext(&s, who, 300);
		rc |= str_appendf(&s, " %s ", r == SPF_RES_PASS ? "designates" :
		    "does not designate");
		rc |= spf_hdr_ctext(&s, req->ip, SPF_IP_MAX);
		rc |= str_append_str(&s, " as permitted sender");
		break;
	case SPF_RES_NEUTRAL:
		rc |= spf_hdr_ctext(&s, req->ip, SPF_IP_MAX);
		rc |= str_append_str(&s, " is neither permitted nor denied by "
		    "domain of ");
		rc |= spf_hdr_ctext(&s, who, 300);
		break;
	case SPF_RES_NONE:
		rc |= str_append_str(&s, "domain of ");
		rc |= spf_hdr_ctext(&s, domain, 300);
		rc |= str_append_str(&s, " does not publish SPF");
		break;
	case SPF_RES_TEMPERROR:
		rc |= str_append_str(&s, "temporary error checking ");
		rc |= spf_hdr_ctext(&s, domain, 300);
		break;
	case SPF_RES_PERMERROR:
		rc |= str_append_str(&s, "permanent error in SPF of ");
		rc |= spf_hdr_ctext(&s, domain, 300);
		break;
	}
	rc |= str_append_str(&s, ")\r\n\tclient-ip=");
	rc |= spf_hdr_value(&s, req->ip, SPF_IP_MAX + 2);
	rc |= str_append_str(&s, "; envelope-from=");
	rc |= spf_hdr_quoted(&s, req->from, 900);
	rc |= str_append_str(&s, ";\r\n\thelo=");
	rc |= spf_hdr_value(&s, req->helo, 600);
	rc |= str_append_str(&s, "; receiver=");
	rc |= spf_hdr_value(&s, receiver, 260);
	rc |= str_appendf(&s, "; identity=%s;",
	    req->from[0] != '\0' ? "mailfrom" : "helo");
	if (rc != 0)
		str_clear(&s);		/* unbounded str: cannot happen */
	if (!str_copy(header, str_c(&s), size))
		/* Never hand out a field cut inside a quote or a line. */
		(void)str_printf(header, size, "Received-SPF: %s",
		    spf_result_name(r));
	str_release(&s);
}
