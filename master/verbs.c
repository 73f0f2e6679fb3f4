/* SPDX-License-Identifier: MIT */
/*
 * verbs.c - the verb table of `buzon` and its small helpers
 *
 * Each area adds its verbs here, one line each; the functions live in
 * files of their own (run.c, init.c, admin_*.c, ...).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "admin_help.h"
#include "settings.h"
#include "str.h"
#include "verbs.h"

int	verb_config(const char *, int, char **);
int	verb_run(const char *, int, char **);
int	verb_start(const char *, int, char **);
int	verb_stop(const char *, int, char **);
int	verb_reload(const char *, int, char **);
int	verb_status(const char *, int, char **);
int	verb_init(const char *, int, char **);
int	verb_demo(const char *, int, char **);
int	verb_domain(const char *, int, char **);
int	verb_user(const char *, int, char **);
int	verb_alias(const char *, int, char **);
int	verb_map(const char *, int, char **);
int	verb_queue(const char *, int, char **);
int	verb_trace(const char *, int, char **);
int	verb_mime(const char *, int, char **);
int	verb_mailbox(const char *, int, char **);

const struct verb verbs[] = {
	{ "run", verb_run, "run",
	    "run in the foreground (Ctrl-C stops it)",
	    "usage: buzon [-c FILE] run\n"
	    "\n"
	    "Runs the supervisor in the foreground: loads the config,\n"
	    "creates the state directories, binds every configured listener\n"
	    "(smtp_listen ... imaps_listen), drops root for the configured\n"
	    "user, writes the pid file (STATE/run/buzon.pid) and starts the\n"
	    "daemons buzon-smtpd, buzon-queued, buzon-pop3d and buzon-imapd\n"
	    "from daemon_directory (a daemon whose program is missing is\n"
	    "skipped).  A daemon that dies is restarted after 1 s, 2 s, 4 s\n"
	    "... up to restart_delay_max.\n"
	    "\n"
	    "Signals: SIGHUP reloads the config and passes SIGHUP to the\n"
	    "daemons (an invalid file is logged and the old config kept);\n"
	    "SIGTERM or SIGINT stops the daemons, waiting up to\n"
	    "shutdown_grace.\n"
	    "\n"
	    "Exit status: 0 after a clean stop; 1 if it cannot start (bad\n"
	    "config, address in use, unknown user, already running); 2 bad\n"
	    "usage.\n", true },
	{ "start", verb_start, "start",
	    "start in the background",
	    "usage: buzon [-c FILE] start\n"
	    "\n"
	    "Like `run`, but in the background: returns once the listeners\n"
	    "are bound and the daemons started, or prints why it could not\n"
	    "start.  With log_target = stderr the log goes to\n"
	    "STATE/log/buzon.log.\n"
	    "\n"
	    "Exit status: 0 started; 1 failed to start, or already running;\n"
	    "2 bad usage.\n", true },
	{ "stop", verb_stop, "stop",
	    "stop the running system and wait until it is gone",
	    "usage: buzon [-c FILE] stop\n"
	    "\n"
	    "Sends SIGTERM to the supervisor named in the pid file and\n"
	    "waits until it has stopped (at most shutdown_grace plus 5 s).\n"
	    "\n"
	    "Exit status: 0 stopped; 1 not running, or still running after\n"
	    "the wait; 2 bad usage.\n", true },
	{ "reload", verb_reload, "reload",
	    "re-read the config in the running system",
	    "usage: buzon [-c FILE] reload\n"
	    "\n"
	    "Sends SIGHUP to the supervisor: it reads the config again and,\n"
	    "if the file is valid, applies it and passes SIGHUP to every\n"
	    "daemon.  An invalid file is logged and the running config kept;\n"
	    "check it first with `buzon config check`.  New listener\n"
	    "addresses need a restart (buzon stop; buzon start).\n"
	    "\n"
	    "Exit status: 0 signalled; 1 not running; 2 bad usage.\n", true },
	{ "status", verb_status, "status",
	    "whether it runs, and each daemon's state",
	    "usage: buzon [-c FILE] status\n"
	    "\n"
	    "Prints whether the supervisor runs (with its pid) and, for\n"
	    "each daemon, its state (running, waiting to restart, absent,\n"
	    "stopped), pid, start time and restart count.\n"
	    "\n"
	    "Exit status (LSB): 0 running; 3 not running; 4 unknown (bad\n"
	    "config or unreadable pid file); 2 bad usage.\n", true },
	{ "init", verb_init, "init [--demo] [--force] DIR",
	    "new instance: buzon.conf, TLS certificate, dirs",
	    "usage: buzon init [--demo] [--force] DIR\n"
	    "\n"
	    "Creates DIR (mode 0750) and DIR/buzon.conf listing every\n"
	    "parameter with its help line and default (commented out), with\n"
	    "state_dir set to DIR and hostname to this host's name; a\n"
	    "self-signed certificate DIR/tls/cert.pem and key\n"
	    "DIR/tls/key.pem for that name; and the directories spool/,\n"
	    "mail/, maps/, run/ and log/.  Run as root, the tree is given\n"
	    "to the configured user.\n"
	    "\n"
	    "Options:\n"
	    "  --demo    a demo instance: listeners on 127.0.0.1, ports\n"
	    "            2525 (smtp), 2587 (submission), 2465\n"
	    "            (submissions), 2110 (pop3), 2995 (pop3s), 2143\n"
	    "            (imap), 2993 (imaps); log to stderr, trace on,\n"
	    "            a copy of the log in log/trace.log (trace_log),\n"
	    "            hostname mail.example.test, demo accounts\n"
	    "  --force   write DIR/buzon.conf even if it exists (an existing\n"
	    "            certificate is kept)\n"
	    "\n"
	    "Exit status: 0 created; 1 failed (DIR/buzon.conf exists,\n"
	    "cannot write); 2 bad usage.\n", false },
	{ "demo", verb_demo, "demo [--dir DIR]",
	    "try it: a demo instance, run right here",
	    "usage: buzon demo [--dir DIR]\n"
	    "\n"
	    "Creates a demo instance in DIR (default ./buzon-demo) with\n"
	    "`buzon init --demo` unless DIR/buzon.conf exists, prints how\n"
	    "to reach each service by hand (telnet, openssl s_client) from\n"
	    "the config in force, then runs in the foreground until Ctrl-C.\n"
	    "-c is ignored: the demo uses DIR/buzon.conf.\n"
	    "\n"
	    "Exit status: as for `run`; 2 bad usage.\n", false },
	{ "config", verb_config, "config check",
	    "check the config; name every error with its line",
	    "usage: buzon [-c FILE] config check\n"
	    "\n"
	    "Reads the config file (-c FILE, $BUZON_CONF or the default)\n"
	    "and prints every unknown key and bad value as FILE:LINE:\n"
	    "message.  Exits 0 when the file is valid, 1 otherwise.\n", true },
	{ "domain", verb_domain, "domain add|del|list",
	    "manage the local mail domains",
	    admin_domain_help, true },
	{ "user", verb_user, "user add|del|passwd|list|show|...",
	    "manage mail users and their mailboxes",
	    admin_user_help, true },
	{ "alias", verb_alias, "alias add|del|list",
	    "manage aliases (forwarding, lists, catch-all)",
	    admin_alias_help, true },
	{ "map", verb_map, "map compile [TYPE:]FILE",
	    "turn a text table into a map file, like postmap",
	    admin_map_help, false },
	{ "queue", verb_queue, "queue list|show|flush|retry|hold|release|...",
	    "list, inspect and manage the mail queue",
	    "usage: buzon [-c FILE] queue list\n"
	    "       buzon [-c FILE] queue show ID\n"
	    "       buzon [-c FILE] queue flush\n"
	    "       buzon [-c FILE] queue retry ID\n"
	    "       buzon [-c FILE] queue hold ID|ALL\n"
	    "       buzon [-c FILE] queue release ID|ALL\n"
	    "       buzon [-c FILE] queue delete ID|ALL\n"
	    "       buzon [-c FILE] queue bounce ID\n"
	    "\n"
	    "list prints every message in the spool, oldest first, like mailq:\n"
	    "id ('!' when held), size, arrival time and sender, then each\n"
	    "recipient with its delivery status and the last reason.\n"
	    "show prints the envelope of one message (client, TLS, AUTH, DSN\n"
	    "parameters, recipients) and its header section.\n"
	    "flush asks buzon-queued to try every message now; retry ID one.\n"
	    "hold keeps messages from delivery until release.  delete removes\n"
	    "them without notice.  bounce returns a message to its sender now\n"
	    "(5.0.0, bounced by the administrator).  All are safe while\n"
	    "buzon-queued runs.  Exit status: 0 done, 1 no such message or\n"
	    "failure, 2 bad usage, 75 buzon-queued is not running (flush,\n"
	    "retry).\n", true },
	{ "mailbox", verb_mailbox, "mailbox show ADDRESS UID [FOLDER]",
	    "the MIME parts of a stored message, as mime explain shows them",
	    "usage: buzon [-c FILE] mailbox show ADDRESS UID [FOLDER]\n"
	    "\n"
	    "Opens the user's FOLDER (default INBOX) read-only and prints the\n"
	    "part tree and the decoded text parts of the message with that\n"
	    "UID (what IMAP's UID FETCH and POP3's UIDL name), as buzon mime\n"
	    "explain does for a file.\n"
	    "\n"
	    "Exit status: 0 done, 1 no such user, folder or message, 2 bad\n"
	    "usage, 75 the maps cannot be read.\n", true },
	{ "mime", verb_mime, "mime explain FILE|-",
	    "a message's MIME parts, and its text parts decoded",
	    "usage: buzon mime explain FILE|-\n"
	    "\n"
	    "Reads one message (a file, or - for stdin, up to 64 MiB) and\n"
	    "prints its part tree: each part's IMAP part number (1, 2.1,\n"
	    "...), type and parameters (charset, boundary, name),\n"
	    "Content-Transfer-Encoding, disposition and sizes; then each\n"
	    "text part decoded from quoted-printable or base64 and from its\n"
	    "charset to UTF-8, lines shown after \"| \".  A message from a\n"
	    "Maildir is a file: buzon mime explain mail/DOMAIN/USER/cur/...\n"
	    "\n"
	    "Exit status: 0 done, 1 the file cannot be read, 2 bad usage.\n",
	    false },
	{ "trace", verb_trace,
	    "trace [--follow] [--service S] [--user U] [--message ID]",
	    "protocol sessions as C:/S: transcripts, from the log",
	    "usage: buzon [-c FILE] trace [--follow]\n"
	    "                 [--service smtp|pop3|imap] [--user USER]\n"
	    "       buzon [-c FILE] trace [--follow] --message ID\n"
	    "\n"
	    "Reads the log of the instance (trace_log, else\n"
	    "STATE/log/buzon.log) and prints the C:/S: lines of its\n"
	    "sessions, each as TIME SESSION-ID SERVICE C:|S: LINE.  Sessions\n"
	    "are logged so only with trace = yes.  Passwords and AUTH data\n"
	    "are masked (PASS ****, AUTH PLAIN ****, every line of a SASL\n"
	    "exchange, APOP's digest, IMAP LOGIN's password), also in logs\n"
	    "written by versions that did not mask them.\n"
	    "\n"
	    "Options:\n"
	    "  --follow, -f   start at the end and print new lines as they\n"
	    "                 come, across rotation (like tail -F)\n"
	    "  --service S    only smtp, pop3 or imap sessions\n"
	    "  --user USER    only sessions that logged in as USER (a bare\n"
	    "                 name also matches USER@any.domain); they show\n"
	    "                 once the login is logged\n"
	    "  --message ID   every log line about queue id ID, with its\n"
	    "                 time: SMTP intake, queue, delivery; then the\n"
	    "                 POP3 and IMAP sessions of each local\n"
	    "                 recipient that logged in after the delivery\n"
	    "                 (login, RETR, TOP, DELE, FETCH, QUIT)\n"
	    "\n"
	    "buzon demo writes STATE/log/trace.log (trace_log) as well as\n"
	    "the terminal, so `buzon -c buzon-demo/buzon.conf trace -f` in\n"
	    "a second terminal shows a class's sessions live.\n"
	    "\n"
	    "Exit status: 0 done; 1 no log to read; 2 bad usage.\n", true },
	{ NULL, NULL, NULL, NULL, NULL, false }
};

const struct verb *
verb_find(const char *name)
{
	const struct verb *v;

	for (v = verbs; v->name != NULL; v++)
		if (strcmp(v->name, name) == 0)
			return v;
	return NULL;
}

bool
verb_wants_help(int argc, char **argv)
{
	int	 i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0)
			return true;
	}
	return false;
}

int
verb_take_conf(const struct verb *v, int argc, char **argv,
    const char **conf_r)
{
	int	 i, n = 1;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			while (i < argc)
				argv[n++] = argv[i++];
			break;
		}
		if (strcmp(argv[i], "-c") == 0) {
			if (i + 1 >= argc || strcmp(argv[i + 1], "--") == 0) {
				fprintf(stderr, "buzon %s: -c needs a FILE "
				    "(try buzon %s --help)\n", v->name,
				    v->name);
				return -1;
			}
			*conf_r = argv[++i];
		} else if (strncmp(argv[i], "-c", 2) == 0)
			*conf_r = argv[i] + 2;
		else
			argv[n++] = argv[i];
	}
	argv[n] = NULL;
	return n;
}

void
verb_print_help(const struct verb *v)
{
	fputs(v->help, stdout);
	if (v->has_conf)
		printf("\n"
		    "-c FILE, before or after the verb, names the config file\n"
		    "(default: $BUZON_CONF, else %s).\n", CONFIG_DEFAULT_PATH);
}

int
verb_error(const char *verb, int code, const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "buzon %s: ", verb);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

int
verb_load_config(const char *path, struct config *cfg)
{
	struct str	 errs;
	int		 rc;

	memset(cfg, 0, sizeof(*cfg));
	str_init(&errs, 0);
	if ((rc = config_load(cfg, path, &errs)) == -1)
		fputs(str_c(&errs), stderr);
	str_release(&errs);
	return rc;
}
