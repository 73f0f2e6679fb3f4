/*
 * search.h - sequence sets, SEARCH (RFC 3501 6.4.4, ESEARCH RFC 4731,
 * CONDSTORE MODSEQ), SORT and THREAD (RFC 5256)
 *
 * The handlers take the whole command: parse, run over s->mb's view, and
 * answer (untagged SEARCH/ESEARCH/SORT/THREAD, then the tagged OK).  BODY
 * and TEXT match the decoded text (base64, quoted-printable, RFC 2047
 * words, charset to UTF-8 where known) without case; header keys match
 * decoded header values.
 */
#ifndef BUZON_IMAPD_SEARCH_H
#define BUZON_IMAPD_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct imap_session;
struct str;

/* ---- sequence sets (seqset.c) ---- */

#define SEQSET_RANGES_MAX	100000	/* ranges in one set */

/* Sorted, merged, non-overlapping ranges. */
struct seqset {
	struct seqset_range {
		uint32_t	 lo, hi;
	}		*r;
	size_t		 n;
};

/* Parse len bytes of a sequence-set; '*' stands for star (the highest
 * sequence number or UID; 0 in an empty folder, where "*" then matches
 * nothing).  0, or -1 (syntax, 0 as a number, too many ranges). */
int	 seqset_parse(struct seqset *, const char *, size_t, uint32_t star)
	    __attribute__((warn_unused_result));
bool	 seqset_has(const struct seqset *, uint32_t);
void	 seqset_free(struct seqset *);
/* Append sorted values as a compact set ("1:3,7,9:10"). */
int	 seqset_put(struct str *, const uint32_t *, size_t)
	    __attribute__((warn_unused_result));

/* ---- the handlers ---- */
void	 imap_cmd_search(struct imap_session *, bool uid);
void	 imap_cmd_sort(struct imap_session *, bool uid);
void	 imap_cmd_thread(struct imap_session *, bool uid);

#endif
