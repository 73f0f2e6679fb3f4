/* SPDX-License-Identifier: MIT */
/*
 * fail.c - why an operation failed
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fail.h"
#include "str.h"

int
fail_set(struct fail *f, bool temp, const char *code, const char *fmt, ...)
{
	va_list	 ap;

	if (f == NULL)
		return -1;
	f->temp = temp;
	(void)str_copy(f->code, code, sizeof(f->code));
	va_start(ap, fmt);
	vsnprintf(f->text, sizeof(f->text), fmt, ap);
	va_end(ap);
	return -1;
}

void
fail_clear(struct fail *f)
{
	memset(f, 0, sizeof(*f));
}
