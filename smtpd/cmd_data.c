/* SPDX-License-Identifier: MIT */
/*
 * cmd_data.c - DATA and BDAT: message content into the spool
 *
 * The spool file is opened when content starts (DATA, or the first BDAT
 * chunk): envelope first, then our Received: field, then the content as
 * it arrives (data.c checks and unstuffs it; nothing is held in memory
 * beyond the spool's write buffer).  On submission a missing Message-ID
 * and Date are added where the header section ends, as Postfix does.
 *
 * A finished message is not committed at once: it joins the batch of
 * every message finished in the same loop turn, and a zero-delay timer
 * commits them together (one directory fsync for all, file fsyncs in
 * parallel) on the committer thread while the loop serves the other
 * sessions; each session waits, suspended, for its "250 ... queued as".
 * This is the only file that talks to the spool.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "enqueue.h"
#include "event.h"
#include "log.h"
#include "mem.h"
#include "received.h"
#include "rfc5322.h"
#include "smtpd.h"
#include "spool.h"
#include "str.h"
#include "workpool.h"

static int
sink(void *arg, const char *buf, size_t len, struct fail *f)
{
	struct session	*s = arg;

	return enqueue_write(s->tx.msg, buf, len, f);
}

/* Submission: add Message-ID and Date when the client left them out. */
static void
header_end(struct data *d, void *arg)
{
	struct session	*s = arg;
	char		 buf[400], date[RFC5322_DATE_MAX];

	if (s->listener == SMTP_LISTEN_SMTP)
		return;
	if (!d->has_message_id && str_printf(buf, sizeof(buf),
	    "Message-ID: <%s@%s>\r\n", s->tx.queue_id,
	    s->srv->conf.hostname))
		data_insert(d, buf, strlen(buf));
	if (!d->has_date && str_printf(buf, sizeof(buf), "Date: %s\r\n",
	    rfc5322_date(time(NULL), 0, date, sizeof(date))))
		data_insert(d, buf, strlen(buf));
}

static enum spool_proto
proto(const struct session *s)
{
	if (!s->is_esmtp)
		return SPOOL_PROTO_SMTP;
	if (s->is_tls)
		return s->is_authenticated ? SPOOL_PROTO_ESMTPSA :
		    SPOOL_PROTO_ESMTPS;
	return s->is_authenticated ? SPOOL_PROTO_ESMTPA : SPOOL_PROTO_ESMTP;
}

/* Open the spool file: envelope, Received.  0, or -1 after replying. */
static int
message_begin(struct session *s)
{
	struct smtp_tx		*tx = &s->tx;
	struct spool_env	 env;
	struct received_info	 ri;
	struct fail		 f;
	struct str		 rec;
	size_t			 i;
	int			 rc = -1;

	if (s->srv->spool == NULL) {
		smtp_error(s, "451 4.3.0 Error: queue file write error");
		return -1;
	}
	if (enqueue_begin(s->srv->spool, &tx->msg, &f) == -1) {
		smtp_error(s, "%d %s Error: %s", strcmp(f.code, "4.3.1") == 0 ?
		    452 : 451, f.code, f.text);
		return -1;
	}
	(void)str_copy(tx->queue_id, enqueue_id(tx->msg),
	    sizeof(tx->queue_id));

	spool_env_init(&env);
	spool_env_set(&env.sender, tx->sender);
	env.ret = tx->mp.ret == MAIL_RET_FULL ? SPOOL_RET_FULL :
	    tx->mp.ret == MAIL_RET_HDRS ? SPOOL_RET_HDRS : SPOOL_RET_NONE;
	spool_env_set(&env.envid, tx->mp.envid);
	env.flags = (tx->mp.smtputf8 ? SPOOL_F_SMTPUTF8 : 0) |
	    (tx->mp.body == MAIL_BODY_8BITMIME ? SPOOL_F_8BITMIME : 0);
	env.proto = proto(s);
	spool_env_set(&env.client_addr, s->ip);
	spool_env_set(&env.helo, s->helo);
	spool_env_set(&env.tls, s->is_tls ? s->tls_desc : "");
	spool_env_set(&env.auth_user, s->is_authenticated ? s->auth_user : "");
	for (i = 0; i < tx->nrcpts; i++)
		if (spool_env_add_rcpt(&env, tx->rcpts[i].addr,
		    tx->rcpts[i].orcpt, "", tx->rcpts[i].notify) == -1)
			goto fail_perm;
	if (enqueue_envelope(tx->msg, &env, &f) == -1)
		goto fail;

	memset(&ri, 0, sizeof(ri));
	ri.helo = s->helo_seen ? s->helo : NULL;
	ri.ip = s->ip;
	ri.tls = s->is_tls ? s->tls_desc : NULL;
	ri.auth_user = s->is_authenticated ? s->auth_user : NULL;
	ri.hostname = s->srv->conf.hostname;
	ri.esmtp = s->is_esmtp;
	ri.smtputf8 = tx->mp.smtputf8;
	ri.queue_id = tx->queue_id;
	ri.rcpt = tx->nrcpts == 1 ? tx->rcpts[0].addr : NULL;
	ri.when = time(NULL);
	/* RFC 7208 9.1: Received-SPF goes above our Received field. */
	str_init(&rec, 8192);
	if ((tx->spf_header != NULL &&
	    (str_append_str(&rec, tx->spf_header) == -1 ||
	    str_append(&rec, "\r\n", 2) == -1)) ||
	    received_format(&ri, &rec) == -1) {
		str_release(&rec);
		goto fail_perm;
	}
	if (enqueue_write(tx->msg, rec.data, rec.len, &f) == -1) {
		str_release(&rec);
		goto fail;
	}
	str_release(&rec);
	rc = 0;
	goto out;

fail_perm:
	(void)fail_set(&f, false, "5.3.4", "Error: envelope too large");
fail:
	smtp_error(s, "%d %s %s", f.temp ? (strcmp(f.code, "4.3.1") == 0 ?
	    452 : 451) : 554, f.code, f.text);
	enqueue_rollback(&tx->msg);
out:
	spool_env_release(&env);
	return rc;
}

static void
content_begin(struct session *s)
{
	data_begin(&s->tx.data, &s->srv->conf.data, sink, s);
	s->tx.data.header_end = header_end;
	s->tx.data_started = true;
}

void
cmd_data(struct session *s, char *arg)
{
	if (str_trim(arg)[0] != '\0') {
		smtp_error(s, "501 5.5.4 Syntax: DATA");
		return;
	}
	if (message_begin(s) == -1)
		return;
	content_begin(s);
	smtp_set_state(s, SMTP_DATA);
	smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

static void
batch_cb(void *arg)
{
	smtp_batch_commit(arg);
}

/* Content is all in: answer the failure, or queue for the batch commit. */
static void
message_end(struct session *s)
{
	struct smtpd	*srv = s->srv;
	struct data	*d = &s->tx.data;

	s->base.flush_now = true;
	if (d->failed) {
		log_info(s->tx.queue_id, "reject size=%zu reason=\"%s\"",
		    d->size, d->fail.text);
		enqueue_rollback(&s->tx.msg);
		smtp_error(s, "%d %s %s", data_reply_code(d), d->fail.code,
		    d->fail.text);
		smtp_tx_reset(s);
		return;
	}
	if (srv->nbatch == srv->batch_cap) {
		srv->batch_cap = srv->batch_cap == 0 ? 16 : srv->batch_cap * 2;
		srv->batch = xreallocarray(srv->batch, srv->batch_cap,
		    sizeof(*srv->batch));
	}
	if (srv->nbatch == 0) {
		if (srv->batch_timer == NULL)
			srv->batch_timer = event_timer_add(srv->loop, 0,
			    batch_cb, srv);
		else
			event_timer_reset(srv->batch_timer, 0);
	}
	srv->batch[srv->nbatch++] = s;
	smtp_suspend(s);
}

size_t
smtp_data_bytes(struct session *s, const char *buf, size_t len)
{
	bool	 done;

	len = data_feed(&s->tx.data, buf, len, &done);
	if (done)
		message_end(s);
	return len;
}

/* The one log line per accepted message. */
static void
log_queued(const struct session *s, uint64_t size)
{
	char	 from[RFC5321_PATH_MAX * 4 + 1];

	str_sanitize(from, sizeof(from), s->tx.sender, strlen(s->tx.sender));
	log_info(s->tx.queue_id, "from=<%s> size=%ju nrcpt=%zu proto=%s "
	    "client=%s%s%s", from, (uintmax_t)size, s->tx.nrcpts,
	    smtp_proto(s), s->ip, s->is_authenticated ? " sasl_username=" : "",
	    s->is_authenticated ? s->auth_user : "");
}

/*
 * The committer: a one-thread workpool that runs enqueue_commit_batch()
 * for the loop, one batch at a time (a pool of one job).  The loop hands
 * it a batch, goes on serving the other sessions, and replies from the
 * job's done() on the loop.  The sessions of the batch stay suspended
 * until then, so their transaction state (queue id, sender, recipients)
 * is not touched meanwhile; a session freed in between leaves a NULL in
 * sess[].
 */
struct smtp_committer {
	struct workpool		 *pool;
	struct smtpd		 *srv;
	bool			  busy;		/* a batch in flight */
	bool			  stopping;
	/* the batch in flight */
	struct session		**sess;
	struct enqueue_msg	**msgs;
	struct fail		 *fails;
	uint64_t		 *sizes;
	int			 *rcs;
	size_t			  n;
};

/* Replies for a committed batch; frees it. */
static void
batch_done(struct session **batch, const uint64_t *sizes, const int *rcs,
    const struct fail *fails, size_t n)
{
	struct session	*s;
	size_t		 i;

	for (i = 0; i < n; i++) {
		if ((s = batch[i]) == NULL)
			continue;	/* gone while in flight */
		if (rcs[i] == 0) {
			log_queued(s, sizes[i]);
			s->nmsgs++;
			s->nrcpts += (unsigned int)s->tx.nrcpts;
			smtp_reply(s, "250 2.0.0 Ok: queued as %s",
			    s->tx.queue_id);
		} else {
			smtp_error(s, "%d %s %s", strcmp(fails[i].code,
			    "4.3.1") == 0 ? 452 : fails[i].temp ? 451 : 554,
			    fails[i].code, fails[i].text);
		}
		/* Resuming may end another message: it joins srv->batch,
		 * not this one (the caller owns these arrays). */
		batch[i] = NULL;
		smtp_tx_reset(s);
		s->base.flush_now = true;
		smtp_resume(s);
	}
}

/* On the worker. */
static void
committer_work(void *arg)
{
	struct smtp_committer	*c = arg;

	(void)enqueue_commit_batch(c->msgs, c->n, c->rcs, c->fails);
}

/* Let go of the batch arrays (they belong to someone else now). */
static void
committer_drop_batch(struct smtp_committer *c)
{
	c->sess = NULL;
	c->msgs = NULL;
	c->fails = NULL;
	c->sizes = NULL;
	c->rcs = NULL;
	c->n = 0;
}

static void
committer_free_batch(struct smtp_committer *c)
{
	free(c->sess);
	free(c->msgs);
	free(c->fails);
	free(c->sizes);
	free(c->rcs);
	committer_drop_batch(c);
}

/* On the loop: the batch in flight is committed. */
static void
committer_done(void *arg)
{
	struct smtp_committer	*c = arg;

	c->busy = false;
	batch_done(c->sess, c->sizes, c->rcs, c->fails, c->n);
	committer_free_batch(c);
	/* What finished meanwhile goes next. */
	if (!c->stopping)
		smtp_batch_commit(c->srv);
}

int
smtp_committer_start(struct smtpd *srv)
{
	struct smtp_committer	*c;

	c = xcalloc(1, sizeof(*c));
	c->srv = srv;
	if ((c->pool = workpool_new(srv->loop, 1, 1)) == NULL) {
		free(c);
		return -1;
	}
	srv->committer = c;
	return 0;
}

void
smtp_committer_stop(struct smtpd *srv)
{
	struct smtp_committer	*c = srv->committer;

	if (c == NULL)
		return;
	/* Waits for the batch in flight and replies for it; what its
	 * sessions finish then commits on the loop. */
	c->stopping = true;
	workpool_free(&c->pool);
	committer_free_batch(c);
	free(c);
	srv->committer = NULL;
}

void
smtp_batch_commit(struct smtpd *srv)
{
	struct smtp_committer	 *c = srv->committer;
	struct enqueue_msg	**msgs;
	struct fail		 *fails;
	struct session		**batch;
	uint64_t		 *sizes;
	int			 *rcs;
	size_t			  i, n = srv->nbatch;

	if (n == 0 || (c != NULL && c->busy))
		return;		/* the batch in flight starts it when done */
	/* Sessions resumed below may finish new messages: those start the
	 * next batch. */
	batch = srv->batch;
	srv->batch = NULL;
	srv->nbatch = srv->batch_cap = 0;
	msgs = xreallocarray(NULL, n, sizeof(*msgs));
	fails = xcalloc(n, sizeof(*fails));
	rcs = xcalloc(n, sizeof(*rcs));
	sizes = xcalloc(n, sizeof(*sizes));
	for (i = 0; i < n; i++) {
		sizes[i] = enqueue_size(batch[i]->tx.msg);
		msgs[i] = batch[i]->tx.msg;
		batch[i]->tx.msg = NULL;
	}
	if (c != NULL && !c->stopping) {
		c->sess = batch;
		c->msgs = msgs;
		c->fails = fails;
		c->sizes = sizes;
		c->rcs = rcs;
		c->n = n;
		c->busy = true;
		if (workpool_submit(c->pool, committer_work, committer_done,
		    c) == 0)
			return;
		/* cannot happen with one batch at a time; commit here */
		c->busy = false;
		committer_drop_batch(c);
	}
	(void)enqueue_commit_batch(msgs, n, rcs, fails);
	batch_done(batch, sizes, rcs, fails, n);
	free(batch);
	free(sizes);
	free(msgs);
	free(fails);
	free(rcs);
}

void
smtp_batch_forget(struct session *s)
{
	struct smtpd		*srv = s->srv;
	struct smtp_committer	*c = srv->committer;
	size_t			 i;

	for (i = 0; i < srv->nbatch; i++)
		if (srv->batch[i] == s) {
			memmove(&srv->batch[i], &srv->batch[i + 1],
			    (srv->nbatch - i - 1) * sizeof(*srv->batch));
			srv->nbatch--;
			break;
		}
	if (c != NULL && c->busy)
		for (i = 0; i < c->n; i++)
			if (c->sess[i] == s)
				c->sess[i] = NULL;
	enqueue_rollback(&s->tx.msg);
}

/* ---- BDAT (RFC 3030) ---- */

void
smtp_bdat_bytes(struct session *s, const char *buf, size_t len)
{
	bool	 done;

	if (s->tx.bdat_discard)
		return;
	/* Raw mode: the same bare CR and bare LF rules as DATA (data.h),
	 * no dots, no end line. */
	(void)data_feed(&s->tx.data, buf, len, &done);
}

/* Parse "count [LAST]" and arm the chunk reader: 0, or -1 after 501. */
static int
bdat_args(struct session *s, char *arg)
{
	struct smtp_tx	*tx = &s->tx;
	char		*last;
	uint64_t	 size;

	last = arg + strcspn(arg, " \t");
	if (*last != '\0')
		*last++ = '\0';
	last = str_trim(last);
	if (strnum_u64(arg, 0, UINT64_MAX, &size) == -1 ||
	    (last[0] != '\0' && strcasecmp(last, "LAST") != 0)) {
		/* the chunk size is unknown, so the stream is lost */
		smtp_error(s, "501 5.5.4 Syntax: BDAT count [LAST]");
		return -1;
	}
	tx->bdat_chunk = true;
	tx->bdat_size = tx->bdat_left = size;
	tx->bdat_last = last[0] != '\0';
	tx->bdat_discard = false;
	return 0;
}

void
smtp_bdat_refuse(struct session *s, char *arg, const char *reply)
{
	struct smtp_tx	*tx = &s->tx;

	if (bdat_args(s, arg) == -1)
		return;
	tx->bdat_discard = true;
	(void)str_copy(tx->bdat_error, reply, sizeof(tx->bdat_error));
}

void
cmd_bdat(struct session *s, char *arg)
{
	struct smtp_tx	*tx = &s->tx;
	uint64_t	 size;

	if (bdat_args(s, arg) == -1)
		return;
	size = tx->bdat_size;
	if (s->state != SMTP_RCPT && s->state != SMTP_BDAT) {
		tx->bdat_discard = true;
		(void)str_copy(tx->bdat_error, s->state == SMTP_MAIL ?
		    "503 5.5.1 Error: need RCPT command" :
		    s->state == SMTP_READY || s->state == SMTP_GREETED ?
		    "503 5.5.1 Error: need MAIL command" :
		    "503 5.5.1 Error: bad sequence of commands",
		    sizeof(tx->bdat_error));
		return;
	}
	if (tx->bdat_total + size > s->srv->conf.max_message ||
	    size > s->srv->conf.max_message) {
		tx->bdat_discard = true;
		(void)str_copy(tx->bdat_error, "552 5.3.4 Message size exceeds "
		    "fixed limit", sizeof(tx->bdat_error));
		return;
	}
	if (!tx->bdat) {
		if (message_begin(s) == -1) {
			/* the reply is out; the chunk still has to go */
			tx->bdat_discard = true;
			tx->bdat_error[0] = '\0';
			return;
		}
		content_begin(s);
		tx->data.raw = true;
		tx->bdat = true;
	}
	tx->bdat_total += size;
	smtp_set_state(s, SMTP_BDAT);
}

void
smtp_bdat_end(struct session *s)
{
	struct smtp_tx	*tx = &s->tx;

	tx->bdat_chunk = false;
	s->base.flush_now = true;
	if (tx->bdat_discard) {
		tx->bdat_discard = false;
		if (tx->bdat_error[0] != '\0')
			smtp_error(s, "%s", tx->bdat_error);
		/* RFC 3030 3.1: a failed chunk ends the transaction */
		if (tx->bdat) {
			enqueue_rollback(&tx->msg);
			smtp_tx_reset(s);
		}
		return;
	}
	if (!tx->bdat_last) {
		smtp_reply(s, "250 2.0.0 Ok: %ju bytes",
		    (uintmax_t)tx->bdat_size);
		return;
	}
	data_end(&tx->data);
	message_end(s);
}
