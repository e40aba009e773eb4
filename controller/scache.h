/*
 * scache — summaries of the workspaces' statuses, kept between resyncs.
 *
 * A resync needs every status (phase, specHash, observedGeneration) to
 * tell which workspaces need a reconcile.  Listing them with their values
 * every time moves and parses about a kilobyte per workspace, most of an
 * idle resync's cost once the engine cache (ecache.h) answers for the
 * engine.  So a resync lists the status keys only: their mod_revision says
 * which changed since the last resync, and only those are read (one get
 * each, or one full listing when more than SCACHE_GET_MAX changed).  etcd's
 * revisions make this exact: a status whose mod_revision did not move is
 * the one already summarised.
 *
 * One caller at a time (the resync thread).
 */
#ifndef KLANGK_SCACHE_H
#define KLANGK_SCACHE_H

#include "err.h"
#include "etcd.h"

#include <jansson.h>

#define SCACHE_GET_MAX 64

struct scache;

/* new: free with scache_free (NULL is fine). */
int scache_new(struct scache **out);
void scache_free(struct scache *c);

/*
 * The statuses under prefix as of now.  *keys (caller-initialised, cleared
 * by the caller): the keys-only listing, in key order.  *statuses (new):
 * "<ns>/<name>" -> the status's phase, specHash and observedGeneration
 * (what a resync compares; null when it does not parse); a key
 * deleted between the listing and its read is left out.  *reads (may be
 * NULL): how many values were read (0 when nothing changed).  On failure
 * the cache is emptied (the next call lists everything) and the outputs
 * are untouched.
 */
int scache_refresh(struct scache *c, struct etcd *etcd, const char *prefix,
		   struct etcd_kvs *keys, json_t **statuses, size_t *reads,
		   struct err *e);

#endif
