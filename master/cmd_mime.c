/* SPDX-License-Identifier: MIT */
/*
 * cmd_mime.c - `buzon mime explain FILE|-`: what a message is made of
 *
 * Students see what a mail program hides: the part tree (multipart,
 * message/rfc822 inside it), the boundaries, the Content-Transfer-
 * Encodings and sizes, and each text part decoded, so quoted-printable
 * and base64 become readable text next to what was sent.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accounts.h"
#include "admin.h"
#include "fileio.h"
#include "mailbox.h"
#include "mem.h"
#include "mime.h"
#include "mime_explain.h"
#include "str.h"
#include "verbs.h"

#define EXPLAIN_MAX	(64u * 1024 * 1024)	/* a message we read */
#define TEXT_LINES_MAX	200			/* decoded lines shown */

int	verb_mime(const char *, int, char **);
int	verb_mailbox(const char *, int, char **);

static void
put_params(FILE *out, const struct mime_param *p, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		fprintf(out, "; %s=\"%s\"", p[i].name, p[i].value);
}

/* The part number of p as IMAP names it ("1.2"), into b. */
static void
part_number(const struct mime_part *p, struct str *b)
{
	const struct mime_part	*chain[MIME_DEPTH_MAX + 2];
	size_t			 n = 0, i;

	for (; p != NULL && p->parent != NULL && n < MIME_DEPTH_MAX + 2;
	    p = p->parent) {
		/* the encapsulated message of message/rfc822 has the number
		 * of its part, not one of its own */
		if (strcmp(p->parent->type, "message") == 0)
			continue;
		chain[n++] = p;
	}
	str_clear(b);
	for (i = n; i > 0; i--)
		if (str_appendf(b, "%s%zu", i == n ? "" : ".",
		    (size_t)(chain[i - 1] - chain[i - 1]->parent->children) +
		    1) == -1)
			return;
	if (n == 0 && str_append_str(b, "(message)") == -1)
		str_clear(b);
}

static int
explain_part(const struct mime_msg *m, const struct mime_part *p,
    unsigned int depth, FILE *out)
{
	struct str	 num, text;
	const char	*q, *e, *nl;
	size_t		 i, lines;
	int		 rc = 0;

	if (depth > MIME_DEPTH_MAX)
		return 0;
	str_init(&num, 0);
	part_number(p, &num);
	fprintf(out, "%*s%-8s %s/%s", (int)depth * 2, "", str_c(&num),
	    p->type, p->subtype);
	put_params(out, p->params, p->nparams);
	fprintf(out, "\n%*s         encoding %s, header %" PRIu64
	    " bytes, body %" PRIu64 " bytes, %" PRIu64 " lines",
	    (int)depth * 2, "", p->encoding != NULL ? p->encoding : "7bit",
	    p->wire_hdr_len, p->wire_body_len, p->body_lines);
	if (p->disposition != NULL) {
		fprintf(out, ", %s", p->disposition);
		put_params(out, p->disp_params, p->ndisp_params);
	}
	fputc('\n', out);
	str_release(&num);
	if (p->nchildren > 0) {
		if (strcmp(p->type, "multipart") == 0)
			fprintf(out, "%*s         %zu parts between the "
			    "boundary lines\n", (int)depth * 2, "",
			    p->nchildren);
		for (i = 0; i < p->nchildren && rc == 0; i++)
			rc = explain_part(m, &p->children[i], depth + 1, out);
		return rc;
	}
	if (strcmp(p->type, "text") != 0)
		return 0;
	str_init(&text, 0);
	if (mime_body_text(m, p, &text) == -1) {
		str_release(&text);
		return -1;
	}
	fprintf(out, "%*s         decoded:\n", (int)depth * 2, "");
	q = text.data != NULL ? text.data : "";
	e = q + text.len;
	for (lines = 0; q < e && lines < TEXT_LINES_MAX; lines++, q = nl + 1) {
		if ((nl = memchr(q, '\n', (size_t)(e - q))) == NULL)
			nl = e;
		fprintf(out, "%*s  | %.*s\n", (int)depth * 2, "",
		    (int)(nl > q && nl[-1] == '\r' ? nl - q - 1 : nl - q), q);
		if (nl == e)
			break;
	}
	if (q < e && lines == TEXT_LINES_MAX)
		fprintf(out, "%*s  | (more lines not shown)\n",
		    (int)depth * 2, "");
	str_release(&text);
	return 0;
}

int
mime_explain(const char *buf, size_t len, FILE *out)
{
	struct mime_msg	*m;
	struct str	 v;
	int		 rc;

	if ((m = mime_parse(buf, len)) == NULL)
		return -1;
	fprintf(out, "message: %zu bytes\n", len);
	str_init(&v, 0);
	if (mime_header_get(m, &m->root, "Subject", &v) == 1) {
		struct str	 d;

		str_init(&d, 0);
		if (mime_header_decode(v.data, v.len, &d) == 0)
			fprintf(out, "subject: %s\n", str_c(&d));
		str_release(&d);
	}
	str_release(&v);
	rc = explain_part(m, &m->root, 0, out);
	mime_free(&m);
	return rc;
}

int
verb_mime(const char *conf_path, int argc, char **argv)
{
	char	*buf = NULL;
	size_t	 len = 0;
	int	 fd, rc;

	(void)conf_path;
	if (argc != 3 || strcmp(argv[1], "explain") != 0)
		return verb_error("mime", EXIT_USAGE,
		    "usage: buzon mime explain FILE|-");
	if (strcmp(argv[2], "-") == 0) {
		struct str	 in;
		char		 chunk[65536];
		ssize_t		 n;

		str_init(&in, EXPLAIN_MAX);
		while ((n = read(STDIN_FILENO, chunk, sizeof(chunk))) > 0)
			if (str_append(&in, chunk, (size_t)n) == -1) {
				str_release(&in);
				return verb_error("mime", 1, "message larger "
				    "than %u bytes", EXPLAIN_MAX);
			}
		if (n == -1) {
			str_release(&in);
			return verb_error("mime", 1, "stdin: %s",
			    strerror(errno));
		}
		buf = str_detach(&in, &len);
	} else {
		if ((fd = open(argv[2], O_RDONLY | O_CLOEXEC)) == -1)
			return verb_error("mime", 1, "%s: %s", argv[2],
			    strerror(errno));
		if (fd_read_whole(fd, EXPLAIN_MAX, &buf, &len, NULL) == -1) {
			rc = errno;
			(void)close(fd);
			return verb_error("mime", 1, "%s: %s", argv[2],
			    rc == EFBIG ? "larger than 64 MiB" : strerror(rc));
		}
		(void)close(fd);
	}
	rc = mime_explain(buf != NULL ? buf : "", len, stdout);
	free(buf);
	if (fflush(stdout) != 0 || rc == -1)
		return verb_error("mime", 1, "cannot write the explanation");
	return 0;
}

/* The wire bytes of message uid of folder name of user address. */
static int
read_stored(struct admin *a, const char *address, const char *folder,
    uint32_t uid, char **buf_r, size_t *len_r)
{
	struct accounts_user	*u;
	struct accounts		*acc;
	struct mailbox_location	 loc;
	struct mailbox		*mb;
	struct mailbox_stream	*ms;
	struct mailbox_msg	 m;
	struct fail		 f;
	char			 err[512], path[PATH_MAX];
	uint32_t		 seq;
	ssize_t			 n;
	int			 rc;

	if ((acc = accounts_open(&a->ac, err, sizeof(err))) == NULL)
		return verb_error("mailbox", 1, "%s", err);
	u = xcalloc(1, sizeof(*u));
	rc = accounts_user_lookup(acc, address, u);
	if (rc != 1 || accounts_mail_path(&a->ac, u, path, sizeof(path)) ==
	    -1) {
		accounts_close(&acc);
		free(u);
		return verb_error("mailbox", rc == 0 ? 1 : 75, rc == 0 ?
		    "no such user %s" : "cannot read the users map", address);
	}
	loc.root = path;
	loc.format = u->format == ACCOUNTS_MBOX ? MAILBOX_MBOX :
	    MAILBOX_MAILDIR;
	loc.mbox_inbox = NULL;
	free(u);
	accounts_close(&acc);
	if ((mb = mailbox_open(&loc, folder, MAILBOX_RDONLY, &f)) == NULL)
		return verb_error("mailbox", 1, "%s: %s", folder, f.text);
	if ((seq = mailbox_seq_of_uid(mb, uid)) == 0 ||
	    mailbox_msg(mb, seq, &m) == -1) {
		mailbox_close(&mb);
		return verb_error("mailbox", 1, "no message with UID %u in %s",
		    uid, folder);
	}
	if (m.wire_size > EXPLAIN_MAX ||
	    (ms = mailbox_stream_open(mb, seq, &f)) == NULL) {
		mailbox_close(&mb);
		return verb_error("mailbox", 1, "cannot read UID %u", uid);
	}
	*buf_r = xcalloc(1, (size_t)m.wire_size + 1);
	*len_r = 0;
	while (*len_r < m.wire_size && (n = mailbox_stream_read(ms,
	    *buf_r + *len_r, (size_t)m.wire_size - *len_r)) > 0)
		*len_r += (size_t)n;
	mailbox_stream_close(&ms);
	mailbox_close(&mb);
	return 0;
}

int
verb_mailbox(const char *conf_path, int argc, char **argv)
{
	struct admin	 a;
	unsigned int	 uid;
	char		*buf = NULL;
	size_t		 len = 0;
	int		 rc;

	if ((argc != 4 && argc != 5) || strcmp(argv[1], "show") != 0 ||
	    strnum_uint(argv[3], 1, UINT32_MAX, &uid) == -1)
		return verb_error("mailbox", EXIT_USAGE, "usage: buzon mailbox "
		    "show ADDRESS UID [FOLDER]");
	if ((rc = admin_open("mailbox", conf_path, &a)) != 0)
		return rc;
	rc = read_stored(&a, argv[2], argc == 5 ? argv[4] : "INBOX", uid,
	    &buf, &len);
	admin_close(&a);
	if (rc != 0)
		return rc;
	rc = mime_explain(buf, len, stdout);
	free(buf);
	if (fflush(stdout) != 0 || rc == -1)
		return verb_error("mailbox", 1, "cannot write the explanation");
	return 0;
}
