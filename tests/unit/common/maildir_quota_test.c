/* SPDX-License-Identifier: MIT */
/*
 * maildir_quota_test.c - the Maildir++ count: every folder counted, the
 * file read back, appended to, recounted when damaged or asked to
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "maildir_quota.h"
#include "str.h"

static char	 root[64];

static void
put(const char *rel, const char *data)
{
	char	 path[256];
	FILE	*fp;

	cr_assert(str_printf(path, sizeof(path), "%s/%s", root, rel));
	fp = fopen(path, "w");
	cr_assert_not_null(fp, "%s", path);
	fputs(data, fp);
	fclose(fp);
}

static void
mk(const char *rel)
{
	char	 path[256];

	cr_assert(str_printf(path, sizeof(path), "%s/%s", root, rel));
	cr_assert_eq(mkdir(path, 0700), 0, "%s", path);
}

static void
setup(void)
{
	(void)str_copy(root, "/tmp/mdq_test.XXXXXX", sizeof(root));
	cr_assert_not_null(mkdtemp(root));
	mk("cur");
	mk("new");
	mk("tmp");
	mk(".Sent");
	mk(".Sent/cur");
	mk(".Sent/new");
	mk(".notmail");	/* no cur/: not a folder, not counted */
}

static void
teardown(void)
{
	char	 cmd[128];

	(void)snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	(void)system(cmd);
}

TestSuite(maildir_quota, .init = setup, .fini = teardown);

Test(maildir_quota, counts_every_folder_then_reads_the_file)
{
	uint64_t	 u;

	put("cur/1.M1P1.h,S=100:2,S", "x");	/* the name's size counts */
	put("new/2.M2P2.h", "12345");		/* no S=: its file size */
	put(".Sent/cur/3.M3P3.h,S=1000:2,", "y");
	put(".notmail/4,S=99999", "z");
	cr_assert_eq(maildir_quota_usage(root, 5000, 0, false, &u), 0);
	cr_assert_eq(u, 1105);
	/* now from maildirsize; an addition is a line */
	maildir_quota_add(root, 50);
	cr_assert_eq(maildir_quota_usage(root, 5000, 0, false, &u), 0);
	cr_assert_eq(u, 1155);
	/* a recount goes back to the files, pending bytes included */
	cr_assert_eq(maildir_quota_usage(root, 5000, 7, true, &u), 0);
	cr_assert_eq(u, 1112);
}

Test(maildir_quota, damaged_file_is_recounted)
{
	uint64_t	 u;

	put("cur/1.M1P1.h,S=10", "x");
	put("maildirsize", "5000S\n9223372036854775807 1\n"
	    "9223372036854775807 1\n");
	cr_assert_eq(maildir_quota_usage(root, 5000, 0, false, &u), 0);
	cr_assert_eq(u, 10);
	put("maildirsize", "5000S\n10 1\n20");	/* a cut last line */
	cr_assert_eq(maildir_quota_usage(root, 5000, 0, false, &u), 0);
	cr_assert_eq(u, 10);
}

Test(maildir_quota, name_sizes)
{
	uint64_t	 v;

	cr_assert_eq(maildir_name_size("1.M1.h,S=42:2,S", &v), 1);
	cr_assert_eq(v, 42);
	cr_assert_eq(maildir_name_size("1.M1.h,S=42,W=44", &v), 1);
	cr_assert_eq(maildir_name_size("1.M1.h,S=", &v), 0);
	cr_assert_eq(maildir_name_size("1.M1.h,S=4x", &v), 0);
	cr_assert_eq(maildir_name_size("1.M1.h", &v), 0);
}
