/*
 * access — who the caller is and what they may do, both decided by etcd.
 *
 * The gateway keeps no users of its own.  A caller is an etcd client made
 * with the caller's credentials (their user name and password, checked at
 * once with etcd's authenticate, or a token etcd gave them at sign-in), or
 * with none when etcd's authentication is off.  Each right is proven by
 * making the matching etcd request as the caller:
 *
 *   work (exec, import, export): write the workspace's activity key (the
 *        controller's roles grant it to the owner and to working members,
 *        controller/rbac.c) — which also records the session as activity;
 *   read (logs, top): read the workspace's object.
 *
 * So a member removed from spec.members is refused at their next request,
 * as soon as the controller has taken the grant back.
 */
#ifndef KLANGK_ACCESS_H
#define KLANGK_ACCESS_H

#include "err.h"
#include "etcd.h"
#include "status.h"
#include "ws.h"

#include <jansson.h>

struct caller {
	char user[256];       /* "" when anonymous (etcd auth off) */
	struct etcd *etcd;    /* owned: etcd as the caller */
};

/* The caller with a user name and password (authenticated now: -EACCES
 * when etcd refuses them), a token (-EACCES later, when etcd finds it
 * stale), or anonymous (user and secret NULL).  base: the gateway's
 * endpoints and TLS (borrowed).  out: filled, clear with caller_clear. */
int caller_password(const struct etcd_opts *base, const char *user, const char *password,
		    struct caller *out, struct err *e);
int caller_token(const struct etcd_opts *base, const char *user, const char *token,
		 struct caller *out, struct err *e);
int caller_anonymous(const struct etcd_opts *base, struct caller *out, struct err *e);
void caller_clear(struct caller *c);

/* The work right: the activity key written now, as the caller.  -EACCES
 * (refused by etcd), -ENOENT (no such workspace). */
int access_work(struct caller *c, const char *ns, const char *name, struct err *e);

/* The read right: the workspace's parsed object (new, ws_free), and its
 * status (filled; empty when the controller wrote none yet; the caller
 * status_clears it). */
int access_read(struct caller *c, const char *ns, const char *name, struct ws **w,
		struct status *st, struct err *e);

/* The container's name from a status: -EAGAIN (with the reason) when it
 * has none yet, or, with running, when the workspace is not running
 * (exec needs a running one; logs, top and archives any container). */
int access_container(const struct status *st, const char *ns, const char *name,
		     bool running, char *out, size_t len, struct err *e);

/*
 * The workspaces the caller may read, as etcd tells them about themselves:
 * their user's roles and each role's permissions (the controller's grants:
 * their own namespace, and each workspace shared with them); everything
 * when anonymous.  *out: new JSON array of {namespace, name, running,
 * state (the status phase), role, shared}, at most ACCESS_MAX_LIST.
 */
#define ACCESS_MAX_LIST 1000
int access_list(struct caller *c, json_t **out, struct err *e);

/*
 * May the caller open the hosted app on host port `port` of the workspace
 * whose status.id is id?  Only if etcd lets them read that workspace's
 * object (the owner and its members, with any role): it is looked for
 * among the workspaces they may read (access_list), and read again as
 * them.  -ENOENT when none of those has the app (which is also what a
 * stranger gets: no oracle for which apps exist).
 */
int access_app(struct caller *c, const char *id, long port, struct err *e);

/*
 * What `klangkc start` does, as the caller: spec.running set to true (a
 * write compared with the object's revision, read again when someone wrote
 * in between), then activity recorded, which resumes a workspace its idle
 * timeout stopped.  A member who may not write the object can still resume
 * one whose spec says running.  *changed: whether spec.running was written.
 * -EACCES when etcd refuses, -ENOENT when there is no such workspace.
 */
#define ACCESS_START_ATTEMPTS 10
int access_start(struct caller *c, const char *ns, const char *name, bool *changed,
		 struct err *e);

#endif
