/* SPDX-License-Identifier: MIT */
/*
 * daemons.c - which daemons the supervisor starts, where their programs
 * live, and how long to wait before restarting one
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "master.h"
#include "settings.h"
#include "str.h"

const struct daemon_spec master_daemons[] = {
	{ "buzon-smtpd", "smtpd",
	    { "smtp", "submission", "submissions", NULL } },
	{ "buzon-queued", "queue", { NULL } },
	{ "buzon-pop3d", "pop3d", { "pop3", "pop3s", NULL } },
	{ "buzon-imapd", "imapd", { "imap", "imaps", NULL } },
	/* The password checker: no listener, its own unix socket. */
	{ "buzon-auth", "auth", { NULL } },
	{ NULL, NULL, { NULL } }
};

const struct conf_list *
master_listen_list(const struct config *cfg, const char *name)
{
	static const struct {
		const char	*name;
		size_t		 off;
	} map[] = {
		{ "smtp", offsetof(struct config, smtp_listen) },
		{ "submission", offsetof(struct config, submission_listen) },
		{ "submissions", offsetof(struct config, submissions_listen) },
		{ "pop3", offsetof(struct config, pop3_listen) },
		{ "pop3s", offsetof(struct config, pop3s_listen) },
		{ "imap", offsetof(struct config, imap_listen) },
		{ "imaps", offsetof(struct config, imaps_listen) },
	};
	size_t	 i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].name, name) == 0)
			return (const struct conf_list *)(const void *)
			    ((const char *)cfg + map[i].off);
	return NULL;
}

static bool
is_dir(const char *path)
{
	struct stat	 st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int
master_daemon_dir(const struct config *cfg, const char *self_exe, char *buf,
    size_t size, bool *is_build_tree_r)
{
	const char	*env, *slash;
	char		 top[4096], probe[4200];
	size_t		 len;

	*is_build_tree_r = false;
	if (cfg->daemon_directory != NULL && cfg->daemon_directory[0] != '\0')
		return str_copy(buf, cfg->daemon_directory, size) ? 0 : -1;
	if ((env = getenv("BUZON_LIBEXEC")) != NULL && env[0] != '\0')
		return str_copy(buf, env, size) ? 0 : -1;
	/* Running from the build tree: TOP/master/buzon. */
	if (self_exe != NULL && (slash = strrchr(self_exe, '/')) != NULL) {
		len = (size_t)(slash - self_exe);
		if (len >= 7 && len < sizeof(top) &&
		    memcmp(slash - 7, "/master", 7) == 0) {
			memcpy(top, self_exe, len - 7);
			top[len - 7] = '\0';
			if (str_printf(probe, sizeof(probe), "%s/smtpd", top) &&
			    is_dir(probe)) {
				*is_build_tree_r = true;
				return str_copy(buf, top[0] == '\0' ? "/" : top,
				    size) ? 0 : -1;
			}
		}
	}
	return str_copy(buf, PKGLIBEXECDIR, size) ? 0 : -1;
}

int
master_daemon_path(const char *dir, bool is_build_tree,
    const struct daemon_spec *d, char *buf, size_t size)
{
	bool	 ok;

	if (is_build_tree)
		ok = str_printf(buf, size, "%s/%s/%s", dir, d->builddir,
		    d->prog);
	else
		ok = str_printf(buf, size, "%s/%s", dir, d->prog);
	return ok ? 0 : -1;
}

uint64_t
master_backoff(uint64_t prev_ms, uint64_t ran_ms, uint64_t max_ms)
{
	uint64_t	 d;

	if (prev_ms == 0 || ran_ms >= MASTER_BACKOFF_RESET_MS)
		d = MASTER_BACKOFF_MIN_MS;
	else if (prev_ms > UINT64_MAX / 2)
		d = UINT64_MAX;
	else
		d = prev_ms * 2;
	if (max_ms != 0 && d > max_ms)
		d = max_ms;
	return d;
}

int
master_state_dirs(const char *state_dir, uid_t uid, gid_t gid, char *err,
    size_t errsize)
{
	static const char *const subdirs[] = {
		"", "/run", "/log", "/spool", "/mail", "/maps", "/tls",
		"/auth", NULL
	};
	char	 path[4096];
	size_t	 i;

	for (i = 0; subdirs[i] != NULL; i++) {
		if (!str_printf(path, sizeof(path), "%s%s", state_dir,
		    subdirs[i])) {
			str_printf(err, errsize, "%s: path too long",
			    state_dir);
			return -1;
		}
		/* auth/ holds the passwd map: its owner (buzon-auth's
		 * user) alone enters it. */
		if (mkdir(path, strcmp(subdirs[i], "/auth") == 0 ? 0700 :
		    0750) == -1) {
			if (errno == EEXIST && is_dir(path))
				continue;
			str_printf(err, errsize, "cannot create %s: %s", path,
			    strerror(errno));
			return -1;
		}
		if (uid != (uid_t)-1 && chown(path, uid, gid) == -1) {
			str_printf(err, errsize, "cannot chown %s: %s", path,
			    strerror(errno));
			return -1;
		}
	}
	return 0;
}
