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
	char key[64], node_key[80];
	int a = -1, b = -1, c = -1;

	/* Guards are per host: keys of this process only, so that runs of
	 * this test at the same time (make unit, make asan-unit) never meet. */
	snprintf(key, sizeof(key), "/klangk/leader/unit%ld", (long)getpid());
	snprintf(node_key, sizeof(node_key), "%s/a", key);
	CHECK(leader_guard_claim(key, "host", &a) == 0);
	/* Held by a live holder (this process): refused. */
	CHECK(leader_guard_claim(key, "host", &b) == -EADDRINUSE);
	/* Another identity, or the same identity for another key: free. */
	CHECK(leader_guard_claim(key, "host-2", &b) == 0);
	CHECK(leader_guard_claim(node_key, "host", &c) == 0);
	/* Released with its holder (the kernel does it when a process dies). */
	close(a);
	CHECK(leader_guard_claim(key, "host", &a) == 0);
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
