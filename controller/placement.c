/* placement — which node a workspace lives on (see placement.h). */
#include "placement.h"

#include "keys.h"
#include "log.h"
#include "ws.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How often a placement is retried when other placements keep landing
 * between our count and our transaction. */
#define PLACE_ATTEMPTS 20

char *place_node_record(long capacity)
{
	json_t *j = json_pack("{s:I}", "capacity", (json_int_t)capacity);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	return s;
}

int place_node_key(const char *name, char *buf, size_t len)
{
	return keys_node(name, buf, len);
}

int place_key(const char *owner, char *buf, size_t len)
{
	return keys_of_owner(KEYS_PLACEMENT, owner, buf, len);
}

static int copy_node(const char *v, char node[PLACE_NODE_MAX])
{
	if (!ws_is_dns_label(v) || strlen(v) >= PLACE_NODE_MAX)
		return -EINVAL;
	memcpy(node, v, strlen(v) + 1);
	return 0;
}

int place_parse(const struct etcd_kv *kv, char node[PLACE_NODE_MAX], struct err *e)
{
	if (!kv->value || copy_node(kv->value, node) < 0) {
		err_set(e, "placement %s names no valid node (\"%.64s\")", kv->key,
			kv->value ? kv->value : "");
		return -EINVAL;
	}
	return 0;
}

/* The node of owner, read from etcd; -ENOENT when it is not placed. */
static int place_get(struct etcd *c, const char *owner, char node[PLACE_NODE_MAX],
		     struct err *e)
{
	struct etcd_kv kv = { 0 };
	char key[256];
	int r;

	if (place_key(owner, key, sizeof(key)) < 0)
		return -ENAMETOOLONG;
	r = etcd_get(c, key, &kv, NULL, e);
	if (r == 0)
		r = place_parse(&kv, node, e);
	etcd_kv_clear(&kv);
	return r;
}

int place_pick(const struct etcd_kvs *nodes, const struct etcd_kvs *placed,
	       char node[PLACE_NODE_MAX], struct err *e)
{
	long best_free = 0;
	bool found = false;

	for (size_t i = 0; i < nodes->n; i++) {
		const char *name = keys_node_name(nodes->kvs[i].key);
		json_error_t jerr;
		json_t *rec = json_loadb(nodes->kvs[i].value, nodes->kvs[i].value_len, 0, &jerr);
		long cap = (long)json_integer_value(json_object_get(rec, "capacity")), used = 0;

		json_decref(rec);
		if (!ws_is_dns_label(name) || strlen(name) >= PLACE_NODE_MAX)
			continue;
		for (size_t k = 0; k < placed->n; k++)
			if (strcmp(placed->kvs[k].value, name) == 0)
				used++;
		/* Node records are sorted by name: ties go to the first. */
		if (cap - used > best_free) {
			best_free = cap - used;
			memcpy(node, name, strlen(name) + 1);
			found = true;
		}
	}
	if (!found) {
		err_set(e, "no node has room for another workspace (%zu node%s registered)",
			nodes->n, nodes->n == 1 ? "" : "s");
		return -ENOSPC;
	}
	return 0;
}

/* One attempt: 1 when the placement now exists (ours or another's), 0 when
 * the transaction lost a race and should be tried again. */
static int try_place(struct etcd *c, const char *key, const char *wanted,
		     char node[PLACE_NODE_MAX], struct err *e)
{
	struct etcd_kvs nodes = { 0 }, placed = { 0 };
	char choice[PLACE_NODE_MAX], nkey[128];
	json_t *cmp = NULL, *ops = NULL;
	bool ok = false;
	int r;

	if (wanted && *wanted) {
		r = copy_node(wanted, choice);
		if (r < 0) {
			err_set(e, "spec.nodeName \"%.64s\" is not a node name", wanted);
			return r;
		}
		cmp = json_pack("[o]", etcd_cmp_absent(key));
	} else {
		if ((r = etcd_list(c, KEYS_NODE_PREFIX, &nodes, e)) < 0 ||
		    (r = etcd_list(c, KEYS_PLACEMENT_PREFIX, &placed, e)) < 0 ||
		    (r = place_pick(&nodes, &placed, choice, e)) < 0)
			goto out;
		place_node_key(choice, nkey, sizeof(nkey));
		/* Not placed yet, nothing placed since we counted (deletions
		 * only free room), and the node still registered. */
		cmp = json_pack("[o,o,o]", etcd_cmp_absent(key),
				etcd_cmp_prefix_unchanged(KEYS_PLACEMENT_PREFIX, placed.revision),
				etcd_cmp_exists(nkey));
	}
	ops = json_pack("[o]", etcd_op_put(key, choice, strlen(choice), 0));
	if (!cmp || !ops) {
		json_decref(cmp);
		json_decref(ops);
		r = -ENOMEM;
		goto out;
	}
	r = etcd_txn(c, cmp, ops, NULL, &ok, NULL, e);
	if (r == 0 && ok) {
		memcpy(node, choice, strlen(choice) + 1);
		log_info("workspace placed", "placement", key, "node", choice,
			 "by", wanted && *wanted ? "spec.nodeName" : "free capacity", NULL);
		r = 1;
	}
out:
	etcd_kvs_clear(&nodes);
	etcd_kvs_clear(&placed);
	return r;
}

int place_ensure(struct etcd *c, const char *owner, const char *wanted,
		 char node[PLACE_NODE_MAX], struct err *e)
{
	char key[256];
	int r;

	if (place_key(owner, key, sizeof(key)) < 0)
		return -ENAMETOOLONG;
	for (int attempt = 0; attempt < PLACE_ATTEMPTS; attempt++) {
		r = place_get(c, owner, node, e);
		if (r != -ENOENT)
			return r;
		err_clear(e);
		r = try_place(c, key, wanted, node, e);
		if (r != 0)
			return r < 0 ? r : 0;
	}
	err_set(e, "placements kept changing while placing %s; will retry", owner);
	return -EAGAIN;
}
