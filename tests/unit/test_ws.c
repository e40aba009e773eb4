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
		    "  reclaimPolicy: Retain\n", &w, &e) == 0);
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
	      strcmp(w->reclaim_policy, "Delete") == 0 && !w->command);
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
	char ns[64], name[64], buf[256];

	CHECK(ws_is_dns_label("a-b1"));
	CHECK(!ws_is_dns_label("-a"));
	CHECK(!ws_is_dns_label("A"));
	CHECK(!ws_is_dns_label(""));
	CHECK(ws_is_id("3f9c1a2b7d4e"));
	CHECK(!ws_is_id("3F9C1A2B7D4E"));
	CHECK(!ws_is_id("3f9c"));
	CHECK(ws_split_key("/klangk/workspaces/alice/proj", WS_SPEC_PREFIX, ns, sizeof(ns),
			   name, sizeof(name)) == 0);
	CHECK(strcmp(ns, "alice") == 0 && strcmp(name, "proj") == 0);
	CHECK(ws_split_key("/klangk/workspaces/alice/a/b", WS_SPEC_PREFIX, ns, sizeof(ns),
			   name, sizeof(name)) == -EINVAL);
	CHECK(ws_container_name("i1", "alice", "proj", buf, sizeof(buf)) == 0);
	CHECK(strcmp(buf, "klangk_i1_alice_proj") == 0);
	CHECK(ws_container_name("i1", "alice", "proj", buf, 5) == -ENAMETOOLONG);
}

int main(void)
{
	test_valid_and_defaults();
	test_refusals();
	test_schema_agreement();
	test_names();
	return T_DONE("ws");
}
