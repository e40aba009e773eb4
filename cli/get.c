/*
 * klangkc get — show workspaces as a table, JSON, YAML or names; with
 * --watch, keep printing them as they change (an etcd watch on the spec and
 * status keys, resumed from the revision of the first list).
 */
#include "cli.h"

#include "keys.h"
#include "ws.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_int stop_flag; /* set by a signal handler (lock-free) */

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

struct watch_ctx {
	struct etcd *reader;        /* a second client: the watch holds the first */
	const char *ns;             /* NULL: all namespaces */
	char **names;               /* only these (n_names > 0) */
	int n_names;
	const struct selector *sel;
	enum cli_fmt fmt;
	bool all_ns;
	struct table *table;        /* borrowed: the list's, NULL unless a table */
	int failed;
};

static bool wanted(const struct watch_ctx *w, const char *ns, const char *name)
{
	if (w->ns && strcmp(w->ns, ns) != 0)
		return false;
	if (w->n_names == 0)
		return true;
	for (int i = 0; i < w->n_names; i++)
		if (strcmp(w->names[i], name) == 0)
			return true;
	return false;
}

/* Print the current state of each workspace an event batch touched. */
static int on_events(void *ud, const struct etcd_event *ev, size_t n, int64_t rev)
{
	struct watch_ctx *w = ud;
	json_t *seen = json_object();

	(void)rev;
	for (size_t i = 0; i < n; i++) {
		const char *key = ev[i].kv.key;
		char ns[256], name[256], id[520];
		struct err e = { "" };
		json_t *o = NULL;
		int r;

		if (keys_split(KEYS_SPEC, key, ns, sizeof(ns), name, sizeof(name)) < 0 &&
		    keys_split(KEYS_STATUS, key, ns, sizeof(ns), name, sizeof(name)) < 0)
			continue;
		snprintf(id, sizeof(id), "%s/%s", ns, name);
		if (!wanted(w, ns, name) || json_object_get(seen, id))
			continue;
		json_object_set_new(seen, id, json_true());
		r = cli_get_object(w->reader, ns, name, &o, &e);
		if (r == -ENOENT) {
			/* Gone for good: the last line says so. */
			struct status gone;

			status_init(&gone);
			STATUS_SET(gone.phase, "Deleted");
			o = json_pack("{s:s,s:s,s:{s:s,s:s},s:o}", "apiVersion",
				      WS_API_VERSION, "kind", WS_KIND, "metadata", "name",
				      name, "namespace", ns, "status", status_to_json(&gone));
		} else if (r < 0) {
			w->failed = cli_fail("watch", r, &e);
			json_decref(seen);
			return 1;
		}
		if (o && selector_match(w->sel, json_object_get(json_object_get(o, "metadata"),
								"labels")))
			cli_print_row(w->table, o, w->fmt, w->all_ns);
		json_decref(o);
	}
	json_decref(seen);
	if (w->table)
		table_flush(w->table, stdout);
	fflush(stdout);
	return stop_flag ? 1 : 0;
}

/* After a compaction: list again (printing everything) and go on from
 * the new revision, as kubectl does. */
static int relist(struct watch_ctx *w, int64_t *rev)
{
	json_t *list = json_array(), *o;
	struct err e = { "" };
	size_t i;
	int r;

	if (!list)
		return -ENOMEM;
	if (w->n_names) {
		char key[512];

		keys_ws(KEYS_SPEC, w->ns, w->names[0], key, sizeof(key));
		r = cli_revision(w->reader, key, rev, &e);
		for (int k = 0; r == 0 && k < w->n_names; k++) {
			if (cli_get_object(w->reader, w->ns, w->names[k], &o, &e) == 0)
				json_array_append_new(list, o);
		}
	} else {
		r = cli_list_objects(w->reader, w->ns, w->sel, true, list, rev, &e);
	}
	json_array_foreach(list, i, o)
		cli_print_row(w->table, o, w->fmt, w->all_ns);
	if (w->table)
		table_flush(w->table, stdout);
	fflush(stdout);
	json_decref(list);
	return r;
}

static int watch(struct etcd *c, struct watch_ctx *w, int64_t rev)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct err e = { "" };
	int64_t last = rev;
	char ns_prefix[512];
	const char *prefix = KEYS_ROOT;
	int r, failures = 0;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (cli_etcd(&w->reader) < 0)
		return EXIT_FAIL;
	while (!stop_flag) {
		int64_t before = last;

		r = etcd_watch(c, prefix, last + 1, on_events, w, &stop_flag, &last, &e);
		if (last > before)
			failures = 0;
		if (w->failed)
			return w->failed;
		if (stop_flag || r == -ECANCELED)
			break;
		if (r == -EACCES && prefix != ns_prefix && w->ns) {
			/* etcd's roles refuse the whole tree to a user limited to
			 * their namespace (docs/security.md): watch its
			 * statuses, which the controller rewrites after every
			 * spec change; each event reads the object anew. */
			keys_ns_prefix(KEYS_STATUS, w->ns, ns_prefix, sizeof(ns_prefix));
			prefix = ns_prefix;
			continue;
		}
		if (r == -EACCES) {
			fprintf(stderr, "error: %s\n", e.msg);
			return EXIT_FAIL;
		}
		if (r == -ESTALE && relist(w, &last) == 0) {
			failures = 0;
			continue;
		}
		/* The stream broke (etcd restarted, a proxy timed out):
		 * resume where it stopped. */
		fprintf(stderr, "warning: %s; resuming\n", e.msg);
		cli_backoff(++failures + 6, CLI_WATCH_CAP_MS);
	}
	return EXIT_OK;
}

const struct cliopt cli_opts_get[] = {
	CLIOPT_NAMESPACE,
	{ "all-namespaces", 'A', 0, NULL, NULL, "every namespace" },
	{ "output", 'o', 0, "FORMAT", "table wide json yaml name",
	  "table (default), wide, json, yaml or name" },
	CLI_OPT_SELECTOR("only workspaces whose labels match"),
	{ "watch", 'w', 0, NULL, NULL, "after the list, print each workspace again\n"
	  "whenever it changes (until interrupted)" },
	CLIOPT_HELP,
	CLIOPT_END,
};

int verb_get(int argc, char **argv)
{
	struct cliopt_parser p = { .opts = cli_opts_get };
	const char *ns_flag = NULL, *sel_text = NULL;
	enum cli_fmt fmt = FMT_TABLE;
	bool all_ns = false, do_watch = false;
	struct selector *sel = NULL;
	struct table *table = NULL;
	struct etcd *c = NULL;
	json_t *list = NULL;
	struct err e = { "" };
	int64_t rev = 0;
	int opt, r, ret = EXIT_OK;

	while ((opt = cliopt_next(&p, argc, argv)) != -1) {
		switch (opt) {
		case 'n':
			ns_flag = optarg;
			break;
		case 'A':
			all_ns = true;
			break;
		case 'o':
			if (cli_parse_fmt(optarg, &fmt) < 0)
				return EXIT_USAGE;
			break;
		case 'l':
			sel_text = optarg;
			break;
		case 'w':
			do_watch = true;
			break;
		case 'h':
			cli_usage("get", false);
			return EXIT_OK;
		default:
			cli_usage("get", true);
			return EXIT_USAGE;
		}
	}
	if (!cli_check_ns(cli_namespace(ns_flag)))
		return EXIT_USAGE;
	if (all_ns && optind < argc) {
		fprintf(stderr, "error: NAME cannot be combined with -A\n");
		return EXIT_USAGE;
	}
	if (sel_text && optind < argc) {
		fprintf(stderr, "error: NAME cannot be combined with -l\n");
		return EXIT_USAGE;
	}
	for (int i = optind; i < argc; i++)
		if (!cli_check_name(argv[i]))
			return EXIT_USAGE;
	if (cli_selector(sel_text, &sel) < 0)
		return EXIT_USAGE;
	if (cli_etcd(&c) < 0) {
		selector_free(sel);
		return EXIT_FAIL;
	}
	list = json_array();
	if (!list) {
		ret = EXIT_FAIL;
		goto out;
	}
	if (optind < argc) {
		for (int i = optind; i < argc; i++) {
			json_t *o = NULL;

			char key[512];

			keys_ws(KEYS_SPEC, cli_namespace(ns_flag), argv[i], key, sizeof(key));
			if (i == optind && (r = cli_revision(c, key, &rev, &e)) < 0) {
				ret = cli_fail(NULL, r, &e);
				goto out;
			}
			r = cli_get_object(c, cli_namespace(ns_flag), argv[i], &o, &e);
			if (r < 0) {
				ret = cli_fail(NULL, r, &e);
				if (r != -ENOENT)
					goto out;
				continue;
			}
			json_array_append_new(list, o);
		}
	} else {
		/* The table shows nothing of the stored object but its name. */
		r = cli_list_objects(c, all_ns ? NULL : cli_namespace(ns_flag), sel,
				     fmt != FMT_TABLE && fmt != FMT_NAME, list, &rev, &e);
		if (r < 0) {
			ret = cli_fail("list", r, &e);
			goto out;
		}
	}
	if (do_watch) {
		/* A stream of objects, each printed as it changes; the rows
		 * of a table line up with the first list's columns. */
		size_t i;
		json_t *o;

		r = cli_view_table(fmt, all_ns, &table);
		json_array_foreach(list, i, o)
			if (r == 0)
				r = cli_print_row(table, o, fmt, all_ns);
		if (r < 0) {
			ret = cli_fail(NULL, r, NULL);
			goto out;
		}
		if (table)
			table_flush(table, stdout);
	} else if (json_array_size(list) > 0 || ret == EXIT_OK) {
		int pr = cli_print_list(list, fmt, all_ns, argc - optind == 1);

		if (ret == EXIT_OK)
			ret = pr;
	}
	fflush(stdout);
	if (do_watch && (ret == EXIT_OK || ret == EXIT_NOTFOUND)) {
		struct watch_ctx w = {
			.ns = all_ns ? NULL : cli_namespace(ns_flag),
			.names = argv + optind,
			.n_names = argc - optind,
			.sel = sel,
			.fmt = fmt,
			.all_ns = all_ns,
			.table = table,
		};

		ret = watch(c, &w, rev);
		etcd_free(w.reader);
	}
out:
	table_free(table);
	json_decref(list);
	etcd_free(c);
	selector_free(sel);
	return ret;
}
