/* Unit tests for leader: who a campaign takes the key over from, and the
 * per-host guard that keeps two live processes from sharing an identity. */
#include "leader.h"
#include "t.h"

#include <errno.h>
#include <unistd.h>

static void test_decide(void)
{
	/* Our identity's previous process: take over at once. */
	CHECK(leader_decide("host", "host", false) == LEADER_TAKE_OVER);
	/* Another replica (live or not): wait for the key to go. */
	CHECK(leader_decide("host-2", "host", false) == LEADER_FOLLOW);
	CHECK(leader_decide("host", "host-2", false) == LEADER_FOLLOW);
	CHECK(leader_decide("hos", "host", false) == LEADER_FOLLOW);
	CHECK(leader_decide("", "host", false) == LEADER_FOLLOW);
	/* A takeover revoked our lease: a duplicate identity holds the key. */
	CHECK(leader_decide("host", "host", true) == LEADER_FOLLOW);
	CHECK(leader_decide(NULL, "host", false) == LEADER_FOLLOW);
	CHECK(leader_decide("", "", false) == LEADER_FOLLOW);
}

static void test_guard(void)
{
	int a = -1, b = -1, c = -1;

	CHECK(leader_guard_claim("/klangk/leader/unit", "host", &a) == 0);
	/* Held by a live holder (this process): refused. */
	CHECK(leader_guard_claim("/klangk/leader/unit", "host", &b) == -EADDRINUSE);
	/* Another identity, or the same identity for another key: free. */
	CHECK(leader_guard_claim("/klangk/leader/unit", "host-2", &b) == 0);
	CHECK(leader_guard_claim("/klangk/leader/unit/a", "host", &c) == 0);
	/* Released with its holder (the kernel does it when a process dies). */
	close(a);
	CHECK(leader_guard_claim("/klangk/leader/unit", "host", &a) == 0);
	close(a);
	close(b);
	close(c);
}

int main(void)
{
	test_decide();
	test_guard();
	return T_DONE("leader");
}
