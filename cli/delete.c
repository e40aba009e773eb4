/* klangkc delete — remove workspaces' desired objects. */
#include "cli.h"

#include "ws.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

int verb_delete(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "namespace", required_argument, NULL, 'n' },
		{ "ignore-not-found", no_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *ns_flag = NULL;
	bool ignore = false;
	struct etcd *c = NULL;
	int opt, ret = EXIT_OK;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			ns_flag = optarg;
			break;
		case 'i':
			ignore = true;
			break;
		case 'h':
			cli_usage("delete", false);
			return EXIT_OK;
		default:
			cli_usage("delete", true);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "error: delete needs at least one NAME\n");
		cli_usage("delete", true);
		return EXIT_USAGE;
	}
	if (!ws_is_dns_label(cli_namespace(ns_flag))) {
		fprintf(stderr, "error: namespace \"%s\": must be a lowercase DNS label\n",
			cli_namespace(ns_flag));
		return EXIT_USAGE;
	}
	if (cli_etcd(&c) < 0)
		return EXIT_FAIL;
	for (int i = optind; i < argc; i++) {
		const char *name = argv[i];
		struct err e = { "" };
		int64_t deleted = 0;
		char key[512];
		int r;

		if (!ws_is_dns_label(name)) {
			fprintf(stderr, "error: \"%s\": a workspace name is a lowercase DNS label\n",
				name);
			ret = EXIT_FAIL;
			continue;
		}
		ws_spec_key(cli_namespace(ns_flag), name, key, sizeof(key));
		r = etcd_delete(c, key, &deleted, &e);
		if (r < 0) {
			ret = cli_fail("delete", r, &e);
			break;
		}
		if (deleted == 0) {
			if (!ignore) {
				fprintf(stderr, "error: workspace \"%s\" not found in namespace \"%s\"\n",
					name, cli_namespace(ns_flag));
				ret = EXIT_NOTFOUND;
			}
			continue;
		}
		printf("workspace.klangk.io \"%s\" deleted\n", name);
	}
	etcd_free(c);
	return ret;
}
