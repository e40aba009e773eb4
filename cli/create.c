/*
 * klangkc create — create workspaces from files; an object that already
 * exists is an error (nothing is written then).  Like kubectl, create does
 * not record a last-applied configuration unless --save-config is given, so
 * a later apply removes nothing it did not apply itself.
 */
#include "cli.h"

#include <errno.h>
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
	struct cli_paths paths = { 0 };
	struct cli_items items = { 0 };
	struct cli_plan plan = { 0 };
	enum cli_mode mode = MODE_CREATE;
	const char *ns_flag = NULL;
	bool recursive = false;
	int dry = DRY_NONE, opt, bad = 0, r, ret = EXIT_OK;
	struct etcd *c = NULL;
	struct err e = { "" };

	optind = 1;
	while ((opt = getopt_long(argc, argv, "f:Rn:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			if (cli_paths_add(&paths, optarg) < 0) {
				ret = EXIT_FAIL;
				goto out;
			}
			break;
		case 'R':
			recursive = true;
			break;
		case 'n':
			ns_flag = optarg;
			break;
		case 'd':
			if (cli_parse_dry_run(optarg, &dry) < 0) {
				ret = EXIT_USAGE;
				goto out;
			}
			break;
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
	if (paths.n == 0 || optind < argc) {
		fprintf(stderr, "error: create needs -f FILE|DIR|- (and no other arguments)\n");
		cli_usage("create", true);
		ret = EXIT_USAGE;
		goto out;
	}
	if (ns_flag && !cli_check_ns(ns_flag)) {
		ret = EXIT_USAGE;
		goto out;
	}
	if (cli_load_manifests(&paths, recursive, ns_flag, &items, &bad) < 0) {
		ret = cli_fail(NULL, -ENOMEM, NULL);
		goto out;
	}
	if (bad) {
		fprintf(stderr, "error: %d invalid document%s; nothing was created\n", bad,
			bad == 1 ? "" : "s");
		ret = EXIT_FAIL;
		goto out;
	}
	if (dry == DRY_CLIENT) {
		for (size_t i = 0; i < items.n; i++)
			printf("workspace.klangk.io/%s valid (client dry run)\n",
			       items.v[i].name);
		goto out;
	}
	if (cli_etcd(&c) < 0) {
		ret = EXIT_FAIL;
		goto out;
	}
	if ((r = cli_plan_read(c, &items, &plan, &e)) < 0) {
		ret = cli_fail("read", r, &e);
		goto out;
	}
	ret = cli_plan_compute(&plan, mode);
	if (ret != EXIT_OK) {
		fprintf(stderr, "error: nothing was created\n");
		goto out;
	}
	ret = cli_plan_write(c, &plan, mode, dry == DRY_SERVER);
out:
	etcd_free(c);
	cli_plan_clear(&plan);
	cli_items_clear(&items);
	cli_paths_clear(&paths);
	return ret;
}
