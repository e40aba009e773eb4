/* Unit tests for pgen: which routes exist, and what reaches the config. */
#include "pgen.h"
#include "cfg.h"
#include "t.h"

#include <stdlib.h>
#include <unistd.h>

static json_t *statuses(void)
{
	json_error_t je;

	return json_loads(
		"{\"/klangk/status/a/one\": {\"id\": \"3f9c1a2b7d4e\", \"phase\": \"Running\","
		"   \"ports\": [{\"container\": 8000, \"host\": 9001}, {\"container\": 8001, \"host\": 9000}]},"
		" \"/klangk/status/a/two\": {\"id\": \"aaaaaaaaaaaa\", \"phase\": \"Stopped\","
		"   \"ports\": [{\"container\": 8000, \"host\": 9002}]},"
		" \"/klangk/status/b/evil\": {\"id\": \"AB;}#\", \"phase\": \"Running\","
		"   \"ports\": [{\"container\": 8000, \"host\": 9003}]},"
		" \"/klangk/status/b/badport\": {\"id\": \"bbbbbbbbbbbb\", \"phase\": \"Running\","
		"   \"ports\": [{\"container\": 8000, \"host\": 65536}, {\"container\": 8001, \"host\": \"9\"}]},"
		" \"/klangk/status/c/starting\": {\"id\": \"cccccccccccc\", \"phase\": \"Pending\","
		"   \"ports\": [{\"container\": 8000, \"host\": 9010}]},"
		" \"/klangk/status/c/going\": {\"id\": \"dddddddddddd\", \"phase\": \"Terminating\","
		"   \"ports\": [{\"container\": 8000, \"host\": 9011}]},"
		" \"/klangk/status/c/failed\": {\"id\": \"eeeeeeeeeeee\", \"phase\": \"Failed\","
		"   \"ports\": [{\"container\": 8000, \"host\": 9012}]},"
		" \"/klangk/status/c/nophase\": {\"id\": \"ffffffffffff\","
		"   \"ports\": [{\"container\": 8000, \"host\": 9013}]}}",
		0, &je);
}

static void test_routes(void)
{
	struct pgen_route *r = NULL;
	size_t n = 0, skipped = 0;
	json_t *s = statuses();

	/* Running and Pending (being created) are routed; Stopped,
	 * Terminating, Failed and a status without a phase are not. */
	CHECK(pgen_routes_from_status(s, &r, &n, &skipped) == 0);
	CHECK(n == 3);
	CHECK(n == 3 && strcmp(r[0].id, "3f9c1a2b7d4e") == 0 && r[0].port == 9000 &&
	      r[1].port == 9001);
	CHECK(n == 3 && strcmp(r[2].id, "cccccccccccc") == 0 && r[2].port == 9010);
	CHECK(skipped == 3);
	free(r);
	json_decref(s);
}

/* KLANGK_PUBLISH=none: an unpublished workspace is routed to its
 * container's address and container ports while its status has a valid
 * address; without one (created, stopped, recreated) it has no route, and
 * its host ports are never an upstream. */
static void test_routes_unpublished(void)
{
	struct pgen_route *r = NULL;
	size_t n = 0, skipped = 0;
	json_error_t je;
	json_t *s = json_loads(
		"{\"/klangk/status/a/one\": {\"id\": \"3f9c1a2b7d4e\", \"phase\": \"Running\","
		"   \"publish\": \"none\", \"container\": {\"address\": \"10.89.0.5\"},"
		"   \"ports\": [{\"container\": 8000, \"host\": 9001}, {\"container\": 8001, \"host\": 9000}]},"
		" \"/klangk/status/a/pending\": {\"id\": \"aaaaaaaaaaaa\", \"phase\": \"Pending\","
		"   \"publish\": \"none\", \"ports\": [{\"container\": 8000, \"host\": 9002}]},"
		" \"/klangk/status/a/host\": {\"id\": \"bbbbbbbbbbbb\", \"phase\": \"Running\","
		"   \"container\": {\"address\": \"10.89.0.6\"},"
		"   \"ports\": [{\"container\": 8000, \"host\": 9003}]},"
		" \"/klangk/status/b/loop\": {\"id\": \"cccccccccccc\", \"phase\": \"Running\","
		"   \"publish\": \"none\", \"container\": {\"address\": \"127.0.0.1\"},"
		"   \"ports\": [{\"container\": 8000, \"host\": 9004}]},"
		" \"/klangk/status/b/meta\": {\"id\": \"dddddddddddd\", \"phase\": \"Running\","
		"   \"publish\": \"none\", \"container\": {\"address\": \"169.254.169.254\"},"
		"   \"ports\": [{\"container\": 8000, \"host\": 9005}]},"
		" \"/klangk/status/b/name\": {\"id\": \"eeeeeeeeeeee\", \"phase\": \"Running\","
		"   \"publish\": \"none\", \"container\": {\"address\": \"evil;}\"},"
		"   \"ports\": [{\"container\": 8000, \"host\": 9006}]},"
		" \"/klangk/status/b/cport\": {\"id\": \"ffffffffffff\", \"phase\": \"Running\","
		"   \"publish\": \"none\", \"container\": {\"address\": \"10.89.0.7\"},"
		"   \"ports\": [{\"container\": 22, \"host\": 9007}, {\"container\": 8004, \"host\": 9008}]}}",
		0, &je);
	struct pgen_opts o = { .dir = "/tmp/x", .listen_addr = "127.0.0.1",
			       .listen_port = 8995, .base_path = "",
			       .upstream_host = "127.0.0.1" };
	struct buf a;
	struct err e;

	CHECK(s != NULL);
	CHECK(pgen_routes_from_status(s, &r, &n, &skipped) == 0);
	/* one's two, host's one (published: the host port), cport's 8004. */
	CHECK(n == 4);
	CHECK(n == 4 && strcmp(r[0].id, "3f9c1a2b7d4e") == 0 && r[0].port == 9000 &&
	      strcmp(r[0].addr, "10.89.0.5") == 0 && r[0].target == 8001);
	CHECK(n == 4 && r[1].port == 9001 && r[1].target == 8000);
	CHECK(n == 4 && strcmp(r[2].id, "bbbbbbbbbbbb") == 0 && r[2].addr[0] == '\0' &&
	      r[2].port == 9003);
	CHECK(n == 4 && strcmp(r[3].id, "ffffffffffff") == 0 && r[3].port == 9008 &&
	      r[3].target == 8004);
	/* loopback, link-local, a non-address, container port 22. */
	CHECK(skipped == 4);
	buf_init(&a, 0);
	CHECK(pgen_render(&o, r, n, "abcd", &a, &e) == 0);
	CHECK_CONTAINS(a.data, "3f9c1a2b7d4e/9000 10.89.0.5:8001;");
	CHECK_CONTAINS(a.data, "3f9c1a2b7d4e/9001 10.89.0.5:8000;");
	CHECK_CONTAINS(a.data, "bbbbbbbbbbbb/9003 127.0.0.1:9003;");
	CHECK(a.data && !strstr(a.data, "aaaaaaaaaaaa"));
	buf_free(&a);
	/* Routes handed to the renderer are checked again. */
	if (n) {
		buf_init(&a, 0);
		snprintf(r[0].addr, sizeof(r[0].addr), "127.0.0.2");
		CHECK(pgen_render(&o, r, n, "abcd", &a, &e) == -EINVAL);
		snprintf(r[0].addr, sizeof(r[0].addr), "10.89.0.5");
		r[0].target = 9000;
		CHECK(pgen_render(&o, r, n, "abcd", &a, &e) == -EINVAL);
		buf_free(&a);
	}
	free(r);
	json_decref(s);
}

static void test_render(void)
{
	struct pgen_opts o = { .dir = "/tmp/x", .listen_addr = "127.0.0.1",
			       .listen_port = 8995, .base_path = "/klangk",
			       .upstream_host = "127.0.0.1" };
	struct pgen_route routes[] = { { "3f9c1a2b7d4e", 9000 } };
	struct buf a, b;
	struct err e;

	buf_init(&a, 0);
	buf_init(&b, 0);
	CHECK(pgen_render(&o, routes, 1, "abcd", &a, &e) == 0);
	CHECK(pgen_render(&o, routes, 1, "abcd", &b, &e) == 0);
	CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	CHECK_CONTAINS(a.data, "3f9c1a2b7d4e/9000 127.0.0.1:9000;");
	CHECK_CONTAINS(a.data, "location ~ \"^/klangk/hosted/");
	CHECK_CONTAINS(a.data, "listen 127.0.0.1:8995;");
	buf_free(&a);
	buf_free(&b);

	/* Nothing free-form reaches the file. */
	buf_init(&a, 0);
	o.base_path = "/x; }";
	CHECK(pgen_render(&o, routes, 1, "abcd", &a, &e) == -EINVAL);
	o.base_path = "/x/";
	CHECK(pgen_render(&o, routes, 1, "abcd", &a, &e) == -EINVAL);
	o.base_path = "";
	o.upstream_host = "evil.com";
	CHECK(pgen_render(&o, routes, 1, "abcd", &a, &e) == -EINVAL);
	o.upstream_host = "127.0.0.1";
	o.dir = "/tmp/x y";
	CHECK(pgen_render(&o, routes, 1, "abcd", &a, &e) == -EINVAL);
	o.dir = "/tmp/x";
	{
		struct pgen_route bad[] = { { "ABCDEFABCDEF", 9000 } };

		CHECK(pgen_render(&o, bad, 1, "abcd", &a, &e) == -EINVAL);
	}
	CHECK(pgen_render(&o, routes, 1, "ab;cd", &a, &e) == -EINVAL);
	buf_free(&a);
}

static void test_generation(void)
{
	struct pgen_opts o = { .dir = "/tmp/x", .listen_addr = "127.0.0.1",
			       .listen_port = 8995, .base_path = "",
			       .upstream_host = "127.0.0.1" };
	struct pgen_route r1[] = { { "3f9c1a2b7d4e", 9000 } };
	struct pgen_route r2[] = { { "3f9c1a2b7d4e", 9001 } };
	char g1[17], g1b[17], g2[17], fg[40], want[64];
	struct buf a, b, c, d;
	struct err e;

	buf_init(&a, 0);
	buf_init(&b, 0);
	buf_init(&c, 0);
	buf_init(&d, 0);
	CHECK(pgen_render_generation(&o, r1, 1, &a, g1, &e) == 0);
	CHECK(pgen_render_generation(&o, r1, 1, &b, g1b, &e) == 0);
	CHECK(pgen_render_generation(&o, r2, 1, &c, g2, &e) == 0);
	CHECK(strlen(g1) == 16 && strspn(g1, "0123456789abcdef") == 16);
	CHECK(strcmp(g1, g1b) == 0 && a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	CHECK(strcmp(g1, g2) != 0);
	/* Both places carry it, and the text equals a plain render with it. */
	CHECK(pgen_file_generation(a.data, a.len, fg, sizeof(fg)) == 0 && strcmp(fg, g1) == 0);
	snprintf(want, sizeof(want), "return 200 \"%s\\n\";", g1);
	CHECK_CONTAINS(a.data, want);
	CHECK(!CONTAINS(a.data, "0000000000000000"));
	CHECK(pgen_render(&o, r1, 1, g1, &d, &e) == 0);
	CHECK(a.len == d.len && memcmp(a.data, d.data, a.len) == 0);
	/* Options count too. */
	buf_reset(&b);
	o.trust_forwarded = true;
	CHECK(pgen_render_generation(&o, r1, 1, &b, g1b, &e) == 0);
	CHECK(strcmp(g1, g1b) != 0);
	buf_free(&a);
	buf_free(&b);
	buf_free(&c);
	buf_free(&d);
}

static void test_modes(void)
{
	struct pgen_opts o = { .dir = "/tmp/x", .listen_addr = "0.0.0.0",
			       .listen_port = 8995, .base_path = "/klangk",
			       .upstream_host = "127.0.0.1" };
	struct pgen_route routes[] = { { "3f9c1a2b7d4e", 9000 } };
	char gen[40];
	struct buf a;
	struct err e;

	/* Untrusted: every X-Forwarded-* comes from the request itself. */
	buf_init(&a, 0);
	CHECK(pgen_render(&o, routes, 1, "abcd", &a, &e) == 0);
	CHECK_CONTAINS(a.data, "proxy_set_header X-Forwarded-Host $http_host;");
	CHECK_CONTAINS(a.data, "proxy_set_header X-Forwarded-Proto $scheme;");
	CHECK_CONTAINS(a.data, "proxy_set_header X-Forwarded-Prefix \"/klangk\";");
	CHECK_CONTAINS(a.data, "proxy_set_header X-Forwarded-For $remote_addr;");
	CHECK_CONTAINS(a.data, "return 301 \"/klangk/hosted/$klangk_id/$klangk_port/$is_args$args\"");
	CHECK(!CONTAINS(a.data, "http_x_forwarded"));
	CHECK(!CONTAINS(a.data, "access_log syslog"));
	CHECK_CONTAINS(a.data, "worker_processes auto;");
	CHECK_CONTAINS(a.data, "worker_shutdown_timeout 300s;");
	CHECK_CONTAINS(a.data, "map_hash_max_size 16384;");
	CHECK(!CONTAINS(a.data, "daemon"));
	/* WebSockets, long-lived and large requests pass as they are. */
	CHECK_CONTAINS(a.data, "proxy_http_version 1.1;");
	CHECK_CONTAINS(a.data, "proxy_set_header Upgrade $http_upgrade;");
	CHECK_CONTAINS(a.data, "proxy_set_header Connection $klangk_connection;");
	CHECK_CONTAINS(a.data, "proxy_read_timeout 3600s;");
	CHECK_CONTAINS(a.data, "proxy_send_timeout 3600s;");
	CHECK_CONTAINS(a.data, "proxy_buffering off;");
	CHECK_CONTAINS(a.data, "proxy_request_buffering off;");
	CHECK_CONTAINS(a.data, "client_max_body_size 0;");
	/* The raw URI: proxy_pass has no URI part. */
	CHECK_CONTAINS(a.data, "proxy_pass http://$klangk_upstream;\n");
	CHECK(pgen_file_generation(a.data, a.len, gen, sizeof(gen)) == 0);
	CHECK(strcmp(gen, "abcd") == 0);
	CHECK(pgen_file_generation("# x\n# generation zz, 1", 20, gen, sizeof(gen)) == -ENOENT);
	CHECK(pgen_file_generation("", 0, gen, sizeof(gen)) == -ENOENT);
	buf_free(&a);

	/* Trusted: the outer proxy's headers, checked by maps. */
	buf_init(&a, 0);
	o.trust_forwarded = true;
	o.activity_log = true;
	o.worker_processes = 2;
	o.worker_shutdown_s = 7;
	CHECK(pgen_render(&o, routes, 1, "abcd", &a, &e) == 0);
	CHECK_CONTAINS(a.data, "map $http_x_forwarded_host $klangk_fwd_host");
	CHECK_CONTAINS(a.data, "proxy_set_header X-Forwarded-Prefix \"$klangk_fwd_prefix/klangk\";");
	CHECK_CONTAINS(a.data, "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;");
	CHECK_CONTAINS(a.data, "return 301 \"$klangk_fwd_prefix/klangk/hosted/");
	CHECK_CONTAINS(a.data, "access_log syslog:server=unix:/tmp/x/access.sock,nohostname,tag=klangk klangk_activity;");
	CHECK_CONTAINS(a.data, "worker_processes 2;");
	CHECK_CONTAINS(a.data, "worker_shutdown_timeout 7s;");
	buf_free(&a);

	/* Sockets must fit in sun_path. */
	buf_init(&a, 0);
	o.dir = "/tmp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	CHECK(pgen_render(&o, routes, 1, "abcd", &a, &e) == -EINVAL);
	o.dir = "/tmp/x";
	o.worker_processes = -1;
	CHECK(pgen_render(&o, routes, 1, "abcd", &a, &e) == -EINVAL);
	buf_free(&a);
}

/* However many routes, one location serves them all (the maps route). */
static void test_one_location(void)
{
	struct pgen_opts o = { .dir = "/tmp/x", .listen_addr = "127.0.0.1",
			       .listen_port = 8995, .base_path = "",
			       .upstream_host = "127.0.0.1" };
	struct pgen_route routes[] = { { "3f9c1a2b7d4e", 9000 }, { "3f9c1a2b7d4e", 9001 },
				       { "aaaaaaaaaaaa", 9002 } };

	for (size_t n = 0; n <= 3; n++) {
		struct buf a;
		struct err e;
		size_t locations = 0;

		buf_init(&a, 0);
		CHECK(pgen_render(&o, routes, n, "abcd", &a, &e) == 0);
		for (const char *p = a.data; (p = strstr(p, "location ")) != NULL; p++)
			locations++;
		/* hosted, the 404 catch-all, and the status server's two */
		CHECK(locations == 4);
		buf_free(&a);
	}
}

/* The settings proxy-gen takes from the environment, and their defaults. */
static void test_settings(void)
{
	struct cfg c;
	struct err e;

	unsetenv("KLANGK_NGINX_PORT");
	unsetenv("KLANGK_HOSTING_BASE_PATH");
	unsetenv("KLANGK_PUBLISH_ADDRESS");
	CHECK(cfg_from_env(&c, &e) == 0);
	CHECK(c.nginx_port == 8995);
	CHECK(strcmp(c.hosting_base_path, "") == 0);
	CHECK(strcmp(c.publish_address, "127.0.0.1") == 0);
	setenv("KLANGK_NGINX_PORT", "9123", 1);
	setenv("KLANGK_HOSTING_BASE_PATH", "/klangk", 1);
	CHECK(cfg_from_env(&c, &e) == 0);
	CHECK(c.nginx_port == 9123);
	CHECK(strcmp(c.hosting_base_path, "/klangk") == 0);
	setenv("KLANGK_NGINX_PORT", "0", 1);
	CHECK(cfg_from_env(&c, &e) == -EINVAL);
	unsetenv("KLANGK_NGINX_PORT");
	unsetenv("KLANGK_HOSTING_BASE_PATH");
}

/* Render with o into a fresh directory and run the real nginx -t on it. */
static void nginx_t(struct pgen_opts *o, const struct pgen_route *routes, size_t n)
{
	char dir[] = "/tmp/pgen-test.XXXXXX", conf[256], cmd[1024];
	struct buf b;
	struct err e;
	FILE *f;

	CHECK(mkdtemp(dir) != NULL);
	o->dir = dir;
	buf_init(&b, 0);
	CHECK(pgen_render(o, routes, n, "abcd", &b, &e) == 0);
	snprintf(conf, sizeof(conf), "%s/nginx.conf", dir);
	f = fopen(conf, "w");
	CHECK(f != NULL);
	if (f) {
		fwrite(b.data, 1, b.len, f);
		fclose(f);
	}
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p %s/tmp && PATH=$PATH:/usr/sbin nginx -t -q -p %s/ -e %s/error.log -c %s",
		 dir, dir, dir, conf);
	CHECK(system(cmd) == 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
	buf_free(&b);
}

/* The rendering is accepted by the real nginx (when it is installed). */
static void test_nginx_accepts(void)
{
	struct pgen_opts o = { .listen_addr = "127.0.0.1", .listen_port = 18995,
			       .base_path = "", .upstream_host = "127.0.0.1" };
	struct pgen_route routes[] = { { "3f9c1a2b7d4e", 9000 }, { "3f9c1a2b7d4e", 9001 } };

	if (system("command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx") != 0) {
		printf("pgen: nginx not installed, skipping nginx -t check\n");
		return;
	}
	nginx_t(&o, routes, 2);
	o.trust_forwarded = true;
	o.activity_log = true;
	o.base_path = "/a/b";
	nginx_t(&o, routes, 2);
	nginx_t(&o, NULL, 0);
	/* Origin mode, with and without a trusted proxy and a base path. */
	o.domain = "apps.example.com:8443";
	o.proto = "https";
	nginx_t(&o, routes, 2);
	o.trust_forwarded = false;
	o.base_path = "";
	o.domain = "a-b.apps.localhost";
	nginx_t(&o, routes, 2);
	nginx_t(&o, NULL, 0);
	/* Members-only routes, over http and https, with activity. */
	{
		struct pgen_route m[] = { { "3f9c1a2b7d4e", 9000, .members = true },
					  { "3f9c1a2b7d4e", 9001, .members = false } };

		o.gateway_address = "127.0.0.1:8990";
		nginx_t(&o, m, 2);
		o.proto = "http";
		o.gateway_origin = "http://gw.localhost:8990";
		o.activity_log = false;
		nginx_t(&o, m, 2);
	}
}

/* Members-only routes: never in path mode's allow-list; in origin mode a
 * second map of them, the app cookie's maps, and the auth locations, all
 * absent when no route is members-only (public routes pay nothing). */
static void test_members(void)
{
	struct pgen_opts o = { .dir = "/tmp/x", .listen_addr = "127.0.0.1",
			       .listen_port = 8995, .base_path = "",
			       .upstream_host = "127.0.0.1",
			       .gateway_address = "127.0.0.1:8990" };
	struct pgen_route routes[] = { { "3f9c1a2b7d4e", 9000, .members = true },
				       { "3f9c1a2b7d4e", 9001, .members = false } };
	struct buf a;
	struct err e;

	buf_init(&a, 0);
	CHECK(pgen_render(&o, routes, 2, "abcd", &a, &e) == 0);
	CHECK(strstr(a.data, "3f9c1a2b7d4e/9000") == NULL);
	CHECK_CONTAINS(a.data, "3f9c1a2b7d4e/9001 127.0.0.1:9001;");
	CHECK(strstr(a.data, "auth_request") == NULL);
	buf_reset(&a);
	o.domain = "apps.example.com";
	o.proto = "https";
	CHECK(pgen_render(&o, routes, 2, "abcd", &a, &e) == 0);
	CHECK_CONTAINS(a.data, "3f9c1a2b7d4e/9000 127.0.0.1:9000;");
	CHECK_CONTAINS(a.data, "map $klangk_id/$klangk_port $klangk_members {\n        default 0;\n        3f9c1a2b7d4e/9000 1;\n    }");
	CHECK_CONTAINS(a.data, "__Host-klangk_app=(?<klangk_acv>");
	CHECK_CONTAINS(a.data, "if ($klangk_members) { rewrite ^ /_klangk/members last; }");
	CHECK_CONTAINS(a.data, "proxy_pass http://127.0.0.1:8990/api/v1/app/auth;");
	CHECK_CONTAINS(a.data, "return 302 \"http://127.0.0.1:8990/app/$klangk_id-$klangk_port$request_uri\";");
	CHECK_CONTAINS(a.data, "proxy_set_header Cookie $klangk_app_cookies;");
	/* Without a gateway the members-only route is not routed at all. */
	buf_reset(&a);
	o.gateway_address = "";
	CHECK(pgen_render(&o, routes, 2, "abcd", &a, &e) == 0);
	CHECK(strstr(a.data, "3f9c1a2b7d4e/9000") == NULL);
	CHECK(strstr(a.data, "auth_request") == NULL);
	/* No members-only route: nothing of it. */
	buf_reset(&a);
	o.gateway_address = "127.0.0.1:8990";
	routes[0].members = false;
	CHECK(pgen_render(&o, routes, 2, "abcd", &a, &e) == 0);
	CHECK(strstr(a.data, "klangk_members") == NULL && strstr(a.data, "_klangk") == NULL);
	/* Nothing free-form reaches the file. */
	o.gateway_address = "127.0.0.1:8990; }";
	CHECK(pgen_render(&o, routes, 2, "abcd", &a, &e) == -EINVAL);
	o.gateway_address = "127.0.0.1:8990";
	o.gateway_origin = "http://gw.example.com/x";
	CHECK(pgen_render(&o, routes, 2, "abcd", &a, &e) == -EINVAL);
	o.gateway_origin = "http://GW.example.com";
	CHECK(pgen_render(&o, routes, 2, "abcd", &a, &e) == -EINVAL);
	o.gateway_origin = "https://gw.example.com\";";
	CHECK(pgen_render(&o, routes, 2, "abcd", &a, &e) == -EINVAL);
	buf_free(&a);
}

/* Origin mode: one server per domain, the same allow-list, path URLs
 * redirected; path mode's text does not change with it off. */
static void test_origin(void)
{
	struct pgen_opts o = { .dir = "/tmp/x", .listen_addr = "127.0.0.1",
			       .listen_port = 8995, .base_path = "/k.b",
			       .upstream_host = "127.0.0.1" };
	struct pgen_route routes[] = { { "3f9c1a2b7d4e", 9000 } };
	struct buf a, b;
	struct err e;

	buf_init(&a, 0);
	buf_init(&b, 0);
	CHECK(pgen_render(&o, routes, 1, "abcd", &a, &e) == 0);
	o.domain = "";
	CHECK(pgen_render(&o, routes, 1, "abcd", &b, &e) == 0);
	CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	CHECK(strstr(a.data, "server_name \"~") == NULL);
	buf_reset(&a);
	o.domain = "apps.example.com:8443";
	o.proto = "https";
	CHECK(pgen_render(&o, routes, 1, "abcd", &a, &e) == 0);
	CHECK_CONTAINS(a.data, "3f9c1a2b7d4e/9000 127.0.0.1:9000;");
	CHECK_CONTAINS(a.data, "server_name \"~^(?<klangk_id>[0-9a-f]{12,32})-(?<klangk_port>[0-9]{1,5})\\.apps\\.example\\.com$\";");
	CHECK_CONTAINS(a.data, "listen 127.0.0.1:8995 default_server;");
	CHECK_CONTAINS(a.data, "return 307 \"https://$klangk_id-$klangk_port.apps.example.com:8443$klangk_origin_rest\";");
	CHECK_CONTAINS(a.data, " /k\\.b/hosted/\\k<klangk_r1>");
	/* No app is proxied on the shared host. */
	CHECK(strstr(a.data, "proxy_pass") &&
	      !strstr(strstr(a.data, "proxy_pass") + 1, "proxy_pass"));
	/* Nothing free-form reaches the file. */
	o.domain = "Apps.example.com";
	CHECK(pgen_render(&o, routes, 1, "abcd", &b, &e) == -EINVAL);
	o.domain = "apps.example.com; }";
	CHECK(pgen_render(&o, routes, 1, "abcd", &b, &e) == -EINVAL);
	o.domain = "localhost";
	CHECK(pgen_render(&o, routes, 1, "abcd", &b, &e) == -EINVAL);
	o.domain = "apps.example.com";
	o.proto = "ftp";
	CHECK(pgen_render(&o, routes, 1, "abcd", &b, &e) == -EINVAL);
	buf_free(&a);
	buf_free(&b);
}

int main(void)
{
	test_routes();
	test_routes_unpublished();
	test_render();
	test_modes();
	test_generation();
	test_one_location();
	test_settings();
	test_origin();
	test_members();
	test_nginx_accepts();
	return T_DONE("pgen");
}
