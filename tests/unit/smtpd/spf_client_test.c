/* SPDX-License-Identifier: MIT */
/*
 * The smtpd side of SPF against the real buzon-spf helper: answers,
 * timeouts, a helper killed mid-request, restarts, overload, cancel, and
 * malformed requests sent to the helper directly.
 *
 * The "slow" checks ask about a name outside the local data with a
 * forwarder on 127.0.0.1 that never answers (a UDP socket of ours), so a
 * query hangs without any packet leaving the host.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "settings.h"
#include "spf.h"
#include "spf_client.h"
#include "str.h"

static char	 helper_path[4096];
static char	 zone_path[4096];
static char	 forwarder[64];
static int	 blackhole = -1;

static void
paths(void)
{
	const char	*b = getenv("BUZON_TOP_BUILDDIR");
	const char	*s = getenv("BUZON_TOP_SRCDIR");

	cr_assert(str_printf(helper_path, sizeof(helper_path),
	    "%s/smtpd/buzon-spf", b != NULL ? b : "."));
	cr_assert(str_printf(zone_path, sizeof(zone_path),
	    "%s/tests/data/spf/spf.zone", s != NULL ? s : "."));
	cr_assert_eq(access(helper_path, X_OK), 0, "%s missing", helper_path);
}

/* A UDP socket on loopback that never answers. */
static void
open_blackhole(void)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);

	blackhole = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert_neq(blackhole, -1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(blackhole, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(getsockname(blackhole, (struct sockaddr *)&sin, &len), 0);
	cr_assert(str_printf(forwarder, sizeof(forwarder), "127.0.0.1@%u",
	    ntohs(sin.sin_port)));
}

struct run {
	struct event_loop	*loop;
	struct spf_client	*client;
	int			 want;	/* answers before stopping */
	int			 got;
	struct spf_answer	 ans[8];
	pid_t			 killed;
};

static void
answered(const struct spf_answer *ans, void *arg)
{
	struct run	*r = arg;

	cr_assert_lt(r->got, 8);
	r->ans[r->got++] = *ans;
	if (r->got == r->want)
		event_loop_break(r->loop);
}

static void
too_slow(void *arg)
{
	(void)arg;
	cr_assert_fail("no answer in time");
}

static void
setup_run(struct run *r, unsigned int helpers, uint64_t timeout,
    unsigned int max_waiting, bool slow_dns)
{
	struct spf_client_conf	 conf = { 0 };
	const char		*argv[8];
	int			 n = 0;

	paths();
	memset(r, 0, sizeof(*r));
	argv[n++] = helper_path;
	argv[n++] = "-l";
	argv[n++] = zone_path;
	argv[n++] = "-r";
	argv[n++] = "mx.buzon.test";
	if (slow_dns) {
		open_blackhole();
		argv[n++] = "-F";
		argv[n++] = forwarder;
	}
	argv[n] = NULL;
	conf.argv = argv;
	conf.receiver = "mx.buzon.test";
	conf.helpers = helpers;
	conf.timeout_ms = timeout;
	conf.max_waiting = max_waiting;
	r->loop = event_loop_new();
	r->client = spf_client_new(r->loop, &conf);
}

static void
run_until(struct run *r, int want)
{
	struct event_timer	*t;

	r->want = want;
	if (r->got >= want)
		return;
	t = event_timer_add(r->loop, 4000, too_slow, NULL);
	cr_assert_eq(event_loop_run(r->loop), 0);
	event_timer_del(&t);
	cr_assert_eq(r->got, want);
}

static void
teardown_run(struct run *r)
{
	spf_client_free(&r->client);
	cr_assert_null(r->client);
	event_loop_free(&r->loop);
	if (blackhole != -1)
		(void)close(blackhole);
}

static void
request(struct spf_request *req, const char *ip, const char *from)
{
	memset(req, 0, sizeof(*req));
	cr_assert(str_copy(req->ip, ip, sizeof(req->ip)));
	cr_assert(str_copy(req->helo, "client.test", sizeof(req->helo)));
	cr_assert(str_copy(req->from, from, sizeof(req->from)));
}

static struct spf_check *
start(struct run *r, const char *from)
{
	struct spf_request	req;
	struct spf_check	*k;

	request(&req, "192.0.2.10", from);
	k = spf_check_start(r->client, &req, answered, r);
	cr_assert_not_null(k);
	return k;
}

Test(spf_client, answers_through_the_pool)
{
	struct run	r;
	int		i, pass = 0, fail = 0, temp = 0;

	setup_run(&r, 2, 3000, 8, false);
	start(&r, "a@pass.test");
	start(&r, "a@fail.test");
	start(&r, "a@temp.test");
	cr_assert_eq(r.got, 0);		/* never from inside start */
	run_until(&r, 3);
	for (i = 0; i < 3; i++) {
		pass += r.ans[i].result == SPF_RES_PASS;
		fail += r.ans[i].result == SPF_RES_FAIL;
		temp += r.ans[i].result == SPF_RES_TEMPERROR;
		cr_assert(strncmp(r.ans[i].header, "Received-SPF: ", 14) == 0);
	}
	cr_assert(pass == 1 && fail == 1 && temp == 1);
	cr_assert_eq(spf_client_spawns(r.client), 2);
	cr_assert_eq(spf_client_restarts(r.client), 0);
	teardown_run(&r);
}

Test(spf_client, helper_never_root)
{
	struct run	r;
	char		path[64], line[256];
	FILE		*fp;
	unsigned int	uid = 0;

	setup_run(&r, 1, 3000, 8, false);
	start(&r, "a@pass.test");
	run_until(&r, 1);
	cr_assert(str_printf(path, sizeof(path), "/proc/%ld/status",
	    (long)spf_client_helper_pid(r.client, 0)));
	fp = fopen(path, "r");
	cr_assert_not_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, "Uid:", 4) == 0)
			cr_assert_eq(sscanf(line + 4, "%u", &uid), 1);
	(void)fclose(fp);
	cr_assert_neq(uid, 0);
	teardown_run(&r);
}

static void
kill_helper(void *arg)
{
	struct run	*r = arg;
	pid_t		 pid = spf_client_helper_pid(r->client, 0);

	cr_assert_gt(pid, 0);
	cr_assert_eq(kill(pid, SIGKILL), 0);
	r->killed = pid;
}

Test(spf_client, helper_killed_mid_request)
{
	struct run		 r;
	struct event_timer	*t;

	setup_run(&r, 1, 3000, 8, true);
	start(&r, "a@x.slow.example");
	t = event_timer_add(r.loop, 150, kill_helper, &r);
	run_until(&r, 1);
	cr_assert_eq(r.ans[0].result, SPF_RES_TEMPERROR);
	cr_assert_str_eq(r.ans[0].explanation, "SPF check failed");
	cr_assert(strncmp(r.ans[0].header, "Received-SPF: temperror (",
	    25) == 0);
	cr_assert_eq(spf_client_helper_pid(r.client, 0), 0);
	/* The next check gets a new helper. */
	start(&r, "a@pass.test");
	run_until(&r, 2);
	cr_assert_eq(r.ans[1].result, SPF_RES_PASS);
	cr_assert_neq(spf_client_helper_pid(r.client, 0), r.killed);
	cr_assert_eq(spf_client_restarts(r.client), 1);
	event_timer_del(&t);
	teardown_run(&r);
}

Test(spf_client, slow_helper_times_out)
{
	struct run	r;

	setup_run(&r, 1, 300, 8, true);
	start(&r, "a@x.slow.example");
	start(&r, "a@x2.slow.example");		/* waits behind it */
	run_until(&r, 2);
	/* The timeout counts from the start, waiting included. */
	cr_assert_eq(r.ans[0].result, SPF_RES_TEMPERROR);
	cr_assert_str_eq(r.ans[0].explanation, "SPF check timed out");
	cr_assert_eq(r.ans[1].result, SPF_RES_TEMPERROR);
	cr_assert_str_eq(r.ans[1].explanation, "SPF check timed out");
	start(&r, "a@pass.test");
	run_until(&r, 3);
	cr_assert_eq(r.ans[2].result, SPF_RES_PASS);
	/* The second check had just got a fresh helper when its own time
	 * ran out too: two replaced. */
	cr_assert_eq(spf_client_restarts(r.client), 2);
	teardown_run(&r);
}

Test(spf_client, overload_answers_temperror)
{
	struct run	r;

	setup_run(&r, 1, 3000, 0, true);
	start(&r, "a@x.slow.example");	/* takes the only helper */
	start(&r, "a@pass.test");		/* nowhere to wait */
	run_until(&r, 1);
	cr_assert_eq(r.ans[0].result, SPF_RES_TEMPERROR);
	cr_assert_str_eq(r.ans[0].explanation, "SPF checks overloaded");
	teardown_run(&r);
}

static void
never(const struct spf_answer *ans, void *arg)
{
	(void)ans;
	(void)arg;
	cr_assert_fail("cancelled check answered");
}

Test(spf_client, cancel)
{
	struct run		 r;
	struct spf_request	 req;
	struct spf_check	*k1, *k2;

	setup_run(&r, 1, 3000, 8, true);
	request(&req, "192.0.2.10", "a@x.slow.example");
	k1 = spf_check_start(r.client, &req, never, NULL);
	request(&req, "192.0.2.10", "a@pass.test");
	k2 = spf_check_start(r.client, &req, never, NULL);
	spf_check_cancel(&k2);			/* was waiting */
	cr_assert_null(k2);
	spf_check_cancel(&k1);			/* was on the helper */
	cr_assert_eq(spf_client_helper_pid(r.client, 0), 0);
	spf_check_cancel(&k1);			/* NULL is fine */
	start(&r, "a@fail.test");
	run_until(&r, 1);
	cr_assert_eq(r.ans[0].result, SPF_RES_FAIL);
	teardown_run(&r);
}

Test(spf_client, free_with_checks_pending)
{
	struct run		 r;
	struct spf_request	 req;

	setup_run(&r, 1, 3000, 8, true);
	request(&req, "192.0.2.10", "a@x.slow.example");
	(void)spf_check_start(r.client, &req, never, NULL);
	(void)spf_check_start(r.client, &req, never, NULL);
	teardown_run(&r);
}

Test(spf_client, helper_cannot_start)
{
	struct spf_client_conf	 conf = { 0 };
	const char		*argv[] = { "/nonexistent/buzon-spf", NULL };
	struct run		 r;

	memset(&r, 0, sizeof(r));
	conf.argv = argv;
	conf.receiver = "mx.buzon.test";
	conf.helpers = 1;
	conf.timeout_ms = 3000;
	conf.max_waiting = 4;
	r.loop = event_loop_new();
	r.client = spf_client_new(r.loop, &conf);
	start(&r, "a@pass.test");
	cr_assert_eq(r.got, 0);		/* not even failures from inside */
	run_until(&r, 1);
	cr_assert_eq(r.ans[0].result, SPF_RES_TEMPERROR);
	cr_assert_str_eq(r.ans[0].explanation, "SPF check failed");
	/* It exited with an error: no new one before the retry delay. */
	start(&r, "a@pass.test");
	run_until(&r, 2);
	cr_assert_eq(r.ans[1].result, SPF_RES_TEMPERROR);
	cr_assert_str_eq(r.ans[1].explanation, "SPF helper unavailable");
	cr_assert_eq(spf_client_spawns(r.client), 1);
	teardown_run(&r);
}

Test(spf_client, hostile_macros_in_the_helper)
{
	struct run	r;
	pid_t		pid;
	int		i;

	setup_run(&r, 1, 3000, 8, false);
	start(&r, "a.b.c.d.e.f.g.h@macro2.test");
	run_until(&r, 1);
	pid = spf_client_helper_pid(r.client, 0);
	start(&r, "x@macro3.test");
	start(&r, "0123456789012345678901234567890123456789@macro4.test");
	start(&r, "a-b+c@macro5.test");
	start(&r, "u@macro1.test");
	run_until(&r, 5);
	/* Real answers from the same helper, not temperror from a crash. */
	for (i = 0; i < 5; i++) {
		cr_assert(strncmp(r.ans[i].header, "Received-SPF: ", 14) == 0);
		cr_assert_str_neq(r.ans[i].explanation, "SPF check failed");
	}
	cr_assert_eq(spf_client_helper_pid(r.client, 0), pid);
	cr_assert_eq(spf_client_restarts(r.client), 0);
	teardown_run(&r);
}

/* ---- the helper on its own, fed bytes by hand ---- */

struct helper {
	pid_t	pid;
	int	fd;
};

static void
helper_start(struct helper *h)
{
	int	sv[2];

	paths();
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	h->pid = fork();
	cr_assert_neq(h->pid, -1);
	if (h->pid == 0) {
		(void)dup2(sv[1], 0);
		(void)dup2(sv[1], 1);
		(void)close(sv[0]);
		(void)close(sv[1]);
		execl(helper_path, helper_path, "-l", zone_path, "-r",
		    "mx.test", (char *)NULL);
		_exit(127);
	}
	(void)close(sv[1]);
	h->fd = sv[0];
}

static size_t
rec(unsigned char *p, char type, const char *data, size_t len)
{
	p[0] = (unsigned char)type;
	p[1] = (unsigned char)(len >> 8);
	p[2] = (unsigned char)len;
	memcpy(p + 3, data, len);
	return 3 + len;
}

/* Read one answer; returns 1, or 0 on EOF before any byte. */
static int
helper_answer(struct helper *h, struct spf_answer *ans)
{
	unsigned char	buf[SPF_MSG_MAX];
	size_t		len = 0, used;
	ssize_t		n;
	char		err[128];
	int		rc;

	for (;;) {
		rc = spf_answer_decode(buf, len, ans, &used, err, sizeof(err));
		cr_assert_neq(rc, -1, "bad answer: %s", err);
		if (rc == 1) {
			cr_assert_eq(used, len);
			return 1;
		}
		n = read(h->fd, buf + len, sizeof(buf) - len);
		cr_assert_neq(n, -1);
		if (n == 0) {
			cr_assert_eq(len, 0, "answer cut short");
			return 0;
		}
		len += (size_t)n;
	}
}

static void
send_bytes(struct helper *h, const unsigned char *p, size_t len)
{
	cr_assert_eq(write(h->fd, p, len), (ssize_t)len);
}

static void
send_good(struct helper *h)
{
	unsigned char	msg[128];
	size_t		len;

	len = rec(msg, SPF_REC_IP, "192.0.2.10", 10);
	len += rec(msg + len, SPF_REC_FROM, "u@pass.test", 11);
	len += rec(msg + len, SPF_REC_END, "", 0);
	send_bytes(h, msg, len);
}

Test(spf_helper, malformed_requests_get_error_answers)
{
	struct helper		h;
	struct spf_answer	ans;
	unsigned char		msg[SPF_MSG_MAX + 64];
	char			big[SPF_FROM_MAX + 1];
	size_t			len;
	int			status;

	helper_start(&h);
	/* unknown record type: an error, and the helper goes on */
	len = rec(msg, 'Q', "x", 1);
	len += rec(msg + len, SPF_REC_IP, "192.0.2.10", 10);
	len += rec(msg + len, SPF_REC_END, "", 0);
	send_bytes(&h, msg, len);
	cr_assert_eq(helper_answer(&h, &ans), 1);
	cr_assert(ans.is_error);
	cr_assert_str_eq(ans.error, "unknown record type");
	send_good(&h);
	cr_assert_eq(helper_answer(&h, &ans), 1);
	cr_assert_not(ans.is_error);
	cr_assert_eq(ans.result, SPF_RES_PASS);
	/* no client address, a bad one, a field over its bound */
	len = rec(msg, SPF_REC_FROM, "u@pass.test", 11);
	len += rec(msg + len, SPF_REC_END, "", 0);
	send_bytes(&h, msg, len);
	cr_assert_eq(helper_answer(&h, &ans), 1);
	cr_assert_str_eq(ans.error, "no client address");
	len = rec(msg, SPF_REC_IP, "192.0.2.999", 11);
	len += rec(msg + len, SPF_REC_END, "", 0);
	send_bytes(&h, msg, len);
	cr_assert_eq(helper_answer(&h, &ans), 1);
	cr_assert_str_eq(ans.error, "bad client address");
	memset(big, 'a', sizeof(big));
	len = rec(msg, SPF_REC_IP, "192.0.2.10", 10);
	len += rec(msg + len, SPF_REC_FROM, big, sizeof(big));
	len += rec(msg + len, SPF_REC_END, "", 0);
	send_bytes(&h, msg, len);
	cr_assert_eq(helper_answer(&h, &ans), 1);
	cr_assert_str_eq(ans.error, "record too long");
	send_good(&h);
	cr_assert_eq(helper_answer(&h, &ans), 1);
	cr_assert_eq(ans.result, SPF_RES_PASS);
	/* an impossible length: error answer, then the helper leaves */
	send_bytes(&h, (const unsigned char *)"f\xff\xff", 3);
	cr_assert_eq(helper_answer(&h, &ans), 1);
	cr_assert_str_eq(ans.error, "message too long");
	cr_assert_eq(helper_answer(&h, &ans), 0);
	cr_assert_eq(waitpid(h.pid, &status, 0), h.pid);
	cr_assert(WIFEXITED(status));
	cr_assert_eq(WEXITSTATUS(status), 75);
	(void)close(h.fd);
}

Test(spf_helper, garbage_then_eof)
{
	struct helper		h;
	struct spf_answer	ans;
	unsigned char		junk[SPF_MSG_MAX + 10];
	size_t			i;
	int			status;

	helper_start(&h);
	/* Empty unknown records until past the message bound. */
	for (i = 0; i + 3 <= sizeof(junk); i += 3) {
		junk[i] = 'q';
		junk[i + 1] = 0;
		junk[i + 2] = 0;
	}
	send_bytes(&h, junk, i);
	cr_assert_eq(helper_answer(&h, &ans), 1);
	cr_assert(ans.is_error);
	cr_assert_str_eq(ans.error, "message too long");
	cr_assert_eq(helper_answer(&h, &ans), 0);
	cr_assert_eq(waitpid(h.pid, &status, 0), h.pid);
	cr_assert_eq(WEXITSTATUS(status), 75);
	(void)close(h.fd);
}

Test(spf_helper, clean_exit_on_eof)
{
	struct helper		h;
	struct spf_answer	ans;
	int			status;

	helper_start(&h);
	send_good(&h);
	cr_assert_eq(helper_answer(&h, &ans), 1);
	cr_assert_eq(shutdown(h.fd, SHUT_WR), 0);
	cr_assert_eq(helper_answer(&h, &ans), 0);
	cr_assert_eq(waitpid(h.pid, &status, 0), h.pid);
	cr_assert(WIFEXITED(status));
	cr_assert_eq(WEXITSTATUS(status), 0);
	(void)close(h.fd);
}

/* ---- from buzon.conf ---- */

Test(spf_client, argv_from_config)
{
	struct config		 cfg;
	struct spf_client_conf	 conf;
	struct str		 errs;
	char			 path[] = "/tmp/buzon-spf-conf-XXXXXX", **v;
	const char		*text = "hostname = mx.example.test\n"
	    "user = nobody\n"
	    "state_dir = /tmp\n"
	    "dns_local_data = /tmp/zone\n"
	    "dns_forwarders = 192.0.2.53@5353, system\n"
	    "dns_dnssec = yes\n"
	    "spf_timeout = 3s\n"
	    "spf_helpers = 3\n";
	const char		*want[] = { "/x/buzon-spf", "-l", "/tmp/zone",
	    "-F", "192.0.2.53@5353", "-F", "system", "-D", "-r",
	    "mx.example.test", "-u", "nobody", NULL };
	int			 fd, i;

	fd = mkstemp(path);
	cr_assert_neq(fd, -1);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	(void)close(fd);
	str_init(&errs, 0);
	memset(&cfg, 0, sizeof(cfg));
	cr_assert_eq(config_load(&cfg, path, &errs), 0, "%s", str_c(&errs));
	(void)unlink(path);
	v = spf_helper_argv(&cfg, "/x/buzon-spf");
	for (i = 0; want[i] != NULL; i++)
		cr_assert_str_eq(v[i], want[i]);
	cr_assert_null(v[i]);
	spf_client_conf_from_config(&conf, &cfg, v);
	cr_assert_eq(conf.timeout_ms, 3000);
	cr_assert_eq(conf.helpers, 3);
	cr_assert_str_eq(conf.receiver, "mx.example.test");
	cr_assert_eq((const void *)conf.argv, (const void *)v);
	spf_helper_argv_free(&v);
	cr_assert_null(v);
	config_release(&cfg);
	str_release(&errs);
}
