/*
 * engine_check — lib/engine's network, update and state calls, one per
 * command, against the engine at $DOCKER_HOST, for
 * tests/e2e/test_engine_isolation.sh (which checks their effects with the
 * engine's own API and CLI):
 *
 *   engine_check net-create NAME LABEL_VALUE BRIDGE [SUBNET]   prints the id
 *   engine_check net-inspect NAME                              prints JSON
 *   engine_check net-list LABEL                                prints names
 *   engine_check net-connect NET CONTAINER
 *   engine_check net-disconnect NET CONTAINER
 *   engine_check net-remove NAME
 *   engine_check update CONTAINER CPU MEMORY PIDS              (quantities)
 *   engine_check state CONTAINER        prints "status oom_killed exit_code"
 *
 * Exit status: 0 done, 3 -EEXIST, 4 -EBUSY, 5 -ENOENT, 1 anything else
 * (the reason on stderr).
 */
#include "engine.h"
#include "quantity.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int net_create(struct engine *g, char **argv, int argc, struct err *e)
{
	json_t *labels = json_pack("{s:s}", "klangk.test", argv[1]);
	/* isolate: Podman's option (its compat API sets it by itself and
	 * warns that it does not know it; dockerd keeps it as an unused
	 * option). */
	json_t *opts = json_pack("{s:s,s:s}", "com.docker.network.bridge.name",
				 argv[2], "isolate", "true");
	struct engine_network_opts o = {
		.labels = labels, .options = opts, .subnet = argc > 3 ? argv[3] : NULL,
	};
	char *id = NULL;
	int r = labels && opts ? engine_network_create(g, argv[0], &o, &id, e) : -ENOMEM;

	if (r == 0)
		printf("%s\n", id);
	free(id);
	json_decref(labels);
	json_decref(opts);
	return r;
}

static int net_inspect(struct engine *g, const char *name, struct err *e)
{
	json_t *j = NULL;
	int r = engine_network_inspect(g, name, &j, e);

	if (r == 0) {
		char *s = json_dumps(j, JSON_COMPACT);

		printf("%s\n", s ? s : "");
		free(s);
	}
	json_decref(j);
	return r;
}

static int net_list(struct engine *g, const char *label, struct err *e)
{
	json_t *arr = NULL, *n;
	size_t i;
	int r = engine_network_list(g, label, &arr, e);

	if (r < 0)
		return r;
	json_array_foreach(arr, i, n)
		printf("%s\n", json_string_value(json_object_get(n, "Name")));
	json_decref(arr);
	return 0;
}

static int update(struct engine *g, char **argv, struct err *e)
{
	struct engine_resources res = { 0 };
	int64_t cpu, mem, pids;

	if (quantity_parse(argv[1], QUANTITY_SCALE_NANO, &cpu) < 0 ||
	    quantity_parse(argv[2], 0, &mem) < 0 || quantity_parse(argv[3], 0, &pids) < 0) {
		err_set(e, "update: CPU, MEMORY and PIDS must be quantities");
		return -EINVAL;
	}
	res.nano_cpus = cpu;
	res.memory = res.memory_swap = mem;
	res.pids_limit = pids;
	return engine_container_update(g, argv[0], &res, e);
}

static int state(struct engine *g, const char *name, struct err *e)
{
	struct engine_state s;
	json_t *j = NULL;
	int r = engine_container_inspect(g, name, &j, e);

	if (r == 0)
		r = engine_container_state(j, &s);
	if (r == 0)
		printf("%s %s %d\n", s.status, s.oom_killed ? "true" : "false", s.exit_code);
	json_decref(j);
	return r;
}

static int run(struct engine *g, int argc, char **argv, struct err *e)
{
	const char *cmd = argv[0];

	argc--;
	argv++;
	if (strcmp(cmd, "net-create") == 0 && argc >= 3)
		return net_create(g, argv, argc, e);
	if (strcmp(cmd, "net-inspect") == 0 && argc == 1)
		return net_inspect(g, argv[0], e);
	if (strcmp(cmd, "net-list") == 0 && argc == 1)
		return net_list(g, argv[0], e);
	if (strcmp(cmd, "net-connect") == 0 && argc == 2)
		return engine_network_connect(g, argv[0], argv[1], NULL, e);
	if (strcmp(cmd, "net-disconnect") == 0 && argc == 2)
		return engine_network_disconnect(g, argv[0], argv[1], e);
	if (strcmp(cmd, "net-remove") == 0 && argc == 1)
		return engine_network_remove(g, argv[0], e);
	if (strcmp(cmd, "update") == 0 && argc == 4)
		return update(g, argv, e);
	if (strcmp(cmd, "state") == 0 && argc == 1)
		return state(g, argv[0], e);
	err_set(e, "usage: engine_check COMMAND ARGS... (see the source)");
	return -EINVAL;
}

int main(int argc, char **argv)
{
	struct engine *g = NULL;
	struct err e = { "" };
	int r;

	if (argc < 2) {
		fprintf(stderr, "usage: engine_check COMMAND ARGS...\n");
		return 1;
	}
	r = engine_new(engine_default_host(), &g, &e);
	if (r == 0)
		r = run(g, argc - 1, argv + 1, &e);
	engine_free(g);
	if (r < 0)
		fprintf(stderr, "engine_check %s: %s (%s)\n", argv[1], e.msg, strerror(-r));
	switch (r) {
	case 0:
		return 0;
	case -EEXIST:
		return 3;
	case -EBUSY:
		return 4;
	case -ENOENT:
		return 5;
	default:
		return 1;
	}
}
