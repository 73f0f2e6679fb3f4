/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "enqueue.h"
#include "queue_admin.h"
#include "spool.h"

static char state[64];
static char *out_buf;
static size_t out_len;

static void
setup(void)
{
	snprintf(state, sizeof(state), "/tmp/queue_admin_test.XXXXXX");
	cr_assert_not_null(mkdtemp(state));
}

static void
teardown(void)
{
	char	 cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", state);
	free(out_buf);
	out_buf = NULL;
}

TestSuite(queue_admin, .init = setup, .fini = teardown);

/* Enqueue one message; its id goes to id. */
static void
put(struct enqueue *q, const char *sender, const char *rcpt1,
    const char *rcpt2, const char *msg, char *id)
{
	struct enqueue_msg	*m;
	struct spool_env	 env;
	struct fail		 f;

	spool_env_init(&env);
	spool_env_set(&env.sender, sender);
	spool_env_set(&env.client_addr, "192.0.2.7");
	spool_env_set(&env.helo, "pc23.ejemplo.com\r\nX-Evil: 1");
	spool_env_set(&env.tls, "TLSv1.3 TLS_AES_256_GCM_SHA384 256/256");
	spool_env_set(&env.auth_user, "usuario");
	spool_env_set(&env.envid, "ENV1");
	env.proto = SPOOL_PROTO_ESMTPSA;
	env.ret = SPOOL_RET_FULL;
	env.flags = SPOOL_F_8BITMIME | SPOOL_F_SMTPUTF8;
	cr_assert_eq(spool_env_add_rcpt(&env, rcpt1, "rfc822;orig@example.org",
	    "alias@example.org", SPOOL_NOTIFY_SUCCESS | SPOOL_NOTIFY_DELAY),
	    0);
	if (rcpt2 != NULL)
		cr_assert_eq(spool_env_add_rcpt(&env, rcpt2, NULL, NULL, 0), 0);
	cr_assert_eq(enqueue_begin(q, &m, &f), 0);
	snprintf(id, SPOOL_ID_LEN + 1, "%s", enqueue_id(m));
	cr_assert_eq(enqueue_envelope(m, &env, &f), 0);
	cr_assert_eq(enqueue_write(m, msg, strlen(msg), &f), 0);
	cr_assert_eq(enqueue_commit(&m, &f), 0);
	spool_env_release(&env);
}

static void
defer(const char *id, uint32_t rcpt)
{
	struct spool_rcpt_status st[2];
	struct spool_status_log	*log;
	struct spool_status_rec	 r;
	struct fail		 f;
	char			 path[128], why[100];
	int			 dfd;

	snprintf(path, sizeof(path), "%s/spool/status", state);
	dfd = open(path, O_RDONLY | O_DIRECTORY);
	cr_assert_neq(dfd, -1);
	memset(st, 0, sizeof(st));
	cr_assert_eq(spool_status_open(dfd, id, st, 2, &log, why,
	    sizeof(why)), 0);
	memset(&r, 0, sizeof(r));
	r.rcpt = rcpt;
	r.state = SPOOL_RCPT_DEFERRED;
	r.time = 1700000000;
	r.until = 1700000600;
	snprintf(r.code, sizeof(r.code), "4.4.1");
	snprintf(r.text, sizeof(r.text), "connection timed out");
	cr_assert_eq(spool_status_append(log, &r, true, &f), 0);
	r.rcpt = 0;
	r.state = SPOOL_RCPT_DELIVERED;
	snprintf(r.code, sizeof(r.code), "2.0.0");
	snprintf(r.text, sizeof(r.text), "delivered to maildir");
	cr_assert_eq(spool_status_append(log, &r, true, &f), 0);
	spool_status_close(&log);
	close(dfd);
}

static FILE *
capture(void)
{
	FILE	*fp = open_memstream(&out_buf, &out_len);

	cr_assert_not_null(fp);
	return fp;
}

Test(queue_admin, list_everything)
{
	struct enqueue	*q;
	struct fail	 f;
	char		 a[SPOOL_ID_LEN + 1], b[SPOOL_ID_LEN + 1], bad[32];
	char		 from[128], to[128];
	FILE		*fp;
	int		 fd;

	cr_assert_eq(enqueue_open(state, &q, &f), 0);
	put(q, "usuario@ejemplo.com", "destino@example.org",
	    "jos\xc3\xa9@example.org", "Subject: one\r\n\r\nbody\r\n", a);
	put(q, "", "postmaster@example.org", NULL,
	    "Subject: two\r\n\r\nbody two\r\n", b);
	enqueue_close(&q);
	defer(a, 1);
	/* hold b */
	snprintf(from, sizeof(from), "%s/spool/queue/%s", state, b);
	snprintf(to, sizeof(to), "%s/spool/hold/%s", state, b);
	cr_assert_eq(rename(from, to), 0);
	/* a corrupt entry */
	spool_id_new(bad, NULL, NULL);
	snprintf(from, sizeof(from), "%s/spool/queue/%s", state, bad);
	fd = open(from, O_CREAT | O_WRONLY, 0600);
	cr_assert_eq(write(fd, "garbage, not a queue file", 25), 25);
	close(fd);

	fp = capture();
	cr_assert_eq(queue_admin_list(fp, state), 0);
	fclose(fp);
	cr_assert_not_null(strstr(out_buf, "ID  "), "%s", out_buf);
	snprintf(from, sizeof(from), "%s  %9u ", a, 22);
	cr_assert_not_null(strstr(out_buf, from), "%s", out_buf);
	cr_assert_not_null(strstr(out_buf, "<usuario@ejemplo.com>\n"));
	cr_assert_not_null(strstr(out_buf, "    destino@example.org  "
	    "delivered 2.0.0 delivered to maildir\n"), "%s", out_buf);
	cr_assert_not_null(strstr(out_buf, "    jos\xc3\xa9@example.org  "
	    "deferred 4.4.1 connection timed out (next attempt "),
	    "%s", out_buf);
	snprintf(from, sizeof(from), "%s! %9u ", b, 26);
	cr_assert_not_null(strstr(out_buf, from), "%s", out_buf);
	cr_assert_not_null(strstr(out_buf, " <>\n    postmaster@example.org  "
	    "pending\n"), "%s", out_buf);
	snprintf(from, sizeof(from), "%s  corrupt: bad magic\n", bad);
	cr_assert_not_null(strstr(out_buf, from), "%s", out_buf);
	cr_assert_not_null(strstr(out_buf, "-- 3 messages, 48 bytes\n"),
	    "%s", out_buf);
	/* oldest first */
	cr_assert_lt(strstr(out_buf, a), strstr(out_buf, b));
}

Test(queue_admin, list_empty_and_missing)
{
	struct enqueue	*q;
	struct fail	 f;
	FILE		*fp;
	char		 path[128];

	snprintf(path, sizeof(path), "%s/nothing", state);
	fp = capture();
	cr_assert_eq(queue_admin_list(fp, path), -1);
	cr_assert_eq(queue_admin_list(fp, state), 0);	/* no spool yet */
	cr_assert_eq(enqueue_open(state, &q, &f), 0);
	enqueue_close(&q);
	cr_assert_eq(queue_admin_list(fp, state), 0);
	fclose(fp);
	cr_assert_str_eq(out_buf, "Mail queue is empty\nMail queue is empty\n");
}

Test(queue_admin, show_envelope_and_headers)
{
	struct enqueue	*q;
	struct fail	 f;
	char		 a[SPOOL_ID_LEN + 1], other[SPOOL_ID_LEN + 1];
	FILE		*fp;

	cr_assert_eq(enqueue_open(state, &q, &f), 0);
	put(q, "usuario@ejemplo.com", "destino@example.org",
	    "jos\xc3\xa9@example.org", "Received: from x\r\n\tby y\r\n"
	    "Subject: one\r\n\r\nsecret body\r\n", a);
	enqueue_close(&q);
	defer(a, 1);
	fp = capture();
	cr_assert_eq(queue_admin_show(fp, state, a), 0);
	fclose(fp);
	cr_assert_not_null(strstr(out_buf, "id:           "), "%s", out_buf);
	cr_assert_not_null(strstr(out_buf, "state:        queued\n"));
	cr_assert_not_null(strstr(out_buf, "sender:       "
	    "<usuario@ejemplo.com>\n"));
	cr_assert_not_null(strstr(out_buf, "protocol:     ESMTPSA\n"));
	cr_assert_not_null(strstr(out_buf, "client:       192.0.2.7\n"));
	/* CR LF from a peer never reach the terminal raw */
	cr_assert_not_null(strstr(out_buf, "helo:         pc23.ejemplo.com"
	    "\\x0d\\x0aX-Evil: 1\n"), "%s", out_buf);
	cr_assert_not_null(strstr(out_buf, "tls:          TLSv1.3 "));
	cr_assert_not_null(strstr(out_buf, "auth user:    usuario\n"));
	cr_assert_not_null(strstr(out_buf, "body:         8BITMIME\n"));
	cr_assert_not_null(strstr(out_buf, "smtputf8:     yes\n"));
	cr_assert_not_null(strstr(out_buf, "dsn ret:      FULL\n"));
	cr_assert_not_null(strstr(out_buf, "dsn envid:    ENV1\n"));
	cr_assert_not_null(strstr(out_buf, "recipient 1:  "
	    "destino@example.org\n  original:   alias@example.org\n"
	    "  orcpt:      rfc822;orig@example.org\n"
	    "  notify:     SUCCESS,DELAY\n"
	    "  status:     delivered 2.0.0"), "%s", out_buf);
	cr_assert_not_null(strstr(out_buf, "recipient 2:  "
	    "jos\xc3\xa9@example.org\n  notify:     default\n"
	    "  status:     deferred 4.4.1"), "%s", out_buf);
	cr_assert_not_null(strstr(out_buf, "\n\nReceived: from x\n\tby y\n"
	    "Subject: one\n"), "%s", out_buf);
	cr_assert_null(strstr(out_buf, "secret body"));

	free(out_buf);
	out_buf = NULL;
	fp = capture();
	spool_id_new(other, NULL, NULL);
	cr_assert_eq(queue_admin_show(fp, state, other), 1);
	cr_assert_eq(queue_admin_show(fp, state, "../../etc/passwd"), 1);
	fclose(fp);
}

Test(queue_admin, show_held_and_corrupt)
{
	struct enqueue	*q;
	struct fail	 f;
	char		 a[SPOOL_ID_LEN + 1], from[128], to[128];
	FILE		*fp;
	int		 fd;

	cr_assert_eq(enqueue_open(state, &q, &f), 0);
	put(q, "", "a@b", NULL, "Subject: x\r\n\r\n", a);
	enqueue_close(&q);
	snprintf(from, sizeof(from), "%s/spool/queue/%s", state, a);
	snprintf(to, sizeof(to), "%s/spool/hold/%s", state, a);
	cr_assert_eq(rename(from, to), 0);
	fp = capture();
	cr_assert_eq(queue_admin_show(fp, state, a), 0);
	fflush(fp);
	cr_assert_not_null(strstr(out_buf, "state:        held\n"));
	cr_assert_not_null(strstr(out_buf, "sender:       <>\n"));
	/* cut the file: corrupt, reported, not shown */
	fd = open(to, O_WRONLY);
	cr_assert_eq(ftruncate(fd, 50), 0);
	close(fd);
	cr_assert_eq(queue_admin_show(fp, state, a), -1);
	fclose(fp);
}

Test(queue_admin, terminal_safe_output)
{
	struct enqueue	*q;
	struct fail	 f;
	char		 a[SPOOL_ID_LEN + 1];
	FILE		*fp;

	cr_assert_eq(enqueue_open(state, &q, &f), 0);
	put(q, "red\xc2\x9b" "31m@x", "ok\xc3\xb1\xe2\x82\xac\xf0\x9f\x93\xa7@x",
	    "bad\xff\xc2\x9b\xc0\xaf\xed\xa0\x80\xe2\x82@x",
	    "Subject: x\r\n\r\n", a);
	enqueue_close(&q);
	fp = capture();
	cr_assert_eq(queue_admin_list(fp, state), 0);
	fclose(fp);
	/* a C1 control (CSI) in valid UTF-8 is escaped too */
	cr_assert_not_null(strstr(out_buf, "<red\\xc2\\x9b31m@x>\n"), "%s",
	    out_buf);
	cr_assert_not_null(strstr(out_buf,
	    "    ok\xc3\xb1\xe2\x82\xac\xf0\x9f\x93\xa7@x  pending\n"),
	    "%s", out_buf);
	cr_assert_not_null(strstr(out_buf, "    bad\\xff\\xc2\\x9b\\xc0"
	    "\\xaf\\xed\\xa0\\x80\\xe2\\x82@x  pending\n"), "%s", out_buf);
}
