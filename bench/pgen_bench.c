/*
 * pgen_bench — proxy-gen's rendering, validation and reload at 100, 10,000
 * and 50,000 routes, with nginx's memory, in path mode (map) and origin mode
 * (origin), next to two peers in the same run: one `location` per route
 * (peer), and origin mode with a `map $host { hostnames; ... }` of full host
 * names instead of a regex server_name feeding the path mode's map
 * (hostmap).  Not part of `make test`; run with
 * `make bench` (results go to BENCHMARKS.md by hand).
 *
 * For each layout and N: render N routes (median of 5; for the map layout
 * also proxy-gen's whole render step: status objects to routes, rendered
 * twice for the generation's SHA-256), write the file,
 * `nginx -t` it (median of 3), start a real nginx on it (one worker), then
 * reload to a rendering with one route more and time SIGHUP until the status
 * socket reports the new generation (median of 3, alternating between two
 * renderings), and read VmRSS of the master and of the new worker once the
 * old one has gone.  Routes are N/5 workspaces with 5 ports each.
 *
 *   pgen_bench [DIR] [N...]      (DIR default /tmp/pgen-bench.XXXXXX)
 *   PGEN_BENCH_LAYOUT=map,origin,...   only these layouts (map, origin,
 *                                      peer, hostmap)
 *
 * Wall times suffer when the machine is busy; the CPU times (nginx -t's
 * user+system, the master's during a reload) do much less.
 */
#include "buf.h"
#include "keys.h"
#include "nginx.h"
#include "pgen.h"
#include "status.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

enum layout { MAP, ORIGIN, PEER, HOSTMAP, N_LAYOUTS };

static const char *const layout_name[N_LAYOUTS] = { "map", "origin", "peer", "hostmap" };

/* The domain of the origin layouts. */
#define BENCH_DOMAIN "apps.test"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static struct pgen_route *make_routes(size_t n)
{
	struct pgen_route *r = calloc(n, sizeof(*r));

	for (size_t i = 0; r && i < n; i++) {
		snprintf(r[i].id, sizeof(r[i].id), "%012llx", 0x100000000000ull + (unsigned long long)(i / 5) * 7919);
		r[i].port = 10000 + (long)(i % 50000);
	}
	return r;
}

/* The start of a peer's file, up to its servers and maps: the same
 * settings as proxy-gen's, one worker; map_hash_max_size when map_hash > 0
 * (before the first map: nginx fixes it there). */
static int render_head(const struct pgen_opts *o, const char *gen, size_t n,
		       const char *what, size_t map_hash, struct buf *out)
{
	const char *d = o->dir;
	int r = buf_printf(out,
		"# generation %s, %zu routes (%s)\n"
		"worker_processes 1;\nworker_shutdown_timeout 300s;\n"
		"pid %s/nginx.pid;\nerror_log %s/error.log warn;\n"
		"events { worker_connections 4096; }\n"
		"http {\n    access_log off;\n    default_type text/plain;\n"
		"    client_body_temp_path %s/tmp/body;\n    proxy_temp_path %s/tmp/proxy;\n"
		"    fastcgi_temp_path %s/tmp/fastcgi;\n    uwsgi_temp_path %s/tmp/uwsgi;\n"
		"    scgi_temp_path %s/tmp/scgi;\n",
		gen, n, what, d, d, d, d, d, d, d);

	if (map_hash)
		r |= buf_printf(out, "    map_hash_max_size %zu;\n    map_hash_bucket_size 256;\n",
				map_hash);
	r |= buf_printf(out,
		"    map $http_upgrade $klangk_connection { default upgrade; \"\" close; }\n");
	return r;
}

/* The proxy settings of one location, as both comparison layouts below
 * write them (the same as proxy-gen's own location, so that only the
 * layout differs). */
#define BENCH_PROXY_SETTINGS \
	"            proxy_http_version 1.1;\n" \
	"            proxy_set_header Upgrade $http_upgrade;\n" \
	"            proxy_set_header Connection $klangk_connection;\n" \
	"            proxy_set_header Host $http_host;\n" \
	"            proxy_set_header X-Forwarded-For $remote_addr;\n" \
	"            proxy_set_header X-Forwarded-Proto $scheme;\n" \
	"            proxy_set_header X-Forwarded-Host $http_host;\n" \
	"            proxy_read_timeout 3600s;\n" \
	"            proxy_send_timeout 3600s;\n" \
	"            proxy_buffering off;\n" \
	"            proxy_request_buffering off;\n" \
	"            client_max_body_size 0;\n"

/*
 * The peer: what a generator without maps writes — one prefix location per
 * (id, port), each carrying the proxy settings, plus the same status server.
 */
static int render_peer(const struct pgen_opts *o, const struct pgen_route *routes,
		       size_t n, const char *gen, struct buf *out)
{
	const char *d = o->dir;
	int r = 0;

	r |= render_head(o, gen, n, "peer layout: a location per route", 0, out);
	r |= buf_printf(out,
		"    server {\n        listen %s:%ld;\n        absolute_redirect off;\n",
		o->listen_addr, o->listen_port);
	for (size_t i = 0; i < n; i++)
		r |= buf_printf(out,
			"        location /hosted/%s/%ld/ {\n"
			"            proxy_pass http://%s:%ld;\n"
			BENCH_PROXY_SETTINGS
			"        }\n"
			"        location = /hosted/%s/%ld { return 301 /hosted/%s/%ld/; }\n",
			routes[i].id, routes[i].port, o->upstream_host, routes[i].port,
			routes[i].id, routes[i].port, routes[i].id, routes[i].port);
	r |= buf_printf(out,
		"        location / { return 404; }\n    }\n"
		"    server {\n        listen unix:%s/" PGEN_STATUS_SOCK ";\n"
		"        location = /generation { return 200 \"%s\\n\"; }\n    }\n}\n",
		d, gen);
	return r ? -E2BIG : 0;
}

/*
 * The other origin-mode layout: every app's full host name a key of a
 * `hostnames` map on $host, its value the upstream (the same map sizing as
 * proxy-gen's), one server for all of them.  What it costs next to the
 * regex server_name that feeds the path mode's (id, port) map.
 */
static int render_hostmap(const struct pgen_opts *o, const struct pgen_route *routes,
			  size_t n, const char *gen, struct buf *out)
{
	const char *d = o->dir;
	int r = 0;

	r |= render_head(o, gen, n, "hostmap layout: a map of host names",
			 n * 4 > 16384 ? n * 4 : 16384, out);
	r |= buf_printf(out,
		"    map $host $klangk_upstream {\n        hostnames;\n        default \"\";\n");
	for (size_t i = 0; i < n; i++)
		r |= buf_printf(out, "        %s-%ld." BENCH_DOMAIN " %s:%ld;\n", routes[i].id,
				routes[i].port, o->upstream_host, routes[i].port);
	r |= buf_printf(out,
		"    }\n"
		"    server {\n        listen %s:%ld;\n"
		"        location / {\n"
		"            if ($klangk_upstream = \"\") { return 404; }\n"
		"            proxy_pass http://$klangk_upstream;\n"
		BENCH_PROXY_SETTINGS
		"        }\n    }\n"
		"    server {\n        listen unix:%s/" PGEN_STATUS_SOCK ";\n"
		"        location = /generation { return 200 \"%s\\n\"; }\n    }\n}\n",
		o->listen_addr, o->listen_port, d, gen);
	return r ? -E2BIG : 0;
}

/* The statuses a controller would have written for these routes (5 ports
 * per workspace), as proxy-gen's cache holds them. */
static json_t *statuses(const struct pgen_route *r, size_t n)
{
	json_t *all = json_object();

	for (size_t i = 0; i < n; i += 5) {
		struct status st;
		long hosts[5];
		const char *urls[5] = { "", "", "", "", "" };
		size_t np = 0;
		char key[64], name[32];

		status_init(&st);
		for (size_t j = i; j < n && j < i + 5; j++)
			hosts[np++] = r[j].port;
		STATUS_SET(st.id, r[i].id);
		STATUS_SET(st.phase, STATUS_RUNNING);
		status_set_ports(&st, 8000, hosts, urls, np);
		snprintf(name, sizeof(name), "w%zu", i / 5);
		keys_ws(KEYS_STATUS, "bench", name, key, sizeof(key));
		json_object_set_new(all, key, status_to_json(&st));
		status_clear(&st);
	}
	return all;
}

/* proxy-gen's whole render step (apply_once): statuses to sorted routes,
 * render twice for the generation (SHA-256).  CPU seconds. */
static double full_render(const struct pgen_opts *o, json_t *st)
{
	struct pgen_route *routes = NULL;
	size_t n = 0, skipped = 0;
	char gen[17];
	struct buf b;
	struct err e;
	double c0 = cpu_s();

	buf_init(&b, 0);
	if (pgen_routes_from_status(st, &routes, &n, &skipped) < 0 ||
	    pgen_render_generation(o, routes, n, &b, gen, &e) < 0) {
		fprintf(stderr, "full render failed\n");
		exit(1);
	}
	c0 = cpu_s() - c0;
	free(routes);
	buf_free(&b);
	return c0;
}

static int render(enum layout l, const struct pgen_opts *o, const struct pgen_route *r,
		  size_t n, const char *gen, struct buf *out)
{
	struct err e;

	buf_reset(out);
	switch (l) {
	case PEER:
		return render_peer(o, r, n, gen, out);
	case HOSTMAP:
		return render_hostmap(o, r, n, gen, out);
	default:
		return pgen_render(o, r, n, gen, out, &e);
	}
}

static int write_file(const char *path, const struct buf *b)
{
	FILE *f = fopen(path, "w");
	int r = 0;

	if (!f)
		return -errno;
	if (fwrite(b->data, 1, b->len, f) != b->len)
		r = -EIO;
	if (fclose(f) != 0)
		r = -EIO;
	return r;
}

/* Run nginx (-t when test); *cpu (may be NULL) gets its user+system
 * seconds.  Returns its exit status. */
static int run_nginx(const char *dir, const char *conf, bool test, double *cpu)
{
	struct rusage ru;
	char prefix[512], errlog[512];
	char *argv[] = { "nginx", test ? "-t" : "-p", test ? "-q" : prefix, test ? "-p" : "-e",
			 test ? prefix : errlog, test ? "-e" : "-c", test ? errlog : (char *)conf,
			 test ? "-c" : NULL, (char *)conf, NULL };
	pid_t pid;
	int st;

	snprintf(prefix, sizeof(prefix), "%s/", dir);
	snprintf(errlog, sizeof(errlog), "%s/error.log", dir);
	if (posix_spawnp(&pid, "nginx", NULL, NULL, argv, environ) != 0)
		return -1;
	while (wait4(pid, &st, 0, &ru) < 0)
		if (errno != EINTR)
			return -1;
	if (cpu)
		*cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A "Name: N kB" line of a /proc file of pid, in MiB. */
static double proc_mib(pid_t pid, const char *file, const char *name)
{
	char p[64], line[256], fmt[64];
	long kb = -1;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/%s", (int)pid, file);
	snprintf(fmt, sizeof(fmt), "%s: %%ld", name);
	f = fopen(p, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, fmt, &kb) == 1)
			break;
	fclose(f);
	return kb / 1024.0;
}

/* User+system CPU seconds of pid so far. */
static double proc_cpu(pid_t pid)
{
	char p[64], buf[1024], *rp;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	f = fopen(p, "r");
	if (!f)
		return 0;
	if (fgets(buf, sizeof(buf), f) && (rp = strrchr(buf, ')')))
		sscanf(rp + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st);
	fclose(f);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The children of pid, into kids (up to max); how many. */
static int children(pid_t pid, pid_t *kids, int max)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL && n < max) {
		char p[300], buf[512], *rp;
		int ppid;
		FILE *f;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(p, sizeof(p), "/proc/%s/stat", de->d_name);
		f = fopen(p, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f) && (rp = strrchr(buf, ')')) &&
		    sscanf(rp + 2, "%*c %d", &ppid) == 1 && ppid == pid)
			kids[n++] = (pid_t)strtol(de->d_name, NULL, 10);
		fclose(f);
	}
	closedir(d);
	return n;
}

/* Wait until pid has exactly one child, not `old`; returns it or 0. */
static pid_t new_worker(pid_t master, pid_t old)
{
	double deadline = now_s() + 60;

	while (now_s() < deadline) {
		pid_t k[8];
		int n = children(master, k, 8);

		if (n == 1 && k[0] != old)
			return k[0];
		usleep(5000);
	}
	return 0;
}

static double wait_generation(struct ngx *ng, const char *gen)
{
	double t0 = now_s();
	char s[64];

	while (now_s() - t0 < 900) {
		if (ngx_serving(ng, s, sizeof(s), NULL) == 0 && strcmp(s, gen) == 0)
			return now_s() - t0;
		usleep(1000);
	}
	return -1;
}

/* The nginx master running now, stopped at exit even on failure. */
static pid_t running_master;

static void stop_running(void)
{
	if (running_master > 0)
		kill(running_master, SIGTERM);
}

/* A port free on 127.0.0.1 now (fixed ports collide with test beds). */
static long free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	long port = 0;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static void bench(enum layout l, size_t n, const char *base)
{
	long port = free_port();

	char dir[512], conf[600], gen[16], full[32] = "-";
	struct pgen_opts o = { .listen_addr = "127.0.0.1", .listen_port = port,
			       .base_path = "", .upstream_host = "127.0.0.1",
			       .worker_processes = 1,
			       .domain = l == ORIGIN ? BENCH_DOMAIN : "", .proto = "http" };
	struct ngx ng = { .bin = "nginx", .mode = NGX_MODE_DAEMON };
	struct pgen_route *routes = make_routes(n + 1);
	double tr[5], cr[5], cf[5] = { 0 }, tv[3], cv[3], tl[3], cl[3], t0, c0;
	struct buf b;
	pid_t master, worker;
	size_t bytes;

	snprintf(dir, sizeof(dir), "%s/%s-%zu", base, layout_name[l], n);
	snprintf(conf, sizeof(conf), "%s/nginx.conf", dir);
	o.dir = dir;
	ng.dir = dir;
	buf_init(&b, 0);
	if (!routes || ngx_init(&ng) < 0 || ngx_prepare(&ng, NULL) < 0) {
		fprintf(stderr, "setup failed for %s\n", dir);
		exit(1);
	}
	for (int i = 0; i < 5; i++) {
		t0 = now_s();
		c0 = cpu_s();
		if (render(l, &o, routes, n, "a0", &b) < 0) {
			fprintf(stderr, "render failed\n");
			exit(1);
		}
		tr[i] = now_s() - t0;
		cr[i] = cpu_s() - c0;
	}
	if (l == MAP || l == ORIGIN) {
		json_t *st = statuses(routes, n);

		for (int i = 0; i < 5; i++)
			cf[i] = full_render(&o, st);
		json_decref(st);
	}
	bytes = b.len;
	write_file(conf, &b);
	for (int i = 0; i < 3; i++) {
		t0 = now_s();
		if (run_nginx(dir, conf, true, &cv[i]) != 0) {
			fprintf(stderr, "nginx -t failed on %s\n", conf);
			exit(1);
		}
		tv[i] = now_s() - t0;
	}
	if (run_nginx(dir, conf, false, NULL) != 0 || wait_generation(&ng, "a0") < 0) {
		fprintf(stderr, "nginx did not start on %s\n", conf);
		exit(1);
	}
	master = ngx_master(&ng);
	running_master = master;
	worker = new_worker(master, 0);
	for (int i = 0; i < 3; i++) {
		/* Alternate between N+1 and N routes: every reload is a change. */
		snprintf(gen, sizeof(gen), "b%d", i);
		render(l, &o, routes, i % 2 ? n : n + 1, gen, &b);
		write_file(conf, &b);
		t0 = proc_cpu(master);
		kill(master, SIGHUP);
		tl[i] = wait_generation(&ng, gen);
		if (tl[i] < 0) {
			fprintf(stderr, "reload not confirmed on %s\n", conf);
			exit(1);
		}
		cl[i] = proc_cpu(master) - t0;
		worker = new_worker(master, worker);
	}
	if (l == MAP || l == ORIGIN)
		snprintf(full, sizeof(full), "%.1f", median(cf, 5) * 1000);
	printf("| %-7s | %6zu | %5.1f / %5.1f | %5s | %7.0f | %5.0f / %5.0f | %5.0f / %5.0f | %6.1f | %6.1f | %6.1f |\n",
	       layout_name[l], n, median(tr, 5) * 1000, median(cr, 5) * 1000,
	       full, (double)bytes / 1024,
	       median(tv, 3) * 1000, median(cv, 3) * 1000, median(tl, 3) * 1000,
	       median(cl, 3) * 1000, proc_mib(master, "status", "VmRSS"),
	       proc_mib(worker, "status", "VmRSS"), proc_mib(worker, "smaps_rollup", "Pss"));
	fflush(stdout);
	kill(master, SIGTERM);
	running_master = 0;
	{
		double deadline = now_s() + 30;

		while (kill(master, 0) == 0 && now_s() < deadline)
			usleep(10000);
	}
	buf_free(&b);
	free(routes);
	ngx_destroy(&ng);
}

/* Is name in the comma-separated list (NULL or "": every layout)? */
static bool wanted(const char *list, const char *name)
{
	size_t n = strlen(name);

	if (!list || !*list)
		return true;
	for (const char *p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	char tmpl[] = "/tmp/pgen-bench.XXXXXX";
	const char *base = argc > 1 ? argv[1] : mkdtemp(tmpl);
	size_t sizes[8] = { 100, 10000, 50000 };
	int nsizes = 3;
	const char *only = getenv("PGEN_BENCH_LAYOUT"); /* "map,origin,..." */

	if (!base) {
		perror("mkdtemp");
		return 1;
	}
	if (argc > 2) {
		nsizes = 0;
		for (int i = 2; i < argc && nsizes < 8; i++)
			sizes[nsizes++] = (size_t)strtoul(argv[i], NULL, 10);
	}
	mkdir(base, 0755);
	atexit(stop_running);
	printf("| layout | routes | render ms wall / CPU | proxy-gen render CPU ms | file KiB | nginx -t ms wall / CPU | "
	       "reload ms wall / master CPU | master RSS MiB | worker RSS MiB | worker PSS MiB |\n"
	       "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
	for (int i = 0; i < nsizes; i++)
		for (int l = 0; l < N_LAYOUTS; l++)
			if (wanted(only, layout_name[l]))
				bench((enum layout)l, sizes[i], base);
	printf("\n(files in %s)\n", base);
	return 0;
}
