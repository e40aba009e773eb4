/*
 * ws — the Workspace resource: its parsed form, its validation, and the
 * names derived from it (container, volumes).
 *
 * ws_parse is the one implementation of the rules that crds/workspace.yaml
 * writes down; the CLI and the controller both call it, so an object gets
 * the same verdict whether it arrives through klangkc or straight into etcd.
 * Every problem is reported as "<field path>: <what is wrong>", one per line.
 */
#ifndef KLANGK_WS_H
#define KLANGK_WS_H

#include "err.h"
#include "quantity.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WS_API_VERSION "klangk.io/v1alpha1"
#define WS_KIND "Workspace"
#define WS_DEFAULT_IMAGE "klangk-workspace"
#define WS_DEFAULT_NAMESPACE "default"
#define WS_MAX_HOSTED_PORTS 5
#define WS_CONTAINER_PORT_BASE 8000
#define WS_MAX_OBJECT (256u * 1024)  /* canonical JSON of one object */

/* Limits (also in the CRD). */
#define WS_NAME_MAX 63
#define WS_MAX_COMMAND 64
#define WS_MAX_ARG 4096
#define WS_MAX_ENV 128
#define WS_MAX_ENV_NAME 256
#define WS_MAX_ENV_VALUE 32768
#define WS_MAX_MOUNTS 32
#define WS_MAX_PATH 4096
#define WS_MAX_VOLUME_NAME 128
#define WS_MAX_MEMBERS 100
#define WS_MAX_USER 254
#define WS_MAX_IMAGE 255
#define WS_MAX_IDLE 31536000
#define WS_MAX_PIDS 4194304   /* the kernel's PID_MAX_LIMIT */

struct ws_env {
	char *name;
	char *value;
};

struct ws_mount {
	char *source;     /* absolute path (bind) or volume name */
	char *target;     /* absolute, normalised */
	bool read_only;
	bool bind;        /* source is a host path */
};

/* Who may open a hosted app (spec.hostedApps[].access): anyone who
 * reaches nginx, or the owner and the workspace's members only (signed in
 * at the gateway; needs origin mode, docs/proxy-gen.md). */
enum ws_access {
	WS_ACCESS_PUBLIC = 0,
	WS_ACCESS_MEMBERS,
};

struct ws_member {
	char *user;
	char *role;       /* owner | collaborator | coder | spectator */
};

/*
 * spec.resources as written: 0 means unset (the operator's default
 * applies, cfg_resolve_resources).  A quantity too large for int64_t is
 * valid syntax (the CRD's pattern cannot tell) and is kept as INT64_MAX,
 * which is over every cap; text keeps what was written, for messages.
 */
struct ws_quantity {
	int64_t value;
	char text[QUANTITY_MAX_LEN + 1];
};

struct ws_resources {
	struct ws_quantity cpu;     /* nano-CPUs */
	struct ws_quantity memory;  /* bytes */
	long long pids;
};

struct ws {
	char *name;
	char *ns;
	json_t *labels;        /* owned object of strings; never NULL */
	char *image;
	char **command;        /* NULL when unset */
	size_t n_command;
	struct ws_env *env;
	size_t n_env;
	struct ws_mount *mounts;
	size_t n_mounts;
	int hosted_ports;
	/* spec.hostedApps: the access of container port WS_CONTAINER_PORT_BASE
	 * + i; unlisted ports are public. */
	enum ws_access hosted_access[WS_MAX_HOSTED_PORTS];
	long long idle_timeout; /* -1 when unset: the controller's default */
	bool running;
	struct ws_member *members;
	size_t n_members;
	char *reclaim_policy;  /* Delete | Retain */
	char *node_name;       /* the node it must run on; NULL = placed by the
				* controllers (docs/operations.md) */
	struct ws_resources resources;
};

/*
 * Validate a Workspace object and build its parsed form with defaults.
 * default_ns is used when metadata.namespace is absent (may be NULL, then
 * "default").  On failure every problem found is in e, one per line, each
 * starting with its field path.  out: new, free with ws_free.
 */
int ws_parse(const json_t *doc, const char *default_ns, struct ws **out,
	     struct err *e);
void ws_free(struct ws *w);

/*
 * An object as stored under its key /klangk/workspaces/<ns>/<name>: YAML or
 * JSON, at most WS_MAX_OBJECT bytes, exactly one document, valid, and
 * naming the same ns and name as the key.  out: new; doc (may be NULL):
 * the document itself, new.
 */
int ws_load(const char *data, size_t len, const char *ns, const char *name,
	    struct ws **out, json_t **doc, struct err *e);

/*
 * The object as stored in etcd: apiVersion, kind, metadata (name,
 * namespace, labels, annotations) and spec, without status or server-set
 * metadata.  new.
 */
json_t *ws_canonical(const json_t *doc, const char *ns);

/* The access of container port `port` (public for any port not listed);
 * whether any published port (below hostedPorts) is members-only. */
enum ws_access ws_port_access(const struct ws *w, long port);
bool ws_has_members_apps(const struct ws *w);
/* "public" | "members" */
const char *ws_access_name(enum ws_access a);

/* Name checks shared by every binary. */
bool ws_is_dns_label(const char *s);
bool ws_is_id(const char *s);   /* status.id: 12..32 lowercase hex */

/* Derived names, written into caller buffers; -ENAMETOOLONG if too small.
 * (The etcd keys are lib/keys.h's.) */
int ws_container_name(const char *instance, const char *ns, const char *name,
		      char *buf, size_t len);
int ws_volume_name(const char *instance, const char *ns, const char *name,
		   const char *which /* "home" | "work" */, char *buf,
		   size_t len);
/* The tenant's (namespace's) engine network: one per namespace, shared by
 * its workspaces, "klangk_<instance>_<ns>" as the volumes are named. */
int ws_network_name(const char *instance, const char *ns, char *buf, size_t len);
/* Where the home and work volumes are mounted: /home/<ns>, /home/<ns>/work */
int ws_home_path(const char *ns, char *buf, size_t len);
int ws_work_path(const char *ns, char *buf, size_t len);

#endif
