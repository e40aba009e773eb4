/* Unit tests for ws: the Workspace rules and the error paths they name. */
#include "codec.h"
#include "t.h"
#include "ws.h"

static int parse(const char *yaml, struct ws **w, struct err *e)
{
	struct codec_docs d = { 0 };
	int r;

	*w = NULL;
	err_clear(e);
	r = codec_yaml_load(yaml, strlen(yaml), &d, e);
	if (r < 0 || d.n != 1)
		return -100;
	r = ws_parse(d.docs[0].value, NULL, w, e);
	codec_docs_clear(&d);
	return r;
}

#define HDR "apiVersion: klangk.io/v1alpha1\nkind: Workspace\nmetadata: {name: w, namespace: alice}\n"

/* The object must be refused with `msg` among its problems. */
static void refused(const char *spec, const char *msg)
{
	char doc[4096];
	struct ws *w;
	struct err e;

	snprintf(doc, sizeof(doc), HDR "spec:\n%s", spec);
	CHECK(parse(doc, &w, &e) == -EINVAL);
	CHECK_CONTAINS(e.msg, msg);
	ws_free(w);
}

static void test_valid_and_defaults(void)
{
	struct ws *w;
	struct err e;

	CHECK(parse(HDR "spec:\n"
		    "  image: klangk-workspace\n"
		    "  command: [pi]\n"
		    "  env: [{name: FOO, value: bar}]\n"
		    "  mounts:\n"
		    "    - {source: /srv/data, target: /data, readOnly: true}\n"
		    "    - {source: nix-store, target: /nix}\n"
		    "  hostedPorts: 3\n"
		    "  idleTimeoutSeconds: 0\n"
		    "  running: false\n"
		    "  members: [{user: bob@example.com}]\n"
		    "  reclaimPolicy: Retain\n"
		    "  nodeName: node-a\n", &w, &e) == 0);
	CHECK(w && w->node_name && strcmp(w->node_name, "node-a") == 0);
	CHECK(w && w->hosted_ports == 3 && !w->running && w->idle_timeout == 0);
	CHECK(w && w->n_mounts == 2 && w->mounts[0].bind && w->mounts[0].read_only &&
	      !w->mounts[1].bind);
	CHECK(w && w->n_members == 1 && strcmp(w->members[0].role, "coder") == 0);
	CHECK(w && strcmp(w->reclaim_policy, "Retain") == 0);
	ws_free(w);

	CHECK(parse("apiVersion: klangk.io/v1alpha1\nkind: Workspace\nmetadata: {name: x}\n",
		    &w, &e) == 0);
	CHECK(w && strcmp(w->ns, "default") == 0 && w->hosted_ports == 5 && w->running &&
	      w->idle_timeout == -1 && strcmp(w->image, WS_DEFAULT_IMAGE) == 0 &&
	      strcmp(w->reclaim_policy, "Delete") == 0 && !w->command && !w->node_name);
	ws_free(w);
}

static void test_refusals(void)
{
	struct ws *w;
	struct err e;

	CHECK(parse("apiVersion: v1\nkind: Pod\nmetadata: {name: UPPER}\n", &w, &e) == -EINVAL);
	CHECK_CONTAINS(e.msg, "apiVersion: must be klangk.io/v1alpha1");
	CHECK_CONTAINS(e.msg, "kind: must be Workspace");
	CHECK_CONTAINS(e.msg, "metadata.name: must be a lowercase DNS label");
	CHECK(parse("apiVersion: klangk.io/v1alpha1\nkind: Workspace\n", &w, &e) == -EINVAL);
	CHECK_CONTAINS(e.msg, "metadata: required");
	CHECK(parse("apiVersion: klangk.io/v1alpha1\nkind: Workspace\nmetadata: {}\n", &w, &e) == -EINVAL);
	CHECK_CONTAINS(e.msg, "metadata.name: required");

	refused("  mounts: [{source: /a, target: rel}]\n", "spec.mounts[0].target: must be an absolute path");
	refused("  mounts: [{source: /a, target: /x/../y}]\n", "spec.mounts[0].target: must be a normalised");
	refused("  mounts: [{source: ../a, target: /x}]\n", "spec.mounts[0].source");
	refused("  mounts: [{source: /a/./b, target: /x}]\n", "spec.mounts[0].source: must be a normalised");
	refused("  mounts: [{source: /a, target: /proc/x}]\n", "must not be in or over /proc");
	refused("  mounts: [{source: /a, target: /home}]\n", "must not be /home, /home/<user>");
	refused("  mounts: [{source: /a, target: /home/bob}]\n", "must not be /home, /home/<user>");
	refused("  mounts: [{source: /a, target: /home/alice/work}]\n", "spec.mounts[0].target: must not be /home");
	refused("  mounts: [{source: /a, target: /x//y}]\n", "spec.mounts[0].target: must be a normalised");
	refused("  mounts: [{source: /a/, target: /x}]\n", "spec.mounts[0].source: must be a normalised");
	refused("  command: [sh, \"\"]\n", "spec.command[1]: must not be empty");
	refused("  image: \"" "\"\n", "spec.image: must be an image reference");
	refused("  idleTimeoutSeconds: 1e30\n", "spec.idleTimeoutSeconds: must be between");
	refused("  hostedPorts: 2.5\n", "spec.hostedPorts: must be an integer");
	refused("  mounts: [{source: /a, target: /x}, {source: /b, target: /x}]\n",
		"spec.mounts[1].target: duplicate target");
	refused("  mounts: [{source: \"/a\\nb\", target: /x}]\n", "control characters");
	refused("  env: [{name: KLANGK_PORT_MAPPINGS, value: x}]\n", "spec.env[0].name: the prefixes");
	refused("  env: [{name: LD_PRELOAD, value: x}]\n", "spec.env[0].name: the prefixes");
	refused("  env: [{name: A, value: x}, {name: A, value: y}]\n", "spec.env[1].name: duplicate");
	refused("  env: [{name: \"A B\"}]\n", "must be a POSIX name");
	refused("  env: [{name: A, value: \"x\\0y\"}]\n", "NUL");
	refused("  hostedPorts: 6\n", "spec.hostedPorts: must be between 0 and 5");
	refused("  hostedPorts: \"5\"\n", "spec.hostedPorts: must be an integer");
	refused("  idleTimeoutSeconds: -1\n", "spec.idleTimeoutSeconds");
	refused("  running: yes\n", "spec.running: must be true or false");
	refused("  reclaimPolicy: Keep\n", "spec.reclaimPolicy: must be Delete or Retain");
	refused("  nodeName: Node-A\n", "spec.nodeName: must be a lowercase DNS label");
	refused("  nodeName: 1\n", "spec.nodeName: must be a string");
	refused("  members: [{user: \"a b\"}]\n", "spec.members[0].user");
	refused("  members: [{user: a, role: admin}]\n", "spec.members[0].role");
	refused("  image: \"bad image;rm\"\n", "spec.image: must be an image reference");
	refused("  command: []\n", "spec.command: must have 1 to 64 items");
	refused("  imgae: typo\n", "spec.imgae: unknown field");
}

/* Rules that must agree with the CRD's JSON Schema (see tests/schema). */
static void test_schema_agreement(void)
{
	struct ws *w;
	struct err e;
	char doc[8192], big[300];

	/* Mounting inside home or work is fine; only the volumes' own
	 * mount points are refused. */
	CHECK(parse(HDR "spec:\n  mounts: [{source: /a, target: /home/alice/work/data},"
		    " {source: v, target: /home/alice/.cache}]\n", &w, &e) == 0);
	ws_free(w);
	/* maxLength counts characters, not bytes: 255 two-byte letters. */
	memset(big, 0, sizeof(big));
	for (int i = 0; i < 4; i++)
		strcat(big, "\xc3\xa9");
	snprintf(doc, sizeof(doc), HDR "spec:\n  members: [{user: a}]\n  env: [{name: A, value: \"%s\"}]\n", big);
	CHECK(parse(doc, &w, &e) == 0);
	ws_free(w);
	/* 5.0 is an integer. */
	CHECK(parse(HDR "spec: {hostedPorts: 5.0}\n", &w, &e) == 0);
	ws_free(w);
	/* Server-set metadata must have its types. */
	CHECK(parse("apiVersion: klangk.io/v1alpha1\nkind: Workspace\n"
		    "metadata: {name: w, resourceVersion: 5, generation: x}\n", &w, &e) == -EINVAL);
	CHECK_CONTAINS(e.msg, "metadata.resourceVersion: must be a string");
	CHECK_CONTAINS(e.msg, "metadata.generation: must be an integer");
	/* Many labels are fine (Kubernetes sets no count limit). */
	{
		char labels[4096] = "";

		for (int i = 0; i < 100; i++) {
			char one[32];

			snprintf(one, sizeof(one), "%sl%d: v", i ? ", " : "", i);
			strcat(labels, one);
		}
		snprintf(doc, sizeof(doc), "apiVersion: klangk.io/v1alpha1\nkind: Workspace\n"
			 "metadata: {name: w, labels: {%s}}\n", labels);
		CHECK(parse(doc, &w, &e) == 0);
		ws_free(w);
	}
	/* A null is an absent field. */
	CHECK(parse(HDR "spec: {image: null, command: null, env: null}\n", &w, &e) == 0);
	ws_free(w);
}

static void test_names(void)
{
	char buf[256];

	CHECK(ws_is_dns_label("a-b1"));
	CHECK(!ws_is_dns_label("-a"));
	CHECK(!ws_is_dns_label("A"));
	CHECK(!ws_is_dns_label(""));
	CHECK(ws_is_id("3f9c1a2b7d4e"));
	CHECK(!ws_is_id("3F9C1A2B7D4E"));
	CHECK(!ws_is_id("3f9c"));
	CHECK(ws_container_name("i1", "alice", "proj", buf, sizeof(buf)) == 0);
	CHECK(strcmp(buf, "klangk_i1_alice_proj") == 0);
	CHECK(ws_container_name("i1", "alice", "proj", buf, 5) == -ENAMETOOLONG);
}


/* ---- the injection corpus ---- */

/* Strings that must never reach a container name, a label, an engine URL
 * or the nginx configuration. */
static const char *const corpus[] = {
	";", "}", "{", "#", "$", "'", "\"", "\\", "\n", "\t", " ", "..", "%2F",
	"a;b", "a}b", "a{b", "a#b", "a$b", "a'b", "a\"b", "a\\b", "a\nb", "a\tb",
	"a b", "a..b", "a%2Fb", "../x", "a/b", "Alice", "x;rm -rf /",
	"a}\nserver{listen 1", "$(id)", "`id`", "", NULL,
};

/* A valid object with one field replaced: field is a JSON pointer-like
 * path of object keys and array indexes ("spec.env.0.name"). */
static json_t *doc_with(const char *field, json_t *value)
{
	json_t *doc = json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:{s:s,s:[{s:s,s:s}],"
				"s:[{s:s,s:s}],s:[{s:s,s:s}],s:s}}",
				"apiVersion", WS_API_VERSION, "kind", WS_KIND,
				"metadata", "name", "w", "namespace", "alice", "labels",
				"team", "ml", "spec", "image", "busybox", "env", "name",
				"FOO", "value", "bar", "mounts", "source", "cache",
				"target", "/cache", "members", "user", "bob", "role",
				"coder", "reclaimPolicy", "Delete");
	char buf[128], *save = NULL, *tok, *next;
	json_t *cur = doc;

	snprintf(buf, sizeof(buf), "%s", field);
	tok = strtok_r(buf, ".", &save);
	while (tok) {
		next = strtok_r(NULL, ".", &save);
		if (!next) {
			if (json_is_array(cur))
				json_array_set_new(cur, (size_t)strtoul(tok, NULL, 10), value);
			else
				json_object_set_new(cur, tok, value);
			break;
		}
		cur = json_is_array(cur) ? json_array_get(cur, strtoul(tok, NULL, 10)) :
			json_object_get(cur, tok);
		tok = next;
	}
	return doc;
}

static int parse_json(json_t *doc, struct err *e)
{
	struct ws *w = NULL;
	int r = ws_parse(doc, NULL, &w, e);

	ws_free(w);
	json_decref(doc);
	return r;
}

/* Every corpus string is refused in field, except those in `allowed`. */
static void corpus_refused(const char *field, const char *const *allowed)
{
	struct err e;

	for (const char *const *c = corpus; *c; c++) {
		bool ok = false;
		int r;

		for (const char *const *a = allowed; a && *a; a++)
			ok |= strcmp(*a, *c) == 0;
		r = parse_json(doc_with(field, json_string(*c)), &e);
		if (ok ? r != 0 : r != -EINVAL)
			fprintf(stderr, "%s = \"%s\": expected %s, got %d (%s)\n", field, *c,
				ok ? "accepted" : "refused", r, e.msg);
		CHECK(ok ? r == 0 : r == -EINVAL);
	}
}

static void test_injection_corpus(void)
{
	static const char *const label_ok[] = { "Alice", "a..b", "", NULL };
	static const char *const user_ok[] = { "Alice", "a..b", "a%2Fb", NULL };
	static const char *const volume_ok[] = { "Alice", "a..b", NULL };
	static const char *const env_ok[] = { "Alice", NULL };
	static const char *const image_ok[] = { "Alice", "a/b", NULL };
	char longname[300];
	struct err e;

	CHECK(parse_json(doc_with("spec.image", json_string("busybox")), &e) == 0);
	corpus_refused("metadata.name", NULL);
	corpus_refused("metadata.namespace", NULL);
	corpus_refused("metadata.labels.team", label_ok);
	corpus_refused("spec.image", image_ok);
	corpus_refused("spec.env.0.name", env_ok);
	corpus_refused("spec.mounts.0.source", volume_ok);
	corpus_refused("spec.members.0.user", user_ok);
	corpus_refused("spec.members.0.role", NULL);
	corpus_refused("spec.reclaimPolicy", NULL);
	/* Label keys: the corpus as a key. */
	for (const char *const *c = corpus; *c; c++) {
		json_t *labels = json_pack("{s:s}", *c, "v");
		int r = parse_json(doc_with("metadata.labels", labels), &e);

		CHECK(strcmp(*c, "Alice") == 0 || strcmp(*c, "a..b") == 0 ||
		      strcmp(*c, "a/b") == 0 ? r == 0 : r == -EINVAL);
	}
	/* Over-long values. */
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	CHECK(parse_json(doc_with("metadata.name", json_string(longname)), &e) == -EINVAL);
	CHECK(parse_json(doc_with("metadata.namespace", json_string(longname)), &e) == -EINVAL);
	CHECK(parse_json(doc_with("spec.image", json_string(longname)), &e) == -EINVAL);
	CHECK(parse_json(doc_with("spec.mounts.0.source", json_string(longname)), &e) == -EINVAL);
	CHECK(parse_json(doc_with("spec.members.0.user", json_string(longname)), &e) == -EINVAL);
	longname[64] = '\0';
	CHECK(parse_json(doc_with("metadata.name", json_string(longname)), &e) == -EINVAL);
	longname[63] = '\0';
	CHECK(parse_json(doc_with("metadata.name", json_string(longname)), &e) == 0);
	/* Control characters and dot segments in mount paths. */
	CHECK(parse_json(doc_with("spec.mounts.0.target", json_string("/a\nb")), &e) == -EINVAL);
	CHECK(parse_json(doc_with("spec.mounts.0.target", json_string("/a/../b")), &e) == -EINVAL);
	CHECK(parse_json(doc_with("spec.mounts.0.source", json_string("/srv/a\tb")), &e) == -EINVAL);
	CHECK(parse_json(doc_with("spec.mounts.0.source", json_string("/srv/../run")), &e) == -EINVAL);
	/* Volume names of the controller's own are reserved. */
	CHECK(parse_json(doc_with("spec.mounts.0.source",
				  json_string("klangk_default_bob_proj_home")), &e) == -EINVAL);
	CHECK_CONTAINS(e.msg, "reserved");
	/* Ports: hostedPorts is a count, 0..5; nothing else is a port. */
	CHECK(parse_json(doc_with("spec.hostedPorts", json_integer(0)), &e) == 0);
	CHECK(parse_json(doc_with("spec.hostedPorts", json_integer(65536)), &e) == -EINVAL);
	CHECK(parse_json(doc_with("spec.hostedPorts", json_integer(-1)), &e) == -EINVAL);
	/* A NUL inside a string. */
	CHECK(parse_json(doc_with("spec.env.0.value", json_stringn("a\0b", 3)), &e) == -EINVAL);
	CHECK(parse_json(doc_with("metadata.name", json_stringn("w\0x", 3)), &e) == -EINVAL);
	/* Free-form values that never reach a name, a label or nginx are
	 * accepted as they are (the engine gets them as JSON strings). */
	CHECK(parse_json(doc_with("spec.env.0.value", json_string("a;b}{#$'\"\\\n\t ..%2F")),
			 &e) == 0);
	/* Protected bind sources are refused at apply time already. */
	CHECK(parse_json(doc_with("spec.mounts.0.source", json_string("/var/run")), &e) == -EINVAL);
	CHECK_CONTAINS(e.msg, "spec.mounts[0].source: must not contain the protected path");
	CHECK(parse_json(doc_with("spec.mounts.0.source", json_string("/")), &e) == -EINVAL);
	CHECK(parse_json(doc_with("spec.mounts.0.source", json_string("/run/docker.sock")),
			 &e) == -EINVAL);
}

/* spec.resources: what each form parses to, unset fields, and refusals
 * naming the field. */
static void test_resources(void)
{
	struct ws *w;
	struct err e;

	CHECK(parse(HDR "spec:\n  resources: {cpu: 500m, memory: 8Gi, pids: 16384}\n",
		    &w, &e) == 0);
	CHECK(w && w->resources.cpu.value == 500000000 &&
	      strcmp(w->resources.cpu.text, "500m") == 0);
	CHECK(w && w->resources.memory.value == 8589934592LL &&
	      strcmp(w->resources.memory.text, "8Gi") == 0);
	CHECK(w && w->resources.pids == 16384);
	ws_free(w);

	/* Integers are CPUs and bytes; 2.0 counts as an integer. */
	CHECK(parse(HDR "spec:\n  resources: {cpu: 2.0, memory: 1048576}\n", &w, &e) == 0);
	CHECK(w && w->resources.cpu.value == 2000000000 &&
	      w->resources.memory.value == 1048576 && w->resources.pids == 0);
	ws_free(w);

	/* Unset means 0 (the operator's default applies). */
	CHECK(parse(HDR "spec:\n  resources: {}\n", &w, &e) == 0);
	CHECK(w && w->resources.cpu.value == 0 && w->resources.memory.value == 0 &&
	      w->resources.pids == 0 && w->resources.cpu.text[0] == '\0');
	ws_free(w);
	CHECK(parse(HDR "spec: {}\n", &w, &e) == 0);
	CHECK(w && w->resources.cpu.value == 0 && w->resources.memory.value == 0);
	ws_free(w);

	/* Too large for int64: valid syntax, kept as INT64_MAX (over any cap). */
	CHECK(parse(HDR "spec:\n  resources: {memory: 1e30, cpu: \"1e100\"}\n",
		    &w, &e) == 0);
	CHECK(w && w->resources.memory.value == INT64_MAX &&
	      w->resources.cpu.value == INT64_MAX &&
	      strcmp(w->resources.cpu.text, "1e100") == 0);
	ws_free(w);

	refused("  resources: {cpu: \"0\"}\n", "spec.resources.cpu: must be a positive quantity");
	refused("  resources: {cpu: \"-1\"}\n", "spec.resources.cpu: must be a positive quantity");
	refused("  resources: {cpu: 0}\n", "spec.resources.cpu: must be at least 1");
	refused("  resources: {cpu: 0.5}\n", "spec.resources.cpu: must be an integer or a quantity");
	refused("  resources: {memory: \"1e1.5\"}\n", "spec.resources.memory: must be a positive quantity");
	refused("  resources: {memory: \"8GB\"}\n", "spec.resources.memory: must be a positive quantity");
	refused("  resources: {memory: [1]}\n", "spec.resources.memory: must be an integer or a quantity");
	refused("  resources: {pids: 0}\n", "spec.resources.pids: must be between 1 and 4194304");
	refused("  resources: {pids: 100, cpus: 2}\n", "spec.resources.cpus: unknown field");
	refused("  resources: 2\n", "spec.resources: must be an object");
}

int main(void)
{
	test_valid_and_defaults();
	test_refusals();
	test_resources();
	test_schema_agreement();
	test_names();
	test_injection_corpus();
	return T_DONE("ws");
}
