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
 * for one node. */
int leader_new(const struct etcd_opts *o, const char *instance, const char *node,
	       long ttl_s, struct stopper *stop, struct leader **out, struct err *e);
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

#endif
