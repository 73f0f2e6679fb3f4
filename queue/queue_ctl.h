/*
 * queue_ctl.h - change the queue for people: `buzon queue hold|release|
 * delete|bounce|retry|flush`
 *
 * Safe while buzon-queued runs: every change to an entry is made under
 * flock(LOCK_EX) on its queue file, the lock the runner holds while it
 * works on the entry (queue/message.c), so a verb waits for a delivery
 * round to finish with the entry and the runner never sees half a change.
 * A lock is on the file, not the name: after taking it a verb checks the
 * name still points at the same file.  Moves and removals are fsync'd.
 *
 * id is a queue id or "ALL" (hold, release, delete).  Each function
 * returns the number of entries changed (>= 0; 0 with an id: no such
 * message there), or -1 with a message in err.  *notified_r, where given,
 * says whether buzon-queued was told (false: it is not running; it will
 * see the change when it starts).
 */
#ifndef BUZON_QUEUE_CTL_H
#define BUZON_QUEUE_CTL_H

#include <stdbool.h>
#include <stddef.h>

#define QUEUE_CTL_ALL		"ALL"
#define QUEUE_CTL_LOCK_WAIT	30000	/* ms to wait for an entry's lock */

/* queue/ -> hold/: the runner leaves it alone. */
int	 queue_ctl_hold(const char *state_dir, const char *id, char *err,
	    size_t errsize);
/* hold/ -> queue/, and tell the runner to try it now. */
int	 queue_ctl_release(const char *state_dir, const char *id,
	    bool *notified_r, char *err, size_t errsize);
/* Remove the entry (queue/ or hold/) and its status log; no DSN. */
int	 queue_ctl_delete(const char *state_dir, const char *id, char *err,
	    size_t errsize);
/* Mark every recipient not yet final as bounced (5.0.0, "bounced by the
 * administrator") in the status log and tell the runner, which sends the
 * DSN and removes the entry.  A held entry is released for that. */
int	 queue_ctl_bounce(const char *state_dir, const char *id,
	    bool *notified_r, char *err, size_t errsize);
/* Ask the runner to try one entry now, retry times ignored: 1, 0 no
 * such entry in queue/, -1 (held: err says so). */
int	 queue_ctl_retry(const char *state_dir, const char *id,
	    bool *notified_r, char *err, size_t errsize);
/* Ask the runner to try everything now. */
int	 queue_ctl_flush(const char *state_dir, bool *notified_r, char *err,
	    size_t errsize);

/* Send one datagram to STATE/run/queued.sock: 1 sent, 0 nobody listens,
 * -1 with err. */
int	 queue_ctl_notify(const char *state_dir, const char *text, char *err,
	    size_t errsize);

#endif
