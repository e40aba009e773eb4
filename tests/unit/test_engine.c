/* Unit tests for the pure parts of lib/engine: the demultiplexer of an
 * exec's output stream without a TTY, limits as HostConfig fields, and a
 * container's state from its inspection. */
#include "t.h"

#include "engine.h"

#include <stdlib.h>

struct out {
	char s[2][256];
};

static int collect(void *ud, int stream, const char *data, size_t len)
{
	struct out *o = ud;
	size_t n;

	if (stream < 1 || stream > 2)
		return 1;
	n = strlen(o->s[stream - 1]);
	snprintf(o->s[stream - 1] + n, sizeof(o->s[0]) - n, "%.*s", (int)len, data);
	return 0;
}

static void frame(char *buf, size_t *n, int stream, const char *payload)
{
	size_t len = strlen(payload);

	buf[*n] = (char)stream;
	buf[*n + 1] = buf[*n + 2] = buf[*n + 3] = 0;
	buf[*n + 4] = (char)(len >> 24);
	buf[*n + 5] = (char)(len >> 16);
	buf[*n + 6] = (char)(len >> 8);
	buf[*n + 7] = (char)len;
	memcpy(buf + *n + 8, payload, len);
	*n += 8 + len;
}

/* Limits become HostConfig fields; unset ones are left out. */
static void test_resources_json(void)
{
	struct engine_resources r = { .nano_cpus = 500000000, .memory = 134217728,
				      .memory_swap = 134217728 };
	json_t *hc = json_object();

	CHECK(engine_resources_to_json(&r, hc) == 0);
	CHECK(json_integer_value(json_object_get(hc, "NanoCpus")) == 500000000);
	CHECK(json_integer_value(json_object_get(hc, "Memory")) == 134217728);
	CHECK(json_integer_value(json_object_get(hc, "MemorySwap")) == 134217728);
	CHECK(json_object_get(hc, "PidsLimit") == NULL);
	json_decref(hc);
}

/* State from an inspection: dockerd's OOM kill, an exit code, no State. */
static void test_state(void)
{
	json_t *j = json_loads("{\"State\": {\"Status\": \"exited\", \"Running\": false,"
			       " \"OOMKilled\": true, \"ExitCode\": 137,"
			       " \"FinishedAt\": \"2026-12-03T22:23:58.899964232Z\"}}", 0, NULL);
	struct engine_state s = { .exit_code = -1 };

	CHECK(engine_container_state(j, &s) == 0);
	CHECK(!s.running && s.oom_killed && s.exit_code == 137);
	CHECK(strcmp(s.status, "exited") == 0);
	CHECK(strcmp(s.finished_at, "2026-12-03T22:23:58.899964232Z") == 0);
	json_decref(j);
	j = json_loads("{\"State\": {\"Status\": \"running\", \"Running\": true,"
		       " \"ExitCode\": 0}}", 0, NULL);
	CHECK(engine_container_state(j, &s) == 0 && s.running && !s.oom_killed &&
	      s.exit_code == 0 && s.finished_at[0] == '\0');
	json_decref(j);
	s.exit_code = 99;
	j = json_loads("{\"Id\": \"x\"}", 0, NULL);
	CHECK(engine_container_state(j, &s) == -EPROTO && s.exit_code == 99);
	json_decref(j);
}

int main(void)
{
	char buf[512];
	size_t n = 0;

	frame(buf, &n, 1, "hello ");
	frame(buf, &n, 2, "oops\n");
	frame(buf, &n, 1, "");
	frame(buf, &n, 1, "world\n");

	/* All at once, and one byte at a time: the same result. */
	for (int mode = 0; mode < 2; mode++) {
		struct engine_demux d = { 0 };
		struct out o = { { "", "" } };
		int r = 0;

		if (mode == 0) {
			r = engine_demux_feed(&d, buf, n, collect, &o);
		} else {
			for (size_t i = 0; i < n && r == 0; i++)
				r = engine_demux_feed(&d, buf + i, 1, collect, &o);
		}
		CHECK(r == 0);
		CHECK(strcmp(o.s[0], "hello world\n") == 0);
		CHECK(strcmp(o.s[1], "oops\n") == 0);
		CHECK(d.left == 0 && d.hlen == 0);
	}
	{
		/* A header that is not one. */
		struct engine_demux d = { 0 };
		struct out o = { { "", "" } };

		CHECK(engine_demux_feed(&d, "HTTP/1.1 200 OK\r\n", 17, collect, &o) == -EPROTO);
	}
	{
		/* The callback stops the feed. */
		struct engine_demux d = { 0 };
		struct out o = { { "", "" } };
		char b[64];
		size_t k = 0;

		frame(b, &k, 0, "stdin?");
		CHECK(engine_demux_feed(&d, b, k, collect, &o) == -ECANCELED);
	}
	test_resources_json();
	test_state();
	return T_DONE("engine");
}
