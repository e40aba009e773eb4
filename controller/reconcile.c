/*
 * reconcile — one workspace's convergence (see reconcile.h), as a pipeline
 * of named steps over one struct pass (rec_reconcile at the end of this
 * file lists them).
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

#include "crashloop.h"
#include "ctrcfg.h"
#include "egress.h"
#include "expect.h"
#include "hosting.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "mountpolicy.h"
#include "placement.h"
#include "ports.h"
#include "status.h"
#include "timefmt.h"
#include "tnet.h"
#include "ws.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STOP_GRACE_S 10

struct wsref {
	const char *ns;
	const char *name;
	char owner[160];          /* "ns/name" */
	char spec_key[512];
	char status_key[512];
	char activity_key[512];
	char place_key[256];
	char container[256];
	char home_vol[256];
	char work_vol[256];
	char lease_prefix[128];   /* this node's port leases */
	char node[PLACE_NODE_MAX];/* with several nodes: the workspace's, or "" */
};

/*
 * One reconcile's state, handed from step to step.  The kvs are what the
 * first step read (key NULL when absent); st is the status being built.
 */
struct pass {
	struct wsref ref;
	struct etcd_kv spec, stkv, place, activity;
	struct status st;         /* status_clear'd by pass_clear */
	int64_t status_rev;       /* st's mod_revision in etcd; 0 = absent */
	int64_t gen;              /* the spec's version */
	struct ws *w;             /* the validated spec; new */
	char restarted[CTRCFG_RESTARTED_MAX];
	bool adopted;             /* a status from a controller without node */
	char id[33];
	long ports[PORTS_MAX];
	struct engine_resources res; /* the limits resolved for the spec */
	json_t *config;           /* the container we want; new */
	char hash[CTRCFG_HASH_LEN];
	bool want_running;
	bool running;
	bool backoff;             /* a crash restart waits (CrashLoopBackOff) */
	char crash_msg[256];      /* why it is not running, while it waits */
	const char *reason;       /* set by a step whose failure is reported */
	long requeue_ms;
};

/* What a step returns besides a negative errno. */
enum { STEP_NEXT = 0, STEP_DONE = 1 };

/* ---- status helpers ---- */

/* The time of an RFC 3339 timestamp; 0 when it is not one (unset). */
static time_t seconds(const char *s)
{
	time_t t = 0;

	return timefmt_parse(s, &t) == 0 ? t : 0;
}

/*
 * The idle timeout.  Activity comes from /klangk/activity/<ns>/<name>
 * (hosted traffic, klangkc start/exec/touch; read with the spec) and from
 * every start of the container.  A running workspace idle for its timeout
 * is stopped and status.idleSince set; activity newer than that starts it
 * again.  Sets p->want_running, and p->requeue_ms to the time to the next
 * idle deadline.
 */
static void idle_decide(struct rec *x, struct pass *p)
{
	const struct ws *w = p->w;
	struct status *st = &p->st;
	long long timeout = w->idle_timeout >= 0 ? w->idle_timeout : x->cfg->idle_timeout;
	time_t now = time(NULL), act = 0, last, idle_since;

	p->want_running = w->running;
	if (!w->running || timeout <= 0) {
		st->idle_since[0] = '\0';
		return;
	}
	if (p->activity.key)
		act = seconds(p->activity.value);
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
			events_record(x->events, p->ref.ns, p->ref.name, "Normal", "Resumed",
				      "activity after an idle stop; starting the container");
			/* The start is activity (step_container), so the next
			 * deadline is a full timeout away.  Without this
			 * requeue nothing would wake us: our own status write
			 * is an echo the watch drops. */
			p->requeue_ms = (long)timeout * 1000 + 500;
			return;
		}
		p->want_running = false;
		return;
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

		p->want_running = false;
		timefmt_emit(now, st->idle_since, sizeof(st->idle_since));
		snprintf(msg, sizeof(msg), "no activity for %lld seconds; stopping the "
					   "container (files and ports are kept)", timeout);
		events_record(x->events, p->ref.ns, p->ref.name, "Normal", "IdleTimeout", msg);
		log_info("stopping idle workspace", "workspace", p->ref.owner, NULL);
		return;
	}
	p->requeue_ms = (long)(last + timeout - now) * 1000 + 500;
}

/* Another look after ms at the latest (the earliest of the wake-ups
 * the steps want). */
static void requeue_within(struct pass *p, long ms)
{
	if (p->requeue_ms <= 0 || ms < p->requeue_ms)
		p->requeue_ms = ms;
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
		labels = json_pack("{s:s,s:s,s:s}", CTRCFG_LABEL_MANAGED, "true",
				   CTRCFG_LABEL_INSTANCE, x->cfg->instance_id, CTRCFG_LABEL_USER,
				   ref->ns);
		if (!labels)
			return -ENOMEM;
		if (per_workspace)
			json_object_set_new(labels, CTRCFG_LABEL_WORKSPACE, json_string(ref->owner));
		if (x->cfg->node_name[0])
			json_object_set_new(labels, CTRCFG_LABEL_NODE, json_string(x->cfg->node_name));
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
	if (strcmp(label_of(labels, CTRCFG_LABEL_INSTANCE), x->cfg->instance_id) != 0 ||
	    strcmp(label_of(labels, CTRCFG_LABEL_USER), ref->ns) != 0) {
		err_set(e, "volume %s belongs to %s (instance \"%s\", user \"%s\"), not "
			   "to user \"%s\" of instance \"%s\"", vol,
			json_object_size(labels) ? "someone else" : "nobody known",
			label_of(labels, CTRCFG_LABEL_INSTANCE), label_of(labels, CTRCFG_LABEL_USER),
			ref->ns, x->cfg->instance_id);
		r = -EPERM;
	}
	json_decref(v);
	return r;
}

static int pass_write_status(struct rec *x, struct pass *p, struct err *e);

/*
 * KLANGK_PUBLISH=none: nginx routes to the container's address, which the
 * engine hands to another container once this one stops or goes.  So
 * before the controller stops or removes it, the status drops the address
 * (and with it the routes, proxy-gen.md) in a write of its own; a new
 * address comes back with the write that reports the container running.
 * No write when there is no address (host mode, or dropped already).
 */
static int unroute(struct rec *x, struct pass *p, const char *msg, struct err *e)
{
	int r;

	if (!p->st.container.address[0])
		return 0;
	p->st.container.address[0] = '\0';
	conditions_progressing(&p->st, p->gen, "Unrouted", msg);
	r = pass_write_status(x, p, e);
	if (r < 0)
		p->reason = "StatusWriteFailed";
	return r < 0 ? r : 0;
}

/* What the engine holds under the workspace's container name. */
struct observed {
	bool exists;
	bool running;
	bool changed;             /* this reconcile acted on it */
	char id[80];              /* "" when unknown */
};

/*
 * Inspect the container.  One that is not ours is refused; one being
 * removed (by someone else) is waited for: it cannot be started or
 * recreated until it is gone, and its removal event brings us back.
 */
static int observe_container(struct rec *x, struct pass *p, json_t **info,
			     struct observed *o, struct err *e)
{
	const json_t *labels, *state;
	const char *status, *id;
	int r = engine_container_inspect(x->engine, p->ref.container, info, e);

	if (r == -ENOENT) {
		err_clear(e);
		return 0;
	}
	if (r < 0) {
		p->reason = "EngineUnavailable";
		return r;
	}
	labels = json_object_get(json_object_get(*info, "Config"), "Labels");
	if (strcmp(label_of(labels, CTRCFG_LABEL_INSTANCE), x->cfg->instance_id) != 0 ||
	    strcmp(label_of(labels, CTRCFG_LABEL_MANAGED), "true") != 0) {
		err_set(e, "a container named %s exists and is not managed by "
			   "instance %s", p->ref.container, x->cfg->instance_id);
		p->reason = "ContainerNameTaken";
		return -EPERM;
	}
	state = json_object_get(*info, "State");
	status = json_string_value(json_object_get(state, "Status"));
	if (status && strcmp(status, "removing") == 0) {
		err_set(e, "container %s is being removed", p->ref.container);
		p->reason = "ContainerRemoving";
		return -EAGAIN;
	}
	o->exists = true;
	o->running = json_is_true(json_object_get(state, "Running"));
	id = json_string_value(json_object_get(*info, "Id"));
	snprintf(o->id, sizeof(o->id), "%s", id ? id : "");
	return 0;
}

/* Remove a container whose spec-hash or environment is not what we want
 * (someone recreated it behind our back with our labels); the volumes
 * are kept. */
static int remove_changed(struct rec *x, struct pass *p, const json_t *info,
			  struct observed *o, struct err *e)
{
	int r;

	if (!o->exists || ctrcfg_matches(info, p->config, p->hash))
		return 0;
	log_info("recreating container: configuration changed",
		 "workspace", p->ref.owner, "container", p->ref.container, NULL);
	events_record(x->events, p->ref.ns, p->ref.name, "Normal", "Recreating",
		      "the container's configuration changed; recreating it "
		      "(home and work volumes are kept)");
	o->changed = true;
	r = unroute(x, p, "recreating the container", e);
	if (r == 0)
		r = engine_container_remove(x->engine, p->ref.container, e);
	if (r < 0) {
		p->reason = p->reason ? p->reason : "ContainerRemoveFailed";
		return r;
	}
	*o = (struct observed){ .changed = true };
	return 0;
}

/* Create it.  The engine's create event is ours: expected, so it does
 * not wake another reconcile (expect.h). */
static int create_container(struct rec *x, struct pass *p, struct observed *o,
			    struct err *e)
{
	char *id = NULL;
	int r;

	o->changed = true;
	expect_action(x->expect, p->ref.container, NULL, "create");
	r = engine_container_create(x->engine, p->ref.container, p->config, &id, e);
	if (r < 0) {
		expect_cancel(x->expect, p->ref.container, "create");
		p->reason = r == -ENOENT ? "ImageNotFound" : "ContainerCreateFailed";
		return r;
	}
	expect_bind(x->expect, p->ref.container, id);
	snprintf(o->id, sizeof(o->id), "%s", id ? id : "");
	free(id);
	o->exists = true;
	log_info("container created", "workspace", p->ref.owner, "container",
		 p->ref.container, NULL);
	events_record(x->events, p->ref.ns, p->ref.name, "Normal", "Created",
		      "created container");
	return 0;
}

/* Start or stop it to match p->want_running; a start is expected as the
 * create is. */
static int run_container(struct rec *x, struct pass *p, struct observed *o,
			 struct err *e)
{
	int r;

	if (p->want_running && !o->running && !p->backoff) {
		o->changed = true;
		expect_action(x->expect, p->ref.container, o->id, "start");
		r = engine_container_start(x->engine, p->ref.container, e);
		if (r < 0) {
			expect_cancel(x->expect, p->ref.container, "start");
			p->reason = "ContainerStartFailed";
			return r;
		}
		log_info("container started", "workspace", p->ref.owner, NULL);
		events_record(x->events, p->ref.ns, p->ref.name, "Normal", "Started",
			      "started container");
		o->running = true;
		p->st.restarts.next_restart_at[0] = '\0';
	} else if (!p->want_running && o->running) {
		o->changed = true;
		r = unroute(x, p, "stopping the container", e);
		if (r < 0)
			return r;
		r = engine_container_stop(x->engine, p->ref.container, STOP_GRACE_S, e);
		if (r < 0) {
			p->reason = "ContainerStopFailed";
			return r;
		}
		log_info("container stopped", "workspace", p->ref.owner, NULL);
		events_record(x->events, p->ref.ns, p->ref.name, "Normal", "Stopped",
			      "stopped container");
		o->running = false;
	}
	return 0;
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
 * from the engine's inspect: also its network and, while it runs, its
 * IPv4 address there (an engine keeps reporting the last one after a
 * stop, which may be another container's by then). */
static void container_seen(const json_t *info, const char *net,
			   struct status_container *c)
{
	const json_t *state = json_object_get(info, "State");
	const char *id = json_string_value(json_object_get(info, "Id"));
	const json_t *ep = json_object_get(json_object_get(json_object_get(
		info, "NetworkSettings"), "Networks"), net);

	seen_str(c->network, sizeof(c->network), ep ? net : "");
	seen_str(c->address, sizeof(c->address),
		 json_is_true(json_object_get(state, "Running")) ?
		 json_string_value(json_object_get(ep, "IPAddress")) : "");

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
 * What the status records of the container: info (borrowed, may be NULL)
 * is the inspection from before this reconcile acted; when it acted
 * (changed), even if the action failed, the engine is asked again, since
 * what it says now is what the status shows.
 */
static void record_container(struct rec *x, struct pass *p, const json_t *info,
			     bool changed)
{
	json_t *now = NULL;
	char net[256];

	if (changed && engine_container_inspect(x->engine, p->ref.container, &now, NULL) == 0)
		info = now;
	else if (changed)
		info = NULL;
	if (ws_network_name(x->cfg->instance_id, p->ref.ns, net, sizeof(net)) < 0)
		net[0] = '\0';
	if (info)
		container_seen(info, net, &p->st.container);
	else if (changed)
		p->st.container.state[0] = p->st.container.id[0] =
			p->st.container.address[0] = '\0';
	json_decref(now);
}

/*
 * Limits changed and nothing else (the spec-hash matched): dockerd changes
 * them on the container as it runs (limits_in_place; ctrcfg.h).  Should
 * the engine refuse (a memory limit under what the container uses now,
 * say), the container is recreated with them instead.
 */
static int update_limits(struct rec *x, struct pass *p, const json_t *info,
			 struct observed *o, struct err *e)
{
	struct err uerr = { "" };
	char msg[ERR_MSG_MAX + 128];
	int r;

	if (!o->exists || x->podman != 0 || ctrcfg_limits_match(info, p->config))
		return 0;
	o->changed = true;
	r = engine_container_update(x->engine, p->ref.container, &p->res, &uerr);
	if (r == 0) {
		log_info("container limits updated in place", "workspace", p->ref.owner, NULL);
		events_record(x->events, p->ref.ns, p->ref.name, "Normal", "Updated",
			      "changed the container's CPU, memory and pids limits in "
			      "place (the container was not restarted)");
		return 0;
	}
	snprintf(msg, sizeof(msg), "the engine refused the new limits in place (%s); "
		 "recreating the container (home and work volumes are kept)", uerr.msg);
	log_warn("container update refused; recreating", "workspace", p->ref.owner,
		 "error", uerr.msg, NULL);
	events_record(x->events, p->ref.ns, p->ref.name, "Warning", "Recreating", msg);
	r = unroute(x, p, "recreating the container", e);
	if (r == 0)
		r = engine_container_remove(x->engine, p->ref.container, e);
	if (r < 0) {
		p->reason = p->reason ? p->reason : "ContainerRemoveFailed";
		return r;
	}
	*o = (struct observed){ .changed = true };
	return 0;
}

/* The run of the container that ended, from its inspection (borrowed).
 * Podman 4.3 never reports an OOM kill (State.OOMKilled stays false,
 * there is no "oom" event): there an exit by SIGKILL (137) that the
 * controller did not cause is taken for one (docs/security.md). */
static void exit_seen(const struct rec *x, const json_t *info, struct crashloop_exit *ex,
		      bool *inferred)
{
	const json_t *state = json_object_get(info, "State");

	ex->started = seconds(json_string_value(json_object_get(state, "StartedAt")));
	ex->finished = seconds(json_string_value(json_object_get(state, "FinishedAt")));
	ex->exit_code = (int)json_integer_value(json_object_get(state, "ExitCode"));
	ex->oom = json_is_true(json_object_get(state, "OOMKilled"));
	*inferred = !ex->oom && x->podman == 1 && ex->exit_code == 137;
	if (*inferred)
		ex->oom = true;
}

/* The restart record of status (the pacing's state) and back. */
static void restarts_load(const struct status_restarts *sr, struct crashloop_state *cs)
{
	cs->count = (long)sr->count;
	cs->streak = (long)sr->streak;
	cs->finished = seconds(sr->last_finished_at);
	cs->next = seconds(sr->next_restart_at);
}

static void restarts_store(const struct crashloop_state *cs, struct status_restarts *sr)
{
	sr->count = cs->count;
	sr->streak = cs->streak;
	if (timefmt_emit(cs->finished, sr->last_finished_at, sizeof(sr->last_finished_at)) < 0)
		sr->last_finished_at[0] = '\0';
	if (timefmt_emit(cs->next, sr->next_restart_at, sizeof(sr->next_restart_at)) < 0)
		sr->next_restart_at[0] = '\0';
}

/*
 * The container exited while the workspace should run: a crash, when the
 * status says it was running (phase Running) or a restart is pending; a
 * container that never ran ("created") or that the controller stopped is
 * not one.  The exit is counted once (crashloop.h), with an event and the
 * restart metric; the restart is made now or, while it waits, p->backoff
 * is set and the reconcile requeued for when it is due: the state lives in
 * status.restarts, so a restarted controller keeps the pace.
 */
static void crash_pace(struct rec *x, struct pass *p, const json_t *info)
{
	const struct crashloop_policy pol = { x->cfg->restart_backoff_base,
					      x->cfg->restart_backoff_max,
					      x->cfg->restart_backoff_reset };
	const char *state = json_string_value(json_object_get(json_object_get(info, "State"),
							      "Status"));
	struct status_restarts *sr = &p->st.restarts;
	struct crashloop_state cs;
	struct crashloop_exit ex;
	char why[160], msg[sizeof(p->crash_msg)];
	bool inferred;
	long wait_s;

	/* A run that ended has a finish time (Podman says "stopped" until
	 * its cleanup, "exited" after; dockerd "exited" or "dead"). */
	exit_seen(x, info, &ex, &inferred);
	if (ex.finished <= 0 || (state && strcmp(state, "paused") == 0) ||
	    (!status_is_phase(&p->st, STATUS_RUNNING) && !sr->next_restart_at[0]))
		return;
	restarts_load(sr, &cs);
	if (ex.oom)
		snprintf(why, sizeof(why), "the container was OOM-killed (exit code %d%s)",
			 ex.exit_code, inferred ? "; inferred: the engine does not report "
						  "OOM kills, and the controller did not kill it" : "");
	else
		snprintf(why, sizeof(why), "the container exited with exit code %d", ex.exit_code);
	if (crashloop_on_exit(&pol, &cs, &ex, time(NULL), &wait_s)) {
		restarts_store(&cs, sr);
		STATUS_SET(sr->last_reason, crashloop_reason(&ex));
		sr->last_exit_code = ex.exit_code;
		snprintf(msg, sizeof(msg), "%s; restart %ld, back-off %ld s", why, cs.count,
			 crashloop_delay(&pol, cs.streak - 1));
		log_warn("container exited; restarting with back-off", "workspace", p->ref.owner,
			 "reason", sr->last_reason, "message", msg, NULL);
		events_record(x->events, p->ref.ns, p->ref.name, "Warning", sr->last_reason, msg);
		metrics_container_restart(x->metrics, sr->last_reason);
	}
	if (wait_s <= 0)
		return;
	p->backoff = true;
	snprintf(p->crash_msg, sizeof(p->crash_msg), "%s; restart %ld at %s (CrashLoopBackOff)",
		 why, cs.count, sr->next_restart_at);
	/* Woken when the restart is due; the exit's own events woke this
	 * reconcile, nothing else polls. */
	requeue_within(p, wait_s * 1000 + 50);
}

/*
 * Converge the container to p->config: create it if missing, recreate it
 * when its configuration changed, start or stop it to match
 * p->want_running.  p->running gets the resulting state, the status what
 * the engine says of the container.
 */
static int ensure_container(struct rec *x, struct pass *p, struct err *e)
{
	struct observed o = { 0 };
	json_t *info = NULL;
	int r = observe_container(x, p, &info, &o, e);

	if (r < 0) {
		json_decref(info);
		return r;
	}
	r = remove_changed(x, p, info, &o, e);
	if (r == 0)
		r = update_limits(x, p, info, &o, e);
	if (r == 0 && p->want_running && o.exists && !o.running)
		crash_pace(x, p, info);
	/* The mount policy, once more on the exact configuration the engine
	 * gets, right before it mounts anything: at a creation, and at a
	 * start too, since the engine resolves bind sources again then. */
	if (r == 0 && (!o.exists || (p->want_running && !o.running && !p->backoff))) {
		r = mount_check_config(x->cfg, x->engine, p->config, e);
		if (r < 0)
			p->reason = "MountRefused";
	}
	if (r == 0 && !o.exists)
		r = create_container(x, p, &o, e);
	if (r == 0)
		r = run_container(x, p, &o, e);
	if (r == 0)
		p->running = o.running;
	record_container(x, p, info, o.changed);
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

/* The home and work volumes go (reclaimPolicy Delete) or are marked as
 * retained (Retain), unless there is no status to say which. */
static int reclaim_volumes(struct rec *x, const struct wsref *ref, const char *policy,
			   struct err *e)
{
	int r;

	if (policy && strcmp(policy, "Retain") == 0)
		return retain_mark(x, ref, true, e);
	r = engine_volume_remove(x->engine, ref->home_vol, e);
	if (r == 0)
		r = engine_volume_remove(x->engine, ref->work_vol, e);
	if (r == 0)
		r = retain_mark(x, ref, false, e);
	return r;
}

/*
 * The last act of a teardown, one transaction: the status key (the
 * finalizer, compared with status_rev), the activity key and the
 * placement go together, so a placement never outlives its workspace's
 * teardown.  The activity key's writers (proxy-gen, klangkc) write it
 * only while the status or spec exists.
 */
static int delete_finalizer(struct rec *x, const struct wsref *ref, int64_t status_rev,
			    struct err *e)
{
	json_t *cmp = json_array(), *ops = json_array();
	char pkey[256], akey[512];
	bool ok = false;
	int r;

	if (!cmp || !ops || place_key(ref->owner, pkey, sizeof(pkey)) < 0 ||
	    keys_of_owner(KEYS_ACTIVITY, ref->owner, akey, sizeof(akey)) < 0) {
		json_decref(cmp);
		json_decref(ops);
		return -ENOMEM;
	}
	if (status_rev) {
		json_array_append_new(cmp, etcd_cmp_mod(ref->status_key, status_rev));
		json_array_append_new(ops, etcd_op_delete(ref->status_key));
		json_array_append_new(ops, etcd_op_delete(akey));
	} else {
		json_array_append_new(cmp, etcd_cmp_value(pkey, ref->node));
	}
	if (ref->node[0])
		json_array_append_new(ops, etcd_op_delete(pkey));
	r = etcd_txn(x->etcd, cmp, ops, NULL, &ok, NULL, e);
	if (r == 0 && !ok && status_rev) {
		err_set(e, "status of %s changed during teardown; retrying", ref->owner);
		r = -EAGAIN;
	}
	return r;
}

/*
 * The spec is gone: Terminating first (proxy-gen drops the routes before
 * the container goes away), then the container, the volumes, the port
 * leases, and last the finalizer.
 */
static int teardown(struct rec *x, const struct wsref *ref, struct status *st,
		    const struct etcd_kv *cur, int64_t status_rev, struct err *e)
{
	const char *policy = st->reclaim_policy[0] ? st->reclaim_policy : NULL;
	int released = 0, r = 0;

	if (status_rev) {
		STATUS_SET(st->phase, STATUS_TERMINATING);
		set_condition(st, "Ready", "False", "Deleting",
			      "the workspace is being deleted", st->observed_generation);
		r = write_status(x, ref, st, cur, &status_rev, e);
	}
	if (r >= 0)
		r = engine_container_remove(x->engine, ref->container, e);
	if (r == 0 && status_rev)
		r = reclaim_volumes(x, ref, policy, e);
	if (r == 0)
		r = ports_release_all(x->etcd, ref->lease_prefix, ref->owner, &released, e);
	if (r < 0 || (!status_rev && !ref->node[0]))
		return r;
	r = delete_finalizer(x, ref, status_rev, e);
	if (r == 0 && status_rev)
		log_info("workspace deleted", "workspace", ref->owner, "reclaimPolicy",
			 policy ? policy : "Delete", NULL);
	return r;
}

/* ---- the steps ---- */

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

	const struct cfg *c = x->cfg;

	for (int i = 0; i < n && i < STATUS_MAX_PORTS; i++) {
		int r = hosting_app_url(c->hosting_proto, c->hosting_hostname,
					c->hosting_base_path, c->hosting_domain, id,
					ports[i], urls[i], sizeof(urls[i]));

		if (r < 0)
			return r;
		u[i] = urls[i];
	}
	return status_set_ports(st, WS_CONTAINER_PORT_BASE, ports, u, (size_t)n);
}

/* Write p->st if it changed (write_status); 1 when it wrote. */
static int pass_write_status(struct rec *x, struct pass *p, struct err *e)
{
	return write_status(x, &p->ref, &p->st, p->stkv.key ? &p->stkv : NULL,
			    &p->status_rev, e);
}

/* The names and keys of the workspace ns/name (borrowed). */
static int pass_init(struct rec *x, struct pass *p, const char *ns, const char *name)
{
	struct wsref *ref = &p->ref;
	const char *inst = x->cfg->instance_id;

	ref->ns = ns;
	ref->name = name;
	p->reason = NULL;
	status_init(&p->st);
	if ((size_t)snprintf(ref->owner, sizeof(ref->owner), "%s/%s", ns, name) >=
		    sizeof(ref->owner) ||
	    keys_ws(KEYS_SPEC, ns, name, ref->spec_key, sizeof(ref->spec_key)) < 0 ||
	    keys_ws(KEYS_STATUS, ns, name, ref->status_key, sizeof(ref->status_key)) < 0 ||
	    keys_ws(KEYS_ACTIVITY, ns, name, ref->activity_key, sizeof(ref->activity_key)) < 0 ||
	    place_key(ref->owner, ref->place_key, sizeof(ref->place_key)) < 0 ||
	    ws_container_name(inst, ns, name, ref->container, sizeof(ref->container)) < 0 ||
	    ws_volume_name(inst, ns, name, "home", ref->home_vol, sizeof(ref->home_vol)) < 0 ||
	    ws_volume_name(inst, ns, name, "work", ref->work_vol, sizeof(ref->work_vol)) < 0 ||
	    ports_prefix(x->cfg->node_name, ref->lease_prefix, sizeof(ref->lease_prefix)) < 0)
		return -ENAMETOOLONG;
	return 0;
}

static void pass_clear(struct pass *p)
{
	json_decref(p->config);
	status_clear(&p->st);
	ws_free(p->w);
	etcd_kv_clear(&p->spec);
	etcd_kv_clear(&p->stkv);
	etcd_kv_clear(&p->place);
	etcd_kv_clear(&p->activity);
}

/*
 * read: the spec, the status, the placement and the activity, in one etcd
 * transaction (so at one revision).  A status that does not parse is
 * rebuilt: it is ours alone.
 */
static int step_read(struct rec *x, struct pass *p, struct err *e)
{
	const char *keys[] = { p->ref.spec_key, p->ref.status_key, p->ref.place_key,
			       p->ref.activity_key };
	struct etcd_kv kv[4] = { { 0 } };
	int r = etcd_get_many(x->etcd, keys, 4, kv, e);

	if (r < 0)
		return r;
	p->spec = kv[0];
	p->stkv = kv[1];
	p->place = kv[2];
	p->activity = kv[3];
	if (!p->stkv.key)
		return STEP_NEXT;
	p->status_rev = p->stkv.mod_revision;
	r = status_parse(p->stkv.value, p->stkv.value_len, &p->st, NULL);
	return r == -ENOMEM ? r : STEP_NEXT;
}

/* ours: with several nodes, another node's workspace is not ours to touch
 * (ref.node gets its placement, "" when not placed yet). */
static int step_ours(struct rec *x, struct pass *p, struct err *e)
{
	int r;

	if (!x->cfg->node_name[0] || !p->place.key)
		return STEP_NEXT;
	r = place_parse(&p->place, p->ref.node, e);
	if (r < 0)
		return r;
	return strcmp(p->ref.node, x->cfg->node_name) == 0 ? STEP_NEXT : STEP_DONE;
}

/* teardown: the spec is gone; the status key is the finalizer. */
static int step_teardown(struct rec *x, struct pass *p, struct err *e)
{
	int r;

	if (p->spec.key)
		return STEP_NEXT;
	r = teardown(x, &p->ref, &p->st, p->stkv.key ? &p->stkv : NULL, p->status_rev, e);
	return r < 0 ? r : STEP_DONE;
}

/*
 * A spec the controller refuses (invalid, or asking over a cap): Stalled
 * with reason and msg (copied), Failed unless it had a phase, an event
 * when the status changed; nothing else is touched.  STEP_DONE.
 */
static int refuse_spec(struct rec *x, struct pass *p, const char *reason,
		       const char *msg, struct err *e)
{
	char why[ERR_MSG_MAX];
	int r;

	snprintf(why, sizeof(why), "%s", msg);
	log_warn("spec refused", "workspace", p->ref.owner, "reason", reason,
		 "error", why, NULL);
	if (!p->st.phase[0])
		STATUS_SET(p->st.phase, STATUS_FAILED);
	status_set_generation(&p->st, p->gen);
	conditions_stalled(&p->st, p->gen, reason, why);
	r = pass_write_status(x, p, e);
	if (r == 1)
		events_record(x->events, p->ref.ns, p->ref.name, "Warning", reason, why);
	return r < 0 ? r : STEP_DONE;
}

/* status.ports[i].access from spec.hostedApps: proxy-gen reads only the
 * status. */
static void mark_members_ports(struct pass *p)
{
	for (size_t i = 0; i < p->st.n_ports; i++)
		p->st.ports[i].members =
			ws_port_access(p->w, p->st.ports[i].container) == WS_ACCESS_MEMBERS;
}

/*
 * Members-only apps need origin mode (docs/proxy-gen.md): in path mode
 * every app shares one origin, where no cookie can be scoped to one app.
 * Asked for without it, the workspace is Stalled and its status marks the
 * ports members-only anyway, so that proxy-gen, which never routes such a
 * port in path mode, stops serving a port that was public before (fail
 * closed); nothing else is touched.  STEP_NEXT when there is nothing to
 * refuse.
 */
static int refuse_members_without_origin(struct rec *x, struct pass *p, struct err *e)
{
	char msg[256];

	if (x->cfg->hosting_domain[0] || !ws_has_members_apps(p->w))
		return STEP_NEXT;
	for (int i = 0; i < p->w->hosted_ports; i++)
		if (p->w->hosted_access[i] == WS_ACCESS_MEMBERS) {
			snprintf(msg, sizeof(msg), "spec.hostedApps: port %d has access "
				 "members, which needs origin mode (KLANGK_HOSTING_DOMAIN is "
				 "not set); the port is not routed", WS_CONTAINER_PORT_BASE + i);
			break;
		}
	mark_members_ports(p);
	return refuse_spec(x, p, "OriginModeRequired", msg, e);
}

/* validate: an invalid object is reported (Stalled) and left alone. */
static int step_validate(struct rec *x, struct pass *p, struct err *e)
{
	int r;

	p->gen = p->spec.version;
	r = parse_desired(&p->ref, &p->spec, &p->w, p->restarted, sizeof(p->restarted), e);
	if (r == 0)
		return refuse_members_without_origin(x, p, e);
	if (r == -ENOMEM)
		return r;
	return refuse_spec(x, p, "InvalidSpec", e->msg, e);
}

/*
 * place: with several nodes, place the workspace unless placed (once,
 * never moved); then only its node goes on.  A spec.nodeName that asks
 * for another node than the one it is on is reported as Stalled and
 * nothing is touched: moving it would leave its home behind on the old
 * node's engine.
 */
static int step_place(struct rec *x, struct pass *p, struct err *e)
{
	struct wsref *ref = &p->ref;
	const char *wanted = p->w->node_name ? p->w->node_name : "";
	char msg[512];
	int r;

	if (!x->cfg->node_name[0])
		return STEP_NEXT;
	/* A status with an id and no node was written by a controller
	 * without a node name: this node adopts the workspace (docs/
	 * operations.md), and its leases move under the node's prefix. */
	p->adopted = p->st.id[0] && !p->st.node_name[0];
	if (!ref->node[0]) {
		r = place_ensure(x->etcd, ref->owner, wanted, ref->node, e);
		if (r < 0) {
			p->reason = r == -ENOSPC ? "Unschedulable" : "PlacementFailed";
			return r;
		}
	}
	if (strcmp(ref->node, x->cfg->node_name) != 0)
		return STEP_DONE;
	STATUS_SET(p->st.node_name, ref->node);
	if (!*wanted || strcmp(wanted, ref->node) == 0)
		return STEP_NEXT;
	snprintf(msg, sizeof(msg), "spec.nodeName is \"%s\" but the workspace "
		 "lives on node \"%s\" and is not moved (its home volume is "
		 "there): set spec.nodeName back, or delete the workspace "
		 "and create it anew", wanted, ref->node);
	status_set_generation(&p->st, p->gen);
	conditions_stalled(&p->st, p->gen, "NodeNameMismatch", msg);
	r = pass_write_status(x, p, e);
	if (r == 1)
		events_record(x->events, ref->ns, ref->name, "Warning", "NodeNameMismatch", msg);
	return r < 0 ? r : STEP_DONE;
}

/*
 * resources: spec.resources over the operator's defaults and caps
 * (cfg_resolve_resources).  A value over a cap is the spec's to fix, as
 * an invalid spec is: Stalled with every refused field in the message,
 * and nothing touched (a running container keeps its limits).
 */
static int step_resources(struct rec *x, struct pass *p, struct err *e)
{
	int r = cfg_resolve_resources(x->cfg, &p->w->resources, &p->res, e);

	return r == 0 ? STEP_NEXT : refuse_spec(x, p, "ResourcesRefused", e->msg, e);
}

/* mounts: bind sources resolved on this host and checked against the
 * mount policy (lib/mountpolicy.h); the container gets the resolved
 * paths, so what the engine mounts is what was checked. */
static int step_mounts(struct rec *x, struct pass *p, struct err *e)
{
	int r = mount_apply_ws(x->cfg, x->engine, p->w, e);

	if (r < 0)
		p->reason = r == -EPERM || r == -ENOENT ? "MountRefused" : "MountCheckFailed";
	return r;
}

/* The port leases: the ones status says we hold are the hint.  An adopted
 * workspace's leases move from the node-less prefix to this node's. */
static int lease_ports(struct rec *x, struct pass *p, struct err *e)
{
	long hint[PORTS_MAX];
	int n_hint = 0, r;

	for (size_t i = 0; i < p->st.n_ports && n_hint < PORTS_MAX; i++)
		hint[n_hint++] = p->st.ports[i].host;
	r = ports_ensure(x->etcd, p->ref.lease_prefix, p->ref.owner, p->w->hosted_ports,
			 x->cfg->port_range_start, x->cfg->port_range_end, hint, n_hint,
			 p->ports, e);
	if (r < 0) {
		p->reason = r == -ENOSPC ? "NoFreePorts" : "PortLeaseFailed";
		return r;
	}
	if (p->adopted) {
		r = ports_release_all(x->etcd, KEYS_LEASE_PREFIX, p->ref.owner, NULL, e);
		if (r < 0)
			p->reason = "PortLeaseFailed";
	}
	return r;
}

/*
 * identity: the id and the port leases.  A new id is only drawn here and
 * written with the ports before anything outside this reconcile uses it
 * (the leases are keyed by the workspace's name, not its id, so a crash
 * before that write just draws another).  A workspace being created is
 * written as Pending with its id, ports and URLs before its volumes and
 * container (and a Pending one again when its ports change): proxy-gen
 * routes Pending workspaces (docs/proxy-gen.md), so the route is in nginx
 * by the time the container starts instead of one reload after it.
 */
static int step_identity(struct rec *x, struct pass *p, struct err *e)
{
	struct status_port before[STATUS_MAX_PORTS];
	size_t n_before = p->st.n_ports;
	bool fresh_id = false, ports_changed;
	int r;

	if (ws_is_id(p->st.id)) {
		snprintf(p->id, sizeof(p->id), "%s", p->st.id);
	} else {
		r = new_id(p->id);
		if (r < 0)
			return r;
		fresh_id = true;
	}
	STATUS_SET(p->st.reclaim_policy, p->w->reclaim_policy);
	/* How proxy-gen reaches the ports (status.h): known before the first
	 * write, so a Pending workspace of mode none is never routed to its
	 * unbound host ports. */
	p->st.unpublished = x->cfg->publish_none;
	r = lease_ports(x, p, e);
	if (r < 0)
		return r;
	memcpy(before, p->st.ports, sizeof(before));
	r = set_ports_urls(x, &p->st, p->id, p->ports, p->w->hosted_ports);
	if (r < 0)
		return r;
	mark_members_ports(p);
	ports_changed = n_before != p->st.n_ports ||
			memcmp(before, p->st.ports, n_before * sizeof(before[0])) != 0;
	if (fresh_id) {
		STATUS_SET(p->st.id, p->id);
		STATUS_SET(p->st.phase, STATUS_PENDING);
	}
	if (!fresh_id && !(ports_changed && status_is_phase(&p->st, STATUS_PENDING)))
		return STEP_NEXT;
	status_set_generation(&p->st, p->gen);
	conditions_progressing(&p->st, p->gen, "Creating", "creating volumes and the container");
	r = pass_write_status(x, p, e);
	if (r < 0)
		return r;
	if (fresh_id)
		log_info("workspace id assigned", "workspace", p->ref.owner, "id", p->id, NULL);
	return STEP_NEXT;
}

/* volumes: home, work, and the spec's named volumes. */
static int step_volumes(struct rec *x, struct pass *p, struct err *e)
{
	int r = ensure_volume(x, &p->ref, p->ref.home_vol, true, e);

	if (r == 0)
		r = ensure_volume(x, &p->ref, p->ref.work_vol, true, e);
	for (size_t i = 0; r == 0 && i < p->w->n_mounts; i++)
		if (!p->w->mounts[i].bind)
			r = ensure_volume(x, &p->ref, p->w->mounts[i].source, false, e);
	if (r < 0)
		p->reason = r == -EPERM ? "VolumeNotOwned" : "VolumeFailed";
	return r;
}

/* KLANGK_PUBLISH=none needs the containers' addresses in the host's
 * reach, which a rootless engine's are not (they live in its own network
 * namespace): refused there, once per worker, with the way out. */
static int check_publish(struct rec *x, struct pass *p, struct err *e)
{
	bool rootless = false;
	int r = engine_is_rootless(x->engine, &rootless, e);

	if (r < 0) {
		p->reason = "EngineUnavailable";
		return r;
	}
	if (rootless) {
		err_set(e, "KLANGK_PUBLISH=none needs a rootful engine: a rootless "
			   "engine's container addresses are out of nginx's reach; "
			   "set KLANGK_PUBLISH=host");
		p->reason = "PublishUnsupported";
		return -EOPNOTSUPP;
	}
	x->publish_checked = true;
	return 0;
}

/* Which engine serves the socket (asked once per worker): the two differ
 * in limit updates and OOM reports. */
static int engine_kind(struct rec *x, struct pass *p, struct err *e)
{
	bool podman = false;
	int r;

	if (x->podman < 0) {
		r = engine_is_podman(x->engine, &podman, e);
		if (r < 0) {
			p->reason = "EngineUnavailable";
			return r;
		}
		x->podman = podman;
	}
	return x->cfg->publish_none && !x->publish_checked ? check_publish(x, p, e) : 0;
}

/* network: the tenant's network (tnet.h), and the egress table letting
 * its bridge's own traffic through, both before a container is made or
 * started on it. */
static int step_network(struct rec *x, struct pass *p, struct err *e)
{
	char bridge[TNET_BRIDGE_MAX];
	int r = tnet_ensure(x->engine, x->cfg, p->ref.ns, bridge, e);

	if (r == 0 && x->egress && x->cfg->iso.egress_firewall)
		r = egress_allow(x->egress, &x->cfg->iso, bridge, e);
	if (r < 0)
		p->reason = r == -EPERM ? "NetworkNotOwned" : "NetworkFailed";
	return r;
}

/* container: the configuration we want (ctrcfg.h), the run state the idle
 * timeout leaves (idle_decide), and the engine made to match. */
static int step_container(struct rec *x, struct pass *p, struct err *e)
{
	bool was_running = status_is_phase(&p->st, STATUS_RUNNING);
	int r = engine_kind(x, p, e);
	const struct ctrcfg_in in = { .cfg = x->cfg, .ws = p->w, .id = p->id,
				      .ports = p->ports, .restarted = p->restarted,
				      .res = &p->res, .limits_in_place = x->podman == 0 };

	if (r == 0)
		r = ctrcfg_build(&in, &p->config, p->hash);
	if (r < 0)
		return r;
	idle_decide(x, p);
	r = ensure_container(x, p, e);
	if (r == 0 && p->running && !was_running)
		/* A start counts as activity. */
		timefmt_now(p->st.last_activity, sizeof(p->st.last_activity));
	return r;
}

/* The limits the container got, as quantities (klangkc shows them). */
static void record_resources(const struct engine_resources *res,
			     struct status_resources *out)
{
	if (quantity_format(res->nano_cpus, QUANTITY_SCALE_NANO, out->cpu,
			    sizeof(out->cpu)) < 0 ||
	    quantity_format(res->memory, 0, out->memory, sizeof(out->memory)) < 0)
		out->cpu[0] = out->memory[0] = '\0';
	out->pids = res->pids_limit;
}

/* status: phase, generation and conditions of what the engine now runs. */
static int step_status(struct rec *x, struct pass *p, struct err *e)
{
	struct status *st = &p->st;
	int r;

	STATUS_SET(st->phase, p->running ? STATUS_RUNNING : STATUS_STOPPED);
	status_set_generation(st, p->gen);
	STATUS_SET(st->container.name, p->ref.container);
	/* Lets resync tell, from one container listing, that the container
	 * still is the one this status describes. */
	STATUS_SET(st->spec_hash, p->hash);
	record_resources(&p->res, &st->resources);
	if (!p->backoff)
		st->restarts.next_restart_at[0] = '\0';
	if (p->backoff) {
		/* Waiting to restart a crashed container: still meant to run
		 * (phase Running, as a pod in CrashLoopBackOff); Ready says
		 * why it is not, Reconciling that a restart is coming. */
		STATUS_SET(st->phase, STATUS_RUNNING);
		set_condition(st, "Ready", "False", st->restarts.last_reason, p->crash_msg, p->gen);
		set_condition(st, "Reconciling", "True", "CrashLoopBackOff", p->crash_msg, p->gen);
		set_condition(st, "Stalled", "False", "CrashLoopBackOff", "", p->gen);
	} else if (p->running)
		conditions_ready(st, p->gen, "ContainerRunning", "the container is running");
	else if (p->w->running)
		conditions_idle(st, p->gen);
	else
		conditions_ready(st, p->gen, "Stopped",
				 "the workspace is stopped (spec.running is false)");
	r = pass_write_status(x, p, e);
	return r < 0 ? r : STEP_DONE;
}

/*
 * A step failed with a reason: report it (log, event, status), then let
 * the caller retry with backoff.  A refused volume or mount cannot fix
 * itself, so it is Stalled rather than Reconciling.
 */
static void report_failure(struct rec *x, struct pass *p, int r, const struct err *e)
{
	struct err werr = { "" };

	log_warn("reconcile failed", "workspace", p->ref.owner, "reason", p->reason,
		 "error", e->msg, NULL);
	events_record(x->events, p->ref.ns, p->ref.name, "Warning", p->reason, e->msg);
	if (!p->st.phase[0])
		STATUS_SET(p->st.phase, STATUS_PENDING);
	status_set_generation(&p->st, p->gen);
	if (r == -EPERM || strcmp(p->reason, "MountRefused") == 0)
		conditions_stalled(&p->st, p->gen, p->reason, e->msg);
	else
		conditions_progressing(&p->st, p->gen, p->reason, e->msg);
	pass_write_status(x, p, &werr);
}

typedef int (*step_fn)(struct rec *x, struct pass *p, struct err *e);

/* The pipeline.  Each step returns STEP_NEXT, STEP_DONE (converged, or
 * nothing to do until something changes) or a negative errno; one that
 * sets p->reason before failing is reported in the status. */
static const step_fn steps[] = {
	step_read,      /* spec, status, placement, activity: one transaction */
	step_ours,      /* another node's workspace: done */
	step_teardown,  /* no spec: tear down, done */
	step_validate,  /* invalid: Stalled, done */
	step_place,     /* several nodes: place it */
	step_resources, /* limits over a cap: Stalled, done */
	step_mounts,    /* resolve and check bind mounts */
	step_identity,  /* assign the id, lease ports, Pending */
	step_volumes,
	step_network,   /* the tenant's network, the egress table */
	step_container, /* configuration, idle timeout, engine */
	step_status,    /* status, conditions */
};

int rec_reconcile(struct rec *x, const char *ns, const char *name,
		  long *requeue_ms, struct err *e)
{
	struct pass p = { 0 };
	int r = pass_init(x, &p, ns, name);

	for (size_t i = 0; r == STEP_NEXT && i < sizeof(steps) / sizeof(steps[0]); i++)
		r = steps[i](x, &p, e);
	if (r < 0 && p.reason)
		report_failure(x, &p, r, e);
	if (r >= 0)
		*requeue_ms = p.requeue_ms;
	pass_clear(&p);
	return r < 0 ? r : 0;
}
