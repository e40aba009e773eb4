/*
 * metrics — the controller's Prometheus metrics and its /metrics, /healthz
 * and /readyz endpoints (lib/prom.c, lib/httpd.c).
 *
 * /healthz answers 200 while the process serves; /readyz answers 200 once
 * the informer has listed the workspaces (and 503 before, or while the
 * process is stopping), so an orchestrator can tell a replica that has not
 * yet seen the world.
 */
#ifndef KLANGK_METRICS_H
#define KLANGK_METRICS_H

#include "err.h"

#include <stdbool.h>

struct wq;

struct metrics;

/* Callbacks read at scrape time. */
struct metrics_probe {
	struct wq *queue;                 /* depth */
	bool (*is_leader)(void *ud);
	bool (*is_ready)(void *ud);
	unsigned long (*watch_restarts)(void *ud);
	void *ud;
};

/* Start serving on addr ("127.0.0.1:9101"); addr NULL or "" registers the
 * metrics without serving them.  new. */
int metrics_start(const char *addr, const struct metrics_probe *probe,
		  struct metrics **out, struct err *e);
void metrics_stop(struct metrics *m);

void metrics_reconcile(struct metrics *m, bool ok, double seconds);
/* An engine event about a workspace's container; own: the echo of the
 * controller's own action (expect.h), which wakes no reconcile. */
void metrics_engine_event(struct metrics *m, bool own);
/* A restart of a container that exited on its own was scheduled; reason
 * "OOMKilled" or "ContainerExited" (crashloop.h). */
void metrics_container_restart(struct metrics *m, const char *reason);
void metrics_port_leases(struct metrics *m, long n);
/* An engine_observer_fn (lib/engine.h) with m as ud. */
void metrics_engine_request(void *m, const char *method, const char *path, long status,
			    double seconds);

#endif
