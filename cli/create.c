/*
 * klangkc create — create workspaces from files; an object that already
 * exists is an error (nothing is written then).  Like kubectl, create does
 * not record a last-applied configuration unless --save-config is given, so
 * a later apply removes nothing it did not apply itself.
 */
#include "cli.h"

#include <stdio.h>

const struct cliopt cli_opts_create[] = {
	CLI_OPT_FILENAME,
	CLI_OPT_RECURSIVE,
	CLIOPT_NAMESPACE,
	CLI_OPT_DRY_RUN,
	{ "save-config", 0, 's', NULL, NULL, "record the last-applied configuration, so a later\n"
	  "apply can remove fields removed from the file" },
	CLIOPT_HELP,
	CLIOPT_END,
};

int verb_create(int argc, char **argv)
{
	struct cliopt_parser p = { .opts = cli_opts_create };
	struct cli_file_opts fo = { 0 };
	struct cli_items items = { 0 };
	struct cli_plan plan = { 0 };
	enum cli_mode mode = MODE_CREATE;
	int opt, r, ret = EXIT_OK;
	struct etcd *c = NULL;

	while ((opt = cliopt_next(&p, argc, argv)) != -1) {
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
