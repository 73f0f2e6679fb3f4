/* SPDX-License-Identifier: MIT */
/*
 * runner_util.c - fixtures for the queue runner tests
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "accounts.h"
#include "enqueue.h"
#include "mem.h"
#include "runner_util.h"
#include "str.h"

char			 rt_dir[64];
struct queue_conf	 rt_conf;
static struct accounts_conf ac;

void
rt_add_user(const char *addr, bool mbox, uint64_t quota)
{
	struct accounts_user	 u;
	char			 err[256];

	accounts_user_init(&u, addr);
	u.format = mbox ? ACCOUNTS_MBOX : ACCOUNTS_MAILDIR;
	u.quota = quota;
	cr_assert_eq(accounts_user_add(&ac, &u, err, sizeof(err)), 0, "%s",
	    err);
	if (mbox)
		cr_assert_eq(accounts_mailbox_create(&ac, &u, err,
		    sizeof(err)), 0, "%s", err);
}

void
rt_add_alias(const char *src, const char *targets)
{
	char	 err[256];

	cr_assert_eq(accounts_alias_add(&ac, src, targets, err, sizeof(err)),
	    0, "%s", err);
}

void
rt_setup(void)
{
	char	 err[256];

	(void)str_copy(rt_dir, "/tmp/queued_test.XXXXXX", sizeof(rt_dir));
	cr_assert_not_null(mkdtemp(rt_dir));
	memset(&ac, 0, sizeof(ac));
	ac.state_dir = rt_dir;
	ac.recipient_delimiter = "+";
	cr_assert_eq(accounts_domain_add(&ac, "example.test", err,
	    sizeof(err)), 0, "%s", err);
	rt_add_user("alice@example.test", false, 0);
	rt_add_user("bob@example.test", false, 0);
	rt_add_user("carol@example.test", false, 0);
	rt_add_user("dave@example.test", true, 0);
	rt_add_user("tiny@example.test", false, 10);
	rt_add_alias("team@example.test", "alice@example.test,"
	    "bob@example.test,carol@example.test");
	rt_add_alias("ghost@example.test", "nobody@example.test");
	rt_add_alias("postmaster@example.test", "alice@example.test");

	memset(&rt_conf, 0, sizeof(rt_conf));
	rt_conf.state_dir = xstrdup(rt_dir);
	rt_conf.hostname = xstrdup("mx.example.test");
	rt_conf.workers = 4;
	rt_conf.retry_min = 300;
	rt_conf.retry_max = 3600;
	rt_conf.delay_warning_time = 4 * 3600;
	rt_conf.max_lifetime = 5 * 86400;
	rt_conf.double_bounce = xstrdup("postmaster");
	rt_conf.scan_interval_ms = 60000;
	rt_conf.bounce_full_max = 1024 * 1024;
	rt_conf.map_type = xstrdup("hash");
	rt_conf.recipient_delimiter = xstrdup("+");
}

void
rt_teardown(void)
{
	char	 cmd[128];

	queue_conf_release(&rt_conf);
	(void)str_printf(cmd, sizeof(cmd), "rm -rf '%s'", rt_dir);
	(void)system(cmd);
}

static struct enqueue *
rt_enqueue_open(void)
{
	struct enqueue	*q;
	struct fail	 f;

	cr_assert_eq(enqueue_open(rt_dir, &q, &f), 0, "%s", f.text);
	return q;
}

static struct enqueue_msg *
rt_msg(struct enqueue *q, const char *sender, const char *const *rcpts,
    unsigned int notify, const char *content)
{
	struct enqueue_msg	*m;
	struct spool_env	 env;
	struct fail		 f;

	spool_env_init(&env);
	spool_env_set(&env.sender, sender);
	env.proto = SPOOL_PROTO_ESMTP;
	for (; *rcpts != NULL; rcpts++)
		cr_assert_eq(spool_env_add_rcpt(&env, *rcpts, "", "",
		    notify), 0);
	cr_assert_eq(enqueue_begin(q, &m, &f), 0, "%s", f.text);
	cr_assert_eq(enqueue_envelope(m, &env, &f), 0, "%s", f.text);
	cr_assert_eq(enqueue_write(m, content, strlen(content), &f), 0);
	spool_env_release(&env);
	return m;
}

void
rt_enqueue(const char *sender, const char *const *rcpts, unsigned int notify,
    const char *content, char *id_r)
{
	struct enqueue		*q = rt_enqueue_open();
	struct enqueue_msg	*m = rt_msg(q, sender, rcpts, notify, content);
	struct fail		 f;

	if (id_r != NULL)
		(void)str_copy(id_r, enqueue_id(m), SPOOL_ID_LEN + 1);
	cr_assert_eq(enqueue_commit(&m, &f), 0, "%s", f.text);
	enqueue_close(&q);
}

void
rt_enqueue_many(const char *rcpt, const char *prefix, size_t n)
{
	struct enqueue		*q = rt_enqueue_open();
	struct enqueue_msg	*ms[32];
	struct fail		 fs[32];
	int			 rc[32];
	const char		*rcpts[2] = { rcpt, NULL };
	char			 content[256];
	size_t			 i, k = 0;

	for (i = 0; i < n; i++) {
		cr_assert(str_printf(content, sizeof(content),
		    "Message-ID: <%s.%zu@test>\r\nSubject: m %zu\r\n\r\n"
		    "body %zu\r\n", prefix, i, i, i));
		ms[k++] = rt_msg(q, "sender@remote.test", rcpts, 0, content);
		if (k == 32 || i + 1 == n) {
			cr_assert_eq(enqueue_commit_batch(ms, k, rc, fs), 0);
			k = 0;
		}
	}
	enqueue_close(&q);
}

struct queue_runner *
rt_runner(void)
{
	struct queue_runner	*r;
	struct fail		 f;

	r = queue_runner_new(&rt_conf, &f);
	cr_assert_not_null(r, "%s", f.text);
	return r;
}

void
rt_drain(struct queue_runner *r)
{
	do {
		queue_runner_read_inotify(r);
		queue_runner_read_socket(r);
	} while (queue_runner_round(r, (uint64_t)time(NULL)) > 0);
}

size_t
rt_count(const char *sub)
{
	char		 path[PATH_MAX];
	struct dirent	*de;
	DIR		*d;
	size_t		 n = 0;

	cr_assert(str_printf(path, sizeof(path), "%s/%s", rt_dir, sub));
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

int
rt_read(const char *sub, struct str *out)
{
	char	 path[PATH_MAX], buf[4096];
	ssize_t	 n;
	int	 fd;

	str_clear(out);
	cr_assert(str_printf(path, sizeof(path), "%s/%s", rt_dir, sub));
	if ((fd = open(path, O_RDONLY)) == -1)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		cr_assert_eq(str_append(out, buf, (size_t)n), 0);
	close(fd);
	return 0;
}

size_t
rt_find_file(const char *sub, const char *needle, struct str *out)
{
	char		 path[PATH_MAX], file[PATH_MAX + 300];
	struct dirent	*de;
	struct str	 tmp;
	DIR		*d;
	size_t		 n = 0;

	str_init(&tmp, 0);
	str_clear(out);
	cr_assert(str_printf(path, sizeof(path), "%s/%s", rt_dir, sub));
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		n++;
		cr_assert(str_printf(file, sizeof(file), "%s/%s", sub,
		    de->d_name));
		cr_assert_eq(rt_read(file, &tmp), 0);
		if (needle == NULL || (tmp.len > 0 &&
		    strstr(str_c(&tmp), needle) != NULL)) {
			str_clear(out);
			cr_assert_eq(str_append(out, tmp.data, tmp.len), 0);
		}
	}
	closedir(d);
	str_release(&tmp);
	return n;
}
