/* SPDX-License-Identifier: MIT */
/*
 * server.c - buzon-pop3d's process-wide state: settings from buzon.conf,
 * the TLS context, the accounts maps and the auth client; reload and
 * shutdown for service.h
 */
#include <string.h>

#include "accounts.h"
#include "accounts_config.h"
#include "auth.h"
#include "authc.h"
#include "event.h"
#include "log.h"
#include "pop3d.h"
#include "sandbox.h"
#include "service.h"
#include "settings.h"
#include "str.h"
#include "tls.h"

/* What a missing certificate costs, for the "tls off" warning. */
#define POP3D_TLS_OFF	"no STLS, no pop3s"
#define POP3D_MB_THREADS	2	/* mailbox workers (mbwork.c) */

/* What pop3d writes beneath state_dir once sandboxed. */
static const char *const pop3d_sandbox_rw[] = { "mail", "run", NULL };

void
pop3d_conf_from(struct pop3_conf *c, const struct config *cfg)
{
	memset(c, 0, sizeof(*c));
	c->hostname = cfg->hostname;
	c->timeout = cfg->pop3_timeout;
	c->command_timeout = cfg->pop3_command_timeout;
	c->send_timeout = cfg->pop3_send_timeout;
	c->max_errors = cfg->pop3_max_errors;
	c->max_connections = cfg->pop3_max_connections;
	c->max_connections_per_ip = cfg->pop3_max_connections_per_ip;
	c->max_line = cfg->pop3_max_line;
	c->plaintext_loopback = cfg->pop3_plaintext_loopback;
	c->mark_seen = cfg->pop3_mark_seen;
	c->apop_enable = cfg->apop_enable;
	c->lock_session = cfg->pop3_lock_session;
}

int
pop3d_init(struct event_loop *loop, const struct config *cfg, void *data)
{
	struct pop3d			*srv = data;
	struct accounts_conf		 ac;
	char				 err[512];

	memset(srv, 0, sizeof(*srv));
	srv->loop = loop;
	sess_server_init(&srv->sv, loop, &pop3_sess_ops, &srv->tls_ctx);
	pop3d_conf_from(&srv->conf, cfg);
	srv->tls_ctx = tls_server_ctx_load(cfg->tls_cert, cfg->tls_key,
	    POP3D_TLS_OFF);
	accounts_config(cfg, &ac);
	if ((srv->accounts = accounts_open(&ac, err, sizeof(err))) == NULL) {
		log_error("-", "accounts: %s", err);
		return -1;
	}
	if ((srv->authc = authc_from_config(loop, cfg, "pop3")) == NULL) {
		log_error("-", "auth socket path too long");
		return -1;
	}
	/* The key is in memory: from here on pop3d reaches the maps, the
	 * mailboxes and run/ only (sandbox.h). */
	if (sandbox_daemon(cfg, "buzon-pop3d", pop3d_sandbox_rw) == -1)
		return -1;
	/* Threads only now: Landlock binds the threads started after it. */
	(void)pop3_mbwork_init(srv, POP3D_MB_THREADS);
	log_info("-", "pop3d ready hostname=%s tls=%s apop=%s",
	    srv->conf.hostname, srv->tls_ctx != NULL ? "yes" : "no",
	    srv->conf.apop_enable ? "yes" : "no");
	return 0;
}

int
pop3d_reload(const struct config *cfg, void *data)
{
	struct pop3d	*srv = data;

	pop3d_conf_from(&srv->conf, cfg);
	if (!sandbox_is_active())
		tls_server_ctx_reload(&srv->tls_ctx, cfg->tls_cert,
		    cfg->tls_key, POP3D_TLS_OFF);
	log_info("-", "reloaded%s", sandbox_is_active() ?
	    " tls=kept (sandboxed: a restart loads a new key)" : "");
	return 0;
}

unsigned int
pop3d_shutdown(void *data)
{
	struct pop3d	*srv = data;

	if (sess_shutdown(&srv->sv) == 0) {
		tls_ctx_free(&srv->tls_ctx);
		accounts_close(&srv->accounts);
		authc_free(&srv->authc);
		pop3_mbwork_free(srv);
	}
	return srv->sv.count;
}
