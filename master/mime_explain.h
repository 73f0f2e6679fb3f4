/*
 * mime_explain.h - `buzon mime explain`: a message's part tree and the
 * decoded text of its text parts, for students (master/cmd_mime.c)
 */
#ifndef BUZON_MIME_EXPLAIN_H
#define BUZON_MIME_EXPLAIN_H

#include <stddef.h>
#include <stdio.h>

/* Write the explanation of the message buf[0..len) to out: one line per
 * part with its IMAP part number, type, parameters, encoding and sizes,
 * then each text part decoded (to UTF-8) with "  | " before each line.
 * 0, or -1 out of memory. */
int	 mime_explain(const char *buf, size_t len, FILE *out);

#endif
