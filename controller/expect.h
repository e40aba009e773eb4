/*
 * expect — the engine events the controller's own actions will cause.
 *
 * A worker that creates and starts a workspace's container converges it
 * and writes its status in the same reconcile.  The engine then reports
 * the create and the start on its event stream, and each of those events
 * used to wake another reconcile of the same generation that found nothing
 * to do after three engine GETs.  So before such an action the worker says
 * what it is about to cause (client-go's "expectations"), and the event
 * thread drops that one echo instead of enqueueing the workspace.
 *
 * What keeps drift caused by others visible:
 *   - an expectation is for one container name and one action, and the
 *     first matching event consumes it: a second create or start (someone
 *     else's) wakes a reconcile as before, and so does every other action
 *     (die, stop, kill, remove, destroy...);
 *   - once the worker knows the container's id (the create's answer, or
 *     the inspection before a start), only events of that id match: a
 *     container recreated behind our back under the same name has another
 *     id and wakes the controller;
 *   - an action that fails cancels its expectation (the failed reconcile
 *     is retried with backoff anyway);
 *   - expectations expire after EXPECT_TTL_S, so an event the engine never
 *     sends leaves nothing behind, and the table is bounded: when it is
 *     full nothing more is expected and events wake reconciles as before.
 *
 * Thread-safe (one mutex): workers add, bind and cancel; the engine event
 * thread matches.  Every function accepts x == NULL (nothing expected).
 */
#ifndef KLANGK_EXPECT_H
#define KLANGK_EXPECT_H

#include <stdbool.h>
#include <time.h>

#define EXPECT_TTL_S 60
#define EXPECT_MAX 1024

struct expect;

/* new: free with expect_free (NULL is fine). */
int expect_new(struct expect **out);
void expect_free(struct expect *x);

/*
 * The worker is about to make `action` ("create", "start") on container
 * (a name); id (may be NULL or "") is the container's id when known.  All
 * borrowed.
 */
void expect_action(struct expect *x, const char *container, const char *id,
		   const char *action);
/* The container's id became known (the create's answer): the expectations
 * on container without an id from now on match only events of id. */
void expect_bind(struct expect *x, const char *container, const char *id);
/* The action failed: its event, if any, is not ours to drop. */
void expect_cancel(struct expect *x, const char *container, const char *action);

/*
 * From the event thread: is this event (container name, id, action) the
 * echo of one of our own actions?  true consumes the expectation, except
 * for Podman's "init", which precedes the "start" of the same start.
 */
bool expect_echo(struct expect *x, const char *container, const char *id,
		 const char *action);

/* As expect_echo at time now (CLOCK_MONOTONIC seconds), for the tests. */
bool expect_echo_at(struct expect *x, const char *container, const char *id,
		    const char *action, time_t now);

#endif
