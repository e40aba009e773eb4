/*
 * buf — a growable byte buffer with a hard size limit.
 *
 * Every input we read (HTTP bodies, files, YAML documents) goes through a
 * buf so that its size is bounded: an append past `max` fails with -E2BIG
 * instead of growing without end.  The data is always NUL-terminated so it
 * can be handed to string functions; `len` does not count the NUL.
 */
#ifndef KLANGK_BUF_H
#define KLANGK_BUF_H

#include <stddef.h>

struct buf {
	char *data;   /* owned; NULL until the first append */
	size_t len;
	size_t cap;
	size_t max;   /* 0 means the default limit, BUF_DEFAULT_MAX */
};

#define BUF_DEFAULT_MAX (64u * 1024 * 1024)

/* Initialise an empty buffer limited to `max` bytes (0 = default). */
void buf_init(struct buf *b, size_t max);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Hand the data over to the caller (new, free() it) and reset the buf. */
char *buf_steal(struct buf *b);
void buf_reset(struct buf *b);
/* Free the data; accepts NULL. */
void buf_free(struct buf *b);

#endif
