/*
 * klangkc describe — one workspace for a person: metadata, spec, status,
 * conditions, ports and URLs, the container as the controller last saw it
 * (status.container; klangkc never asks the engine), the volumes it owns
 * (names derived from KLANGK_INSTANCE_ID), and recent events.
 */
#include "cli.h"

#include "keys.h"
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
	printf("  Hosted Apps:\n");
	if (json_array_size(json_object_get(spec, "hostedApps")) == 0)
		printf("    <none: every hosted port is public>\n");
	json_array_foreach(json_object_get(spec, "hostedApps"), i, item) {
		const json_t *port = json_object_get(item, "port");

		printf("    %lld: %s\n", json_is_integer(port) ? (long long)json_integer_value(port) : 0LL,
		       cli_jstr(item, "access", "public"));
	}
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

static void describe_status(const struct status *st)
{
	struct table *t = NULL;
	int r;

	printf("Status:\n");
	field("  ", "Phase:", status_phase(st));
	field("  ", "ID:", st->id[0] ? st->id : "<not assigned>");
	if (st->has_generation)
		printf("  %-20s %lld\n", "Observed Generation:",
		       (long long)st->observed_generation);
	if (st->node_name[0])
		field("  ", "Node:", st->node_name);
	if (st->last_activity[0])
		field("  ", "Last Activity:", st->last_activity);
	if (st->idle_since[0])
		field("  ", "Idle Since:", st->idle_since);
	/* Who may open each URL (spec.hostedApps): members only, or anyone
	 * who has it. */
	printf("  Ports:\n");
	for (size_t i = 0; i < st->n_ports; i++)
		printf("    %ld -> %ld  %s%s\n", st->ports[i].container, st->ports[i].host,
		       i < st->n_urls ? st->urls[i] : "",
		       st->ports[i].members ? "  (members only)" : "");
	printf("Conditions:\n");
	if (st->n_conditions == 0) {
		printf("  <none>\n");
		return;
	}
	r = table_new(5, "  ", &t);
	if (r == 0)
		r = table_add(t, 5, "TYPE", "STATUS", "REASON", "LAST TRANSITION", "MESSAGE");
	for (size_t i = 0; r == 0 && i < st->n_conditions; i++) {
		const struct status_condition *k = &st->conditions[i];

		r = table_add(t, 5, k->type, k->status[0] ? k->status : "Unknown",
			      k->reason[0] ? k->reason : "-",
			      k->last_transition[0] ? k->last_transition : "-",
			      k->message ? k->message : "");
	}
	print_table(t, r);
}

/*
 * The container as the controller last saw it (status.container): the
 * client never asks the engine, which it may not reach (a remote engine,
 * a socket only the controller may open), and what the controller saw is
 * what it acts on.  Then the volumes the workspace mounts.
 */
/* The restarts after crashes (status.restarts): how many, the last exit,
 * and the pending restart while one waits. */
static void describe_restarts(const struct status_restarts *x)
{
	char n[32], last[128];

	snprintf(n, sizeof(n), "%lld", (long long)x->count);
	field("  ", "Restarts:", n);
	if (!x->count)
		return;
	snprintf(last, sizeof(last), "%s, exit code %d, at %s", x->last_reason,
		 x->last_exit_code, x->last_finished_at[0] ? x->last_finished_at : "-");
	field("  ", "Last Exit:", last);
	if (x->next_restart_at[0])
		field("  ", "Next Restart:", x->next_restart_at);
}

static void describe_container(const char *ns, const char *name, const struct status *st,
			       const json_t *spec)
{
	const struct status_container *k = &st->container;
	const char *inst = getenv("KLANGK_INSTANCE_ID");
	char vname[512], path[256], code[64];
	json_t *item;
	size_t i;

	if (!inst || !*inst)
		inst = "default";
	printf("Container:\n");
	field("  ", "Name:", k->name[0] ? k->name : "<not created yet>");
	if (k->state[0]) {
		field("  ", "State:", k->state);
		if (strcmp(k->state, "running") != 0) {
			snprintf(code, sizeof(code), "%d%s", k->exit_code,
				 k->oom_killed ? " (OOMKilled)" : "");
			field("  ", "Exit Code:", code);
		}
		field("  ", "Started:", k->started_at[0] ? k->started_at : "-");
		if (k->finished_at[0])
			field("  ", "Finished:", k->finished_at);
		field("  ", "ID:", k->id[0] ? k->id : "-");
		field("  ", "Image:", k->image[0] ? k->image : "-");
		/* Publish mode none: nginx routes to this address. */
		if (k->network[0])
			field("  ", "Network:", k->network);
		if (k->address[0])
			field("  ", "Address:", k->address);
	} else {
		field("  ", "State:", k->name[0] ? "unknown (not reported by the controller)" :
						   "none");
	}
	if (st->resources.cpu[0]) {
		char pids[32];

		snprintf(pids, sizeof(pids), "%lld", (long long)st->resources.pids);
		field("  ", "CPU:", st->resources.cpu);
		field("  ", "Memory:", st->resources.memory);
		field("  ", "Pids:", pids);
	}
	describe_restarts(&st->restarts);
	field("  ", "Spec Hash:", st->spec_hash[0] ? st->spec_hash : "-");
	printf("Volumes:\n");
	for (int v = 0; v < 2; v++) {
		ws_volume_name(inst, ns, name, v ? "work" : "home", vname, sizeof(vname));
		if (v)
			ws_work_path(ns, path, sizeof(path));
		else
			ws_home_path(ns, path, sizeof(path));
		printf("  %-40s -> %s\n", vname, path);
	}
	json_array_foreach(json_object_get(spec, "mounts"), i, item) {
		const char *src = cli_jstr(item, "source", "?");

		printf("  %-40s -> %-24s %s%s\n", src, cli_jstr(item, "target", "?"),
		       src[0] == '/' ? "bind" : "named volume",
		       json_is_true(json_object_get(item, "readOnly")) ? ", read-only" : "");
	}
}

static void describe_events(struct etcd *c, const char *ns, const char *name)
{
	struct etcd_kvs kvs = { 0 };
	struct err e = { "" };
	struct table *t = NULL;
	char prefix[512];
	int r;

	printf("Events:\n");
	if (keys_events_prefix(ns, name, prefix, sizeof(prefix)) < 0 ||
	    etcd_list(c, prefix, &kvs, &e) < 0 || kvs.n == 0) {
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
		struct status st;
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
		cli_status(o, &st);
		describe_status(&st);
		describe_container(ns, argv[i], &st, json_object_get(o, "spec"));
		status_clear(&st);
		describe_events(c, ns, argv[i]);
		json_decref(o);
	}
	etcd_free(c);
	return ret;
}
