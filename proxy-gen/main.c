/*
 * klangk-proxy-gen — keeps nginx routing /hosted/<id>/<port>/ to the
 * running workspaces, and records their hosted traffic as activity.
 *
 * Threads:
 *   watcher     informer on /klangk/status/: a cache of every status object
 *               (list, then watch; relist when compacted and periodically);
 *               each change marks the cache dirty;
 *   apply       debounces (a quiet window, a cap on the total delay, and a
 *               minimum interval between reloads), renders, skips a render
 *               identical to the one serving (also across restarts: the
 *               live file's generation is compared), and runs the apply
 *               pipeline (nginx.c); every --resync-seconds it renders again
 *               and checks that nginx serves the result; when it ends, it
 *               stops the nginx it supervises;
 *   activity    receives nginx's per-request lines and writes
 *               /klangk/activity/<ns>/<name> (activity.c);
 *   supervisor  with --supervise only: restarts nginx when it dies;
 *   signals     SIGTERM/SIGINT request a clean stop, SIGHUP re-applies;
 *   main        waits for the stop request (a signal, or a thread that
 *               cannot go on), wakes and joins every thread, frees what they
 *               shared and exits with the request's status: 0 for a signal,
 *               1 and a log line saying why when a thread could not go on.
 * libmicrohttpd's thread serves /metrics, /healthz and /readyz when
 * --metrics-address is set.
 */
#include "activity.h"
#include "cfg.h"
#include "etcd.h"
#include "http.h"
#include "httpd.h"
#include "informer.h"
#include "keys.h"
#include "log.h"
#include "nginx.h"
#include "pgen.h"
#include "prom.h"
#include "status.h"
#include "stopper.h"
#include "ws.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Upper bounds (seconds) of the apply-duration histogram. */
static const double apply_buckets[] = { 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };

static const char *const stage_names[] = {
	[NGX_STAGE_NONE] = "none",       [NGX_STAGE_WRITE] = "write",
	[NGX_STAGE_VALIDATE] = "validate", [NGX_STAGE_SWAP] = "swap",
	[NGX_STAGE_RELOAD] = "reload",   [NGX_STAGE_CONFIRM] = "confirm",
};
#define NSTAGES (sizeof(stage_names) / sizeof(stage_names[0]))

/* The /metrics registry (lib/prom: each metric locks itself). */
struct metrics {
	struct prom *prom;
	struct prom_metric *routes, *invalid_status, *renders, *render_failures,
		*unchanged, *reloads, *apply_failures, *apply_duration, *last_success,
		*nginx_starts, *nginx_deaths, *act_lines, *act_unknown, *act_writes,
		*act_write_errors;
};

struct pg {
	struct cfg cfg;
	struct pgen_opts opts;
	struct ngx ngx;
	char dir[PATH_MAX];
	long debounce_ms, max_delay_ms, min_interval_ms, resync_s, activity_s;
	const char *metrics_addr;
	struct stopper stop;  /* the stop request, with its status and reason */
	/* cache_mu guards the caches and the dirty state; cache_cv wakes the
	 * apply thread for a change, and for the stop (main broadcasts it
	 * after the request, stop_threads). */
	pthread_mutex_t cache_mu;
	pthread_cond_t cache_cv;
	json_t *cache;        /* status key -> status object */
	json_t *ids;          /* workspace id -> "<ns>/<name>" (not Terminating) */
	bool dirty, verify;
	bool applying; /* a rendering taken from the cache is being applied */
	long long first_dirty, last_dirty;
	bool synced;          /* first list done */
	char last_gen[33];    /* generation known to be serving (main thread) */
	struct activity *act;
	struct metrics m;
	pthread_mutex_t gen_mu;
	char serving_gen[33]; /* generation confirmed serving, for /readyz */
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void mark_dirty_locked(struct pg *p)
{
	long long now = now_ms();

	if (!p->dirty)
		p->first_dirty = now;
	p->dirty = true;
	p->last_dirty = now;
	pthread_cond_broadcast(&p->cache_cv);
}

/* A status object (new), or NULL when it is not one or, with several
 * nodes (KLANGK_NODE_NAME), when its workspace is on another node: its
 * ports are published there, and that node's nginx routes it. */
static json_t *parse_status(const struct pg *p, const struct etcd_kv *kv)
{
	struct status st;
	json_t *j = NULL;

	if (status_parse(kv->value, kv->value_len, &st, NULL) < 0)
		return NULL;
	if (!p->cfg.node_name[0] || strcmp(st.node_name, p->cfg.node_name) == 0)
		j = status_to_json(&st);
	status_clear(&st);
	return j;
}

/* ids: forget the id of the status at key (before it changes). */
static void unindex_locked(struct pg *p, const char *key)
{
	struct status old;
	const char *owner, *mine = keys_owner(KEYS_STATUS, key);

	if (status_from_json(json_object_get(p->cache, key), &old) < 0)
		return;
	owner = json_string_value(json_object_get(p->ids, old.id));
	if (owner && mine && strcmp(owner, mine) == 0)
		json_object_del(p->ids, old.id);
	status_clear(&old);
}

/* ids: remember the id of status st at key, unless it is being deleted. */
static void index_locked(struct pg *p, const char *key, json_t *st)
{
	struct status s;
	char ns[64], name[64];

	if (status_from_json(st, &s) < 0)
		return;
	if (ws_is_id(s.id) && !status_is_phase(&s, STATUS_TERMINATING) &&
	    keys_split(KEYS_STATUS, key, ns, sizeof(ns), name, sizeof(name)) == 0)
		json_object_set_new(p->ids, s.id, json_string(keys_owner(KEYS_STATUS, key)));
	status_clear(&s);
}

static void on_list(void *ud, const struct etcd_kvs *kvs)
{
	struct pg *p = ud;
	json_t *fresh = json_object(), *ids = json_object();

	if (!fresh || !ids) {
		json_decref(fresh);
		json_decref(ids);
		return;
	}
	pthread_mutex_lock(&p->cache_mu);
	json_decref(p->cache);
	json_decref(p->ids);
	p->cache = fresh;
	p->ids = ids;
	for (size_t i = 0; i < kvs->n; i++) {
		json_t *st = parse_status(p, &kvs->kvs[i]);

		if (!st)
			continue;
		index_locked(p, kvs->kvs[i].key, st);
		json_object_set_new(fresh, kvs->kvs[i].key, st);
	}
	p->synced = true;
	/* A relist also checks that nginx still serves what we applied. */
	p->verify = true;
	mark_dirty_locked(p);
	pthread_mutex_unlock(&p->cache_mu);
}

static void on_events(void *ud, const struct etcd_event *ev, size_t n)
{
	struct pg *p = ud;

	pthread_mutex_lock(&p->cache_mu);
	for (size_t i = 0; i < n; i++) {
		json_t *st = ev[i].type == ETCD_DELETE ? NULL : parse_status(p, &ev[i].kv);

		unindex_locked(p, ev[i].kv.key);
		if (st) {
			index_locked(p, ev[i].kv.key, st);
			json_object_set_new(p->cache, ev[i].kv.key, st);
		} else {
			json_object_del(p->cache, ev[i].kv.key);
		}
	}
	mark_dirty_locked(p);
	pthread_mutex_unlock(&p->cache_mu);
}

static struct etcd *new_etcd(struct pg *p)
{
	struct etcd_opts o = etcd_opts_env(p->cfg.etcd_endpoints);
	struct etcd *c = NULL;
	struct err e = { "" };

	if (etcd_new(&o, &c, &e) < 0) {
		log_error("cannot create etcd client", "error", e.msg, NULL);
		return NULL;
	}
	return c;
}

static void *watcher(void *arg)
{
	struct pg *p = arg;
	struct informer inf = { .prefix = KEYS_STATUS_PREFIX, .stop = &p->stop,
				.relist_ms = p->resync_s * 1000, .on_list = on_list,
				.on_events = on_events, .ud = p };

	struct etcd_opts o = etcd_opts_env(p->cfg.etcd_endpoints);
	struct err e = { "" };
	char why[512];

	if (etcd_new(&o, &inf.etcd, &e) < 0) {
		/* Without it nothing is ever routed: the daemon cannot go on. */
		snprintf(why, sizeof(why), "watcher: cannot create etcd client: %.400s", e.msg);
		log_error("watcher: cannot create etcd client", "error", e.msg, NULL);
		stopper_stop(&p->stop, 1, why);
		return NULL;
	}
	informer_run(&inf);
	etcd_free(inf.etcd);
	return NULL;
}

static int lookup_id(void *ud, const char *id, char *key, size_t keylen)
{
	struct pg *p = ud;
	const char *k;
	int r = -ENOENT;

	pthread_mutex_lock(&p->cache_mu);
	k = json_string_value(json_object_get(p->ids, id));
	if (k && (size_t)snprintf(key, keylen, "%s", k) < keylen)
		r = 0;
	pthread_mutex_unlock(&p->cache_mu);
	return r;
}

/* A thread whose loop ended while no stop was requested cannot go on (it
 * logged why): the daemon stops, non-zero. */
static void thread_ended(struct pg *p, const char *what)
{
	if (!stopper_stopping(&p->stop))
		stopper_stop(&p->stop, 1, what);
}

static void *activity_thread(void *arg)
{
	struct pg *p = arg;

	activity_run(p->act);
	thread_ended(p, "activity: the receiving loop failed");
	return NULL;
}

static void *supervisor(void *arg)
{
	struct pg *p = arg;

	ngx_supervise(&p->ngx);
	thread_ended(p, "nginx supervisor ended");
	return NULL;
}

/* SIGHUP (systemctl reload): render again and make sure nginx serves it,
 * starting or reloading it if it does not. */
static void on_hup(void *ud)
{
	struct pg *p = ud;

	log_info("SIGHUP: re-applying the configuration", NULL);
	pthread_mutex_lock(&p->cache_mu);
	p->verify = true;
	mark_dirty_locked(p);
	pthread_mutex_unlock(&p->cache_mu);
}

/* ---- /metrics, /healthz, /readyz ---- */

static int metrics_init(struct metrics *m)
{
	struct prom_metric **all[15];
	size_t n = 0;
	struct prom *p;

	if (prom_new(&m->prom) < 0)
		return -ENOMEM;
	p = m->prom;
#define REG(field, name, help, type, label, b, nb) \
	m->field = prom_register(p, name, help, type, label, b, nb), all[n++] = &m->field
	REG(routes, "klangk_proxygen_routes",
	    "Routes (workspace id, port) in the configuration serving.", PROM_GAUGE, NULL, NULL, 0);
	REG(invalid_status, "klangk_proxygen_invalid_status",
	    "Status objects the last render skipped as invalid.", PROM_GAUGE, NULL, NULL, 0);
	REG(renders, "klangk_proxygen_renders_total", "Renders of the configuration.",
	    PROM_COUNTER, NULL, NULL, 0);
	REG(render_failures, "klangk_proxygen_render_failures_total", "Renders that failed.",
	    PROM_COUNTER, NULL, NULL, 0);
	REG(unchanged, "klangk_proxygen_unchanged_total",
	    "Renders identical to the configuration serving (no reload).", PROM_COUNTER, NULL,
	    NULL, 0);
	REG(reloads, "klangk_proxygen_reloads_total",
	    "Configurations applied and confirmed serving.", PROM_COUNTER, NULL, NULL, 0);
	REG(apply_failures, "klangk_proxygen_apply_failures_total",
	    "Applies that failed, by stage (the previous configuration kept serving).",
	    PROM_COUNTER, "stage", NULL, 0);
	REG(apply_duration, "klangk_proxygen_apply_duration_seconds",
	    "Write, validate, swap, reload and confirm.", PROM_HISTOGRAM, NULL, apply_buckets,
	    sizeof(apply_buckets) / sizeof(apply_buckets[0]));
	REG(last_success, "klangk_proxygen_last_success_timestamp_seconds",
	    "Unix time of the last apply or confirmation that nginx serves the render.",
	    PROM_GAUGE, NULL, NULL, 0);
	REG(nginx_starts, "klangk_proxygen_nginx_starts_total",
	    "nginx masters started by proxy-gen.", PROM_COUNTER, NULL, NULL, 0);
	REG(nginx_deaths, "klangk_proxygen_nginx_deaths_total",
	    "Supervised nginx masters that died unasked (restarted).", PROM_COUNTER, NULL,
	    NULL, 0);
	REG(act_lines, "klangk_proxygen_activity_lines_total",
	    "Hosted-request lines received from nginx.", PROM_COUNTER, NULL, NULL, 0);
	REG(act_unknown, "klangk_proxygen_activity_unknown_total",
	    "Lines for no known workspace (or malformed).", PROM_COUNTER, NULL, NULL, 0);
	REG(act_writes, "klangk_proxygen_activity_writes_total",
	    "Activity keys written to etcd.", PROM_COUNTER, NULL, NULL, 0);
	REG(act_write_errors, "klangk_proxygen_activity_write_errors_total",
	    "Activity writes that failed (retried).", PROM_COUNTER, NULL, NULL, 0);
#undef REG
	for (size_t i = 0; i < n; i++)
		if (!*all[i])
			return -ENOMEM;
	/* Every series exists from the start, at 0. */
	for (size_t i = 0; i < n; i++)
		if (*all[i] != m->apply_failures && *all[i] != m->apply_duration)
			prom_add(*all[i], NULL, 0);
	for (size_t i = 1; i < NSTAGES; i++)
		prom_add(m->apply_failures, stage_names[i], 0);
	return 0;
}

static int metrics_page(void *ud, struct buf *b, int *status)
{
	struct pg *p = ud;
	struct activity_stats as = { 0 };

	/* Counters kept by the other modules, copied at scrape time. */
	pthread_mutex_lock(&p->ngx.mu);
	prom_set(p->m.nginx_starts, NULL, (double)p->ngx.starts);
	prom_set(p->m.nginx_deaths, NULL, (double)p->ngx.deaths);
	pthread_mutex_unlock(&p->ngx.mu);
	if (p->act) {
		activity_stats(p->act, &as);
		prom_set(p->m.act_lines, NULL, (double)as.lines);
		prom_set(p->m.act_unknown, NULL, (double)as.unknown);
		prom_set(p->m.act_writes, NULL, (double)as.writes);
		prom_set(p->m.act_write_errors, NULL, (double)as.write_errors);
	}
	*status = 200;
	return prom_render(p->m.prom, b);
}

static int healthz(void *ud, struct buf *b, int *status)
{
	(void)ud;
	*status = 200;
	return buf_puts(b, "ok\n");
}

/* Ready: etcd listed, and nginx confirmed serving what was rendered. */
static int readyz(void *ud, struct buf *b, int *status)
{
	struct pg *p = ud;
	bool synced, dirty;
	char gen[33];

	pthread_mutex_lock(&p->cache_mu);
	synced = p->synced;
	/* An apply in flight is a change not yet confirmed either. */
	dirty = p->dirty || p->applying;
	pthread_mutex_unlock(&p->cache_mu);
	pthread_mutex_lock(&p->gen_mu);
	snprintf(gen, sizeof(gen), "%s", p->serving_gen);
	pthread_mutex_unlock(&p->gen_mu);
	if (!synced || !gen[0]) {
		*status = 503;
		return buf_printf(b, "not ready: %s\n", !synced ? "etcd not listed yet"
							      : "no configuration applied yet");
	}
	*status = 200;
	return buf_printf(b, "ok: generation %s%s\n", gen, dirty ? " (changes pending)" : "");
}

/* ---- rendering and applying ---- */

static void note_serving(struct pg *p, const char *gen, size_t routes)
{
	snprintf(p->last_gen, sizeof(p->last_gen), "%s", gen);
	pthread_mutex_lock(&p->gen_mu);
	snprintf(p->serving_gen, sizeof(p->serving_gen), "%s", gen);
	pthread_mutex_unlock(&p->gen_mu);
	prom_set(p->m.routes, NULL, (double)routes);
	prom_set(p->m.last_success, NULL, (double)time(NULL));
}

/* Is nginx serving generation gen right now? */
static bool serving(struct pg *p, const char *gen)
{
	char s[64];
	struct err e = { "" };

	return ngx_serving(&p->ngx, s, sizeof(s), &e) == 0 && strcmp(s, gen) == 0;
}

/*
 * Render the cache and apply it unless nginx already serves the same
 * rendering.  *applied tells whether nginx was reloaded or started.
 */
static int apply_once(struct pg *p, bool *applied, struct err *e)
{
	struct pgen_route *routes = NULL;
	size_t n = 0, skipped = 0;
	char gen[17], live[33];
	enum ngx_stage stage = NGX_STAGE_NONE;
	struct buf conf;
	bool verify;
	int r;

	*applied = false;
	buf_init(&conf, 0);
	pthread_mutex_lock(&p->cache_mu);
	r = pgen_routes_from_status(p->cache, &routes, &n, &skipped);
	p->dirty = false;
	p->applying = true;
	verify = p->verify;
	p->verify = false;
	pthread_mutex_unlock(&p->cache_mu);
	if (r < 0)
		goto render_failed;
	if (skipped)
		log_warn("skipped invalid status entries", NULL);
	r = pgen_render_generation(&p->opts, routes, n, &conf, gen, e);
	if (r < 0)
		goto render_failed;
	prom_add(p->m.renders, NULL, 1);
	prom_set(p->m.invalid_status, NULL, (double)skipped);

	/* Unchanged since our last apply; a relist also checks nginx still
	 * serves it (in daemon mode a dead nginx is started again here).
	 * After a restart, the live file and the status endpoint tell. */
	/* (A supervising proxy-gen just started has no nginx of its own yet:
	 * whatever serves is not one it can reload.) */
	if ((strcmp(gen, p->last_gen) == 0 && (!verify || serving(p, gen))) ||
	    (!p->last_gen[0] && ngx_live_generation(&p->ngx, live, sizeof(live)) == 0 &&
	     strcmp(live, gen) == 0 &&
	     (p->ngx.mode != NGX_MODE_SUPERVISE || ngx_master(&p->ngx) > 0) &&
	     serving(p, gen))) {
		if (!p->last_gen[0])
			log_info("nginx already serves this configuration; no reload",
				 "generation", gen, NULL);
		note_serving(p, gen, n);
		prom_add(p->m.unchanged, NULL, 1);
		r = 0;
		goto out;
	}
	{
		long long t0 = now_ms();
		double secs;

		r = ngx_apply(&p->ngx, conf.data, conf.len, gen, &stage, e);
		secs = (double)(now_ms() - t0) / 1000.0;
		if (r == 0) {
			prom_add(p->m.reloads, NULL, 1);
			prom_observe(p->m.apply_duration, NULL, secs);
		} else {
			prom_add(p->m.apply_failures,
				 stage_names[stage < NSTAGES ? stage : NGX_STAGE_NONE], 1);
		}
	}
	if (r == 0) {
		char rs[32];

		*applied = true;
		note_serving(p, gen, n);
		snprintf(rs, sizeof(rs), "%zu", n);
		log_info("nginx configuration applied", "generation", gen, "routes", rs, NULL);
	}
	goto out;
render_failed:
	prom_add(p->m.render_failures, NULL, 1);
out:
	pthread_mutex_lock(&p->cache_mu);
	p->applying = false;
	pthread_mutex_unlock(&p->cache_mu);
	free(routes);
	buf_free(&conf);
	return r;
}

/* Wait on cache_cv (cache_mu held) until ms_abs (monotonic) or a wake-up. */
static void wait_until_locked(struct pg *p, long long ms_abs)
{
	long long d = ms_abs - now_ms();
	struct timespec ts;

	if (d <= 0)
		return;
	stopper_deadline((long)d, &ts);
	pthread_cond_timedwait(&p->cache_cv, &p->cache_mu, &ts);
}

/* resync_s from now, give or take 10 %, so that proxy-gens started together
 * do not check in step. */
static long long next_resync(const struct pg *p)
{
	long ms = p->resync_s * 1000;

	return now_ms() + ms - ms / 10 + random() % (ms / 5 + 1);
}

static void apply_loop(struct pg *p)
{
	long long last_reload = -1000000000, resync = next_resync(p);
	int failures = 0;

	pthread_mutex_lock(&p->cache_mu);
	while (!stopper_stopping(&p->stop)) {
		long long now = now_ms(), due;
		struct err e = { "" };
		bool applied = false;
		int r;

		/* The periodic full resync: render the whole cache again and
		 * check that nginx serves it (a dead daemon nginx is started,
		 * a configuration swapped behind our back is replaced), even
		 * when etcd is quiet.  The informer's relist repairs the cache
		 * itself (on the next watch message after --resync-seconds). */
		if (p->synced && now >= resync) {
			p->verify = true;
			mark_dirty_locked(p);
			resync = next_resync(p);
		}
		if (!p->dirty || !p->synced) {
			if (p->synced)
				wait_until_locked(p, resync);
			else
				pthread_cond_wait(&p->cache_cv, &p->cache_mu);
			continue;
		}
		/* Debounce: apply after a quiet window, but never later than
		 * max_delay after the first change of a burst, and never sooner
		 * than min_interval after the previous reload (each reload
		 * leaves old workers draining their connections). */
		due = p->last_dirty + p->debounce_ms;
		if (due > p->first_dirty + p->max_delay_ms)
			due = p->first_dirty + p->max_delay_ms;
		if (due < last_reload + p->min_interval_ms)
			due = last_reload + p->min_interval_ms;
		if (now < due) {
			wait_until_locked(p, due);
			continue;
		}
		pthread_mutex_unlock(&p->cache_mu);
		r = apply_once(p, &applied, &e);
		if (applied)
			last_reload = now_ms();
		if (r < 0 && stopper_stopping(&p->stop)) {
			/* Cut short by the stop request: nothing to report. */
			pthread_mutex_lock(&p->cache_mu);
			break;
		}
		if (r < 0) {
			long d = stopper_backoff_ms(failures++, 800, 30000);

			log_error("apply failed; the previous configuration keeps serving",
				  "error", e.msg, NULL);
			stopper_nap(&p->stop, d);
			pthread_mutex_lock(&p->cache_mu);
			mark_dirty_locked(p); /* try again */
			continue;
		}
		failures = 0;
		pthread_mutex_lock(&p->cache_mu);
	}
	pthread_mutex_unlock(&p->cache_mu);
}

static void *apply_thread(void *arg)
{
	struct pg *p = arg;

	apply_loop(p);
	/* No apply can follow: the supervised nginx may stop now. */
	if (p->ngx.mode == NGX_MODE_SUPERVISE) {
		log_info("stopping nginx", NULL);
		ngx_shutdown(&p->ngx);
	}
	return NULL;
}

/* Signals first (a signal during the start is taken), then the others;
 * each that starts is joined by stop_threads, whether or not the others
 * could start. */
static int start_threads(struct pg *p)
{
	struct stopper *s = &p->stop;
	int r;

	if ((r = stopper_signals(s, on_hup, p)) < 0 ||
	    (p->ngx.mode == NGX_MODE_SUPERVISE &&
	     (r = stopper_spawn(s, supervisor, p, "supervisor")) < 0) ||
	    (p->act && (r = stopper_spawn(s, activity_thread, p, "activity")) < 0) ||
	    (r = stopper_spawn(s, watcher, p, "watcher")) < 0 ||
	    (r = stopper_spawn(s, apply_thread, p, "apply")) < 0) {
		log_error("cannot start threads", "error", strerror(-r), NULL);
		return r;
	}
	return 0;
}

/* After the stop request: wake what waits on a condition of its own (the
 * apply thread on cache_cv, the activity thread on its socket), then join
 * every thread; the apply thread stops a supervised nginx as it ends. */
static void stop_threads(struct pg *p)
{
	if (p->act)
		activity_stop(p->act);
	pthread_mutex_lock(&p->cache_mu);
	pthread_cond_broadcast(&p->cache_cv);
	pthread_mutex_unlock(&p->cache_mu);
	stopper_join(&p->stop);
}

/* ---- options ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: klangk-proxy-gen --dir DIR [OPTIONS]\n\n"
		"Renders nginx's configuration for <base>/hosted/<id>/<port>/ from the running\n"
		"workspaces in etcd, validates it, swaps it in and reloads nginx, and records\n"
		"hosted traffic as workspace activity (/klangk/activity/<ns>/<name>).\n\n"
		"Options (each overrides its environment variable):\n"
		"  --dir DIR                  nginx prefix directory, shared with nginx (KLANGK_NGINX_DIR)\n"
		"  --etcd-endpoints URLS      KLANGK_ETCD_ENDPOINTS\n"
		"  --node-name NAME           KLANGK_NODE_NAME: route only this node's workspaces\n"
		"  --listen ADDR              IPv4 address nginx listens on (127.0.0.1)\n"
		"  --port N                   KLANGK_NGINX_PORT (8995)\n"
		"  --base-path PATH           KLANGK_HOSTING_BASE_PATH (\"\")\n"
		"  --domain DOMAIN[:PORT]     KLANGK_HOSTING_DOMAIN: origin mode, each app at\n"
		"                             <id>-<port>.DOMAIN; path URLs redirect there (\"\": off)\n"
		"  --gateway-address ADDR:PORT  KLANGK_GATEWAY_ADDRESS: where nginx asks the gateway\n"
		"                             about members-only apps (127.0.0.1:8990)\n"
		"  --gateway-origin URL       KLANGK_GATEWAY_ORIGIN: the gateway's page as browsers\n"
		"                             reach it, for sign-in (http://<gateway address>)\n"
		"  --upstream-host ADDR       KLANGK_PUBLISH_ADDRESS (127.0.0.1)\n"
		"  --trust-forwarded          honour X-Forwarded-Host/Proto/Prefix/For from an outer\n"
		"                             proxy (KLANGK_TRUST_FORWARDED=1); else derived from the request\n"
		"  --nginx PATH               nginx executable (nginx)\n"
		"  --no-start                 never start nginx: reload the one in DIR/nginx.pid\n"
		"  --supervise                run nginx as a child; restart it when it dies\n"
		"  --worker-processes N|auto  nginx workers (auto)\n"
		"  --worker-shutdown-timeout S  seconds old workers keep connections after a reload (300)\n"
		"  --debounce-ms N            quiet window before applying (300)\n"
		"  --max-delay-ms N           longest a change waits (2000)\n"
		"  --min-reload-interval-ms N least time between two reloads (1000)\n"
		"  --resync-seconds N         period of the full resync: render again and check\n"
		"                             that nginx serves it; relist etcd (60)\n"
		"  --activity-interval-seconds N  record hosted activity at most this often per\n"
		"                             workspace (30; 0 = do not record)\n"
		"  --metrics-address HOST:PORT  serve /metrics, /healthz, /readyz\n"
		"                             (KLANGK_PROXY_METRICS_ADDRESS; off by default)\n"
		"  --log-level LEVEL, --log-json\n");
}

static bool env_true(const char *name)
{
	const char *v = getenv(name);

	return v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || strcmp(v, "yes") == 0);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'D' },
		{ "etcd-endpoints", required_argument, NULL, 'e' },
		{ "node-name", required_argument, NULL, 'O' },
		{ "listen", required_argument, NULL, 'L' },
		{ "port", required_argument, NULL, 'p' },
		{ "base-path", required_argument, NULL, 'b' },
		{ "domain", required_argument, NULL, 'o' },
		{ "gateway-address", required_argument, NULL, 'G' },
		{ "gateway-origin", required_argument, NULL, 'R' },
		{ "upstream-host", required_argument, NULL, 'u' },
		{ "trust-forwarded", no_argument, NULL, 'T' },
		{ "nginx", required_argument, NULL, 'n' },
		{ "no-start", no_argument, NULL, 'N' },
		{ "supervise", no_argument, NULL, 'S' },
		{ "worker-processes", required_argument, NULL, 'w' },
		{ "worker-shutdown-timeout", required_argument, NULL, 'W' },
		{ "debounce-ms", required_argument, NULL, 'd' },
		{ "max-delay-ms", required_argument, NULL, 'm' },
		{ "min-reload-interval-ms", required_argument, NULL, 'i' },
		{ "resync-seconds", required_argument, NULL, 'r' },
		{ "activity-interval-seconds", required_argument, NULL, 'a' },
		{ "metrics-address", required_argument, NULL, 'M' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "log-json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static struct pg p = { .debounce_ms = 300, .max_delay_ms = 2000,
			       .min_interval_ms = 1000, .resync_s = 60, .activity_s = 30 };
	const char *dir = getenv("KLANGK_NGINX_DIR");
	const char *listen = "127.0.0.1";
	enum log_level lvl = LOG_INFO;
	struct etcd *act_etcd = NULL;
	struct httpd *httpd = NULL;
	sigset_t sigs;
	pthread_condattr_t mono;
	struct err e = { "" };
	char why[512];
	int opt, json = 0, rc = 1;
	bool bad = false, no_start = false, supervise = false;

	if (cfg_from_env(&p.cfg, &e) < 0) {
		fprintf(stderr, "klangk-proxy-gen: %s\n", e.msg);
		return 2;
	}
	p.ngx.bin = "nginx";
	p.opts.trust_forwarded = env_true("KLANGK_TRUST_FORWARDED");
	p.metrics_addr = getenv("KLANGK_PROXY_METRICS_ADDRESS");
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'D':
			dir = optarg;
			break;
		case 'e':
			bad |= cfg_copy(p.cfg.etcd_endpoints, sizeof(p.cfg.etcd_endpoints), optarg) < 0;
			break;
		case 'O':
			bad |= cfg_copy(p.cfg.node_name, sizeof(p.cfg.node_name), optarg) < 0;
			break;
		case 'L':
			listen = optarg;
			break;
		case 'p':
			bad |= cfg_parse_long(optarg, 1, 65535, &p.cfg.nginx_port) < 0;
			break;
		case 'b':
			bad |= cfg_copy(p.cfg.hosting_base_path, sizeof(p.cfg.hosting_base_path), optarg) < 0;
			break;
		case 'o':
			bad |= cfg_copy(p.cfg.hosting_domain, sizeof(p.cfg.hosting_domain), optarg) < 0;
			break;
		case 'G':
			bad |= cfg_copy(p.cfg.gateway_address, sizeof(p.cfg.gateway_address), optarg) < 0;
			break;
		case 'R':
			bad |= cfg_copy(p.cfg.gateway_origin, sizeof(p.cfg.gateway_origin), optarg) < 0;
			break;
		case 'u':
			bad |= cfg_copy(p.cfg.publish_address, sizeof(p.cfg.publish_address), optarg) < 0;
			break;
		case 'T':
			p.opts.trust_forwarded = true;
			break;
		case 'n':
			p.ngx.bin = optarg;
			break;
		case 'N':
			no_start = true;
			break;
		case 'S':
			supervise = true;
			break;
		case 'w':
			if (strcmp(optarg, "auto") == 0)
				p.opts.worker_processes = 0;
			else
				bad |= cfg_parse_long(optarg, 1, 1024, &p.opts.worker_processes) < 0;
			break;
		case 'W':
			bad |= cfg_parse_long(optarg, 1, 86400, &p.opts.worker_shutdown_s) < 0;
			break;
		case 'd':
			bad |= cfg_parse_long(optarg, 0, 60000, &p.debounce_ms) < 0;
			break;
		case 'm':
			bad |= cfg_parse_long(optarg, 0, 600000, &p.max_delay_ms) < 0;
			break;
		case 'i':
			bad |= cfg_parse_long(optarg, 0, 600000, &p.min_interval_ms) < 0;
			break;
		case 'r':
			bad |= cfg_parse_long(optarg, 1, 86400, &p.resync_s) < 0;
			break;
		case 'a':
			bad |= cfg_parse_long(optarg, 0, 86400, &p.activity_s) < 0;
			break;
		case 'M':
			p.metrics_addr = optarg;
			break;
		case 'l':
			bad |= log_parse_level(optarg, &lvl) < 0;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		if (bad) {
			fprintf(stderr, "klangk-proxy-gen: bad value \"%s\" for %s\n", optarg,
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "klangk-proxy-gen: unexpected argument \"%s\"\n", argv[optind]);
		return 2;
	}
	if (!dir || !*dir) {
		fprintf(stderr, "klangk-proxy-gen: --dir (or KLANGK_NGINX_DIR) is required\n");
		usage(stderr);
		return 2;
	}
	if (no_start && supervise) {
		fprintf(stderr, "klangk-proxy-gen: --no-start and --supervise exclude each other\n");
		return 2;
	}
	if (!realpath(dir, p.dir) && cfg_copy(p.dir, sizeof(p.dir), dir) < 0) {
		fprintf(stderr, "klangk-proxy-gen: --dir too long\n");
		return 2;
	}
	if (cfg_check(&p.cfg, &e) < 0) {
		fprintf(stderr, "klangk-proxy-gen: %s\n", e.msg);
		return 2;
	}
	p.opts.dir = p.dir;
	p.opts.listen_addr = listen;
	p.opts.listen_port = p.cfg.nginx_port;
	p.opts.base_path = p.cfg.hosting_base_path;
	p.opts.upstream_host = p.cfg.publish_address;
	p.opts.domain = p.cfg.hosting_domain;
	p.opts.proto = p.cfg.hosting_proto;
	p.opts.gateway_address = p.cfg.gateway_address;
	p.opts.gateway_origin = p.cfg.gateway_origin;
	p.opts.activity_log = p.activity_s > 0;
	p.ngx.dir = p.dir;
	p.ngx.cancel = &p.stop.stopping;
	p.ngx.mode = supervise ? NGX_MODE_SUPERVISE : no_start ? NGX_MODE_EXTERNAL
							    : NGX_MODE_DAEMON;
	if (pgen_check_opts(&p.opts, &e) < 0) {
		fprintf(stderr, "klangk-proxy-gen: %s\n", e.msg);
		return 2;
	}
	if (p.metrics_addr && !*p.metrics_addr)
		p.metrics_addr = NULL;
	log_setup(lvl, json);
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	if (http_global_init() < 0)
		return 1;
	if (ngx_prepare(&p.ngx, &e) < 0) {
		log_error("cannot prepare nginx directory", "error", e.msg, NULL);
		return 1;
	}
	p.cache = json_object();
	p.ids = json_object();
	/* The apply thread's deadlines are CLOCK_MONOTONIC (stopper_deadline). */
	pthread_condattr_init(&mono);
	pthread_condattr_setclock(&mono, CLOCK_MONOTONIC);
	if (!p.cache || !p.ids || stopper_init(&p.stop) < 0 || ngx_init(&p.ngx) < 0 ||
	    pthread_mutex_init(&p.cache_mu, NULL) != 0 ||
	    pthread_cond_init(&p.cache_cv, &mono) != 0 ||
	    pthread_mutex_init(&p.gen_mu, NULL) != 0 || metrics_init(&p.m) < 0)
		return 1;
	pthread_condattr_destroy(&mono);
	/* Signals are blocked in every thread (libmicrohttpd's included) and
	 * taken by the signal thread. */
	stopper_block_signals(&sigs);
	{
		char port[16];

		snprintf(port, sizeof(port), "%ld", p.cfg.nginx_port);
		log_info("klangk-proxy-gen starting", "dir", p.dir, "listen", listen,
			 "port", port, "base_path", p.cfg.hosting_base_path,
			 "domain", p.cfg.hosting_domain,
			 "nginx", supervise ? "supervise" : no_start ? "external" : "daemon",
			 "trust_forwarded", p.opts.trust_forwarded ? "true" : "false", NULL);
	}
	/* The activity socket exists before nginx first loads a
	 * configuration that sends to it. */
	if (p.activity_s > 0) {
		char sock[PATH_MAX + 32];

		snprintf(sock, sizeof(sock), "%s/" PGEN_ACCESS_SOCK, p.dir);
		act_etcd = new_etcd(&p);
		if (!act_etcd ||
		    activity_new(sock, p.activity_s * 1000, act_etcd, lookup_id, &p, &p.act, &e) < 0) {
			log_error("cannot set up the activity socket", "error", e.msg, NULL);
			goto out;
		}
	}
	if (p.metrics_addr) {
		const struct httpd_route routes[] = {
			{ "/metrics", "text/plain; version=0.0.4; charset=utf-8", metrics_page, &p },
			{ "/healthz", NULL, healthz, &p },
			{ "/readyz", NULL, readyz, &p },
		};

		if (httpd_start(p.metrics_addr, routes, 3, &httpd, &e) < 0) {
			log_error("cannot serve metrics", "error", e.msg, NULL);
			goto out;
		}
	}
	if (start_threads(&p) < 0)
		stopper_stop(&p.stop, 1, "cannot start threads");
	rc = stopper_wait(&p.stop, why, sizeof(why));
	/* No scrape may read what is freed below. */
	httpd_stop(httpd);
	httpd = NULL;
	stop_threads(&p);
	if (rc == 0)
		log_info("stopped", "reason", why, NULL);
	else
		log_error("stopped: cannot go on", "reason", why, NULL);
out:
	httpd_stop(httpd);
	activity_free(p.act);
	etcd_free(act_etcd);
	json_decref(p.cache);
	json_decref(p.ids);
	prom_free(p.m.prom);
	return rc;
}
