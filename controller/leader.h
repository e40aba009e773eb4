/*
 * leader — leader election among controller replicas of one instance.
 *
 * The leader holds /klangk/leader/<instance>, created in a transaction that
 * fails if the key exists and bound to an etcd lease (TTL leader_ttl_s).
 * It renews the lease every third of the TTL; if it cannot renew for two
 * thirds of the TTL it steps down before the lease can expire, so two
 * replicas never both believe they lead (beyond the small clock margin
 * etcd's TTL accounting leaves).  Followers watch the key and campaign as
 * soon as it is deleted (lease expiry or a leader that resigned).
 *
 * Each replica has a holder identity, stable across its restarts (as a
 * Kubernetes Lease's holderIdentity): --leader-identity, or by default the
 * host name, with "-2", "-3"... for further replicas of the same instance
 * and node on this host.  The key's value is the holder's identity.  A
 * replica that finds the key held by its own identity is that identity's
 * previous process (crashed, or cut off from etcd, whose lease etcd kept
 * alive) and takes the key over at once, in a transaction that compares
 * the key's revision, then revokes the old lease; a key held by any other
 * identity is waited for.  Two live processes never share an identity on
 * one host: each holds a guard (an abstract unix socket named after the
 * key and identity) that the kernel releases when the process dies.  An
 * identity must also be unique across hosts; a process whose lease was
 * revoked under it by a takeover never takes its key back (it follows, and
 * says so), so a duplicate cannot make two replicas trade the key forever.
 *
 * With several nodes the replicas of each node elect their own leader:
 * the key is /klangk/leader/<instance>/<node>.  A record (the node's
 * registration, placement.h) can ride on the leader's lease: it is put in
 * the same transaction that takes the key, so it exists exactly while the
 * node has a leader.
 */
#ifndef KLANGK_LEADER_H
#define KLANGK_LEADER_H

#include "etcd.h"
#include "stopper.h"

#include <stdbool.h>

struct leader;

/* new; etcd_opts borrowed for the duration of the call.  node: NULL or ""
 * for one node.  identity: NULL or "" for the default (above); -EBUSY when
 * a given identity is held by another live process on this host. */
int leader_new(const struct etcd_opts *o, const char *instance, const char *node,
	       const char *identity, long ttl_s, struct stopper *stop,
	       struct leader **out, struct err *e);
/* The holder identity (borrowed; lives as long as l). */
const char *leader_identity(const struct leader *l);
/* Put key = value (copied) on the leader's lease while leading; a new
 * value is written at the next renewal.  Any thread. */
int leader_set_record(struct leader *l, const char *key, const char *value);
/* Run the election until stop.  Leadership ends with it, but the lease
 * (and so the key) is kept until leader_resign. */
void leader_run(struct leader *l);
/* Once leader_run has returned and the workers are joined: revoke the
 * lease, so that the next replica takes over at once.  NULL: nothing. */
void leader_resign(struct leader *l);
void leader_free(struct leader *l);

bool leader_is_leader(struct leader *l);
/* Block until this replica leads or stop; true when leading. */
bool leader_wait(struct leader *l);
/* Called (from the election thread) each time leadership is gained. */
void leader_on_elected(struct leader *l, void (*fn)(void *), void *ud);
/* Counted for metrics. */
unsigned long leader_transitions(struct leader *l);

/* What a campaign that found the key held does (pure; exposed for tests). */
enum leader_step {
	LEADER_FOLLOW,     /* another identity's: wait for the key to go */
	LEADER_TAKE_OVER,  /* ours: a previous process of this identity */
};
/* holder: the key's value; self: our identity; ousted: a takeover revoked
 * our lease while we led (then a key holding our identity is a duplicate's). */
enum leader_step leader_decide(const char *holder, const char *self, bool ousted);

/* Guards: claim name (an abstract unix socket, released by the kernel when
 * the process dies).  *fd (new) on success; -EADDRINUSE when a live process
 * holds it.  Exposed for tests. */
int leader_guard_claim(const char *key, const char *identity, int *fd);

#endif
