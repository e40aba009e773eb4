/*
 * klangkc apply — create or update workspaces from files.
 *
 * Two phases: read and validate every document of every file, then write.
 * Nothing is written unless every document is valid, so a broken file in a
 * GitOps repository never leaves the store half-applied.  Each write is an
 * etcd transaction that compares the key's mod_revision with the one read.
 */
#include "cli.h"

#include "buf.h"
#include "ws.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_INPUT_FILES 10000

enum dry_run { DRY_NONE, DRY_CLIENT, DRY_SERVER };

struct item {
	char *where;     /* "file[i]" for messages */
	char *ns;
	char *name;
	char *value;     /* canonical JSON to store */
};

struct items {
	struct item *v;
	size_t n;
};

struct files {
	char **v;
	size_t n;
};

static void items_clear(struct items *it)
{
	for (size_t i = 0; i < it->n; i++) {
		free(it->v[i].where);
		free(it->v[i].ns);
		free(it->v[i].name);
		free(it->v[i].value);
	}
	free(it->v);
}

static void files_clear(struct files *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->v[i]);
	free(f->v);
}

static int files_add(struct files *f, const char *path)
{
	char **v;

	if (f->n >= MAX_INPUT_FILES)
		return -E2BIG;
	v = realloc(f->v, (f->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	f->v = v;
	f->v[f->n] = strdup(path);
	if (!f->v[f->n])
		return -ENOMEM;
	f->n++;
	return 0;
}

static bool manifest_name(const char *n)
{
	size_t l = strlen(n);

	return (l > 5 && strcmp(n + l - 5, ".yaml") == 0) ||
	       (l > 4 && strcmp(n + l - 4, ".yml") == 0) ||
	       (l > 5 && strcmp(n + l - 5, ".json") == 0);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collect manifest files below dir, sorted, descending when recursive. */
static int collect_dir(const char *dir, bool recursive, struct files *out,
		       struct err *e)
{
	struct files names = { 0 };
	struct dirent *de;
	DIR *d = opendir(dir);
	int r = 0;

	if (!d) {
		err_set(e, "%s: %s", dir, strerror(errno));
		return -errno;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if ((r = files_add(&names, de->d_name)) < 0)
			goto out;
	}
	qsort(names.v, names.n, sizeof(*names.v), cmp_str);
	for (size_t i = 0; i < names.n; i++) {
		struct buf p;
		struct stat st;

		buf_init(&p, 8192);
		if (buf_printf(&p, "%s/%s", dir, names.v[i]) < 0 ||
		    stat(p.data, &st) < 0) {
			buf_free(&p);
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			if (recursive)
				r = collect_dir(p.data, true, out, e);
		} else if (S_ISREG(st.st_mode) && manifest_name(names.v[i])) {
			r = files_add(out, p.data);
		}
		buf_free(&p);
		if (r < 0)
			goto out;
	}
out:
	if (r == -E2BIG)
		err_set(e, "more than %d input files", MAX_INPUT_FILES);
	closedir(d);
	files_clear(&names);
	return r;
}

/* Print each line of a multi-line message with a prefix. */
static void print_lines(const char *prefix, const char *msg)
{
	const char *p = msg;

	while (*p) {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);

		fprintf(stderr, "%s: %.*s\n", prefix, len, p);
		if (!nl)
			break;
		p = nl + 1;
	}
}

/* Phase one: parse and validate; returns the number of bad documents. */
static int load_file(const char *path, const char *ns_flag, struct items *out,
		     int *bad)
{
	const char *shown = strcmp(path, "-") == 0 ? "<stdin>" : path;
	struct codec_docs docs = { 0 };
	struct err e = { "" };
	char *data = NULL;
	size_t len = 0;
	int r;

	r = cli_read_file(path, &data, &len, &e);
	if (r < 0) {
		fprintf(stderr, "error: %s\n", e.msg);
		(*bad)++;
		return 0;
	}
	r = codec_yaml_load(data, len, &docs, &e);
	if (r < 0) {
		fprintf(stderr, "error: %s: not valid YAML: %s\n", shown, e.msg);
		(*bad)++;
		r = r == -ENOMEM ? r : 0;
		goto out;
	}
	if (docs.n == 0) {
		fprintf(stderr, "error: %s: no objects in file\n", shown);
		(*bad)++;
		goto out;
	}
	for (size_t i = 0; i < docs.n; i++) {
		const json_t *doc = docs.docs[i].value;
		const char *doc_ns = json_string_value(
			json_object_get(json_object_get(doc, "metadata"), "namespace"));
		char where[4200];
		struct ws *w = NULL;
		json_t *canon;
		struct item *it;

		snprintf(where, sizeof(where), "%s[%zu]", shown, i);
		err_clear(&e);
		if (ns_flag && doc_ns && strcmp(ns_flag, doc_ns) != 0) {
			fprintf(stderr, "error: %s: metadata.namespace: \"%s\" does not "
					"match the namespace \"%s\" given with -n\n",
				where, doc_ns, ns_flag);
			(*bad)++;
			continue;
		}
		r = ws_parse(doc, cli_namespace(ns_flag), &w, &e);
		if (r == -ENOMEM)
			goto out;
		if (r < 0) {
			char pre[4300];

			snprintf(pre, sizeof(pre), "error: %s", where);
			print_lines(pre, e.msg);
			(*bad)++;
			continue;
		}
		canon = ws_canonical(doc, w->ns);
		it = realloc(out->v, (out->n + 1) * sizeof(*it));
		if (!canon || !it) {
			json_decref(canon);
			ws_free(w);
			r = -ENOMEM;
			goto out;
		}
		out->v = it;
		it = &out->v[out->n++];
		it->where = strdup(where);
		it->ns = strdup(w->ns);
		it->name = strdup(w->name);
		it->value = json_dumps(canon, JSON_COMPACT);
		json_decref(canon);
		ws_free(w);
		if (!it->where || !it->ns || !it->name || !it->value) {
			r = -ENOMEM;
			goto out;
		}
		if (strlen(it->value) > WS_MAX_OBJECT) {
			fprintf(stderr, "error: %s: object larger than %u bytes\n", where,
				WS_MAX_OBJECT);
			(*bad)++;
		}
	}
	r = 0;
out:
	codec_docs_clear(&docs);
	free(data);
	return r;
}

/* Write one object; prints the kubectl-style result line. */
static int write_item(struct etcd *c, const struct item *it, enum dry_run dry)
{
	char key[512];
	struct err e = { "" };
	int r;

	ws_spec_key(it->ns, it->name, key, sizeof(key));
	for (int attempt = 0; attempt < 5; attempt++) {
		struct etcd_kv cur = { 0 };
		bool exists, ok = false;
		json_t *cmp, *ops;
		const char *verb;

		r = etcd_get(c, key, &cur, NULL, &e);
		if (r < 0 && r != -ENOENT)
			return cli_fail(it->where, r, &e);
		exists = r == 0;
		if (exists && cur.value_len == strlen(it->value) &&
		    memcmp(cur.value, it->value, cur.value_len) == 0) {
			etcd_kv_clear(&cur);
			printf("workspace.klangk.io/%s unchanged%s\n", it->name,
			       dry == DRY_SERVER ? " (server dry run)" : "");
			return EXIT_OK;
		}
		verb = exists ? "configured" : "created";
		if (dry == DRY_SERVER) {
			etcd_kv_clear(&cur);
			printf("workspace.klangk.io/%s %s (server dry run)\n", it->name, verb);
			return EXIT_OK;
		}
		cmp = json_pack("[o]", etcd_cmp_mod(key, exists ? cur.mod_revision : 0));
		ops = json_pack("[o]", etcd_op_put(key, it->value, strlen(it->value), 0));
		/* Never send a transaction whose compare failed to build: it
		 * would be an unconditional write. */
		if (!cmp || !ops) {
			json_decref(cmp);
			json_decref(ops);
			etcd_kv_clear(&cur);
			return cli_fail(it->where, -ENOMEM, NULL);
		}
		r = etcd_txn(c, cmp, ops, NULL, &ok, NULL, &e);
		etcd_kv_clear(&cur);
		if (r < 0)
			return cli_fail(it->where, r, &e);
		if (ok) {
			printf("workspace.klangk.io/%s %s\n", it->name, verb);
			return EXIT_OK;
		}
		/* Someone wrote the object between our read and our write:
		 * apply replaces the whole object, so read again and retry. */
	}
	fprintf(stderr, "error: %s: workspace %s/%s kept changing while being "
			"applied (conflict)\n", it->where, it->ns, it->name);
	return EXIT_CONFLICT;
}

int verb_apply(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "filename", required_argument, NULL, 'f' },
		{ "recursive", no_argument, NULL, 'R' },
		{ "namespace", required_argument, NULL, 'n' },
		{ "dry-run", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct files args = { 0 }, files = { 0 };
	struct items items = { 0 };
	const char *ns_flag = NULL;
	enum dry_run dry = DRY_NONE;
	bool recursive = false;
	struct etcd *c = NULL;
	struct err e = { "" };
	int opt, bad = 0, ret = EXIT_OK;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "f:Rn:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			if (files_add(&args, optarg) < 0)
				return EXIT_FAIL;
			break;
		case 'R':
			recursive = true;
			break;
		case 'n':
			ns_flag = optarg;
			break;
		case 'd':
			if (strcmp(optarg, "client") == 0)
				dry = DRY_CLIENT;
			else if (strcmp(optarg, "server") == 0)
				dry = DRY_SERVER;
			else if (strcmp(optarg, "none") == 0)
				dry = DRY_NONE;
			else {
				fprintf(stderr, "error: --dry-run must be none, client or server\n");
				ret = EXIT_USAGE;
				goto out;
			}
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
	if (args.n == 0 || optind < argc) {
		fprintf(stderr, "error: apply needs -f FILE|DIR|- (and no other arguments)\n");
		cli_usage("apply", true);
		ret = EXIT_USAGE;
		goto out;
	}
	if (ns_flag && !ws_is_dns_label(ns_flag)) {
		fprintf(stderr, "error: namespace \"%s\": must be a lowercase DNS label\n",
			ns_flag);
		ret = EXIT_USAGE;
		goto out;
	}
	for (size_t i = 0; i < args.n; i++) {
		struct stat st;

		if (strcmp(args.v[i], "-") != 0 && stat(args.v[i], &st) == 0 &&
		    S_ISDIR(st.st_mode)) {
			if (collect_dir(args.v[i], recursive, &files, &e) < 0) {
				fprintf(stderr, "error: %s\n", e.msg);
				ret = EXIT_FAIL;
				goto out;
			}
		} else if (files_add(&files, args.v[i]) < 0) {
			ret = EXIT_FAIL;
			goto out;
		}
	}
	if (files.n == 0) {
		fprintf(stderr, "error: no manifest files (*.yaml, *.yml, *.json) found\n");
		ret = EXIT_FAIL;
		goto out;
	}
	for (size_t i = 0; i < files.n; i++)
		if (load_file(files.v[i], ns_flag, &items, &bad) < 0) {
			fprintf(stderr, "error: out of memory\n");
			ret = EXIT_FAIL;
			goto out;
		}
	/* The same object twice in one apply is almost certainly a mistake
	 * (a copied file); which one should win is not ours to guess. */
	for (size_t i = 0; i < items.n; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(items.v[i].ns, items.v[j].ns) == 0 &&
			    strcmp(items.v[i].name, items.v[j].name) == 0) {
				fprintf(stderr, "error: %s: workspace %s/%s is also defined in %s\n",
					items.v[i].where, items.v[i].ns, items.v[i].name,
					items.v[j].where);
				bad++;
				break;
			}
	if (bad) {
		fprintf(stderr, "error: %d invalid document%s; nothing was applied\n", bad,
			bad == 1 ? "" : "s");
		ret = EXIT_FAIL;
		goto out;
	}
	if (dry == DRY_CLIENT) {
		for (size_t i = 0; i < items.n; i++)
			printf("workspace.klangk.io/%s valid (client dry run)\n", items.v[i].name);
		goto out;
	}
	if (cli_etcd(&c) < 0) {
		ret = EXIT_FAIL;
		goto out;
	}
	for (size_t i = 0; i < items.n && ret == EXIT_OK; i++)
		ret = write_item(c, &items.v[i], dry);
out:
	etcd_free(c);
	items_clear(&items);
	files_clear(&args);
	files_clear(&files);
	return ret;
}
