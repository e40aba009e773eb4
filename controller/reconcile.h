/*
 * reconcile — converge one workspace: read its desired object and status
 * from etcd and the engine's containers and volumes, and make the world
 * match.  Level-triggered and idempotent: every step can be re-run after a
 * crash at any instant, and re-running it on a converged workspace writes
 * nothing.
 */
#ifndef KLANGK_RECONCILE_H
#define KLANGK_RECONCILE_H

#include "cfg.h"
#include "engine.h"
#include "err.h"
#include "etcd.h"
#include "events.h"

struct egress;
struct events;
struct expect;
struct metrics;

struct rec {
	struct etcd *etcd;        /* borrowed; this worker's client */
	struct engine *engine;    /* borrowed; this worker's client */
	const struct cfg *cfg;    /* borrowed */
	struct events *events;    /* borrowed; may be NULL */
	struct expect *expect;    /* borrowed; may be NULL: the engine events
				   * of our own actions (expect.h) */
	struct metrics *metrics;  /* borrowed; may be NULL */
	int podman;               /* the engine is Podman: 1, dockerd: 0,
				   * -1 until asked (once, by rec_reconcile) */
	struct egress *egress;    /* borrowed; may be NULL: the firewall
				   * (egress.h), used when cfg says so */
	bool publish_checked;     /* KLANGK_PUBLISH=none was checked against
				   * the engine (rootless refused), once */
};

/* Marks a home/work volume kept by reclaimPolicy Retain (value: owner), so
 * garbage collection leaves it alone. */
#define REC_RESTARTED_ANNOTATION "klangk.io/restartedAt"

/*
 * Reconcile the workspace ns/name.  0 when converged (or when nothing can be
 * done until the object changes, e.g. it is invalid); a negative errno when
 * a step failed and should be retried with backoff (reason in e).
 * *requeue_ms (set on success) is > 0 when the workspace wants another look
 * after that long even if nothing changes: its idle deadline.
 */
int rec_reconcile(struct rec *x, const char *ns, const char *name,
		  long *requeue_ms, struct err *e);

#endif
