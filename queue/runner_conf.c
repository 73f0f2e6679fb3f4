/* SPDX-License-Identifier: MIT */
/*
 * runner_conf.c - the queue runner's settings
 */

#include <stdlib.h>
#include <string.h>

#include "maps.h"
#include "mem.h"
#include "queued.h"
#include "runner.h"
#include "settings.h"
#include "str.h"


/* ---- settings ---- */

static char *
dup_or_empty(const char *s)
{
	return xstrdup(s != NULL ? s : "");
}

void
queue_conf_from_config(struct queue_conf *c, const struct config *cfg)
{
	memset(c, 0, sizeof(*c));
	c->state_dir = dup_or_empty(cfg->state_dir);
	c->hostname = dup_or_empty(cfg->hostname);
	c->workers = cfg->queue_delivery_workers;
	c->retry_min = cfg->queue_retry_min / 1000;
	c->retry_max = cfg->queue_retry_max / 1000;
	c->delay_warning_time = cfg->delay_warning_time / 1000;
	c->delay_warning_default = cfg->delay_warning_default;
	c->max_lifetime = cfg->maximal_queue_lifetime / 1000;
	c->double_bounce = dup_or_empty(cfg->double_bounce_recipient);
	c->scan_interval_ms = cfg->queue_scan_interval;
	c->bounce_full_max = cfg->bounce_size_limit;
	c->quota_bounce = cfg->quota_exceeded_bounce;
	c->lock_timeout = (unsigned int)(cfg->mailbox_lock_timeout / 1000);
	c->stale_lock_time = (unsigned int)(cfg->stale_lock_time / 1000);
	c->map_type = dup_or_empty(cfg->map_type);
	c->recipient_delimiter = dup_or_empty(cfg->recipient_delimiter);
	c->local_part_case_sensitive = cfg->local_part_case_sensitive;
}

void
queue_conf_copy(struct queue_conf *dst, const struct queue_conf *src)
{
	*dst = *src;
	dst->state_dir = dup_or_empty(src->state_dir);
	dst->hostname = dup_or_empty(src->hostname);
	dst->double_bounce = dup_or_empty(src->double_bounce);
	dst->map_type = dup_or_empty(src->map_type);
	dst->recipient_delimiter = dup_or_empty(src->recipient_delimiter);
}

void
queue_conf_release(struct queue_conf *c)
{
	free(c->state_dir);
	free(c->hostname);
	free(c->double_bounce);
	free(c->map_type);
	free(c->recipient_delimiter);
	memset(c, 0, sizeof(*c));
}

void
runner_apply_conf(struct queue_runner *r)
{
	deliver_conf_init(&r->dconf);
	r->dconf.hostname = r->conf.hostname[0] != '\0' ? r->conf.hostname :
	    NULL;
	r->dconf.quota_bounce = r->conf.quota_bounce;
	if (r->conf.lock_timeout > 0)
		r->dconf.lock_timeout = r->conf.lock_timeout;
	if (r->conf.stale_lock_time > 0)
		r->dconf.stale_lock_time = r->conf.stale_lock_time;
	memset(&r->aconf, 0, sizeof(r->aconf));
	r->aconf.state_dir = r->conf.state_dir;
	r->aconf.map_type = r->conf.map_type;
	r->aconf.recipient_delimiter = r->conf.recipient_delimiter;
	r->aconf.local_part_case_sensitive = r->conf.local_part_case_sensitive;
}

/* double_bounce_recipient, with "@" and the first local domain (in map
 * order) added when it is a bare local part; the host name when there is
 * no local domain. */
void
runner_find_postmaster(struct queue_runner *r)
{
	struct maps	*m;
	struct maps_iter *it;
	struct str	 key, val, best;
	char		 spec[PATH_MAX + 16], err[256];
	const char	*dom;

	if (strchr(r->conf.double_bounce, '@') != NULL) {
		(void)str_copy(r->postmaster, r->conf.double_bounce,
		    sizeof(r->postmaster));
		return;
	}
	str_init(&key, 0);
	str_init(&val, 0);
	str_init(&best, 0);
	if (accounts_map_spec(&r->aconf, "domains", spec, sizeof(spec)) == 0 &&
	    (m = maps_open(spec, MAPS_F_MISSING_OK, err, sizeof(err))) !=
	    NULL) {
		if ((it = maps_iter_new(m, err, sizeof(err))) != NULL) {
			while (maps_iter_next(it, &key, &val) == 1)
				if (best.len == 0 || strcmp(str_c(&key),
				    str_c(&best)) < 0) {
					str_clear(&best);
					if (str_append(&best, key.data,
					    key.len) == -1)
						str_clear(&best);
				}
			maps_iter_free(&it);
		}
		maps_close(&m);
	}
	dom = best.len > 0 ? str_c(&best) : r->conf.hostname;
	if (!str_printf(r->postmaster, sizeof(r->postmaster), "%s@%s",
	    r->conf.double_bounce, dom))
		(void)str_copy(r->postmaster, "postmaster",
		    sizeof(r->postmaster));
	str_release(&key);
	str_release(&val);
	str_release(&best);
}
