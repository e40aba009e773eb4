/* klangkc — printing views as tables, JSON, YAML or names (see cli.h). */
#include "cli.h"

#include "buf.h"
#include "ws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_parse_fmt(const char *s, enum cli_fmt *out)
{
	static const struct { const char *name; enum cli_fmt fmt; } fmts[] = {
		{ "table", FMT_TABLE }, { "wide", FMT_WIDE }, { "json", FMT_JSON },
		{ "yaml", FMT_YAML }, { "name", FMT_NAME },
	};

	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++)
		if (strcmp(s, fmts[i].name) == 0) {
			*out = fmts[i].fmt;
			return 0;
		}
	fprintf(stderr, "error: -o must be table, wide, json, yaml or name\n");
	return -1;
}

const char *cli_jstr(const json_t *o, const char *k, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s && *s ? s : dflt;
}

const char *cli_condition(const json_t *status, const char *type)
{
	size_t i;
	json_t *c;

	json_array_foreach(json_object_get(status, "conditions"), i, c)
		if (strcmp(cli_jstr(c, "type", ""), type) == 0)
			return cli_jstr(c, "status", "Unknown");
	return "Unknown";
}

void cli_print_header(enum cli_fmt fmt, bool all_ns)
{
	if (fmt != FMT_TABLE && fmt != FMT_WIDE)
		return;
	if (all_ns)
		printf("%-20s ", "NAMESPACE");
	printf("%-24s %-12s %-7s %-14s %s%s\n", "NAME", "PHASE", "READY", "ID",
	       "PORTS", fmt == FMT_WIDE ? "  NODE  IMAGE  URL" : "");
}

int cli_print_value(const json_t *v, bool json)
{
	struct err e = { "" };
	struct buf b;
	char *s;

	if (json) {
		s = json_dumps(v, JSON_INDENT(2));
		if (!s)
			return EXIT_FAIL;
		printf("%s\n", s);
		free(s);
		return EXIT_OK;
	}
	buf_init(&b, 0);
	if (codec_yaml_dump(v, &b, &e) < 0) {
		fprintf(stderr, "error: %s\n", e.msg);
		buf_free(&b);
		return EXIT_FAIL;
	}
	fputs(b.data ? b.data : "", stdout);
	buf_free(&b);
	return EXIT_OK;
}

void cli_print_row(const json_t *obj, enum cli_fmt fmt, bool all_ns)
{
	const json_t *meta = json_object_get(obj, "metadata");
	const json_t *st = json_object_get(obj, "status");
	struct buf ports;
	size_t i;
	json_t *p;

	switch (fmt) {
	case FMT_JSON:
	case FMT_YAML:
		if (fmt == FMT_YAML)
			printf("---\n");
		cli_print_value(obj, fmt == FMT_JSON);
		return;
	case FMT_NAME:
		printf("workspace.klangk.io/%s\n", cli_jstr(meta, "name", "-"));
		return;
	default:
		break;
	}
	buf_init(&ports, 4096);
	json_array_foreach(json_object_get(st, "ports"), i, p)
		buf_printf(&ports, "%s%lld", i ? "," : "",
			   (long long)json_integer_value(json_object_get(p, "host")));
	if (all_ns)
		printf("%-20s ", cli_jstr(meta, "namespace", "-"));
	printf("%-24s %-12s %-7s %-14s %s", cli_jstr(meta, "name", "-"),
	       cli_jstr(st, "phase", "Pending"), cli_condition(st, "Ready"),
	       cli_jstr(st, "id", "-"), ports.data ? ports.data : "-");
	if (fmt == FMT_WIDE) {
		const json_t *url = json_array_get(json_object_get(st, "urls"), 0);

		printf("  %s  %s  %s", cli_jstr(st, "nodeName", "-"),
		       cli_jstr(json_object_get(obj, "spec"), "image", WS_DEFAULT_IMAGE),
		       json_string_value(url) ? json_string_value(url) : "-");
	}
	printf("\n");
	buf_free(&ports);
}

int cli_print_list(const json_t *list, enum cli_fmt fmt, bool all_ns, bool single)
{
	json_t *wrapped;
	size_t i;
	json_t *o;
	int r;

	switch (fmt) {
	case FMT_JSON:
	case FMT_YAML:
		if (single)
			return cli_print_value(json_array_get(list, 0), fmt == FMT_JSON);
		wrapped = json_pack("{s:s,s:s,s:O}", "apiVersion", "v1", "kind", "List",
				    "items", list);
		if (!wrapped)
			return EXIT_FAIL;
		r = cli_print_value(wrapped, fmt == FMT_JSON);
		json_decref(wrapped);
		return r;
	case FMT_NAME:
		json_array_foreach(list, i, o)
			cli_print_row(o, fmt, all_ns);
		return EXIT_OK;
	default:
		if (json_array_size(list) == 0) {
			fprintf(stderr, "No workspaces found.\n");
			return EXIT_OK;
		}
		cli_print_header(fmt, all_ns);
		json_array_foreach(list, i, o)
			cli_print_row(o, fmt, all_ns);
		return EXIT_OK;
	}
}
