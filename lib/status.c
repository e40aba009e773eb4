/* status — the Workspace status object (see status.h). */
#include "status.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The field names, here and nowhere else. */
#define F_ID "id"
#define F_PHASE "phase"
#define F_GENERATION "observedGeneration"
#define F_NODE "nodeName"
#define F_RECLAIM "reclaimPolicy"
#define F_PUBLISH "publish"
#define V_PUBLISH_NONE "none"
#define F_PORTS "ports"
#define F_PORT_CONTAINER "container"
#define F_PORT_HOST "host"
#define F_PORT_ACCESS "access"
#define ACCESS_MEMBERS "members"
#define F_URLS "urls"
#define F_ACTIVITY "lastActivity"
#define F_IDLE "idleSince"
#define F_CONTAINER "container"
#define F_C_NAME "name"
#define F_C_ID "id"
#define F_C_IMAGE "image"
#define F_C_STATE "state"
#define F_C_EXIT "exitCode"
#define F_C_OOM "oomKilled"
#define F_C_STARTED "startedAt"
#define F_C_FINISHED "finishedAt"
#define F_C_NETWORK "network"
#define F_C_ADDRESS "address"
#define F_RESOURCES "resources"
#define F_R_CPU "cpu"
#define F_R_MEMORY "memory"
#define F_R_PIDS "pids"
#define F_RESTARTS "restarts"
#define F_X_COUNT "count"
#define F_X_STREAK "streak"
#define F_X_REASON "lastReason"
#define F_X_EXIT "lastExitCode"
#define F_X_FINISHED "lastFinishedAt"
#define F_X_NEXT "nextRestartAt"
#define F_HASH "specHash"
#define F_CONDITIONS "conditions"
#define F_K_TYPE "type"
#define F_K_STATUS "status"
#define F_K_REASON "reason"
#define F_K_MESSAGE "message"
#define F_K_GENERATION "observedGeneration"
#define F_K_TRANSITION "lastTransitionTime"

void status_init(struct status *s)
{
	memset(s, 0, sizeof(*s));
}

void status_clear(struct status *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_conditions; i++)
		free(s->conditions[i].message);
	status_init(s);
}

int status_set_str(char *field, size_t size, const char *src)
{
	size_t n = src ? strlen(src) : 0;

	if (n >= size)
		return -ENAMETOOLONG;
	memcpy(field, src ? src : "", n);
	field[n] = '\0';
	return 0;
}

/* ---- parse ---- */

/* A string member into a field; left empty when absent, not a string or
 * too long. */
static void get_str(const json_t *o, const char *k, char *field, size_t size)
{
	if (status_set_str(field, size, json_string_value(json_object_get(o, k))) < 0)
		field[0] = '\0';
}

static void get_container(const json_t *c, struct status_container *out)
{
	/* A status written before the container was an object named it. */
	if (json_is_string(c)) {
		if (STATUS_SET(out->name, json_string_value(c)) < 0)
			out->name[0] = '\0';
		return;
	}
	get_str(c, F_C_NAME, out->name, sizeof(out->name));
	get_str(c, F_C_ID, out->id, sizeof(out->id));
	get_str(c, F_C_IMAGE, out->image, sizeof(out->image));
	get_str(c, F_C_STATE, out->state, sizeof(out->state));
	out->exit_code = (int)json_integer_value(json_object_get(c, F_C_EXIT));
	out->oom_killed = json_is_true(json_object_get(c, F_C_OOM));
	get_str(c, F_C_STARTED, out->started_at, sizeof(out->started_at));
	get_str(c, F_C_FINISHED, out->finished_at, sizeof(out->finished_at));
	get_str(c, F_C_NETWORK, out->network, sizeof(out->network));
	get_str(c, F_C_ADDRESS, out->address, sizeof(out->address));
}

static void get_resources(const json_t *r, struct status_resources *out)
{
	get_str(r, F_R_CPU, out->cpu, sizeof(out->cpu));
	get_str(r, F_R_MEMORY, out->memory, sizeof(out->memory));
	out->pids = (int64_t)json_integer_value(json_object_get(r, F_R_PIDS));
}

static void get_restarts(const json_t *x, struct status_restarts *out)
{
	out->count = (int64_t)json_integer_value(json_object_get(x, F_X_COUNT));
	out->streak = (int64_t)json_integer_value(json_object_get(x, F_X_STREAK));
	get_str(x, F_X_REASON, out->last_reason, sizeof(out->last_reason));
	out->last_exit_code = (int)json_integer_value(json_object_get(x, F_X_EXIT));
	get_str(x, F_X_FINISHED, out->last_finished_at, sizeof(out->last_finished_at));
	get_str(x, F_X_NEXT, out->next_restart_at, sizeof(out->next_restart_at));
}

static int get_conditions(const json_t *conds, struct status *s)
{
	const json_t *c;
	size_t i;

	json_array_foreach(conds, i, c) {
		struct status_condition *k = &s->conditions[s->n_conditions];
		const char *msg = json_string_value(json_object_get(c, F_K_MESSAGE));

		if (s->n_conditions == STATUS_MAX_CONDITIONS) {
			s->n_invalid++;
			continue;
		}
		get_str(c, F_K_TYPE, k->type, sizeof(k->type));
		if (!k->type[0]) {
			s->n_invalid++;
			continue;
		}
		get_str(c, F_K_STATUS, k->status, sizeof(k->status));
		get_str(c, F_K_REASON, k->reason, sizeof(k->reason));
		get_str(c, F_K_TRANSITION, k->last_transition, sizeof(k->last_transition));
		k->observed_generation = json_integer_value(json_object_get(c, F_K_GENERATION));
		if (msg && *msg && strlen(msg) < STATUS_MESSAGE_MAX && !(k->message = strdup(msg)))
			return -ENOMEM;
		s->n_conditions++;
	}
	return 0;
}

int status_from_json(const json_t *j, struct status *out)
{
	const json_t *p, *g = json_object_get(j, F_GENERATION);
	size_t i;
	int r;

	status_init(out);
	if (!json_is_object(j))
		return -EINVAL;
	get_str(j, F_ID, out->id, sizeof(out->id));
	get_str(j, F_PHASE, out->phase, sizeof(out->phase));
	out->has_generation = json_is_integer(g);
	out->observed_generation = json_integer_value(g);
	get_str(j, F_NODE, out->node_name, sizeof(out->node_name));
	get_str(j, F_RECLAIM, out->reclaim_policy, sizeof(out->reclaim_policy));
	out->unpublished = json_is_string(json_object_get(j, F_PUBLISH)) &&
			   strcmp(json_string_value(json_object_get(j, F_PUBLISH)),
				  V_PUBLISH_NONE) == 0;
	json_array_foreach(json_object_get(j, F_PORTS), i, p) {
		const json_t *h = json_object_get(p, F_PORT_HOST);

		if (out->n_ports == STATUS_MAX_PORTS || !json_is_integer(h)) {
			out->n_invalid++;
			continue;
		}
		out->ports[out->n_ports].container =
			(long)json_integer_value(json_object_get(p, F_PORT_CONTAINER));
		/* Anything but "members" reads as public: proxy-gen then routes
		 * it as such, but only in origin mode does "members" mean more
		 * than public, and there it must be exactly this word. */
		out->ports[out->n_ports].members = json_is_string(json_object_get(p, F_PORT_ACCESS)) &&
			strcmp(json_string_value(json_object_get(p, F_PORT_ACCESS)),
			       ACCESS_MEMBERS) == 0;
		out->ports[out->n_ports++].host = (long)json_integer_value(h);
	}
	json_array_foreach(json_object_get(j, F_URLS), i, p) {
		if (out->n_urls < STATUS_MAX_PORTS && json_is_string(p) &&
		    status_set_str(out->urls[out->n_urls], STATUS_URL_MAX,
				   json_string_value(p)) == 0)
			out->n_urls++;
		else
			out->n_invalid++;
	}
	get_str(j, F_ACTIVITY, out->last_activity, sizeof(out->last_activity));
	get_str(j, F_IDLE, out->idle_since, sizeof(out->idle_since));
	get_container(json_object_get(j, F_CONTAINER), &out->container);
	get_resources(json_object_get(j, F_RESOURCES), &out->resources);
	get_restarts(json_object_get(j, F_RESTARTS), &out->restarts);
	get_str(j, F_HASH, out->spec_hash, sizeof(out->spec_hash));
	r = get_conditions(json_object_get(j, F_CONDITIONS), out);
	if (r < 0)
		status_clear(out);
	return r;
}

int status_parse(const char *data, size_t len, struct status *out, struct err *e)
{
	json_error_t jerr;
	json_t *j = json_loadb(data ? data : "", data ? len : 0, 0, &jerr);
	int r;

	if (!json_is_object(j)) {
		err_set(e, "status is not a JSON object%s%s", j ? "" : ": ", j ? "" : jerr.text);
		json_decref(j);
		status_init(out);
		return -EINVAL;
	}
	r = status_from_json(j, out);
	json_decref(j);
	return r;
}

/* ---- emit ---- */

/* Set k to a new value v (stolen); a NULL v (out of memory) fails. */
static int put(json_t *o, const char *k, json_t *v)
{
	return v && json_object_set_new(o, k, v) == 0 ? 0 : -ENOMEM;
}

static int put_str(json_t *o, const char *k, const char *v)
{
	return *v ? put(o, k, json_string(v)) : 0;
}

static json_t *container_json(const struct status_container *c)
{
	json_t *o = json_object();
	int r;

	if (!o)
		return NULL;
	r = put_str(o, F_C_NAME, c->name);
	if (r == 0)
		r = put_str(o, F_C_ID, c->id);
	if (r == 0)
		r = put_str(o, F_C_IMAGE, c->image);
	if (r == 0 && c->state[0]) {
		r = put_str(o, F_C_STATE, c->state);
		if (r == 0)
			r = put(o, F_C_EXIT, json_integer(c->exit_code));
		if (r == 0)
			r = put(o, F_C_OOM, json_boolean(c->oom_killed));
	}
	if (r == 0)
		r = put_str(o, F_C_STARTED, c->started_at);
	if (r == 0)
		r = put_str(o, F_C_FINISHED, c->finished_at);
	if (r == 0)
		r = put_str(o, F_C_NETWORK, c->network);
	if (r == 0)
		r = put_str(o, F_C_ADDRESS, c->address);
	if (r < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *resources_json(const struct status_resources *r)
{
	return json_pack("{s:s,s:s,s:I}", F_R_CPU, r->cpu, F_R_MEMORY, r->memory, F_R_PIDS,
			 (json_int_t)r->pids);
}

static json_t *restarts_json(const struct status_restarts *x)
{
	json_t *o = json_pack("{s:I,s:I,s:s,s:i}", F_X_COUNT, (json_int_t)x->count,
			      F_X_STREAK, (json_int_t)x->streak, F_X_REASON, x->last_reason,
			      F_X_EXIT, x->last_exit_code);

	if (o && (put_str(o, F_X_FINISHED, x->last_finished_at) < 0 ||
		  put_str(o, F_X_NEXT, x->next_restart_at) < 0)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *condition_json(const struct status_condition *k)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:I,s:s}", F_K_TYPE, k->type, F_K_STATUS, k->status,
			 F_K_REASON, k->reason, F_K_MESSAGE, k->message ? k->message : "",
			 F_K_GENERATION, (json_int_t)k->observed_generation, F_K_TRANSITION,
			 k->last_transition);
}

static int put_ports(json_t *o, const struct status *s)
{
	json_t *ports, *urls;
	int r = 0;

	if (s->n_ports) {
		if ((r = put(o, F_PORTS, ports = json_array())) < 0)
			return r;
		for (size_t i = 0; r == 0 && i < s->n_ports; i++) {
			json_t *p = json_pack("{s:I,s:I}", F_PORT_CONTAINER,
					      (json_int_t)s->ports[i].container, F_PORT_HOST,
					      (json_int_t)s->ports[i].host);

			if (p && s->ports[i].members &&
			    json_object_set_new(p, F_PORT_ACCESS, json_string(ACCESS_MEMBERS)) < 0) {
				json_decref(p);
				p = NULL;
			}
			if (json_array_append_new(ports, p) < 0)
				r = -ENOMEM;
		}
	}
	if (r == 0 && s->n_urls) {
		if ((r = put(o, F_URLS, urls = json_array())) < 0)
			return r;
		for (size_t i = 0; r == 0 && i < s->n_urls; i++)
			if (json_array_append_new(urls, json_string(s->urls[i])) < 0)
				r = -ENOMEM;
	}
	return r;
}

static int put_conditions(json_t *o, const struct status *s)
{
	json_t *conds;
	int r = 0;

	if (s->n_conditions) {
		if ((r = put(o, F_CONDITIONS, conds = json_array())) < 0)
			return r;
		for (size_t i = 0; r == 0 && i < s->n_conditions; i++)
			if (json_array_append_new(conds, condition_json(&s->conditions[i])) < 0)
				r = -ENOMEM;
	}
	return r;
}

json_t *status_to_json(const struct status *s)
{
	json_t *o = json_object();
	int r = o ? 0 : -ENOMEM;

	if (r == 0)
		r = put_str(o, F_ID, s->id);
	if (r == 0)
		r = put_str(o, F_PHASE, s->phase);
	if (r == 0 && s->has_generation)
		r = put(o, F_GENERATION, json_integer(s->observed_generation));
	if (r == 0)
		r = put_str(o, F_NODE, s->node_name);
	if (r == 0)
		r = put_str(o, F_RECLAIM, s->reclaim_policy);
	if (r == 0 && s->unpublished)
		r = put_str(o, F_PUBLISH, V_PUBLISH_NONE);
	if (r == 0)
		r = put_ports(o, s);
	if (r == 0)
		r = put_str(o, F_ACTIVITY, s->last_activity);
	if (r == 0)
		r = put_str(o, F_IDLE, s->idle_since);
	if (r == 0 && (s->container.name[0] || s->container.state[0]))
		r = put(o, F_CONTAINER, container_json(&s->container));
	if (r == 0 && s->resources.cpu[0])
		r = put(o, F_RESOURCES, resources_json(&s->resources));
	if (r == 0 && (s->restarts.count || s->restarts.next_restart_at[0]))
		r = put(o, F_RESTARTS, restarts_json(&s->restarts));
	if (r == 0)
		r = put_str(o, F_HASH, s->spec_hash);
	if (r == 0)
		r = put_conditions(o, s);
	if (r < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int status_emit(const struct status *s, char **out)
{
	json_t *j = status_to_json(s);
	char *v = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	if (!v)
		return -ENOMEM;
	*out = v;
	return 0;
}

/* ---- queries and changes ---- */

void status_set_generation(struct status *s, int64_t generation)
{
	s->has_generation = true;
	s->observed_generation = generation;
}

bool status_is_phase(const struct status *s, const char *phase)
{
	return strcmp(s->phase, phase) == 0;
}

const char *status_phase(const struct status *s)
{
	return s->phase[0] ? s->phase : STATUS_PENDING;
}

const struct status_condition *status_condition(const struct status *s, const char *type)
{
	for (size_t i = 0; i < s->n_conditions; i++)
		if (strcmp(s->conditions[i].type, type) == 0)
			return &s->conditions[i];
	return NULL;
}

int status_set_condition(struct status *s, const char *type, const char *cstatus,
			 const char *reason, const char *message, int64_t generation,
			 const char *now)
{
	struct status_condition k = { 0 }, *c = (struct status_condition *)status_condition(s, type);
	bool flipped;

	if (!c && s->n_conditions == STATUS_MAX_CONDITIONS)
		return -ENOSPC;
	if (STATUS_SET(k.type, type) < 0 || STATUS_SET(k.status, cstatus) < 0 ||
	    STATUS_SET(k.reason, reason) < 0 ||
	    (message && strlen(message) >= STATUS_MESSAGE_MAX))
		return -ENAMETOOLONG;
	flipped = !c || strcmp(c->status, cstatus) != 0 || !c->last_transition[0];
	if (STATUS_SET(k.last_transition, flipped ? now : c->last_transition) < 0)
		return -ENAMETOOLONG;
	if (message && *message && !(k.message = strdup(message)))
		return -ENOMEM;
	k.observed_generation = generation;
	if (!c)
		c = &s->conditions[s->n_conditions++];
	else
		free(c->message);
	*c = k;
	return 0;
}

int status_set_ports(struct status *s, int base, const long *hosts,
		     const char *const *urls, size_t n)
{
	char tmp[STATUS_MAX_PORTS][STATUS_URL_MAX];

	if (n > STATUS_MAX_PORTS)
		return -E2BIG;
	for (size_t i = 0; i < n; i++)
		if (status_set_str(tmp[i], STATUS_URL_MAX, urls[i]) < 0)
			return -ENAMETOOLONG;
	for (size_t i = 0; i < n; i++) {
		s->ports[i].container = base + (long)i;
		s->ports[i].host = hosts[i];
		s->ports[i].members = false;
		memcpy(s->urls[i], tmp[i], STATUS_URL_MAX);
	}
	s->n_ports = s->n_urls = n;
	return 0;
}

int status_set_port_members(struct status *s, long container, bool members)
{
	for (size_t i = 0; i < s->n_ports; i++)
		if (s->ports[i].container == container) {
			s->ports[i].members = members;
			return 0;
		}
	return -ENOENT;
}

long status_host_port(const struct status *s, long port)
{
	for (size_t i = 0; i < s->n_ports; i++)
		if (s->ports[i].container == port || s->ports[i].host == port)
			return s->ports[i].host;
	return 0;
}
