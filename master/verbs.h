/*
 * verbs.h - the verbs of the `buzon` command
 *
 * `buzon [-c FILE] VERB [ARGS...]`; a verb that reads the config also
 * takes `-c FILE` after its name (`buzon status -c FILE`), anywhere before
 * a `--`, and that one wins.  Each verb is a function that gets the
 * config path (from -c, $BUZON_CONF or the default; see config_path()) and
 * its own argv with argv[0] = the verb.  It returns the process exit code:
 * 0 success, 1 failure of what was asked (one clear line on stderr), 2 bad
 * usage, 75 temporary failure.  `buzon VERB --help` prints the verb's help
 * to stdout and exits 0.
 */
#ifndef BUZON_VERBS_H
#define BUZON_VERBS_H

#include <stdbool.h>

struct config;

#define EXIT_USAGE	2

struct verb {
	const char	*name;
	int		(*fn)(const char *conf_path, int argc,
			    char **argv);
	const char	*synopsis;	/* "run [-c FILE]" */
	const char	*summary;	/* one line for `buzon --help` */
	const char	*help;		/* `buzon VERB --help` */
	bool		 has_conf;	/* reads the config: takes -c FILE */
};

extern const struct verb verbs[];

/* True when argv holds -h or --help: the verb prints its help and exits. */
bool	verb_wants_help(int argc, char **argv);
/* Print "buzon VERB: message" to stderr; returns code. */
int	verb_error(const char *verb, int code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Take every "-c FILE" and "-cFILE" before a "--" out of a verb's argv
 * (argv[0] is the verb), setting *conf_r to the last FILE.  Returns the
 * new argc, or -1 after a message when -c has no FILE. */
int	verb_take_conf(const struct verb *, int argc, char **argv,
	    const char **conf_r);
/* Print the verb's help text (and, for a verb that reads the config, the
 * line on -c FILE). */
void	verb_print_help(const struct verb *);
const struct verb *verb_find(const char *name);
/* Load the config for a verb: 0, or -1 after printing every
 * "FILE:LINE: message" to stderr.  Always config_release() after. */
int	verb_load_config(const char *path, struct config *);

#endif
