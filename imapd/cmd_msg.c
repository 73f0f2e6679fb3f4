/* SPDX-License-Identifier: MIT */
/*
 * cmd_msg.c - the commands on messages: UID (the dispatcher of UID
 * FETCH/STORE/COPY/MOVE/EXPUNGE/SEARCH/SORT/THREAD), COPY and MOVE with
 * UIDPLUS's COPYUID (RFC 4315, RFC 6851), APPEND with APPENDUID
 *
 * APPEND's literal was bounded by session.c before its "+" (imap_max_append,
 * the user's quota); the message is in the command buffer when the handler
 * runs, and goes to the store in one mailbox_append().
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "folders.h"
#include "imapd.h"
#include "log.h"
#include "mailbox.h"
#include "mem.h"
#include "search.h"
#include "str.h"

/* ---- UID ---- */

struct imap_uid_cmd {
	const char	*verb;
	void		(*fn)(struct imap_session *, bool uid);
	bool		 nosync;
};

static void	imap_copy_uid(struct imap_session *, bool);
static void	imap_move_uid(struct imap_session *, bool);

static const struct imap_uid_cmd imap_uid_cmds[] = {
	{ "COPY", imap_copy_uid, false },
	{ "MOVE", imap_move_uid, false },
	{ "EXPUNGE", imap_expunge, false },
	{ NULL, NULL, false }
};

void
cmd_uid(struct imap_session *s, char *arg)
{
	const struct imap_uid_cmd	*u;
	struct imap_cur			 c;
	struct imap_str			 verb;

	(void)arg;
	imap_args(s, &c);
	if (!imap_atom(&c, &verb)) {
		imap_bad(s, "UID takes a command: %s UID FETCH 1:* FLAGS",
		    s->tag);
		return;
	}
	for (u = imap_uid_cmds; u->verb != NULL; u++)
		if (imap_str_eq(&verb, u->verb))
			break;
	if (u->verb == NULL) {
		imap_bad(s, "Unknown UID command.");
		return;
	}
	if (!imap_eol(&c) && !imap_sp(&c)) {
		imap_bad(s, "%s", c.err);
		return;
	}
	s->args = c.p;
	s->args_len = (size_t)(c.end - c.p);
	s->nosync = u->nosync;
	u->fn(s, true);
}

/* ---- the messages of a set ---- */

/* The view's messages in the set text (sequence numbers, or UIDs when
 * uid), ascending: their sequence numbers into a malloc'ed *seqs_r.
 * 0, or -1 on a bad set. */
static int
messages_of(struct imap_session *s, const struct imap_str *set, bool uid,
    uint32_t **seqs_r, size_t *n_r)
{
	struct seqset		 ss;
	struct mailbox_msg	 m;
	uint32_t		 count = mailbox_count(s->mb), star = count;
	uint32_t		*seqs, i;
	size_t			 n = 0;

	if (uid)
		star = count > 0 && mailbox_msg(s->mb, count, &m) == 0 ?
		    m.uid : 0;
	if (seqset_parse(&ss, set->s, set->len, star) == -1)
		return -1;
	seqs = xreallocarray(NULL, count > 0 ? count : 1, sizeof(*seqs));
	for (i = 1; i <= count; i++) {
		if (uid) {
			if (mailbox_msg(s->mb, i, &m) == 0 &&
			    seqset_has(&ss, m.uid))
				seqs[n++] = i;
		} else if (seqset_has(&ss, i))
			seqs[n++] = i;
	}
	/* RFC 3501 6.4.8: a sequence number past the end is an error;
	 * UIDs that are gone are not. */
	if (!uid && ss.n > 0 && ss.r[ss.n - 1].hi > count) {
		seqset_free(&ss);
		free(seqs);
		return -1;
	}
	seqset_free(&ss);
	*seqs_r = seqs;
	*n_r = n;
	return 0;
}

/* ---- COPY, MOVE ---- */

/* Open the destination by client name: NULL after the NO. */
static struct mailbox *
open_dest(struct imap_session *s, const struct imap_str *name,
    char *storage, size_t size)
{
	struct mailbox	*mb;
	struct fail	 f;
	const char	*err;

	if (imap_folder_name(s, name, storage, size, &err) == -1) {
		imap_no(s, NULL, "%s", err);
		return NULL;
	}
	if ((mb = mailbox_open(&s->loc, storage, 0, &f)) == NULL) {
		if (f.temp) {
			log_warn(s->base.id, "open failed folder=%s "
			    "reason=\"%s\"", storage, f.text);
			imap_no(s, "UNAVAILABLE", "Cannot open the mailbox.");
		} else
			imap_no(s, "TRYCREATE", "Mailbox doesn't exist.");
	}
	return mb;
}

static void
copy_move(struct imap_session *s, bool uid, bool move)
{
	struct imap_cur		 c;
	struct imap_str		 set, name;
	struct mailbox		*dst;
	struct mailbox_msg	 m;
	struct fail		 f;
	struct str		 src_set, dst_set;
	char			 storage[IMAP_FOLDER_MAX + 1];
	uint32_t		*seqs, *src_uids, *dst_uids, dst_uv;
	size_t			 i, n;
	const char		*what = move ? "Move" : "Copy";

	imap_args(s, &c);
	if (!imap_seqset_text(&c, &set) || !imap_sp(&c) ||
	    !imap_astring(&c, &name) || !imap_eol(&c)) {
		imap_bad(s, "%s takes a sequence set and a mailbox: %s %s 1:3 "
		    "Trash", move ? "MOVE" : "COPY", s->tag,
		    move ? "MOVE" : "COPY");
		return;
	}
	if (move && s->readonly) {
		imap_no(s, "READ-ONLY", "Mailbox is read-only.");
		return;
	}
	if (messages_of(s, &set, uid, &seqs, &n) == -1) {
		imap_bad(s, "Invalid messageset.");
		return;
	}
	if ((dst = open_dest(s, &name, storage, sizeof(storage))) == NULL) {
		free(seqs);
		return;
	}
	if (n == 0) {
		mailbox_close(&dst);
		free(seqs);
		imap_ok(s, NULL, "No messages found.");
		return;
	}
	src_uids = xreallocarray(NULL, n, sizeof(*src_uids));
	dst_uids = xreallocarray(NULL, n, sizeof(*dst_uids));
	for (i = 0; i < n; i++) {
		if (mailbox_msg(s->mb, seqs[i], &m) == -1 ||
		    mailbox_copy(s->mb, seqs[i], dst, &dst_uids[i], &f) == -1)
			break;
		src_uids[i] = m.uid;
	}
	dst_uv = mailbox_uidvalidity(dst);
	mailbox_close(&dst);
	free(seqs);
	if (i < n) {
		log_warn(s->base.id, "copy failed folder=%s", storage);
		free(src_uids);
		free(dst_uids);
		imap_no(s, "SERVERBUG", "%s failed.", what);
		return;
	}
	str_init(&src_set, 0);
	str_init(&dst_set, 0);
	if (seqset_put(&src_set, src_uids, n) == -1 ||
	    seqset_put(&dst_set, dst_uids, n) == -1)
		panic("copy_move: buffer");
	if (move) {
		if (mailbox_expunge(s->mb, src_uids, n, &f) == -1)
			log_warn(s->base.id, "move: expunge failed folder=%s "
			    "reason=\"%s\"", s->folder, f.text);
		/* RFC 6851 4.3: COPYUID untagged, before the EXPUNGEs. */
		imap_untagged(s, "OK [COPYUID %u %s %s] Moved UIDs.",
		    (unsigned int)dst_uv,
		    str_c(&src_set), str_c(&dst_set));
		imap_ok(s, NULL, "Move completed.");
	} else
		imap_ok(s, NULL, "[COPYUID %u %s %s] Copy completed.",
		    (unsigned int)dst_uv,
		    str_c(&src_set), str_c(&dst_set));
	str_release(&src_set);
	str_release(&dst_set);
	free(src_uids);
	free(dst_uids);
}

static void
imap_copy_uid(struct imap_session *s, bool uid)
{
	copy_move(s, uid, false);
}

static void
imap_move_uid(struct imap_session *s, bool uid)
{
	copy_move(s, uid, true);
}

void
cmd_copy(struct imap_session *s, char *arg)
{
	(void)arg;
	copy_move(s, false, false);
}

void
cmd_move(struct imap_session *s, char *arg)
{
	(void)arg;
	copy_move(s, false, true);
}

/* ---- flags of APPEND and STORE ---- */

int
imap_flag_list(struct imap_cur *c, bool parens, unsigned int *flags_r,
    const char **kw, size_t *nkw_r, char *kwbuf, size_t kwsize,
    const char **err)
{
	static const struct {
		const char	*name;
		unsigned int	 bit;
	} sys[] = {
		{ "\\Seen", MAILBOX_SEEN }, { "\\Answered", MAILBOX_ANSWERED },
		{ "\\Flagged", MAILBOX_FLAGGED },
		{ "\\Deleted", MAILBOX_DELETED }, { "\\Draft", MAILBOX_DRAFT },
	};
	struct imap_str	 fl;
	size_t		 i, used = 0;
	bool		 first = true;

	*flags_r = 0;
	*nkw_r = 0;
	if (parens && !imap_take(c, '(')) {
		*err = "Expected a flag list.";
		return -1;
	}
	for (;;) {
		if (parens && imap_take(c, ')'))
			return 0;
		if (!parens && !first && imap_eol(c))
			return 0;
		if (!first && !imap_sp(c)) {
			*err = c->err;
			return -1;
		}
		first = false;
		if (!imap_flag(c, &fl, false)) {
			*err = "Invalid flag.";
			return -1;
		}
		if (fl.s[0] == '\\') {
			for (i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
				if (imap_str_eq(&fl, sys[i].name))
					break;
			if (i == sizeof(sys) / sizeof(sys[0])) {
				if (imap_str_eq(&fl, "\\Recent"))
					continue;	/* not settable */
				*err = "Invalid system flag.";
				return -1;
			}
			*flags_r |= sys[i].bit;
			continue;
		}
		if (*nkw_r >= MAILBOX_KEYWORDS_MAX ||
		    used + fl.len + 1 > kwsize) {
			*err = "Too many keywords.";
			return -1;
		}
		memcpy(kwbuf + used, fl.s, fl.len);
		kwbuf[used + fl.len] = '\0';
		if (!mailbox_keyword_valid(kwbuf + used)) {
			*err = "Invalid keyword.";
			return -1;
		}
		kw[(*nkw_r)++] = kwbuf + used;
		used += fl.len + 1;
	}
}

/* ---- APPEND ---- */

void
cmd_append(struct imap_session *s, char *arg)
{
	struct imap_cur		 c;
	struct imap_str		 name, msg;
	struct mailbox		*dst;
	struct fail		 f;
	const char		*kw[MAILBOX_KEYWORDS_MAX], *err;
	char			 kwbuf[4096], storage[IMAP_FOLDER_MAX + 1];
	unsigned int		 flags = 0;
	size_t			 nkw = 0;
	time_t			 date = 0;
	uint32_t		 uid = 0, uidvalidity;

	(void)arg;
	imap_args(s, &c);
	if (!imap_astring(&c, &name) || !imap_sp(&c)) {
		imap_bad(s, "APPEND takes a mailbox, optional flags and date, "
		    "and the message as a literal.");
		return;
	}
	if (imap_peek(&c, '(')) {
		if (imap_flag_list(&c, true, &flags, kw, &nkw, kwbuf,
		    sizeof(kwbuf), &err) == -1 || !imap_sp(&c)) {
			imap_bad(s, "%s", c.err != NULL ? c.err : err);
			return;
		}
	}
	if (imap_peek(&c, '"')) {
		if (!imap_datetime(&c, &date) || !imap_sp(&c)) {
			imap_bad(s, "%s", c.err);
			return;
		}
	}
	if (!imap_string(&c, &msg) || !msg.literal || !imap_eol(&c)) {
		imap_bad(s, "APPEND takes the message as a literal.");
		return;
	}
	if (msg.len == 0) {
		imap_no(s, NULL, "Can't save a zero byte message.");
		return;
	}
	if ((dst = open_dest(s, &name, storage, sizeof(storage))) == NULL)
		return;
	if (mailbox_append(dst, msg.s, msg.len, flags, kw, nkw, date, &uid,
	    &f) == -1) {
		mailbox_close(&dst);
		log_warn(s->base.id, "append failed folder=%s reason=\"%s\"",
		    storage, f.text);
		imap_no(s, f.temp ? "UNAVAILABLE" : "CANNOT", "%s", f.text);
		return;
	}
	uidvalidity = mailbox_uidvalidity(dst);
	mailbox_close(&dst);
	imap_ok(s, NULL, "[APPENDUID %u %u] Append completed.",
	    (unsigned int)uidvalidity, (unsigned int)uid);
}
