/* Unit tests for the pure parts of lib/engine: the demultiplexer of an
 * exec's output stream without a TTY. */
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
	return T_DONE("engine");
}
