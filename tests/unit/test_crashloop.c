/* Unit tests for the pacing of crash restarts (crashloop.h): immediate
 * first restart, doubling from base to the cap, reset after a long run,
 * one count per exit however often a reconcile re-runs, a wait never
 * shortened by re-running, and the reasons. */
#include "crashloop.h"
#include "t.h"

int main(void)
{
	const struct crashloop_policy p = { .base_s = 10, .max_s = 300, .reset_s = 600 };
	struct crashloop_state s = { 0 };
	struct crashloop_exit x = { .started = 1000, .finished = 1001, .exit_code = 3 };
	long w = -1;

	/* 0, 10, 20, 40, 80, 160, 300, 300 ... and no overflow far out. */
	CHECK(crashloop_delay(&p, 0) == 0);
	CHECK(crashloop_delay(&p, 1) == 10);
	CHECK(crashloop_delay(&p, 2) == 20);
	CHECK(crashloop_delay(&p, 5) == 160);
	CHECK(crashloop_delay(&p, 6) == 300);
	CHECK(crashloop_delay(&p, 7) == 300);
	CHECK(crashloop_delay(&p, 100000) == 300);

	/* The first crash: restart at once. */
	CHECK(crashloop_on_exit(&p, &s, &x, 1002, &w));
	CHECK(w == 0 && s.count == 1 && s.streak == 1 && s.next != 0);
	crashloop_started(&s);
	CHECK(s.next == 0);

	/* It dies again in the same second: still a new exit (it ran since),
	 * and now it waits base seconds from its finish. */
	x.started = 1001;
	CHECK(crashloop_on_exit(&p, &s, &x, 1002, &w));
	CHECK(w == 9 && s.count == 2 && s.next == 1011);
	/* Re-running the reconcile (or a restarted controller) counts
	 * nothing more and keeps the deadline. */
	CHECK(!crashloop_on_exit(&p, &s, &x, 1005, &w));
	CHECK(w == 6 && s.count == 2 && s.next == 1011);
	CHECK(!crashloop_on_exit(&p, &s, &x, 1011, &w));
	CHECK(w == 0);
	crashloop_started(&s);

	/* Third: 20 s. */
	x.started = 1011;
	x.finished = 1012;
	CHECK(crashloop_on_exit(&p, &s, &x, 1012, &w));
	CHECK(w == 20 && s.streak == 3);
	crashloop_started(&s);

	/* A run of reset seconds or more starts the series again. */
	x.started = 2000;
	x.finished = 2600;
	CHECK(crashloop_on_exit(&p, &s, &x, 2600, &w));
	CHECK(w == 0 && s.streak == 1 && s.count == 4);
	crashloop_started(&s);
	/* ... a shorter one does not. */
	x.started = 2600;
	x.finished = 3199;
	CHECK(crashloop_on_exit(&p, &s, &x, 3199, &w));
	CHECK(w == 10 && s.streak == 2);

	/* Noticed late (the controller was down): due already. */
	crashloop_started(&s);
	x.started = 3299;
	x.finished = 3300;
	CHECK(crashloop_on_exit(&p, &s, &x, 4000, &w));
	CHECK(w == 0 && s.streak == 3);

	/* An unknown finish time: now stands for it, counted once. */
	crashloop_started(&s);
	x.started = x.finished = 0;
	CHECK(crashloop_on_exit(&p, &s, &x, 5000, &w));
	CHECK(w == 40 && s.count == 7);
	CHECK(!crashloop_on_exit(&p, &s, &x, 5001, &w));
	CHECK(w == 39 && s.count == 7);

	CHECK(strcmp(crashloop_reason(&x), "ContainerExited") == 0);
	x.oom = true;
	CHECK(strcmp(crashloop_reason(&x), "OOMKilled") == 0);
	return T_DONE("crashloop");
}
