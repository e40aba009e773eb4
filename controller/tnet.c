/* tnet — one engine network per tenant (see tnet.h). */
#include "tnet.h"

#include "ctrcfg.h"
#include "log.h"
#include "ws.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BRIDGE_OPT "com.docker.network.bridge.name"

int tnet_bridge_name(const char *instance, const char *ns, char out[TNET_BRIDGE_MAX])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[32];
	unsigned int n = 0;
	char in[160];

	/* 48 bits: two tenants of one host sharing a bridge (and so a
	 * network) is as likely as a collision among 10^7 names. */
	if ((size_t)snprintf(in, sizeof(in), "%s/%s", instance, ns) >= sizeof(in))
		return -ENAMETOOLONG;
	if (EVP_Digest(in, strlen(in), md, &n, EVP_sha256(), NULL) != 1)
		return -EIO;
	memcpy(out, EGRESS_BRIDGE_PREFIX, 2);
	for (int i = 0; i < 6; i++) {
		out[2 + 2 * i] = hex[md[i] >> 4];
		out[3 + 2 * i] = hex[md[i] & 15];
	}
	out[14] = '\0';
	return 0;
}

static const char *label_of(const json_t *labels, const char *k)
{
	const char *v = json_string_value(json_object_get(labels, k));

	return v ? v : "";
}

static int create(struct engine *g, const struct cfg *cfg, const char *ns,
		  const char *net, const char *bridge, struct err *e)
{
	json_t *labels = json_pack("{s:s,s:s,s:s}", CTRCFG_LABEL_MANAGED, "true",
				   CTRCFG_LABEL_INSTANCE, cfg->instance_id,
				   CTRCFG_LABEL_USER, ns);
	/* isolate: Podman's CNI firewall plugin drops traffic between this
	 * bridge and the others (its compat API sets it anyway). */
	json_t *opts = json_pack("{s:s,s:s}", BRIDGE_OPT, bridge, "isolate", "true");
	struct engine_network_opts o = { .labels = labels, .options = opts };
	int r = labels && opts ? 0 : -ENOMEM;

	if (r == 0 && cfg->node_name[0])
		r = json_object_set_new(labels, CTRCFG_LABEL_NODE,
					json_string(cfg->node_name)) == 0 ? 0 : -ENOMEM;
	if (r == 0)
		r = engine_network_create(g, net, &o, NULL, e);
	if (r == 0)
		log_info("tenant network created", "namespace", ns, "network", net,
			 "bridge", bridge, NULL);
	json_decref(labels);
	json_decref(opts);
	return r;
}

int tnet_ensure(struct engine *g, const struct cfg *cfg, const char *ns,
		char bridge[TNET_BRIDGE_MAX], struct err *e)
{
	char net[256], br[TNET_BRIDGE_MAX];
	json_t *info = NULL, *labels;
	int r;

	if (ws_network_name(cfg->instance_id, ns, net, sizeof(net)) < 0 ||
	    tnet_bridge_name(cfg->instance_id, ns, br) < 0)
		return -ENAMETOOLONG;
	r = engine_network_inspect(g, net, &info, e);
	if (r == -ENOENT) {
		err_clear(e);
		r = create(g, cfg, ns, net, br, e);
		if (r == 0 || r != -EEXIST)
			goto out;
		/* Created by someone else meanwhile: check its labels. */
		err_clear(e);
		r = engine_network_inspect(g, net, &info, e);
	}
	if (r == 0 && info) {
		labels = json_object_get(info, "Labels");
		if (strcmp(label_of(labels, CTRCFG_LABEL_INSTANCE), cfg->instance_id) != 0 ||
		    strcmp(label_of(labels, CTRCFG_LABEL_USER), ns) != 0) {
			err_set(e, "network %s is not labelled for tenant \"%s\" of "
				   "instance \"%s\" (instance \"%s\", user \"%s\")", net,
				ns, cfg->instance_id, label_of(labels, CTRCFG_LABEL_INSTANCE),
				label_of(labels, CTRCFG_LABEL_USER));
			r = -EPERM;
		}
	}
out:
	if (r == 0)
		memcpy(bridge, br, TNET_BRIDGE_MAX);
	json_decref(info);
	return r;
}

int tnet_list(struct engine *g, const char *instance, json_t **out, struct err *e)
{
	char label[128];

	snprintf(label, sizeof(label), "%s=%s", CTRCFG_LABEL_INSTANCE, instance);
	return engine_network_list(g, label, out, e);
}

const char *tnet_namespace(const json_t *network)
{
	const json_t *labels = json_object_get(network, "Labels");

	if (strcmp(label_of(labels, CTRCFG_LABEL_MANAGED), "true") != 0)
		return NULL;
	return json_string_value(json_object_get(labels, CTRCFG_LABEL_USER));
}

int tnet_firewall(struct egress *eg, const struct cfg *cfg, const json_t *networks,
		  struct err *e)
{
	size_t n = json_array_size(networks), k = 0, i;
	char (*names)[TNET_BRIDGE_MAX] = calloc(n + 1, sizeof(*names));
	const char **ptrs = calloc(n + 1, sizeof(*ptrs));
	const json_t *v;
	int r = names && ptrs ? 0 : -ENOMEM;

	json_array_foreach(networks, i, v) {
		const char *ns = tnet_namespace(v);

		if (r == 0 && ns && tnet_bridge_name(cfg->instance_id, ns, names[k]) == 0) {
			ptrs[k] = names[k];
			k++;
		}
	}
	if (r == 0)
		r = k ? egress_apply(eg, &cfg->iso, ptrs, k, e) : egress_remove(eg, e);
	free(names);
	free(ptrs);
	return r;
}
