/*
 * events — Kubernetes-style events for workspaces, stored in etcd under
 * /klangk/events/<ns>/<name>/<hash of type, reason and message>.
 *
 * A repeated event increments its count and lastTimestamp instead of adding
 * a key.  Every event key is attached to an etcd lease with a one-hour TTL
 * (a fresh lease is taken every ten minutes), so events expire on their own
 * and a crashed controller leaves none behind for long.  Recording is best
 * effort: a failure is logged and never fails a reconcile.
 */
#ifndef KLANGK_EVENTS_H
#define KLANGK_EVENTS_H

#include "etcd.h"

#define EVENTS_TTL_S 3600

struct events;

/* etcd is borrowed (the calling worker's client).  new. */
int events_new(struct etcd *etcd, struct events **out);
void events_free(struct events *ev);

/* type: "Normal" or "Warning"; reason: CamelCase; message: free text. */
void events_record(struct events *ev, const char *ns, const char *name,
		   const char *type, const char *reason, const char *message);

#endif
