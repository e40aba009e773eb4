/* log — logfmt / JSON log lines to stderr (see log.h). */
#include "log.h"

#include "buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level log_min = LOG_INFO;
static int log_json;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void log_setup(enum log_level min, int json)
{
	log_min = min;
	log_json = json;
}

int log_parse_level(const char *s, enum log_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* Append a value, quoted if logfmt needs it (or always for JSON). */
static void put_value(struct buf *b, const char *v)
{
	int quote = log_json || *v == '\0';

	for (const char *p = v; !quote && *p; p++)
		if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f)
			quote = 1;
	if (!quote) {
		buf_puts(b, v);
		return;
	}
	buf_puts(b, "\"");
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == '"' || *p == '\\')
			buf_printf(b, "\\%c", *p);
		else if (*p == '\n')
			buf_puts(b, "\\n");
		else if (*p == '\t')
			buf_puts(b, "\\t");
		else if (*p < 0x20 || *p == 0x7f)
			buf_printf(b, "\\u%04x", *p);
		else
			buf_append(b, p, 1);
	}
	buf_puts(b, "\"");
}

static void put_pair(struct buf *b, const char *k, const char *v, int first)
{
	if (log_json) {
		buf_puts(b, first ? "{" : ",");
		put_value(b, k);
		buf_puts(b, ":");
	} else {
		if (!first)
			buf_puts(b, " ");
		buf_puts(b, k);
		buf_puts(b, "=");
	}
	put_value(b, v ? v : "");
}

int log_enabled(enum log_level lvl)
{
	return lvl >= log_min;
}

void log_emit(enum log_level lvl, const char *msg, ...)
{
	char ts[64];
	struct timespec now;
	struct tm tm;
	struct buf b;
	va_list ap;
	const char *k;
	ssize_t w;

	if (lvl < log_min)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000);
	buf_init(&b, 64 * 1024);
	put_pair(&b, "ts", ts, 1);
	put_pair(&b, "level", level_names[lvl], 0);
	put_pair(&b, "msg", msg, 0);
	va_start(ap, msg);
	while ((k = va_arg(ap, const char *)) != NULL) {
		const char *v = va_arg(ap, const char *);
		put_pair(&b, k, v, 0);
	}
	va_end(ap);
	buf_puts(&b, log_json ? "}\n" : "\n");
	if (b.data) {
		w = write(STDERR_FILENO, b.data, b.len);
		(void)w;
	}
	buf_free(&b);
}
