/*
 * klangkc create — create workspaces from files; an object that already
 * exists is an error (nothing is written then).  Like kubectl, create does
 * not record a last-applied configuration unless --save-config is given, so
 * a later apply removes nothing it did not apply itself.
 */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>

int verb_create(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "filename", required_argument, NULL, 'f' },
		{ "recursive", no_argument, NULL, 'R' },
		{ "namespace", required_argument, NULL, 'n' },
		{ "dry-run", required_argument, NULL, 'd' },
		{ "save-config", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct cli_file_opts fo = { 0 };
	struct cli_items items = { 0 };
	struct cli_plan plan = { 0 };
	enum cli_mode mode = MODE_CREATE;
	int opt, r, ret = EXIT_OK;
	struct etcd *c = NULL;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "f:Rn:h", opts, NULL)) != -1) {
		if ((r = cli_file_opt(&fo, opt, optarg)) >= 0) {
			if (r != EXIT_OK) {
				ret = r;
				goto out;
			}
			continue;
		}
		switch (opt) {
		case 's':
			mode = MODE_CREATE_SAVE;
			break;
		case 'h':
			cli_usage("create", false);
			goto out;
		default:
			cli_usage("create", true);
			ret = EXIT_USAGE;
			goto out;
		}
	}
	if (fo.paths.n == 0 || optind < argc) {
		fprintf(stderr, "error: create needs -f FILE|DIR|- (and no other arguments)\n");
		cli_usage("create", true);
		ret = EXIT_USAGE;
		goto out;
	}
	ret = cli_plan_prepare(&fo.paths, fo.recursive, fo.ns_flag, mode, fo.dry == DRY_CLIENT,
			       "created", &items, &plan, &c);
	if (ret != EXIT_OK)
		goto out;
	if (fo.dry == DRY_CLIENT) {
		cli_print_valid(&items);
		goto out;
	}
	ret = cli_plan_write(c, &plan, mode, fo.dry == DRY_SERVER);
out:
	etcd_free(c);
	cli_plan_clear(&plan);
	cli_items_clear(&items);
	cli_paths_clear(&fo.paths);
	return ret;
}
