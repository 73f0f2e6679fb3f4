/*
 * service.h - the skeleton every buzon daemon runs in
 *
 * A daemon's main() is a few lines: options come from here, then
 * service_main(&its_service, argc, argv).  service_main():
 *
 *   1. parses "-c FILE" (the only option; the supervisor always passes it),
 *   2. refuses to run as root (fatalx): `buzon` binds the sockets and
 *      drops privileges before it starts any daemon,
 *   3. loads the config (config_load(); every error printed, then exit 75)
 *      and applies its log settings under the program name,
 *   4. takes its listening sockets from $BUZON_LISTEN (see below), checks
 *      each is a listening socket, makes it non-blocking and close-on-exec,
 *      and unsets the variable so programs it starts do not see it,
 *   5. creates the event loop, calls init, registers the listeners and
 *      runs the loop until the service is stopped.
 *
 * $BUZON_LISTEN is "name:fd name:fd ...", for example
 * "smtp:3 submission:4 submissions:5".  Names are the listener kinds of
 * buzon.conf (smtp, submission, submissions, pop3, pop3s, imap, imaps)
 * that the daemon names in its struct service (smtpd: smtp, submission,
 * submissions); any other name is fatal.  A name may appear with several
 * fds (one host:port can give an IPv4 and an IPv6 socket), an fd only
 * once.  Unset or empty means no listeners (the queue daemon).
 *
 * Signals, all delivered through the loop:
 *   SIGHUP   reload: the config file is read again; if it is invalid the
 *            errors are logged and the old config stays.  Otherwise its log
 *            settings are applied, reload is called with the new config and,
 *            unless reload returns -1, it replaces the old one.  Listening
 *            sockets do not change: they belong to the supervisor.
 *   SIGTERM, SIGINT
 *            stop: listeners are closed at once, then shutdown is called;
 *            it returns how many sessions are still open and is called again
 *            every 100 ms until it returns 0, when service_main() returns 0.
 *            After shutdown_grace the process exits anyway (status 0, with a
 *            log line naming the sessions cut).  Without a shutdown callback
 *            the loop stops at once.
 * SIGPIPE is ignored.  The supervisor starts daemons with SIGHUP blocked,
 * so a reload sent before the loop is up waits for it instead of killing
 * the process.
 */
#ifndef BUZON_SERVICE_H
#define BUZON_SERVICE_H

#include <stdbool.h>
#include <stddef.h>

#include "event.h"
#include "net.h"

struct config;		/* settings.h */

#define SERVICE_LISTEN_ENV	"BUZON_LISTEN"
#define SERVICE_LISTEN_MAX	64	/* fds in $BUZON_LISTEN */
#define SERVICE_NAME_MAX	16

/* A new connection: fd is non-blocking and close-on-exec and now belongs to
 * the callback (close it when done).  peer is the client's address and
 * listener the name it came in on ("submission"); both are borrowed for the
 * duration of the call. */
typedef void	service_accept_cb(int fd, const struct net_addr *peer,
		    const char *listener, void *data);
/* Once, before the first connection.  The loop and config stay valid until
 * service_main() returns (the config until the next reload).  0, or -1 to
 * give up (service_main() exits 75). */
typedef int	service_init_cb(struct event_loop *, const struct config *,
		    void *data);
/* A valid new config is loaded.  Return 0 to take it, -1 to keep the old
 * one (say why in the log).  Pointers into the old config die when this
 * returns 0. */
typedef int	service_reload_cb(const struct config *, void *data);
/* Stop taking work; return the number of sessions still open (0: done).
 * Called repeatedly, so it must be idempotent. */
typedef unsigned int service_shutdown_cb(void *data);

/* name is the program name in logs ("buzon-smtpd"); accept is required
 * when the daemon has listeners, the other callbacks are optional; data is
 * handed to every callback.  listeners is the NULL-terminated list of the
 * listener kinds this daemon serves ({ "pop3", "pop3s", NULL }); NULL for
 * a daemon that takes no connections. */
struct service {
	const char		*name;
	service_accept_cb	*accept;
	service_init_cb		*init;
	service_reload_cb	*reload;
	service_shutdown_cb	*shutdown;
	void			*data;
	const char *const	*listeners;
};

struct service_listener {
	char	name[SERVICE_NAME_MAX];
	int	fd;
};

/* Run the daemon; see above.  Returns the exit code for main(). */
int	 service_main(const struct service *, int argc, char **argv);

/* The config in force, borrowed until the next reload.  NULL outside
 * service_main(). */
const struct config *service_config(void);
/* Begin the SIGTERM sequence from inside the daemon (a fatal condition that
 * should still let sessions finish). */
void	 service_stop(void);

/* Parse a $BUZON_LISTEN value into out[0..max-1], *n_r set to the count.
 * Names must be in names (NULL-terminated; NULL: none is).  Fds must be
 * >= 3.  0, or -1 with a message in err (unknown name, bad or repeated
 * fd, missing ':', too many entries). */
int	 service_listen_parse(const char *, const char *const *names,
	    struct service_listener *out, size_t max, size_t *n_r, char *err,
	    size_t errsize);
/* Is name in names (NULL-terminated; NULL: an empty list)? */
bool	 service_listener_name_ok(const char *const *names, const char *);

#endif
