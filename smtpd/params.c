/* SPDX-License-Identifier: MIT */
/*
 * params.c - ESMTP parameters of MAIL FROM and RCPT TO
 */
#include <string.h>
#include <strings.h>

#include "params.h"
#include "rfc5321.h"
#include "str.h"

/* Marks a fail as "unknown parameter" for params_reply_code(). */
#define UNKNOWN_MARK	"Unsupported parameter"

static bool
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

bool
params_xtext_valid(const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '+') {
			if (!is_hex(s[1]) || !is_hex(s[2]))
				return false;
			s += 2;
		} else if (c < 33 || c > 126 || c == '=')
			return false;
	}
	return true;
}

/* Take the next "KEY[=VALUE]" off *sp.  Returns false at the end. */
static bool
next_param(char **sp, char **key_r, char **val_r)
{
	char	*s = *sp, *eq;

	while (*s == ' ')
		s++;
	if (*s == '\0')
		return false;
	*key_r = s;
	s += strcspn(s, " ");
	if (*s != '\0')
		*s++ = '\0';
	*sp = s;
	if ((eq = strchr(*key_r, '=')) != NULL) {
		*eq = '\0';
		*val_r = eq + 1;
	} else
		*val_r = NULL;
	return true;
}

static int
unknown(struct fail *f, const char *key)
{
	char	 safe[40];

	return fail_set(f, false, "5.5.4", UNKNOWN_MARK " %s",
	    str_sanitize(safe, sizeof(safe), key, strlen(key)));
}

static int
bad_value(struct fail *f, const char *key)
{
	char	 safe[40];

	return fail_set(f, false, "5.5.4", "Bad %s parameter value",
	    str_sanitize(safe, sizeof(safe), key, strlen(key)));
}

static int
repeated(struct fail *f, const char *key)
{
	char	 safe[40];

	return fail_set(f, false, "5.5.4", "Repeated %s parameter",
	    str_sanitize(safe, sizeof(safe), key, strlen(key)));
}

int
params_mail(char *s, const struct params_offer *o, struct mail_params *p,
    struct fail *f)
{
	char		*key, *val;
	unsigned int	 seen = 0;
	enum { S_SIZE = 1, S_BODY = 2, S_UTF8 = 4, S_RET = 8, S_ENVID = 16,
	    S_AUTH = 32 };

	memset(p, 0, sizeof(*p));
	while (next_param(&s, &key, &val)) {
		if (strcasecmp(key, "SIZE") == 0) {
			if (seen & S_SIZE)
				return repeated(f, key);
			seen |= S_SIZE;
			if (val == NULL ||
			    strnum_u64(val, 0, UINT64_MAX, &p->size) == -1)
				return bad_value(f, key);
			if (o->max_size != 0 && p->size > o->max_size)
				return fail_set(f, false, "5.3.4",
				    "Message size exceeds fixed maximum "
				    "message size");
		} else if (strcasecmp(key, "BODY") == 0) {
			if (seen & S_BODY)
				return repeated(f, key);
			seen |= S_BODY;
			if (val != NULL && strcasecmp(val, "7BIT") == 0)
				p->body = MAIL_BODY_7BIT;
			else if (val != NULL && strcasecmp(val, "8BITMIME") == 0)
				p->body = MAIL_BODY_8BITMIME;
			else if (val != NULL && strcasecmp(val, "BINARYMIME") == 0)
				return fail_set(f, false, "5.5.4",
				    UNKNOWN_MARK " BODY=BINARYMIME");
			else
				return bad_value(f, key);
		} else if (strcasecmp(key, "SMTPUTF8") == 0 && o->smtputf8) {
			if (seen & S_UTF8)
				return repeated(f, key);
			seen |= S_UTF8;
			if (val != NULL)
				return bad_value(f, key);
			p->smtputf8 = true;
		} else if (strcasecmp(key, "RET") == 0 && o->dsn) {
			if (seen & S_RET)
				return repeated(f, key);
			seen |= S_RET;
			if (val != NULL && strcasecmp(val, "FULL") == 0)
				p->ret = MAIL_RET_FULL;
			else if (val != NULL && strcasecmp(val, "HDRS") == 0)
				p->ret = MAIL_RET_HDRS;
			else
				return bad_value(f, key);
		} else if (strcasecmp(key, "ENVID") == 0 && o->dsn) {
			if (seen & S_ENVID)
				return repeated(f, key);
			seen |= S_ENVID;
			if (val == NULL || *val == '\0' ||
			    strlen(val) > PARAMS_ENVID_MAX ||
			    !params_xtext_valid(val))
				return bad_value(f, key);
			(void)str_copy(p->envid, val, sizeof(p->envid));
		} else if (strcasecmp(key, "AUTH") == 0) {
			/* RFC 4954 5: accepted; "<>" or an xtext mailbox. */
			if (seen & S_AUTH)
				return repeated(f, key);
			seen |= S_AUTH;
			if (val == NULL || strlen(val) > PARAMS_ORCPT_MAX ||
			    (strcmp(val, "<>") != 0 && !params_xtext_valid(val)))
				return bad_value(f, key);
			(void)str_copy(p->auth, val, sizeof(p->auth));
		} else
			return unknown(f, key);
	}
	return 0;
}

static int
parse_notify(char *val, unsigned int *r)
{
	char		*w, *next;
	unsigned int	 n = 0;

	for (w = val; w != NULL; w = next) {
		if ((next = strchr(w, ',')) != NULL)
			*next++ = '\0';
		if (strcasecmp(w, "NEVER") == 0)
			n |= NOTIFY_NEVER;
		else if (strcasecmp(w, "SUCCESS") == 0)
			n |= NOTIFY_SUCCESS;
		else if (strcasecmp(w, "FAILURE") == 0)
			n |= NOTIFY_FAILURE;
		else if (strcasecmp(w, "DELAY") == 0)
			n |= NOTIFY_DELAY;
		else
			return -1;
	}
	/* RFC 3461 4.1: NEVER stands alone. */
	if (n == 0 || ((n & NOTIFY_NEVER) && n != NOTIFY_NEVER))
		return -1;
	*r = n;
	return 0;
}

int
params_rcpt(char *s, const struct params_offer *o, struct rcpt_params *p,
    struct fail *f)
{
	char	*key, *val, *semi;
	bool	 seen_orcpt = false;

	memset(p, 0, sizeof(*p));
	while (next_param(&s, &key, &val)) {
		if (strcasecmp(key, "NOTIFY") == 0 && o->dsn) {
			if (p->notify != 0)
				return repeated(f, key);
			if (val == NULL || parse_notify(val, &p->notify) == -1)
				return bad_value(f, key);
		} else if (strcasecmp(key, "ORCPT") == 0 && o->dsn) {
			if (seen_orcpt)
				return repeated(f, key);
			seen_orcpt = true;
			/* addr-type ";" xtext, e.g. rfc822;alice@example.test
			 * (utf-8 addresses use utf-8-addr-xtext, RFC 6533) */
			if (val == NULL || strlen(val) > PARAMS_ORCPT_MAX ||
			    (semi = strchr(val, ';')) == NULL || semi == val ||
			    semi[1] == '\0' || !params_xtext_valid(semi + 1))
				return bad_value(f, key);
			(void)str_copy(p->orcpt, val, sizeof(p->orcpt));
		} else
			return unknown(f, key);
	}
	return 0;
}

int
params_reply_code(const struct fail *f)
{
	if (strcmp(f->code, "5.3.4") == 0)
		return 552;
	if (strncmp(f->text, UNKNOWN_MARK, strlen(UNKNOWN_MARK)) == 0)
		return 555;
	return 501;
}
