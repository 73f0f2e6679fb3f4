/* SPDX-License-Identifier: MIT */
/*
 * service_test.c - $BUZON_LISTEN parsing and the never-root rule
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "service.h"
#include "settings.h"

static const char *const kinds[] = { "smtp", "submission", "submissions",
    "pop3", "pop3s", "imap", "imaps", NULL };
/* the daemon run_service() starts serves these only */
static const char *const served[] = { "smtp", "pop3", "imaps", NULL };

Test(service, listen_parse_three)
{
	struct service_listener	 ls[8];
	char			 err[128] = "";
	size_t			 n = 99;

	cr_assert_eq(service_listen_parse("smtp:3 submission:4 submissions:5",
	    kinds, ls, 8, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(ls[0].name, "smtp");
	cr_assert_eq(ls[0].fd, 3);
	cr_assert_str_eq(ls[1].name, "submission");
	cr_assert_eq(ls[1].fd, 4);
	cr_assert_str_eq(ls[2].name, "submissions");
	cr_assert_eq(ls[2].fd, 5);
}

Test(service, listen_parse_empty_and_spaces)
{
	struct service_listener	 ls[4];
	char			 err[128];
	size_t			 n = 99;

	cr_assert_eq(service_listen_parse("", kinds, ls, 4, &n, err, sizeof(err)),
	    0);
	cr_assert_eq(n, 0);
	cr_assert_eq(service_listen_parse("  \t imap:7\t imap:8  ", kinds, ls, 4,
	    &n, err, sizeof(err)), 0);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(ls[1].name, "imap");
	cr_assert_eq(ls[1].fd, 8);
}

struct bad_case {
	char	in[80];
	char	want[40];	/* part of the error message */
};

ParameterizedTestParameters(service, listen_parse_bad)
{
	static struct bad_case cases[] = {
		{ "smtp", "expected name:fd" },
		{ "smtp:", "bad fd" },
		{ "smtp:x", "bad fd" },
		{ "smtp:2", "bad fd" },
		{ "smtp:-3", "bad fd" },
		{ "smtp:3x", "bad fd" },
		{ "smtp:99999999999", "bad fd" },
		{ "ftp:3", "unknown listener name 'ftp'" },
		{ ":3", "unknown listener name ''" },
		{ "SMTP:3", "unknown listener name" },
		{ "smtp:3 pop3:3", "fd 3 given twice" },
		{ "smtp:3 pop3:4 imap:5 imaps:6 pop3s:7", "more than 4" },
		{ "smtp:3aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaaaaaaa", "entry too long" },
	};
	return cr_make_param_array(struct bad_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad_case *c, service, listen_parse_bad)
{
	struct service_listener	 ls[4];
	char			 err[128] = "";
	size_t			 n = 99;

	cr_assert_eq(service_listen_parse(c->in, kinds, ls, 4, &n, err,
	    sizeof(err)), -1, "input \"%s\"", c->in);
	cr_assert_eq(n, 0);
	cr_assert(strstr(err, c->want) != NULL, "input \"%s\": error \"%s\"",
	    c->in, err);
}

Test(service, listener_names)
{
	cr_assert(service_listener_name_ok(kinds, "smtp"));
	cr_assert(service_listener_name_ok(kinds, "imaps"));
	cr_assert(service_listener_name_ok(kinds, "pop3s"));
	cr_assert_not(service_listener_name_ok(kinds, "smtps"));
	cr_assert_not(service_listener_name_ok(kinds, ""));
	/* the daemon's own list, not every kind there is */
	cr_assert(service_listener_name_ok(served, "pop3"));
	cr_assert_not(service_listener_name_ok(served, "pop3s"));
	cr_assert_not(service_listener_name_ok(NULL, "smtp"));
}

static void
never(int fd, const struct net_addr *a, const char *l, void *d)
{
	(void)fd, (void)a, (void)l, (void)d;
}

/* As root it refuses before reading anything; otherwise a missing config
 * is fatal too.  Either way: exit 75, never a running daemon. */
Test(service, refuses_root_or_bad_config, .exit_code = 75)
{
	static const struct service svc = { "buzon-test", never, NULL, NULL,
	    NULL, NULL, NULL };
	char	 a0[] = "buzon-test", a1[] = "-c",
		 a2[] = "/nonexistent/buzon.conf";
	char	*argv[] = { a0, a1, a2, NULL };

	service_main(&svc, 3, argv);
}

Test(service, bad_usage)
{
	static const struct service svc = { "buzon-test", never, NULL, NULL,
	    NULL, NULL, NULL };
	char	 a0[] = "buzon-test", a1[] = "-x";
	char	*argv[] = { a0, a1, NULL };

	cr_assert_eq(service_main(&svc, 2, argv), 2);
}

Test(service, no_config_outside)
{
	cr_assert_null(service_config());
}

/*
 * service_main() for real: a child process runs it on a listening socket
 * handed over in $BUZON_LISTEN, as an unprivileged user when the tests run
 * as root.
 */
static char	 conf_dir[PATH_MAX], conf_file[PATH_MAX];
static int	 reloads;

static void
conf_setup(void)
{
	FILE	*fp;

	str_copy(conf_dir, "/tmp/buzon-service-XXXXXX", sizeof(conf_dir));
	cr_assert_not_null(mkdtemp(conf_dir));
	cr_assert_eq(chmod(conf_dir, 0755), 0);
	str_printf(conf_file, sizeof(conf_file), "%s/buzon.conf", conf_dir);
	cr_assert_not_null(fp = fopen(conf_file, "w"));
	fputs("log_target = stderr\nshutdown_grace = 2s\n", fp);
	fclose(fp);
	cr_assert_eq(chmod(conf_file, 0644), 0);
}

static void
conf_teardown(void)
{
	unlink(conf_file);
	rmdir(conf_dir);
}

static void
greet_accept(int fd, const struct net_addr *peer, const char *listener,
    void *data)
{
	char	 line[128];
	int	 n;

	(void)data;
	n = snprintf(line, sizeof(line), "%s %s reloads=%d\n", listener,
	    net_addr_is_loopback(peer) ? "loopback" : "other", reloads);
	if (write(fd, line, (size_t)n) != n)
		_exit(3);
	close(fd);
	if (strcmp(listener, "pop3") == 0)	/* pop3: stop after one */
		service_stop();
}

static int
count_reload(const struct config *cfg, void *data)
{
	(void)cfg, (void)data;
	reloads++;
	return 0;
}

static unsigned int
no_sessions(void *data)
{
	(void)data;
	return 0;
}

/* Listen on 127.0.0.1, any port; returns the fd, port in *port_r. */
static int
listen_any(uint16_t *port_r)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 fd;

	cr_assert_geq(fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(listen(fd, 8), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port_r = ntohs(sin.sin_port);
	return fd;
}

static pid_t
run_service(int lfd, const char *name, const char *env_override)
{
	static const struct service svc = { "buzon-test", greet_accept, NULL,
	    count_reload, no_sessions, NULL, served };
	char	 env[64], a0[] = "buzon-test", a1[] = "-c";
	char	*argv[] = { a0, a1, conf_file, NULL };
	pid_t	 pid;

	if (env_override != NULL)
		str_copy(env, env_override, sizeof(env));
	else
		str_printf(env, sizeof(env), "%s:%d", name, lfd);
	if ((pid = fork()) != 0)
		return pid;
	setenv(SERVICE_LISTEN_ENV, env, 1);
	if (getuid() == 0 && (setgid(65534) == -1 || setuid(65534) == -1))
		_exit(4);
	_exit(service_main(&svc, 3, argv));
}

/* Connect and read one line (retrying while the child starts). */
static void
talk(uint16_t port, char *buf, size_t size)
{
	struct sockaddr_in	 sin;
	ssize_t			 n;
	size_t			 len = 0;
	int			 fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	cr_assert_geq(fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	while (len < size - 1 && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fd);
}

static int
wait_exit(pid_t pid)
{
	int	 status;

	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "status %#x", status);
	return WEXITSTATUS(status);
}

Test(service_main, accepts_then_stops, .init = conf_setup,
    .fini = conf_teardown, .timeout = 10)
{
	char		 buf[128];
	uint16_t	 port;
	int		 lfd = listen_any(&port);
	pid_t		 pid = run_service(lfd, "pop3", NULL);

	talk(port, buf, sizeof(buf));
	cr_assert_str_eq(buf, "pop3 loopback reloads=0\n");
	cr_assert_eq(wait_exit(pid), 0);
	close(lfd);
}

Test(service_main, sighup_reloads_sigterm_stops, .init = conf_setup,
    .fini = conf_teardown, .timeout = 10)
{
	struct timespec	 ts = { 0, 20 * 1000000L };
	char		 buf[128];
	uint16_t	 port;
	int		 lfd = listen_any(&port), i;
	pid_t		 pid = run_service(lfd, "imaps", NULL);

	talk(port, buf, sizeof(buf));		/* up and running */
	cr_assert_str_eq(buf, "imaps loopback reloads=0\n");
	cr_assert_eq(kill(pid, SIGHUP), 0);
	for (i = 0; i < 100; i++) {
		talk(port, buf, sizeof(buf));
		if (strcmp(buf, "imaps loopback reloads=1\n") == 0)
			break;
		nanosleep(&ts, NULL);
	}
	cr_assert_str_eq(buf, "imaps loopback reloads=1\n");
	cr_assert_eq(kill(pid, SIGTERM), 0);
	cr_assert_eq(wait_exit(pid), 0);
	close(lfd);
}

Test(service_main, bad_reload_keeps_running, .init = conf_setup,
    .fini = conf_teardown, .timeout = 10)
{
	struct timespec	 ts = { 0, 100 * 1000000L };
	char		 buf[128];
	uint16_t	 port;
	int		 lfd = listen_any(&port);
	pid_t		 pid = run_service(lfd, "smtp", NULL);
	FILE		*fp;

	talk(port, buf, sizeof(buf));
	cr_assert_not_null(fp = fopen(conf_file, "a"));
	fputs("no_such_key = 1\n", fp);
	fclose(fp);
	cr_assert_eq(kill(pid, SIGHUP), 0);
	nanosleep(&ts, NULL);
	talk(port, buf, sizeof(buf));
	cr_assert_str_eq(buf, "smtp loopback reloads=0\n");
	cr_assert_eq(kill(pid, SIGTERM), 0);
	cr_assert_eq(wait_exit(pid), 0);
	close(lfd);
}

Test(service_main, fd_not_open, .init = conf_setup, .fini = conf_teardown,
    .timeout = 10)
{
	cr_assert_eq(wait_exit(run_service(-1, NULL, "smtp:99")), 75);
}

Test(service_main, fd_not_listening, .init = conf_setup,
    .fini = conf_teardown, .timeout = 10)
{
	int	 fd = socket(AF_INET, SOCK_STREAM, 0);
	char	 env[32];

	cr_assert_geq(fd, 3);
	str_printf(env, sizeof(env), "smtp:%d", fd);
	cr_assert_eq(wait_exit(run_service(fd, NULL, env)), 75);
	close(fd);
}

/* A kind the daemon does not serve is refused, even on a good socket. */
Test(service_main, listener_not_served, .init = conf_setup,
    .fini = conf_teardown, .timeout = 10)
{
	uint16_t port;
	int	 lfd = listen_any(&port);
	char	 env[32];

	str_printf(env, sizeof(env), "submission:%d", lfd);
	cr_assert_eq(wait_exit(run_service(lfd, NULL, env)), 75);
	close(lfd);
}

Test(service_main, bad_listen_env, .init = conf_setup,
    .fini = conf_teardown, .timeout = 10)
{
	cr_assert_eq(wait_exit(run_service(-1, NULL, "smtp=3")), 75);
}
