/*
 * klangkc start / stop / restart — the desired run state, spec.running,
 * changed with a read-modify-write that compares mod_revision (cli_update).
 * restart sets the annotation klangk.io/restartedAt to the current time
 * (the controller's spec hash includes it, so the container is recreated;
 * home and work survive) and spec.running to true.  start and restart also
 * record activity (lib/touch.h), which resumes a workspace stopped by its
 * idle timeout.
 */
#include "cli.h"

#include "touch.h"

#include "timefmt.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum run_op { OP_START, OP_STOP, OP_RESTART };

struct run_req {
	enum run_op op;
	char stamp[TIMEFMT_MAX];
};

static int mutate(json_t *obj, void *ud, struct err *e)
{
	const struct run_req *q = ud;
	json_t *spec = json_object_get(obj, "spec"), *meta, *ann;
	bool want = q->op != OP_STOP;

	if (!json_is_object(spec)) {
		spec = json_object();
		if (!spec || json_object_set_new(obj, "spec", spec) < 0)
			return -ENOMEM;
	}
	if (q->op != OP_RESTART) {
		/* Absent means the default, running. */
		json_t *cur = json_object_get(spec, "running");
		bool running = !json_is_false(cur);

		if (running == want)
			return 1;
	} else {
		meta = json_object_get(obj, "metadata");
		ann = json_object_get(meta, "annotations");
		if (!json_is_object(meta)) {
			err_set(e, "the stored object has no metadata");
			return -EINVAL;
		}
		if (!json_is_object(ann)) {
			ann = json_object();
			if (!ann || json_object_set_new(meta, "annotations", ann) < 0)
				return -ENOMEM;
		}
		if (json_object_set_new(ann, CLI_RESTARTED_AT, json_string(q->stamp)) < 0)
			return -ENOMEM;
	}
	return json_object_set_new(spec, "running", json_boolean(want)) < 0 ? -ENOMEM : 0;
}

static int run_verb(const char *verb, enum run_op op, int argc, char **argv)
{
	static const char *const done[] = { "started", "stopped", "restarted" };
	static const char *const already[] = { "already running", "already stopped", "" };
	struct run_req q = { .op = op };
	const char *ns;
	struct etcd *c = NULL;
	int opt, first, ret = EXIT_OK;

	opt = cli_name_args(verb, argc, argv, 1, 0, -1, &ns, &first);
	if (opt >= 0)
		return opt;
	timefmt_now(q.stamp, sizeof(q.stamp));
	if (cli_etcd(&c) < 0)
		return EXIT_FAIL;
	for (int i = first; i < argc; i++) {
		struct err e = { "" };
		bool changed = false;
		int r = cli_update(c, ns, argv[i], mutate, &q, &changed, &e);

		/* A start is activity: it also resumes a workspace that the
		 * idle timeout stopped while spec.running stayed true.  The
		 * start itself is written: a refused activity is a warning. */
		if (r == 0 && op != OP_STOP) {
			struct err te = { "" };

			if (touch_workspace(c, ns, argv[i], &te) < 0)
				fprintf(stderr, "warning: %s: recording activity: %s\n",
					argv[i], te.msg);
		}

		if (r < 0) {
			ret = cli_fail(verb, r, &e);
			if (r != -ENOENT)
				break;
			continue;
		}
		printf("workspace.klangk.io/%s %s\n", argv[i],
		       changed ? done[op] : already[op]);
	}
	etcd_free(c);
	return ret;
}

int verb_start(int argc, char **argv)
{
	return run_verb("start", OP_START, argc, argv);
}

int verb_stop(int argc, char **argv)
{
	return run_verb("stop", OP_STOP, argc, argv);
}

int verb_restart(int argc, char **argv)
{
	return run_verb("restart", OP_RESTART, argc, argv);
}
