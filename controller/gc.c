/* gc — collect orphaned leases and volumes (see gc.h). */
#include "gc.h"

#include "keys.h"
#include "log.h"
#include "ports.h"
#include "reconcile.h"
#include "tnet.h"
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

/* Does any key of kvs (under prefix) belong to namespace ns, i.e. start
 * with "<ns>/"?  The first key not below "<ns>/" tells (sorted, as in
 * listed). */
static bool ns_listed(const struct etcd_kvs *kvs, const char *prefix, const char *ns)
{
	size_t lo = 0, hi = kvs->n, pl = strlen(prefix), nl = strlen(ns);
	char want[160];

	if ((size_t)snprintf(want, sizeof(want), "%s/", ns) >= sizeof(want))
		return true; /* not a namespace of ours: keep */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(kvs->kvs[mid].key + pl, want) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < kvs->n && strncmp(kvs->kvs[lo].key + pl, want, nl + 1) == 0;
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

/* Tenant networks of namespaces without workspaces.  A network is created
 * by the reconcile of a workspace whose spec exists (listed after the
 * network), so a listed network without one is a tenant's that is gone; a
 * workspace of the tenant created since may see its network vanish before
 * its container is made, and its next reconcile makes it again. */
static int gc_networks(struct engine *eng, struct egress *eg, const json_t *nets,
		       const struct etcd_kvs *specs, const struct etcd_kvs *stats,
		       const char *instance, int *n, struct err *e)
{
	const json_t *v;
	size_t i;
	int r = 0;

	json_array_foreach(nets, i, v) {
		const char *ns = tnet_namespace(v);
		const char *name = json_string_value(json_object_get(v, "Name"));
		char bridge[TNET_BRIDGE_MAX];

		if (!ns || !name || ns_listed(specs, KEYS_SPEC_PREFIX, ns) ||
		    ns_listed(stats, KEYS_STATUS_PREFIX, ns))
			continue;
		r = engine_network_remove(eng, name, e);
		if (r == -EBUSY) {
			/* A container of the tenant's is still being torn down. */
			r = 0;
			continue;
		}
		if (r < 0)
			break;
		if (eg && tnet_bridge_name(instance, ns, bridge) == 0)
			egress_forget(eg, bridge);
		(*n)++;
		log_info("collected tenant network", "network", name, "namespace", ns, NULL);
	}
	return r;
}

int gc_run(struct etcd *etcd, struct engine *eng, const char *lease_prefix,
	   const struct etcd_kvs *leases, const json_t *volumes,
	   const json_t *networks, struct egress *eg, const char *instance,
	   const struct etcd_kvs *specs, const struct etcd_kvs *stats,
	   struct gc_stats *out, struct err *e)
{
	struct gc_stats s = { 0 };
	int r;

	r = gc_leases(etcd, lease_prefix, leases, specs, stats, &s.leases, e);
	if (r == 0)
		r = gc_volumes(etcd, eng, volumes, specs, stats, &s.volumes, e);
	if (r == 0)
		r = gc_networks(eng, eg, networks, specs, stats, instance, &s.networks, e);
	if (r == 0 && out)
		*out = s;
	return r;
}
