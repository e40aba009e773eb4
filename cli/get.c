/* klangkc get — show workspaces as a table, JSON, YAML or names. */
#include "cli.h"

#include "buf.h"
#include "ws.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum out_fmt { OUT_TABLE, OUT_WIDE, OUT_JSON, OUT_YAML, OUT_NAME };

static const char *jstr(const json_t *o, const char *k, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s && *s ? s : dflt;
}

static const char *ready_of(const json_t *status)
{
	size_t i;
	json_t *c;

	json_array_foreach(json_object_get(status, "conditions"), i, c)
		if (strcmp(jstr(c, "type", ""), "Ready") == 0)
			return jstr(c, "status", "Unknown");
	return "Unknown";
}

static void print_row(const json_t *obj, bool all_ns, bool wide)
{
	const json_t *meta = json_object_get(obj, "metadata");
	const json_t *st = json_object_get(obj, "status");
	struct buf ports;
	size_t i;
	json_t *p;

	buf_init(&ports, 4096);
	json_array_foreach(json_object_get(st, "ports"), i, p)
		buf_printf(&ports, "%s%lld", i ? "," : "",
			   (long long)json_integer_value(json_object_get(p, "host")));
	if (all_ns)
		printf("%-20s ", jstr(meta, "namespace", "-"));
	printf("%-24s %-12s %-7s %-14s %s", jstr(meta, "name", "-"),
	       jstr(st, "phase", "Pending"), ready_of(st), jstr(st, "id", "-"),
	       ports.data ? ports.data : "-");
	if (wide) {
		const json_t *url = json_array_get(json_object_get(st, "urls"), 0);

		printf("  %s  %s", jstr(json_object_get(obj, "spec"), "image",
					WS_DEFAULT_IMAGE),
		       json_string_value(url) ? json_string_value(url) : "-");
	}
	printf("\n");
	buf_free(&ports);
}

static int print_objects(json_t *list, enum out_fmt fmt, bool all_ns, bool single)
{
	struct err e = { "" };
	json_t *wrapped = NULL;
	const json_t *v;
	size_t i;
	json_t *o;
	char *s;

	switch (fmt) {
	case OUT_JSON:
	case OUT_YAML:
		if (single)
			v = json_array_get(list, 0);
		else
			v = wrapped = json_pack("{s:s,s:s,s:O}", "apiVersion", "v1",
						"kind", "List", "items", list);
		if (fmt == OUT_JSON) {
			s = json_dumps(v, JSON_INDENT(2));
			if (!s)
				return EXIT_FAIL;
			printf("%s\n", s);
			free(s);
		} else {
			struct buf b;

			buf_init(&b, 0);
			if (codec_yaml_dump(v, &b, &e) < 0) {
				fprintf(stderr, "error: %s\n", e.msg);
				buf_free(&b);
				json_decref(wrapped);
				return EXIT_FAIL;
			}
			fputs(b.data, stdout);
			buf_free(&b);
		}
		json_decref(wrapped);
		return EXIT_OK;
	case OUT_NAME:
		json_array_foreach(list, i, o)
			printf("workspace.klangk.io/%s\n",
			       jstr(json_object_get(o, "metadata"), "name", "-"));
		return EXIT_OK;
	default:
		if (json_array_size(list) == 0) {
			fprintf(stderr, "No workspaces found.\n");
			return EXIT_OK;
		}
		if (all_ns)
			printf("%-20s ", "NAMESPACE");
		printf("%-24s %-12s %-7s %-14s %s%s\n", "NAME", "PHASE", "READY", "ID",
		       "PORTS", fmt == OUT_WIDE ? "  IMAGE  URL" : "");
		json_array_foreach(list, i, o)
			print_row(o, all_ns, fmt == OUT_WIDE);
		return EXIT_OK;
	}
}

/* Every workspace under prefix (a namespace, or all), spec joined with
 * status, read as two ranges. */
static int list_objects(struct etcd *c, const char *ns, json_t *list,
			struct err *e)
{
	struct etcd_kvs specs = { 0 }, stats = { 0 };
	char sp[512], tp[512];
	size_t j = 0;
	int r;

	snprintf(sp, sizeof(sp), WS_SPEC_PREFIX "%s%s", ns ? ns : "", ns ? "/" : "");
	snprintf(tp, sizeof(tp), WS_STATUS_PREFIX "%s%s", ns ? ns : "", ns ? "/" : "");
	r = etcd_list(c, sp, &specs, e);
	if (r < 0)
		goto out;
	r = etcd_list(c, tp, &stats, e);
	if (r < 0)
		goto out;
	/* Both lists are sorted by key; walk them together. */
	for (size_t i = 0; i < specs.n; i++) {
		const char *rest = specs.kvs[i].key + strlen(WS_SPEC_PREFIX);
		const struct etcd_kv *st = NULL;
		json_t *o;

		while (j < stats.n) {
			int cmp = strcmp(stats.kvs[j].key + strlen(WS_STATUS_PREFIX), rest);

			if (cmp < 0) {
				j++;
				continue;
			}
			if (cmp == 0)
				st = &stats.kvs[j];
			break;
		}
		o = cli_merge(&specs.kvs[i], st);
		if (!o || json_array_append_new(list, o) < 0) {
			r = -ENOMEM;
			goto out;
		}
	}
out:
	etcd_kvs_clear(&specs);
	etcd_kvs_clear(&stats);
	return r;
}

int verb_get(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "namespace", required_argument, NULL, 'n' },
		{ "all-namespaces", no_argument, NULL, 'A' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *ns_flag = NULL;
	enum out_fmt fmt = OUT_TABLE;
	bool all_ns = false;
	struct etcd *c = NULL;
	json_t *list = NULL;
	struct err e = { "" };
	int opt, r, ret = EXIT_OK;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "n:Ao:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			ns_flag = optarg;
			break;
		case 'A':
			all_ns = true;
			break;
		case 'o':
			if (strcmp(optarg, "json") == 0)
				fmt = OUT_JSON;
			else if (strcmp(optarg, "yaml") == 0)
				fmt = OUT_YAML;
			else if (strcmp(optarg, "wide") == 0)
				fmt = OUT_WIDE;
			else if (strcmp(optarg, "name") == 0)
				fmt = OUT_NAME;
			else if (strcmp(optarg, "table") == 0)
				fmt = OUT_TABLE;
			else {
				fprintf(stderr, "error: -o must be table, wide, json, yaml or name\n");
				return EXIT_USAGE;
			}
			break;
		case 'h':
			cli_usage("get", false);
			return EXIT_OK;
		default:
			cli_usage("get", true);
			return EXIT_USAGE;
		}
	}
	if (!ws_is_dns_label(cli_namespace(ns_flag))) {
		fprintf(stderr, "error: namespace \"%s\": must be a lowercase DNS label\n",
			cli_namespace(ns_flag));
		return EXIT_USAGE;
	}
	if (all_ns && optind < argc) {
		fprintf(stderr, "error: NAME cannot be combined with -A\n");
		return EXIT_USAGE;
	}
	if (cli_etcd(&c) < 0)
		return EXIT_FAIL;
	list = json_array();
	if (!list) {
		ret = EXIT_FAIL;
		goto out;
	}
	if (optind < argc) {
		for (int i = optind; i < argc; i++) {
			json_t *o = NULL;

			if (!ws_is_dns_label(argv[i])) {
				fprintf(stderr, "error: \"%s\": a workspace name is a lowercase DNS label\n",
					argv[i]);
				ret = EXIT_FAIL;
				continue;
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
		if (json_array_size(list) > 0 || ret == EXIT_OK) {
			int pr = print_objects(list, fmt, false, argc - optind == 1);

			if (ret == EXIT_OK)
				ret = pr;
		}
		goto out;
	}
	r = list_objects(c, all_ns ? NULL : cli_namespace(ns_flag), list, &e);
	if (r < 0) {
		ret = cli_fail("list", r, &e);
		goto out;
	}
	ret = print_objects(list, fmt, all_ns, false);
out:
	json_decref(list);
	etcd_free(c);
	return ret;
}
