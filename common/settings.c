/* SPDX-License-Identifier: MIT */
/*
 * settings.c - the one table of buzon.conf keys, and what is derived after
 * loading
 *
 * Add a key: a member in struct config (settings.h), one line below, and an
 * entry in docs/buzon.conf.5 (settings_test checks that it is there).
 */
#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accounts.h"
#include "conf.h"
#include "log.h"
#include "mem.h"
#include "settings.h"
#include "str.h"

#define S	struct config
#define SEC	1000ULL		/* TIME bounds are in milliseconds */

const struct conf_param config_params[] = {
	/* general */
	CONF_STRING("hostname", "", S, hostname,
	    "this host's fully qualified name; empty: the system's host name"),
	CONF_PATH("state_dir", CONFIG_DEFAULT_STATE, S, state_dir,
	    "queue, mailboxes, maps, TLS files and run state live here"),
	CONF_STRING("user", "buzon", S, user,
	    "unprivileged user the daemons run as when started by root"),
	CONF_ENUM("log_target", "syslog", "syslog|stderr", S, log_target,
	    "where logs go: syslog (facility mail) or stderr"),
	CONF_ENUM("log_level", "info", "debug|info|warn|error", S, log_level,
	    "least severe level that is logged"),
	CONF_BOOL("trace", "no", S, trace,
	    "log every protocol line (C: and S:), credentials masked"),
	CONF_PATH("trace_log", "", S, trace_log,
	    "also copy the log of every daemon to this file, for `buzon "
	    "trace`; empty: no copy"),
	CONF_PATH("pid_file", "", S, pid_file,
	    "pid file of the master; empty: STATE/run/buzon.pid"),
	CONF_PATH("daemon_directory", "", S, daemon_directory,
	    "where the daemon programs are; empty: beside buzon, else where "
	    "they were installed"),
	CONF_ENUM("sandbox", "auto", "auto|required|off", S, sandbox,
	    "confine each daemon to the files it needs (Landlock): auto uses "
	    "it when the kernel has it, required refuses to start without"),
	CONF_TIME("shutdown_grace", "10s", 1 * SEC, 600 * SEC, S,
	    shutdown_grace,
	    "how long daemons get to finish their work at stop"),
	CONF_TIME("restart_delay_max", "60s", 1 * SEC, 3600 * SEC, S,
	    restart_delay_max,
	    "longest wait before restarting a daemon that keeps dying"),

	/* TLS */
	CONF_PATH("tls_cert", "", S, tls_cert,
	    "PEM certificate chain; empty: STATE/tls/cert.pem"),
	CONF_PATH("tls_key", "", S, tls_key,
	    "PEM private key; empty: STATE/tls/key.pem"),

	/* listeners */
	CONF_ADDRS("smtp_listen", "*:25", S, smtp_listen,
	    "SMTP relay and delivery (port 25); empty: off"),
	CONF_ADDRS("submission_listen", "*:587", S, submission_listen,
	    "message submission with STARTTLS (port 587); empty: off"),
	CONF_ADDRS("submissions_listen", "*:465", S, submissions_listen,
	    "message submission over TLS (port 465); empty: off"),
	CONF_ADDRS("pop3_listen", "*:110", S, pop3_listen,
	    "POP3 with STARTTLS (port 110); empty: off"),
	CONF_ADDRS("pop3s_listen", "*:995", S, pop3s_listen,
	    "POP3 over TLS (port 995); empty: off"),
	CONF_ADDRS("imap_listen", "*:143", S, imap_listen,
	    "IMAP with STARTTLS (port 143); empty: off"),
	CONF_ADDRS("imaps_listen", "*:993", S, imaps_listen,
	    "IMAP over TLS (port 993); empty: off"),

	/* accounts and authentication */
	CONF_ENUM("map_type", "hash", "hash|btree|lmdb", S, map_type,
	    "file type of the domains, users and aliases maps in STATE/maps"),
	CONF_STRING("recipient_delimiter", "+", S, recipient_delimiter,
	    "characters that start a sub-address (alice+lists); empty: none"),
	CONF_BOOL("local_part_case_sensitive", "no", S,
	    local_part_case_sensitive,
	    "tell Alice@ from alice@ in user and alias lookups"),
	CONF_UINT("password_min_length", "0", 0, 1023, S, password_min_length,
	    "shortest password the user verbs accept; 0: any"),
	CONF_STRING("auth_default_realm", "", S, auth_default_realm,
	    "domain added to a login name without @ (POP3, IMAP, SMTP AUTH)"),
	CONF_TIME("auth_failure_delay", "2s", 0, 60 * SEC, S,
	    auth_failure_delay,
	    "wait before the next login of a user from an address after one "
	    "failure; doubles with each"),
	CONF_TIME("auth_max_delay", "15s", 0, 300 * SEC, S, auth_max_delay,
	    "longest wait after failed logins; attempts that would wait "
	    "longer are refused"),
	CONF_TIME("auth_penalty_time", "30s", 1, 86400 * SEC, S,
	    auth_penalty_time,
	    "failed logins are forgotten this long after the last attempt"),
	CONF_UINT("auth_address_max_failures", "100", 0, 1000000, S,
	    auth_address_max_failures,
	    "failed logins from one address (any users) before all its "
	    "logins wait; 0: no limit"),
	CONF_NETS("login_trusted_networks", "", S, login_trusted_networks,
	    "client networks exempt from the failed-login delays (a webmail "
	    "host)"),
	CONF_STRING("passwd_map", "", S, passwd_map,
	    "map of password hashes and APOP secrets, read only by "
	    "buzon-auth; empty: MAP_TYPE:STATE/auth/passwd"),
	CONF_UINT("auth_worker_threads", "4", 1, 64, S, auth_worker_threads,
	    "threads buzon-auth checks passwords on"),
	CONF_TIME("auth_timeout", "30s", 1, 600 * SEC, S, auth_timeout,
	    "how long a daemon waits for buzon-auth beyond auth_max_delay "
	    "before answering a temporary failure"),
	CONF_BOOL("apop_enable", "yes", S, apop_enable,
	    "offer POP3 APOP (for users given an APOP secret)"),

	/* POP3 */
	CONF_TIME("pop3_timeout", "10m", 1 * SEC, 3600 * SEC, S, pop3_timeout,
	    "idle time before a POP3 session is closed (RFC 1939: 10m+)"),
	CONF_TIME("pop3_command_timeout", "1m", 1 * SEC, 600 * SEC, S,
	    pop3_command_timeout,
	    "time a POP3 command line has from its first byte to its end"),
	CONF_TIME("pop3_send_timeout", "5m", 1 * SEC, 3600 * SEC, S,
	    pop3_send_timeout,
	    "time a POP3 response (RETR) may go without output progress"),
	CONF_UINT("pop3_max_connections", "500", 1, 100000, S,
	    pop3_max_connections, "POP3 sessions at once, in all"),
	CONF_UINT("pop3_max_connections_per_ip", "50", 1, 100000, S,
	    pop3_max_connections_per_ip, "POP3 sessions at once from one "
	    "client address"),
	CONF_UINT("pop3_max_errors", "20", 1, 1000, S, pop3_max_errors,
	    "bad POP3 commands in one session before it is closed"),
	CONF_BOOL("pop3_plaintext_loopback", "yes", S,
	    pop3_plaintext_loopback,
	    "allow POP3 logins without TLS from loopback clients"),
	CONF_BOOL("pop3_mark_seen", "yes", S, pop3_mark_seen,
	    "flag messages fetched with RETR \\Seen at QUIT"),
	CONF_UINT("pop3_max_line", "2048", 255, 65536, S, pop3_max_line,
	    "longest POP3 command line in bytes (AUTH lines: 4096+)"),
	CONF_BOOL("pop3_lock_session", "no", S, pop3_lock_session,
	    "refuse a second POP3 session of a user with [IN-USE]; no: serve "
	    "each its own view"),

	/* IMAP */
	CONF_TIME("imap_timeout", "10m", 10 * SEC, 3600 * SEC, S,
	    imap_timeout,
	    "idle time before an IMAP session not logged in is closed"),
	CONF_TIME("imap_auth_timeout", "30m", 30 * 60 * SEC, 24 * 3600 * SEC,
	    S, imap_auth_timeout,
	    "idle time before a logged-in IMAP session is closed (RFC 3501 "
	    "5.4: 30m+)"),
	CONF_TIME("imap_idle_timeout", "31m", 60 * SEC, 24 * 3600 * SEC, S,
	    imap_idle_timeout,
	    "how long one IDLE may last (RFC 2177: clients renew at 29m)"),
	CONF_TIME("imap_command_timeout", "1m", 1 * SEC, 600 * SEC, S,
	    imap_command_timeout,
	    "time an IMAP command line has from its first byte to its end"),
	CONF_TIME("imap_send_timeout", "5m", 1 * SEC, 3600 * SEC, S,
	    imap_send_timeout,
	    "time an IMAP response (FETCH) may go without output progress"),
	CONF_UINT("imap_max_errors", "20", 1, 1000, S, imap_max_errors,
	    "bad IMAP commands in one session before it is closed"),
	CONF_UINT("imap_max_connections", "1000", 1, 100000, S,
	    imap_max_connections, "IMAP sessions at once, in all"),
	CONF_UINT("imap_max_connections_per_ip", "120", 1, 100000, S,
	    imap_max_connections_per_ip, "IMAP sessions at once from one "
	    "client address (a classroom behind NAT: 30+ students with 3 "
	    "each)"),
	CONF_UINT("imap_max_line", "65536", 8192, 1048576, S, imap_max_line,
	    "longest IMAP command line in bytes, literals not counted"),
	CONF_SIZE("imap_max_command", "1M", 65536, 1073741824, S,
	    imap_max_command,
	    "longest IMAP command with its literals (APPEND: see "
	    "imap_max_append)"),
	CONF_SIZE("imap_max_append", "50M", 65536, 4294967295ULL, S,
	    imap_max_append,
	    "largest message APPEND takes (refused before the literal)"),
	CONF_BOOL("imap_plaintext_loopback", "yes", S,
	    imap_plaintext_loopback,
	    "allow IMAP logins without TLS from loopback clients"),

	/* DNS and SPF */
	CONF_PATH("dns_local_data", "", S, dns_local_data,
	    "zone-file lines answered locally; alone: nothing else resolves"),
	CONF_LIST("dns_forwarders", "", S, dns_forwarders,
	    "resolvers to forward to (ADDR[@PORT], or system); empty: system"),
	CONF_BOOL("dns_dnssec", "no", S, dns_dnssec,
	    "validate DNSSEC and report which answers are secure"),
	CONF_PATH("dns_trust_anchor", "", S, dns_trust_anchor,
	    "DNSSEC root trust anchor; empty: /usr/share/dns/root.key"),
	CONF_ENUM("smtpd_spf_policy", "tag", "none|tag|reject-fail", S,
	    smtpd_spf_policy,
	    "SPF on port 25: none, tag (Received-SPF), reject-fail (550)"),
	CONF_BOOL("smtpd_spf_reject_permerror", "no", S,
	    smtpd_spf_reject_permerror,
	    "with reject-fail, also reject broken SPF records (550 5.7.24)"),
	CONF_TIME("spf_timeout", "10s", 1 * SEC, 300 * SEC, S, spf_timeout,
	    "longest SPF check before it counts as a temporary error"),
	CONF_UINT("spf_helpers", "2", 1, 16, S, spf_helpers,
	    "SPF helper processes per smtpd process"),

	/* smtpd */
	CONF_SIZE("smtpd_max_message", "25M", 1024, 4ULL << 30, S,
	    smtpd_max_message, "largest message smtpd takes (SIZE)"),
	CONF_UINT("smtpd_max_recipients", "100", 1, 100000, S,
	    smtpd_max_recipients, "recipients per message"),
	CONF_SIZE("smtpd_max_line", "2048", 1000, 32768, S, smtpd_max_line,
	    "longest command line, without CRLF (RFC 5321: 512)"),
	CONF_TIME("smtpd_timeout", "5m", 1 * SEC, 3600 * SEC, S,
	    smtpd_timeout, "time allowed for each SMTP command to arrive"),
	CONF_TIME("smtpd_data_timeout", "10m", 1 * SEC, 3600 * SEC, S,
	    smtpd_data_timeout, "idle time allowed inside DATA or BDAT"),
	CONF_UINT("smtpd_min_data_rate", "500", 1, 1000000000, S,
	    smtpd_min_data_rate, "bytes/s a slow client must keep up in "
	    "DATA or BDAT past smtpd_data_timeout"),
	CONF_UINT("smtpd_max_connections", "500", 1, 100000, S,
	    smtpd_max_connections, "SMTP sessions at once, in all"),
	CONF_UINT("smtpd_max_connections_per_ip", "50", 1, 100000, S,
	    smtpd_max_connections_per_ip,
	    "SMTP sessions at once from one client address"),
	CONF_UINT("smtpd_max_errors", "20", 1, 1000, S, smtpd_max_errors,
	    "error replies before smtpd closes the session"),
	CONF_UINT("smtpd_max_commands_preauth", "20", 1, 1000, S,
	    smtpd_max_commands_preauth,
	    "commands before AUTH on submission ports"),
	CONF_UINT("smtpd_max_headers", "1000", 1, 100000, S,
	    smtpd_max_headers, "header fields per message"),
	CONF_SIZE("smtpd_max_header_size", "100k", 1024, 16ULL << 20, S,
	    smtpd_max_header_size, "bytes of the header section of a message"),
	CONF_UINT("smtpd_max_received", "50", 1, 1000, S, smtpd_max_received,
	    "Received: fields before a message counts as a mail loop"),
	CONF_ENUM("smtpd_bare_newline", "normalize", "normalize|reject", S,
	    smtpd_bare_newline,
	    "a bare LF in DATA: taken as CRLF, or the message rejected"),
	CONF_BOOL("smtpd_auth_plaintext_loopback", "no", S,
	    smtpd_auth_plaintext_loopback,
	    "offer SMTP AUTH without TLS to clients on loopback"),
	CONF_NETS("mynetworks", "127.0.0.0/8 [::1]/128", S, mynetworks,
	    "client networks smtpd relays for without AUTH"),

	/* local delivery */
	CONF_SIZE("user_default_quota", "0", 0, SIZE_MAX, S,
	    user_default_quota,
	    "quota of a user added without --quota (0: none; buzon init "
	    "writes 1G)"),
	CONF_BOOL("quota_exceeded_bounce", "no", S, quota_exceeded_bounce,
	    "over quota: bounce (5.2.2) instead of retrying later (4.2.2)"),
	CONF_TIME("mailbox_lock_timeout", "30s", 1 * SEC, 600 * SEC, S,
	    mailbox_lock_timeout,
	    "how long a delivery waits for an mbox lock before retrying later"),
	CONF_TIME("stale_lock_time", "5m", 10 * SEC, 86400 * SEC, S,
	    stale_lock_time,
	    "an mbox dotlock older than this whose process is gone is removed"),

	/* queue runner */
	CONF_UINT("queue_delivery_workers", "4", 1, 64, S,
	    queue_delivery_workers,
	    "threads of buzon-queued delivering local mail in parallel"),
	CONF_TIME("queue_retry_min", "5m", 1 * SEC, 86400 * SEC, S,
	    queue_retry_min,
	    "wait after the first temporary failure; doubles with each"),
	CONF_TIME("queue_retry_max", "1h", 1 * SEC, 7 * 86400 * SEC, S,
	    queue_retry_max,
	    "longest wait between two delivery attempts"),
	CONF_TIME("queue_scan_interval", "60s", 1 * SEC, 3600 * SEC, S,
	    queue_scan_interval,
	    "how often buzon-queued looks for entries it was not told about"),
	CONF_TIME("delay_warning_time", "4h", 0, 30 * 86400 * SEC, S,
	    delay_warning_time,
	    "send a delay notice after mail waited this long; 0: never"),
	CONF_BOOL("delay_warning_default", "no", S, delay_warning_default,
	    "send delay notices also when the sender gave no NOTIFY="),
	CONF_TIME("maximal_queue_lifetime", "5d", 1 * SEC, 100 * 86400 * SEC,
	    S, maximal_queue_lifetime,
	    "give up and return mail still undelivered after this long"),
	CONF_STRING("double_bounce_recipient", "postmaster", S,
	    double_bounce_recipient,
	    "gets undeliverable bounces; a bare name: at the first local "
	    "domain"),
	CONF_SIZE("bounce_size_limit", "1M", 0, 64 * 1024 * 1024, S,
	    bounce_size_limit,
	    "largest original returned whole with RET=FULL (else headers)"),
	CONF_END
};

#undef S

const char *
config_path(const char *given)
{
	const char	*env;

	if (given != NULL && given[0] != '\0')
		return given;
	env = getenv("BUZON_CONF");
	if (env != NULL && env[0] != '\0')
		return env;
	return CONFIG_DEFAULT_PATH;
}

/* path made absolute against the working directory ("./" dropped). */
static char *
absolute(const char *path)
{
	struct str	 s;
	char		 cwd[PATH_MAX];

	if (path[0] == '/')
		return xstrdup(path);
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return NULL;
	while (path[0] == '.' && path[1] == '/') {
		path += 2;
		while (path[0] == '/')
			path++;
	}
	str_init(&s, 0);
	if (str_appendf(&s, "%s%s%s", cwd, strcmp(cwd, "/") == 0 ? "" : "/",
	    path) == -1)
		panic("config: unbounded str failed");
	return str_detach(&s, NULL);
}

/* Fill an empty path with STATE/rel. */
static void
derive(char **p, const char *state_dir, const char *rel)
{
	struct str	 s;

	if ((*p)[0] != '\0')
		return;
	str_init(&s, 0);
	if (str_appendf(&s, "%s/%s", state_dir, rel) == -1)
		panic("config: unbounded str failed");
	free(*p);
	*p = str_detach(&s, NULL);
}

static int
config_err(struct str *errs, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
config_err(struct str *errs, const char *name, const char *fmt, ...)
{
	va_list	 ap;

	if (errs == NULL)
		return -1;
	if (str_appendf(errs, "%s: ", name) == -1)
		return -1;
	va_start(ap, fmt);
	if (str_vappendf(errs, fmt, ap) == -1) {
		va_end(ap);
		return -1;
	}
	va_end(ap);
	if (str_append_c(errs, '\n') == -1)
		return -1;
	return -1;
}

int
config_load(struct config *cfg, const char *path, struct str *errs)
{
	char		*base, *slash, host[256];
	const char	*name;
	int		 rc;

	memset(cfg, 0, sizeof(*cfg));
	if (path == NULL) {
		cfg->path = xstrdup("");
		name = "defaults";
		rc = conf_defaults(config_params, cfg, NULL, errs);
	} else {
		if ((cfg->path = absolute(path)) == NULL) {
			rc = config_err(errs, path, "cannot find the working "
			    "directory: %s", strerror(errno));
			cfg->path = xstrdup(path);
			(void)conf_defaults(config_params, cfg, NULL, NULL);
			return rc;
		}
		name = path;
		base = xstrdup(cfg->path);
		slash = strrchr(base, '/');
		/* absolute() always gives a '/' */
		slash[slash == base ? 1 : 0] = '\0';
		rc = conf_load(config_params, cfg, path, base, errs);
		free(base);
	}

	if (cfg->hostname[0] == '\0') {
		if (gethostname(host, sizeof(host)) == -1)
			host[0] = '\0';
		host[sizeof(host) - 1] = '\0';
		free(cfg->hostname);
		cfg->hostname = xstrdup(host);
		if (host[0] == '\0')
			rc = config_err(errs, name, "hostname: the system has "
			    "no host name; set hostname");
	}
	if (cfg->state_dir[0] == '\0') {
		rc = config_err(errs, name, "state_dir: must not be empty");
		free(cfg->state_dir);
		cfg->state_dir = xstrdup(CONFIG_DEFAULT_STATE);
	}
	if (cfg->auth_default_realm[0] != '\0' &&
	    !accounts_domain_valid(cfg->auth_default_realm))
		rc = config_err(errs, name, "auth_default_realm: '%s' is not a "
		    "domain", cfg->auth_default_realm);
	derive(&cfg->pid_file, cfg->state_dir, "run/buzon.pid");
	derive(&cfg->tls_cert, cfg->state_dir, "tls/cert.pem");
	derive(&cfg->tls_key, cfg->state_dir, "tls/key.pem");
	return rc;
}

void
config_release(struct config *cfg)
{
	conf_release(config_params, cfg);
	free(cfg->path);
	cfg->path = NULL;
}

void
config_apply_log(const struct config *cfg, const char *progname)
{
	enum log_level	 level = LOG_LEVEL_INFO;

	if (log_level_parse(cfg->log_level, &level) == -1)
		level = LOG_LEVEL_INFO;	/* conf checked it: cannot happen */
	log_init(progname, strcmp(cfg->log_target, "syslog") == 0, level);
	log_set_trace(cfg->trace);
}
