/* SPDX-License-Identifier: MIT */
/*
 * pidfile_test.c - one supervisor at a time; stale files are replaced
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "master.h"

static char tmpdir[PATH_MAX], pidpath[PATH_MAX];

static void
mktmp(void)
{
	str_copy(tmpdir, "/tmp/buzon-pidfile-XXXXXX", sizeof(tmpdir));
	cr_assert_not_null(mkdtemp(tmpdir));
	str_printf(pidpath, sizeof(pidpath), "%s/buzon.pid", tmpdir);
}

static void
rmtmp(void)
{
	char	 cmd[PATH_MAX + 16];

	str_printf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	cr_assert_eq(system(cmd), 0);
}

static void
write_file(const char *text)
{
	FILE	*fp = fopen(pidpath, "w");

	cr_assert_not_null(fp);
	fputs(text, fp);
	fclose(fp);
}

TestSuite(pidfile, .init = mktmp, .fini = rmtmp);

Test(pidfile, none_is_not_running)
{
	pid_t	 pid = 7;

	cr_assert_eq(pidfile_running(pidpath, &pid), 0);
	cr_assert_eq(pid, 7);
}

Test(pidfile, create_holds_and_removes)
{
	char	 buf[32] = "";
	pid_t	 pid = 0, other;
	int	 fd;
	FILE	*fp;

	cr_assert_geq(fd = pidfile_create(pidpath, &other), 0);
	cr_assert_not_null(fp = fopen(pidpath, "r"));
	cr_assert_not_null(fgets(buf, sizeof(buf), fp));
	fclose(fp);
	cr_assert_eq(strtol(buf, NULL, 10), getpid());
	/* Our own lock is another open file description: it counts as held. */
	cr_assert_eq(pidfile_running(pidpath, &pid), 1);
	cr_assert_eq(pid, getpid());
	cr_assert_eq(pidfile_create(pidpath, &other), -2);
	cr_assert_eq(other, getpid());
	pidfile_remove(pidpath, fd);
	cr_assert_eq(access(pidpath, F_OK), -1);
	cr_assert_eq(pidfile_running(pidpath, &pid), 0);
}

Test(pidfile, stale_is_replaced)
{
	pid_t	 pid = 0, other;
	int	 fd;

	/* A live pid (init) but nobody holds the lock: a crash, pid reused. */
	write_file("1\n");
	cr_assert_eq(pidfile_running(pidpath, &pid), 0);
	cr_assert_geq(fd = pidfile_create(pidpath, &other), 0);
	cr_assert_eq(pidfile_running(pidpath, &pid), 1);
	cr_assert_eq(pid, getpid());
	pidfile_remove(pidpath, fd);
}

Test(pidfile, garbage_is_stale)
{
	pid_t	 pid, other;
	int	 fd;

	write_file("not a pid\n");
	cr_assert_eq(pidfile_running(pidpath, &pid), 0);
	cr_assert_geq(fd = pidfile_create(pidpath, &other), 0);
	pidfile_remove(pidpath, fd);
}

Test(pidfile, held_by_another_process)
{
	pid_t	 child, pid = 0, other = 0;
	int	 p[2], fd;
	char	 c;

	cr_assert_eq(pipe(p), 0);
	if ((child = fork()) == 0) {
		close(p[0]);
		fd = pidfile_create(pidpath, &other);
		if (write(p[1], fd >= 0 ? "y" : "n", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &c, 1), 1);
	cr_assert_eq(c, 'y');
	cr_assert_eq(pidfile_running(pidpath, &pid), 1);
	cr_assert_eq(pid, child);
	cr_assert_eq(pidfile_create(pidpath, &other), -2);
	cr_assert_eq(other, child);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	/* Dead holder: stale now, and replaced. */
	cr_assert_eq(pidfile_running(pidpath, &pid), 0);
	cr_assert_geq(fd = pidfile_create(pidpath, &other), 0);
	pidfile_remove(pidpath, fd);
}

Test(pidfile, remove_leaves_other_pid)
{
	pid_t	 other;
	int	 fd;

	cr_assert_geq(fd = pidfile_create(pidpath, &other), 0);
	cr_assert_eq(pwrite(fd, "1\n", 2, 0), 2);
	cr_assert_eq(ftruncate(fd, 2), 0);
	pidfile_remove(pidpath, fd);
	cr_assert_eq(access(pidpath, F_OK), 0);
}

Test(pidfile, missing_dir_is_error)
{
	pid_t	 other;

	cr_assert_eq(pidfile_create("/nonexistent-dir/buzon.pid", &other), -1);
}

Test(pidfile, appears_complete_and_leaves_no_temp)
{
	struct dirent	*de;
	DIR		*d;
	pid_t		 pid = 0, other;
	int		 fd, n = 0;

	cr_assert_geq(fd = pidfile_create(pidpath, &other), 0);
	cr_assert_not_null(d = opendir(tmpdir));
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	cr_assert_eq(n, 1, "only buzon.pid in the directory");
	cr_assert_eq(pidfile_running(pidpath, &pid), 1);
	cr_assert_eq(pid, getpid());
	pidfile_remove(pidpath, fd);
}
