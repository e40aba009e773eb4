/* Unit tests for codec: YAML to JSON with its bounds, and back. */
#include "codec.h"
#include "t.h"

#include <stdlib.h>

static int load(const char *y, struct codec_docs *d, struct err *e)
{
	memset(d, 0, sizeof(*d));
	err_clear(e);
	return codec_yaml_load(y, strlen(y), d, e);
}

static void test_scalars(void)
{
	struct codec_docs d;
	struct err e;
	json_t *v;

	CHECK(load("a: 1\nb: true\nc: null\nd: '1'\ne: 1.5\nf: ~\ng: hello world\n"
		   "h: 0x1f\ni: \"true\"\nj: -7\nk: 1e3\nl: yes\nm: 99999999999999999999\n",
		   &d, &e) == 0);
	CHECK(d.n == 1);
	v = d.docs[0].value;
	CHECK(json_integer_value(json_object_get(v, "a")) == 1);
	CHECK(json_is_true(json_object_get(v, "b")));
	CHECK(json_is_null(json_object_get(v, "c")));
	CHECK(json_is_string(json_object_get(v, "d")));
	CHECK(json_is_real(json_object_get(v, "e")));
	CHECK(json_is_null(json_object_get(v, "f")));
	CHECK(strcmp(json_string_value(json_object_get(v, "g")), "hello world") == 0);
	CHECK(json_integer_value(json_object_get(v, "h")) == 31);
	CHECK(json_is_string(json_object_get(v, "i")));
	CHECK(json_integer_value(json_object_get(v, "j")) == -7);
	CHECK(json_is_real(json_object_get(v, "k")));
	/* YAML 1.2: "yes" is a string, not a boolean. */
	CHECK(json_is_string(json_object_get(v, "l")));
	CHECK(json_is_string(json_object_get(v, "m")));
	codec_docs_clear(&d);
}

static void test_multi_and_json(void)
{
	struct codec_docs d;
	struct err e;

	CHECK(load("---\na: 1\n---\n# only a comment\n---\nb: 2\n", &d, &e) == 0);
	CHECK(d.n == 2);
	CHECK(d.n == 2 && d.docs[1].line == 5);
	codec_docs_clear(&d);
	CHECK(load("{\"kind\": \"Workspace\", \"spec\": {\"hostedPorts\": 3}}", &d, &e) == 0);
	CHECK(d.n == 1 && json_integer_value(json_object_get(
		json_object_get(d.docs[0].value, "spec"), "hostedPorts")) == 3);
	codec_docs_clear(&d);
	CHECK(load("", &d, &e) == 0 && d.n == 0);
	codec_docs_clear(&d);
}

static void test_refusals(void)
{
	struct codec_docs d;
	struct err e;
	char *big;
	const char *laughs =
		"a: &a [x, x, x, x, x, x, x, x, x, x]\n"
		"b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
		"f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
		"g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
		"h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
		"i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n";

	CHECK(load("a: 1\na: 2\n", &d, &e) == -EINVAL);
	CHECK_CONTAINS(e.msg, "duplicate key \"a\"");
	CHECK_CONTAINS(e.msg, "line 2");
	CHECK(load(laughs, &d, &e) == -E2BIG);
	CHECK_CONTAINS(e.msg, "alias");
	CHECK(load("a: \xff\xfe\n", &d, &e) < 0);
	/* An encoding error says where, like a syntax error. */
	CHECK(load("a: 1\nb: caf\xe9\n", &d, &e) == -EINVAL);
	CHECK_CONTAINS(e.msg, "line 2 column");
	CHECK_CONTAINS(e.msg, "UTF-8");
	CHECK(load("a: [1, 2\n", &d, &e) == -EINVAL);
	CHECK(load("? [1, 2]\n: x\n", &d, &e) == -EINVAL);
	CHECK_CONTAINS(e.msg, "mapping keys must be scalars");
	CHECK(load("a: *nope\n", &d, &e) == -EINVAL);
	/* Nesting past the depth limit. */
	{
		char deep[400];
		size_t i;

		for (i = 0; i < 100; i++)
			deep[i] = '[';
		deep[i] = '\0';
		CHECK(load(deep, &d, &e) == -E2BIG);
	}
	/* A document over 1 MiB. */
	big = malloc(CODEC_MAX_DOC + 64);
	memcpy(big, "a: \"", 4);
	memset(big + 4, 'x', CODEC_MAX_DOC);
	memcpy(big + 4 + CODEC_MAX_DOC, "\"\n", 3);
	CHECK(load(big, &d, &e) == -E2BIG);
	CHECK_CONTAINS(e.msg, "larger than");
	free(big);
	/* Aliases within budget still work and are copies. */
	CHECK(load("a: &x {k: v}\nb: *x\n", &d, &e) == 0);
	CHECK(d.n == 1 && json_object_get(d.docs[0].value, "b") !=
		       json_object_get(d.docs[0].value, "a"));
	CHECK(d.n == 1 && json_equal(json_object_get(d.docs[0].value, "b"),
				     json_object_get(d.docs[0].value, "a")));
	codec_docs_clear(&d);
}

static void test_dump_roundtrip(void)
{
	json_t *v = json_pack("{s:s,s:s,s:s,s:i,s:b,s:n,s:[s,s],s:s}", "plain", "x",
			      "looks_bool", "true", "looks_num", "123", "n", 5,
			      "b", 1, "z", "list", "a", "b", "empty", "");
	struct buf b;
	struct codec_docs d;
	struct err e;

	buf_init(&b, 0);
	CHECK(codec_yaml_dump(v, &b, &e) == 0);
	CHECK(load(b.data, &d, &e) == 0);
	CHECK(d.n == 1 && json_equal(d.docs[0].value, v));
	codec_docs_clear(&d);
	buf_free(&b);
	json_decref(v);
}

int main(void)
{
	test_scalars();
	test_multi_and_json();
	test_refusals();
	test_dump_roundtrip();
	return T_DONE("codec");
}
