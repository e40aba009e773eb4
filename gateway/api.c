/*
 * api — routes, authentication and the streams (see api.h).
 */
#include "api.h"

#include "access.h"
#include "appauth.h"
#include "buf.h"
#include "codec.h"
#include "engine.h"
#include "exec.h"
#include "hosting.h"
#include "httpd.h"
#include "keys.h"
#include "log.h"
#include "page.h"
#include "ws.h"
#include "wsarchive.h"
#include "wsframe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define API_PREFIX "/api/v1/namespaces/"
#define PAGE_COOKIE "klangk_session"
#define CSRF_HEADER "X-Klangk-CSRF"
#define SIGNIN_MAX_BODY 4096

struct api {
	struct gw *g;
	struct MHD_Daemon *mhd;
	int fd, port;
};

enum route {
	R_NONE,
	R_HEALTH,
	R_WHOAMI,
	R_IMAGE,
	R_EXEC,
	R_LOGS,
	R_TOP,
	R_EXPORT,
	R_IMPORT,
	R_PAGE,       /* the page's files */
	R_SIGNIN,     /* the page's sign-in: a session cookie */
	R_SIGNOUT,
	R_LIST,       /* the caller's workspaces */
	R_START,
	R_APP_PAGE,     /* GET /app/<id>-<port>...: the page, signing in for an app */
	R_APP_TICKET,   /* POST: a member's one-time ticket for an app */
	R_APP_AUTH,     /* nginx: is this app cookie good for this app? */
	R_APP_CALLBACK, /* nginx, on the app's origin: the ticket for the cookie */
};

/* One request's state across libmicrohttpd's calls. */
struct req {
	enum route route;
	char ns[64], name[64];
	struct caller caller;
	bool authed;
	int upload_fd;            /* import: the body so far */
	long long upload_len;
	bool too_large;
	char sid[WEBSESS_SECRET_HEX + 1];   /* the page session it came with */
	char csrf[WEBSESS_SECRET_HEX + 1];
	char body[SIGNIN_MAX_BODY];         /* sign-in: the JSON so far */
	size_t body_len;
};

/* ---- answers ---- */

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status,
			      const char *type, const char *body)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result r;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", type);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	/* Not to the page (it names its CSRF header, even empty): a browser
	 * would answer with its own password dialog, not the page's form. */
	if (status == 401 && !MHD_lookup_connection_value(conn, MHD_HEADER_KIND, CSRF_HEADER))
		MHD_add_response_header(resp, "WWW-Authenticate", "Basic realm=\"klangk\"");
	r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result answer_json(struct MHD_Connection *conn, unsigned status,
				   json_t *j /* stolen */)
{
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	enum MHD_Result r = text ? answer(conn, status, "application/json", text) : MHD_NO;

	free(text);
	json_decref(j);
	return r;
}

static const char *reason_of(unsigned status)
{
	switch (status) {
	case 400: return "BadRequest";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "NotFound";
	case 405: return "MethodNotAllowed";
	case 409: return "Conflict";
	case 413: return "TooLarge";
	case 415: return "UnsupportedMediaType";
	case 429: return "TooManySessions";
	case 502: return "EngineError";
	case 503: return "Unavailable";
	default: return "InternalError";
	}
}

static enum MHD_Result refuse(struct MHD_Connection *conn, unsigned status, const char *why)
{
	log_info("request refused", "status", reason_of(status), "why", why, NULL);
	return answer_json(conn, status, json_pack("{s:s,s:s}", "error", why, "reason",
						   reason_of(status)));
}

/* An HTTP status for a failed etcd request made as the caller. */
static unsigned etcd_status(int r, const struct err *e)
{
	/* An anonymous caller while etcd's authentication is on (etcd says
	 * 400 "user name is empty"). */
	if (strstr(e->msg, "requires authentication"))
		return 401;
	if (r == -EACCES)
		return 403;
	if (r == -ENOENT)
		return 404;
	if (r == -ECONNREFUSED || r == -ETIMEDOUT)
		return 503;
	if (r == -EINVAL)
		return 400;
	return 500;
}

/* ---- routes ---- */

static enum route parse_route(const char *url, const char *method, struct req *q)
{
	const char *p, *slash, *sub;
	size_t n;
	bool get = strcmp(method, "GET") == 0;

	bool post = strcmp(method, "POST") == 0;

	if (strcmp(url, "/healthz") == 0)
		return get ? R_HEALTH : R_NONE;
	if (page_find(url))
		return get ? R_PAGE : R_NONE;
	if (strncmp(url, HOSTING_GW_SIGNIN, strlen(HOSTING_GW_SIGNIN)) == 0)
		return get ? R_APP_PAGE : R_NONE;
	if (strcmp(url, "/api/v1/app/ticket") == 0)
		return post ? R_APP_TICKET : R_NONE;
	if (strcmp(url, HOSTING_GW_AUTH) == 0)
		return get ? R_APP_AUTH : R_NONE;
	if (strcmp(url, HOSTING_GW_CALLBACK) == 0)
		return get ? R_APP_CALLBACK : R_NONE;
	if (strcmp(url, "/api/v1/signin") == 0)
		return post ? R_SIGNIN : R_NONE;
	if (strcmp(url, "/api/v1/signout") == 0)
		return post ? R_SIGNOUT : R_NONE;
	if (strcmp(url, "/api/v1/workspaces") == 0)
		return get ? R_LIST : R_NONE;
	if (strcmp(url, "/api/v1/whoami") == 0)
		return get ? R_WHOAMI : R_NONE;
	if (strcmp(url, "/api/v1/images") == 0)
		return get ? R_IMAGE : R_NONE;
	if (strncmp(url, API_PREFIX, strlen(API_PREFIX)) != 0)
		return R_NONE;
	p = url + strlen(API_PREFIX);
	slash = strchr(p, '/');
	if (!slash || (n = (size_t)(slash - p)) == 0 || n >= sizeof(q->ns))
		return R_NONE;
	memcpy(q->ns, p, n);
	q->ns[n] = '\0';
	p = slash;
	if (strncmp(p, "/workspaces/", 12) != 0)
		return R_NONE;
	p += 12;
	slash = strchr(p, '/');
	if (!slash || (n = (size_t)(slash - p)) == 0 || n >= sizeof(q->name))
		return R_NONE;
	memcpy(q->name, p, n);
	q->name[n] = '\0';
	sub = slash + 1;
	if (!ws_is_dns_label(q->ns) || !ws_is_dns_label(q->name))
		return R_NONE;
	if (strcmp(sub, "import") == 0)
		return strcmp(method, "PUT") == 0 ? R_IMPORT : R_NONE;
	if (strcmp(sub, "start") == 0)
		return post ? R_START : R_NONE;
	if (!get)
		return R_NONE;
	if (strcmp(sub, "exec") == 0)
		return R_EXEC;
	if (strcmp(sub, "logs") == 0)
		return R_LOGS;
	if (strcmp(sub, "top") == 0)
		return R_TOP;
	if (strcmp(sub, "export") == 0)
		return R_EXPORT;
	return R_NONE;
}

/* ---- who is calling ---- */

static bool peer_is_loopback(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	if (!sa)
		return false;
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return false;
}

/* A page of another origin may make the browser send our credentials
 * (the session cookie goes to every port of a host, and SameSite treats
 * the ports of one host as one site): any request naming an Origin must
 * name ours, KLANGK_GATEWAY_ORIGIN or else http://<Host>. */
static bool origin_ok(struct api *a, struct MHD_Connection *conn, struct err *e)
{
	const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
	const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
	char want[512];

	if (!origin)
		return true; /* not a browser's cross-origin request */
	if (a->g->cfg.origin[0])
		snprintf(want, sizeof(want), "%s", a->g->cfg.origin);
	else
		snprintf(want, sizeof(want), "http://%s", host ? host : "");
	if (strcmp(origin, want) == 0)
		return true;
	err_set(e, "requests from another origin are refused (Origin %.200s, the gateway's "
		   "is %.200s%s)", origin, want,
		MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, PAGE_COOKIE) ?
		"; it came with a page session's cookie" : "");
	return false;
}

/* Requests that change something, or open a session: from a browser they
 * must name their Origin (browsers always do for these). */
static bool state_changing(const struct req *q)
{
	return q->route == R_EXEC || q->route == R_START || q->route == R_SIGNOUT ||
	       q->route == R_IMPORT || q->route == R_EXPORT || q->route == R_APP_TICKET;
}

/* The page's session cookie and CSRF token into the caller.  Returns an
 * HTTP status (0 when the caller is known). */
static unsigned authenticate_page(struct api *a, struct MHD_Connection *conn, struct req *q,
				  const char *sid, struct err *e)
{
	const char *csrf = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, CSRF_HEADER);
	char user[256], *password = NULL;
	int r;

	/* A WebSocket upgrade cannot carry headers of the page's choosing. */
	if (!csrf && q->route == R_EXEC)
		csrf = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "csrf");
	if (state_changing(q) && !MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin")) {
		err_set(e, "a request with the page's session must name its Origin");
		return 403;
	}
	r = websess_check(&a->g->page, sid, csrf, user, &password, e);
	if (r == -ENOENT)
		return 401;
	if (r == -EPERM)
		return 403;
	if (r < 0)
		return 500;
	snprintf(q->sid, sizeof(q->sid), "%s", sid);
	snprintf(q->csrf, sizeof(q->csrf), "%s", csrf);
	/* Signed in to etcd again, as Basic is: etcd's tokens go stale at
	 * every change of a role, and a changed password ends the session. */
	r = password ? caller_password(&a->g->cfg.etcd, user, password, &q->caller, e)
		     : caller_anonymous(&a->g->cfg.etcd, &q->caller, e);
	if (password) {
		OPENSSL_cleanse(password, strlen(password));
		free(password);
	}
	if (r == -EACCES)
		return 401;
	return r < 0 ? etcd_status(r, e) : 0;
}

/* "Basic base64(user:password)" into the caller.  Returns an HTTP status
 * (0 when the caller is known). */
static unsigned authenticate(struct api *a, struct MHD_Connection *conn, struct req *q,
			     struct err *e)
{
	const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	const char *sid = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, PAGE_COOKIE);
	unsigned char dec[1024];
	char *colon;
	size_t hl;
	int n, r;

	if (!h && sid)
		return authenticate_page(a, conn, q, sid, e);
	if (!h) {
		if (!peer_is_loopback(conn)) {
			err_set(e, "sign in with your etcd user name and password (HTTP Basic)");
			return 401;
		}
		r = caller_anonymous(&a->g->cfg.etcd, &q->caller, e);
		return r < 0 ? 500 : 0;
	}
	if (strncmp(h, "Basic ", 6) != 0) {
		err_set(e, "only HTTP Basic authentication is accepted");
		return 401;
	}
	h += 6;
	hl = strlen(h);
	if (hl == 0 || hl % 4 || hl / 4 * 3 >= sizeof(dec)) {
		err_set(e, "malformed Authorization header");
		return 401;
	}
	n = EVP_DecodeBlock(dec, (const unsigned char *)h, (int)hl);
	if (n < 0) {
		err_set(e, "malformed Authorization header");
		return 401;
	}
	while (n > 0 && h[hl - 1] == '=' && hl--)
		n--;
	dec[n] = '\0';
	colon = strchr((char *)dec, ':');
	if (!colon || colon == (char *)dec || strlen((char *)dec) != (size_t)n) {
		OPENSSL_cleanse(dec, sizeof(dec));
		err_set(e, "malformed Authorization header");
		return 401;
	}
	*colon = '\0';
	r = caller_password(&a->g->cfg.etcd, (char *)dec, colon + 1, &q->caller, e);
	OPENSSL_cleanse(dec, sizeof(dec));
	if (r == -EACCES)
		return 401;
	if (r < 0)
		return etcd_status(r, e);
	return 0;
}

/* ---- exec ---- */

struct cmd_collect {
	struct exec_req *rq;
	bool too_many;
};

static enum MHD_Result collect_cmd(void *cls, enum MHD_ValueKind kind, const char *key,
				   const char *value)
{
	struct cmd_collect *c = cls;

	(void)kind;
	if (strcmp(key, "cmd") != 0)
		return MHD_YES;
	if (c->rq->n_cmd == EXEC_MAX_ARGS) {
		c->too_many = true;
		return MHD_NO;
	}
	c->rq->cmd[c->rq->n_cmd++] = value ? value : "";
	return MHD_YES;
}

static unsigned query_uint(struct MHD_Connection *conn, const char *key)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, key);
	char *end;
	unsigned long n;

	if (!v)
		return 0;
	n = strtoul(v, &end, 10);
	return *end || n > 9999 ? 0 : (unsigned)n;
}

static void upgraded(void *cls, struct MHD_Connection *conn, void *con_cls,
		     const char *extra, size_t n_extra, MHD_socket sock,
		     struct MHD_UpgradeResponseHandle *urh);

static void close_upgraded(void *ud)
{
	MHD_upgrade_action(ud, MHD_UPGRADE_ACTION_CLOSE);
}

static enum MHD_Result do_exec(struct api *a, struct MHD_Connection *conn, struct req *q)
{
	const char *up = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Upgrade");
	const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Key");
	const char *ver = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						      "Sec-WebSocket-Version");
	const char *tty = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "tty");
	const char *term = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "term");
	struct exec_req rq = { .rows = query_uint(conn, "rows"), .cols = query_uint(conn, "cols") };
	struct cmd_collect cc = { .rq = &rq };
	struct exec_session *s = NULL;
	struct MHD_Response *resp;
	char accept[29];
	struct err e = { "" };
	int status = 500;
	enum MHD_Result ret;

	if (!up || strcasecmp(up, "websocket") != 0 || !key || !ver || strcmp(ver, "13") != 0 ||
	    wsframe_accept_key(key, accept) < 0)
		return refuse(conn, 400, "exec is a WebSocket (version 13) upgrade");
	snprintf(rq.ns, sizeof(rq.ns), "%s", q->ns);
	snprintf(rq.name, sizeof(rq.name), "%s", q->name);
	rq.tty = tty && strcmp(tty, "1") == 0;
	if (term && strlen(term) < sizeof(rq.term) && strspn(term, "abcdefghijklmnopqrstuvwxyz"
				"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._+") == strlen(term))
		snprintf(rq.term, sizeof(rq.term), "%s", term);
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_cmd, &cc);
	if (cc.too_many)
		return refuse(conn, 400, "a command of at most 256 arguments");
	if (exec_prepare(a->g, &q->caller, &rq, &s, &status, &e) < 0)
		return refuse(conn, (unsigned)status, e.msg);
	resp = MHD_create_response_for_upgrade(upgraded, s);
	if (!resp) {
		exec_session_free(s);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Upgrade", "websocket");
	MHD_add_response_header(resp, "Connection", "Upgrade");
	MHD_add_response_header(resp, "Sec-WebSocket-Accept", accept);
	ret = MHD_queue_response(conn, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
	MHD_destroy_response(resp);
	if (ret != MHD_YES)
		exec_session_free(s);
	return ret;
}

static void upgraded(void *cls, struct MHD_Connection *conn, void *con_cls,
		     const char *extra, size_t n_extra, MHD_socket sock,
		     struct MHD_UpgradeResponseHandle *urh)
{
	struct exec_session *s = cls;

	(void)conn;
	(void)con_cls;
	if (exec_start(s, sock, extra, n_extra, close_upgraded, urh) < 0) {
		exec_session_free(s);
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
	}
}

/* ---- logs: an engine stream into a pipe that libmicrohttpd sends ---- */

struct logs_job {
	struct gw *g;
	char user[256];
	char container[256];
	bool follow, tty;
	long tail;
	int wfd;
	struct engine_demux dm;
};

static int logs_out(void *ud, int stream, const char *data, size_t len)
{
	(void)stream;
	return gw_write_all(((struct logs_job *)ud)->wfd, data, len) < 0;
}

static int logs_chunk(void *ud, const char *data, size_t len)
{
	struct logs_job *j = ud;

	if (j->tty)
		return gw_write_all(j->wfd, data, len) < 0;
	return engine_demux_feed(&j->dm, data, len, logs_out, j) != 0;
}

static void *logs_main(void *arg)
{
	struct logs_job *j = arg;
	struct engine *eg = NULL;
	struct err e = { "" };
	int r = engine_new(j->g->cfg.engine, &eg, &e);

	if (r == 0)
		r = engine_container_logs(eg, j->container, j->follow, j->tail, logs_chunk, j,
					  &j->g->cancel, &e);
	if (r < 0 && r != -ECANCELED)
		log_warn("logs stream ended", "container", j->container, "error", e.msg, NULL);
	engine_free(eg);
	close(j->wfd);
	gw_session_release(j->g, j->user);
	free(j);
	return NULL;
}

/* The running container's name, read as the caller (the read right);
 * on failure *status is how to answer. */
static int workspace_container(struct req *q, struct ws **w, char *out, size_t len,
			       unsigned *status, struct err *e)
{
	struct status st;
	int r = access_read(&q->caller, q->ns, q->name, w, &st, e);

	if (r < 0) {
		*status = etcd_status(r, e);
		return r;
	}
	r = access_container(&st, q->ns, q->name, false, out, len, e);
	if (r < 0)
		*status = 409;
	status_clear(&st);
	return r;
}

static enum MHD_Result do_logs(struct api *a, struct MHD_Connection *conn, struct req *q)
{
	const char *follow = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "follow");
	const char *tail = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "tail");
	struct logs_job *j = calloc(1, sizeof(*j));
	struct MHD_Response *resp;
	struct engine *eg = NULL;
	struct ws *w = NULL;
	json_t *info = NULL;
	struct err e = { "" };
	unsigned status = 500;
	int fds[2] = { -1, -1 };
	pthread_t t;
	enum MHD_Result ret;

	if (!j)
		return MHD_NO;
	j->g = a->g;
	j->follow = follow && strcmp(follow, "1") == 0;
	j->tail = tail ? strtol(tail, NULL, 10) : -1;
	if (workspace_container(q, &w, j->container, sizeof(j->container), &status, &e) < 0)
		goto fail;
	status = 502;
	if (engine_new(a->g->cfg.engine, &eg, &e) < 0 ||
	    engine_container_inspect(eg, j->container, &info, &e) < 0)
		goto fail;
	j->tty = json_is_true(json_object_get(json_object_get(info, "Config"), "Tty"));
	status = 429;
	if (gw_session_acquire(a->g, q->caller.user, &e) < 0)
		goto fail;
	snprintf(j->user, sizeof(j->user), "%s", q->caller.user);
	if (pipe2(fds, O_CLOEXEC) < 0 || !(resp = MHD_create_response_from_pipe(fds[0]))) {
		gw_session_release(a->g, j->user);
		status = 500;
		err_set(&e, "no pipe");
		goto fail;
	}
	j->wfd = fds[1];
	if (pthread_create(&t, NULL, logs_main, j) != 0) {
		MHD_destroy_response(resp); /* closes fds[0] */
		close(fds[1]);
		gw_session_release(a->g, j->user);
		free(j);
		j = NULL;
		ret = MHD_NO;
		goto out;
	}
	pthread_detach(t);
	j = NULL;
	MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	/* A followed log may stay silent for long: no inactivity timeout. */
	MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
	ret = MHD_queue_response(conn, 200, resp);
	MHD_destroy_response(resp);
	goto out;
fail:
	ret = refuse(conn, status, e.msg);
	free(j);
out:
	engine_free(eg);
	json_decref(info);
	ws_free(w);
	return ret;
}

/* ---- top ---- */

static double jnum(const json_t *o, const char *a, const char *b)
{
	const json_t *v = json_object_get(b ? json_object_get(o, a) : o, b ? b : a);

	return json_is_number(v) ? json_number_value(v) : 0;
}

/* CPU percent of one sample, as `docker stats` computes it. */
static double cpu_percent(const json_t *s)
{
	const json_t *cpu = json_object_get(s, "cpu_stats"), *pre = json_object_get(s, "precpu_stats");
	double d_cpu = jnum(cpu, "cpu_usage", "total_usage") - jnum(pre, "cpu_usage", "total_usage");
	double d_sys = jnum(cpu, "system_cpu_usage", NULL) - jnum(pre, "system_cpu_usage", NULL);
	double n = jnum(cpu, "online_cpus", NULL);

	if (n <= 0)
		n = (double)json_array_size(json_object_get(json_object_get(cpu, "cpu_usage"),
							    "percpu_usage"));
	if (n <= 0)
		n = 1;
	return d_cpu > 0 && d_sys > 0 ? d_cpu / d_sys * n * 100.0 : 0;
}

static enum MHD_Result do_top(struct api *a, struct MHD_Connection *conn, struct req *q)
{
	char container[256];
	struct engine *eg = NULL;
	struct ws *w = NULL;
	json_t *s = NULL;
	struct err e = { "" };
	unsigned status = 500;
	enum MHD_Result ret;

	if (workspace_container(q, &w, container, sizeof(container), &status, &e) < 0) {
		ret = refuse(conn, status, e.msg);
		goto out;
	}
	if (engine_new(a->g->cfg.engine, &eg, &e) < 0 ||
	    engine_container_stats(eg, container, &s, &e) < 0) {
		ret = refuse(conn, 502, e.msg);
		goto out;
	}
	ret = answer_json(conn, 200, json_pack("{s:s,s:s,s:f,s:f,s:f,s:f}", "namespace", q->ns,
					       "workspace", q->name, "cpuPercent", cpu_percent(s),
					       "memoryBytes", jnum(s, "memory_stats", "usage"),
					       "memoryLimitBytes", jnum(s, "memory_stats", "limit"),
					       "pids", jnum(s, "pids_stats", "current")));
out:
	json_decref(s);
	engine_free(eg);
	ws_free(w);
	return ret;
}

/* ---- export and import ---- */

/* An unnamed temporary file.  new fd or -errno. */
static int temp_fd(void)
{
	const char *d = getenv("TMPDIR");
	int fd = open(d && *d ? d : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	return fd < 0 ? -errno : fd;
}

static int to_fd(void *ud, const char *data, size_t len)
{
	return gw_write_all(*(int *)ud, data, len) < 0;
}

/* The object as exported: apiVersion, kind, name, namespace, labels and
 * spec.  new. */
static json_t *export_object(const json_t *doc)
{
	const json_t *meta = json_object_get(doc, "metadata");
	const json_t *labels = json_object_get(meta, "labels");
	json_t *m = json_pack("{s:O,s:O}", "name", json_object_get(meta, "name"), "namespace",
			      json_object_get(meta, "namespace"));
	json_t *o = m ? json_pack("{s:s,s:s,s:o,s:O}", "apiVersion", WS_API_VERSION, "kind",
				  WS_KIND, "metadata", m, "spec", json_object_get(doc, "spec"))
		      : NULL;

	if (o && json_object_size(labels))
		json_object_set(m, "labels", (json_t *)labels);
	return o;
}

/* The workspace's archive into out_fd.  Returns an HTTP status (200). */
static unsigned build_export(struct api *a, struct req *q, int out_fd, struct err *e)
{
	struct etcd_kv kv = { 0 };
	char key[512], home[160], work[160], container[256];
	struct ws *w = NULL;
	json_t *doc = NULL, *obj = NULL;
	struct engine *eg = NULL;
	struct buf yaml;
	unsigned status = 500;
	int home_fd = temp_fd(), work_fd = temp_fd(), r;

	buf_init(&yaml, WS_MAX_OBJECT * 4);
	if (home_fd < 0 || work_fd < 0) {
		err_set(e, "no temporary file: %s", strerror(-(home_fd < 0 ? home_fd : work_fd)));
		goto out;
	}
	if (workspace_container(q, &w, container, sizeof(container), &status, e) < 0)
		goto out;
	keys_ws(KEYS_SPEC, q->ns, q->name, key, sizeof(key));
	ws_free(w);
	w = NULL;
	r = etcd_get(q->caller.etcd, key, &kv, NULL, e);
	if (r == 0)
		r = ws_load(kv.value, kv.value_len, q->ns, q->name, &w, &doc, e);
	if (r < 0) {
		status = etcd_status(r, e);
		goto out;
	}
	obj = export_object(doc);
	status = 500;
	if (!obj || codec_yaml_dump(obj, &yaml, e) < 0)
		goto out;
	ws_home_path(q->ns, home, sizeof(home));
	ws_work_path(q->ns, work, sizeof(work));
	status = 502;
	r = engine_new(a->g->cfg.engine, &eg, e);
	if (r == 0)
		r = engine_archive_get(eg, container, home, to_fd, &home_fd, e);
	if (r == 0)
		r = engine_archive_get(eg, container, work, to_fd, &work_fd, e);
	if (r < 0)
		goto out;
	status = 500;
	if (lseek(home_fd, 0, SEEK_SET) < 0 || lseek(work_fd, 0, SEEK_SET) < 0 ||
	    wsarchive_export(out_fd, yaml.data, yaml.len, home_fd, work_fd, q->ns, e) < 0)
		goto out;
	status = 200;
out:
	if (home_fd >= 0)
		close(home_fd);
	if (work_fd >= 0)
		close(work_fd);
	buf_free(&yaml);
	etcd_kv_clear(&kv);
	json_decref(doc);
	json_decref(obj);
	ws_free(w);
	engine_free(eg);
	return status;
}

static enum MHD_Result do_export(struct api *a, struct MHD_Connection *conn, struct req *q)
{
	struct MHD_Response *resp;
	struct err e = { "" };
	unsigned status;
	int fd, r;
	off_t size;
	char disp[200];

	r = access_work(&q->caller, q->ns, q->name, &e);
	if (r < 0)
		return refuse(conn, etcd_status(r, &e), e.msg);
	if (gw_session_acquire(a->g, q->caller.user, &e) < 0)
		return refuse(conn, 429, e.msg);
	fd = temp_fd();
	status = fd < 0 ? 500 : build_export(a, q, fd, &e);
	gw_session_release(a->g, q->caller.user);
	if (fd < 0)
		err_set(&e, "no temporary file: %s", strerror(-fd));
	if (status != 200) {
		if (fd >= 0)
			close(fd);
		return refuse(conn, status, e.msg);
	}
	size = lseek(fd, 0, SEEK_CUR);
	if (size > a->g->cfg.max_archive) {
		close(fd);
		err_set(&e, "the archive of %s/%s is %lld bytes, over the gateway's limit of %lld "
			    "(KLANGK_GATEWAY_MAX_ARCHIVE)", q->ns, q->name, (long long)size,
			a->g->cfg.max_archive);
		return refuse(conn, 413, e.msg);
	}
	lseek(fd, 0, SEEK_SET);
	resp = MHD_create_response_from_fd((size_t)size, fd); /* owns fd */
	if (!resp) {
		close(fd);
		return MHD_NO;
	}
	snprintf(disp, sizeof(disp), "attachment; filename=\"%s-%s.tar.gz\"", q->ns, q->name);
	MHD_add_response_header(resp, "Content-Type", "application/gzip");
	MHD_add_response_header(resp, "Content-Disposition", disp);
	r = MHD_queue_response(conn, 200, resp);
	MHD_destroy_response(resp);
	return r;
}

static long read_fd(void *ud, char *buf, size_t len)
{
	for (;;) {
		ssize_t k = read(*(int *)ud, buf, len);

		if (k < 0 && errno == EINTR)
			continue;
		return k < 0 ? -1 : (long)k;
	}
}

/* The uploaded archive's home into the workspace's container. */
static enum MHD_Result finish_import(struct api *a, struct MHD_Connection *conn, struct req *q)
{
	struct wsarchive_stats st = { 0 };
	char container[256], home[160], work[160], *spec = NULL;
	struct engine *eg = NULL;
	struct ws *w = NULL;
	struct err e = { "" };
	unsigned status = 500;
	size_t spec_len = 0;
	bool podman = false;
	int home_fd = temp_fd(), work_fd = temp_fd(), r;
	off_t home_len, work_len;
	enum MHD_Result ret;

	if (q->too_large) {
		err_set(&e, "the archive is over the gateway's limit of %lld bytes "
			    "(KLANGK_GATEWAY_MAX_ARCHIVE)", a->g->cfg.max_archive);
		status = 413;
		goto fail;
	}
	if (home_fd < 0 || work_fd < 0 || lseek(q->upload_fd, 0, SEEK_SET) < 0) {
		err_set(&e, "no temporary file");
		goto fail;
	}
	if (workspace_container(q, &w, container, sizeof(container), &status, &e) < 0)
		goto fail;
	status = 502;
	if (engine_new(a->g->cfg.engine, &eg, &e) < 0 || engine_is_podman(eg, &podman, &e) < 0)
		goto fail;
	/* Checked again here: the gateway trusts no client's check. */
	r = wsarchive_import(q->upload_fd, home_fd, work_fd, podman, a->g->cfg.max_archive,
			     &spec, &spec_len, &st, &e);
	if (r < 0) {
		status = 400;
		goto fail;
	}
	home_len = lseek(home_fd, 0, SEEK_CUR);
	work_len = lseek(work_fd, 0, SEEK_CUR);
	ws_home_path(q->ns, home, sizeof(home));
	ws_work_path(q->ns, work, sizeof(work));
	if (home_len < 0 || work_len < 0 || lseek(home_fd, 0, SEEK_SET) < 0 ||
	    lseek(work_fd, 0, SEEK_SET) < 0) {
		status = 500;
		goto fail;
	}
	r = engine_archive_put(eg, container, home, read_fd, &home_fd, (long long)home_len, &e);
	if (r == 0 && podman)
		r = engine_archive_put(eg, container, work, read_fd, &work_fd, (long long)work_len,
				       &e);
	if (r < 0)
		goto fail;
	ret = answer_json(conn, 200, json_pack("{s:I,s:I}", "files", (json_int_t)st.members,
					       "bytes", (json_int_t)st.bytes));
	goto out;
fail:
	ret = refuse(conn, status, e.msg);
out:
	if (home_fd >= 0)
		close(home_fd);
	if (work_fd >= 0)
		close(work_fd);
	free(spec);
	ws_free(w);
	engine_free(eg);
	return ret;
}

/* ---- the page ---- */

static enum MHD_Result serve_page(struct MHD_Connection *conn, const char *url)
{
	const struct page_asset *p = page_find(url);
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(p->len, (void *)p->data, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result r;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", p->type);
	MHD_add_response_header(resp, "Cache-Control", "no-cache");
	MHD_add_response_header(resp, "Content-Security-Policy", PAGE_CSP);
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	r = MHD_queue_response(conn, 200, resp);
	MHD_destroy_response(resp);
	return r;
}

/* Sign-in takes JSON only: a page of another origin cannot send that
 * without asking first (a CORS preflight, which the gateway never grants),
 * and a plain HTML form cannot send it at all. */
static enum MHD_Result begin_signin(struct MHD_Connection *conn, struct req *q)
{
	const char *type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");

	if (!type || strncasecmp(type, "application/json", 16) != 0)
		return refuse(conn, 415, q->route == R_SIGNIN ?
				   "sign in with a JSON body {\"user\", \"password\"}" :
				   "a JSON body is expected");
	q->authed = true; /* to take the body */
	return MHD_YES;
}

/* Set-Cookie for the session id: HttpOnly (no script reads it), SameSite
 * Strict, only to the API's paths (not to the hosted apps' paths of a
 * proxy on the same host), Secure when the page is served over TLS;
 * an empty id clears it. */
static void session_cookie(struct api *a, struct MHD_Response *resp, const char *sid)
{
	char c[256];

	snprintf(c, sizeof(c), "%s=%s; Path=/api/; HttpOnly; SameSite=Strict; Max-Age=%ld%s",
		 PAGE_COOKIE, sid, *sid ? a->g->cfg.page_session_s : 0L,
		 strncmp(a->g->cfg.origin, "https://", 8) == 0 ? "; Secure" : "");
	MHD_add_response_header(resp, "Set-Cookie", c);
}

static enum MHD_Result answer_session(struct api *a, struct MHD_Connection *conn,
				      unsigned status, json_t *j /* stolen */, const char *sid)
{
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	struct MHD_Response *resp = text ? MHD_create_response_from_buffer(
		strlen(text), text, MHD_RESPMEM_MUST_FREE) : NULL;
	enum MHD_Result r;

	json_decref(j);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	session_cookie(a, resp, sid);
	r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result do_signin(struct api *a, struct MHD_Connection *conn, struct req *q)
{
	json_t *j = q->too_large ? NULL : json_loadb(q->body, q->body_len, 0, NULL);
	const char *user = json_string_value(json_object_get(j, "user"));
	const char *pw = json_string_value(json_object_get(j, "password"));
	char sid[WEBSESS_SECRET_HEX + 1], csrf[WEBSESS_SECRET_HEX + 1];
	struct err e = { "" };
	unsigned status = 0;
	enum MHD_Result ret;
	int r;

	if (!user || !*user || !pw) {
		ret = refuse(conn, 400, "sign in with a JSON body {\"user\", \"password\"}");
		goto out;
	}
	/* With etcd's authentication off there is nobody to check: the
	 * session is anonymous, as a loopback caller without credentials. */
	r = a->g->cfg.loopback_only ? 0 : caller_password(&a->g->cfg.etcd, user, pw, &q->caller,
							 &e);
	if (r == -EACCES)
		status = 401;
	else if (r < 0)
		status = etcd_status(r, &e);
	else if ((r = websess_create(&a->g->page, a->g->cfg.loopback_only ? "" : user,
				    a->g->cfg.loopback_only ? NULL : pw, sid, csrf, &e)) < 0)
		status = r == -EBUSY ? 503 : 500;
	if (status) {
		ret = refuse(conn, status, e.msg);
		goto out;
	}
	log_info("page session opened", "user", user, NULL);
	ret = answer_session(a, conn, 200, json_pack("{s:s,s:s}", "user", a->g->cfg.loopback_only ?
						     "" : user, "csrf", csrf), sid);
	OPENSSL_cleanse(sid, sizeof(sid));
	OPENSSL_cleanse(csrf, sizeof(csrf));
out:
	json_decref(j);
	return ret;
}

static enum MHD_Result do_signout(struct api *a, struct MHD_Connection *conn, struct req *q)
{
	struct err e = { "" };

	if (!q->sid[0])
		return refuse(conn, 400, "no page session to sign out of");
	if (websess_end(&a->g->page, q->sid, q->csrf, &e) < 0)
		return refuse(conn, 401, e.msg);
	return answer_session(a, conn, 200, json_pack("{s:b}", "signedOut", 1), "");
}

static enum MHD_Result do_list(struct MHD_Connection *conn, struct req *q)
{
	struct err e = { "" };
	json_t *items = NULL;
	int r = access_list(&q->caller, &items, &e);

	if (r < 0)
		return refuse(conn, etcd_status(r, &e), e.msg);
	return answer_json(conn, 200, json_pack("{s:s,s:o}", "user", q->caller.user, "items",
						items));
}

static enum MHD_Result do_start(struct MHD_Connection *conn, struct req *q)
{
	struct err e = { "" };
	bool changed = false;
	int r = access_start(&q->caller, q->ns, q->name, &changed, &e);

	if (r < 0)
		return refuse(conn, etcd_status(r, &e), e.msg);
	log_info("workspace started", "user", q->caller.user, "namespace", q->ns, "workspace",
		 q->name, NULL);
	return answer_json(conn, 200, json_pack("{s:s,s:s,s:b}", "namespace", q->ns,
						"workspace", q->name, "changed", changed));
}

/* ---- members-only apps (appauth.h, lib/hosting.h) ---- */

/* The app's URL on its origin, without its trailing '/'.  -EINVAL for a
 * bad name, -ENOENT in path mode. */
static int app_origin(struct api *a, const char *app, char *out, size_t len)
{
	char id[33];
	long port;
	size_t n;
	int r;

	if (!a->g->cfg.hosting_domain[0])
		return -ENOENT;
	if (hosting_parse_app(app, id, sizeof(id), &port) < 0)
		return -EINVAL;
	r = hosting_app_url(a->g->cfg.hosting_proto, "", "", a->g->cfg.hosting_domain, id, port,
			    out, len);
	if (r < 0)
		return r;
	n = strlen(out);
	if (n && out[n - 1] == '/')
		out[n - 1] = '\0';
	return 0;
}

/* nginx's auth_request: 204 with the visitor's name when the app cookie is
 * good for the app, else 401 (nginx then sends the visitor to sign in). */
static enum MHD_Result do_app_auth(struct api *a, struct MHD_Connection *conn)
{
	const char *app = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, HOSTING_HDR_APP);
	const char *cookie = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							 HOSTING_HDR_APP_COOKIE);
	struct MHD_Response *resp;
	char user[256];
	struct err e = { "" };
	enum MHD_Result r;

	if (!app || appauth_check(&a->g->apps, app, cookie, time(NULL), user, &e) < 0) {
		if (cookie && *cookie)
			log_info("app cookie refused", "app", app ? app : "", "why", e.msg, NULL);
		return answer_json(conn, 401, json_pack("{s:s,s:s}", "error", e.msg[0] ? e.msg :
							"no app", "reason", "Unauthorized"));
	}
	resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, HOSTING_HDR_USER, user);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	r = MHD_queue_response(conn, 204, resp);
	MHD_destroy_response(resp);
	return r;
}

/* The ticket redeemed on the app's origin (nginx names the app from the
 * host the browser is at): the app cookie, host-only on that origin, and
 * back to where the visitor was going. */
static enum MHD_Result do_app_callback(struct api *a, struct MHD_Connection *conn)
{
	const char *app = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, HOSTING_HDR_APP);
	const char *ticket = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "ticket");
	char cookie[APPAUTH_COOKIE_MAX], path[APPAUTH_PATH_MAX], base[1024];
	char setc[APPAUTH_COOKIE_MAX + 160], *loc = NULL;
	struct MHD_Response *resp;
	struct err e = { "" };
	enum MHD_Result r;
	int rc;

	if (!app || app_origin(a, app, base, sizeof(base)) < 0)
		return refuse(conn, 404, "no such app");
	rc = appauth_redeem(&a->g->apps, app, ticket ? ticket : "", cookie, path, &e);
	if (rc < 0)
		return refuse(conn, 403, e.msg);
	if (asprintf(&loc, "%s%s", base, path) < 0)
		return MHD_NO;
	snprintf(setc, sizeof(setc), "%s=%s; Path=/; Max-Age=%ld; HttpOnly; SameSite=Lax%s",
		 hosting_app_cookie(a->g->cfg.hosting_proto), cookie, a->g->cfg.app_cookie_s,
		 hosting_cookie_secure(a->g->cfg.hosting_proto) ? "; Secure" : "");
	OPENSSL_cleanse(cookie, sizeof(cookie));
	resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(loc);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Location", loc);
	MHD_add_response_header(resp, "Set-Cookie", setc);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	OPENSSL_cleanse(setc, sizeof(setc));
	free(loc);
	r = MHD_queue_response(conn, 302, resp);
	MHD_destroy_response(resp);
	return r;
}

/* A signed-in caller's ticket for an app, if etcd lets them read the
 * app's workspace (the owner and its members): {"url": the callback on
 * the app's origin}. */
static enum MHD_Result do_app_ticket(struct api *a, struct MHD_Connection *conn, struct req *q)
{
	json_t *j = q->too_large ? NULL : json_loadb(q->body, q->body_len, 0, NULL);
	const char *app = json_string_value(json_object_get(j, "app"));
	const char *path = json_string_value(json_object_get(j, "path"));
	char base[1024], ticket[APPAUTH_TICKET_HEX + 1], id[33], *url = NULL;
	struct err e = { "" };
	enum MHD_Result ret;
	long port;
	int r;

	if (!app || !path) {
		ret = refuse(conn, 400, "a JSON body {\"app\", \"path\"} is expected");
		goto out;
	}
	r = app_origin(a, app, base, sizeof(base));
	if (r == -ENOENT) {
		ret = refuse(conn, 404, "no app is members-only here: hosted apps are in path "
					"mode (KLANGK_HOSTING_DOMAIN is not set)");
		goto out;
	}
	if (r < 0 || hosting_parse_app(app, id, sizeof(id), &port) < 0) {
		ret = refuse(conn, 400, "no such app");
		goto out;
	}
	r = access_app(&q->caller, id, port, &e);
	if (r == -EACCES || r == -ENOENT) {
		log_info("app refused", "user", q->caller.user, "app", app, NULL);
		ret = refuse(conn, 403, "this app is open to the members of its workspace only, "
					"and you are not one (or there is no such app)");
		goto out;
	}
	if (r < 0) {
		ret = refuse(conn, etcd_status(r, &e), e.msg);
		goto out;
	}
	r = appauth_ticket(&a->g->apps, app, q->caller.user, path, ticket, &e);
	if (r < 0) {
		ret = refuse(conn, r == -EBUSY ? 503 : 400, e.msg);
		goto out;
	}
	if (asprintf(&url, "%s" HOSTING_CALLBACK_PATH "?ticket=%s", base, ticket) < 0) {
		ret = MHD_NO;
		goto out;
	}
	OPENSSL_cleanse(ticket, sizeof(ticket));
	log_info("app ticket issued", "user", q->caller.user, "app", app, NULL);
	ret = answer_json(conn, 200, json_pack("{s:s}", "url", url));
	OPENSSL_cleanse(url, strlen(url));
	free(url);
out:
	json_decref(j);
	return ret;
}

/* ---- dispatch ---- */

static enum MHD_Result do_image(struct api *a, struct MHD_Connection *conn)
{
	const char *name = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "name");
	struct engine *eg = NULL;
	struct err e = { "" };
	int r;

	if (!name || !*name || strlen(name) > WS_MAX_IMAGE)
		return refuse(conn, 400, "name=IMAGE is required");
	r = engine_new(a->g->cfg.engine, &eg, &e);
	if (r == 0)
		r = engine_image_inspect(eg, name, NULL, &e);
	engine_free(eg);
	if (r == -ENOENT)
		return refuse(conn, 404, e.msg);
	if (r < 0)
		return refuse(conn, 502, e.msg);
	return answer_json(conn, 200, json_pack("{s:s}", "name", name));
}

/* The first call of a request: route, origin, caller, and for an import
 * the right to do it before its body is taken. */
static enum MHD_Result begin(struct api *a, struct MHD_Connection *conn, const char *url,
			     const char *method, struct req *q)
{
	struct err e = { "" };
	unsigned status;
	int r;

	q->upload_fd = -1;
	q->route = parse_route(url, method, q);
	if (q->route == R_NONE)
		return refuse(conn, 404, "no such resource (or method)");
	if (q->route == R_HEALTH)
		return answer(conn, 200, "text/plain; charset=utf-8", "ok\n");
	if (q->route == R_PAGE)
		return serve_page(conn, url);
	if (q->route == R_APP_PAGE)
		return serve_page(conn, "/");
	/* nginx's requests: the cookie or the ticket is the credential. */
	if (q->route == R_APP_AUTH)
		return do_app_auth(a, conn);
	if (q->route == R_APP_CALLBACK)
		return do_app_callback(a, conn);
	if (!origin_ok(a, conn, &e))
		return refuse(conn, 403, e.msg);
	if (q->route == R_SIGNIN)
		return begin_signin(conn, q);
	status = authenticate(a, conn, q, &e);
	if (status)
		return refuse(conn, status, e.msg);
	if (q->route == R_APP_TICKET)
		return begin_signin(conn, q);
	q->authed = true;
	if (q->route != R_IMPORT)
		return MHD_YES;
	r = access_work(&q->caller, q->ns, q->name, &e);
	if (r < 0)
		return refuse(conn, etcd_status(r, &e), e.msg);
	q->upload_fd = temp_fd();
	if (q->upload_fd < 0)
		return refuse(conn, 500, "no temporary file for the upload");
	return MHD_YES;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *data,
			      size_t *data_size, void **con_cls)
{
	struct api *a = cls;
	struct req *q = *con_cls;

	(void)version;
	if (!q) {
		q = calloc(1, sizeof(*q));
		if (!q)
			return MHD_NO;
		*con_cls = q;
		return begin(a, conn, url, method, q);
	}
	if (!q->authed) {
		*data_size = 0; /* answered already; the body is dropped */
		return MHD_YES;
	}
	if (*data_size) {
		if (q->route == R_SIGNIN || q->route == R_APP_TICKET) {
			if (q->body_len + *data_size >= sizeof(q->body))
				q->too_large = true;
			else
				memcpy(q->body + q->body_len, data, *data_size);
			q->body_len += *data_size;
		} else if (q->route == R_IMPORT && !q->too_large) {
			if (q->upload_len + (long long)*data_size > a->g->cfg.max_archive)
				q->too_large = true;
			else if (gw_write_all(q->upload_fd, data, *data_size) < 0)
				return MHD_NO;
			q->upload_len += (long long)*data_size;
		}
		*data_size = 0;
		return MHD_YES;
	}
	switch (q->route) {
	case R_WHOAMI:
		return answer_json(conn, 200, json_pack("{s:s}", "user", q->caller.user));
	case R_IMAGE:
		return do_image(a, conn);
	case R_EXEC:
		return do_exec(a, conn, q);
	case R_LOGS:
		return do_logs(a, conn, q);
	case R_TOP:
		return do_top(a, conn, q);
	case R_EXPORT:
		return do_export(a, conn, q);
	case R_IMPORT:
		return finish_import(a, conn, q);
	case R_SIGNIN:
		return do_signin(a, conn, q);
	case R_SIGNOUT:
		return do_signout(a, conn, q);
	case R_LIST:
		return do_list(conn, q);
	case R_START:
		return do_start(conn, q);
	case R_APP_TICKET:
		return do_app_ticket(a, conn, q);
	default:
		return refuse(conn, 404, "no such resource");
	}
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		      enum MHD_RequestTerminationCode code)
{
	struct req *q = *con_cls;

	(void)cls;
	(void)conn;
	(void)code;
	if (!q)
		return;
	if (q->upload_fd >= 0)
		close(q->upload_fd);
	caller_clear(&q->caller);
	OPENSSL_cleanse(q->body, sizeof(q->body));
	free(q);
	*con_cls = NULL;
}

int api_start(struct gw *g, struct api **out, struct err *e)
{
	struct api *a = calloc(1, sizeof(*a));
	int r;

	if (!a)
		return -ENOMEM;
	a->g = g;
	r = httpd_listen(g->cfg.listen, &a->fd, &a->port, e);
	if (r < 0) {
		free(a);
		return r;
	}
	a->mhd = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
				  MHD_USE_POLL | MHD_ALLOW_UPGRADE, 0, NULL, NULL, handle, a,
				  MHD_OPTION_LISTEN_SOCKET, a->fd,
				  MHD_OPTION_NOTIFY_COMPLETED, completed, a,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)120,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned int)512,
				  MHD_OPTION_END);
	if (!a->mhd) {
		close(a->fd);
		free(a);
		err_set(e, "listen on %s: libmicrohttpd could not start", g->cfg.listen);
		return -EIO;
	}
	*out = a;
	return 0;
}

int api_port(const struct api *a)
{
	return a->port;
}

void api_stop(struct api *a)
{
	if (!a)
		return;
	MHD_stop_daemon(a->mhd);
	free(a);
}
