/* events — deduplicated, expiring workspace events in etcd (see events.h). */
#include "events.h"

#include "buf.h"
#include "keys.h"
#include "log.h"
#include "timefmt.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LEASE_REFRESH_S 600

struct events {
	struct etcd *etcd;
	int64_t lease;
	time_t lease_at;
};

int events_new(struct etcd *etcd, struct events **out)
{
	struct events *ev = calloc(1, sizeof(*ev));

	if (!ev)
		return -ENOMEM;
	ev->etcd = etcd;
	*out = ev;
	return 0;
}

void events_free(struct events *ev)
{
	free(ev);
}

/* A lease that still has at least TTL - LEASE_REFRESH_S to live. */
static int current_lease(struct events *ev, int64_t *lease, struct err *e)
{
	time_t now = time(NULL);

	if (!ev->lease || now - ev->lease_at >= LEASE_REFRESH_S) {
		int64_t id;
		int r = etcd_lease_grant(ev->etcd, EVENTS_TTL_S, &id, e);

		if (r < 0)
			return r;
		ev->lease = id;
		ev->lease_at = now;
	}
	*lease = ev->lease;
	return 0;
}

void events_record(struct events *ev, const char *ns, const char *name,
		   const char *type, const char *reason, const char *message)
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	char key[512], now[TIMEFMT_MAX], hex[17];
	struct buf id;
	struct err e = { "" };
	int r = 0;

	if (!ev)
		return;
	buf_init(&id, 64 * 1024);
	buf_printf(&id, "%s|%s|%s", type, reason, message);
	EVP_Digest(id.data, id.len, md, &mdlen, EVP_sha256(), NULL);
	buf_free(&id);
	for (int i = 0; i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	keys_event(ns, name, hex, key, sizeof(key));
	timefmt_now(now, sizeof(now));

	/* Two tries: a concurrent recorder of the same event may win once. */
	for (int attempt = 0; attempt < 2; attempt++) {
		struct etcd_kv cur = { 0 };
		json_t *obj = NULL, *cmp, *ops;
		int64_t lease = 0, count = 1;
		bool ok = false;
		char *val;

		r = etcd_get(ev->etcd, key, &cur, NULL, &e);
		if (r < 0 && r != -ENOENT)
			break;
		if (r == 0) {
			json_error_t jerr;

			obj = json_loadb(cur.value, cur.value_len, 0, &jerr);
			if (json_is_object(obj))
				count = json_integer_value(json_object_get(obj, "count")) + 1;
		}
		if (!json_is_object(obj)) {
			json_decref(obj);
			obj = json_pack("{s:s,s:s,s:s,s:s,s:s}", "involvedObject", "",
					"type", type, "reason", reason, "message", message,
					"firstTimestamp", now);
			if (obj) {
				char ref[160];

				snprintf(ref, sizeof(ref), "%s/%s", ns, name);
				json_object_set_new(obj, "involvedObject", json_string(ref));
			}
		}
		r = obj ? current_lease(ev, &lease, &e) : -ENOMEM;
		if (r < 0) {
			json_decref(obj);
			etcd_kv_clear(&cur);
			break;
		}
		json_object_set_new(obj, "count", json_integer(count));
		json_object_set_new(obj, "lastTimestamp", json_string(now));
		val = json_dumps(obj, JSON_COMPACT);
		cmp = json_pack("[o]", etcd_cmp_mod(key, cur.mod_revision));
		ops = val ? json_pack("[o]", etcd_op_put(key, val, strlen(val), lease)) : NULL;
		if (cmp && ops) {
			r = etcd_txn(ev->etcd, cmp, ops, NULL, &ok, NULL, &e);
		} else {
			json_decref(cmp);
			json_decref(ops);
			r = -ENOMEM;
		}
		free(val);
		json_decref(obj);
		etcd_kv_clear(&cur);
		if (r < 0 || ok)
			break;
	}
	if (r < 0) {
		/* A lease that vanished (etcd restored, expired) is replaced on
		 * the next event. */
		ev->lease = 0;
		log_warn("could not record event", "reason", reason, "error", e.msg, NULL);
	}
}
