/* klangkc — printing views as tables, JSON, YAML or names (see cli.h). */
#include "cli.h"

#include "buf.h"
#include "ws.h"

#include <errno.h>
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

void cli_status(const json_t *obj, struct status *out)
{
	if (status_from_json(json_object_get(obj, "status"), out) < 0)
		status_init(out);
}

int cli_container(const json_t *obj, char *buf, size_t len)
{
	struct status st;
	int r;

	cli_status(obj, &st);
	r = st.container.name[0] ? status_set_str(buf, len, st.container.name) : -ENOENT;
	status_clear(&st);
	return r;
}

int cli_view_table(enum cli_fmt fmt, bool all_ns, struct table **out)
{
	static const char *const cols[] = { "NAMESPACE", "NAME", "PHASE", "READY", "ID", "PORTS",
					    "NODE", "IMAGE", "CPU", "MEMORY", "PIDS", "URL" };
	size_t first = all_ns ? 0 : 1, end = fmt == FMT_WIDE ? 12 : 6;
	struct table *t = NULL;
	int r;

	if (fmt != FMT_TABLE && fmt != FMT_WIDE) {
		*out = NULL;
		return 0;
	}
	r = table_new(end - first, "", &t);
	for (size_t i = first; r == 0 && i < end; i++)
		r = table_cell(t, cols[i]);
	if (r < 0) {
		table_free(t);
		return r;
	}
	*out = t;
	return 0;
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

/* The cells of one view in a get table. */
static int view_cells(struct table *t, const json_t *obj, enum cli_fmt fmt, bool all_ns)
{
	const json_t *meta = json_object_get(obj, "metadata");
	const struct status_condition *ready;
	struct status st;
	struct buf ports;
	int r = 0;

	cli_status(obj, &st);
	ready = status_condition(&st, "Ready");
	buf_init(&ports, 4096);
	/* A members-only port (spec.hostedApps) says so, like "8080/tcp". */
	for (size_t i = 0; i < st.n_ports; i++)
		buf_printf(&ports, "%s%ld%s", i ? "," : "", st.ports[i].host,
			   st.ports[i].members ? "/members" : "");
	if (all_ns)
		r = table_cell(t, cli_jstr(meta, "namespace", "-"));
	if (r == 0)
		r = table_add(t, 5, cli_jstr(meta, "name", "-"), status_phase(&st),
			      ready && ready->status[0] ? ready->status : "Unknown",
			      st.id[0] ? st.id : "-", ports.data ? ports.data : "-");
	if (r == 0 && fmt == FMT_WIDE) {
		char pids[32] = "-";

		if (st.resources.cpu[0])
			snprintf(pids, sizeof(pids), "%lld", (long long)st.resources.pids);
		r = table_add(t, 6, st.node_name[0] ? st.node_name : "-",
			      cli_jstr(json_object_get(obj, "spec"), "image", WS_DEFAULT_IMAGE),
			      st.resources.cpu[0] ? st.resources.cpu : "-",
			      st.resources.memory[0] ? st.resources.memory : "-", pids,
			      st.n_urls ? st.urls[0] : "-");
	}
	buf_free(&ports);
	status_clear(&st);
	return r;
}

int cli_print_row(struct table *t, const json_t *obj, enum cli_fmt fmt, bool all_ns)
{
	switch (fmt) {
	case FMT_JSON:
	case FMT_YAML:
		if (fmt == FMT_YAML)
			printf("---\n");
		return cli_print_value(obj, fmt == FMT_JSON) == EXIT_OK ? 0 : -ENOMEM;
	case FMT_NAME:
		printf("workspace.klangk.io/%s\n",
		       cli_jstr(json_object_get(obj, "metadata"), "name", "-"));
		return 0;
	default:
		return view_cells(t, obj, fmt, all_ns);
	}
}

int cli_print_list(const json_t *list, enum cli_fmt fmt, bool all_ns, bool single)
{
	struct table *t = NULL;
	json_t *wrapped;
	size_t i;
	json_t *o;
	int r = 0;

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
			cli_print_row(NULL, o, fmt, all_ns);
		return EXIT_OK;
	default:
		if (json_array_size(list) == 0) {
			fprintf(stderr, "No workspaces found.\n");
			return EXIT_OK;
		}
		r = cli_view_table(fmt, all_ns, &t);
		json_array_foreach(list, i, o)
			if (r == 0)
				r = cli_print_row(t, o, fmt, all_ns);
		if (r == 0)
			table_flush(t, stdout);
		table_free(t);
		return r == 0 ? EXIT_OK : cli_fail(NULL, r, NULL);
	}
}
