/* err — formatting helpers for struct err (see err.h). */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void err_set(struct err *e, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

void err_prefix(struct err *e, const char *fmt, ...)
{
	char pre[512], old[ERR_MSG_MAX];
	va_list ap;

	if (!e)
		return;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	/* Truncation is acceptable here: a message is for humans. */
	if (old[0]) {
		size_t n = strlen(pre);

		if (n + 2 >= sizeof(e->msg))
			n = sizeof(e->msg) - 3;
		memcpy(e->msg, pre, n);
		memcpy(e->msg + n, ": ", 2);
		n += 2;
		memcpy(e->msg + n, old, strnlen(old, sizeof(e->msg) - n - 1));
		e->msg[n + strnlen(old, sizeof(e->msg) - n - 1)] = '\0';
	} else {
		snprintf(e->msg, sizeof(e->msg), "%s", pre);
	}
}

void err_addline(struct err *e, const char *fmt, ...)
{
	size_t len;
	va_list ap;

	if (!e)
		return;
	len = strnlen(e->msg, sizeof(e->msg));
	if (len > 0 && len + 1 < sizeof(e->msg))
		e->msg[len++] = '\n';
	if (len + 1 >= sizeof(e->msg))
		return;
	va_start(ap, fmt);
	vsnprintf(e->msg + len, sizeof(e->msg) - len, fmt, ap);
	va_end(ap);
}
