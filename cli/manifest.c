/*
 * klangkc — reading manifests: files, directories and stdin, every
 * document validated, problems printed with file, document index (from 0)
 * and field path.  Used by apply, create, diff and delete -f.
 */
#include "cli.h"

#include "buf.h"
#include "ws.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_INPUT_FILES 100000

void cli_items_clear(struct cli_items *it)
{
	for (size_t i = 0; i < it->n; i++) {
		free(it->v[i].where);
		free(it->v[i].ns);
		free(it->v[i].name);
		json_decref(it->v[i].obj);
	}
	free(it->v);
	it->v = NULL;
	it->n = 0;
}

void cli_paths_clear(struct cli_paths *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i]);
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

int cli_paths_add(struct cli_paths *p, const char *path)
{
	char **v;

	if (p->n >= MAX_INPUT_FILES)
		return -E2BIG;
	v = realloc(p->v, (p->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	p->v = v;
	p->v[p->n] = strdup(path);
	if (!p->v[p->n])
		return -ENOMEM;
	p->n++;
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
static int collect_dir(const char *dir, bool recursive, struct cli_paths *out,
		       struct err *e)
{
	struct cli_paths names = { 0 };
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
		if ((r = cli_paths_add(&names, de->d_name)) < 0)
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
			r = cli_paths_add(out, p.data);
		}
		buf_free(&p);
		if (r < 0)
			goto out;
	}
out:
	if (r == -E2BIG)
		err_set(e, "more than %d input files", MAX_INPUT_FILES);
	closedir(d);
	cli_paths_clear(&names);
	return r;
}

/* metadata.resourceVersion of a manifest: a precondition for the write. */
static int resource_version(const json_t *doc, int64_t *rv)
{
	const char *s = json_string_value(json_object_get(json_object_get(doc, "metadata"),
							  "resourceVersion"));
	char *end;
	long long v;

	*rv = 0;
	if (!s)
		return 0;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v <= 0)
		return -EINVAL;
	*rv = v;
	return 0;
}

static int add_item(struct cli_items *out, const char *where, const struct ws *w,
		    const json_t *doc, int64_t rv)
{
	struct cli_item *it = realloc(out->v, (out->n + 1) * sizeof(*it));

	if (!it)
		return -ENOMEM;
	out->v = it;
	it = &out->v[out->n++];
	memset(it, 0, sizeof(*it));
	it->rv = rv;
	it->where = strdup(where);
	it->ns = strdup(w->ns);
	it->name = strdup(w->name);
	it->obj = ws_canonical(doc, w->ns);
	if (!it->where || !it->ns || !it->name || !it->obj)
		return -ENOMEM;
	return 0;
}

/* Parse and validate one file's documents into out. */
static int load_file(const char *path, const char *ns_flag, struct cli_items *out,
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
		return r == -ENOMEM ? r : 0;
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
		int64_t rv = 0;

		snprintf(where, sizeof(where), "%s[%zu]", shown, i);
		err_clear(&e);
		if (ns_flag && doc_ns && strcmp(ns_flag, doc_ns) != 0) {
			fprintf(stderr, "error: %s: metadata.namespace: \"%s\" does not match "
					"the namespace \"%s\" given with -n\n",
				where, doc_ns, ns_flag);
			(*bad)++;
			continue;
		}
		r = ws_parse(doc, cli_namespace(ns_flag), &w, &e);
		if (r == -ENOMEM)
			goto out;
		if (r < 0) {
			cli_print_problems(where, e.msg, "");
			(*bad)++;
			continue;
		}
		if (resource_version(doc, &rv) < 0) {
			fprintf(stderr, "error: %s: metadata.resourceVersion: must be a "
					"positive decimal number\n", where);
			(*bad)++;
			ws_free(w);
			continue;
		}
		r = add_item(out, where, w, doc, rv);
		ws_free(w);
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	codec_docs_clear(&docs);
	free(data);
	return r;
}

int cli_load_manifests(const struct cli_paths *paths, bool recursive,
		       const char *ns_flag, struct cli_items *out, int *bad)
{
	struct cli_paths files = { 0 };
	struct err e = { "" };
	json_t *seen = json_object();
	int r = 0;

	if (!seen)
		return -ENOMEM;
	for (size_t i = 0; i < paths->n; i++) {
		struct stat st;

		if (strcmp(paths->v[i], "-") != 0 && stat(paths->v[i], &st) == 0 &&
		    S_ISDIR(st.st_mode)) {
			r = collect_dir(paths->v[i], recursive, &files, &e);
			if (r == -ENOMEM)
				goto out;
			if (r < 0) {
				fprintf(stderr, "error: %s\n", e.msg);
				(*bad)++;
				r = 0;
			}
		} else if ((r = cli_paths_add(&files, paths->v[i])) < 0) {
			goto out;
		}
	}
	if (files.n == 0 && *bad == 0) {
		fprintf(stderr, "error: no manifest files (*.yaml, *.yml, *.json) found\n");
		(*bad)++;
	}
	for (size_t i = 0; i < files.n; i++)
		if ((r = load_file(files.v[i], ns_flag, out, bad)) < 0)
			goto out;
	/* The same object twice in one run is almost certainly a mistake (a
	 * copied file); which one should win is not ours to guess. */
	for (size_t i = 0; i < out->n; i++) {
		char key[256];
		json_t *first;

		snprintf(key, sizeof(key), "%s/%s", out->v[i].ns, out->v[i].name);
		first = json_object_get(seen, key);
		if (first) {
			fprintf(stderr, "error: %s: workspace %s is also defined in %s\n",
				out->v[i].where, key,
				out->v[json_integer_value(first)].where);
			(*bad)++;
			continue;
		}
		if (json_object_set_new(seen, key, json_integer((json_int_t)i)) < 0) {
			r = -ENOMEM;
			goto out;
		}
	}
out:
	json_decref(seen);
	cli_paths_clear(&files);
	return r;
}

void cli_print_valid(const struct cli_items *items)
{
	for (size_t i = 0; i < items->n; i++)
		printf("workspace.klangk.io/%s valid (client dry run)\n", items->v[i].name);
}

int cli_file_opt(struct cli_file_opts *fo, int opt, const char *arg)
{
	switch (opt) {
	case 'f':
		if (cli_paths_add(&fo->paths, arg) < 0) {
			fprintf(stderr, "error: too many files\n");
			return EXIT_FAIL;
		}
		return EXIT_OK;
	case 'R':
		fo->recursive = true;
		return EXIT_OK;
	case 'n':
		fo->ns_flag = arg;
		return EXIT_OK;
	case 'd':
		return cli_parse_dry_run(arg, &fo->dry) < 0 ? EXIT_USAGE : EXIT_OK;
	default:
		return -1;
	}
}
