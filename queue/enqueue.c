/* SPDX-License-Identifier: MIT */
/*
 * enqueue.c - write a message into the spool durably and notify queued
 *
 * Order of operations at commit (the durability argument is in
 * docs/spool.md):
 *	1. write the rest of the buffer and the end record, patch the content
 *	   length (in the buffer when nothing was flushed yet, else pwrite)
 *	2. fdatasync the temp file (a new file: this covers its size)
 *	3. renameat2(tmp/ID -> queue/ID, RENAME_NOREPLACE): never overwrites
 *	4. fsync queue/ (once per batch)
 *	5. datagram to STATE/run/queued.sock with the ids, one per line
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "enqueue.h"
#include "fileio.h"
#include "log.h"
#include "mem.h"
#include "str.h"
#include "workpool.h"

#define ENQ_BUFSIZE	65536
#define ENQ_MAX_THREADS	32
#define NOTIFY_MAX	4096	/* bytes per datagram */

/* Threads that help enqueue_commit_batch() fsync (a workpool without
 * loop: the committing thread waits for its helpers itself), started at
 * the first batch that wants them and kept until enqueue_close() (a
 * thread per batch cost a clone, its stack mmap and a join every
 * commit). */
struct sync_pool {
	struct workpool	*wp;		/* NULL: none (yet, or could not) */
	bool		 started;
};

struct enqueue {
	int		 tmp_fd;	/* STATE/spool/tmp */
	int		 queue_fd;	/* STATE/spool/queue */
	int		 notify_fd;	/* unbound datagram socket, or -1 */
	struct sockaddr_un notify_addr;
	unsigned int	 sync_threads;
	unsigned int	 open_msgs;
	struct sync_pool pool;
};

struct enqueue_msg {
	struct enqueue	*q;
	char		 id[SPOOL_ID_LEN + 1];
	uint64_t	 arrival_sec;
	uint32_t	 arrival_usec;
	int		 fd;		/* temp file, -1 until first flush */
	bool		 have_env;
	bool		 failed;
	struct fail	 fail;
	struct spool_writer w;
	struct str	 buf;		/* not yet written, at file offset
					   flushed */
	uint64_t	 flushed;
};

/* ---- failures ---- */

static bool
is_storage_errno(int e)
{
	return e == ENOSPC || e == EDQUOT || e == EFBIG || e == EROFS ||
	    e == EACCES || e == EPERM;
}

/* Record an I/O failure of m (errno e), drop its temp file. */
static int
msg_fail(struct enqueue_msg *m, const char *what, int e, struct fail *f)
{
	log_warn(m->id, "enqueue failed op=%s error=\"%s\"", what,
	    strerror(e));
	if (is_storage_errno(e))
		fail_set(&m->fail, true, "4.3.1",
		    "Insufficient system storage");
	else
		fail_set(&m->fail, true, "4.3.0",
		    "Local error in processing");
	m->failed = true;
	if (m->fd != -1) {
		close(m->fd);
		m->fd = -1;
		(void)unlinkat(m->q->tmp_fd, m->id, 0);
	}
	str_release(&m->buf);
	if (f != NULL)
		*f = m->fail;
	return -1;
}

static int
msg_failed(const struct enqueue_msg *m, struct fail *f)
{
	if (f != NULL)
		*f = m->fail;
	return -1;
}

/* ---- opening ---- */

static int
mkdir_0700(const char *path)
{
	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

static int
open_dir(const char *state, const char *sub, int *fd_r, struct fail *f)
{
	char	 path[4096];

	if (!str_printf(path, sizeof(path), "%s/%s", state, sub))
		return fail_set(f, true, "4.3.0", "spool path too long");
	if (mkdir_0700(path) == -1 ||
	    (*fd_r = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		log_warn(NULL, "spool dir=%s error=\"%s\"", path,
		    strerror(errno));
		return fail_set(f, true, is_storage_errno(errno) ?
		    "4.3.1" : "4.3.0", is_storage_errno(errno) ?
		    "Insufficient system storage" : "Spool not available");
	}
	return 0;
}

int
enqueue_open(const char *state_dir, struct enqueue **q_r, struct fail *f)
{
	static const char *const extra[] = { SPOOL_DIR_HOLD,
	    SPOOL_DIR_CORRUPT, SPOOL_DIR_STATUS, "run" };
	struct enqueue	*q;
	size_t		 i;
	int		 fd, spool_fd = -1;

	*q_r = NULL;
	q = xcalloc(1, sizeof(*q));
	q->tmp_fd = q->queue_fd = q->notify_fd = -1;
	q->sync_threads = 8;
	if (open_dir(state_dir, SPOOL_DIR, &spool_fd, f) == -1 ||
	    open_dir(state_dir, SPOOL_DIR_TMP, &q->tmp_fd, f) == -1 ||
	    open_dir(state_dir, SPOOL_DIR_QUEUE, &q->queue_fd, f) == -1)
		goto fail;
	for (i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
		if (open_dir(state_dir, extra[i], &fd, f) == -1)
			goto fail;
		close(fd);
	}
	/* the directories themselves must survive a crash */
	if (fsync(spool_fd) == -1) {
		fail_set(f, true, "4.3.0", "Spool not available");
		goto fail;
	}
	close(spool_fd);
	spool_fd = -1;

	q->notify_addr.sun_family = AF_UNIX;
	if (str_printf(q->notify_addr.sun_path, sizeof(q->notify_addr.sun_path),
	    "%s/%s", state_dir, SPOOL_NOTIFY_SOCKET))
		q->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
	if (q->notify_fd == -1)
		log_warn(NULL, "enqueue: no queue runner notification "
		    "(path too long or no socket); it will find mail by scan");
	*q_r = q;
	return 0;
fail:
	if (spool_fd != -1)
		close(spool_fd);
	enqueue_close(&q);
	return -1;
}

void
enqueue_close(struct enqueue **qp)
{
	struct enqueue	*q = *qp;

	if (q == NULL)
		return;
	BUZ_ASSERT(__atomic_load_n(&q->open_msgs, __ATOMIC_ACQUIRE) == 0);
	workpool_free(&q->pool.wp);
	if (q->tmp_fd != -1)
		close(q->tmp_fd);
	if (q->queue_fd != -1)
		close(q->queue_fd);
	if (q->notify_fd != -1)
		close(q->notify_fd);
	free(q);
	*qp = NULL;
}

void
enqueue_set_sync_threads(struct enqueue *q, unsigned int n)
{
	q->sync_threads = n < 1 ? 1 : n > ENQ_MAX_THREADS ? ENQ_MAX_THREADS : n;
}

/* ---- writing ---- */

int
enqueue_begin(struct enqueue *q, struct enqueue_msg **m_r, struct fail *f)
{
	struct enqueue_msg	*m;

	(void)f;
	m = xcalloc(1, sizeof(*m));
	m->q = q;
	m->fd = -1;
	spool_id_new(m->id, &m->arrival_sec, &m->arrival_usec);
	str_init(&m->buf, 0);
	__atomic_add_fetch(&q->open_msgs, 1, __ATOMIC_RELAXED);
	*m_r = m;
	return 0;
}

const char *
enqueue_id(const struct enqueue_msg *m)
{
	return m->id;
}

uint64_t
enqueue_size(const struct enqueue_msg *m)
{
	return m->w.content_len;
}

/* Write out the buffer, creating the temp file on first use. */
static int
msg_flush(struct enqueue_msg *m, struct fail *f)
{
	if (m->fd == -1) {
		m->fd = openat(m->q->tmp_fd, m->id, O_WRONLY | O_CREAT |
		    O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (m->fd == -1)
			return msg_fail(m, "create", errno, f);
	}
	if (m->buf.len > 0 && fd_write_all(m->fd, m->buf.data, m->buf.len) == -1)
		return msg_fail(m, "write", errno, f);
	m->flushed += m->buf.len;
	str_clear(&m->buf);
	return 0;
}

int
enqueue_envelope(struct enqueue_msg *m, const struct spool_env *env,
    struct fail *f)
{
	struct spool_env	 e = *env;	/* shallow copy */

	if (m->failed)
		return msg_failed(m, f);
	BUZ_ASSERT(!m->have_env);
	memcpy(e.id, m->id, sizeof(e.id));
	e.arrival_sec = m->arrival_sec;
	e.arrival_usec = m->arrival_usec;
	if (spool_write_head(&m->w, &e, &m->buf, &m->fail) == -1) {
		m->failed = true;
		return msg_failed(m, f);
	}
	m->have_env = true;
	if (m->buf.len >= ENQ_BUFSIZE)
		return msg_flush(m, f);
	return 0;
}

int
enqueue_write(struct enqueue_msg *m, const void *p, size_t len,
    struct fail *f)
{
	if (m->failed)
		return msg_failed(m, f);
	BUZ_ASSERT(m->have_env);
	if (spool_write_content(&m->w, p, len) == -1) {
		fail_set(&m->fail, false, "5.3.4",
		    "Message too big for system");
		m->failed = true;
		if (m->fd != -1) {
			close(m->fd);
			m->fd = -1;
			(void)unlinkat(m->q->tmp_fd, m->id, 0);
		}
		str_release(&m->buf);
		return msg_failed(m, f);
	}
	if (m->buf.len + len > ENQ_BUFSIZE) {
		if (msg_flush(m, f) == -1)
			return -1;
		if (len >= ENQ_BUFSIZE) {	/* big chunk: straight out */
			if (fd_write_all(m->fd, p, len) == -1)
				return msg_fail(m, "write", errno, f);
			m->flushed += len;
			return 0;
		}
	}
	BUZ_ASSERT(str_append(&m->buf, p, len) == 0);
	return 0;
}

/* Steps 1 and 2: everything written and the file synced. */
static int
msg_finish(struct enqueue_msg *m, struct fail *f)
{
	uint8_t		 lenb[4], end[SPOOL_END_SIZE];
	uint64_t	 len_off;

	if (m->failed)
		return msg_failed(m, f);
	BUZ_ASSERT(m->have_env);
	spool_write_end(&m->w, lenb, &len_off, end);
	if (len_off + 4 <= m->flushed) {
		if (pwrite(m->fd, lenb, 4, (off_t)len_off) != 4)
			return msg_fail(m, "write", errno != 0 ? errno : EIO,
			    f);
	} else {			/* still in the buffer: patch there */
		BUZ_ASSERT(len_off >= m->flushed &&
		    len_off + 4 - m->flushed <= m->buf.len);
		memcpy(m->buf.data + (len_off - m->flushed), lenb, 4);
	}
	BUZ_ASSERT(str_append(&m->buf, end, sizeof(end)) == 0);
	if (msg_flush(m, f) == -1)
		return -1;
	str_release(&m->buf);
	return 0;
}

static int
msg_sync(struct enqueue_msg *m, struct fail *f)
{
	if (fdatasync(m->fd) == -1)
		return msg_fail(m, "fsync", errno, f);
	return 0;
}

/* Step 3: visible in queue/.  RENAME_NOREPLACE so that a clashing id can
 * never replace a committed message; link+unlink where unsupported. */
static int
msg_publish(struct enqueue_msg *m, struct fail *f)
{
	struct enqueue	*q = m->q;
	int		 rc;

	rc = renameat2(q->tmp_fd, m->id, q->queue_fd, m->id,
	    RENAME_NOREPLACE);
	if (rc == -1 && (errno == EINVAL || errno == ENOSYS)) {
		rc = linkat(q->tmp_fd, m->id, q->queue_fd, m->id, 0);
		if (rc == 0)
			(void)unlinkat(q->tmp_fd, m->id, 0);
	}
	if (rc == -1)
		return msg_fail(m, "rename", errno, f);
	close(m->fd);
	m->fd = -1;
	return 0;
}

static void
msg_free(struct enqueue_msg **mp)
{
	struct enqueue_msg	*m = *mp;

	if (m->fd != -1) {
		close(m->fd);
		(void)unlinkat(m->q->tmp_fd, m->id, 0);
	}
	str_release(&m->buf);
	/* atomic: smtpd commits on a thread of its own */
	__atomic_sub_fetch(&m->q->open_msgs, 1, __ATOMIC_RELEASE);
	free(m);
	*mp = NULL;
}

void
enqueue_rollback(struct enqueue_msg **mp)
{
	if (*mp != NULL)
		msg_free(mp);
}

/* Step 5: best effort; queued scans the queue when it starts anyway. */
static void
notify(struct enqueue *q, struct enqueue_msg **msgs, size_t n,
    const int *rc)
{
	char	 buf[NOTIFY_MAX];
	size_t	 i, len = 0;

	if (q->notify_fd == -1)
		return;
	for (i = 0; i <= n; i++) {
		if (i < n && rc[i] != 0)
			continue;
		if (len > 0 &&
		    (i == n || len + SPOOL_ID_LEN + 1 > sizeof(buf))) {
			if (sendto(q->notify_fd, buf, len, MSG_DONTWAIT,
			    (struct sockaddr *)&q->notify_addr,
			    sizeof(q->notify_addr)) == -1 && errno != ENOENT &&
			    errno != ECONNREFUSED && errno != EAGAIN)
				log_debug(NULL, "enqueue notify error=\"%s\"",
				    strerror(errno));
			len = 0;
		}
		if (i < n) {
			memcpy(buf + len, msgs[i]->id, SPOOL_ID_LEN);
			buf[len + SPOOL_ID_LEN] = '\n';
			len += SPOOL_ID_LEN + 1;
		}
	}
}

int
enqueue_commit(struct enqueue_msg **mp, struct fail *f)
{
	struct fail	 fl;
	int		 rc;

	(void)enqueue_commit_batch(mp, 1, &rc, &fl);
	if (rc != 0 && f != NULL)
		*f = fl;
	return rc;
}

struct sync_job {
	struct enqueue_msg	**msgs;
	int			 *rc;
	struct fail		 *fails;
	size_t			  n;
	size_t			  next;		/* atomic */
	pthread_mutex_t		  mu;
	pthread_cond_t		  done_cv;
	unsigned int		  busy;		/* helpers not done (under mu) */
};

static void *
sync_worker(void *arg)
{
	struct sync_job	*job = arg;
	size_t		 i;

	while ((i = __atomic_fetch_add(&job->next, 1, __ATOMIC_RELAXED)) <
	    job->n)
		if (job->rc[i] == 0)
			job->rc[i] = msg_sync(job->msgs[i], &job->fails[i]);
	return NULL;
}

/* A helper on the pool: share the work, then say so. */
static void
sync_help(void *arg)
{
	struct sync_job	*job = arg;

	(void)sync_worker(job);
	pthread_mutex_lock(&job->mu);
	if (--job->busy == 0)
		pthread_cond_signal(&job->done_cv);
	pthread_mutex_unlock(&job->mu);
}

static void
sync_all(struct enqueue *q, struct sync_job *job)
{
	struct sync_pool	*p = &q->pool;
	unsigned int		 k, i;

	if (q->sync_threads > 1 && job->n > 1 && !p->started) {
		p->started = true;
		/* Room for two batches' helpers: one batch's may not all
		 * have left the pool when the next batch comes. */
		p->wp = workpool_new(NULL, q->sync_threads - 1,
		    2 * (size_t)(q->sync_threads - 1));
	}
	k = p->wp != NULL ? workpool_threads(p->wp) : 0;
	if (k > job->n - 1)
		k = (unsigned int)(job->n - 1);
	if (k == 0 || pthread_mutex_init(&job->mu, NULL) != 0) {
		(void)sync_worker(job);
		return;
	}
	if (pthread_cond_init(&job->done_cv, NULL) != 0) {
		pthread_mutex_destroy(&job->mu);
		(void)sync_worker(job);
		return;
	}
	job->busy = k;
	for (i = 0; i < k; i++)
		if (workpool_submit(p->wp, sync_help, NULL, job) == -1) {
			pthread_mutex_lock(&job->mu);
			job->busy--;
			pthread_mutex_unlock(&job->mu);
		}
	(void)sync_worker(job);
	pthread_mutex_lock(&job->mu);
	while (job->busy > 0)
		pthread_cond_wait(&job->done_cv, &job->mu);
	pthread_mutex_unlock(&job->mu);
	pthread_cond_destroy(&job->done_cv);
	pthread_mutex_destroy(&job->mu);
}

int
enqueue_commit_batch(struct enqueue_msg **msgs, size_t n, int *rc,
    struct fail *fails)
{
	struct sync_job	 job;
	struct enqueue	*q;
	size_t		 i, ok = 0;
	int		 e;

	if (n == 0)
		return 0;
	q = msgs[0]->q;
	for (i = 0; i < n; i++) {
		BUZ_ASSERT(msgs[i]->q == q);
		fail_clear(&fails[i]);
		rc[i] = msg_finish(msgs[i], &fails[i]);
	}
	/* Start writeback of every file first: the fdatasyncs below then
	 * find their data on its way and share journal commits. */
	if (n > 1)
		for (i = 0; i < n; i++)
			if (rc[i] == 0)
				(void)sync_file_range(msgs[i]->fd, 0, 0,
				    SYNC_FILE_RANGE_WRITE);
	job.msgs = msgs;
	job.rc = rc;
	job.fails = fails;
	job.n = n;
	job.next = 0;
	sync_all(q, &job);
	for (i = 0; i < n; i++)
		if (rc[i] == 0 &&
		    (rc[i] = msg_publish(msgs[i], &fails[i])) == 0)
			ok++;
	if (ok > 0 && fsync(q->queue_fd) == -1) {
		/* Renamed but not durable: we must not say 250.  Take them
		 * back out; a duplicate is possible (they may already be seen
		 * by queued), a loss is not: the client will retry. */
		e = errno;
		for (i = 0; i < n; i++) {
			if (rc[i] != 0)
				continue;
			(void)unlinkat(q->queue_fd, msgs[i]->id, 0);
			rc[i] = msg_fail(msgs[i], "fsync queue dir", e,
			    &fails[i]);
		}
		ok = 0;
	}
	if (ok > 0)
		notify(q, msgs, n, rc);
	for (i = 0; i < n; i++) {
		if (rc[i] == 0)		/* the caller logs the message */
			log_debug(msgs[i]->id, "queued size=%llu",
			    (unsigned long long)msgs[i]->w.content_len);
		msg_free(&msgs[i]);
	}
	return ok == n ? 0 : -1;
}

unsigned int
enqueue_clean_tmp(struct enqueue *q, uint64_t max_age)
{
	struct dirent	*de;
	struct stat	 sb;
	DIR		*d;
	time_t		 now = time(NULL);
	unsigned int	 removed = 0;
	int		 fd;

	if ((fd = dup(q->tmp_fd)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return 0;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (!spool_id_valid(de->d_name))
			continue;
		if (fstatat(q->tmp_fd, de->d_name, &sb,
		    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(sb.st_mode))
			continue;
		if (sb.st_mtime > now || (uint64_t)(now - sb.st_mtime) <
		    max_age)
			continue;
		if (unlinkat(q->tmp_fd, de->d_name, 0) == 0) {
			log_info(de->d_name, "removed stale temp file");
			removed++;
		}
	}
	closedir(d);
	return removed;
}
