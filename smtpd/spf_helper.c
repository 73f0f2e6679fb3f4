/* SPDX-License-Identifier: MIT */
/*
 * spf_helper.c - buzon-spf: SPF checks in a process of their own
 *
 * Reads requests on stdin and writes answers on stdout (smtpd hands it one
 * end of a socketpair as both), one at a time, in the record format of
 * spf.h.  It runs libspf2 so that a crash in libspf2 ends only this
 * process; smtpd then answers temperror and starts another.  It never runs
 * as root (started as root, it becomes -u USER, "nobody" by default, before
 * reading anything), cannot gain privileges or dump core.
 *
 *   buzon-spf [-D] [-F forwarder]... [-l local-data] [-r receiver]
 *             [-T trust-anchor] [-u user]
 *
 * A malformed request gets an error answer; if its framing was sound the
 * helper goes on with the next one, otherwise it answers and exits.
 */
#include <sys/prctl.h>
#include <sys/resource.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns.h"
#include "log.h"
#include "spf.h"
#include "str.h"

#define HELPER_FORWARDERS_MAX	8

static void
usage(void)
{
	fprintf(stderr, "usage: buzon-spf [-D] [-F forwarder]... "
	    "[-l local-data] [-r receiver] [-T trust-anchor] [-u user]\n");
	exit(EXIT_TEMPFAIL);
}

static void
helper_confine(const char *user)
{
	struct rlimit	 zero = { 0, 0 };
	struct passwd	*pw;

	if (getuid() == 0 || geteuid() == 0) {
		if ((pw = getpwnam(user)) == NULL)
			fatalx("no user %s to run as", user);
		if (pw->pw_uid == 0)
			fatalx("buzon-spf refuses to run as root");
		if (setgroups(0, NULL) == -1 || setgid(pw->pw_gid) == -1 ||
		    setuid(pw->pw_uid) == -1)
			fatal("cannot drop privileges to %s", user);
		if (setuid(0) != -1 || geteuid() == 0)
			fatalx("privileges not dropped");
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("prctl(PR_SET_NO_NEW_PRIVS)");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("prctl(PR_SET_DUMPABLE)");
	/* No RLIMIT_FSIZE: stderr (our log) may well be a file. */
	if (setrlimit(RLIMIT_CORE, &zero) == -1)
		fatal("setrlimit");
	/* A vanished smtpd shows as EPIPE, and we exit then. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		fatal("signal");
}

static void
helper_write(const struct str *out)
{
	size_t	off = 0;
	ssize_t	n;

	while (off < out->len) {
		n = write(STDOUT_FILENO, out->data + off, out->len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			exit(0);		/* smtpd went away */
		off += (size_t)n;
	}
}

static void
helper_answer(const struct spf_answer *ans)
{
	struct str	out;

	str_init(&out, SPF_MSG_MAX);
	if (spf_answer_encode(ans, &out) == -1)
		panic("answer over its bounds");
	helper_write(&out);
	str_release(&out);
}

int
main(int argc, char **argv)
{
	const char		*fwd[HELPER_FORWARDERS_MAX];
	const char		*user = "nobody";
	struct dns_conf		 dconf = { 0 };
	struct spf_request	 req;
	struct spf_answer	 ans;
	struct spf_eval		*ev;
	struct dns		*dns;
	struct str		 errs;
	char			 receiver[256] = "", err[SPF_ERROR_MAX + 1];
	unsigned char		 buf[2 * SPF_MSG_MAX];
	size_t			 len = 0, used;
	ssize_t			 n;
	int			 ch, rc;

	log_init("buzon-spf", false, LOG_LEVEL_INFO);
	while ((ch = getopt(argc, argv, "DF:l:r:T:u:")) != -1) {
		switch (ch) {
		case 'D':
			dconf.dnssec = true;
			break;
		case 'F':
			if (dconf.nforwarders == HELPER_FORWARDERS_MAX)
				fatalx("too many forwarders");
			fwd[dconf.nforwarders++] = optarg;
			break;
		case 'l':
			dconf.local_data = optarg;
			break;
		case 'r':
			if (!str_copy(receiver, optarg, sizeof(receiver)))
				fatalx("receiver name too long");
			break;
		case 'T':
			dconf.trust_anchor = optarg;
			break;
		case 'u':
			user = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	dconf.forwarders = fwd;
	helper_confine(user);
	if (receiver[0] == '\0' &&
	    gethostname(receiver, sizeof(receiver)) == -1)
		fatal("gethostname");
	receiver[sizeof(receiver) - 1] = '\0';

	str_init(&errs, 0);
	if ((dns = dns_new(&dconf, &errs)) == NULL)
		fatalx("dns setup failed: %s", str_c(&errs));
	str_release(&errs);
	ev = spf_eval_new(dns, receiver);

	for (;;) {
		rc = spf_request_decode(buf, len, &req, &used, err,
		    sizeof(err));
		if (rc == 0) {
			if (len == sizeof(buf))
				panic("request buffer full undecided");
			n = read(STDIN_FILENO, buf + len, sizeof(buf) - len);
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1)
				fatal("read");
			if (n == 0)
				break;
			len += (size_t)n;
			continue;
		}
		memset(&ans, 0, sizeof(ans));
		if (rc == -1) {
			log_warn("-", "spf bad request error=\"%s\"", err);
			ans.is_error = true;
			(void)str_copy(ans.error, err, sizeof(ans.error));
			helper_answer(&ans);
			if (used == 0)
				exit(EXIT_TEMPFAIL);	/* lost framing */
		} else {
			spf_eval_check(ev, &req, &ans);
			helper_answer(&ans);
		}
		memmove(buf, buf + used, len - used);
		len -= used;
	}
	spf_eval_free(&ev);
	dns_free(&dns);
	return 0;
}
