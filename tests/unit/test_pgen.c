/* Unit tests for pgen: which routes exist, and what reaches the config. */
#include "pgen.h"
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
		"   \"ports\": [{\"container\": 8000, \"host\": 65536}, {\"container\": 8001, \"host\": \"9\"}]}}",
		0, &je);
}

static void test_routes(void)
{
	struct pgen_route *r = NULL;
	size_t n = 0, skipped = 0;
	json_t *s = statuses();

	CHECK(pgen_routes_from_status(s, &r, &n, &skipped) == 0);
	CHECK(n == 2);
	CHECK(n == 2 && strcmp(r[0].id, "3f9c1a2b7d4e") == 0 && r[0].port == 9000 &&
	      r[1].port == 9001);
	CHECK(skipped == 3);
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

/* The rendering is accepted by the real nginx (when it is installed). */
static void test_nginx_accepts(void)
{
	char dir[] = "/tmp/pgen-test.XXXXXX", conf[256], cmd[1024];
	struct pgen_opts o = { .listen_addr = "127.0.0.1", .listen_port = 18995,
			       .base_path = "", .upstream_host = "127.0.0.1" };
	struct pgen_route routes[] = { { "3f9c1a2b7d4e", 9000 }, { "3f9c1a2b7d4e", 9001 } };
	struct buf b;
	struct err e;
	FILE *f;

	if (system("command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx") != 0) {
		printf("pgen: nginx not installed, skipping nginx -t check\n");
		return;
	}
	CHECK(mkdtemp(dir) != NULL);
	o.dir = dir;
	buf_init(&b, 0);
	CHECK(pgen_render(&o, routes, 2, "abcd", &b, &e) == 0);
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

int main(void)
{
	test_routes();
	test_render();
	test_nginx_accepts();
	return T_DONE("pgen");
}
