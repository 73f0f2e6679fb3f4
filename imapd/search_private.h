/*
 * search_private.h - what search.c, search_match.c, sort.c and thread.c
 * share: the key tree, the per-message reader, case folding
 */
#ifndef BUZON_IMAPD_SEARCH_PRIVATE_H
#define BUZON_IMAPD_SEARCH_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "search.h"

struct imap_cur;
struct imap_session;
struct mailbox;
struct mailbox_msg;
struct mime_msg;
struct str;

enum skey {
	SK_ALL, SK_AND, SK_OR, SK_NOT, SK_SEQ, SK_UID, SK_FLAG, SK_KEYWORD,
	SK_NEW, SK_OLD, SK_RECENT, SK_LARGER, SK_SMALLER, SK_BEFORE, SK_ON,
	SK_SINCE, SK_SENTBEFORE, SK_SENTON, SK_SENTSINCE, SK_HEADER,
	SK_BODY, SK_TEXT, SK_MODSEQ
};

struct snode {
	enum skey	 k;
	struct snode	**kids;
	size_t		 nkids;
	struct seqset	 set;		/* SK_SEQ, SK_UID */
	unsigned int	 flag;		/* SK_FLAG */
	bool		 set_flag;	/* SK_FLAG, SK_KEYWORD: set (not UN) */
	int		 bit;		/* SK_KEYWORD: -1 unknown keyword */
	uint64_t	 num;		/* LARGER, SMALLER, MODSEQ */
	time_t		 t;		/* dates: midnight UTC of the day */
	char		*field;		/* SK_HEADER */
	char		*value;		/* folded (search_fold) */
};

/* Parse the keys (after CHARSET when charset_allowed) to the end of c.
 * 0; -1 with c->err for BAD, or *no_r the code for NO (BADCHARSET). */
int	 search_parse(struct imap_session *, struct imap_cur *, bool uid,
	    bool charset_allowed, struct snode **r, bool *modseq_r,
	    const char **no_r);
void	 search_node_free(struct snode *);

/* The message being looked at, read once when a key needs it. */
struct search_ctx {
	struct imap_session	*s;
	uint32_t		 seq;		/* loaded: 0 none */
	char			*data;
	size_t			 len;
	struct mime_msg		*mime;
	bool			 failed;	/* could not be read */
};

void	 search_ctx_init(struct search_ctx *, struct imap_session *);
/* Forget the loaded message (after each message). */
void	 search_ctx_next(struct search_ctx *);
void	 search_ctx_release(struct search_ctx *);
/* The parsed message m (NULL if it cannot be read). */
struct mime_msg *search_load(struct search_ctx *, const struct mailbox_msg *);
/* 1 m matches, 0 not. */
int	 search_match(struct search_ctx *, const struct snode *,
	    const struct mailbox_msg *);

/* Fold UTF-8 (or any bytes) for case-insensitive matching: ASCII, Latin-1,
 * Latin Extended-A, Greek and Cyrillic letters to lower case, runs of
 * white space to one space.  0 or -1. */
int	 search_fold(const char *, size_t, struct str *out)
	    __attribute__((warn_unused_result));
/* The highest UID in the view (0 if empty). */
uint32_t search_max_uid(const struct mailbox *);
/* The Date header of the message as UTC seconds; internal date if
 * missing or bad. */
int64_t	 search_sent_date(struct search_ctx *, const struct mailbox_msg *);

#endif
