/* SPDX-License-Identifier: MIT */
/*
 * buzon-auth in one process with its client: the server of auth/server.c
 * on a temporary state directory, asked through common/authc on the same
 * loop.  The failed-login throttle is tested here in its home: delays
 * held by the server, the classroom rule, refusals.
 */
#include "settings.h"

#include <criterion/criterion.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accounts.h"
#include "accounts_config.h"
#include "auth.h"
#include "authc.h"
#include "authd.h"
#include "maps.h"
#include "mem.h"
#include "str.h"

static struct {
	char			 dir[64];
	struct config		 cfg;
	struct accounts_conf	 ac;
	struct event_loop	*loop;
	struct authd		 srv;
	struct authc		*c;
} T;

struct answer {
	int			 called;
	enum authc_result	 r;
	char			 account[300];
	uint64_t		 at_ms;
};

static void
cb(enum authc_result r, const char *account, void *arg)
{
	struct answer	*a = arg;

	a->called++;
	a->r = r;
	a->at_ms = event_now_ms(T.loop);
	(void)str_copy(a->account, account, sizeof(a->account));
}

static void
stop(void *arg)
{
	(void)arg;
	event_loop_break(T.loop);
}

/* Run the loop until every answer in as[0..n-1] came, or ms passed (n 0:
 * for ms). */
static void
wait_for(struct answer *as, size_t n, uint64_t ms)
{
	struct event_timer	*t;
	uint64_t		 end = event_now_ms(T.loop) + ms;
	size_t			 i;

	for (;;) {
		for (i = 0; i < n && as[i].called; i++)
			continue;
		if ((n > 0 && i == n) || event_now_ms(T.loop) >= end)
			return;
		t = event_timer_add(T.loop, 10, stop, NULL);
		(void)event_loop_run(T.loop);
		event_timer_del(&t);
	}
}

static void
add_user(const char *addr, const char *pw, const char *apop)
{
	struct accounts_user	 u;
	char			 err[256];

	accounts_user_init(&u, addr);
	cr_assert_eq(auth_hash_password(pw, AUTH_HASH_SHA512, u.hash,
	    sizeof(u.hash)), 0);
	if (apop != NULL)
		(void)str_copy(u.apop_secret, apop, sizeof(u.apop_secret));
	cr_assert_eq(accounts_user_add(&T.ac, &u, err, sizeof(err)), 0, "%s",
	    err);
}

static void
setup(void)
{
	struct str	 errs;
	char		 run[PATH_MAX], err[256];

	memset(&T, 0, sizeof(T));
	cr_assert(str_copy(T.dir, "/tmp/buzon-authd-XXXXXX", sizeof(T.dir)));
	cr_assert_not_null(mkdtemp(T.dir));
	cr_assert(str_printf(run, sizeof(run), "%s/run", T.dir));
	cr_assert_eq(mkdir(run, 0700), 0);
	str_init(&errs, 0);
	cr_assert_eq(config_load(&T.cfg, NULL, &errs), 0, "%s", str_c(&errs));
	str_release(&errs);
	free(T.cfg.state_dir);
	T.cfg.state_dir = xstrdup(T.dir);
	T.cfg.auth_failure_delay = 200;
	T.cfg.auth_max_delay = 800;
	T.cfg.auth_worker_threads = 2;
	/* authd_init() runs in this process: a sandbox would confine the
	 * test itself (test_privsep.py checks buzon-auth's sandbox). */
	free(T.cfg.sandbox);
	T.cfg.sandbox = xstrdup("off");
	accounts_config(&T.cfg, &T.ac);
	T.ac.read_secrets = true;
	cr_assert_eq(accounts_domain_add(&T.ac, "example.test", err,
	    sizeof(err)), 0, "%s", err);
	add_user("alice@example.test", "right", "apop-secret");
	add_user("bob@example.test", "bobpw", NULL);
	T.loop = event_loop_new();
	cr_assert_eq(authd_init(T.loop, &T.cfg, &T.srv), 0);
	T.c = authc_from_config(T.loop, &T.cfg, "pop3");
	cr_assert_not_null(T.c);
}

static void
teardown(void)
{
	char	 cmd[128];

	authc_free(&T.c);
	while (authd_shutdown(&T.srv) > 0)
		wait_for(NULL, 0, 20);
	event_loop_free(&T.loop);
	config_release(&T.cfg);
	cr_assert(str_printf(cmd, sizeof(cmd), "rm -rf %s", T.dir));
	(void)system(cmd);
}

TestSuite(authd, .init = setup, .fini = teardown, .timeout = 30);

Test(authd, socket_is_group_only)
{
	struct stat	 st;

	cr_assert_eq(stat(T.srv.sock_path, &st), 0);
	cr_assert(S_ISSOCK(st.st_mode));
	cr_assert_eq(st.st_mode & 0777, 0660);
}

Test(authd, password_apop_and_canonical_account)
{
	struct answer	 a[5] = { 0 };
	char		 digest[AUTH_APOP_DIGEST_LEN + 1];

	cr_assert_eq(auth_apop_digest("<1.2@h>", "apop-secret", digest,
	    sizeof(digest)), 0);
	(void)authc_pass(T.c, "192.0.2.1", "ALICE@Example.Test", "right", cb,
	    &a[0]);
	(void)authc_apop(T.c, "192.0.2.2", "alice@example.test", "<1.2@h>",
	    digest, cb, &a[1]);
	(void)authc_apop(T.c, "192.0.2.3", "bob@example.test", "<1.2@h>",
	    digest, cb, &a[2]);	/* bob has no APOP secret */
	(void)authc_pass(T.c, "192.0.2.4", "nobody@example.test", "x", cb,
	    &a[3]);
	(void)authc_pass(T.c, "192.0.2.5", "bob+tag@example.test", "bobpw", cb,
	    &a[4]);
	wait_for(a, 5, 5000);
	cr_assert_eq(a[0].r, AUTHC_OK);
	cr_assert_str_eq(a[0].account, "alice@example.test");
	cr_assert_eq(a[1].r, AUTHC_OK);
	cr_assert_eq(a[2].r, AUTHC_FAIL);
	cr_assert_eq(a[3].r, AUTHC_FAIL);
	cr_assert_eq(a[4].r, AUTHC_OK);
	cr_assert_str_eq(a[4].account, "bob@example.test");
}

Test(authd, disabled_user_fails)
{
	struct answer	 a = { 0 };
	char		 err[256];

	cr_assert_eq(accounts_user_change(&T.ac, "bob@example.test",
	    ACCOUNTS_DISABLE, NULL, err, sizeof(err)), 0, "%s", err);
	(void)authc_pass(T.c, "192.0.2.1", "bob@example.test", "bobpw", cb, &a);
	wait_for(&a, 1, 5000);
	cr_assert_eq(a.r, AUTHC_FAIL);
}

/* The server holds a failure's answer, and the next of the same pair;
 * the right password of another user from the same address (a classroom
 * behind one NAT) is not delayed. */
Test(authd, throttle_holds_answers_per_pair)
{
	struct answer	 f1 = { 0 }, f2 = { 0 }, other = { 0 };
	uint64_t	 t0;

	t0 = event_now_ms(T.loop);
	(void)authc_pass(T.c, "198.51.100.7", "alice@example.test", "wrong",
	    cb, &f1);
	wait_for(&f1, 1, 5000);
	cr_assert_eq(f1.r, AUTHC_FAIL);
	t0 = event_now_ms(T.loop);
	(void)authc_pass(T.c, "198.51.100.7", "alice@example.test", "wrong",
	    cb, &f2);
	(void)authc_pass(T.c, "198.51.100.7", "bob@example.test", "bobpw", cb,
	    &other);
	wait_for(&other, 1, 5000);
	cr_assert_eq(other.r, AUTHC_OK);
	cr_assert_lt(other.at_ms - t0, 150, "another user waited %llu ms",
	    (unsigned long long)(other.at_ms - t0));
	cr_assert_eq(f2.called, 0);
	wait_for(&f2, 1, 5000);
	cr_assert_eq(f2.r, AUTHC_FAIL);
	cr_assert_geq(f2.at_ms - t0, 190, "held %llu ms",
	    (unsigned long long)(f2.at_ms - t0));
}

/* Parallel attempts gain nothing: past max_delay they are refused. */
Test(authd, parallel_failures_are_refused)
{
	struct answer	 a[12] = { 0 };
	int		 failed = 0, throttled = 0;

	for (size_t i = 0; i < 12; i++)
		(void)authc_pass(T.c, "203.0.113.9", "alice@example.test",
		    "wrong", cb, &a[i]);
	wait_for(a, 12, 8000);
	for (size_t i = 0; i < 12; i++) {
		cr_assert_eq(a[i].called, 1);
		failed += a[i].r == AUTHC_FAIL;
		throttled += a[i].r == AUTHC_THROTTLED;
	}
	/* A clean pair lets five through at once (common/auth.h), one more
	 * waits the schedule they set (0.8 s, at the limit), the other six
	 * are refused unchecked. */
	cr_assert_eq(failed, 6);
	cr_assert_eq(throttled, 6);
}

Test(authd, trusted_network_is_not_delayed)
{
	struct answer	 a = { 0 }, b = { 0 };
	static char	 net[] = "192.0.2.0/24";
	static char	*nets[] = { net };
	uint64_t	 t0;

	T.cfg.login_trusted_networks.items = nets;
	T.cfg.login_trusted_networks.count = 1;
	cr_assert_eq(authd_reload(&T.cfg, &T.srv), 0);
	T.cfg.login_trusted_networks.items = NULL;
	T.cfg.login_trusted_networks.count = 0;
	(void)authc_pass(T.c, "192.0.2.77", "alice@example.test", "wrong", cb,
	    &a);
	wait_for(&a, 1, 5000);
	t0 = event_now_ms(T.loop);
	(void)authc_pass(T.c, "192.0.2.77", "alice@example.test", "right", cb,
	    &b);
	wait_for(&b, 1, 5000);
	cr_assert_eq(b.r, AUTHC_OK);
	cr_assert_lt(b.at_ms - t0, 150);
}

/* The raw protocol: a bad field is answered "FAIL id invalid", a line
 * that is no request closes the connection. */
static int
raw_connect(void)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	(void)str_copy(sun.sun_path, T.srv.sock_path, sizeof(sun.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

static size_t
raw_read(int fd, char *buf, size_t size, const char *want)
{
	size_t	 len = 0;
	ssize_t	 n;

	for (int i = 0; i < 200 && len < size - 1; i++) {
		wait_for(NULL, 0, 10);
		n = read(fd, buf + len, size - 1 - len);
		if (n == 0)
			break;
		if (n > 0) {
			len += (size_t)n;
			buf[len] = '\0';
			if (want != NULL && strstr(buf, want) != NULL)
				break;
		}
	}
	buf[len] = '\0';
	return len;
}

Test(authd, raw_protocol_errors)
{
	static const char bad[] = "PASS\t5\tpop3\t\tbob\t*bad*\n";
	char	 buf[512];
	int	 fd = raw_connect();

	cr_assert_eq(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
	raw_read(fd, buf, sizeof(buf), "FAIL\t5\tinvalid\n");
	cr_assert_str_eq(buf, "VERSION\t1\nFAIL\t5\tinvalid\n");
	cr_assert_eq(write(fd, "HELLO\n", 6), 6);
	raw_read(fd, buf, sizeof(buf), NULL);
	cr_assert_str_eq(buf, "", "closed without a reply");
	(void)close(fd);
	/* a line without end, past the limit */
	fd = raw_connect();
	memset(buf, 'A', sizeof(buf));
	for (int i = 0; i < 6; i++)
		(void)write(fd, buf, sizeof(buf));
	raw_read(fd, buf, sizeof(buf), NULL);
	cr_assert_str_eq(buf, "VERSION\t1\n");
	(void)close(fd);
}

/* Closing with checks in flight: nothing is answered, nothing leaks or
 * crashes, and the server goes on with others. */
Test(authd, client_gone_mid_check)
{
	struct authc	*c2 = authc_from_config(T.loop, &T.cfg, "smtp");
	struct answer	 a = { 0 }, f = { 0 }, b = { 0 };

	/* one failure first, so the next is held for the delay */
	(void)authc_pass(c2, "198.51.100.99", "alice@example.test", "wrong",
	    cb, &f);
	wait_for(&f, 1, 5000);
	(void)authc_pass(c2, "198.51.100.99", "alice@example.test", "wrong",
	    cb, &a);
	wait_for(NULL, 0, 50);
	cr_assert_eq(a.called, 0);
	authc_free(&c2);
	(void)authc_pass(T.c, "", "bob@example.test", "bobpw", cb, &b);
	wait_for(&b, 1, 5000);
	wait_for(NULL, 0, 300);
	cr_assert_eq(a.called, 0);
	cr_assert_eq(b.r, AUTHC_OK);
}

/* Only the passwd map holds secrets; old users records that still carry
 * them work, and move on the next write. */
Test(authd, secrets_live_in_passwd)
{
	struct accounts		*a;
	struct accounts_user	 u;
	struct maps_edit	*e;
	struct accounts_conf	 front = T.ac;
	struct answer		 r = { 0 };
	struct str		 rec;
	struct stat		 st;
	char			 spec[PATH_MAX], err[256], path[PATH_MAX];

	cr_assert(str_printf(path, sizeof(path), "%s/auth/passwd.db", T.dir));
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	/* the users record of a new user holds no hash */
	cr_assert_eq(accounts_map_spec(&T.ac, "users", spec, sizeof(spec)), 0);
	front.read_secrets = false;
	cr_assert_not_null(a = accounts_open(&front, err, sizeof(err)), "%s",
	    err);
	cr_assert_eq(accounts_user_lookup(a, "alice@example.test", &u), 1);
	cr_assert_str_eq(u.hash, "");
	cr_assert_str_eq(u.apop_secret, "");
	accounts_close(&a);
	cr_assert_not_null(a = accounts_open(&T.ac, err, sizeof(err)));
	cr_assert_eq(accounts_user_lookup(a, "alice@example.test", &u), 1);
	cr_assert(strncmp(u.hash, "$6$", 3) == 0);
	cr_assert_str_eq(u.apop_secret, "apop-secret");
	accounts_close(&a);

	/* an old record: hash in users, nothing in passwd */
	accounts_user_init(&u, "carol@example.test");
	cr_assert_eq(auth_hash_password("carolpw", AUTH_HASH_SHA512, u.hash,
	    sizeof(u.hash)), 0);
	str_init(&rec, 0);
	cr_assert_eq(accounts_user_format(&u, &rec), 0);
	cr_assert_not_null(e = maps_edit_begin(spec, 0, err, sizeof(err)));
	cr_assert_eq(maps_edit_put(e, u.address, rec.data, rec.len, false), 0);
	cr_assert_eq(maps_edit_commit(&e, err, sizeof(err)), 0);
	(void)authc_pass(T.c, "", "carol@example.test", "carolpw", cb, &r);
	wait_for(&r, 1, 5000);
	cr_assert_eq(r.r, AUTHC_OK);
	/* the next change moves it */
	cr_assert_eq(accounts_user_change(&T.ac, "carol@example.test",
	    ACCOUNTS_DISABLE, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(accounts_user_change(&T.ac, "carol@example.test",
	    ACCOUNTS_ENABLE, NULL, err, sizeof(err)), 0, "%s", err);
	front.read_secrets = true;
	front.passwd_map = "hash:/nonexistent/passwd";	/* users only */
	cr_assert_not_null(a = accounts_open(&front, err, sizeof(err)));
	cr_assert_eq(accounts_user_lookup(a, "carol@example.test", &u), 1);
	cr_assert_str_eq(u.hash, "", "users record still holds the hash");
	accounts_close(&a);
	memset(&r, 0, sizeof(r));
	(void)authc_pass(T.c, "", "carol@example.test", "carolpw", cb, &r);
	wait_for(&r, 1, 5000);
	cr_assert_eq(r.r, AUTHC_OK);
	/* removal takes the secrets too */
	cr_assert_eq(accounts_user_del(&T.ac, "carol@example.test", err,
	    sizeof(err)), 0);
	cr_assert_not_null(a = accounts_open(&T.ac, err, sizeof(err)));
	cr_assert_eq(accounts_user_lookup(a, "carol@example.test", &u), 0);
	accounts_close(&a);
	str_release_secret(&rec);
}

Test(authd, worker_check_wipes_secrets)
{
	struct authd_job	*j = xcalloc(1, sizeof(*j));

	j->cmd = AUTH_PROTO_PASS;
	j->at.found = true;
	j->at.u.enabled = true;
	cr_assert_eq(auth_hash_password("pw", AUTH_HASH_SHA512, j->at.u.hash,
	    sizeof(j->at.u.hash)), 0);
	(void)str_copy(j->secret, "pw", sizeof(j->secret));
	authd_job_check(j);
	cr_assert(j->verified);
	cr_assert_str_eq(j->secret, "");
	cr_assert_str_eq(j->at.u.hash, "");
	free(j);
}
