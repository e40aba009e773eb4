/*
 * klangkc export — a workspace as an archive (lib/wsarchive.h): its
 * object (apiVersion, kind, name, namespace, labels and spec; no status,
 * ids, leases or annotations) and its home with the work directory, made
 * by the gateway (gateway/api.h) from the container's files, running or
 * not.  The caller needs the right to work in the workspace (its owner or
 * a working member); klangkc needs no engine socket.
 *
 * The output is written to a temporary file beside FILE and renamed over
 * it when complete: an interrupted export never leaves a truncated FILE.
 * A running workspace is read while it runs: files changed meanwhile may
 * be caught halfway (stop it first for a consistent copy).  On a terminal
 * the bytes received and the rate are shown.
 */
#include "cli.h"

#include "buf.h"
#include "gwclient.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int to_fd(void *ud, const char *data, size_t len)
{
	return cli_write_all(*(int *)ud, data, len) < 0;
}

/* Give the unnamed file out_fd the name file: link it under a temporary
 * name, then rename that over file. */
static int publish(int out_fd, const char *file)
{
	char proc[64];
	struct buf tmpname;
	int r = 0;

	buf_init(&tmpname, 8192);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", out_fd);
	if (buf_printf(&tmpname, "%s.tmp-%ld", file, (long)getpid()) < 0 ||
	    linkat(AT_FDCWD, proc, AT_FDCWD, tmpname.data, AT_SYMLINK_FOLLOW) < 0 ||
	    rename(tmpname.data, file) < 0) {
		r = -errno;
		if (tmpname.data)
			unlink(tmpname.data);
	}
	buf_free(&tmpname);
	return r;
}

const struct cliopt cli_opts_export[] = {
	CLIOPT_NAMESPACE,
	{ "output", 'o', 0, "FILE", NULL, "the archive to write (required)" },
	CLI_OPT_SERVER,
	CLIOPT_HELP,
	CLIOPT_END,
};

int verb_export(int argc, char **argv)
{
	struct cliopt_parser p = { .opts = cli_opts_export };
	const char *ns_flag = NULL, *ns, *name, *file = NULL, *server = NULL;
	struct gwclient *gc = NULL;
	struct err e = { "" };
	struct buf path;
	char *dircopy = NULL;
	int opt, r, ret = EXIT_FAIL, out_fd = -1;

	buf_init(&path, 8192);
	while ((opt = cliopt_next(&p, argc, argv)) != -1) {
		switch (opt) {
		case 'n':
			ns_flag = optarg;
			break;
		case 'o':
			file = optarg;
			break;
		case CLI_KEY_SERVER:
			server = optarg;
			break;
		case 'h':
			cli_usage("export", false);
			return EXIT_OK;
		default:
			cli_usage("export", true);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1 || !file || !*file) {
		fprintf(stderr, "error: export: %s\n", !file || !*file ?
			"-o FILE is required" : "exactly one workspace name is required");
		cli_usage("export", true);
		return EXIT_USAGE;
	}
	name = argv[optind];
	ns = cli_namespace(ns_flag);
	if (!cli_check_ns(ns) || !cli_check_name(name))
		return EXIT_USAGE;

	dircopy = strdup(file);
	if (!dircopy)
		goto out;
	out_fd = cli_temp_fd(dirname(dircopy));
	if (out_fd < 0) {
		fprintf(stderr, "error: export: a temporary file beside %s: %s\n", file,
			strerror(-out_fd));
		goto out;
	}
	r = gwclient_new(server, &gc, &e);
	if (r == 0)
		r = gwclient_path(ns, name, "export", &path);
	if (r == 0) {
		struct gwclient_call call = { .method = "GET", .path = path.data, .fn = to_fd,
					      .ud = &out_fd, .upload_fd = -1,
					      .progress = "export" };

		r = gwclient_do(gc, &call, &e);
	}
	if (r == 0 && fsync(out_fd) < 0) {
		r = -errno;
		err_set(&e, "writing %s: %s", file, strerror(errno));
	}
	if (r < 0) {
		ret = cli_fail("export", r, &e);
		goto out;
	}
	r = publish(out_fd, file);
	if (r < 0) {
		fprintf(stderr, "error: export: writing %s: %s\n", file, strerror(-r));
		goto out;
	}
	printf("workspace.klangk.io/%s exported to %s\n", name, file);
	ret = EXIT_OK;
out:
	if (out_fd >= 0)
		close(out_fd);
	free(dircopy);
	buf_free(&path);
	gwclient_free(gc);
	return ret;
}
