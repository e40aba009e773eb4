/* Unit tests for the container configuration (ctrcfg.h): env (ours, then
 * the user's), published ports, mounts, labels and the restart marker in
 * the create body; a spec-hash that moves with every input and with every
 * field of the body, stays put for the same inputs, and keeps its value
 * across releases (a new value would recreate every container); and the
 * match of an inspected container against the body. */
#include "ctrcfg.h"
#include "t.h"

#include <stdlib.h>

#define SPEC                                                                  \
	"apiVersion: klangk.io/v1alpha1\n"                                    \
	"kind: Workspace\n"                                                   \
	"metadata: {name: proj, namespace: alice}\n"                          \
	"spec:\n"                                                             \
	"  image: img:1\n"                                                    \
	"  hostedPorts: 2\n"                                                  \
	"  env: [{name: FOO, value: bar}, {name: BAZ, value: 'a=b'}]\n"       \
	"  mounts:\n"                                                         \
	"    - {source: /srv/data, target: /data, readOnly: true}\n"          \
	"    - {source: nix-store, target: /nix}\n"

/* The spec-hash of SPEC with base_cfg, base_res, id "0123456789ab", ports
 * 9000 and 9001 and no restart marker.  A change here recreates every
 * workspace's container at the upgrade.  It changed on purpose when the
 * limits, /tmp and the privilege settings joined the body (issue 15;
 * before: befd9da1..., as the controller computed it since release
 * 10a0667), and when the tenant network did (issue 15 item 4; before:
 * 85dbaf48...). */
#define GOLDEN_HASH "71c02e6a81bff3f057fd3e8ec39dc80614636d8ce004a9634340886f93459481"
/* The same on node "n1" with the restart marker 2026-12-03T10:00:00Z. */
#define GOLDEN_HASH_NODE_RESTARTED \
	"dfacd2005f547c57b0633576c11a36f05b86ec397cac72cb0d3de6d300b6779c"

static void base_cfg(struct cfg *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->instance_id, sizeof(c->instance_id), "inst1");
	snprintf(c->hosting_hostname, sizeof(c->hosting_hostname), "localhost:8995");
	snprintf(c->hosting_proto, sizeof(c->hosting_proto), "http");
	snprintf(c->hosting_base_path, sizeof(c->hosting_base_path), "/base");
	snprintf(c->publish_address, sizeof(c->publish_address), "127.0.0.1");
	/* The isolation defaults (lib/cfg.c), as cfg_check derives them. */
	c->iso.n_cap_drop = 5;
	snprintf(c->iso.cap_drop[0], sizeof(c->iso.cap_drop[0]), "AUDIT_WRITE");
	snprintf(c->iso.cap_drop[1], sizeof(c->iso.cap_drop[1]), "MKNOD");
	snprintf(c->iso.cap_drop[2], sizeof(c->iso.cap_drop[2]), "NET_RAW");
	snprintf(c->iso.cap_drop[3], sizeof(c->iso.cap_drop[3]), "SETFCAP");
	snprintf(c->iso.cap_drop[4], sizeof(c->iso.cap_drop[4]), "SYS_CHROOT");
	c->iso.tmp_size = 1LL << 30;
}

/* The limits of the default settings: 2 CPUs, 8 GiB without swap, 16384
 * pids. */
static const struct engine_resources base_res = {
	.nano_cpus = 2000000000LL, .memory = 8LL << 30, .memory_swap = 8LL << 30,
	.pids_limit = 16384,
};

static struct ws *load(const char *yaml)
{
	struct ws *w = NULL;
	struct err e = { "" };

	if (ws_load(yaml, strlen(yaml), "alice", "proj", &w, NULL, &e) < 0)
		fprintf(stderr, "ws_load: %s\n", e.msg);
	return w;
}

struct fixture {
	struct cfg cfg;
	struct ws *w;
	long ports[2];
	char id[16];
	char restarted[CTRCFG_RESTARTED_MAX];
	struct engine_resources res;
};

static void fixture_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	base_cfg(&f->cfg);
	f->w = load(SPEC);
	f->ports[0] = 9000;
	f->ports[1] = 9001;
	snprintf(f->id, sizeof(f->id), "0123456789ab");
	f->res = base_res;
}

static json_t *build_in_place(const struct fixture *f, bool in_place,
			      char hash[CTRCFG_HASH_LEN])
{
	const struct ctrcfg_in in = { .cfg = &f->cfg, .ws = f->w, .id = f->id,
				      .ports = f->ports, .restarted = f->restarted,
				      .res = &f->res, .limits_in_place = in_place };
	json_t *c = NULL;

	if (ctrcfg_build(&in, &c, hash) < 0)
		return NULL;
	return c;
}

static json_t *build(const struct fixture *f, char hash[CTRCFG_HASH_LEN])
{
	return build_in_place(f, false, hash);
}

static const char *env_at(const json_t *c, size_t i)
{
	return json_string_value(json_array_get(json_object_get(c, "Env"), i));
}

static const char *label(const json_t *c, const char *k)
{
	return json_string_value(json_object_get(json_object_get(c, "Labels"), k));
}

static void test_env(const json_t *c)
{
	CHECK(json_array_size(json_object_get(c, "Env")) == 8);
	CHECK(strcmp(env_at(c, 0), "KLANGK_WORKSPACE_ID=0123456789ab") == 0);
	CHECK(strcmp(env_at(c, 1), "KLANGK_PORT_MAPPINGS=8000:9000,8001:9001") == 0);
	CHECK(strcmp(env_at(c, 2), "KLANGK_HOSTING_HOSTNAME=localhost:8995") == 0);
	CHECK(strcmp(env_at(c, 3), "KLANGK_HOSTING_PROTO=http") == 0);
	CHECK(strcmp(env_at(c, 4), "KLANGK_HOSTING_BASE_PATH=/base") == 0);
	CHECK(strcmp(env_at(c, 5), "KLANGK_USER=alice") == 0);
	/* The user's own, after ours, in spec order. */
	CHECK(strcmp(env_at(c, 6), "FOO=bar") == 0);
	CHECK(strcmp(env_at(c, 7), "BAZ=a=b") == 0);
}

static void test_ports(const json_t *c)
{
	const json_t *hc = json_object_get(c, "HostConfig");
	const json_t *b = json_object_get(json_object_get(hc, "PortBindings"), "8001/tcp");

	CHECK(json_object_size(json_object_get(c, "ExposedPorts")) == 2);
	CHECK(json_object_get(json_object_get(c, "ExposedPorts"), "8000/tcp") != NULL);
	CHECK(json_object_size(json_object_get(hc, "PortBindings")) == 2);
	CHECK(json_array_size(b) == 1);
	CHECK(strcmp(json_string_value(json_object_get(json_array_get(b, 0), "HostIp")),
		     "127.0.0.1") == 0);
	CHECK(strcmp(json_string_value(json_object_get(json_array_get(b, 0), "HostPort")),
		     "9001") == 0);
}

static bool mount_is(const json_t *m, const char *type, const char *src, const char *dst)
{
	return strcmp(json_string_value(json_object_get(m, "Type")), type) == 0 &&
	       strcmp(json_string_value(json_object_get(m, "Source")), src) == 0 &&
	       strcmp(json_string_value(json_object_get(m, "Target")), dst) == 0;
}

static void test_mounts(const json_t *c)
{
	const json_t *m = json_object_get(json_object_get(c, "HostConfig"), "Mounts");

	CHECK(json_array_size(m) == 4);
	CHECK(mount_is(json_array_get(m, 0), "volume", "klangk_inst1_alice_proj_home",
		       "/home/alice"));
	CHECK(mount_is(json_array_get(m, 1), "volume", "klangk_inst1_alice_proj_work",
		       "/home/alice/work"));
	CHECK(mount_is(json_array_get(m, 2), "bind", "/srv/data", "/data"));
	CHECK(json_is_true(json_object_get(json_array_get(m, 2), "ReadOnly")));
	CHECK(mount_is(json_array_get(m, 3), "volume", "nix-store", "/nix"));
	CHECK(json_is_false(json_object_get(json_array_get(m, 3), "ReadOnly")));
}

static void test_labels_and_host(const json_t *c, const char *hash)
{
	const json_t *hc = json_object_get(c, "HostConfig");

	CHECK(strcmp(label(c, CTRCFG_LABEL_MANAGED), "true") == 0);
	CHECK(strcmp(label(c, CTRCFG_LABEL_INSTANCE), "inst1") == 0);
	CHECK(strcmp(label(c, CTRCFG_LABEL_WORKSPACE), "alice/proj") == 0);
	CHECK(strcmp(label(c, CTRCFG_LABEL_USER), "alice") == 0);
	CHECK(strcmp(label(c, CTRCFG_LABEL_ID), "0123456789ab") == 0);
	CHECK(strcmp(label(c, CTRCFG_LABEL_HASH), hash) == 0);
	/* Single node, never restarted: neither label. */
	CHECK(label(c, CTRCFG_LABEL_NODE) == NULL);
	CHECK(label(c, CTRCFG_LABEL_RESTARTED) == NULL);
	CHECK(strcmp(json_string_value(json_object_get(c, "Image")), "img:1") == 0);
	CHECK(strcmp(json_string_value(json_object_get(c, "Hostname")), "proj") == 0);
	CHECK(json_is_true(json_object_get(hc, "Init")));
	/* The tenant's network, and no other (tnet.h). */
	CHECK(strcmp(json_string_value(json_object_get(hc, "NetworkMode")),
		     "klangk_inst1_alice") == 0);
	CHECK(strcmp(json_string_value(json_object_get(json_object_get(hc, "RestartPolicy"),
						       "Name")), "no") == 0);
}

static int64_t hc_int(const json_t *hc, const char *k)
{
	return (int64_t)json_integer_value(json_object_get(hc, k));
}

/* Limits, /tmp and privileges in HostConfig. */
static void test_limits(const json_t *c)
{
	const json_t *hc = json_object_get(c, "HostConfig");
	const json_t *drop = json_object_get(hc, "CapDrop");
	const char *tmp = json_string_value(json_object_get(json_object_get(hc, "Tmpfs"),
							    "/tmp"));

	CHECK(hc_int(hc, "NanoCpus") == 2000000000LL);
	CHECK(hc_int(hc, "Memory") == 8LL << 30);
	/* No swap beyond the memory. */
	CHECK(hc_int(hc, "MemorySwap") == 8LL << 30);
	CHECK(hc_int(hc, "PidsLimit") == 16384);
	CHECK(tmp && strcmp(tmp, "rw,nosuid,nodev,mode=1777,size=1073741824") == 0);
	CHECK(json_array_size(drop) == 5);
	CHECK(strcmp(json_string_value(json_array_get(drop, 2)), "NET_RAW") == 0);
	CHECK(json_array_size(json_object_get(hc, "SecurityOpt")) == 1);
	CHECK(strcmp(json_string_value(json_array_get(json_object_get(hc, "SecurityOpt"), 0)),
		     "no-new-privileges") == 0);
	/* KLANGK_USERNS=off: the engine's default. */
	CHECK(json_object_get(hc, "UsernsMode") == NULL);
}

/* A spec mount on /tmp replaces the tmpfs (the engine refuses two mounts
 * at one target); userns auto is passed on. */
static void test_tmp_mount_userns(struct fixture *f)
{
	char hash[CTRCFG_HASH_LEN], *saved = f->w->mounts[0].target;
	json_t *c;

	f->w->mounts[0].target = "/tmp";
	f->cfg.iso.userns_auto = true;
	c = build(f, hash);
	CHECK(c && json_object_get(json_object_get(c, "HostConfig"), "Tmpfs") == NULL);
	CHECK(c && strcmp(json_string_value(json_object_get(
			json_object_get(c, "HostConfig"), "UsernsMode")), "auto") == 0);
	json_decref(c);
	f->w->mounts[0].target = saved;
	f->cfg.iso.userns_auto = false;
}

/* The restart marker: a label, and a new hash (the container is recreated). */
static void test_restart_marker(struct fixture *f, const char *base_hash)
{
	char hash[CTRCFG_HASH_LEN];
	json_t *c;

	snprintf(f->restarted, sizeof(f->restarted), "2026-12-03T10:00:00Z");
	c = build(f, hash);
	CHECK(c && label(c, CTRCFG_LABEL_RESTARTED) &&
	      strcmp(label(c, CTRCFG_LABEL_RESTARTED), "2026-12-03T10:00:00Z") == 0);
	CHECK(strcmp(hash, base_hash) != 0);
	json_decref(c);
	snprintf(f->cfg.node_name, sizeof(f->cfg.node_name), "n1");
	c = build(f, hash);
	CHECK(c && strcmp(label(c, CTRCFG_LABEL_NODE), "n1") == 0);
	CHECK(strcmp(hash, GOLDEN_HASH_NODE_RESTARTED) == 0);
	if (strcmp(hash, GOLDEN_HASH_NODE_RESTARTED) != 0)
		fprintf(stderr, "spec-hash on n1, restarted: %s\n", hash);
	json_decref(c);
	base_cfg(&f->cfg);
	f->restarted[0] = '\0';
}

/* Does the hash of f differ from base? */
static bool differs(const struct fixture *f, const char *base)
{
	char hash[CTRCFG_HASH_LEN];
	json_t *c = build(f, hash);
	bool d = c && strcmp(hash, base) != 0;

	json_decref(c);
	return d;
}

/* Each input, changed alone, changes the hash. */
static void test_hash_inputs(struct fixture *f, const char *base)
{
	char *saved;

	f->ports[1] = 9100;
	CHECK(differs(f, base));
	f->ports[1] = 9001;
	snprintf(f->id, sizeof(f->id), "ba9876543210");
	CHECK(differs(f, base));
	snprintf(f->id, sizeof(f->id), "0123456789ab");
	snprintf(f->cfg.hosting_proto, sizeof(f->cfg.hosting_proto), "https");
	CHECK(differs(f, base));
	base_cfg(&f->cfg);
	snprintf(f->cfg.hosting_hostname, sizeof(f->cfg.hosting_hostname), "apps.example");
	CHECK(differs(f, base));
	base_cfg(&f->cfg);
	snprintf(f->cfg.hosting_domain, sizeof(f->cfg.hosting_domain), "apps.example.com");
	CHECK(differs(f, base));
	{
		char h[CTRCFG_HASH_LEN];
		json_t *c = build(f, h);

		/* Origin mode adds its variable after the other hosting ones. */
		CHECK(c && strcmp(env_at(c, 5), "KLANGK_HOSTING_DOMAIN=apps.example.com") == 0);
		CHECK(c && strcmp(env_at(c, 6), "KLANGK_USER=alice") == 0);
		json_decref(c);
	}
	base_cfg(&f->cfg);
	snprintf(f->cfg.publish_address, sizeof(f->cfg.publish_address), "0.0.0.0");
	CHECK(differs(f, base));
	base_cfg(&f->cfg);
	/* KLANGK_PUBLISH=none: no PortBindings (the engine binds nothing),
	 * the ports still exposed; a change of mode recreates. */
	f->cfg.publish_none = true;
	CHECK(differs(f, base));
	{
		char h[CTRCFG_HASH_LEN];
		json_t *c = build(f, h);
		const json_t *hc = json_object_get(c, "HostConfig");

		CHECK(c && json_object_get(hc, "PortBindings") == NULL);
		CHECK(c && json_object_size(json_object_get(c, "ExposedPorts")) == 2);
		json_decref(c);
	}
	base_cfg(&f->cfg);
	snprintf(f->cfg.instance_id, sizeof(f->cfg.instance_id), "inst2");
	CHECK(differs(f, base));
	base_cfg(&f->cfg);
	saved = f->w->env[0].value;
	f->w->env[0].value = "other";
	CHECK(differs(f, base));
	f->w->env[0].value = saved;
	f->w->mounts[0].read_only = false;
	CHECK(differs(f, base));
	f->w->mounts[0].read_only = true;
	saved = f->w->mounts[1].source;
	f->w->mounts[1].source = "other";
	CHECK(differs(f, base));
	f->w->mounts[1].source = saved;
	saved = f->w->image;
	f->w->image = "img:2";
	CHECK(differs(f, base));
	f->w->image = saved;
	f->w->hosted_ports = 1;
	CHECK(differs(f, base));
	f->w->hosted_ports = 2;
	/* The limits and privileges (issue 15). */
	f->res.nano_cpus = 500000000LL;
	CHECK(differs(f, base));
	f->res = base_res;
	f->res.memory = f->res.memory_swap = 4LL << 30;
	CHECK(differs(f, base));
	f->res = base_res;
	f->res.memory_swap = 16LL << 30;
	CHECK(differs(f, base));
	f->res = base_res;
	f->res.pids_limit = 100;
	CHECK(differs(f, base));
	f->res = base_res;
	f->cfg.iso.tmp_size = 1LL << 20;
	CHECK(differs(f, base));
	base_cfg(&f->cfg);
	f->cfg.iso.n_cap_drop = 4;
	CHECK(differs(f, base));
	base_cfg(&f->cfg);
	f->cfg.iso.userns_auto = true;
	CHECK(differs(f, base));
	base_cfg(&f->cfg);
	/* And back to the base inputs: the base hash again. */
	CHECK(!differs(f, base));
}

/* Every leaf of the body, changed alone, changes the hash: the hash covers
 * the whole configuration, including fields added after this test. */
static int leaves_checked;

static void mutate_each_leaf(json_t *root, json_t *node, const char *base)
{
	char hash[CTRCFG_HASH_LEN];
	const char *k;
	json_t *v, *old;
	size_t i;

	if (json_is_object(node)) {
		json_object_foreach(node, k, v) {
			if (json_is_object(v) || json_is_array(v)) {
				mutate_each_leaf(root, v, base);
				continue;
			}
			if (strcmp(k, CTRCFG_LABEL_HASH) == 0)
				continue;
			old = json_incref(v);
			json_object_set_new(node, k, json_string("mutated"));
			CHECK(ctrcfg_hash(root, hash) == 0 && strcmp(hash, base) != 0);
			json_object_set_new(node, k, old);
			leaves_checked++;
		}
	} else if (json_is_array(node)) {
		json_array_foreach(node, i, v) {
			if (json_is_object(v) || json_is_array(v)) {
				mutate_each_leaf(root, v, base);
				continue;
			}
			old = json_incref(v);
			json_array_set_new(node, i, json_string("mutated"));
			CHECK(ctrcfg_hash(root, hash) == 0 && strcmp(hash, base) != 0);
			json_array_set_new(node, i, old);
			leaves_checked++;
		}
	}
}

static void test_matches(const json_t *c, const char *hash)
{
	json_t *info = json_pack("{s:{s:o,s:o}}", "Config", "Labels",
				 json_deep_copy(json_object_get(c, "Labels")), "Env",
				 json_deep_copy(json_object_get(c, "Env")));
	json_t *env = json_object_get(json_object_get(info, "Config"), "Env");

	/* The image's own env comes on top: still ours. */
	json_array_append_new(env, json_string("PATH=/bin"));
	CHECK(ctrcfg_matches(info, c, hash));
	CHECK(!ctrcfg_matches(info, c, "0000"));
	/* Recreated with our labels but another port mapping: not ours. */
	json_array_set_new(env, 1, json_string("KLANGK_PORT_MAPPINGS=8000:1"));
	CHECK(!ctrcfg_matches(info, c, hash));
	json_decref(info);
}

/* Where the engine updates limits in place (dockerd), they are out of
 * the hash: a change of limits alone keeps the hash (no recreation) and
 * ctrcfg_limits_match tells the container's limits from the wanted ones;
 * anything else still moves the hash. */
static void test_limits_in_place(struct fixture *f, const char *full_hash)
{
	char h1[CTRCFG_HASH_LEN], h2[CTRCFG_HASH_LEN];
	json_t *c1 = build_in_place(f, true, h1), *c2, *info;

	CHECK(c1 && strcmp(h1, full_hash) != 0);
	f->res.memory = f->res.memory_swap = 1LL << 30;
	f->res.nano_cpus = 500000000LL;
	c2 = build_in_place(f, true, h2);
	CHECK(c2 && strcmp(h1, h2) == 0);
	/* An inspection of the container made from c1. */
	info = json_pack("{s:o}", "HostConfig", json_deep_copy(json_object_get(c1, "HostConfig")));
	CHECK(info && ctrcfg_limits_match(info, c1));
	CHECK(!ctrcfg_limits_match(info, c2));
	json_object_set_new(json_object_get(info, "HostConfig"), "PidsLimit", json_null());
	CHECK(!ctrcfg_limits_match(info, c1));
	json_decref(info);
	json_decref(c2);
	f->res = base_res;
	f->ports[1] = 9002;
	c2 = build_in_place(f, true, h2);
	CHECK(c2 && strcmp(h1, h2) != 0);
	f->ports[1] = 9001;
	json_decref(c2);
	json_decref(c1);
}

int main(void)
{
	struct fixture f;
	char hash[CTRCFG_HASH_LEN], again[CTRCFG_HASH_LEN], rehash[CTRCFG_HASH_LEN];
	json_t *c, *c2;

	fixture_init(&f);
	CHECK(f.w != NULL);
	if (!f.w)
		return T_DONE("ctrcfg");
	c = build(&f, hash);
	CHECK(c != NULL);
	if (!c)
		return T_DONE("ctrcfg");
	test_env(c);
	test_ports(c);
	test_mounts(c);
	test_labels_and_host(c, hash);
	test_limits(c);
	/* Deterministic, and the hash of the body itself. */
	c2 = build(&f, again);
	CHECK(c2 && strcmp(hash, again) == 0 && json_equal(c, c2));
	json_decref(c2);
	CHECK(ctrcfg_hash(c, rehash) == 0 && strcmp(rehash, hash) == 0);
	CHECK(strcmp(hash, GOLDEN_HASH) == 0);
	if (strcmp(hash, GOLDEN_HASH) != 0)
		fprintf(stderr, "spec-hash %s, was %s\n", hash, GOLDEN_HASH);
	test_restart_marker(&f, hash);
	test_hash_inputs(&f, hash);
	test_tmp_mount_userns(&f);
	mutate_each_leaf(c, c, hash);
	CHECK(leaves_checked >= 30);
	test_matches(c, hash);
	test_limits_in_place(&f, hash);
	json_decref(c);
	ws_free(f.w);
	return T_DONE("ctrcfg");
}
