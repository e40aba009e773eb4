/* Unit tests for activity: parsing nginx's lines, the time format, and the
 * coalescer's "at most once per interval per workspace". */
#include "activity.h"
#include "t.h"

#include <stdlib.h>

static void test_parse(void)
{
	char id[33];
	const char *ok = "<190>Jan  2 03:04:05 klangk: 3f9c1a2b7d4e";

	CHECK(activity_parse(ok, strlen(ok), id, sizeof(id)) == 0);
	CHECK(strcmp(id, "3f9c1a2b7d4e") == 0);
	ok = "<190>Jan  2 03:04:05 klangk: 3f9c1a2b7d4e\n";
	CHECK(activity_parse(ok, strlen(ok), id, sizeof(id)) == 0);
	CHECK(strcmp(id, "3f9c1a2b7d4e") == 0);
	/* With a hostname (not nohostname) the tag still finds it. */
	ok = "<190>Jan  2 03:04:05 host klangk: 0123456789abcdef";
	CHECK(activity_parse(ok, strlen(ok), id, sizeof(id)) == 0);

	static const char *const bad[] = {
		"",
		"klangk: 3f9c1a2b7d4e",                        /* no <PRI> */
		"<190>Jan  2 03:04:05 other: 3f9c1a2b7d4e",    /* another tag */
		"<190>Jan  2 03:04:05 klangk: 3F9C1A2B7D4E",   /* not lowercase */
		"<190>Jan  2 03:04:05 klangk: 3f9c1a",         /* too short */
		"<190>Jan  2 03:04:05 klangk: ",               /* empty */
		"<190>Jan  2 03:04:05 klangk: 3f9c1a2b7d4e 200", /* trailing junk */
		"<190>Jan  2 03:04:05 klangk: 0123456789abcdef0123456789abcdef0", /* too long */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(activity_parse(bad[i], strlen(bad[i]), id, sizeof(id)) == -EINVAL);
}

static void test_coalesce(void)
{
	struct act_coal *c = NULL;
	struct act_due d[8];

	CHECK(act_coal_new(30000, &c) == 0);
	if (!c)
		return;
	CHECK(act_coal_next(c) == -1);
	CHECK(act_coal_due(c, 1000, d, 8) == 0);

	/* The first request of a workspace is due at once. */
	CHECK(act_coal_seen(c, "alice/a", 1000, 100) == 0);
	CHECK(act_coal_next(c) == 0);
	CHECK(act_coal_due(c, 1000, d, 8) == 1);
	CHECK(strcmp(d[0].key, "alice/a") == 0 && d[0].when == 100);
	CHECK(act_coal_next(c) == -1);

	/* More requests within 30 s wait, and carry the latest time. */
	CHECK(act_coal_seen(c, "alice/a", 2000, 101) == 0);
	CHECK(act_coal_seen(c, "alice/a", 9000, 108) == 0);
	CHECK(act_coal_seen(c, "alice/a", 9500, 107) == 0); /* older: ignored */
	CHECK(act_coal_next(c) == 31000);
	CHECK(act_coal_due(c, 30999, d, 8) == 0);
	/* Another workspace is independent. */
	CHECK(act_coal_seen(c, "bob/b", 10000, 109) == 0);
	CHECK(act_coal_next(c) == 0);
	CHECK(act_coal_due(c, 10000, d, 8) == 1 && strcmp(d[0].key, "bob/b") == 0);
	CHECK(act_coal_due(c, 31000, d, 8) == 1);
	CHECK(strcmp(d[0].key, "alice/a") == 0 && d[0].when == 108);

	/* A failed write is retried after an interval, keeping its time. */
	act_coal_retry(c, d, 1, 31000);
	CHECK(act_coal_next(c) == 61000);
	CHECK(act_coal_due(c, 60000, d, 8) == 0);
	CHECK(act_coal_due(c, 61000, d, 8) == 1 && d[0].when == 108);

	/* After a quiet interval, a request is due at once again. */
	CHECK(act_coal_seen(c, "alice/a", 200000, 300) == 0);
	CHECK(act_coal_next(c) <= 200000);
	CHECK(act_coal_due(c, 200000, d, 8) == 1 && d[0].when == 300);

	/* max bounds one batch; the rest stays due. */
	for (int i = 0; i < 5; i++) {
		char k[16];

		snprintf(k, sizeof(k), "n/w%d", i);
		CHECK(act_coal_seen(c, k, 300000, 400) == 0);
	}
	CHECK(act_coal_due(c, 300000, d, 3) == 3);
	CHECK(act_coal_due(c, 300000, d, 3) == 2);
	CHECK(act_coal_due(c, 300000, d, 3) == 0);
	act_coal_free(c);
	act_coal_free(NULL);
}

int main(void)
{
	test_parse();
	test_coalesce();
	return T_DONE("activity");
}
