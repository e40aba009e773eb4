/*
 * klangk-controller — converges containers, volumes and port leases to the
 * Workspaces declared in etcd.
 *
 * Threads: one informer (list, then watch from the list's revision + 1,
 * reconnecting with jittered backoff and relisting when the revision was
 * compacted) feeding keys into the work queue; N workers draining it; and
 * the main thread, which runs the periodic resync (every key in etcd, plus
 * every container the engine has with our instance label, so that drift
 * and orphans are found) and waits for SIGTERM/SIGINT.
 */
#include "cfg.h"
#include "engine.h"
#include "etcd.h"
#include "http.h"
#include "informer.h"
#include "log.h"
#include "rbac.h"
#include "reconcile.h"
#include "stopper.h"
#include "ws.h"
#include "wq.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 64

struct ctl {
	struct cfg cfg;
	struct wq *q;
	struct stopper stop;
	long workers;
	long resync_s;
	struct rbac_opts rbac;  /* etcd roles from workspaces (rbac.h) */
};

/* "ns/name" from a spec or status key; 0 or -EINVAL. */
static int key_to_item(const char *key, char *item, size_t len)
{
	char ns[64], name[64];
	const char *prefix = strncmp(key, WS_SPEC_PREFIX, strlen(WS_SPEC_PREFIX)) == 0 ?
		WS_SPEC_PREFIX : WS_STATUS_PREFIX;

	if (ws_split_key(key, prefix, ns, sizeof(ns), name, sizeof(name)) < 0)
		return -EINVAL;
	snprintf(item, len, "%s/%s", ns, name);
	return 0;
}

static void enqueue_key(struct ctl *c, const char *key)
{
	char item[160];

	if (key_to_item(key, item, sizeof(item)) == 0)
		wq_add(c->q, item);
	else
		log_warn("ignoring malformed key", "key", key, NULL);
}

/* Every status key too: a status without a spec is a workspace being
 * deleted (the status is its finalizer). */
static int list_all(struct ctl *c, struct etcd *etcd, struct err *e)
{
	static const char *const prefixes[] = { WS_SPEC_PREFIX, WS_STATUS_PREFIX };

	for (size_t p = 0; p < 2; p++) {
		struct etcd_kvs kvs = { 0 };
		int r = etcd_list(etcd, prefixes[p], &kvs, e);

		if (r < 0)
			return r;
		for (size_t i = 0; i < kvs.n; i++)
			enqueue_key(c, kvs.kvs[i].key);
		etcd_kvs_clear(&kvs);
	}
	return 0;
}

/* Any change of the workspaces may change who may write what in etcd. */
static void enqueue_rbac(struct ctl *c)
{
	if (c->rbac.enabled)
		wq_add(c->q, RBAC_QUEUE_KEY);
}

static void on_list(void *ud, const struct etcd_kvs *kvs)
{
	for (size_t i = 0; i < kvs->n; i++)
		enqueue_key(ud, kvs->kvs[i].key);
	enqueue_rbac(ud);
	log_info("listed workspaces", NULL);
}

static void on_events(void *ud, const struct etcd_event *ev, size_t n)
{
	for (size_t i = 0; i < n; i++)
		enqueue_key(ud, ev[i].kv.key);
	if (n)
		enqueue_rbac(ud);
}

static void *informer_thread(void *arg)
{
	struct ctl *c = arg;
	struct etcd_opts o = etcd_opts_env(c->cfg.etcd_endpoints);
	struct informer inf = { .prefix = WS_SPEC_PREFIX, .stop = &c->stop,
				.on_list = on_list, .on_events = on_events, .ud = c };
	struct err e = { "" };

	if (etcd_new(&o, &inf.etcd, &e) < 0) {
		log_error("informer: cannot create etcd client", "error", e.msg, NULL);
		stopper_stop(&c->stop);
		return NULL;
	}
	informer_run(&inf);
	etcd_free(inf.etcd);
	return NULL;
}

static void *worker(void *arg)
{
	struct ctl *c = arg;
	struct etcd_opts o = etcd_opts_env(c->cfg.etcd_endpoints);
	struct rec x = { .cfg = &c->cfg };
	struct err e = { "" };
	char *item;

	if (etcd_new(&o, &x.etcd, &e) < 0 ||
	    engine_new(c->cfg.docker_host, &x.engine, &e) < 0) {
		log_error("worker: cannot create clients", "error", e.msg, NULL);
		stopper_stop(&c->stop);
		goto out;
	}
	while (wq_get(c->q, &item) == 0) {
		char ns[64], name[64];
		const char *slash = strchr(item, '/');
		int r;

		if (strcmp(item, RBAC_QUEUE_KEY) != 0 &&
		    (!slash || (size_t)(slash - item) >= sizeof(ns) ||
		     strlen(slash + 1) >= sizeof(name))) {
			wq_done(c->q, item);
			free(item);
			continue;
		}
		err_clear(&e);
		if (strcmp(item, RBAC_QUEUE_KEY) == 0) {
			r = rbac_sync(x.etcd, &c->rbac, NULL, &e);
		} else {
			memcpy(ns, item, (size_t)(slash - item));
			ns[slash - item] = '\0';
			snprintf(name, sizeof(name), "%s", slash + 1);
			r = rec_reconcile(&x, ns, name, &e);
		}
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
	etcd_free(x.etcd);
	engine_free(x.engine);
	return NULL;
}

/* Every workspace etcd knows, and every one the engine has containers of. */
static void resync(struct ctl *c, struct etcd *etcd, struct engine *eng)
{
	struct err e = { "" };
	json_t *list = NULL, *it;
	char label[128];
	size_t i;

	if (list_all(c, etcd, &e) < 0)
		log_warn("resync: list failed", "error", e.msg, NULL);
	enqueue_rbac(c);  /* etcd users are not watched: new ones appear here */
	snprintf(label, sizeof(label), "klangk.instance=%s", c->cfg.instance_id);
	if (engine_container_list(eng, label, &list, &e) < 0) {
		log_warn("resync: engine list failed", "error", e.msg, NULL);
		return;
	}
	json_array_foreach(list, i, it) {
		const char *w = json_string_value(json_object_get(
			json_object_get(it, "Labels"), "klangk.workspace"));
		char ns[64], name[64], key[256];

		if (!w)
			continue;
		/* Validate the label before it becomes a key. */
		snprintf(key, sizeof(key), WS_SPEC_PREFIX "%s", w);
		if (ws_split_key(key, WS_SPEC_PREFIX, ns, sizeof(ns), name, sizeof(name)) == 0)
			enqueue_key(c, key);
	}
	json_decref(list);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: klangk-controller [OPTIONS]\n\n"
		"Converges containers, volumes and host port leases to the Workspaces\n"
		"stored in etcd under /klangk/workspaces/.\n\n"
		"Options (each overrides its environment variable):\n"
		"  --etcd-endpoints URLS   KLANGK_ETCD_ENDPOINTS (http://127.0.0.1:2379)\n"
		"  --docker-host URL       DOCKER_HOST (unix:///var/run/docker.sock)\n"
		"  --instance-id ID        KLANGK_INSTANCE_ID (default)\n"
		"  --port-range-start N    KLANGK_PORT_RANGE_START (9000)\n"
		"  --port-range-end N      KLANGK_PORT_RANGE_END (start + 999)\n"
		"  --workers N             reconcile workers (4)\n"
		"  --resync-seconds N      full resync period (30)\n"
		"  --log-level LEVEL       debug|info|warn|error (info)\n"
		"  --log-json              JSON log lines instead of logfmt\n"
		"Also read: KLANGK_NGINX_PORT, KLANGK_HOSTING_HOSTNAME, KLANGK_HOSTING_PROTO,\n"
		"KLANGK_HOSTING_BASE_PATH, KLANGK_PUBLISH_ADDRESS (127.0.0.1),\n"
		"KLANGK_ALLOWED_MOUNT_ROOTS, KLANGK_DATA_DIR, KLANGK_PROTECTED_PATHS,\n"
		"KLANGK_ETCD_CACERT/_CERT/_KEY, KLANGK_ETCD_USERNAME with\n"
		"KLANGK_ETCD_PASSWORD_FILE (or _PASSWORD), KLANGK_RBAC (off),\n"
		"KLANGK_RBAC_SERVICE_USERS (docs/security.md).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "etcd-endpoints", required_argument, NULL, 'e' },
		{ "docker-host", required_argument, NULL, 'd' },
		{ "instance-id", required_argument, NULL, 'i' },
		{ "port-range-start", required_argument, NULL, 's' },
		{ "port-range-end", required_argument, NULL, 'E' },
		{ "workers", required_argument, NULL, 'w' },
		{ "resync-seconds", required_argument, NULL, 'r' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "log-json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct ctl c = { .workers = 4, .resync_s = 30 };
	enum log_level lvl = LOG_INFO;
	pthread_t inf, workers[MAX_WORKERS];
	struct etcd *etcd = NULL;
	struct engine *eng = NULL;
	sigset_t sigs;
	struct err e = { "" };
	int opt, json = 0, ret = 1;
	long nw = 0;
	bool bad = false;

	if (cfg_from_env(&c.cfg, &e) < 0) {
		fprintf(stderr, "klangk-controller: %s\n", e.msg);
		return 2;
	}
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'e':
			bad |= cfg_copy(c.cfg.etcd_endpoints, sizeof(c.cfg.etcd_endpoints), optarg) < 0;
			break;
		case 'd':
			bad |= cfg_copy(c.cfg.docker_host, sizeof(c.cfg.docker_host), optarg) < 0;
			break;
		case 'i':
			bad |= cfg_copy(c.cfg.instance_id, sizeof(c.cfg.instance_id), optarg) < 0;
			break;
		case 's':
			bad |= cfg_parse_long(optarg, 1024, 65535, &c.cfg.port_range_start) < 0;
			break;
		case 'E':
			bad |= cfg_parse_long(optarg, 1024, 65535, &c.cfg.port_range_end) < 0;
			break;
		case 'w':
			bad |= cfg_parse_long(optarg, 1, MAX_WORKERS, &c.workers) < 0;
			break;
		case 'r':
			bad |= cfg_parse_long(optarg, 1, 86400, &c.resync_s) < 0;
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
			fprintf(stderr, "klangk-controller: bad value \"%s\" for %s\n",
				optarg, argv[optind - 1]);
			return 2;
		}
	}
	if (cfg_check(&c.cfg, &e) < 0) {
		fprintf(stderr, "klangk-controller: %s\n", e.msg);
		return 2;
	}
	rbac_opts_env(&c.rbac);
	log_setup(lvl, json);
	if (!c.cfg.allowed_mount_roots[0])
		log_warn("KLANGK_ALLOWED_MOUNT_ROOTS is not set: workspaces may bind-mount "
			 "any host path that is not protected (docs/security.md)", NULL);
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	if (http_global_init() < 0) {
		log_error("cannot initialise libcurl", NULL);
		return 1;
	}
	/* Signals are blocked in every thread and taken synchronously by
	 * the main thread with sigtimedwait, which is also the resync timer. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (stopper_init(&c.stop) < 0 || wq_new(200, 60000, &c.q) < 0)
		return 1;
	{
		struct etcd_opts o = etcd_opts_env(c.cfg.etcd_endpoints);

		if (etcd_new(&o, &etcd, &e) < 0 ||
		    engine_new(c.cfg.docker_host, &eng, &e) < 0) {
			log_error("bad configuration", "error", e.msg, NULL);
			ret = 2;
			goto out;
		}
	}
	{
		char ports[64], wk[16];

		snprintf(ports, sizeof(ports), "%ld-%ld", c.cfg.port_range_start,
			 c.cfg.port_range_end);
		snprintf(wk, sizeof(wk), "%ld", c.workers);
		log_info("klangk-controller starting", "instance", c.cfg.instance_id,
			 "etcd", c.cfg.etcd_endpoints, "engine", c.cfg.docker_host,
			 "ports", ports, "workers", wk, NULL);
	}
	if (pthread_create(&inf, NULL, informer_thread, &c) != 0)
		goto out;
	for (nw = 0; nw < c.workers; nw++)
		if (pthread_create(&workers[nw], NULL, worker, &c) != 0)
			break;
	/* At start, also the tombstones and the engine's orphans. */
	resync(&c, etcd, eng);
	while (!c.stop.stopping) {
		/* Jitter of +-10% keeps replicas and restarts from aligning. */
		long period = c.resync_s * 1000;
		long jitter = period / 10;
		long ms = period - jitter + random() % (2 * jitter + 1);
		struct timespec ts = { .tv_sec = ms / 1000,
				       .tv_nsec = (ms % 1000) * 1000000 };
		int sig = sigtimedwait(&sigs, NULL, &ts);

		if (sig == SIGTERM || sig == SIGINT) {
			log_info("signal received", "signal",
				 sig == SIGTERM ? "TERM" : "INT", NULL);
			stopper_stop(&c.stop);
			break;
		}
		if (!c.stop.stopping)
			resync(&c, etcd, eng);
	}
	log_info("stopping: finishing in-flight work", NULL);
	wq_shutdown(c.q);
	pthread_join(inf, NULL);
	for (long i = 0; i < nw; i++)
		pthread_join(workers[i], NULL);
	ret = 0;
	log_info("stopped", NULL);
out:
	etcd_free(etcd);
	engine_free(eng);
	wq_free(c.q);
	return ret;
}
