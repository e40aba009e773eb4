/* merge — the three-way merge of client-side apply (see merge.h). */
#include "merge.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A copy of v without null members at any depth of its objects (in the file
 * a null means "not set"). */
static json_t *copy_without_nulls(const json_t *v)
{
	const char *k;
	json_t *cv, *out;

	if (!json_is_object(v))
		return json_deep_copy(v);
	out = json_object();
	if (!out)
		return NULL;
	json_object_foreach((json_t *)v, k, cv) {
		json_t *c;

		if (json_is_null(cv))
			continue;
		c = copy_without_nulls(cv);
		if (!c || json_object_set_new(out, k, c) < 0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

json_t *merge_three_way(const json_t *last, const json_t *file,
			const json_t *live)
{
	const char *k;
	json_t *v, *res;

	if (!json_is_object(file) || !json_is_object(live))
		return copy_without_nulls(file);
	res = json_deep_copy(live);
	if (!res)
		return NULL;
	/* Removed from the file since the last apply: removed here. */
	if (json_is_object(last))
		json_object_foreach((json_t *)last, k, v) {
			json_t *f = json_object_get(file, k);

			if (!f || json_is_null(f))
				json_object_del(res, k);
		}
	json_object_foreach((json_t *)file, k, v) {
		json_t *m;

		if (json_is_null(v)) {
			json_object_del(res, k);
			continue;
		}
		m = merge_three_way(json_object_get(last, k), v, json_object_get(res, k));
		if (!m || json_object_set_new(res, k, m) < 0) {
			json_decref(res);
			return NULL;
		}
	}
	return res;
}

json_t *merge_last_applied(const json_t *obj)
{
	const json_t *ann = json_object_get(json_object_get(obj, "metadata"),
					    "annotations");
	const char *s = json_string_value(json_object_get(ann, MERGE_LAST_APPLIED));
	json_t *v;

	if (!s)
		return NULL;
	v = json_loads(s, 0, NULL);
	if (!json_is_object(v)) {
		json_decref(v);
		return NULL;
	}
	return v;
}

/* Remove the annotation from obj (owned), and the map when it empties. */
static void drop_annotation(json_t *obj)
{
	json_t *meta = json_object_get(obj, "metadata");
	json_t *ann = json_object_get(meta, "annotations");

	json_object_del(ann, MERGE_LAST_APPLIED);
	if (json_is_object(ann) && json_object_size(ann) == 0)
		json_object_del(meta, "annotations");
}

json_t *merge_strip_last_applied(const json_t *obj)
{
	json_t *c = json_deep_copy(obj);

	if (c)
		drop_annotation(c);
	return c;
}

int merge_apply(const json_t *live, const json_t *file, json_t **out,
		struct err *e)
{
	json_t *applied = NULL, *last = NULL, *res = NULL, *meta, *ann;
	char *text = NULL;
	int r = -ENOMEM;

	applied = merge_strip_last_applied(file);
	if (!applied)
		goto out;
	last = live ? merge_last_applied(live) : NULL;
	res = merge_three_way(last, applied, live);
	if (!res)
		goto out;
	if (!json_is_object(res)) {
		err_set(e, "(root): must be an object");
		r = -EINVAL;
		goto out;
	}
	text = json_dumps(applied, JSON_COMPACT | JSON_SORT_KEYS);
	meta = json_object_get(res, "metadata");
	if (!text || !json_is_object(meta))
		goto out;
	ann = json_object_get(meta, "annotations");
	if (!json_is_object(ann)) {
		ann = json_object();
		if (!ann || json_object_set_new(meta, "annotations", ann) < 0)
			goto out;
	}
	if (json_object_set_new(ann, MERGE_LAST_APPLIED, json_string(text)) < 0)
		goto out;
	if (json_is_object(json_object_get(meta, "labels")) &&
	    json_object_size(json_object_get(meta, "labels")) == 0)
		json_object_del(meta, "labels");
	*out = res;
	res = NULL;
	r = 0;
out:
	json_decref(applied);
	json_decref(last);
	json_decref(res);
	free(text);
	return r;
}
