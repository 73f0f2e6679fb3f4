/* SPDX-License-Identifier: MIT */
/*
 * main.c - `buzon`: options, then the verb
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "settings.h"
#include "verbs.h"

static void
usage(FILE *out)
{
	const struct verb *v;

	fprintf(out, "usage: buzon [-c FILE] VERB [ARGS...]\n"
	    "\n"
	    "buzon is a complete mail system: SMTP in, queue, local delivery,\n"
	    "POP3 and IMAP out.  Verbs:\n\n");
	for (v = verbs; v->name != NULL; v++) {
		/* A long synopsis gets the summary on a line of its own. */
		if (strlen(v->synopsis) > 22)
			fprintf(out, "  %s\n  %-22s %s\n", v->synopsis, "",
			    v->summary);
		else
			fprintf(out, "  %-22s %s\n", v->synopsis, v->summary);
	}
	fprintf(out, "\n"
	    "Exit status: 0 success, 1 failure (one line says why), 2 bad\n"
	    "usage;"
	    " `status` uses 3 for not running.  See buzon(8).\n"
	    "\n"
	    "Options:\n"
	    "  -c FILE      config file (default: $BUZON_CONF, else\n"
	    "               %s); may also follow the verb\n"
	    "  -h, --help   this text; `buzon VERB --help` explains one verb\n"
	    "  -V, --version\n", CONFIG_DEFAULT_PATH);
}

int
main(int argc, char **argv)
{
	const char		*conf = NULL;
	const struct verb	*v;
	int			 i = 1;

	log_init("buzon", false, LOG_LEVEL_INFO);
	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "-c") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "buzon: -c needs a FILE\n");
				return EXIT_USAGE;
			}
			conf = argv[i + 1];
			i += 2;
		} else if (strncmp(argv[i], "-c", 2) == 0) {
			conf = argv[i] + 2;
			i++;
		} else if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "-V") == 0 ||
		    strcmp(argv[i], "--version") == 0) {
			printf("buzon %s\n", BUZON_VERSION);
			return 0;
		} else {
			fprintf(stderr, "buzon: unknown option '%s' "
			    "(try buzon --help)\n", argv[i]);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if ((v = verb_find(argv[i])) == NULL) {
		fprintf(stderr, "buzon: unknown verb '%s' (try buzon --help)\n",
		    argv[i]);
		return EXIT_USAGE;
	}
	if (verb_wants_help(argc - i, argv + i)) {
		verb_print_help(v);
		return 0;
	}
	argc -= i;
	argv += i;
	if (v->has_conf && (argc = verb_take_conf(v, argc, argv, &conf)) == -1)
		return EXIT_USAGE;
	return v->fn(config_path(conf), argc, argv);
}
