/*
 * klangk-proxy-gen — keeps nginx routing /hosted/<id>/<port>/ to the
 * running workspaces.
 *
 * A watcher thread keeps a cache of every status object (list, then watch
 * /klangk/status/, relisting when compacted and periodically).  Each change
 * marks the cache dirty; the main thread debounces (a quiet window, with a
 * cap on the total delay), renders, skips identical renders by hash, and
 * runs the apply pipeline.  A signal thread turns SIGTERM/SIGINT into a
 * clean stop; nginx itself keeps running (it is a sidecar and must survive
 * proxy-gen restarts).
 */
#include "cfg.h"
#include "etcd.h"
#include "http.h"
#include "informer.h"
#include "log.h"
#include "nginx.h"
#include "pgen.h"
#include "stopper.h"
#include "ws.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct pg {
	struct cfg cfg;
	struct pgen_opts opts;
	struct ngx ngx;
	char dir[PATH_MAX];
	long debounce_ms, max_delay_ms, resync_s;
	/* stop.mu also guards the cache and the dirty state, so that a stop
	 * request wakes the apply loop waiting on stop.cv. */
	struct stopper stop;
	json_t *cache;        /* status key -> status object */
	bool dirty;
	long long first_dirty, last_dirty;
	bool synced;          /* first list done */
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
	pthread_cond_broadcast(&p->stop.cv);
}

static json_t *parse_status(const struct etcd_kv *kv)
{
	json_error_t jerr;
	json_t *j = json_loadb(kv->value, kv->value_len, 0, &jerr);

	if (!json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static void on_list(void *ud, const struct etcd_kvs *kvs)
{
	struct pg *p = ud;
	json_t *fresh = json_object();

	if (!fresh)
		return;
	for (size_t i = 0; i < kvs->n; i++) {
		json_t *st = parse_status(&kvs->kvs[i]);

		if (st)
			json_object_set_new(fresh, kvs->kvs[i].key, st);
	}
	pthread_mutex_lock(&p->stop.mu);
	json_decref(p->cache);
	p->cache = fresh;
	p->synced = true;
	mark_dirty_locked(p);
	pthread_mutex_unlock(&p->stop.mu);
}

static void on_events(void *ud, const struct etcd_event *ev, size_t n)
{
	struct pg *p = ud;

	pthread_mutex_lock(&p->stop.mu);
	for (size_t i = 0; i < n; i++) {
		json_t *st = ev[i].type == ETCD_DELETE ? NULL : parse_status(&ev[i].kv);

		if (st)
			json_object_set_new(p->cache, ev[i].kv.key, st);
		else
			json_object_del(p->cache, ev[i].kv.key);
	}
	mark_dirty_locked(p);
	pthread_mutex_unlock(&p->stop.mu);
}

static void *watcher(void *arg)
{
	struct pg *p = arg;
	struct etcd_opts o = etcd_opts_env(p->cfg.etcd_endpoints);
	struct informer inf = { .prefix = WS_STATUS_PREFIX, .stop = &p->stop,
				.relist_ms = p->resync_s * 1000, .on_list = on_list,
				.on_events = on_events, .ud = p };
	struct err e = { "" };

	if (etcd_new(&o, &inf.etcd, &e) < 0) {
		log_error("cannot create etcd client", "error", e.msg, NULL);
		stopper_stop(&p->stop);
		return NULL;
	}
	informer_run(&inf);
	etcd_free(inf.etcd);
	return NULL;
}

static void *signals(void *arg)
{
	struct pg *p = arg;
	sigset_t set;
	int sig = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigwait(&set, &sig);
	log_info("signal received; stopping", NULL);
	stopper_stop(&p->stop);
	return NULL;
}

/* Render the cache and apply it if it changed.  *last is the hash of the
 * last successful apply. */
static int apply_once(struct pg *p, char last[65], struct err *e)
{
	struct pgen_route *routes = NULL;
	size_t n = 0, skipped = 0;
	unsigned char md[32];
	unsigned int mdlen = 0;
	char hash[65], gen[17];
	struct buf probe, conf;
	int r;

	buf_init(&probe, 0);
	buf_init(&conf, 0);
	pthread_mutex_lock(&p->stop.mu);
	r = pgen_routes_from_status(p->cache, &routes, &n, &skipped);
	p->dirty = false;
	pthread_mutex_unlock(&p->stop.mu);
	if (r < 0)
		goto out;
	if (skipped)
		log_warn("skipped invalid status entries", NULL);
	/* The generation is the hash of the rendering itself (rendered once
	 * without it), so identical route sets give identical files. */
	r = pgen_render(&p->opts, routes, n, "", &probe, e);
	if (r < 0)
		goto out;
	EVP_Digest(probe.data, probe.len, md, &mdlen, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(hash + 2 * i, 3, "%02x", md[i]);
	if (strcmp(hash, last) == 0) {
		r = 0;
		goto out;
	}
	memcpy(gen, hash, 16);
	gen[16] = '\0';
	r = pgen_render(&p->opts, routes, n, gen, &conf, e);
	if (r < 0)
		goto out;
	r = ngx_apply(&p->ngx, conf.data, conf.len, gen, e);
	if (r == 0) {
		char rs[32];

		memcpy(last, hash, 65);
		snprintf(rs, sizeof(rs), "%zu", n);
		log_info("nginx configuration applied", "generation", gen, "routes", rs, NULL);
	}
out:
	free(routes);
	buf_free(&probe);
	buf_free(&conf);
	return r;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: klangk-proxy-gen --dir DIR [OPTIONS]\n\n"
		"Renders nginx's configuration for /hosted/<id>/<port>/ from the running\n"
		"workspaces in etcd, validates it, swaps it in and reloads nginx (starting\n"
		"it when none runs on DIR's pid file).\n\n"
		"Options (each overrides its environment variable):\n"
		"  --dir DIR              nginx prefix directory (KLANGK_NGINX_DIR)\n"
		"  --etcd-endpoints URLS  KLANGK_ETCD_ENDPOINTS\n"
		"  --listen ADDR          address nginx listens on (127.0.0.1)\n"
		"  --port N               KLANGK_NGINX_PORT (8995)\n"
		"  --base-path PATH       KLANGK_HOSTING_BASE_PATH (\"\")\n"
		"  --upstream-host ADDR   KLANGK_PUBLISH_ADDRESS (127.0.0.1)\n"
		"  --nginx PATH           nginx executable (nginx)\n"
		"  --no-start             never start nginx, only reload a running one\n"
		"  --debounce-ms N        quiet window before applying (300)\n"
		"  --max-delay-ms N       longest a change waits (2000)\n"
		"  --resync-seconds N     full relist period (60)\n"
		"  --log-level LEVEL, --log-json\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'D' },
		{ "etcd-endpoints", required_argument, NULL, 'e' },
		{ "listen", required_argument, NULL, 'L' },
		{ "port", required_argument, NULL, 'p' },
		{ "base-path", required_argument, NULL, 'b' },
		{ "upstream-host", required_argument, NULL, 'u' },
		{ "nginx", required_argument, NULL, 'n' },
		{ "no-start", no_argument, NULL, 'N' },
		{ "debounce-ms", required_argument, NULL, 'd' },
		{ "max-delay-ms", required_argument, NULL, 'm' },
		{ "resync-seconds", required_argument, NULL, 'r' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "log-json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct pg p = { .debounce_ms = 300, .max_delay_ms = 2000, .resync_s = 60 };
	const char *dir = getenv("KLANGK_NGINX_DIR");
	const char *listen = "127.0.0.1";
	enum log_level lvl = LOG_INFO;
	char last[65] = "";
	pthread_t wt, st;
	sigset_t sigs;
	struct err e = { "" };
	int opt, json = 0, failures = 0;
	bool bad = false;

	if (cfg_from_env(&p.cfg, &e) < 0) {
		fprintf(stderr, "klangk-proxy-gen: %s\n", e.msg);
		return 2;
	}
	p.ngx.bin = "nginx";
	p.ngx.may_start = true;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'D':
			dir = optarg;
			break;
		case 'e':
			bad |= cfg_copy(p.cfg.etcd_endpoints, sizeof(p.cfg.etcd_endpoints), optarg) < 0;
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
		case 'u':
			bad |= cfg_copy(p.cfg.publish_address, sizeof(p.cfg.publish_address), optarg) < 0;
			break;
		case 'n':
			p.ngx.bin = optarg;
			break;
		case 'N':
			p.ngx.may_start = false;
			break;
		case 'd':
			bad |= cfg_parse_long(optarg, 0, 60000, &p.debounce_ms) < 0;
			break;
		case 'm':
			bad |= cfg_parse_long(optarg, 0, 600000, &p.max_delay_ms) < 0;
			break;
		case 'r':
			bad |= cfg_parse_long(optarg, 1, 86400, &p.resync_s) < 0;
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
	if (!dir || !*dir) {
		fprintf(stderr, "klangk-proxy-gen: --dir (or KLANGK_NGINX_DIR) is required\n");
		usage(stderr);
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
	p.ngx.dir = p.dir;
	if (pgen_check_opts(&p.opts, &e) < 0) {
		fprintf(stderr, "klangk-proxy-gen: %s\n", e.msg);
		return 2;
	}
	log_setup(lvl, json);
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	if (http_global_init() < 0)
		return 1;
	if (ngx_prepare(&p.ngx, &e) < 0) {
		log_error("cannot prepare nginx directory", "error", e.msg, NULL);
		return 1;
	}
	p.cache = json_object();
	if (!p.cache || stopper_init(&p.stop) < 0)
		return 1;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	{
		char port[16];

		snprintf(port, sizeof(port), "%ld", p.cfg.nginx_port);
		log_info("klangk-proxy-gen starting", "dir", p.dir, "listen", listen,
			 "port", port, "base_path", p.cfg.hosting_base_path, NULL);
	}
	if (pthread_create(&st, NULL, signals, &p) != 0 ||
	    pthread_create(&wt, NULL, watcher, &p) != 0)
		return 1;

	pthread_mutex_lock(&p.stop.mu);
	while (!p.stop.stopping) {
		long long now = now_ms(), due;

		if (!p.dirty || !p.synced) {
			pthread_cond_wait(&p.stop.cv, &p.stop.mu);
			continue;
		}
		/* Debounce: apply after a quiet window, but never later than
		 * max_delay after the first change of a burst. */
		due = p.last_dirty + p.debounce_ms;
		if (due > p.first_dirty + p.max_delay_ms)
			due = p.first_dirty + p.max_delay_ms;
		if (now < due) {
			struct timespec ts;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += (due - now) / 1000;
			ts.tv_nsec += ((due - now) % 1000) * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&p.stop.cv, &p.stop.mu, &ts);
			continue;
		}
		pthread_mutex_unlock(&p.stop.mu);
		err_clear(&e);
		if (apply_once(&p, last, &e) < 0) {
			long d = stopper_backoff_ms(failures++, 800, 30000);

			log_error("apply failed; the previous configuration keeps serving",
				  "error", e.msg, NULL);
			stopper_nap(&p.stop, d);
			pthread_mutex_lock(&p.stop.mu);
			mark_dirty_locked(&p); /* try again */
			continue;
		}
		failures = 0;
		pthread_mutex_lock(&p.stop.mu);
	}
	pthread_mutex_unlock(&p.stop.mu);
	pthread_join(wt, NULL);
	pthread_cancel(st);
	pthread_join(st, NULL);
	json_decref(p.cache);
	log_info("stopped", NULL);
	return 0;
}
