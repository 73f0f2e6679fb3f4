/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "settings.h"
#include "str.h"

static struct config	 cfg;
static struct str	 errs;
static char		 dir[64];

/* A fresh directory holding buzon.conf with text; returns the file. */
static const char *
conf_file(const char *text)
{
	static char	 path[128];
	FILE		*fp;

	(void)snprintf(dir, sizeof(dir), "/tmp/config_test.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	(void)snprintf(path, sizeof(path), "%s/buzon.conf", dir);
	fp = fopen(path, "w");
	cr_assert_not_null(fp);
	fputs(text, fp);
	cr_assert_eq(fclose(fp), 0);
	return path;
}

static void
cleanup(void)
{
	char	 path[128];

	config_release(&cfg);
	str_release(&errs);
	if (dir[0] != '\0') {
		(void)snprintf(path, sizeof(path), "%s/buzon.conf", dir);
		(void)unlink(path);
		(void)rmdir(dir);
	}
}

static void
assert_list(const struct conf_list *l, const char *one)
{
	cr_assert_eq(l->count, 1);
	cr_assert_str_eq(l->items[0], one);
}

Test(config, pure_defaults, .fini = cleanup)
{
	char	 host[256] = "";

	str_init(&errs, 0);
	cr_assert_eq(config_load(&cfg, NULL, &errs), 0, "%s", str_c(&errs));
	cr_assert_str_eq(cfg.path, "");
	(void)gethostname(host, sizeof(host));
	cr_assert_str_eq(cfg.hostname, host);
	cr_assert_neq(cfg.hostname[0], '\0');
	cr_assert_str_eq(cfg.state_dir, CONFIG_DEFAULT_STATE);
	cr_assert_str_eq(cfg.user, "buzon");
	cr_assert_str_eq(cfg.log_target, "syslog");
	cr_assert_str_eq(cfg.log_level, "info");
	cr_assert_eq(cfg.trace, false);
	cr_assert_str_eq(cfg.pid_file, CONFIG_DEFAULT_STATE "/run/buzon.pid");
	cr_assert_str_eq(cfg.daemon_directory, "");
	cr_assert_eq(cfg.shutdown_grace, 10000);
	cr_assert_eq(cfg.restart_delay_max, 60000);
	cr_assert_str_eq(cfg.tls_cert, CONFIG_DEFAULT_STATE "/tls/cert.pem");
	cr_assert_str_eq(cfg.tls_key, CONFIG_DEFAULT_STATE "/tls/key.pem");
	assert_list(&cfg.smtp_listen, "*:25");
	assert_list(&cfg.submission_listen, "*:587");
	assert_list(&cfg.submissions_listen, "*:465");
	assert_list(&cfg.pop3_listen, "*:110");
	assert_list(&cfg.pop3s_listen, "*:995");
	assert_list(&cfg.imap_listen, "*:143");
	assert_list(&cfg.imaps_listen, "*:993");
}

Test(config, file_values_and_relative_paths, .fini = cleanup)
{
	const char	*path = conf_file(
	    "hostname = mx.example.org\n"
	    "state_dir = state\n"
	    "log_target = stderr\n"
	    "log_level = debug\n"
	    "trace = on\n"
	    "tls_cert = certs/c.pem\n"
	    "tls_key = /etc/ssl/k.pem\n"
	    "daemon_directory = ../libexec\n"
	    "shutdown_grace = 1s\n"
	    "restart_delay_max = 1h\n"
	    "smtp_listen = 127.0.0.1:2525, [::1]:2525\n"
	    "imap_listen =\n");
	char		 want[256];

	str_init(&errs, 0);
	cr_assert_eq(config_load(&cfg, path, &errs), 0, "%s", str_c(&errs));
	cr_assert_str_eq(cfg.path, path);
	cr_assert_str_eq(cfg.hostname, "mx.example.org");
	(void)snprintf(want, sizeof(want), "%s/state", dir);
	cr_assert_str_eq(cfg.state_dir, want);
	(void)snprintf(want, sizeof(want), "%s/state/run/buzon.pid", dir);
	cr_assert_str_eq(cfg.pid_file, want);
	(void)snprintf(want, sizeof(want), "%s/certs/c.pem", dir);
	cr_assert_str_eq(cfg.tls_cert, want);
	cr_assert_str_eq(cfg.tls_key, "/etc/ssl/k.pem");
	(void)snprintf(want, sizeof(want), "%s/../libexec", dir);
	cr_assert_str_eq(cfg.daemon_directory, want);
	cr_assert_str_eq(cfg.log_target, "stderr");
	cr_assert_str_eq(cfg.log_level, "debug");
	cr_assert_eq(cfg.trace, true);
	cr_assert_eq(cfg.shutdown_grace, 1000);
	cr_assert_eq(cfg.restart_delay_max, 3600000);
	cr_assert_eq(cfg.smtp_listen.count, 2);
	cr_assert_str_eq(cfg.smtp_listen.items[1], "[::1]:2525");
	cr_assert_eq(cfg.imap_listen.count, 0);
	assert_list(&cfg.imaps_listen, "*:993");
}

Test(config, relative_config_path, .fini = cleanup)
{
	char	 want[256];

	(void)conf_file("pid_file = buzon.pid\n");
	cr_assert_eq(chdir(dir), 0);
	str_init(&errs, 0);
	cr_assert_eq(config_load(&cfg, "./buzon.conf", &errs), 0, "%s",
	    str_c(&errs));
	(void)snprintf(want, sizeof(want), "%s/buzon.conf", dir);
	cr_assert_str_eq(cfg.path, want);
	(void)snprintf(want, sizeof(want), "%s/buzon.pid", dir);
	cr_assert_str_eq(cfg.pid_file, want);
	config_release(&cfg);
	str_release(&errs);

	cr_assert_eq(chdir("/"), 0);
	str_init(&errs, 0);
	(void)snprintf(want, sizeof(want), "%s/buzon.conf", dir + 1);
	cr_assert_eq(config_load(&cfg, want, &errs), 0, "%s", str_c(&errs));
	(void)snprintf(want, sizeof(want), "%s/buzon.pid", dir);
	cr_assert_str_eq(cfg.pid_file, want);
}

Test(config, errors_are_collected, .fini = cleanup)
{
	const char	*path = conf_file(
	    "shutdown_grace = 0s\n"
	    "restart_delay_max = 2h\n"
	    "log_target = file\n"
	    "log_level = loud\n"
	    "trace = sometimes\n"
	    "smtp_listen = *:25 *:99999\n"
	    "tls_certs = x\n"
	    "login_trusted_networks = 10.0.0.0/8 10.0.0.0/33\n"
	    "auth_default_realm = not a domain\n"
	    "state_dir =\n");
	struct str	 want;

	str_init(&errs, 0);
	cr_assert_eq(config_load(&cfg, path, &errs), -1);
	str_init(&want, 0);
	cr_assert_eq(str_appendf(&want,
	    "%1$s:1: shutdown_grace: '0s' is out of range (1s..10m)\n"
	    "%1$s:2: restart_delay_max: '2h' is out of range (1s..1h)\n"
	    "%1$s:3: log_target: 'file' is not one of: syslog, stderr\n"
	    "%1$s:4: log_level: 'loud' is not one of: debug, info, warn, error\n"
	    "%1$s:5: trace: 'sometimes' is not a boolean (use yes or no)\n"
	    "%1$s:6: smtp_listen: '*:99999' is not a host:port: port must be a number in 1..65535\n"
	    "%1$s:7: unknown key 'tls_certs' (did you mean 'tls_cert'?)\n"
	    "%1$s:8: login_trusted_networks: '10.0.0.0/33' is not an address or address/prefix\n"
	    "%1$s: state_dir: must not be empty\n"
	    "%1$s: auth_default_realm: 'not a domain' is not a domain\n", path), 0);
	cr_assert_str_eq(str_c(&errs), str_c(&want));
	str_release(&want);
	/* defaults stand in for the bad values */
	cr_assert_eq(cfg.shutdown_grace, 10000);
	cr_assert_str_eq(cfg.log_target, "syslog");
	cr_assert_str_eq(cfg.state_dir, CONFIG_DEFAULT_STATE);
	cr_assert_str_eq(cfg.pid_file, CONFIG_DEFAULT_STATE "/run/buzon.pid");
}

/* The POP3 timers: an idle timeout bounded to 1h (RFC 1939 wants 10m or
 * more), and the per-command and send deadlines that trickled bytes do
 * not stretch. */
Test(config, pop3_deadlines, .fini = cleanup)
{
	const char	*path = conf_file(
	    "pop3_timeout = 1d\n"
	    "pop3_command_timeout = 11m\n"
	    "pop3_send_timeout = 0s\n");
	struct str	 want;

	str_init(&errs, 0);
	cr_assert_eq(config_load(&cfg, NULL, &errs), 0, "%s", str_c(&errs));
	cr_assert_eq(cfg.pop3_timeout, 600000);
	cr_assert_eq(cfg.pop3_command_timeout, 60000);
	cr_assert_eq(cfg.pop3_send_timeout, 300000);
	config_release(&cfg);
	cr_assert_eq(config_load(&cfg, path, &errs), -1);
	str_init(&want, 0);
	cr_assert_eq(str_appendf(&want,
	    "%1$s:1: pop3_timeout: '1d' is out of range (1s..1h)\n"
	    "%1$s:2: pop3_command_timeout: '11m' is out of range (1s..10m)\n"
	    "%1$s:3: pop3_send_timeout: '0s' is out of range (1s..1h)\n",
	    path), 0);
	cr_assert_str_eq(str_c(&errs), str_c(&want));
	str_release(&want);
}

Test(config, missing_file, .fini = cleanup)
{
	str_init(&errs, 0);
	cr_assert_eq(config_load(&cfg, "/nonexistent/buzon.conf", &errs), -1);
	cr_assert_str_eq(str_c(&errs),
	    "/nonexistent/buzon.conf: No such file or directory\n");
	cr_assert_str_eq(cfg.state_dir, CONFIG_DEFAULT_STATE);
	cr_assert_neq(cfg.hostname[0], '\0');
}

Test(config, path_choice)
{
	cr_assert_eq(unsetenv("BUZON_CONF"), 0);
	cr_assert_str_eq(config_path(NULL), CONFIG_DEFAULT_PATH);
	cr_assert_str_eq(config_path(""), CONFIG_DEFAULT_PATH);
	cr_assert_str_eq(config_path("/x/given.conf"), "/x/given.conf");
	cr_assert_eq(setenv("BUZON_CONF", "/env/buzon.conf", 1), 0);
	cr_assert_str_eq(config_path(NULL), "/env/buzon.conf");
	cr_assert_str_eq(config_path("/x/given.conf"), "/x/given.conf");
	cr_assert_eq(setenv("BUZON_CONF", "", 1), 0);
	cr_assert_str_eq(config_path(NULL), CONFIG_DEFAULT_PATH);
	cr_assert(strcmp(CONFIG_DEFAULT_PATH + strlen(CONFIG_DEFAULT_PATH) -
	    strlen("/buzon/buzon.conf"), "/buzon/buzon.conf") == 0);
}

Test(config, apply_log, .fini = cleanup, .init = cr_redirect_stderr)
{
	const char	*path = conf_file("log_target = stderr\n"
	    "log_level = warn\ntrace = yes\n");

	str_init(&errs, 0);
	cr_assert_eq(config_load(&cfg, path, &errs), 0, "%s", str_c(&errs));
	config_apply_log(&cfg, "buzon-test");
	cr_assert_str_eq(log_progname(), "buzon-test");
	cr_assert(log_trace_enabled());
	log_info("-", "hidden");
	log_warn("-", "shown");
	fflush(stderr);
	cr_assert_stderr_neq_str("");
}

Test(config, apply_log_filters_level, .fini = cleanup, .init = cr_redirect_stderr)
{
	const char	*path = conf_file("log_target = stderr\n"
	    "log_level = error\n");

	str_init(&errs, 0);
	cr_assert_eq(config_load(&cfg, path, &errs), 0, "%s", str_c(&errs));
	config_apply_log(&cfg, "buzon-test");
	cr_assert(!log_trace_enabled());
	log_warn("-", "hidden");
	fflush(stderr);
	cr_assert_stderr_eq_str("");
}

/* Every key of the table holds the same value in a and b. */
static void
assert_same(const struct config *a, const struct config *b)
{
	const struct conf_param	*p;
	const char		*pa, *pb;
	size_t			 i;

	for (p = config_params; p->key != NULL; p++) {
		pa = (const char *)a + p->offset;
		pb = (const char *)b + p->offset;
		switch (p->type) {
		case CONF_T_STRING:
		case CONF_T_PATH:
		case CONF_T_ENUM:
			cr_assert_str_eq(*(char *const *)pa, *(char *const *)pb,
			    "%s", p->key);
			break;
		case CONF_T_UINT:
			cr_assert_eq(*(const unsigned int *)pa,
			    *(const unsigned int *)pb, "%s", p->key);
			break;
		case CONF_T_SIZE:
			cr_assert_eq(*(const size_t *)pa, *(const size_t *)pb,
			    "%s", p->key);
			break;
		case CONF_T_TIME:
			cr_assert_eq(*(const uint64_t *)pa,
			    *(const uint64_t *)pb, "%s", p->key);
			break;
		case CONF_T_BOOL:
			cr_assert_eq(*(const bool *)pa, *(const bool *)pb,
			    "%s", p->key);
			break;
		case CONF_T_LIST:
		case CONF_T_ADDRS:
		case CONF_T_NETS:
			cr_assert_eq(((const struct conf_list *)pa)->count,
			    ((const struct conf_list *)pb)->count, "%s", p->key);
			for (i = 0; i < ((const struct conf_list *)pa)->count; i++)
				cr_assert_str_eq(
				    ((const struct conf_list *)pa)->items[i],
				    ((const struct conf_list *)pb)->items[i],
				    "%s", p->key);
			break;
		}
	}
}

Test(config, defaults_write_and_read_back, .fini = cleanup)
{
	char		*buf = NULL;
	size_t		 len = 0;
	FILE		*fp = open_memstream(&buf, &len);
	const char	*path;
	struct config	 def;

	cr_assert_not_null(fp);
	cr_assert_eq(conf_write_defaults(config_params, fp, NULL, NULL), 0);
	fclose(fp);
	path = conf_file(buf);
	free(buf);
	str_init(&errs, 0);
	cr_assert_eq(config_load(&cfg, path, &errs), 0, "%s", str_c(&errs));
	cr_assert_eq(config_load(&def, NULL, &errs), 0);
	assert_same(&cfg, &def);
	config_release(&def);
}

static char *
read_man(void)
{
	const char	*top = getenv("BUZON_TOP_SRCDIR");
	char		 path[4096], *buf;
	FILE		*fp;
	long		 size;

	cr_assert_not_null(top, "BUZON_TOP_SRCDIR is not set");
	(void)snprintf(path, sizeof(path), "%s/docs/buzon.conf.5", top);
	fp = fopen(path, "r");
	cr_assert_not_null(fp, "cannot open %s", path);
	cr_assert_eq(fseek(fp, 0, SEEK_END), 0);
	size = ftell(fp);
	rewind(fp);
	buf = calloc(1, (size_t)size + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)size, fp), (size_t)size);
	fclose(fp);
	return buf;
}

Test(config, every_key_is_documented)
{
	const struct conf_param	*p;
	char			 want[128], *buf = read_man();

	for (p = config_params; p->key != NULL; p++) {
		/* each key is an entry of its own: ".TP\n.B key\n" */
		(void)snprintf(want, sizeof(want), "\n.TP\n.B %s\n", p->key);
		cr_expect(strstr(buf, want) != NULL,
		    "key %s is not documented in docs/buzon.conf.5", p->key);
		if (p->type == CONF_T_ENUM) {
			(void)snprintf(want, sizeof(want), "default %s", p->def);
			cr_expect(strstr(buf, want) != NULL);
		}
	}
	free(buf);
}

Test(config, documented_defaults_match)
{
	const struct conf_param	*p;
	char			*buf = read_man(), want[128], *entry;
	const char		*start, *end;

	for (p = config_params; p->key != NULL; p++) {
		(void)snprintf(want, sizeof(want), "\n.TP\n.B %s\n", p->key);
		start = strstr(buf, want);
		cr_assert_not_null(start, "%s is not documented", p->key);
		start += strlen(want);
		/* the entry runs to the next .TP or .SH */
		for (end = start; *end != '\0' && strncmp(end, "\n.TP", 5) != 0 &&
		    strncmp(end, "\n.SH", 5) != 0; end++)
			continue;
		entry = strndup(start, (size_t)(end - start));
		cr_assert_not_null(entry);
		if (p->def[0] == '\0')
			cr_expect(strstr(entry, "default empty") != NULL,
			    "%s: default should read \"default empty\"", p->key);
		else if (p->def[0] != '/')
			cr_expect(strstr(entry, p->def) != NULL,
			    "%s: default %s is not in its entry", p->key, p->def);
		free(entry);
	}
	free(buf);
}

Test(config, man_page_example_is_valid)
{
	char		*buf = read_man(), *ex, *end;
	struct config	 c;

	ex = strstr(buf, ".SH EXAMPLES");
	cr_assert_not_null(ex);
	ex = strstr(ex, "\n.EX\n");
	cr_assert_not_null(ex);
	ex += 5;
	end = strstr(ex, "\n.EE\n");
	cr_assert_not_null(end);
	end[1] = '\0';
	str_init(&errs, 0);
	cr_assert_eq(conf_load_buf(config_params, &c, "example", ex,
	    strlen(ex), "/etc/buzon", &errs), 0, "%s", str_c(&errs));
	cr_assert_str_eq(c.state_dir, "/etc/buzon/state");
	cr_assert_eq(c.imap_listen.count, 2);
	conf_release(config_params, &c);
	str_release(&errs);
	free(buf);
}

Test(config, table_is_sane)
{
	const struct conf_param	*p, *q;

	for (p = config_params; p->key != NULL; p++) {
		cr_assert_not_null(p->help, "%s has no help", p->key);
		cr_assert_neq(p->help[0], '\0', "%s has no help", p->key);
		for (q = p + 1; q->key != NULL; q++)
			cr_assert_str_neq(p->key, q->key);
	}
}
