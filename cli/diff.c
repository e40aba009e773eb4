/*
 * klangkc diff — what `apply -f` would change, as a unified diff between
 * the live objects and the objects apply would store (the same three-way
 * merge, cli/plan.c), like kubectl: each side written as YAML into a
 * temporary directory, compared by `diff -u -N` (or $KLANGKC_EXTERNAL_DIFF).
 * The last-applied annotation is left out of both sides (it only repeats
 * the file).  Exit 0: no differences; 1: differences; 2 or more: error.
 */
#include "cli.h"

#include "buf.h"
#include "merge.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define MAX_DIFF_ARGS 16

/* Write obj (without the annotation) as YAML to path. */
static int write_yaml(const char *path, const json_t *obj)
{
	json_t *shown = merge_strip_last_applied(obj);
	struct err e = { "" };
	struct buf b;
	FILE *f;
	int r = -EIO;

	buf_init(&b, 0);
	if (!shown || codec_yaml_dump(shown, &b, &e) < 0)
		goto out;
	f = fopen(path, "w");
	if (!f)
		goto out;
	if (fwrite(b.data, 1, b.len, f) == b.len)
		r = 0;
	if (fclose(f) != 0)
		r = -EIO;
out:
	json_decref(shown);
	buf_free(&b);
	return r;
}

/* Run the diff program on the two directories; its exit status. */
static int run_diff(const char *live, const char *merged)
{
	const char *cmd = getenv("KLANGKC_EXTERNAL_DIFF");
	char *copy = strdup(cmd && *cmd ? cmd : "diff -u -N");
	char *args[MAX_DIFF_ARGS + 3], *save = NULL, *tok;
	int n = 0, status = 0;
	pid_t pid;

	if (!copy)
		return -1;
	for (tok = strtok_r(copy, " ", &save); tok && n < MAX_DIFF_ARGS;
	     tok = strtok_r(NULL, " ", &save))
		args[n++] = tok;
	args[n++] = (char *)live;
	args[n++] = (char *)merged;
	args[n] = NULL;
	fflush(stdout);
	if (posix_spawnp(&pid, args[0], NULL, NULL, args, environ) != 0) {
		fprintf(stderr, "error: cannot run %s: %s\n", args[0], strerror(errno));
		free(copy);
		return -1;
	}
	free(copy);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

const struct cliopt cli_opts_diff[] = {
	CLI_OPT_FILENAME,
	CLI_OPT_RECURSIVE,
	CLIOPT_NAMESPACE,
	CLIOPT_HELP,
	CLIOPT_END,
};

int verb_diff(int argc, char **argv)
{
	struct cliopt_parser p = { .opts = cli_opts_diff };
	struct cli_file_opts fo = { 0 };
	struct cli_paths written = { 0 };
	struct cli_items items = { 0 };
	struct cli_plan plan = { 0 };
	char dir[256] = "", live[272], merged[272];
	bool have_dir = false;
	struct etcd *c = NULL;
	int opt, r, ret = 2;

	while ((opt = cliopt_next(&p, argc, argv)) != -1) {
		if ((r = cli_file_opt(&fo, opt, optarg)) >= 0) {
			if (r != EXIT_OK)
				goto out;
			continue;
		}
		switch (opt) {
		case 'h':
			cli_usage("diff", false);
			ret = EXIT_OK;
			goto out;
		default:
			cli_usage("diff", true);
			goto out;
		}
	}
	if (fo.paths.n == 0 || optind < argc) {
		fprintf(stderr, "error: diff needs -f FILE|DIR|- (and no other arguments)\n");
		goto out;
	}
	r = cli_plan_prepare(&fo.paths, fo.recursive, fo.ns_flag, MODE_APPLY, false, "compared",
			     &items, &plan, &c);
	if (r != EXIT_OK) {
		ret = r > 2 ? r : 2;
		goto out;
	}
	if ((r = cli_temp_template("klangkc-diff-", "", dir, sizeof(dir))) < 0)
		errno = -r;
	if (r < 0 || !mkdtemp(dir)) {
		fprintf(stderr, "error: %s: %s\n", dir, strerror(errno));
		goto out;
	}
	have_dir = true;
	snprintf(live, sizeof(live), "%s/LIVE", dir);
	snprintf(merged, sizeof(merged), "%s/MERGED", dir);
	if (mkdir(live, 0700) < 0 || mkdir(merged, 0700) < 0)
		goto out;
	for (size_t i = 0; i < plan.n; i++) {
		const struct cli_plan_entry *pe = &plan.v[i];
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/%s.%s.yaml", merged, pe->it->ns, pe->it->name);
		if (cli_paths_add(&written, path) < 0 || write_yaml(path, pe->next) < 0)
			goto out;
		if (!pe->live)
			continue;
		snprintf(path, sizeof(path), "%s/%s.%s.yaml", live, pe->it->ns, pe->it->name);
		if (cli_paths_add(&written, path) < 0 || write_yaml(path, pe->live) < 0)
			goto out;
	}
	r = run_diff(live, merged);
	ret = r == 0 || r == 1 ? r : 2;
out:
	for (size_t i = 0; i < written.n; i++)
		unlink(written.v[i]);
	if (have_dir) {
		rmdir(live);
		rmdir(merged);
		rmdir(dir);
	}
	etcd_free(c);
	cli_plan_clear(&plan);
	cli_items_clear(&items);
	cli_paths_clear(&fo.paths);
	cli_paths_clear(&written);
	return ret;
}
