/*
 * settings.h - buzon.conf: every setting of every program, in one struct
 *
 * One file serves the whole suite (DESIGN.md "On disk"), so one table knows
 * every key: `buzon config check` can name any unknown key, and each daemon
 * reads the same struct.  Keys match members (smtpd_max_recipients <->
 * cfg->smtpd_max_recipients).  docs/buzon.conf.5 documents each key; keep
 * the two in step (a unit test checks that every key appears there).
 *
 * Relative paths in the file are taken against the directory that holds
 * it.  Paths left empty are derived from state_dir after loading (see
 * config_load()).
 */
#ifndef BUZON_SETTINGS_H
#define BUZON_SETTINGS_H

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "log.h"
#include "str.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR "/var"
#endif
#define CONFIG_DEFAULT_PATH	SYSCONFDIR "/buzon/buzon.conf"
#define CONFIG_DEFAULT_STATE	LOCALSTATEDIR "/lib/buzon"

struct config {
	char		*path;		/* the file this came from (absolute);
					   "" for pure defaults */

	/* general */
	char		*hostname;	/* "" in the file: gethostname() */
	char		*state_dir;
	char		*user;		/* run as this user when started as root */
	char		*log_target;	/* "stderr" | "syslog" */
	char		*log_level;	/* "debug" | "info" | "warn" | "error" */
	bool		 trace;
	char		*trace_log;	/* "": no copy of the log */
	char		*pid_file;	/* "": STATE/run/buzon.pid */
	char		*daemon_directory; /* "": beside buzon or PKGLIBEXECDIR */
	char		*sandbox;	/* "auto" | "required" | "off" */
	uint64_t	 shutdown_grace;	/* ms */
	uint64_t	 restart_delay_max;	/* ms */

	/* TLS */
	char		*tls_cert;	/* "": STATE/tls/cert.pem */
	char		*tls_key;	/* "": STATE/tls/key.pem */

	/* listeners (empty list: service off) */
	struct conf_list smtp_listen;
	struct conf_list submission_listen;
	struct conf_list submissions_listen;
	struct conf_list pop3_listen;
	struct conf_list pop3s_listen;
	struct conf_list imap_listen;
	struct conf_list imaps_listen;

	/* accounts and authentication (docs/accounts.md) */
	char		*map_type;	/* "hash" | "btree" | "lmdb" */
	char		*recipient_delimiter;	/* "": no sub-addresses */
	bool		 local_part_case_sensitive;
	unsigned int	 password_min_length;	/* 0: no policy */
	char		*auth_default_realm;	/* "": bare names stay bare */
	uint64_t	 auth_failure_delay;	/* ms */
	uint64_t	 auth_max_delay;	/* ms */
	uint64_t	 auth_penalty_time;	/* ms */
	unsigned int	 auth_address_max_failures; /* 0: no limit */
	struct conf_list login_trusted_networks;
	bool		 apop_enable;
	char		*passwd_map;	/* "": MAP_TYPE:STATE/auth/passwd */
	unsigned int	 auth_worker_threads;	/* buzon-auth hashing threads */
	uint64_t	 auth_timeout;	/* ms a daemon waits for buzon-auth */

	/* POP3 (docs/pop3d.md) */
	uint64_t	 pop3_timeout;		/* ms */
	uint64_t	 pop3_command_timeout;	/* ms */
	uint64_t	 pop3_send_timeout;	/* ms */
	unsigned int	 pop3_max_errors;
	unsigned int	 pop3_max_connections;
	unsigned int	 pop3_max_connections_per_ip;
	bool		 pop3_plaintext_loopback;
	bool		 pop3_mark_seen;
	unsigned int	 pop3_max_line;
	bool		 pop3_lock_session;
	/* IMAP (docs/imapd.md) */
	uint64_t	 imap_timeout;		/* ms: not logged in */
	uint64_t	 imap_auth_timeout;	/* ms: logged in */
	uint64_t	 imap_idle_timeout;	/* ms: one IDLE */
	uint64_t	 imap_command_timeout;	/* ms */
	uint64_t	 imap_send_timeout;	/* ms */
	unsigned int	 imap_max_errors;
	unsigned int	 imap_max_connections;
	unsigned int	 imap_max_connections_per_ip;
	unsigned int	 imap_max_line;
	size_t		 imap_max_command;
	size_t		 imap_max_append;
	bool		 imap_plaintext_loopback;

	/* DNS (common/dns.h) and SPF (smtpd/spf.h) */
	char		*dns_local_data;	/* "": none */
	struct conf_list dns_forwarders;	/* empty: system resolver */
	bool		 dns_dnssec;
	char		*dns_trust_anchor;	/* "": Debian's root.key */
	char		*smtpd_spf_policy;	/* "none" | "tag" | "reject-fail" */
	bool		 smtpd_spf_reject_permerror;
	uint64_t	 spf_timeout;		/* ms */
	unsigned int	 spf_helpers;

	/* smtpd */
	size_t		 smtpd_max_message;
	unsigned int	 smtpd_max_recipients;
	size_t		 smtpd_max_line;
	uint64_t	 smtpd_timeout;		/* ms */
	uint64_t	 smtpd_data_timeout;	/* ms */
	unsigned int	 smtpd_min_data_rate;	/* bytes/s */
	unsigned int	 smtpd_max_connections;
	unsigned int	 smtpd_max_connections_per_ip;
	unsigned int	 smtpd_max_errors;
	unsigned int	 smtpd_max_commands_preauth;
	unsigned int	 smtpd_max_headers;
	size_t		 smtpd_max_header_size;
	unsigned int	 smtpd_max_received;
	char		*smtpd_bare_newline;	/* "normalize" | "reject" */
	bool		 smtpd_auth_plaintext_loopback;
	struct conf_list mynetworks;

	/* local delivery */
	size_t		 user_default_quota;
	bool		 quota_exceeded_bounce;
	uint64_t	 mailbox_lock_timeout;	/* ms */
	uint64_t	 stale_lock_time;	/* ms */

	/* queue runner (docs/queue.md) */
	unsigned int	 queue_delivery_workers;
	uint64_t	 queue_retry_min;	/* ms */
	uint64_t	 queue_retry_max;	/* ms */
	uint64_t	 queue_scan_interval;	/* ms */
	uint64_t	 delay_warning_time;	/* ms; 0: never */
	bool		 delay_warning_default;
	uint64_t	 maximal_queue_lifetime;	/* ms */
	char		*double_bounce_recipient;
	size_t		 bounce_size_limit;
};

extern const struct conf_param config_params[];

/* Load path (or defaults when path is NULL) into cfg, then derive the
 * empty paths and resolve hostname.  0, or -1 with every problem appended
 * to errs as "FILE:LINE: message\n".  Always config_release() after. */
int	 config_load(struct config *, const char *path, struct str *errs);
void	 config_release(struct config *);
/* The config path to use: the one given (-c), else $BUZON_CONF, else
 * CONFIG_DEFAULT_PATH.  Borrowed. */
const char *config_path(const char *given);
/* Apply log_target, log_level and trace to the log module for progname. */
void	 config_apply_log(const struct config *, const char *progname);

#endif
