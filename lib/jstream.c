/* jstream — JSON value splitter for streamed responses (see jstream.h). */
#include "jstream.h"

#include <errno.h>
#include <string.h>

void jstream_init(struct jstream *s, size_t max, jstream_fn fn, void *ud)
{
	buf_init(&s->pending, max);
	s->fn = fn;
	s->ud = ud;
}

void jstream_free(struct jstream *s)
{
	if (s)
		buf_free(&s->pending);
}

int jstream_feed(struct jstream *s, const char *data, size_t len,
		 struct err *e)
{
	size_t off = 0;
	int r = 0;

	if (buf_append(&s->pending, data, len) < 0) {
		err_set(e, "streamed JSON value larger than %zu bytes", s->pending.max);
		return -E2BIG;
	}
	for (;;) {
		json_error_t jerr;
		json_t *v;

		while (off < s->pending.len &&
		       strchr(" \t\r\n", s->pending.data[off]) != NULL)
			off++;
		if (off == s->pending.len)
			break;
		/* JSON_DISABLE_EOF_CHECK parses one value and reports in
		 * jerr.position how many bytes it used. */
		v = json_loadb(s->pending.data + off, s->pending.len - off,
			       JSON_DISABLE_EOF_CHECK, &jerr);
		if (!v) {
			if (json_error_code(&jerr) == json_error_premature_end_of_input)
				break;
			err_set(e, "malformed JSON in stream: %s", jerr.text);
			r = -EPROTO;
			break;
		}
		off += (size_t)jerr.position;
		r = s->fn(s->ud, v);
		json_decref(v);
		if (r != 0)
			break;
	}
	if (off) {
		memmove(s->pending.data, s->pending.data + off, s->pending.len - off);
		s->pending.len -= off;
		s->pending.data[s->pending.len] = '\0';
	}
	return r;
}
