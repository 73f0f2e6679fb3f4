/* SPDX-License-Identifier: MIT */
/*
 * server.c - buzon-smtpd's process-wide state: settings from buzon.conf,
 * the TLS context, the accounts maps, the auth client and the spool;
 * reload and shutdown for service.h
 */
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "accounts.h"
#include "accounts_config.h"
#include "auth.h"
#include "authc.h"
#include "enqueue.h"
#include "event.h"
#include "log.h"
#include "sandbox.h"
#include "service.h"
#include "settings.h"
#include "smtpd.h"
#include "spf.h"
#include "spf_client.h"
#include "str.h"
#include "tls.h"

/* Threads that fsync the files of one commit batch in parallel. */
#define SMTPD_SYNC_THREADS	8
/* What a missing certificate costs, for the "tls off" warning. */
#define SMTPD_TLS_OFF		"no STARTTLS, no submissions"

void
smtpd_conf_from(struct smtpd_conf *c, const struct config *cfg)
{
	enum spf_policy	 pol;

	memset(c, 0, sizeof(*c));
	c->hostname = cfg->hostname;
	c->max_message = cfg->smtpd_max_message;
	c->max_recipients = cfg->smtpd_max_recipients;
	c->timeout = cfg->smtpd_timeout;
	c->data_timeout = cfg->smtpd_data_timeout;
	c->min_data_rate = cfg->smtpd_min_data_rate;
	c->max_connections = cfg->smtpd_max_connections;
	c->max_connections_per_ip = cfg->smtpd_max_connections_per_ip;
	c->max_errors = cfg->smtpd_max_errors;
	c->max_commands_preauth = cfg->smtpd_max_commands_preauth;
	c->auth_plaintext_loopback = cfg->smtpd_auth_plaintext_loopback;
	if (spf_policy_parse(cfg->smtpd_spf_policy, &pol) == -1)
		pol = SPF_POLICY_NONE;	/* conf checked the word */
	c->spf_policy = (int)pol;
	c->spf_reject_permerror = cfg->smtpd_spf_reject_permerror;
	c->mynetworks = cfg->mynetworks.items;
	c->nmynetworks = cfg->mynetworks.count;
	c->data.max_size = cfg->smtpd_max_message;
	c->max_line = cfg->smtpd_max_line;
	c->data.max_headers = cfg->smtpd_max_headers;
	c->data.max_header_size = cfg->smtpd_max_header_size;
	c->data.max_received = cfg->smtpd_max_received;
	c->data.bare = strcmp(cfg->smtpd_bare_newline, "reject") == 0 ?
	    DATA_BARE_REJECT : DATA_BARE_NORMALIZE;
}

/* Every mynetworks entry must parse; say which does not. */
static int
check_networks(const struct config *cfg)
{
	size_t		 i;
	int		 rc = 0;

	for (i = 0; i < cfg->mynetworks.count; i++)
		if (!net_network_valid(cfg->mynetworks.items[i])) {
			log_error("-", "mynetworks: '%s' is not an address or "
			    "address/prefix", cfg->mynetworks.items[i]);
			rc = -1;
		}
	return rc;
}

/* What smtpd writes beneath state_dir once sandboxed (sandbox.h). */
static const char *const smtpd_sandbox_rw[] = { "spool", "run", NULL };

/* The SPF helper: buzon-spf in the directory of this program (the build
 * tree and the install directory alike). */
static void
spf_start(struct smtpd *srv, const struct config *cfg)
{
	struct spf_client_conf	 sc;
	char			 self[PATH_MAX], path[PATH_MAX + 16];
	char			*slash;
	ssize_t			 n;

	if (srv->conf.spf_policy == SPF_POLICY_NONE)
		return;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		log_warn("-", "spf off: cannot find my own program");
		return;
	}
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) != NULL)
		*slash = '\0';
	if (!str_printf(path, sizeof(path), "%s/buzon-spf", self) ||
	    access(path, X_OK) == -1) {
		log_warn("-", "spf off: no helper at %s", path);
		return;
	}
	srv->spf_argv = spf_helper_argv(cfg, path);
	spf_client_conf_from_config(&sc, cfg, srv->spf_argv);
	srv->spf = spf_client_new(srv->loop, &sc);
}

int
smtpd_init(struct event_loop *loop, const struct config *cfg, void *data)
{
	struct smtpd			*srv = data;
	struct accounts_conf		 ac;
	struct fail			 f;
	char				 err[512];

	memset(srv, 0, sizeof(*srv));
	srv->loop = loop;
	sess_server_init(&srv->sv, loop, &smtp_sess_ops, &srv->tls_ctx);
	if (check_networks(cfg) == -1)
		return -1;
	smtpd_conf_from(&srv->conf, cfg);
	/* A file size limit must fail a write, not kill the process. */
	(void)signal(SIGXFSZ, SIG_IGN);
	srv->tls_ctx = tls_server_ctx_load(cfg->tls_cert, cfg->tls_key,
	    SMTPD_TLS_OFF);

	accounts_config(cfg, &ac);
	if ((srv->accounts = accounts_open(&ac, err, sizeof(err))) == NULL) {
		log_error("-", "accounts: %s", err);
		return -1;
	}

	if (enqueue_open(cfg->state_dir, &srv->spool, &f) == -1) {
		log_error("-", "spool: %s", f.text);
		return -1;
	}
	/* Before any thread: the key is in memory, no mailbox is reached. */
	if (sandbox_daemon(cfg, "buzon-smtpd", smtpd_sandbox_rw) == -1)
		return -1;
	enqueue_set_sync_threads(srv->spool, SMTPD_SYNC_THREADS);
	if (smtp_committer_start(srv) == -1)
		log_warn("-", "commits run on the loop: no committer thread");
	if ((srv->authc = authc_from_config(loop, cfg, "smtp")) == NULL) {
		log_error("-", "auth socket path too long");
		return -1;
	}
	spf_start(srv, cfg);
	log_info("-", "smtpd ready hostname=%s tls=%s spf=%s max_message=%zu",
	    srv->conf.hostname, srv->tls_ctx != NULL ? "yes" : "no",
	    srv->spf != NULL ? cfg->smtpd_spf_policy : "off",
	    srv->conf.max_message);
	return 0;
}

int
smtpd_reload(const struct config *cfg, void *data)
{
	struct smtpd	*srv = data;

	if (check_networks(cfg) == -1)
		return -1;
	smtpd_conf_from(&srv->conf, cfg);
	/* The SPF helpers keep running with the DNS settings they started
	 * with (a restart applies new dns_* keys); the policy applies now. */
	if (srv->spf == NULL)
		spf_start(srv, cfg);
	if (!sandbox_is_active())
		tls_server_ctx_reload(&srv->tls_ctx, cfg->tls_cert,
		    cfg->tls_key, SMTPD_TLS_OFF);
	log_info("-", "reloaded%s", sandbox_is_active() ?
	    " tls=kept (sandboxed: a restart loads a new key)" : "");
	return 0;
}

unsigned int
smtpd_shutdown(void *data)
{
	struct smtpd	*srv = data;

	if (sess_shutdown(&srv->sv) == 0) {
		event_timer_del(&srv->batch_timer);
		smtp_committer_stop(srv);
		tls_ctx_free(&srv->tls_ctx);
		accounts_close(&srv->accounts);
		enqueue_close(&srv->spool);
		spf_client_free(&srv->spf);
		spf_helper_argv_free(&srv->spf_argv);
		authc_free(&srv->authc);
	}
	return srv->sv.count;
}
