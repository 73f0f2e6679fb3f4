/* SPDX-License-Identifier: MIT */
/*
 * accounts_config.c - struct config to accounts and auth settings
 */
#include <limits.h>
#include <string.h>

#include "accounts_config.h"
#include "authc.h"
#include "log.h"
#include "settings.h"
#include "str.h"

void
accounts_config(const struct config *cfg, struct accounts_conf *ac)
{
	memset(ac, 0, sizeof(*ac));
	ac->state_dir = cfg->state_dir;
	ac->map_type = cfg->map_type;
	ac->recipient_delimiter = cfg->recipient_delimiter;
	ac->local_part_case_sensitive = cfg->local_part_case_sensitive;
	ac->default_realm = cfg->auth_default_realm;
	ac->passwd_map = cfg->passwd_map;
}

void
auth_throttle_config(const struct config *cfg, struct auth_throttle_conf *tc)
{
	memset(tc, 0, sizeof(*tc));
	tc->failure_delay = cfg->auth_failure_delay;
	tc->max_delay = cfg->auth_max_delay;
	tc->penalty_time = cfg->auth_penalty_time;
	tc->address_max_failures = cfg->auth_address_max_failures;
	tc->trusted = cfg->login_trusted_networks.items;
	tc->ntrusted = cfg->login_trusted_networks.count;
}

int
auth_throttle_path(const struct config *cfg, char *out, size_t outsize)
{
	return str_printf(out, outsize, "%s/run/auth_throttle",
	    cfg->state_dir) ? 0 : -1;
}

struct auth_throttle *
auth_throttle_from_config(const struct config *cfg)
{
	struct auth_throttle_conf	 tc;
	struct auth_throttle		*t;
	char				 path[PATH_MAX];
	char				 err[512];

	auth_throttle_config(cfg, &tc);
	(void)str_copy(err, "state_dir too long", sizeof(err));
	if (auth_throttle_path(cfg, path, sizeof(path)) == -1)
		t = NULL;
	else
		t = auth_throttle_open(path, &tc, err, sizeof(err));
	if (t == NULL)
		log_warn("-", "auth throttle off: %s", err);
	return t;
}

struct authc *
authc_from_config(struct event_loop *loop, const struct config *cfg,
    const char *service)
{
	char	 path[PATH_MAX];

	if (authc_socket_path(cfg->state_dir, path, sizeof(path)) == -1)
		return NULL;
	return authc_new(loop, path, service, cfg->auth_max_delay +
	    cfg->auth_timeout);
}
