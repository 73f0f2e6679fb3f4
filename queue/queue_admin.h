/*
 * queue_admin.h - read the spool for people: `buzon queue list|show`
 *
 * Read-only and safe while smtpd and queued run: files are opened by name
 * and a message that vanishes between listing and reading is skipped.
 * Entries that fail to parse are shown as corrupt with the reason; they
 * are not moved (that is the queue runner's job).  Peer-supplied text
 * (addresses, HELO, headers) is printed as it is when it is printable
 * ASCII, tab or valid UTF-8 (SMTPUTF8 addresses); every other byte,
 * control characters and C1 controls included, as \xNN.
 */
#ifndef BUZON_QUEUE_ADMIN_H
#define BUZON_QUEUE_ADMIN_H

#include <stdbool.h>
#include <stdio.h>

/*
 * Like mailq: one block per message, oldest first, from STATE/spool/queue
 * and STATE/spool/hold:
 *
 *	ID                SIZE ARRIVAL             SENDER
 *	06C3KNHD34HW00E5!  1234 2026-11-23 01:16:42 <usuario@ejemplo.com>
 *	    destino@example.org  deferred 4.4.1 connect timeout (next 01:25)
 *
 * '!' after the id marks a held message.  Ends with a "-- N messages"
 * summary line.  Returns 0, or -1 if the spool cannot be read (message on
 * stderr).
 */
int	 queue_admin_list(FILE *out, const char *state_dir);

/*
 * Every envelope field of one message and the header section of its
 * content.  Returns 0, 1 if there is no such message (or id is not a
 * queue id), -1 if it cannot be read or is corrupt (reason on stderr).
 */
int	 queue_admin_show(FILE *out, const char *state_dir, const char *id);

#endif
