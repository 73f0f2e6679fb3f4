/*
 * runner_util.h - a temporary state directory with accounts, a runner on
 * it, and helpers to enqueue and to read mailboxes (queue runner tests)
 */
#ifndef BUZON_RUNNER_UTIL_H
#define BUZON_RUNNER_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "queued.h"
#include "str.h"

extern char		 rt_dir[64];
extern struct queue_conf rt_conf;

/* State dir with domain example.test, Maildir users alice bob carol,
 * mbox user dave, user tiny (quota 10 bytes); aliases team -> alice, bob,
 * carol; ghost -> nobody@example.test (no such user); postmaster ->
 * alice. */
void	 rt_setup(void);
void	 rt_teardown(void);
/* Add a user (maildir unless mbox) with a quota. */
void	 rt_add_user(const char *addr, bool mbox, uint64_t quota);
void	 rt_add_alias(const char *src, const char *targets);

/* Enqueue one message; rcpts is NULL-terminated; notify for each.
 * The id goes to id_r when not NULL. */
void	 rt_enqueue(const char *sender, const char *const *rcpts,
	    unsigned int notify, const char *content, char *id_r);
/* Enqueue n small messages "Message-ID: <PREFIX.i@test>" to rcpt,
 * committed in batches. */
void	 rt_enqueue_many(const char *rcpt, const char *prefix, size_t n);

struct queue_runner *rt_runner(void);
/* Read the socket and run rounds at the real time until nothing is due. */
void	 rt_drain(struct queue_runner *);

/* Number of entries (not . or ..) in STATE/sub. */
size_t	 rt_count(const char *sub);
/* Read the one file in dir (relative to STATE) whose content contains
 * needle (NULL: the only file) into out; returns the number of files. */
size_t	 rt_find_file(const char *sub, const char *needle, struct str *out);
/* Read a whole file (relative to STATE) into out; -1 if missing. */
int	 rt_read(const char *sub, struct str *out);

#endif
