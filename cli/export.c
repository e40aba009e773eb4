/*
 * klangkc export — a workspace as an archive (lib/wsarchive.h): its
 * object (apiVersion, kind, name, namespace, labels and spec; no status,
 * ids, leases or annotations) and its home with the work directory, read
 * from its container through the engine's archive API (running or not).
 *
 * The output is written to a temporary file beside FILE and renamed over
 * it when complete: an interrupted export never leaves a truncated FILE.
 * A running workspace is read while it runs: files changed meanwhile may
 * be caught halfway (stop it first for a consistent copy).
 */
#include "cli.h"

#include "buf.h"
#include "engine.h"
#include "ws.h"
#include "wsarchive.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The object as exported.  new. */
static json_t *export_object(const json_t *view)
{
	const json_t *meta = json_object_get(view, "metadata");
	const json_t *labels = json_object_get(meta, "labels");
	json_t *m = json_pack("{s:O,s:O}", "name", json_object_get(meta, "name"),
			      "namespace", json_object_get(meta, "namespace"));
	json_t *o = m ? json_pack("{s:s,s:s,s:o,s:O}", "apiVersion", WS_API_VERSION,
				  "kind", WS_KIND, "metadata", m, "spec",
				  json_object_get(view, "spec")) : NULL;

	if (o && json_object_size(labels))
		json_object_set(m, "labels", (json_t *)labels);
	return o;
}

static int to_fd(void *ud, const char *data, size_t len)
{
	return cli_write_all(*(int *)ud, data, len) < 0;
}

const struct cliopt cli_opts_export[] = {
	CLIOPT_NAMESPACE,
	{ "output", 'o', 0, "FILE", NULL, "the archive to write (required)" },
	CLIOPT_HELP,
	CLIOPT_END,
};

int verb_export(int argc, char **argv)
{
	struct cliopt_parser p = { .opts = cli_opts_export };
	const char *ns_flag = NULL, *ns, *name, *file = NULL, *dir;
	struct etcd *c = NULL;
	struct engine *g = NULL;
	struct err e = { "" };
	json_t *view = NULL, *obj = NULL;
	struct buf yaml, tmpname;
	char home[160], work[160], container[256], *dircopy = NULL;
	int opt, r, ret = EXIT_FAIL, home_fd = -1, work_fd = -1, out_fd = -1;

	buf_init(&yaml, WS_MAX_OBJECT * 4);
	buf_init(&tmpname, 8192);
	while ((opt = cliopt_next(&p, argc, argv)) != -1) {
		switch (opt) {
		case 'n':
			ns_flag = optarg;
			break;
		case 'o':
			file = optarg;
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

	if (cli_etcd(&c) < 0)
		goto out;
	r = cli_get_object(c, ns, name, &view, &e);
	if (r < 0) {
		ret = cli_fail("export", r, &e);
		goto out;
	}
	if (!json_object_get(view, "spec")) {
		fprintf(stderr, "error: export: workspace %s/%s is being deleted\n", ns, name);
		goto out;
	}
	if (cli_container(view, container, sizeof(container)) < 0) {
		struct status st;

		cli_status(view, &st);
		fprintf(stderr, "error: export: workspace %s/%s has no container yet (phase "
				"%s)\n", ns, name, status_phase(&st));
		status_clear(&st);
		goto out;
	}
	obj = export_object(view);
	if (!obj || codec_yaml_dump(obj, &yaml, &e) < 0) {
		fprintf(stderr, "error: export: %s\n", e.msg[0] ? e.msg : "out of memory");
		goto out;
	}

	dircopy = strdup(file);
	if (!dircopy)
		goto out;
	/* The engine's tars first (a stream cannot be read twice), then the
	 * archive in a temporary file beside FILE, renamed over it when
	 * complete. */
	dir = dirname(dircopy);
	home_fd = cli_temp_fd(dir);
	work_fd = cli_temp_fd(dir);
	out_fd = cli_temp_fd(dir);
	if (home_fd < 0 || work_fd < 0 || out_fd < 0) {
		fprintf(stderr, "error: export: a temporary file in %s: %s\n", dir,
			strerror(-(home_fd < 0 ? home_fd : work_fd < 0 ? work_fd : out_fd)));
		goto out;
	}
	ws_home_path(ns, home, sizeof(home));
	ws_work_path(ns, work, sizeof(work));
	r = engine_new(engine_default_host(), &g, &e);
	if (r == 0)
		r = engine_archive_get(g, container, home, to_fd, &home_fd, &e);
	if (r == 0)
		r = engine_archive_get(g, container, work, to_fd, &work_fd, &e);
	if (r == 0 && (lseek(home_fd, 0, SEEK_SET) < 0 || lseek(work_fd, 0, SEEK_SET) < 0))
		r = -errno;
	if (r == 0)
		r = wsarchive_export(out_fd, yaml.data, yaml.len, home_fd, work_fd, ns, &e);
	if (r == 0 && fsync(out_fd) < 0) {
		r = -errno;
		err_set(&e, "writing %s: %s", file, strerror(errno));
	}
	if (r < 0) {
		fprintf(stderr, "error: export: %s\n", e.msg[0] ? e.msg : strerror(-r));
		goto out;
	}
	/* Give the unnamed file its name: link it under a temporary name,
	 * then rename that over FILE. */
	{
		char proc[64];

		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", out_fd);
		if (buf_printf(&tmpname, "%s.tmp-%ld", file, (long)getpid()) < 0 ||
		    linkat(AT_FDCWD, proc, AT_FDCWD, tmpname.data, AT_SYMLINK_FOLLOW) < 0 ||
		    rename(tmpname.data, file) < 0) {
			fprintf(stderr, "error: export: writing %s: %s\n", file, strerror(errno));
			if (tmpname.data)
				unlink(tmpname.data);
			goto out;
		}
	}
	printf("workspace.klangk.io/%s exported to %s\n", name, file);
	ret = EXIT_OK;
out:
	if (home_fd >= 0)
		close(home_fd);
	if (work_fd >= 0)
		close(work_fd);
	if (out_fd >= 0)
		close(out_fd);
	free(dircopy);
	buf_free(&yaml);
	buf_free(&tmpname);
	json_decref(view);
	json_decref(obj);
	engine_free(g);
	etcd_free(c);
	return ret;
}
