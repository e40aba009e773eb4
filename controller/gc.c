/* gc — collect orphaned leases and volumes (see gc.h). */
#include "gc.h"

#include "keys.h"
#include "log.h"
#include "ports.h"
#include "reconcile.h"
#include "ws.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Is key (under prefix) for owner ("<ns>/<name>") in kvs?  etcd lists keys
 * in byte order and all of them share the prefix, so the owners are in
 * order too: a binary search. */
static bool listed(const struct etcd_kvs *kvs, const char *prefix, const char *owner)
{
	size_t lo = 0, hi = kvs->n, pl = strlen(prefix);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(kvs->kvs[mid].key + pl, owner);

		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* Does "<ns>/<name>" have a spec or a status key?  Keys are looked up in
 * the two listings, so no extra round trips. */
static bool owned(const struct etcd_kvs *specs, const struct etcd_kvs *stats,
		  const char *owner)
{
	return listed(specs, KEYS_SPEC_PREFIX, owner) || listed(stats, KEYS_STATUS_PREFIX, owner);
}

static int gc_leases(struct etcd *etcd, const char *prefix,
		     const struct etcd_kvs *leases, const struct etcd_kvs *specs,
		     const struct etcd_kvs *stats, int *n, struct err *e)
{
	int r = 0;

	for (size_t i = 0; i < leases->n && r == 0; i++) {
		const struct etcd_kv *kv = &leases->kvs[i];
		json_t *cmp, *ops;
		bool ok = false;

		if (ports_key_port(prefix, kv->key) < 0 || owned(specs, stats, kv->value))
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
	return r;
}

static int gc_volumes(struct etcd *etcd, struct engine *eng,
		      const json_t *vols, const struct etcd_kvs *specs,
		      const struct etcd_kvs *stats, int *n, struct err *e)
{
	json_t *v;
	size_t i;
	int r = 0;

	json_array_foreach(vols, i, v) {
		const char *name = json_string_value(json_object_get(v, "Name"));
		const char *owner = json_string_value(json_object_get(
			json_object_get(v, "Labels"), "klangk.workspace"));
		struct etcd_kv kv = { 0 };
		char key[512];

		if (!name || !owner || owned(specs, stats, owner))
			continue;
		keys_retained(name, key, sizeof(key));
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
	return r;
}

int gc_run(struct etcd *etcd, struct engine *eng, const char *lease_prefix,
	   const struct etcd_kvs *leases, const json_t *volumes,
	   const struct etcd_kvs *specs, const struct etcd_kvs *stats,
	   struct gc_stats *out, struct err *e)
{
	struct gc_stats s = { 0 };
	int r;

	r = gc_leases(etcd, lease_prefix, leases, specs, stats, &s.leases, e);
	if (r == 0)
		r = gc_volumes(etcd, eng, volumes, specs, stats, &s.volumes, e);
	if (r == 0 && out)
		*out = s;
	return r;
}
