/* SPDX-License-Identifier: MIT */
/*
 * commands.c - the IMAP command table, dispatch, the replies and the
 * mailbox sync that tells a client what changed
 *
 * One whole command (session.c collected it with its literals) is
 * "tag SP verb [SP arguments]".  The verb is looked up without case in
 * the table (common/cmdtab.h), its state checked, and its handler run;
 * while it runs, its tagged completion is held in s->done, so that the
 * untagged news of the sync that follows (RFC 3501 5.2: EXPUNGE, EXISTS,
 * RECENT, FETCH FLAGS) goes out before it.  FETCH, STORE and SEARCH
 * never report expunges (RFC 3501 7.4.1), so after them the sync waits.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fetch.h"
#include "folders.h"
#include "imapd.h"
#include "log.h"
#include "mailbox.h"
#include "mem.h"
#include "search.h"
#include "str.h"

CMDTAB_STRUCT(imap_cmd, struct imap_session);

#define ANY	IMAP_ST_ANY
#define NOAUTH	IMAP_ST_NOAUTH
#define AUTH	IMAP_ST_AUTH
#define SEL	IMAP_ST_SEL
#define NOSYNC	IMAP_CMD_NOSYNC
#define PRETLS	CMDTAB_F_PRE_TLS
#define LOGIN	CMDTAB_F_LOGIN

static const struct imap_cmd imap_cmds[] = {
	{ "CAPABILITY", cmd_capability, ANY, PRETLS },
	{ "NOOP", cmd_noop, ANY, PRETLS },
	{ "LOGOUT", cmd_logout, ANY, PRETLS },
	{ "ID", cmd_id, ANY, PRETLS },
	{ "STARTTLS", cmd_starttls, NOAUTH, PRETLS },
	{ "LOGIN", cmd_login, NOAUTH, LOGIN },
	{ "AUTHENTICATE", cmd_authenticate, NOAUTH, LOGIN },
	{ "ENABLE", cmd_enable, AUTH, 0 },
	{ "SELECT", cmd_select, AUTH, 0 },
	{ "EXAMINE", cmd_examine, AUTH, 0 },
	{ "CREATE", cmd_create, AUTH, 0 },
	{ "DELETE", cmd_delete, AUTH, 0 },
	{ "RENAME", cmd_rename, AUTH, 0 },
	{ "SUBSCRIBE", cmd_subscribe, AUTH, 0 },
	{ "UNSUBSCRIBE", cmd_unsubscribe, AUTH, 0 },
	{ "LIST", cmd_list, AUTH, 0 },
	{ "LSUB", cmd_lsub, AUTH, 0 },
	{ "STATUS", cmd_status, AUTH, 0 },
	{ "APPEND", cmd_append, AUTH, 0 },
	{ "NAMESPACE", cmd_namespace, AUTH, 0 },
	{ "GETQUOTA", cmd_getquota, AUTH, 0 },
	{ "GETQUOTAROOT", cmd_getquotaroot, AUTH, 0 },
	{ "SETQUOTA", cmd_setquota, AUTH, 0 },
	{ "IDLE", cmd_idle, AUTH, 0 },
	{ "CHECK", cmd_check, SEL, 0 },
	{ "CLOSE", cmd_close, SEL, 0 },
	{ "UNSELECT", cmd_unselect, SEL, 0 },
	{ "EXPUNGE", cmd_expunge, SEL, 0 },
	{ "SEARCH", cmd_search, SEL, NOSYNC },
	{ "FETCH", cmd_fetch, SEL, NOSYNC },
	{ "STORE", cmd_store, SEL, NOSYNC },
	{ "COPY", cmd_copy, SEL, 0 },
	{ "MOVE", cmd_move, SEL, 0 },
	{ "SORT", cmd_sort, SEL, NOSYNC },
	{ "THREAD", cmd_thread, SEL, NOSYNC },
	{ "UID", cmd_uid, SEL, 0 },
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
out_overflow(struct imap_session *s)
{
	if (!s->base.closing) {
		log_warn(s->base.id, "reply buffer full: closing");
		s->base.closing = true;
	}
}

static void
vline(struct imap_session *s, struct str *to, const char *prefix,
    const char *fmt, va_list ap)
{
	if (str_append_str(to, prefix) == -1 ||
	    str_vappendf(to, fmt, ap) == -1 ||
	    str_append(to, "\r\n", 2) == -1)
		out_overflow(s);
}

void
imap_untagged(struct imap_session *s, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vline(s, &s->out, "* ", fmt, ap);
	va_end(ap);
}

void
imap_cont(struct imap_session *s, const char *text)
{
	if (str_appendf(&s->out, "+ %s\r\n", text) == -1)
		out_overflow(s);
}

static void
tagged(struct imap_session *s, const char *status, const char *code,
    const char *fmt, va_list ap)
{
	struct str	*to = s->in_dispatch ? &s->done : &s->out;

	if (str_appendf(to, "%s %s ", s->tag, status) == -1 ||
	    (code != NULL && str_appendf(to, "[%s] ", code) == -1)) {
		out_overflow(s);
		return;
	}
	vline(s, to, "", fmt, ap);
	s->completed = true;
}

void
imap_ok(struct imap_session *s, const char *code, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	tagged(s, "OK", code, fmt, ap);
	va_end(ap);
}

void
imap_no(struct imap_session *s, const char *code, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	tagged(s, "NO", code, fmt, ap);
	va_end(ap);
}

void
imap_bad(struct imap_session *s, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	tagged(s, "BAD", NULL, fmt, ap);
	va_end(ap);
	if (++s->errors >= s->srv->conf.max_errors) {
		log_info(s->base.id, "too many errors errors=%u", s->errors);
		if (s->in_dispatch && str_append(&s->out, s->done.data,
		    s->done.len) == 0)
			str_clear(&s->done);
		imap_untagged(s, "BYE Too many invalid IMAP commands.");
		imap_set_state(s, IMAP_LOGOUT);
	}
}

void
imap_args(struct imap_session *s, struct imap_cur *c)
{
	imap_cur_init(c, s->args, s->args_len);
}

bool
imap_no_args(struct imap_session *s)
{
	struct imap_cur	 c;

	imap_args(s, &c);
	if (!imap_eol(&c)) {
		imap_bad(s, "Unexpected arguments.");
		return false;
	}
	return true;
}

/* ---- capabilities ---- */

bool
imap_login_allowed(const struct imap_session *s)
{
	return s->base.is_tls || (s->is_loopback &&
	    s->srv->conf.plaintext_loopback);
}

void
imap_capability(const struct imap_session *s, struct str *out)
{
	int	 rc;

	rc = str_append_str(out, "IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE");
	if (s->state == IMAP_NOT_AUTH) {
		if (rc == 0 && s->srv->tls_ctx != NULL && !s->base.is_tls)
			rc = str_append_str(out, " STARTTLS");
		if (rc == 0)
			rc = str_append_str(out, imap_login_allowed(s) ?
			    " AUTH=PLAIN AUTH=LOGIN" : " LOGINDISABLED");
	} else if (rc == 0)
		rc = str_append_str(out, " UIDPLUS MOVE NAMESPACE UNSELECT "
		    "CHILDREN SPECIAL-USE LIST-EXTENDED LIST-STATUS CONDSTORE "
		    "QRESYNC ESEARCH SORT SORT=DISPLAY THREAD=ORDEREDSUBJECT "
		    "THREAD=REFERENCES STATUS=SIZE QUOTA QUOTA=RES-STORAGE "
		    "UTF8=ACCEPT");
	(void)rc;	/* a capability list always fits */
}

void
imap_greet(struct imap_session *s)
{
	struct str	 caps;

	str_init(&caps, 0);
	imap_capability(s, &caps);
	imap_untagged(s, "OK [CAPABILITY %s] buzon IMAP4rev1 ready.",
	    str_c(&caps));
	str_release(&caps);
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
	uint32_t	 seq;

	if (s->mb == NULL || s->recent_uid == 0)
		return 0;
	seq = mailbox_seq_of_uid(s->mb, s->recent_uid);
	if (seq == 0) {	/* that one is gone: count from the top */
		struct mailbox_msg	 m;
		uint32_t		 n = mailbox_count(s->mb), c = 0;

		for (seq = n; seq >= 1; seq--) {
			if (mailbox_msg(s->mb, seq, &m) == -1 ||
			    m.uid < s->recent_uid)
				break;
			c++;
		}
		return c;
	}
	return mailbox_count(s->mb) - seq + 1;
}

void
imap_condstore_on(struct imap_session *s)
{
	uint64_t	 h;

	if (s->enabled & IMAP_EN_CONDSTORE)
		return;
	s->enabled |= IMAP_EN_CONDSTORE;
	if (s->state == IMAP_SELECTED && s->mb != NULL) {
		h = mailbox_highestmodseq(s->mb);
		imap_untagged(s, "OK [HIGHESTMODSEQ %" PRIu64 "] Highest",
		    h > 0 ? h : 1);
	}
}

void
imap_flags_news(struct imap_session *s)
{
	struct str	 line;

	if (s->mb == NULL || mailbox_keyword_count(s->mb) == s->kw_shown)
		return;
	s->kw_shown = mailbox_keyword_count(s->mb);
	str_init(&line, 0);
	if (str_append_str(&line, "* FLAGS ") == 0 &&
	    imap_put_flag_names(&line, s->mb, false) == 0 &&
	    str_append_str(&line, "\r\n* OK [PERMANENTFLAGS ") == 0 &&
	    (s->readonly ? str_append_str(&line, "()") :
	    imap_put_flag_names(&line, s->mb, true)) == 0 &&
	    str_append_str(&line, "] Flags permitted.\r\n") == 0 &&
	    str_append(&s->out, line.data, line.len) == -1)
		out_overflow(s);
	str_release(&line);
}

/* ---- the sync ---- */

void
imap_sync_report(struct imap_session *s)
{
	struct mailbox_changes	 ch;
	struct mailbox_msg	 m;
	struct fail		 f;
	struct str		 line;
	uint32_t		 seq, first;
	size_t			 i;

	if (s->state != IMAP_SELECTED || s->mb == NULL)
		return;
	if (mailbox_sync(s->mb, &ch, &f) == -1) {
		log_warn(s->base.id, "sync failed folder=%s: %s", s->folder,
		    f.text);
		return;
	}
	if (ch.uidvalidity_changed) {
		/* The index was rebuilt: the client must start over. */
		imap_untagged(s, "BYE [UNAVAILABLE] The mailbox was rebuilt; "
		    "select it again.");
		imap_set_state(s, IMAP_LOGOUT);
		return;
	}
	imap_flags_news(s);
	if (ch.n_expunged > 0) {
		if (s->enabled & IMAP_EN_QRESYNC) {
			str_init(&line, 0);
			if (str_append_str(&line, "VANISHED ") == 0 &&
			    seqset_put(&line, ch.expunged_uids,
			    ch.n_expunged) == 0)
				imap_untagged(s, "%s", str_c(&line));
			str_release(&line);
		} else
			for (i = ch.n_expunged; i > 0; i--)
				imap_untagged(s, "%" PRIu32 " EXPUNGE",
				    ch.expunged_seqs[i - 1]);
	}
	if (ch.new_count != ch.old_count - (uint32_t)ch.n_expunged) {
		imap_untagged(s, "%" PRIu32 " EXISTS", ch.new_count);
		/* The new ones are \Recent here if no session saw them. */
		if (!s->readonly && (first = imap_recent_claim(s->mb)) != 0 &&
		    s->recent_uid == 0)
			s->recent_uid = first;
		imap_untagged(s, "%" PRIu32 " RECENT", imap_recent_count(s));
	}
	for (i = 0; i < ch.n_changed; i++) {
		if ((seq = mailbox_seq_of_uid(s->mb, ch.changed_uids[i])) ==
		    0 || mailbox_msg(s->mb, seq, &m) == -1)
			continue;
		str_init(&line, 0);
		if (str_appendf(&line, "* %" PRIu32 " FETCH (", seq) == 0 &&
		    ((s->enabled & (IMAP_EN_CONDSTORE | IMAP_EN_QRESYNC)) == 0
		    || str_appendf(&line, "UID %" PRIu32 " ", m.uid) == 0) &&
		    str_append_str(&line, "FLAGS ") == 0 &&
		    imap_put_flags(&line, s->mb, &m,
		    imap_is_recent(s, m.uid)) == 0 &&
		    ((s->enabled & IMAP_EN_CONDSTORE) == 0 ||
		    str_appendf(&line, " MODSEQ (%" PRIu64 ")", m.modseq) ==
		    0) && str_append_str(&line, ")\r\n") == 0 &&
		    str_append(&s->out, line.data, line.len) == -1)
			out_overflow(s);
		str_release(&line);
	}
}

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

/* ---- dispatch ---- */

static bool
is_tag_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\+", c) == NULL;
}

void
imap_dispatch(struct imap_session *s)
{
	const struct imap_cmd	*c;
	char			*p = s->cmd.data, *end, verb[32];
	size_t			 n;

	if (p == NULL || s->cmd.len == 0)
		return;
	end = p + s->cmd.len;
	s->completed = false;
	for (n = 0; p + n < end && is_tag_char((unsigned char)p[n]); n++)
		continue;
	if (n == 0 || n > IMAP_TAG_MAX || p + n == end || p[n] != ' ') {
		(void)str_copy(s->tag, "*", sizeof(s->tag));
		imap_bad(s, "Error in IMAP command received by server.");
		return;
	}
	memcpy(s->tag, p, n);
	s->tag[n] = '\0';
	p += n + 1;
	for (n = 0; p + n < end && p[n] != ' ' && n < sizeof(verb) - 1; n++)
		verb[n] = p[n];
	verb[n] = '\0';
	if (n == 0) {
		imap_bad(s, "Error in IMAP command received by server.");
		return;
	}
	if (s->state == IMAP_NOT_AUTH && ++s->commands > IMAP_PREAUTH_MAX) {
		imap_untagged(s, "BYE Too many commands before login.");
		imap_set_state(s, IMAP_LOGOUT);
		return;
	}
	CMDTAB_FIND(imap_cmds, verb, c);
	if (c->verb == NULL) {
		char	 safe[40];

		(void)str_sanitize(safe, sizeof(safe), verb, strlen(verb));
		imap_bad(s, "Error in IMAP command %s: Unknown command.", safe);
		return;
	}
	if (!CMDTAB_ALLOWED(c, s->state)) {
		if (s->state == IMAP_NOT_AUTH)
			imap_bad(s, "Error in IMAP command %s: Log in first.",
			    c->verb);
		else if (c->states == NOAUTH)
			imap_bad(s, "Error in IMAP command %s: Already logged "
			    "in.", c->verb);
		else
			imap_bad(s, "Error in IMAP command %s: No mailbox "
			    "selected.", c->verb);
		return;
	}
	if ((c->flags & LOGIN) && !imap_login_allowed(s)) {
		imap_no(s, "PRIVACYREQUIRED", "Plaintext authentication "
		    "disallowed on non-secure (SSL/TLS) connections.");
		return;
	}
	p += n;
	if (p < end && *p == ' ')
		p++;
	else if (p < end) {
		imap_bad(s, "Error in IMAP command %s: Expected a space.",
		    c->verb);
		return;
	}
	s->args = p;
	s->args_len = (size_t)(end - p);
	str_clear(&s->done);
	s->cmd_nosync = false;
	s->in_dispatch = true;
	c->fn(s, s->args);
	s->in_dispatch = false;
	if (!s->completed && s->pending == NULL && s->base.cont == NULL &&
	    !s->idling && s->fetch == NULL) {
		log_error(s->base.id, "%s left without a reply", c->verb);
		imap_no(s, "SERVERBUG", "Internal error.");
	}
	/* The news of the sync go before the tagged reply. */
	if (s->state == IMAP_SELECTED && !(c->flags & NOSYNC) &&
	    !s->cmd_nosync && s->done.len > 0)
		imap_sync_report(s);
	if (s->done.len > 0 && str_append(&s->out, s->done.data,
	    s->done.len) == -1)
		out_overflow(s);
	str_clear(&s->done);
}
