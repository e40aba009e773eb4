/*
 * err — the human-readable reason that travels beside a negative errno.
 *
 * Library functions return 0 or -errno; when they fail they may also fill a
 * caller-provided struct err with a sentence saying why.  Only the top layer
 * (a CLI verb, a daemon's main loop) prints or logs it.  Every function here
 * accepts a NULL struct err, in which case the reason is dropped.
 */
#ifndef KLANGK_ERR_H
#define KLANGK_ERR_H

#include <stddef.h>

#define ERR_MSG_MAX 4096

struct err {
	char msg[ERR_MSG_MAX];
};

/* Replace the message. */
void err_set(struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Put "<prefix>: " in front of the current message (context as the error
 * travels up: "ws.yaml[1]: " + "spec.image: must be ..."). */
void err_prefix(struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Append a line ("\n" separated) — used by validators that report every
 * problem of a document, not just the first. */
void err_addline(struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static inline void err_clear(struct err *e)
{
	if (e)
		e->msg[0] = '\0';
}

#endif
