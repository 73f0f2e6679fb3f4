/* SPDX-License-Identifier: MIT */
/*
 * daemons_test.c - daemon table, program paths, restart backoff, state dirs
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "master.h"
#include "settings.h"

static char tmpdir[PATH_MAX];

static void
mktmp(void)
{
	str_copy(tmpdir, "/tmp/buzon-daemons-XXXXXX", sizeof(tmpdir));
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void
rmtmp(void)
{
	char	 cmd[PATH_MAX + 16];

	str_printf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	cr_assert_eq(system(cmd), 0);
}

Test(master, backoff_doubles_and_caps)
{
	cr_assert_eq(master_backoff(0, 0, 60000), 1000);
	cr_assert_eq(master_backoff(1000, 10, 60000), 2000);
	cr_assert_eq(master_backoff(2000, 10, 60000), 4000);
	cr_assert_eq(master_backoff(32000, 10, 60000), 60000);
	cr_assert_eq(master_backoff(60000, 10, 60000), 60000);
	cr_assert_eq(master_backoff(4000, 10, 3000), 3000);
	cr_assert_eq(master_backoff(0, 0, 500), 500);
	cr_assert_eq(master_backoff(UINT64_MAX, 0, 0), UINT64_MAX);
}

Test(master, backoff_resets_after_long_run)
{
	cr_assert_eq(master_backoff(32000, 59999, 60000), 60000);
	cr_assert_eq(master_backoff(32000, 60000, 60000), 1000);
	cr_assert_eq(master_backoff(8000, 3600000, 60000), 1000);
}

Test(master, daemon_table)
{
	const struct daemon_spec	*d = master_daemons;

	cr_assert_str_eq(d[0].prog, "buzon-smtpd");
	cr_assert_str_eq(d[0].listeners[0], "smtp");
	cr_assert_str_eq(d[0].listeners[2], "submissions");
	cr_assert_null(d[0].listeners[3]);
	cr_assert_str_eq(d[1].prog, "buzon-queued");
	cr_assert_null(d[1].listeners[0]);
	cr_assert_str_eq(d[2].prog, "buzon-pop3d");
	cr_assert_str_eq(d[3].prog, "buzon-imapd");
	cr_assert_str_eq(d[3].listeners[1], "imaps");
	cr_assert_str_eq(d[4].prog, "buzon-auth");
	cr_assert_null(d[4].listeners[0]);
	cr_assert_null(d[5].prog);
}

Test(master, listen_list)
{
	struct config	 cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.pop3s_listen.count = 7;
	cfg.smtp_listen.count = 3;
	cr_assert_eq(master_listen_list(&cfg, "pop3s")->count, 7);
	cr_assert_eq(master_listen_list(&cfg, "smtp")->count, 3);
	cr_assert_eq(master_listen_list(&cfg, "imap")->count, 0);
	cr_assert_null(master_listen_list(&cfg, "ftp"));
}

Test(master, daemon_dir_from_config)
{
	struct config	 cfg;
	char		 dir[PATH_MAX];
	bool		 bt = true;

	memset(&cfg, 0, sizeof(cfg));
	cfg.daemon_directory = (char *)(uintptr_t)"/opt/buzon/libexec";
	setenv("BUZON_LIBEXEC", "/env/dir", 1);
	cr_assert_eq(master_daemon_dir(&cfg, "/x/master/buzon", dir,
	    sizeof(dir), &bt), 0);
	cr_assert_str_eq(dir, "/opt/buzon/libexec");
	cr_assert_not(bt);
	cr_assert_eq(master_daemon_dir(&cfg, NULL, dir, 4, &bt), -1);
}

Test(master, daemon_dir_from_env)
{
	struct config	 cfg;
	char		 dir[PATH_MAX];
	bool		 bt;

	memset(&cfg, 0, sizeof(cfg));
	cfg.daemon_directory = (char *)(uintptr_t)"";
	setenv("BUZON_LIBEXEC", "/env/dir", 1);
	cr_assert_eq(master_daemon_dir(&cfg, "/usr/bin/buzon", dir,
	    sizeof(dir), &bt), 0);
	cr_assert_str_eq(dir, "/env/dir");
}

Test(master, daemon_dir_build_tree, .init = mktmp, .fini = rmtmp)
{
	struct config	 cfg;
	char		 dir[PATH_MAX], exe[PATH_MAX], sub[PATH_MAX];
	char		 path[PATH_MAX];
	bool		 bt;

	memset(&cfg, 0, sizeof(cfg));
	unsetenv("BUZON_LIBEXEC");
	str_printf(exe, sizeof(exe), "%s/master/buzon", tmpdir);
	/* No smtpd/ beside master/: the installed location. */
	cr_assert_eq(master_daemon_dir(&cfg, exe, dir, sizeof(dir), &bt), 0);
	cr_assert_str_eq(dir, PKGLIBEXECDIR);
	cr_assert_not(bt);

	str_printf(sub, sizeof(sub), "%s/smtpd", tmpdir);
	cr_assert_eq(mkdir(sub, 0700), 0);
	cr_assert_eq(master_daemon_dir(&cfg, exe, dir, sizeof(dir), &bt), 0);
	cr_assert_str_eq(dir, tmpdir);
	cr_assert(bt);
	cr_assert_eq(master_daemon_path(dir, bt, &master_daemons[1], path,
	    sizeof(path)), 0);
	str_printf(sub, sizeof(sub), "%s/queue/buzon-queued", tmpdir);
	cr_assert_str_eq(path, sub);

	/* Not in a master/ directory. */
	str_printf(exe, sizeof(exe), "%s/bin/buzon", tmpdir);
	cr_assert_eq(master_daemon_dir(&cfg, exe, dir, sizeof(dir), &bt), 0);
	cr_assert_str_eq(dir, PKGLIBEXECDIR);
	cr_assert_eq(master_daemon_dir(&cfg, "buzon", dir, sizeof(dir), &bt),
	    0);
	cr_assert_str_eq(dir, PKGLIBEXECDIR);
}

Test(master, daemon_path_installed)
{
	char	 path[PATH_MAX];

	cr_assert_eq(master_daemon_path("/usr/lib/buzon", false,
	    &master_daemons[0], path, sizeof(path)), 0);
	cr_assert_str_eq(path, "/usr/lib/buzon/buzon-smtpd");
	cr_assert_eq(master_daemon_path("/usr/lib/buzon", false,
	    &master_daemons[0], path, 10), -1);
}

Test(master, state_dirs, .init = mktmp, .fini = rmtmp)
{
	char		 state[PATH_MAX], p[PATH_MAX], err[256] = "";
	struct stat	 st;
	static const char *const subs[] = { "run", "log", "spool", "mail",
	    "maps", "tls" };

	umask(022);
	str_printf(state, sizeof(state), "%s/state", tmpdir);
	cr_assert_eq(master_state_dirs(state, (uid_t)-1, (gid_t)-1, err,
	    sizeof(err)), 0, "%s", err);
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		str_printf(p, sizeof(p), "%s/%s", state, subs[i]);
		cr_assert_eq(stat(p, &st), 0, "%s", p);
		cr_assert(S_ISDIR(st.st_mode));
		cr_assert_eq(st.st_mode & 07777, 0750);
	}
	/* Again: existing directories are fine. */
	cr_assert_eq(master_state_dirs(state, (uid_t)-1, (gid_t)-1, err,
	    sizeof(err)), 0);
}

Test(master, state_dirs_not_a_dir, .init = mktmp, .fini = rmtmp)
{
	char	 state[PATH_MAX], err[256] = "";
	FILE	*fp;

	str_printf(state, sizeof(state), "%s/file", tmpdir);
	cr_assert_not_null(fp = fopen(state, "w"));
	fclose(fp);
	cr_assert_eq(master_state_dirs(state, (uid_t)-1, (gid_t)-1, err,
	    sizeof(err)), -1);
	cr_assert(strstr(err, "cannot create") != NULL, "%s", err);
}

Test(master, priv_lookup_unknown_user)
{
	char	 err[256] = "";
	uid_t	 uid;
	gid_t	 gid;

	cr_assert_eq(priv_lookup("no-such-user-buzon-test", &uid, &gid, err,
	    sizeof(err)), -1);
	cr_assert(strstr(err, "useradd --system no-such-user-buzon-test") !=
	    NULL, "%s", err);
	cr_assert_eq(priv_lookup("root", &uid, &gid, err, sizeof(err)), -1);
	cr_assert(strstr(err, "is root") != NULL, "%s", err);
}
