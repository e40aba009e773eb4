/*
 * activity — hosted traffic counts as workspace activity.
 *
 * nginx sends one syslog datagram per request to a hosted location
 * ("<PRI>TIMESTAMP klangk: <workspace id>", see pgen.c) to the unix socket
 * DIR/access.sock, which this module owns.  Each line's id is mapped to its
 * workspace ("<ns>/<name>") by a lookup the caller provides (proxy-gen's
 * status cache), and the time of the latest request is recorded in etcd as
 *
 *     /klangk/activity/<ns>/<name> = "2025-01-31T12:34:56Z"   (RFC 3339, UTC)
 *
 * at most once per interval (30 s) per workspace: the first request after a
 * quiet interval is written at once, later ones are coalesced and written
 * when the interval has passed.  A write is a transaction conditional on the
 * workspace's status key existing, so nothing is recorded for a workspace
 * whose deletion has finished.  Datagrams are dropped when the socket's
 * queue is full (nginx never blocks on it); one line per interval is all
 * that matters.
 *
 * The coalescer (act_coal_*) is pure and takes the clock as arguments, for
 * unit tests.
 */
#ifndef KLANGK_ACTIVITY_H
#define KLANGK_ACTIVITY_H

#include "err.h"
#include "etcd.h"
#include "keys.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Keys are "<ns>/<name>"; lib/keys.h makes the etcd key of each. */
#define ACTIVITY_KEY_MAX 160   /* "<ns>/<name>" */

/* ---- parsing ---- */

/* The workspace id of one datagram from nginx (tag PGEN_ACCESS_TAG), into
 * id (at least 33 bytes).  -EINVAL for anything else. */
int activity_parse(const char *msg, size_t len, char *id, size_t idlen);

/* ---- the coalescer ---- */

struct act_coal;

struct act_due {
	char key[ACTIVITY_KEY_MAX];  /* "<ns>/<name>" */
	time_t when;                 /* wall time of the latest request */
};

/* new: free with act_coal_free. */
int act_coal_new(long interval_ms, struct act_coal **out);
void act_coal_free(struct act_coal *c);
/* A request for workspace key at (monotonic) now_ms, wall time `when`. */
int act_coal_seen(struct act_coal *c, const char *key, long long now_ms, time_t when);
/* Up to max entries that are due at now_ms, into out; they count as
 * written at now_ms.  Returns how many. */
size_t act_coal_due(struct act_coal *c, long long now_ms, struct act_due *out,
		    size_t max);
/* Put back entries whose write failed (retried after the interval). */
void act_coal_retry(struct act_coal *c, const struct act_due *d, size_t n,
		    long long now_ms);
/* The earliest time something becomes due, or -1 when nothing is pending. */
long long act_coal_next(const struct act_coal *c);

/* ---- the receiver ---- */

/* id -> "<ns>/<name>" into key; 0, or -ENOENT for an unknown id. */
typedef int (*activity_lookup_fn)(void *ud, const char *id, char *key, size_t keylen);

struct activity_stats {
	unsigned long lines;        /* datagrams received */
	unsigned long unknown;      /* ... for no known workspace, or malformed */
	unsigned long writes;       /* activity keys written */
	unsigned long write_errors; /* failed writes (retried) */
};

struct activity;

/*
 * Bind the socket at sock_path (replacing a stale one, mode 0666 so that
 * nginx's unprivileged workers can send).  etcd is borrowed and used only by
 * activity_run's thread.  new: free with activity_free.
 */
int activity_new(const char *sock_path, long interval_ms, struct etcd *etcd,
		 activity_lookup_fn lookup, void *ud, struct activity **out,
		 struct err *e);
/* The thread body: receive, coalesce, write, until activity_stop. */
void activity_run(struct activity *a);
void activity_stop(struct activity *a);
/* A consistent copy of the counters (any thread). */
void activity_stats(struct activity *a, struct activity_stats *out);
/* Close and unlink the socket; accepts NULL. */
void activity_free(struct activity *a);

#endif
