/*
 * placement — which node a workspace lives on, when several nodes (each a
 * controller with KLANGK_NODE_NAME, its own engine, port range and nginx)
 * share one etcd.
 *
 * Nodes register under /klangk/nodes/<node> (value {"capacity": N}) on
 * their leader's etcd lease (leader.h), so a node whose controllers are
 * all gone stops being offered workspaces within the lease's TTL.
 *
 * A workspace's node is /klangk/placements/<ns>/<name> (value: the node
 * name).  It is created once, in a transaction that fails if the key
 * exists, so two controllers can never place one workspace twice, and it
 * is never rewritten: a workspace is not moved silently.  It goes in the
 * same transaction that deletes the workspace's status key at the end of
 * its teardown.  Placement honours spec.nodeName; otherwise it picks the
 * registered node with the most free capacity (capacity minus workspaces
 * placed there; ties to the lowest name), and the transaction also
 * requires that no placement was made since the count and that the node
 * is still registered, so concurrent placements never overfill a node.
 */
#ifndef KLANGK_PLACEMENT_H
#define KLANGK_PLACEMENT_H

#include "err.h"
#include "etcd.h"
#include "keys.h"

#include <stddef.h>

#define PLACE_NODE_MAX 64     /* a node name: a DNS label, with its NUL */

/* The registration record of a node (new string). */
char *place_node_record(long capacity);

/* The node key of name, in buf; -ENAMETOOLONG if it does not fit. */
int place_node_key(const char *name, char *buf, size_t len);

/*
 * The node a placement key's kv (borrowed, as read) names, in node
 * (PLACE_NODE_MAX bytes).  -EINVAL when it names no valid node.
 */
int place_parse(const struct etcd_kv *kv, char node[PLACE_NODE_MAX], struct err *e);

/*
 * Place owner unless it is placed: on wanted (spec.nodeName) when not
 * empty, else on the registered node with the most free capacity.  node
 * gets the placement in effect afterwards (ours, or the one another
 * controller made first).  -ENOSPC when no registered node has room
 * (reason in e).
 */
int place_ensure(struct etcd *c, const char *owner, const char *wanted,
		 char node[PLACE_NODE_MAX], struct err *e);

/*
 * The choice place_ensure makes without spec.nodeName, from the listings of
 * KEYS_NODE_PREFIX (the registered nodes, sorted by key) and KEYS_PLACEMENT_PREFIX
 * (placements, counted per node): the node with the most free capacity,
 * ties to the lowest name.  -ENOSPC when none has room.  Both borrowed.
 */
int place_pick(const struct etcd_kvs *nodes, const struct etcd_kvs *placed,
	       char node[PLACE_NODE_MAX], struct err *e);

/* The placement's key of owner, in buf. */
int place_key(const char *owner, char *buf, size_t len);

#endif
