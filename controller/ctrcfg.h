/*
 * ctrcfg — a workspace's container configuration: the Docker Engine API
 * create body (image, env, published ports, mounts, labels, HostConfig)
 * and its spec-hash, as a pure function of the spec, the settings, the
 * workspace's id, its leased ports and its restart marker.  No I/O: what
 * the engine is asked for can be tested without one.
 *
 * The spec-hash is the SHA-256 of the whole body (every field, canonically
 * ordered) without the hash label itself.  It is stored in the container's
 * klangk.spec-hash label and in status.specHash; a container whose label
 * differs from the hash of today's body is recreated.  So a field added to
 * the body is covered by the hash with no further work, and a change of
 * the body's shape for the same inputs recreates every container once: keep
 * the shape stable (tests/unit/test_ctrcfg.c pins it).
 *
 * Where the engine changes a container's limits in place and keeps them
 * (dockerd's POST /containers/{id}/update), the limits are left out of the
 * hash (in.limits_in_place): a change of spec.resources alone updates the
 * running container (ctrcfg_limits_match says when) instead of recreating
 * it.  Podman's update is not kept, so there they stay in the hash.
 *
 * To extend the body, add one section
 * function to the table in ctrcfg.c and its inputs to struct ctrcfg_in.
 */
#ifndef KLANGK_CTRCFG_H
#define KLANGK_CTRCFG_H

#include "cfg.h"
#include "ws.h"

#include <jansson.h>
#include <stdbool.h>

/* The labels the controller puts on its containers and volumes. */
#define CTRCFG_LABEL_MANAGED "klangk.managed"
#define CTRCFG_LABEL_INSTANCE "klangk.instance"
#define CTRCFG_LABEL_WORKSPACE "klangk.workspace"   /* "ns/name" */
#define CTRCFG_LABEL_USER "klangk.user-id"          /* the namespace */
#define CTRCFG_LABEL_HASH "klangk.spec-hash"
#define CTRCFG_LABEL_ID "klangk.id"                 /* status.id */
#define CTRCFG_LABEL_NODE "klangk.node"
#define CTRCFG_LABEL_RESTARTED "klangk.restarted-at" /* the restart marker */

#define CTRCFG_HASH_LEN 65   /* 64 hex digits and the NUL */
#define CTRCFG_RESTARTED_MAX 64

/* Everything the body is made of; all borrowed. */
struct ctrcfg_in {
	const struct cfg *cfg;   /* instance, node, hosting, publish address */
	const struct ws *ws;     /* the validated spec, bind sources resolved */
	const char *id;          /* status.id */
	const long *ports;       /* ws->hosted_ports leased host ports */
	const char *restarted;   /* klangk.io/restartedAt, "" when never */
	/* The limits cfg_resolve_resources gave for the spec (the privilege
	 * settings come from cfg->iso). */
	const struct engine_resources *res;
	/* The engine updates limits in place (dockerd): they are not part
	 * of the spec-hash. */
	bool limits_in_place;
};

/*
 * The create body for in, with its spec-hash in the labels.  *config new;
 * hash gets the spec-hash.  -ENOMEM, or -ENAMETOOLONG when a name does not
 * fit; the outputs are written only on success.
 */
int ctrcfg_build(const struct ctrcfg_in *in, json_t **config,
		 char hash[CTRCFG_HASH_LEN]);

/* The spec-hash of a body (borrowed; its own hash label is ignored). */
int ctrcfg_hash(const json_t *config, char hash[CTRCFG_HASH_LEN]);

/*
 * Is the inspected container (borrowed, GET /containers/{id}/json) the one
 * config (borrowed) describes?  Its spec-hash label must be hash and it must
 * carry every environment entry of config: the engine adds the image's own
 * entries, so this is inclusion, not equality.  The env check catches a
 * container recreated behind our back with our labels but other env.
 */
bool ctrcfg_matches(const json_t *info, const json_t *config, const char *hash);

/* Does the inspected container (borrowed) have the limits (NanoCpus,
 * Memory, MemorySwap, PidsLimit) of config (borrowed)?  Unset and 0 are
 * the same. */
bool ctrcfg_limits_match(const json_t *info, const json_t *config);

#endif
