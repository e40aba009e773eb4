/*
 * klangkc touch — record activity on a workspace: the key
 * /klangk/activity/<ns>/<name> gets the current time (RFC 3339 UTC), as
 * proxy-gen does for hosted traffic.  The controller's idle timeout counts
 * from the latest activity, and activity after an idle stop starts the
 * workspace again.  exec and start record activity the same way
 * (cli_touch).
 */
#include "cli.h"

#include "keys.h"
#include "timefmt.h"
#include "ws.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int cli_touch(struct etcd *c, const char *ns, const char *name, struct err *e)
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

int verb_touch(int argc, char **argv)
{
	const char *ns;
	struct etcd *c = NULL;
	int opt, first, ret = EXIT_OK;

	opt = cli_name_args("touch", argc, argv, 1, 0, -1, &ns, &first);
	if (opt >= 0)
		return opt;
	if (cli_etcd(&c) < 0)
		return EXIT_FAIL;
	for (int i = first; i < argc; i++) {
		struct err e = { "" };
		int r = cli_touch(c, ns, argv[i], &e);

		if (r < 0) {
			ret = cli_fail("touch", r, &e);
			if (r != -ENOENT)
				break;
			continue;
		}
		printf("workspace.klangk.io/%s touched\n", argv[i]);
	}
	etcd_free(c);
	return ret;
}
