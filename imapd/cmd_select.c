/* SPDX-License-Identifier: MIT */
/*
 * cmd_select.c - SELECT and EXAMINE (RFC 3501 6.3.1-2, CONDSTORE and
 * QRESYNC parameters RFC 7162), CHECK, CLOSE, UNSELECT, EXPUNGE and
 * UID EXPUNGE
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fetch.h"
#include "folders.h"
#include "imapd.h"
#include "log.h"
#include "mailbox.h"
#include "mem.h"
#include "search.h"
#include "str.h"

/* QRESYNC (uidvalidity modseq [known-uids [seq-match]]): what the client
 * remembers. */
struct qresync {
	bool		 on;
	uint32_t	 uidvalidity;
	uint64_t	 modseq;
	struct seqset	 known;		/* n == 0: not given */
};

static bool
parse_select_params(struct imap_session *s, struct imap_cur *c,
    bool *condstore, struct qresync *q)
{
	struct imap_str	 a, set;

	if (!imap_take(c, '('))
		return false;
	while (!imap_take(c, ')')) {
		if (!imap_atom(c, &a))
			return false;
		if (imap_str_eq(&a, "CONDSTORE"))
			*condstore = true;
		else if (imap_str_eq(&a, "QRESYNC")) {
			if (!(s->enabled & IMAP_EN_QRESYNC)) {
				c->err = "QRESYNC is not enabled";
				return false;
			}
			if (!imap_sp(c) || !imap_take(c, '(') ||
			    !imap_nz_number(c, &q->uidvalidity) ||
			    !imap_sp(c) || !imap_number64(c, &q->modseq))
				return false;
			if (imap_take(c, ' ')) {
				if (!imap_seqset_text(c, &set) ||
				    seqset_parse(&q->known, set.s, set.len,
				    UINT32_MAX) == -1)
					return false;
				/* the sequence match data: not needed, as
				 * VANISHED (EARLIER) here is exact */
				if (imap_take(c, ' ')) {
					unsigned int depth = 1;

					while (!imap_eol(c) && depth > 0) {
						if (*c->p == '(')
							depth++;
						else if (*c->p == ')')
							depth--;
						if (depth > 0)
							c->p++;
					}
				}
			}
			if (!imap_take(c, ')'))
				return false;
			q->on = true;
		} else {
			c->err = "Unknown SELECT parameter";
			return false;
		}
		if (!imap_peek(c, ')') && !imap_sp(c))
			return false;
	}
	return true;
}

static void
put_line(struct imap_session *s, struct str *line)
{
	if (str_append(&s->out, line->data, line->len) == -1)
		s->base.closing = true;
	str_clear(line);
}

/* QRESYNC: what vanished and what changed since q->modseq. */
static void
qresync_report(struct imap_session *s, const struct qresync *q)
{
	struct mailbox_msg	 m;
	struct str		 line;
	uint32_t		*uids = NULL, *gone, i, n;
	size_t			 nuids = 0, ngone = 0, k;
	int			 r;

	if (q->uidvalidity != mailbox_uidvalidity(s->mb))
		return;
	str_init(&line, 0);
	r = mailbox_expunged_since(s->mb, q->modseq, &uids, &nuids);
	if (r == 0 && q->known.n > 0) {
		/* Forgotten that far back: every known UID not here. */
		free(uids);
		uids = NULL;
		nuids = 0;
		gone = NULL;
		for (k = 0; k < q->known.n; k++) {
			uint64_t u;

			for (u = q->known.r[k].lo; u <= q->known.r[k].hi &&
			    ngone < 100000; u++)
				if (mailbox_seq_of_uid(s->mb, (uint32_t)u) ==
				    0) {
					gone = xreallocarray(gone, ngone + 1,
					    sizeof(*gone));
					gone[ngone++] = (uint32_t)u;
				}
		}
		uids = gone;
		nuids = ngone;
	}
	if (r >= 0 && nuids > 0) {
		if (q->known.n > 0) {
			/* only those the client knew of */
			for (k = 0, ngone = 0; k < nuids; k++)
				if (seqset_has(&q->known, uids[k]))
					uids[ngone++] = uids[k];
			nuids = ngone;
		}
		if (nuids > 0 && str_append_str(&line, "* VANISHED (EARLIER) ")
		    == 0 && seqset_put(&line, uids, nuids) == 0 &&
		    str_append_str(&line, "\r\n") == 0)
			put_line(s, &line);
	}
	free(uids);
	n = mailbox_count(s->mb);
	for (i = 1; i <= n; i++) {
		if (mailbox_msg(s->mb, i, &m) == -1 || m.modseq <= q->modseq)
			continue;
		if (str_appendf(&line, "* %" PRIu32 " FETCH (UID %" PRIu32
		    " FLAGS ", i, m.uid) == 0 &&
		    imap_put_flags(&line, s->mb, &m, imap_is_recent(s,
		    m.uid)) == 0 &&
		    str_appendf(&line, " MODSEQ (%" PRIu64 "))\r\n",
		    m.modseq) == 0)
			put_line(s, &line);
		str_clear(&line);
	}
	str_release(&line);
}

static void
select_folder(struct imap_session *s, bool readonly)
{
	struct imap_cur		 c;
	struct imap_str		 raw;
	struct qresync		 q;
	struct mailbox_msg	 m;
	struct fail		 f;
	struct str		 line;
	char			 name[IMAP_FOLDER_MAX + 1];
	const char		*err;
	bool			 condstore = false;
	uint32_t		 i, n, unseen = 0;

	memset(&q, 0, sizeof(q));
	imap_args(s, &c);
	if (!imap_astring(&c, &raw)) {
		imap_bad(s, "Error in IMAP command %s: Missing mailbox name.",
		    readonly ? "EXAMINE" : "SELECT");
		return;
	}
	if (!imap_eol(&c) && (!imap_sp(&c) ||
	    !parse_select_params(s, &c, &condstore, &q) || !imap_eol(&c))) {
		seqset_free(&q.known);
		imap_bad(s, "Invalid %s parameters%s%s.", readonly ?
		    "EXAMINE" : "SELECT", c.err != NULL ? ": " : "",
		    c.err != NULL ? c.err : "");
		return;
	}
	/* Selecting, even what fails, leaves the selected state. */
	if (s->state == IMAP_SELECTED) {
		imap_unselect(s);
		imap_untagged(s, "OK [CLOSED] Previous mailbox closed.");
	}
	if (imap_folder_name(s, &raw, name, sizeof(name), &err) == -1) {
		seqset_free(&q.known);
		imap_no(s, "CANNOT", "%s", err);
		return;
	}
	s->mb = mailbox_open(&s->loc, name, readonly ? MAILBOX_RDONLY : 0,
	    &f);
	if (s->mb == NULL) {
		seqset_free(&q.known);
		imap_no(s, f.temp ? "UNAVAILABLE" : "NONEXISTENT", "%s",
		    f.temp ? "Cannot open the mailbox now." :
		    "Mailbox doesn't exist.");
		return;
	}
	(void)str_copy(s->folder, name, sizeof(s->folder));
	s->readonly = readonly || mailbox_is_readonly(s->mb);
	/* EXAMINE shows \Recent without taking it from the next session */
	s->recent_uid = s->readonly ? imap_recent_peek(s->mb) :
	    imap_recent_claim(s->mb);
	s->kw_shown = mailbox_keyword_count(s->mb);
	if (condstore || q.on)
		s->enabled |= IMAP_EN_CONDSTORE;
	imap_set_state(s, IMAP_SELECTED);
	n = mailbox_count(s->mb);
	str_init(&line, 0);
	if (str_append_str(&line, "* FLAGS ") == 0 &&
	    imap_put_flag_names(&line, s->mb, false) == 0 &&
	    str_append_str(&line, "\r\n") == 0)
		put_line(s, &line);
	if (str_append_str(&line, "* OK [PERMANENTFLAGS ") == 0 &&
	    (s->readonly ? str_append_str(&line, "()") :
	    imap_put_flag_names(&line, s->mb, true)) == 0 &&
	    str_append_str(&line, "] Flags permitted.\r\n") == 0)
		put_line(s, &line);
	str_release(&line);
	imap_untagged(s, "%" PRIu32 " EXISTS", n);
	imap_untagged(s, "%" PRIu32 " RECENT", imap_recent_count(s));
	for (i = 1; i <= n; i++)
		if (mailbox_msg(s->mb, i, &m) == 0 &&
		    !(m.flags & MAILBOX_SEEN)) {
			unseen = i;
			break;
		}
	if (unseen != 0)
		imap_untagged(s, "OK [UNSEEN %" PRIu32 "] First unseen.",
		    unseen);
	imap_untagged(s, "OK [UIDVALIDITY %" PRIu32 "] UIDs valid",
	    mailbox_uidvalidity(s->mb));
	imap_untagged(s, "OK [UIDNEXT %" PRIu32 "] Predicted next UID",
	    mailbox_uidnext(s->mb));
	/* mod-sequence-value is 1 or more, even for an empty folder */
	imap_untagged(s, "OK [HIGHESTMODSEQ %" PRIu64 "] Highest",
	    mailbox_highestmodseq(s->mb) > 0 ?
	    mailbox_highestmodseq(s->mb) : 1);
	if (q.on)
		qresync_report(s, &q);
	seqset_free(&q.known);
	log_info(s->base.id, "select folder=%s messages=%" PRIu32 "%s",
	    name, n, s->readonly ? " read-only" : "");
	imap_ok(s, s->readonly ? "READ-ONLY" : "READ-WRITE", "%s completed.",
	    readonly ? "Examine" : "Select");
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

void
cmd_check(struct imap_session *s, char *arg)
{
	(void)arg;
	if (!imap_no_args(s))
		return;
	imap_ok(s, NULL, "Check completed.");
}

void
cmd_close(struct imap_session *s, char *arg)
{
	struct fail	 f;

	(void)arg;
	if (!imap_no_args(s))
		return;
	/* CLOSE expunges \Deleted silently (no EXPUNGE responses). */
	if (!s->readonly && mailbox_expunge(s->mb, NULL, 0, &f) == -1)
		log_warn(s->base.id, "close: expunge failed: %s", f.text);
	imap_unselect(s);
	imap_ok(s, NULL, "Close completed.");
}

void
cmd_unselect(struct imap_session *s, char *arg)
{
	(void)arg;
	if (!imap_no_args(s))
		return;
	imap_unselect(s);
	imap_ok(s, NULL, "Unselect completed.");
}

void
cmd_expunge(struct imap_session *s, char *arg)
{
	struct fail	 f;

	(void)arg;
	if (!imap_no_args(s))
		return;
	if (s->readonly) {
		imap_no(s, "READ-ONLY", "Mailbox is read-only.");
		return;
	}
	if (mailbox_expunge(s->mb, NULL, 0, &f) == -1) {
		imap_no(s, f.temp ? "UNAVAILABLE" : "SERVERBUG", "%s",
		    f.text);
		return;
	}
	imap_ok(s, NULL, "Expunge completed.");
}

/* UID EXPUNGE set (UIDPLUS): the \Deleted ones of set only. */
void
imap_uid_expunge(struct imap_session *s)
{
	struct imap_cur		 c;
	struct imap_str		 text;
	struct seqset		 set;
	struct mailbox_msg	 m;
	struct fail		 f;
	uint32_t		*uids, i, n = mailbox_count(s->mb), k = 0;

	imap_args(s, &c);
	if (!imap_seqset_text(&c, &text) || !imap_eol(&c) ||
	    seqset_parse(&set, text.s, text.len, imap_max_uid(s)) == -1) {
		imap_bad(s, "Error in IMAP command UID EXPUNGE: Invalid uidset.");
		return;
	}
	if (s->readonly) {
		seqset_free(&set);
		imap_no(s, "READ-ONLY", "Mailbox is read-only.");
		return;
	}
	uids = xcalloc(n > 0 ? n : 1, sizeof(*uids));
	for (i = 1; i <= n; i++)
		if (mailbox_msg(s->mb, i, &m) == 0 &&
		    (m.flags & MAILBOX_DELETED) && seqset_has(&set, m.uid))
			uids[k++] = m.uid;
	seqset_free(&set);
	if (k > 0 && mailbox_expunge(s->mb, uids, k, &f) == -1) {
		free(uids);
		imap_no(s, f.temp ? "UNAVAILABLE" : "SERVERBUG", "%s",
		    f.text);
		return;
	}
	free(uids);
	imap_ok(s, NULL, "Expunge completed.");
}
