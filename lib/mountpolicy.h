/*
 * mountpolicy — which host paths a workspace may bind-mount, and where
 * mounts may go inside its container (DESIGN §9, docs/security.md).
 *
 * Three layers, from pure to effectful:
 *
 *  1. Syntax, no file system: mount_check_source and mount_check_target.
 *     ws_parse calls them, so klangkc refuses "/", "/run", "/var/run" or
 *     the engine sockets at apply time, before anything is written.
 *  2. The policy on a *resolved* path (realpath, no symlinks left):
 *     mount_check_resolved — pure string work, the heart of the rules:
 *     under an allowed root when roots are configured, and neither inside
 *     nor containing a protected path.
 *  3. Resolution against the host, by the controller at every container
 *     creation and start: mount_resolve (realpath, file type, and the
 *     same-inode checks that catch hard links and bind-mount aliases of
 *     protected files), mount_apply_ws (every bind mount of a workspace,
 *     replacing each source by its resolved path, so that the engine
 *     mounts exactly what was checked) and mount_check_config (the engine
 *     configuration about to be sent: each bind source must still resolve
 *     to itself and pass).
 */
#ifndef KLANGK_MOUNTPOLICY_H
#define KLANGK_MOUNTPOLICY_H

#include "cfg.h"
#include "engine.h"
#include "err.h"
#include "ws.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define MOUNT_MAX_ROOTS 64
#define MOUNT_MAX_PROTECTED 128
#define MOUNT_WHY_MAX 512

struct mount_ino {
	dev_t dev;
	ino_t ino;
	const char *path;   /* borrowed from protected[]: for messages */
};

struct mount_policy {
	/* Allowed roots, resolved.  roots_set says KLANGK_ALLOWED_MOUNT_ROOTS
	 * was given: then a source must lie under one of them, and with no
	 * root that resolves nothing is allowed (fail closed). */
	char *roots[MOUNT_MAX_ROOTS];
	size_t n_roots;
	bool roots_set;
	/* Protected paths, each both as written and resolved. */
	char *protected[MOUNT_MAX_PROTECTED];
	size_t n_protected;
	/* Identities (device, inode) of the protected paths that exist, and of
	 * every ancestor of them, for the alias checks of mount_resolve.
	 * Owned arrays. */
	struct mount_ino *self;
	size_t n_self;
	struct mount_ino *above;
	size_t n_above;
};

/* Paths refused on every host: the engine sockets, the engine storage
 * (every user's volumes), and the kernel's /proc, /sys and /dev.
 * NULL-terminated. */
extern const char *const mount_builtin_protected[];

/* ---- 1. syntax ---- */

/* Absolute, without empty, "." or ".." components or a trailing '/'. */
bool mount_is_normal_path(const char *p);
/* Is a equal to b or one of its ancestors? (Both normal paths.) */
bool mount_path_covers(const char *a, const char *b);
/* Any byte below 0x20, or 0x7f. */
bool mount_has_control(const char *s);
/* Replace the normal path p by its parent, in place; false when p is "/"
 * (or not absolute): walks a path up to the root. */
bool mount_parent(char *p);

/*
 * A bind source as written: absolute, normalised, no control characters,
 * and not inside or containing a built-in protected path.  0, or -EINVAL
 * with the reason (a sentence fragment: "must be ...") in why.
 */
int mount_check_source(const char *src, char *why, size_t len);

/*
 * A mount target: absolute, normalised, not "/", not in or over /proc,
 * /sys or /dev, and not covering the workspace's home or work directory
 * (home and work may be NULL when unknown).  0 or -EINVAL with why.
 */
int mount_check_target(const char *tgt, const char *home, const char *work,
		       char *why, size_t len);

/* ---- 2. the policy ---- */

/*
 * Build a policy.  roots: KLANGK_ALLOWED_MOUNT_ROOTS (comma-separated; NULL
 * or "" = no restriction); protected: extra protected paths, NULL-
 * terminated (may be NULL), added to mount_builtin_protected.  Paths are
 * resolved now: roots must exist (those that do not are dropped), protected
 * paths need not (the longest existing prefix is resolved).  Free with
 * mount_policy_clear.
 */
int mount_policy_init(struct mount_policy *p, const char *roots,
		      const char *const *protected, struct err *e);
void mount_policy_clear(struct mount_policy *p);

/*
 * The policy of this controller: cfg's allowed roots; protected: the
 * built-ins, the engine socket of DOCKER_HOST and the engine's data root
 * (GET /info, fetched once per process), KLANGK_DATA_DIR (the controller's
 * state), KLANGK_PROTECTED_PATHS (etcd's data dir, proxy-gen's directory),
 * and the etcd credential files (KLANGK_ETCD_CACERT, _CERT, _KEY,
 * _PASSWORD_FILE).  g may be NULL (no engine data root).
 */
int mount_policy_from_cfg(const struct cfg *c, struct engine *g,
			  struct mount_policy *p, struct err *e);

/*
 * The pure check of a resolved path (absolute, normalised, no symlinks).
 * 0, or -EPERM with the reason in why ("contains the protected path
 * /run/docker.sock").
 */
int mount_check_resolved(const struct mount_policy *p, const char *resolved,
			 char *why, size_t len);

/* ---- 3. against the host ---- */

/*
 * Resolve src (realpath) and check it: the policy on the resolved path; a
 * directory or a regular file (never a socket or a device); and no alias of
 * a protected path (same device and inode as one, as an ancestor of one,
 * or inside one).  *resolved: new.  -EPERM with why when refused, -ENOENT
 * when src does not exist.
 */
int mount_resolve(const struct mount_policy *p, const char *src,
		  char **resolved, char *why, size_t len);

/*
 * Resolve and check every bind mount of w, replacing each source by its
 * resolved path.  -EPERM (or -ENOENT) with "spec.mounts[i].source: ..." in
 * e on the first refusal; w is then left unchanged.
 */
int mount_apply_ws(const struct cfg *c, struct engine *g, struct ws *w,
		   struct err *e);

/*
 * The last check before an engine create or start: every bind mount in
 * config's HostConfig.Mounts must still resolve to itself (no symlink
 * swapped in since mount_apply_ws) and pass the policy.  -EPERM with the
 * reason in e.
 */
int mount_check_config(const struct cfg *c, struct engine *g,
		       const json_t *config, struct err *e);

#endif
