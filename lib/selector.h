/*
 * selector — Kubernetes label selectors, for `klangkc get/delete/wait -l`
 * and `apply --prune -l`.
 *
 * Syntax, requirements separated by commas, all of which must hold:
 *   key=value  key==value  key!=value  key  !key
 *   key in (v1,v2)  key notin (v1,v2)
 * As in Kubernetes, `key!=value` and `notin` also match objects without
 * the key.
 */
#ifndef KLANGK_SELECTOR_H
#define KLANGK_SELECTOR_H

#include "err.h"

#include <jansson.h>
#include <stdbool.h>

struct selector;

/* Parse text (at most 4096 bytes).  out: new, free with selector_free. */
int selector_parse(const char *text, struct selector **out, struct err *e);
void selector_free(struct selector *s);

/* Does the labels object (borrowed; NULL = no labels) match?  A NULL
 * selector matches everything. */
bool selector_match(const struct selector *s, const json_t *labels);

#endif
