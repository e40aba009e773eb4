/*
 * touch — the activity record (see touch.h).
 */
#include "touch.h"

#include "keys.h"
#include "timefmt.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>

int touch_workspace(struct etcd *c, const char *ns, const char *name, struct err *e)
{
	char spec[512], key[512], now[TIMEFMT_MAX];
	json_t *cmp, *ops;
	bool ok = false;
	int r;

	if (keys_ws(KEYS_SPEC, ns, name, spec, sizeof(spec)) < 0 ||
	    keys_ws(KEYS_ACTIVITY, ns, name, key, sizeof(key)) < 0)
		return -ENAMETOOLONG;
	if (timefmt_now(now, sizeof(now)) < 0)
		return -EINVAL;
	/* Only for a workspace that exists: the key would outlive nothing. */
	cmp = json_pack("[o]", etcd_cmp_exists(spec));
	ops = json_pack("[o]", etcd_op_put(key, now, strlen(now), 0));
	if (!cmp || !ops) {
		json_decref(cmp);
		json_decref(ops);
		return -ENOMEM;
	}
	r = etcd_txn(c, cmp, ops, NULL, &ok, NULL, e);
	if (r == 0 && !ok) {
		err_set(e, "workspace \"%s\" not found in namespace \"%s\"", name, ns);
		r = -ENOENT;
	}
	return r;
}
