/* klangkc — helpers shared by the verbs (see cli.h). */
#include "cli.h"

#include "buf.h"
#include "keys.h"
#include "ws.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *cli_etcd_flag;

int cli_etcd(struct etcd **out)
{
	struct etcd_opts o = etcd_opts_env(cli_etcd_flag);
	struct err e = { "" };
	int r = etcd_new(&o, out, &e);

	if (r < 0)
		fprintf(stderr, "error: %s\n", e.msg);
	return r;
}

int cli_fail(const char *what, int r, const struct err *e)
{
	fprintf(stderr, "error: %s%s%s\n", what ? what : "", what ? ": " : "",
		e && e->msg[0] ? e->msg : strerror(-r));
	if (r == -ECONNREFUSED || r == -ETIMEDOUT || r == -EHOSTUNREACH)
		return EXIT_UNAVAILABLE;
	if (r == -ENOENT)
		return EXIT_NOTFOUND;
	if (r == -EAGAIN)
		return EXIT_CONFLICT;
	return EXIT_FAIL;
}

const char *cli_namespace(const char *flag)
{
	return flag ? flag : WS_DEFAULT_NAMESPACE;
}

bool cli_check_ns(const char *ns)
{
	if (ws_is_dns_label(ns))
		return true;
	fprintf(stderr, "error: namespace \"%s\": must be a lowercase DNS label\n", ns);
	return false;
}

bool cli_check_name(const char *name)
{
	if (ws_is_dns_label(name))
		return true;
	fprintf(stderr, "error: \"%s\": a workspace name is a lowercase DNS label\n",
		name);
	return false;
}

int cli_selector(const char *text, struct selector **out)
{
	struct err e = { "" };
	int r;

	*out = NULL;
	if (!text)
		return 0;
	r = selector_parse(text, out, &e);
	if (r < 0)
		fprintf(stderr, "error: %s\n", e.msg[0] ? e.msg : strerror(-r));
	return r;
}

int cli_read_file(const char *path, char **data, size_t *len, struct err *e)
{
	int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	struct buf b;
	char chunk[65536];
	ssize_t n;
	int r = 0;

	buf_init(&b, CLI_MAX_FILE);
	if (fd < 0) {
		err_set(e, "%s: %s", path, strerror(errno));
		return -errno;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			err_set(e, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (buf_append(&b, chunk, (size_t)n) < 0) {
			r = -E2BIG;
			err_set(e, "%s: larger than %u bytes", path, CLI_MAX_FILE);
			goto out;
		}
	}
	*len = b.len;
	*data = b.data ? buf_steal(&b) : strdup("");
	if (!*data)
		r = -ENOMEM;
out:
	if (fd != STDIN_FILENO)
		close(fd);
	buf_free(&b);
	return r;
}

json_t *cli_parse_stored(const char *value, size_t len)
{
	struct codec_docs docs = { 0 };
	json_t *obj = json_loadb(value, len, 0, NULL);

	if (json_is_object(obj))
		return obj;
	json_decref(obj);
	obj = NULL;
	/* Not JSON: someone put YAML straight into etcd (allowed). */
	if (codec_yaml_load(value, len, &docs, NULL) == 0 && docs.n == 1 &&
	    json_is_object(docs.docs[0].value))
		obj = json_incref(docs.docs[0].value);
	codec_docs_clear(&docs);
	return obj;
}

/* cli_view, parsing the stored object only when full. */
static json_t *view(const char *ns, const char *name, const struct etcd_kv *spec,
		    const struct etcd_kv *status, bool full)
{
	json_t *obj = NULL, *meta, *st;
	struct status s;
	bool have;
	char rv[32];

	if (spec && full) {
		obj = cli_parse_stored(spec->value, spec->value_len);
		/* Something that is not an object: show it as it is rather
		 * than hiding it. */
		if (!obj)
			obj = json_pack("{s:s%}", "raw", spec->value, spec->value_len);
	} else {
		obj = json_pack("{s:s,s:s}", "apiVersion", WS_API_VERSION, "kind",
				WS_KIND);
	}
	if (!obj)
		return NULL;
	meta = json_object_get(obj, "metadata");
	if (!json_is_object(meta)) {
		meta = json_object();
		json_object_set_new(obj, "metadata", meta);
	}
	if (!json_is_string(json_object_get(meta, "name")))
		json_object_set_new(meta, "name", json_string(name));
	if (!json_is_string(json_object_get(meta, "namespace")))
		json_object_set_new(meta, "namespace", json_string(ns));
	if (spec) {
		snprintf(rv, sizeof(rv), "%lld", (long long)spec->mod_revision);
		json_object_set_new(meta, "resourceVersion", json_string(rv));
		json_object_set_new(meta, "generation", json_integer(spec->version));
	}
	/* The status as lib/status reads it: what klangkc shows is what
	 * every reader of the contract understands. */
	have = status && status_parse(status->value, status->value_len, &s, NULL) == 0;
	if (!spec) {
		/* Deleted: only the controller's finalizer (the status key)
		 * remains until it has torn everything down. */
		if (!have)
			status_init(&s);
		have = true;
		STATUS_SET(s.phase, STATUS_TERMINATING);
	}
	if (have) {
		st = status_to_json(&s);
		status_clear(&s);
		if (st)
			json_object_set_new(obj, "status", st);
	}
	return obj;
}

json_t *cli_view(const char *ns, const char *name, const struct etcd_kv *spec,
		 const struct etcd_kv *status)
{
	return view(ns, name, spec, status, true);
}

int cli_get_object(struct etcd *c, const char *ns, const char *name,
		   json_t **out, struct err *e)
{
	char key[512];
	struct etcd_kv spec = { 0 }, status = { 0 };
	bool have_spec, have_status;
	int r;

	if (keys_ws(KEYS_SPEC, ns, name, key, sizeof(key)) < 0)
		return -EINVAL;
	r = etcd_get(c, key, &spec, NULL, e);
	if (r < 0 && r != -ENOENT)
		return r;
	have_spec = r == 0;
	keys_ws(KEYS_STATUS, ns, name, key, sizeof(key));
	r = etcd_get(c, key, &status, NULL, e);
	if (r < 0 && r != -ENOENT)
		goto out;
	have_status = r == 0;
	if (!have_spec && !have_status) {
		err_set(e, "workspace \"%s\" not found in namespace \"%s\"", name, ns);
		r = -ENOENT;
		goto out;
	}
	*out = cli_view(ns, name, have_spec ? &spec : NULL,
			have_status ? &status : NULL);
	r = *out ? 0 : -ENOMEM;
out:
	etcd_kv_clear(&spec);
	etcd_kv_clear(&status);
	return r;
}

/* Append the view of (spec, status) for key rest ("ns/name") to list when
 * it matches sel. */
static int add_view(json_t *list, const char *rest, const struct etcd_kv *spec,
		    const struct etcd_kv *status, const struct selector *sel, bool full)
{
	char ns[256], name[256];
	const char *slash = strchr(rest, '/');
	json_t *o;

	if (!slash || (size_t)(slash - rest) >= sizeof(ns) || strlen(slash + 1) >= sizeof(name))
		return 0; /* not a workspace key */
	memcpy(ns, rest, (size_t)(slash - rest));
	ns[slash - rest] = '\0';
	snprintf(name, sizeof(name), "%s", slash + 1);
	o = view(ns, name, spec, status, full || sel);
	if (!o)
		return -ENOMEM;
	if (!selector_match(sel, json_object_get(json_object_get(o, "metadata"),
						 "labels"))) {
		json_decref(o);
		return 0;
	}
	return json_array_append_new(list, o) < 0 ? -ENOMEM : 0;
}

int cli_list_objects(struct etcd *c, const char *ns, const struct selector *sel,
		     bool full, json_t *list, int64_t *rev, struct err *e)
{
	struct etcd_kvs specs = { 0 }, stats = { 0 };
	const size_t sl = strlen(KEYS_SPEC_PREFIX), tl = strlen(KEYS_STATUS_PREFIX);
	char sp[512], tp[512];
	size_t i = 0, j = 0;
	int r;

	if (keys_ns_prefix(KEYS_SPEC, ns, sp, sizeof(sp)) < 0 ||
	    keys_ns_prefix(KEYS_STATUS, ns, tp, sizeof(tp)) < 0)
		return -ENAMETOOLONG;
	r = etcd_list(c, sp, &specs, e);
	if (r < 0)
		goto out;
	r = etcd_list(c, tp, &stats, e);
	if (r < 0)
		goto out;
	if (rev)
		*rev = specs.revision;
	/* Both lists are sorted by key: walk them together.  A status
	 * without its spec is a workspace being torn down. */
	while (i < specs.n || j < stats.n) {
		int cmp;

		if (i == specs.n)
			cmp = 1;
		else if (j == stats.n)
			cmp = -1;
		else
			cmp = strcmp(specs.kvs[i].key + sl, stats.kvs[j].key + tl);
		if (cmp < 0) {
			r = add_view(list, specs.kvs[i].key + sl, &specs.kvs[i], NULL, sel, full);
			i++;
		} else if (cmp > 0) {
			r = add_view(list, stats.kvs[j].key + tl, NULL, &stats.kvs[j], sel, full);
			j++;
		} else {
			r = add_view(list, specs.kvs[i].key + sl, &specs.kvs[i],
				     &stats.kvs[j], sel, full);
			i++;
			j++;
		}
		if (r < 0)
			goto out;
	}
out:
	etcd_kvs_clear(&specs);
	etcd_kvs_clear(&stats);
	return r;
}

void cli_backoff(int attempt, unsigned cap_ms)
{
	unsigned limit = attempt < 20 ? 1u << attempt : cap_ms;
	unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL) ^ (unsigned)attempt;
	struct timespec ts;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	seed ^= (unsigned)ts.tv_nsec;
	if (limit > cap_ms)
		limit = cap_ms;
	ms = 1 + (long)(rand_r(&seed) % limit);
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

int cli_parse_dry_run(const char *s, int *out)
{
	if (strcmp(s, "client") == 0)
		*out = DRY_CLIENT;
	else if (strcmp(s, "server") == 0)
		*out = DRY_SERVER;
	else if (strcmp(s, "none") == 0)
		*out = DRY_NONE;
	else {
		fprintf(stderr, "error: --dry-run must be none, client or server\n");
		return -1;
	}
	return 0;
}

int cli_revision(struct etcd *c, const char *key, int64_t *rev, struct err *e)
{
	struct etcd_kv kv = { 0 };
	int r;

	/* A read of a missing key still carries the revision. */
	r = etcd_get(c, key, &kv, rev, e);
	etcd_kv_clear(&kv);
	return r == -ENOENT ? 0 : r;
}

const struct cliopt cli_opts_names[] = {
	CLIOPT_NAMESPACE,
	CLIOPT_HELP,
	CLIOPT_END,
};

int cli_name_args(const char *verb, int argc, char **argv, int min, int max,
		  int n_names, const char **ns, int *first)
{
	struct cliopt_parser p = { .opts = cli_opts_names };
	const char *ns_flag = NULL;
	int opt, n;

	while ((opt = cliopt_next(&p, argc, argv)) != -1) {
		switch (opt) {
		case 'n':
			ns_flag = optarg;
			break;
		case 'h':
			cli_usage(verb, false);
			return EXIT_OK;
		default:
			cli_usage(verb, true);
			return EXIT_USAGE;
		}
	}
	n = argc - optind;
	if (n < min || (max && n > max)) {
		fprintf(stderr, "error: %s: wrong number of arguments\n", verb);
		cli_usage(verb, true);
		return EXIT_USAGE;
	}
	*ns = cli_namespace(ns_flag);
	if (!cli_check_ns(*ns))
		return EXIT_USAGE;
	for (int i = 0; i < n && (n_names < 0 || i < n_names); i++)
		if (!cli_check_name(argv[optind + i]))
			return EXIT_USAGE;
	*first = optind;
	return -1;
}

void cli_print_problems(const char *where, const char *msg, const char *suffix)
{
	const char *p = msg;

	while (*p) {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);

		fprintf(stderr, "error: %s: %.*s%s\n", where, len, p, suffix);
		if (!nl)
			break;
		p = nl + 1;
	}
}

int cli_txn_if(struct etcd *c, const char *key, int64_t mod, json_t *op,
	       bool *ok, struct err *e)
{
	json_t *cmp = json_pack("[o]", etcd_cmp_mod(key, mod));
	json_t *ops = json_pack("[o]", op);

	*ok = false;
	if (!cmp || !ops) {
		json_decref(cmp);
		json_decref(ops);
		return -ENOMEM;
	}
	return etcd_txn(c, cmp, ops, NULL, ok, NULL, e);
}

int cli_write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

int cli_temp_template(const char *name, const char *suffix, char *out, size_t len)
{
	const char *dir = getenv("TMPDIR");
	int n;

	if (!dir || !*dir)
		dir = "/tmp";
	n = snprintf(out, len, "%s/%sXXXXXX%s", dir, name, suffix);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int cli_temp_fd(const char *dir)
{
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	return fd < 0 ? -errno : fd;
}
