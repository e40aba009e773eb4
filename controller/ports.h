/*
 * ports — host port leases in etcd: /klangk/leases/ports/<port>, or with
 * several nodes /klangk/leases/ports/<node>/<port> (each node has its own
 * engine, so its own host ports).
 *
 * A lease key's value is its owner, "<ns>/<name>".  Leases are created in
 * one transaction that fails if any of the keys exists, so a workspace gets
 * all of its ports or none, and no port is ever leased twice.  Owners are
 * found from the keys themselves, so a crash between leasing and writing
 * status loses nothing: the next reconcile finds the leases it already owns.
 */
#ifndef KLANGK_PORTS_H
#define KLANGK_PORTS_H

#include "err.h"
#include "etcd.h"

#define PORTS_MAX 5

/* The lease prefix of node (NULL or "" = the single-node layout), in buf. */
int ports_prefix(const char *node, char *buf, size_t len);

/* The port of a lease key directly under prefix; -1 if key is not one. */
long ports_key_port(const char *prefix, const char *key);

/*
 * Make `owner` hold exactly `want` ports in [start, end]: keep the ones it
 * holds (lowest first), release extras, lease missing ones.  `hint` (may be
 * NULL / 0 long) lists ports believed held (from status), letting the common
 * case be one read-only transaction.  On success ports[0..want) are sorted.
 * -ENOSPC when the range has no room.
 */
int ports_ensure(struct etcd *c, const char *prefix, const char *owner, int want,
		 long start, long end, const long *hint, int n_hint,
		 long ports[PORTS_MAX], struct err *e);

/* Release every lease under prefix held by owner.  *released counts them. */
int ports_release_all(struct etcd *c, const char *prefix, const char *owner,
		      int *released, struct err *e);

#endif
