/* SPDX-License-Identifier: MIT */
/*
 * conf_fuzz.c - arbitrary bytes as buzon.conf
 *
 * Feeds the input to conf_load_buf() with the real config_params table,
 * then the first line of it to the single-value parsers.  Anything but a
 * clean return (crash, leak, sanitizer report) is a bug.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "conf.h"
#include "settings.h"
#include "str.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	 cfg;
	struct conf_list l;
	struct str	 errs;
	char		 val[128], err[256];
	uint64_t	 v;
	bool		 b;
	size_t		 n;

	str_init(&errs, 64 * 1024);
	(void)conf_load_buf(config_params, &cfg, "fuzz.conf",
	    (const char *)data, size, "/base", &errs);
	conf_release(config_params, &cfg);
	str_release(&errs);

	n = size < sizeof(val) - 1 ? size : sizeof(val) - 1;
	memcpy(val, data, n);
	val[n] = '\0';
	val[strcspn(val, "\n")] = '\0';
	(void)conf_parse_size(val, &v, err, sizeof(err));
	(void)conf_parse_time(val, &v, err, sizeof(err));
	(void)conf_parse_bool(val, &b);
	if (conf_list_split(val, &l) == 0)
		conf_list_release(&l);
	return 0;
}
