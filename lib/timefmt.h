/*
 * timefmt — the one time format shared by the binaries: RFC 3339 in UTC,
 * "2025-01-31T12:34:56Z".
 *
 * Conditions' lastTransitionTime, status.lastActivity and idleSince, the
 * activity keys (written by proxy-gen and klangkc, read by the controller)
 * and events' timestamps are all written by timefmt_emit and read by
 * timefmt_parse, so a writer and a reader can never disagree on the format.
 */
#ifndef KLANGK_TIMEFMT_H
#define KLANGK_TIMEFMT_H

#include <stddef.h>
#include <time.h>

/* Room for what timefmt_emit writes, with its NUL. */
#define TIMEFMT_MAX 32

/* t as "YYYY-MM-DDThh:mm:ssZ" into buf; -ENAMETOOLONG if len is too small,
 * -EINVAL if t cannot be broken down. */
int timefmt_emit(time_t t, char *buf, size_t len);

/* The current time, as timefmt_emit writes it. */
int timefmt_now(char *buf, size_t len);

/*
 * Read an RFC 3339 timestamp: "YYYY-MM-DDThh:mm:ss", optional fraction
 * (dropped: one-second resolution), then "Z" or a "+hh:mm"/"-hh:mm"
 * offset.  The engines' timestamps (nanoseconds, "Z") read too.  *out gets
 * seconds since the epoch; -EINVAL for anything else (NULL included).
 */
int timefmt_parse(const char *s, time_t *out);

#endif
