# SPDX-License-Identifier: MIT
"""End-to-end tests of the account verbs: domain, user, alias, map.

They run `buzon -c CONF VERB ...` against a fresh instance made by
`buzon init` (no daemons needed) and check the output, the exit codes and
what lands on disk.  A verb that is missing fails its tests.
"""

import os
import re
import subprocess
import unittest

import buzontest
from buzontest import Instance, buzon


need_verbs = buzontest.require_verbs


class AdminCase(unittest.TestCase):
    def setUp(self):
        buzontest.need(self, buzontest.have_buzon(), "buzon not built")
        self.inst = Instance()
        self.addCleanup(self.inst.cleanup)

    def ok(self, *args, input=None):
        r = self.inst.cli(*args, input=input)
        self.assertEqual(r.returncode, 0, "%s: %s%s" % (args, r.stdout,
                                                          r.stderr))
        return r.stdout

    def fails(self, code, message, *args, input=None):
        r = self.inst.cli(*args, input=input)
        self.assertEqual(r.returncode, code, "%s: %s%s" % (args, r.stdout,
                                                             r.stderr))
        self.assertIn(message, r.stderr)
        return r

    def lines(self, *args):
        return self.ok(*args).splitlines()

    def mail(self, *parts):
        return os.path.join(self.inst.dir, "mail", *parts)

    def add_user(self, address, password="correct horse", *opts):
        return self.ok("user", "add", address, "--password-stdin", *opts,
                       input=password + "\n")


@need_verbs("domain", "user", "alias", "map")
class Help(unittest.TestCase):
    def test_every_verb_has_help(self):
        for verb, words in (("domain", "domain add DOMAIN"),
                            ("user", "user add ADDRESS"),
                            ("alias", "alias add SOURCE"),
                            ("map", "map compile")):
            for flag in ("--help", "-h"):
                r = buzon(verb, flag)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn(words, r.stdout)
            r = buzon(verb, "add", "--help")
            self.assertEqual(r.returncode, 0)
        r = buzon("--help")
        for verb in ("domain", "user", "alias", "map compile"):
            self.assertIn(verb, r.stdout)

    def test_usage_errors_exit_2(self):
        for args in (["domain"], ["domain", "frob", "x"], ["domain", "add"],
                     ["user"], ["user", "add"], ["user", "frob", "a@b.c"],
                     ["user", "add", "a@b.c", "--bogus"],
                     ["user", "apop", "maybe", "a@b.c"],
                     ["alias", "add", "x"], ["alias", "list", "extra"],
                     ["map"], ["map", "compile"]):
            r = buzon(*args)
            self.assertEqual(r.returncode, 2, "%s: %s" % (args, r.stderr))
            self.assertIn("buzon %s:" % args[0], r.stderr)


@need_verbs("domain", "user")
class Domains(AdminCase):
    def test_add_list_del(self):
        self.assertEqual(self.lines("domain", "list"), [])
        self.ok("domain", "add", "Example.TEST")
        self.ok("domain", "add", "b.example")
        self.assertEqual(self.lines("domain", "list"),
                         ["b.example", "example.test"])
        self.fails(1, "domain example.test exists", "domain", "add",
                   "example.test")
        self.fails(1, "invalid domain name", "domain", "add", "bad_domain")
        self.fails(1, "invalid domain name", "domain", "add", "-x.example")
        self.ok("domain", "del", "b.example")
        self.fails(1, "unknown domain b.example", "domain", "del",
                   "b.example")
        self.assertEqual(self.lines("domain", "list"), ["example.test"])

    def test_del_refused_while_users_remain(self):
        self.ok("domain", "add", "example.test")
        self.add_user("alice@example.test")
        self.fails(1, "still has 1 users", "domain", "del", "example.test")
        self.ok("user", "del", "alice@example.test")
        self.ok("domain", "del", "example.test")


@need_verbs("domain", "user")
class Users(AdminCase):
    def setUp(self):
        super().setUp()
        self.ok("domain", "add", "example.test")

    def show(self, address):
        out = self.ok("user", "show", address)
        return dict(line.split(": ", 1) for line in out.splitlines())

    def test_add_creates_maildir(self):
        self.add_user("Alice@Example.test")
        self.assertEqual(self.lines("user", "list"), ["alice@example.test"])
        base = self.mail("example.test", "alice")
        for sub in ("cur", "new", "tmp", ".Sent/cur", ".Drafts/new",
                    ".Trash/tmp", ".Junk/cur"):
            self.assertTrue(os.path.isdir(os.path.join(base, sub)), sub)
        s = self.show("alice@example.test")
        self.assertEqual(s["enabled"], "yes")
        self.assertEqual(s["format"], "maildir")
        self.assertEqual(s["mailbox"], base)
        self.assertEqual(s["password"], "yescrypt")
        # buzon init states a default quota for new users.
        self.assertEqual(s["quota"], str(1 << 30))
        self.assertEqual(s["apop"], "disabled")
        # Made by root, the mailbox and the maps belong to the owner of
        # STATE/mail and STATE/maps (the daemons' user).
        if buzontest.is_root():
            owner = os.stat(self.mail()).st_uid
            for sub in ("", "new", ".Sent", ".Sent/cur"):
                self.assertEqual(os.stat(os.path.join(base, sub)).st_uid,
                                 owner, sub)
            maps = os.path.join(self.inst.dir, "maps")
            for name in ("users.db", "users.lock"):
                self.assertEqual(os.stat(os.path.join(maps, name)).st_uid,
                                 os.stat(maps).st_uid, name)
        # The hash never leaves the map.
        self.assertNotIn("$y$", self.ok("user", "show", "alice@example.test"))

    def test_mbox_and_quota(self):
        self.add_user("bob@example.test", "pw", "--mbox", "--quota", "10M")
        s = self.show("bob@example.test")
        self.assertEqual(s["format"], "mbox")
        self.assertEqual(s["quota"], str(10 * 1024 * 1024))
        self.assertTrue(os.path.isfile(self.mail("example.test", "bob",
                                                 "INBOX")))
        self.fails(2, "bad --quota", "user", "add", "carol@example.test",
                   "--quota", "lots", "--password-stdin", input="pw\n")

    def test_errors(self):
        self.add_user("alice@example.test")
        self.fails(1, "user alice@example.test exists", "user", "add",
                   "ALICE@example.test", "--password-stdin", input="x\n")
        self.fails(1, "unknown domain other.test", "user", "add",
                   "carol@other.test", "--password-stdin", input="x\n")
        for bad in ("carol", "carol@", "ca rol@example.test",
                    "carol..x@example.test", "carol@[192.0.2.1]"):
            self.fails(1, "invalid address", "user", "add", bad,
                       "--password-stdin", input="x\n")
        self.fails(1, "recipient delimiter", "user", "add",
                   "carol+x@example.test", "--password-stdin", input="x\n")
        self.fails(1, "empty password", "user", "add", "carol@example.test",
                   "--password-stdin", input="\n")
        self.fails(1, "no password on stdin", "user", "add",
                   "carol@example.test", "--password-stdin", input="")
        for verb in ("del", "show", "enable", "disable", "passwd"):
            self.fails(1, "no such user nobody@example.test", "user", verb,
                       "nobody@example.test", "--password-stdin",
                       input="x\n")
        # Nothing was created for the refused ones.
        self.assertFalse(os.path.exists(self.mail("example.test", "carol")))

    def test_no_terminal_needs_password_stdin(self):
        r = subprocess.run(
            [buzontest.BUZON, "-c", self.inst.conf, "user", "add",
             "carol@example.test"], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            universal_newlines=True, timeout=30, env=self.inst.env(),
            start_new_session=True)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--password-stdin", r.stderr)

    def test_enable_disable_passwd_apop_del(self):
        self.add_user("alice@example.test")
        self.ok("user", "disable", "alice@example.test")
        self.assertEqual(self.show("alice@example.test")["enabled"], "no")
        self.ok("user", "enable", "Alice@example.test")
        self.assertEqual(self.show("alice@example.test")["enabled"], "yes")
        self.ok("user", "passwd", "alice@example.test", "--password-stdin",
                input="new password\n")
        self.ok("user", "apop", "enable", "alice@example.test",
                "--password-stdin", input="tanstaaf\n")
        self.assertEqual(self.show("alice@example.test")["apop"], "enabled")
        self.ok("user", "apop", "disable", "alice@example.test")
        self.assertEqual(self.show("alice@example.test")["apop"], "disabled")
        out = self.ok("user", "del", "alice@example.test")
        self.assertIn("mailbox stays", out)
        self.assertEqual(self.lines("user", "list"), [])
        self.assertTrue(os.path.isdir(self.mail("example.test", "alice")))

    def test_list_by_domain(self):
        self.ok("domain", "add", "other.test")
        self.add_user("bob@example.test")
        self.add_user("alice@example.test")
        self.add_user("carol@other.test")
        self.assertEqual(self.lines("user", "list"),
                         ["alice@example.test", "bob@example.test",
                          "carol@other.test"])
        self.assertEqual(self.lines("user", "list", "other.test"),
                         ["carol@other.test"])


@need_verbs("domain", "user", "alias")
class Aliases(AdminCase):
    def setUp(self):
        super().setUp()
        self.ok("domain", "add", "example.test")
        self.add_user("alice@example.test")

    def test_add_list_del(self):
        self.ok("alias", "add", "Info@example.test",
                "alice@example.test,friend@Remote.TEST")
        self.ok("alias", "add", "info@example.test", "alice@example.test")
        self.ok("alias", "add", "postmaster", "alice@example.test")
        self.ok("alias", "add", "@example.test", "alice@example.test")
        self.assertEqual(self.lines("alias", "list"), [
            "@example.test alice@example.test",
            "info@example.test alice@example.test,friend@remote.test",
            "postmaster alice@example.test"])
        self.ok("alias", "del", "info@example.test", "friend@remote.test")
        self.fails(1, "is not a target", "alias", "del", "info@example.test",
                   "friend@remote.test")
        self.ok("alias", "del", "postmaster")
        self.fails(1, "no such alias postmaster", "alias", "del",
                   "postmaster")
        self.assertEqual(self.lines("alias", "list"), [
            "@example.test alice@example.test",
            "info@example.test alice@example.test"])

    def test_errors(self):
        self.fails(1, "invalid alias source", "alias", "add", "a b",
                   "alice@example.test")
        self.fails(1, "invalid alias source", "alias", "add", "@bad_domain",
                   "alice@example.test")
        self.fails(1, "invalid target address 'alice'", "alias", "add",
                   "info@example.test", "alice")
        self.assertEqual(self.lines("alias", "list"), [])


@need_verbs("map")
class MapCompile(AdminCase):
    def write(self, name, text):
        path = os.path.join(self.inst.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_compile(self):
        path = self.write("virtual", "# comment\n\n"
                          "postmaster:  alice@example.test\n"
                          "Info@Example.TEST   a@x.test, b@y.test\n")
        out = self.ok("map", "compile", path)
        self.assertIn("2 records", out)
        self.assertTrue(os.path.isfile(path + ".db"))
        # Again, replacing the map.
        self.write("virtual", "one two\n")
        self.assertIn("1 records", self.ok("map", "compile", "hash:" + path))
        self.assertIn("1 records", self.ok("map", "compile", "btree:" + path))

    def test_bad_lines_are_numbered_and_nothing_is_written(self):
        path = self.write("bad", "good value\n"
                          "lonely\n"
                          "good again\n" +
                          "k" * 600 + " v\n")
        r = self.fails(1, "not written", "map", "compile", path)
        self.assertIn("%s:2: 'lonely' has no value" % path, r.stderr)
        self.assertIn("%s:3: duplicate key 'good'" % path, r.stderr)
        self.assertIn("%s:4: key longer than" % path, r.stderr)
        self.assertFalse(os.path.exists(path + ".db"))
        many = self.write("many", "x\n" * 500)
        r = self.fails(1, "too many errors", "map", "compile", many)
        self.assertEqual(len(r.stderr.splitlines()), 101)
        self.fails(1, "No such file", "map", "compile",
                   os.path.join(self.inst.tmp, "none"))
        self.fails(1, "unknown map type 'cdb'", "map", "compile",
                   "cdb:" + path)

    def test_lmdb(self):
        path = self.write("t", "a 1\n")
        r = self.inst.cli("map", "compile", "lmdb:" + path)
        if r.returncode != 0 and "not built in" in r.stderr:
            self.skipTest("built without LMDB")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.isfile(path + ".lmdb"))


@need_verbs("domain", "user")
class Settings(unittest.TestCase):
    """Config keys of the accounts: password policy, map type, case."""

    def setUp(self):
        buzontest.need(self, buzontest.have_buzon(), "buzon not built")

    def instance(self, **overrides):
        inst = Instance(overrides=overrides)
        self.addCleanup(inst.cleanup)
        r = inst.cli("domain", "add", "example.test")
        self.assertEqual(r.returncode, 0, r.stderr)
        return inst

    def test_password_min_length(self):
        inst = self.instance(password_min_length="8")
        r = inst.cli("user", "add", "alice@example.test",
                     "--password-stdin", input="short\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("too short: at least 8", r.stderr)
        r = inst.cli("user", "add", "alice@example.test",
                     "--password-stdin", input="long enough\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = inst.cli("user", "passwd", "alice@example.test",
                     "--password-stdin", input="1234567\n")
        self.assertEqual(r.returncode, 1)

    def test_lmdb_maps(self):
        inst = self.instance(map_type="lmdb")
        maps = os.path.join(inst.dir, "maps")
        if not os.path.exists(os.path.join(maps, "domains.lmdb")):
            self.skipTest("built without LMDB")
        r = inst.cli("user", "add", "alice@example.test",
                     "--password-stdin", input="pw\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.isfile(os.path.join(maps, "users.lmdb")))
        self.assertFalse(os.path.exists(os.path.join(maps, "users.db")))
        r = inst.cli("user", "list")
        self.assertEqual(r.stdout.split(), ["alice@example.test"])

    def test_case_sensitive_local_parts(self):
        inst = self.instance(local_part_case_sensitive="yes")
        for addr in ("Alice@example.test", "alice@example.test"):
            r = inst.cli("user", "add", addr, "--password-stdin",
                         input="pw\n")
            self.assertEqual(r.returncode, 0, r.stderr)
        r = inst.cli("user", "list")
        self.assertEqual(r.stdout.split(), ["Alice@example.test",
                                            "alice@example.test"])

    def test_no_delimiter(self):
        inst = self.instance(recipient_delimiter="")
        r = inst.cli("user", "add", "a+b@example.test", "--password-stdin",
                     input="pw\n")
        self.assertEqual(r.returncode, 0, r.stderr)


@need_verbs("user")
class Demo(unittest.TestCase):
    def test_init_demo_creates_accounts(self):
        buzontest.need(self, buzontest.have_buzon(), "buzon not built")
        inst = Instance(demo=True)
        self.addCleanup(inst.cleanup)
        pw = dict(re.findall(r"(\S+@example\.test)\s+password: (\S+)",
                             inst.init_output))
        self.assertEqual(sorted(pw), ["alice@example.test",
                                      "bob@example.test"])
        self.assertNotEqual(pw["alice@example.test"], pw["bob@example.test"])
        self.assertGreaterEqual(len(pw["alice@example.test"]), 12)
        r = inst.cli("user", "list")
        self.assertEqual(r.stdout.split(), ["alice@example.test",
                                            "bob@example.test"])
        new = os.path.join(inst.dir, "mail", "example.test", "alice", "new")
        self.assertEqual(len(os.listdir(new)), 1)
        r = inst.cli("alias", "list")
        self.assertIn("postmaster alice@example.test", r.stdout)


if __name__ == "__main__":
    unittest.main()
