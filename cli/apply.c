/*
 * klangkc apply — create or update workspaces from files, like kubectl's
 * client-side apply: a three-way merge with the last applied configuration
 * (lib/merge.h), so that a field removed from the file is removed from the
 * object while fields other writers set survive.
 *
 * Every document of every file is read and validated, and every merged
 * result validated, before anything is written (cli/plan.c).  --prune then
 * deletes the objects that carry the selector, were created by apply
 * (they have the last-applied annotation) and are not in the applied set.
 */
#include "cli.h"

#include "keys.h"
#include "merge.h"
#include "ws.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Delete one pruned object if it is still the one we listed. */
static int prune_one(struct etcd *c, const json_t *o, bool dry)
{
	const json_t *meta = json_object_get(o, "metadata");
	const char *ns = cli_jstr(meta, "namespace", ""), *name = cli_jstr(meta, "name", "");
	long long mod = strtoll(cli_jstr(meta, "resourceVersion", "0"), NULL, 10);
	struct err e = { "" };
	char key[512];
	bool ok = false;
	int r;

	if (dry) {
		printf("workspace.klangk.io/%s pruned (dry run)\n", name);
		return EXIT_OK;
	}
	if (keys_ws(KEYS_SPEC, ns, name, key, sizeof(key)) < 0)
		return EXIT_FAIL;
	r = cli_txn_if(c, key, mod, etcd_op_delete(key), &ok, &e);
	if (r < 0)
		return cli_fail("prune", r, &e);
	if (!ok) {
		/* Changed since we listed it: someone else owns it now. */
		fprintf(stderr, "warning: workspace %s/%s changed while pruning; not "
				"pruned\n", ns, name);
		return EXIT_OK;
	}
	printf("workspace.klangk.io/%s pruned\n", name);
	return EXIT_OK;
}

/*
 * Prune in the namespaces of the applied objects (and the -n namespace),
 * or in every namespace with -A.
 */
static int prune(struct etcd *c, const struct cli_items *items, const char *ns_flag,
		 bool all_ns, const struct selector *sel, bool dry)
{
	json_t *spaces = json_object(), *applied = json_object(), *list = NULL;
	const char *ns;
	json_t *v;
	int ret = EXIT_OK;

	if (!spaces || !applied)
		goto nomem;
	if (ns_flag)
		json_object_set_new(spaces, ns_flag, json_true());
	for (size_t i = 0; i < items->n; i++) {
		char key[256];

		snprintf(key, sizeof(key), "%s/%s", items->v[i].ns, items->v[i].name);
		json_object_set_new(applied, key, json_true());
		json_object_set_new(spaces, items->v[i].ns, json_true());
	}
	if (all_ns) {
		json_object_clear(spaces);
		json_object_set_new(spaces, "", json_true());
	}
	json_object_foreach(spaces, ns, v) {
		struct err e = { "" };
		size_t i;
		json_t *o;
		int r;

		list = json_array();
		if (!list)
			goto nomem;
		r = cli_list_objects(c, *ns ? ns : NULL, sel, true, list, NULL, &e);
		if (r < 0) {
			ret = cli_fail("prune", r, &e);
			goto out;
		}
		json_array_foreach(list, i, o) {
			const json_t *meta = json_object_get(o, "metadata");
			char key[256];

			snprintf(key, sizeof(key), "%s/%s", cli_jstr(meta, "namespace", ""),
				 cli_jstr(meta, "name", ""));
			/* Only what apply created (kubectl's rule), only what
			 * is not being torn down already, only what is no
			 * longer applied. */
			if (json_object_get(applied, key) ||
			    !json_object_get(meta, "resourceVersion") ||
			    !json_object_get(json_object_get(meta, "annotations"),
					     MERGE_LAST_APPLIED))
				continue;
			if ((r = prune_one(c, o, dry)) != EXIT_OK) {
				ret = r;
				goto out;
			}
		}
		json_decref(list);
		list = NULL;
	}
	goto out;
nomem:
	ret = cli_fail("prune", -ENOMEM, NULL);
out:
	json_decref(list);
	json_decref(spaces);
	json_decref(applied);
	return ret;
}

const struct cliopt cli_opts_apply[] = {
	CLI_OPT_FILENAME,
	CLI_OPT_RECURSIVE,
	CLIOPT_NAMESPACE,
	CLI_OPT_DRY_RUN,
	{ "prune", 0, 'p', NULL, NULL, "delete the objects that carry the selector, were\n"
	  "created by apply and are no longer in the files" },
	CLI_OPT_SELECTOR("the prune selector (a=b,c!=d,e,!f,g in (x,y))"),
	{ "all-namespaces", 'A', 0, NULL, NULL,
	  "prune in every namespace, not only those applied to" },
	CLIOPT_HELP,
	CLIOPT_END,
};

int verb_apply(int argc, char **argv)
{
	struct cliopt_parser p = { .opts = cli_opts_apply };
	struct cli_file_opts fo = { 0 };
	struct cli_items items = { 0 };
	struct cli_plan plan = { 0 };
	struct selector *sel = NULL;
	const char *sel_text = NULL;
	bool do_prune = false, all_ns = false;
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
		case 'p':
			do_prune = true;
			break;
		case 'l':
			sel_text = optarg;
			break;
		case 'A':
			all_ns = true;
			break;
		case 'h':
			cli_usage("apply", false);
			goto out;
		default:
			cli_usage("apply", true);
			ret = EXIT_USAGE;
			goto out;
		}
	}
	if (fo.paths.n == 0 || optind < argc) {
		fprintf(stderr, "error: apply needs -f FILE|DIR|- (and no other arguments)\n");
		cli_usage("apply", true);
		ret = EXIT_USAGE;
		goto out;
	}
	if (do_prune && !sel_text) {
		fprintf(stderr, "error: --prune needs a selector (-l): it deletes only "
				"objects carrying it\n");
		ret = EXIT_USAGE;
		goto out;
	}
	if ((sel_text || all_ns) && !do_prune) {
		fprintf(stderr, "error: -l and -A only apply to --prune\n");
		ret = EXIT_USAGE;
		goto out;
	}
	if (cli_selector(sel_text, &sel) < 0) {
		ret = EXIT_USAGE;
		goto out;
	}
	ret = cli_plan_prepare(&fo.paths, fo.recursive, fo.ns_flag, MODE_APPLY, fo.dry == DRY_CLIENT,
			       "applied", &items, &plan, &c);
	if (ret != EXIT_OK)
		goto out;
	if (fo.dry == DRY_CLIENT) {
		cli_print_valid(&items);
		goto out;
	}
	ret = cli_plan_write(c, &plan, MODE_APPLY, fo.dry == DRY_SERVER);
	if (ret == EXIT_OK && do_prune)
		ret = prune(c, &items, fo.ns_flag, all_ns, sel, fo.dry == DRY_SERVER);
out:
	etcd_free(c);
	cli_plan_clear(&plan);
	cli_items_clear(&items);
	cli_paths_clear(&fo.paths);
	selector_free(sel);
	return ret;
}
