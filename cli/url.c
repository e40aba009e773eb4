/*
 * klangkc url — the hosted-app URLs of a workspace (status.urls, written
 * by the controller, one per published port).  With PORT, only the URL of
 * that container port (8000..) or leased host port.
 */
#include "cli.h"

#include "cfg.h"
#include "ws.h"

#include <errno.h>
#include <stdio.h>

int verb_url(int argc, char **argv)
{
	const char *ns;
	struct etcd *c = NULL;
	struct err e = { "" };
	json_t *o = NULL;
	struct status st;
	long port = 0;
	int opt, first, r, ret = EXIT_OK;

	opt = cli_name_args("url", argc, argv, 1, 2, 1, &ns, &first);
	if (opt >= 0)
		return opt;
	if (argc - first == 2 && cfg_parse_long(argv[first + 1], 1, 65535, &port) < 0) {
		fprintf(stderr, "error: PORT \"%s\": must be a port number\n", argv[first + 1]);
		return EXIT_USAGE;
	}
	if (cli_etcd(&c) < 0)
		return EXIT_FAIL;
	r = cli_get_object(c, ns, argv[first], &o, &e);
	etcd_free(c);
	if (r < 0)
		return cli_fail(NULL, r, &e);
	cli_status(o, &st);
	if (st.n_urls == 0) {
		fprintf(stderr, "error: workspace %s/%s has no hosted URLs (phase %s%s)\n",
			ns, argv[first], status_phase(&st),
			json_object_get(o, "spec") && json_integer_value(json_object_get(
				json_object_get(o, "spec"), "hostedPorts")) == 0 &&
			json_object_get(json_object_get(o, "spec"), "hostedPorts") ?
				", hostedPorts is 0" : "");
		status_clear(&st);
		json_decref(o);
		return EXIT_FAIL;
	}
	ret = port ? EXIT_NOTFOUND : EXIT_OK;
	for (size_t i = 0; i < st.n_urls; i++) {
		if (port && (i >= st.n_ports || (st.ports[i].container != port &&
						 st.ports[i].host != port)))
			continue;
		printf("%s\n", st.urls[i]);
		ret = EXIT_OK;
	}
	if (ret == EXIT_NOTFOUND)
		fprintf(stderr, "error: workspace %s/%s publishes no port %ld (container "
				"ports are %d..%lld)\n", ns, argv[first], port,
			WS_CONTAINER_PORT_BASE,
			WS_CONTAINER_PORT_BASE + (long long)st.n_urls - 1);
	status_clear(&st);
	json_decref(o);
	return ret;
}
