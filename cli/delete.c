/*
 * klangkc delete — remove workspaces' desired objects (by name, from
 * files, or by selector).  Each delete is a transaction comparing the
 * mod_revision just read.  The controller then tears the workspace down
 * and removes its status key last; --wait waits for that (cli_wait).
 */
#include "cli.h"

#include "keys.h"
#include "ws.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Delete one spec key; 1 when it did not exist. */
static int delete_one(struct etcd *c, const char *ns, const char *name,
		      struct err *e)
{
	char key[512];
	int r;

	if (keys_ws(KEYS_SPEC, ns, name, key, sizeof(key)) < 0)
		return -EINVAL;
	for (int attempt = 1; attempt <= CLI_MAX_ATTEMPTS; attempt++) {
		struct etcd_kv kv = { 0 };
		bool ok = false;

		r = etcd_get(c, key, &kv, NULL, e);
		if (r == -ENOENT)
			return 1;
		if (r < 0)
			return r;
		r = cli_txn_if(c, key, kv.mod_revision, etcd_op_delete(key), &ok, e);
		etcd_kv_clear(&kv);
		if (r < 0 || ok)
			return r;
		/* Written meanwhile: the user still wants it gone. */
		cli_backoff(attempt, CLI_RETRY_CAP_MS);
	}
	err_set(e, "workspace %s/%s kept changing while being deleted", ns, name);
	return -EAGAIN;
}

static int add_target(struct cli_wait_target **t, size_t *n, const char *ns,
		      const char *name)
{
	struct cli_wait_target *nt = realloc(*t, (*n + 1) * sizeof(**t));

	if (!nt)
		return -ENOMEM;
	*t = nt;
	snprintf(nt[*n].ns, sizeof(nt[*n].ns), "%s", ns);
	snprintf(nt[*n].name, sizeof(nt[*n].name), "%s", name);
	(*n)++;
	return 0;
}

const struct cliopt cli_opts_delete[] = {
	CLIOPT_NAMESPACE,
	CLI_OPT_FILENAME,
	CLI_OPT_RECURSIVE,
	CLI_OPT_SELECTOR("the workspaces whose labels match"),
	{ "ignore-not-found", 0, 'i', NULL, NULL, "a missing workspace is not an error" },
	{ "wait", 0, 'w', NULL, NULL, "wait until the controller has removed everything" },
	CLI_OPT_TIMEOUT("how long --wait waits (default 60s)"),
	CLIOPT_HELP,
	CLIOPT_END,
};

int verb_delete(int argc, char **argv)
{
	const char *sel_text = NULL, *ns_flag;
	struct cliopt_parser p = { .opts = cli_opts_delete };
	struct cli_file_opts fo = { 0 };
	struct cli_items items = { 0 };
	struct cli_wait_target *t = NULL, *gone = NULL;
	struct selector *sel = NULL;
	bool ignore = false, wait = false;
	long timeout_ms = 60000;
	size_t n = 0, n_gone = 0;
	struct etcd *c = NULL;
	int opt, bad = 0, r, ret = EXIT_OK;

	while ((opt = cliopt_next(&p, argc, argv)) != -1) {
		if ((r = cli_file_opt(&fo, opt, optarg)) >= 0) {
			if (r != EXIT_OK) {
				ret = r;
				goto out;
			}
			continue;
		}
		switch (opt) {
		case 'l':
			sel_text = optarg;
			break;
		case 'i':
			ignore = true;
			break;
		case 'w':
			wait = true;
			break;
		case CLI_KEY_TIMEOUT:
			timeout_ms = cli_parse_duration(optarg);
			if (timeout_ms < 0) {
				fprintf(stderr, "error: --timeout: \"%s\" is not a duration\n",
					optarg);
				ret = EXIT_USAGE;
				goto out;
			}
			break;
		case 'h':
			cli_usage("delete", false);
			goto out;
		default:
			cli_usage("delete", true);
			ret = EXIT_USAGE;
			goto out;
		}
	}
	ns_flag = fo.ns_flag;
	if ((optind < argc) + (fo.paths.n > 0) + (sel_text != NULL) != 1) {
		fprintf(stderr, "error: delete needs one of NAME..., -f FILE or -l SELECTOR\n");
		cli_usage("delete", true);
		ret = EXIT_USAGE;
		goto out;
	}
	if (!cli_check_ns(cli_namespace(ns_flag)) || cli_selector(sel_text, &sel) < 0) {
		ret = EXIT_USAGE;
		goto out;
	}
	for (int i = optind; i < argc; i++) {
		if (!cli_check_name(argv[i])) {
			ret = EXIT_USAGE;
			goto out;
		}
		if (add_target(&t, &n, cli_namespace(ns_flag), argv[i]) < 0)
			goto nomem;
	}
	if (fo.paths.n) {
		if (cli_load_manifests(&fo.paths, fo.recursive, ns_flag, &items, &bad) < 0)
			goto nomem;
		if (bad) {
			fprintf(stderr, "error: %d invalid document%s; nothing was deleted\n",
				bad, bad == 1 ? "" : "s");
			ret = EXIT_FAIL;
			goto out;
		}
		for (size_t i = 0; i < items.n; i++)
			if (add_target(&t, &n, items.v[i].ns, items.v[i].name) < 0)
				goto nomem;
	}
	if (cli_etcd(&c) < 0) {
		ret = EXIT_FAIL;
		goto out;
	}
	if (sel) {
		json_t *list = json_array(), *o;
		struct err e = { "" };
		size_t i;

		r = list ? cli_list_objects(c, cli_namespace(ns_flag), sel, false, list, NULL, &e)
			 : -ENOMEM;
		if (r < 0) {
			json_decref(list);
			ret = cli_fail("list", r, &e);
			goto out;
		}
		json_array_foreach(list, i, o) {
			const json_t *m = json_object_get(o, "metadata");

			/* Already deleted, being torn down: nothing to do. */
			if (!json_object_get(m, "resourceVersion"))
				continue;
			if (add_target(&t, &n, cli_jstr(m, "namespace", ""),
				       cli_jstr(m, "name", "")) < 0) {
				json_decref(list);
				goto nomem;
			}
		}
		json_decref(list);
		if (n == 0)
			fprintf(stderr, "No workspaces found.\n");
	}
	for (size_t i = 0; i < n; i++) {
		struct err e = { "" };
		r = delete_one(c, t[i].ns, t[i].name, &e);

		if (r < 0) {
			ret = cli_fail("delete", r, &e);
			goto out;
		}
		if (r == 1) {
			if (!ignore) {
				fprintf(stderr, "error: workspace \"%s\" not found in namespace "
						"\"%s\"\n", t[i].name, t[i].ns);
				ret = EXIT_NOTFOUND;
			}
		} else {
			printf("workspace.klangk.io \"%s\" deleted\n", t[i].name);
		}
		if (add_target(&gone, &n_gone, t[i].ns, t[i].name) < 0)
			goto nomem;
	}
	fflush(stdout);
	if (wait && n_gone) {
		r = cli_wait(c, gone, n_gone, WAIT_DELETE, NULL, NULL, timeout_ms, true);

		if (ret == EXIT_OK)
			ret = r;
	}
	goto out;
nomem:
	ret = cli_fail(NULL, -ENOMEM, NULL);
out:
	free(t);
	free(gone);
	etcd_free(c);
	cli_items_clear(&items);
	cli_paths_clear(&fo.paths);
	selector_free(sel);
	return ret;
}
