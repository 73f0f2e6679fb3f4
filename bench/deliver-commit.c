/* SPDX-License-Identifier: MIT */
/*
 * deliver-commit.c - local delivery throughput: single vs batched commits
 *
 *	deliver-commit [-n MESSAGES] [-s SIZE] [-u USERS] [-b BATCH]
 *	    [-p PROCESSES] [-m] DIR
 *
 * Delivers MESSAGES messages of SIZE bytes (CRLF lines, as in the spool)
 * round robin into USERS Maildirs (or mboxes with -m) under DIR, from
 * PROCESSES processes, committing every BATCH deliveries (1: deliver(),
 * one directory fsync per message).  Prints messages/second and the mean
 * time per message.  DIR should be on the disk under test.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "deliver.h"
#include "mem.h"
#include "str.h"

static double
now(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
worker(const char *dir, unsigned int w, unsigned int n, unsigned int users,
    unsigned int batch, bool mbox, const struct str *msg)
{
	struct deliver_conf	 c;
	struct deliver_batch	*b = NULL;
	struct deliver_rcpt	 r;
	struct deliver_msg	 m;
	struct fail		 f;
	char			 path[4096], addr[64];
	unsigned int		 i;

	deliver_conf_init(&c);
	memset(&m, 0, sizeof(m));
	m.buf = msg->data;
	m.fd = -1;
	m.len = msg->len;
	for (i = 0; i < n; i++) {
		if (!str_printf(path, sizeof(path), "%s/u%u%s", dir,
		    (i + w) % users, mbox ? ".mbox" : "") ||
		    !str_printf(addr, sizeof(addr), "u%u@example.org",
		    (i + w) % users))
			return 1;
		memset(&r, 0, sizeof(r));
		r.sender = "bench@example.com";
		r.address = addr;
		r.path = path;
		r.format = mbox ? DELIVER_MBOX : DELIVER_MAILDIR;
		if (b == NULL)
			b = deliver_batch_begin(&c);
		if (deliver_batch_add(b, &r, &m, NULL, &f) == -1) {
			fprintf(stderr, "deliver: %s %s\n", f.code, f.text);
			return 1;
		}
		if ((i + 1) % batch == 0 || i + 1 == n) {
			if (deliver_batch_commit(&b, &f) == -1) {
				fprintf(stderr, "commit: %s\n", f.text);
				return 1;
			}
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	unsigned int	 n = 2000, size = 4096, users = 10, batch = 1;
	unsigned int	 procs = 1, *dst, i;
	struct str	 msg;
	pid_t		 pid;
	double		 t0, t;
	bool		 mbox = false;
	int		 ch, st, bad = 0;

	while ((ch = getopt(argc, argv, "n:s:u:b:p:m")) != -1) {
		dst = ch == 'n' ? &n : ch == 's' ? &size : ch == 'u' ? &users :
		    ch == 'b' ? &batch : ch == 'p' ? &procs : NULL;
		if (ch == 'm') {
			mbox = true;
			continue;
		}
		if (dst == NULL ||
		    strnum_uint(optarg, 1, 10000000, dst) == -1) {
			fprintf(stderr, "usage: deliver-commit [-n MESSAGES] "
			    "[-s SIZE] [-u USERS] [-b BATCH] [-p PROCESSES] "
			    "[-m] DIR\n");
			return 64;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "deliver-commit: give a DIR\n");
		return 64;
	}
	str_init(&msg, 0);
	if (str_append_str(&msg, "From: bench@example.com\r\n"
	    "To: user@example.org\r\nSubject: bench\r\n\r\n") == -1)
		return 1;
	while (msg.len < size)
		if (str_append_str(&msg, "0123456789abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789abcdefghijkl\r\n") ==
		    -1)
			return 1;
	t0 = now();
	for (i = 0; i < procs; i++) {
		if ((pid = fork()) == -1)
			return 1;
		if (pid == 0)
			_exit(worker(argv[optind], i, n / procs, users, batch,
			    mbox, &msg));
	}
	while (wait(&st) > 0)
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			bad = 1;
	t = now() - t0;
	printf("%s: %u messages of %zu bytes, %u users, batch %u, %u "
	    "processes: %.0f msg/s, %.3f ms/msg\n", mbox ? "mbox" : "maildir",
	    n / procs * procs, msg.len, users, batch, procs,
	    (double)(n / procs * procs) / t, t * 1000 / (n / procs * procs));
	str_release(&msg);
	return bad;
}
