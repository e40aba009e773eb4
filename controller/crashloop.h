/*
 * crashloop — the pacing of restarts of a workspace's container that exits
 * on its own while its workspace should run (a crash), as the kubelet
 * paces CrashLoopBackOff: the first restart after a good run is immediate,
 * the next waits `base` seconds, then twice as long each time up to `max`;
 * a run that lasted `reset` seconds or more starts the series again.
 *
 * Pure (no I/O, no clock): the controller keeps struct crashloop_state in
 * the workspace's status (status.restarts, lib/status.h), so the series
 * survives a controller restart, and calls crashloop_on_exit on every
 * reconcile that finds the container exited.  An exit is new when no
 * restart is pending (the container ran since the last one counted) or its
 * finish time is another, so re-running a reconcile at any instant counts
 * an exit once and never shortens a wait.
 */
#ifndef KLANGK_CRASHLOOP_H
#define KLANGK_CRASHLOOP_H

#include <stdbool.h>
#include <time.h>

/* KLANGK_RESTART_BACKOFF_BASE, _MAX and _RESET, in seconds. */
struct crashloop_policy {
	long base_s;
	long max_s;
	long reset_s;
};

/* One run of the container that ended. */
struct crashloop_exit {
	time_t started;   /* 0 = unknown */
	time_t finished;  /* 0 = unknown (then `now` stands for it) */
	int exit_code;
	bool oom;         /* OOM-killed (reported by the engine, or inferred) */
};

/* What the status keeps between reconciles. */
struct crashloop_state {
	long count;       /* restarts made or scheduled, ever */
	long streak;      /* restarts of the current series: the exponent */
	time_t finished;  /* the finish time of the last exit counted; 0 none */
	time_t next;      /* when the pending restart is due; 0 = none pending */
};

/* The wait before restart number streak + 1 of a series: 0 for the first,
 * then base, 2 base, 4 base, ... capped at max (never above max, never
 * overflowing). */
long crashloop_delay(const struct crashloop_policy *p, long streak);

/*
 * The container was found exited (x) while it should run, at `now`.  A
 * new exit (one not counted yet) is counted: the series restarts when the
 * run lasted reset seconds or more, the restart is scheduled at the exit's
 * finish time plus crashloop_delay, and count and streak grow.  *wait_s
 * gets the seconds the restart must still wait (0 = start it now).
 * Returns true when x was new (the caller records an event and a metric).
 */
bool crashloop_on_exit(const struct crashloop_policy *p, struct crashloop_state *s,
		       const struct crashloop_exit *x, time_t now, long *wait_s);

/* The container runs (again): no restart is pending any more. */
void crashloop_started(struct crashloop_state *s);

/* Why the run ended, as a condition reason: "OOMKilled" or
 * "ContainerExited". */
const char *crashloop_reason(const struct crashloop_exit *x);

#endif
