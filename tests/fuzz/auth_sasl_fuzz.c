/* SPDX-License-Identifier: MIT */
/*
 * auth_sasl_fuzz.c - arbitrary client lines into SASL PLAIN and LOGIN,
 * and arbitrary bytes as addresses and user records
 *
 * The input is split at LF: the first line picks the mechanism and is the
 * initial response ("-" for none), each further line is one response.
 * The whole input is also given to base64_decode, accounts_user_parse and
 * the address checks.  Anything but a clean return is a bug.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "auth.h"
#include "base64.h"
#include "mem.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct accounts_conf ac = { .state_dir = "/x",
	    .map_type = "hash", .recipient_delimiter = "+-" };
	struct accounts_user *u;
	struct auth_sasl s;
	enum auth_sasl_result r;
	const char	*ch;
	char		*buf, *line, *nl, out[ACCOUNTS_ADDR_MAX];
	char		 dec[1024];
	size_t		 n;

	buf = xmemdup(data, size);	/* NUL-terminated copy */
	(void)base64_decode(buf, size, dec, sizeof(dec), &n);
	u = xcalloc(1, sizeof(*u));
	(void)accounts_user_parse(buf, size, u);
	free(u);
	if (strlen(buf) == size) {
		(void)accounts_address_valid(buf, true);
		(void)accounts_domain_valid(buf);
		(void)accounts_normalize(&ac, buf, false, out, sizeof(out));
	}

	line = buf;
	if ((nl = memchr(line, '\n', size)) != NULL)
		*nl = '\0';
	r = auth_sasl_begin(&s, size > 0 && (data[0] & 1) ? AUTH_SASL_LOGIN :
	    AUTH_SASL_PLAIN, strcmp(line, "-") == 0 ? NULL : line, &ch);
	while (r == AUTH_SASL_CONTINUE && nl != NULL) {
		line = nl + 1;
		n = size - (size_t)(line - buf);
		if ((nl = memchr(line, '\n', n)) != NULL)
			n = (size_t)(nl - line);
		r = auth_sasl_step(&s, line, n, &ch);
	}
	auth_sasl_release(&s);
	free(buf);
	return 0;
}
