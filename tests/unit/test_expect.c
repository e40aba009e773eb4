/* Unit tests for the expectations of our own engine events (expect.h):
 * an expected create or start is dropped once, a second one (someone
 * else's) is not; a container of another id under the same name is not
 * ours; Podman's init goes with an expected start; a failed action's
 * expectation is cancelled; expectations expire. */
#include "expect.h"
#include "t.h"

int main(void)
{
	struct expect *x = NULL;
	struct timespec ts;

	CHECK(expect_new(&x) == 0);
	/* A create: matched by name until its id is known, then once only. */
	expect_action(x, "c1", NULL, "create");
	CHECK(!expect_echo(x, "c2", "id1", "create"));
	CHECK(!expect_echo(x, "c1", "id1", "start"));
	CHECK(expect_echo(x, "c1", "id1", "create"));
	CHECK(!expect_echo(x, "c1", "id1", "create"));

	/* Bound to its id: a container recreated behind our back under the
	 * same name (another id) wakes the controller. */
	expect_action(x, "c1", NULL, "create");
	expect_bind(x, "c1", "id2");
	CHECK(!expect_echo(x, "c1", "forged", "create"));
	CHECK(!expect_echo(x, "c1", NULL, "create"));
	CHECK(expect_echo(x, "c1", "id2", "create"));

	/* A start: Podman's init first (the start stays expected), then the
	 * start; a second start is someone else's, and so is a die. */
	expect_action(x, "c1", "id2", "start");
	CHECK(expect_echo(x, "c1", "id2", "init"));
	CHECK(!expect_echo(x, "c1", "id2", "die"));
	CHECK(expect_echo(x, "c1", "id2", "start"));
	CHECK(!expect_echo(x, "c1", "id2", "start"));
	CHECK(!expect_echo(x, "c1", "id2", "init"));

	/* A failed action cancels its expectation. */
	expect_action(x, "c1", "id2", "start");
	expect_cancel(x, "c1", "start");
	CHECK(!expect_echo(x, "c1", "id2", "start"));

	/* An event that never comes leaves nothing behind. */
	expect_action(x, "c3", NULL, "create");
	clock_gettime(CLOCK_MONOTONIC, &ts);
	CHECK(!expect_echo_at(x, "c3", "id3", "create", ts.tv_sec + EXPECT_TTL_S + 1));
	CHECK(!expect_echo(x, "c3", "id3", "create"));

	/* Full: nothing more is expected, events wake reconciles as before. */
	for (int i = 0; i < EXPECT_MAX; i++)
		expect_action(x, "many", NULL, "create");
	expect_action(x, "last", NULL, "create");
	CHECK(!expect_echo(x, "last", "id", "create"));

	/* No table: nothing is ours. */
	expect_action(NULL, "c1", NULL, "create");
	CHECK(!expect_echo(NULL, "c1", "id", "create"));
	expect_free(x);
	expect_free(NULL);
	return T_DONE("expect");
}
