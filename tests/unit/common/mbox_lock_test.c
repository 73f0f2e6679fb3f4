/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#include "mailbox_testlib.h"
#include "mbox_lock.h"

static char *root;
static char mbox[4096];
static char lock[4200];

static void
setup(void)
{
	root = tl_mkroot();
	cr_assert(str_printf(mbox, sizeof(mbox), "%s/INBOX", root));
	cr_assert(str_printf(lock, sizeof(lock), "%s.lock", mbox));
}

static void
teardown(void)
{
	(void)chmod(root, 0700);
	tl_rmtree(root);
	free(root);
}

TestSuite(mbox_lock, .init = setup, .fini = teardown);

static int64_t
ms_since(const struct timespec *t0)
{
	struct timespec	 t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (int64_t)(t1.tv_sec - t0->tv_sec) * 1000 +
	    (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* A dotlock holding content, last modified age seconds ago. */
static void
make_lock(const char *content, time_t age)
{
	struct timeval	 tv[2];

	tl_write(lock, content, strlen(content));
	cr_assert_eq(gettimeofday(&tv[0], NULL), 0);
	tv[0].tv_sec -= age;
	tv[1] = tv[0];
	cr_assert_eq(utimes(lock, tv), 0);
}

/* The pid of a process that has exited and been reaped. */
static pid_t
dead_pid(void)
{
	pid_t	 pid;
	int	 st;

	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0)
		_exit(0);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	return pid;
}

Test(mbox_lock, take_and_release)
{
	struct mbox_lock l;
	struct fail f;
	char	 want[32], *got;
	size_t	 len;

	cr_assert_eq(mbox_lock_take(mbox, NULL, &l, &f), 0, "%s", f.text);
	cr_assert(l.dotlocked);
	cr_assert_neq(l.fd, -1);
	cr_assert_str_eq(l.lock, lock);
	got = tl_read(lock, &len);
	cr_assert(str_printf(want, sizeof(want), "%ld\n", (long)getpid()));
	cr_assert_eq(len, strlen(want));
	cr_assert_eq(memcmp(got, want, len), 0);
	free(got);
	/* O_APPEND: writes land at the end whatever the offset */
	cr_assert_eq(write(l.fd, "ab", 2), 2);
	cr_assert_eq(lseek(l.fd, 0, SEEK_SET), 0);
	cr_assert_eq(write(l.fd, "c", 1), 1);
	mbox_lock_release(&l);
	cr_assert_eq(l.fd, -1);
	cr_assert_not(l.dotlocked);
	cr_assert_eq(access(lock, F_OK), -1);
	got = tl_read(mbox, &len);
	cr_assert_eq(len, 3);
	cr_assert_eq(memcmp(got, "abc", 3), 0);
	free(got);
	mbox_lock_release(&l);		/* twice: harmless */
}

struct stale_case {
	char	 what[16];
	char	 owner;		/* 'd' dead pid, 'l' live pid, 'g' garbage,
				 * 'e' empty */
	time_t	 age;
	bool	 broken;
};

ParameterizedTestParameters(mbox_lock, stale_rule)
{
	static struct stale_case cases[] = {
		{ "dead-old", 'd', 3600, true },
		{ "garbage-old", 'g', 3600, true },
		{ "empty-old", 'e', 3600, true },
		{ "dead-at-limit", 'd', 60, true },
		{ "live-old", 'l', 3600, false },
		{ "dead-young", 'd', 50, false },
		{ "garbage-young", 'g', 50, false },
	};

	return cr_make_param_array(struct stale_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct stale_case *c, mbox_lock, stale_rule)
{
	struct mbox_lock_conf conf = { 60, 150 };
	struct mbox_lock l;
	struct fail f;
	char	 content[32] = "";

	if (c->owner == 'd' || c->owner == 'l')
		cr_assert(str_printf(content, sizeof(content), "%ld\n",
		    c->owner == 'l' ? (long)getpid() : (long)dead_pid()));
	else if (c->owner == 'g')
		cr_assert(str_copy(content, "not a pid\n", sizeof(content)));
	make_lock(content, c->age);
	if (c->broken) {
		cr_assert_eq(mbox_lock_take(mbox, &conf, &l, &f), 0,
		    "%s: %s", c->what, f.text);
		cr_assert(l.dotlocked, "%s", c->what);
		mbox_lock_release(&l);
		cr_assert_eq(access(lock, F_OK), -1, "%s", c->what);
	} else {
		cr_assert_eq(mbox_lock_take(mbox, &conf, &l, &f), -1,
		    "%s", c->what);
		cr_assert(f.temp);
		cr_assert_str_eq(f.code, "4.2.0");
		cr_assert_eq(l.err, 0);
		cr_assert_eq(l.fd, -1);
		cr_assert_eq(access(lock, F_OK), 0, "%s", c->what);
	}
}

/* A held dotlock: we give up after timeout_ms, not much later. */
Test(mbox_lock, dotlock_deadline)
{
	struct mbox_lock_conf conf = { 60, 300 };
	struct mbox_lock l;
	struct fail f;
	struct timespec t0;
	int64_t	 ms;
	char	 pid[32];

	cr_assert(str_printf(pid, sizeof(pid), "%ld\n", (long)getpid()));
	make_lock(pid, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(mbox_lock_take(mbox, &conf, &l, &f), -1);
	ms = ms_since(&t0);
	cr_assert_geq(ms, 290);	/* whole milliseconds both sides */
	cr_assert_lt(ms, 1500);
	cr_assert_str_eq(f.code, "4.2.0");
	cr_assert_str_eq(f.text, "mailbox is locked, try again later");
	cr_assert_eq(access(lock, F_OK), 0);
	cr_assert_eq(access(mbox, F_OK), -1);	/* never opened */
}

/* The fcntl lock held by another process: same deadline, and the dotlock
 * we took on the way is removed again. */
Test(mbox_lock, fcntl_deadline)
{
	struct mbox_lock_conf conf = { 60, 300 };
	struct mbox_lock l;
	struct fail f;
	struct flock fl;
	struct timespec t0;
	int64_t	 ms;
	int	 p[2], q[2], fd, st;
	pid_t	 pid;
	char	 c;

	tl_write(mbox, "x", 1);
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(pipe(q), 0);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		fd = open(mbox, O_RDONLY);
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_RDLCK;
		fl.l_whence = SEEK_SET;
		if (fd == -1 || fcntl(fd, F_SETLK, &fl) == -1)
			_exit(1);
		if (write(p[1], "r", 1) != 1)
			_exit(1);
		(void)!read(q[0], &c, 1);	/* until the parent is done */
		_exit(0);
	}
	cr_assert_eq(read(p[0], &c, 1), 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(mbox_lock_take(mbox, &conf, &l, &f), -1);
	ms = ms_since(&t0);
	cr_assert_geq(ms, 290);	/* whole milliseconds both sides */
	cr_assert_lt(ms, 1500);
	cr_assert_str_eq(f.code, "4.2.0");
	cr_assert_eq(l.err, 0);
	cr_assert_eq(access(lock, F_OK), -1);
	cr_assert_eq(write(q[1], "d", 1), 1);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
}

/* A second process waits until the first releases, then gets it. */
Test(mbox_lock, waits_for_other_process)
{
	struct mbox_lock l;
	struct timespec t0, ts = { 0, 100 * 1000 * 1000 };
	int	 p[2], status;
	char	 c;
	pid_t	 pid;

	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(mbox_lock_take(mbox, NULL, &l, NULL), 0);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct mbox_lock l2;

		/* OFD locks belong to the open file, which fork shares */
		close(l.fd);
		close(p[0]);
		if (write(p[1], "r", 1) != 1)
			_exit(2);
		_exit(mbox_lock_take(mbox, NULL, &l2, NULL) == 0 &&
		    l2.dotlocked ? 0 : 1);
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &c, 1), 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	nanosleep(&ts, NULL);
	mbox_lock_release(&l);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_assert_geq(ms_since(&t0), 90, "child did not wait");
	close(p[0]);
}

/* An expunge renames a new file into place while we wait for the fcntl
 * lock: we end up holding the new file, not the unlinked one. */
Test(mbox_lock, follows_replaced_file)
{
	struct mbox_lock l;
	struct fail f;
	struct flock fl;
	struct stat a, b;
	char	 tmp[4200], c;
	int	 p[2], fd, st;
	pid_t	 pid;

	cr_assert(str_printf(tmp, sizeof(tmp), "%s.new", mbox));
	tl_write(mbox, "OLD\n", 4);
	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct timespec ts = { 0, 150 * 1000 * 1000 };

		fd = open(mbox, O_RDWR);
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (fd == -1 || fcntl(fd, F_SETLK, &fl) == -1)
			_exit(1);
		if (write(p[1], "r", 1) != 1)
			_exit(1);
		nanosleep(&ts, NULL);
		tl_write(tmp, "NEW\n", 4);
		_exit(rename(tmp, mbox) == 0 ? 0 : 1);
	}
	cr_assert_eq(read(p[0], &c, 1), 1);
	cr_assert_eq(mbox_lock_take(mbox, NULL, &l, &f), 0, "%s", f.text);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	cr_assert_eq(fstat(l.fd, &a), 0);
	cr_assert_eq(stat(mbox, &b), 0);
	cr_assert_eq(a.st_ino, b.st_ino);
	mbox_lock_release(&l);
	close(p[0]);
	close(p[1]);
}

/* What cannot be opened fails at once with its errno, and leaves no
 * dotlock behind. */
Test(mbox_lock, open_errors)
{
	struct mbox_lock l;
	struct fail f;
	char	 path[4200], target[4200];
	char	 longp[5000];

	cr_assert(str_printf(target, sizeof(target), "%s/target", root));
	cr_assert(str_printf(path, sizeof(path), "%s/link", root));
	tl_write(target, "", 0);
	cr_assert_eq(symlink(target, path), 0);
	cr_assert_eq(mbox_lock_take(path, NULL, &l, &f), -1);
	cr_assert_eq(l.err, ELOOP);
	cr_assert(f.temp);
	cr_assert_str_eq(f.code, "4.3.0");
	cr_assert_eq(l.fd, -1);
	cr_assert(str_printf(path, sizeof(path), "%s/dir", root));
	cr_assert_eq(mkdir(path, 0700), 0);
	cr_assert_eq(mbox_lock_take(path, NULL, &l, &f), -1);
	cr_assert_eq(l.err, EISDIR);
	cr_assert(str_printf(path, sizeof(path), "%s/dir.lock", root));
	cr_assert_eq(access(path, F_OK), -1);
	cr_assert(str_printf(path, sizeof(path), "%s/link.lock", root));
	cr_assert_eq(access(path, F_OK), -1);
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	cr_assert_eq(mbox_lock_take(longp, NULL, &l, &f), -1);
	cr_assert_eq(l.err, ENAMETOOLONG);
	cr_assert_str_eq(f.code, "4.3.0");
}

/* A directory we may not create files in: no dotlock, fcntl alone. */
Test(mbox_lock, unwritable_directory_skips_dotlock)
{
	struct mbox_lock l;
	struct fail f;

	if (geteuid() == 0)
		cr_skip_test("root may write anywhere");
	tl_write(mbox, "", 0);
	cr_assert_eq(chmod(root, 0500), 0);
	cr_assert_eq(mbox_lock_take(mbox, NULL, &l, &f), 0, "%s", f.text);
	cr_assert_not(l.dotlocked);
	cr_assert_neq(l.fd, -1);
	mbox_lock_release(&l);
	cr_assert_eq(l.fd, -1);
}
