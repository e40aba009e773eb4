/*
 * codec — YAML ⇄ JSON.
 *
 * YAML is read with libyaml's event parser into jansson values, so every
 * later layer deals with one representation.  Reading is bounded: at most
 * CODEC_MAX_DOC bytes per document, CODEC_MAX_DEPTH nesting, and aliases
 * are expanded with a budget (a "billion laughs" document is refused, not
 * expanded).  Duplicate mapping keys, non-scalar keys and invalid UTF-8 are
 * errors.  JSON input is accepted as YAML.  Scalars are resolved with the
 * YAML 1.2 core schema: null/~/empty, true/false, integers, floats;
 * anything quoted or tagged !!str is a string.
 */
#ifndef KLANGK_CODEC_H
#define KLANGK_CODEC_H

#include "buf.h"
#include "err.h"

#include <jansson.h>

#define CODEC_MAX_DOC (1024u * 1024)
#define CODEC_MAX_DEPTH 64
#define CODEC_MAX_NODES 100000  /* per document, aliases expanded */
#define CODEC_MAX_DOCS 10000    /* per stream */

struct codec_doc {
	json_t *value;  /* owned */
	size_t line;    /* 1-based line where the document starts */
};

struct codec_docs {
	struct codec_doc *docs;  /* owned array */
	size_t n;
};

/*
 * Parse a stream of YAML documents.  Empty documents (only comments, or a
 * bare "---") are skipped.  On failure `e` says where ("line 3 column 5:
 * ...") and nothing is returned.
 */
int codec_yaml_load(const char *data, size_t len, struct codec_docs *out,
		    struct err *e);
void codec_docs_clear(struct codec_docs *d);

/* Emit a JSON value as one YAML document (block style), appended to out. */
int codec_yaml_dump(const json_t *v, struct buf *out, struct err *e);

#endif
