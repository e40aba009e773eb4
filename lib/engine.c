/* engine — Docker Engine API client (see engine.h). */
#include "engine.h"

#include "http.h"
#include "jstream.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define ENGINE_API "/v1.41"
#define LIBPOD_API "/v4.0.0"
#define ENGINE_MAX_RESPONSE (64u * 1024 * 1024)

struct engine {
	engine_observer_fn observer;
	void *observer_ud;
	char *socket;    /* unix socket path, or NULL for tcp */
	char *base;      /* "http://host:port" */
	struct http_client *http;
	CURL *esc;       /* only for curl_easy_escape */
	bool kind_known; /* is_podman was asked (podman(): updates, networks) */
	bool is_podman;
};

const char *engine_default_host(void)
{
	const char *v = getenv("DOCKER_HOST");

	return v && *v ? v : "unix:///var/run/docker.sock";
}

int engine_new(const char *host, struct engine **out, struct err *e)
{
	struct engine *g = calloc(1, sizeof(*g));
	int r = 0;

	if (!g)
		return -ENOMEM;
	if (strncmp(host, "unix://", 7) == 0 && host[7] == '/') {
		g->socket = strdup(host + 7);
		g->base = strdup("http://engine");
	} else if (strncmp(host, "tcp://", 6) == 0 && host[6]) {
		size_t n = strlen(host + 6) + 8;

		g->base = malloc(n);
		if (g->base)
			snprintf(g->base, n, "http://%s", host + 6);
	} else {
		err_set(e, "DOCKER_HOST %s: must be unix:///path or tcp://host:port",
			host);
		r = -EINVAL;
		goto out;
	}
	if (!g->base || (strncmp(host, "unix://", 7) == 0 && !g->socket)) {
		r = -ENOMEM;
		goto out;
	}
	g->esc = curl_easy_init();
	if (!g->esc) {
		r = -ENOMEM;
		goto out;
	}
	r = http_client_new(&g->http);
out:
	if (r < 0) {
		engine_free(g);
		return r;
	}
	*out = g;
	return 0;
}

void engine_free(struct engine *g)
{
	if (!g)
		return;
	free(g->socket);
	free(g->base);
	http_client_free(g->http);
	if (g->esc)
		curl_easy_cleanup(g->esc);
	free(g);
}

/* The engine's own explanation from an error body, or the raw text. */
static void set_engine_error(struct err *e, const char *what, long status,
			     const struct buf *body)
{
	json_error_t jerr;
	json_t *j = body->data ? json_loadb(body->data, body->len, 0, &jerr) : NULL;
	const char *msg = json_string_value(json_object_get(j, "message"));

	err_set(e, "%s: engine said HTTP %ld: %s", what, status,
		msg ? msg : (body->data ? body->data : ""));
	json_decref(j);
}

static int status_errno(long status)
{
	switch (status) {
	case 404:
		return -ENOENT;
	case 409:
		return -EEXIST;
	case 401:
	case 403:
		return -EACCES;
	default:
		return -EIO;
	}
}

void engine_set_observer(struct engine *g, engine_observer_fn fn, void *ud)
{
	g->observer = fn;
	g->observer_ud = ud;
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int engine_request(struct engine *g, const char *method, const char *path,
		   const char *body, long *status, struct buf *out,
		   struct err *e)
{
	struct buf url;
	struct http_request hr = {
		.method = method,
		.unix_socket = g->socket,
		.body = body,
		.body_len = body ? strlen(body) : 0,
		/* Generous: a stop waits for the grace period. */
		.timeout_ms = 120000,
		.max_body = ENGINE_MAX_RESPONSE,
	};
	int r;

	buf_init(&url, 8192);
	/* Podman's own endpoints are versioned as Podman is: its network
	 * handlers refuse the Docker API's version (they answered in another
	 * shape before Podman 4). */
	r = buf_printf(&url, "%s%s%s", g->base,
		       strncmp(path, "/libpod/", 8) == 0 ? LIBPOD_API : ENGINE_API, path);
	if (r < 0)
		goto out;
	hr.url = url.data;
	{
		double t0 = mono_s();

		*status = 0;
		r = http_do(g->http, &hr, status, out, e);
		if (g->observer)
			g->observer(g->observer_ud, method, path, r < 0 ? 0 : *status,
				    mono_s() - t0);
	}
out:
	buf_free(&url);
	return r;
}

/* Run a request whose success statuses are 2xx and 304; parse a JSON body
 * into *json when asked. */
static int call(struct engine *g, const char *what, const char *method,
		const char *path, const char *body, json_t **json,
		long *status_out, struct err *e)
{
	struct buf out;
	json_error_t jerr;
	long status = 0;
	int r;

	buf_init(&out, ENGINE_MAX_RESPONSE);
	r = engine_request(g, method, path, body, &status, &out, e);
	if (r < 0) {
		err_prefix(e, "%s", what);
		goto out;
	}
	if (status_out)
		*status_out = status;
	if (!(status >= 200 && status < 300) && status != 304) {
		set_engine_error(e, what, status, &out);
		r = status_errno(status);
		goto out;
	}
	if (json) {
		*json = json_loadb(out.data ? out.data : "", out.len, 0, &jerr);
		if (!*json) {
			err_set(e, "%s: bad JSON from engine: %s", what, jerr.text);
			r = -EPROTO;
		}
	}
out:
	buf_free(&out);
	return r;
}

/* new: URL-escaped copy. */
static char *esc(struct engine *g, const char *s)
{
	char *c = curl_easy_escape(g->esc, s, 0);
	char *r = c ? strdup(c) : NULL;

	curl_free(c);
	return r;
}

static int pathf(struct buf *p, const char *fmt, const char *arg)
{
	buf_init(p, 8192);
	return buf_printf(p, fmt, arg);
}

int engine_ping(struct engine *g, struct err *e)
{
	return call(g, "engine ping", "GET", "/_ping", NULL, NULL, NULL, e);
}

int engine_is_podman(struct engine *g, bool *out, struct err *e)
{
	long status = 0;
	int r = call(g, "engine ping", "GET", "/libpod/_ping", NULL, NULL, &status, e);

	if (r == 0 || r == -ENOENT) {
		err_clear(e);
		*out = r == 0;
		return 0;
	}
	return r;
}

int engine_is_rootless(struct engine *g, bool *out, struct err *e)
{
	json_t *info = NULL, *opt;
	bool rootless = false;
	size_t i;
	int r = call(g, "engine info", "GET", "/info", NULL, &info, NULL, e);

	if (r < 0)
		return r;
	/* Both engines list "name=rootless" among SecurityOptions. */
	json_array_foreach(json_object_get(info, "SecurityOptions"), i, opt)
		if (json_is_string(opt) && strcmp(json_string_value(opt), "name=rootless") == 0)
			rootless = true;
	json_decref(info);
	*out = rootless;
	return 0;
}

/* GET fmt with the escaped name in it, its JSON into *out; the error
 * prefixed by the name. */
static int get_named(struct engine *g, const char *what, const char *fmt,
		     const char *name, json_t **out, struct err *e)
{
	char *n = esc(g, name);
	struct buf p;
	int r;

	if (!n)
		return -ENOMEM;
	r = pathf(&p, fmt, n);
	if (r == 0)
		r = call(g, what, "GET", p.data, NULL, out, NULL, e);
	if (r < 0)
		err_prefix(e, "%s", name);
	buf_free(&p);
	free(n);
	return r;
}

/* Podman answers an inspect that races the container's removal with 500
 * "... does not exist in database: no such container" where dockerd says
 * 404: both mean it is gone. */
int engine_container_inspect(struct engine *g, const char *name,
			     json_t **out, struct err *e)
{
	struct err local = { "" };
	struct err *why = e ? e : &local;
	int r = get_named(g, "inspect container", "/containers/%s/json", name, out, why);

	return r == -EIO && strstr(why->msg, "no such container") ? -ENOENT : r;
}

/* *id: new, the Id of a creation's answer ("" if it has none). */
static int copy_id(const json_t *resp, char **id)
{
	const char *s = json_string_value(json_object_get(resp, "Id"));

	*id = strdup(s ? s : "");
	return *id ? 0 : -ENOMEM;
}

int engine_container_create(struct engine *g, const char *name,
			    const json_t *config, char **id, struct err *e)
{
	char *n = esc(g, name);
	char *body = json_dumps(config, JSON_COMPACT);
	json_t *resp = NULL;
	struct buf p;
	int r;

	buf_init(&p, 8192);
	if (!n || !body) {
		r = -ENOMEM;
		goto out;
	}
	r = pathf(&p, "/containers/create?name=%s", n);
	if (r == 0)
		r = call(g, "create container", "POST", p.data, body, &resp, NULL, e);
	if (r < 0) {
		err_prefix(e, "%s", name);
		goto out;
	}
	if (id)
		r = copy_id(resp, id);
out:
	json_decref(resp);
	buf_free(&p);
	free(body);
	free(n);
	return r;
}

int engine_container_start(struct engine *g, const char *name, struct err *e)
{
	char *n = esc(g, name);
	struct buf p;
	int r;

	if (!n)
		return -ENOMEM;
	r = pathf(&p, "/containers/%s/start", n);
	/* 304 means it was already running: fine. */
	if (r == 0)
		r = call(g, "start container", "POST", p.data, NULL, NULL, NULL, e);
	if (r < 0)
		err_prefix(e, "%s", name);
	buf_free(&p);
	free(n);
	return r;
}

int engine_container_stop(struct engine *g, const char *name, int grace_s,
			  struct err *e)
{
	char *n = esc(g, name);
	struct buf p;
	int r;

	if (!n)
		return -ENOMEM;
	buf_init(&p, 8192);
	r = buf_printf(&p, "/containers/%s/stop?t=%d", n, grace_s);
	if (r == 0)
		r = call(g, "stop container", "POST", p.data, NULL, NULL, NULL, e);
	if (r < 0)
		err_prefix(e, "%s", name);
	buf_free(&p);
	free(n);
	return r;
}

int engine_container_remove(struct engine *g, const char *name, struct err *e)
{
	char *n = esc(g, name);
	struct buf p;
	int r;

	if (!n)
		return -ENOMEM;
	r = pathf(&p, "/containers/%s?force=true&v=true", n);
	if (r == 0)
		r = call(g, "remove container", "DELETE", p.data, NULL, NULL, NULL, e);
	if (r == -ENOENT) {
		err_clear(e);
		r = 0;
	}
	if (r < 0)
		err_prefix(e, "%s", name);
	buf_free(&p);
	free(n);
	return r;
}

/* "/things/json?...filters={"label":["k=v"]}" escaped. */
static int list_with_label(struct engine *g, const char *what,
			   const char *base, const char *label, json_t **out,
			   struct err *e)
{
	json_t *f = json_pack("{s:[s]}", "label", label);
	char *fs = f ? json_dumps(f, JSON_COMPACT) : NULL;
	char *fe = fs ? esc(g, fs) : NULL;
	struct buf p;
	int r;

	buf_init(&p, 8192);
	if (!fe) {
		r = -ENOMEM;
		goto out;
	}
	r = buf_printf(&p, "%sfilters=%s", base, fe);
	if (r == 0)
		r = call(g, what, "GET", p.data, NULL, out, NULL, e);
out:
	buf_free(&p);
	json_decref(f);
	free(fs);
	free(fe);
	return r;
}

/* A listing that answers with a JSON array (containers, networks). */
static int list_array(struct engine *g, const char *what, const char *base,
		      const char *label, json_t **out, struct err *e)
{
	json_t *arr = NULL;
	int r = list_with_label(g, what, base, label, &arr, e);

	if (r < 0)
		return r;
	if (!json_is_array(arr)) {
		json_decref(arr);
		err_set(e, "%s: engine did not answer with an array", what);
		return -EPROTO;
	}
	*out = arr;
	return 0;
}

int engine_container_list(struct engine *g, const char *label, json_t **out,
			  struct err *e)
{
	return list_array(g, "list containers", "/containers/json?all=true&", label,
			  out, e);
}

/* ---- resources and state ---- */

int engine_resources_to_json(const struct engine_resources *r, json_t *hc)
{
	const struct {
		const char *key;
		int64_t v;
	} f[] = {
		{ "NanoCpus", r->nano_cpus },
		{ "Memory", r->memory },
		{ "MemorySwap", r->memory_swap },
		{ "PidsLimit", r->pids_limit },
	};

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (f[i].v && json_object_set_new(hc, f[i].key,
						  json_integer((json_int_t)f[i].v)) < 0)
			return -ENOMEM;
	return 0;
}

/* Podman's libpod update takes the OCI runtime's LinuxResources: a CFS
 * quota per 100 ms period rather than NanoCpus. */
static json_t *libpod_resources(const struct engine_resources *r)
{
	const int64_t period = 100000; /* microseconds */
	json_t *j = json_object();
	int bad = !j;

	if (!bad && r->nano_cpus)
		bad |= json_object_set_new(j, "cpu", json_pack("{s:I,s:I}", "quota",
			(json_int_t)(r->nano_cpus * period / 1000000000),
			"period", (json_int_t)period)) < 0;
	if (!bad && (r->memory || r->memory_swap)) {
		json_t *m = json_object();

		bad |= !m;
		if (!bad && r->memory)
			bad |= json_object_set_new(m, "limit",
						   json_integer((json_int_t)r->memory)) < 0;
		if (!bad && r->memory_swap)
			bad |= json_object_set_new(m, "swap",
						   json_integer((json_int_t)r->memory_swap)) < 0;
		bad |= json_object_set_new(j, "memory", m) < 0;
	}
	if (!bad && r->pids_limit)
		bad |= json_object_set_new(j, "pids", json_pack("{s:I}", "limit",
					   (json_int_t)r->pids_limit)) < 0;
	if (bad) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* Whether the engine is Podman, asked once per client. */
static int podman(struct engine *g, bool *out, struct err *e)
{
	if (!g->kind_known) {
		int r = engine_is_podman(g, &g->is_podman, e);

		if (r < 0)
			return r;
		g->kind_known = true;
	}
	*out = g->is_podman;
	return 0;
}

int engine_container_update(struct engine *g, const char *name,
			    const struct engine_resources *res, struct err *e)
{
	char *n = esc(g, name), *body = NULL;
	json_t *req = NULL;
	bool is_podman = false;
	struct buf p;
	int r;

	buf_init(&p, 8192);
	if (!n) {
		r = -ENOMEM;
		goto out;
	}
	r = podman(g, &is_podman, e);
	if (r < 0)
		goto out;
	req = is_podman ? libpod_resources(res) : json_object();
	if (!req || (!is_podman && engine_resources_to_json(res, req) < 0) ||
	    !(body = json_dumps(req, JSON_COMPACT))) {
		r = -ENOMEM;
		goto out;
	}
	r = pathf(&p, is_podman ? "/libpod/containers/%s/update" :
				  "/containers/%s/update", n);
	if (r == 0)
		r = call(g, "update container", "POST", p.data, body, NULL, NULL, e);
	if (r < 0)
		err_prefix(e, "%s", name);
out:
	json_decref(req);
	buf_free(&p);
	free(body);
	free(n);
	return r;
}

int engine_container_state(const json_t *inspect, struct engine_state *out)
{
	const json_t *st = json_object_get(inspect, "State");
	struct engine_state s = { 0 };
	const char *status, *fin;

	if (!json_is_object(st))
		return -EPROTO;
	status = json_string_value(json_object_get(st, "Status"));
	fin = json_string_value(json_object_get(st, "FinishedAt"));
	s.running = json_is_true(json_object_get(st, "Running"));
	s.oom_killed = json_is_true(json_object_get(st, "OOMKilled"));
	s.exit_code = (int)json_integer_value(json_object_get(st, "ExitCode"));
	snprintf(s.status, sizeof(s.status), "%s", status ? status : "");
	snprintf(s.finished_at, sizeof(s.finished_at), "%s", fin ? fin : "");
	*out = s;
	return 0;
}

/* ---- networks ---- */

/* Podman's compat API answers some conflicts with HTTP 500 where dockerd
 * has a status of its own: r becomes as when the engine's message (in e)
 * holds needle. */
static int podman_conflict(int r, long status, const struct err *e,
			   const char *needle, int as)
{
	return r < 0 && status == 500 && strstr(e->msg, needle) ? as : r;
}

int engine_network_create(struct engine *g, const char *name,
			  const struct engine_network_opts *o, char **id,
			  struct err *e)
{
	json_t *req = json_pack("{s:s,s:s,s:b,s:b}", "Name", name, "Driver", "bridge",
				"CheckDuplicate", 1, "Internal", o->internal);
	json_t *resp = NULL;
	char *body = NULL;
	struct err local;
	long status = 0;
	int r = -ENOMEM;

	if (!e)
		e = &local;
	if (!req)
		goto out;
	if ((o->labels && json_object_set(req, "Labels", (json_t *)o->labels) < 0) ||
	    (o->options && json_object_set(req, "Options", (json_t *)o->options) < 0) ||
	    (o->subnet && json_object_set_new(req, "IPAM",
			json_pack("{s:s,s:[{s:s}]}", "Driver", "default", "Config",
				  "Subnet", o->subnet)) < 0))
		goto out;
	body = json_dumps(req, JSON_COMPACT);
	if (!body)
		goto out;
	r = call(g, "create network", "POST", "/networks/create", body, &resp,
		 &status, e);
	/* dockerd: 409; Podman: 500 "network name ... already used". */
	r = podman_conflict(r, status, e, "already used", -EEXIST);
	if (r < 0) {
		err_prefix(e, "%s", name);
		goto out;
	}
	if (id)
		r = copy_id(resp, id);
out:
	json_decref(resp);
	json_decref(req);
	free(body);
	return r;
}

/* o[key] = a copy of v, or dflt (stolen either way) when v is NULL. */
static int set_copy(json_t *o, const char *key, const json_t *v, json_t *dflt)
{
	if (v) {
		json_decref(dflt);
		dflt = json_deep_copy(v);
	}
	return json_object_set_new(o, key, dflt) == 0 ? 0 : -ENOMEM;
}

/*
 * Podman's compat network inspect and list fill each network's
 * "Containers" by looking at every container: with 30 networks and 60
 * containers a list took 2 s against 40 ms for its libpod twin, which
 * leaves that out, and it grows with both (BENCHMARKS.md).  On Podman the
 * two use the libpod endpoints, and docker_network gives each answer the
 * Docker API's shape for the fields callers read: Name, Id, Driver,
 * Labels, Internal, Options and IPAM.Config[].Subnet and Gateway.
 *
 * new, from the libpod network n (borrowed); NULL when out of memory.
 */
static json_t *docker_network(const json_t *n)
{
	json_t *d = json_object(), *cfg = json_array(), *sn;
	int r = d && cfg ? 0 : -ENOMEM;
	size_t i;

	json_array_foreach(json_object_get(n, "subnets"), i, sn) {
		json_t *c = json_object();

		if (r == 0 && (!c || set_copy(c, "Subnet", json_object_get(sn, "subnet"),
					      json_string("")) < 0 ||
			       set_copy(c, "Gateway", json_object_get(sn, "gateway"),
					json_string("")) < 0 ||
			       json_array_append(cfg, c) < 0))
			r = -ENOMEM;
		json_decref(c);
	}
	if (r == 0)
		r = set_copy(d, "Name", json_object_get(n, "name"), json_string(""));
	if (r == 0)
		r = set_copy(d, "Id", json_object_get(n, "id"), json_string(""));
	if (r == 0)
		r = set_copy(d, "Driver", json_object_get(n, "driver"), json_string(""));
	if (r == 0)
		r = set_copy(d, "Labels", json_object_get(n, "labels"), json_object());
	if (r == 0)
		r = set_copy(d, "Options", json_object_get(n, "options"), json_object());
	if (r == 0)
		r = json_object_set_new(d, "Internal",
					json_boolean(json_is_true(json_object_get(n, "internal"))));
	if (r == 0)
		r = json_object_set_new(d, "IPAM", json_pack("{s:s,s:O}", "Driver", "default",
							     "Config", cfg)) == 0 ? 0 : -ENOMEM;
	json_decref(cfg);
	if (r < 0) {
		json_decref(d);
		return NULL;
	}
	return d;
}

/* raw (stolen): one libpod network, or an array of them; *out: new, the
 * same in the Docker API's shape. */
static int from_libpod(json_t *raw, json_t **out)
{
	json_t *d = NULL, *n;
	size_t i;
	int r = 0;

	if (json_is_array(raw)) {
		d = json_array();
		r = d ? 0 : -ENOMEM;
		json_array_foreach(raw, i, n)
			if (r == 0 && json_array_append_new(d, docker_network(n)) < 0)
				r = -ENOMEM;
	} else if (!(d = docker_network(raw))) {
		r = -ENOMEM;
	}
	json_decref(raw);
	if (r < 0) {
		json_decref(d);
		return r;
	}
	*out = d;
	return 0;
}

int engine_network_inspect(struct engine *g, const char *name, json_t **out,
			   struct err *e)
{
	json_t *raw = NULL;
	bool pod = false;
	int r = podman(g, &pod, e);

	if (r < 0 || !pod)
		return r < 0 ? r : get_named(g, "inspect network", "/networks/%s", name, out, e);
	r = get_named(g, "inspect network", "/libpod/networks/%s/json", name, &raw, e);
	return r < 0 ? r : from_libpod(raw, out);
}

int engine_network_list(struct engine *g, const char *label, json_t **out,
			struct err *e)
{
	json_t *raw = NULL;
	bool pod = false;
	int r = podman(g, &pod, e);

	if (r < 0 || !pod)
		return r < 0 ? r : list_array(g, "list networks", "/networks?", label, out, e);
	r = list_array(g, "list networks", "/libpod/networks/json?", label, &raw, e);
	return r < 0 ? r : from_libpod(raw, out);
}

int engine_network_remove(struct engine *g, const char *name, struct err *e)
{
	struct err local;
	struct err *le = e ? e : &local;
	char *n = esc(g, name);
	long status = 0;
	struct buf p;
	int r;

	if (!n)
		return -ENOMEM;
	err_clear(le);
	r = pathf(&p, "/networks/%s", n);
	if (r == 0)
		r = call(g, "remove network", "DELETE", p.data, NULL, NULL, &status, le);
	/* In use: dockerd answers 403 ("has active endpoints"), Podman 500
	 * ("network is being used"). */
	if (r == -ENOENT) {
		err_clear(le);
		r = 0;
	} else if (r < 0 && (status == 403 || status == 409)) {
		r = -EBUSY;
	} else {
		r = podman_conflict(r, status, le, "being used", -EBUSY);
	}
	if (r < 0)
		err_prefix(le, "%s", name);
	buf_free(&p);
	free(n);
	return r;
}

/* POST /networks/{network}/{what} with body (borrowed). */
static int network_member(struct engine *g, const char *what,
			  const char *network, const char *container,
			  json_t *req, struct err *e)
{
	char *n = esc(g, network), *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	struct buf p;
	int r;

	buf_init(&p, 8192);
	if (!n || !body) {
		r = -ENOMEM;
		goto out;
	}
	r = buf_printf(&p, "/networks/%s/%s", n, what);
	if (r == 0)
		r = call(g, what, "POST", p.data, body, NULL, NULL, e);
	if (r < 0)
		err_prefix(e, "%s %s", network, container);
out:
	buf_free(&p);
	free(body);
	free(n);
	return r;
}

int engine_network_connect(struct engine *g, const char *network,
			   const char *container, const json_t *aliases,
			   struct err *e)
{
	json_t *req = json_pack("{s:s,s:{}}", "Container", container, "EndpointConfig");
	int r;

	if (req && aliases &&
	    json_object_set(json_object_get(req, "EndpointConfig"), "Aliases",
			    (json_t *)aliases) < 0) {
		json_decref(req);
		return -ENOMEM;
	}
	r = network_member(g, "connect", network, container, req, e);
	json_decref(req);
	return r;
}

int engine_network_disconnect(struct engine *g, const char *network,
			      const char *container, struct err *e)
{
	json_t *req = json_pack("{s:s,s:b}", "Container", container, "Force", 0);
	int r = network_member(g, "disconnect", network, container, req, e);

	json_decref(req);
	return r;
}

int engine_volume_inspect(struct engine *g, const char *name, json_t **out,
			  struct err *e)
{
	return get_named(g, "inspect volume", "/volumes/%s", name, out, e);
}

int engine_volume_create(struct engine *g, const char *name,
			 const json_t *labels, struct err *e)
{
	json_t *req = json_pack("{s:s,s:s,s:O}", "Name", name, "Driver", "local",
				"Labels", labels);
	char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	int r;

	if (!body) {
		json_decref(req);
		return -ENOMEM;
	}
	r = call(g, "create volume", "POST", "/volumes/create", body, NULL, NULL, e);
	if (r < 0)
		err_prefix(e, "%s", name);
	json_decref(req);
	free(body);
	return r;
}

int engine_volume_remove(struct engine *g, const char *name, struct err *e)
{
	char *n = esc(g, name);
	struct buf p;
	int r;

	if (!n)
		return -ENOMEM;
	r = pathf(&p, "/volumes/%s", n);
	if (r == 0)
		r = call(g, "remove volume", "DELETE", p.data, NULL, NULL, NULL, e);
	if (r == -ENOENT) {
		err_clear(e);
		r = 0;
	} else if (r == -EEXIST) {
		r = -EBUSY; /* 409: in use */
	}
	if (r < 0)
		err_prefix(e, "%s", name);
	buf_free(&p);
	free(n);
	return r;
}

int engine_volume_list(struct engine *g, const char *label, json_t **out,
		       struct err *e)
{
	json_t *resp = NULL, *vols;
	int r = list_with_label(g, "list volumes", "/volumes?", label, &resp, e);

	if (r < 0)
		return r;
	vols = json_object_get(resp, "Volumes");
	*out = json_is_array(vols) ? json_incref(vols) : json_array();
	json_decref(resp);
	return 0;
}

/* GET the JSON at fmt (one %s: the escaped name); *out new, or dropped
 * when out is NULL. */
static int get_json(struct engine *g, const char *what, const char *fmt, const char *name,
		    json_t **out, struct err *e)
{
	char *n = esc(g, name);
	json_t *j = NULL;
	struct buf p;
	int r;

	if (!n)
		return -ENOMEM;
	r = pathf(&p, fmt, n);
	if (r == 0)
		r = call(g, what, "GET", p.data, NULL, &j, NULL, e);
	if (r < 0)
		err_prefix(e, "%s", name);
	if (r == 0 && out)
		*out = j;
	else
		json_decref(j);
	buf_free(&p);
	free(n);
	return r;
}

int engine_image_inspect(struct engine *g, const char *name, json_t **out,
			 struct err *e)
{
	return get_json(g, "inspect image", "/images/%s/json", name, out, e);
}

struct events_state {
	engine_event_fn fn;
	void *ud;
	struct jstream js;
	struct err *e;
	int result;
};

static int event_value(void *ud, json_t *v)
{
	struct events_state *s = ud;

	if (s->fn(s->ud, v) != 0) {
		s->result = -ECANCELED;
		return 1;
	}
	return 0;
}

/* The engine accepted the stream: fn(ud, NULL) says so (see engine.h). */
static void events_response(void *ud, long status)
{
	struct events_state *s = ud;

	if (status >= 200 && status < 300 && !s->result && s->fn(s->ud, NULL) != 0)
		s->result = -ECANCELED;
}

static int events_chunk(void *ud, const char *data, size_t len)
{
	struct events_state *s = ud;
	int r = jstream_feed(&s->js, data, len, s->e);

	if (r < 0)
		s->result = r;
	return r != 0;
}

int engine_events(struct engine *g, const char *label, engine_event_fn fn,
		  void *ud, atomic_int *cancel, struct err *e)
{
	struct events_state s = { .fn = fn, .ud = ud, .e = e };
	json_t *f = json_pack("{s:[s],s:[s]}", "label", label, "type", "container");
	char *fs = f ? json_dumps(f, JSON_COMPACT) : NULL;
	char *fe = fs ? esc(g, fs) : NULL;
	struct buf url;
	long status = 0;
	int r;

	buf_init(&url, 8192);
	jstream_init(&s.js, 1024 * 1024, event_value, &s);
	if (!fe) {
		r = -ENOMEM;
		goto out;
	}
	r = buf_printf(&url, "%s%s/events?filters=%s", g->base, ENGINE_API, fe);
	if (r < 0)
		goto out;
	{
		struct http_request hr = {
			.method = "GET",
			.url = url.data,
			.unix_socket = g->socket,
			.on_chunk = events_chunk,
			.on_response = events_response,
			.ud = &s,
			.cancel = cancel,
		};

		r = http_do(g->http, &hr, &status, NULL, e);
	}
	if (s.result) {
		r = s.result;
		goto out;
	}
	if (r < 0)
		goto out;
	err_set(e, status == 200 ? "engine closed the event stream" :
				   "engine event stream: unexpected HTTP status");
	r = -ECONNRESET;
out:
	jstream_free(&s.js);
	buf_free(&url);
	json_decref(f);
	free(fs);
	free(fe);
	return r;
}

/* ---- exec ---- */

int engine_exec_create(struct engine *g, const char *container,
		       const struct engine_exec_opts *o, char **id,
		       struct err *e)
{
	json_t *req = json_object(), *cmd = json_array(), *env = json_array();
	json_t *resp = NULL;
	char *n = esc(g, container), *body = NULL;
	const char *s;
	struct buf p;
	int r;

	buf_init(&p, 8192);
	if (!req || !cmd || !env || !n) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < o->n_cmd; i++)
		json_array_append_new(cmd, json_string(o->cmd[i]));
	for (size_t i = 0; i < o->n_env; i++)
		json_array_append_new(env, json_string(o->env[i]));
	json_object_set_new(req, "AttachStdin", json_boolean(o->attach_stdin));
	json_object_set_new(req, "AttachStdout", json_true());
	json_object_set_new(req, "AttachStderr", json_true());
	json_object_set_new(req, "Tty", json_boolean(o->tty));
	json_object_set(req, "Cmd", cmd);
	json_object_set(req, "Env", env);
	if (o->user)
		json_object_set_new(req, "User", json_string(o->user));
	if (o->workdir)
		json_object_set_new(req, "WorkingDir", json_string(o->workdir));
	body = json_dumps(req, JSON_COMPACT);
	if (!body || json_array_size(cmd) != o->n_cmd || json_array_size(env) != o->n_env) {
		r = -ENOMEM;
		goto out;
	}
	r = pathf(&p, "/containers/%s/exec", n);
	if (r == 0)
		r = call(g, "create exec", "POST", p.data, body, &resp, NULL, e);
	if (r < 0) {
		err_prefix(e, "%s", container);
		goto out;
	}
	s = json_string_value(json_object_get(resp, "Id"));
	if (!s || !*s) {
		err_set(e, "create exec: the engine returned no id");
		r = -EPROTO;
		goto out;
	}
	*id = strdup(s);
	if (!*id)
		r = -ENOMEM;
out:
	json_decref(resp);
	json_decref(req);
	json_decref(cmd);
	json_decref(env);
	buf_free(&p);
	free(body);
	free(n);
	return r;
}

/* The most of a response head (status line and headers) we read. */
#define STREAM_HEAD_MAX (16u * 1024)

struct engine_stream {
	CURL *h;
	curl_socket_t fd;
	/* Bytes read with the response head that belong to the stream. */
	char *pend;
	size_t pend_len, pend_off;
};

/* Wait until fd is readable (POLLIN) or writable (POLLOUT), or timeout. */
static int wait_fd(curl_socket_t fd, short events, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int k;

	do {
		k = poll(&p, 1, timeout_ms);
	} while (k < 0 && errno == EINTR);
	if (k < 0)
		return -errno;
	return k == 0 ? -ETIMEDOUT : 0;
}

int engine_stream_send(struct engine_stream *s, const void *data, size_t len,
		       struct err *e)
{
	const char *p = data;

	while (len > 0) {
		size_t n = 0;
		CURLcode rc = curl_easy_send(s->h, p, len, &n);

		if (rc == CURLE_AGAIN) {
			int r = wait_fd(s->fd, POLLOUT, 60000);

			if (r < 0) {
				err_set(e, "exec stream: cannot send: %s", strerror(-r));
				return r;
			}
			continue;
		}
		if (rc != CURLE_OK) {
			err_set(e, "exec stream: send: %s", curl_easy_strerror(rc));
			return -EPIPE;
		}
		p += n;
		len -= n;
	}
	return 0;
}

int engine_stream_recv(struct engine_stream *s, void *buf, size_t len,
		       size_t *n, struct err *e)
{
	CURLcode rc;

	if (s->pend_off < s->pend_len) {
		size_t k = s->pend_len - s->pend_off;

		if (k > len)
			k = len;
		memcpy(buf, s->pend + s->pend_off, k);
		s->pend_off += k;
		*n = k;
		return 0;
	}
	rc = curl_easy_recv(s->h, buf, len, n);
	if (rc == CURLE_AGAIN)
		return -EAGAIN;
	if (rc != CURLE_OK) {
		err_set(e, "exec stream: receive: %s", curl_easy_strerror(rc));
		return -EIO;
	}
	return 0;
}

int engine_stream_fd(const struct engine_stream *s)
{
	return (int)s->fd;
}

bool engine_stream_pending(const struct engine_stream *s)
{
	return s->pend_off < s->pend_len;
}

int engine_stream_close_write(struct engine_stream *s)
{
	return shutdown(s->fd, SHUT_WR) < 0 ? -errno : 0;
}

void engine_stream_free(struct engine_stream *s)
{
	if (!s)
		return;
	if (s->h)
		curl_easy_cleanup(s->h);
	free(s->pend);
	free(s);
}

/* Read the response head into b (up to and including the blank line; more
 * bytes may follow it in b).  *head_len: the head's length. */
static int read_head(struct engine_stream *s, struct buf *b, size_t *head_len,
		     struct err *e)
{
	char chunk[4096];

	for (;;) {
		size_t n = 0;
		int r = engine_stream_recv(s, chunk, sizeof(chunk), &n, e);
		const char *end;

		if (r == -EAGAIN) {
			r = wait_fd(s->fd, POLLIN, 30000);
			if (r < 0) {
				err_set(e, "start exec: no answer from the engine");
				return r;
			}
			continue;
		}
		if (r < 0)
			return r;
		if (n == 0) {
			err_set(e, "start exec: the engine closed the connection");
			return -ECONNRESET;
		}
		if (buf_append(b, chunk, n) < 0) {
			err_set(e, "start exec: response head over %u bytes", STREAM_HEAD_MAX);
			return -E2BIG;
		}
		end = strstr(b->data, "\r\n\r\n");
		if (end) {
			*head_len = (size_t)(end - b->data) + 4;
			return 0;
		}
	}
}

int engine_exec_start(struct engine *g, const char *id, bool tty,
		      struct engine_stream **out, struct err *e)
{
	struct engine_stream *s = calloc(1, sizeof(*s));
	struct buf req, head;
	char body[64], *n = esc(g, id);
	const char *host = g->socket ? "docker" : g->base + strlen("http://");
	size_t head_len = 0;
	long status = 0;
	curl_socket_t fd = CURL_SOCKET_BAD;
	CURLcode rc;
	int r;

	buf_init(&req, 16384);
	buf_init(&head, STREAM_HEAD_MAX + 4096);
	if (!s || !n || !(s->h = curl_easy_init())) {
		r = -ENOMEM;
		goto out;
	}
	/* libcurl connects (unix socket or TCP) and hands the connection
	 * over: the request is written by hand because after the engine's
	 * answer the connection is no longer HTTP but the process's stream. */
	curl_easy_setopt(s->h, CURLOPT_URL, g->base);
	if (g->socket)
		curl_easy_setopt(s->h, CURLOPT_UNIX_SOCKET_PATH, g->socket);
	curl_easy_setopt(s->h, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(s->h, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
	curl_easy_setopt(s->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->h, CURLOPT_PROTOCOLS_STR, "http");
	rc = curl_easy_perform(s->h);
	if (rc != CURLE_OK) {
		err_set(e, "start exec: cannot connect to the engine: %s",
			curl_easy_strerror(rc));
		r = -ECONNREFUSED;
		goto out;
	}
	if (curl_easy_getinfo(s->h, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK ||
	    fd == CURL_SOCKET_BAD) {
		err_set(e, "start exec: no socket");
		r = -EIO;
		goto out;
	}
	s->fd = fd;
	snprintf(body, sizeof(body), "{\"Detach\":false,\"Tty\":%s}", tty ? "true" : "false");
	r = buf_printf(&req,
		       "POST " ENGINE_API "/exec/%s/start HTTP/1.1\r\n"
		       "Host: %s\r\n"
		       "User-Agent: klangk\r\n"
		       "Content-Type: application/json\r\n"
		       "Connection: Upgrade\r\n"
		       "Upgrade: tcp\r\n"
		       "Content-Length: %zu\r\n\r\n%s",
		       n, host, strlen(body), body);
	if (r < 0)
		goto out;
	r = engine_stream_send(s, req.data, req.len, e);
	if (r == 0)
		r = read_head(s, &head, &head_len, e);
	if (r < 0)
		goto out;
	if (sscanf(head.data, "HTTP/1.%*c %ld", &status) != 1) {
		err_set(e, "start exec: not an HTTP answer from the engine");
		r = -EPROTO;
		goto out;
	}
	if (status != 101 && status != 200) {
		/* The engine's explanation follows the head, usually whole. */
		struct buf msg;

		buf_init(&msg, 0);
		buf_append(&msg, head.data + head_len, head.len - head_len);
		set_engine_error(e, "start exec", status, &msg);
		buf_free(&msg);
		r = status_errno(status);
		goto out;
	}
	if (head.len > head_len) {
		s->pend_len = head.len - head_len;
		s->pend = malloc(s->pend_len);
		if (!s->pend) {
			r = -ENOMEM;
			goto out;
		}
		memcpy(s->pend, head.data + head_len, s->pend_len);
	}
out:
	buf_free(&req);
	buf_free(&head);
	free(n);
	if (r < 0) {
		engine_stream_free(s);
		return r;
	}
	*out = s;
	return 0;
}

int engine_exec_resize(struct engine *g, const char *id, unsigned rows,
		       unsigned cols, struct err *e)
{
	char *n = esc(g, id);
	struct buf p;
	int r;

	if (!n)
		return -ENOMEM;
	buf_init(&p, 8192);
	r = buf_printf(&p, "/exec/%s/resize?h=%u&w=%u", n, rows, cols);
	if (r == 0)
		r = call(g, "resize exec", "POST", p.data, NULL, NULL, NULL, e);
	buf_free(&p);
	free(n);
	return r;
}

int engine_exec_wait(struct engine *g, const char *id, long timeout_ms,
		     int *exit_code, struct err *e)
{
	char *n = esc(g, id);
	double deadline = mono_s() + (double)timeout_ms / 1000.0;
	long delay_ms = 5;
	struct buf p;
	int r;

	if (!n)
		return -ENOMEM;
	r = pathf(&p, "/exec/%s/json", n);
	while (r == 0) {
		json_t *j = NULL;
		json_t *code;

		r = call(g, "inspect exec", "GET", p.data, NULL, &j, NULL, e);
		if (r < 0)
			break;
		code = json_object_get(j, "ExitCode");
		if (!json_is_true(json_object_get(j, "Running")) && json_is_integer(code)) {
			*exit_code = (int)json_integer_value(code);
			json_decref(j);
			break;
		}
		json_decref(j);
		/* The stream ends a moment before the engine records the
		 * exit code; it has no event for an exec we could wait on. */
		if (mono_s() >= deadline) {
			err_set(e, "exec %s: still running after its output ended", id);
			r = -ETIMEDOUT;
			break;
		}
		{
			struct timespec ts = { 0, delay_ms * 1000000L };

			nanosleep(&ts, NULL);
		}
		if (delay_ms < 200)
			delay_ms *= 2;
	}
	buf_free(&p);
	free(n);
	return r;
}

int engine_demux_feed(struct engine_demux *d, const char *data, size_t len,
		      engine_demux_fn fn, void *ud)
{
	while (len > 0) {
		if (d->left == 0) {
			size_t k = sizeof(d->hdr) - d->hlen;

			if (k > len)
				k = len;
			memcpy(d->hdr + d->hlen, data, k);
			d->hlen += k;
			data += k;
			len -= k;
			if (d->hlen < sizeof(d->hdr))
				return 0;
			if (d->hdr[0] > 2 || d->hdr[1] || d->hdr[2] || d->hdr[3])
				return -EPROTO;
			d->stream = d->hdr[0];
			d->left = (uint32_t)d->hdr[4] << 24 | (uint32_t)d->hdr[5] << 16 |
				  (uint32_t)d->hdr[6] << 8 | (uint32_t)d->hdr[7];
			d->hlen = 0;
			continue;
		}
		{
			size_t k = len < d->left ? len : d->left;

			if (fn(ud, d->stream, data, k) != 0)
				return -ECANCELED;
			d->left -= (uint32_t)k;
			data += k;
			len -= k;
		}
	}
	return 0;
}

/* ---- logs and stats ---- */

int engine_container_logs(struct engine *g, const char *name, bool follow, long tail,
			  http_chunk_fn fn, void *ud, atomic_int *cancel,
			  struct err *e)
{
	char *n = esc(g, name), t[32];
	struct buf url, body;
	long status = 0;
	int r;

	buf_init(&url, 16384);
	buf_init(&body, 64 * 1024);
	if (tail >= 0)
		snprintf(t, sizeof(t), "%ld", tail);
	else
		snprintf(t, sizeof(t), "all");
	r = n ? buf_printf(&url, "%s%s/containers/%s/logs?stdout=1&stderr=1&follow=%d&tail=%s",
			   g->base, ENGINE_API, n, follow ? 1 : 0, t) : -ENOMEM;
	if (r == 0) {
		struct http_request hr = {
			.method = "GET",
			.url = url.data,
			.unix_socket = g->socket,
			.on_chunk = fn,
			.ud = ud,
			.chunk_2xx_only = 1,
			.max_body = 64 * 1024,
			.cancel = cancel,
		};

		r = http_do(g->http, &hr, &status, &body, e);
		if (r < 0)
			err_prefix(e, "logs of %s", name);
		else if (status < 200 || status >= 300) {
			set_engine_error(e, "logs", status, &body);
			err_prefix(e, "%s", name);
			r = status_errno(status);
		}
	}
	buf_free(&url);
	buf_free(&body);
	free(n);
	return r;
}

int engine_container_stats(struct engine *g, const char *name, json_t **out,
			   struct err *e)
{
	return get_json(g, "container stats", "/containers/%s/stats?stream=false", name, out, e);
}

/* ---- archive ---- */

static int archive_path(struct engine *g, const char *container,
			const char *path, const char *extra, struct buf *p)
{
	char *n = esc(g, container), *ep = esc(g, path);
	int r;

	buf_init(p, 16384);
	r = n && ep ? buf_printf(p, "%s%s/containers/%s/archive?path=%s%s", g->base,
				 ENGINE_API, n, ep, extra) : -ENOMEM;
	free(n);
	free(ep);
	return r;
}

/* The end of an archive transfer: an HTTP status other than 2xx is the
 * engine's error, its message in body. */
static int archive_done(int r, long status, const char *what,
			const char *container, const struct buf *body,
			struct err *e)
{
	if (r < 0) {
		err_prefix(e, "%s %s", what, container);
		return r;
	}
	if (status < 200 || status >= 300) {
		set_engine_error(e, what, status, body);
		err_prefix(e, "%s", container);
		return status_errno(status);
	}
	return 0;
}

int engine_archive_get(struct engine *g, const char *container, const char *path,
		       http_chunk_fn fn, void *ud, struct err *e)
{
	struct buf url, body;
	long status = 0;
	int r;

	buf_init(&body, 64 * 1024);
	r = archive_path(g, container, path, "", &url);
	if (r == 0) {
		struct http_request hr = {
			.method = "GET",
			.url = url.data,
			.unix_socket = g->socket,
			.on_chunk = fn,
			.ud = ud,
			.chunk_2xx_only = 1,
			.max_body = 64 * 1024,
		};

		r = http_do(g->http, &hr, &status, &body, e);
		r = archive_done(r, status, "read archive", container, &body, e);
	}
	buf_free(&url);
	buf_free(&body);
	return r;
}

int engine_archive_put(struct engine *g, const char *container, const char *path,
		       http_read_fn fn, void *ud, long long len, struct err *e)
{
	struct buf url, body;
	long status = 0;
	int r;

	buf_init(&body, 64 * 1024);
	/* A directory in the archive never replaces a file of the container
	 * (or the reverse). */
	r = archive_path(g, container, path, "&noOverwriteDirNonDir=true", &url);
	if (r == 0) {
		struct http_request hr = {
			.method = "PUT",
			.url = url.data,
			.unix_socket = g->socket,
			.content_type = "application/x-tar",
			.on_read = fn,
			.ud = ud,
			.upload_len = len,
			.max_body = 64 * 1024,
			.timeout_ms = 0,
		};

		r = http_do(g->http, &hr, &status, &body, e);
		r = archive_done(r, status, "write archive", container, &body, e);
	}
	buf_free(&url);
	buf_free(&body);
	return r;
}
