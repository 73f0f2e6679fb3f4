/* SPDX-License-Identifier: MIT */
/*
 * admin_map.c - `buzon map compile [type:]FILE`: text to map, like postmap
 *
 * Text form: one "KEY VALUE" a line, KEY up to the first space or tab
 * (a trailing ':' is dropped, so aliases(5) lines work), VALUE the rest
 * of the line, trimmed.  Blank lines and lines starting with '#' are
 * skipped.  Keys are lower-cased unless --keep-case.  Every bad line is
 * reported as FILE:LINE: message and then nothing is written.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "admin_help.h"
#include "maps.h"
#include "str.h"
#include "verbs.h"

int	verb_map(const char *, int, char **);

const char admin_map_help[] =
	"usage: buzon map compile [--keep-case] [TYPE:]FILE\n"
	"\n"
	"Reads the text FILE, one \"KEY VALUE\" a line (a ':' after KEY is\n"
	"allowed, as in aliases(5); blank lines and # comments are skipped),\n"
	"and writes the map FILE.db (TYPE hash, the default, or btree) or\n"
	"FILE.lmdb (TYPE lmdb), replacing it in one step.  Keys are stored in\n"
	"lower case unless --keep-case.  Every bad line is reported as\n"
	"FILE:LINE: message, and then nothing is written.\n"
	"\n"
	"Exit status: 0 written; 1 bad lines or I/O error; 2 bad usage.\n";

#define MAP_LINE_MAX	(MAPS_KEY_MAX + MAPS_VALUE_MAX + 2)
#define MAP_ERRORS_MAX	100	/* then stop reading */

static int
map_compile(const char *spec, bool keep_case)
{
	struct maps_edit *e;
	FILE		*fp;
	char		 type[16], file[PATH_MAX], path[PATH_MAX], err[512];
	char		*line, *key, *val;
	size_t		 len, lineno = 0, errors = 0, records = 0;
	int		 rc;

	/* The text file is the spec's path itself; the map gets a suffix. */
	if (maps_spec_file(spec, type, sizeof(type), file, sizeof(file), err,
	    sizeof(err)) == -1)
		return verb_error("map", 1, "%s", err);
	len = strlen(file) - strlen(strcmp(type, "lmdb") == 0 ? ".lmdb" :
	    ".db");
	file[len] = '\0';
	if (!str_copy(path, file, sizeof(path)))
		return verb_error("map", 1, "name too long");
	file[len] = '.';
	if ((fp = fopen(path, "r")) == NULL)
		return verb_error("map", 1, "%s: %s", path, strerror(errno));
	if ((e = maps_edit_begin(spec, MAPS_EDIT_EMPTY, err, sizeof(err))) ==
	    NULL) {
		fclose(fp);
		return verb_error("map", 1, "%s", err);
	}
	line = malloc(MAP_LINE_MAX + 2);
	if (line == NULL)
		fatal("malloc");
	while (errors < MAP_ERRORS_MAX &&
	    fgets(line, MAP_LINE_MAX + 2, fp) != NULL) {
		lineno++;
		len = strlen(line);
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		else if (!feof(fp)) {
			fprintf(stderr, "%s:%zu: line too long\n", path,
			    lineno);
			errors++;
			while ((rc = fgetc(fp)) != EOF && rc != '\n')
				continue;
			continue;
		}
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		key = str_trim(line);
		if (*key == '\0' || *key == '#')
			continue;
		val = key + strcspn(key, " \t");
		if (*val != '\0')
			*val++ = '\0';
		val = str_trim(val);
		len = strlen(key);
		if (len > 1 && key[len - 1] == ':')
			key[--len] = '\0';
		if (*val == '\0') {
			fprintf(stderr, "%s:%zu: '%s' has no value\n", path,
			    lineno, key);
			errors++;
			continue;
		}
		if (len > MAPS_KEY_MAX) {
			fprintf(stderr, "%s:%zu: key longer than %d bytes\n",
			    path, lineno, MAPS_KEY_MAX);
			errors++;
			continue;
		}
		if (!keep_case)
			str_lower(key);
		rc = maps_edit_put(e, key, val, strlen(val), false);
		if (rc == 1) {
			fprintf(stderr, "%s:%zu: duplicate key '%s'\n", path,
			    lineno, key);
			errors++;
		} else if (rc == -1) {
			fprintf(stderr, "%s:%zu: cannot store '%s'\n", path,
			    lineno, key);
			errors++;
		} else
			records++;
	}
	free(line);
	rc = ferror(fp);
	fclose(fp);
	if (rc != 0) {
		maps_edit_abort(&e);
		return verb_error("map", 1, "%s: read error", path);
	}
	if (errors >= MAP_ERRORS_MAX) {
		maps_edit_abort(&e);
		return verb_error("map", 1, "%s: too many errors, stopped at "
		    "line %zu; %s not written", path, lineno, file);
	}
	if (errors > 0) {
		maps_edit_abort(&e);
		return verb_error("map", 1, "%s: %zu bad lines; %s not written",
		    path, errors, file);
	}
	if (maps_edit_commit(&e, err, sizeof(err)) == -1)
		return verb_error("map", 1, "%s", err);
	printf("%s: %zu records\n", file, records);
	return 0;
}

int
verb_map(const char *conf_path, int argc, char **argv)
{
	bool	 keep_case = false;
	int	 i = 2;

	(void)conf_path;
	if (argc >= 3 && strcmp(argv[1], "compile") == 0 &&
	    strcmp(argv[2], "--keep-case") == 0) {
		keep_case = true;
		i++;
	}
	if (argc != i + 1 || strcmp(argv[1], "compile") != 0)
		return verb_error("map", EXIT_USAGE, "usage: buzon map compile "
		    "[--keep-case] [TYPE:]FILE");
	return map_compile(argv[i], keep_case);
}
