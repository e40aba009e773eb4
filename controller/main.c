/*
 * klangk-controller — converges containers, volumes and port leases to the
 * Workspaces declared in etcd.
 *
 * Threads:
 *   informer  list + watch /klangk/workspaces/, feeding keys to the queue;
 *   activity  watch /klangk/activity/ (idle timeouts), and with several
 *             nodes placements  /klangk/placements/ (a workspace placed on
 *             this node by another node's controller);
 *   engine    the engine's /events stream for our containers, feeding the
 *             owners of changed containers to the queue (drift is found
 *             within a moment, not at the next resync) and marking them
 *             stale in the engine cache (ecache.h);
 *   election  leader election (only the leader reconciles);
 *   resync    every --resync-seconds (with jitter), and right after being
 *             elected: every key in etcd against the engine cache (which
 *             lists the engine only when it cannot be trusted, and every
 *             10th time), and garbage collection;
 *   workers   --workers of them, draining the queue;
 *   signals   TERM/INT request a clean stop; HUP reloads --config (build,
 *             validate, swap; a bad file keeps the old settings);
 *   main      waits for the stop request (a signal, or a thread that
 *             cannot go on), wakes and joins every thread (in-flight work
 *             finishes, leadership is resigned), frees what they shared and
 *             exits with the request's status: 0 for a signal, 1 and a log
 *             line saying why when a thread could not go on.
 */
#include "cfg.h"
#include "ecache.h"
#include "egress.h"
#include "engine.h"
#include "etcd.h"
#include "events.h"
#include "expect.h"
#include "gc.h"
#include "http.h"
#include "informer.h"
#include "keys.h"
#include "leader.h"
#include "log.h"
#include "metrics.h"
#include "placement.h"
#include "ports.h"
#include "rbac.h"
#include "scache.h"
#include "prom.h"
#include "reconcile.h"
#include "status.h"
#include "stopper.h"
#include "tnet.h"
#include "ws.h"
#include "wq.h"

#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 64

struct ctl;

/* A watch beside the workspaces' (side_watch_thread). */
struct side_watch {
	struct ctl *c;
	const char *prefix;
};

/*
 * What the threads share, owned by main: it outlives every thread (main
 * joins them all before freeing any of it).  Each lock has one purpose.
 */
struct ctl {
	struct stopper stop;        /* the stop request, with its status and reason */
	struct cfg boot;            /* the settings at start: read-only once threads
				     * run (endpoints, engine, instance, node) */
	pthread_mutex_t cfg_mu;     /* guards cfg */
	struct cfg cfg;             /* current settings; copy under cfg_mu; written
				     * by reload (the signal thread) only */
	atomic_uint cfg_gen;        /* bumped by each reload, after cfg is swapped */
	bool publish_checked;       /* KLANGK_PUBLISH=none checked against the engine
				     * at start (written before threads run) */
	const char *config_path;    /* --config, or NULL */
	struct wq *q;
	struct leader *leader;      /* NULL when election is off */
	long workers;
	long resync_s;
	pthread_mutex_t resync_mu;  /* guards resync_now and resync_force */
	pthread_cond_t resync_cv;   /* a resync request, or the stop */
	bool resync_now;
	bool resync_force;          /* next resync reconciles every workspace */
	struct metrics *metrics;
	/* The workspaces' informer: run by the informer thread (which owns
	 * its etcd client), its counters read by the metrics server. */
	struct informer inf;
	struct side_watch act_w, pl_w; /* the activity and placements watches */
	struct rbac_opts rbac;      /* etcd roles from workspaces (rbac.h) */
	struct ecache *ecache;      /* the engine's objects between resyncs */
	struct expect *expect;      /* engine events of the workers' own actions */
	struct rbac_cache *rbac_cache; /* parsed specs between role syncs */
	struct scache *scache;      /* parsed statuses between resyncs */
	struct egress *egress;      /* the workspaces' firewall (egress.h) */
};

/* "ns/name" from a spec, status, activity or placement key; 0 or -EINVAL. */
static int key_to_item(const char *key, char *item, size_t len)
{
	static const enum keys_kind kinds[] = { KEYS_SPEC, KEYS_STATUS, KEYS_ACTIVITY,
						KEYS_PLACEMENT };
	char ns[64], name[64];

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (keys_split(kinds[i], key, ns, sizeof(ns), name, sizeof(name)) == 0)
			return keys_ws(KEYS_OWNER, ns, name, item, len);
	return -EINVAL;
}

static void enqueue_key(struct ctl *c, const char *key)
{
	char item[160];

	if (key_to_item(key, item, sizeof(item)) == 0)
		wq_add(c->q, item);
	else
		log_warn("ignoring malformed key", "key", key, NULL);
}

/* A consistent copy of the settings. */
static void cfg_snapshot(struct ctl *c, struct cfg *out, unsigned *gen)
{
	pthread_mutex_lock(&c->cfg_mu);
	*out = c->cfg;
	if (gen)
		*gen = atomic_load(&c->cfg_gen);
	pthread_mutex_unlock(&c->cfg_mu);
}

static bool leading(struct ctl *c)
{
	return !c->leader || leader_is_leader(c->leader);
}

/* ---- informer ---- */

/* Any change of the workspaces may change who may write what in etcd:
 * the roles are synced through the queue (rbac.h). */
static void enqueue_rbac(struct ctl *c)
{
	if (c->rbac.enabled)
		wq_add(c->q, RBAC_QUEUE_KEY);
}

/* Wake the resync thread for a resync now (it is the one that lists). */
static void request_resync(struct ctl *c)
{
	pthread_mutex_lock(&c->resync_mu);
	c->resync_now = true;
	pthread_cond_broadcast(&c->resync_cv);
	pthread_mutex_unlock(&c->resync_mu);
}

/* A thread that cannot go on: the whole process stops, non-zero, and says
 * why (main logs the reason once the threads are joined). */
static void thread_failed(struct ctl *c, const char *what, const struct err *e)
{
	char why[512];

	snprintf(why, sizeof(why), "%.100s: %.400s", what, e->msg[0] ? e->msg : "failed");
	log_error(what, "error", e->msg, NULL);
	stopper_stop(&c->stop, 1, why);
}

static void on_list(void *ud, const struct etcd_kvs *kvs)
{
	struct ctl *c = ud;

	for (size_t i = 0; i < kvs->n; i++)
		enqueue_key(c, kvs->kvs[i].key);
	enqueue_rbac(c);
	log_info("listed workspaces", NULL);
	/* A (re)list may follow a gap in the watch: workspaces deleted in
	 * the gap are known only by their status keys, which resync lists. */
	request_resync(c);
}

static void on_events(void *ud, const struct etcd_event *ev, size_t n)
{
	for (size_t i = 0; i < n; i++)
		enqueue_key(ud, ev[i].kv.key);
}

static void on_spec_events(void *ud, const struct etcd_event *ev, size_t n)
{
	on_events(ud, ev, n);
	if (n)
		enqueue_rbac(ud);
}

static void *informer_thread(void *arg)
{
	struct ctl *c = arg;
	struct etcd_opts o = etcd_opts_env(c->boot.etcd_endpoints);
	struct err e = { "" };

	if (etcd_new(&o, &c->inf.etcd, &e) < 0) {
		thread_failed(c, "informer: cannot create etcd client", &e);
		return NULL;
	}
	informer_run(&c->inf);
	etcd_free(c->inf.etcd);
	c->inf.etcd = NULL;
	return NULL;
}

/* Watches beside the workspaces': their lists are not a reason to
 * reconcile everything (resync covers those), their changes are.
 *   activity (hosted traffic, klangkc start/exec/touch) may end an idle stop;
 *   placements: another node's controller may place a workspace here. */
static void on_side_list(void *ud, const struct etcd_kvs *kvs)
{
	(void)ud, (void)kvs;
}

static void *side_watch_thread(void *arg)
{
	struct side_watch *sw = arg;
	struct ctl *c = sw->c;
	struct etcd_opts o = etcd_opts_env(c->boot.etcd_endpoints);
	struct informer inf = { .prefix = sw->prefix, .stop = &c->stop,
				.on_list = on_side_list, .on_events = on_events,
				.ud = c };
	struct err e = { "" };

	if (etcd_new(&o, &inf.etcd, &e) < 0) {
		thread_failed(c, "watch: cannot create etcd client", &e);
		return NULL;
	}
	informer_run(&inf);
	etcd_free(inf.etcd);
	return NULL;
}

/* ---- engine events ---- */

static int on_engine_event(void *ud, const json_t *ev)
{
	struct ctl *c = ud;
	const json_t *attrs = json_object_get(json_object_get(ev, "Actor"), "Attributes");
	const char *owner = json_string_value(json_object_get(attrs, "klangk.workspace"));
	const char *action = json_string_value(json_object_get(ev, "Action"));
	char key[256];

	if (stopper_stopping(&c->stop))
		return 1;
	if (!ev) {
		/* The stream is up: from now on the cache misses nothing. */
		ecache_stream_up(c->ecache);
		return 0;
	}
	/* exec_* and the like say nothing about the container's state. */
	if (!owner || !action || strncmp(action, "exec_", 5) == 0)
		return 0;
	ecache_touch(c->ecache, owner);
	/* The echo of a worker's own create or start: that reconcile has
	 * converged the workspace already (expect.h). */
	if (expect_echo(c->expect, json_string_value(json_object_get(attrs, "name")),
			json_string_value(json_object_get(json_object_get(ev, "Actor"), "ID")),
			action)) {
		log_debug("engine event of our own action", "workspace", owner,
			  "action", action, NULL);
		metrics_engine_event(c->metrics, true);
		return 0;
	}
	log_debug("engine event", "workspace", owner, "action", action, NULL);
	metrics_engine_event(c->metrics, false);
	keys_of_owner(KEYS_SPEC, owner, key, sizeof(key));
	enqueue_key(c, key);
	return 0;
}

static void *engine_thread(void *arg)
{
	struct ctl *c = arg;
	struct engine *eng = NULL;
	struct err e = { "" };
	char label[128];
	int failures = 0;

	if (engine_new(c->boot.docker_host, &eng, &e) < 0) {
		thread_failed(c, "engine events: cannot create clients", &e);
		goto out;
	}
	snprintf(label, sizeof(label), "klangk.instance=%s", c->boot.instance_id);
	while (!stopper_stopping(&c->stop)) {
		int r = engine_events(eng, label, on_engine_event, c, &c->stop.stopping, &e);

		ecache_stream_down(c->ecache);
		if (stopper_stopping(&c->stop))
			break;
		log_warn("engine event stream broken; reconnecting", "error", e.msg, NULL);
		if (stopper_nap(&c->stop, stopper_backoff_ms(failures++, 800, 30000)))
			break;
		if (failures > 8)
			failures = 8;
		/* Events may have been missed while disconnected: the resync
		 * thread relists (the cache is invalid now). */
		if (r != -ECANCELED)
			request_resync(c);
	}
out:
	engine_free(eng);
	return NULL;
}

/*
 * KLANGK_PUBLISH=none needs a rootful engine (reconcile.c says why): asked
 * once at start, off the workers' first reconciles (Podman's /info takes
 * most of a second).  A rootless engine stops the start; one that does not
 * answer yet is left to the workers to ask.
 */
static int check_publish(struct ctl *c)
{
	struct engine *g = NULL;
	struct err e = { "" };
	bool rootless = false;
	int r = engine_new(c->cfg.docker_host, &g, &e);

	if (r == 0)
		r = engine_is_rootless(g, &rootless, &e);
	engine_free(g);
	if (r < 0) {
		log_warn("cannot ask the engine whether it is rootless yet; the workers "
			 "will", "error", e.msg, NULL);
		return 0;
	}
	if (rootless) {
		log_error("KLANGK_PUBLISH=none needs a rootful engine: a rootless engine's "
			  "container addresses are out of nginx's reach; set "
			  "KLANGK_PUBLISH=host", NULL);
		return -EOPNOTSUPP;
	}
	c->publish_checked = true;
	return 0;
}

/* ---- workers ---- */

static void *worker(void *arg)
{
	struct ctl *c = arg;
	struct etcd_opts o = etcd_opts_env(c->boot.etcd_endpoints);
	struct cfg cfg;
	struct rec x = { .cfg = &cfg, .expect = c->expect, .metrics = c->metrics, .podman = -1,
			  .egress = c->egress, .publish_checked = c->publish_checked };
	struct err e = { "" };
	unsigned gen = 0;
	char *item;

	cfg_snapshot(c, &cfg, &gen);
	if (etcd_new(&o, &x.etcd, &e) < 0 ||
	    engine_new(cfg.docker_host, &x.engine, &e) < 0 ||
	    events_new(x.etcd, &x.events) < 0) {
		thread_failed(c, "worker: cannot create clients", &e);
		goto out;
	}
	engine_set_observer(x.engine, metrics_engine_request, c->metrics);
	for (;;) {
		char ns[64], name[64];
		const char *slash;
		long requeue;
		int r;

		if (c->leader && !leader_wait(c->leader))
			break;
		if (wq_get(c->q, &item) < 0)
			break;
		if (!leading(c)) {
			/* Lost leadership meanwhile: keep the key for later. */
			wq_done(c->q, item);
			wq_add(c->q, item);
			free(item);
			continue;
		}
		if (strcmp(item, RBAC_QUEUE_KEY) == 0) {
			err_clear(&e);
			r = rbac_sync(x.etcd, &c->rbac, c->rbac_cache, NULL, &e);
			if (r < 0) {
				char ds[32];

				snprintf(ds, sizeof(ds), "%ld", wq_add_rate_limited(c->q, item));
				log_warn("etcd role sync failed; will retry", "error", e.msg,
					 "retry_ms", ds, NULL);
			} else {
				char loads[32];

				snprintf(loads, sizeof(loads), "%lu", rbac_cache_loads(c->rbac_cache));
				log_debug("etcd roles in step", "spec_loads", loads, NULL);
				wq_forget(c->q, item);
			}
			wq_done(c->q, item);
			free(item);
			continue;
		}
		slash = strchr(item, '/');
		if (!slash || (size_t)(slash - item) >= sizeof(ns) ||
		    strlen(slash + 1) >= sizeof(name)) {
			wq_done(c->q, item);
			free(item);
			continue;
		}
		memcpy(ns, item, (size_t)(slash - item));
		ns[slash - item] = '\0';
		snprintf(name, sizeof(name), "%s", slash + 1);
		if (atomic_load(&c->cfg_gen) != gen)
			cfg_snapshot(c, &cfg, &gen);
		err_clear(&e);
		{
			double t0 = prom_now();

			requeue = 0;
			r = rec_reconcile(&x, ns, name, &requeue, &e);
			metrics_reconcile(c->metrics, r == 0, prom_now() - t0);
		}
		if (r == 0 && requeue > 0)
			wq_add_after(c->q, item, requeue);
		if (r < 0) {
			long d = wq_add_rate_limited(c->q, item);
			char ds[32];

			snprintf(ds, sizeof(ds), "%ld", d);
			log_warn("reconcile error; will retry", "workspace", item,
				 "error", e.msg[0] ? e.msg : strerror(-r),
				 "retry_ms", ds, NULL);
		} else {
			wq_forget(c->q, item);
		}
		wq_done(c->q, item);
		free(item);
	}
out:
	events_free(x.events);
	etcd_free(x.etcd);
	engine_free(x.engine);
	return NULL;
}

/* ---- resync and election ---- */

/*
 * Does this converged-looking workspace need a reconcile?  From the
 * listings only: its status must describe the current generation, a
 * container with the recorded spec-hash must exist in the state the phase
 * says, and its home and work volumes must exist.  Anything else (and
 * every status without a spec) is enqueued.  cont is the engine cache's
 * entry ({"running", "hash"}, ecache.h).
 */
static bool needs_reconcile(const struct etcd_kv *spec, const json_t *st,
			    const json_t *containers, const json_t *volumes,
			    const char *owner)
{
	const json_t *cont = json_object_get(containers, owner);
	const json_t *vols = json_object_get(volumes, owner);
	const char *chash;
	struct status s;
	bool need;

	if (status_from_json(st, &s) < 0)
		return true;
	chash = json_string_value(json_object_get(cont, "hash"));
	need = !s.phase[0] || !s.spec_hash[0] || !s.has_generation ||
	       s.observed_generation != spec->version ||
	       (!status_is_phase(&s, STATUS_RUNNING) && !status_is_phase(&s, STATUS_STOPPED)) ||
	       !cont || json_integer_value(vols) != 2 || !chash ||
	       strcmp(chash, s.spec_hash) != 0 ||
	       json_is_true(json_object_get(cont, "running")) !=
		       status_is_phase(&s, STATUS_RUNNING);
	status_clear(&s);
	return need;
}

/*
 * Every workspace that needs it, from etcd's listings and the engine
 * cache (ecache.h: idle, a resync asks the engine nothing); then garbage
 * collection.  Only the resync thread calls this.
 */
static void resync(struct ctl *c, struct etcd *etcd, struct engine *eng)
{
	bool force;
	struct etcd_kvs specs = { 0 }, stats = { 0 }, leases = { 0 }, placed = { 0 };
	struct ecache_view view = { 0 };
	json_t *statuses = NULL, *foreign = json_object(), *containers, *nets = NULL;
	struct err e = { "" };
	struct gc_stats gs = { 0 };
	struct cfg cfg;
	char lease_prefix[128];
	size_t i, queued = 0, reads = 0;
	long n_leases = 0;
	double t[5] = { 0 };

	cfg_snapshot(c, &cfg, NULL);
	ports_prefix(cfg.node_name, lease_prefix, sizeof(lease_prefix));
	pthread_mutex_lock(&c->resync_mu);
	force = c->resync_force;
	c->resync_force = false;
	pthread_mutex_unlock(&c->resync_mu);
	if (!foreign)
		goto out;
	/* Owned things first, owners after: see gc.h.  A forced resync
	 * (SIGHUP) also relists the engine. */
	t[0] = prom_now();
	if (ecache_refresh(c->ecache, eng, cfg.instance_id, force, &view, &e) < 0)
		goto list_failed;
	containers = view.containers;
	/* When the engine was listed: the tenant networks, also before their
	 * owners (gc.h), and the egress table made to match them (so a table
	 * someone flushed comes back within ten resyncs); an idle resync asks
	 * the engine nothing.  A failed network listing (an engine with
	 * hundreds of networks can take longer than the timeout) costs only
	 * what needs it: with nets NULL, networks are neither collected nor
	 * the table rebuilt this time; the rest of the resync goes on. */
	if (view.listed && tnet_list(eng, cfg.instance_id, &nets, &e) < 0) {
		log_warn("resync: tenant networks not listed; their collection and "
			 "the egress table's refresh wait for the next listing",
			 "error", e.msg, NULL);
		err_clear(&e);
	}
	if (nets && cfg.iso.egress_firewall && tnet_firewall(c->egress, &cfg, nets, &e) < 0) {
		log_warn("egress firewall not applied", "error", e.msg, NULL);
		err_clear(&e);
	}
	t[1] = prom_now();
	if (etcd_list(etcd, lease_prefix, &leases, &e) < 0 ||
	    (cfg.node_name[0] && etcd_list(etcd, KEYS_PLACEMENT_PREFIX, &placed, &e) < 0) ||
	    /* Specs are the largest values (each carries its
	     * last-applied copy); resync needs only their versions. */
	    etcd_list_keys(etcd, KEYS_SPEC_PREFIX, &specs, &e) < 0 ||
	    /* Statuses: only those whose mod_revision moved are read. */
	    scache_refresh(c->scache, etcd, KEYS_STATUS_PREFIX, &stats, &statuses, &reads, &e) < 0)
		goto list_failed;
	t[2] = prom_now();
	/* Several nodes: another node's workspaces are its business (a
	 * placement listed before the specs exists for each of them). */
	for (i = 0; i < placed.n; i++) {
		const char *owner = keys_owner(KEYS_PLACEMENT, placed.kvs[i].key);

		if (strcmp(placed.kvs[i].value, cfg.node_name) != 0)
			json_object_set_new(foreign, owner, json_true());
	}
	for (i = 0; i < specs.n; i++) {
		const char *owner = keys_owner(KEYS_SPEC, specs.kvs[i].key);
		const json_t *st = json_object_get(statuses, owner);

		if (json_object_get(foreign, owner)) {
			json_object_del(statuses, owner);
			json_object_del(containers, owner);
			continue;
		}
		if (force || needs_reconcile(&specs.kvs[i], json_is_object(st) ? st : NULL,
					     containers, view.volumes, owner)) {
			enqueue_key(c, specs.kvs[i].key);
			queued++;
		}
		json_object_del(statuses, owner);
		json_object_del(containers, owner);
	}
	/* What is left has no spec: being deleted, or orphaned. */
	{
		const char *owner;
		json_t *v;
		char key[256];

		json_object_foreach(statuses, owner, v) {
			if (json_object_get(foreign, owner))
				continue;
			keys_of_owner(KEYS_STATUS, owner, key, sizeof(key));
			enqueue_key(c, key);
			json_object_del(containers, owner);
			queued++;
		}
		json_object_foreach(containers, owner, v) {
			keys_of_owner(KEYS_SPEC, owner, key, sizeof(key));
			enqueue_key(c, key);
			queued++;
		}
	}
	enqueue_rbac(c);  /* etcd users are not watched: new ones appear here */
	t[3] = prom_now();
	/* Orphaned volumes only when the engine was listed this time (gc.h
	 * needs a listing made before the specs'). */
	if (gc_run(etcd, eng, lease_prefix, &leases, view.vlist, nets,
		   cfg.iso.egress_firewall ? c->egress : NULL, cfg.instance_id, &specs, &stats,
		   &gs, &e) < 0)
		log_warn("garbage collection failed", "error", e.msg, NULL);
	for (i = 0; i < leases.n; i++)
		n_leases += ports_key_port(lease_prefix, leases.kvs[i].key) > 0;
	metrics_port_leases(c->metrics, n_leases - gs.leases);
	if (log_enabled(LOG_DEBUG)) {
		char q[32], n[32], ins[32], rd[32], ms[4][16];

		t[4] = prom_now();
		for (i = 0; i < 4; i++)
			snprintf(ms[i], sizeof(ms[i]), "%.1f", (t[i + 1] - t[i]) * 1e3);
		snprintf(q, sizeof(q), "%zu", queued);
		snprintf(n, sizeof(n), "%zu", specs.n);
		snprintf(ins, sizeof(ins), "%zu", view.inspected);
		snprintf(rd, sizeof(rd), "%zu", reads);
		/* Where a resync's time goes: the engine (a listing, or the
		 * inspection of what its events touched), etcd's listings,
		 * the comparison, garbage collection. */
		log_debug("resync", "workspaces", n, "enqueued", q,
			  "engine", view.listed ? "listed" : "cached", "inspected", ins,
			  "status_reads", rd,
			  "engine_ms", ms[0], "etcd_ms", ms[1], "compare_ms", ms[2],
			  "gc_ms", ms[3], NULL);
	}
	goto out;
list_failed:
	log_warn("resync: listing failed", "error", e.msg, NULL);
out:
	etcd_kvs_clear(&specs);
	etcd_kvs_clear(&stats);
	etcd_kvs_clear(&leases);
	etcd_kvs_clear(&placed);
	ecache_view_clear(&view);
	json_decref(foreign);
	json_decref(statuses);
	json_decref(nets);
	/* A resync parses megabytes of listings at 1,000 workspaces and frees
	 * them all; hand the pages back rather than keep the peak resident
	 * while idle. */
	malloc_trim(0);
}

/* ---- probes for /metrics and /readyz ---- */

static bool probe_leader(void *ud)
{
	return leading(ud);
}

static bool probe_ready(void *ud)
{
	struct ctl *c = ud;

	return !stopper_stopping(&c->stop) && atomic_load(&c->inf.lists) > 0;
}

static unsigned long probe_restarts(void *ud)
{
	struct ctl *c = ud;

	return atomic_load(&c->inf.watch_restarts);
}

static void on_elected(void *ud)
{
	struct ctl *c = ud;

	/* Followers ignored the world; look at all of it now. */
	ecache_invalidate(c->ecache);
	request_resync(c);
}

static void *election_thread(void *arg)
{
	struct ctl *c = arg;

	leader_run(c->leader);
	return NULL;
}

static void *resync_thread(void *arg)
{
	struct ctl *c = arg;
	struct etcd_opts o = etcd_opts_env(c->boot.etcd_endpoints);
	struct etcd *etcd = NULL;
	struct engine *eng = NULL;
	struct err e = { "" };

	if (etcd_new(&o, &etcd, &e) < 0 || engine_new(c->boot.docker_host, &eng, &e) < 0) {
		thread_failed(c, "resync: cannot create clients", &e);
		goto out;
	}
	/* Its engine requests (listings, inspections, garbage collection)
	 * count in /metrics like the workers'. */
	engine_set_observer(eng, metrics_engine_request, c->metrics);
	for (;;) {
		/* Jitter of +-10% keeps replicas and restarts from aligning. */
		long period = c->resync_s * 1000, jitter = period / 10;
		long ms = period - jitter + random() % (2 * jitter + 1);
		struct timespec ts;

		stopper_deadline(ms, &ts);
		if (leading(c))
			resync(c, etcd, eng);
		/* The stop is requested before main broadcasts resync_cv under
		 * resync_mu (stop_threads), so it is never slept through. */
		pthread_mutex_lock(&c->resync_mu);
		while (!stopper_stopping(&c->stop) && !c->resync_now &&
		       pthread_cond_timedwait(&c->resync_cv, &c->resync_mu, &ts) != ETIMEDOUT)
			;
		c->resync_now = false;
		pthread_mutex_unlock(&c->resync_mu);
		if (stopper_stopping(&c->stop))
			break;
	}
out:
	engine_free(eng);
	etcd_free(etcd);
	return NULL;
}

/* Several nodes: this node's registration rides on the leader's lease
 * (placement.h), with its capacity for placements. */
static int register_node(struct ctl *c, const struct cfg *cfg)
{
	char key[128], *rec = place_node_record(cfg->node_capacity);
	int r = -ENOMEM;

	if (rec && place_node_key(cfg->node_name, key, sizeof(key)) == 0)
		r = leader_set_record(c->leader, key, rec);
	free(rec);
	return r;
}

/* SIGHUP (in the signal thread, the only writer of cfg): build the new
 * settings, validate them, then swap. */
static void reload(void *ud)
{
	struct ctl *c = ud;
	struct cfg next;
	struct err e = { "" };

	if (!c->config_path) {
		log_warn("SIGHUP: no --config file to reload", NULL);
		return;
	}
	cfg_snapshot(c, &next, NULL);
	if (cfg_load_file(&next, c->config_path, &e) < 0) {
		log_error("configuration reload refused; keeping the old settings",
			  "error", e.msg, NULL);
		return;
	}
	/* These are bound at start: clients, names and labels use them. */
	if (strcmp(next.etcd_endpoints, c->boot.etcd_endpoints) != 0 ||
	    strcmp(next.docker_host, c->boot.docker_host) != 0 ||
	    strcmp(next.instance_id, c->boot.instance_id) != 0 ||
	    strcmp(next.node_name, c->boot.node_name) != 0) {
		log_error("configuration reload refused: etcd endpoints, engine, "
			  "instance id and node name need a restart; keeping the old "
			  "settings", NULL);
		return;
	}
	if (next.node_name[0] && next.node_capacity != c->cfg.node_capacity &&
	    register_node(c, &next) < 0) {
		log_error("configuration reload refused: out of memory", NULL);
		return;
	}
	pthread_mutex_lock(&c->cfg_mu);
	c->cfg = next;
	pthread_mutex_unlock(&c->cfg_mu);
	atomic_fetch_add(&c->cfg_gen, 1);
	/* Converge everything to the new settings: they may change every
	 * container's desired configuration, which listings cannot show. */
	pthread_mutex_lock(&c->resync_mu);
	c->resync_force = true;
	pthread_mutex_unlock(&c->resync_mu);
	request_resync(c);
	log_info("configuration reloaded", "file", c->config_path, NULL);
}

/* The threads, in order (the signal thread first, so a signal during the
 * start is taken); each that starts is joined by stop_threads, whether or
 * not the others could start. */
static int start_threads(struct ctl *c, bool elect)
{
	struct stopper *s = &c->stop;
	int r;

	c->act_w = (struct side_watch){ c, KEYS_ACTIVITY_PREFIX };
	c->pl_w = (struct side_watch){ c, KEYS_PLACEMENT_PREFIX };
	if ((r = stopper_signals(s, reload, c)) < 0 ||
	    (r = stopper_spawn(s, informer_thread, c, "informer")) < 0 ||
	    (r = stopper_spawn(s, side_watch_thread, &c->act_w, "activity")) < 0 ||
	    (c->boot.node_name[0] &&
	     (r = stopper_spawn(s, side_watch_thread, &c->pl_w, "placements")) < 0) ||
	    (r = stopper_spawn(s, engine_thread, c, "engine-events")) < 0 ||
	    (r = stopper_spawn(s, resync_thread, c, "resync")) < 0 ||
	    (elect && (r = stopper_spawn(s, election_thread, c, "election")) < 0))
		goto failed;
	for (long i = 0; i < c->workers; i++) {
		char name[32];  /* the name is cut to 15 characters */

		snprintf(name, sizeof(name), "worker-%ld", i + 1);
		if ((r = stopper_spawn(s, worker, c, name)) < 0)
			goto failed;
	}
	return 0;
failed:
	log_error("cannot start threads", "error", strerror(-r), NULL);
	return r;
}

/* After the stop request: wake what waits on a condition of its own (the
 * queue's, the resync's; the election's wakes its own waiters as it
 * ends), then join every thread: in-flight reconciles finish.  Only then
 * is leadership resigned, so that no other replica reconciles the same
 * workspaces meanwhile. */
static void stop_threads(struct ctl *c)
{
	wq_shutdown(c->q);
	pthread_mutex_lock(&c->resync_mu);
	pthread_cond_broadcast(&c->resync_cv);
	pthread_mutex_unlock(&c->resync_mu);
	stopper_join(&c->stop);
	leader_resign(c->leader);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: klangk-controller [OPTIONS]\n\n"
		"Converges containers, volumes and host port leases to the Workspaces\n"
		"stored in etcd under /klangk/workspaces/.\n\n"
		"Options (each overrides its environment variable):\n"
		"  --config FILE           NAME=value settings (the variables below); re-read on SIGHUP\n"
		"  --etcd-endpoints URLS   KLANGK_ETCD_ENDPOINTS (http://127.0.0.1:2379)\n"
		"  --docker-host URL       DOCKER_HOST (unix:///var/run/docker.sock)\n"
		"  --instance-id ID        KLANGK_INSTANCE_ID (default)\n"
		"  --port-range-start N    KLANGK_PORT_RANGE_START (9000)\n"
		"  --port-range-end N      KLANGK_PORT_RANGE_END (start + 999)\n"
		"  --node-name NAME        KLANGK_NODE_NAME: this node, when several share etcd\n"
		"                          (unset: this controller owns every workspace)\n"
		"  --node-capacity N       KLANGK_NODE_CAPACITY: workspaces placed here at most\n"
		"                          (port range size / 5)\n"
		"  --workers N             reconcile workers (4)\n"
		"  --resync-seconds N      full resync period (30)\n"
		"  --no-leader-elect       reconcile without leader election (one replica only)\n"
		"  --leader-ttl-seconds N  leader lease TTL (15)\n"
		"  --leader-identity ID    KLANGK_LEADER_IDENTITY: this replica's holder identity,\n"
		"                          kept across restarts (host name, -2... per replica)\n"
		"  --metrics-address ADDR  serve /metrics, /healthz, /readyz on ADDR\n"
		"                          (e.g. 127.0.0.1:9101; KLANGK_METRICS_ADDRESS; off)\n"
		"  --log-level LEVEL       debug|info|warn|error (info)\n"
		"  --log-json              JSON log lines instead of logfmt\n"
		"  --check                 validate the settings (flags, environment, --config) and exit\n"
		"Also read: KLANGK_NGINX_PORT, KLANGK_HOSTING_HOSTNAME, KLANGK_HOSTING_PROTO,\n"
		"KLANGK_HOSTING_BASE_PATH, KLANGK_HOSTING_DOMAIN (origin mode, docs/proxy-gen.md),\n"
		"KLANGK_PUBLISH_ADDRESS (127.0.0.1),\n"
		"KLANGK_ALLOWED_MOUNT_ROOTS, KLANGK_DATA_DIR, KLANGK_PROTECTED_PATHS,\n"
		"KLANGK_ETCD_CACERT/_CERT/_KEY, KLANGK_ETCD_USERNAME with\n"
		"KLANGK_ETCD_PASSWORD_FILE (or _PASSWORD), KLANGK_RBAC (off),\n"
		"KLANGK_RBAC_SERVICE_USERS (docs/security.md).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "etcd-endpoints", required_argument, NULL, 'e' },
		{ "docker-host", required_argument, NULL, 'd' },
		{ "instance-id", required_argument, NULL, 'i' },
		{ "port-range-start", required_argument, NULL, 's' },
		{ "port-range-end", required_argument, NULL, 'E' },
		{ "node-name", required_argument, NULL, 'n' },
		{ "node-capacity", required_argument, NULL, 'C' },
		{ "workers", required_argument, NULL, 'w' },
		{ "resync-seconds", required_argument, NULL, 'r' },
		{ "no-leader-elect", no_argument, NULL, 'N' },
		{ "leader-ttl-seconds", required_argument, NULL, 't' },
		{ "leader-identity", required_argument, NULL, 'I' },
		{ "metrics-address", required_argument, NULL, 'm' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "log-json", no_argument, NULL, 'j' },
		{ "check", no_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct ctl c = { .workers = 4, .resync_s = 30 };
	enum log_level lvl = LOG_INFO;
	bool elect = true, bad = false, check = false;
	const char *metrics_addr = getenv("KLANGK_METRICS_ADDRESS");
	const char *identity = getenv("KLANGK_LEADER_IDENTITY");
	long ttl = 15;
	pthread_condattr_t mono;
	sigset_t sigs;
	char why[512];
	struct err e = { "" };
	int opt, json = 0, ret = 1;

	/* glibc gives each thread that allocates an arena of its own, and an
	 * arena keeps what its thread freed; a dozen mostly idle threads
	 * each holding a resync's or a reconcile's peak is most of an idle
	 * controller's RSS.  Two arenas are plenty for our contention. */
	mallopt(M_ARENA_MAX, 2);
	if (cfg_from_env(&c.cfg, &e) < 0) {
		fprintf(stderr, "klangk-controller: %s\n", e.msg);
		return 2;
	}
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			c.config_path = optarg;
			break;
		case 'e':
			bad = cfg_copy(c.cfg.etcd_endpoints, sizeof(c.cfg.etcd_endpoints), optarg) < 0;
			break;
		case 'd':
			bad = cfg_copy(c.cfg.docker_host, sizeof(c.cfg.docker_host), optarg) < 0;
			break;
		case 'i':
			bad = cfg_copy(c.cfg.instance_id, sizeof(c.cfg.instance_id), optarg) < 0;
			break;
		case 's':
			bad = cfg_parse_long(optarg, 1024, 65535, &c.cfg.port_range_start) < 0;
			break;
		case 'E':
			bad = cfg_parse_long(optarg, 1024, 65535, &c.cfg.port_range_end) < 0;
			break;
		case 'n':
			bad = cfg_copy(c.cfg.node_name, sizeof(c.cfg.node_name), optarg) < 0;
			break;
		case 'C':
			bad = cfg_parse_long(optarg, 1, 1000000, &c.cfg.node_capacity) < 0;
			break;
		case 'w':
			bad = cfg_parse_long(optarg, 1, MAX_WORKERS, &c.workers) < 0;
			break;
		case 'r':
			bad = cfg_parse_long(optarg, 1, 86400, &c.resync_s) < 0;
			break;
		case 'N':
			elect = false;
			break;
		case 'm':
			metrics_addr = optarg;
			break;
		case 't':
			bad = cfg_parse_long(optarg, 3, 3600, &ttl) < 0;
			break;
		case 'I':
			identity = optarg;
			break;
		case 'l':
			bad = log_parse_level(optarg, &lvl) < 0;
			break;
		case 'j':
			json = 1;
			break;
		case 'K':
			check = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		if (bad) {
			fprintf(stderr, "klangk-controller: bad value \"%s\" for %s\n",
				optarg, argv[optind - 1]);
			return 2;
		}
	}
	if (c.config_path && cfg_load_file(&c.cfg, c.config_path, &e) < 0) {
		fprintf(stderr, "klangk-controller: %s\n", e.msg);
		return 2;
	}
	if (cfg_check(&c.cfg, &e) < 0) {
		fprintf(stderr, "klangk-controller: %s\n", e.msg);
		return 2;
	}
	if (c.cfg.node_name[0] && !elect) {
		fprintf(stderr, "klangk-controller: --node-name needs leader election (the "
				"node's registration lives on the leader's lease)\n");
		return 2;
	}
	if (check) {
		printf("klangk-controller: settings are valid\n");
		return 0;
	}
	log_setup(lvl, json);
	rbac_opts_env(&c.rbac);
	if (!c.cfg.allowed_mount_roots[0])
		log_warn("KLANGK_ALLOWED_MOUNT_ROOTS is not set: workspaces may bind-mount "
			 "any host path that is not protected (docs/security.md)", NULL);
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	if (http_global_init() < 0) {
		log_error("cannot initialise libcurl", NULL);
		return 1;
	}
	if (c.cfg.publish_none && check_publish(&c) < 0)
		return 2;
	/* Signals are blocked in every thread (the metrics server's included)
	 * and taken by the signal thread. */
	stopper_block_signals(&sigs);
	c.boot = c.cfg;
	/* The resync thread's deadlines are CLOCK_MONOTONIC (stopper_deadline). */
	pthread_condattr_init(&mono);
	pthread_condattr_setclock(&mono, CLOCK_MONOTONIC);
	if (stopper_init(&c.stop) < 0 || pthread_mutex_init(&c.cfg_mu, NULL) != 0 ||
	    pthread_mutex_init(&c.resync_mu, NULL) != 0 ||
	    pthread_cond_init(&c.resync_cv, &mono) != 0)
		return 1;
	pthread_condattr_destroy(&mono);
	c.inf = (struct informer){ .prefix = KEYS_SPEC_PREFIX, .stop = &c.stop,
				   .on_list = on_list, .on_events = on_spec_events,
				   .ud = &c };
	if (wq_new(200, 60000, &c.q) < 0 || ecache_new(&c.ecache) < 0 ||
	    rbac_cache_new(&c.rbac_cache) < 0 || scache_new(&c.scache) < 0 ||
	    expect_new(&c.expect) < 0 || egress_new(c.boot.instance_id, &c.egress, &e) < 0)
		goto out;
	{
		struct metrics_probe probe = { .queue = c.q, .is_leader = probe_leader,
					       .is_ready = probe_ready,
					       .watch_restarts = probe_restarts, .ud = &c };

		if (metrics_start(metrics_addr, &probe, &c.metrics, &e) < 0) {
			log_error("cannot serve metrics", "address", metrics_addr, "error",
				  e.msg, NULL);
			ret = 2;
			goto out;
		}
	}
	if (elect) {
		struct etcd_opts o = etcd_opts_env(c.boot.etcd_endpoints);

		if (leader_new(&o, c.boot.instance_id, c.boot.node_name, identity, ttl,
			       &c.stop, &c.leader, &e) < 0) {
			log_error("bad configuration", "error", e.msg, NULL);
			ret = 2;
			goto out;
		}
		leader_on_elected(c.leader, on_elected, &c);
		if (c.boot.node_name[0] && register_node(&c, &c.boot) < 0)
			goto out;
	}
	{
		char ports[64], wk[16];

		snprintf(ports, sizeof(ports), "%ld-%ld", c.boot.port_range_start,
			 c.boot.port_range_end);
		snprintf(wk, sizeof(wk), "%ld", c.workers);
		log_info("klangk-controller starting", "instance", c.boot.instance_id,
			 "node", c.boot.node_name[0] ? c.boot.node_name : "(single)",
			 "etcd", c.boot.etcd_endpoints, "engine", c.boot.docker_host,
			 "ports", ports, "workers", wk, "leader_election",
			 elect ? "on" : "off", NULL);
	}
	if (start_threads(&c, elect) < 0)
		stopper_stop(&c.stop, 1, "cannot start threads");
	ret = stopper_wait(&c.stop, why, sizeof(why));
	stop_threads(&c);
	if (ret == 0)
		log_info("stopped", "reason", why, NULL);
	else
		log_error("stopped: cannot go on", "reason", why, NULL);
out:
	/* Every thread is joined: nothing below is in use. */
	metrics_stop(c.metrics);
	leader_free(c.leader);
	wq_free(c.q);
	ecache_free(c.ecache);
	egress_free(c.egress);
	expect_free(c.expect);
	rbac_cache_free(c.rbac_cache);
	scache_free(c.scache);
	pthread_cond_destroy(&c.resync_cv);
	pthread_mutex_destroy(&c.resync_mu);
	pthread_mutex_destroy(&c.cfg_mu);
	stopper_destroy(&c.stop);
	return ret;
}
