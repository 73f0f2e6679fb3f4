/* SPDX-License-Identifier: MIT */

#include <sys/stat.h>
#include <sys/wait.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandbox.h"
#include "str.h"

/*
 * A scratch tree:
 *   D/ro.txt          allowed read-only (file rule)
 *   D/rotree/a.txt    allowed read-only (tree rule)
 *   D/rwtree/         allowed read-write (tree rule)
 *   D/secret/s.txt    not in the list
 */
static char	 D[64];

static void
path(char *out, const char *rel)
{
	cr_assert(str_printf(out, PATH_MAX, "%s/%s", D, rel));
}

static void
put(const char *rel)
{
	char	 p[PATH_MAX];
	int	 fd;

	path(p, rel);
	cr_assert_neq(fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600), -1);
	cr_assert_eq(write(fd, "x\n", 2), 2);
	(void)close(fd);
}

static void
tree(void)
{
	char	 p[PATH_MAX];

	(void)str_copy(D, "/tmp/sandbox_test.XXXXXX", sizeof(D));
	cr_assert_not_null(mkdtemp(D));
	put("ro.txt");
	path(p, "rotree");
	cr_assert_eq(mkdir(p, 0700), 0);
	put("rotree/a.txt");
	path(p, "rwtree");
	cr_assert_eq(mkdir(p, 0700), 0);
	path(p, "rwtree/sub");
	cr_assert_eq(mkdir(p, 0700), 0);
	path(p, "secret");
	cr_assert_eq(mkdir(p, 0700), 0);
	put("secret/s.txt");
}

static void
untree(void)
{
	char	 cmd[PATH_MAX + 16];

	if (D[0] != '\0' && str_printf(cmd, sizeof(cmd), "rm -rf %s", D))
		(void)system(cmd);
}

/* In the child: open rel with flags; the errno (0 for success). */
static int
try_open(const char *rel, int flags)
{
	char	 p[PATH_MAX];
	int	 fd;

	path(p, rel);
	if ((fd = open(p, flags | O_CLOEXEC, 0600)) == -1)
		return errno;
	(void)close(fd);
	return 0;
}

/* Fork; the child applies sb, then runs check, which returns the exit
 * status (0: every expectation held; else the number of the first that
 * failed). */
static void
in_child(struct sandbox *sb, int (*check)(void))
{
	struct fail	 f;
	pid_t		 pid;
	int		 st;

	cr_assert_neq(pid = fork(), -1);
	if (pid == 0) {
		if (sandbox_apply(sb, SANDBOX_REQUIRED, "test", &f) != 1) {
			fprintf(stderr, "apply: %s\n", f.text);
			_exit(100);
		}
		_exit(check());
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st), "child died: status %d", st);
	cr_assert_eq(WEXITSTATUS(st), 0, "expectation %d failed",
	    WEXITSTATUS(st));
}

#define EXPECT(n, cond)	do { if (!(cond)) return (n); } while (0)

static int
check_list(void)
{
	char	 a[PATH_MAX], b[PATH_MAX];

	EXPECT(1, try_open("ro.txt", O_RDONLY) == 0);
	EXPECT(2, try_open("ro.txt", O_WRONLY) == EACCES);
	EXPECT(3, try_open("rotree/a.txt", O_RDONLY) == 0);
	EXPECT(4, try_open("rotree/a.txt", O_RDWR) == EACCES);
	EXPECT(5, try_open("rotree/new.txt", O_WRONLY | O_CREAT) == EACCES);
	EXPECT(6, try_open("rwtree/new.txt", O_WRONLY | O_CREAT) == 0);
	EXPECT(7, try_open("rwtree/new.txt", O_RDWR) == 0);
	EXPECT(8, try_open("secret/s.txt", O_RDONLY) == EACCES);
	EXPECT(9, try_open("secret", O_RDONLY | O_DIRECTORY) == EACCES);
	/* A rename from one directory to another beneath the tree (REFER,
	 * ABI 2): the spool moves files this way. */
	path(a, "rwtree/new.txt");
	path(b, "rwtree/sub/moved.txt");
	EXPECT(10, rename(a, b) == 0);
	EXPECT(11, unlink(b) == 0);
	EXPECT(12, open("/etc/passwd", O_RDONLY) == -1 && errno == EACCES);
	return 0;
}

Test(sandbox, allowed_paths_open_others_fail, .init = tree, .fini = untree)
{
	struct sandbox	*sb = sandbox_new();
	char		 p[PATH_MAX];

	cr_assert_geq(sandbox_abi(), 2, "the kernel has no Landlock ABI 2");
	path(p, "ro.txt");
	sandbox_allow(sb, p, SANDBOX_READ_FILE);
	path(p, "rotree");
	sandbox_allow(sb, p, SANDBOX_READ_TREE);
	path(p, "rwtree");
	sandbox_allow(sb, p, SANDBOX_RW_TREE);
	path(p, "missing");
	sandbox_allow(sb, p, SANDBOX_READ_TREE);	/* left out */
	in_child(sb, check_list);
	sandbox_free(&sb);
	cr_assert_null(sb);
	/* The parent is not confined. */
	cr_assert_eq(try_open("secret/s.txt", O_RDONLY), 0);
	cr_assert_not(sandbox_is_active());
}

static int
check_nothing(void)
{
	EXPECT(1, try_open("ro.txt", O_RDONLY) == EACCES);
	EXPECT(2, try_open("rwtree/x", O_WRONLY | O_CREAT) == EACCES);
	EXPECT(3, open("/", O_RDONLY | O_DIRECTORY) == -1 && errno == EACCES);
	EXPECT(4, open("/dev/null", O_RDWR) == -1 && errno == EACCES);
	EXPECT(5, sandbox_is_active());
	/* A second, wider sandbox cannot give anything back. */
	{
		struct sandbox	*sb = sandbox_new();
		struct fail	 f;

		sandbox_allow(sb, "/", SANDBOX_RW_TREE);
		EXPECT(6, sandbox_apply(sb, SANDBOX_REQUIRED, "t", &f) == 1);
		sandbox_free(&sb);
	}
	EXPECT(7, try_open("ro.txt", O_RDONLY) == EACCES);
	return 0;
}

Test(sandbox, nothing_opens_nothing, .init = tree, .fini = untree)
{
	struct sandbox	*sb = sandbox_new();

	in_child(sb, check_nothing);
	sandbox_free(&sb);
}

/* Files the child created by exec'ing a program are bound too. */
Test(sandbox, exec_inherits, .init = tree, .fini = untree)
{
	struct sandbox	*sb = sandbox_new();
	struct fail	 f;
	char		 p[PATH_MAX];
	pid_t		 pid;
	int		 st;

	sandbox_allow(sb, "/usr", SANDBOX_EXEC_TREE);
	sandbox_allow(sb, "/lib", SANDBOX_EXEC_TREE);
	sandbox_allow(sb, "/lib64", SANDBOX_EXEC_TREE);
	sandbox_allow(sb, "/bin", SANDBOX_EXEC_TREE);
	sandbox_allow(sb, "/etc/ld.so.cache", SANDBOX_READ_FILE);
	path(p, "secret/s.txt");
	cr_assert_neq(pid = fork(), -1);
	if (pid == 0) {
		if (sandbox_apply(sb, SANDBOX_REQUIRED, "test", &f) != 1)
			_exit(100);
		execl("/bin/cat", "cat", p, (char *)NULL);
		_exit(101);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st));
	cr_assert_eq(WEXITSTATUS(st), 1, "cat read the secret (status %d)",
	    WEXITSTATUS(st));
	sandbox_free(&sb);
}

Test(sandbox, off_restricts_nothing, .init = tree, .fini = untree)
{
	struct sandbox	*sb = sandbox_new();
	struct fail	 f;

	cr_assert_eq(sandbox_apply(sb, SANDBOX_OFF, "test", &f), 0);
	cr_assert_not(sandbox_is_active());
	cr_assert_eq(try_open("secret/s.txt", O_RDONLY), 0);
	sandbox_free(&sb);
}

Test(sandbox, bad_rules_refused)
{
	struct sandbox	*sb = sandbox_new();
	struct fail	 f;
	char		 longp[PATH_MAX + 8];
	int		 i;

	sandbox_allow(sb, "", SANDBOX_READ_FILE);
	cr_assert_eq(sandbox_apply(sb, SANDBOX_AUTO, "test", &f), -1);
	sandbox_free(&sb);

	sb = sandbox_new();
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	sandbox_allow(sb, longp, SANDBOX_READ_FILE);
	cr_assert_eq(sandbox_apply(sb, SANDBOX_REQUIRED, "test", &f), -1);
	sandbox_free(&sb);

	sb = sandbox_new();
	for (i = 0; i <= SANDBOX_MAX_RULES; i++)
		sandbox_allow(sb, "/tmp", SANDBOX_READ_TREE);
	cr_assert_eq(sandbox_apply(sb, SANDBOX_REQUIRED, "test", &f), -1);
	cr_assert(strstr(f.text, "rules") != NULL);
	sandbox_free(&sb);
	cr_assert_not(sandbox_is_active());
}

Test(sandbox, mode_parse)
{
	enum sandbox_mode	 m = SANDBOX_OFF;

	cr_assert_eq(sandbox_mode_parse("required", &m), 0);
	cr_assert_eq(m, SANDBOX_REQUIRED);
	cr_assert_eq(sandbox_mode_parse("auto", &m), 0);
	cr_assert_eq(m, SANDBOX_AUTO);
	cr_assert_eq(sandbox_mode_parse("off", &m), 0);
	cr_assert_eq(m, SANDBOX_OFF);
	cr_assert_eq(sandbox_mode_parse("Off", &m), -1);
	cr_assert_eq(sandbox_mode_parse("", &m), -1);
	cr_assert_eq(m, SANDBOX_OFF);
}

Test(sandbox, abi_probe)
{
	cr_assert_geq(sandbox_abi(), 0);
}

/* The kept file opens through the helper after the sandbox, even once it
 * was replaced by rename() (a new inode); any other path does not. */
static int	 kept_sync[2];

static int
check_kept(void)
{
	char	 p[PATH_MAX], buf[16], c;
	ssize_t	 n;
	int	 fd;

	/* Tell the parent to replace the file, wait until it did. */
	if (write(kept_sync[1], "g", 1) != 1 || read(kept_sync[0], &c, 1) != 1)
		return 1;
	path(p, "ro.txt");
	EXPECT(2, try_open("ro.txt", O_RDONLY) == EACCES);
	EXPECT(3, (fd = sandbox_open_kept(p)) >= 0);
	n = read(fd, buf, sizeof(buf));
	(void)close(fd);
	EXPECT(4, n == 9 && memcmp(buf, "replaced\n", 9) == 0);
	path(p, "secret/s.txt");
	EXPECT(5, sandbox_open_kept(p) == -1 && errno == EACCES);
	path(p, "secret/none.txt");
	EXPECT(6, sandbox_open_kept(p) == -1 && (errno == EACCES ||
	    errno == ENOENT));
	return 0;
}

Test(sandbox, kept_file_reopens, .init = tree, .fini = untree)
{
	struct sandbox	*sb = sandbox_new();
	struct fail	 f;
	char		 p[PATH_MAX], q[PATH_MAX], c;
	int		 to_child[2], st, fd;
	pid_t		 pid;

	cr_assert_eq(pipe(kept_sync), 0);
	cr_assert_eq(pipe(to_child), 0);
	path(p, "ro.txt");
	cr_assert_neq(pid = fork(), -1);
	if (pid == 0) {
		kept_sync[0] = to_child[0];
		if (sandbox_keep_file(p) == -1 ||
		    sandbox_apply(sb, SANDBOX_REQUIRED, "test", &f) != 1)
			_exit(100);
		_exit(check_kept());
	}
	cr_assert_eq(read(kept_sync[0], &c, 1), 1);
	path(q, "ro.new");
	cr_assert_neq(fd = open(q, O_WRONLY | O_CREAT, 0600), -1);
	cr_assert_eq(write(fd, "replaced\n", 9), 9);
	(void)close(fd);
	cr_assert_eq(rename(q, p), 0);
	cr_assert_eq(write(to_child[1], "r", 1), 1);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st));
	cr_assert_eq(WEXITSTATUS(st), 0, "expectation %d failed",
	    WEXITSTATUS(st));
	sandbox_free(&sb);
}
