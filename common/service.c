/* SPDX-License-Identifier: MIT */
/*
 * service.c - daemon skeleton: fds from the supervisor, config, never root,
 * signals, the event loop
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"
#include "net.h"
#include "service.h"
#include "settings.h"
#include "str.h"

#define ACCEPT_BURST		64	/* connections per wake-up */
#define SHUTDOWN_POLL_MS	100
#define ACCEPT_PAUSE_MS		1000	/* after EMFILE and such */

struct svc_listener {
	struct service_listener	 l;
	struct event_io		*io;
	struct event_timer	*pause;
};

/* The one service of this process. */
static struct {
	const struct service	*svc;
	struct event_loop	*loop;
	struct config		*cfg;
	const char		*conf_path;
	struct svc_listener	*ls;
	size_t			 nls;
	bool			 stopping;
	uint64_t		 stop_deadline;
	struct event_timer	*stop_timer;
} S;

bool
service_listener_name_ok(const char *const *names, const char *name)
{
	size_t	 i;

	for (i = 0; names != NULL && names[i] != NULL; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

int
service_listen_parse(const char *s, const char *const *names,
    struct service_listener *out, size_t max, size_t *n_r, char *err,
    size_t errsize)
{
	char		 word[64], *colon;
	size_t		 n = 0, len, i;
	unsigned int	 fd;

	*n_r = 0;
	for (;;) {
		s += strspn(s, " \t");
		if (*s == '\0')
			break;
		len = strcspn(s, " \t");
		if (len >= sizeof(word)) {
			str_printf(err, errsize, "entry too long");
			return -1;
		}
		memcpy(word, s, len);
		word[len] = '\0';
		s += len;
		if ((colon = strchr(word, ':')) == NULL) {
			str_printf(err, errsize, "'%s': expected name:fd",
			    word);
			return -1;
		}
		*colon = '\0';
		if (!service_listener_name_ok(names, word)) {
			str_printf(err, errsize, "unknown listener name '%s'",
			    word);
			return -1;
		}
		if (strnum_uint(colon + 1, 3, 65535, &fd) == -1) {
			str_printf(err, errsize, "listener %s: bad fd '%s'",
			    word, colon + 1);
			return -1;
		}
		for (i = 0; i < n; i++)
			if (out[i].fd == (int)fd) {
				str_printf(err, errsize, "fd %u given twice",
				    fd);
				return -1;
			}
		if (n >= max) {
			str_printf(err, errsize, "more than %zu listeners",
			    max);
			return -1;
		}
		str_copy(out[n].name, word, sizeof(out[n].name));
		out[n].fd = (int)fd;
		n++;
	}
	*n_r = n;
	return 0;
}

const struct config *
service_config(void)
{
	return S.cfg;
}

static void
listeners_close(void)
{
	size_t	 i;

	for (i = 0; i < S.nls; i++) {
		event_io_del(&S.ls[i].io);
		event_timer_del(&S.ls[i].pause);
		if (S.ls[i].l.fd != -1)
			close(S.ls[i].l.fd);
		S.ls[i].l.fd = -1;
	}
}

static void
accept_resume(void *arg)
{
	struct svc_listener	*sl = arg;

	sl->pause = NULL;	/* one-shot timer is gone */
	if (sl->io != NULL && event_io_set(sl->io, EVENT_READ) == -1)
		log_error("-", "listener resume failed name=%s error=%s",
		    sl->l.name, strerror(errno));
}

static void
accept_cb(int fd, unsigned int events, void *arg)
{
	struct svc_listener	*sl = arg;
	struct net_addr		 peer;
	int			 cfd, i;

	(void)events;
	for (i = 0; i < ACCEPT_BURST && !S.stopping; i++) {
		memset(&peer, 0, sizeof(peer));
		if ((cfd = net_accept(fd, &peer)) == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EPROTO)
				continue;
			/* EMFILE, ENFILE, ENOBUFS, ENOMEM: stop taking
			 * connections for a moment rather than spin. */
			log_error("-", "accept failed listener=%s error=%s",
			    sl->l.name, strerror(errno));
			if (event_io_set(sl->io, 0) == 0 && sl->pause == NULL)
				sl->pause = event_timer_add(S.loop,
				    ACCEPT_PAUSE_MS, accept_resume, sl);
			return;
		}
		S.svc->accept(cfd, &peer, sl->l.name, S.svc->data);
	}
}

static void
stop_poll(void *arg)
{
	unsigned int	 left = 0;

	(void)arg;
	S.stop_timer = NULL;
	if (S.svc->shutdown != NULL)
		left = S.svc->shutdown(S.svc->data);
	if (left == 0) {
		log_info("-", "stopped");
		event_loop_break(S.loop);
		return;
	}
	if (event_now_ms(S.loop) >= S.stop_deadline) {
		log_warn("-", "shutdown grace expired sessions=%u", left);
		event_loop_break(S.loop);
		return;
	}
	S.stop_timer = event_timer_add(S.loop, SHUTDOWN_POLL_MS, stop_poll,
	    NULL);
}

void
service_stop(void)
{
	if (S.stopping || S.loop == NULL)
		return;
	S.stopping = true;
	log_info("-", "stopping listeners=%zu", S.nls);
	listeners_close();
	S.stop_deadline = event_now_ms(S.loop) + S.cfg->shutdown_grace;
	stop_poll(NULL);
}

static void
config_print_errors(const struct str *errs)
{
	const char	*p = str_c(errs), *nl;

	while (*p != '\0') {
		nl = strchr(p, '\n');
		if (nl == NULL)
			nl = p + strlen(p);
		log_error("-", "config %.*s", (int)(nl - p), p);
		p = *nl == '\0' ? nl : nl + 1;
	}
}

static void
reload(void)
{
	struct config	*ncfg;
	struct str	 errs;

	ncfg = xcalloc(1, sizeof(*ncfg));
	str_init(&errs, 0);
	if (config_load(ncfg, S.conf_path, &errs) == -1) {
		config_print_errors(&errs);
		log_error("-", "reload failed, keeping the old config");
		goto drop;
	}
	config_apply_log(ncfg, S.svc->name);
	if (S.svc->reload != NULL && S.svc->reload(ncfg, S.svc->data) == -1) {
		config_apply_log(S.cfg, S.svc->name);
		log_error("-", "reload refused, keeping the old config");
		goto drop;
	}
	config_release(S.cfg);
	free(S.cfg);
	S.cfg = ncfg;
	str_release(&errs);
	log_info("-", "reloaded config=%s", S.conf_path);
	return;
drop:
	config_release(ncfg);
	free(ncfg);
	str_release(&errs);
}

static void
signal_cb(int signo, void *arg)
{
	(void)arg;
	if (signo == SIGHUP) {
		if (!S.stopping)
			reload();
	} else
		service_stop();
}

static void
usage(const char *name)
{
	fprintf(stderr, "usage: %s -c FILE\n"
	    "Started by `buzon run`; listening sockets come in $%s.\n",
	    name, SERVICE_LISTEN_ENV);
}

static void
listeners_take(void)
{
	struct service_listener	 tmp[SERVICE_LISTEN_MAX];
	const char		*env = getenv(SERVICE_LISTEN_ENV);
	char			 err[128];
	struct stat		 st;
	size_t			 n, i;
	int			 on;
	socklen_t		 len;

	if (env == NULL)
		env = "";
	if (env[strspn(env, " \t")] != '\0' &&
	    (S.svc->accept == NULL || S.svc->listeners == NULL))
		fatalx("listeners given but the service takes no connections");
	if (service_listen_parse(env, S.svc->listeners, tmp,
	    SERVICE_LISTEN_MAX, &n, err, sizeof(err)) == -1)
		fatalx("bad $%s: %s", SERVICE_LISTEN_ENV, err);
	for (i = 0; i < n; i++) {
		on = 0;
		len = sizeof(on);
		if (fstat(tmp[i].fd, &st) == -1 || !S_ISSOCK(st.st_mode) ||
		    getsockopt(tmp[i].fd, SOL_SOCKET, SO_ACCEPTCONN, &on,
		    &len) == -1 || !on)
			fatalx("listener %s: fd %d is not a listening socket",
			    tmp[i].name, tmp[i].fd);
		if (net_set_nonblock(tmp[i].fd, true) == -1 ||
		    fcntl(tmp[i].fd, F_SETFD, FD_CLOEXEC) == -1)
			fatal("listener %s: fd %d", tmp[i].name, tmp[i].fd);
	}
	unsetenv(SERVICE_LISTEN_ENV);
	S.ls = xcalloc(n == 0 ? 1 : n, sizeof(*S.ls));
	for (i = 0; i < n; i++)
		S.ls[i].l = tmp[i];
	S.nls = n;
}

int
service_main(const struct service *svc, int argc, char **argv)
{
	const char	*conf = NULL;
	struct str	 errs;
	size_t		 i;
	int		 rc;

	log_init(svc->name, false, LOG_LEVEL_INFO);
	for (i = 1; i < (size_t)argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < (size_t)argc)
			conf = argv[++i];
		else {
			usage(svc->name);
			return 2;
		}
	}
	/* Parsing never runs as root (STYLE.md 3.7). */
	if (geteuid() == 0 || getuid() == 0)
		fatalx("refusing to run as root: start it with `buzon run`");
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		fatal("signal");

	memset(&S, 0, sizeof(S));
	S.svc = svc;
	S.conf_path = config_path(conf);
	S.cfg = xcalloc(1, sizeof(*S.cfg));
	str_init(&errs, 0);
	if (config_load(S.cfg, S.conf_path, &errs) == -1) {
		config_print_errors(&errs);
		fatalx("config %s is invalid", S.conf_path);
	}
	str_release(&errs);
	config_apply_log(S.cfg, svc->name);
	listeners_take();

	if ((S.loop = event_loop_new()) == NULL)
		fatal("event loop");
	if (event_signal_add(S.loop, SIGHUP, signal_cb, NULL) == -1 ||
	    event_signal_add(S.loop, SIGTERM, signal_cb, NULL) == -1 ||
	    event_signal_add(S.loop, SIGINT, signal_cb, NULL) == -1)
		fatal("signals");
	if (svc->init != NULL && svc->init(S.loop, S.cfg, svc->data) == -1)
		fatalx("initialisation failed");
	for (i = 0; i < S.nls; i++)
		if ((S.ls[i].io = event_io_add(S.loop, S.ls[i].l.fd,
		    EVENT_READ, accept_cb, &S.ls[i])) == NULL)
			fatal("listener %s", S.ls[i].l.name);
	log_info("-", "started listeners=%zu", S.nls);

	rc = event_loop_run(S.loop) == -1 ? EXIT_TEMPFAIL : 0;
	if (rc != 0)
		log_error("-", "event loop failed: %s", strerror(errno));
	listeners_close();
	event_timer_del(&S.stop_timer);
	event_loop_free(&S.loop);
	free(S.ls);
	config_release(S.cfg);
	free(S.cfg);
	memset(&S, 0, sizeof(S));
	return rc;
}
