/*
 * ecache — what the engine holds of ours, kept between resyncs.
 *
 * A resync compares every workspace's status with its container and
 * volumes.  Listing all of them from the engine at every resync costs
 * Podman seconds of CPU at 1,000 workspaces (it builds every summary) and
 * the controller the parse; client-go's informers do not relist at each
 * resync either.  So the engine's objects are listed once and then kept
 * current by the engine's event stream, which the controller follows
 * anyway: an event about a workspace's container marks that workspace
 * stale, and the next resync inspects only its container and its two
 * volumes.
 *
 * The cache is trusted only while the event stream has been up since its
 * listing began.  A stream that breaks (or a new leadership, or a change
 * of instance) invalidates it, and the next resync lists again; so does
 * every ECACHE_RELIST_EVERY-th resync, in case an engine dropped an event.
 *
 * Threads: ecache_stream_up/_down, ecache_invalidate and ecache_touch may
 * be called from any thread; ecache_refresh from one thread at a time (the
 * resync).
 */
#ifndef KLANGK_ECACHE_H
#define KLANGK_ECACHE_H

#include "engine.h"
#include "err.h"

#include <jansson.h>
#include <stdbool.h>

#define ECACHE_RELIST_EVERY 10
/* More stale workspaces than this at a refresh: list instead. */
#define ECACHE_INSPECT_MAX 64

struct ecache;

/* new: free with ecache_free (NULL is fine). */
int ecache_new(struct ecache **out);
void ecache_free(struct ecache *c);

/* The engine accepted the event stream: changes from now on are seen. */
void ecache_stream_up(struct ecache *c);
/* The stream broke: the cache is invalid until a listing made while the
 * stream is up again. */
void ecache_stream_down(struct ecache *c);
/* Relist at the next refresh (the stream itself is fine). */
void ecache_invalidate(struct ecache *c);
/* An event about the container of owner ("ns/name", borrowed). */
void ecache_touch(struct ecache *c, const char *owner);

/*
 * What a refresh knows, as of its end.  All new, freed by
 * ecache_view_clear:
 *   containers  owner -> {"running": bool, "hash": spec-hash or null};
 *               the resync's to edit (a copy of the cache's);
 *   volumes     owner -> number of its home and work volumes;
 *   vlist       the engine's volume listing when this refresh listed
 *               (garbage collection needs one), else NULL.
 */
struct ecache_view {
	json_t *containers;
	json_t *volumes;
	json_t *vlist;
	bool listed;
	size_t inspected;   /* stale workspaces inspected (when not listed) */
};

/*
 * Bring the cache up to date for instance (borrowed): a full listing of
 * the containers and volumes labelled klangk.instance=<instance> when the
 * cache is invalid, when relist is set, or every ECACHE_RELIST_EVERY-th
 * call; otherwise an inspection of the workspaces touched since the last
 * refresh (or a listing, when more than ECACHE_INSPECT_MAX were).  On
 * failure the cache is invalidated (the next call lists) and *out is
 * untouched.
 */
int ecache_refresh(struct ecache *c, struct engine *eng, const char *instance,
		   bool relist, struct ecache_view *out, struct err *e);
void ecache_view_clear(struct ecache_view *v);

/*
 * The pure parts of a refresh, for the unit tests.  ecache_install_list
 * replaces the cache with a listing (borrowed arrays as the engine gives
 * them) and tells whether it may be trusted: only when the stream was up,
 * and not invalidated, from ecache_begin_list's call on (gen is what that
 * returned).  ecache_install_inspect records one workspace's container
 * (borrowed inspect object, or NULL when there is none) and volume count.
 */
unsigned long ecache_begin_list(struct ecache *c);
int ecache_install_list(struct ecache *c, unsigned long gen, const char *instance,
			const json_t *containers, const json_t *volumes, bool *trusted);
int ecache_install_inspect(struct ecache *c, const char *owner,
			   const json_t *container, int volumes);
/* Whether the next refresh must list; and the stale owners (new object
 * owner -> true, taken: the cache's set is emptied). */
bool ecache_must_list(struct ecache *c, const char *instance);
json_t *ecache_take_stale(struct ecache *c);
/* What a refresh will do: list (*list true, *stale NULL) or inspect the
 * stale owners, which it takes (*stale new, possibly empty). */
int ecache_plan(struct ecache *c, const char *instance, bool relist,
		bool *list, json_t **stale);

#endif
