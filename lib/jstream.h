/*
 * jstream — split a byte stream into the JSON values it carries.
 *
 * Streaming HTTP APIs (etcd's watch, the engine's /events) send one JSON
 * value after another, separated by whitespace or not at all, cut into
 * chunks anywhere.  Feed the chunks in; each complete value is handed to
 * the callback.  A partial value is kept, up to max bytes.
 */
#ifndef KLANGK_JSTREAM_H
#define KLANGK_JSTREAM_H

#include "buf.h"
#include "err.h"

#include <jansson.h>

/* Called with each complete value (borrowed); non-zero stops the feed. */
typedef int (*jstream_fn)(void *ud, json_t *value);

struct jstream {
	struct buf pending;
	jstream_fn fn;
	void *ud;
};

void jstream_init(struct jstream *s, size_t max, jstream_fn fn, void *ud);
void jstream_free(struct jstream *s);

/*
 * Feed a chunk.  Returns 0, the callback's non-zero value when it stopped
 * the feed, -EPROTO on malformed JSON or -E2BIG when one value exceeds max
 * (reason in e).
 */
int jstream_feed(struct jstream *s, const char *data, size_t len,
		 struct err *e);

#endif
