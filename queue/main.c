/* SPDX-License-Identifier: MIT */
/*
 * main.c - buzon-queued: the queue runner (see queued.h, docs/queue.md)
 */
#include <signal.h>
#include <stdlib.h>

#include "log.h"
#include "queued.h"
#include "sandbox.h"
#include "service.h"
#include "settings.h"

static struct queue_runner *runner;

/* What the queue writes beneath state_dir once sandboxed (sandbox.h): it
 * never reads the TLS key. */
static const char *const queued_sandbox_rw[] = {
	"spool", "mail", "run", NULL
};

static int
queued_init(struct event_loop *loop, const struct config *cfg, void *data)
{
	struct queue_conf	 c;
	struct fail		 f;

	(void)data;
	signal(SIGXFSZ, SIG_IGN);	/* enqueue.h: EFBIG instead */
	/* Before queue_runner_new() starts the delivery threads. */
	if (sandbox_daemon(cfg, "buzon-queued", queued_sandbox_rw) == -1)
		return -1;
	queue_conf_from_config(&c, cfg);
	runner = queue_runner_new(&c, &f);
	queue_conf_release(&c);
	if (runner == NULL) {
		log_error(NULL, "cannot start error=\"%s\"", f.text);
		return -1;
	}
	return queue_runner_start(runner, loop);
}

static int
queued_reload(const struct config *cfg, void *data)
{
	struct queue_conf	 c;

	(void)data;
	queue_conf_from_config(&c, cfg);
	queue_runner_reconf(runner, &c);
	queue_conf_release(&c);
	return 0;
}

static unsigned int
queued_shutdown(void *data)
{
	(void)data;
	if (runner != NULL)
		queue_runner_stop(runner);
	return 0;
}

static const struct service queued_service = {
	"buzon-queued", NULL, queued_init, queued_reload, queued_shutdown,
	NULL, NULL
};

int
main(int argc, char **argv)
{
	int	 rc = service_main(&queued_service, argc, argv);

	/* Stopped by the shutdown callback; otherwise the loop went away
	 * under it and the process ends anyway. */
	if (runner != NULL && queue_runner_stopped(runner))
		queue_runner_free(&runner);
	return rc;
}
