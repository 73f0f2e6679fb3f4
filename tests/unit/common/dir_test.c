/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "dir.h"
#include "str.h"

Test(dir, fsync_directory_only)
{
	char	 d[64], f[96];
	int	 fd;

	(void)str_copy(d, "/tmp/dir_test.XXXXXX", sizeof(d));
	cr_assert_not_null(mkdtemp(d));
	cr_assert_eq(dir_fsync(d), 0);
	cr_assert(str_printf(f, sizeof(f), "%s/file", d));
	cr_assert_neq(fd = open(f, O_WRONLY | O_CREAT, 0600), -1);
	(void)close(fd);
	cr_assert_eq(dir_fsync(f), -1);
	cr_assert_eq(errno, ENOTDIR);
	cr_assert_eq(unlink(f), 0);
	cr_assert_eq(dir_fsync(f), -1);
	cr_assert_eq(errno, ENOENT);
	cr_assert_eq(rmdir(d), 0);
}
