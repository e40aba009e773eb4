/*
 * rbac — keeps etcd's own users and roles in step with the workspaces, so
 * that etcd, not the CLI, decides who may write what (docs/security.md).
 *
 * With etcd authentication on, every etcd user other than root, the
 * controller itself and the service users is a tenant, and gets one role,
 * "klangk:user:<user>", that this module owns entirely:
 *
 *   - read-write on /klangk/workspaces/<user>/ (a prefix) and read on
 *     /klangk/status/<user>/, when the user name is a namespace (a DNS
 *     label): a user writes workspaces in their own namespace only;
 *   - for every workspace of another namespace that lists the user in
 *     spec.members: read-write on that one spec key for the owner role,
 *     read for the other roles, and read on its status key.
 *
 * rbac_sync reads the whole picture (users, their roles, the workspaces)
 * and converges: roles are created and granted, permissions granted and
 * revoked, the roles of users that are gone deleted.  Level-triggered and
 * idempotent; a crash half-way is repaired by the next sync.  The
 * controller runs it through its work queue (key RBAC_QUEUE_KEY) on every
 * workspace change and at every resync, so a new etcd user gets their
 * namespace within one resync period.
 */
#ifndef KLANGK_RBAC_H
#define KLANGK_RBAC_H

#include "err.h"
#include "etcd.h"
#include "ws.h"

#include <stdbool.h>
#include <stddef.h>

/* The work queue key of a sync: not an "ns/name", never a workspace. */
#define RBAC_QUEUE_KEY "@rbac"

struct rbac_opts {
	bool enabled;
	char self[256];          /* the controller's etcd user */
	char service[4096];      /* KLANGK_RBAC_SERVICE_USERS, comma-separated */
};

/* Enabled when the controller authenticates to etcd (KLANGK_ETCD_USERNAME)
 * unless KLANGK_RBAC=off; service users from KLANGK_RBAC_SERVICE_USERS. */
void rbac_opts_env(struct rbac_opts *o);

enum rbac_perm_type { RBAC_READ = 0, RBAC_WRITE = 1, RBAC_READWRITE = 2 };

struct rbac_perm {
	char *key;        /* owned */
	char *range_end;  /* owned; "" for a single key */
	enum rbac_perm_type type;
};

struct rbac_perms {
	struct rbac_perm *v;  /* owned, sorted by (key, range_end) */
	size_t n;
};

void rbac_perms_clear(struct rbac_perms *p);

/* A workspace as the plan sees it: its key parts and parsed object. */
struct rbac_ws {
	const char *ns;
	const char *name;
	const struct ws *w;   /* borrowed */
};

/*
 * The permissions tenant `user` should have, given every workspace (pure).
 * out: filled, caller clears.
 */
int rbac_plan(const char *user, const struct rbac_ws *ws, size_t n,
	      struct rbac_perms *out);

struct rbac_stats {
	unsigned tenants, roles_created, roles_deleted, users_granted,
		 perms_granted, perms_revoked;
};

/*
 * The parsed workspaces of the last sync, reused while no spec changed: a
 * sync runs on every workspace change and at every resync, and parsing
 * every spec (each with its last-applied copy) each time is most of its
 * cost at 1,000 workspaces.  Users, roles and permissions are read every
 * time, so drift there is still put right at once.  Used by one sync at a
 * time (the work queue never hands its key to two workers).
 */
struct rbac_cache;
int rbac_cache_new(struct rbac_cache **out);   /* new */
void rbac_cache_free(struct rbac_cache *rc);   /* NULL is fine */
/* How many times the specs were loaded (for the tests). */
unsigned long rbac_cache_loads(const struct rbac_cache *rc);

/* One full sync through c (which must be allowed to administer etcd's
 * auth: the root role).  rc (borrowed) may be NULL: load every time.
 * stats may be NULL. */
int rbac_sync(struct etcd *c, const struct rbac_opts *o, struct rbac_cache *rc,
	      struct rbac_stats *stats, struct err *e);

#endif
