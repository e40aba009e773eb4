/*
 * klangkc logs / top — a workspace's container output and resource use,
 * through the gateway (cli/gwclient.h): the caller needs the right to
 * read the workspace (its owner or any member, spectators included);
 * klangkc needs no engine socket.
 */
#include "cli.h"

#include "buf.h"
#include "gwclient.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int to_stdout(void *ud, const char *data, size_t len)
{
	(void)ud;
	return cli_write_all(STDOUT_FILENO, data, len) < 0;
}

const struct cliopt cli_opts_logs[] = {
	CLIOPT_NAMESPACE,
	{ "follow", 'f', 0, NULL, NULL, "go on printing what comes" },
	{ "tail", 0, 'l', "N", NULL, "only the last N lines" },
	CLI_OPT_SERVER,
	CLIOPT_HELP,
	CLIOPT_END,
};

const struct cliopt cli_opts_top[] = {
	CLIOPT_NAMESPACE,
	CLI_OPT_SERVER,
	CLIOPT_HELP,
	CLIOPT_END,
};

/* Parse NAME [-n NS] [--server URL] and the verb's own flags (follow and
 * tail for logs).  Returns -1 to go on, else an exit code. */
static int parse(const char *verb, int argc, char **argv, const char **ns, const char **name,
		 const char **server, bool *follow, long *tail)
{
	struct cliopt_parser p = { .opts = strcmp(verb, "logs") == 0 ? cli_opts_logs : cli_opts_top };
	const char *ns_flag = NULL;
	bool is_logs = strcmp(verb, "logs") == 0;
	int opt;

	while ((opt = cliopt_next(&p, argc, argv)) != -1) {
		switch (opt) {
		case 'n':
			ns_flag = optarg;
			break;
		case 'f':
		case 'l':
			if (!is_logs)
				goto usage;
			if (opt == 'f') {
				*follow = true;
			} else {
				char *end;

				errno = 0;
				*tail = strtol(optarg, &end, 10);
				if (errno || *end || *tail < 0) {
					fprintf(stderr, "error: logs: --tail \"%s\": a number of "
							"lines\n", optarg);
					return EXIT_USAGE;
				}
			}
			break;
		case CLI_KEY_SERVER:
			*server = optarg;
			break;
		case 'h':
			cli_usage(verb, false);
			return EXIT_OK;
		default:
			goto usage;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "error: %s: exactly one workspace name is required\n", verb);
		goto usage;
	}
	*name = argv[optind];
	*ns = cli_namespace(ns_flag);
	if (!cli_check_ns(*ns) || !cli_check_name(*name))
		return EXIT_USAGE;
	return -1;
usage:
	cli_usage(verb, true);
	return EXIT_USAGE;
}

int verb_logs(int argc, char **argv)
{
	const char *ns, *name, *server = NULL;
	bool follow = false;
	long tail = -1;
	struct gwclient *gc = NULL;
	struct err e = { "" };
	struct buf path;
	int ret = parse("logs", argc, argv, &ns, &name, &server, &follow, &tail), r;

	if (ret >= 0)
		return ret;
	buf_init(&path, 8192);
	r = gwclient_new(server, &gc, &e);
	if (r == 0)
		r = gwclient_path(ns, name, "logs", &path);
	if (r == 0)
		r = buf_printf(&path, "?follow=%d", follow ? 1 : 0);
	if (r == 0 && tail >= 0)
		r = buf_printf(&path, "&tail=%ld", tail);
	if (r == 0) {
		struct gwclient_call call = { .method = "GET", .path = path.data, .fn = to_stdout,
					      .upload_fd = -1 };

		r = gwclient_do(gc, &call, &e);
	}
	ret = r < 0 ? cli_fail("logs", r, &e) : EXIT_OK;
	buf_free(&path);
	gwclient_free(gc);
	return ret;
}

int verb_top(int argc, char **argv)
{
	const char *ns, *name, *server = NULL;
	bool follow = false;
	long tail = -1;
	struct gwclient *gc = NULL;
	struct err e = { "" };
	struct buf path, out;
	json_t *j = NULL;
	int ret = parse("top", argc, argv, &ns, &name, &server, &follow, &tail), r;

	if (ret >= 0)
		return ret;
	buf_init(&path, 8192);
	buf_init(&out, 64 * 1024);
	r = gwclient_new(server, &gc, &e);
	if (r == 0)
		r = gwclient_path(ns, name, "top", &path);
	if (r == 0) {
		struct gwclient_call call = { .method = "GET", .path = path.data, .out = &out,
					      .upload_fd = -1 };

		r = gwclient_do(gc, &call, &e);
	}
	if (r < 0) {
		ret = cli_fail("top", r, &e);
		goto out;
	}
	j = json_loadb(out.data ? out.data : "", out.len, 0, NULL);
	if (!json_is_object(j)) {
		fprintf(stderr, "error: top: the gateway's answer is not JSON\n");
		ret = EXIT_FAIL;
		goto out;
	}
	printf("%-24s %8s %12s %12s %6s\n", "NAME", "CPU%", "MEMORY", "LIMIT", "PIDS");
	printf("%-24s %8.1f %10.1fMi %10.1fMi %6.0f\n", name,
	       json_number_value(json_object_get(j, "cpuPercent")),
	       json_number_value(json_object_get(j, "memoryBytes")) / 1048576.0,
	       json_number_value(json_object_get(j, "memoryLimitBytes")) / 1048576.0,
	       json_number_value(json_object_get(j, "pids")));
	ret = EXIT_OK;
out:
	json_decref(j);
	buf_free(&path);
	buf_free(&out);
	gwclient_free(gc);
	return ret;
}
