/* SPDX-License-Identifier: MIT */
/*
 * bounce.c - delivery status notifications for one queue entry
 *
 * The report is rendered by local-delivery/dsn.c (RFC 3464) and queued
 * with the null sender through the enqueue API, so it is as durable as any
 * other message before the runner records "notified" for the recipients
 * it covers.  A report to the postmaster (a failed message whose sender
 * was already null: a double bounce) carries NOTIFY=NEVER, so a report
 * that cannot be delivered either ends there instead of looping.
 */
#include <stdlib.h>
#include <string.h>

#include "dsn.h"
#include "enqueue.h"
#include "log.h"
#include "mem.h"
#include "queued.h"
#include "str.h"

#define DSN_MAX_EXTRA	(1024 * 1024)	/* report text around the original */

static enum dsn_action
item_action(enum spool_rcpt_state s)
{
	switch (s) {
	case SPOOL_RCPT_DELIVERED:
		return DSN_DELIVERED;
	case SPOOL_RCPT_DEFERRED:
		return DSN_DELAYED;
	default:
		return DSN_FAILED;
	}
}

int
queue_bounce_send(struct enqueue *q, const struct queue_conf *c,
    const struct queue_msg *m, const struct queue_dsn_item *items, size_t n,
    const char *to, uint64_t now, char *dsn_id_r, struct fail *f)
{
	struct dsn_rcpt		*dr;
	struct dsn		 d;
	struct deliver_msg	 orig;
	struct spool_env	 env;
	struct enqueue_msg	*em = NULL;
	const struct spool_rcpt	*r;
	struct str		 out;
	bool			 postmaster;
	size_t			 i;
	int			 rc = -1;

	postmaster = strcmp(to, m->env.sender) != 0;
	dr = xcalloc(n, sizeof(*dr));
	for (i = 0; i < n; i++) {
		r = &m->env.rcpts[items[i].rcpt];
		dr[i].orcpt = r->orcpt[0] != '\0' ? r->orcpt : NULL;
		dr[i].final = items[i].final;
		dr[i].action = item_action(items[i].state);
		dr[i].status = items[i].code;
		dr[i].diag_type = "x-unix";
		dr[i].diag = items[i].text[0] != '\0' ? items[i].text : NULL;
		dr[i].last_attempt = (time_t)now;
		if (items[i].state == SPOOL_RCPT_DEFERRED)
			dr[i].retry_until = (time_t)(m->env.arrival_sec +
			    c->max_lifetime);
	}
	memset(&orig, 0, sizeof(orig));
	orig.fd = m->fd;
	orig.offset = m->env.content_off;
	orig.len = m->env.content_len;
	memset(&d, 0, sizeof(d));
	d.hostname = c->hostname;
	d.id = m->id;
	d.sender = to;
	d.envid = m->env.envid[0] != '\0' ? m->env.envid : NULL;
	d.arrival = (time_t)m->env.arrival_sec;
	d.now = (time_t)now;
	d.ret = m->env.ret == SPOOL_RET_FULL ? DSN_RET_FULL : DSN_RET_HDRS;
	d.full_max = c->bounce_full_max;
	d.rcpts = dr;
	d.nrcpts = n;
	d.msg = &orig;
	str_init(&out, c->bounce_full_max + DSN_MAX_EXTRA);
	spool_env_init(&env);
	if (dsn_render(&d, &out, f) == -1)
		goto out;
	spool_env_set(&env.sender, "");
	env.proto = SPOOL_PROTO_LOCAL;
	if (spool_env_add_rcpt(&env, to, "", "",
	    postmaster ? SPOOL_NOTIFY_NEVER : 0) == -1) {
		fail_set(f, false, "5.5.3", "too many recipients");
		goto out;
	}
	if (enqueue_begin(q, &em, f) == -1 ||
	    enqueue_envelope(em, &env, f) == -1 ||
	    enqueue_write(em, out.data, out.len, f) == -1) {
		enqueue_rollback(&em);
		goto out;
	}
	(void)str_copy(dsn_id_r, enqueue_id(em), SPOOL_ID_LEN + 1);
	rc = enqueue_commit(&em, f);
out:
	spool_env_release(&env);
	str_release(&out);
	free(dr);
	return rc;
}
