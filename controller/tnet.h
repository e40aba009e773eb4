/*
 * tnet — tenant networks: one engine network per namespace (tenant),
 * "klangk_<instance>_<ns>" (lib/ws.h), on a Linux bridge named
 * "kt<12 hex digits of SHA-256(instance/ns)>" so the egress table
 * (egress.h) can match every tenant bridge by prefix.  Labelled like the
 * volumes (klangk.managed, klangk.instance, klangk.user-id = the
 * namespace) so garbage collection (gc.h) finds it; created with Podman's
 * `isolate` option, which its CNI firewall plugin turns into rules that
 * drop traffic between bridges (dockerd keeps the option unused; the
 * egress table isolates the bridges on both engines).
 */
#ifndef KLANGK_TNET_H
#define KLANGK_TNET_H

#include "cfg.h"
#include "egress.h"
#include "engine.h"
#include "err.h"

#include <jansson.h>

#define TNET_BRIDGE_MAX 16 /* IFNAMSIZ */

int tnet_bridge_name(const char *instance, const char *ns, char out[TNET_BRIDGE_MAX]);

/*
 * The network of namespace ns exists and is ours: created when absent; one
 * of that name labelled for another instance or namespace (or none) is
 * refused (-EPERM).  bridge gets its bridge's name.
 */
int tnet_ensure(struct engine *g, const struct cfg *cfg, const char *ns,
		char bridge[TNET_BRIDGE_MAX], struct err *e);

/* The tenant networks of instance (new array; the engine's listing). */
int tnet_list(struct engine *g, const char *instance, json_t **out, struct err *e);

/* The namespace a listed network (borrowed) belongs to, or NULL. */
const char *tnet_namespace(const json_t *network);

/*
 * The egress table for the listed tenant networks (borrowed): applied with
 * their bridges, or removed when there is none (a tenant's first network
 * brings it back, egress_allow).
 */
int tnet_firewall(struct egress *eg, const struct cfg *cfg, const json_t *networks,
		  struct err *e);

#endif
