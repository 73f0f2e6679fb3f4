/* SPDX-License-Identifier: MIT */
/*
 * cmd_msg.c - the commands on the messages of the selected folder:
 * FETCH (fetch.h does the work, produced as the socket drains), STORE,
 * COPY and MOVE (UIDPLUS COPYUID, RFC 6851), SEARCH/SORT/THREAD
 * (search.h), the UID forms, and APPEND
 */
#include <inttypes.h>
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

#define FLAG_KEYWORDS_MAX	MAILBOX_KEYWORDS_MAX

uint32_t
imap_max_uid(const struct imap_session *s)
{
	struct mailbox_msg	 m;
	uint32_t		 n = mailbox_count(s->mb);

	if (n == 0 || mailbox_msg(s->mb, n, &m) == -1)
		return 0;
	return m.uid;
}

int
imap_resolve(struct imap_session *s, const struct imap_str *text, bool uid,
    uint32_t **seqs_r, size_t *n_r)
{
	struct seqset		 set;
	struct mailbox_msg	 m;
	uint32_t		 count = mailbox_count(s->mb), i, *v;
	size_t			 n = 0, k;

	*seqs_r = NULL;
	*n_r = 0;
	if (seqset_parse(&set, text->s, text->len, uid ? imap_max_uid(s) :
	    count) == -1)
		return -1;
	if (!uid && set.n > 0 && set.r[set.n - 1].hi > count) {
		seqset_free(&set);
		return -1;	/* a message number nobody has */
	}
	v = xcalloc(count > 0 ? count : 1, sizeof(*v));
	if (uid) {
		for (i = 1; i <= count; i++)
			if (mailbox_msg(s->mb, i, &m) == 0 &&
			    seqset_has(&set, m.uid))
				v[n++] = i;
	} else
		for (k = 0; k < set.n; k++)
			for (i = set.r[k].lo; i <= set.r[k].hi && i != 0; i++)
				v[n++] = i;
	seqset_free(&set);
	*seqs_r = v;
	*n_r = n;
	return 0;
}

/* ---- FETCH ---- */

static void
fetch_cmd(struct imap_session *s, bool uid)
{
	struct imap_cur	 c;
	const char	*err = NULL;
	bool		 bad = false;

	imap_args(s, &c);
	s->fetch = imap_fetch_begin(s, &c, uid, &err, &bad);
	if (s->fetch == NULL) {
		if (bad)
			imap_bad(s, "Error in IMAP command %sFETCH: %s",
			    uid ? "UID " : "", err != NULL ? err :
			    "Invalid arguments.");
		else
			imap_no(s, NULL, "%s", err != NULL ? err :
			    "Fetch failed.");
		return;
	}
	imap_start_fetch(s);
}

int
imap_fetch_produce(struct imap_session *s, struct str *out)
{
	const char	*err = NULL;
	int		 r;

	r = imap_fetch_next(s->fetch, s, out, &err);
	if (r == 1)
		return 0;
	imap_fetch_free(&s->fetch);
	if (r == 0)
		imap_ok(s, NULL, "Fetch completed.");
	else if (err != NULL)
		imap_no(s, NULL, "%s", err);
	else	/* expunged by another session meanwhile (RFC 2180 4.1) */
		imap_no(s, "EXPUNGEISSUED", "Some of the requested messages "
		    "no longer exist.");
	return 1;
}

void
cmd_fetch(struct imap_session *s, char *arg)
{
	(void)arg;
	fetch_cmd(s, false);
}

/* ---- flags ---- */

/* "(flag ...)" or, where bare is allowed (STORE), flags without
 * parentheses.  kws point into the command buffer (NUL-terminated by
 * copying into kwbuf). */
struct flag_list {
	unsigned int	 flags;
	const char	*kws[FLAG_KEYWORDS_MAX];
	char		 kwbuf[FLAG_KEYWORDS_MAX][MAILBOX_KEYWORD_MAX + 1];
	size_t		 nkws;
};

static bool
parse_flag(struct imap_cur *c, struct flag_list *fl)
{
	static const struct {
		const char	*name;
		unsigned int	 bit;
	} sys[] = {
		{ "\\Seen", MAILBOX_SEEN }, { "\\Answered", MAILBOX_ANSWERED },
		{ "\\Flagged", MAILBOX_FLAGGED },
		{ "\\Deleted", MAILBOX_DELETED }, { "\\Draft", MAILBOX_DRAFT },
	};
	struct imap_str	 f;
	size_t		 i;

	if (!imap_flag(c, &f, false))
		return false;
	if (f.len > 0 && f.s[0] == '\\') {
		for (i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
			if (imap_str_eq(&f, sys[i].name)) {
				fl->flags |= sys[i].bit;
				return true;
			}
		if (imap_str_eq(&f, "\\Recent"))
			return true;	/* not storable: ignored */
		c->err = "Invalid system flag";
		return false;
	}
	for (i = 0; i < fl->nkws; i++)
		if (strlen(fl->kws[i]) == f.len &&
		    strncasecmp(fl->kws[i], f.s, f.len) == 0)
			return true;
	if (fl->nkws == FLAG_KEYWORDS_MAX ||
	    !imap_str_copy(&f, fl->kwbuf[fl->nkws],
	    sizeof(fl->kwbuf[0])) || !mailbox_keyword_valid(
	    fl->kwbuf[fl->nkws])) {
		c->err = "Invalid keyword";
		return false;
	}
	fl->kws[fl->nkws] = fl->kwbuf[fl->nkws];
	fl->nkws++;
	return true;
}

static bool
parse_flags(struct imap_cur *c, struct flag_list *fl, bool bare_ok)
{
	memset(fl, 0, sizeof(*fl));
	if (!imap_take(c, '(')) {
		if (!bare_ok) {
			c->err = "Expected a flag list";
			return false;
		}
		for (;;) {
			if (!parse_flag(c, fl))
				return false;
			if (imap_eol(c))
				return true;
			if (!imap_sp(c))
				return false;
		}
	}
	if (imap_take(c, ')'))
		return true;
	for (;;) {
		if (!parse_flag(c, fl))
			return false;
		if (imap_take(c, ')'))
			return true;
		if (!imap_sp(c))
			return false;
	}
}

/* ---- STORE ---- */

static void
store_cmd(struct imap_session *s, bool uid)
{
	struct imap_cur		 c;
	struct imap_str		 set, item;
	struct flag_list	 fl;
	struct mailbox_msg	 m;
	struct fail		 f;
	struct str		 line;
	enum mailbox_flag_op	 op;
	uint64_t		 unchanged = 0;
	uint32_t		*seqs, *uids, *failed = NULL;
	size_t			 n, i, nfailed = 0, k;
	bool			 silent, show_modseq;
	const char		*name;

	imap_args(s, &c);
	if (!imap_seqset_text(&c, &set) || !imap_sp(&c))
		goto bad;
	if (imap_take(&c, '(')) {
		struct imap_str	 mod;

		if (!imap_atom(&c, &mod) || !imap_str_eq(&mod,
		    "UNCHANGEDSINCE") || !imap_sp(&c) ||
		    !imap_number64(&c, &unchanged) || !imap_take(&c, ')') ||
		    !imap_sp(&c))
			goto bad;
		imap_condstore_on(s);
		if (unchanged == 0)
			unchanged = 1;	/* 0 stores nothing: modseqs are >0 */
	}
	if (!imap_atom(&c, &item) || !imap_sp(&c))
		goto bad;
	name = item.s;
	op = MAILBOX_FLAGS_REPLACE;
	if (item.len > 0 && (name[0] == '+' || name[0] == '-')) {
		op = name[0] == '+' ? MAILBOX_FLAGS_ADD : MAILBOX_FLAGS_REMOVE;
		item.s++;
		item.len--;
	}
	if (imap_str_eq(&item, "FLAGS"))
		silent = false;
	else if (imap_str_eq(&item, "FLAGS.SILENT"))
		silent = true;
	else {
		c.err = "Invalid STORE item";
		goto bad;
	}
	if (!parse_flags(&c, &fl, true) || !imap_eol(&c))
		goto bad;
	if (s->readonly) {
		imap_no(s, "READ-ONLY", "Mailbox is read-only.");
		return;
	}
	if (imap_resolve(s, &set, uid, &seqs, &n) == -1) {
		imap_bad(s, "Error in IMAP command %sSTORE: Invalid "
		    "messageset.", uid ? "UID " : "");
		return;
	}
	uids = xcalloc(n > 0 ? n : 1, sizeof(*uids));
	for (i = 0; i < n; i++)
		uids[i] = mailbox_msg(s->mb, seqs[i], &m) == 0 ? m.uid : 0;
	if (n > 0 && mailbox_store(s->mb, uids, n, op, fl.flags, fl.kws,
	    fl.nkws, unchanged, unchanged != 0 ? &failed : NULL,
	    unchanged != 0 ? &nfailed : NULL, &f) == -1) {
		free(seqs);
		free(uids);
		imap_no(s, f.temp ? "UNAVAILABLE" : "SERVERBUG", "%s",
		    f.text);
		return;
	}
	imap_flags_news(s);
	show_modseq = (s->enabled & IMAP_EN_CONDSTORE) != 0;
	str_init(&line, 0);
	for (i = 0; i < n; i++) {
		bool was_failed = false;

		for (k = 0; k < nfailed; k++)
			if (failed[k] == uids[i])
				was_failed = true;
		/* .SILENT: nothing, unless CONDSTORE says the modseq */
		if (was_failed || (silent && !show_modseq) ||
		    mailbox_msg(s->mb, seqs[i], &m) == -1)
			continue;
		str_clear(&line);
		if (str_appendf(&line, "* %" PRIu32 " FETCH (", seqs[i]) ==
		    -1 || (uid && str_appendf(&line, "UID %" PRIu32 " ",
		    m.uid) == -1))
			break;
		if (!silent && (str_append_str(&line, "FLAGS ") == -1 ||
		    imap_put_flags(&line, s->mb, &m, imap_is_recent(s,
		    m.uid)) == -1))
			break;
		if (show_modseq && str_appendf(&line, "%sMODSEQ (%" PRIu64
		    ")", silent ? "" : " ", m.modseq) == -1)
			break;
		if (str_append_str(&line, ")\r\n") == -1 ||
		    str_append(&s->out, line.data, line.len) == -1) {
			s->base.closing = true;
			break;
		}
	}
	if (nfailed > 0) {
		str_clear(&line);
		if (uid) {
			if (seqset_put(&line, failed, nfailed) == -1)
				str_clear(&line);
		} else {
			uint32_t *fs = xcalloc(nfailed, sizeof(*fs));

			for (k = 0; k < nfailed; k++)
				fs[k] = mailbox_seq_of_uid(s->mb, failed[k]);
			if (seqset_put(&line, fs, nfailed) == -1)
				str_clear(&line);
			free(fs);
		}
		imap_ok(s, NULL, "[MODIFIED %s] Conditional store failed.",
		    str_c(&line));
	} else
		imap_ok(s, NULL, "Store completed.");
	str_release(&line);
	free(failed);
	free(seqs);
	free(uids);
	return;
bad:
	imap_bad(s, "Error in IMAP command %sSTORE: %s.", uid ? "UID " : "",
	    c.err != NULL ? c.err : "Invalid arguments");
}

void
cmd_store(struct imap_session *s, char *arg)
{
	(void)arg;
	store_cmd(s, false);
}

/* ---- COPY and MOVE ---- */

static void
copy_cmd(struct imap_session *s, bool uid, bool move)
{
	struct imap_cur		 c;
	struct imap_str		 set, raw;
	struct mailbox		*dst;
	struct mailbox_msg	 m;
	struct fail		 f;
	struct str		 src_set, dst_set;
	char			 name[IMAP_FOLDER_MAX + 1];
	const char		*err, *verb = move ? "MOVE" : "COPY";
	uint32_t		*seqs, *suids, *duids;
	uint64_t		 added = 0;
	size_t			 n, i, done = 0;

	imap_args(s, &c);
	if (!imap_seqset_text(&c, &set) || !imap_sp(&c) ||
	    !imap_astring(&c, &raw) || !imap_eol(&c)) {
		imap_bad(s, "Error in IMAP command %s%s: Invalid arguments.",
		    uid ? "UID " : "", verb);
		return;
	}
	if (imap_folder_name(s, &raw, name, sizeof(name), &err) == -1) {
		imap_no(s, "CANNOT", "%s", err);
		return;
	}
	if (move && s->readonly) {
		imap_no(s, "READ-ONLY", "Mailbox is read-only.");
		return;
	}
	if (imap_resolve(s, &set, uid, &seqs, &n) == -1) {
		imap_bad(s, "Error in IMAP command %s%s: Invalid messageset.",
		    uid ? "UID " : "", verb);
		return;
	}
	if (!move) {
		uint64_t	 want = 0;

		for (i = 0; i < n; i++)
			if (mailbox_msg(s->mb, seqs[i], &m) == 0)
				want += m.wire_size;
		if (imap_over_quota(s, want)) {
			free(seqs);
			imap_no(s, "OVERQUOTA", "Quota exceeded (mailbox is "
			    "full).");
			return;
		}
	}
	if ((dst = mailbox_open(&s->loc, name, 0, &f)) == NULL) {
		free(seqs);
		if (f.temp)
			imap_no(s, "UNAVAILABLE", "Cannot open the target "
			    "mailbox now.");
		else
			imap_no(s, "TRYCREATE", "Mailbox doesn't exist: %s",
			    name);
		return;
	}
	suids = xcalloc(n > 0 ? n : 1, sizeof(*suids));
	duids = xcalloc(n > 0 ? n : 1, sizeof(*duids));
	for (i = 0; i < n; i++) {
		if (mailbox_msg(s->mb, seqs[i], &m) == -1)
			continue;
		if (mailbox_copy(s->mb, seqs[i], dst, &duids[done], &f) ==
		    -1) {
			if (!f.temp)
				continue;	/* expunged meanwhile */
			break;
		}
		suids[done++] = m.uid;
		if (!move)	/* a MOVE's copy goes with the original */
			added += m.wire_size;
	}
	imap_usage_add(s, added);
	mailbox_close(&dst);
	if (i < n) {
		free(seqs);
		free(suids);
		free(duids);
		imap_no(s, "UNAVAILABLE", "%s failed: %s", verb, f.text);
		return;
	}
	str_init(&src_set, 0);
	str_init(&dst_set, 0);
	if (done > 0 && (seqset_put(&src_set, suids, done) == -1 ||
	    seqset_put(&dst_set, duids, done) == -1)) {
		str_clear(&src_set);
		str_clear(&dst_set);
	}
	if (move) {
		if (done > 0) {
			struct mailbox *tmp;

			imap_untagged(s, "OK [COPYUID %" PRIu32 " %s %s] "
			    "Moved UIDs.", (tmp = mailbox_open(&s->loc, name,
			    MAILBOX_RDONLY, &f)) != NULL ?
			    mailbox_uidvalidity(tmp) : 0, str_c(&src_set),
			    str_c(&dst_set));
			mailbox_close(&tmp);
			if (mailbox_expunge(s->mb, suids, done, &f) == -1)
				log_warn(s->base.id, "move: expunge failed: "
				    "%s", f.text);
		}
		/* MOVE's expunges are reported before the OK, even in the
		 * UID form. */
		imap_sync_report(s);
		imap_ok(s, NULL, "Move completed.");
	} else if (done > 0) {
		struct mailbox *tmp = mailbox_open(&s->loc, name,
		    MAILBOX_RDONLY, &f);

		imap_ok(s, NULL, "[COPYUID %" PRIu32 " %s %s] Copy completed.",
		    tmp != NULL ? mailbox_uidvalidity(tmp) : 0,
		    str_c(&src_set), str_c(&dst_set));
		mailbox_close(&tmp);
	} else
		imap_ok(s, NULL, "Copy completed.");
	str_release(&src_set);
	str_release(&dst_set);
	free(seqs);
	free(suids);
	free(duids);
}

void
cmd_copy(struct imap_session *s, char *arg)
{
	(void)arg;
	copy_cmd(s, false, false);
}

void
cmd_move(struct imap_session *s, char *arg)
{
	(void)arg;
	copy_cmd(s, false, true);
}

/* ---- SEARCH, SORT, THREAD ---- */

void
cmd_search(struct imap_session *s, char *arg)
{
	(void)arg;
	imap_cmd_search(s, false);
}

void
cmd_sort(struct imap_session *s, char *arg)
{
	(void)arg;
	imap_cmd_sort(s, false);
}

void
cmd_thread(struct imap_session *s, char *arg)
{
	(void)arg;
	imap_cmd_thread(s, false);
}

/* ---- UID ---- */

void
cmd_uid(struct imap_session *s, char *arg)
{
	struct imap_cur	 c;
	struct imap_str	 verb;
	char		*rest;

	(void)arg;
	imap_args(s, &c);
	if (!imap_atom(&c, &verb)) {
		imap_bad(s, "Error in IMAP command UID: Missing command.");
		return;
	}
	if (!imap_eol(&c) && !imap_sp(&c)) {
		imap_bad(s, "Error in IMAP command UID: Expected a space.");
		return;
	}
	rest = c.p;
	s->args_len -= (size_t)(rest - s->args);
	s->args = rest;
	if (imap_str_eq(&verb, "FETCH")) {
		s->cmd_nosync = true;
		fetch_cmd(s, true);
	} else if (imap_str_eq(&verb, "STORE")) {
		s->cmd_nosync = true;
		store_cmd(s, true);
	} else if (imap_str_eq(&verb, "SEARCH")) {
		s->cmd_nosync = true;
		imap_cmd_search(s, true);
	} else if (imap_str_eq(&verb, "SORT")) {
		s->cmd_nosync = true;
		imap_cmd_sort(s, true);
	} else if (imap_str_eq(&verb, "THREAD")) {
		s->cmd_nosync = true;
		imap_cmd_thread(s, true);
	} else if (imap_str_eq(&verb, "COPY"))
		copy_cmd(s, true, false);
	else if (imap_str_eq(&verb, "MOVE"))
		copy_cmd(s, true, true);
	else if (imap_str_eq(&verb, "EXPUNGE"))
		imap_uid_expunge(s);
	else
		imap_bad(s, "Error in IMAP command UID: Unknown command.");
}

/* ---- APPEND ---- */

void
cmd_append(struct imap_session *s, char *arg)
{
	struct imap_cur		 c;
	struct imap_str		 raw, msg;
	struct flag_list	 fl;
	struct mailbox		*dst;
	struct fail		 f;
	char			 name[IMAP_FOLDER_MAX + 1];
	const char		*err;
	time_t			 date = 0;
	uint32_t		 uid = 0;

	(void)arg;
	imap_args(s, &c);
	memset(&fl, 0, sizeof(fl));
	if (!imap_astring(&c, &raw) || !imap_sp(&c))
		goto bad;
	if (imap_peek(&c, '(')) {
		if (!parse_flags(&c, &fl, false) || !imap_sp(&c))
			goto bad;
	}
	if (imap_peek(&c, '"')) {
		if (!imap_datetime(&c, &date) || !imap_sp(&c))
			goto bad;
	}
	if (!imap_string(&c, &msg) || !msg.literal)
		goto bad;
	if (!imap_eol(&c)) {
		imap_no(s, "CANNOT", "MULTIAPPEND is not supported.");
		return;
	}
	if (imap_folder_name(s, &raw, name, sizeof(name), &err) == -1) {
		imap_no(s, "CANNOT", "%s", err);
		return;
	}
	if (msg.len == 0) {
		imap_no(s, NULL, "Can't save an empty message.");
		return;
	}
	/* a non-synchronising literal came anyway: check it here */
	if (imap_over_quota(s, msg.len)) {
		imap_no(s, "OVERQUOTA", "Quota exceeded (mailbox is full).");
		return;
	}
	if ((dst = mailbox_open(&s->loc, name, 0, &f)) == NULL) {
		if (f.temp)
			imap_no(s, "UNAVAILABLE", "Cannot open the mailbox "
			    "now.");
		else
			imap_no(s, "TRYCREATE", "Mailbox doesn't exist: %s",
			    name);
		return;
	}
	if (mailbox_append(dst, msg.s, msg.len, fl.flags, fl.kws, fl.nkws,
	    date, &uid, &f) == -1) {
		mailbox_close(&dst);
		imap_no(s, f.temp ? "UNAVAILABLE" : "CANNOT", "%s", f.text);
		return;
	}
	imap_usage_add(s, msg.len);
	imap_ok(s, NULL, "[APPENDUID %" PRIu32 " %" PRIu32 "] Append "
	    "completed.", mailbox_uidvalidity(dst), uid);
	mailbox_close(&dst);
	log_info(s->base.id, "append folder=%s uid=%" PRIu32 " size=%zu",
	    name, uid, msg.len);
	return;
bad:
	imap_bad(s, "Error in IMAP command APPEND: %s.", c.err != NULL ?
	    c.err : "Invalid arguments");
}
