/*
 * klangkc import — a new workspace from an archive of `klangkc export`
 * (lib/wsarchive.h), with its home and work restored before its first
 * start.
 *
 * Everything is checked before anything is created: the archive's size
 * (--max-size, also the cap of its unpacked contents), every member
 * (wsarchive_import), the object by the same rules as apply (ws_parse;
 * reserved environment variables are dropped with a warning, the name and
 * namespace are the command line's), and that the engine has the image.
 * A refused archive leaves nothing behind: no etcd key, no volume.
 *
 * Then, each step safe to repeat:
 *   1. the object is created with spec.running: false and the annotation
 *      klangk.io/import-sha256 = the archive's SHA-256 (a create that
 *      fails if the name is taken);
 *   2. the controller creates the volumes and the container, not started;
 *   3. the home is extracted into that container (PUT archive);
 *   4. one compare-and-swap sets spec.running back to the archive's value
 *      and removes the annotation: the controller starts it.
 * Interrupted anywhere, the workspace exists with its annotation, and the
 * same import run again continues where it stopped (a different archive
 * for that name is refused); `klangkc delete` removes it like any other.
 */
#include "cli.h"

#include "engine.h"
#include "keys.h"
#include "ws.h"
#include "wsarchive.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IMPORT_ANNOTATION "klangk.io/import-sha256"

/* "4G", "512M", "100K", "12345" (bytes; powers of 1024).  -1 if invalid. */
static int64_t parse_size(const char *s)
{
	char *end;
	unsigned long long v;
	int shift = 0;

	if (!*s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case '\0':
		break;
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	case 'T':
		shift = 40;
		break;
	default:
		return -1;
	}
	if (*end && end[1] != '\0')
		return -1;
	if (v == 0 || v > (unsigned long long)INT64_MAX >> shift)
		return -1;
	return (int64_t)(v << shift);
}

static int sha256_fd(int fd, char hex[65])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[32], buf[65536];
	unsigned int n = 0;
	int r = 0;

	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		r = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t k = read(fd, buf, sizeof(buf));

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = -errno;
			goto out;
		}
		if (k == 0)
			break;
		EVP_DigestUpdate(ctx, buf, (size_t)k);
	}
	if (EVP_DigestFinal_ex(ctx, md, &n) != 1 || n != 32 || lseek(fd, 0, SEEK_SET) < 0) {
		r = -EIO;
		goto out;
	}
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
out:
	EVP_MD_CTX_free(ctx);
	return r;
}

static long read_fd(void *ud, char *buf, size_t len)
{
	int fd = *(int *)ud;

	for (;;) {
		ssize_t k = read(fd, buf, len);

		if (k < 0 && errno == EINTR)
			continue;
		return k < 0 ? -1 : (long)k;
	}
}

/*
 * The object to create from the archive's workspace.yaml: its labels and
 * spec under the new name and namespace, reserved environment variables
 * dropped (with a warning), spec.running false and the import annotation.
 * *running: the archive's spec.running (new; NULL when absent).  Prints the
 * problems; NULL when invalid.  new.
 */
static json_t *import_object(const char *where, const char *text, size_t len,
			     const char *ns, const char *name, const char *hash,
			     json_t **running)
{
	struct codec_docs docs = { 0 };
	struct err e = { "" };
	json_t *doc, *obj = NULL, *spec, *env, *labels;
	struct ws *w = NULL;
	size_t i;

	if (codec_yaml_load(text, len, &docs, &e) < 0 || docs.n != 1 ||
	    !json_is_object(docs.docs[0].value)) {
		fprintf(stderr, "error: %s: %s\n", where,
			e.msg[0] ? e.msg : "must be exactly one Workspace object");
		goto out;
	}
	doc = docs.docs[0].value;
	spec = json_object_get(doc, "spec");
	labels = json_object_get(json_object_get(doc, "metadata"), "labels");
	obj = json_pack("{s:O,s:O,s:{s:s,s:s,s:{s:s}},s:o}", "apiVersion",
			json_object_get(doc, "apiVersion") ? json_object_get(doc, "apiVersion")
							   : json_null(),
			"kind", json_object_get(doc, "kind") ? json_object_get(doc, "kind")
							     : json_null(),
			"metadata", "name", name, "namespace", ns, "annotations",
			IMPORT_ANNOTATION, hash, "spec",
			/* our own copy, to edit */
			json_is_object(spec) ? json_deep_copy(spec) : json_object());
	if (!obj)
		goto out;
	if (labels)
		json_object_set(json_object_get(obj, "metadata"), "labels", labels);
	spec = json_object_get(obj, "spec");
	env = json_object_get(spec, "env");
	for (i = 0; json_is_array(env) && i < json_array_size(env);) {
		const char *n = json_string_value(json_object_get(json_array_get(env, i), "name"));

		if (n && (strncmp(n, "KLANGK_", 7) == 0 || strncmp(n, "LD_", 3) == 0)) {
			fprintf(stderr, "warning: %s: spec.env: %s dropped (the prefixes "
					"KLANGK_ and LD_ are reserved)\n", where, n);
			json_array_remove(env, i);
			continue;
		}
		i++;
	}
	*running = json_incref(json_object_get(spec, "running"));
	json_object_set_new(spec, "running", json_false());
	if (ws_parse(obj, ns, &w, &e) < 0) {
		cli_print_problems(where, e.msg, "");
		json_decref(*running);
		*running = NULL;
		json_decref(obj);
		obj = NULL;
	}
out:
	ws_free(w);
	codec_docs_clear(&docs);
	return obj;
}

struct finish {
	const char *hash;
	json_t *running; /* borrowed; NULL: absent */
};

/* Step 4: the archive's run state back, the annotation gone. */
static int finish(json_t *obj, void *ud, struct err *e)
{
	const struct finish *f = ud;
	json_t *ann = json_object_get(json_object_get(obj, "metadata"), "annotations");
	json_t *spec = json_object_get(obj, "spec");
	const char *have = json_string_value(json_object_get(ann, IMPORT_ANNOTATION));

	(void)e;
	if (!have || strcmp(have, f->hash) != 0 || !json_is_object(spec))
		return 1; /* finished already */
	json_object_del(ann, IMPORT_ANNOTATION);
	if (json_object_size(ann) == 0)
		json_object_del(json_object_get(obj, "metadata"), "annotations");
	if (f->running)
		json_object_set(spec, "running", f->running);
	else
		json_object_del(spec, "running");
	return 0;
}

/*
 * Step 1: create the object, or find the one an earlier run of this import
 * created.  Returns an exit code.
 */
static int create_or_resume(struct etcd *c, const char *ns, const char *name,
			    const json_t *obj, const char *hash, bool *resumed)
{
	char key[512];
	char *text = json_dumps(obj, JSON_COMPACT);
	int ret = EXIT_FAIL;

	if (!text || keys_ws(KEYS_SPEC, ns, name, key, sizeof(key)) < 0)
		goto out;
	for (int attempt = 1; attempt <= CLI_MAX_ATTEMPTS; attempt++) {
		struct etcd_kv kv = { 0 };
		struct err e = { "" };
		bool ok = false;
		json_t *live;
		const char *have;
		int r = etcd_get(c, key, &kv, NULL, &e);

		if (r == -ENOENT) {
			r = cli_txn_if(c, key, 0, etcd_op_put(key, text, strlen(text), 0), &ok,
				       &e);
			if (r < 0) {
				ret = cli_fail("import", r, &e);
				goto out;
			}
			if (ok) {
				*resumed = false;
				ret = EXIT_OK;
				goto out;
			}
			continue; /* created meanwhile: look at it */
		}
		if (r < 0) {
			ret = cli_fail("import", r, &e);
			goto out;
		}
		live = cli_parse_stored(kv.value, kv.value_len);
		have = json_string_value(json_object_get(json_object_get(json_object_get(
			live, "metadata"), "annotations"), IMPORT_ANNOTATION));
		ok = have && strcmp(have, hash) == 0;
		json_decref(live);
		etcd_kv_clear(&kv);
		if (!ok) {
			fprintf(stderr, "error: import: workspace \"%s\" already exists in "
					"namespace \"%s\"%s\n", name, ns,
				have ? " (being imported from another archive)" : "");
			goto out;
		}
		*resumed = true;
		ret = EXIT_OK;
		goto out;
	}
	fprintf(stderr, "error: import: workspace %s/%s kept changing\n", ns, name);
	ret = EXIT_CONFLICT;
out:
	free(text);
	return ret;
}

const struct cliopt cli_opts_import[] = {
	CLIOPT_NAMESPACE,
	{ "name", 0, 'N', "NEW", NULL, "the new workspace's name (required)" },
	{ "max-size", 0, 'm', "SIZE", NULL, "the largest archive and unpacked contents\n"
	  "(default 4G; K, M, G, T)" },
	CLI_OPT_TIMEOUT("how long to wait for the controller (default 2m)"),
	CLIOPT_HELP,
	CLIOPT_END,
};

int verb_import(int argc, char **argv)
{
	struct cliopt_parser p = { .opts = cli_opts_import };
	const char *ns_flag = NULL, *ns, *name = NULL, *file, *tmpdir;
	int64_t max = WSARCHIVE_DEFAULT_MAX_BYTES;
	long timeout_ms = 120000;
	struct wsarchive_stats st = { 0 };
	struct etcd *c = NULL;
	struct engine *g = NULL;
	struct err e = { "" };
	struct stat sb;
	json_t *obj = NULL, *running = NULL, *view = NULL;
	char *spec = NULL, hash[65], home[160], work[160], where[4200];
	size_t spec_len = 0;
	bool resumed = false, podman = false;
	int opt, r, ret = EXIT_FAIL, fd = -1, home_fd = -1, work_fd = -1;
	off_t home_len, work_len;

	while ((opt = cliopt_next(&p, argc, argv)) != -1) {
		switch (opt) {
		case 'n':
			ns_flag = optarg;
			break;
		case 'N':
			name = optarg;
			break;
		case 'm':
			max = parse_size(optarg);
			if (max < 0) {
				fprintf(stderr, "error: import: --max-size \"%s\": a size in "
						"bytes, or with K, M, G or T\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case CLI_KEY_TIMEOUT:
			timeout_ms = cli_parse_duration(optarg);
			if (timeout_ms < 0) {
				fprintf(stderr, "error: import: --timeout \"%s\": not a duration\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			cli_usage("import", false);
			return EXIT_OK;
		default:
			cli_usage("import", true);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1 || !name) {
		fprintf(stderr, "error: import: %s\n", !name ? "--name NEW is required" :
			"exactly one archive file is required");
		cli_usage("import", true);
		return EXIT_USAGE;
	}
	file = argv[optind];
	ns = cli_namespace(ns_flag);
	if (!cli_check_ns(ns) || !cli_check_name(name))
		return EXIT_USAGE;
	snprintf(where, sizeof(where), "%s: %s", file, WSARCHIVE_SPEC);

	/* Check everything before creating anything. */
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) < 0) {
		fprintf(stderr, "error: import: %s: %s\n", file, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_size > max) {
		fprintf(stderr, "error: import: %s: %s\n", file, !S_ISREG(sb.st_mode) ?
			"not a regular file" : "larger than the limit (--max-size)");
		goto out;
	}
	if (sha256_fd(fd, hash) < 0) {
		fprintf(stderr, "error: import: %s: cannot read it\n", file);
		goto out;
	}
	tmpdir = getenv("TMPDIR");
	if (!tmpdir || !*tmpdir)
		tmpdir = "/tmp";
	home_fd = cli_temp_fd(tmpdir);
	work_fd = cli_temp_fd(tmpdir);
	if (home_fd < 0 || work_fd < 0) {
		fprintf(stderr, "error: import: a temporary file in %s: %s\n", tmpdir,
			strerror(-(home_fd < 0 ? home_fd : work_fd)));
		goto out;
	}
	r = engine_new(engine_default_host(), &g, &e);
	if (r == 0)
		r = engine_is_podman(g, &podman, &e);
	if (r < 0) {
		fprintf(stderr, "error: import: %s\nerror: nothing was imported\n", e.msg);
		goto out;
	}
	r = wsarchive_import(fd, home_fd, work_fd, podman, max, &spec, &spec_len, &st, &e);
	if (r < 0) {
		fprintf(stderr, "error: import: %s: %s\nerror: nothing was imported\n", file,
			e.msg);
		goto out;
	}
	home_len = lseek(home_fd, 0, SEEK_CUR);
	work_len = lseek(work_fd, 0, SEEK_CUR);
	if (home_len < 0 || work_len < 0)
		goto out;
	obj = import_object(where, spec, spec_len, ns, name, hash, &running);
	if (!obj) {
		fprintf(stderr, "error: nothing was imported\n");
		goto out;
	}
	{
		const char *image = json_string_value(json_object_get(json_object_get(obj, "spec"),
								      "image"));

		r = engine_image_inspect(g, image ? image : WS_DEFAULT_IMAGE, NULL, &e);
	}
	if (r < 0) {
		fprintf(stderr, "error: import: %s\nerror: nothing was imported\n", e.msg);
		goto out;
	}

	if (cli_etcd(&c) < 0)
		goto out;
	ret = create_or_resume(c, ns, name, obj, hash, &resumed);
	if (ret != EXIT_OK)
		goto out;
	ret = EXIT_FAIL;
	if (resumed)
		fprintf(stderr, "continuing the import of workspace %s/%s\n", ns, name);

	/* 2. The controller makes the volumes and the container. */
	{
		struct cli_wait_target t;

		snprintf(t.ns, sizeof(t.ns), "%s", ns);
		snprintf(t.name, sizeof(t.name), "%s", name);
		ret = cli_wait(c, &t, 1, WAIT_CONDITION, "Ready", "True", timeout_ms, true);
		if (ret != EXIT_OK) {
			fprintf(stderr, "error: import: the controller did not create the "
					"workspace's container; run the same import again to "
					"finish\n");
			goto out;
		}
		ret = EXIT_FAIL;
	}
	r = cli_get_object(c, ns, name, &view, &e);
	if (r < 0) {
		ret = cli_fail("import", r, &e);
		goto out;
	}
	{
		char container[256];

		if (cli_container(view, container, sizeof(container)) < 0) {
			fprintf(stderr, "error: import: workspace %s/%s has no container\n", ns,
				name);
			goto out;
		}
		/* 3. The home and work, into the container that has not run
		 * yet: one volume at a time (an engine writing into a stopped
		 * container may not see a volume mounted inside another). */
		ws_home_path(ns, home, sizeof(home));
		ws_work_path(ns, work, sizeof(work));
		if (lseek(home_fd, 0, SEEK_SET) < 0 || lseek(work_fd, 0, SEEK_SET) < 0) {
			r = -errno;
			err_set(&e, "%s", strerror(errno));
		} else {
			r = engine_archive_put(g, container, home, read_fd, &home_fd,
					       (long long)home_len, &e);
		}
		if (r == 0 && podman)
			r = engine_archive_put(g, container, work, read_fd, &work_fd,
					       (long long)work_len, &e);
		if (r < 0) {
			fprintf(stderr, "error: import: %s; run the same import again to "
					"finish\n", e.msg);
			goto out;
		}
	}
	/* 4. Start it as the archive says. */
	{
		struct finish f = { .hash = hash, .running = running };
		bool changed = false;

		r = cli_update(c, ns, name, finish, &f, &changed, &e);
		if (r < 0) {
			ret = cli_fail("import", r, &e);
			goto out;
		}
	}
	printf("workspace.klangk.io/%s imported (%lld files, %lld bytes)\n", name,
	       (long long)st.members, (long long)st.bytes);
	ret = EXIT_OK;
out:
	if (fd >= 0)
		close(fd);
	if (home_fd >= 0)
		close(home_fd);
	if (work_fd >= 0)
		close(work_fd);
	free(spec);
	json_decref(obj);
	json_decref(running);
	json_decref(view);
	engine_free(g);
	etcd_free(c);
	return ret;
}
