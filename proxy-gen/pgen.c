/* pgen — nginx configuration rendering (see pgen.h). */
#include "pgen.h"

#include "cfg.h"
#include "hosting.h"
#include "status.h"
#include "ws.h"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_ipv4(const char *s)
{
	struct in_addr a;

	return strlen(s) <= 15 && inet_pton(AF_INET, s, &a) == 1;
}

/* An address a workspace's container may have on its network: IPv4
 * unicast, and none of the host's own (loopback, "this network"), nor
 * link-local (cloud metadata), multicast or broadcast: a status never
 * points nginx at the host itself. */
static bool is_container_addr(const char *s)
{
	struct in_addr a;
	uint32_t h;

	if (strlen(s) > 15 || inet_pton(AF_INET, s, &a) != 1)
		return false;
	h = ntohl(a.s_addr);
	return (h >> 24) != 127 && (h >> 24) != 0 && (h >> 16) != 0xa9fe &&
	       (h >> 28) < 0xe;
}

/* A container port a hosted app listens on: 8000 + i. */
static bool is_container_port(long p)
{
	return p >= WS_CONTAINER_PORT_BASE && p < WS_CONTAINER_PORT_BASE + WS_MAX_HOSTED_PORTS;
}

/* Absolute path of safe characters only: it is written unquoted. */
static bool is_safe_dir(const char *s)
{
	if (s[0] != '/' || strlen(s) > 1024)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("/._-", *s)))
			return false;
	return true;
}

static bool origin_mode(const struct pgen_opts *o)
{
	return o->domain && *o->domain;
}

/*
 * s (letters, digits and "/-._~" only, checked before) as a regular
 * expression matching it literally: its dots escaped, the only
 * metacharacter among them.
 */
static int regex_literal(const char *s, char *out, size_t len)
{
	size_t j = 0;

	for (; *s; s++) {
		if (j + 3 > len)
			return -ENAMETOOLONG;
		if (*s == '.')
			out[j++] = '\\';
		out[j++] = *s;
	}
	out[j] = '\0';
	return 0;
}

int pgen_check_opts(const struct pgen_opts *o, struct err *e)
{
	if (!is_safe_dir(o->dir) || strlen(o->dir) > PGEN_DIR_MAX) {
		err_set(e, "nginx directory \"%s\": must be an absolute path of at most "
			   "%d letters, digits and /._- (its sockets must fit in a "
			   "socket address)", o->dir, PGEN_DIR_MAX);
		return -EINVAL;
	}
	if (!is_ipv4(o->listen_addr)) {
		err_set(e, "listen address \"%s\": must be an IPv4 address", o->listen_addr);
		return -EINVAL;
	}
	if (!is_ipv4(o->upstream_host)) {
		err_set(e, "upstream host \"%s\": must be an IPv4 address", o->upstream_host);
		return -EINVAL;
	}
	if (o->listen_port < 1 || o->listen_port > 65535) {
		err_set(e, "listen port %ld: must be 1-65535", o->listen_port);
		return -EINVAL;
	}
	if (!cfg_is_base_path(o->base_path)) {
		err_set(e, "base path \"%s\": must be empty or /segment[/...]", o->base_path);
		return -EINVAL;
	}
	if (o->worker_processes < 0 || o->worker_processes > 1024) {
		err_set(e, "worker processes %ld: must be 0 (auto) to 1024", o->worker_processes);
		return -EINVAL;
	}
	if (origin_mode(o) && !hosting_is_domain(o->domain)) {
		err_set(e, "hosting domain \"%s\": must be a lowercase DNS name, "
			   "optionally :port", o->domain);
		return -EINVAL;
	}
	if (origin_mode(o) && (!o->proto || (strcmp(o->proto, "http") != 0 &&
					     strcmp(o->proto, "https") != 0))) {
		err_set(e, "hosting proto: must be http or https");
		return -EINVAL;
	}
	if (o->gateway_address && *o->gateway_address && !cfg_is_ipv4_port(o->gateway_address)) {
		err_set(e, "gateway address \"%s\": must be IPv4:port",
			o->gateway_address ? o->gateway_address : "");
		return -EINVAL;
	}
	if (o->gateway_origin && *o->gateway_origin &&
	    !cfg_is_origin(o->gateway_origin)) {
		err_set(e, "gateway origin \"%s\": must be http(s)://host[:port]", o->gateway_origin);
		return -EINVAL;
	}
	if (o->worker_shutdown_s < 0 || o->worker_shutdown_s > 86400) {
		err_set(e, "worker shutdown timeout %ld: must be 0 to 86400 seconds",
			o->worker_shutdown_s);
		return -EINVAL;
	}
	return 0;
}

int pgen_file_generation(const char *text, size_t len, char *gen, size_t genlen)
{
	static const char tag[] = "\n# generation ";
	const char *p = memmem(text, len < 512 ? len : 512, tag, sizeof(tag) - 1);
	size_t n;

	if (!p)
		return -ENOENT;
	p += sizeof(tag) - 1;
	n = strspn(p, "0123456789abcdef");
	if (n == 0 || n >= genlen || p[n] != ',' || (size_t)(p - text) + n > len)
		return -ENOENT;
	memcpy(gen, p, n);
	gen[n] = '\0';
	return 0;
}

static int cmp_route(const void *a, const void *b)
{
	const struct pgen_route *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	return c ? c : (x->port > y->port) - (x->port < y->port);
}

int pgen_routes_from_status(const json_t *statuses, struct pgen_route **routes,
			    size_t *n, size_t *skipped)
{
	struct pgen_route *v = NULL;
	size_t cnt = 0, cap = 0, bad = 0;
	const char *key;
	json_t *j;

	json_object_foreach((json_t *)statuses, key, j) {
		struct status st;

		/* Pending is a workspace being created: routing it now puts
		 * the route in nginx before its app can answer, rather than
		 * one reload after.  Its ports are leased to it alone, so the
		 * route leads nowhere else meanwhile (nginx answers 502). */
		if (status_from_json(j, &st) < 0)
			continue;
		if (!status_is_phase(&st, STATUS_RUNNING) && !status_is_phase(&st, STATUS_PENDING)) {
			status_clear(&st);
			continue;
		}
		if (!ws_is_id(st.id)) {
			bad++;
			status_clear(&st);
			continue;
		}
		bad += st.n_invalid;
		/* Unpublished and no address: not running now, or the
		 * address was withdrawn (recreated, stopped); nothing to
		 * route to, and its unbound host ports are no upstream. */
		if (st.unpublished && !is_container_addr(st.container.address)) {
			bad += st.container.address[0] != '\0';
			status_clear(&st);
			continue;
		}
		for (size_t i = 0; i < st.n_ports; i++) {
			long port = st.ports[i].host;

			if (port < 1 || port > 65535 ||
			    (st.unpublished && !is_container_port(st.ports[i].container))) {
				bad++;
				continue;
			}
			if (cnt == cap) {
				size_t nc = cap ? cap * 2 : 64;
				struct pgen_route *nv = realloc(v, nc * sizeof(*nv));

				if (!nv) {
					free(v);
					status_clear(&st);
					return -ENOMEM;
				}
				v = nv;
				cap = nc;
			}
			snprintf(v[cnt].id, sizeof(v[cnt].id), "%s", st.id);
			v[cnt].port = port;
			v[cnt].members = st.ports[i].members;
			snprintf(v[cnt].addr, sizeof(v[cnt].addr), "%s",
				 st.unpublished ? st.container.address : "");
			v[cnt].target = st.unpublished ? st.ports[i].container : 0;
			cnt++;
		}
		status_clear(&st);
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_route);
	*routes = v;
	*n = cnt;
	if (skipped)
		*skipped = bad;
	return 0;
}

/*
 * The headers that tell the app its external URL, and the target of the
 * slash-less redirect.  Behind a trusted outer proxy its X-Forwarded-*
 * headers win (each checked against a strict pattern by a map, falling back
 * to the request's own values); otherwise a client's X-Forwarded-* never
 * reaches the app (proxy_set_header replaces a header of the same name).
 */
static int render_forwarded_maps(const struct pgen_opts *o, struct buf *out)
{
	if (!o->trust_forwarded)
		return 0;
	return buf_printf(out,
		"    # Trusted outer proxy: its X-Forwarded-* (the first of a list),\n"
		"    # when well-formed; else the request's own values.\n"
		"    map $http_x_forwarded_host $klangk_fwd_host {\n"
		"        default $http_host;\n"
		"        \"~^\\s*(?<klangk_xfh>[A-Za-z0-9.-]+(:[0-9]{1,5})?|\\[[0-9A-Fa-f:.]+\\](:[0-9]{1,5})?)\\s*(,|$)\" $klangk_xfh;\n"
		"    }\n"
		"    map $http_x_forwarded_proto $klangk_fwd_proto {\n"
		"        default $scheme;\n"
		"        \"~^\\s*(?<klangk_xfp>https?)\\s*(,|$)\" $klangk_xfp;\n"
		"    }\n"
		"    map $http_x_forwarded_prefix $klangk_fwd_prefix {\n"
		"        default \"\";\n"
		"        \"~^\\s*(?<klangk_xfx>(/(?!\\.\\.?(/|\\s|,|$))[A-Za-z0-9._~-]+)*)/?\\s*(,|$)\" $klangk_xfx;\n"
		"    }\n");
}

/* prefix: where the app lives below the (outer) root: the base path in
 * path mode, "" in origin mode (the app is at its origin's root). */
static int render_forwarded_headers(const struct pgen_opts *o, const char *b,
				    struct buf *out)
{
	if (o->trust_forwarded)
		return buf_printf(out,
			"            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
			"            proxy_set_header X-Forwarded-Proto $klangk_fwd_proto;\n"
			"            proxy_set_header X-Forwarded-Host $klangk_fwd_host;\n"
			"            proxy_set_header X-Forwarded-Prefix \"$klangk_fwd_prefix%s\";\n",
			b);
	return buf_printf(out,
		"            proxy_set_header X-Forwarded-For $remote_addr;\n"
		"            proxy_set_header X-Forwarded-Proto $scheme;\n"
		"            proxy_set_header X-Forwarded-Host $http_host;\n"
		"            proxy_set_header X-Forwarded-Prefix \"%s\";\n"
		"            proxy_set_header Forwarded \"\";\n",
		b);
}

/*
 * map_hash_max_size for n keys.  nginx searches bucket counts upwards until
 * every bucket fits in map_hash_bucket_size, one pass over all keys per
 * try; with max_size > 10000 and max_size / n < 100 it starts at
 * max_size - 1000 instead.  4n buckets of 256 bytes (room for 5 to 7 keys,
 * 0.25 expected) fit at the first try with near certainty, and the table
 * stays a few bytes per key, where the former fixed 1048576 cost 8 MiB of
 * bucket pointers and, between ~2,000 and ~10,000 routes, many tries
 * (0.27 s of CPU at 10,000 routes; see BENCHMARKS.md).
 */
static size_t map_hash_size(size_t n)
{
	return n * 4 > 16384 ? n * 4 : 16384;
}

/* The activity record's log line (see activity.h), when on. */
static int render_activity(const struct pgen_opts *o, struct buf *out)
{
	if (!o->activity_log)
		return 0;
	return buf_printf(out,
		"            access_log syslog:server=unix:%s/" PGEN_ACCESS_SOCK
		",nohostname,tag=" PGEN_ACCESS_TAG " klangk_activity;\n", o->dir);
}

/* The proxying of a hosted location, the same in both modes; prefix is
 * where the app lives below the root (see render_forwarded_headers). */
static int render_proxy(const struct pgen_opts *o, const char *prefix, const char *uri,
			struct buf *out)
{
	int r = buf_printf(out,
		"            proxy_pass http://$klangk_upstream%s;\n"
		"            proxy_http_version 1.1;\n"
		"            proxy_set_header Upgrade $http_upgrade;\n"
		"            proxy_set_header Connection $klangk_connection;\n"
		"            proxy_set_header Host $http_host;\n", uri);

	r |= render_forwarded_headers(o, prefix, out);
	r |= buf_printf(out,
		"            proxy_read_timeout 3600s;\n"
		"            proxy_send_timeout 3600s;\n"
		"            proxy_buffering off;\n"
		"            proxy_request_buffering off;\n"
		"            client_max_body_size 0;\n");
	return r;
}

/*
 * The server of the shared host, up to the allow-list check in the hosted
 * tree's location (whose captures name the route): in path mode it serves
 * the apps; in origin mode it is the default server, which only redirects.
 */
static int render_shared_head(const struct pgen_opts *o, struct buf *out)
{
	bool origin = origin_mode(o);
	int r = buf_printf(out,
		"    server {\n"
		"        listen %s:%ld%s;\n"
		"        server_name _;\n"
		"%s"
		"        location ~ \"^%s/hosted/(?<klangk_id>[0-9a-f]{12,32})/(?<klangk_port>[0-9]{1,5})(?<klangk_rest>/.*)?$\" {\n",
		o->listen_addr, o->listen_port, origin ? " default_server" : "",
		origin ? "" : "        absolute_redirect off;\n", o->base_path);

	r |= render_activity(o, out);
	r |= buf_printf(out, "            if ($klangk_upstream = \"\") { return 404; }\n");
	return r;
}

/*
 * Path mode: every app under <base>/hosted/<id>/<port>/ of one host.  The
 * slash-less URL is redirected relative to the base path, unless it is a
 * WebSocket handshake.
 */
static int render_path(const struct pgen_opts *o, struct buf *out)
{
	int r = buf_printf(out,
		"    # The slash-less URL is redirected, unless it is a WebSocket handshake.\n"
		"    map $klangk_rest|$http_upgrade $klangk_redirect {\n"
		"        default 0;\n"
		"        \"|\" 1;\n"
		"    }\n");

	r |= render_forwarded_maps(o, out);
	r |= render_shared_head(o, out);
	r |= buf_printf(out,
		"            if ($klangk_redirect) { return 301 \"%s%s/hosted/$klangk_id/$klangk_port/$is_args$args\"; }\n",
		o->trust_forwarded ? "$klangk_fwd_prefix" : "", o->base_path);
	r |= render_proxy(o, o->base_path, "", out);
	r |= buf_printf(out,
		"        }\n"
		"        location / { return 404; }\n"
		"    }\n");
	return r;
}

/* Members-only routes are served in origin mode with a gateway only. */
static bool serve_members(const struct pgen_opts *o)
{
	return origin_mode(o) && o->gateway_address && *o->gateway_address;
}

static bool any_members(const struct pgen_route *routes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (routes[i].members)
			return true;
	return false;
}

/*
 * Members-only routes (origin mode, lib/hosting.h): the second, small
 * allow-list of the routes that ask the gateway, the app cookie's value
 * for the gateway, and the Cookie header without it for the app.  The
 * cookie is found after the start or a ';', so that no other cookie whose
 * name ends the same way is taken for it.
 */
static int render_members_maps(const struct pgen_opts *o, const struct pgen_route *routes,
			       size_t n, struct buf *out)
{
	const char *c = hosting_app_cookie(o->proto);
	int r = buf_printf(out,
		"    # Members-only apps: signed in at the gateway (spec.hostedApps).\n"
		"    map $klangk_id/$klangk_port $klangk_members {\n"
		"        default 0;\n");

	for (size_t i = 0; i < n; i++)
		if (routes[i].members)
			r |= buf_printf(out, "        %s/%ld 1;\n", routes[i].id, routes[i].port);
	r |= buf_printf(out,
		"    }\n"
		"    map $http_cookie $klangk_app_cookie {\n"
		"        default \"\";\n"
		"        \"~(^|;)\\s*%s=(?<klangk_acv>[^;\\s]+)\" $klangk_acv;\n"
		"    }\n"
		"    # The app never sees its app cookie.\n"
		"    map $http_cookie $klangk_app_cookies {\n"
		"        default $http_cookie;\n"
		"        \"~^\\s*%s=[^;]*(;\\s*)?(?<klangk_ck1>.*)$\" $klangk_ck1;\n"
		"        \"~^(?<klangk_ck2>.*?)\\s*;\\s*%s=[^;]*(?<klangk_ck3>.*)$\" \"$klangk_ck2$klangk_ck3\";\n"
		"    }\n",
		c, c, c);
	return r;
}

/*
 * The locations of an app's server that members-only routes use.  The
 * public ones never reach them (no subrequest: the rewrite is taken only
 * for a route of the members map).  /_klangk/members proxies the original
 * raw URI once the gateway said yes to the app cookie (auth_request; the
 * gateway checks its signature and expiry only), and a 401 sends the
 * visitor to the gateway's sign-in page for this app.  The callback
 * redeems the gateway's one-time ticket there, so the gateway's answer
 * sets the app cookie on this origin alone.  Neither the app cookie nor
 * anything else of the visitor's but the ticket goes to the gateway; the
 * app gets the Cookie header without the app cookie, and the visitor's
 * user name in X-Klangk-User (set here, so no client can forge it).
 */
static int render_members_server(const struct pgen_opts *o, struct buf *out)
{
	char gw_origin[600];
	int r;

	if (o->gateway_origin && *o->gateway_origin)
		snprintf(gw_origin, sizeof(gw_origin), "%s", o->gateway_origin);
	else
		snprintf(gw_origin, sizeof(gw_origin), "http://%s", o->gateway_address);
	r = buf_printf(out,
		"        location = /_klangk/members {\n"
		"            internal;\n");
	r |= render_activity(o, out);
	r |= buf_printf(out,
		"            auth_request /_klangk/auth;\n"
		"            auth_request_set $klangk_user $upstream_http_x_klangk_user;\n"
		"            error_page 401 = @klangk_signin;\n");
	r |= render_proxy(o, "", "$request_uri", out);
	r |= buf_printf(out,
		"            proxy_set_header Cookie $klangk_app_cookies;\n"
		"            proxy_set_header " HOSTING_HDR_USER " $klangk_user;\n"
		"        }\n"
		"        location = /_klangk/auth {\n"
		"            internal;\n"
		"            proxy_pass http://%s" HOSTING_GW_AUTH ";\n"
		"            proxy_pass_request_headers off;\n"
		"            proxy_pass_request_body off;\n"
		"            proxy_set_header " HOSTING_HDR_APP " $klangk_id-$klangk_port;\n"
		"            proxy_set_header " HOSTING_HDR_APP_COOKIE " $klangk_app_cookie;\n"
		"        }\n"
		"        location @klangk_signin {\n"
		"            return 302 \"%s" HOSTING_GW_SIGNIN "$klangk_id-$klangk_port$request_uri\";\n"
		"        }\n"
		"        location = " HOSTING_CALLBACK_PATH " {\n"
		"            if ($klangk_members = 0) { return 404; }\n"
		"            proxy_pass http://%s" HOSTING_GW_CALLBACK "$is_args$args;\n"
		"            proxy_pass_request_headers off;\n"
		"            proxy_pass_request_body off;\n"
		"            proxy_set_header " HOSTING_HDR_APP " $klangk_id-$klangk_port;\n"
		"            proxy_redirect off;\n"
		"        }\n",
		o->gateway_address, gw_origin, o->gateway_address);
	return r;
}

/*
 * Origin mode: each route is the server <id>-<port>.<domain> (one regex
 * server_name whose captures feed the same allow-list map as path mode, so
 * 50,000 routes cost no more than there); nginx matches it on the
 * lowercased Host without its port.  Any other host is the default server,
 * where a path URL of a route redirects (307: the method and body are kept,
 * and nothing is cached for good should the operator go back to path mode)
 * to the same raw path and query on the app's origin.  The raw URI is
 * used, never the decoded $uri (whose %0d%0a would split the header), and
 * only when its prefix is exactly the route the normalized path matched
 * (the backreference): a prefix with dot-segments, percent-encoding or
 * doubled slashes, or a rest with other than printable ASCII, is a 404.
 * Nothing is proxied on the default server: no app shares its origin.
 */
static int render_origin(const struct pgen_opts *o, bool members, struct buf *out)
{
	char base_re[512], name[HOSTING_DOMAIN_MAX + 1], name_re[2 * HOSTING_DOMAIN_MAX + 1];
	long port;
	int r = 0;

	if (regex_literal(o->base_path, base_re, sizeof(base_re)) < 0 ||
	    hosting_split_domain(o->domain, name, sizeof(name), &port) < 0 ||
	    regex_literal(name, name_re, sizeof(name_re)) < 0)
		return -EINVAL;
	r |= buf_printf(out,
		"    # A path URL's raw rest (path and query) when its prefix is the\n"
		"    # route's own, else \"\".\n"
		"    map \"$klangk_id/$klangk_port $request_uri\" $klangk_origin_rest {\n"
		"        default \"\";\n"
		"        \"~^(?<klangk_r1>[0-9a-f]{12,32}/[0-9]{1,5}) %s/hosted/\\k<klangk_r1>(?<klangk_rr>/[!-~]*)$\" $klangk_rr;\n"
		"        \"~^(?<klangk_r2>[0-9a-f]{12,32}/[0-9]{1,5}) %s/hosted/\\k<klangk_r2>(?<klangk_rq>\\?[!-~]*)?$\" /$klangk_rq;\n"
		"    }\n",
		base_re, base_re);
	r |= render_forwarded_maps(o, out);
	r |= render_shared_head(o, out);
	r |= buf_printf(out,
		"            if ($klangk_origin_rest = \"\") { return 404; }\n"
		"            return 307 \"%s://$klangk_id-$klangk_port.%s$klangk_origin_rest\";\n"
		"        }\n"
		"        location / { return 404; }\n"
		"    }\n"
		"    # One origin per app: <id>-<port>.<domain>.\n"
		"    server {\n"
		"        listen %s:%ld;\n"
		"        server_name \"~^(?<klangk_id>[0-9a-f]{12,32})-(?<klangk_port>[0-9]{1,5})\\.%s$\";\n"
		"        location / {\n",
		o->proto, o->domain, o->listen_addr, o->listen_port, name_re);
	r |= render_activity(o, out);
	r |= buf_printf(out, "            if ($klangk_upstream = \"\") { return 404; }\n");
	if (members)
		r |= buf_printf(out, "            if ($klangk_members) { rewrite ^ /_klangk/members last; }\n");
	r |= render_proxy(o, "", "", out);
	r |= buf_printf(out, "        }\n");
	if (members)
		r |= render_members_server(o, out);
	r |= buf_printf(out, "    }\n");
	return r;
}

/* pgen_render, also telling where in out the generation was written
 * (its two places: the header and the status server). */
static int render(const struct pgen_opts *o, const struct pgen_route *routes,
		  size_t n, const char *generation, struct buf *out, size_t gpos[2],
		  struct err *e)
{
	static const char head[] =
		"# Generated by klangk-proxy-gen; replaced on every change. Do not edit.\n"
		"# generation ";
	const char *d = o->dir;
	char workers[24] = "auto";
	int r = pgen_check_opts(o, e);
	bool members = serve_members(o) && any_members(routes, n);

	if (r < 0)
		return r;
	for (const char *g = generation; *g; g++)
		if (!((*g >= '0' && *g <= '9') || (*g >= 'a' && *g <= 'f'))) {
			err_set(e, "generation must be lowercase hex");
			return -EINVAL;
		}
	for (size_t i = 0; i < n; i++)
		if (!ws_is_id(routes[i].id) || routes[i].port < 1 || routes[i].port > 65535 ||
		    (routes[i].addr[0] && (!is_container_addr(routes[i].addr) ||
					   !is_container_port(routes[i].target)))) {
			err_set(e, "route %zu: invalid id or port", i);
			return -EINVAL;
		}
	if (o->worker_processes > 0)
		snprintf(workers, sizeof(workers), "%ld", o->worker_processes);

	/* No "daemon" directive: nginx's default (on) when proxy-gen starts
	 * it in the background, -g "daemon off;" when it is supervised or
	 * runs in its own container. */
	gpos[0] = out->len + sizeof(head) - 1;
	r |= buf_printf(out,
		"%s%s, %zu routes\n"
		"worker_processes %s;\n"
		"worker_shutdown_timeout %lds;\n"
		"pid %s/nginx.pid;\n"
		"error_log %s/error.log warn;\n"
		"events { worker_connections 4096; }\n"
		"http {\n"
		"    access_log off;\n"
		"    default_type text/plain;\n"
		"    server_tokens off;\n"
		"    client_body_temp_path %s/tmp/body;\n"
		"    proxy_temp_path %s/tmp/proxy;\n"
		"    fastcgi_temp_path %s/tmp/fastcgi;\n"
		"    uwsgi_temp_path %s/tmp/uwsgi;\n"
		"    scgi_temp_path %s/tmp/scgi;\n"
		"    # Sized so that nginx finds the map's hash table at its first try\n"
		"    # (see pgen.c): validation and reloads stay fast and small.\n"
		"    map_hash_max_size %zu;\n"
		"    map_hash_bucket_size 256;\n"
		"    # One line per hosted request for proxy-gen's activity record.\n"
		"    log_format klangk_activity escape=none '$klangk_id';\n"
		"    map $http_upgrade $klangk_connection {\n"
		"        default upgrade;\n"
		"        \"\" close;\n"
		"    }\n"
		"    # The allow-list: (workspace id, host port) of running workspaces.\n"
		"    map $klangk_id/$klangk_port $klangk_upstream {\n"
		"        default \"\";\n",
		head, generation, n, workers,
		o->worker_shutdown_s ? o->worker_shutdown_s : 300, d, d, d, d, d, d, d,
		map_hash_size(n));
	/* A members-only route needs origin mode and a gateway: otherwise
	 * it is never routed (fail closed; the controller reports such a
	 * workspace Stalled). */
	for (size_t i = 0; i < n; i++)
		if (serve_members(o) || !routes[i].members)
			r |= buf_printf(out, "        %s/%ld %s:%ld;\n", routes[i].id,
					routes[i].port,
					routes[i].addr[0] ? routes[i].addr : o->upstream_host,
					routes[i].addr[0] ? routes[i].target : routes[i].port);
	r |= buf_printf(out, "    }\n");
	if (members)
		r |= render_members_maps(o, routes, n, out);
	r |= origin_mode(o) ? render_origin(o, members, out) : render_path(o, out);
	r |= buf_printf(out,
		"    # proxy-gen asks this which generation is serving.\n"
		"    server {\n"
		"        listen unix:%s/" PGEN_STATUS_SOCK ";\n"
		"        location = /generation { return 200 \"",
		d);
	gpos[1] = out->len;
	r |= buf_printf(out,
		"%s\\n\"; }\n"
		"        location / { return 404; }\n"
		"    }\n"
		"}\n",
		generation);
	if (r) {
		err_set(e, "nginx configuration too large");
		return -E2BIG;
	}
	return 0;
}

int pgen_render(const struct pgen_opts *o, const struct pgen_route *routes,
		size_t n, const char *generation, struct buf *out,
		struct err *e)
{
	size_t gpos[2];

	return render(o, routes, n, generation, out, gpos, e);
}

/*
 * One rendering with a placeholder generation, hashed as it is (the
 * placeholder is constant, so equal renderings hash equally), then the
 * placeholder is overwritten in place: half the work of rendering twice,
 * which counts at 50,000 routes.
 */
int pgen_render_generation(const struct pgen_opts *o, const struct pgen_route *routes,
			   size_t n, struct buf *out, char *gen, struct err *e)
{
	static const char placeholder[] = "0000000000000000";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t start = out->len, gpos[2];
	char g[sizeof(placeholder)];
	int r;

	r = render(o, routes, n, placeholder, out, gpos, e);
	if (r < 0)
		return r;
	if (EVP_Digest(out->data + start, out->len - start, md, &mdlen, EVP_sha256(),
		       NULL) != 1) {
		err_set(e, "SHA-256 failed");
		return -EIO;
	}
	for (size_t i = 0; i < (sizeof(g) - 1) / 2; i++)
		snprintf(g + 2 * i, 3, "%02x", md[i]);
	for (int i = 0; i < 2; i++)
		memcpy(out->data + gpos[i], g, sizeof(g) - 1);
	memcpy(gen, g, sizeof(g));
	return 0;
}
