/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "deliver.h"
#include "maildir_quota.h"
#include "deliver_private.h"
#include "mem.h"
#include "str.h"

static char	 tdir[64];

static void
setup(void)
{
	(void)str_copy(tdir, "/tmp/deliver_test.XXXXXX", sizeof(tdir));
	cr_assert_not_null(mkdtemp(tdir));
}

static void
rm_rf(const char *path)
{
	char	 cmd[256];

	cr_assert(str_printf(cmd, sizeof(cmd), "rm -rf '%s'", path));
	(void)!system(cmd);
}

static void
teardown(void)
{
	rm_rf(tdir);
}

TestSuite(deliver, .init = setup, .fini = teardown);

static char *
path_in(const char *rel)
{
	static char	 buf[4][512];
	static int	 i;

	i = (i + 1) % 4;
	cr_assert(str_printf(buf[i], sizeof(buf[i]), "%s/%s", tdir, rel));
	return buf[i];
}

/* Whole file into a NUL-terminated buffer (caller frees). */
static char *
slurp(const char *path, size_t *len_r)
{
	struct str	 s;
	char		 buf[8192];
	ssize_t		 n;
	int		 fd;

	fd = open(path, O_RDONLY);
	cr_assert(fd != -1, "open %s: %s", path, strerror(errno));
	str_init(&s, 0);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		cr_assert_eq(str_append(&s, buf, (size_t)n), 0);
	(void)close(fd);
	if (len_r != NULL)
		*len_r = s.len;
	if (s.data == NULL)
		return xstrdup("");
	return str_detach(&s, NULL);
}

static void
spit(const char *path, const char *data, size_t len)
{
	int	 fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert(fd != -1);
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	(void)close(fd);
}

/* Number of entries in dir (not . and ..); the first name in first. */
static int
count_dir(const char *dir, char *first, size_t firstsize)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	d = opendir(dir);
	cr_assert_not_null(d, "opendir %s", dir);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (n++ == 0 && first != NULL)
			(void)str_copy(first, de->d_name, firstsize);
	}
	(void)closedir(d);
	return n;
}

static struct deliver_conf	 conf;

static void
init_conf(void)
{
	deliver_conf_init(&conf);
	conf.hostname = "mx.example.org";
}

static struct deliver_msg
buf_msg(const char *s)
{
	struct deliver_msg	 m;

	memset(&m, 0, sizeof(m));
	m.buf = s;
	m.fd = -1;
	m.len = strlen(s);
	return m;
}

static struct deliver_rcpt
rcpt_to(const char *path, enum deliver_format fmt)
{
	struct deliver_rcpt	 r;

	memset(&r, 0, sizeof(r));
	r.sender = "alice@example.com";
	r.address = "bob@example.org";
	r.path = xstrdup(path);		/* path_in() buffers get reused */
	r.format = fmt;
	return r;
}

/* ---- Maildir names ---- */

Test(deliver, maildir_name)
{
	char	 buf[DELIVER_NAME_MAX];

	cr_assert_eq(deliver_maildir_name(buf, sizeof(buf), 1795395723, 42,
	    1234, 7, "mx.example.org"), 0);
	cr_assert_str_eq(buf, "1795395723.M000042P1234Q7.mx.example.org");
	cr_assert_eq(deliver_maildir_name(buf, sizeof(buf), 1, 999999, 1, 1,
	    "a/b:c"), 0);
	cr_assert_str_eq(buf, "1.M999999P1Q1.a\\057b\\072c");
	cr_assert_eq(deliver_maildir_name(buf, 20, 1795395723, 42, 1234, 7,
	    "mx.example.org"), -1);
}

struct size_case {
	char		 name[64];
	int		 rc;
	uint64_t	 size;
};

ParameterizedTestParameters(deliver, maildir_name_size)
{
	static struct size_case cases[] = {
		{ "1.M1P1Q1.h,S=123", 1, 123 },
		{ "1.M1P1Q1.h,S=123:2,S", 1, 123 },
		{ "1.M1P1Q1.h,S=123,W=130:2,", 1, 123 },
		{ "1.M1P1Q1.h,S=0", 1, 0 },
		{ "1.M1P1Q1.h,S=", 0, 0 },
		{ "1.M1P1Q1.h,S=12a", 0, 0 },
		{ "1.M1P1Q1.h", 0, 0 },
		{ "1.M1P1Q1.h,S=99999999999999999999999", 0, 0 },
	};
	return cr_make_param_array(struct size_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct size_case *c, deliver, maildir_name_size)
{
	uint64_t	 v = 7;

	cr_assert_eq(maildir_name_size(c->name, &v), c->rc, "%s",
	    c->name);
	if (c->rc == 1)
		cr_assert_eq(v, c->size);
}

/* ---- Maildir delivery ---- */

Test(deliver, maildir_content_and_name)
{
	struct deliver_msg	 m;
	struct deliver_rcpt	 r;
	struct deliver_result	 res;
	struct fail		 f;
	char			 name[256], p[512], *got;
	size_t			 len;
	uint64_t		 sz;
	const char		*want = "Return-Path: <alice@example.com>\n"
	    "Delivered-To: bob@example.org\n"
	    "Subject: hi\n\nbody\nFrom me\nbare\rcr\n";

	init_conf();
	m = buf_msg("Subject: hi\r\n\r\nbody\r\nFrom me\r\nbare\rcr\r\n");
	r = rcpt_to(path_in("a/b/Maildir"), DELIVER_MAILDIR);
	cr_assert_eq(deliver(&conf, &r, &m, &res, &f), 0, "%s", f.text);
	cr_assert_eq(count_dir(path_in("a/b/Maildir/new"), name,
	    sizeof(name)), 1);
	cr_assert_eq(count_dir(path_in("a/b/Maildir/tmp"), NULL, 0), 0);
	cr_assert_eq(count_dir(path_in("a/b/Maildir/cur"), NULL, 0), 0);
	cr_assert_str_eq(name, res.name);
	cr_assert(strstr(name, ".mx.example.org,S=") != NULL, "%s", name);
	cr_assert(str_printf(p, sizeof(p), "%s/a/b/Maildir/new/%s", tdir,
	    name));
	got = slurp(p, &len);
	cr_assert_str_eq(got, want);
	cr_assert_eq(maildir_name_size(name, &sz), 1);
	cr_assert_eq(sz, len);
	cr_assert_eq(res.size, len);
	/* 7 lines, all LF: the wire size has 7 bytes more. */
	cr_assert(str_printf(p, sizeof(p), ",S=%zu,W=%zu", len, len + 7));
	cr_assert(strstr(name, p) != NULL, "%s", name);
	free(got);
}

Test(deliver, maildir_null_sender_lf_input)
{
	struct deliver_msg	 m;
	struct deliver_rcpt	 r;
	struct deliver_result	 res;
	struct fail		 f;
	char			 p[512], *got;

	init_conf();
	m = buf_msg("Subject: x\n\nno newline at end");
	r = rcpt_to(path_in("md"), DELIVER_MAILDIR);
	r.sender = "";
	cr_assert_eq(deliver(&conf, &r, &m, &res, &f), 0, "%s", f.text);
	cr_assert(str_printf(p, sizeof(p), "%s/md/new/%s", tdir, res.name));
	got = slurp(p, NULL);
	cr_assert_str_eq(got, "Return-Path: <>\nDelivered-To: bob@example.org\n"
	    "Subject: x\n\nno newline at end");
	free(got);
}

/* From a byte range of a file, with CRLF split across the read chunks. */
Test(deliver, maildir_from_fd_range)
{
	struct deliver_msg	 m;
	struct deliver_rcpt	 r;
	struct deliver_result	 res;
	struct fail		 f;
	struct str		 in, want;
	char			 p[512], *got;
	size_t			 i, len;
	int			 fd;

	init_conf();
	str_init(&in, 0);
	str_init(&want, 0);
	cr_assert_eq(str_append_str(&in, "JUNKSubject: big\r\n\r\n"), 0);
	cr_assert_eq(str_append_str(&want, "Return-Path: <alice@example.com>\n"
	    "Delivered-To: bob@example.org\nSubject: big\n\n"), 0);
	/* Lines of 99 bytes + CRLF, so some CRLF pair straddles 65536. */
	for (i = 0; i < 2000; i++) {
		cr_assert_eq(str_appendf(&in, "%098zu.\r\n", i), 0);
		cr_assert_eq(str_appendf(&want, "%098zu.\n", i), 0);
	}
	cr_assert_eq(str_append_str(&in, "TRAILER"), 0);
	spit(path_in("spoolfile"), in.data, in.len);
	fd = open(path_in("spoolfile"), O_RDONLY);
	cr_assert(fd != -1);
	memset(&m, 0, sizeof(m));
	m.fd = fd;
	m.offset = 4;
	m.len = in.len - 4 - 7;
	r = rcpt_to(path_in("md"), DELIVER_MAILDIR);
	cr_assert_eq(deliver(&conf, &r, &m, &res, &f), 0, "%s", f.text);
	cr_assert(str_printf(p, sizeof(p), "%s/md/new/%s", tdir, res.name));
	got = slurp(p, &len);
	cr_assert_eq(len, want.len);
	cr_assert(memcmp(got, want.data, len) == 0);
	(void)close(fd);
	free(got);
	str_release(&in);
	str_release(&want);
}

Test(deliver, maildir_short_file_is_tempfail)
{
	struct deliver_msg	 m;
	struct deliver_rcpt	 r;
	struct fail		 f;
	int			 fd;

	init_conf();
	spit(path_in("short"), "Subject: x\r\n", 12);
	fd = open(path_in("short"), O_RDONLY);
	memset(&m, 0, sizeof(m));
	m.fd = fd;
	m.len = 1000;
	r = rcpt_to(path_in("md"), DELIVER_MAILDIR);
	cr_assert_eq(deliver(&conf, &r, &m, NULL, &f), -1);
	cr_assert(f.temp);
	cr_assert_str_eq(f.code, "4.3.0");
	cr_assert_eq(count_dir(path_in("md/new"), NULL, 0), 0);
	cr_assert_eq(count_dir(path_in("md/tmp"), NULL, 0), 0);
	(void)close(fd);
}

Test(deliver, maildir_under_a_file_is_tempfail)
{
	struct deliver_msg	 m;
	struct deliver_rcpt	 r;
	struct fail		 f;

	init_conf();
	spit(path_in("file"), "x", 1);
	m = buf_msg("Subject: x\n\nbody\n");
	r = rcpt_to(path_in("file/Maildir"), DELIVER_MAILDIR);
	cr_assert_eq(deliver(&conf, &r, &m, NULL, &f), -1);
	cr_assert(f.temp);
	cr_assert_str_eq(f.code, "4.3.0");
}

/* A Maildir, or one of its subdirectories, replaced by a link to another
 * directory is refused (temporary) and the link's target is untouched. */
Test(deliver, maildir_symlink_not_followed)
{
	static const char *const links[] = { "", "/new", "/tmp", "/cur" };
	struct deliver_msg	 m;
	struct deliver_rcpt	 r;
	struct fail		 f;
	size_t			 i;

	init_conf();
	m = buf_msg("Subject: x\n\nbody\n");
	r = rcpt_to(path_in("other"), DELIVER_MAILDIR);
	cr_assert_eq(deliver(&conf, &r, &m, NULL, &f), 0);
	cr_assert_eq(count_dir(path_in("other/new"), NULL, 0), 1);
	for (i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		rm_rf(path_in("user"));
		if (i > 0) {
			cr_assert_eq(mkdir(path_in("user"), 0700), 0);
			cr_assert_eq(mkdir(path_in("user/cur"), 0700) == 0 ||
			    i == 3, 1);
			if (i != 1)
				cr_assert_eq(mkdir(path_in("user/new"), 0700),
				    0);
			if (i != 2)
				cr_assert_eq(mkdir(path_in("user/tmp"), 0700),
				    0);
			if (i == 3)
				rm_rf(path_in("user/cur"));
		}
		cr_assert(symlink(path_in(i == 0 ? "other" : "other/new"),
		    path_in(i == 0 ? "user" : "user/x")) == 0);
		if (i > 0)
			cr_assert_eq(rename(path_in("user/x"), path_in(
			    i == 1 ? "user/new" : i == 2 ? "user/tmp" :
			    "user/cur")), 0);
		r = rcpt_to(path_in("user"), DELIVER_MAILDIR);
		cr_assert_eq(deliver(&conf, &r, &m, NULL, &f), -1, "%zu", i);
		cr_assert(f.temp);
		cr_assert_str_eq(f.code, "4.3.0");
		cr_assert(strstr(f.text, "symbolic link") != NULL, "%s",
		    f.text);
		cr_assert_eq(count_dir(path_in("other/new"), NULL, 0), 1);
		cr_assert_eq(count_dir(path_in("other/tmp"), NULL, 0), 0);
	}
}

/* new/ swapped for a link between writing the file and the commit: the
 * link into new/ is refused, nothing lands in the link's target. */
Test(deliver, maildir_link_swapped_before_commit)
{
	struct deliver_batch	*b;
	struct deliver_msg	 m;
	struct deliver_rcpt	 r;
	struct fail		 f;

	init_conf();
	m = buf_msg("Subject: x\n\nbody\n");
	r = rcpt_to(path_in("other"), DELIVER_MAILDIR);
	cr_assert_eq(deliver(&conf, &r, &m, NULL, &f), 0);
	r = rcpt_to(path_in("user"), DELIVER_MAILDIR);
	cr_assert_eq(deliver(&conf, &r, &m, NULL, &f), 0);
	b = deliver_batch_begin(&conf);
	cr_assert_eq(deliver_batch_add(b, &r, &m, NULL, &f), 0);
	cr_assert_eq(rename(path_in("user/new"), path_in("user/new.old")), 0);
	cr_assert_eq(symlink(path_in("other/new"), path_in("user/new")), 0);
	cr_assert_eq(deliver_batch_commit(&b, &f), -1);
	cr_assert(f.temp);
	cr_assert_eq(count_dir(path_in("other/new"), NULL, 0), 1);
	cr_assert_eq(count_dir(path_in("user/new.old"), NULL, 0), 1);
}

/* The directory of an mbox is not followed either. */
Test(deliver, mbox_dir_symlink_not_followed)
{
	struct deliver_msg	 m;
	struct deliver_rcpt	 r;
	struct fail		 f;

	init_conf();
	cr_assert_eq(mkdir(path_in("other"), 0700), 0);
	cr_assert_eq(symlink(path_in("other"), path_in("user")), 0);
	m = buf_msg("Subject: x\n\nbody\n");
	r = rcpt_to(path_in("user/INBOX"), DELIVER_MBOX);
	cr_assert_eq(deliver(&conf, &r, &m, NULL, &f), -1);
	cr_assert(f.temp);
	cr_assert_eq(count_dir(path_in("other"), NULL, 0), 0);
}

/* The first mailbox of a new domain: every directory made is synced
 * through its parent, up to the one that was there. */
Test(deliver, new_path_synced_whole)
{
	static const char *const want[] = { "mail", "mail/new.test",
	    "mail/new.test/u", "mail/new.test/u/new" };
	struct deliver_batch	*b;
	struct deliver_msg	 m;
	struct deliver_rcpt	 r;
	struct fail		 f;
	size_t			 i, j;

	init_conf();
	cr_assert_eq(mkdir(path_in("mail"), 0700), 0);
	m = buf_msg("Subject: x\n\nbody\n");
	r = rcpt_to(path_in("mail/new.test/u"), DELIVER_MAILDIR);
	b = deliver_batch_begin(&conf);
	cr_assert_eq(deliver_batch_add(b, &r, &m, NULL, &f), 0);
	cr_assert_eq(deliver_maildir_flush(b, &f), 0);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		for (j = 0; j < b->ndirs; j++)
			if (strcmp(b->dirs[j], path_in(want[i])) == 0)
				break;
		cr_assert_lt(j, b->ndirs, "%s not synced", want[i]);
	}
	for (j = 0; j < b->ndirs; j++)
		cr_assert_neq(strcmp(b->dirs[j], tdir), 0, "%s", tdir);
	cr_assert_eq(deliver_batch_commit(&b, &f), 0);
	/* mbox likewise. */
	r = rcpt_to(path_in("mail/other.test/v/INBOX"), DELIVER_MBOX);
	b = deliver_batch_begin(&conf);
	cr_assert_eq(deliver_batch_add(b, &r, &m, NULL, &f), 0);
	for (j = 0; j < b->ndirs; j++)
		if (strcmp(b->dirs[j], path_in("mail")) == 0)
			break;
	cr_assert_lt(j, b->ndirs);
	cr_assert_eq(deliver_batch_commit(&b, &f), 0);
}

/* Unique names: many messages from one process and from several. */
Test(deliver, maildir_unique_names)
{
	struct deliver_msg	 m;
	struct deliver_rcpt	 r;
	struct fail		 f;
	pid_t			 pids[4];
	int			 i, j, st;

	init_conf();
	m = buf_msg("Subject: x\n\nbody\n");
	r = rcpt_to(path_in("md"), DELIVER_MAILDIR);
	for (i = 0; i < 4; i++) {
		pids[i] = fork();
		cr_assert(pids[i] != -1);
		if (pids[i] == 0) {
			for (j = 0; j < 25; j++)
				if (deliver(&conf, &r, &m, NULL, &f) == -1)
					_exit(1);
			_exit(0);
		}
	}
	for (j = 0; j < 25; j++)
		cr_assert_eq(deliver(&conf, &r, &m, NULL, &f), 0, "%s",
		    f.text);
	for (i = 0; i < 4; i++) {
		cr_assert_eq(waitpid(pids[i], &st, 0), pids[i]);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	cr_assert_eq(count_dir(path_in("md/new"), NULL, 0), 125);
	cr_assert_eq(count_dir(path_in("md/tmp"), NULL, 0), 0);
}

Test(deliver, batch_two_mailboxes)
{
	struct deliver_batch	*b;
	struct deliver_msg	 m;
	struct deliver_rcpt	 r1, r2;
	struct fail		 f;

	init_conf();
	m = buf_msg("Subject: x\n\nbody\n");
	r1 = rcpt_to(path_in("one"), DELIVER_MAILDIR);
	r2 = rcpt_to(path_in("two"), DELIVER_MBOX);
	b = deliver_batch_begin(&conf);
	cr_assert_eq(deliver_batch_add(b, &r1, &m, NULL, &f), 0);
	cr_assert_eq(deliver_batch_add(b, &r1, &m, NULL, &f), 0);
	cr_assert_eq(deliver_batch_add(b, &r2, &m, NULL, &f), 0);
	cr_assert_eq(deliver_batch_commit(&b, &f), 0);
	cr_assert_null(b);
	cr_assert_eq(count_dir(path_in("one/new"), NULL, 0), 2);
	deliver_batch_free(&b);		/* NULL is fine */
}

/* ---- Delivered-To loops ---- */

Test(deliver, loop_maildir)
{
	struct deliver_msg	 m;
	struct deliver_rcpt	 r;
	struct fail		 f;

	init_conf();
	m = buf_msg("Received: x\r\nDelivered-To:  <BOB@Example.org> \r\n"
	    "Subject: x\r\n\r\nbody\r\n");
	r = rcpt_to(path_in("md"), DELIVER_MAILDIR);
	cr_assert_eq(deliver(&conf, &r, &m, NULL, &f), -1);
	cr_assert_not(f.temp);
	cr_assert_str_eq(f.code, "5.4.6");
	cr_assert_str_eq(f.text, "mail forwarding loop for bob@example.org");
	cr_assert_eq(count_dir(path_in("md/new"), NULL, 0), 0);
	cr_assert_eq(count_dir(path_in("md/tmp"), NULL, 0), 0);
}

Test(deliver, loop_mbox_leaves_file_alone)
{
	struct deliver_msg	 m;
	struct deliver_rcpt	 r;
	struct fail		 f;
	char			*got;

	init_conf();
	spit(path_in("mbox"), "old\n", 4);
	m = buf_msg("Delivered-To: bob@example.org\n\nbody\n");
	r = rcpt_to(path_in("mbox"), DELIVER_MBOX);
	cr_assert_eq(deliver(&conf, &r, &m, NULL, &f), -1);
	cr_assert_str_eq(f.code, "5.4.6");
	got = slurp(path_in("mbox"), NULL);
	cr_assert_str_eq(got, "old\n");
	free(got);
	cr_assert_eq(access(path_in("mbox.lock"), F_OK), -1);
}

Test(deliver, not_a_loop)
{
	struct deliver_msg	 m;
	struct deliver_rcpt	 r;
	struct fail		 f;

	init_conf();
	r = rcpt_to(path_in("md"), DELIVER_MAILDIR);
	/* Another address, or the same one in the body. */
	m = buf_msg("Delivered-To: carol@example.org\n\n"
	    "Delivered-To: bob@example.org\n");
	cr_assert_eq(deliver(&conf, &r, &m, NULL, &f), 0, "%s", f.text);
	m = buf_msg("Delivered-To: bob@example.org.evil\n\nx\n");
	cr_assert_eq(deliver(&conf, &r, &m, NULL, &f), 0, "%s", f.text);
	m = buf_msg("X-Delivered-To: bob@example.org\n\nx\n");
	cr_assert_eq(deliver(&conf, &r, &m, NULL, &f), 0, "%s", f.text);
	cr_assert_eq(count_dir(path_in("md/new"), NULL, 0), 3);
}

/* ---- mbox ---- */

/* Undo mboxrd quoting on one message body, as a reader would. */
static void
unquote(char *s)
{
	char	*line, *p;

	for (line = s; *line != '\0'; line = p) {
		p = line + strcspn(line, "\n");
		if (*p == '\n')
			p++;
		if (line[0] == '>' && strncmp(line + strspn(line, ">"),
		    "From ", 5) == 0) {
			memmove(line, line + 1, strlen(line + 1) + 1);
			p--;
		}
	}
}

Test(deliver, mbox_format_and_quoting)
{
	struct deliver_msg	 m;
	struct deliver_rcpt	 r;
	struct fail		 f;
	char			*got, *body;
	const char		*in = "Subject: q\r\n\r\nFrom me\r\n"
	    ">From me\r\n>>From x\r\nFromage\r\n>Fro\r\nFrom\r\n> From y\r\n"
	    "\r\nFrom ";
	const char		*want = "Return-Path: <alice@example.com>\n"
	    "Delivered-To: bob@example.org\nSubject: q\n\n>From me\n"
	    ">>From me\n>>>From x\nFromage\n>Fro\nFrom\n> From y\n\n>From \n"
	    "\n";

	init_conf();
	m = buf_msg(in);
	r = rcpt_to(path_in("box/INBOX"), DELIVER_MBOX);
	cr_assert_eq(deliver(&conf, &r, &m, NULL, &f), 0, "%s", f.text);
	got = slurp(path_in("box/INBOX"), NULL);
	cr_assert(strncmp(got, "From alice@example.com ", 23) == 0, "%s", got);
	/* asctime shape: "Www Mmm dd hh:mm:ss yyyy" */
	body = strchr(got, '\n');
	cr_assert_not_null(body);
	cr_assert_eq(body - got, 23 + 24);
	body++;
	cr_assert_str_eq(body, want);
	/* Round trip: the reader's unquoting gives the message back. */
	body[strlen(body) - 1] = '\0';	/* the separating blank line */
	unquote(body);
	cr_assert_str_eq(body, "Return-Path: <alice@example.com>\n"
	    "Delivered-To: bob@example.org\nSubject: q\n\nFrom me\n>From me\n"
	    ">>From x\nFromage\n>Fro\nFrom\n> From y\n\nFrom \n");
	cr_assert_eq(access(path_in("box/INBOX.lock"), F_OK), -1);
	free(got);
}

Test(deliver, mbox_null_sender_and_append)
{
	struct deliver_result	 res;
	struct deliver_msg	 m;
	struct deliver_rcpt	 r;
	struct fail		 f;
	char			*got, *second;

	init_conf();
	spit(path_in("mbox"), "From x Thu Jan  1 00:00:00 1970\nA: b\n\n"
	    "old\n\n", 44);
	m = buf_msg("Subject: n\n\nno newline");
	r = rcpt_to(path_in("mbox"), DELIVER_MBOX);
	r.sender = "";
	cr_assert_eq(deliver(&conf, &r, &m, &res, &f), 0, "%s", f.text);
	cr_assert_eq(res.offset, 44);
	got = slurp(path_in("mbox"), NULL);
	second = got + 44;
	cr_assert(strncmp(second, "From MAILER-DAEMON ", 19) == 0, "%s",
	    second);
	second = strchr(second, '\n') + 1;
	cr_assert_str_eq(second, "Return-Path: <>\nDelivered-To: "
	    "bob@example.org\nSubject: n\n\nno newline\n\n");
	free(got);
}

Test(deliver, mbox_refuses_symlink_and_dir)
{
	struct deliver_msg	 m;
	struct deliver_rcpt	 r;
	struct fail		 f;

	init_conf();
	m = buf_msg("Subject: x\n\nbody\n");
	spit(path_in("target"), "", 0);
	cr_assert_eq(symlink(path_in("target"), path_in("link")), 0);
	r = rcpt_to(path_in("link"), DELIVER_MBOX);
	cr_assert_eq(deliver(&conf, &r, &m, NULL, &f), -1);
	cr_assert(f.temp);
	cr_assert_eq(mkdir(path_in("dir"), 0700), 0);
	r = rcpt_to(path_in("dir"), DELIVER_MBOX);
	cr_assert_eq(deliver(&conf, &r, &m, NULL, &f), -1);
	cr_assert(f.temp);
	cr_assert_eq(access(path_in("dir.lock"), F_OK), -1);
}

/* Two processes append 40 messages each of ~20 kB: all whole. */
Test(deliver, mbox_concurrent_writers)
{
	struct deliver_msg	 m;
	struct deliver_rcpt	 r;
	struct fail		 f;
	struct str		 msg[2];
	pid_t			 pid;
	char			*got, *p, *next;
	int			 i, j, st, count[2] = { 0, 0 };

	init_conf();
	r = rcpt_to(path_in("mbox"), DELIVER_MBOX);
	for (i = 0; i < 2; i++) {
		str_init(&msg[i], 0);
		cr_assert_eq(str_appendf(&msg[i], "Subject: w%d\n\n", i), 0);
		for (j = 0; j < 400; j++)
			cr_assert_eq(str_appendf(&msg[i], "writer %d line "
			    "%03d ............................\n", i, j), 0);
	}
	pid = fork();
	cr_assert(pid != -1);
	i = pid == 0 ? 1 : 0;
	m = buf_msg(str_c(&msg[i]));
	for (j = 0; j < 40; j++)
		if (deliver(&conf, &r, &m, NULL, &f) == -1) {
			if (pid == 0)
				_exit(1);
			cr_assert_fail("%s", f.text);
		}
	if (pid == 0)
		_exit(0);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	got = slurp(path_in("mbox"), NULL);
	for (p = got; *p != '\0'; p = next) {
		cr_assert(strncmp(p, "From alice@example.com ", 23) == 0);
		p = strchr(p, '\n') + 1;
		next = strstr(p, "\n\nFrom ");
		next = next == NULL ? p + strlen(p) : next + 2;
		cr_assert(strncmp(p, "Return-Path: <alice@example.com>\n"
		    "Delivered-To: bob@example.org\n", 63) == 0);
		p += 63;
		i = p[10] - '0';
		cr_assert(i == 0 || i == 1);
		cr_assert_eq((size_t)(next - p), msg[i].len + 1);
		cr_assert(memcmp(p, msg[i].data, msg[i].len) == 0);
		count[i]++;
	}
	cr_assert_eq(count[0], 40);
	cr_assert_eq(count[1], 40);
	free(got);
	str_release(&msg[0]);
	str_release(&msg[1]);
}

/* A write that fails half way leaves the mbox as it was. */
Test(deliver, mbox_truncates_back_on_write_failure)
{
	struct deliver_msg	 m;
	struct deliver_rcpt	 r;
	struct fail		 f;
	struct rlimit		 rl;
	struct str		 big;
	char			*got;
	size_t			 len;
	int			 j;

	init_conf();
	spit(path_in("mbox"), "From x Thu Jan  1 00:00:00 1970\n\nold\n\n", 38);
	str_init(&big, 0);
	cr_assert_eq(str_append_str(&big, "Subject: big\n\n"), 0);
	for (j = 0; j < 2000; j++)
		cr_assert_eq(str_append_str(&big, "0123456789012345678901234"
		    "567890123456789\n"), 0);
	signal(SIGXFSZ, SIG_IGN);
	rl.rlim_cur = rl.rlim_max = 38 + 5000;
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	m = buf_msg(str_c(&big));
	r = rcpt_to(path_in("mbox"), DELIVER_MBOX);
	cr_assert_eq(deliver(&conf, &r, &m, NULL, &f), -1);
	cr_assert(f.temp);
	cr_assert_str_eq(f.code, "4.3.0");
	got = slurp(path_in("mbox"), &len);
	cr_assert_eq(len, 38);
	cr_assert_str_eq(got, "From x Thu Jan  1 00:00:00 1970\n\nold\n\n");
	cr_assert_eq(access(path_in("mbox.lock"), F_OK), -1);
	free(got);
	str_release(&big);
}

/* ---- quota ---- */

static void
quota_case(enum deliver_format fmt, bool bounce)
{
	struct deliver_msg	 m;
	struct deliver_rcpt	 r;
	struct fail		 f;
	struct str		 body;
	int			 j;

	init_conf();
	conf.quota_bounce = bounce;
	str_init(&body, 0);
	cr_assert_eq(str_append_str(&body, "Subject: q\n\n"), 0);
	for (j = 0; j < 10; j++)
		cr_assert_eq(str_append_str(&body, "012345678901234567890123456"
		    "789012345678901234567890123456789012345678901234567\n"),
		    0);
	m = buf_msg(str_c(&body));
	r = rcpt_to(path_in(fmt == DELIVER_MBOX ? "mbox" : "md"), fmt);
	r.quota = 1500;
	cr_assert_eq(deliver(&conf, &r, &m, NULL, &f), 0, "%s", f.text);
	cr_assert_eq(deliver(&conf, &r, &m, NULL, &f), -1);
	cr_assert_eq(f.temp, !bounce);
	cr_assert_str_eq(f.code, bounce ? "5.2.2" : "4.2.2");
	cr_assert(strstr(f.text, "quota") != NULL);
	r.quota = 0;
	cr_assert_eq(deliver(&conf, &r, &m, NULL, &f), 0, "%s", f.text);
	str_release(&body);
}

Test(deliver, quota_maildir_temp) { quota_case(DELIVER_MAILDIR, false); }
Test(deliver, quota_maildir_bounce) { quota_case(DELIVER_MAILDIR, true); }
Test(deliver, quota_mbox_temp) { quota_case(DELIVER_MBOX, false); }
Test(deliver, quota_mbox_bounce) { quota_case(DELIVER_MBOX, true); }

/* Sizes that would wrap a 64-bit sum count as huge, never as small: a
 * maildirsize whose lines overflow int64 is recounted, and ",S=" sizes
 * that add past UINT64_MAX saturate. */
Test(deliver, quota_sum_never_wraps)
{
	static const char big[] = "9223372036854775807 1\n";
	struct deliver_msg	 m;
	struct deliver_rcpt	 r;
	struct fail		 f;
	struct str		 ms;
	int			 i;

	cr_assert_eq(deliver_size_add(UINT64_MAX - 1, 2), UINT64_MAX);
	cr_assert_eq(deliver_size_add(1, 2), 3);
	cr_assert(deliver_quota_exceeded(UINT64_MAX, 1, 100));
	cr_assert(deliver_quota_exceeded(1, UINT64_MAX, 100));
	cr_assert(!deliver_quota_exceeded(50, 50, 100));
	cr_assert(deliver_quota_exceeded(50, 51, 100));

	init_conf();
	m = buf_msg("Subject: x\n\nbody\n");
	r = rcpt_to(path_in("md"), DELIVER_MAILDIR);
	r.quota = 1000;
	cr_assert_eq(deliver(&conf, &r, &m, NULL, &f), 0, "%s", f.text);
	/* Really over quota: a 2000-byte message in cur/. */
	str_init(&ms, 0);
	for (i = 0; i < 2000; i++)
		cr_assert_eq(str_append_c(&ms, 'x'), 0);
	spit(path_in("md/cur/1.big"), str_c(&ms), ms.len);
	/* ...but maildirsize sums to INT64_MAX * 2 + 2, which wraps to 0. */
	str_clear(&ms);
	cr_assert_eq(str_append_str(&ms, "1000S\n"), 0);
	cr_assert_eq(str_append_str(&ms, big), 0);
	cr_assert_eq(str_append_str(&ms, big), 0);
	cr_assert_eq(str_append_str(&ms, "2 1\n"), 0);
	spit(path_in("md/maildirsize"), str_c(&ms), ms.len);
	cr_assert_eq(deliver(&conf, &r, &m, NULL, &f), -1);
	cr_assert_str_eq(f.code, "4.2.2");
	/* Two names claiming half of 2^64 each do not add up to 0. */
	unlink(path_in("md/cur/1.big"));
	unlink(path_in("md/maildirsize"));
	spit(path_in("md/cur/1.a,S=9223372036854775808"), "x", 1);
	spit(path_in("md/cur/2.b,S=9223372036854775808"), "x", 1);
	cr_assert_eq(deliver(&conf, &r, &m, NULL, &f), -1);
	cr_assert_str_eq(f.code, "4.2.2");
	str_release(&ms);
}

/* maildirsize is kept up to date, and a stale "full" is recounted. */
Test(deliver, quota_maildirsize)
{
	struct deliver_msg	 m;
	struct deliver_rcpt	 r;
	struct deliver_result	 res;
	struct fail		 f;
	char			*got, want[64];

	init_conf();
	m = buf_msg("Subject: x\n\nbody\n");
	r = rcpt_to(path_in("md"), DELIVER_MAILDIR);
	r.quota = 100000;
	cr_assert_eq(deliver(&conf, &r, &m, &res, &f), 0, "%s", f.text);
	got = slurp(path_in("md/maildirsize"), NULL);
	cr_assert(str_printf(want, sizeof(want), "100000S\n0 0\n%llu 1\n",
	    (unsigned long long)res.size));
	cr_assert_str_eq(got, want);
	free(got);
	/* Someone expunged without telling maildirsize. */
	spit(path_in("md/maildirsize"), "100000S\n99999 1\n", 16);
	cr_assert_eq(deliver(&conf, &r, &m, &res, &f), 0, "%s", f.text);
	got = slurp(path_in("md/maildirsize"), NULL);
	cr_assert(str_printf(want, sizeof(want), "100000S\n%llu 0\n%llu 1\n",
	    (unsigned long long)res.size, (unsigned long long)res.size));
	cr_assert_str_eq(got, want);
	free(got);
	/* A broken file is rebuilt. */
	spit(path_in("md/maildirsize"), "100000S\nxx 1\n", 13);
	cr_assert_eq(deliver(&conf, &r, &m, &res, &f), 0, "%s", f.text);
	cr_assert_eq(count_dir(path_in("md/new"), NULL, 0), 3);
}

/* ---- the content filter, split anywhere ---- */

/* Run the filter over in, cut at the given points; the output. */
static char *
xform_run(const char *in, size_t len, bool mboxrd, const size_t *cuts,
    size_t ncuts, bool *loop_r, size_t *outlen)
{
	struct deliver_xform	 x;
	struct deliver_out	*o;
	size_t			 i, from = 0, to;
	char			*got;
	FILE			*fp;

	fp = tmpfile();
	cr_assert_not_null(fp);
	o = xmalloc(sizeof(*o));
	deliver_out_init(o, fileno(fp));
	deliver_xform_init(&x, mboxrd, "bob@example.org");
	for (i = 0; i <= ncuts; i++) {
		to = i < ncuts ? cuts[i] : len;
		deliver_xform_feed(&x, o, in + from, to - from);
		from = to;
	}
	deliver_xform_finish(&x, o);
	cr_assert_eq(deliver_out_flush(o), 0);
	*outlen = (size_t)o->written;
	*loop_r = x.loop;
	got = xmalloc(*outlen + 1);
	rewind(fp);
	cr_assert_eq(fread(got, 1, *outlen, fp), *outlen);
	got[*outlen] = '\0';
	fclose(fp);
	free(o);
	return got;
}

struct trickle_case {
	char	 in[160];
	bool	 mboxrd;
	bool	 loop;
	char	 want[160];
};

ParameterizedTestParameters(deliver, filter_trickle)
{
	static struct trickle_case cases[] = {
		{ "A: b\r\n\r\nFrom x\r\n>>From y\r\nFro\r\rz\r\n>\r\n", true,
		    false, "A: b\n\n>From x\n>>>From y\nFro\r\rz\n>\n" },
		{ "A: b\r\n\r\nFrom x\r\n>>From y\r\nFro\r\rz\r\n>\r\n", false,
		    false, "A: b\n\nFrom x\n>>From y\nFro\r\rz\n>\n" },
		{ "From a\r\nDelivered-To: <bob@example.org>\r\n\r\n>From",
		    true, true, ">From a\nDelivered-To: <bob@example.org>\n\n"
		    ">From" },
		{ "X: 1\nDELIVERED-TO:bob@EXAMPLE.org\n\nbody\r", false, true,
		    "X: 1\nDELIVERED-TO:bob@EXAMPLE.org\n\nbody\r" },
		{ "X: 1\n\nDelivered-To: bob@example.org\n>>>", true, false,
		    "X: 1\n\nDelivered-To: bob@example.org\n>>>" },
		{ "\r\n>From \r\n>>>>From", true, false,
		    "\n>>From \n>>>>From" },
	};
	return cr_make_param_array(struct trickle_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

/* Any cut, and byte by byte, gives the same bytes as one feed. */
ParameterizedTest(struct trickle_case *c, deliver, filter_trickle)
{
	size_t	 len = strlen(c->in), i, outlen, cuts[160];
	bool	 loop;
	char	*got;

	got = xform_run(c->in, len, c->mboxrd, NULL, 0, &loop, &outlen);
	cr_assert_str_eq(got, c->want);
	cr_assert_eq(loop, c->loop);
	free(got);
	for (i = 0; i <= len; i++) {
		got = xform_run(c->in, len, c->mboxrd, &i, 1, &loop, &outlen);
		cr_assert_str_eq(got, c->want, "cut at %zu", i);
		cr_assert_eq(loop, c->loop, "cut at %zu", i);
		free(got);
	}
	for (i = 0; i < len; i++)
		cuts[i] = i;
	got = xform_run(c->in, len, c->mboxrd, cuts, len, &loop, &outlen);
	cr_assert_str_eq(got, c->want, "byte by byte");
	cr_assert_eq(loop, c->loop);
	free(got);
}

/* A reader holding the fcntl read lock makes a delivery wait for it. */
Test(deliver, mbox_waits_for_reader_lock)
{
	struct deliver_msg	 m;
	struct deliver_rcpt	 r;
	struct fail		 f;
	struct flock		 fl;
	struct timespec		 t0, t1;
	int			 fd, pipefd[2], st;
	pid_t			 pid;
	char			 c;

	init_conf();
	spit(path_in("mbox"), "", 0);
	cr_assert_eq(pipe(pipefd), 0);
	pid = fork();
	cr_assert(pid != -1);
	if (pid == 0) {
		fd = open(path_in("mbox"), O_RDONLY);
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_RDLCK;
		fl.l_whence = SEEK_SET;
		if (fd == -1 || fcntl(fd, F_SETLK, &fl) == -1)
			_exit(1);
		(void)!write(pipefd[1], "x", 1);
		usleep(300000);
		_exit(0);
	}
	cr_assert_eq(read(pipefd[0], &c, 1), 1);
	m = buf_msg("Subject: x\n\nbody\n");
	r = rcpt_to(path_in("mbox"), DELIVER_MBOX);
	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(deliver(&conf, &r, &m, NULL, &f), 0, "%s", f.text);
	(void)clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_assert_geq((t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000, 200);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* More messages than a batch keeps open: flushed on the way. */
Test(deliver, batch_many_and_discard)
{
	struct deliver_batch	*b;
	struct deliver_msg	 m;
	struct deliver_rcpt	 r;
	struct fail		 f;
	int			 i;

	init_conf();
	m = buf_msg("Subject: x\n\nbody\n");
	r = rcpt_to(path_in("md"), DELIVER_MAILDIR);
	b = deliver_batch_begin(&conf);
	for (i = 0; i < DELIVER_PENDING_MAX * 2 + 5; i++)
		cr_assert_eq(deliver_batch_add(b, &r, &m, NULL, &f), 0);
	/* Before the commit only the flushed ones are in new/. */
	cr_assert_eq(count_dir(path_in("md/new"), NULL, 0),
	    DELIVER_PENDING_MAX * 2);
	cr_assert_eq(count_dir(path_in("md/tmp"), NULL, 0), 5);
	cr_assert_eq(deliver_batch_commit(&b, &f), 0);
	cr_assert_eq(count_dir(path_in("md/new"), NULL, 0),
	    DELIVER_PENDING_MAX * 2 + 5);
	cr_assert_eq(count_dir(path_in("md/tmp"), NULL, 0), 0);
	/* A batch freed without commit leaves nothing behind. */
	b = deliver_batch_begin(&conf);
	cr_assert_eq(deliver_batch_add(b, &r, &m, NULL, &f), 0);
	cr_assert_eq(deliver_batch_add(b, &r, &m, NULL, &f), 0);
	deliver_batch_free(&b);
	cr_assert_null(b);
	cr_assert_eq(count_dir(path_in("md/new"), NULL, 0),
	    DELIVER_PENDING_MAX * 2 + 5);
	cr_assert_eq(count_dir(path_in("md/tmp"), NULL, 0), 0);
}

/* Messages still pending in a batch count toward the quota. */
Test(deliver, quota_counts_pending_batch)
{
	struct deliver_batch	*b;
	struct deliver_msg	 m;
	struct deliver_rcpt	 r;
	struct fail		 f;
	char			 body[700];

	init_conf();
	memset(body, 'x', sizeof(body) - 1);
	body[sizeof(body) - 1] = '\0';
	memcpy(body, "Subject: q\n\n", 12);
	m = buf_msg(body);
	r = rcpt_to(path_in("md"), DELIVER_MAILDIR);
	r.quota = 1600;		/* two of 762 bytes fit */
	b = deliver_batch_begin(&conf);
	cr_assert_eq(deliver_batch_add(b, &r, &m, NULL, &f), 0, "%s", f.text);
	cr_assert_eq(deliver_batch_add(b, &r, &m, NULL, &f), 0, "%s", f.text);
	cr_assert_eq(deliver_batch_add(b, &r, &m, NULL, &f), -1);
	cr_assert_str_eq(f.code, "4.2.2");
	cr_assert_eq(deliver_batch_commit(&b, &f), 0);
	cr_assert_eq(count_dir(path_in("md/new"), NULL, 0), 2);
}

/* A recount takes ",S=" from the name, else the file size, in cur/ and
 * new/, and ignores tmp/ and dot files. */
Test(deliver, quota_recount_from_names_and_sizes)
{
	struct deliver_msg	 m;
	struct deliver_rcpt	 r;
	struct fail		 f;
	char			 big[1000], *got;

	init_conf();
	memset(big, 'x', sizeof(big));
	cr_assert_eq(mkdir(path_in("md"), 0700), 0);
	cr_assert_eq(mkdir(path_in("md/cur"), 0700), 0);
	cr_assert_eq(mkdir(path_in("md/new"), 0700), 0);
	cr_assert_eq(mkdir(path_in("md/tmp"), 0700), 0);
	spit(path_in("md/cur/1.M1P1Q1.h:2,S"), big, sizeof(big));
	spit(path_in("md/cur/2.M1P1Q1.h,S=500:2,S"), "x", 1);
	spit(path_in("md/new/3.M1P1Q1.h,S=250"), "x", 1);
	spit(path_in("md/tmp/4.M1P1Q1.h"), big, sizeof(big));
	spit(path_in("md/cur/.hidden"), big, sizeof(big));
	m = buf_msg("Subject: x\n\nbody\n");
	r = rcpt_to(path_in("md"), DELIVER_MAILDIR);
	r.quota = 1790;		/* 1750 used: the 67 bytes do not fit */
	cr_assert_eq(deliver(&conf, &r, &m, NULL, &f), -1);
	cr_assert_str_eq(f.code, "4.2.2");
	got = slurp(path_in("md/maildirsize"), NULL);
	cr_assert_str_eq(got, "1790S\n1750 0\n");
	free(got);
	r.quota = 1900;
	cr_assert_eq(deliver(&conf, &r, &m, NULL, &f), 0, "%s", f.text);
}

/* An expunge that renames a new file over the mbox while we wait for
 * the lock: the message goes into the new file, not the unlinked one. */
Test(deliver, mbox_replaced_while_waiting)
{
	struct deliver_msg	 m;
	struct deliver_rcpt	 r;
	struct fail		 f;
	struct flock		 fl;
	int			 fd, pipefd[2], st;
	pid_t			 pid;
	char			 c, *got;

	init_conf();
	spit(path_in("mbox"), "OLD\n", 4);
	cr_assert_eq(pipe(pipefd), 0);
	pid = fork();
	cr_assert(pid != -1);
	if (pid == 0) {
		fd = open(path_in("mbox"), O_RDWR);
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (fd == -1 || fcntl(fd, F_SETLK, &fl) == -1)
			_exit(1);
		(void)!write(pipefd[1], "x", 1);
		usleep(200000);
		spit(path_in("mbox.new"), "NEW\n", 4);
		if (rename(path_in("mbox.new"), path_in("mbox")) == -1)
			_exit(1);
		_exit(0);
	}
	cr_assert_eq(read(pipefd[0], &c, 1), 1);
	m = buf_msg("Subject: x\n\nbody\n");
	r = rcpt_to(path_in("mbox"), DELIVER_MBOX);
	cr_assert_eq(deliver(&conf, &r, &m, NULL, &f), 0, "%s", f.text);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	got = slurp(path_in("mbox"), NULL);
	cr_assert(strncmp(got, "NEW\nFrom alice@example.com ", 27) == 0,
	    "%s", got);
	free(got);
}

/* The wire size counts a bare LF as two bytes, a CRLF as it is, also
 * across puts. */
Test(deliver, out_wire_size)
{
	struct deliver_out	*o;
	FILE			*fp;

	fp = tmpfile();
	cr_assert_not_null(fp);
	o = xmalloc(sizeof(*o));
	deliver_out_init(o, fileno(fp));
	deliver_out_put(o, "\na\r\nb\r", 6);
	deliver_out_put(o, "\n\n", 2);
	deliver_out_put(o, "", 0);
	cr_assert_eq(o->written, 8);
	cr_assert_eq(o->wire, 10);	/* the first and the last LF */
	cr_assert_eq(deliver_out_flush(o), 0);
	free(o);
	fclose(fp);
}
