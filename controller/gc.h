/*
 * gc — garbage collection of what no live workspace owns.
 *
 * Run by the leader at each resync.  Containers are not collected here:
 * their owners are enqueued by the resync and torn down by the reconcile
 * (which knows the reclaim policy).  This collects
 *   - port leases whose owner has neither a spec nor a status key;
 *   - home and work volumes labelled with this instance whose workspace
 *     has neither a spec nor a status key and which are not marked retained
 *     (reclaimPolicy: Retain);
 *   - tenant networks (tnet.h) of a namespace that has no workspace left
 *     (no spec nor status key under it); one still in use by a container
 *     is left for a later pass.
 * Named volumes of the spec (labelled with the user but no workspace) are
 * the user's and are never collected.
 */
#ifndef KLANGK_GC_H
#define KLANGK_GC_H

#include "cfg.h"
#include "egress.h"
#include "engine.h"
#include "etcd.h"

struct gc_stats {
	int leases;
	int volumes;
	int networks;
};

/*
 * The listings are the caller's (borrowed), and their order matters: the
 * leases and volumes must be listed BEFORE the specs and statuses, so that
 * anything in the first two was created before its owner was listed (a
 * status exists before its leases, a spec before its volumes) and a
 * workspace created in between is never mistaken for an orphan's owner.
 */
/* leases: the listing of lease_prefix (ports.h); keys under it that are
 * not this node's leases (another node's, in the single-node layout) are
 * left alone.  volumes: the engine's listing, or NULL to leave volumes
 * alone this time.  networks: the tenant networks (tnet_list), or NULL;
 * a removed one's bridge is forgotten by eg (may be NULL).  specs and
 * stats: as etcd lists them (sorted by key). */
int gc_run(struct etcd *etcd, struct engine *eng, const char *lease_prefix,
	   const struct etcd_kvs *leases, const json_t *volumes,
	   const json_t *networks, struct egress *eg, const char *instance,
	   const struct etcd_kvs *specs, const struct etcd_kvs *stats,
	   struct gc_stats *out, struct err *e);

#endif
