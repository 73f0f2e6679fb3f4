/* SPDX-License-Identifier: MIT */
/*
 * server.c - buzon-imapd's process-wide state: settings from buzon.conf,
 * the TLS context, the accounts maps and the auth client; reload and
 * shutdown for service.h
 */
#include <string.h>

#include "accounts.h"
#include "accounts_config.h"
#include "authc.h"
#include "event.h"
#include "imapd.h"
#include "log.h"
#include "sandbox.h"
#include "service.h"
#include "settings.h"
#include "tls.h"

#define IMAPD_TLS_OFF	"no STARTTLS, no imaps"

/* What imapd writes beneath state_dir once sandboxed. */
static const char *const imapd_sandbox_rw[] = { "mail", "run", NULL };

void
imapd_conf_from(struct imap_conf *c, const struct config *cfg)
{
	memset(c, 0, sizeof(*c));
	c->hostname = cfg->hostname;
	c->timeout = cfg->imap_timeout;
	c->auth_timeout = cfg->imap_auth_timeout;
	c->idle_timeout = cfg->imap_idle_timeout;
	c->command_timeout = cfg->imap_command_timeout;
	c->send_timeout = cfg->imap_send_timeout;
	c->max_errors = cfg->imap_max_errors;
	c->max_connections = cfg->imap_max_connections;
	c->max_connections_per_ip = cfg->imap_max_connections_per_ip;
	c->max_line = cfg->imap_max_line;
	c->max_command = cfg->imap_max_command;
	c->max_append = cfg->imap_max_append;
	c->plaintext_loopback = cfg->imap_plaintext_loopback;
}

int
imapd_init(struct event_loop *loop, const struct config *cfg, void *data)
{
	struct imapd		*srv = data;
	struct accounts_conf	 ac;
	char			 err[512];

	memset(srv, 0, sizeof(*srv));
	srv->loop = loop;
	sess_server_init(&srv->sv, loop, &imap_sess_ops, &srv->tls_ctx);
	imapd_conf_from(&srv->conf, cfg);
	srv->tls_ctx = tls_server_ctx_load(cfg->tls_cert, cfg->tls_key,
	    IMAPD_TLS_OFF);
	accounts_config(cfg, &ac);
	if ((srv->accounts = accounts_open(&ac, err, sizeof(err))) == NULL) {
		log_error("-", "accounts: %s", err);
		return -1;
	}
	if ((srv->authc = authc_from_config(loop, cfg, "imap")) == NULL) {
		log_error("-", "auth socket path too long");
		return -1;
	}
	/* The key is in memory: from here on imapd reaches the maps, the
	 * mailboxes and run/ only (sandbox.h). */
	if (sandbox_daemon(cfg, "buzon-imapd", imapd_sandbox_rw) == -1)
		return -1;
	log_info("-", "imapd ready hostname=%s tls=%s", srv->conf.hostname,
	    srv->tls_ctx != NULL ? "yes" : "no");
	return 0;
}

int
imapd_reload(const struct config *cfg, void *data)
{
	struct imapd	*srv = data;

	imapd_conf_from(&srv->conf, cfg);
	if (!sandbox_is_active())
		tls_server_ctx_reload(&srv->tls_ctx, cfg->tls_cert,
		    cfg->tls_key, IMAPD_TLS_OFF);
	log_info("-", "reloaded%s", sandbox_is_active() ?
	    " tls=kept (sandboxed: a restart loads a new key)" : "");
	return 0;
}

unsigned int
imapd_shutdown(void *data)
{
	struct imapd	*srv = data;

	if (sess_shutdown(&srv->sv) == 0) {
		tls_ctx_free(&srv->tls_ctx);
		accounts_close(&srv->accounts);
		authc_free(&srv->authc);
	}
	return srv->sv.count;
}
