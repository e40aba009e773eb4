/*
 * status — the Workspace status object: what the controller writes under
 * /klangk/status/<ns>/<name> (lib/keys.h) and what klangkc and proxy-gen
 * read there.  This is the one place that spells its field names
 * (tests/unit/check_contracts.sh fails when another file does): the
 * controller fills a struct status and emits it, readers parse it.
 *
 *   {"id": "3f9c1a2b7d4e", "phase": "Running", "observedGeneration": 4,
 *    "nodeName": "n1", "reclaimPolicy": "Delete", "publish": "none",
 *    "ports": [{"container": 8000, "host": 9000, "access": "members"}],
 *    "urls": ["http://..."],
 *    "lastActivity": "2025-01-31T12:34:56Z", "idleSince": "...",
 *    "container": {"name": "klangk_i_ns_n", "id": "0123456789ab",
 *                  "image": "klangk-workspace", "state": "running",
 *                  "exitCode": 0, "oomKilled": false,
 *                  "startedAt": "...", "finishedAt": "...",
 *                  "network": "klangk_i_ns", "address": "10.89.0.5"},
 *    "resources": {"cpu": "2", "memory": "8Gi", "pids": 16384},
 *    "restarts": {"count": 3, "streak": 2, "lastReason": "OOMKilled",
 *                 "lastExitCode": 137, "lastFinishedAt": "...",
 *                 "nextRestartAt": "..."},
 *    "specHash": "<sha256 hex>",
 *    "conditions": [{"type": "Ready", "status": "True", "reason": "...",
 *                    "message": "...", "observedGeneration": 4,
 *                    "lastTransitionTime": "..."}]}
 *
 * Times are lib/timefmt.h's.  Parsing is lenient, field by field: a field
 * that is missing, of the wrong type, or too long for its bound reads as
 * unset (an empty string, 0, false), so an old or hand-written status still
 * shows what it has; only a value that is not a JSON object is refused.
 * Emitting writes the fields in one fixed order and leaves unset ones out,
 * so equal structs give equal bytes (the controller skips a write when the
 * bytes did not change).
 */
#ifndef KLANGK_STATUS_H
#define KLANGK_STATUS_H

#include "err.h"
#include "timefmt.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STATUS_PENDING "Pending"
#define STATUS_RUNNING "Running"
#define STATUS_STOPPED "Stopped"
#define STATUS_FAILED "Failed"
#define STATUS_TERMINATING "Terminating"

#define STATUS_MAX_PORTS 5        /* WS_MAX_HOSTED_PORTS */
#define STATUS_MAX_CONDITIONS 8
#define STATUS_URL_MAX 1024
#define STATUS_MESSAGE_MAX 4096   /* a condition's message, with its NUL */

struct status_port {
	long container;
	long host;
	bool members;     /* "access": "members" (spec.hostedApps); absent = public */
};

struct status_condition {
	char type[32];
	char status[8];                  /* True | False | Unknown */
	char reason[128];
	char *message;                   /* owned; NULL = "" */
	int64_t observed_generation;
	char last_transition[TIMEFMT_MAX];
};

/* The workspace's container as the controller last saw it in the engine.
 * state "" = no container seen yet. */
struct status_container {
	char name[256];
	char id[16];                     /* the engine's id, first 12 digits */
	char image[256];
	char state[32];                  /* the engine's: running, exited, ... */
	int exit_code;
	bool oom_killed;
	char started_at[TIMEFMT_MAX];
	char finished_at[TIMEFMT_MAX];
	/* Its tenant network and its IPv4 address there while it runs ("" when
	 * it does not); with publish "none" proxy-gen routes to this address. */
	char network[256];
	char address[16];
};

/* The limits the container was given (spec.resources over the operator's
 * defaults), as quantities; cpu "" = not reported. */
struct status_resources {
	char cpu[32];                    /* "500m", "2" */
	char memory[32];                 /* "8Gi" */
	int64_t pids;
};

/* The container's restarts after it exited on its own (controller/
 * crashloop.h keeps the pacing); count 0 = none ever.  streak is the
 * current series' length (the backoff's exponent); nextRestartAt is set
 * while a restart waits (CrashLoopBackOff). */
struct status_restarts {
	int64_t count;
	int64_t streak;
	char last_reason[32];            /* OOMKilled | ContainerExited */
	int last_exit_code;
	char last_finished_at[TIMEFMT_MAX];
	char next_restart_at[TIMEFMT_MAX];
};

struct status {
	char id[33];
	char phase[16];
	bool has_generation;
	int64_t observed_generation;
	char node_name[64];
	char reclaim_policy[16];
	/* "publish": "none" (KLANGK_PUBLISH=none): no host port is bound; the
	 * hosted ports are reached at container.address, ports 8000 + i, and
	 * only while it is set (docs/proxy-gen.md).  false (absent): each is
	 * published on its leased host port, as before the field existed. */
	bool unpublished;
	struct status_port ports[STATUS_MAX_PORTS];
	size_t n_ports;
	char urls[STATUS_MAX_PORTS][STATUS_URL_MAX];
	size_t n_urls;
	char last_activity[TIMEFMT_MAX];
	char idle_since[TIMEFMT_MAX];
	struct status_container container;
	struct status_resources resources;
	struct status_restarts restarts;
	char spec_hash[65];
	struct status_condition conditions[STATUS_MAX_CONDITIONS];
	size_t n_conditions;
	/* Entries of ports, urls and conditions left out when parsing, as
	 * malformed or beyond the bounds (proxy-gen counts them). */
	size_t n_invalid;
};

/* An empty status (every field unset). */
void status_init(struct status *s);
/* Free what s owns and make it empty again; NULL is fine. */
void status_clear(struct status *s);

/* Read a status from its JSON form (borrowed); -EINVAL when j is not an
 * object.  *out is initialised by the call (status_clear it). */
int status_from_json(const json_t *j, struct status *out);

/* Read a status from the bytes stored in etcd; -EINVAL (with the reason
 * in e) when they are not a JSON object. */
int status_parse(const char *data, size_t len, struct status *out, struct err *e);

/* The JSON form, new; NULL when out of memory. */
json_t *status_to_json(const struct status *s);

/* The stored form (compact JSON), new (free()); -ENOMEM. */
int status_emit(const struct status *s, char **out);

/* Copy src (NULL = "") into a field of size size; -ENAMETOOLONG, and the
 * field untouched, when it does not fit. */
int status_set_str(char *field, size_t size, const char *src);
#define STATUS_SET(field, src) status_set_str((field), sizeof(field), (src))

/* Record the generation the status describes. */
void status_set_generation(struct status *s, int64_t generation);

/* Is the phase this one?  The phase to show: "Pending" when unset. */
bool status_is_phase(const struct status *s, const char *phase);
const char *status_phase(const struct status *s);

/* The condition of this type, or NULL (borrowed). */
const struct status_condition *status_condition(const struct status *s,
						const char *type);

/*
 * Set a condition.  lastTransitionTime becomes now only when its status
 * flips (or it had none), as the Kubernetes conventions ask.  -ENOSPC when
 * STATUS_MAX_CONDITIONS other types are there already, -ENAMETOOLONG when
 * a word does not fit, -ENOMEM; on failure s is unchanged.
 */
int status_set_condition(struct status *s, const char *type, const char *cstatus,
			 const char *reason, const char *message, int64_t generation,
			 const char *now);

/* Drop every port and URL, then add n (host port, URL) pairs whose
 * container ports count from base; -E2BIG beyond STATUS_MAX_PORTS,
 * -ENAMETOOLONG for a URL too long. */
int status_set_ports(struct status *s, int base, const long *hosts,
		     const char *const *urls, size_t n);

/* Mark the port of container port `container` members-only (or public
 * again); -ENOENT when the status has no such port. */
int status_set_port_members(struct status *s, long container, bool members);

/* The host port a container port (or a host port, given as such) of the
 * workspace is published on; 0 when none. */
long status_host_port(const struct status *s, long port);

#endif
