/* SPDX-License-Identifier: MIT */
/*
 * commands.c - the IMAP verb table (common/cmdtab.h), dispatch of one
 * collected command, the reply helpers of imapd.h and the mailbox sync
 * that reports other sessions' changes
 *
 * A command is "tag SP verb [SP args]" (RFC 3501 9: tag is 1*<ASTRING-CHAR
 * except "+">).  Verbs match without case.  The handler's tagged reply is
 * held in s->done while it runs, so that the untagged EXPUNGE/EXISTS/FETCH
 * of the sync after it (RFC 3501 5.2, 7.4.1) go out before it; FETCH,
 * STORE and SEARCH (IMAP_CMD_NOSYNC) are never followed by a sync, as
 * their sequence numbers must stay valid (RFC 3501 5.5).
 *
 * Texts follow Dovecot's where it has one, so that course material
 * written against it reads the same here.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "folders.h"
#include "imapd.h"
#include "log.h"
#include "mailbox.h"
#include "str.h"

#define IMAP_VERB_MAX	32

typedef CMDTAB_ENTRY(struct imap_session) imap_cmd;

static const imap_cmd imap_cmds[] = {
	{ "CAPABILITY", cmd_capability, IMAP_ST_ANY, 0 },
	{ "NOOP", cmd_noop, IMAP_ST_ANY, 0 },
	{ "LOGOUT", cmd_logout, IMAP_ST_ANY, 0 },
	{ "ID", cmd_id, IMAP_ST_ANY, 0 },
	{ "STARTTLS", cmd_starttls, IMAP_ST_NOAUTH, 0 },
	{ "LOGIN", cmd_login, IMAP_ST_NOAUTH, CMDTAB_F_LOGIN },
	{ "AUTHENTICATE", cmd_authenticate, IMAP_ST_NOAUTH, CMDTAB_F_LOGIN },
	{ "ENABLE", cmd_enable, IMAP_ST_AUTH, 0 },
	{ "IDLE", cmd_idle, IMAP_ST_AUTH, 0 },
	{ "SELECT", cmd_select, IMAP_ST_AUTH, 0 },
	{ "EXAMINE", cmd_examine, IMAP_ST_AUTH, 0 },
	{ "CREATE", cmd_create, IMAP_ST_AUTH, 0 },
	{ "DELETE", cmd_delete, IMAP_ST_AUTH, 0 },
	{ "RENAME", cmd_rename, IMAP_ST_AUTH, 0 },
	{ "SUBSCRIBE", cmd_subscribe, IMAP_ST_AUTH, 0 },
	{ "UNSUBSCRIBE", cmd_unsubscribe, IMAP_ST_AUTH, 0 },
	{ "LIST", cmd_list, IMAP_ST_AUTH, 0 },
	{ "LSUB", cmd_lsub, IMAP_ST_AUTH, 0 },
	{ "STATUS", cmd_status, IMAP_ST_AUTH, 0 },
	{ "NAMESPACE", cmd_namespace, IMAP_ST_AUTH, 0 },
	{ "GETQUOTA", cmd_getquota, IMAP_ST_AUTH, 0 },
	{ "GETQUOTAROOT", cmd_getquotaroot, IMAP_ST_AUTH, 0 },
	{ "SETQUOTA", cmd_setquota, IMAP_ST_AUTH, 0 },
	{ "APPEND", cmd_append, IMAP_ST_AUTH, 0 },
	{ "CHECK", cmd_check, IMAP_ST_SEL, 0 },
	{ "CLOSE", cmd_close, IMAP_ST_SEL, 0 },
	{ "UNSELECT", cmd_unselect, IMAP_ST_SEL, 0 },
	{ "EXPUNGE", cmd_expunge, IMAP_ST_SEL, 0 },
	{ "COPY", cmd_copy, IMAP_ST_SEL, 0 },
	{ "MOVE", cmd_move, IMAP_ST_SEL, 0 },
	{ "UID", cmd_uid, IMAP_ST_SEL, 0 },
	{ NULL, NULL, 0, 0 }
};

const char *
imap_state_name(enum imap_state st)
{
	static const char *const names[IMAP_STATE_COUNT] = {
		"not-authenticated", "authenticated", "selected", "logout"
	};

	return (unsigned int)st < IMAP_STATE_COUNT ? names[st] : "?";
}

void
imap_set_state(struct imap_session *s, enum imap_state st)
{
	if (s->state == st)
		return;
	log_debug(s->base.id, "state %s -> %s", imap_state_name(s->state),
	    imap_state_name(st));
	s->state = st;
	if (st == IMAP_LOGOUT)
		s->base.closing = true;
}

/* ---- replies ---- */

static void
put_line(struct imap_session *s, struct str *to, const char *line,
    size_t len)
{
	log_trace(s->base.id, LOG_TRACE_SERVER, line, len, 0);
	if (str_append(to, line, len) == -1 || str_append(to, "\r\n", 2) == -1)
		panic("imapd: reply buffer");
}

void
imap_args(struct imap_session *s, struct imap_cur *c)
{
	imap_cur_init(c, s->args, s->args_len);
}

void
imap_untagged(struct imap_session *s, const char *fmt, ...)
{
	char	 line[2048];
	va_list	 ap;
	int	 n;

	line[0] = '*';
	line[1] = ' ';
	va_start(ap, fmt);
	n = vsnprintf(line + 2, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		panic("imap_untagged: vsnprintf");
	if ((size_t)n >= sizeof(line) - 2)
		n = (int)sizeof(line) - 3;
	put_line(s, &s->out, line, (size_t)n + 2);
}

void
imap_cont(struct imap_session *s, const char *text)
{
	char	line[256];

	(void)str_printf(line, sizeof(line), "+ %s", text);
	put_line(s, &s->out, line, strlen(line));
}

static void
tagged(struct imap_session *s, const char *word, const char *code,
    const char *fmt, va_list ap)
{
	char	 line[1024];
	size_t	 len;
	int	 n;

	if (code != NULL)
		n = snprintf(line, sizeof(line), "%s %s [%s] ", s->tag, word,
		    code);
	else
		n = snprintf(line, sizeof(line), "%s %s ", s->tag, word);
	if (n < 0 || (size_t)n >= sizeof(line))
		panic("imapd: tagged reply");
	len = (size_t)n;
	n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	if (n < 0)
		panic("imapd: tagged reply");
	len += (size_t)n >= sizeof(line) - len ? sizeof(line) - len - 1 :
	    (size_t)n;
	put_line(s, s->in_dispatch ? &s->done : &s->out, line, len);
	s->completed = true;
}

void
imap_ok(struct imap_session *s, const char *code, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	tagged(s, "OK", code, fmt, ap);
	va_end(ap);
}

void
imap_no(struct imap_session *s, const char *code, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	tagged(s, "NO", code, fmt, ap);
	va_end(ap);
}

void
imap_bad(struct imap_session *s, const char *fmt, ...)
{
	static const char	 bye[] = "* BYE Too many invalid IMAP commands.";
	va_list			 ap;

	va_start(ap, fmt);
	tagged(s, "BAD", NULL, fmt, ap);
	va_end(ap);
	if (++s->errors >= s->srv->conf.max_errors &&
	    s->state != IMAP_LOGOUT) {
		put_line(s, s->in_dispatch ? &s->done : &s->out, bye,
		    sizeof(bye) - 1);
		log_info(s->base.id, "too many errors errors=%u", s->errors);
		imap_set_state(s, IMAP_LOGOUT);
	}
}

/* ---- \Recent ---- */

bool
imap_is_recent(const struct imap_session *s, uint32_t uid)
{
	return s->recent_uid != 0 && uid >= s->recent_uid;
}

uint32_t
imap_recent_count(const struct imap_session *s)
{
	struct mailbox_msg	 m;
	uint32_t		 lo, hi, mid, count;

	if (s->mb == NULL || s->recent_uid == 0)
		return 0;
	count = mailbox_count(s->mb);
	/* The first sequence number whose UID is recent (UIDs ascend). */
	lo = 1;
	hi = count + 1;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (mailbox_msg(s->mb, mid, &m) == -1)
			break;
		if (m.uid >= s->recent_uid)
			hi = mid;
		else
			lo = mid + 1;
	}
	return count + 1 - lo;
}

/* ---- greeting and capabilities ---- */

bool
imap_login_allowed(const struct imap_session *s)
{
	return s->base.is_tls ||
	    (s->is_loopback && s->srv->conf.plaintext_loopback);
}

/* What works once logged in (RFC 3501 7.2.1, the extensions' RFCs). */
static const char imap_caps_auth[] =
    "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE UIDPLUS MOVE NAMESPACE "
    "UNSELECT CHILDREN SPECIAL-USE LIST-EXTENDED LIST-STATUS STATUS=SIZE "
    "QUOTA";

void
imap_capability(const struct imap_session *s, struct str *out)
{
	int	r;

	r = str_append_str(out, imap_caps_auth);
	if (r == 0 && s->state == IMAP_NOT_AUTH) {
		if (!s->base.is_tls && s->srv->tls_ctx != NULL)
			r = str_append_str(out, " STARTTLS");
		if (r == 0)
			r = str_append_str(out, imap_login_allowed(s) ?
			    " AUTH=PLAIN AUTH=LOGIN" : " LOGINDISABLED");
	}
	if (r == -1)
		panic("imap_capability: buffer");
}

void
imap_greet(struct imap_session *s)
{
	struct str	caps;

	str_init(&caps, 0);
	imap_capability(s, &caps);
	imap_untagged(s, "OK [CAPABILITY %s] buzon IMAP4rev1 ready.",
	    str_c(&caps));
	str_release(&caps);
}

/* ---- the view ---- */

void
imap_unselect(struct imap_session *s)
{
	mailbox_close(&s->mb);
	s->folder[0] = '\0';
	s->readonly = false;
	s->recent_uid = 0;
	if (s->state == IMAP_SELECTED)
		imap_set_state(s, IMAP_AUTH);
}

void
imap_sync_report(struct imap_session *s)
{
	struct mailbox_changes	 ch;
	struct fail		 f;
	size_t			 i;
	uint32_t		 fresh;

	if (s->state != IMAP_SELECTED || s->mb == NULL)
		return;
	if (mailbox_sync(s->mb, &ch, &f) == -1) {
		log_warn(s->base.id, "sync failed folder=%s reason=\"%s\"",
		    s->folder, f.text);
		return;
	}
	if (ch.uidvalidity_changed) {
		imap_untagged(s, "BYE [UNAVAILABLE] The folder was rebuilt "
		    "(UIDVALIDITY changed); please reconnect.");
		imap_set_state(s, IMAP_LOGOUT);
		return;
	}
	if (ch.n_expunged > 0 && (s->enabled & IMAP_EN_QRESYNC)) {
		struct str	v;

		str_init(&v, 0);
		for (i = 0; i < ch.n_expunged; i++)
			if (str_appendf(&v, "%s%u", i > 0 ? "," : "",
			    (unsigned int)ch.expunged_uids[i]) == -1)
				panic("imap_sync_report: buffer");
		imap_untagged(s, "VANISHED %s", str_c(&v));
		str_release(&v);
	} else
		for (i = ch.n_expunged; i > 0; i--)
			imap_untagged(s, "%u EXPUNGE",
			    (unsigned int)ch.expunged_seqs[i - 1]);
	fresh = ch.new_count - (ch.old_count - (uint32_t)ch.n_expunged);
	if (fresh > 0) {
		uint32_t	first;

		/* New mail is \Recent to the first session that sees it. */
		if (!s->readonly && (first = imap_recent_claim(s->mb)) != 0 &&
		    s->recent_uid == 0)
			s->recent_uid = first;
		imap_untagged(s, "%u EXISTS", (unsigned int)ch.new_count);
		imap_untagged(s, "%u RECENT",
		    (unsigned int)imap_recent_count(s));
	}
}

/* ---- dispatch ---- */

static bool
is_tag_char(unsigned char ch)
{
	if (ch <= 0x20 || ch >= 0x7f)
		return false;
	return strchr("(){%*\"\\+", ch) == NULL;
}

static const char *
state_refusal(const imap_cmd *c, enum imap_state st)
{
	if (st == IMAP_NOT_AUTH)
		return "Please log in first.";
	if (c->states == IMAP_ST_NOAUTH)
		return "Already logged in.";
	if (c->states == IMAP_ST_SEL)
		return "No mailbox selected.";
	return "Command not allowed in this state.";
}

void
imap_dispatch(struct imap_session *s)
{
	const imap_cmd	*c;
	char		*p = s->cmd.data, *end = s->cmd.data + s->cmd.len;
	char		 verb[IMAP_VERB_MAX + 1];
	size_t		 n;

	s->completed = false;
	str_clear(&s->done);
	for (n = 0; p + n < end && is_tag_char((unsigned char)p[n]); n++)
		continue;
	if (n == 0 || n > IMAP_TAG_MAX || p + n == end || p[n] != ' ') {
		(void)str_copy(s->tag, "*", sizeof(s->tag));
		imap_bad(s, n == 0 || n > IMAP_TAG_MAX || (p + n < end &&
		    p[n] != ' ') ? "Error in IMAP command received by server: "
		    "invalid tag." : "Error in IMAP command received by "
		    "server: missing command.");
		return;
	}
	memcpy(s->tag, p, n);
	s->tag[n] = '\0';
	p += n + 1;
	for (n = 0; p + n < end && p[n] != ' '; n++)
		continue;
	if (n == 0 || n > IMAP_VERB_MAX || memchr(p, '\0', n) != NULL) {
		imap_bad(s, n == 0 ? "Error in IMAP command received by "
		    "server: missing command." : "Unknown command.");
		return;
	}
	memcpy(verb, p, n);
	verb[n] = '\0';
	p += n;
	if (p < end)
		p++;			/* the SP before the arguments */
	s->args = p;
	s->args_len = (size_t)(end - p);
	if (s->state == IMAP_NOT_AUTH && ++s->commands > IMAP_PREAUTH_MAX) {
		imap_untagged(s, "BYE Too many commands before login.");
		imap_set_state(s, IMAP_LOGOUT);
		return;
	}
	CMDTAB_FIND(imap_cmds, verb, c);
	if (c->verb == NULL) {
		imap_bad(s, "Unknown command.");
		return;
	}
	if (!CMDTAB_ALLOWED(c, s->state)) {
		imap_bad(s, "%s", state_refusal(c, s->state));
		return;
	}
	s->in_dispatch = true;
	s->nosync = (c->flags & IMAP_CMD_NOSYNC) != 0;
	c->fn(s, s->args);
	s->in_dispatch = false;
	if (s->done.len == 0)
		return;			/* answered later (LOGIN, IDLE, FETCH) */
	if (!s->nosync && !s->base.producing)
		imap_sync_report(s);
	if (str_append(&s->out, s->done.data, s->done.len) == -1)
		panic("imap_dispatch: reply buffer");
	str_clear(&s->done);
}
