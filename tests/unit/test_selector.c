/* Unit tests for selector: label selector parsing and matching. */
#include "selector.h"
#include "t.h"

static bool matches(const char *sel, const char *labels)
{
	struct selector *s = NULL;
	json_t *l = json_loads(labels, 0, NULL);
	struct err e;
	bool m;

	if (selector_parse(sel, &s, &e) < 0) {
		fprintf(stderr, "parse %s: %s\n", sel, e.msg);
		json_decref(l);
		return false;
	}
	m = selector_match(s, l);
	selector_free(s);
	json_decref(l);
	return m;
}

static void refused(const char *sel, const char *msg)
{
	struct selector *s = NULL;
	struct err e = { "" };

	CHECK(selector_parse(sel, &s, &e) == -EINVAL);
	CHECK_CONTAINS(e.msg, msg);
	selector_free(s);
}

int main(void)
{
	CHECK(matches("team=ml", "{\"team\":\"ml\"}"));
	CHECK(matches("team==ml", "{\"team\":\"ml\"}"));
	CHECK(!matches("team=ml", "{\"team\":\"web\"}"));
	CHECK(!matches("team=ml", "{}"));
	CHECK(matches("team!=ml", "{}"));
	CHECK(matches("team!=ml", "{\"team\":\"web\"}"));
	CHECK(!matches("team!=ml", "{\"team\":\"ml\"}"));
	CHECK(matches("team", "{\"team\":\"\"}"));
	CHECK(!matches("team", "{}"));
	CHECK(matches("!team", "{}"));
	CHECK(!matches("!team", "{\"team\":\"x\"}"));
	CHECK(matches("env in (prod, dev),team=ml", "{\"env\":\"dev\",\"team\":\"ml\"}"));
	CHECK(!matches("env in (prod,dev)", "{\"env\":\"qa\"}"));
	CHECK(matches("env notin (prod)", "{}"));
	CHECK(!matches("env notin (prod)", "{\"env\":\"prod\"}"));
	CHECK(matches("klangk.io/app=x, a=", "{\"klangk.io/app\":\"x\",\"a\":\"\"}"));
	/* No labels at all. */
	CHECK(!matches("a=b", "null"));
	CHECK(matches("!a,b!=c", "null"));
	refused("", "empty");
	refused("a=b,", "a key is needed");
	refused("a in x", "'(' expected");
	refused("a in (x", "',' or ')' expected");
	refused("a b", "unexpected");
	refused("!", "a key is needed");
	refused("a=(", "bad value");
	return T_DONE("selector");
}
