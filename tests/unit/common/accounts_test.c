/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accounts.h"
#include "auth.h"
#include "maps.h"
#include "str.h"

static char	 dir[64];
static struct accounts_conf conf;

/* Linked with --wrap=fsync: "\n" and the paths of the directories
 * fsync'd since, one a line. */
static struct str synced;

int	 __real_fsync(int);
int	 __wrap_fsync(int);

int
__wrap_fsync(int fd)
{
	char		 link[64], path[4096];
	struct stat	 st;
	ssize_t		 n;

	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) &&
	    str_printf(link, sizeof(link), "/proc/self/fd/%d", fd) &&
	    (n = readlink(link, path, sizeof(path) - 1)) > 0) {
		path[n] = '\0';
		if (str_appendf(&synced, "%s\n", path) == -1)
			abort();
	}
	return __real_fsync(fd);
}

static bool
was_synced(const char *path)
{
	char	 line[4096];

	(void)str_printf(line, sizeof(line), "\n%s\n", path);
	return strstr(str_c(&synced), line) != NULL;
}

static void
setup(void)
{
	(void)str_copy(dir, "/tmp/accounts_test.XXXXXX", sizeof(dir));
	cr_assert_not_null(mkdtemp(dir));
	memset(&conf, 0, sizeof(conf));
	conf.state_dir = dir;
	conf.recipient_delimiter = "+";
	conf.read_secrets = true;	/* the logins below check hashes */
}

static void
teardown(void)
{
	char	 cmd[128];

	(void)str_printf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)system(cmd);
}

TestSuite(accounts, .init = setup, .fini = teardown);

/* ---- syntax ---- */

struct addr_case {
	char	 in[80];
	bool	 valid;
	bool	 literal_only;
};

ParameterizedTestParameters(accounts, address_syntax)
{
	static struct addr_case cases[] = {
		{ "alice@example.test", true, false },
		{ "Alice.B+x@Example.TEST", true, false },
		{ "a!#$%&'*+-/=?^_`{|}~@x.y", true, false },
		{ "\"a b@c\"@example.test", true, false },
		{ "\"a\\\"b\"@example.test", true, false },
		{ "user@[192.0.2.1]", true, true },
		{ "user@[IPv6:2001:db8::1]", true, true },
		{ "alice", false, false }, { "@example.test", false, false },
		{ "alice@", false, false }, { ".alice@x.y", false, false },
		{ "alice.@x.y", false, false }, { "a..b@x.y", false, false },
		{ "a b@x.y", false, false }, { "a@b@x.y", false, false },
		{ "alice@-x.y", false, false }, { "alice@x-.y", false, false },
		{ "alice@x..y", false, false }, { "alice@x.y.", false, false },
		{ "alice@x_y.z", false, false },
		{ "\"a\"b\"@x.y", false, false },
		{ "al\x01ice@x.y", false, false },
		/* the grammar smtpd parses with (rfc5321.h), UTF-8 included */
		{ "j\xc3\xb6s@example.test", true, false },
		{ "j\xc3\xb6s@b\xc3\xbc" "cher.test", true, false },
		{ "\"j\xc3\xb6 s\"@example.test", true, false },
		{ "j\x80s@x.y", false, false }, { "j\xc2\x85s@x.y", false, false },
		{ "j\xc0\xafs@x.y", false, false }, { "j\xf6s@x.y", false, false },
		{ "user@[300.0.0.1]", false, false },
		/* 65 octets: valid syntax (lookups find no such user);
		 * accounts_local_fits() keeps users and aliases to 64 */
		{ "12345678901234567890123456789012345678901234567890123456789"
		    "012345@x.y", true, false },
	};
	return cr_make_param_array(struct addr_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct addr_case *c, accounts, address_syntax)
{
	cr_assert_eq(accounts_address_valid(c->in, true), c->valid, "%s",
	    c->in);
	cr_assert_eq(accounts_address_valid(c->in, false),
	    c->valid && !c->literal_only, "%s", c->in);
}

Test(accounts, domain_syntax)
{
	char	 label[80], longd[300];

	cr_assert(accounts_domain_valid("example.test"));
	cr_assert(accounts_domain_valid("a-b.c1"));
	cr_assert(accounts_domain_valid("localhost"));
	cr_assert_not(accounts_domain_valid(""));
	cr_assert_not(accounts_domain_valid("ex ample.test"));
	cr_assert(accounts_domain_valid("b\xc3\xbc" "cher.test"));
	cr_assert_not(accounts_domain_valid("b\xfc" "cher.test"));
	cr_assert_not(accounts_domain_valid("[192.0.2.1]"));
	memset(label, 'a', 64);
	label[64] = '\0';
	cr_assert_not(accounts_domain_valid(label));
	label[63] = '\0';
	cr_assert(accounts_domain_valid(label));
	memset(longd, 'a', sizeof(longd));
	for (size_t i = 50; i < sizeof(longd); i += 50)
		longd[i] = '.';
	longd[256] = '\0';
	cr_assert_not(accounts_domain_valid(longd));
}

struct norm_case {
	char	 in[64];
	char	 delim[4];
	bool	 cs;
	bool	 keep;
	char	 want[64];
};

ParameterizedTestParameters(accounts, normalize)
{
	static struct norm_case cases[] = {
		{ "Alice@Example.TEST", "+", false, false,
		    "alice@example.test" },
		{ "Alice@Example.TEST", "+", true, false,
		    "Alice@example.test" },
		{ "alice+lists@example.test", "+", false, false,
		    "alice@example.test" },
		{ "alice+lists@example.test", "+", false, true,
		    "alice+lists@example.test" },
		{ "alice+a+b@example.test", "+", false, false,
		    "alice@example.test" },
		{ "alice-x@example.test", "+-", false, false,
		    "alice@example.test" },
		{ "alice+x@example.test", "", false, false,
		    "alice+x@example.test" },
		{ "+x@example.test", "+", false, false, "+x@example.test" },
		{ "\"A+b\"@Example.test", "+", true, false,
		    "\"A+b\"@example.test" },
		/* ASCII case only: UTF-8 is kept as given */
		{ "J\xc3\x96s+x@B\xc3\x9c" "CHER.Test", "+", false, false,
		    "j\xc3\x96s@b\xc3\x9c" "cher.test" },
	};
	return cr_make_param_array(struct norm_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct norm_case *c, accounts, normalize)
{
	struct accounts_conf	 ac = { "/x", NULL, c->delim, c->cs, NULL, NULL,
	    false };
	char			 out[ACCOUNTS_ADDR_MAX];

	cr_assert_eq(accounts_normalize(&ac, c->in, c->keep, out, sizeof(out)),
	    0);
	cr_assert_str_eq(out, c->want);
}

Test(accounts, normalize_rejects)
{
	char	 out[ACCOUNTS_ADDR_MAX];

	cr_assert_eq(accounts_normalize(&conf, "no at sign", false, out,
	    sizeof(out)), -1);
	cr_assert_eq(accounts_normalize(&conf, "a@b", false, out, 3), -1);
}

/* ---- user records ---- */

Test(accounts, record_round_trip)
{
	struct accounts_user	 u, v;
	struct str		 rec;

	accounts_user_init(&u, "alice@example.test");
	cr_assert_str_eq(u.mailbox, "example.test/alice");
	(void)str_copy(u.hash, "$y$j9T$abc$def", sizeof(u.hash));
	(void)str_copy(u.apop_secret, "tan\tstaaf", sizeof(u.apop_secret));
	u.format = ACCOUNTS_MBOX;
	u.quota = 1048576;
	u.enabled = false;
	str_init(&rec, 0);
	cr_assert_eq(accounts_user_format(&u, &rec), 0);
	cr_assert_str_eq(str_c(&rec), "1\t$y$j9T$abc$def\t74616e097374616166\t"
	    "example.test/alice\tmbox\t1048576\t0");
	memset(&v, 0x55, sizeof(v));
	cr_assert_eq(accounts_user_parse(rec.data, rec.len, &v), 0);
	cr_assert_str_eq(v.hash, u.hash);
	cr_assert_str_eq(v.apop_secret, "tan\tstaaf");
	cr_assert_str_eq(v.mailbox, "example.test/alice");
	cr_assert_eq(v.format, ACCOUNTS_MBOX);
	cr_assert_eq(v.quota, 1048576);
	cr_assert_not(v.enabled);
	/* No field may smuggle a separator. */
	(void)str_copy(u.hash, "$y$a\tb", sizeof(u.hash));
	cr_assert_eq(accounts_user_format(&u, &rec), -1);
	(void)str_copy(u.hash, "$y$", sizeof(u.hash));
	(void)str_copy(u.mailbox, "../etc", sizeof(u.mailbox));
	cr_assert_eq(accounts_user_format(&u, &rec), -1);
	str_release(&rec);
}

struct rec_case {
	char	 rec[96];
};

ParameterizedTestParameters(accounts, record_rejects)
{
	static struct rec_case cases[] = {
		{ "2\th\t\td/a\tmaildir\t0\t1" },
		{ "1\th\t\td/a\tmaildir\t0" },
		{ "1\th\t\td/a\tmaildir\t0\t1\textra" },
		{ "1\th\t\td/a\tmh\t0\t1" },
		{ "1\th\t\td/a\tmaildir\t-1\t1" },
		{ "1\th\t\td/a\tmaildir\t0\tyes" },
		{ "1\th\t7\td/a\tmaildir\t0\t1" },
		{ "1\th\t7g\td/a\tmaildir\t0\t1" },
		{ "1\th\t00\td/a\tmaildir\t0\t1" },
		{ "1\th\t\t/etc\tmaildir\t0\t1" },
		{ "1\th\t\td/../../x\tmaildir\t0\t1" },
		{ "1\th\t\t\tmaildir\t0\t1" },
		{ "" },
	};
	return cr_make_param_array(struct rec_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct rec_case *c, accounts, record_rejects)
{
	struct accounts_user	 u;

	cr_assert_eq(accounts_user_parse(c->rec, strlen(c->rec), &u), -1,
	    "%s", c->rec);
}

/* ---- maps, admin changes and lookups ---- */

static void
add_user(const char *addr, const char *pw)
{
	struct accounts_user	 u;
	char			 err[256];

	accounts_user_init(&u, addr);
	cr_assert_eq(auth_hash_password(pw, AUTH_HASH_SHA512, u.hash,
	    sizeof(u.hash)), 0);
	cr_assert_eq(accounts_user_add(&conf, &u, err, sizeof(err)), 0, "%s",
	    err);
}

static void
add_alias(const char *src, const char *targets)
{
	char	 err[256];

	cr_assert_eq(accounts_alias_add(&conf, src, targets, err, sizeof(err)),
	    0, "%s", err);
}

static struct accounts *
aopen(void)
{
	struct accounts	*a;
	char		 err[256];

	a = accounts_open(&conf, err, sizeof(err));
	cr_assert_not_null(a, "%s", err);
	return a;
}

Test(accounts, domains_and_users)
{
	struct accounts		*a;
	struct accounts_user	 u;
	char			 err[256];

	a = aopen();			/* no maps yet: all empty */
	cr_assert_eq(accounts_is_local_domain(a, "example.test"), 0);
	cr_assert_eq(accounts_domain_add(&conf, "Example.TEST", err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(accounts_domain_add(&conf, "example.test", err,
	    sizeof(err)), -1);
	cr_assert_str_eq(err, "domain example.test exists");
	cr_assert_eq(accounts_domain_add(&conf, "bad domain", err,
	    sizeof(err)), -1);
	cr_assert_eq(accounts_is_local_domain(a, "EXAMPLE.test"), 1);

	add_user("alice@example.test", "pw1");
	accounts_user_init(&u, "alice@example.test");
	cr_assert_eq(accounts_user_add(&conf, &u, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "user alice@example.test exists");
	accounts_user_init(&u, "carol@other.test");
	cr_assert_eq(accounts_user_add(&conf, &u, err, sizeof(err)), -1);
	cr_assert(strstr(err, "unknown domain other.test") != NULL, "%s", err);
	accounts_user_init(&u, "ca rol@example.test");
	cr_assert_eq(accounts_user_add(&conf, &u, err, sizeof(err)), -1);
	cr_assert(strstr(err, "invalid address") != NULL, "%s", err);

	cr_assert_eq(accounts_user_lookup(a, "Alice+x@EXAMPLE.test", &u), 1);
	cr_assert_str_eq(u.address, "alice@example.test");
	cr_assert_str_eq(u.mailbox, "example.test/alice");
	cr_assert(u.enabled);
	cr_assert_eq(accounts_user_lookup(a, "bob@example.test", &u), 0);
	cr_assert_eq(accounts_user_lookup(a, "not an address", &u), 0);

	/* The domain cannot go while it has users. */
	cr_assert_eq(accounts_domain_del(&conf, "example.test", err,
	    sizeof(err)), -1);
	cr_assert(strstr(err, "still has 1 users") != NULL, "%s", err);
	cr_assert_eq(accounts_user_del(&conf, "alice@example.test", err,
	    sizeof(err)), 0);
	cr_assert_eq(accounts_user_del(&conf, "alice@example.test", err,
	    sizeof(err)), -1);
	cr_assert_str_eq(err, "no such user alice@example.test");
	cr_assert_eq(accounts_domain_del(&conf, "example.test", err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(accounts_domain_del(&conf, "example.test", err,
	    sizeof(err)), -1);
	cr_assert_str_eq(err, "unknown domain example.test");
	cr_assert_eq(accounts_is_local_domain(a, "example.test"), 0);
	accounts_close(&a);
	cr_assert_null(a);
}

Test(accounts, logins)
{
	struct accounts		*a;
	struct accounts_user	 u;
	char			 err[256];
	const char		*ts = "<1896.697170952@dbc.mtview.ca.us>";
	const char		*dg = "c4c9334bac560ecc979e58001b3e22fb";

	cr_assert_eq(accounts_domain_add(&conf, "example.test", err,
	    sizeof(err)), 0);
	add_user("alice@example.test", "right");
	a = aopen();
	cr_assert_eq(accounts_login(a, "alice@example.test", "right", &u), 1);
	cr_assert_str_eq(u.address, "alice@example.test");
	cr_assert_eq(accounts_login(a, "ALICE@example.test", "right", &u), 1);
	cr_assert_eq(accounts_login(a, "alice@example.test", "wrong", &u), 0);
	cr_assert_eq(accounts_login(a, "nobody@example.test", "right", &u), 0);
	cr_assert_eq(accounts_user_change(&conf, "alice@example.test",
	    ACCOUNTS_DISABLE, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(accounts_login(a, "alice@example.test", "right", &u), 0);
	cr_assert_eq(accounts_user_change(&conf, "alice@example.test",
	    ACCOUNTS_ENABLE, NULL, err, sizeof(err)), 0);
	cr_assert_eq(accounts_login(a, "alice@example.test", "right", &u), 1);

	/* APOP only once enabled with its own secret. */
	cr_assert_eq(accounts_login_apop(a, "alice@example.test", ts, dg, &u),
	    0);
	cr_assert_eq(accounts_user_change(&conf, "alice@example.test",
	    ACCOUNTS_SET_APOP, "tanstaaf", err, sizeof(err)), 0);
	cr_assert_eq(accounts_login_apop(a, "alice@example.test", ts, dg, &u),
	    1);
	cr_assert_str_eq(u.apop_secret, "tanstaaf");
	cr_assert_eq(accounts_login_apop(a, "bob@example.test", ts, dg, &u), 0);
	cr_assert_eq(accounts_user_change(&conf, "alice@example.test",
	    ACCOUNTS_CLEAR_APOP, NULL, err, sizeof(err)), 0);
	cr_assert_eq(accounts_login_apop(a, "alice@example.test", ts, dg, &u),
	    0);
	/* The password survived every change. */
	cr_assert_eq(accounts_login(a, "alice@example.test", "right", &u), 1);
	cr_assert_eq(accounts_user_change(&conf, "nobody@example.test",
	    ACCOUNTS_ENABLE, NULL, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "no such user nobody@example.test");
	accounts_close(&a);
}

Test(accounts, broken_map_is_a_temporary_failure)
{
	struct accounts		*a;
	struct accounts_user	 u;
	struct maps_edit	*e;
	struct accounts_targets	 t;
	struct fail		 f;
	char			 spec[256], err[256];

	cr_assert_eq(accounts_domain_add(&conf, "example.test", err,
	    sizeof(err)), 0);
	cr_assert_eq(accounts_map_spec(&conf, "users", spec, sizeof(spec)), 0);
	e = maps_edit_begin(spec, 0, err, sizeof(err));
	cr_assert_eq(maps_edit_put(e, "alice@example.test", "9\tfuture", 8,
	    true), 0);
	cr_assert_eq(maps_edit_commit(&e, err, sizeof(err)), 0);
	a = aopen();
	cr_assert_eq(accounts_user_lookup(a, "alice@example.test", &u), -1);
	cr_assert_eq(accounts_login(a, "alice@example.test", "x", &u), -1);
	cr_assert_eq(accounts_resolve(a, "alice@example.test", &t, &f), -1);
	cr_assert(f.temp);
	cr_assert_str_eq(f.code, "4.3.0");
	accounts_close(&a);
}

static void
expect_targets(struct accounts *a, const char *addr, const char *want)
{
	struct accounts_targets	 t;
	struct fail		 f;
	struct str		 got;
	size_t			 i;

	str_init(&got, 0);
	cr_assert_eq(accounts_resolve(a, addr, &t, &f), 1, "%s: %s", addr,
	    f.text);
	for (i = 0; i < t.count; i++)
		cr_assert_eq(str_appendf(&got, "%s%s%s%s%s", i > 0 ? " " : "",
		    t.items[i].is_local ? "" : "remote:", t.items[i].address,
		    t.items[i].detail != NULL ? "/" : "",
		    t.items[i].detail != NULL ? t.items[i].detail : ""), 0);
	cr_assert_str_eq(str_c(&got), want, "%s", addr);
	accounts_targets_release(&t);
	cr_assert_eq(t.count, 0);
	str_release(&got);
}

static void
expect_fail(struct accounts *a, const char *addr, int want, const char *text)
{
	struct accounts_targets	 t;
	struct fail		 f;

	memset(&f, 0, sizeof(f));
	cr_assert_eq(accounts_resolve(a, addr, &t, &f), want, "%s", addr);
	if (want == -1) {
		cr_assert_not(f.temp);
		cr_assert(strstr(f.text, text) != NULL, "%s: %s", addr, f.text);
	}
	cr_assert_eq(t.count, 0);
}

Test(accounts, aliases)
{
	struct accounts	*a;
	char		 err[256];

	cr_assert_eq(accounts_domain_add(&conf, "example.test", err,
	    sizeof(err)), 0);
	cr_assert_eq(accounts_domain_add(&conf, "other.test", err,
	    sizeof(err)), 0);
	add_user("alice@example.test", "x");
	add_user("bob@example.test", "x");
	add_user("carol@other.test", "x");
	add_alias("team@example.test", "alice@example.test,bob@example.test");
	add_alias("team@example.test", " bob@example.test , carol@Other.TEST");
	add_alias("all@example.test", "team@example.test,friend@Remote.test");
	add_alias("postmaster", "alice@example.test");
	add_alias("alice@example.test",
	    "alice@example.test,archive@remote.test");
	add_alias("@other.test", "carol@other.test");
	add_alias("loop1@example.test", "loop2@example.test");
	add_alias("loop2@example.test", "loop1@example.test");
	add_alias("ghost@example.test", "nobody@example.test");
	add_alias("bob+lists@example.test", "lists@remote.test");
	a = aopen();

	expect_targets(a, "bob@example.test", "bob@example.test");
	expect_targets(a, "Bob+Other@Example.test", "bob@example.test/other");
	expect_targets(a, "bob+@example.test", "bob@example.test");
	expect_targets(a, "bob+lists@example.test", "remote:lists@remote.test");
	expect_targets(a, "team@example.test", "alice@example.test "
	    "remote:archive@remote.test bob@example.test carol@other.test");
	/* Fan-out through nested aliases, duplicates dropped. */
	expect_targets(a, "all@example.test", "alice@example.test "
	    "remote:archive@remote.test bob@example.test carol@other.test "
	    "remote:friend@remote.test");
	/* A bare local part works in every local domain. */
	expect_targets(a, "postmaster@example.test", "alice@example.test "
	    "remote:archive@remote.test");
	expect_targets(a, "postmaster@other.test", "alice@example.test "
	    "remote:archive@remote.test");
	/* Catch-all, but users come first. */
	expect_targets(a, "anything@other.test", "carol@other.test");
	expect_targets(a, "carol@other.test", "carol@other.test");
	/* Not ours: a remote target, as given (domain lower-cased). */
	expect_targets(a, "Someone@Elsewhere.test",
	    "remote:Someone@elsewhere.test");

	expect_fail(a, "nobody@example.test", 0, NULL);
	expect_fail(a, "ghost@example.test", 0, NULL);
	expect_fail(a, "loop1@example.test", -1, "alias loop");
	expect_fail(a, "bad address", -1, "bad address syntax");
	accounts_close(&a);
}

/* RFC 6531: users, aliases and domains with UTF-8, found the way smtpd
 * and pop3d ask (ASCII case folded, UTF-8 as given). */
Test(accounts, utf8_users_and_aliases)
{
	struct accounts		*a;
	struct accounts_user	 u;
	char			 err[256];

	cr_assert_eq(accounts_domain_add(&conf, "example.test", err,
	    sizeof(err)), 0);
	cr_assert_eq(accounts_domain_add(&conf, "B\xc3\xbc" "cher.Test", err,
	    sizeof(err)), 0, "%s", err);
	add_user("j\xc3\xb6s@example.test", "x");
	add_user("m\xc3\xbcller@b\xc3\xbc" "cher.test", "x");
	add_alias("b\xc3\xb6ss@example.test", "j\xc3\xb6s@example.test,"
	    "m\xc3\xbcller@B\xc3\xbc" "cher.test");
	cr_assert_eq(accounts_alias_add(&conf, "j\x80@example.test",
	    "j\xc3\xb6s@example.test", err, sizeof(err)), -1);
	a = aopen();
	cr_assert_eq(accounts_is_local_domain(a, "b\xc3\xbc" "cher.TEST"), 1);
	cr_assert_eq(accounts_user_lookup(a, "J\xc3\xb6s+x@Example.TEST", &u),
	    1);
	cr_assert_str_eq(u.address, "j\xc3\xb6s@example.test");
	/* non-ASCII octets are %XX in the mailbox's one path component */
	cr_assert_str_eq(u.mailbox, "example.test/j%C3%B6s");
	/* no Unicode case mapping: "J\xc3\x96S" is another name */
	cr_assert_eq(accounts_user_lookup(a, "J\xc3\x96s@example.test", &u), 0);
	expect_targets(a, "b\xc3\xb6ss@example.test",
	    "j\xc3\xb6s@example.test m\xc3\xbcller@b\xc3\xbc" "cher.test");
	expect_fail(a, "j\xc3@example.test", -1, "bad address syntax");
	accounts_close(&a);
}

Test(accounts, alias_depth_bound)
{
	struct accounts	*a;
	char		 err[256], src[64], dst[64];
	int		 i;

	cr_assert_eq(accounts_domain_add(&conf, "example.test", err,
	    sizeof(err)), 0);
	add_user("end@example.test", "x");
	for (i = 0; i < 12; i++) {
		(void)str_printf(src, sizeof(src), "a%d@example.test", i);
		(void)str_printf(dst, sizeof(dst), "a%d@example.test", i + 1);
		add_alias(src, dst);
	}
	add_alias("a12@example.test", "end@example.test");
	a = aopen();
	/* 10 levels are fine, 13 are not. */
	expect_targets(a, "a3@example.test", "end@example.test");
	expect_fail(a, "a0@example.test", -1, "deeper than 10");
	accounts_close(&a);
}

Test(accounts, alias_changes)
{
	struct accounts	*a;
	char		 err[256];

	cr_assert_eq(accounts_domain_add(&conf, "example.test", err,
	    sizeof(err)), 0);
	add_user("alice@example.test", "x");
	add_alias("info@example.test", "alice@example.test,x@remote.test");
	cr_assert_eq(accounts_alias_add(&conf, "bad source!", "a@b.c", err,
	    sizeof(err)), -1);
	cr_assert(strstr(err, "invalid alias source") != NULL);
	cr_assert_eq(accounts_alias_add(&conf, "info@example.test", "not addr",
	    err, sizeof(err)), -1);
	cr_assert(strstr(err, "invalid target address 'not addr'") != NULL);
	cr_assert_eq(accounts_alias_del(&conf, "info@example.test",
	    "y@remote.test", err, sizeof(err)), -1);
	cr_assert(strstr(err, "is not a target") != NULL, "%s", err);
	cr_assert_eq(accounts_alias_del(&conf, "info@example.test",
	    "x@remote.test", err, sizeof(err)), 0, "%s", err);
	a = aopen();
	expect_targets(a, "info@example.test", "alice@example.test");
	cr_assert_eq(accounts_alias_del(&conf, "info@example.test", NULL, err,
	    sizeof(err)), 0);
	expect_fail(a, "info@example.test", 0, NULL);
	cr_assert_eq(accounts_alias_del(&conf, "info@example.test", NULL, err,
	    sizeof(err)), -1);
	cr_assert_str_eq(err, "no such alias info@example.test");
	accounts_close(&a);
}

Test(accounts, mailbox_create)
{
	struct accounts_user	 u;
	struct stat		 st;
	char			 err[256], p[256];
	static const char *const want[] = { "cur", "new", "tmp", ".Sent/cur",
	    ".Drafts/new", ".Trash/tmp", ".Junk/cur", ".Junk/maildirfolder" };
	size_t			 i;

	accounts_user_init(&u, "alice@example.test");
	cr_assert_eq(accounts_mailbox_create(&conf, &u, err, sizeof(err)), 0,
	    "%s", err);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		(void)str_printf(p, sizeof(p), "%s/mail/example.test/alice/%s",
		    dir, want[i]);
		cr_assert_eq(stat(p, &st), 0, "%s", p);
	}
	/* Again: existing directories are fine. */
	cr_assert_eq(accounts_mailbox_create(&conf, &u, err, sizeof(err)), 0);
	accounts_user_init(&u, "bob@example.test");
	u.format = ACCOUNTS_MBOX;
	cr_assert_eq(accounts_mailbox_create(&conf, &u, err, sizeof(err)), 0);
	(void)str_printf(p, sizeof(p), "%s/mail/example.test/bob/INBOX", dir);
	cr_assert_eq(stat(p, &st), 0);
	cr_assert(S_ISREG(st.st_mode));
	cr_assert_eq(accounts_mail_path(&conf, &u, p, sizeof(p)), 0);
	cr_assert(strstr(p, "/mail/example.test/bob") != NULL);
}

/* ---- mailbox names: one component per address, never shared ---- */

struct mbname_case {
	char	 addr[80];
	char	 want[120];
};

ParameterizedTestParameters(accounts, mailbox_name)
{
	static struct mbname_case cases[] = {
		{ "alice@example.test", "example.test/alice" },
		{ "first.last@example.test", "example.test/first.last" },
		{ "a/b@example.test", "example.test/a%2Fb" },
		{ "a/./b@example.test", "example.test/a%2F.%2Fb" },
		{ "bob/new@example.test", "example.test/bob%2Fnew" },
		{ "bob/../alice@example.test", "example.test/bob%2F..%2Falice" },
		{ ".hidden@example.test", "example.test/%2Ehidden" },
		{ "100%@example.test", "example.test/100%25" },
		{ "a%2Fb@example.test", "example.test/a%252Fb" },
		{ "\"..\"@example.test", "example.test/\"..\"" },
		{ "\"a b\"@example.test", "example.test/\"a%20b\"" },
		{ "\"/\"@example.test", "example.test/\"%2F\"" },
	};
	return cr_make_param_array(struct mbname_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct mbname_case *c, accounts, mailbox_name)
{
	struct accounts_user	 u;
	char			 out[ACCOUNTS_MAILBOX_NAME_MAX + 1];
	const char		*comp;

	cr_assert_eq(accounts_mailbox_name(c->addr, out, sizeof(out)), 0,
	    "%s", c->addr);
	cr_assert_str_eq(out, c->want);
	/* One component under the domain, never ".", ".." or hidden. */
	comp = strchr(out, '/') + 1;
	cr_assert_null(strchr(comp, '/'), "%s", out);
	cr_assert_neq(comp[0], '.', "%s", out);
	/* The record and the path agree, and the path ignores a record's
	 * mailbox field that points elsewhere. */
	accounts_user_init(&u, c->addr);
	cr_assert_str_eq(u.mailbox, c->want);
	(void)str_copy(u.mailbox, "example.test/alice", sizeof(u.mailbox));
	cr_assert_eq(accounts_mail_path(&conf, &u, out, sizeof(out)), 0);
	cr_assert(strstr(out, c->want) != NULL, "%s", out);
}

Test(accounts, mailbox_name_bounds)
{
	char	 local[ACCOUNTS_LOCAL_MAX + 1], addr[ACCOUNTS_ADDR_MAX + 8];
	char	 out[ACCOUNTS_MAILBOX_NAME_MAX + 1], dom[ACCOUNTS_DOMAIN_MAX + 1];
	size_t	 i;

	/* The longest address, all escaped, still fits the bound. */
	memset(local, '/', ACCOUNTS_LOCAL_MAX);
	local[ACCOUNTS_LOCAL_MAX] = '\0';
	for (i = 0; i < ACCOUNTS_DOMAIN_MAX; i++)
		dom[i] = i % 64 == 63 ? '.' : 'd';
	dom[ACCOUNTS_DOMAIN_MAX] = '\0';
	cr_assert(str_printf(addr, sizeof(addr), "%s@%s", local, dom));
	cr_assert_eq(accounts_mailbox_name(addr, out, sizeof(out)), 0);
	cr_assert_eq(strlen(out), ACCOUNTS_MAILBOX_NAME_MAX);
	cr_assert_eq(accounts_mailbox_name(addr, out, sizeof(out) - 1), -1);
	cr_assert_eq(accounts_mailbox_name("@example.test", out, sizeof(out)),
	    -1);
	cr_assert_eq(accounts_mailbox_name("a@../x", out, sizeof(out)), -1);
	cr_assert_eq(accounts_mailbox_name("noat", out, sizeof(out)), -1);
}

/* The first mailbox of a new domain: every directory from STATE down to
 * the mailbox and its folders is fsync'd. */
Test(accounts, mailbox_create_syncs_the_new_path)
{
	static const char *const want[] = { "", "/mail", "/mail/new.test",
	    "/mail/new.test/alice", "/mail/new.test/alice/.Sent",
	    "/mail/new.test/alice/.Junk" };
	struct accounts_user	 u;
	char			 err[256], p[256], real[4096];
	size_t			 i;

	cr_assert_not_null(realpath(dir, real));
	str_init(&synced, 0);
	cr_assert_eq(str_append_c(&synced, '\n'), 0);
	accounts_user_init(&u, "alice@new.test");
	cr_assert_eq(accounts_mailbox_create(&conf, &u, err, sizeof(err)), 0,
	    "%s", err);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		(void)str_printf(p, sizeof(p), "%s%s", real, want[i]);
		cr_assert(was_synced(p), "%s not synced:\n%s", p,
		    str_c(&synced));
	}
	str_release(&synced);
}

/* A user whose name holds "/new" gets a mailbox of its own, not bob's
 * new/ directory. */
Test(accounts, mailbox_create_never_nests)
{
	struct accounts_user	 u;
	struct stat		 st;
	char			 err[256], p[256];

	accounts_user_init(&u, "bob@example.test");
	cr_assert_eq(accounts_mailbox_create(&conf, &u, err, sizeof(err)), 0,
	    "%s", err);
	accounts_user_init(&u, "bob/new@example.test");
	cr_assert_eq(accounts_mailbox_create(&conf, &u, err, sizeof(err)), 0,
	    "%s", err);
	(void)str_printf(p, sizeof(p), "%s/mail/example.test/bob%%2Fnew/cur",
	    dir);
	cr_assert_eq(stat(p, &st), 0, "%s", p);
	(void)str_printf(p, sizeof(p), "%s/mail/example.test/bob/new/cur",
	    dir);
	cr_assert_eq(stat(p, &st), -1, "%s", p);
}

static uint64_t	 fake_ms = 1700000000000ULL;

static uint64_t
fake_clock(void)
{
	return fake_ms;
}

Test(accounts, authenticate_with_throttle)
{
	struct auth_throttle_conf tc = {
		.failure_delay = 50, .max_delay = 400, .penalty_time = 60000,
		.address_max_failures = 100, .clock = fake_clock,
	};
	struct auth_throttle	*t;
	struct accounts		*a;
	struct accounts_user	 u;
	char			 err[256], path[128];
	uint64_t		 d;
	const char		*ts = "<1896.697170952@dbc.mtview.ca.us>";

	cr_assert_eq(accounts_domain_add(&conf, "example.test", err,
	    sizeof(err)), 0);
	add_user("alice@example.test", "right");
	add_user("bob@example.test", "right");
	cr_assert_eq(accounts_user_change(&conf, "alice@example.test",
	    ACCOUNTS_SET_APOP, "tanstaaf", err, sizeof(err)), 0);
	(void)str_printf(path, sizeof(path), "%s/throttle", dir);
	t = auth_throttle_open(path, &tc, err, sizeof(err));
	cr_assert_not_null(t, "%s", err);
	a = aopen();

	cr_assert_eq(accounts_authenticate(a, t, "192.0.2.1",
	    "alice@example.test", "right", NULL, &u, &d), ACCOUNTS_AUTH_OK);
	cr_assert_eq(d, 0);
	cr_assert_eq(accounts_authenticate(a, t, "192.0.2.1",
	    "alice@example.test", "c4c9334bac560ecc979e58001b3e22fb", ts, &u,
	    &d), ACCOUNTS_AUTH_OK);
	cr_assert_eq(d, 0);
	/* Sub-addresses and case are one account: victim+1@, victim+2@ ...
	 * all count on alice's record. */
	cr_assert_eq(accounts_authenticate(a, t, "192.0.2.1",
	    "alice+1@example.test", "wrong", NULL, &u, &d),
	    ACCOUNTS_AUTH_FAILED);
	cr_assert_eq(d, 0);
	cr_assert_eq(accounts_authenticate(a, t, "192.0.2.1",
	    "ALICE+2@Example.TEST", "wrong", NULL, &u, &d),
	    ACCOUNTS_AUTH_FAILED);
	cr_assert_eq(d, 50);
	cr_assert_eq(accounts_authenticate(a, t, "192.0.2.1",
	    "alice@example.test", "wrong", NULL, &u, &d),
	    ACCOUNTS_AUTH_FAILED);
	cr_assert_eq(d, 50 + 100);
	/* Another user from the same address: not slowed. */
	cr_assert_eq(accounts_authenticate(a, t, "192.0.2.1",
	    "bob@example.test", "right", NULL, &u, &d), ACCOUNTS_AUTH_OK);
	cr_assert_eq(d, 0);
	/* Three failures: the right password still gets in, after the
	 * wait (no lockout). */
	fake_ms += 150;
	cr_assert_eq(accounts_authenticate(a, t, "192.0.2.1",
	    "alice@example.test", "right", NULL, &u, &d), ACCOUNTS_AUTH_OK);
	cr_assert_eq(d, 200);
	/* Attempts queued past max_delay are refused unchecked. */
	cr_assert_eq(accounts_authenticate(a, t, "192.0.2.2",
	    "nobody@example.test", "x", NULL, &u, &d), ACCOUNTS_AUTH_FAILED);
	cr_assert_eq(accounts_authenticate(a, t, "192.0.2.2",
	    "nobody@example.test", "x", NULL, &u, &d), ACCOUNTS_AUTH_FAILED);
	cr_assert_eq(accounts_authenticate(a, t, "192.0.2.2",
	    "nobody@example.test", "x", NULL, &u, &d), ACCOUNTS_AUTH_FAILED);
	cr_assert_eq(d, 150);
	cr_assert_eq(accounts_authenticate(a, t, "192.0.2.2",
	    "nobody@example.test", "x", NULL, &u, &d), ACCOUNTS_AUTH_FAILED);
	cr_assert_eq(d, 350);
	cr_assert_eq(accounts_authenticate(a, t, "192.0.2.2",
	    "nobody@example.test", "x", NULL, &u, &d),
	    ACCOUNTS_AUTH_THROTTLED);
	/* Without a throttle. */
	cr_assert_eq(accounts_authenticate(a, NULL, "192.0.2.1",
	    "alice@example.test", "right", NULL, &u, &d), ACCOUNTS_AUTH_OK);
	accounts_close(&a);
	auth_throttle_close(&t);
}

/* Users and aliases we create keep RFC 5321's 64-octet local part, while
 * the grammar (and so lookups) take longer ones. */
Test(accounts, local_part_limit_for_what_we_create)
{
	char	 a[128];

	memset(a, 'a', sizeof(a));
	memcpy(a + 64, "@x.test", 8);
	cr_assert(accounts_local_fits(a));
	cr_assert(accounts_address_valid(a, false));
	memset(a, 'a', sizeof(a));
	memcpy(a + 65, "@x.test", 8);
	cr_assert_not(accounts_local_fits(a));
	cr_assert(accounts_address_valid(a, false));
	cr_assert_not(accounts_local_fits("no-at-sign"));
}

Test(accounts, login_name_and_default_realm)
{
	struct accounts_conf	 c = conf;
	struct accounts		*a;
	struct accounts_user	 u;
	char			 err[256], out[ACCOUNTS_ADDR_MAX];

	cr_assert_eq(accounts_login_name(&c, "Alice+x@Example.TEST", out,
	    sizeof(out)), 0);
	cr_assert_str_eq(out, "alice@example.test");
	/* A bare name is no address without a realm. */
	cr_assert_eq(accounts_login_name(&c, "alice", out, sizeof(out)), -1);
	c.default_realm = "example.test";
	cr_assert_eq(accounts_login_name(&c, "Alice", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "alice@example.test");
	/* A name with @ keeps its own domain. */
	cr_assert_eq(accounts_login_name(&c, "bob@example.org", out,
	    sizeof(out)), 0);
	cr_assert_str_eq(out, "bob@example.org");
	cr_assert_eq(accounts_login_name(&c, "bad name", out, sizeof(out)),
	    -1);
	cr_assert_eq(accounts_login_name(&c, "", out, sizeof(out)), -1);

	cr_assert_eq(accounts_domain_add(&conf, "example.test", err,
	    sizeof(err)), 0);
	add_user("alice@example.test", "right");
	c.read_secrets = true;
	a = accounts_open(&c, err, sizeof(err));
	cr_assert_not_null(a, "%s", err);
	cr_assert_eq(accounts_login(a, "alice", "right", &u), 1);
	cr_assert_str_eq(u.address, "alice@example.test");
	cr_assert_eq(accounts_login(a, "alice", "wrong", &u), 0);
	accounts_close(&a);
	/* Without the realm the bare name is refused. */
	a = aopen();
	cr_assert_eq(accounts_login(a, "alice", "right", &u), 0);
	accounts_close(&a);
}

/* ---- secrets left in users records written before the passwd map ---- */

/* Write addr's users record the old way: hash (of pw) and APOP inside. */
static void
put_old_record(const char *addr, const char *pw, const char *apop)
{
	struct accounts_user	 u;
	struct maps_edit	*e;
	struct str		 rec;
	char			 spec[4096], err[256];

	accounts_user_init(&u, addr);
	cr_assert_eq(auth_hash_password(pw, AUTH_HASH_SHA512, u.hash,
	    sizeof(u.hash)), 0);
	if (apop != NULL)
		cr_assert(str_copy(u.apop_secret, apop, sizeof(u.apop_secret)));
	str_init(&rec, 0);
	cr_assert_eq(accounts_user_format(&u, &rec), 0);
	cr_assert_eq(accounts_map_spec(&conf, "users", spec, sizeof(spec)), 0);
	e = maps_edit_begin(spec, 0, err, sizeof(err));
	cr_assert_not_null(e, "%s", err);
	cr_assert_eq(maps_edit_put(e, addr, rec.data, rec.len, true), 0);
	cr_assert_eq(maps_edit_commit(&e, err, sizeof(err)), 0, "%s", err);
	str_release(&rec);
}

/* The users record of addr as stored: 1 if it still holds a secret. */
static int
users_record_has_secret(const char *addr)
{
	struct accounts_user	 u;
	struct maps		*m;
	struct str		 v;
	char			 spec[4096], err[256];
	int			 has;

	cr_assert_eq(accounts_map_spec(&conf, "users", spec, sizeof(spec)), 0);
	m = maps_open(spec, 0, err, sizeof(err));
	cr_assert_not_null(m, "%s", err);
	str_init(&v, 0);
	cr_assert_eq(maps_lookup(m, addr, &v), MAPS_FOUND);
	cr_assert_eq(accounts_user_parse(v.data, v.len, &u), 0);
	has = u.hash[0] != '\0' || u.apop_secret[0] != '\0';
	str_release(&v);
	maps_close(&m);
	return has;
}

Test(accounts, secrets_migrate_moves_old_records)
{
	struct accounts		*a;
	struct accounts_user	 u;
	unsigned int		 n = 99;
	char			 err[256];
	const char		*ts = "<1896.697170952@dbc.mtview.ca.us>";
	const char		*dg = "c4c9334bac560ecc979e58001b3e22fb";

	cr_assert_eq(accounts_domain_add(&conf, "example.test", err,
	    sizeof(err)), 0);
	/* nothing to do on a fresh state: no map is created or changed */
	cr_assert_eq(accounts_secrets_migrate(&conf, &n, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(n, 0);
	add_user("new@example.test", "fresh");
	put_old_record("old@example.test", "right", NULL);
	put_old_record("apop@example.test", "pw", "tanstaaf");
	/* a passwd record (newer) and a stale hash in the users record */
	add_user("both@example.test", "newer");
	put_old_record("both@example.test", "older", NULL);
	cr_assert_eq(users_record_has_secret("old@example.test"), 1);

	cr_assert_eq(accounts_secrets_migrate(&conf, &n, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(n, 3);
	cr_assert_eq(users_record_has_secret("old@example.test"), 0);
	cr_assert_eq(users_record_has_secret("apop@example.test"), 0);
	cr_assert_eq(users_record_has_secret("both@example.test"), 0);
	cr_assert_eq(users_record_has_secret("new@example.test"), 0);

	a = aopen();
	cr_assert_eq(accounts_login(a, "old@example.test", "right", &u), 1);
	cr_assert_eq(accounts_login(a, "old@example.test", "wrong", &u), 0);
	cr_assert_eq(accounts_login_apop(a, "apop@example.test", ts, dg, &u),
	    1);
	cr_assert_eq(accounts_login(a, "both@example.test", "newer", &u), 1);
	cr_assert_eq(accounts_login(a, "both@example.test", "older", &u), 0);
	cr_assert_eq(accounts_login(a, "new@example.test", "fresh", &u), 1);
	accounts_close(&a);

	/* once moved, a second run has nothing to do */
	cr_assert_eq(accounts_secrets_migrate(&conf, &n, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(n, 0);
}
