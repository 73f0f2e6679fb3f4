/* SPDX-License-Identifier: MIT */
/*
 * cmd_select.c - entering and leaving the selected state: SELECT and
 * EXAMINE (RFC 3501 6.3.1-2, CONDSTORE RFC 7162 3.1.8), CHECK, CLOSE,
 * UNSELECT (RFC 3691), EXPUNGE and UID EXPUNGE (RFC 4315)
 */
#include <stdlib.h>
#include <string.h>

#include "folders.h"
#include "imapd.h"
#include "log.h"
#include "mailbox.h"
#include "mem.h"
#include "search.h"
#include "str.h"

static const char imap_sysflags[] =
    "\\Answered \\Flagged \\Deleted \\Seen \\Draft";

/* The folder's flags and keywords: "(\Answered ... kw1 kw2" (no ')'). */
static void
put_flag_names(struct str *o, const struct mailbox *mb)
{
	unsigned int	i, n = mailbox_keyword_count(mb);

	if (str_append_c(o, '(') == -1 || str_append_str(o, imap_sysflags) ==
	    -1)
		panic("put_flag_names: buffer");
	for (i = 0; i < n; i++)
		if (str_appendf(o, " %s", mailbox_keyword_name(mb, i)) == -1)
			panic("put_flag_names: buffer");
}

static void
select_folder(struct imap_session *s, bool examine)
{
	struct imap_cur		 c;
	struct imap_str		 name, p;
	struct mailbox		*mb;
	struct mailbox_msg	 m;
	struct fail		 f;
	struct str		 o;
	char			 storage[IMAP_FOLDER_MAX + 1];
	const char		*err;
	uint32_t		 i, count, unseen = 0;
	bool			 condstore = false;

	imap_args(s, &c);
	if (!imap_astring(&c, &name)) {
		imap_bad(s, "%s takes a mailbox name: %s %s INBOX",
		    examine ? "EXAMINE" : "SELECT", s->tag,
		    examine ? "EXAMINE" : "SELECT");
		return;
	}
	if (imap_sp(&c)) {
		if (!imap_take(&c, '(') || !imap_atom(&c, &p) ||
		    !imap_str_eq(&p, "CONDSTORE") || !imap_take(&c, ')')) {
			imap_bad(s, "Unsupported SELECT parameters.");
			return;
		}
		condstore = true;
	}
	if (!imap_eol(&c)) {
		imap_bad(s, "Invalid arguments.");
		return;
	}
	if (s->state == IMAP_SELECTED) {
		imap_unselect(s);
		imap_untagged(s, "OK [CLOSED] Previous mailbox closed.");
	}
	if (imap_folder_name(s, &name, storage, sizeof(storage), &err) == -1) {
		imap_no(s, NULL, "%s", err);
		return;
	}
	if ((mb = mailbox_open(&s->loc, storage, examine ? MAILBOX_RDONLY : 0,
	    &f)) == NULL) {
		if (f.temp) {
			log_warn(s->base.id, "select failed folder=%s "
			    "reason=\"%s\"", storage, f.text);
			imap_no(s, "UNAVAILABLE", "Cannot open the mailbox.");
		} else
			imap_no(s, "NONEXISTENT", "Mailbox doesn't exist.");
		return;
	}
	if (condstore)
		s->enabled |= IMAP_EN_CONDSTORE;
	s->mb = mb;
	(void)str_copy(s->folder, storage, sizeof(s->folder));
	s->readonly = examine || mailbox_is_readonly(mb);
	s->recent_uid = s->readonly ? imap_recent_peek(mb) :
	    imap_recent_claim(mb);
	imap_set_state(s, IMAP_SELECTED);

	count = mailbox_count(mb);
	for (i = 1; i <= count && unseen == 0; i++)
		if (mailbox_msg(mb, i, &m) == 0 &&
		    (m.flags & MAILBOX_SEEN) == 0)
			unseen = i;
	str_init(&o, 0);
	put_flag_names(&o, mb);
	imap_untagged(s, "FLAGS %s)", str_c(&o));
	if (s->readonly)
		imap_untagged(s, "OK [PERMANENTFLAGS ()] Read-only mailbox.");
	else
		imap_untagged(s, "OK [PERMANENTFLAGS %s \\*)] Flags "
		    "permitted.", str_c(&o));
	str_release(&o);
	imap_untagged(s, "%u EXISTS", (unsigned int)count);
	imap_untagged(s, "%u RECENT", (unsigned int)imap_recent_count(s));
	if (unseen != 0)
		imap_untagged(s, "OK [UNSEEN %u] First unseen.",
		    (unsigned int)unseen);
	imap_untagged(s, "OK [UIDVALIDITY %u] UIDs valid",
	    (unsigned int)mailbox_uidvalidity(mb));
	imap_untagged(s, "OK [UIDNEXT %u] Predicted next UID",
	    (unsigned int)mailbox_uidnext(mb));
	if (s->enabled & IMAP_EN_CONDSTORE)
		imap_untagged(s, "OK [HIGHESTMODSEQ %llu] Highest",
		    (unsigned long long)mailbox_highestmodseq(mb));
	imap_ok(s, s->readonly ? "READ-ONLY" : "READ-WRITE", "%s completed.",
	    examine ? "Examine" : "Select");
}

void
cmd_select(struct imap_session *s, char *arg)
{
	(void)arg;
	select_folder(s, false);
}

void
cmd_examine(struct imap_session *s, char *arg)
{
	(void)arg;
	select_folder(s, true);
}

static bool
no_args(struct imap_session *s, const char *verb)
{
	if (s->args_len == 0)
		return true;
	imap_bad(s, "%s takes no arguments.", verb);
	return false;
}

void
cmd_check(struct imap_session *s, char *arg)
{
	(void)arg;
	if (no_args(s, "CHECK"))
		imap_ok(s, NULL, "Check completed.");
}

/* RFC 3501 6.4.2: expunge silently, then leave. */
void
cmd_close(struct imap_session *s, char *arg)
{
	struct fail	f;

	(void)arg;
	if (!no_args(s, "CLOSE"))
		return;
	if (!s->readonly && mailbox_expunge(s->mb, NULL, 0, &f) == -1)
		log_warn(s->base.id, "close: expunge failed folder=%s "
		    "reason=\"%s\"", s->folder, f.text);
	imap_unselect(s);
	imap_ok(s, NULL, "Close completed.");
}

void
cmd_unselect(struct imap_session *s, char *arg)
{
	(void)arg;
	if (!no_args(s, "UNSELECT"))
		return;
	imap_unselect(s);
	imap_ok(s, NULL, "Unselect completed.");
}

/* EXPUNGE, or UID EXPUNGE of a UID set: the view's \Deleted messages in
 * it.  The EXPUNGE responses come from the sync after the command. */
void
imap_expunge(struct imap_session *s, bool uid)
{
	struct imap_cur		 c;
	struct imap_str		 set;
	struct seqset		 ss;
	struct mailbox_msg	 m;
	struct fail		 f;
	uint32_t		*uids = NULL, i, count = mailbox_count(s->mb);
	size_t			 n = 0;
	int			 r;

	imap_args(s, &c);
	if (uid) {
		if (!imap_seqset_text(&c, &set) || !imap_eol(&c) ||
		    seqset_parse(&ss, set.s, set.len, count > 0 &&
		    mailbox_msg(s->mb, count, &m) == 0 ? m.uid : 0) == -1) {
			imap_bad(s, "UID EXPUNGE takes a UID set.");
			return;
		}
		uids = xreallocarray(NULL, count > 0 ? count : 1,
		    sizeof(*uids));
		for (i = 1; i <= count; i++)
			if (mailbox_msg(s->mb, i, &m) == 0 &&
			    (m.flags & MAILBOX_DELETED) != 0 &&
			    seqset_has(&ss, m.uid))
				uids[n++] = m.uid;
		seqset_free(&ss);
	} else if (!no_args(s, "EXPUNGE"))
		return;
	if (s->readonly) {
		free(uids);
		imap_no(s, "READ-ONLY", "Mailbox is read-only.");
		return;
	}
	r = 0;
	if (!uid || n > 0)
		r = mailbox_expunge(s->mb, uids, n, &f);
	free(uids);
	if (r == -1) {
		log_warn(s->base.id, "expunge failed folder=%s reason=\"%s\"",
		    s->folder, f.text);
		imap_no(s, "UNAVAILABLE", "Expunge failed.");
		return;
	}
	imap_ok(s, NULL, "Expunge completed.");
}

void
cmd_expunge(struct imap_session *s, char *arg)
{
	(void)arg;
	imap_expunge(s, false);
}
