/*
 * merge — kubectl's client-side apply for Workspace objects: the three-way
 * merge of the last applied configuration, the file being applied and the
 * live object.
 *
 * The file wins for every field it sets; a field that the previous apply
 * set and the file no longer mentions is removed; a field that only other
 * writers set (spec.running by `klangkc stop`, spec.members by `share`)
 * is kept.  Objects merge key by key, recursively; lists and scalars are
 * replaced whole (JSON merge-patch semantics, as Kubernetes uses for
 * custom resources).  A null in the file means "absent".
 *
 * The last applied configuration is kept, like kubectl's, as compact JSON
 * in the annotation MERGE_LAST_APPLIED of the stored object.
 */
#ifndef KLANGK_MERGE_H
#define KLANGK_MERGE_H

#include "err.h"

#include <jansson.h>

#define MERGE_LAST_APPLIED "klangk.io/last-applied-configuration"

/*
 * The three-way merge of plain JSON values.  last may be NULL (nothing was
 * applied before: nothing is removed); live may be NULL (a create).
 * Returns new; NULL on allocation failure.
 */
json_t *merge_three_way(const json_t *last, const json_t *file,
			const json_t *live);

/*
 * The last applied configuration recorded in obj (borrowed), parsed: new,
 * or NULL when there is none or it is not a JSON object.
 */
json_t *merge_last_applied(const json_t *obj);

/*
 * The object `klangkc apply` stores: the three-way merge of obj's last
 * applied configuration, file and live (NULL when the object does not
 * exist), with the annotation set to file (minus that annotation).  Empty
 * labels and annotations maps are dropped, as ws_canonical drops them.
 * out: new.
 */
int merge_apply(const json_t *live, const json_t *file, json_t **out,
		struct err *e);

/* A copy of obj without the last-applied annotation (for diffs).  new. */
json_t *merge_strip_last_applied(const json_t *obj);

#endif
