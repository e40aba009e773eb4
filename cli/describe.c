/*
 * klangkc describe — one workspace for a person: metadata, spec, status,
 * conditions, ports and URLs, the container and volumes it owns (names
 * derived from KLANGK_INSTANCE_ID; their state asked from the engine at
 * DOCKER_HOST when it answers), and recent events (/klangk/events/<ns>/
 * <name>/..., when anything writes them).
 */
#include "cli.h"

#include "engine.h"
#include "merge.h"
#include "ws.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EVENTS 20

static void field(const char *indent, const char *name, const char *value)
{
	printf("%s%-20s %s\n", indent, name, value);
}

static void describe_map(const char *title, const json_t *m, bool skip_applied)
{
	const char *k;
	json_t *v;
	bool any = false;

	printf("%-20s ", title);
	json_object_foreach((json_t *)m, k, v) {
		if (skip_applied && strcmp(k, MERGE_LAST_APPLIED) == 0)
			continue;
		printf("%s%s=%s\n", any ? "                     " : "", k,
		       json_string_value(v) ? json_string_value(v) : "");
		any = true;
	}
	if (!any)
		printf("<none>\n");
}

static void describe_spec(const json_t *spec, const char *ns)
{
	const json_t *v, *item;
	char buf[64];
	size_t i;

	printf("Spec:\n");
	field("  ", "Image:", cli_jstr(spec, "image", WS_DEFAULT_IMAGE));
	v = json_object_get(spec, "command");
	printf("  %-20s", "Command:");
	if (json_array_size(v) == 0)
		printf(" <unset: tmux with a login shell>");
	json_array_foreach(v, i, item)
		printf(" %s", json_string_value(item) ? json_string_value(item) : "?");
	printf("\n");
	v = json_object_get(spec, "hostedPorts");
	snprintf(buf, sizeof(buf), "%lld", json_is_integer(v) ? (long long)json_integer_value(v)
							      : (long long)WS_MAX_HOSTED_PORTS);
	field("  ", "Hosted Ports:", buf);
	v = json_object_get(spec, "idleTimeoutSeconds");
	if (json_is_integer(v))
		snprintf(buf, sizeof(buf), "%llds", (long long)json_integer_value(v));
	else
		snprintf(buf, sizeof(buf), "<controller default>");
	field("  ", "Idle Timeout:", buf);
	field("  ", "Running:", json_is_false(json_object_get(spec, "running")) ? "false" : "true");
	field("  ", "Reclaim Policy:", cli_jstr(spec, "reclaimPolicy", "Delete"));
	printf("  Env:\n");
	json_array_foreach(json_object_get(spec, "env"), i, item)
		printf("    %s=%s\n", cli_jstr(item, "name", "?"), cli_jstr(item, "value", ""));
	printf("  Members:\n    %s (owner: the namespace)\n", ns);
	json_array_foreach(json_object_get(spec, "members"), i, item)
		printf("    %s (%s)\n", cli_jstr(item, "user", "?"), cli_jstr(item, "role", "coder"));
}

/* Print t, or why it could not be made (r < 0). */
static void print_table(struct table *t, int r)
{
	if (r == 0)
		table_flush(t, stdout);
	else
		printf("  <%s>\n", strerror(-r));
	table_free(t);
}

static void describe_status(const json_t *st)
{
	const json_t *item;
	struct table *t = NULL;
	size_t i;
	int r;

	printf("Status:\n");
	field("  ", "Phase:", cli_jstr(st, "phase", "Pending"));
	field("  ", "ID:", cli_jstr(st, "id", "<not assigned>"));
	if (json_is_integer(json_object_get(st, "observedGeneration")))
		printf("  %-20s %lld\n", "Observed Generation:",
		       (long long)json_integer_value(json_object_get(st, "observedGeneration")));
	printf("  Ports:\n");
	json_array_foreach(json_object_get(st, "ports"), i, item) {
		const char *url = json_string_value(json_array_get(json_object_get(st, "urls"), i));

		printf("    %lld -> %lld  %s\n",
		       (long long)json_integer_value(json_object_get(item, "container")),
		       (long long)json_integer_value(json_object_get(item, "host")),
		       url ? url : "");
	}
	printf("Conditions:\n");
	if (json_array_size(json_object_get(st, "conditions")) == 0) {
		printf("  <none>\n");
		return;
	}
	r = table_new(5, "  ", &t);
	if (r == 0)
		r = table_add(t, 5, "TYPE", "STATUS", "REASON", "LAST TRANSITION", "MESSAGE");
	json_array_foreach(json_object_get(st, "conditions"), i, item)
		if (r == 0)
			r = table_add(t, 5, cli_jstr(item, "type", "?"),
				      cli_jstr(item, "status", "Unknown"), cli_jstr(item, "reason", "-"),
				      cli_jstr(item, "lastTransitionTime", "-"),
				      cli_jstr(item, "message", ""));
	print_table(t, r);
}

/* The container and volumes, with their state when the engine answers. */
static void describe_engine(const char *ns, const char *name, const json_t *spec)
{
	const char *inst = getenv("KLANGK_INSTANCE_ID");
	struct engine *g = NULL;
	struct err e = { "" };
	char cname[512], vname[512], path[256];
	json_t *info = NULL, *item;
	bool up = false;
	size_t i;

	if (!inst || !*inst)
		inst = "default";
	if (engine_new(engine_default_host(), &g, &e) == 0 && engine_ping(g, &e) == 0)
		up = true;
	ws_container_name(inst, ns, name, cname, sizeof(cname));
	printf("Container:\n");
	field("  ", "Name:", cname);
	if (!up) {
		printf("  %-20s unknown (engine at %s: %s)\n", "State:", engine_default_host(),
		       e.msg[0] ? e.msg : "not reachable");
	} else if (engine_container_inspect(g, cname, &info, &e) == 0) {
		const json_t *state = json_object_get(info, "State");

		field("  ", "State:", cli_jstr(state, "Status", "unknown"));
		field("  ", "Started:", cli_jstr(state, "StartedAt", "-"));
		field("  ", "Image:", cli_jstr(json_object_get(info, "Config"), "Image", "-"));
		field("  ", "Spec Hash:", cli_jstr(json_object_get(json_object_get(info, "Config"),
								    "Labels"), "klangk.spec-hash", "-"));
	} else {
		field("  ", "State:", "absent");
	}
	json_decref(info);
	info = NULL;
	printf("Volumes:\n");
	for (int k = 0; k < 2; k++) {
		const char *which = k ? "work" : "home";
		const char *state = "unknown";

		ws_volume_name(inst, ns, name, which, vname, sizeof(vname));
		if (k)
			ws_work_path(ns, path, sizeof(path));
		else
			ws_home_path(ns, path, sizeof(path));
		if (up)
			state = engine_volume_inspect(g, vname, &info, &e) == 0 ? "present" : "absent";
		json_decref(info);
		info = NULL;
		printf("  %-40s -> %-24s %s\n", vname, path, state);
	}
	json_array_foreach(json_object_get(spec, "mounts"), i, item) {
		const char *src = cli_jstr(item, "source", "?");

		printf("  %-40s -> %-24s %s%s\n", src, cli_jstr(item, "target", "?"),
		       src[0] == '/' ? "bind" : "named volume",
		       json_is_true(json_object_get(item, "readOnly")) ? ", read-only" : "");
	}
	engine_free(g);
}

static void describe_events(struct etcd *c, const char *ns, const char *name)
{
	struct etcd_kvs kvs = { 0 };
	struct err e = { "" };
	struct table *t = NULL;
	char prefix[512];
	int r;

	printf("Events:\n");
	snprintf(prefix, sizeof(prefix), "/klangk/events/%s/%s/", ns, name);
	if (etcd_list(c, prefix, &kvs, &e) < 0 || kvs.n == 0) {
		printf("  <none>\n");
		etcd_kvs_clear(&kvs);
		return;
	}
	r = table_new(4, "  ", &t);
	if (r == 0)
		r = table_add(t, 4, "TIME", "TYPE", "REASON", "MESSAGE");
	/* Keys sort by time when the writer names them so; show the last. */
	for (size_t i = kvs.n > MAX_EVENTS ? kvs.n - MAX_EVENTS : 0; r == 0 && i < kvs.n; i++) {
		json_t *ev = json_loads(kvs.kvs[i].value, 0, NULL);

		if (json_is_object(ev))
			r = table_add(t, 4, cli_jstr(ev, "lastTimestamp", cli_jstr(ev, "time",
					cli_jstr(ev, "eventTime", "-"))),
				      cli_jstr(ev, "type", "Normal"), cli_jstr(ev, "reason", "-"),
				      cli_jstr(ev, "message", ""));
		else /* not an event: shown whole, in the message's column */
			r = table_add(t, 4, "-", "-", "-", kvs.kvs[i].value);
		json_decref(ev);
	}
	print_table(t, r);
	etcd_kvs_clear(&kvs);
}

int verb_describe(int argc, char **argv)
{
	const char *ns;
	struct etcd *c = NULL;
	int opt, first, ret = EXIT_OK;

	opt = cli_name_args("describe", argc, argv, 1, 0, -1, &ns, &first);
	if (opt >= 0)
		return opt;
	if (cli_etcd(&c) < 0)
		return EXIT_FAIL;
	for (int i = first; i < argc; i++) {
		struct err e = { "" };
		json_t *o = NULL;
		const json_t *meta;
		int r = cli_get_object(c, ns, argv[i], &o, &e);

		if (r < 0) {
			ret = cli_fail(NULL, r, &e);
			if (r != -ENOENT)
				break;
			continue;
		}
		if (i > first)
			printf("\n");
		meta = json_object_get(o, "metadata");
		field("", "Name:", cli_jstr(meta, "name", "-"));
		field("", "Namespace:", ns);
		describe_map("Labels:", json_object_get(meta, "labels"), false);
		describe_map("Annotations:", json_object_get(meta, "annotations"), true);
		field("", "API Version:", WS_API_VERSION);
		field("", "Kind:", WS_KIND);
		field("", "Resource Version:", cli_jstr(meta, "resourceVersion", "<deleted>"));
		if (json_is_integer(json_object_get(meta, "generation")))
			printf("%-20s %lld\n", "Generation:",
			       (long long)json_integer_value(json_object_get(meta, "generation")));
		describe_spec(json_object_get(o, "spec"), ns);
		describe_status(json_object_get(o, "status"));
		describe_engine(ns, argv[i], json_object_get(o, "spec"));
		describe_events(c, ns, argv[i]);
		json_decref(o);
	}
	etcd_free(c);
	return ret;
}
