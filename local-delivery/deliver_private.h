/*
 * deliver_private.h - what deliver.c, deliver_maildir.c and deliver_mbox.c
 * share: the buffered writer, the content filter and the batch's list of
 * directories to fsync.  Not for callers outside local-delivery/.
 */
#ifndef BUZON_DELIVER_PRIVATE_H
#define BUZON_DELIVER_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "deliver.h"

#define DELIVER_CHUNK	65536		/* read and write unit */
#define DELIVER_HLINE	1024		/* header line kept for inspection */

/* Buffered writes to fd; the first error sticks in err (an errno). */
struct deliver_out {
	int		 fd;
	int		 err;
	size_t		 len;
	uint64_t	 written;	/* bytes handed to out_put() */
	uint64_t	 wire;		/* the same, each bare LF as CRLF */
	char		 last;		/* last byte handed over */
	char		 buf[DELIVER_CHUNK];
};

/* The content filter: CRLF -> LF, mboxrd quoting, header inspection. */
struct deliver_xform {
	bool		 mboxrd;
	bool		 cr;		/* a CR waits for the next byte */
	bool		 at_bol;	/* undecided ">*From " prefix pending */
	size_t		 gt;		/* '>' seen in that prefix */
	size_t		 from;		/* bytes of "From " matched next */
	bool		 in_header;
	bool		 hlong;		/* this header line outgrew hline */
	size_t		 hlen;
	char		 hline[DELIVER_HLINE];
	const char	*loop_addr;	/* Delivered-To value that is a loop */
	bool		 loop;		/* seen */
};

/* A Maildir message written to tmp/ whose fsync and link wait for the
 * commit (so that one journal flush covers many files). */
struct deliver_pending {
	int		 fd;
	char		*tmp;		/* path in tmp/ */
	char		*dst;		/* final path in new/ */
	char		*newdir;
	char		*maildir;	/* the Maildir it goes to */
	uint64_t	 size;
	bool		 synced;	/* flush: fsync'd and closed */
};

struct deliver_batch {
	const struct deliver_conf *conf;
	char		**dirs;		/* to fsync at commit */
	size_t		 ndirs;
	struct deliver_pending *pend;
	size_t		 npend;
	bool		 failed;	/* an automatic flush failed */
	struct fail	 fail;		/* ... with this */
};

void	 deliver_out_init(struct deliver_out *, int fd);
void	 deliver_out_put(struct deliver_out *, const void *, size_t);
/* 0, or -1 with errno set to the first error. */
int	 deliver_out_flush(struct deliver_out *);

/* The filter on its own (exposed for tests): feed any split of the input,
 * then finish; the output does not depend on where it was split. */
void	 deliver_xform_init(struct deliver_xform *, bool mboxrd,
	    const char *loop_addr);
void	 deliver_xform_feed(struct deliver_xform *, struct deliver_out *,
	    const char *, size_t);
void	 deliver_xform_finish(struct deliver_xform *, struct deliver_out *);

/* Write the Return-Path and Delivered-To fields, then the filtered
 * message.  0, or -1 with f set: a read error is temporary 4.3.0, a loop
 * is 5.4.6.  Write errors stay in o->err for the caller. */
int	 deliver_copy(struct deliver_out *, const struct deliver_rcpt *,
	    const struct deliver_msg *, bool mboxrd, struct fail *);
/* Bytes deliver_copy() adds in front of the message. */
uint64_t deliver_header_len(const struct deliver_rcpt *);
/* Set f from a write errno: EDQUOT 4.2.2, ENOSPC 4.3.1, else 4.3.0. */
int	 deliver_fail_errno(struct fail *, int err, const char *what);
/* a + b, or UINT64_MAX when that would wrap (sizes only ever add up to
 * more, never to a small number). */
uint64_t deliver_size_add(uint64_t a, uint64_t b);
/* Would usage + add bytes be over quota?  Never wraps. */
bool	 deliver_quota_exceeded(uint64_t usage, uint64_t add, uint64_t quota);
/* Remember dir for the commit fsync (no duplicate). */
void	 deliver_batch_dir(struct deliver_batch *, const char *dir);
/* mkdir -p path (mode 0700): each directory made has its parent put on
 * the batch's list, so the whole new path is synced at the commit (the
 * first mailbox of a new domain makes STATE/mail/DOMAIN too).  Existing
 * components, links among them, are used as they are.  0, or -1 with f
 * set (temporary). */
int	 deliver_mkdirs(struct deliver_batch *, const char *path,
	    struct fail *f) __attribute__((warn_unused_result));
const char *deliver_hostname(const struct deliver_conf *);

/* fsync every pending file, link it into new/, note new/ for the
 * directory fsync.  0, or -1 with f set (files that failed are removed). */
int	 deliver_maildir_flush(struct deliver_batch *, struct fail *);
/* Close and remove every pending file (the batch is given up). */
void	 deliver_maildir_discard(struct deliver_batch *);

int	 deliver_maildir(struct deliver_batch *, const struct deliver_rcpt *,
	    const struct deliver_msg *, struct deliver_result *, struct fail *);
int	 deliver_mbox(struct deliver_batch *, const struct deliver_rcpt *,
	    const struct deliver_msg *, struct deliver_result *, struct fail *);

#endif
