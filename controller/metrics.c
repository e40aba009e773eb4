/* metrics — controller metrics and health endpoints (see metrics.h). */
#include "metrics.h"

#include "httpd.h"
#include "log.h"
#include "prom.h"
#include "wq.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

struct metrics {
	struct prom *reg;
	struct prom_metric *reconciles, *duration, *depth, *restarts, *engine, *events,
		*leases, *leader, *crashes;
	struct metrics_probe probe;
	struct httpd *http;
};

static const double duration_buckets[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
					    0.5, 1, 2.5, 5, 10 };
static const double engine_buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
					  0.1, 0.25, 0.5, 1, 2.5, 10 };

static int serve_metrics(void *ud, struct buf *body, int *status)
{
	struct metrics *m = ud;

	(void)status;
	/* Values that live elsewhere are read now. */
	if (m->probe.queue)
		prom_set(m->depth, "", (double)wq_len(m->probe.queue));
	if (m->probe.watch_restarts)
		prom_set(m->restarts, "", (double)m->probe.watch_restarts(m->probe.ud));
	if (m->probe.is_leader)
		prom_set(m->leader, "", m->probe.is_leader(m->probe.ud) ? 1 : 0);
	return prom_render(m->reg, body);
}

static int serve_healthz(void *ud, struct buf *body, int *status)
{
	(void)ud;
	*status = 200;
	return buf_puts(body, "ok\n");
}

static int serve_readyz(void *ud, struct buf *body, int *status)
{
	struct metrics *m = ud;
	bool ready = !m->probe.is_ready || m->probe.is_ready(m->probe.ud);

	*status = ready ? 200 : 503;
	return buf_puts(body, ready ? "ready\n" : "not ready: workspaces not listed yet\n");
}

int metrics_start(const char *addr, const struct metrics_probe *probe,
		  struct metrics **out, struct err *e)
{
	struct metrics *m = calloc(1, sizeof(*m));
	int r;

	if (!m)
		return -ENOMEM;
	m->probe = *probe;
	r = prom_new(&m->reg);
	if (r < 0)
		goto fail;
	m->reconciles = prom_register(m->reg, "klangk_reconcile_total",
				      "Reconciles by result.", PROM_COUNTER, "result",
				      NULL, 0);
	m->duration = prom_register(m->reg, "klangk_reconcile_duration_seconds",
				    "Time one reconcile took.", PROM_HISTOGRAM, NULL,
				    duration_buckets, 11);
	m->depth = prom_register(m->reg, "klangk_workqueue_depth",
				 "Workspaces waiting in the work queue.", PROM_GAUGE,
				 NULL, NULL, 0);
	m->restarts = prom_register(m->reg, "klangk_watch_restarts_total",
				    "Times the etcd watch was re-established.",
				    PROM_COUNTER, NULL, NULL, 0);
	m->engine = prom_register(m->reg, "klangk_engine_request_duration_seconds",
				  "Container engine API request latency.",
				  PROM_HISTOGRAM, "method", engine_buckets, 12);
	m->leases = prom_register(m->reg, "klangk_port_leases",
				  "Host port leases in use (at the last resync).",
				  PROM_GAUGE, NULL, NULL, 0);
	m->leader = prom_register(m->reg, "klangk_leader",
				  "1 when this replica is the leader.", PROM_GAUGE,
				  NULL, NULL, 0);
	m->events = prom_register(m->reg, "klangk_engine_events_total",
				  "Engine events about workspaces' containers: \"own\" "
				  "ones echo the controller's own create or start and "
				  "wake nothing, \"other\" ones wake a reconcile.",
				  PROM_COUNTER, "source", NULL, 0);
	m->crashes = prom_register(m->reg, "klangk_container_restarts_total",
				   "Restarts of workspace containers that exited on "
				   "their own, by reason (OOMKilled, ContainerExited), "
				   "counted when the restart is scheduled.",
				   PROM_COUNTER, "reason", NULL, 0);
	if (!m->crashes || !m->reconciles || !m->duration || !m->depth || !m->restarts ||
	    !m->engine || !m->leases || !m->leader || !m->events) {
		r = -ENOMEM;
		goto fail;
	}
	/* Zero series exist from the start, so rate() has a baseline. */
	prom_add(m->reconciles, "success", 0);
	prom_add(m->reconciles, "error", 0);
	prom_add(m->events, "own", 0);
	prom_add(m->events, "other", 0);
	prom_add(m->crashes, "OOMKilled", 0);
	prom_add(m->crashes, "ContainerExited", 0);
	if (addr && *addr) {
		const struct httpd_route routes[] = {
			{ "/metrics", "text/plain; version=0.0.4", serve_metrics, m },
			{ "/healthz", NULL, serve_healthz, m },
			{ "/readyz", NULL, serve_readyz, m },
		};

		r = httpd_start(addr, routes, 3, &m->http, e);
		if (r < 0)
			goto fail;
	}
	*out = m;
	return 0;
fail:
	metrics_stop(m);
	return r;
}

void metrics_stop(struct metrics *m)
{
	if (!m)
		return;
	httpd_stop(m->http);
	prom_free(m->reg);
	free(m);
}

void metrics_reconcile(struct metrics *m, bool ok, double seconds)
{
	if (!m)
		return;
	prom_add(m->reconciles, ok ? "success" : "error", 1);
	prom_observe(m->duration, "", seconds);
}

void metrics_engine_event(struct metrics *m, bool own)
{
	if (m)
		prom_add(m->events, own ? "own" : "other", 1);
}

void metrics_container_restart(struct metrics *m, const char *reason)
{
	if (m)
		prom_add(m->crashes, reason, 1);
}

void metrics_port_leases(struct metrics *m, long n)
{
	if (m)
		prom_set(m->leases, "", (double)n);
}

void metrics_engine_request(void *ud, const char *method, const char *path,
			    long status, double seconds)
{
	struct metrics *m = ud;

	/* Every engine call at debug level: where a reconcile's time goes. */
	if (log_enabled(LOG_DEBUG)) {
		char st[16], ms[32];

		snprintf(st, sizeof(st), "%ld", status);
		snprintf(ms, sizeof(ms), "%.1f", seconds * 1000);
		log_debug("engine request", "method", method, "path", path, "status", st,
			  "ms", ms, NULL);
	}
	if (m)
		prom_observe(m->engine, method, seconds);
}
