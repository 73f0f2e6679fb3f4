/* SPDX-License-Identifier: MIT */
/*
 * main.c - buzon-deliver: deliver the message on stdin to local users
 *
 *	buzon-deliver [-c FILE] -f SENDER -d USER [-d USER...] < message
 *
 * Each USER goes through the aliases (accounts_resolve()), then every
 * local target gets one copy in its Maildir or mbox, once however many
 * USERs lead to it (as the queue does); all copies are made durable
 * together (one deliver batch).  Exit codes follow sysexits.h and
 * are listed in docs/buzon-deliver.8.  stdin is read in place when it is a
 * regular file, otherwise copied to an unlinked temporary file first, so
 * no message is held in memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "accounts.h"
#include "accounts_config.h"
#include "deliver.h"
#include "deliver_accounts.h"
#include "log.h"
#include "mem.h"
#include "settings.h"
#include "str.h"

#define PROG		"buzon-deliver"
#define MAX_USERS	100
#define INPUT_MAX	(1024ULL * 1024 * 1024)	/* bytes read from stdin */

struct cli {
	const char		*conf_path;
	char			 sender[DELIVER_ADDR_MAX];
	const char		*users[MAX_USERS];
	size_t			 nusers;
	struct config		 cfg;
	struct accounts_conf	 ac;
	struct deliver_conf	 dc;
	struct deliver_msg	 msg;
	int			 worst;		/* exit code so far */
	char			**paths;	/* mailboxes given a copy */
	size_t			 npaths;
};

static void
usage(FILE *out)
{
	fprintf(out, "usage: " PROG " [-c FILE] -f SENDER -d USER "
	    "[-d USER...] < message\n"
	    "\n"
	    "Deliver the message on standard input (LF or CRLF line ends) to\n"
	    "local users, after their aliases, into their Maildir or mbox.\n"
	    "\n"
	    "Options:\n"
	    "  -c FILE      config file (default: $BUZON_CONF, else %s)\n"
	    "  -f SENDER    envelope sender; \"\" or \"<>\": the null sender\n"
	    "  -d USER      recipient: an address, or a local part of this "
	    "host's\n"
	    "               domain (hostname)\n"
	    "  -h, --help   this text\n"
	    "  -V, --version\n"
	    "\n"
	    "Exit: 0 delivered, 64 usage, 65 bad message or mail loop,\n"
	    "67 no such user, 69 refused, 73 over quota (bounce), 74 cannot "
	    "read input,\n75 try again later, 78 config error.\n",
	    CONFIG_DEFAULT_PATH);
}

/* Keep the worst outcome: any temporary failure wins, so the caller
 * retries rather than bounces mail that may still be deliverable. */
static void
outcome(struct cli *c, int code)
{
	if (code == EX_OK || c->worst == EX_TEMPFAIL)
		return;
	if (code == EX_TEMPFAIL || c->worst == EX_OK)
		c->worst = code;
}

static int
fail_exit(const struct fail *f)
{
	if (f->temp)
		return EX_TEMPFAIL;
	if (strcmp(f->code, "5.1.1") == 0)
		return EX_NOUSER;
	if (strcmp(f->code, "5.2.2") == 0)
		return EX_CANTCREAT;
	if (strcmp(f->code, "5.4.6") == 0)
		return EX_DATAERR;
	return EX_UNAVAILABLE;
}

static int
set_sender(struct cli *c, const char *s)
{
	const char	*p;
	size_t		 len = strlen(s);

	if (len >= 2 && s[0] == '<' && s[len - 1] == '>') {
		s++;
		len -= 2;
	}
	if (len >= sizeof(c->sender))
		return -1;
	for (p = s; p < s + len; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '<' ||
		    *p == '>')
			return -1;
	memcpy(c->sender, s, len);
	c->sender[len] = '\0';
	return 0;
}

/* stdin as a deliver_msg: in place when it is a regular file. */
static int
input_open(struct deliver_msg *m)
{
	char		 tmpl[PATH_MAX], buf[65536], *nl;
	const char	*tmpdir;
	struct stat	 st;
	ssize_t		 n;
	off_t		 pos;
	int		 fd;

	memset(m, 0, sizeof(*m));
	if (fstat(STDIN_FILENO, &st) == -1)
		return EX_IOERR;
	if (S_ISREG(st.st_mode) &&
	    (pos = lseek(STDIN_FILENO, 0, SEEK_CUR)) != -1) {
		m->fd = STDIN_FILENO;
		m->offset = (uint64_t)pos;
		m->len = st.st_size > pos ? (uint64_t)(st.st_size - pos) : 0;
	} else {
		if ((tmpdir = getenv("TMPDIR")) == NULL || tmpdir[0] == '\0')
			tmpdir = "/tmp";
		if (!str_printf(tmpl, sizeof(tmpl), "%s/buzon-deliver.XXXXXX",
		    tmpdir) || (fd = mkstemp(tmpl)) == -1)
			return EX_TEMPFAIL;
		(void)unlink(tmpl);
		m->fd = fd;
		for (;;) {
			n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1)
				return EX_IOERR;
			if (n == 0)
				break;
			if (m->len + (uint64_t)n > INPUT_MAX)
				return EX_DATAERR;
			if (write(fd, buf, (size_t)n) != n)
				return EX_TEMPFAIL;
			m->len += (uint64_t)n;
		}
	}
	if (m->len > INPUT_MAX)
		return EX_DATAERR;
	/* A leading mbox "From " line (from another MDA) is not part of
	 * the message. */
	n = pread(m->fd, buf, sizeof(buf) - 1, (off_t)m->offset);
	if (n >= 5 && (uint64_t)n <= m->len && strncmp(buf, "From ", 5) == 0) {
		buf[n] = '\0';
		if ((nl = strchr(buf, '\n')) != NULL) {
			m->offset += (uint64_t)(nl + 1 - buf);
			m->len -= (uint64_t)(nl + 1 - buf);
		}
	}
	return EX_OK;
}

/* Run as the owner of STATE/mail when started as root, so the files we
 * make belong to the same user as the ones the daemons make. */
static int
drop_root(const struct cli *c)
{
	char		 mail[PATH_MAX];
	struct stat	 st;

	if (geteuid() != 0)
		return 0;
	if (!str_printf(mail, sizeof(mail), "%s/mail", c->cfg.state_dir) ||
	    stat(mail, &st) == -1 || st.st_uid == 0)
		return 0;
	if (setgroups(0, NULL) == -1 || setgid(st.st_gid) == -1 ||
	    setuid(st.st_uid) == -1 || setuid(0) != -1)
		return -1;
	return 0;
}

/* Has a copy for mailbox path been made (or tried)?  Remembers it. */
static bool
path_seen(struct cli *c, const char *path)
{
	size_t	 i;

	for (i = 0; i < c->npaths; i++)
		if (strcmp(c->paths[i], path) == 0)
			return true;
	c->paths = xreallocarray(c->paths, c->npaths + 1, sizeof(*c->paths));
	c->paths[c->npaths++] = xstrdup(path);
	return false;
}

/* One local target: look the user up and add a copy to the batch. */
static void
deliver_target(struct cli *c, struct accounts *a, struct deliver_batch *b,
    const char *user, const char *address)
{
	struct accounts_user	 u;
	struct deliver_rcpt	 r;
	struct deliver_result	 res;
	struct fail		 f;
	char			 path[PATH_MAX];

	switch (accounts_user_lookup(a, address, &u)) {
	case 1:
		break;
	case 0:
		fprintf(stderr, PROG ": %s: 5.1.1 no such user %s\n", user,
		    address);
		outcome(c, EX_NOUSER);
		return;
	default:
		fprintf(stderr, PROG ": %s: 4.3.0 user lookup failed\n", user);
		outcome(c, EX_TEMPFAIL);
		return;
	}
	if (deliver_user_rcpt(&c->ac, &u, c->sender, path, sizeof(path),
	    &r) == -1) {
		fprintf(stderr, PROG ": %s: 4.3.0 bad mailbox path\n", user);
		outcome(c, EX_TEMPFAIL);
		return;
	}
	if (path_seen(c, path)) {
		log_info(NULL, "delivered to=%s duplicate, one copy",
		    u.address);
		return;
	}
	if (deliver_batch_add(b, &r, &c->msg, &res, &f) == -1) {
		log_info(NULL, "deliver failed to=%s code=%s reason=\"%s\"",
		    u.address, f.code, f.text);
		fprintf(stderr, PROG ": %s: %s %s\n", user, f.code, f.text);
		outcome(c, fail_exit(&f));
		return;
	}
	log_info(NULL, "delivered to=%s size=%llu path=%s%s%s", u.address,
	    (unsigned long long)res.size, path, res.name[0] != '\0' ?
	    "/new/" : "", res.name);
}

static void
deliver_user(struct cli *c, struct accounts *a, struct deliver_batch *b,
    const char *user)
{
	struct accounts_targets	 t;
	struct fail		 f;
	char			 addr[ACCOUNTS_ADDR_MAX];
	size_t			 i;

	if (strchr(user, '@') != NULL) {
		if (!str_copy(addr, user, sizeof(addr)))
			goto nouser;
	} else if (!str_printf(addr, sizeof(addr), "%s@%s", user,
	    c->cfg.hostname))
		goto nouser;
	/* A domain that is not ours names no user here (resolving it
	 * would make it a remote target). */
	switch (accounts_is_local_domain(a, strchr(addr, '@') + 1)) {
	case 1:
		break;
	case 0:
		goto nouser;
	default:
		fprintf(stderr, PROG ": %s: 4.3.0 domain lookup failed\n",
		    user);
		outcome(c, EX_TEMPFAIL);
		return;
	}
	switch (accounts_resolve(a, addr, &t, &f)) {
	case 1:
		break;
	case 0:
		goto nouser;
	default:
		fprintf(stderr, PROG ": %s: %s %s\n", user, f.code, f.text);
		outcome(c, fail_exit(&f));
		return;
	}
	for (i = 0; i < t.count; i++) {
		if (t.items[i].is_local) {
			deliver_target(c, a, b, user, t.items[i].address);
			continue;
		}
		/* Forwarding needs the queue; refuse rather than drop. */
		fprintf(stderr, PROG ": %s: 5.3.0 alias target %s is not "
		    "local; only the queue can forward\n", user,
		    t.items[i].address);
		outcome(c, EX_UNAVAILABLE);
	}
	accounts_targets_release(&t);
	return;
nouser:
	fprintf(stderr, PROG ": %s: 5.1.1 no such user\n", user);
	outcome(c, EX_NOUSER);
}

static int
run(struct cli *c)
{
	struct accounts		*a;
	struct deliver_batch	*b;
	struct fail		 f;
	struct str		 errs;
	char			 err[256];
	size_t			 i;
	int			 rc;

	str_init(&errs, 0);
	if (config_load(&c->cfg, c->conf_path, &errs) == -1) {
		fprintf(stderr, "%s", str_c(&errs));
		str_release(&errs);
		return EX_CONFIG;
	}
	str_release(&errs);
	config_apply_log(&c->cfg, PROG);
	if (drop_root(c) == -1) {
		fprintf(stderr, PROG ": cannot drop root privileges\n");
		return EX_OSERR;
	}
	if ((rc = input_open(&c->msg)) != EX_OK) {
		fprintf(stderr, PROG ": cannot read the message from stdin\n");
		return rc;
	}
	accounts_config(&c->cfg, &c->ac);
	deliver_conf_from_config(&c->cfg, &c->dc);
	if ((a = accounts_open(&c->ac, err, sizeof(err))) == NULL) {
		fprintf(stderr, PROG ": 4.3.0 cannot open the accounts: %s\n",
		    err);
		return EX_TEMPFAIL;
	}
	b = deliver_batch_begin(&c->dc);
	for (i = 0; i < c->nusers; i++)
		deliver_user(c, a, b, c->users[i]);
	if (deliver_batch_commit(&b, &f) == -1) {
		fprintf(stderr, PROG ": %s %s\n", f.code, f.text);
		outcome(c, EX_TEMPFAIL);
	}
	accounts_close(&a);
	for (i = 0; i < c->npaths; i++)
		free(c->paths[i]);
	free(c->paths);
	return c->worst;
}

int
main(int argc, char **argv)
{
	struct cli	 c;
	bool		 have_sender = false;
	int		 i, rc;

	memset(&c, 0, sizeof(c));
	log_init(PROG, false, LOG_LEVEL_WARN);
	for (i = 1; i < argc; i += 2) {
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return EX_OK;
		}
		if (strcmp(argv[i], "-V") == 0 ||
		    strcmp(argv[i], "--version") == 0) {
			printf(PROG " %s\n", BUZON_VERSION);
			return EX_OK;
		}
		if ((strcmp(argv[i], "-c") != 0 && strcmp(argv[i], "-f") != 0 &&
		    strcmp(argv[i], "-d") != 0) || i + 1 >= argc) {
			fprintf(stderr, PROG ": %s '%s' (try " PROG
			    " --help)\n", i + 1 >= argc && argv[i][0] == '-' &&
			    strlen(argv[i]) == 2 ? "missing value after" :
			    "unknown option", argv[i]);
			return EX_USAGE;
		}
		switch (argv[i][1]) {
		case 'c':
			c.conf_path = argv[i + 1];
			break;
		case 'f':
			if (set_sender(&c, argv[i + 1]) == -1) {
				fprintf(stderr, PROG ": bad sender address\n");
				return EX_USAGE;
			}
			have_sender = true;
			break;
		default:
			if (c.nusers == MAX_USERS) {
				fprintf(stderr, PROG ": at most %d -d\n",
				    MAX_USERS);
				return EX_USAGE;
			}
			c.users[c.nusers++] = argv[i + 1];
			break;
		}
	}
	if (!have_sender || c.nusers == 0) {
		usage(stderr);
		return EX_USAGE;
	}
	c.conf_path = config_path(c.conf_path);
	rc = run(&c);
	config_release(&c.cfg);
	return rc;
}
