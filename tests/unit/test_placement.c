/* Unit tests for placement's choice of a node (placement.h): the most free
 * capacity wins, ties go to the lowest name, full and malformed nodes are
 * skipped, and no room anywhere is -ENOSPC. */
#include "placement.h"
#include "t.h"
#include "keys.h"

#include <stdlib.h>

/* kvs from "key=value" pairs (NULL-terminated); cleared by the caller. */
static void kvs_of(struct etcd_kvs *kvs, const char *const *pairs)
{
	size_t n = 0;

	while (pairs[n])
		n++;
	kvs->kvs = calloc(n ? n : 1, sizeof(*kvs->kvs));
	kvs->n = n;
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(pairs[i], '=');

		kvs->kvs[i].key = strndup(pairs[i], (size_t)(eq - pairs[i]));
		kvs->kvs[i].value = strdup(eq + 1);
		kvs->kvs[i].value_len = strlen(eq + 1);
	}
}

static int pick(const char *const *nodes, const char *const *placed, char *out)
{
	struct etcd_kvs n = { 0 }, p = { 0 };
	struct err e = { "" };
	int r;

	kvs_of(&n, nodes);
	kvs_of(&p, placed);
	r = place_pick(&n, &p, out, &e);
	etcd_kvs_clear(&n);
	etcd_kvs_clear(&p);
	return r;
}

int main(void)
{
	static const char *const none[] = { NULL };
	static const char *const two[] = { KEYS_NODE_PREFIX "a={\"capacity\":2}",
					   KEYS_NODE_PREFIX "b={\"capacity\":2}", NULL };
	static const char *const one_on_a[] = { KEYS_PLACEMENT_PREFIX "x/1=a", NULL };
	static const char *const full[] = { KEYS_PLACEMENT_PREFIX "x/1=a", KEYS_PLACEMENT_PREFIX "x/2=a",
					    KEYS_PLACEMENT_PREFIX "x/3=b", KEYS_PLACEMENT_PREFIX "x/4=b", NULL };
	static const char *const big_b[] = { KEYS_NODE_PREFIX "a={\"capacity\":2}",
					     KEYS_NODE_PREFIX "b={\"capacity\":9}", NULL };
	static const char *const odd[] = { KEYS_NODE_PREFIX "Bad={\"capacity\":50}",
					   KEYS_NODE_PREFIX "c=not json",
					   KEYS_NODE_PREFIX "d={\"capacity\":1}", NULL };
	char node[PLACE_NODE_MAX] = "";

	CHECK(pick(two, none, node) == 0 && strcmp(node, "a") == 0);
	CHECK(pick(two, one_on_a, node) == 0 && strcmp(node, "b") == 0);
	CHECK(pick(big_b, one_on_a, node) == 0 && strcmp(node, "b") == 0);
	CHECK(pick(two, full, node) == -ENOSPC);
	CHECK(pick(none, none, node) == -ENOSPC);
	/* Not a node name, or no capacity: never chosen. */
	CHECK(pick(odd, none, node) == 0 && strcmp(node, "d") == 0);
	{
		char *rec = place_node_record(7);

		CHECK(rec && strcmp(rec, "{\"capacity\":7}") == 0);
		free(rec);
	}
	return T_DONE("placement");
}
