/* SPDX-License-Identifier: MIT */
/*
 * session_id.c - ids for the sessions of a network daemon
 */
#include <time.h>

#include "log.h"
#include "session_id.h"
#include "str.h"

void
session_id_new(char *buf, size_t size)
{
	static unsigned int	 counter;

	BUZ_ASSERT(buf != NULL && size >= SESSION_ID_SIZE);
	if (!str_printf(buf, size, "%06lx%04x",
	    (unsigned long)time(NULL) & 0xffffffUL, ++counter & 0xffffu))
		panic("session id: truncated");
}
