/* Unit tests for ecache: when the engine cache may be trusted, what a
 * listing and an inspection leave in it, and the stale set. */
#include "ecache.h"
#include "t.h"

#include <stdlib.h>

/* A listing as the engine gives it: containers (State is a string) and
 * volumes, both with their labels. */
static json_t *containers(void)
{
	return json_pack("[{s:s,s:{s:s,s:s}},{s:s,s:{s:s,s:s}},{s:s,s:{s:s}}]",
			 "State", "running", "Labels", "klangk.workspace", "ns/a",
			 "klangk.spec-hash", "h1",
			 "State", "exited", "Labels", "klangk.workspace", "ns/b",
			 "klangk.spec-hash", "h2",
			 /* Not a workspace's (no owner label): not cached. */
			 "State", "running", "Labels", "klangk.instance", "i");
}

static json_t *volumes(void)
{
	return json_pack("[{s:s,s:{s:s}},{s:s,s:{s:s}},{s:s,s:{s:s}}]",
			 "Name", "v1", "Labels", "klangk.workspace", "ns/a",
			 "Name", "v2", "Labels", "klangk.workspace", "ns/a",
			 "Name", "v3", "Labels", "klangk.workspace", "ns/b");
}

static void test_trust(void)
{
	struct ecache *c;
	json_t *cs = containers(), *vs = volumes();
	unsigned long gen;
	bool trusted = true;

	CHECK(ecache_new(&c) == 0);
	/* Nothing listed yet. */
	CHECK(ecache_must_list(c, "i"));
	/* Listed while the event stream is down: not to be trusted. */
	gen = ecache_begin_list(c);
	CHECK(ecache_install_list(c, gen, "i", cs, vs, &trusted) == 0 && !trusted);
	CHECK(ecache_must_list(c, "i"));
	/* Up before the listing began: trusted. */
	ecache_stream_up(c);
	gen = ecache_begin_list(c);
	CHECK(ecache_install_list(c, gen, "i", cs, vs, &trusted) == 0 && trusted);
	CHECK(!ecache_must_list(c, "i"));
	/* Another instance's cache is no cache. */
	CHECK(ecache_must_list(c, "j"));
	/* The stream broke during a listing: that listing is not trusted,
	 * even though the stream is up again by its end. */
	gen = ecache_begin_list(c);
	ecache_stream_down(c);
	ecache_stream_up(c);
	CHECK(ecache_install_list(c, gen, "i", cs, vs, &trusted) == 0 && !trusted);
	CHECK(ecache_must_list(c, "i"));
	/* Invalidated (a new leadership) during a listing: the same. */
	gen = ecache_begin_list(c);
	ecache_invalidate(c);
	CHECK(ecache_install_list(c, gen, "i", cs, vs, &trusted) == 0 && !trusted);
	gen = ecache_begin_list(c);
	CHECK(ecache_install_list(c, gen, "i", cs, vs, &trusted) == 0 && trusted);
	/* And afterwards. */
	ecache_stream_down(c);
	CHECK(ecache_must_list(c, "i"));
	json_decref(cs);
	json_decref(vs);
	ecache_free(c);
	ecache_free(NULL);
}

static void test_stale(void)
{
	struct ecache *c;
	json_t *cs = containers(), *vs = volumes(), *st;
	unsigned long gen;
	bool trusted;

	CHECK(ecache_new(&c) == 0);
	ecache_stream_up(c);
	ecache_touch(c, "ns/a");
	/* A listing covers what was touched before it began. */
	gen = ecache_begin_list(c);
	ecache_touch(c, "ns/b");   /* during the listing: kept */
	CHECK(ecache_install_list(c, gen, "i", cs, vs, &trusted) == 0 && trusted);
	st = ecache_take_stale(c);
	CHECK(st && json_object_size(st) == 1 && json_object_get(st, "ns/b"));
	json_decref(st);
	st = ecache_take_stale(c);
	CHECK(st && json_object_size(st) == 0);
	json_decref(st);
	json_decref(cs);
	json_decref(vs);
	ecache_free(c);
}

/* What a listing and inspections leave, through a refresh's view: a
 * refresh with no engine works as long as it needs none (cached, nothing
 * stale). */
static void test_entries(void)
{
	struct ecache *c;
	struct ecache_view v = { 0 };
	struct err e = { "" };
	json_t *cs = containers(), *vs = volumes(), *ins;
	unsigned long gen;
	bool trusted;

	CHECK(ecache_new(&c) == 0);
	ecache_stream_up(c);
	gen = ecache_begin_list(c);
	CHECK(ecache_install_list(c, gen, "i", cs, vs, &trusted) == 0 && trusted);
	CHECK(ecache_refresh(c, NULL, "i", false, &v, &e) == 0);
	CHECK(!v.listed && v.inspected == 0 && !v.vlist);
	CHECK(json_object_size(v.containers) == 2);
	CHECK(json_is_true(json_object_get(json_object_get(v.containers, "ns/a"), "running")));
	CHECK(strcmp(json_string_value(json_object_get(json_object_get(v.containers, "ns/a"),
						       "hash")), "h1") == 0);
	CHECK(json_is_false(json_object_get(json_object_get(v.containers, "ns/b"), "running")));
	CHECK(json_integer_value(json_object_get(v.volumes, "ns/a")) == 2);
	CHECK(json_integer_value(json_object_get(v.volumes, "ns/b")) == 1);
	/* The view's containers are the resync's to edit. */
	json_object_del(v.containers, "ns/a");
	ecache_view_clear(&v);
	ecache_view_clear(&v);

	/* An inspection (State an object, labels in Config): b now runs
	 * with a new hash; a is gone, with its volumes. */
	ins = json_pack("{s:{s:b,s:b,s:s},s:{s:{s:s}}}", "State", "Running", 1,
			"Paused", 0, "Status", "running", "Config", "Labels",
			"klangk.spec-hash", "h3");
	CHECK(ecache_install_inspect(c, "ns/b", ins, 2) == 0);
	CHECK(ecache_install_inspect(c, "ns/a", NULL, 0) == 0);
	json_decref(ins);
	/* A paused container is not running. */
	ins = json_pack("{s:{s:b,s:b},s:{s:{}}}", "State", "Running", 1, "Paused", 1,
			"Config", "Labels");
	CHECK(ecache_install_inspect(c, "ns/c", ins, 2) == 0);
	json_decref(ins);
	CHECK(ecache_refresh(c, NULL, "i", false, &v, &e) == 0);
	CHECK(json_object_size(v.containers) == 2 && !json_object_get(v.containers, "ns/a"));
	CHECK(!json_object_get(v.volumes, "ns/a"));
	CHECK(json_is_true(json_object_get(json_object_get(v.containers, "ns/b"), "running")));
	CHECK(strcmp(json_string_value(json_object_get(json_object_get(v.containers, "ns/b"),
						       "hash")), "h3") == 0);
	CHECK(json_is_false(json_object_get(json_object_get(v.containers, "ns/c"), "running")));
	CHECK(json_is_null(json_object_get(json_object_get(v.containers, "ns/c"), "hash")));
	ecache_view_clear(&v);
	json_decref(cs);
	json_decref(vs);
	ecache_free(c);
}

/* Every ECACHE_RELIST_EVERY-th refresh lists even a trusted cache. */
static void test_relist_period(void)
{
	struct ecache *c;
	struct ecache_view v = { 0 };
	struct err e = { "" };
	json_t *cs = containers(), *vs = volumes();
	unsigned long gen;
	bool trusted;
	int cached = 0;

	CHECK(ecache_new(&c) == 0);
	ecache_stream_up(c);
	gen = ecache_begin_list(c);
	CHECK(ecache_install_list(c, gen, "i", cs, vs, &trusted) == 0 && trusted);
	/* The listing counts as the first of the period. */
	while (!ecache_must_list(c, "i") && cached < 100) {
		CHECK(ecache_refresh(c, NULL, "i", false, &v, &e) == 0 && !v.listed);
		ecache_view_clear(&v);
		cached++;
	}
	CHECK(cached == ECACHE_RELIST_EVERY - 1);
	json_decref(cs);
	json_decref(vs);
	ecache_free(c);
}

/* A few stale workspaces are inspected one by one; more than
 * ECACHE_INSPECT_MAX of them (an apply of many, an engine restart) are
 * cheaper to list. */
static void test_burst(void)
{
	struct ecache *c;
	json_t *cs = containers(), *vs = volumes(), *stale = NULL;
	unsigned long gen;
	bool trusted, list = true;
	char owner[32];
	int i;

	CHECK(ecache_new(&c) == 0);
	ecache_stream_up(c);
	gen = ecache_begin_list(c);
	CHECK(ecache_install_list(c, gen, "i", cs, vs, &trusted) == 0 && trusted);
	for (i = 0; i < ECACHE_INSPECT_MAX; i++) {
		snprintf(owner, sizeof(owner), "ns/w%d", i);
		ecache_touch(c, owner);
	}
	CHECK(ecache_plan(c, "i", false, &list, &stale) == 0);
	CHECK(!list && json_object_size(stale) == ECACHE_INSPECT_MAX);
	json_decref(stale);
	stale = NULL;
	/* Taken: the next plan has nothing to inspect. */
	CHECK(ecache_plan(c, "i", false, &list, &stale) == 0);
	CHECK(!list && json_object_size(stale) == 0);
	json_decref(stale);
	stale = NULL;
	for (i = 0; i <= ECACHE_INSPECT_MAX; i++) {
		snprintf(owner, sizeof(owner), "ns/w%d", i);
		ecache_touch(c, owner);
	}
	CHECK(ecache_plan(c, "i", false, &list, &stale) == 0);
	CHECK(list && stale == NULL);
	/* Asked to relist, or for another instance: a listing. */
	CHECK(ecache_plan(c, "i", true, &list, &stale) == 0 && list && !stale);
	CHECK(ecache_plan(c, "j", false, &list, &stale) == 0 && list && !stale);
	json_decref(cs);
	json_decref(vs);
	ecache_free(c);
}

int main(void)
{
	test_trust();
	test_stale();
	test_entries();
	test_relist_period();
	test_burst();
	return T_DONE("ecache");
}
