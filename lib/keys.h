/*
 * keys — the layout of every etcd key Klangk uses, and of the etcd role
 * names the controller manages.  This is the one place that spells them:
 * the CLI, the controller and proxy-gen build and parse keys only through
 * these functions and constants (tests/unit/check_contracts.sh fails the
 * build's tests when a "/klangk/..." literal appears anywhere else).
 *
 *   /klangk/workspaces/<ns>/<name>      the desired object (users write it)
 *   /klangk/status/<ns>/<name>          its status (the controller writes it,
 *                                       lib/status.h owns the value)
 *   /klangk/activity/<ns>/<name>        last activity (lib/timefmt.h value)
 *   /klangk/placements/<ns>/<name>      the node a workspace lives on
 *   /klangk/events/<ns>/<name>/<hash>   events
 *   /klangk/leases/ports[/<node>]/<port>  host port leases
 *   /klangk/nodes/<node>                registered nodes
 *   /klangk/retained/<volume>           volumes kept by reclaimPolicy Retain
 *   /klangk/leader/<instance>[/<node>]  the leader election key
 *   klangk:user:<user>                  the etcd role of a tenant
 *
 * Builders write into a caller's buffer and return 0, or -ENAMETOOLONG
 * when it is too small (the buffer is then unspecified).
 */
#ifndef KLANGK_KEYS_H
#define KLANGK_KEYS_H

#include <stddef.h>

/* Everything Klangk keeps in etcd lies under this prefix. */
#define KEYS_ROOT "/klangk/"
#define KEYS_SPEC_PREFIX "/klangk/workspaces/"
#define KEYS_STATUS_PREFIX "/klangk/status/"
#define KEYS_ACTIVITY_PREFIX "/klangk/activity/"
#define KEYS_PLACEMENT_PREFIX "/klangk/placements/"
#define KEYS_EVENTS_PREFIX "/klangk/events/"
#define KEYS_LEASE_PREFIX "/klangk/leases/ports/"
#define KEYS_NODE_PREFIX "/klangk/nodes/"
#define KEYS_RETAINED_PREFIX "/klangk/retained/"
#define KEYS_LEADER_PREFIX "/klangk/leader/"
#define KEYS_ROLE_PREFIX "klangk:user:"

/* The per-workspace keys: <prefix><ns>/<name>.  KEYS_OWNER is the
 * "<ns>/<name>" they share (the workspace's owner string), prefix "". */
enum keys_kind {
	KEYS_OWNER,
	KEYS_SPEC,
	KEYS_STATUS,
	KEYS_ACTIVITY,
	KEYS_PLACEMENT,
};

/* The kind's prefix (static). */
const char *keys_prefix(enum keys_kind k);

/* <prefix><ns>/<name>. */
int keys_ws(enum keys_kind k, const char *ns, const char *name, char *buf, size_t len);

/* <prefix><owner>, owner being "<ns>/<name>". */
int keys_of_owner(enum keys_kind k, const char *owner, char *buf, size_t len);

/* <prefix><ns>/: every key of the kind in one namespace; with ns NULL or
 * "", the kind's prefix (every namespace). */
int keys_ns_prefix(enum keys_kind k, const char *ns, char *buf, size_t len);

/* The "<ns>/<name>" part of a key of the kind (borrowed from key), or
 * NULL when key does not start with the kind's prefix. */
const char *keys_owner(enum keys_kind k, const char *key);

/* Split a key of the kind into ns and name, both DNS labels; -EINVAL when
 * it is not one (another prefix, a missing or extra '/', a bad label, or
 * a part too long for its buffer). */
int keys_split(enum keys_kind k, const char *key, char *ns, size_t nslen, char *name,
	       size_t namelen);

/* /klangk/events/<ns>/<name>/ and, with its id, one event's key. */
int keys_events_prefix(const char *ns, const char *name, char *buf, size_t len);
int keys_event(const char *ns, const char *name, const char *id, char *buf, size_t len);

/* The port leases of a node ("" or NULL: the single-node layout). */
int keys_lease_prefix(const char *node, char *buf, size_t len);
/* One lease: <lease_prefix><port>. */
int keys_lease(const char *lease_prefix, long port, char *buf, size_t len);

/* A registered node's key; keys_node_name gives the name back (borrowed),
 * NULL when key is not a node key. */
int keys_node(const char *node, char *buf, size_t len);
const char *keys_node_name(const char *key);

/* The marker of a volume kept by reclaimPolicy Retain. */
int keys_retained(const char *volume, char *buf, size_t len);

/* The leader election key of an instance (per node when node is set). */
int keys_leader(const char *instance, const char *node, char *buf, size_t len);

/* The etcd role of tenant user, and the user back from a role name
 * (borrowed; NULL when it is not a tenant role). */
int keys_role(const char *user, char *buf, size_t len);
const char *keys_role_user(const char *role);

#endif
