/* SPDX-License-Identifier: MIT */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "enqueue.h"
#include "mem.h"
#include "spool.h"

static char state[64];

static void
setup(void)
{
	snprintf(state, sizeof(state), "/tmp/enqueue_test.XXXXXX");
	cr_assert_not_null(mkdtemp(state));
}

static void
teardown(void)
{
	char	 cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", state);
}

TestSuite(enqueue, .init = setup, .fini = teardown);

/* Number of entries in STATE/sub, and the first name in *name. */
static int
count(const char *sub, char *name, size_t namesize)
{
	char		 path[128];
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	snprintf(path, sizeof(path), "%s/%s", state, sub);
	d = opendir(path);
	cr_assert_not_null(d, "%s", path);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n++ == 0 && name != NULL)
			snprintf(name, namesize, "%.63s", de->d_name);
	}
	closedir(d);
	return n;
}

static void
env_sample(struct spool_env *env)
{
	spool_env_init(env);
	spool_env_set(&env->sender, "usuario@ejemplo.com");
	spool_env_set(&env->helo, "pc23.ejemplo.com");
	spool_env_set(&env->client_addr, "192.0.2.7");
	env->proto = SPOOL_PROTO_ESMTP;
	cr_assert_eq(spool_env_add_rcpt(env, "destino@example.org", NULL, NULL,
	    0), 0);
}

static struct enqueue *
open_q(void)
{
	struct enqueue	*q;
	struct fail	 f;

	cr_assert_eq(enqueue_open(state, &q, &f), 0, "%s", f.text);
	return q;
}

/* Read queue/ID back and compare its content with want. */
static void
check_queued(const char *id, const char *want, size_t len)
{
	struct spool_env	 env;
	char			 path[128], why[200], *got;
	int			 fd;

	snprintf(path, sizeof(path), "%s/spool/queue/%s", state, id);
	fd = open(path, O_RDONLY);
	cr_assert_neq(fd, -1, "%s", path);
	spool_env_init(&env);
	cr_assert_eq(spool_read(fd, id, SPOOL_READ_VERIFY_CONTENT, &env, why,
	    sizeof(why)), 0, "%s", why);
	cr_assert_str_eq(env.sender, "usuario@ejemplo.com");
	cr_assert_str_eq(env.rcpts[0].addr, "destino@example.org");
	cr_assert_eq(env.content_len, len);
	got = xmalloc(len + 1);
	cr_assert_eq(pread(fd, got, len, (off_t)env.content_off), (ssize_t)len);
	cr_assert_eq(memcmp(got, want, len), 0);
	free(got);
	spool_env_release(&env);
	close(fd);
}

Test(enqueue, creates_layout)
{
	struct enqueue	*q = open_q();
	struct stat	 sb;
	char		 path[128];
	const char	*subs[] = { "spool/tmp", "spool/queue", "spool/hold",
	    "spool/corrupt", "spool/status", "run" };
	size_t		 i;

	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", state, subs[i]);
		cr_assert_eq(stat(path, &sb), 0, "%s", path);
		cr_assert(S_ISDIR(sb.st_mode));
		cr_assert_eq(sb.st_mode & 07777, 0700, "%s", path);
	}
	enqueue_close(&q);
	cr_assert_null(q);
	enqueue_close(&q);
}

Test(enqueue, open_fails_cleanly)
{
	struct enqueue	*q;
	struct fail	 f;
	char		 path[128];
	int		 fd;

	snprintf(path, sizeof(path), "%s/nonexistent/deeper", state);
	cr_assert_eq(enqueue_open(path, &q, &f), -1);
	cr_assert_null(q);
	cr_assert(f.temp);
	snprintf(path, sizeof(path), "%s/spool", state);	/* a file */
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	cr_assert_eq(enqueue_open(state, &q, &f), -1);
	cr_assert_str_eq(f.code, "4.3.0");
}

Test(enqueue, visible_only_after_commit)
{
	struct enqueue		*q = open_q();
	struct enqueue_msg	*m;
	struct spool_env	 env;
	struct fail		 f;
	char			*body, id[SPOOL_ID_LEN + 1], name[64];
	size_t			 len = 200000, i, step;

	body = xmalloc(len);
	for (i = 0; i < len; i++)
		body[i] = (char)("abc\r\n"[i % 5]);
	env_sample(&env);
	cr_assert_eq(enqueue_begin(q, &m, &f), 0);
	snprintf(id, sizeof(id), "%s", enqueue_id(m));
	cr_assert(spool_id_valid(id));
	cr_assert_eq(enqueue_envelope(m, &env, &f), 0);
	/* chunks of every size from 1 byte to past the buffer */
	for (i = 0, step = 1; i < len; i += step, step = step * 3 + 1) {
		if (step > len - i)
			step = len - i;
		cr_assert_eq(enqueue_write(m, body + i, step, &f), 0);
	}
	cr_assert_eq(enqueue_size(m), len);
	cr_assert_eq(count("spool/queue", NULL, 0), 0);
	cr_assert_eq(count("spool/tmp", name, sizeof(name)), 1);
	cr_assert_str_eq(name, id);
	cr_assert_eq(enqueue_commit(&m, &f), 0, "%s", f.text);
	cr_assert_null(m);
	cr_assert_eq(count("spool/tmp", NULL, 0), 0);
	cr_assert_eq(count("spool/queue", name, sizeof(name)), 1);
	cr_assert_str_eq(name, id);
	check_queued(id, body, len);
	spool_env_release(&env);
	free(body);
	enqueue_close(&q);
}

Test(enqueue, small_message_one_write)
{
	struct enqueue		*q = open_q();
	struct enqueue_msg	*m;
	struct spool_env	 env;
	struct fail		 f;
	char			 id[SPOOL_ID_LEN + 1];
	static const char	 msg[] = "Subject: hi\r\n\r\nhello\r\n";

	env_sample(&env);
	cr_assert_eq(enqueue_begin(q, &m, &f), 0);
	snprintf(id, sizeof(id), "%s", enqueue_id(m));
	cr_assert_eq(enqueue_envelope(m, &env, &f), 0);
	cr_assert_eq(enqueue_write(m, msg, sizeof(msg) - 1, &f), 0);
	/* nothing on disk before commit */
	cr_assert_eq(count("spool/tmp", NULL, 0), 0);
	cr_assert_eq(enqueue_commit(&m, NULL), 0);
	check_queued(id, msg, sizeof(msg) - 1);
	spool_env_release(&env);
	enqueue_close(&q);
}

Test(enqueue, rollback_leaves_nothing)
{
	struct enqueue		*q = open_q();
	struct enqueue_msg	*m;
	struct spool_env	 env;
	struct fail		 f;
	char			 big[70000];

	memset(big, 'x', sizeof(big));
	env_sample(&env);
	cr_assert_eq(enqueue_begin(q, &m, &f), 0);
	cr_assert_eq(enqueue_envelope(m, &env, &f), 0);
	cr_assert_eq(enqueue_write(m, big, sizeof(big), &f), 0);
	cr_assert_eq(count("spool/tmp", NULL, 0), 1);
	enqueue_rollback(&m);
	cr_assert_null(m);
	enqueue_rollback(&m);
	cr_assert_eq(count("spool/tmp", NULL, 0), 0);
	cr_assert_eq(count("spool/queue", NULL, 0), 0);
	/* and before any byte */
	cr_assert_eq(enqueue_begin(q, &m, &f), 0);
	enqueue_rollback(&m);
	spool_env_release(&env);
	enqueue_close(&q);
}

static int
listen_notify(void)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/run/queued.sock",
	    state);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	cr_assert_neq(fd, -1);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

Test(enqueue, batch_of_50_and_notify)
{
	struct enqueue		*q = open_q();
	struct enqueue_msg	*m[50];
	struct spool_env	 env;
	struct fail		 f, fails[50];
	char			 ids[50][SPOOL_ID_LEN + 1], buf[8192], body[64];
	int			 rc[50], sfd;
	size_t			 i, seen = 0, len;
	ssize_t			 n;

	sfd = listen_notify();
	enqueue_set_sync_threads(q, 4);
	env_sample(&env);
	for (i = 0; i < 50; i++) {
		cr_assert_eq(enqueue_begin(q, &m[i], &f), 0);
		snprintf(ids[i], sizeof(ids[i]), "%s", enqueue_id(m[i]));
		cr_assert_eq(enqueue_envelope(m[i], &env, &f), 0);
		len = (size_t)snprintf(body, sizeof(body), "Subject: %zu\r\n"
		    "\r\nbody %zu\r\n", i, i);
		cr_assert_eq(enqueue_write(m[i], body, len, &f), 0);
	}
	cr_assert_eq(enqueue_commit_batch(m, 50, rc, fails), 0);
	for (i = 0; i < 50; i++) {
		cr_assert_eq(rc[i], 0);
		cr_assert_null(m[i]);
		len = (size_t)snprintf(body, sizeof(body), "Subject: %zu\r\n"
		    "\r\nbody %zu\r\n", i, i);
		check_queued(ids[i], body, len);
	}
	cr_assert_eq(count("spool/queue", NULL, 0), 50);
	cr_assert_eq(count("spool/tmp", NULL, 0), 0);
	/* every id arrives, one per line */
	while ((n = recv(sfd, buf, sizeof(buf) - 1, 0)) > 0) {
		buf[n] = '\0';
		cr_assert_eq((size_t)n % (SPOOL_ID_LEN + 1), 0);
		for (i = 0; i < (size_t)n; i += SPOOL_ID_LEN + 1) {
			cr_assert_eq(buf[i + SPOOL_ID_LEN], '\n');
			cr_assert_eq(memcmp(buf + i, ids[seen], SPOOL_ID_LEN),
			    0);
			seen++;
		}
	}
	cr_assert_eq(seen, 50);
	close(sfd);
	spool_env_release(&env);
	enqueue_close(&q);
}

Test(enqueue, batch_with_one_bad_message)
{
	struct enqueue		*q = open_q();
	struct enqueue_msg	*m[3];
	struct spool_env	 env;
	struct fail		 f, fails[3];
	int			 rc[3];
	size_t			 i;

	env_sample(&env);
	for (i = 0; i < 3; i++) {
		cr_assert_eq(enqueue_begin(q, &m[i], &f), 0);
		if (i != 1)
			cr_assert_eq(enqueue_envelope(m[i], &env, &f), 0);
	}
	/* no recipient: the envelope is refused, the handle failed */
	spool_env_release(&env);
	spool_env_init(&env);
	cr_assert_eq(enqueue_envelope(m[1], &env, &f), -1);
	cr_assert_str_eq(f.code, "5.5.3");
	cr_assert_eq(enqueue_write(m[1], "x", 1, &f), -1);
	cr_assert_eq(enqueue_commit_batch(m, 3, rc, fails), -1);
	cr_assert_eq(rc[0], 0);
	cr_assert_eq(rc[1], -1);
	cr_assert_str_eq(fails[1].code, "5.5.3");
	cr_assert_eq(rc[2], 0);
	cr_assert_eq(count("spool/queue", NULL, 0), 2);
	cr_assert_eq(count("spool/tmp", NULL, 0), 0);
	spool_env_release(&env);
	enqueue_close(&q);
}

Test(enqueue, notify_without_listener_is_fine)
{
	struct enqueue		*q = open_q();
	struct enqueue_msg	*m;
	struct spool_env	 env;
	struct fail		 f;

	env_sample(&env);
	cr_assert_eq(enqueue_begin(q, &m, &f), 0);
	cr_assert_eq(enqueue_envelope(m, &env, &f), 0);
	cr_assert_eq(enqueue_commit(&m, &f), 0);
	cr_assert_eq(count("spool/queue", NULL, 0), 1);
	spool_env_release(&env);
	enqueue_close(&q);
}

static void
limit_fsize(rlim_t n)
{
	struct rlimit	 rl;

	signal(SIGXFSZ, SIG_IGN);
	rl.rlim_cur = rl.rlim_max = n;
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

Test(enqueue, disk_full_while_writing)
{
	struct enqueue		*q = open_q();
	struct enqueue_msg	*m;
	struct spool_env	 env;
	struct fail		 f;
	char			 chunk[10000];
	int			 i, rc = 0;

	memset(chunk, 'y', sizeof(chunk));
	env_sample(&env);
	limit_fsize(100000);
	cr_assert_eq(enqueue_begin(q, &m, &f), 0);
	cr_assert_eq(enqueue_envelope(m, &env, &f), 0);
	for (i = 0; i < 30 && rc == 0; i++)
		rc = enqueue_write(m, chunk, sizeof(chunk), &f);
	cr_assert_eq(rc, -1);
	cr_assert(f.temp);
	cr_assert_str_eq(f.code, "4.3.1");
	cr_assert_str_eq(f.text, "Insufficient system storage");
	/* the temp file is gone at once, the handle stays a sink */
	cr_assert_eq(count("spool/tmp", NULL, 0), 0);
	memset(&f, 0, sizeof(f));
	cr_assert_eq(enqueue_write(m, chunk, 10, &f), -1);
	cr_assert_str_eq(f.code, "4.3.1");
	memset(&f, 0, sizeof(f));
	cr_assert_eq(enqueue_commit(&m, &f), -1);
	cr_assert_str_eq(f.code, "4.3.1");
	cr_assert_null(m);
	cr_assert_eq(count("spool/queue", NULL, 0), 0);
	cr_assert_eq(count("spool/tmp", NULL, 0), 0);
	spool_env_release(&env);
	enqueue_close(&q);
}

Test(enqueue, disk_full_at_commit)
{
	struct enqueue		*q = open_q();
	struct enqueue_msg	*m[2];
	struct spool_env	 env;
	struct fail		 f, fails[2];
	int			 rc[2];

	env_sample(&env);
	limit_fsize(100);
	cr_assert_eq(enqueue_begin(q, &m[0], &f), 0);
	cr_assert_eq(enqueue_envelope(m[0], &env, &f), 0);
	cr_assert_eq(enqueue_write(m[0], "Subject: x\r\n\r\nhello\r\n", 21,
	    &f), 0);
	cr_assert_eq(enqueue_begin(q, &m[1], &f), 0);
	cr_assert_eq(enqueue_envelope(m[1], &env, &f), 0);
	cr_assert_eq(enqueue_commit_batch(m, 2, rc, fails), -1);
	cr_assert_eq(rc[0], -1);
	cr_assert_eq(rc[1], -1);
	cr_assert_str_eq(fails[0].code, "4.3.1");
	cr_assert_eq(count("spool/queue", NULL, 0), 0);
	cr_assert_eq(count("spool/tmp", NULL, 0), 0);
	spool_env_release(&env);
	enqueue_close(&q);
}

Test(enqueue, too_big_for_the_format)
{
	struct enqueue		*q = open_q();
	struct enqueue_msg	*m;
	struct spool_env	 env;
	struct fail		 f;
	char			*huge = (char *)"";

	env_sample(&env);
	cr_assert_eq(enqueue_begin(q, &m, &f), 0);
	cr_assert_eq(enqueue_envelope(m, &env, &f), 0);
	/* the length check comes before any byte is touched */
	cr_assert_eq(enqueue_write(m, huge, (size_t)SPOOL_MAX_CONTENT + 1,
	    &f), -1);
	cr_assert_not(f.temp);
	cr_assert_str_eq(f.code, "5.3.4");
	enqueue_rollback(&m);
	cr_assert_eq(count("spool/tmp", NULL, 0), 0);
	spool_env_release(&env);
	enqueue_close(&q);
}

Test(enqueue, clean_tmp_removes_stale_only)
{
	struct enqueue	*q = open_q();
	struct timespec	 ts[2];
	char		 path[128], id[SPOOL_ID_LEN + 1];
	int		 fd, dfd, i;

	snprintf(path, sizeof(path), "%s/spool/tmp", state);
	dfd = open(path, O_RDONLY | O_DIRECTORY);
	for (i = 0; i < 2; i++) {
		spool_id_new(id, NULL, NULL);
		fd = openat(dfd, id, O_CREAT | O_WRONLY, 0600);
		cr_assert_neq(fd, -1);
		if (i == 0) {
			ts[0].tv_sec = ts[1].tv_sec = time(NULL) - 7200;
			ts[0].tv_nsec = ts[1].tv_nsec = 0;
			cr_assert_eq(futimens(fd, ts), 0);
		}
		close(fd);
	}
	fd = openat(dfd, "not-an-id", O_CREAT | O_WRONLY, 0600);
	close(fd);
	cr_assert_eq(enqueue_clean_tmp(q, 3600), 1);
	cr_assert_eq(count("spool/tmp", NULL, 0), 2);
	close(dfd);
	enqueue_close(&q);
}

/* Enqueue messages until killed (child side of the crash tests). */
static void __attribute__((noreturn))
enqueue_forever(int notify_fd, unsigned int batch)
{
	struct enqueue		*q;
	struct enqueue_msg	*m[8];
	struct spool_env	 env;
	struct fail		 f, fails[8];
	char			 body[3000];
	int			 rc[8];
	unsigned int		 i;

	memset(body, 'z', sizeof(body));
	if (enqueue_open(state, &q, &f) == -1)
		_exit(1);
	env_sample(&env);
	for (;;) {
		for (i = 0; i < batch; i++)
			if (enqueue_begin(q, &m[i], &f) == -1 ||
			    enqueue_envelope(m[i], &env, &f) == -1 ||
			    enqueue_write(m[i], body, sizeof(body), &f) == -1)
				_exit(1);
		if (enqueue_commit_batch(m, batch, rc, fails) == -1)
			_exit(1);
		if (notify_fd != -1 && write(notify_fd, "x", 1) != 1)
			_exit(1);
	}
}

/* Every file in queue/ must be complete and valid. */
static int
check_all_valid(void)
{
	struct spool_env	 env;
	struct dirent		*de;
	char			 path[128], why[200];
	DIR			*d;
	int			 fd, n = 0;

	snprintf(path, sizeof(path), "%s/spool/queue", state);
	d = opendir(path);
	cr_assert_not_null(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		cr_assert(spool_id_valid(de->d_name), "%s", de->d_name);
		snprintf(path, sizeof(path), "%s/spool/queue/%.20s", state,
		    de->d_name);
		fd = open(path, O_RDONLY);
		cr_assert_neq(fd, -1);
		spool_env_init(&env);
		cr_assert_eq(spool_read(fd, de->d_name,
		    SPOOL_READ_VERIFY_CONTENT, &env, why, sizeof(why)), 0,
		    "%s: %s", de->d_name, why);
		cr_assert_eq(env.content_len, 3000);
		spool_env_release(&env);
		close(fd);
		n++;
	}
	closedir(d);
	return n;
}

Test(enqueue, kill_9_leaves_only_complete_messages)
{
	struct enqueue	*q;
	pid_t		 pid;
	int		 p[2], status, round, commits, n;
	char		 c;

	for (round = 0; round < 3; round++) {
		cr_assert_eq(pipe(p), 0);
		pid = fork();
		cr_assert_neq(pid, -1);
		if (pid == 0) {
			close(p[0]);
			enqueue_forever(p[1], round == 1 ? 4 : 1);
		}
		close(p[1]);
		/* let it commit a few, then kill it mid-flight */
		for (commits = 0; commits < 5 + round * 3; commits++)
			cr_assert_eq(read(p[0], &c, 1), 1);
		usleep(300 * (unsigned int)round);
		kill(pid, SIGKILL);
		cr_assert_eq(waitpid(pid, &status, 0), pid);
		cr_assert(WIFSIGNALED(status));
		close(p[0]);
		n = check_all_valid();
		cr_assert_geq(n, commits);	/* every acknowledged one */
	}
	/* the debris a kill leaves in tmp/ is removed by the runner */
	cr_assert_eq(enqueue_open(state, &q, NULL), 0);
	(void)enqueue_clean_tmp(q, 0);
	cr_assert_eq(count("spool/tmp", NULL, 0), 0);
	enqueue_close(&q);
}

Test(enqueue, two_processes_at_once)
{
	pid_t	 pids[2];
	int	 i, status;

	for (i = 0; i < 2; i++) {
		pids[i] = fork();
		cr_assert_neq(pids[i], -1);
		if (pids[i] == 0) {
			struct enqueue		*q;
			struct enqueue_msg	*m;
			struct spool_env	 env;
			struct fail		 f;
			char			 body[3000];
			int			 k;

			memset(body, 'z', sizeof(body));
			if (enqueue_open(state, &q, &f) == -1)
				_exit(1);
			env_sample(&env);
			for (k = 0; k < 40; k++)
				if (enqueue_begin(q, &m, &f) == -1 ||
				    enqueue_envelope(m, &env, &f) == -1 ||
				    enqueue_write(m, body, sizeof(body),
				    &f) == -1 || enqueue_commit(&m, &f) == -1)
					_exit(1);
			_exit(0);
		}
	}
	for (i = 0; i < 2; i++) {
		cr_assert_eq(waitpid(pids[i], &status, 0), pids[i]);
		cr_assert_eq(status, 0);
	}
	cr_assert_eq(check_all_valid(), 80);
}

Test(enqueue, envelope_larger_than_the_buffer)
{
	struct enqueue		*q = open_q();
	struct enqueue_msg	*m;
	struct spool_env	 env;
	struct fail		 f;
	char			 id[SPOOL_ID_LEN + 1], addr[200], path[128];
	char			 why[200];
	static const char	 msg[] = "Subject: many\r\n\r\nhi\r\n";
	int			 i, fd;

	env_sample(&env);
	for (i = 0; i < 1000; i++) {
		snprintf(addr, sizeof(addr), "%0120d@example.org", i);
		cr_assert_eq(spool_env_add_rcpt(&env, addr, NULL, NULL, 0), 0);
	}
	cr_assert_eq(enqueue_begin(q, &m, &f), 0);
	snprintf(id, sizeof(id), "%s", enqueue_id(m));
	cr_assert_eq(enqueue_envelope(m, &env, &f), 0);
	cr_assert_eq(count("spool/tmp", NULL, 0), 1);	/* flushed */
	cr_assert_eq(enqueue_write(m, msg, sizeof(msg) - 1, &f), 0);
	cr_assert_eq(enqueue_commit(&m, &f), 0);
	check_queued(id, msg, sizeof(msg) - 1);
	spool_env_release(&env);
	snprintf(path, sizeof(path), "%s/spool/queue/%s", state, id);
	fd = open(path, O_RDONLY);
	spool_env_init(&env);
	cr_assert_eq(spool_read(fd, id, 0, &env, why, sizeof(why)), 0);
	cr_assert_eq(env.nrcpts, 1001);
	cr_assert_gt(env.content_off, 120000);
	spool_env_release(&env);
	close(fd);
	enqueue_close(&q);
}
