/*
 * maildir_quota.h - what a user's Maildir++ takes, for the quota:
 * the "maildirsize" file (Maildir++), shared by delivery and imapd
 *
 * maildirsize holds a first line with the quota ("NNNS"), then one
 * "BYTES COUNT" line per change.  Each writer appends "SIZE 1" after it
 * adds a message (one small O_APPEND write, atomic for readers).  The file
 * is rebuilt from the ",S=" sizes of the messages (stat() for names
 * without one) in cur/ and new/ of the root and of every ".Folder" when it
 * is missing, unreadable or longer than MAILDIR_QUOTA_FILE_MAX, or when
 * the caller asks for a recount: expunges by other programs are not
 * counted, so a refusal is always checked against a fresh count.
 */
#ifndef BUZON_MAILDIR_QUOTA_H
#define BUZON_MAILDIR_QUOTA_H

#include <stdbool.h>
#include <stdint.h>

#define MAILDIR_QUOTA_FILE_MAX	5120	/* rebuild past this (Maildir++) */

/* The bytes under the Maildir++ root: from maildirsize, or counted (and
 * maildirsize rewritten, best effort, with quota on its first line) when
 * it cannot be used or recount is set; pending bytes written but not in
 * new/ yet are added to a count.  0, or -1 when the count fails. */
int	 maildir_quota_usage(const char *root, uint64_t quota,
	    uint64_t pending, bool recount, uint64_t *usage_r)
	    __attribute__((warn_unused_result));
/* size bytes were added: one line appended to maildirsize (none if the
 * file is not there: the next count makes it). */
void	 maildir_quota_add(const char *root, uint64_t size);
/* The size a Maildir file name carries in ",S=SIZE": 1 found, 0 none. */
int	 maildir_name_size(const char *name, uint64_t *size_r);

#endif
