/* SPDX-License-Identifier: MIT */
/*
 * auth_throttle.c - failed-login counters shared by every process
 *
 * File format (host byte order; the file is a cache, rebuilt from zero
 * when its header does not match):
 *   header  16 bytes: "BZTHRTL1", uint32 slot count, uint32 slot size
 *   slots   THR_SLOTS x struct thr_slot
 * A counter's key is "u:" + lower-cased user or "i:" + IP, hashed (FNV-1a)
 * to a start slot and probed linearly over THR_PROBE slots; when all are
 * taken, the least recently failed one is reused.  Every check or record
 * holds a write lock on the whole file for a few preads/pwrites: an OFD
 * lock against other processes (and other handles in this one) and a mutex
 * against other threads using this handle, since threads share the open
 * file description and so the OFD lock.  The clock is read under the lock:
 * a time read before waiting could be older than a failure recorded
 * meanwhile.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "log.h"
#include "mem.h"
#include "str.h"

#define THR_MAGIC	"BZTHRTL1"
#define THR_SLOTS	2048
#define THR_PROBE	16
#define THR_KEY		120
#define THR_IP_FACTOR	3	/* an IP may fail this many times more */

struct thr_header {
	char		 magic[8];
	uint32_t	 slots;
	uint32_t	 slot_size;
};

struct thr_slot {
	char		 key[THR_KEY];		/* NUL-terminated; "" free */
	uint32_t	 failures;
	uint32_t	 pad;
	uint64_t	 last_fail;		/* ms since the epoch */
};

struct auth_throttle {
	pthread_mutex_t		 mu;
	int			 fd;
	char			*path;
	struct auth_throttle_conf conf;
};

static uint64_t
thr_now(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

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

/* Milliseconds since a failure at last, never wrapping below zero (the
 * wall clock may step back). */
static uint64_t
thr_since(uint64_t now, uint64_t last)
{
	return now > last ? now - last : 0;
}

/* Under the lock: make sure the file has our header and full size. */
static int
thr_format(struct auth_throttle *t)
{
	struct thr_header h, want;
	off_t		 size = (off_t)sizeof(h) +
			    (off_t)THR_SLOTS * (off_t)sizeof(struct thr_slot);
	struct stat	 st;

	memset(&want, 0, sizeof(want));
	memcpy(want.magic, THR_MAGIC, sizeof(want.magic));
	want.slots = THR_SLOTS;
	want.slot_size = sizeof(struct thr_slot);
	if (fstat(t->fd, &st) == -1)
		return -1;
	if (st.st_size == size &&
	    pread(t->fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
	    memcmp(&h, &want, sizeof(h)) == 0)
		return 0;
	if (ftruncate(t->fd, 0) == -1 || ftruncate(t->fd, size) == -1 ||
	    pwrite(t->fd, &want, sizeof(want), 0) != (ssize_t)sizeof(want))
		return -1;
	return 0;
}

struct auth_throttle *
auth_throttle_open(const char *path, const struct auth_throttle_conf *conf,
    char *err, size_t errsize)
{
	struct auth_throttle *t;

	t = xcalloc(1, sizeof(*t));
	t->conf = *conf;
	(void)pthread_mutex_init(&t->mu, NULL);
	t->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (t->fd == -1) {
		(void)str_printf(err, errsize, "%s: %s", path, strerror(errno));
		(void)pthread_mutex_destroy(&t->mu);
		free(t);
		return NULL;
	}
	t->path = xstrdup(path);
	if (thr_lock(t, F_WRLCK) == -1 || thr_format(t) == -1) {
		(void)str_printf(err, errsize, "%s: %s", path, strerror(errno));
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

	if (t == NULL)
		return;
	if (t->fd != -1)
		(void)close(t->fd);
	(void)pthread_mutex_destroy(&t->mu);
	free(t->path);
	free(t);
	*tp = NULL;
}

static void
thr_key(char *key, const char *prefix, const char *s)
{
	(void)str_printf(key, THR_KEY, "%s%s", prefix, s);
	str_lower(key);
}

static uint32_t
thr_hash(const char *s)
{
	uint32_t	 h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static off_t
thr_off(uint32_t i)
{
	return (off_t)sizeof(struct thr_header) +
	    (off_t)i * (off_t)sizeof(struct thr_slot);
}

/*
 * Under the lock: find key's slot, or a slot to take for it (free,
 * expired or least recent).  Returns the index, slot in *s (zeroed if not
 * key's own), or -1 on I/O error.
 */
static int
thr_find(struct auth_throttle *t, const char *key, uint64_t now,
    struct thr_slot *s)
{
	struct thr_slot	 probe[THR_PROBE];
	uint32_t	 start, i, victim = 0;
	uint64_t	 oldest = UINT64_MAX;

	start = thr_hash(key) % (THR_SLOTS - THR_PROBE);
	if (pread(t->fd, probe, sizeof(probe), thr_off(start)) !=
	    (ssize_t)sizeof(probe))
		return -1;
	for (i = 0; i < THR_PROBE; i++) {
		probe[i].key[THR_KEY - 1] = '\0';
		if (strcmp(probe[i].key, key) == 0) {
			*s = probe[i];
			/* A counter quiet for lockout_time starts over. */
			if (thr_since(now, s->last_fail) >= t->conf.lockout_time)
				s->failures = 0;
			return (int)(start + i);
		}
		if (probe[i].key[0] == '\0' ||
		    thr_since(now, probe[i].last_fail) >=
		    t->conf.lockout_time) {
			oldest = 0;
			victim = i;
		} else if (probe[i].last_fail < oldest) {
			oldest = probe[i].last_fail;
			victim = i;
		}
	}
	memset(s, 0, sizeof(*s));
	(void)str_copy(s->key, key, sizeof(s->key));
	return (int)(start + victim);
}

static int
thr_write(struct auth_throttle *t, int idx, const struct thr_slot *s)
{
	return pwrite(t->fd, s, sizeof(*s), thr_off((uint32_t)idx)) ==
	    (ssize_t)sizeof(*s) ? 0 : -1;
}

static uint64_t
thr_delay(const struct auth_throttle_conf *c, uint32_t failures)
{
	uint64_t	 d = c->failure_delay;

	if (failures == 0)
		return 0;
	while (--failures > 0 && d < c->max_delay && d <= UINT64_MAX / 2)
		d *= 2;
	return d < c->max_delay ? d : c->max_delay;
}

int
auth_throttle_check(struct auth_throttle *t, const char *ip,
    const char *user, uint64_t *delay_ms_r)
{
	struct thr_slot	 us, is;
	char		 key[THR_KEY], sip[64], suser[128];
	uint64_t	 now;
	uint32_t	 f;
	bool		 refuse = false;
	int		 rc = 0;

	memset(&us, 0, sizeof(us));
	memset(&is, 0, sizeof(is));
	*delay_ms_r = t->conf.failure_delay;
	if (thr_lock(t, F_WRLCK) == -1)
		return -1;
	now = thr_now();
	if (user != NULL && *user != '\0') {
		thr_key(key, "u:", user);
		if (thr_find(t, key, now, &us) == -1)
			rc = -1;
	}
	if (rc == 0 && ip != NULL && *ip != '\0') {
		thr_key(key, "i:", ip);
		if (thr_find(t, key, now, &is) == -1)
			rc = -1;
	}
	(void)thr_lock(t, F_UNLCK);
	if (rc == -1)
		return -1;
	if (t->conf.max_failures > 0 &&
	    (us.failures >= t->conf.max_failures ||
	    is.failures >= t->conf.max_failures * THR_IP_FACTOR))
		refuse = true;
	f = us.failures > is.failures ? us.failures : is.failures;
	*delay_ms_r = thr_delay(&t->conf, f);
	if (refuse) {
		(void)str_sanitize(sip, sizeof(sip), ip != NULL ? ip : "",
		    ip != NULL ? strlen(ip) : 0);
		(void)str_sanitize(suser, sizeof(suser), user != NULL ? user :
		    "", user != NULL ? strlen(user) : 0);
		log_warn(NULL, "auth throttled user=%s address=%s "
		    "user_failures=%u address_failures=%u", suser, sip,
		    us.failures, is.failures);
		return AUTH_THROTTLE_REFUSE;
	}
	return AUTH_THROTTLE_OK;
}

/* Count one failure (or clear, for a user's success) on one key. */
static int
thr_update(struct auth_throttle *t, const char *key, bool clear,
    uint64_t now, uint32_t *failures_r)
{
	struct thr_slot	 s;
	int		 idx;

	if ((idx = thr_find(t, key, now, &s)) == -1)
		return -1;
	if (clear) {
		if (strcmp(s.key, key) != 0 || s.failures == 0)
			return 0;
		memset(&s, 0, sizeof(s));
	} else {
		if (s.failures < UINT32_MAX)
			s.failures++;
		s.last_fail = now;
		*failures_r = s.failures;
	}
	return thr_write(t, idx, &s);
}

int
auth_throttle_record(struct auth_throttle *t, const char *ip,
    const char *user, bool ok)
{
	char		 key[THR_KEY], sip[64], suser[128];
	uint64_t	 now;
	uint32_t	 uf = 0, ipf = 0;
	int		 rc = 0;

	if (thr_lock(t, F_WRLCK) == -1)
		return -1;
	now = thr_now();
	if (user != NULL && *user != '\0') {
		thr_key(key, "u:", user);
		rc = thr_update(t, key, ok, now, &uf);
	}
	if (rc == 0 && !ok && ip != NULL && *ip != '\0') {
		thr_key(key, "i:", ip);
		rc = thr_update(t, key, false, now, &ipf);
	}
	(void)thr_lock(t, F_UNLCK);
	if (!ok) {
		(void)str_sanitize(sip, sizeof(sip), ip != NULL ? ip : "",
		    ip != NULL ? strlen(ip) : 0);
		(void)str_sanitize(suser, sizeof(suser), user != NULL ? user :
		    "", user != NULL ? strlen(user) : 0);
		log_info(NULL, "auth failed user=%s address=%s "
		    "user_failures=%u address_failures=%u", suser, sip, uf,
		    ipf);
	}
	return rc;
}
