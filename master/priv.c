/* SPDX-License-Identifier: MIT */
/*
 * priv.c - dropping root for good (Linux: prctl)
 */
#include <sys/prctl.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "master.h"
#include "str.h"

int
priv_lookup(const char *user, uid_t *uid_r, gid_t *gid_r, char *err,
    size_t errsize)
{
	struct passwd	*pw;

	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		if (errno != 0 && errno != ENOENT && errno != ESRCH)
			str_printf(err, errsize, "cannot look up user '%s': %s",
			    user, strerror(errno));
		else
			str_printf(err, errsize, "user '%s' does not exist: "
			    "create it with `useradd --system %s` or set user "
			    "in the config", user, user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		str_printf(err, errsize, "user '%s' is root: set user to an "
		    "unprivileged account", user);
		return -1;
	}
	*uid_r = pw->pw_uid;
	*gid_r = pw->pw_gid;
	return 0;
}

int
priv_drop(const char *user, char *err, size_t errsize)
{
	uid_t	 uid;
	gid_t	 gid;

	if (geteuid() == 0 || getuid() == 0) {
		if (priv_lookup(user, &uid, &gid, err, errsize) == -1)
			return -1;
		if (initgroups(user, gid) == -1 || setgid(gid) == -1 ||
		    setuid(uid) == -1) {
			str_printf(err, errsize, "cannot become user '%s': %s",
			    user, strerror(errno));
			return -1;
		}
		/* Verify: there must be no way back. */
		if (setuid(0) != -1 || geteuid() == 0 ||
		    (gid != 0 && getegid() == 0)) {
			str_printf(err, errsize, "still root after dropping "
			    "to '%s'", user);
			return -1;
		}
		/* No core files or ptrace of what root set up. */
		if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1) {
			str_printf(err, errsize, "prctl(PR_SET_DUMPABLE): %s",
			    strerror(errno));
			return -1;
		}
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		str_printf(err, errsize, "prctl(PR_SET_NO_NEW_PRIVS): %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}
