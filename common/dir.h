/*
 * dir.h - directory helpers below the modules that make files durable
 *
 * A rename or link into a directory, or a new directory, survives a
 * crash only once the directory holding the name is fsync'd.  One
 * helper for it, so that every caller checks the same result.
 */
#ifndef BUZON_DIR_H
#define BUZON_DIR_H

/* fsync the directory path (opened O_DIRECTORY, so a file or a missing
 * path fails).  0, or -1 with errno set (the close does not clobber it). */
int	 dir_fsync(const char *path) __attribute__((warn_unused_result));

#endif
