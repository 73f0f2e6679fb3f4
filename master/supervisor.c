/* SPDX-License-Identifier: MIT */
/*
 * supervisor.c - `buzon run`: bind, drop root, start the daemons, restart
 * the ones that die, pass SIGHUP on, stop them all on SIGTERM
 *
 * STATE/run/status is rewritten (temp file + rename) at every change:
 *
 *	master pid=PID started=EPOCH config=PATH
 *	daemon=buzon-smtpd pid=PID state=running started=EPOCH restarts=N
 *
 * state is running, waiting (restart pending), absent (no program) or
 * stopped; pid is 0 when there is no process.
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "accounts_config.h"
#include "event.h"
#include "fail.h"
#include "log.h"
#include "master.h"
#include "mem.h"
#include "net.h"
#include "settings.h"
#include "str.h"

#define LISTEN_BACKLOG	128

enum child_state {
	CHILD_ABSENT,		/* no program: skipped */
	CHILD_RUNNING,
	CHILD_WAITING,		/* exited, restart timer armed */
	CHILD_STOPPED,
};

static const char *const child_state_names[] = {
	"absent", "running", "waiting", "stopped"
};

struct listener {
	const char	*name;
	int		 fds[MASTER_FDS_MAX];
	size_t		 nfds;
};

struct child {
	const struct daemon_spec *spec;
	char			 path[PATH_MAX];
	enum child_state	 state;
	pid_t			 pid;
	uint64_t		 started_ms;	/* monotonic: backoff */
	time_t			 started;	/* wall clock: status */
	unsigned int		 restarts;
	uint64_t		 backoff_ms;
	struct event_timer	*timer;
	struct listener		 ls[MASTER_LISTENER_MAX];
	size_t			 nls;
	bool			 skip_logged;
	int			 go_fd;	/* see child_start() */
};

static struct {
	struct config		*cfg;
	const char		*conf_path;
	struct event_loop	*loop;
	struct child		*children;
	size_t			 nchildren;
	int			 pid_fd;
	int			 ready_fd;
	bool			 starting;
	bool			 stopping;
	uint64_t		 stop_deadline;
	struct event_timer	*stop_timer;
	time_t			 started;
	pid_t			 master_pid;
	char			 fail_msg[1024];	/* for `start` */
} M;

static void	child_start(struct child *);

/* An error before the loop runs: to stderr (or the log) and to `start`. */
static int
run_fail(const char *fmt, ...)
{
	char	 msg[sizeof(M.fail_msg)];
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (M.ready_fd == -1) {
		/* Foreground: a command-line error, not a log line. */
		fprintf(stderr, "buzon: %s\n", msg);
		return 1;
	}
	/* `start` hears of it from master_run() once the sockets are
	 * closed again, so its caller never sees them half-bound. */
	log_error("-", "%s", msg);
	if (M.fail_msg[0] == '\0')
		str_copy(M.fail_msg, msg, sizeof(M.fail_msg));
	return 1;
}

static void
ready_report(void)
{
	char	 line[sizeof(M.fail_msg) + 16];
	int	 len;

	if (M.ready_fd == -1)
		return;
	len = snprintf(line, sizeof(line), "error: %s\n", M.fail_msg[0] ?
	    M.fail_msg : "failed to start");
	if (len > 0)
		(void)!write(M.ready_fd, line, (size_t)len < sizeof(line) ?
		    (size_t)len : sizeof(line) - 1);
	close(M.ready_fd);
	M.ready_fd = -1;
}

int
master_status_path(const struct config *cfg, char *buf, size_t size)
{
	return str_printf(buf, size, "%s/run/status", cfg->state_dir) ? 0 : -1;
}

static void
status_write(void)
{
	char		 path[PATH_MAX], tmp[PATH_MAX + 8];
	struct str	 s;
	size_t		 i;
	int		 fd;
	bool		 ok = true;

	if (M.starting)		/* written once all have started */
		return;
	if (master_status_path(M.cfg, path, sizeof(path)) == -1 ||
	    !str_printf(tmp, sizeof(tmp), "%s.tmp", path))
		return;
	str_init(&s, 0);
	ok = str_appendf(&s, "master pid=%ld started=%lld config=%s\n",
	    (long)getpid(), (long long)M.started, M.conf_path) == 0;
	for (i = 0; ok && i < M.nchildren; i++) {
		struct child *c = &M.children[i];

		ok = str_appendf(&s, "daemon=%s pid=%ld state=%s started=%lld "
		    "restarts=%u\n", c->spec->prog, (long)c->pid,
		    child_state_names[c->state], (long long)c->started,
		    c->restarts) == 0;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    0644);
	if (fd == -1 || !ok || write(fd, str_c(&s), s.len) != (ssize_t)s.len ||
	    close(fd) == -1 || rename(tmp, path) == -1) {
		log_warn("-", "cannot write %s: %s", path, strerror(errno));
		if (fd != -1)
			(void)unlink(tmp);
	}
	str_release(&s);
}

/* Bind every listener of every daemon whose program exists. */
static int
children_setup(void)
{
	const struct daemon_spec	*d;
	const struct conf_list		*list;
	struct child			*c;
	struct listener			*l;
	struct fail			 f;
	char				 dir[PATH_MAX], self[PATH_MAX];
	ssize_t				 n;
	size_t				 i, j;
	bool				 build_tree;

	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) == -1)
		n = 0;
	self[n] = '\0';
	if (master_daemon_dir(M.cfg, self, dir, sizeof(dir), &build_tree) == -1)
		return run_fail("daemon directory: path too long");
	for (d = master_daemons; d->prog != NULL; d++)
		M.nchildren++;
	M.children = xcalloc(M.nchildren, sizeof(*M.children));
	for (i = 0; i < M.nchildren; i++) {
		c = &M.children[i];
		c->spec = d = &master_daemons[i];
		c->state = CHILD_STOPPED;
		c->go_fd = -1;
		if (master_daemon_path(dir, build_tree, d, c->path,
		    sizeof(c->path)) == -1)
			return run_fail("%s: path too long", d->prog);
		if (access(c->path, X_OK) == -1) {
			c->state = CHILD_ABSENT;
			continue;
		}
		for (j = 0; d->listeners[j] != NULL; j++) {
			list = master_listen_list(M.cfg, d->listeners[j]);
			if (list == NULL || list->count == 0)
				continue;	/* service off */
			l = &c->ls[c->nls++];
			l->name = d->listeners[j];
			for (size_t k = 0; k < list->count; k++) {
				if (net_listen(list->items[k], LISTEN_BACKLOG,
				    l->fds, MASTER_FDS_MAX, &l->nfds, &f) == -1)
					return run_fail("%s (%s_listen)",
					    f.text, l->name);
			}
		}
	}
	return 0;
}

/* After dropping root: a program root could run but the user cannot
 * (a build tree under a private home) would only crash-loop. */
static void
children_recheck(void)
{
	struct child	*c;
	size_t		 i, j, k;

	for (i = 0; i < M.nchildren; i++) {
		c = &M.children[i];
		if (c->state == CHILD_ABSENT || access(c->path, X_OK) == 0)
			continue;
		log_warn("-", "daemon=%s skipped: %s is not executable by "
		    "user %s: %s", c->spec->prog, c->path, M.cfg->user,
		    strerror(errno));
		c->state = CHILD_ABSENT;
		c->skip_logged = true;
		for (j = 0; j < c->nls; j++)
			for (k = 0; k < c->ls[j].nfds; k++)
				close(c->ls[j].fds[k]);
		c->nls = 0;
	}
}

/* In the child: listening fds to 3.., $BUZON_LISTEN, exec. */
static void __attribute__((noreturn))
child_exec(struct child *c)
{
	struct str	 env;
	int		 tmp[MASTER_LISTENER_MAX * MASTER_FDS_MAX];
	size_t		 i, j, n = 0;
	char		*argv[4];
	sigset_t	 hup;

	str_init(&env, 0);
	/* First dup above every target, so no dup2() clobbers a source. */
	for (i = 0; i < c->nls; i++)
		for (j = 0; j < c->ls[i].nfds; j++) {
			tmp[n] = fcntl(c->ls[i].fds[j], F_DUPFD_CLOEXEC,
			    3 + MASTER_LISTENER_MAX * MASTER_FDS_MAX);
			if (tmp[n] == -1 || str_appendf(&env, "%s%s:%zu",
			    n == 0 ? "" : " ", c->ls[i].name, 3 + n) == -1)
				goto fail;
			n++;
		}
	for (i = 0; i < n; i++)		/* dup2() clears CLOEXEC */
		if (dup2(tmp[i], (int)(3 + i)) == -1)
			goto fail;
	if (setenv("BUZON_LISTEN", str_c(&env), 1) == -1)
		goto fail;
	if (logtee_child_fd() != -1 &&
	    dup2(logtee_child_fd(), STDERR_FILENO) == -1)
		goto fail;
	if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) == -1)
		goto fail;
	if (getppid() != M.master_pid)	/* it died before prctl() */
		_exit(0);
	/* What event_signal_reset_child() does, but in one step that keeps
	 * SIGHUP blocked: a reload signalled before the daemon's loop is up
	 * (even before this line runs) must wait for it, not kill it.  It
	 * stays pending across exec, and service_main() takes it from its
	 * signalfd. */
	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	if (sigprocmask(SIG_SETMASK, &hup, NULL) == -1)
		goto fail;
	(void)signal(SIGPIPE, SIG_DFL);
	argv[0] = (char *)(uintptr_t)c->spec->prog;
	argv[1] = (char *)(uintptr_t)"-c";
	argv[2] = M.cfg->path;
	argv[3] = NULL;
	execv(c->path, argv);
fail:
	fprintf(stderr, "buzon: daemon=%s cannot start: %s\n", c->spec->prog,
	    strerror(errno));
	_exit(127);
}

/* Write the status, then let the children started since go. */
static void
children_go(void)
{
	size_t	 i;

	status_write();
	for (i = 0; i < M.nchildren; i++)
		if (M.children[i].go_fd != -1) {
			close(M.children[i].go_fd);
			M.children[i].go_fd = -1;
		}
}

static void
child_restart_cb(void *arg)
{
	struct child	*c = arg;

	c->timer = NULL;
	if (M.stopping)
		return;
	c->restarts++;
	child_start(c);
}

static void
child_start(struct child *c)
{
	pid_t	 pid;
	int	 go[2];
	char	 b;

	/* The child waits on go until its pid is in the status file, so
	 * whoever talks to the daemon finds it in `buzon status`. */
	pid = -1;
	if (pipe2(go, O_CLOEXEC) == 0 && (pid = fork()) == -1) {
		close(go[0]);
		close(go[1]);
	}
	if (pid == -1) {
		log_error("-", "daemon=%s fork failed: %s", c->spec->prog,
		    strerror(errno));
		c->state = CHILD_WAITING;
		c->backoff_ms = master_backoff(c->backoff_ms, 0,
		    M.cfg->restart_delay_max);
		c->timer = event_timer_add(M.loop, c->backoff_ms,
		    child_restart_cb, c);
		status_write();
		return;
	}
	if (pid == 0) {
		close(go[1]);
		while (read(go[0], &b, 1) == -1 && errno == EINTR)
			continue;
		close(go[0]);
		child_exec(c);
	}
	close(go[0]);
	c->go_fd = go[1];
	c->pid = pid;
	c->state = CHILD_RUNNING;
	c->started_ms = event_now_ms(M.loop);
	c->started = time(NULL);
	log_info("-", "daemon=%s pid=%ld started", c->spec->prog, (long)pid);
	if (!M.starting)
		children_go();
}

static void
exit_describe(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		str_printf(buf, size, "status=%d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		str_printf(buf, size, "signal=%d", WTERMSIG(status));
	else
		str_printf(buf, size, "wait=%d", status);
}

static bool
children_alive(void)
{
	size_t	 i;

	for (i = 0; i < M.nchildren; i++)
		if (M.children[i].pid != 0)
			return true;
	return false;
}

static void
reap(void)
{
	struct child	*c;
	char		 how[32];
	uint64_t	 ran;
	pid_t		 pid;
	size_t		 i;
	int		 status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0, c = NULL; i < M.nchildren; i++)
			if (M.children[i].pid == pid)
				c = &M.children[i];
		if (c == NULL)
			continue;
		exit_describe(status, how, sizeof(how));
		c->pid = 0;
		if (M.stopping) {
			log_info("-", "daemon=%s pid=%ld exited %s",
			    c->spec->prog, (long)pid, how);
			c->state = CHILD_STOPPED;
			continue;
		}
		ran = event_now_ms(M.loop) - c->started_ms;
		c->backoff_ms = master_backoff(c->backoff_ms, ran,
		    M.cfg->restart_delay_max);
		log_warn("-", "daemon=%s pid=%ld exited %s, restarting in "
		    "%llu%s", c->spec->prog, (long)pid, how,
		    (unsigned long long)(c->backoff_ms % 1000 == 0 ?
		    c->backoff_ms / 1000 : c->backoff_ms),
		    c->backoff_ms % 1000 == 0 ? "s" : "ms");
		c->state = CHILD_WAITING;
		c->timer = event_timer_add(M.loop, c->backoff_ms,
		    child_restart_cb, c);
	}
	status_write();
	if (M.stopping && !children_alive())
		event_loop_break(M.loop);
}

static void
signal_children(int signo)
{
	size_t	 i;

	for (i = 0; i < M.nchildren; i++)
		if (M.children[i].pid != 0)
			(void)kill(M.children[i].pid, signo);
}

static void
stop_timeout(void *arg)
{
	(void)arg;
	M.stop_timer = NULL;
	if (children_alive()) {
		log_warn("-", "shutdown grace expired, killing what is left");
		signal_children(SIGKILL);
	}
	event_loop_break(M.loop);
}

static bool
listeners_changed(const struct config *a, const struct config *b)
{
	static const char *const names[] = { "smtp", "submission",
	    "submissions", "pop3", "pop3s", "imap", "imaps", NULL };
	const struct conf_list	*x, *y;
	size_t			 i, j;

	for (i = 0; names[i] != NULL; i++) {
		x = master_listen_list(a, names[i]);
		y = master_listen_list(b, names[i]);
		if (x->count != y->count)
			return true;
		for (j = 0; j < x->count; j++)
			if (strcmp(x->items[j], y->items[j]) != 0)
				return true;
	}
	return false;
}

static void
reload(void)
{
	struct config	*ncfg;
	struct str	 errs;
	const char	*p, *nl;

	ncfg = xcalloc(1, sizeof(*ncfg));
	str_init(&errs, 0);
	if (config_load(ncfg, M.conf_path, &errs) == -1) {
		for (p = str_c(&errs); *p != '\0'; p = *nl ? nl + 1 : nl) {
			if ((nl = strchr(p, '\n')) == NULL)
				nl = p + strlen(p);
			log_error("-", "config %.*s", (int)(nl - p), p);
		}
		log_error("-", "reload failed, keeping the old config");
		config_release(ncfg);
		free(ncfg);
		str_release(&errs);
		return;
	}
	str_release(&errs);
	config_apply_log(ncfg, "buzon");
	logtee_reopen(ncfg->trace_log);
	if (listeners_changed(M.cfg, ncfg))
		log_warn("-", "listener addresses changed: they take effect "
		    "at the next restart (buzon stop; buzon start)");
	/* Sockets, state_dir and user stay as bound and dropped; the rest
	 * (restart_delay_max, shutdown_grace, log) follows the new file. */
	config_release(M.cfg);
	free(M.cfg);
	M.cfg = ncfg;
	log_info("-", "reloaded config=%s, signalling daemons", M.conf_path);
	signal_children(SIGHUP);
}

static void
stop(int signo)
{
	if (M.stopping)
		return;
	M.stopping = true;
	log_info("-", "stopping on signal %d", signo);
	for (size_t i = 0; i < M.nchildren; i++)
		event_timer_del(&M.children[i].timer);
	signal_children(SIGTERM);
	if (!children_alive()) {
		event_loop_break(M.loop);
		return;
	}
	M.stop_timer = event_timer_add(M.loop, M.cfg->shutdown_grace,
	    stop_timeout, NULL);
}

static void
signal_cb(int signo, void *arg)
{
	(void)arg;
	switch (signo) {
	case SIGCHLD:
		reap();
		break;
	case SIGHUP:
		if (!M.stopping)
			reload();
		break;
	default:
		stop(signo);
		break;
	}
}

static void
listeners_close(void)
{
	size_t	 i, j, k;

	for (i = 0; i < M.nchildren; i++)
		for (j = 0; j < M.children[i].nls; j++)
			for (k = 0; k < M.children[i].ls[j].nfds; k++)
				close(M.children[i].ls[j].fds[k]);
}

/* What children_setup() did, logged once start-up cannot fail any more
 * (so a failed start prints only its reason). */
static void
setup_log(void)
{
	const struct conf_list	*list;
	struct child		*c;
	size_t			 i, j, k;

	for (i = 0; i < M.nchildren; i++) {
		c = &M.children[i];
		if (c->state == CHILD_ABSENT) {
			if (!c->skip_logged)
				log_info("-", "daemon=%s skipped: no program "
				    "at %s", c->spec->prog, c->path);
			continue;
		}
		for (j = 0; j < c->nls; j++) {
			list = master_listen_list(M.cfg, c->ls[j].name);
			for (k = 0; list != NULL && k < list->count; k++)
				log_info("-", "listening name=%s address=%s",
				    c->ls[j].name, list->items[k]);
		}
	}
}

static int
run_loop(void)
{
	size_t	 i;
	int	 rc = 0;

	if ((M.loop = event_loop_new()) == NULL)
		return run_fail("event loop: %s", strerror(errno));
	if (event_signal_add(M.loop, SIGCHLD, signal_cb, NULL) == -1 ||
	    event_signal_add(M.loop, SIGHUP, signal_cb, NULL) == -1 ||
	    event_signal_add(M.loop, SIGTERM, signal_cb, NULL) == -1 ||
	    event_signal_add(M.loop, SIGINT, signal_cb, NULL) == -1)
		return run_fail("signals: %s", strerror(errno));
	if (logtee_attach(M.loop) == -1)
		return run_fail("trace_log: %s", strerror(errno));
	setup_log();
	M.starting = true;
	for (i = 0; i < M.nchildren; i++)
		if (M.children[i].state != CHILD_ABSENT)
			child_start(&M.children[i]);
	M.starting = false;
	children_go();
	log_info("-", "ready pid=%ld", (long)getpid());
	if (M.ready_fd != -1) {
		(void)!write(M.ready_fd, "ok\n", 3);
		close(M.ready_fd);
		M.ready_fd = -1;
	}
	if (event_loop_run(M.loop) == -1) {
		log_error("-", "event loop failed: %s", strerror(errno));
		signal_children(SIGKILL);
		rc = 1;
	}
	/* Collect what the loop did not (SIGKILLed after the grace). */
	while (children_alive() && waitpid(-1, NULL, 0) > 0)
		reap();
	event_timer_del(&M.stop_timer);
	for (i = 0; i < M.nchildren; i++)
		event_timer_del(&M.children[i].timer);
	logtee_stop();		/* what the daemons wrote last, then close */
	event_loop_free(&M.loop);
	return rc;
}

/* Users records written before the passwd map existed still carry their
 * hash; move them into it once, as the buzon user, before any daemon
 * reads the maps.  A failure is logged: buzon-auth still reads such a
 * record's hash where it is. */
static void
secrets_migrate(const struct config *cfg)
{
	struct accounts_conf ac;
	unsigned int	 n;
	char		 err[512];

	accounts_config(cfg, &ac);
	if (accounts_secrets_migrate(&ac, &n, err, sizeof(err)) == -1)
		log_warn("-", "passwords left in the users map: %s", err);
	else if (n > 0)
		log_info("-", "moved the passwords of %u users from the users "
		    "map to the passwd map", n);
}

int
master_run(const char *conf_path, int ready_fd)
{
	struct str	 errs;
	char		 err[512];
	uid_t		 uid = (uid_t)-1;
	gid_t		 gid = (gid_t)-1;
	pid_t		 other;
	sigset_t	 early;
	int		 rc;

	/* Hold the signals the loop will take: a reload or stop sent as soon
	 * as the pid file appears must wait for the loop, not kill us. */
	sigemptyset(&early);
	sigaddset(&early, SIGHUP);
	sigaddset(&early, SIGTERM);
	sigaddset(&early, SIGINT);
	sigaddset(&early, SIGCHLD);
	(void)sigprocmask(SIG_BLOCK, &early, NULL);

	memset(&M, 0, sizeof(M));
	M.ready_fd = ready_fd;
	M.pid_fd = -1;
	M.conf_path = conf_path;
	M.started = time(NULL);
	M.master_pid = getpid();
	M.cfg = xcalloc(1, sizeof(*M.cfg));
	str_init(&errs, 0);
	if (config_load(M.cfg, conf_path, &errs) == -1) {
		fputs(str_c(&errs), stderr);
		rc = run_fail("config %s is invalid", conf_path);
		goto out;
	}
	/* Start-up errors go to stderr; the configured log from the loop on. */
	if (pidfile_running(M.cfg->pid_file, &other) == 1) {
		rc = run_fail("already running (pid %ld, %s)", (long)other,
		    M.cfg->pid_file);
		goto out;
	}
	if (geteuid() == 0 &&
	    priv_lookup(M.cfg->user, &uid, &gid, err, sizeof(err)) == -1) {
		rc = run_fail("%s", err);
		goto out;
	}
	if (master_state_dirs(M.cfg->state_dir, uid, gid, err,
	    sizeof(err)) == -1) {
		rc = run_fail("%s", err);
		goto out;
	}
	if ((rc = children_setup()) != 0)
		goto out;
	if (priv_drop(M.cfg->user, err, sizeof(err)) == -1) {
		rc = run_fail("%s", err);
		goto out;
	}
	children_recheck();
	if ((M.pid_fd = pidfile_create(M.cfg->pid_file, &other)) < 0) {
		if (M.pid_fd == -2)
			rc = run_fail("already running (pid %ld, %s)",
			    (long)other, M.cfg->pid_file);
		else
			rc = run_fail("cannot create %s: %s", M.cfg->pid_file,
			    strerror(errno));
		M.pid_fd = -1;
		goto out;
	}
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		rc = run_fail("signal: %s", strerror(errno));
		goto out;
	}
	config_apply_log(M.cfg, "buzon");
	if (logtee_start(M.cfg->trace_log, err, sizeof(err)) == -1) {
		rc = run_fail("%s", err);
		goto out;
	}
	secrets_migrate(M.cfg);
	rc = run_loop();
	log_info("-", "stopped");
out:
	listeners_close();
	if (M.pid_fd != -1) {
		char	 st[PATH_MAX];

		if (master_status_path(M.cfg, st, sizeof(st)) == 0)
			(void)unlink(st);
		pidfile_remove(M.cfg->pid_file, M.pid_fd);
	}
	ready_report();		/* only still open if start-up failed */
	free(M.children);
	config_release(M.cfg);
	free(M.cfg);
	str_release(&errs);
	memset(&M, 0, sizeof(M));
	return rc;
}
