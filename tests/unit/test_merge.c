/* Unit tests for merge: client-side apply's three-way merge. */
#include "merge.h"
#include "t.h"

#include <stdlib.h>

static json_t *J(const char *s)
{
	json_t *v = json_loads(s, 0, NULL);

	if (!v)
		fprintf(stderr, "bad test JSON: %s\n", s);
	return v;
}

/* merge_three_way(last, file, live) must equal want (all JSON texts;
 * "null" for last or live means absent). */
static void three_way(const char *last, const char *file, const char *live,
		      const char *want)
{
	json_t *l = strcmp(last, "null") ? J(last) : NULL;
	json_t *f = J(file), *lv = strcmp(live, "null") ? J(live) : NULL;
	json_t *w = J(want), *got = merge_three_way(l, f, lv);

	CHECK(got && json_equal(got, w));
	if (got && !json_equal(got, w)) {
		char *s = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);

		fprintf(stderr, "  got  %s\n  want %s\n", s, want);
		free(s);
	}
	json_decref(l);
	json_decref(f);
	json_decref(lv);
	json_decref(w);
	json_decref(got);
}

static void test_three_way(void)
{
	/* Create: the file as it is, nulls dropped. */
	three_way("null", "{\"a\":1,\"b\":null,\"c\":{\"d\":null}}", "null",
		  "{\"a\":1,\"c\":{}}");
	/* Removed from the file since the last apply: removed. */
	three_way("{\"a\":1,\"b\":2}", "{\"a\":1}", "{\"a\":1,\"b\":2}", "{\"a\":1}");
	/* Set by another writer, never applied: kept. */
	three_way("{\"a\":1}", "{\"a\":1}", "{\"a\":1,\"running\":false}",
		  "{\"a\":1,\"running\":false}");
	/* The file wins for what it sets, even over another writer. */
	three_way("{\"a\":1}", "{\"a\":2}", "{\"a\":3}", "{\"a\":2}");
	/* Nested objects merge key by key. */
	three_way("{\"s\":{\"x\":1,\"y\":2}}", "{\"s\":{\"x\":1}}",
		  "{\"s\":{\"x\":1,\"y\":2,\"z\":3}}", "{\"s\":{\"x\":1,\"z\":3}}");
	/* Lists are replaced whole. */
	three_way("{\"l\":[1,2]}", "{\"l\":[3]}", "{\"l\":[1,2,4]}", "{\"l\":[3]}");
	/* A list set only by another writer survives an apply without it. */
	three_way("{\"spec\":{\"image\":\"a\"}}", "{\"spec\":{\"image\":\"b\"}}",
		  "{\"spec\":{\"image\":\"a\",\"members\":[{\"user\":\"bob\"}]}}",
		  "{\"spec\":{\"image\":\"b\",\"members\":[{\"user\":\"bob\"}]}}");
	/* An explicit null removes. */
	three_way("null", "{\"a\":null}", "{\"a\":1,\"b\":2}", "{\"b\":2}");
	/* An object replaces a scalar and the other way round. */
	three_way("null", "{\"a\":{\"x\":1}}", "{\"a\":5}", "{\"a\":{\"x\":1}}");
	three_way("null", "{\"a\":5}", "{\"a\":{\"x\":1}}", "{\"a\":5}");
	/* Removing a whole section that the last apply set. */
	three_way("{\"spec\":{\"env\":[]},\"x\":1}", "{\"x\":1}",
		  "{\"spec\":{\"env\":[]},\"x\":1}", "{\"x\":1}");
}

#define OBJ(meta, spec)                                                   \
	"{\"apiVersion\":\"klangk.io/v1alpha1\",\"kind\":\"Workspace\","    \
	"\"metadata\":{\"name\":\"w\",\"namespace\":\"alice\"" meta "},"     \
	"\"spec\":" spec "}"

static void test_apply(void)
{
	json_t *file1 = J(OBJ(",\"labels\":{\"team\":\"ml\",\"tier\":\"a\"}",
			       "{\"image\":\"i1\",\"hostedPorts\":2}"));
	json_t *file2 = J(OBJ(",\"labels\":{\"team\":\"ml\"}", "{\"image\":\"i2\"}"));
	json_t *out1 = NULL, *out2 = NULL, *last = NULL, *stripped;
	const json_t *spec, *meta;
	struct err e;

	/* First apply: the file plus the annotation holding the file. */
	CHECK(merge_apply(NULL, file1, &out1, &e) == 0);
	last = merge_last_applied(out1);
	CHECK(last && json_equal(last, file1));
	json_decref(last);
	stripped = merge_strip_last_applied(out1);
	CHECK(stripped && json_equal(stripped, file1));
	json_decref(stripped);

	/* Someone else stops it and shares it. */
	json_object_set_new(json_object_get(out1, "spec"), "running", json_false());
	json_object_set_new(json_object_get(out1, "spec"), "members",
			    J("[{\"user\":\"bob\",\"role\":\"coder\"}]"));

	/* Second apply: hostedPorts and the tier label were removed from the
	 * file, so from the object; running and members stay. */
	CHECK(merge_apply(out1, file2, &out2, &e) == 0);
	spec = json_object_get(out2, "spec");
	meta = json_object_get(out2, "metadata");
	CHECK(strcmp(json_string_value(json_object_get(spec, "image")), "i2") == 0);
	CHECK(!json_object_get(spec, "hostedPorts"));
	CHECK(json_is_false(json_object_get(spec, "running")));
	CHECK(json_array_size(json_object_get(spec, "members")) == 1);
	CHECK(json_object_size(json_object_get(meta, "labels")) == 1);
	CHECK(!json_object_get(json_object_get(meta, "labels"), "tier"));
	last = merge_last_applied(out2);
	CHECK(last && json_equal(last, file2));
	json_decref(last);
	/* Applying the same file again changes nothing. */
	{
		json_t *out3 = NULL;

		CHECK(merge_apply(out2, file2, &out3, &e) == 0);
		CHECK(out3 && json_equal(out3, out2));
		json_decref(out3);
	}
	/* A last-applied annotation written in the file itself is not
	 * nested into the new one. */
	{
		json_t *f = J(OBJ(",\"annotations\":{\"" MERGE_LAST_APPLIED "\":\"{}\",\"a\":\"b\"}",
				  "{}"));
		json_t *o = NULL, *l;

		CHECK(merge_apply(NULL, f, &o, &e) == 0);
		l = merge_last_applied(o);
		CHECK(l && !json_object_get(json_object_get(json_object_get(l, "metadata"),
							      "annotations"), MERGE_LAST_APPLIED));
		CHECK(l && json_object_get(json_object_get(json_object_get(l, "metadata"),
							     "annotations"), "a"));
		json_decref(l);
		json_decref(o);
		json_decref(f);
	}
	/* Removing every label drops the map. */
	{
		json_t *f = J(OBJ("", "{\"image\":\"i2\"}"));
		json_t *o = NULL;

		CHECK(merge_apply(out2, f, &o, &e) == 0);
		CHECK(o && !json_object_get(json_object_get(o, "metadata"), "labels"));
		json_decref(o);
		json_decref(f);
	}
	/* A live object with a broken annotation: nothing is removed. */
	{
		json_t *live = J(OBJ(",\"annotations\":{\"" MERGE_LAST_APPLIED "\":\"[not json\"}",
				     "{\"image\":\"x\",\"hostedPorts\":1}"));
		json_t *o = NULL;

		CHECK(merge_apply(live, file2, &o, &e) == 0);
		CHECK(o && json_integer_value(json_object_get(json_object_get(o, "spec"),
							       "hostedPorts")) == 1);
		json_decref(o);
		json_decref(live);
	}
	json_decref(file1);
	json_decref(file2);
	json_decref(out1);
	json_decref(out2);
}

int main(void)
{
	test_three_way();
	test_apply();
	return T_DONE("merge");
}
