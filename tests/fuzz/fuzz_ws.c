/*
 * libFuzzer target: YAML/JSON decoding and Workspace validation.
 *
 * Any input through codec_yaml_load and ws_parse must neither crash nor
 * leak; and a document ws_parse accepts must survive the round trip the
 * CLI makes (ws_canonical, emitted as YAML, read back) with the same
 * canonical object and the same verdict.
 */
#include "codec.h"
#include "ws.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_roundtrip(const json_t *doc, const struct ws *w)
{
	json_t *canon = ws_canonical(doc, w->ns);
	struct codec_docs again = { 0 };
	struct ws *w2 = NULL;
	struct buf out;

	buf_init(&out, 4u * 1024 * 1024);
	if (!canon)
		goto out;
	if (codec_yaml_dump(canon, &out, NULL) < 0)
		abort();
	if (codec_yaml_load(out.data, out.len, &again, NULL) < 0 || again.n != 1)
		abort();
	if (!json_equal(canon, again.docs[0].value))
		abort();
	if (ws_parse(again.docs[0].value, NULL, &w2, NULL) < 0)
		abort();
	if (strcmp(w2->name, w->name) != 0 || strcmp(w2->ns, w->ns) != 0 ||
	    w2->n_mounts != w->n_mounts || w2->n_env != w->n_env ||
	    w2->hosted_ports != w->hosted_ports)
		abort();
out:
	ws_free(w2);
	codec_docs_clear(&again);
	json_decref(canon);
	buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct codec_docs docs = { 0 };
	struct err e;

	if (codec_yaml_load((const char *)data, size, &docs, &e) < 0)
		return 0;
	for (size_t i = 0; i < docs.n; i++) {
		struct ws *w = NULL;

		if (ws_parse(docs.docs[i].value, "fuzz", &w, &e) == 0) {
			check_roundtrip(docs.docs[i].value, w);
			ws_free(w);
		}
	}
	codec_docs_clear(&docs);
	return 0;
}
