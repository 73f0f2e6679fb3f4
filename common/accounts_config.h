/*
 * accounts_config.h - the accounts and auth settings out of buzon.conf
 *
 * accounts.h and auth.h take their settings in small structs so they can
 * be used (and tested) without the config loader; daemons fill them from
 * struct config with these.  The strings stay borrowed from cfg.
 */
#ifndef BUZON_ACCOUNTS_CONFIG_H
#define BUZON_ACCOUNTS_CONFIG_H

#include <stddef.h>

#include "accounts.h"
#include "auth.h"
#include "settings.h"
void	accounts_config(const struct config *, struct accounts_conf *);
void	auth_throttle_config(const struct config *,
	    struct auth_throttle_conf *);
/* The throttle state file: STATE/run/auth_throttle.  0 or -1. */
int	auth_throttle_path(const struct config *, char *out, size_t outsize)
	    __attribute__((warn_unused_result));
/* A daemon's login throttle: the three above and auth_throttle_open().  On
 * failure a warning "auth throttle off: <why>" and NULL: logins then go
 * unthrottled.  Close with auth_throttle_close(). */
struct auth_throttle *auth_throttle_from_config(const struct config *);

struct authc;
struct event_loop;
/* The client of buzon-auth for a daemon (authc.h): socket
 * STATE/run/auth.sock, timeout auth_max_delay + auth_timeout (buzon-auth
 * holds a failed login's answer up to auth_max_delay).  NULL when the
 * socket path is too long for a unix socket (state_dir too deep). */
struct authc *authc_from_config(struct event_loop *, const struct config *,
	    const char *service);

#endif
