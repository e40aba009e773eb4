/* ports — host port leases (see ports.h). */
#include "ports.h"

#include "keys.h"
#include "ws.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ports_prefix(const char *node, char *buf, size_t len)
{
	return keys_lease_prefix(node, buf, len);
}

static void lease_key(const char *prefix, long port, char *buf, size_t len)
{
	keys_lease(prefix, port, buf, len);
}

long ports_key_port(const char *prefix, const char *key)
{
	const char *s = key + strlen(prefix);
	char *end;
	long p;

	if (strncmp(key, prefix, strlen(prefix)) != 0 || *s < '1' || *s > '9')
		return -1;
	p = strtol(s, &end, 10);
	return *end || p <= 0 || p > 65535 ? -1 : p;
}

/* Append item (stolen) to arr; a NULL item (allocation failure) must fail
 * the whole transaction, never silently drop one of its compares. */
static int append(json_t *arr, json_t *item)
{
	if (!item)
		return -ENOMEM;
	return json_array_append_new(arr, item) == 0 ? 0 : -ENOMEM;
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

/* Do the hinted ports all carry our name?  One read-only transaction. */
static int verify_hint(struct etcd *c, const char *prefix, const char *owner,
		       const long *hint, int n, bool *held, struct err *e)
{
	json_t *cmp = json_array();
	char key[128];

	if (!cmp)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		lease_key(prefix, hint[i], key, sizeof(key));
		if (append(cmp, etcd_cmp_value(key, owner)) < 0) {
			json_decref(cmp);
			return -ENOMEM;
		}
	}
	return etcd_txn(c, cmp, NULL, NULL, held, NULL, e);
}

int ports_ensure(struct etcd *c, const char *prefix, const char *owner, int want,
		 long start, long end, const long *hint, int n_hint,
		 long ports[PORTS_MAX], struct err *e)
{
	int r;

	if (want < 0 || want > PORTS_MAX)
		return -EINVAL;
	if (hint && n_hint == want && want > 0) {
		bool held = false;

		r = verify_hint(c, prefix, owner, hint, n_hint, &held, e);
		if (r < 0)
			return r;
		if (held) {
			memcpy(ports, hint, sizeof(long) * (size_t)want);
			qsort(ports, (size_t)want, sizeof(long), cmp_long);
			return 0;
		}
	}
	/* Another writer may take a port between our list and our
	 * transaction; then the transaction fails and we look again. */
	for (int attempt = 0; attempt < 20; attempt++) {
		struct etcd_kvs kvs = { 0 };
		long mine[64];
		int n_mine = 0, n_new = 0, bad = 0;
		json_t *cmp = NULL, *ops = NULL;
		bool ok = false;
		char key[128];
		size_t k = 0;

		r = etcd_list(c, prefix, &kvs, e);
		if (r < 0)
			return r;
		for (size_t i = 0; i < kvs.n && n_mine < 64; i++)
			if (strcmp(kvs.kvs[i].value, owner) == 0 &&
			    ports_key_port(prefix, kvs.kvs[i].key) > 0)
				mine[n_mine++] = ports_key_port(prefix, kvs.kvs[i].key);
		qsort(mine, (size_t)n_mine, sizeof(long), cmp_long);
		cmp = json_array();
		ops = json_array();
		if (!cmp || !ops) {
			r = -ENOMEM;
			goto next;
		}
		/* Release the ones we hold beyond what we want (highest first
		 * go), only if they are still ours. */
		for (int i = want; i < n_mine; i++) {
			lease_key(prefix, mine[i], key, sizeof(key));
			bad |= append(cmp, etcd_cmp_value(key, owner));
			bad |= append(ops, etcd_op_delete(key));
		}
		for (int i = 0; i < n_mine && i < want; i++) {
			ports[i] = mine[i];
			/* Keep what we hold: the transaction must still see it. */
			lease_key(prefix, mine[i], key, sizeof(key));
			bad |= append(cmp, etcd_cmp_value(key, owner));
		}
		/* Lowest free ports in the range; kvs are sorted by key as
		 * strings, so build a set of taken ports first. */
		n_new = want - (n_mine < want ? n_mine : want);
		{
			long need = n_new;
			long *taken = calloc(kvs.n ? kvs.n : 1, sizeof(long));
			size_t nt = 0;

			if (!taken) {
				r = -ENOMEM;
				goto next;
			}
			for (size_t i = 0; i < kvs.n; i++)
				if (ports_key_port(prefix, kvs.kvs[i].key) > 0)
					taken[nt++] = ports_key_port(prefix, kvs.kvs[i].key);
			qsort(taken, nt, sizeof(long), cmp_long);
			for (long p = start; p <= end && need > 0; p++) {
				while (k < nt && taken[k] < p)
					k++;
				if (k < nt && taken[k] == p)
					continue;
				ports[want - need] = p;
				lease_key(prefix, p, key, sizeof(key));
				bad |= append(cmp, etcd_cmp_absent(key));
				bad |= append(ops, etcd_op_put(key, owner, strlen(owner), 0));
				need--;
			}
			free(taken);
			if (need > 0) {
				err_set(e, "no free host ports left in %ld-%ld (need %d)",
					start, end, n_new);
				r = -ENOSPC;
				goto next;
			}
		}
		if (bad) {
			r = -ENOMEM;
			goto next;
		}
		if (json_array_size(ops) == 0 && n_mine == want) {
			qsort(ports, (size_t)want, sizeof(long), cmp_long);
			r = 0;
			goto next;
		}
		r = etcd_txn(c, cmp, ops, NULL, &ok, NULL, e);
		cmp = ops = NULL;
		if (r == 0 && !ok)
			r = -EAGAIN;
		if (r == 0)
			qsort(ports, (size_t)want, sizeof(long), cmp_long);
next:
		json_decref(cmp);
		json_decref(ops);
		etcd_kvs_clear(&kvs);
		if (r != -EAGAIN)
			return r;
	}
	err_set(e, "port leases kept changing under us; will retry");
	return -EAGAIN;
}

int ports_release_all(struct etcd *c, const char *prefix, const char *owner,
		      int *released, struct err *e)
{
	struct etcd_kvs kvs = { 0 };
	int r, n = 0;

	r = etcd_list(c, prefix, &kvs, e);
	if (r < 0)
		return r;
	for (size_t i = 0; i < kvs.n; i++) {
		json_t *cmp, *ops;
		bool ok = false;

		/* (Only this prefix's own leases: not another node's.) */
		if (strcmp(kvs.kvs[i].value, owner) != 0 ||
		    ports_key_port(prefix, kvs.kvs[i].key) < 0)
			continue;
		/* Delete only if it is still ours. */
		cmp = json_pack("[o]", etcd_cmp_value(kvs.kvs[i].key, owner));
		ops = json_pack("[o]", etcd_op_delete(kvs.kvs[i].key));
		if (!cmp || !ops) {
			json_decref(cmp);
			json_decref(ops);
			r = -ENOMEM;
			break;
		}
		r = etcd_txn(c, cmp, ops, NULL, &ok, NULL, e);
		if (r < 0)
			break;
		n += ok;
	}
	etcd_kvs_clear(&kvs);
	if (r == 0 && released)
		*released = n;
	return r;
}
