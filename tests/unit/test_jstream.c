/* Unit tests for jstream: values split across chunks in every way. */
#include "jstream.h"
#include "t.h"

struct seen {
	int n;
	long long sum;
	int stop_at;
};

static int collect(void *ud, json_t *v)
{
	struct seen *s = ud;

	s->n++;
	s->sum += json_integer_value(json_object_get(v, "n"));
	return s->stop_at && s->n == s->stop_at;
}

int main(void)
{
	const char *stream = "{\"n\":1}\n{\"n\":2}{\"n\":3}  \r\n{\"n\":\"x\",\"s\":\"a}b{\"}{\"n\":4}";
	size_t len = strlen(stream);
	struct jstream js;
	struct seen s;
	struct err e;

	/* Every chunk size from 1 byte to the whole stream. */
	for (size_t step = 1; step <= len; step++) {
		memset(&s, 0, sizeof(s));
		jstream_init(&js, 4096, collect, &s);
		for (size_t off = 0; off < len; off += step) {
			size_t n = len - off < step ? len - off : step;

			CHECK(jstream_feed(&js, stream + off, n, &e) == 0);
		}
		CHECK(s.n == 5 && s.sum == 10);
		jstream_free(&js);
	}
	/* A callback stops the feed. */
	memset(&s, 0, sizeof(s));
	s.stop_at = 2;
	jstream_init(&js, 4096, collect, &s);
	CHECK(jstream_feed(&js, stream, len, &e) == 1 && s.n == 2);
	jstream_free(&js);
	/* Malformed and oversized input. */
	memset(&s, 0, sizeof(s));
	jstream_init(&js, 4096, collect, &s);
	CHECK(jstream_feed(&js, "{\"n\":1} ]", 9, &e) == -EPROTO);
	jstream_free(&js);
	jstream_init(&js, 8, collect, &s);
	CHECK(jstream_feed(&js, "{\"n\":12345678", 13, &e) == -E2BIG);
	jstream_free(&js);
	return T_DONE("jstream");
}
