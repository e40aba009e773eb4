/* gc — collect orphaned leases and volumes (see gc.h). */
#include "gc.h"

#include "log.h"
#include "reconcile.h"
#include "ws.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Does "<ns>/<name>" have a spec or a status key?  Keys are looked up in
 * the two listings (sorted by key), so no extra round trips. */
static bool owned(const struct etcd_kvs *specs, const struct etcd_kvs *stats,
		  const char *owner)
{
	const struct etcd_kvs *sets[] = { specs, stats };
	const char *prefixes[] = { WS_SPEC_PREFIX, WS_STATUS_PREFIX };

	for (int s = 0; s < 2; s++)
		for (size_t i = 0; i < sets[s]->n; i++)
			if (strcmp(sets[s]->kvs[i].key + strlen(prefixes[s]), owner) == 0)
				return true;
	return false;
}

static int gc_leases(struct etcd *etcd, const struct etcd_kvs *specs,
		     const struct etcd_kvs *stats, int *n, struct err *e)
{
	struct etcd_kvs leases = { 0 };
	int r = etcd_list(etcd, WS_LEASE_PREFIX, &leases, e);

	if (r < 0)
		return r;
	for (size_t i = 0; i < leases.n && r == 0; i++) {
		const struct etcd_kv *kv = &leases.kvs[i];
		json_t *cmp, *ops;
		bool ok = false;

		if (owned(specs, stats, kv->value))
			continue;
		/* Only if it still names the same owner: it may have been
		 * leased again since we listed. */
		cmp = json_pack("[o]", etcd_cmp_value(kv->key, kv->value));
		ops = json_pack("[o]", etcd_op_delete(kv->key));
		if (!cmp || !ops) {
			json_decref(cmp);
			json_decref(ops);
			r = -ENOMEM;
			break;
		}
		r = etcd_txn(etcd, cmp, ops, NULL, &ok, NULL, e);
		if (r == 0 && ok) {
			(*n)++;
			log_info("collected orphaned port lease", "key", kv->key,
				 "owner", kv->value, NULL);
		}
	}
	etcd_kvs_clear(&leases);
	return r;
}

static int gc_volumes(struct etcd *etcd, struct engine *eng,
		      const struct cfg *cfg, const struct etcd_kvs *specs,
		      const struct etcd_kvs *stats, int *n, struct err *e)
{
	json_t *vols = NULL, *v;
	char label[128];
	size_t i;
	int r;

	snprintf(label, sizeof(label), "klangk.instance=%s", cfg->instance_id);
	r = engine_volume_list(eng, label, &vols, e);
	if (r < 0)
		return r;
	json_array_foreach(vols, i, v) {
		const char *name = json_string_value(json_object_get(v, "Name"));
		const char *owner = json_string_value(json_object_get(
			json_object_get(v, "Labels"), "klangk.workspace"));
		struct etcd_kv kv = { 0 };
		char key[512];

		if (!name || !owner || owned(specs, stats, owner))
			continue;
		snprintf(key, sizeof(key), REC_RETAINED_PREFIX "%s", name);
		r = etcd_get(etcd, key, &kv, NULL, e);
		etcd_kv_clear(&kv);
		if (r == 0)
			continue; /* retained on purpose */
		if (r != -ENOENT)
			break;
		r = engine_volume_remove(eng, name, e);
		if (r == -EBUSY) {
			/* Still mounted by a container being torn down. */
			r = 0;
			continue;
		}
		if (r < 0)
			break;
		(*n)++;
		log_info("collected orphaned volume", "volume", name, "owner", owner, NULL);
	}
	json_decref(vols);
	return r;
}

int gc_run(struct etcd *etcd, struct engine *eng, const struct cfg *cfg,
	   struct gc_stats *out, struct err *e)
{
	struct etcd_kvs specs = { 0 }, stats = { 0 };
	struct gc_stats s = { 0 };
	int r;

	/* Status is read after spec: a workspace created in between shows
	 * up at least in one of them (its status comes after its spec). */
	r = etcd_list(etcd, WS_SPEC_PREFIX, &specs, e);
	if (r == 0)
		r = etcd_list(etcd, WS_STATUS_PREFIX, &stats, e);
	if (r == 0)
		r = gc_leases(etcd, &specs, &stats, &s.leases, e);
	if (r == 0)
		r = gc_volumes(etcd, eng, cfg, &specs, &stats, &s.volumes, e);
	etcd_kvs_clear(&specs);
	etcd_kvs_clear(&stats);
	if (r == 0 && out)
		*out = s;
	return r;
}
