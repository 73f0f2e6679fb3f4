/* SPDX-License-Identifier: MIT */
/*
 * auth_throttle.c - failed-login records shared by every process
 *
 * File format (host byte order; the file is a cache, rebuilt from zero
 * when its header does not match):
 *   header  32 bytes: "BZTHRTL2", uint32 slot count, uint32 slot size,
 *           16 random bytes: the SipHash key of this file
 *   slots   THR_SLOTS x struct thr_slot, in buckets of THR_BUCKET
 * A record's key is "p:" IP LF ACCOUNT (the pair) or "a:" IP (the
 * address); its SipHash-2-4 under the file's key picks the bucket and is
 * kept as the tag.  The random key is what stops a client from choosing
 * names that share a bucket with a victim's record (the old FNV table let
 * a few hundred chosen names evict it).  A new record takes a free or
 * forgotten slot, else, when it is of a real account or an address, the
 * slot of an unknown account with the fewest failures; else it gets no
 * slot and its attempt waits max_delay (fail closed).
 *
 * Every reserve or finish holds a write lock on the whole file for a few
 * preads/pwrites: an OFD lock against other processes (and other handles
 * in this one) and a mutex against other threads using this handle, since
 * threads share the open file description and so the OFD lock.  The
 * clock is read under the lock: a time read before waiting could be older
 * than an attempt recorded meanwhile.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "log.h"
#include "mem.h"
#include "net.h"
#include "str.h"

#define THR_MAGIC	"BZTHRTL2"
#define THR_SLOTS	16384
#define THR_BUCKET	16
#define THR_KEY_MAX	(NET_ADDRSTRLEN + AUTH_ID_MAX + 8)

#define THR_F_PROTECTED	0x01	/* a real account or an address */
/* Bits 8-15 of flags: the pair's attempts in flight that were let through
 * at once because the pair had no failure on record (a client opening
 * several connections, as IMAP clients do, or a phone and a laptop behind
 * one address).  At most THR_BURST; every one is also in failures until
 * its finish. */
#define THR_PEND_SHIFT	8
#define THR_PEND_MASK	(0xffu << THR_PEND_SHIFT)
#define THR_PEND(f)	(((f) & THR_PEND_MASK) >> THR_PEND_SHIFT)
#define THR_BURST	5

struct thr_header {
	char		 magic[8];
	uint32_t	 slots;
	uint32_t	 slot_size;
	unsigned char	 key[16];
};

struct thr_slot {
	uint64_t	 tag;		/* keyed hash; 0: free */
	uint64_t	 last;		/* ms: the last attempt's answer time */
	uint64_t	 next;		/* ms: no answer on this record before */
	uint32_t	 failures;	/* attempts counted and not cleared */
	uint32_t	 flags;		/* THR_F_* */
};

struct auth_throttle {
	pthread_mutex_t		 mu;
	int			 fd;
	unsigned char		 key[16];
	char			**trusted;	/* conf.ntrusted strings */
	struct auth_throttle_conf conf;
};

/* Under the lock: one record as found for an attempt. */
struct thr_rec {
	uint64_t	 tag;
	int		 idx;		/* slot; -1: no slot (bucket full) */
	struct thr_slot	 s;
};

static uint64_t
thr_wall_clock(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t
thr_now(const struct auth_throttle *t)
{
	return t->conf.clock != NULL ? t->conf.clock() : thr_wall_clock();
}

/* ---- SipHash-2-4 (Aumasson and Bernstein), 64-bit output ---- */

#define ROTL(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void
sip_round(uint64_t v[4])
{
	v[0] += v[1]; v[1] = ROTL(v[1], 13); v[1] ^= v[0];
	v[0] = ROTL(v[0], 32);
	v[2] += v[3]; v[3] = ROTL(v[3], 16); v[3] ^= v[2];
	v[0] += v[3]; v[3] = ROTL(v[3], 21); v[3] ^= v[0];
	v[2] += v[1]; v[1] = ROTL(v[1], 17); v[1] ^= v[2];
	v[2] = ROTL(v[2], 32);
}

static uint64_t
le64(const unsigned char *p)
{
	uint64_t	 v = 0;
	int		 i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t
siphash(const unsigned char key[16], const unsigned char *in, size_t len)
{
	uint64_t	 k0 = le64(key), k1 = le64(key + 8), m, v[4];
	size_t		 i, tail = len & 7;
	int		 r;

	v[0] = k0 ^ 0x736f6d6570736575ULL;
	v[1] = k1 ^ 0x646f72616e646f6dULL;
	v[2] = k0 ^ 0x6c7967656e657261ULL;
	v[3] = k1 ^ 0x7465646279746573ULL;
	for (i = 0; i + 8 <= len; i += 8) {
		m = le64(in + i);
		v[3] ^= m;
		sip_round(v);
		sip_round(v);
		v[0] ^= m;
	}
	m = (uint64_t)len << 56;
	for (r = (int)tail - 1; r >= 0; r--)
		m |= (uint64_t)in[i + (size_t)r] << (8 * r);
	v[3] ^= m;
	sip_round(v);
	sip_round(v);
	v[0] ^= m;
	v[2] ^= 0xff;
	for (r = 0; r < 4; r++)
		sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* ---- the file ---- */

static int
thr_lock(struct auth_throttle *t, short type)
{
	struct flock	 fl;
	int		 save;

	if (type != F_UNLCK)
		(void)pthread_mutex_lock(&t->mu);
	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	while (fcntl(t->fd, F_OFD_SETLKW, &fl) == -1)
		if (errno != EINTR) {
			save = errno;
			(void)pthread_mutex_unlock(&t->mu);
			errno = save;
			return -1;
		}
	if (type == F_UNLCK)
		(void)pthread_mutex_unlock(&t->mu);
	return 0;
}

/* Under the lock: make sure the file has our header and full size, and
 * take its hash key. */
static int
thr_format(struct auth_throttle *t)
{
	struct thr_header h;
	off_t		 size = (off_t)sizeof(h) +
			    (off_t)THR_SLOTS * (off_t)sizeof(struct thr_slot);
	struct stat	 st;

	if (fstat(t->fd, &st) == -1)
		return -1;
	if (st.st_size == size &&
	    pread(t->fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
	    memcmp(h.magic, THR_MAGIC, sizeof(h.magic)) == 0 &&
	    h.slots == THR_SLOTS && h.slot_size == sizeof(struct thr_slot)) {
		memcpy(t->key, h.key, sizeof(t->key));
		return 0;
	}
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, THR_MAGIC, sizeof(h.magic));
	h.slots = THR_SLOTS;
	h.slot_size = sizeof(struct thr_slot);
	if (getrandom(h.key, sizeof(h.key), 0) != (ssize_t)sizeof(h.key))
		return -1;
	if (ftruncate(t->fd, 0) == -1 || ftruncate(t->fd, size) == -1 ||
	    pwrite(t->fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		return -1;
	memcpy(t->key, h.key, sizeof(t->key));
	return 0;
}

struct auth_throttle *
auth_throttle_open(const char *path, const struct auth_throttle_conf *conf,
    char *err, size_t errsize)
{
	struct auth_throttle *t;
	size_t		 i;

	t = xcalloc(1, sizeof(*t));
	t->conf = *conf;
	/* The trusted networks are ours: the config may go at a reload. */
	t->conf.trusted = NULL;
	if (conf->ntrusted > 0) {
		t->trusted = xreallocarray(NULL, conf->ntrusted,
		    sizeof(*t->trusted));
		for (i = 0; i < conf->ntrusted; i++)
			t->trusted[i] = xstrdup(conf->trusted[i]);
		t->conf.trusted = t->trusted;
	}
	(void)pthread_mutex_init(&t->mu, NULL);
	t->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (t->fd == -1 || thr_lock(t, F_WRLCK) == -1) {
		(void)str_printf(err, errsize, "%s: %s", path, strerror(errno));
		auth_throttle_close(&t);
		return NULL;
	}
	if (thr_format(t) == -1) {
		(void)str_printf(err, errsize, "%s: %s", path, strerror(errno));
		(void)thr_lock(t, F_UNLCK);
		auth_throttle_close(&t);
		return NULL;
	}
	(void)thr_lock(t, F_UNLCK);
	return t;
}

void
auth_throttle_close(struct auth_throttle **tp)
{
	struct auth_throttle *t = *tp;
	size_t		 i;

	if (t == NULL)
		return;
	for (i = 0; t->trusted != NULL && i < t->conf.ntrusted; i++)
		free(t->trusted[i]);
	free(t->trusted);
	if (t->fd != -1)
		(void)close(t->fd);
	(void)pthread_mutex_destroy(&t->mu);
	mem_wipe(t->key, sizeof(t->key));
	free(t);
	*tp = NULL;
}

static off_t
thr_off(uint32_t i)
{
	return (off_t)sizeof(struct thr_header) +
	    (off_t)i * (off_t)sizeof(struct thr_slot);
}

static uint64_t
thr_tag(const struct auth_throttle *t, const char *prefix, const char *ip,
    const char *account)
{
	char		 key[THR_KEY_MAX];
	uint64_t	 h;
	int		 n;

	n = snprintf(key, sizeof(key), "%s%s%s%s", prefix, ip,
	    account != NULL ? "\n" : "", account != NULL ? account : "");
	if (n < 0 || (size_t)n >= sizeof(key))
		n = (int)sizeof(key) - 1;	/* callers bound both parts */
	h = siphash(t->key, (const unsigned char *)key, (size_t)n);
	return h != 0 ? h : 1;
}

/* A record with no attempt for penalty_time is forgotten (the clock may
 * step back: a future answer time is not yet quiet). */
static bool
thr_is_quiet(const struct auth_throttle *t, const struct thr_slot *s,
    uint64_t now)
{
	return s->tag == 0 || (now > s->last &&
	    now - s->last >= t->conf.penalty_time);
}

/*
 * Under the lock: find tag's record, or the slot a new one takes (see the
 * top), never slot avoid (another record of this attempt).  r->idx -1
 * with r->s zeroed when there is none.  0, or -1 on I/O error.
 */
static int
thr_find(struct auth_throttle *t, uint64_t tag, bool is_protected,
    int avoid, uint64_t now, struct thr_rec *r)
{
	struct thr_slot	 b[THR_BUCKET];
	uint32_t	 start, i;
	int		 take = -1, weak = -1;

	start = (uint32_t)(tag % (THR_SLOTS / THR_BUCKET)) * THR_BUCKET;
	if (pread(t->fd, b, sizeof(b), thr_off(start)) != (ssize_t)sizeof(b))
		return -1;
	memset(r, 0, sizeof(*r));
	r->tag = tag;
	r->idx = -1;
	for (i = 0; i < THR_BUCKET; i++) {
		if (b[i].tag == tag) {
			r->idx = (int)(start + i);
			if (!thr_is_quiet(t, &b[i], now))
				r->s = b[i];
			r->s.tag = tag;
			/* No answer is planned further ahead than max_delay:
			 * the clock stepped back.  Keep the spacing. */
			if (r->s.last > now + t->conf.max_delay) {
				r->s.next -= r->s.next > r->s.last ?
				    r->s.last - now : r->s.next - now;
				r->s.last = now;
			}
			return 0;
		}
		if ((int)(start + i) == avoid)
			continue;
		if (thr_is_quiet(t, &b[i], now)) {
			if (take == -1)
				take = (int)i;
		} else if ((b[i].flags & THR_F_PROTECTED) == 0 &&
		    (weak == -1 || b[i].failures < b[weak].failures ||
		    (b[i].failures == b[weak].failures &&
		    b[i].last < b[weak].last)))
			weak = (int)i;
	}
	if (take == -1 && is_protected)
		take = weak;
	if (take != -1) {
		r->idx = (int)start + take;
		r->s.tag = tag;
	}
	return 0;
}

static int
thr_write(struct auth_throttle *t, const struct thr_rec *r)
{
	if (r->idx == -1)
		return 0;
	return pwrite(t->fd, &r->s, sizeof(r->s), thr_off((uint32_t)r->idx)) ==
	    (ssize_t)sizeof(r->s) ? 0 : -1;
}

uint64_t
auth_throttle_delay(const struct auth_throttle_conf *c, uint32_t failures)
{
	uint64_t	 d = c->failure_delay;

	if (failures == 0)
		return 0;
	while (--failures > 0 && d < c->max_delay && d <= UINT64_MAX / 2)
		d *= 2;
	return d < c->max_delay ? d : c->max_delay;
}

static bool
thr_is_trusted(const struct auth_throttle *t, const char *ip)
{
	struct net_addr	 a;

	if (t->conf.ntrusted == 0 || ip == NULL || net_addr_parse(ip, &a) == -1)
		return false;
	return net_networks_match(&a, t->conf.trusted, t->conf.ntrusted);
}

static void
thr_log_refused(const char *ip, const char *account, uint32_t pf,
    uint32_t af)
{
	char	 sip[64], sacc[AUTH_ID_MAX + 1];

	(void)str_sanitize(sip, sizeof(sip), ip, strlen(ip));
	(void)str_sanitize(sacc, sizeof(sacc), account, strlen(account));
	log_warn(NULL, "auth throttled user=%s address=%s pair_failures=%u "
	    "address_failures=%u", sacc, sip, pf, af);
}

/* The address's count leaks one failure every penalty_time /
 * address_max_failures, so only failures faster than
 * address_max_failures per penalty_time (a spray across accounts) reach
 * the limit; typos spread over a lesson from one classroom address never
 * add up, however busy the address stays. */
static void
thr_leak(const struct auth_throttle_conf *c, struct thr_rec *a, uint64_t now)
{
	uint64_t	 step, n;

	if (c->address_max_failures == 0 || a->s.failures == 0 ||
	    now <= a->s.last)
		return;
	step = c->penalty_time / c->address_max_failures;
	if (step == 0)
		step = 1;
	if ((n = (now - a->s.last) / step) == 0)
		return;
	a->s.failures = n >= a->s.failures ? 0 :
	    a->s.failures - (uint32_t)n;
	a->s.last += n * step;
	if (a->s.failures < c->address_max_failures)
		a->s.next = 0;
}

int
auth_throttle_reserve(struct auth_throttle *t, const char *ip,
    const char *account, bool is_known, struct auth_throttle_ticket *tk)
{
	const struct auth_throttle_conf *c = &t->conf;
	struct thr_rec	 p, a;
	uint64_t	 now, at;
	unsigned int	 amax = c->address_max_failures;
	int		 rc = 0;

	memset(tk, 0, sizeof(*tk));
	tk->delay_ms = c->failure_delay;
	if (ip == NULL)
		ip = "";
	if (account == NULL)
		account = "";
	if (thr_is_trusted(t, ip)) {
		tk->is_exempt = true;
		tk->delay_ms = 0;
		return AUTH_THROTTLE_OK;
	}
	if (strlen(ip) >= NET_ADDRSTRLEN || strlen(account) > AUTH_ID_MAX)
		account = "";	/* no such account: one record for all */
	if (thr_lock(t, F_WRLCK) == -1)
		return -1;
	now = thr_now(t);
	if (thr_find(t, thr_tag(t, "p:", ip, account), is_known, -1, now,
	    &p) == -1 || thr_find(t, thr_tag(t, "a:", ip, NULL), true, p.idx,
	    now, &a) == -1) {
		(void)thr_lock(t, F_UNLCK);
		return -1;
	}
	thr_leak(c, &a, now);
	/* A pair with no failure on record (every attempt counted is still
	 * in flight) lets THR_BURST attempts through at once; past them, or
	 * once one has failed, attempts are spaced as failures. */
	tk->is_burst = p.idx != -1 && p.s.failures == THR_PEND(p.s.flags) &&
	    THR_PEND(p.s.flags) < THR_BURST;
	/* The answer time: after the pair's schedule (not for a burst, which
	 * only sets it), the address's once it sprays, and
	 * max_delay when a record found no slot. */
	at = now;
	if (p.s.next > at && !tk->is_burst)
		at = p.s.next;
	if (amax > 0 && a.s.failures >= amax && a.s.next > at)
		at = a.s.next;
	if ((p.idx == -1 || a.idx == -1) && now + c->max_delay > at)
		at = now + c->max_delay;
	if (at - now > c->max_delay) {
		(void)thr_lock(t, F_UNLCK);
		thr_log_refused(ip, account, p.s.failures, a.s.failures);
		return AUTH_THROTTLE_REFUSE;
	}
	if (p.s.failures < UINT32_MAX)
		p.s.failures++;
	p.s.last = at;
	if (tk->is_burst) {
		/* the burst sets the schedule, it does not queue on it */
		p.s.flags += 1u << THR_PEND_SHIFT;
		if (p.s.next < at + auth_throttle_delay(c, p.s.failures))
			p.s.next = at + auth_throttle_delay(c, p.s.failures);
	} else
		p.s.next = at + auth_throttle_delay(c, p.s.failures);
	p.s.flags = (p.s.flags & THR_PEND_MASK) |
	    (is_known ? THR_F_PROTECTED : 0);
	/* The address's last is the clock of its leak (thr_leak), started
	 * by its first count: later attempts must not restart it, or a busy
	 * address would never leak. */
	if (a.s.failures == 0)
		a.s.last = now;
	if (a.s.failures < UINT32_MAX)
		a.s.failures++;
	a.s.next = amax > 0 && a.s.failures >= amax ? at +
	    auth_throttle_delay(c, a.s.failures - amax + 1) : 0;
	a.s.flags = THR_F_PROTECTED;
	if (thr_write(t, &p) == -1 || thr_write(t, &a) == -1)
		rc = -1;
	(void)thr_lock(t, F_UNLCK);
	if (rc == -1)
		return -1;
	tk->pair = p.idx != -1 ? p.tag : 0;
	tk->address = a.idx != -1 ? a.tag : 0;
	tk->delay_ms = at - now;
	return AUTH_THROTTLE_OK;
}

int
auth_throttle_finish(struct auth_throttle *t,
    const struct auth_throttle_ticket *tk, bool ok)
{
	struct thr_rec	 r;
	uint64_t	 now;
	int		 rc = 0;

	/* A failure was counted when reserved; one let through in a burst
	 * now also sets the pair's schedule. */
	if (tk->is_exempt || (tk->pair == 0 && tk->address == 0) ||
	    (!ok && !tk->is_burst))
		return 0;
	if (thr_lock(t, F_WRLCK) == -1)
		return -1;
	now = thr_now(t);
	if (!ok) {
		if (thr_find(t, tk->pair, false, -1, now, &r) == -1)
			rc = -1;
		else if (r.idx != -1) {
			if (THR_PEND(r.s.flags) > 0)
				r.s.flags -= 1u << THR_PEND_SHIFT;
			if (r.s.failures == 0)
				r.s.failures = 1;	/* cleared meanwhile */
			r.s.last = now;
			if (r.s.next < now + auth_throttle_delay(&t->conf,
			    r.s.failures))
				r.s.next = now + auth_throttle_delay(&t->conf,
				    r.s.failures);
			rc = thr_write(t, &r);
		}
		(void)thr_lock(t, F_UNLCK);
		return rc;
	}
	if (tk->pair != 0) {
		if (thr_find(t, tk->pair, false, -1, now, &r) == -1)
			rc = -1;
		else if (r.s.failures > 0) {
			memset(&r.s, 0, sizeof(r.s));
			rc = thr_write(t, &r);
		}
	}
	if (rc == 0 && tk->address != 0) {
		if (thr_find(t, tk->address, false, -1, now, &r) == -1)
			rc = -1;
		else if (r.s.failures > 0) {
			r.s.failures--;
			rc = thr_write(t, &r);
		}
	}
	(void)thr_lock(t, F_UNLCK);
	return rc;
}
