/* Unit tests for gw: the per-user session limit, and no session once the
 * gateway stops. */
#include "gw.h"
#include "t.h"

#include <signal.h>
#include <unistd.h>

static void test_limits(void)
{
	struct gw_config cfg = { .max_sessions = 2, .idle_s = 60 };
	struct gw g;
	struct err e = { "" };

	CHECK(gw_init(&g, &cfg, &e) == 0);
	CHECK(gw_session_acquire(&g, "alice", &e) == 0);
	CHECK(gw_session_acquire(&g, "alice", &e) == 0);
	CHECK(gw_session_acquire(&g, "alice", &e) == -EBUSY);
	CHECK_CONTAINS(e.msg, "alice");
	CHECK_CONTAINS(e.msg, "KLANGK_GATEWAY_MAX_SESSIONS");
	/* Another user is counted apart. */
	CHECK(gw_session_acquire(&g, "bob", &e) == 0);
	gw_session_release(&g, "alice");
	CHECK(gw_session_acquire(&g, "alice", &e) == 0);
	gw_session_release(&g, "alice");
	gw_session_release(&g, "alice");
	gw_session_release(&g, "bob");
	CHECK(g.open == 0 && g.n_users == 0);
	/* Stopping with none open returns at once; then nothing opens. */
	gw_stop_sessions(&g);
	CHECK(gw_session_acquire(&g, "alice", &e) == -ESHUTDOWN);
	gw_destroy(&g);
}

static void test_write_all(void)
{
	int p[2];
	char buf[8] = "";

	CHECK(pipe(p) == 0);
	CHECK(gw_write_all(p[1], "hello", 5) == 0);
	CHECK(read(p[0], buf, sizeof(buf)) == 5 && memcmp(buf, "hello", 5) == 0);
	close(p[0]);
	/* A reader gone: EPIPE (SIGPIPE ignored, as the gateway does). */
	signal(SIGPIPE, SIG_IGN);
	CHECK(gw_write_all(p[1], "x", 1) == -EPIPE);
	close(p[1]);
}

int main(void)
{
	test_limits();
	test_write_all();
	return T_DONE("gw");
}
