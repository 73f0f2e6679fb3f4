/* SPDX-License-Identifier: MIT */
/*
 * flags.c - the flag list of a message as FETCH, STORE and the sync show
 * it (fetch.h imap_put_flags), and the one list SELECT announces
 */
#include <stdint.h>
#include <string.h>

#include "fetch.h"
#include "imapd.h"
#include "mailbox.h"
#include "str.h"

static const struct {
	unsigned int	 bit;
	const char	*name;
} system_flags[] = {
	{ MAILBOX_ANSWERED, "\\Answered" },
	{ MAILBOX_FLAGGED, "\\Flagged" },
	{ MAILBOX_DELETED, "\\Deleted" },
	{ MAILBOX_SEEN, "\\Seen" },
	{ MAILBOX_DRAFT, "\\Draft" },
};

int
imap_put_flags(struct str *out, const struct mailbox *mb,
    const struct mailbox_msg *m, bool recent)
{
	const char	*kw;
	unsigned int	 i;
	bool		 sp = false;

	if (str_append_c(out, '(') == -1)
		return -1;
	for (i = 0; i < sizeof(system_flags) / sizeof(system_flags[0]); i++)
		if (m->flags & system_flags[i].bit) {
			if (str_appendf(out, "%s%s", sp ? " " : "",
			    system_flags[i].name) == -1)
				return -1;
			sp = true;
		}
	if (recent) {
		if (str_appendf(out, "%s\\Recent", sp ? " " : "") == -1)
			return -1;
		sp = true;
	}
	for (i = 0; i < 64; i++)
		if ((m->keywords >> i) & 1) {
			if ((kw = mailbox_keyword_name(mb, i)) == NULL)
				continue;
			if (str_appendf(out, "%s%s", sp ? " " : "", kw) == -1)
				return -1;
			sp = true;
		}
	return str_append_c(out, ')');
}

int
imap_put_flag_names(struct str *out, const struct mailbox *mb, bool star)
{
	const char	*kw;
	unsigned int	 i;

	if (str_append_str(out, "(\\Answered \\Flagged \\Deleted \\Seen "
	    "\\Draft") == -1)
		return -1;
	for (i = 0; (kw = mailbox_keyword_name(mb, i)) != NULL; i++)
		if (str_appendf(out, " %s", kw) == -1)
			return -1;
	if (star && str_append_str(out, " \\*") == -1)
		return -1;
	return str_append_c(out, ')');
}
