/*
 * master.h - the supervisor half of `buzon`: daemons, pid file, privileges
 *
 * Prototypes for master/ only.  Everything but main.c goes into
 * libmaster.a so the unit tests can link the helpers.
 */
#ifndef BUZON_MASTER_H
#define BUZON_MASTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "settings.h"

#define MASTER_LISTENER_MAX	3	/* listener kinds per daemon */
#define MASTER_FDS_MAX		16	/* sockets per listener kind */
#define MASTER_BACKOFF_MIN_MS	1000
/* A run this long resets the backoff. */
#define MASTER_BACKOFF_RESET_MS	60000

#ifndef PKGLIBEXECDIR
#define PKGLIBEXECDIR "/usr/local/libexec/buzon"
#endif

/* One daemon the supervisor starts: its program, and the listener kinds
 * (buzon.conf "NAME_listen") whose sockets it gets. */
struct daemon_spec {
	const char	*prog;			/* "buzon-smtpd" */
	const char	*builddir;	/* "smtpd": TOP/smtpd/buzon-smtpd */
	/* NULL-terminated */
	const char	*listeners[MASTER_LISTENER_MAX + 1];
};

extern const struct daemon_spec master_daemons[];	/* { NULL } ends it */

/* The configured host:port list for listener kind name ("smtp" ->
 * cfg->smtp_listen); NULL for an unknown name. */
const struct conf_list *master_listen_list(const struct config *,
	    const char *name);

/* The directory holding the daemon programs, written to buf: the config's
 * daemon_directory if set; else $BUZON_LIBEXEC if set; else, when self_exe
 * (normally /proc/self/exe) lives in TOP/master/ and TOP/smtpd exists, the
 * build tree "TOP" (and *is_build_tree_r is set: each program is then in
 * TOP/<builddir>/); else PKGLIBEXECDIR.  0, or -1 if it does not fit. */
int	 master_daemon_dir(const struct config *, const char *self_exe,
	    char *buf, size_t size, bool *is_build_tree_r);
/* Full path of one daemon's program. 0 or -1 (too long). */
int	 master_daemon_path(const char *dir, bool is_build_tree,
	    const struct daemon_spec *, char *buf, size_t size);

/* Delay before the next restart of a daemon that exited: prev_ms is the
 * delay used last time (0: none yet), ran_ms how long it ran.  1 s, doubled
 * each time, capped at max_ms; back to 1 s after a run of 60 s or more. */
uint64_t master_backoff(uint64_t prev_ms, uint64_t ran_ms, uint64_t max_ms);

/*
 * The pid file is "PID\n".  It is linked into place already locked and
 * written (never over a live one) and held under an flock() for as long
 * as the supervisor runs: a file nobody holds is stale (a crash, or the
 * pid was reused) and is replaced.
 */
/* Create path for this process.  Returns the locked fd (keep it open; it
 * is close-on-exec), -2 with *other_r set if a live instance holds it, or
 * -1 with errno. */
int	 pidfile_create(const char *path, pid_t *other_r);
/* Is an instance running?  1 with *pid_r set, 0 if not (no file, or a
 * stale one), -1 on error (errno). */
int	 pidfile_running(const char *path, pid_t *pid_r);
/* Remove the file if it still names this process. */
void	 pidfile_remove(const char *path, int fd);

/* Make state_dir and its subdirectories run/ log/ spool/ mail/ maps/ tls/
 * (mode 0750).  With uid != (uid_t)-1, chown what it creates.  0, or -1
 * with a message in err. */
int	 master_state_dirs(const char *state_dir, uid_t uid, gid_t gid,
	    char *err, size_t errsize);

/* Look up user: 0 with ids set, -1 with a message in err naming the fix. */
int	 priv_lookup(const char *user, uid_t *uid_r, gid_t *gid_r, char *err,
	    size_t errsize);
/* Running as root: become user for good (setgroups, setgid, setuid,
 * verified) and not dumpable.  Not root: nothing.  Then
 * PR_SET_NO_NEW_PRIVS.  0 or -1 with err. */
int	 priv_drop(const char *user, char *err, size_t errsize);

/*
 * The supervisor proper (supervisor.c).  master_run() does what
 * `buzon run` does; with ready_fd >= 0 it writes "ok\n" there once the
 * listeners are bound and the daemons started, or "error: MESSAGE\n" when
 * it cannot start, and closes it (`buzon start` waits on the other end).
 * Returns the exit code.
 */
int	 master_run(const char *conf_path, int ready_fd);

/* `buzon init [--demo] [--force] DIR`: create the instance in dir and
 * write the path of its buzon.conf (absolute) to conf_r.  Messages go to
 * stdout, errors to stderr.  Returns the exit code. */
int	 master_init(const char *dir, bool demo, bool force, char *conf_r,
	    size_t size);

/*
 * The copy of the daemons' log into trace_log (logtee.c).  logtee_start()
 * opens path (nothing when empty) and the pipe the daemons get as stderr:
 * 0, or -1 with err set.  logtee_child_fd() is that pipe's write end (-1:
 * none).  logtee_attach() copies the pipe from the loop on; logtee_reopen()
 * opens the file again (reload, after a rotation); logtee_stop() copies
 * what is left and closes everything.
 */
struct event_loop;
int	 logtee_start(const char *path, char *err, size_t errsize);
int	 logtee_child_fd(void);
int	 logtee_attach(struct event_loop *);
void	 logtee_reopen(const char *path);
void	 logtee_stop(void);

/* "STATE/run/status", the file `buzon status` prints. */
int	 master_status_path(const struct config *, char *buf, size_t size);

#endif
