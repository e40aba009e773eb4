/*
 * klangkc touch — record activity on a workspace: the key
 * /klangk/activity/<ns>/<name> gets the current time (RFC 3339 UTC), as
 * proxy-gen does for hosted traffic.  The controller's idle timeout counts
 * from the latest activity, and activity after an idle stop starts the
 * workspace again.  exec and start record activity the same way
 * (lib/touch.h).
 */
#include "cli.h"

#include "touch.h"
#include "ws.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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
		int r = touch_workspace(c, ns, argv[i], &e);

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
