/*
 * klangkc import — a new workspace from an archive of `klangkc export`
 * (lib/wsarchive.h), with its home and work restored before its first
 * start.
 *
 * Everything is checked before anything is created: the archive's size
 * (--max-size, also the cap of its unpacked contents), every member
 * (wsarchive_import), the object by the same rules as apply (ws_parse;
 * reserved environment variables are dropped with a warning, the name and
 * namespace are the command line's), and that the engine has the image
 * (asked through the gateway).
 * A refused archive leaves nothing behind: no etcd key, no volume.
 *
 * Then, each step safe to repeat:
 *   1. the object is created with spec.running: false and the annotation
 *      klangk.io/import-sha256 = the archive's SHA-256 (a create that
 *      fails if the name is taken);
 *   2. the controller creates the volumes and the container, not started;
 *   3. the archive goes to the gateway (gateway/api.h), which checks it
 *      again and extracts the home into that container (progress on a
 *      terminal); klangkc needs no engine socket;
 *   4. one compare-and-swap sets spec.running back to the archive's value
 *      and removes the annotation: the controller starts it.
 * Interrupted anywhere, the workspace exists with its annotation, and the
 * same import run again continues where it stopped (a different archive
 * for that name is refused); `klangkc delete` removes it like any other.
 */
#include "cli.h"

#include "gwclient.h"
#include "keys.h"
#include "ws.h"
#include "wsarchive.h"

#include <errno.h>
#include <fcntl.h>
#include <curl/curl.h>
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

/* Whether the engine behind the gateway has the image. */
static int have_image(struct gwclient *gc, const char *image, struct err *e)
{
	char *q = curl_easy_escape(NULL, image, 0);
	struct buf path, out;
	int r;

	buf_init(&path, 8192);
	buf_init(&out, 64 * 1024);
	r = q ? buf_printf(&path, "/api/v1/images?name=%s", q) : -ENOMEM;
	if (r == 0) {
		struct gwclient_call call = { .method = "GET", .path = path.data, .out = &out,
					      .upload_fd = -1 };

		r = gwclient_do(gc, &call, e);
	}
	curl_free(q);
	buf_free(&path);
	buf_free(&out);
	return r;
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
	CLI_OPT_SERVER,
	CLIOPT_HELP,
	CLIOPT_END,
};

int verb_import(int argc, char **argv)
{
	struct cliopt_parser p = { .opts = cli_opts_import };
	const char *ns_flag = NULL, *ns, *name = NULL, *file, *tmpdir, *server = NULL;
	int64_t max = WSARCHIVE_DEFAULT_MAX_BYTES;
	long timeout_ms = 120000;
	struct wsarchive_stats st = { 0 };
	struct etcd *c = NULL;
	struct gwclient *gc = NULL;
	struct err e = { "" };
	struct stat sb;
	json_t *obj = NULL, *running = NULL;
	char *spec = NULL, hash[65], where[4200];
	size_t spec_len = 0;
	bool resumed = false;
	int opt, r, ret = EXIT_FAIL, fd = -1, home_fd = -1, work_fd = -1;

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
		case CLI_KEY_SERVER:
			server = optarg;
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
	/* The same check the gateway makes again: refused here, nothing is
	 * created. */
	r = wsarchive_import(fd, home_fd, work_fd, false, max, &spec, &spec_len, &st, &e);
	if (r < 0) {
		fprintf(stderr, "error: import: %s: %s\nerror: nothing was imported\n", file,
			e.msg);
		goto out;
	}
	obj = import_object(where, spec, spec_len, ns, name, hash, &running);
	if (!obj) {
		fprintf(stderr, "error: nothing was imported\n");
		goto out;
	}
	{
		const char *image = json_string_value(json_object_get(json_object_get(obj, "spec"),
								      "image"));

		r = gwclient_new(server, &gc, &e);
		if (r == 0)
			r = have_image(gc, image ? image : WS_DEFAULT_IMAGE, &e);
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
	/* 3. The home and work, into the container that has not run yet. */
	{
		struct buf path;

		buf_init(&path, 8192);
		r = gwclient_path(ns, name, "import", &path);
		if (r == 0 && lseek(fd, 0, SEEK_SET) < 0)
			r = -errno;
		if (r == 0) {
			struct gwclient_call call = { .method = "PUT", .path = path.data,
						      .upload_fd = fd,
						      .upload_len = (long long)sb.st_size,
						      .progress = "import" };

			r = gwclient_do(gc, &call, &e);
		}
		buf_free(&path);
		if (r < 0) {
			fprintf(stderr, "error: import: %s; run the same import again to "
					"finish\n", e.msg[0] ? e.msg : strerror(-r));
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
	gwclient_free(gc);
	etcd_free(c);
	return ret;
}
