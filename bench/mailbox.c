/* SPDX-License-Identifier: MIT */
/*
 * bench/mailbox - how fast common/mailbox syncs and streams a folder
 *
 *	bench/mailbox [-n messages] [-d dir] [-f maildir|mbox]
 *
 * Builds a folder of realistic mail (mostly 2-20 KB, one in twenty
 * 50-300 KB with a base64 attachment, LF line ends) in a fresh directory
 * under dir (default $TMPDIR or /tmp), then times (best of five for the
 * short ones, the machine may be busy):
 *	cold	open with no index: every message read once for its wire size
 *	warm	open again with the index in place
 *	resync	a sync after one more delivery
 *	stream	every message's wire bytes (CRLF) read through the API
 * and prints messages/s and MB/s for each.  The folder is removed after.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mailbox.h"
#include "mem.h"
#include "str.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t rng = 2463534242u;

static uint32_t
xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

/* One message of about size bytes. */
static void
make_msg(struct str *s, unsigned int i, size_t size)
{
	static const char words[] = "lorem ipsum dolor sit amet consectetur "
	    "adipiscing elit sed do eiusmod tempor incididunt ut labore et ";
	size_t	 col = 0;

	str_clear(s);
	if (str_appendf(s, "Return-Path: <sender%u@example.org>\n"
	    "Received: from mx.example.org (mx.example.org [192.0.2.%u])\n"
	    "\tby mail.example.net with ESMTPS id %08x\n"
	    "\tfor <user@example.net>; Mon, 23 Nov 2026 01:20:23 +0000\n"
	    "From: Sender %u <sender%u@example.org>\n"
	    "To: User <user@example.net>\n"
	    "Subject: benchmark message number %u\n"
	    "Date: Mon, 23 Nov 2026 01:20:23 +0000\n"
	    "Message-ID: <%u.%08x@example.org>\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: text/plain; charset=utf-8\n\n",
	    i, i % 250, xorshift(), i, i, i, i, xorshift()) == -1)
		fatalx("bench: message too big");
	while (s->len < size) {
		size_t	 w = xorshift() % 60;

		if (str_append(s, words + w, 6) == -1)
			fatalx("bench: message too big");
		col += 6;
		if (col >= 72) {
			if (str_append_c(s, '\n') == -1)
				fatalx("bench: message too big");
			col = 0;
		}
	}
	if (str_append_c(s, '\n') == -1)
		fatalx("bench: message too big");
}

static size_t
pick_size(void)
{
	if (xorshift() % 20 == 0)
		return 50000 + xorshift() % 250000;
	return 2000 + xorshift() % 18000;
}

static void
write_file(const char *path, const void *p, size_t len, int flags)
{
	int	 fd = open(path, O_WRONLY | O_CREAT | flags, 0600);

	if (fd == -1 || write(fd, p, len) != (ssize_t)len)
		fatal("bench: write %s", path);
	close(fd);
}

static void
rmtree(const char *dir)
{
	DIR	*d;
	struct dirent *de;
	struct stat st;
	char	 p[4096];

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (!str_printf(p, sizeof(p), "%s/%s", dir, de->d_name))
			continue;
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			rmtree(p);
		else
			(void)unlink(p);
	}
	closedir(d);
	(void)rmdir(dir);
}

static void
report(const char *what, unsigned int n, uint64_t bytes, double secs)
{
	if (secs <= 0)
		secs = 1e-9;
	printf("%-8s %6u msgs %9.3f ms %10.0f msgs/s %9.1f MB/s\n", what, n,
	    secs * 1000, n / secs, (double)bytes / 1e6 / secs);
}

int	main(int, char **);

int
main(int argc, char **argv)
{
	struct mailbox_location loc;
	struct mailbox *mb;
	struct mailbox_msg m;
	struct mailbox_stream *st;
	struct fail f;
	struct str s;
	const char *base = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
	char	 root[4096], p[4096], *buf;
	unsigned int n = 2000, i;
	uint64_t raw = 0, wire = 0;
	ssize_t	 r;
	double	 t, best;
	int	 k;
	bool	 mbox = false;
	int	 c;

	log_init("bench-mailbox", false, LOG_LEVEL_WARN);
	while ((c = getopt(argc, argv, "n:d:f:")) != -1) {
		switch (c) {
		case 'n':
			if (strnum_uint(optarg, 1, 1000000, &n) == -1)
				fatalx("bad -n");
			break;
		case 'd':
			base = optarg;
			break;
		case 'f':
			mbox = strcmp(optarg, "mbox") == 0;
			break;
		default:
			fprintf(stderr, "usage: mailbox [-n messages] [-d dir] "
			    "[-f maildir|mbox]\n");
			return 2;
		}
	}
	if (!str_printf(root, sizeof(root), "%s/buzon-bench-XXXXXX", base) ||
	    mkdtemp(root) == NULL)
		fatal("bench: mkdtemp");
	loc.root = root;
	loc.format = mbox ? MAILBOX_MBOX : MAILBOX_MAILDIR;
	loc.mbox_inbox = NULL;
	if (mailbox_create(&loc, "INBOX", &f) == -1)
		fatalx("bench: create: %s", f.text);
	str_init(&s, 0);
	for (i = 0; i < n; i++) {
		make_msg(&s, i, pick_size());
		raw += s.len;
		if (mbox) {
			char	 from[80];

			(void)str_printf(from, sizeof(from),
			    "From sender%u@example.org Mon Nov 23 01:20:23 "
			    "2026\n", i);
			if (!str_printf(p, sizeof(p), "%s/INBOX", root))
				fatalx("bench: path");
			write_file(p, from, strlen(from), O_APPEND);
			if (str_append_c(&s, '\n') == -1)
				fatalx("bench: message too big");
			write_file(p, s.data, s.len, O_APPEND);
		} else {
			if (!str_printf(p, sizeof(p),
			    "%s/new/%u.M%uP1.bench,S=%zu", root, 1700000000 + i,
			    i, s.len))
				fatalx("bench: path");
			write_file(p, s.data, s.len, O_EXCL);
		}
	}
	printf("folder: %s, %u messages, %.1f MB\n", mbox ? "mbox" : "maildir",
	    n, (double)raw / 1e6);

	t = now();
	if ((mb = mailbox_open(&loc, "INBOX", 0, &f)) == NULL)
		fatalx("bench: open: %s", f.text);
	t = now() - t;
	if (mailbox_count(mb) != n)
		fatalx("bench: %u messages, want %u", mailbox_count(mb), n);
	report("cold", n, raw, t);
	mailbox_close(&mb);
	mb = NULL;

	/* The machine may be shared: best of five for the short phases. */
	best = 1e9;
	for (k = 0; k < 5; k++) {
		if (mb != NULL)
			mailbox_close(&mb);
		t = now();
		if ((mb = mailbox_open(&loc, "INBOX", 0, &f)) == NULL)
			fatalx("bench: open: %s", f.text);
		t = now() - t;
		best = t < best ? t : best;
	}
	report("warm", n, 0, best);

	best = 1e9;
	for (k = 0; k < 5; k++) {
		make_msg(&s, n + k, 3000);
		if (mbox) {
			if (!str_printf(p, sizeof(p), "%s/INBOX", root))
				fatalx("bench: path");
			write_file(p, "From x Mon Nov 23 01:20:23 2026\n", 32,
			    O_APPEND);
			write_file(p, s.data, s.len, O_APPEND);
		} else {
			if (!str_printf(p, sizeof(p), "%s/new/%u.extra", root,
			    1800000000 + k))
				fatalx("bench: path");
			write_file(p, s.data, s.len, O_EXCL);
		}
		t = now();
		if (mailbox_sync(mb, NULL, &f) == -1)
			fatalx("bench: sync: %s", f.text);
		t = now() - t;
		best = t < best ? t : best;
	}
	report("resync", 1, s.len, best);

	buf = xmalloc(65536);
	t = now();
	for (i = 1; i <= mailbox_count(mb); i++) {
		if (mailbox_msg(mb, i, &m) == -1 ||
		    (st = mailbox_stream_open(mb, i, &f)) == NULL)
			fatalx("bench: stream %u", i);
		while ((r = mailbox_stream_read(st, buf, 65536)) > 0)
			wire += (uint64_t)r;
		if (r == -1)
			fatalx("bench: read %u", i);
		mailbox_stream_close(&st);
	}
	t = now() - t;
	report("stream", mailbox_count(mb), wire, t);
	free(buf);
	mailbox_close(&mb);
	str_release(&s);
	rmtree(root);
	return 0;
}
