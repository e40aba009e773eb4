/* Unit tests for httpd: routes, 404, 405, the listen address forms. */
#include "http.h"
#include "httpd.h"
#include "t.h"

#include <stdio.h>

static int hello(void *ud, struct buf *body, int *status)
{
	int *calls = ud;

	(*calls)++;
	*status = 200;
	return buf_printf(body, "hello %d\n", *calls);
}

static int unready(void *ud, struct buf *body, int *status)
{
	(void)ud;
	*status = 503;
	return buf_puts(body, "not ready\n");
}

static int broken(void *ud, struct buf *body, int *status)
{
	(void)ud;
	(void)body;
	(void)status;
	return -EIO;
}

static long get(int port, const char *method, const char *path, struct buf *body)
{
	struct http_client *c = NULL;
	char url[128];
	long status = 0;
	struct err e;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	struct http_request r = { .method = method, .url = url, .timeout_ms = 5000,
				  .body = strcmp(method, "POST") == 0 ? "x" : NULL,
				  .body_len = strcmp(method, "POST") == 0 ? 1 : 0 };
	if (http_client_new(&c) < 0)
		return -1;
	if (http_do(c, &r, &status, body, &e) < 0)
		status = -1;
	http_client_free(c);
	return status;
}

static void test_serve(void)
{
	int calls = 0;
	struct httpd_route routes[] = {
		{ "/metrics", "text/plain; version=0.0.4", hello, &calls },
		{ "/readyz", NULL, unready, NULL },
		{ "/broken", NULL, broken, NULL },
	};
	struct httpd *h = NULL;
	struct buf b;
	struct err e;

	CHECK(httpd_start("127.0.0.1:0", routes, 3, &h, &e) == 0);
	if (!h)
		return;
	CHECK(httpd_port(h) > 0);
	buf_init(&b, 0);
	CHECK(get(httpd_port(h), "GET", "/metrics", &b) == 200);
	CHECK(b.data && strcmp(b.data, "hello 1\n") == 0);
	buf_reset(&b);
	CHECK(get(httpd_port(h), "GET", "/readyz", &b) == 503);
	CHECK(b.data && strcmp(b.data, "not ready\n") == 0);
	buf_reset(&b);
	CHECK(get(httpd_port(h), "GET", "/broken", &b) == 500);
	buf_reset(&b);
	CHECK(get(httpd_port(h), "GET", "/nope", &b) == 404);
	buf_reset(&b);
	CHECK(get(httpd_port(h), "POST", "/metrics", &b) == 405);
	CHECK(calls == 1);
	{
		/* The port is taken: a clear error. */
		struct httpd *h2 = NULL;
		char addr[32];

		snprintf(addr, sizeof(addr), "127.0.0.1:%d", httpd_port(h));
		CHECK(httpd_start(addr, routes, 1, &h2, &e) == -EADDRINUSE);
		CHECK_CONTAINS(e.msg, "listen on 127.0.0.1:");
		httpd_stop(h2);
	}
	buf_free(&b);
	httpd_stop(h);
	httpd_stop(NULL);
}

static void test_split(void)
{
	char host[64], port[8];

	CHECK(httpd_split_listen("127.0.0.1:9101", host, sizeof(host), port, sizeof(port)) == 0);
	CHECK(strcmp(host, "127.0.0.1") == 0 && strcmp(port, "9101") == 0);
	CHECK(httpd_split_listen("[::1]:80", host, sizeof(host), port, sizeof(port)) == 0);
	CHECK(strcmp(host, "::1") == 0 && strcmp(port, "80") == 0);
	CHECK(httpd_split_listen("localhost:0", host, sizeof(host), port, sizeof(port)) == 0);
	CHECK(httpd_split_listen("127.0.0.1", host, sizeof(host), port, sizeof(port)) == -EINVAL);
	CHECK(httpd_split_listen(":80", host, sizeof(host), port, sizeof(port)) == -EINVAL);
	CHECK(httpd_split_listen("h:65536", host, sizeof(host), port, sizeof(port)) == -EINVAL);
	CHECK(httpd_split_listen("h:8x", host, sizeof(host), port, sizeof(port)) == -EINVAL);
	CHECK(httpd_split_listen("::1:80", host, sizeof(host), port, sizeof(port)) == -EINVAL);
	CHECK(httpd_split_listen("[::1]80", host, sizeof(host), port, sizeof(port)) == -EINVAL);
}

int main(void)
{
	if (http_global_init() < 0)
		return 1;
	test_split();
	test_serve();
	return T_DONE("httpd");
}
