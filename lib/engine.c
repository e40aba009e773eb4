/* engine — Docker Engine API client (see engine.h). */
#include "engine.h"

#include "http.h"
#include "jstream.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ENGINE_API "/v1.41"
#define ENGINE_MAX_RESPONSE (64u * 1024 * 1024)

struct engine {
	engine_observer_fn observer;
	void *observer_ud;
	char *socket;    /* unix socket path, or NULL for tcp */
	char *base;      /* "http://host:port" */
	struct http_client *http;
	CURL *esc;       /* only for curl_easy_escape */
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
	r = buf_printf(&url, "%s%s%s", g->base, ENGINE_API, path);
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

int engine_container_inspect(struct engine *g, const char *name,
			     json_t **out, struct err *e)
{
	char *n = esc(g, name);
	struct buf p;
	int r;

	if (!n)
		return -ENOMEM;
	r = pathf(&p, "/containers/%s/json", n);
	if (r == 0)
		r = call(g, "inspect container", "GET", p.data, NULL, out, NULL, e);
	if (r < 0)
		err_prefix(e, "%s", name);
	buf_free(&p);
	free(n);
	return r;
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
	if (id) {
		const char *s = json_string_value(json_object_get(resp, "Id"));

		*id = strdup(s ? s : "");
		if (!*id)
			r = -ENOMEM;
	}
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

int engine_container_list(struct engine *g, const char *label, json_t **out,
			  struct err *e)
{
	json_t *arr = NULL;
	int r = list_with_label(g, "list containers", "/containers/json?all=true&",
				label, &arr, e);

	if (r < 0)
		return r;
	if (!json_is_array(arr)) {
		json_decref(arr);
		err_set(e, "list containers: engine did not answer with an array");
		return -EPROTO;
	}
	*out = arr;
	return 0;
}

int engine_volume_inspect(struct engine *g, const char *name, json_t **out,
			  struct err *e)
{
	char *n = esc(g, name);
	struct buf p;
	int r;

	if (!n)
		return -ENOMEM;
	r = pathf(&p, "/volumes/%s", n);
	if (r == 0)
		r = call(g, "inspect volume", "GET", p.data, NULL, out, NULL, e);
	if (r < 0)
		err_prefix(e, "%s", name);
	buf_free(&p);
	free(n);
	return r;
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

int engine_image_inspect(struct engine *g, const char *name, json_t **out,
			 struct err *e)
{
	char *n = esc(g, name);
	json_t *j = NULL;
	struct buf p;
	int r;

	if (!n)
		return -ENOMEM;
	r = pathf(&p, "/images/%s/json", n);
	if (r == 0)
		r = call(g, "inspect image", "GET", p.data, NULL, &j, NULL, e);
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

static int events_chunk(void *ud, const char *data, size_t len)
{
	struct events_state *s = ud;
	int r = jstream_feed(&s->js, data, len, s->e);

	if (r < 0)
		s->result = r;
	return r != 0;
}

int engine_events(struct engine *g, const char *label, engine_event_fn fn,
		  void *ud, volatile sig_atomic_t *cancel, struct err *e)
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
