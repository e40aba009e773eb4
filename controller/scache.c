/* scache — status summaries read once per change, by mod_revision (see
 * scache.h). */
#include "scache.h"

#include "status.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct scache {
	json_t *map;   /* owner -> {"r": mod_revision, "s": summary (cached()) } */
};

int scache_new(struct scache **out)
{
	struct scache *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->map = json_object();
	if (!c->map) {
		free(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

void scache_free(struct scache *c)
{
	if (!c)
		return;
	json_decref(c->map);
	free(c);
}

/* {"r", "s"} for one key-value: the summary of the status (null when it
 * does not parse).  Only what a resync compares is kept: a parsed status
 * is several kilobytes of jansson objects, and 1,000 of them would be a
 * quarter of the controller's memory. */
static json_t *cached(const struct etcd_kv *kv)
{
	struct status st, keep;
	json_t *sum;
	int r = status_parse(kv->value, kv->value_len, &st, NULL);

	if (r == -ENOMEM)
		return NULL;
	if (r < 0) {
		sum = json_null();
	} else {
		status_init(&keep);
		STATUS_SET(keep.phase, st.phase);
		STATUS_SET(keep.spec_hash, st.spec_hash);
		keep.has_generation = st.has_generation;
		keep.observed_generation = st.observed_generation;
		sum = status_to_json(&keep);
		status_clear(&st);
	}
	return sum ? json_pack("{s:I,s:o}", "r", (json_int_t)kv->mod_revision, "s", sum) : NULL;
}

int scache_refresh(struct scache *c, struct etcd *etcd, const char *prefix,
		   struct etcd_kvs *keys, json_t **statuses, size_t *reads,
		   struct err *e)
{
	struct etcd_kvs k = { 0 }, full = { 0 };
	json_t *map = json_object(), *out = json_object(), *changed = json_array(), *it;
	size_t pl = strlen(prefix), n_read = 0, i;
	int r = -ENOMEM;

	if (!map || !out || !changed)
		goto out;
	r = etcd_list_keys(etcd, prefix, &k, e);
	if (r < 0)
		goto out;
	r = -ENOMEM;
	for (i = 0; i < k.n; i++) {
		const char *owner = k.kvs[i].key + pl;
		json_t *old = json_object_get(c->map, owner);

		if (old && json_integer_value(json_object_get(old, "r")) == k.kvs[i].mod_revision) {
			if (json_object_set(map, owner, old) < 0)
				goto out;
		} else if (json_array_append_new(changed, json_integer((json_int_t)i)) < 0) {
			goto out;
		}
	}
	if (json_array_size(changed) > SCACHE_GET_MAX) {
		/* Many changed (a start-up, a mass apply): one listing. */
		r = etcd_list(etcd, prefix, &full, e);
		if (r < 0)
			goto out;
		r = -ENOMEM;
		json_object_clear(map);
		for (i = 0; i < full.n; i++)
			if (json_object_set_new(map, full.kvs[i].key + pl, cached(&full.kvs[i])) < 0)
				goto out;
		n_read = full.n;
	} else {
		json_array_foreach(changed, i, it) {
			const struct etcd_kv *key = &k.kvs[json_integer_value(it)];
			struct etcd_kv kv = { 0 };

			r = etcd_get(etcd, key->key, &kv, NULL, e);
			if (r == -ENOENT)
				continue; /* deleted since the listing */
			if (r < 0)
				goto out;
			r = json_object_set_new(map, key->key + pl, cached(&kv)) < 0 ? -ENOMEM : 0;
			etcd_kv_clear(&kv);
			if (r < 0)
				goto out;
			n_read++;
		}
	}
	r = -ENOMEM;
	{
		const char *owner;
		json_t *v;

		json_object_foreach(map, owner, v)
			if (json_object_set(out, owner, json_object_get(v, "s")) < 0)
				goto out;
	}
	json_decref(c->map);
	c->map = map;
	map = NULL;
	etcd_kvs_clear(keys);
	*keys = k;
	k = (struct etcd_kvs){ 0 };
	*statuses = out;
	out = NULL;
	if (reads)
		*reads = n_read;
	r = 0;
out:
	if (r < 0)
		json_object_clear(c->map);
	etcd_kvs_clear(&k);
	etcd_kvs_clear(&full);
	json_decref(map);
	json_decref(out);
	json_decref(changed);
	return r;
}
