/* ecache — the engine's containers and volumes of ours, kept between
 * resyncs by the event stream (see ecache.h). */
#include "ecache.h"

#include "keys.h"
#include "ws.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ecache {
	pthread_mutex_t mu;       /* guards the fields up to `stale` */
	bool up;                  /* the event stream is up */
	bool valid;               /* the maps may be trusted */
	unsigned long gen;        /* bumped by every invalidation */
	json_t *stale;            /* owner -> true: touched since the last refresh */
	/* The resync thread's alone (ecache_refresh's single caller). */
	json_t *containers;       /* owner -> {"running", "hash"} */
	json_t *volumes;          /* owner -> count */
	char instance[128];       /* what the maps were listed for */
	unsigned since_list;      /* refreshes since the last listing */
};

int ecache_new(struct ecache **out)
{
	struct ecache *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->mu, NULL);
	c->stale = json_object();
	c->containers = json_object();
	c->volumes = json_object();
	if (!c->stale || !c->containers || !c->volumes) {
		ecache_free(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

void ecache_free(struct ecache *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->mu);
	json_decref(c->stale);
	json_decref(c->containers);
	json_decref(c->volumes);
	free(c);
}

void ecache_stream_up(struct ecache *c)
{
	pthread_mutex_lock(&c->mu);
	c->up = true;
	pthread_mutex_unlock(&c->mu);
}

void ecache_stream_down(struct ecache *c)
{
	pthread_mutex_lock(&c->mu);
	c->up = false;
	c->valid = false;
	c->gen++;
	pthread_mutex_unlock(&c->mu);
}

void ecache_invalidate(struct ecache *c)
{
	pthread_mutex_lock(&c->mu);
	c->valid = false;
	c->gen++;
	pthread_mutex_unlock(&c->mu);
}

void ecache_touch(struct ecache *c, const char *owner)
{
	pthread_mutex_lock(&c->mu);
	/* Out of memory: the touch is lost, so nothing may be trusted. */
	if (json_object_set_new(c->stale, owner, json_true()) < 0) {
		c->valid = false;
		c->gen++;
	}
	pthread_mutex_unlock(&c->mu);
}

bool ecache_must_list(struct ecache *c, const char *instance)
{
	bool valid;

	pthread_mutex_lock(&c->mu);
	valid = c->valid;
	pthread_mutex_unlock(&c->mu);
	return !valid || strcmp(c->instance, instance) != 0 ||
	       c->since_list + 1 >= ECACHE_RELIST_EVERY;
}

json_t *ecache_take_stale(struct ecache *c)
{
	json_t *fresh = json_object(), *old;

	if (!fresh)
		return NULL;
	pthread_mutex_lock(&c->mu);
	old = c->stale;
	c->stale = fresh;
	pthread_mutex_unlock(&c->mu);
	return old;
}

unsigned long ecache_begin_list(struct ecache *c)
{
	unsigned long gen;

	/* What was touched before the listing began is in the listing. */
	json_decref(ecache_take_stale(c));
	pthread_mutex_lock(&c->mu);
	gen = c->up ? c->gen : c->gen - 1; /* a gen that cannot match */
	pthread_mutex_unlock(&c->mu);
	return gen;
}

/* {"running", "hash"} from a listing's summary (State is a string) or an
 * inspection (State is an object, the labels are in Config). */
static json_t *entry(const json_t *ct)
{
	const json_t *st = json_object_get(ct, "State");
	const json_t *labels = json_object_get(ct, "Labels");
	const char *hash;
	bool running;

	if (json_is_object(st)) {
		running = json_is_true(json_object_get(st, "Running")) &&
			  !json_is_true(json_object_get(st, "Paused"));
		labels = json_object_get(json_object_get(ct, "Config"), "Labels");
	} else {
		running = json_is_string(st) && strcmp(json_string_value(st), "running") == 0;
	}
	hash = json_string_value(json_object_get(labels, "klangk.spec-hash"));
	return json_pack("{s:b,s:o}", "running", running,
			 "hash", hash ? json_string(hash) : json_null());
}

static const char *owner_of(const json_t *obj)
{
	return json_string_value(json_object_get(json_object_get(obj, "Labels"),
						 "klangk.workspace"));
}

int ecache_install_list(struct ecache *c, unsigned long gen, const char *instance,
			const json_t *containers, const json_t *volumes, bool *trusted)
{
	json_t *cm = json_object(), *vm = json_object(), *it;
	size_t i;
	int r = -ENOMEM;

	if (!cm || !vm)
		goto out;
	json_array_foreach(containers, i, it) {
		const char *w = owner_of(it);

		if (w && json_object_set_new(cm, w, entry(it)) < 0)
			goto out;
	}
	json_array_foreach(volumes, i, it) {
		const char *w = owner_of(it);

		if (w && json_object_set_new(vm, w, json_integer(
				json_integer_value(json_object_get(vm, w)) + 1)) < 0)
			goto out;
	}
	json_decref(c->containers);
	json_decref(c->volumes);
	c->containers = cm;
	c->volumes = vm;
	cm = vm = NULL;
	snprintf(c->instance, sizeof(c->instance), "%s", instance);
	c->since_list = 0;
	pthread_mutex_lock(&c->mu);
	c->valid = c->up && c->gen == gen;
	*trusted = c->valid;
	pthread_mutex_unlock(&c->mu);
	r = 0;
out:
	json_decref(cm);
	json_decref(vm);
	return r;
}

int ecache_install_inspect(struct ecache *c, const char *owner,
			   const json_t *container, int volumes)
{
	int r = 0;

	if (container)
		r = json_object_set_new(c->containers, owner, entry(container));
	else
		json_object_del(c->containers, owner);
	if (r == 0 && volumes > 0)
		r = json_object_set_new(c->volumes, owner, json_integer(volumes));
	else if (r == 0)
		json_object_del(c->volumes, owner);
	return r < 0 ? -ENOMEM : 0;
}

/* One stale workspace: its container and its two volumes, by name. */
static int inspect_owner(struct ecache *c, struct engine *eng, const char *instance,
			 const char *owner, struct err *e)
{
	char ns[64], name[64], cname[256], vname[256];
	const char *which[] = { "home", "work" };
	json_t *ct = NULL, *vol = NULL;
	int vols = 0, r;

	if (keys_split(KEYS_OWNER, owner, ns, sizeof(ns), name, sizeof(name)) < 0 ||
	    ws_container_name(instance, ns, name, cname, sizeof(cname)) < 0)
		return 0; /* not a name of ours: nothing to cache */
	r = engine_container_inspect(eng, cname, &ct, e);
	if (r < 0 && r != -ENOENT)
		goto out;
	if (ct) {
		/* A container of that name that is not this workspace's is
		 * none of ours (the reconcile reports it as a name taken). */
		const json_t *labels = json_object_get(json_object_get(ct, "Config"), "Labels");
		const char *w = json_string_value(json_object_get(labels, "klangk.workspace"));
		const char *in = json_string_value(json_object_get(labels, "klangk.instance"));

		if (!w || !in || strcmp(w, owner) != 0 || strcmp(in, instance) != 0) {
			json_decref(ct);
			ct = NULL;
		}
	}
	for (int i = 0; i < 2; i++) {
		if (ws_volume_name(instance, ns, name, which[i], vname, sizeof(vname)) < 0)
			continue;
		r = engine_volume_inspect(eng, vname, &vol, e);
		json_decref(vol);
		vol = NULL;
		if (r == 0)
			vols++;
		else if (r != -ENOENT)
			goto out;
	}
	r = ecache_install_inspect(c, owner, ct, vols);
out:
	json_decref(ct);
	return r;
}

int ecache_plan(struct ecache *c, const char *instance, bool relist,
		bool *list, json_t **stale)
{
	json_t *s;

	if (relist || ecache_must_list(c, instance)) {
		*list = true;
		*stale = NULL;
		return 0;
	}
	if (!(s = ecache_take_stale(c)))
		return -ENOMEM;
	/* After a burst (an apply of many, an engine restarting them all),
	 * one listing costs the engine less than three requests per
	 * workspace. */
	if (json_object_size(s) > ECACHE_INSPECT_MAX) {
		json_decref(s);
		*list = true;
		*stale = NULL;
		return 0;
	}
	*list = false;
	*stale = s;
	return 0;
}

int ecache_refresh(struct ecache *c, struct engine *eng, const char *instance,
		   bool relist, struct ecache_view *out, struct err *e)
{
	struct ecache_view v = { 0 };
	json_t *clist = NULL, *stale = NULL, *it;
	char label[192];
	const char *owner;
	int r;

	if ((r = ecache_plan(c, instance, relist, &relist, &stale)) < 0)
		goto out;
	if (relist) {
		unsigned long gen = ecache_begin_list(c);
		bool trusted;

		snprintf(label, sizeof(label), "klangk.instance=%s", instance);
		/* Volumes first: garbage collection needs them listed before
		 * the owners are (gc.h). */
		if ((r = engine_volume_list(eng, label, &v.vlist, e)) < 0 ||
		    (r = engine_container_list(eng, label, &clist, e)) < 0 ||
		    (r = ecache_install_list(c, gen, instance, clist, v.vlist, &trusted)) < 0)
			goto out;
		v.listed = true;
	} else {
		json_object_foreach(stale, owner, it) {
			if ((r = inspect_owner(c, eng, instance, owner, e)) < 0)
				goto out;
			v.inspected++;
		}
		c->since_list++;
	}
	v.containers = json_copy(c->containers);
	v.volumes = json_incref(c->volumes);
	if (!v.containers) {
		r = -ENOMEM;
		goto out;
	}
	*out = v;
	v = (struct ecache_view){ 0 };
	r = 0;
out:
	if (r < 0)
		ecache_invalidate(c);
	ecache_view_clear(&v);
	json_decref(clist);
	json_decref(stale);
	return r;
}

void ecache_view_clear(struct ecache_view *v)
{
	if (!v)
		return;
	json_decref(v->containers);
	json_decref(v->volumes);
	json_decref(v->vlist);
	*v = (struct ecache_view){ 0 };
}
