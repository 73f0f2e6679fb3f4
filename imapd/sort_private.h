/*
 * sort_private.h - what sort.c and thread.c share
 */
#ifndef BUZON_IMAPD_SORT_PRIVATE_H
#define BUZON_IMAPD_SORT_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct imap_cur;
struct imap_session;
struct mailbox_msg;
struct search_ctx;
struct str;

#define SORT_NEED_HEADER	0x01	/* subject, addresses, ids */
#define SORT_NEED_DATE		0x02	/* the sent date */

/* One selected message with its keys. */
struct sort_item {
	uint32_t	 seq, uid;
	uint64_t	 size;
	int64_t		 arrival, date;
	char		*subject;	/* base subject, folded */
	bool		 reply;		/* the subject had Re:/Fwd: */
	char		*from, *to, *cc, *dfrom, *dto;
	char		*msgid;		/* without <>, NULL if none */
	char		*refs;		/* References, else In-Reply-To */
};

/* RFC 5256 2.1's base subject of a raw Subject value, folded, into out
 * (cleared first by the caller); *reply when a leader, trailer or
 * [fwd: ...] was taken off.  0 or -1. */
int	 imap_base_subject(const char *, size_t, struct str *out, bool *reply)
	    __attribute__((warn_unused_result));
void	 sort_item_fill(struct search_ctx *, const struct mailbox_msg *,
	    struct sort_item *, unsigned int need);
void	 sort_item_release(struct sort_item *);
/* The first "<id>" in v as a malloc'ed "id" (NULL if none); *used the
 * bytes up to its end (may be NULL). */
char	*sort_msgid(const char *v, size_t len, size_t *used);
struct sort_item *sort_select(struct imap_session *, struct imap_cur *,
	    bool uid, unsigned int need, size_t *n_r);
bool	 sort_charset(struct imap_session *, struct imap_cur *);

#endif
