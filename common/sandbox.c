/* SPDX-License-Identifier: MIT */
/*
 * sandbox.c - Landlock rulesets built from a path list (see sandbox.h)
 *
 * The handled rights are every filesystem right of ABI 1, plus REFER on
 * ABI 2: a right not handled is not restricted, so TRUNCATE (ABI 3) and
 * the later socket and ioctl rights stay as without a sandbox.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/landlock.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "event.h"
#include "handoff.h"
#include "log.h"
#include "mem.h"
#include "sandbox.h"
#include "settings.h"
#include "str.h"

#define RIGHTS_READ	(LANDLOCK_ACCESS_FS_READ_FILE | \
			 LANDLOCK_ACCESS_FS_READ_DIR)
#define RIGHTS_EXEC	(RIGHTS_READ | LANDLOCK_ACCESS_FS_EXECUTE)
#define RIGHTS_ABI1	(LANDLOCK_ACCESS_FS_EXECUTE | \
			 LANDLOCK_ACCESS_FS_WRITE_FILE | \
			 LANDLOCK_ACCESS_FS_READ_FILE | \
			 LANDLOCK_ACCESS_FS_READ_DIR | \
			 LANDLOCK_ACCESS_FS_REMOVE_DIR | \
			 LANDLOCK_ACCESS_FS_REMOVE_FILE | \
			 LANDLOCK_ACCESS_FS_MAKE_CHAR | \
			 LANDLOCK_ACCESS_FS_MAKE_DIR | \
			 LANDLOCK_ACCESS_FS_MAKE_REG | \
			 LANDLOCK_ACCESS_FS_MAKE_SOCK | \
			 LANDLOCK_ACCESS_FS_MAKE_FIFO | \
			 LANDLOCK_ACCESS_FS_MAKE_BLOCK | \
			 LANDLOCK_ACCESS_FS_MAKE_SYM)
#define RIGHTS_ALL	(RIGHTS_ABI1 | LANDLOCK_ACCESS_FS_REFER)
/* Of those, the ones that make sense on a file (not a directory). */
#define RIGHTS_FILE	(LANDLOCK_ACCESS_FS_EXECUTE | \
			 LANDLOCK_ACCESS_FS_WRITE_FILE | \
			 LANDLOCK_ACCESS_FS_READ_FILE)

struct sandbox_rule {
	char			*path;
	enum sandbox_right	 right;
};

struct sandbox {
	struct sandbox_rule	 rules[SANDBOX_MAX_RULES];
	size_t			 n;
	bool			 overflow;
};

static bool	sandbox_active;
/* The kept file (sandbox_keep_file()) and the socket to its opener. */
static char	*kept_path;
static int	 kept_sock = -1;

static int
ll_create_ruleset(const struct landlock_ruleset_attr *attr, size_t size,
    unsigned int flags)
{
	return (int)syscall(SYS_landlock_create_ruleset, attr, size, flags);
}

static int
ll_add_rule(int fd, const struct landlock_path_beneath_attr *attr)
{
	return (int)syscall(SYS_landlock_add_rule, fd,
	    LANDLOCK_RULE_PATH_BENEATH, attr, 0);
}

static int
ll_restrict_self(int fd)
{
	return (int)syscall(SYS_landlock_restrict_self, fd, 0);
}

int
sandbox_abi(void)
{
	int	 v;

	v = ll_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	return v < 0 ? 0 : v;
}

int
sandbox_mode_parse(const char *s, enum sandbox_mode *mode_r)
{
	if (strcmp(s, "off") == 0)
		*mode_r = SANDBOX_OFF;
	else if (strcmp(s, "auto") == 0)
		*mode_r = SANDBOX_AUTO;
	else if (strcmp(s, "required") == 0)
		*mode_r = SANDBOX_REQUIRED;
	else
		return -1;
	return 0;
}

bool
sandbox_is_active(void)
{
	return sandbox_active;
}

struct sandbox *
sandbox_new(void)
{
	return xcalloc(1, sizeof(struct sandbox));
}

void
sandbox_free(struct sandbox **sbp)
{
	struct sandbox	*sb = *sbp;
	size_t		 i;

	if (sb == NULL)
		return;
	for (i = 0; i < sb->n; i++)
		free(sb->rules[i].path);
	free(sb);
	*sbp = NULL;
}

void
sandbox_allow(struct sandbox *sb, const char *path, enum sandbox_right right)
{
	if (sb->n == SANDBOX_MAX_RULES || path == NULL || *path == '\0' ||
	    strlen(path) >= PATH_MAX) {
		sb->overflow = true;
		return;
	}
	sb->rules[sb->n].path = xstrdup(path);
	sb->rules[sb->n].right = right;
	sb->n++;
}

static uint64_t
rule_rights(enum sandbox_right right, uint64_t handled)
{
	switch (right) {
	case SANDBOX_READ_FILE:
		return LANDLOCK_ACCESS_FS_READ_FILE;
	case SANDBOX_READ_TREE:
		return RIGHTS_READ;
	case SANDBOX_EXEC_TREE:
		return RIGHTS_EXEC;
	case SANDBOX_RW_TREE:
		return handled;
	}
	return 0;
}

/* Add one rule; a missing path is left out (0). */
static int
rule_add(int rfd, const struct sandbox_rule *r, uint64_t handled,
    struct fail *f)
{
	struct landlock_path_beneath_attr	 pb;
	struct stat				 st;
	int					 fd, saved;

	if ((fd = open(r->path, O_PATH | O_CLOEXEC)) == -1) {
		if (errno == ENOENT) {
			log_debug("-", "sandbox skips missing path=%s",
			    r->path);
			return 0;
		}
		return fail_set(f, true, "4.3.0", "sandbox %s: %s", r->path,
		    strerror(errno));
	}
	memset(&pb, 0, sizeof(pb));
	pb.parent_fd = fd;
	pb.allowed_access = rule_rights(r->right, handled);
	if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
		pb.allowed_access &= RIGHTS_FILE;
	if (ll_add_rule(rfd, &pb) == -1) {
		saved = errno;
		(void)close(fd);
		return fail_set(f, true, "4.3.0", "sandbox rule %s: %s",
		    r->path, strerror(saved));
	}
	(void)close(fd);
	return 0;
}

int
sandbox_apply(struct sandbox *sb, enum sandbox_mode mode, const char *who,
    struct fail *f)
{
	struct landlock_ruleset_attr	 attr;
	size_t				 i;
	int				 abi, rfd, saved;

	if (mode == SANDBOX_OFF) {
		log_info("-", "sandbox off process=%s", who);
		return 0;
	}
	if (sb->overflow)
		return fail_set(f, true, "4.3.0",
		    "sandbox: bad path or more than %d rules",
		    SANDBOX_MAX_RULES);
	if ((abi = sandbox_abi()) < 2) {
		if (mode == SANDBOX_REQUIRED)
			return fail_set(f, true, "4.3.0", "sandbox required "
			    "but the kernel has %s", abi == 0 ?
			    "no Landlock" : "only Landlock ABI 1");
		log_warn("-", "sandbox unavailable process=%s landlock_abi=%d:"
		    " running unconfined", who, abi);
		return 0;
	}
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = RIGHTS_ALL;
	if ((rfd = ll_create_ruleset(&attr, sizeof(attr), 0)) == -1)
		return fail_set(f, true, "4.3.0", "landlock ruleset: %s",
		    strerror(errno));
	for (i = 0; i < sb->n; i++)
		if (rule_add(rfd, &sb->rules[i], RIGHTS_ALL, f) == -1) {
			(void)close(rfd);
			return -1;
		}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
	    ll_restrict_self(rfd) == -1) {
		saved = errno;
		(void)close(rfd);
		return fail_set(f, true, "4.3.0", "landlock restrict: %s",
		    strerror(saved));
	}
	(void)close(rfd);
	sandbox_active = true;
	log_info("-", "sandbox on process=%s landlock_abi=%d rules=%zu", who,
	    abi, sb->n);
	return 1;
}

/* ---- the opener of the kept file ---- */

/* The helper: one byte in, one open of the kept path, the fd (or the
 * errno as the byte) out; ends at EOF. */
static void __attribute__((noreturn))
opener_main(int sock, const char *path)
{
	char	 c;
	int	 fd;

	for (;;) {
		ssize_t	 n = read(sock, &c, 1);

		if (n == -1 && errno == EINTR)
			continue;
		if (n != 1)
			_exit(0);
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		c = fd == -1 ? (char)errno : 0;
		if (handoff_sendmsg(sock, &c, 1, fd) == -1)
			_exit(0);
		if (fd != -1)
			(void)close(fd);
	}
}

int
sandbox_keep_file(const char *path)
{
	int	 sv[2];
	pid_t	 pid;

	if (kept_path != NULL || path == NULL || *path == '\0')
		return -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		log_error("-", "sandbox opener error=\"%s\"", strerror(errno));
		return -1;
	}
	kept_path = realpath(path, NULL);
	if (kept_path == NULL)
		kept_path = xstrdup(path);
	if ((pid = fork()) == -1) {
		log_error("-", "sandbox opener fork error=\"%s\"",
		    strerror(errno));
		(void)close(sv[0]);
		(void)close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		/* Hold nothing but the socket: no listener, no key file. */
		if (dup2(sv[1], 3) == -1)
			_exit(EXIT_TEMPFAIL);
		closefrom(4);
		event_signal_reset_child();
		(void)signal(SIGHUP, SIG_IGN);
		(void)signal(SIGINT, SIG_IGN);
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		opener_main(3, kept_path);
	}
	(void)close(sv[1]);
	kept_sock = sv[0];
	conf_set_open(sandbox_open_kept);
	return 0;
}

int
sandbox_open_kept(const char *path)
{
	unsigned char	 b = 0;
	char		*real;
	size_t		 len;
	int		 fd = -1;
	bool		 is_kept;

	real = kept_path != NULL ? realpath(path, NULL) : NULL;
	is_kept = real != NULL && strcmp(real, kept_path) == 0;
	free(real);
	if (!is_kept || kept_sock == -1)
		return open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (write(kept_sock, "o", 1) != 1 ||
	    handoff_recvmsg(kept_sock, &b, 1, &len, &fd) != 1) {
		errno = EIO;
		return -1;
	}
	if (fd == -1)
		errno = b != 0 ? b : EIO;
	return fd;
}

/* The directory that holds this program: helpers sit beside it. */
static void
allow_self_dir(struct sandbox *sb)
{
	char	 self[PATH_MAX], *slash;
	ssize_t	 n;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return;
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) == NULL || slash == self)
		return;
	*slash = '\0';
	sandbox_allow(sb, self, SANDBOX_EXEC_TREE);
}

void
sandbox_allow_base(struct sandbox *sb, const struct config *cfg)
{
	static const char *const sys_exec[] = {
		"/lib", "/lib64", "/usr/lib", "/usr/lib64", NULL
	};
	static const char *const sys_read[] = {
		"/etc/ld.so.cache", "/etc/localtime", "/etc/resolv.conf",
		"/etc/hosts", "/etc/nsswitch.conf", "/etc/services",
		"/etc/gai.conf", "/usr/share/dns/root.key", "/usr/share/zoneinfo",
		"/etc/ssl/certs", "/etc/ssl/openssl.cnf",
		"/usr/share/ca-certificates", NULL
	};
	char		 maps[PATH_MAX];
	size_t		 i;

	if (cfg->path != NULL && *cfg->path != '\0')
		sandbox_allow(sb, cfg->path, SANDBOX_READ_FILE);
	if (str_printf(maps, sizeof(maps), "%s/maps", cfg->state_dir))
		sandbox_allow(sb, maps, SANDBOX_READ_TREE);
	for (i = 0; sys_exec[i] != NULL; i++)
		sandbox_allow(sb, sys_exec[i], SANDBOX_EXEC_TREE);
	for (i = 0; sys_read[i] != NULL; i++)
		sandbox_allow(sb, sys_read[i], SANDBOX_READ_TREE);
	sandbox_allow(sb, "/dev/null", SANDBOX_RW_TREE);
	sandbox_allow(sb, "/dev/urandom", SANDBOX_READ_FILE);
	if (cfg->dns_local_data != NULL && *cfg->dns_local_data != '\0')
		sandbox_allow(sb, cfg->dns_local_data, SANDBOX_READ_FILE);
	if (cfg->dns_trust_anchor != NULL && *cfg->dns_trust_anchor != '\0')
		sandbox_allow(sb, cfg->dns_trust_anchor, SANDBOX_READ_FILE);
	if (cfg->daemon_directory != NULL && *cfg->daemon_directory != '\0')
		sandbox_allow(sb, cfg->daemon_directory, SANDBOX_EXEC_TREE);
	allow_self_dir(sb);
}

int
sandbox_daemon(const struct config *cfg, const char *who,
    const char *const *rw)
{
	return sandbox_daemon_ro(cfg, who, rw, NULL, NULL);
}

int
sandbox_daemon_ro(const struct config *cfg, const char *who,
    const char *const *rw, const char *const *ro, const char *ro_abs)
{
	struct sandbox		*sb;
	enum sandbox_mode	 mode;
	struct fail		 f;
	char			 p[PATH_MAX];
	int			 rc;

	if (sandbox_mode_parse(cfg->sandbox, &mode) == -1)
		mode = SANDBOX_REQUIRED;	/* config.c checked the choice */
	sb = sandbox_new();
	sandbox_allow_base(sb, cfg);
	for (; *rw != NULL; rw++)
		if (str_printf(p, sizeof(p), "%s/%s", cfg->state_dir, *rw))
			sandbox_allow(sb, p, SANDBOX_RW_TREE);
		else
			sandbox_allow(sb, "", SANDBOX_RW_TREE); /* fails */
	for (; ro != NULL && *ro != NULL; ro++)
		if (str_printf(p, sizeof(p), "%s/%s", cfg->state_dir, *ro))
			sandbox_allow(sb, p, SANDBOX_READ_TREE);
		else
			sandbox_allow(sb, "", SANDBOX_READ_TREE); /* fails */
	if (ro_abs != NULL)
		sandbox_allow(sb, ro_abs, SANDBOX_READ_TREE);
	if (mode != SANDBOX_OFF && sandbox_abi() >= 2 &&
	    cfg->path != NULL && *cfg->path != '\0' &&
	    sandbox_keep_file(cfg->path) == -1)
		log_warn("-", "sandbox: a reload will not read the config");
	if ((rc = sandbox_apply(sb, mode, who, &f)) == -1)
		log_error("-", "sandbox process=%s error=\"%s\"", who, f.text);
	sandbox_free(&sb);
	return rc;
}
