/*
 * reconcile — one workspace's convergence (see reconcile.h).
 *
 * Order matters for crash safety:
 *   1. status.id is written before anything uses it, so it never changes;
 *   2. port leases are taken (one transaction) before the container that
 *      publishes them exists, and found again by owner after a crash;
 *   3. volumes, then the container, then status;
 *   4. on delete the status key is the finalizer: it is removed last, after
 *      container, volumes and leases, so a crash mid-teardown resumes it.
 */
#include "reconcile.h"

#include "buf.h"
#include "keys.h"
#include "log.h"
#include "mountpolicy.h"
#include "placement.h"
#include "ports.h"
#include "status.h"
#include "timefmt.h"
#include "ws.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LABEL_MANAGED "klangk.managed"
#define LABEL_INSTANCE "klangk.instance"
#define LABEL_WORKSPACE "klangk.workspace"
#define LABEL_USER "klangk.user-id"
#define LABEL_HASH "klangk.spec-hash"
#define LABEL_ID "klangk.id"
#define LABEL_NODE "klangk.node"
#define STOP_GRACE_S 10

struct wsref {
	const char *ns;
	const char *name;
	char owner[160];          /* "ns/name" */
	char status_key[512];
	char container[256];
	char home_vol[256];
	char work_vol[256];
	char lease_prefix[128];   /* this node's port leases */
	char node[PLACE_NODE_MAX];/* with several nodes: the workspace's, or "" */
};

/* ---- status helpers ---- */

/* The time of an RFC 3339 timestamp; 0 when it is not one (unset). */
static time_t seconds(const char *s)
{
	time_t t = 0;

	return timefmt_parse(s, &t) == 0 ? t : 0;
}

/*
 * The idle timeout.  Activity comes from /klangk/activity/<ns>/<name>
 * (hosted traffic, klangkc start/exec/touch) and from every start of the
 * container.  A running workspace idle for its timeout is stopped and
 * status.idleSince set; activity newer than that starts it again.
 * *want_running is the run state to converge to; *requeue_ms the time to
 * the next idle deadline.
 */
static int idle_decide(struct rec *x, const struct wsref *ref, const struct ws *w,
		       struct status *st, bool *want_running, long *requeue_ms,
		       struct err *e)
{
	long long timeout = w->idle_timeout >= 0 ? w->idle_timeout : x->cfg->idle_timeout;
	time_t now = time(NULL), act = 0, last, idle_since;
	struct etcd_kv kv = { 0 };
	char key[512];
	int r;

	*want_running = w->running;
	if (!w->running || timeout <= 0) {
		st->idle_since[0] = '\0';
		return 0;
	}
	keys_of_owner(KEYS_ACTIVITY, ref->owner, key, sizeof(key));
	r = etcd_get(x->etcd, key, &kv, NULL, e);
	if (r < 0 && r != -ENOENT)
		return r;
	if (r == 0)
		act = seconds(kv.value);
	etcd_kv_clear(&kv);
	err_clear(e);
	last = seconds(st->last_activity);
	idle_since = seconds(st->idle_since);
	if (act > last)
		last = act;
	if (idle_since) {
		/* Timestamps have one-second resolution.  Activity from before
		 * the stop is strictly older than idleSince (we stop only when
		 * now - last >= timeout > 0), so activity in the same second
		 * as the stop is new: resume. */
		if (act >= idle_since) {
			/* New activity after we stopped it: resume. */
			st->idle_since[0] = '\0';
			timefmt_emit(act, st->last_activity, sizeof(st->last_activity));
			events_record(x->events, ref->ns, ref->name, "Normal", "Resumed",
				      "activity after an idle stop; starting the container");
			return 0;
		}
		*want_running = false;
		return 0;
	}
	if (!last) {
		/* Never active: the clock starts now. */
		last = now;
		timefmt_emit(now, st->last_activity, sizeof(st->last_activity));
	} else if (act == last) {
		timefmt_emit(act, st->last_activity, sizeof(st->last_activity));
	}
	if (now - last >= timeout) {
		char msg[128];

		*want_running = false;
		timefmt_emit(now, st->idle_since, sizeof(st->idle_since));
		snprintf(msg, sizeof(msg), "no activity for %lld seconds; stopping the "
					   "container (files and ports are kept)", timeout);
		events_record(x->events, ref->ns, ref->name, "Normal", "IdleTimeout", msg);
		log_info("stopping idle workspace", "workspace", ref->owner, NULL);
		return 0;
	}
	*requeue_ms = (long)(last + timeout - now) * 1000 + 500;
	return 0;
}

/* Set a condition (lib/status.h: lastTransitionTime moves only when its
 * status flips).  Types and reasons are ours and messages fit
 * (ERR_MSG_MAX <= STATUS_MESSAGE_MAX), so only memory can fail it, and
 * then the condition keeps its old value until the next reconcile. */
static void set_condition(struct status *st, const char *type, const char *status,
			  const char *reason, const char *message,
			  int64_t generation)
{
	char now[TIMEFMT_MAX];

	timefmt_now(now, sizeof(now));
	(void)status_set_condition(st, type, status, reason, message, generation, now);
}

/* Ready/Reconciling/Stalled together, in the three shapes we use. */
static void conditions_ready(struct status *st, int64_t gen, const char *reason,
			     const char *msg)
{
	set_condition(st, "Ready", "True", reason, msg, gen);
	set_condition(st, "Reconciling", "False", reason, "", gen);
	set_condition(st, "Stalled", "False", reason, "", gen);
}

static void conditions_progressing(struct status *st, int64_t gen, const char *reason,
				   const char *msg)
{
	set_condition(st, "Ready", "False", reason, msg, gen);
	set_condition(st, "Reconciling", "True", reason, msg, gen);
	set_condition(st, "Stalled", "False", reason, "", gen);
}

static void conditions_stalled(struct status *st, int64_t gen, const char *reason,
			       const char *msg)
{
	set_condition(st, "Ready", "False", reason, msg, gen);
	set_condition(st, "Reconciling", "False", reason, "", gen);
	set_condition(st, "Stalled", "True", reason, msg, gen);
}

/* Stopped for idleness: as intended (neither reconciling nor stalled),
 * but not serving. */
static void conditions_idle(struct status *st, int64_t gen)
{
	const char *msg = "stopped after its idle timeout; activity "
			  "(klangkc start, hosted traffic) starts it again";

	set_condition(st, "Ready", "False", "IdleTimeout", msg, gen);
	set_condition(st, "Reconciling", "False", "IdleTimeout", "", gen);
	set_condition(st, "Stalled", "False", "IdleTimeout", "", gen);
}

/*
 * Write status if it differs from what is stored, comparing the key's
 * mod_revision with the one we read (*rev, 0 = absent), which is updated.
 * Returns 1 when it wrote, 0 when nothing changed, -EAGAIN when someone
 * else wrote it meanwhile.
 */
static int write_status(struct rec *x, const struct wsref *ref, const struct status *st,
			const struct etcd_kv *cur, int64_t *rev, struct err *e)
{
	char *val = NULL;
	json_t *cmp = NULL, *ops = NULL, *resp = NULL;
	bool ok = false;
	int r;

	if (status_emit(st, &val) < 0)
		return -ENOMEM;
	if (cur && cur->value && *rev == cur->mod_revision &&
	    cur->value_len == strlen(val) && memcmp(cur->value, val, cur->value_len) == 0) {
		free(val);
		return 0;
	}
	cmp = json_pack("[o]", etcd_cmp_mod(ref->status_key, *rev));
	ops = json_pack("[o]", etcd_op_put(ref->status_key, val, strlen(val), 0));
	if (!cmp || !ops) {
		json_decref(cmp);
		json_decref(ops);
		free(val);
		return -ENOMEM;
	}
	r = etcd_txn(x->etcd, cmp, ops, NULL, &ok, &resp, e);
	if (r == 0 && !ok) {
		err_set(e, "status of %s changed while reconciling; retrying", ref->owner);
		r = -EAGAIN;
	}
	if (r == 0) {
		const char *rs = json_string_value(
			json_object_get(json_object_get(resp, "header"), "revision"));

		*rev = rs ? strtoll(rs, NULL, 10) : 0;
		r = 1;
	}
	json_decref(resp);
	free(val);
	return r;
}

static int new_id(char out[13])
{
	unsigned char b[6];
	static const char hex[] = "0123456789abcdef";

	if (RAND_bytes(b, sizeof(b)) != 1)
		return -EIO;
	for (int i = 0; i < 6; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[12] = '\0';
	return 0;
}

/* ---- engine objects ---- */

static const char *label_of(const json_t *labels, const char *k)
{
	const char *v = json_string_value(json_object_get(labels, k));

	return v ? v : "";
}

/*
 * Make sure volume `vol` exists with our ownership labels; refuse one that
 * belongs to another instance or user, or carries no labels at all.
 */
static int ensure_volume(struct rec *x, const struct wsref *ref,
			 const char *vol, bool per_workspace, struct err *e)
{
	json_t *v = NULL, *labels;
	int r;

	r = engine_volume_inspect(x->engine, vol, &v, e);
	if (r == -ENOENT) {
		labels = json_pack("{s:s,s:s,s:s}", LABEL_MANAGED, "true",
				   LABEL_INSTANCE, x->cfg->instance_id, LABEL_USER,
				   ref->ns);
		if (!labels)
			return -ENOMEM;
		if (per_workspace)
			json_object_set_new(labels, LABEL_WORKSPACE, json_string(ref->owner));
		if (x->cfg->node_name[0])
			json_object_set_new(labels, LABEL_NODE, json_string(x->cfg->node_name));
		err_clear(e);
		r = engine_volume_create(x->engine, vol, labels, e);
		json_decref(labels);
		if (r == 0)
			log_info("volume created", "workspace", ref->owner, "volume", vol, NULL);
		if (r != -EEXIST)
			return r;
		/* Created by someone else meanwhile: check its labels. */
		err_clear(e);
		r = engine_volume_inspect(x->engine, vol, &v, e);
	}
	if (r < 0)
		return r;
	labels = json_object_get(v, "Labels");
	if (strcmp(label_of(labels, LABEL_INSTANCE), x->cfg->instance_id) != 0 ||
	    strcmp(label_of(labels, LABEL_USER), ref->ns) != 0) {
		err_set(e, "volume %s belongs to %s (instance \"%s\", user \"%s\"), not "
			   "to user \"%s\" of instance \"%s\"", vol,
			json_object_size(labels) ? "someone else" : "nobody known",
			label_of(labels, LABEL_INSTANCE), label_of(labels, LABEL_USER),
			ref->ns, x->cfg->instance_id);
		r = -EPERM;
	}
	json_decref(v);
	return r;
}

static int sha256_hex(const char *s, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;
	static const char hex[] = "0123456789abcdef";

	if (EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL) != 1 || n != 32)
		return -EIO;
	for (int i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
	return 0;
}

/* The container we want, with its spec-hash label.  new. */
static json_t *container_config(struct rec *x, const struct wsref *ref,
				const struct ws *w, const char *id,
				const long *ports, const char *restarted,
				char hash[65])
{
	const struct cfg *cfg = x->cfg;
	json_t *c, *env, *exposed, *bindings, *mounts, *labels;
	char home[128], work[160], kv[512];
	struct buf map;
	char *canon = NULL;

	buf_init(&map, 4096);
	for (int i = 0; i < w->hosted_ports; i++)
		buf_printf(&map, "%s%d:%ld", i ? "," : "", WS_CONTAINER_PORT_BASE + i,
			   ports[i]);
	env = json_array();
	exposed = json_object();
	bindings = json_object();
	mounts = json_array();
	labels = json_pack("{s:s,s:s,s:s,s:s,s:s}", LABEL_MANAGED, "true",
			   LABEL_INSTANCE, cfg->instance_id, LABEL_WORKSPACE,
			   ref->owner, LABEL_USER, ref->ns, LABEL_ID, id);
	c = json_object();
	if (!env || !exposed || !bindings || !mounts || !labels || !c)
		goto fail;
	if (*restarted)
		json_object_set_new(labels, "klangk.restarted-at", json_string(restarted));
	if (cfg->node_name[0])
		json_object_set_new(labels, LABEL_NODE, json_string(cfg->node_name));

#define ENV(fmt, ...)                                                     \
	do {                                                              \
		snprintf(kv, sizeof(kv), fmt, __VA_ARGS__);               \
		json_array_append_new(env, json_string(kv));             \
	} while (0)
	ENV("KLANGK_WORKSPACE_ID=%s", id);
	ENV("KLANGK_PORT_MAPPINGS=%s", map.data ? map.data : "");
	ENV("KLANGK_HOSTING_HOSTNAME=%s", cfg->hosting_hostname);
	ENV("KLANGK_HOSTING_PROTO=%s", cfg->hosting_proto);
	ENV("KLANGK_HOSTING_BASE_PATH=%s", cfg->hosting_base_path);
	ENV("KLANGK_USER=%s", ref->ns);
#undef ENV
	for (size_t i = 0; i < w->n_env; i++) {
		struct buf b;

		buf_init(&b, WS_MAX_ENV_NAME + WS_MAX_ENV_VALUE + 2);
		if (buf_printf(&b, "%s=%s", w->env[i].name, w->env[i].value) < 0) {
			buf_free(&b);
			goto fail;
		}
		json_array_append_new(env, json_string(b.data));
		buf_free(&b);
	}

	for (int i = 0; i < w->hosted_ports; i++) {
		char cport[16], hport[16];

		snprintf(cport, sizeof(cport), "%d/tcp", WS_CONTAINER_PORT_BASE + i);
		snprintf(hport, sizeof(hport), "%ld", ports[i]);
		json_object_set_new(exposed, cport, json_object());
		json_object_set_new(bindings, cport,
				    json_pack("[{s:s,s:s}]", "HostIp",
					      cfg->publish_address, "HostPort", hport));
	}

	ws_home_path(ref->ns, home, sizeof(home));
	ws_work_path(ref->ns, work, sizeof(work));
	json_array_append_new(mounts, json_pack("{s:s,s:s,s:s}", "Type", "volume",
						"Source", ref->home_vol, "Target", home));
	json_array_append_new(mounts, json_pack("{s:s,s:s,s:s}", "Type", "volume",
						"Source", ref->work_vol, "Target", work));
	for (size_t i = 0; i < w->n_mounts; i++)
		json_array_append_new(mounts,
				      json_pack("{s:s,s:s,s:s,s:b}", "Type",
						w->mounts[i].bind ? "bind" : "volume",
						"Source", w->mounts[i].source, "Target",
						w->mounts[i].target, "ReadOnly",
						w->mounts[i].read_only));

	json_object_set_new(c, "Image", json_string(w->image));
	json_object_set_new(c, "Hostname", json_string(ref->name));
	json_object_set_new(c, "Env", env);
	json_object_set_new(c, "ExposedPorts", exposed);
	json_object_set_new(c, "Labels", labels);
	json_object_set_new(c, "HostConfig",
			    json_pack("{s:b,s:o,s:o,s:{s:s}}", "Init", 1,
				      "PortBindings", bindings, "Mounts", mounts,
				      "RestartPolicy", "Name", "no"));
	env = exposed = bindings = mounts = labels = NULL;

	/* The hash covers everything but itself, canonically ordered. */
	canon = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);
	if (!canon || sha256_hex(canon, hash) < 0)
		goto fail;
	free(canon);
	json_object_set_new(json_object_get(c, "Labels"), LABEL_HASH, json_string(hash));
	buf_free(&map);
	return c;
fail:
	free(canon);
	json_decref(env);
	json_decref(exposed);
	json_decref(bindings);
	json_decref(mounts);
	json_decref(labels);
	json_decref(c);
	buf_free(&map);
	return NULL;
}

/* Does the container carry every environment entry we want?  The engine
 * adds the image's own entries, so this is inclusion, not equality. */
static bool env_matches(const json_t *info, const json_t *config)
{
	const json_t *have = json_object_get(json_object_get(info, "Config"), "Env");
	const json_t *want = json_object_get(config, "Env");
	size_t i, j;
	json_t *w, *h;

	json_array_foreach(want, i, w) {
		bool found = false;

		json_array_foreach(have, j, h)
			if (json_equal(w, h)) {
				found = true;
				break;
			}
		if (!found)
			return false;
	}
	return true;
}

/* A string of the engine's into a status field; "" when it has none or
 * it does not fit. */
static void seen_str(char *field, size_t size, const char *v)
{
	if (status_set_str(field, size, v) < 0)
		field[0] = '\0';
}

/* An engine timestamp as the status keeps it; "" for the engines' zero
 * time ("0001-01-01T00:00:00Z": never started or never finished). */
static void seen_time(char *field, size_t size, const char *v)
{
	time_t t = seconds(v);

	if (t <= 0 || timefmt_emit(t, field, size) < 0)
		field[0] = '\0';
}

/* What the status records of the container (klangkc describe shows it),
 * from the engine's inspect. */
static void container_seen(const json_t *info, struct status_container *c)
{
	const json_t *state = json_object_get(info, "State");
	const char *id = json_string_value(json_object_get(info, "Id"));

	snprintf(c->id, sizeof(c->id), "%.12s", id ? id : "");
	seen_str(c->image, sizeof(c->image),
		 json_string_value(json_object_get(json_object_get(info, "Config"), "Image")));
	seen_str(c->state, sizeof(c->state),
		 json_string_value(json_object_get(state, "Status")));
	c->exit_code = (int)json_integer_value(json_object_get(state, "ExitCode"));
	c->oom_killed = json_is_true(json_object_get(state, "OOMKilled"));
	seen_time(c->started_at, sizeof(c->started_at),
		  json_string_value(json_object_get(state, "StartedAt")));
	seen_time(c->finished_at, sizeof(c->finished_at),
		  json_string_value(json_object_get(state, "FinishedAt")));
}

/*
 * Converge the container: create it if missing, recreate it when its
 * spec-hash differs or its environment is not what the hash promises
 * (someone recreated it behind our back with our labels), keeping the
 * volumes; start or stop it to match running.
 * *running gets the resulting state, *seen what the engine says of the
 * container (inspected again only when this call changed it).
 */
static int ensure_container(struct rec *x, const struct wsref *ref,
			    const json_t *config, const char *hash, bool want_running,
			    bool *running, struct status_container *seen,
			    const char **reason, struct err *e)
{
	json_t *info = NULL;
	bool exists, is_running = false, changed = false;
	int r;

	r = engine_container_inspect(x->engine, ref->container, &info, e);
	if (r < 0 && r != -ENOENT) {
		*reason = "EngineUnavailable";
		return r;
	}
	exists = r == 0;
	if (exists) {
		const json_t *labels = json_object_get(json_object_get(info, "Config"), "Labels");

		if (strcmp(label_of(labels, LABEL_INSTANCE), x->cfg->instance_id) != 0 ||
		    strcmp(label_of(labels, LABEL_MANAGED), "true") != 0) {
			err_set(e, "a container named %s exists and is not managed by "
				   "instance %s", ref->container, x->cfg->instance_id);
			*reason = "ContainerNameTaken";
			json_decref(info);
			return -EPERM;
		}
		is_running = json_is_true(json_object_get(json_object_get(info, "State"),
							  "Running"));
		{
			const char *st = json_string_value(json_object_get(
				json_object_get(info, "State"), "Status"));

			/* Being removed (by someone else): it cannot be started
			 * or recreated until it is gone; its removal event
			 * brings us back. */
			if (st && strcmp(st, "removing") == 0) {
				err_set(e, "container %s is being removed", ref->container);
				*reason = "ContainerRemoving";
				json_decref(info);
				return -EAGAIN;
			}
		}
		if (strcmp(label_of(labels, LABEL_HASH), hash) != 0 ||
		    !env_matches(info, config)) {
			log_info("recreating container: configuration changed",
				 "workspace", ref->owner, "container", ref->container, NULL);
			events_record(x->events, ref->ns, ref->name, "Normal", "Recreating",
				      "the container's configuration changed; recreating it "
				      "(home and work volumes are kept)");
			r = engine_container_remove(x->engine, ref->container, e);
			if (r < 0) {
				*reason = "ContainerRemoveFailed";
				json_decref(info);
				return r;
			}
			exists = false;
			is_running = false;
			changed = true;
		}
	}
	/* The mount policy, once more on the exact configuration the engine
	 * gets, right before it mounts anything: at a creation, and at a
	 * start too, since the engine resolves bind sources again then. */
	if ((!exists || (want_running && !is_running)) &&
	    (r = mount_check_config(x->cfg, x->engine, config, e)) < 0) {
		*reason = "MountRefused";
		goto out;
	}
	if (!exists) {
		err_clear(e);
		changed = true;
		r = engine_container_create(x->engine, ref->container, config, NULL, e);
		if (r < 0) {
			*reason = r == -ENOENT ? "ImageNotFound" : "ContainerCreateFailed";
			goto out;
		}
		log_info("container created", "workspace", ref->owner, "container",
			 ref->container, NULL);
		events_record(x->events, ref->ns, ref->name, "Normal", "Created",
			      "created container");
	}
	if (want_running && !is_running) {
		changed = true;
		r = engine_container_start(x->engine, ref->container, e);
		if (r < 0) {
			*reason = "ContainerStartFailed";
			goto out;
		}
		log_info("container started", "workspace", ref->owner, NULL);
		events_record(x->events, ref->ns, ref->name, "Normal", "Started",
			      "started container");
		is_running = true;
	} else if (!want_running && is_running) {
		changed = true;
		r = engine_container_stop(x->engine, ref->container, STOP_GRACE_S, e);
		if (r < 0) {
			*reason = "ContainerStopFailed";
			goto out;
		}
		log_info("container stopped", "workspace", ref->owner, NULL);
		events_record(x->events, ref->ns, ref->name, "Normal", "Stopped",
			      "stopped container");
		is_running = false;
	}
	*running = is_running;
	r = 0;
out:
	/* A failed create, start or stop leaves the container in some state
	 * too: what the engine says now is what the status shows. */
	if (changed) {
		json_decref(info);
		info = NULL;
		if (engine_container_inspect(x->engine, ref->container, &info, NULL) < 0)
			info = NULL;
	}
	if (info)
		container_seen(info, seen);
	else if (changed)
		seen->state[0] = seen->id[0] = '\0';
	json_decref(info);
	return r;
}

/* ---- teardown ---- */

/* Set (or clear) the retained markers of the home and work volumes. */
static int retain_mark(struct rec *x, const struct wsref *ref, bool set,
		       struct err *e)
{
	const char *vols[] = { ref->home_vol, ref->work_vol };

	for (int i = 0; i < 2; i++) {
		char key[512];
		int r;

		keys_retained(vols[i], key, sizeof(key));
		r = set ? etcd_put(x->etcd, key, ref->owner, strlen(ref->owner), e) :
			  etcd_delete(x->etcd, key, NULL, e);
		if (r < 0)
			return r;
	}
	return 0;
}

static int teardown(struct rec *x, const struct wsref *ref, struct status *st,
		    const struct etcd_kv *cur, int64_t status_rev, struct err *e)
{
	const char *policy = st->reclaim_policy[0] ? st->reclaim_policy : NULL;
	int released = 0, r;

	if (status_rev) {
		/* Terminating first: proxy-gen drops the routes before the
		 * container goes away. */
		STATUS_SET(st->phase, STATUS_TERMINATING);
		set_condition(st, "Ready", "False", "Deleting",
			      "the workspace is being deleted", st->observed_generation);
		r = write_status(x, ref, st, cur, &status_rev, e);
		if (r < 0)
			return r;
	}
	r = engine_container_remove(x->engine, ref->container, e);
	if (r < 0)
		return r;
	if (status_rev && (!policy || strcmp(policy, "Retain") != 0)) {
		r = engine_volume_remove(x->engine, ref->home_vol, e);
		if (r == 0)
			r = engine_volume_remove(x->engine, ref->work_vol, e);
		if (r == 0)
			r = retain_mark(x, ref, false, e);
		if (r < 0)
			return r;
	} else if (status_rev) {
		r = retain_mark(x, ref, true, e);
		if (r < 0)
			return r;
	}
	r = ports_release_all(x->etcd, ref->lease_prefix, ref->owner, &released, e);
	if (r < 0)
		return r;
	if (status_rev || ref->node[0]) {
		/* The status key (the finalizer) and the placement go together:
		 * a placement never outlives its workspace's teardown. */
		json_t *cmp = json_array(), *ops = json_array();
		char pkey[256];
		bool ok = false;

		if (!cmp || !ops || place_key(ref->owner, pkey, sizeof(pkey)) < 0) {
			json_decref(cmp);
			json_decref(ops);
			return -ENOMEM;
		}
		if (status_rev) {
			char akey[512];

			json_array_append_new(cmp, etcd_cmp_mod(ref->status_key, status_rev));
			json_array_append_new(ops, etcd_op_delete(ref->status_key));
			/* The activity key goes with the status: its writers
			 * (proxy-gen, klangkc) write it only while the status
			 * or spec exists. */
			keys_of_owner(KEYS_ACTIVITY, ref->owner, akey, sizeof(akey));
			json_array_append_new(ops, etcd_op_delete(akey));
		} else {
			json_array_append_new(cmp, etcd_cmp_value(pkey, ref->node));
		}
		if (ref->node[0])
			json_array_append_new(ops, etcd_op_delete(pkey));
		r = etcd_txn(x->etcd, cmp, ops, NULL, &ok, NULL, e);
		if (r < 0)
			return r;
		if (!ok && status_rev) {
			err_set(e, "status of %s changed during teardown; retrying", ref->owner);
			return -EAGAIN;
		}
		if (status_rev)
			log_info("workspace deleted", "workspace", ref->owner, "reclaimPolicy",
				 policy ? policy : "Delete", NULL);
	}
	return 0;
}

/* ---- the reconcile ---- */

/*
 * Several nodes: place the workspace unless placed (ref->node gets its
 * node).  1 when it is this node's; 0 when it is another node's, or when
 * spec.nodeName asks for another node than the one it is on (reported as
 * Stalled, nothing touched: a workspace is never moved silently, and
 * moving it would leave its home behind on the old node's engine).
 */
static int rec_place(struct rec *x, struct wsref *ref, const char *wanted,
		     struct status *st, int64_t gen, const struct etcd_kv *stkv,
		     int64_t *status_rev, const char **reason, struct err *e)
{
	char msg[512];
	int r;

	if (!ref->node[0]) {
		r = place_ensure(x->etcd, ref->owner, wanted, ref->node, e);
		if (r < 0) {
			*reason = r == -ENOSPC ? "Unschedulable" : "PlacementFailed";
			return r;
		}
	}
	if (strcmp(ref->node, x->cfg->node_name) != 0)
		return 0;
	STATUS_SET(st->node_name, ref->node);
	if (*wanted && strcmp(wanted, ref->node) != 0) {
		snprintf(msg, sizeof(msg), "spec.nodeName is \"%s\" but the workspace "
			 "lives on node \"%s\" and is not moved (its home volume is "
			 "there): set spec.nodeName back, or delete the workspace "
			 "and create it anew", wanted, ref->node);
		status_set_generation(st, gen);
		conditions_stalled(st, gen, "NodeNameMismatch", msg);
		r = write_status(x, ref, st, stkv->key ? stkv : NULL, status_rev, e);
		if (r == 1)
			events_record(x->events, ref->ns, ref->name, "Warning",
				      "NodeNameMismatch", msg);
		return r < 0 ? r : 0;
	}
	return 1;
}

/* Parse the stored object (ws_load: JSON or YAML, exactly one document,
 * whose name and namespace match its key). */
static int parse_desired(const struct wsref *ref, const struct etcd_kv *kv,
			 struct ws **out, char *restarted, size_t rlen,
			 struct err *e)
{
	json_t *doc = NULL;
	const char *ra;
	int r = ws_load(kv->value, kv->value_len, ref->ns, ref->name, out, &doc, e);

	if (r < 0)
		return r;
	/* `klangkc restart` stamps this annotation; it is part of the
	 * container's configuration, so a new value recreates it. */
	ra = json_string_value(json_object_get(json_object_get(json_object_get(
		doc, "metadata"), "annotations"), REC_RESTARTED_ANNOTATION));
	snprintf(restarted, rlen, "%s", ra && strlen(ra) < 64 ? ra : "");
	json_decref(doc);
	return 0;
}

static int set_ports_urls(struct rec *x, struct status *st, const char *id,
			  const long *ports, int n)
{
	char urls[STATUS_MAX_PORTS][STATUS_URL_MAX];
	const char *u[STATUS_MAX_PORTS];

	for (int i = 0; i < n && i < STATUS_MAX_PORTS; i++) {
		snprintf(urls[i], sizeof(urls[i]), "%s://%s%s/hosted/%s/%ld/",
			 x->cfg->hosting_proto, x->cfg->hosting_hostname,
			 x->cfg->hosting_base_path, id, ports[i]);
		u[i] = urls[i];
	}
	return status_set_ports(st, WS_CONTAINER_PORT_BASE, ports, u, (size_t)n);
}

int rec_reconcile(struct rec *x, const char *ns, const char *name,
		  long *requeue_ms, struct err *e)
{
	struct wsref ref = { .ns = ns, .name = name };
	struct etcd_kv spec = { 0 }, stkv = { 0 };
	bool have_spec, have_status, running = false;
	const char *reason = "Reconciling";
	bool want_running = true, was_running = false, adopted = false;
	long ports[PORTS_MAX] = { 0 }, hint[PORTS_MAX];
	int64_t status_rev = 0, gen;
	struct status st;
	json_t *config = NULL;
	struct ws *w = NULL;
	char key[512], id[33], hash[65], restarted[64];
	bool fresh_id = false, ports_changed;
	int n_hint = 0, r;

	status_init(&st);
	if (keys_ws(KEYS_OWNER, ns, name, ref.owner, sizeof(ref.owner)) < 0 ||
	    keys_ws(KEYS_STATUS, ns, name, ref.status_key, sizeof(ref.status_key)) < 0 ||
	    keys_ws(KEYS_SPEC, ns, name, key, sizeof(key)) < 0 ||
	    ws_container_name(x->cfg->instance_id, ns, name, ref.container,
			      sizeof(ref.container)) < 0 ||
	    ws_volume_name(x->cfg->instance_id, ns, name, "home", ref.home_vol,
			   sizeof(ref.home_vol)) < 0 ||
	    ws_volume_name(x->cfg->instance_id, ns, name, "work", ref.work_vol,
			   sizeof(ref.work_vol)) < 0 ||
	    ports_prefix(x->cfg->node_name, ref.lease_prefix, sizeof(ref.lease_prefix)) < 0)
		return -ENAMETOOLONG;

	r = etcd_get(x->etcd, key, &spec, NULL, e);
	if (r < 0 && r != -ENOENT)
		return r;
	have_spec = r == 0;
	r = etcd_get(x->etcd, ref.status_key, &stkv, NULL, e);
	if (r < 0 && r != -ENOENT)
		goto out;
	have_status = r == 0;
	err_clear(e);
	if (have_status) {
		status_rev = stkv.mod_revision;
		/* Status is ours alone; a broken one is rebuilt. */
		r = status_parse(stkv.value, stkv.value_len, &st, NULL);
		if (r == -ENOMEM)
			goto out;
	}

	/* Several nodes: another node's workspace is not ours to touch. */
	if (x->cfg->node_name[0]) {
		r = place_get(x->etcd, ref.owner, ref.node, e);
		if (r < 0 && r != -ENOENT)
			goto out;
		err_clear(e);
		if (r == 0 && strcmp(ref.node, x->cfg->node_name) != 0) {
			r = 0;
			goto out;
		}
	}
	if (!have_spec) {
		r = teardown(x, &ref, &st, have_status ? &stkv : NULL, status_rev, e);
		goto out;
	}
	gen = spec.version;

	/* 1. Validate.  An invalid object is reported and left alone. */
	r = parse_desired(&ref, &spec, &w, restarted, sizeof(restarted), e);
	if (r == -ENOMEM)
		goto out;
	if (r < 0) {
		log_warn("invalid workspace", "workspace", ref.owner, "reason", e->msg, NULL);
		if (!st.phase[0])
			STATUS_SET(st.phase, STATUS_FAILED);
		status_set_generation(&st, gen);
		conditions_stalled(&st, gen, "InvalidSpec", e->msg);
		{
			char why[ERR_MSG_MAX];

			snprintf(why, sizeof(why), "%s", e->msg);
			r = write_status(x, &ref, &st, have_status ? &stkv : NULL,
					 &status_rev, e);
			if (r == 1)
				events_record(x->events, ns, name, "Warning", "InvalidSpec", why);
		}
		goto out;
	}

	/* 1a. Several nodes: place it (once, never moved), then only its
	 * node goes on. */
	if (x->cfg->node_name[0]) {
		/* A status with an id and no node was written by a controller
		 * without a node name: this node adopts the workspace (docs/
		 * operations.md), and its leases move under the node's prefix. */
		adopted = st.id[0] && !st.node_name[0];
		r = rec_place(x, &ref, w->node_name ? w->node_name : "", &st, gen, &stkv,
			      &status_rev, &reason, e);
		if (r < 0)
			goto failed;
		if (r == 0)
			goto out;
	}

	/* 1b. Bind mounts: resolved on this host and checked against the
	 * mount policy (lib/mountpolicy.h); the container gets the resolved
	 * paths, so what the engine mounts is what was checked. */
	r = mount_apply_ws(x->cfg, x->engine, w, e);
	if (r < 0) {
		reason = r == -EPERM || r == -ENOENT ? "MountRefused" : "MountCheckFailed";
		goto failed;
	}

	/* 2. The id.  A new one is only drawn here; it is written with the
	 * ports below, before anything outside this function uses it (the
	 * leases are keyed by the workspace's name, not its id, so a crash
	 * before that write just draws another). */
	if (ws_is_id(st.id)) {
		snprintf(id, sizeof(id), "%s", st.id);
	} else {
		r = new_id(id);
		if (r < 0)
			goto out;
		fresh_id = true;
	}
	STATUS_SET(st.reclaim_policy, w->reclaim_policy);

	/* 3. Ports: the ones status says we hold are the hint. */
	for (size_t i = 0; i < st.n_ports && n_hint < PORTS_MAX; i++)
		hint[n_hint++] = st.ports[i].host;
	r = ports_ensure(x->etcd, ref.lease_prefix, ref.owner, w->hosted_ports,
			 x->cfg->port_range_start,
			 x->cfg->port_range_end, hint, n_hint, ports, e);
	if (r < 0) {
		reason = r == -ENOSPC ? "NoFreePorts" : "PortLeaseFailed";
		goto failed;
	}
	if (adopted) {
		r = ports_release_all(x->etcd, KEYS_LEASE_PREFIX, ref.owner, NULL, e);
		if (r < 0) {
			reason = "PortLeaseFailed";
			goto failed;
		}
	}
	{
		struct status_port before[STATUS_MAX_PORTS];
		size_t n_before = st.n_ports;

		memcpy(before, st.ports, sizeof(before));
		r = set_ports_urls(x, &st, id, ports, w->hosted_ports);
		if (r < 0)
			goto out;
		ports_changed = n_before != st.n_ports ||
				memcmp(before, st.ports, n_before * sizeof(before[0])) != 0;
	}

	/* 3a. A workspace being created is written as Pending with its id,
	 * ports and URLs before its volumes and container (and a Pending one
	 * again when its ports change).  proxy-gen routes Pending workspaces
	 * (docs/proxy-gen.md), so the route is in nginx by the time the
	 * container starts instead of one reload after it. */
	if (fresh_id) {
		STATUS_SET(st.id, id);
		STATUS_SET(st.phase, STATUS_PENDING);
	}
	if (fresh_id || (ports_changed && status_is_phase(&st, STATUS_PENDING))) {
		status_set_generation(&st, gen);
		conditions_progressing(&st, gen, "Creating", "creating volumes and the container");
		r = write_status(x, &ref, &st, have_status ? &stkv : NULL, &status_rev, e);
		if (r < 0)
			goto out;
		if (fresh_id)
			log_info("workspace id assigned", "workspace", ref.owner, "id", id,
				 NULL);
	}

	/* 4. Volumes. */
	r = ensure_volume(x, &ref, ref.home_vol, true, e);
	if (r == 0)
		r = ensure_volume(x, &ref, ref.work_vol, true, e);
	for (size_t i = 0; r == 0 && i < w->n_mounts; i++)
		if (!w->mounts[i].bind)
			r = ensure_volume(x, &ref, w->mounts[i].source, false, e);
	if (r < 0) {
		reason = r == -EPERM ? "VolumeNotOwned" : "VolumeFailed";
		goto failed;
	}

	/* 5. The container. */
	config = container_config(x, &ref, w, id, ports, restarted, hash);
	if (!config) {
		r = -ENOMEM;
		goto out;
	}
	r = idle_decide(x, &ref, w, &st, &want_running, requeue_ms, e);
	if (r < 0) {
		reason = "ActivityUnreadable";
		goto failed;
	}
	was_running = status_is_phase(&st, STATUS_RUNNING);
	r = ensure_container(x, &ref, config, hash, want_running, &running, &st.container,
			     &reason, e);
	if (r < 0)
		goto failed;
	if (running && !was_running)
		/* A start counts as activity. */
		timefmt_now(st.last_activity, sizeof(st.last_activity));

	/* 6. Status. */
	STATUS_SET(st.phase, running ? STATUS_RUNNING : STATUS_STOPPED);
	status_set_generation(&st, gen);
	STATUS_SET(st.container.name, ref.container);
	/* Lets resync tell, from one container listing, that the container
	 * still is the one this status describes. */
	STATUS_SET(st.spec_hash, hash);
	if (running)
		conditions_ready(&st, gen, "ContainerRunning", "the container is running");
	else if (w->running)
		conditions_idle(&st, gen);
	else
		conditions_ready(&st, gen, "Stopped", "the workspace is stopped (spec.running is false)");
	r = write_status(x, &ref, &st, &stkv, &status_rev, e);
	goto out;

failed:
	/* Report, then let the caller retry with backoff.  A refused volume
	 * cannot fix itself, so it is Stalled rather than Reconciling. */
	{
		struct err werr = { "" };

		log_warn("reconcile failed", "workspace", ref.owner, "reason", reason,
			 "error", e->msg, NULL);
		events_record(x->events, ns, name, "Warning", reason, e->msg);
		if (!st.phase[0])
			STATUS_SET(st.phase, STATUS_PENDING);
		status_set_generation(&st, gen);
		if (r == -EPERM || strcmp(reason, "MountRefused") == 0)
			conditions_stalled(&st, gen, reason, e->msg);
		else
			conditions_progressing(&st, gen, reason, e->msg);
		write_status(x, &ref, &st, &stkv, &status_rev, &werr);
	}
out:
	json_decref(config);
	status_clear(&st);
	ws_free(w);
	etcd_kv_clear(&spec);
	etcd_kv_clear(&stkv);
	return r > 0 ? 0 : r;
}
