/*
 * egress — the controller's firewall for workspaces: one nftables table,
 * "inet klangk-<instance>", whose base chains run before the engines' own
 * rules (priority filter - 10), so no ACCEPT of theirs can undo a drop of
 * ours.  For packets that come in on one of this instance's tenant bridges
 * (set "own"; interfaces "kt*", controller/tnet.h):
 *   - input (to any address of the host: the bridge's gateway, eth0, other
 *     bridges, so etcd, the daemons' metrics and endpoints, the gateway,
 *     an engine API on TCP): only replies to connections the host opened
 *     are let through, which is how nginx reaches the published ports;
 *   - forward, where one end is one of this instance's bridges: to or
 *     from any other tenant bridge is dropped (a bridge to
 *     itself is let through: with br_netfilter loaded a tenant's own
 *     traffic passes here too), and so is any destination in
 *     169.254.0.0/16 (cloud metadata) or in KLANGK_EGRESS_DENY.  Bridges
 *     of another Klangk instance on the host are that instance's to judge,
 *     so two instances do not drop each other's tenants' own traffic.
 * The table is built whole, checked with `nft -c` and swapped in with one
 * `nft -f` transaction (delete and create together), so it is never half
 * there, and applying it again after a crash is the same act.  Rendering
 * is pure (egress_render) so the rules can be tested without root.
 *
 * Thread-safe: one lock serialises the table's changes and guards the set
 * of known bridges.
 */
#ifndef KLANGK_EGRESS_H
#define KLANGK_EGRESS_H

#include "buf.h"
#include "cfg.h"
#include "err.h"

#include <stddef.h>

/* The interface-name prefix of every tenant bridge (tnet.h names them). */
#define EGRESS_BRIDGE_PREFIX "kt"
#define EGRESS_MAX_BRIDGES 65536

struct egress;

/* For the table of instance (copied).  new. */
int egress_new(const char *instance, struct egress **out, struct err *e);
void egress_free(struct egress *g);

/*
 * The nft script that replaces the table of instance with one for the deny
 * list of iso and the tenant bridges (borrowed names).  Appended to out.
 */
int egress_render(const char *instance, const struct cfg_isolation *iso,
		  const char *const *bridges, size_t n, struct buf *out);

/*
 * Build, check and swap in the whole table: the bridges given (borrowed;
 * the engine's tenant networks) and those egress_allow added.  Run at start
 * and at each resync, so a table flushed by someone else comes back.
 */
int egress_apply(struct egress *g, const struct cfg_isolation *iso,
		 const char *const *bridges, size_t n, struct err *e);

/*
 * A tenant bridge whose containers are about to start: the table is there
 * (applied now if it is not) and lets the bridge's own traffic through.
 * Cheap when the bridge is known already.
 */
int egress_allow(struct egress *g, const struct cfg_isolation *iso,
		 const char *bridge, struct err *e);

/* The network of bridge was removed: it is left out from the next apply. */
void egress_forget(struct egress *g, const char *bridge);

/* No tenant network is left: remove the table (an absent one is success)
 * unless a bridge is still known (allowed since, or not forgotten); the
 * next egress_allow applies it again. */
int egress_remove(struct egress *g, struct err *e);

#endif
