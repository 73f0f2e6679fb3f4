/*
 * sandbox.h - confine a process to a list of paths (Linux Landlock)
 *
 * A daemon that has opened what it needs (TLS key in memory, listeners,
 * map handles) builds a sandbox, names the paths it may still reach and
 * with which rights, and applies it.  From then on an open() outside the
 * list fails with EACCES, in this process, every thread it starts later
 * and every program it executes.  The restriction never widens again: a
 * reload cannot reach a path the list left out (a new TLS key needs a
 * restart).
 *
 * Only the filesystem rights of Landlock ABI 1 and 2 are used (Debian 12's
 * kernel 6.1 has ABI 2; ABI 1 cannot rename across directories under a
 * sandbox, so it counts as "no sandbox").  The ABI is probed at run time.
 * Landlock binds only the calling thread and what it starts afterwards:
 * apply the sandbox before the process starts threads.  Apply also sets
 * PR_SET_NO_NEW_PRIVS (required by Landlock, and no set-uid program can
 * regain rights).
 *
 * A rule on a directory covers everything beneath it, including files
 * created later; a rule on a file covers that inode only (a file replaced
 * by rename() is a new inode and is not covered).  Paths missing when the
 * rule is added are left out (logged at debug), so optional files cost
 * nothing.
 */
#ifndef BUZON_SANDBOX_H
#define BUZON_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

#include "fail.h"

enum sandbox_mode {
	SANDBOX_OFF,		/* never restrict */
	SANDBOX_AUTO,		/* restrict when the kernel can, else warn */
	SANDBOX_REQUIRED	/* restrict or refuse to go on */
};

enum sandbox_right {
	SANDBOX_READ_FILE,	/* read this one file */
	SANDBOX_READ_TREE,	/* read files and list directories beneath */
	SANDBOX_EXEC_TREE,	/* as READ_TREE, and execute files beneath */
	SANDBOX_RW_TREE		/* read, write, create, remove, rename beneath */
};

#define SANDBOX_MAX_RULES	32

struct sandbox;

/* An empty list: applied as is, the process can open nothing at all. */
struct sandbox	*sandbox_new(void);
void		 sandbox_free(struct sandbox **);
/* Add path with right.  A path longer than PATH_MAX, an empty one or more
 * than SANDBOX_MAX_RULES rules make sandbox_apply() fail. */
void		 sandbox_allow(struct sandbox *, const char *path,
		    enum sandbox_right);

/* Apply the list to the calling process.  Returns 1 when the process is
 * now confined; 0 when it is not and mode allows that (SANDBOX_OFF, or
 * SANDBOX_AUTO on a kernel without Landlock ABI >= 2: a warning is
 * logged); -1 with f filled when mode is SANDBOX_REQUIRED and the kernel
 * cannot, or when a rule cannot be added (the process may then be half
 * restricted: give up).  who names the process in log lines. */
int		 sandbox_apply(struct sandbox *, enum sandbox_mode,
		    const char *who, struct fail *f)
		    __attribute__((warn_unused_result));

/* A file to read again after the sandbox is on (the config, which an
 * editor replaces by rename(), so no rule on its inode would last): call
 * before sandbox_apply().  A small helper process is forked that holds no
 * other fd; on each sandbox_open_kept() it opens that one path read-only
 * and passes the fd back.  It never reads client data and ends when this
 * process does.  0, or -1 (logged).  One file per process. */
int		 sandbox_keep_file(const char *path)
		    __attribute__((warn_unused_result));
/* open(path, O_RDONLY | O_CLOEXEC) through the helper when path is the
 * kept file, else open() itself.  The fd, or -1 with errno set. */
int		 sandbox_open_kept(const char *path);

/* The Landlock ABI version of the running kernel, 0 without Landlock. */
int		 sandbox_abi(void);
/* Parse "off" | "auto" | "required"; 0, or -1 for anything else. */
int		 sandbox_mode_parse(const char *, enum sandbox_mode *);
/* Has this process applied a sandbox (sandbox_apply() returned 1)? */
bool		 sandbox_is_active(void);

/* What a protocol daemon may read when sandboxed: the config file, the
 * maps directory and the libraries, resolver files and helper programs a
 * child it starts needs.  A helper for smtpd, queue and pop3d; add their
 * own directories after it. */
struct config;
void		 sandbox_allow_base(struct sandbox *, const struct config *);
/* The whole step for a daemon: the base list, read-write trees
 * STATE/rw[0], STATE/rw[1], ... (NULL-terminated), applied in the mode
 * of the `sandbox` key.  sandbox_apply()'s result; -1 is logged. */
int		 sandbox_daemon(const struct config *, const char *who,
		    const char *const *rw)
		    __attribute__((warn_unused_result));
/* The same, with read-only trees STATE/ro[0], ... (NULL-terminated, or
 * NULL) and one absolute read-only tree ro_abs (or NULL) besides. */
int		 sandbox_daemon_ro(const struct config *, const char *who,
		    const char *const *rw, const char *const *ro,
		    const char *ro_abs)
		    __attribute__((warn_unused_result));

#endif
