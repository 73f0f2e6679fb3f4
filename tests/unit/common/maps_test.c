/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "maps.h"
#include "str.h"

static char	 dir[64];
static const char *const types[] = { "hash", "btree", "lmdb" };
#define NTYPES	(sizeof(types) / sizeof(types[0]))

static void
setup(void)
{
	(void)str_copy(dir, "/tmp/maps_test.XXXXXX", sizeof(dir));
	cr_assert_not_null(mkdtemp(dir));
}

static void
teardown(void)
{
	char	 cmd[128];

	(void)str_printf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)system(cmd);
}

static void
spec_for(char *spec, size_t size, const char *type, const char *name)
{
	cr_assert(str_printf(spec, size, "%s:%s/%s", type, dir, name));
}

static void
put_all(const char *spec, unsigned int flags, const char *const *kv)
{
	struct maps_edit *e;
	char		 err[256];

	e = maps_edit_begin(spec, flags, err, sizeof(err));
	cr_assert_not_null(e, "%s", err);
	for (; kv[0] != NULL; kv += 2)
		cr_assert_eq(maps_edit_put(e, kv[0], kv[1], strlen(kv[1]),
		    true), 0);
	cr_assert_eq(maps_edit_commit(&e, err, sizeof(err)), 0, "%s", err);
	cr_assert_null(e);
}

TestSuite(maps, .init = setup, .fini = teardown);

Test(maps, spec_parsing)
{
	char	 t[16], f[256], err[128];

	cr_assert_eq(maps_spec_file("/x/users", t, sizeof(t), f, sizeof(f),
	    err, sizeof(err)), 0);
	cr_assert_str_eq(t, "hash");
	cr_assert_str_eq(f, "/x/users.db");
	cr_assert_eq(maps_spec_file("btree:/x/a", t, sizeof(t), f, sizeof(f),
	    err, sizeof(err)), 0);
	cr_assert_str_eq(t, "btree");
	cr_assert_str_eq(f, "/x/a.db");
	cr_assert_eq(maps_spec_file("./a:b", t, sizeof(t), f, sizeof(f),
	    err, sizeof(err)), 0);
	cr_assert_str_eq(f, "./a:b.db");
	cr_assert_eq(maps_spec_file("cdb:/x/a", t, sizeof(t), f, sizeof(f),
	    err, sizeof(err)), -1);
	cr_assert(strstr(err, "unknown map type 'cdb'") != NULL, "%s", err);
	cr_assert_eq(maps_spec_file("hash:", t, sizeof(t), f, sizeof(f),
	    err, sizeof(err)), -1);
	cr_assert_eq(maps_spec_file("/x/a", t, sizeof(t), f, 6,
	    err, sizeof(err)), -1);
	if (maps_type_available("lmdb")) {
		cr_assert_eq(maps_spec_file("lmdb:/x/a", t, sizeof(t), f,
		    sizeof(f), err, sizeof(err)), 0);
		cr_assert_str_eq(f, "/x/a.lmdb");
	}
}

Test(maps, every_driver_stores_and_finds)
{
	static const char *const kv[] = { "alice@example.test", "one",
	    "bob@example.test", "two", "@example.test", "three", NULL };
	struct maps_edit *e;
	struct maps_iter *it;
	struct maps	*m;
	struct str	 k, v;
	char		 spec[128], err[256];
	size_t		 i;
	int		 n, rc;

	str_init(&k, 0);
	str_init(&v, 0);
	for (i = 0; i < NTYPES; i++) {
		if (!maps_type_available(types[i]))
			continue;
		spec_for(spec, sizeof(spec), types[i], "m");
		put_all(spec, 0, kv);
		m = maps_open(spec, 0, err, sizeof(err));
		cr_assert_not_null(m, "%s: %s", types[i], err);
		cr_assert_str_eq(maps_name(m), spec);
		cr_assert_eq(maps_lookup(m, "bob@example.test", &v),
		    MAPS_FOUND);
		cr_assert_str_eq(str_c(&v), "two");
		cr_assert_eq(maps_lookup(m, "carol@example.test", &v),
		    MAPS_NOTFOUND);
		cr_assert_eq(maps_lookup(m, "", &v), MAPS_NOTFOUND);
		it = maps_iter_new(m, err, sizeof(err));
		cr_assert_not_null(it);
		for (n = 0; (rc = maps_iter_next(it, &k, &v)) == 1; n++)
			cr_assert(strchr(str_c(&k), '@') != NULL);
		cr_assert_eq(rc, 0);
		cr_assert_eq(n, 3);
		maps_iter_free(&it);
		cr_assert_null(it);

		/* No overwrite without replace; delete; edit lookups. */
		e = maps_edit_begin(spec, 0, err, sizeof(err));
		cr_assert_not_null(e, "%s", err);
		cr_assert_eq(maps_edit_put(e, "bob@example.test", "x", 1,
		    false), 1);
		cr_assert_eq(maps_edit_lookup(e, "bob@example.test", &v), 1);
		cr_assert_str_eq(str_c(&v), "two");
		cr_assert_eq(maps_edit_del(e, "bob@example.test"), 1);
		cr_assert_eq(maps_edit_del(e, "bob@example.test"), 0);
		cr_assert_eq(maps_edit_put(e, "", "x", 1, true), -1);
		cr_assert_eq(maps_edit_commit(&e, err, sizeof(err)), 0);
		/* The open reader notices the new file. */
		cr_assert_eq(maps_lookup(m, "bob@example.test", &v),
		    MAPS_NOTFOUND);
		cr_assert_eq(maps_lookup(m, "alice@example.test", &v),
		    MAPS_FOUND);
		cr_assert_str_eq(str_c(&v), "one");
		maps_close(&m);
		cr_assert_null(m);
	}
	str_release(&k);
	str_release(&v);
}

Test(maps, missing_map)
{
	struct maps	*m;
	struct str	 v;
	char		 spec[128], err[256];

	str_init(&v, 0);
	spec_for(spec, sizeof(spec), "hash", "none");
	cr_assert_null(maps_open(spec, 0, err, sizeof(err)));
	cr_assert(strstr(err, "none.db") != NULL, "%s", err);
	m = maps_open(spec, MAPS_F_MISSING_OK, err, sizeof(err));
	cr_assert_not_null(m);
	cr_assert_eq(maps_lookup(m, "a", &v), MAPS_NOTFOUND);
	/* Created later: seen at the next lookup. */
	put_all(spec, 0, (const char *const[]){ "a", "1", NULL });
	cr_assert_eq(maps_lookup(m, "a", &v), MAPS_FOUND);
	maps_close(&m);
	str_release(&v);
}

Test(maps, corrupt_file_is_an_error)
{
	struct maps	*m;
	char		 spec[128], file[160], err[256];
	FILE		*fp;

	spec_for(spec, sizeof(spec), "hash", "bad");
	cr_assert(str_printf(file, sizeof(file), "%s/bad.db", dir));
	fp = fopen(file, "w");
	cr_assert_not_null(fp);
	fputs("this is not a database, just some text that is long enough\n",
	    fp);
	fclose(fp);
	m = maps_open(spec, MAPS_F_MISSING_OK, err, sizeof(err));
	cr_assert_null(m);
	/* An editor cannot copy it either, and leaves it alone. */
	cr_assert_null(maps_edit_begin(spec, 0, err, sizeof(err)));
}

Test(maps, abort_and_empty_edit)
{
	static const char *const kv[] = { "a", "1", "b", "2", NULL };
	struct maps_edit *e;
	struct maps	*m;
	struct str	 v;
	char		 spec[128], err[256];

	str_init(&v, 0);
	spec_for(spec, sizeof(spec), "btree", "m");
	put_all(spec, 0, kv);
	e = maps_edit_begin(spec, 0, err, sizeof(err));
	cr_assert_eq(maps_edit_put(e, "c", "3", 1, true), 0);
	maps_edit_abort(&e);
	cr_assert_null(e);
	m = maps_open(spec, 0, err, sizeof(err));
	cr_assert_eq(maps_lookup(m, "c", &v), MAPS_NOTFOUND);
	/* MAPS_EDIT_EMPTY starts from nothing (map compile). */
	put_all(spec, MAPS_EDIT_EMPTY, (const char *const[]){ "z", "9", NULL });
	cr_assert_eq(maps_lookup(m, "a", &v), MAPS_NOTFOUND);
	cr_assert_eq(maps_lookup(m, "z", &v), MAPS_FOUND);
	maps_close(&m);
	str_release(&v);
}

/*
 * A reader in another process looks up two keys that every version of the
 * map sets to the same generation number, while the writer commits 40
 * versions.  The reader must see every lookup succeed and both keys agree:
 * a whole old map or a whole new one.
 */
static void
reader_while_writing(const char *type)
{
	struct maps	*m;
	struct str	 v1, v2;
	char		 spec[128], err[256], gen[16];
	pid_t		 pid;
	int		 i, status;

	if (!maps_type_available(type))
		return;
	spec_for(spec, sizeof(spec), type, "rw");
	put_all(spec, 0, (const char *const[]){ "k1", "0", "k2", "0", NULL });
	if ((pid = fork()) == 0) {
		unsigned long	 last = 0, g, seen = 0;

		str_init(&v1, 0);
		str_init(&v2, 0);
		m = maps_open(spec, 0, err, sizeof(err));
		if (m == NULL)
			_exit(2);
		while (last < 40) {
			if (maps_lookup(m, "k1", &v1) != MAPS_FOUND ||
			    maps_lookup(m, "k2", &v2) != MAPS_FOUND)
				_exit(3);
			g = strtoul(str_c(&v1), NULL, 10);
			/* k2 is read second: same or newer generation. */
			if (strtoul(str_c(&v2), NULL, 10) < g || g < last)
				_exit(4);
			if (g != last)
				seen++;
			last = g;
		}
		maps_close(&m);
		_exit(seen > 0 ? 0 : 5);
	}
	cr_assert_gt(pid, 0);
	for (i = 1; i <= 40; i++) {
		cr_assert(str_printf(gen, sizeof(gen), "%d", i));
		put_all(spec, 0, (const char *const[]){ "k1", gen, "k2", gen,
		    NULL });
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	cr_assert_eq(WEXITSTATUS(status), 0, "%s reader exit %d", type,
	    WEXITSTATUS(status));
}

Test(maps, reader_while_writing_hash) { reader_while_writing("hash"); }
Test(maps, reader_while_writing_btree) { reader_while_writing("btree"); }
Test(maps, reader_while_writing_lmdb) { reader_while_writing("lmdb"); }

/*
 * A writer killed in the middle of an edit leaves the old map usable and a
 * stale .tmp; the next editor removes it and proceeds.
 */
static void
writer_crash(const char *type)
{
	struct maps	*m;
	struct str	 v;
	char		 spec[128], err[256], tmp[192];
	const char	*suffix = strcmp(type, "lmdb") == 0 ? "lmdb" : "db";
	struct stat	 st;
	int		 p[2], status;
	char		 c;
	pid_t		 pid;

	if (!maps_type_available(type))
		return;
	str_init(&v, 0);
	spec_for(spec, sizeof(spec), type, "crash");
	put_all(spec, 0, (const char *const[]){ "a", "old", NULL });
	cr_assert_eq(pipe(p), 0);
	if ((pid = fork()) == 0) {
		struct maps_edit *e;
		int		 i;
		char		 key[16];

		e = maps_edit_begin(spec, 0, err, sizeof(err));
		if (e == NULL)
			_exit(2);
		for (i = 0; i < 500; i++) {
			(void)str_printf(key, sizeof(key), "k%d", i);
			if (maps_edit_put(e, key, "new", 3, true) != 0)
				_exit(3);
		}
		if (maps_edit_put(e, "a", "new", 3, true) != 0)
			_exit(3);
		(void)write(p[1], "x", 1);
		pause();	/* killed here, mid-edit */
		_exit(4);
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &c, 1), 1);
	kill(pid, SIGKILL);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status));
	cr_assert(str_printf(tmp, sizeof(tmp), "%s/crash.%s.tmp", dir, suffix));
	cr_assert_eq(stat(tmp, &st), 0, "stale tmp expected");

	m = maps_open(spec, 0, err, sizeof(err));
	cr_assert_not_null(m, "%s", err);
	cr_assert_eq(maps_lookup(m, "a", &v), MAPS_FOUND);
	cr_assert_str_eq(str_c(&v), "old");
	cr_assert_eq(maps_lookup(m, "k1", &v), MAPS_NOTFOUND);
	put_all(spec, 0, (const char *const[]){ "b", "2", NULL });
	cr_assert_eq(maps_lookup(m, "a", &v), MAPS_FOUND);
	cr_assert_eq(maps_lookup(m, "b", &v), MAPS_FOUND);
	cr_assert_eq(stat(tmp, &st), -1);
	maps_close(&m);
	str_release(&v);
	close(p[0]);
}

Test(maps, writer_crash_hash) { writer_crash("hash"); }
Test(maps, writer_crash_btree) { writer_crash("btree"); }
Test(maps, writer_crash_lmdb) { writer_crash("lmdb"); }

Test(maps, iterator_keeps_its_file)
{
	struct maps_iter *it;
	struct maps	*m;
	struct str	 k, v;
	char		 spec[128], err[256];
	int		 n = 0;

	str_init(&k, 0);
	str_init(&v, 0);
	spec_for(spec, sizeof(spec), "hash", "it");
	put_all(spec, 0, (const char *const[]){ "a", "1", "b", "2", NULL });
	m = maps_open(spec, 0, err, sizeof(err));
	it = maps_iter_new(m, err, sizeof(err));
	put_all(spec, MAPS_EDIT_EMPTY, (const char *const[]){ "c", "3", NULL });
	while (maps_iter_next(it, &k, &v) == 1) {
		cr_assert(strcmp(str_c(&k), "c") != 0);
		n++;
	}
	cr_assert_eq(n, 2);
	maps_iter_free(&it);
	maps_close(&m);
	str_release(&k);
	str_release(&v);
}
