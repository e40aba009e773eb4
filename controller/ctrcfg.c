/*
 * ctrcfg — the container configuration and its spec-hash (see ctrcfg.h).
 *
 * The body is made by a table of sections, each adding its part to the
 * object; HostConfig is made first so later sections can add to it.
 */
#include "ctrcfg.h"

#include "buf.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Set key of obj to v (stolen); -ENOMEM when v is NULL or the set fails. */
static int put(json_t *obj, const char *key, json_t *v)
{
	if (!v)
		return -ENOMEM;
	return json_object_set_new(obj, key, v) == 0 ? 0 : -ENOMEM;
}

/* Append v (stolen) to arr; -ENOMEM as put. */
static int push(json_t *arr, json_t *v)
{
	if (!v)
		return -ENOMEM;
	return json_array_append_new(arr, v) == 0 ? 0 : -ENOMEM;
}

/* Append the string "<name>=<value>" to env. */
static int push_env(json_t *env, const char *name, const char *value)
{
	struct buf b;
	int r;

	buf_init(&b, 0);
	r = buf_printf(&b, "%s=%s", name, value);
	if (r == 0)
		r = push(env, json_string(b.data));
	buf_free(&b);
	return r;
}

static json_t *host_config(json_t *c)
{
	return json_object_get(c, "HostConfig");
}

/* HostConfig's fixed part.  Init: without one, a PID 1 that ignores
 * SIGTERM makes every stop wait out the grace period.  The engine never
 * restarts a container on its own: the controller decides. */
static int sec_host(json_t *c, const struct ctrcfg_in *in)
{
	(void)in;
	return put(c, "HostConfig", json_pack("{s:b,s:{s:s}}", "Init", 1,
					      "RestartPolicy", "Name", "no"));
}

static int sec_image(json_t *c, const struct ctrcfg_in *in)
{
	int r = put(c, "Image", json_string(in->ws->image));

	return r < 0 ? r : put(c, "Hostname", json_string(in->ws->name));
}

static int sec_labels(json_t *c, const struct ctrcfg_in *in)
{
	char owner[160];
	json_t *l;
	int r;

	if ((size_t)snprintf(owner, sizeof(owner), "%s/%s", in->ws->ns, in->ws->name) >=
	    sizeof(owner))
		return -ENAMETOOLONG;
	l = json_pack("{s:s,s:s,s:s,s:s,s:s}", CTRCFG_LABEL_MANAGED, "true",
		      CTRCFG_LABEL_INSTANCE, in->cfg->instance_id,
		      CTRCFG_LABEL_WORKSPACE, owner, CTRCFG_LABEL_USER, in->ws->ns,
		      CTRCFG_LABEL_ID, in->id);
	r = put(c, "Labels", l);
	/* `klangkc restart` stamps a marker in the spec; a new value is a
	 * new configuration, so the container is recreated. */
	if (r == 0 && in->restarted[0])
		r = put(l, CTRCFG_LABEL_RESTARTED, json_string(in->restarted));
	if (r == 0 && in->cfg->node_name[0])
		r = put(l, CTRCFG_LABEL_NODE, json_string(in->cfg->node_name));
	return r;
}

/* KLANGK_PORT_MAPPINGS: "8000:<host>,8001:<host>,..." (seeds/hosted-apps). */
static int port_mappings(const struct ctrcfg_in *in, struct buf *map)
{
	int r = 0;

	for (int i = 0; r == 0 && i < in->ws->hosted_ports; i++)
		r = buf_printf(map, "%s%d:%ld", i ? "," : "", WS_CONTAINER_PORT_BASE + i,
			       in->ports[i]);
	return r;
}

/* Ours first (the seeds name them), then the user's own, in spec order. */
static int sec_env(json_t *c, const struct ctrcfg_in *in)
{
	const struct cfg *cfg = in->cfg;
	json_t *env = json_array();
	struct buf map;
	int r;

	buf_init(&map, 0);
	r = put(c, "Env", env);
	if (r == 0)
		r = port_mappings(in, &map);
	if (r == 0)
		r = push_env(env, "KLANGK_WORKSPACE_ID", in->id);
	if (r == 0)
		r = push_env(env, "KLANGK_PORT_MAPPINGS", map.data ? map.data : "");
	if (r == 0)
		r = push_env(env, "KLANGK_HOSTING_HOSTNAME", cfg->hosting_hostname);
	if (r == 0)
		r = push_env(env, "KLANGK_HOSTING_PROTO", cfg->hosting_proto);
	if (r == 0)
		r = push_env(env, "KLANGK_HOSTING_BASE_PATH", cfg->hosting_base_path);
	/* Origin mode only: its presence tells apps their URL is
	 * <proto>://<KLANGK_WORKSPACE_ID>-<host port>.<domain>/ (set only
	 * when in force, so path-mode containers keep their spec hash). */
	if (r == 0 && cfg->hosting_domain[0])
		r = push_env(env, "KLANGK_HOSTING_DOMAIN", cfg->hosting_domain);
	if (r == 0)
		r = push_env(env, "KLANGK_USER", in->ws->ns);
	for (size_t i = 0; r == 0 && i < in->ws->n_env; i++)
		r = push_env(env, in->ws->env[i].name, in->ws->env[i].value);
	buf_free(&map);
	return r;
}

/* Container ports 8000.. published on the leased host ports, on the
 * publish address only (nginx reaches them there).  With KLANGK_PUBLISH=
 * none nothing is published (no PortBindings: the engine binds no host
 * port and sets up no forwarding rules for it); nginx reaches the ports
 * at the container's address on its tenant network.  The ports stay
 * exposed, which the engines only record. */
static int sec_ports(json_t *c, const struct ctrcfg_in *in)
{
	json_t *exposed = json_object(), *bindings = in->cfg->publish_none ? NULL : json_object();
	int r = put(c, "ExposedPorts", exposed);

	if (r == 0 && !bindings && !in->cfg->publish_none)
		r = -ENOMEM;
	if (r == 0 && bindings)
		r = put(host_config(c), "PortBindings", bindings);
	else
		json_decref(bindings);
	for (int i = 0; r == 0 && i < in->ws->hosted_ports; i++) {
		char cport[16], hport[24];

		snprintf(cport, sizeof(cport), "%d/tcp", WS_CONTAINER_PORT_BASE + i);
		snprintf(hport, sizeof(hport), "%ld", in->ports[i]);
		r = put(exposed, cport, json_object());
		if (r == 0 && bindings)
			r = put(bindings, cport, json_pack("[{s:s,s:s}]", "HostIp",
							  in->cfg->publish_address,
							  "HostPort", hport));
	}
	return r;
}

/* The home and work volumes, then the spec's mounts in spec order. */
static int sec_mounts(json_t *c, const struct ctrcfg_in *in)
{
	const struct ws *w = in->ws;
	const char *inst = in->cfg->instance_id;
	char home[128], work[160], home_vol[256], work_vol[256];
	json_t *mounts = json_array();
	int r = put(host_config(c), "Mounts", mounts);

	if (r < 0)
		return r;
	if (ws_home_path(w->ns, home, sizeof(home)) < 0 ||
	    ws_work_path(w->ns, work, sizeof(work)) < 0 ||
	    ws_volume_name(inst, w->ns, w->name, "home", home_vol, sizeof(home_vol)) < 0 ||
	    ws_volume_name(inst, w->ns, w->name, "work", work_vol, sizeof(work_vol)) < 0)
		return -ENAMETOOLONG;
	r = push(mounts, json_pack("{s:s,s:s,s:s}", "Type", "volume", "Source", home_vol,
				   "Target", home));
	if (r == 0)
		r = push(mounts, json_pack("{s:s,s:s,s:s}", "Type", "volume", "Source",
					   work_vol, "Target", work));
	for (size_t i = 0; r == 0 && i < w->n_mounts; i++)
		r = push(mounts, json_pack("{s:s,s:s,s:s,s:b}", "Type",
					   w->mounts[i].bind ? "bind" : "volume",
					   "Source", w->mounts[i].source,
					   "Target", w->mounts[i].target,
					   "ReadOnly", w->mounts[i].read_only));
	return r;
}

/* The size-limited /tmp (KLANGK_TMP_SIZE), world-writable and sticky as
 * /tmp is; left out when a spec mount covers /tmp itself (the engine
 * refuses two mounts at one target). */
static int tmp_tmpfs(json_t *hc, const struct ctrcfg_in *in)
{
	char opts[96];

	for (size_t i = 0; i < in->ws->n_mounts; i++)
		if (strcmp(in->ws->mounts[i].target, "/tmp") == 0)
			return 0;
	snprintf(opts, sizeof(opts), "rw,nosuid,nodev,mode=1777,size=%lld",
		 (long long)in->cfg->iso.tmp_size);
	return put(hc, "Tmpfs", json_pack("{s:s}", "/tmp", opts));
}

/* Least privilege: the capabilities KLANGK_CAP_DROP names are dropped
 * (NET_RAW and the rest by default), no process gains privileges through
 * setuid binaries or file capabilities (no-new-privileges), and with
 * KLANGK_USERNS=auto Podman gives the container its own user namespace. */
static int privileges(json_t *hc, const struct ctrcfg_in *in)
{
	const struct cfg_isolation *iso = &in->cfg->iso;
	json_t *drop = json_array();
	int r = put(hc, "CapDrop", drop);

	for (size_t i = 0; r == 0 && i < iso->n_cap_drop; i++)
		r = push(drop, json_string(iso->cap_drop[i]));
	if (r == 0)
		r = put(hc, "SecurityOpt", json_pack("[s]", "no-new-privileges"));
	if (r == 0 && iso->userns_auto)
		r = put(hc, "UsernsMode", json_string("auto"));
	return r;
}

/* Compute limits (NanoCpus, Memory and MemorySwap equal: no swap,
 * PidsLimit), /tmp and privileges.  Added in issue 15: containers made
 * before it are recreated once, since their spec-hash changed. */
static int sec_limits(json_t *c, const struct ctrcfg_in *in)
{
	json_t *hc = host_config(c);
	int r = engine_resources_to_json(in->res, hc);

	if (r == 0)
		r = tmp_tmpfs(hc, in);
	return r < 0 ? r : privileges(hc, in);
}

/* The tenant's own network, and no other (controller/tnet.h): other
 * tenants' containers are not on it, and the egress firewall
 * (controller/egress.h) keeps it from reaching them and the host.  Added
 * in issue 15 item 4: containers made before it are recreated once. */
static int sec_network(json_t *c, const struct ctrcfg_in *in)
{
	char net[256];

	if (ws_network_name(in->cfg->instance_id, in->ws->ns, net, sizeof(net)) < 0)
		return -ENAMETOOLONG;
	return put(host_config(c), "NetworkMode", json_string(net));
}

typedef int (*section_fn)(json_t *c, const struct ctrcfg_in *in);

static const section_fn sections[] = {
	sec_host, sec_image, sec_labels, sec_env, sec_ports, sec_mounts,
	sec_limits, sec_network,
};

static int sha256_hex(const char *s, char out[CTRCFG_HASH_LEN])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[32];
	unsigned int n = 0;

	if (EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL) != 1 || n != 32)
		return -EIO;
	for (int i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
	return 0;
}

int ctrcfg_hash(const json_t *config, char hash[CTRCFG_HASH_LEN])
{
	json_t *copy = json_deep_copy(config);
	char *canon = NULL;
	int r = -ENOMEM;

	if (!copy)
		return -ENOMEM;
	json_object_del(json_object_get(copy, "Labels"), CTRCFG_LABEL_HASH);
	/* Canonical: compact, keys sorted; arrays keep their order. */
	canon = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
	if (canon)
		r = sha256_hex(canon, hash);
	free(canon);
	json_decref(copy);
	return r;
}

/* The HostConfig fields engine_resources_to_json sets. */
static const char *const limit_fields[] = { "NanoCpus", "Memory", "MemorySwap",
					    "PidsLimit" };

/* The spec-hash of c without its limits (limits_in_place). */
static int hash_sans_limits(const json_t *c, char hash[CTRCFG_HASH_LEN])
{
	json_t *copy = json_deep_copy(c);
	int r = -ENOMEM;

	if (copy) {
		for (size_t i = 0; i < sizeof(limit_fields) / sizeof(limit_fields[0]); i++)
			json_object_del(json_object_get(copy, "HostConfig"), limit_fields[i]);
		r = ctrcfg_hash(copy, hash);
	}
	json_decref(copy);
	return r;
}

bool ctrcfg_limits_match(const json_t *info, const json_t *config)
{
	const json_t *have = json_object_get(info, "HostConfig");
	const json_t *want = json_object_get(config, "HostConfig");

	for (size_t i = 0; i < sizeof(limit_fields) / sizeof(limit_fields[0]); i++)
		if (json_integer_value(json_object_get(have, limit_fields[i])) !=
		    json_integer_value(json_object_get(want, limit_fields[i])))
			return false;
	return true;
}

int ctrcfg_build(const struct ctrcfg_in *in, json_t **config,
		 char hash[CTRCFG_HASH_LEN])
{
	json_t *c = json_object();
	char h[CTRCFG_HASH_LEN];
	int r = c ? 0 : -ENOMEM;

	for (size_t i = 0; r == 0 && i < sizeof(sections) / sizeof(sections[0]); i++)
		r = sections[i](c, in);
	if (r == 0)
		r = in->limits_in_place ? hash_sans_limits(c, h) : ctrcfg_hash(c, h);
	if (r == 0)
		r = put(json_object_get(c, "Labels"), CTRCFG_LABEL_HASH, json_string(h));
	if (r < 0) {
		json_decref(c);
		return r;
	}
	*config = c;
	memcpy(hash, h, CTRCFG_HASH_LEN);
	return 0;
}

bool ctrcfg_matches(const json_t *info, const json_t *config, const char *hash)
{
	const json_t *labels = json_object_get(json_object_get(info, "Config"), "Labels");
	const json_t *have = json_object_get(json_object_get(info, "Config"), "Env");
	const char *h = json_string_value(json_object_get(labels, CTRCFG_LABEL_HASH));
	size_t i, j;
	json_t *w, *x;

	if (!h || strcmp(h, hash) != 0)
		return false;
	json_array_foreach(json_object_get(config, "Env"), i, w) {
		bool found = false;

		json_array_foreach(have, j, x)
			if (json_equal(w, x)) {
				found = true;
				break;
			}
		if (!found)
			return false;
	}
	return true;
}
