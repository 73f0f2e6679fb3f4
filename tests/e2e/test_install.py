# SPDX-License-Identifier: MIT
"""End-to-end tests of `make install DESTDIR=...`: the programs, the
manual pages and etc/ (sample buzon.conf and aliases, the systemd unit of
`buzon run`, the logrotate file) land where a host looks for them, the
samples are valid, and a reinstall keeps the admin's config.

They run make in the build tree ($BUZON_TOP_BUILDDIR) and install into a
temp dir; the install directories are asked of the build's Makefile.
"""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

import buzontest
from buzontest import buzon

DIRS = ("prefix", "bindir", "pkglibexecdir", "sysconfdir", "localstatedir",
        "docdir", "mandir", "systemdsystemunitdir")


def make_env():
    """The environment for a make of our own: none of the make check
    that may be running us (its jobserver, its DESTDIR)."""
    env = dict(os.environ)
    for k in ("BUZON_CONF", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES",
              "DESTDIR"):
        env.pop(k, None)
    return env


def make(*args, stdin=None):
    return subprocess.run(
        ["make", "-C", buzontest.TOP_BUILDDIR] + list(args), input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        universal_newlines=True, timeout=600, env=make_env())


def install_dirs():
    """Install directories of the build, from its Makefile: name -> path."""
    rule = "buzon-print-dirs:\n" + "".join(
        "\t@echo %s=$(%s)\n" % (d, d) for d in DIRS)
    r = make("-s", "-f", "Makefile", "-f", "-", "buzon-print-dirs",
             stdin=rule)
    if r.returncode != 0:
        raise AssertionError("make: cannot read the install dirs:\n" +
                             r.stdout)
    return dict(line.split("=", 1) for line in r.stdout.splitlines()
                if "=" in line)


def installed_files(dest):
    return sorted(os.path.relpath(os.path.join(root, n), dest)
                  for root, _, names in os.walk(dest) for n in names)


def can_make():
    return (shutil.which("make") is not None and
            os.path.isfile(os.path.join(buzontest.TOP_BUILDDIR, "Makefile")))


class InstallCase(unittest.TestCase):
    def setUp(self):
        buzontest.need(self, buzontest.have_buzon(), "buzon not built")
        buzontest.need(self, can_make(), "make or %s/Makefile missing" %
                       buzontest.TOP_BUILDDIR)
        self.dirs = install_dirs()
        self.tmp = tempfile.mkdtemp(prefix="buzon-e2e-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.dest = os.path.join(self.tmp, "dest")

    def install(self, target="install"):
        r = make(target, "DESTDIR=" + self.dest)
        self.assertEqual(r.returncode, 0, r.stdout[-3000:])
        return r.stdout

    def path(self, var, *rest):
        return os.path.join(self.dest + self.dirs[var], *rest)

    def read(self, var, *rest):
        with open(self.path(var, *rest)) as f:
            return f.read()


@buzontest.require_tool("make")
class Layout(InstallCase):
    def setUp(self):
        super().setUp()
        self.install()

    def test_everything_where_a_host_looks(self):
        progs = buzontest.expected_programs()
        self.assertTrue(progs, "no programs known")
        programs = [self.path("bindir", "buzon")] + [
            self.path("pkglibexecdir", os.path.basename(p))
            for p in progs if not p.startswith("master/")]
        data = [self.path("sysconfdir", "buzon", "buzon.conf"),
                self.path("sysconfdir", "buzon", "aliases"),
                self.path("sysconfdir", "logrotate.d", "buzon"),
                self.path("docdir", "examples", "buzon.conf"),
                self.path("docdir", "examples", "aliases"),
                self.path("mandir", "man8", "buzon.8"),
                self.path("mandir", "man5", "buzon.conf.5")]
        if self.dirs["systemdsystemunitdir"] != "no":
            data.append(self.path("systemdsystemunitdir", "buzon.service"))
        for p in programs + data:
            with self.subTest(path=os.path.relpath(p, self.dest)):
                self.assertTrue(os.path.isfile(p))
                self.assertEqual(os.access(p, os.X_OK), p in programs)

    def test_no_placeholder_left(self):
        for var, rest in (("sysconfdir", ("buzon", "buzon.conf")),
                          ("sysconfdir", ("logrotate.d", "buzon")),
                          ("systemdsystemunitdir", ("buzon.service",))):
            self.assertNotRegex(self.read(var, *rest), r"@[a-z_]+@")

    def test_sample_config_is_valid(self):
        conf = self.path("sysconfdir", "buzon", "buzon.conf")
        r = buzon("config", "check", "-c", conf)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("OK", r.stdout)
        text = self.read("sysconfdir", "buzon", "buzon.conf")
        self.assertIn("\nstate_dir = %s/lib/buzon\n" %
                      self.dirs["localstatedir"], text)
        self.assertEqual(text, self.read("docdir", "examples", "buzon.conf"))

    def test_sample_config_keys_are_documented(self):
        with open(os.path.join(buzontest.TOP_SRCDIR, "docs",
                               "buzon.conf.5")) as f:
            man = f.read()
        keys = re.findall(r"(?m)^([a-z0-9_]+) =",
                          self.read("sysconfdir", "buzon", "buzon.conf"))
        self.assertGreater(len(keys), 10)
        for key in keys:
            self.assertIn("\n.TP\n.B %s\n" % key, man,
                          "%s is not in buzon.conf(5)" % key)

    def test_sample_aliases_compile(self):
        aliases = os.path.join(self.tmp, "aliases")
        shutil.copy(self.path("sysconfdir", "buzon", "aliases"), aliases)
        r = buzon("map", "compile", aliases)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"[1-9][0-9]* records")

    def test_systemd_unit(self):
        if self.dirs["systemdsystemunitdir"] == "no":
            self.skipTest("configured --without-systemdsystemunitdir")
        unit = self.read("systemdsystemunitdir", "buzon.service")
        buzon_bin = os.path.join(self.dirs["bindir"], "buzon")
        for line in ("ExecStart=%s run" % buzon_bin,
                     "ExecStartPre=%s config check" % buzon_bin,
                     "ExecReload=/bin/kill -HUP $MAINPID",
                     "NoNewPrivileges=yes", "ProtectSystem=strict",
                     "ReadWritePaths=%s/lib/buzon" %
                     self.dirs["localstatedir"],
                     "PrivateTmp=yes", "ProtectHome=yes",
                     "WantedBy=multi-user.target"):
            self.assertIn("\n%s\n" % line, unit)
        caps = re.search(r"(?m)^CapabilityBoundingSet=(.*)$", unit)
        self.assertIsNotNone(caps)
        # root binds ports below 1024, chowns the state tree, drops to the
        # buzon user
        for cap in ("CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SETGID",
                    "CAP_CHOWN"):
            self.assertIn(cap, caps.group(1).split())
        self.assertNotIn("CAP_SYS_ADMIN", caps.group(1))
        buzontest.need(self, shutil.which("systemd-analyze"),
                       "systemd-analyze not installed (Debian package "
                       "systemd)")
        r = subprocess.run(
            ["systemd-analyze", "verify", "--man=no",
             self.path("systemdsystemunitdir", "buzon.service")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            universal_newlines=True, timeout=60)
        # the programs are under DESTDIR, not yet where the unit says
        bad = [l for l in r.stdout.splitlines()
               if "Command %s is not executable" % buzon_bin not in l]
        self.assertEqual(bad, [], r.stdout)

    def test_logrotate_file(self):
        text = self.read("sysconfdir", "logrotate.d", "buzon")
        self.assertIn("%s/lib/buzon/log/buzon.log {" %
                      self.dirs["localstatedir"], text)
        # the log fd is shared and never reopened: rotate in place
        self.assertRegex(text, r"(?m)^\s+copytruncate$")


@buzontest.require_tool("make")
class Reinstall(InstallCase):
    def test_keeps_edited_config_and_uninstalls_the_rest(self):
        self.install()
        conf = self.path("sysconfdir", "buzon", "buzon.conf")
        with open(conf, "a") as f:
            f.write("trace = yes\n")
        with open(conf) as f:
            edited = f.read()
        out = self.install()
        self.assertIn("kept %s" % conf, out)
        with open(conf) as f:
            self.assertEqual(f.read(), edited)
        self.assertNotIn("trace = yes\n",
                         self.read("docdir", "examples", "buzon.conf"))
        self.install("uninstall")
        self.assertEqual(installed_files(self.dest),
                         [os.path.relpath(conf, self.dest)])


if __name__ == "__main__":
    unittest.main()
