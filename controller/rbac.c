/*
 * rbac — etcd roles from workspaces (see rbac.h).
 *
 * The plan is pure (rbac_plan); the sync reads etcd's users, roles and the
 * workspaces, then applies the difference with the gateway's /v3/auth/
 * calls.  Only roles named klangk:user:<user> (lib/keys.h) are ever changed or deleted,
 * so roles an operator made by hand are left alone.
 */
#include "rbac.h"

#include "keys.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = { "READ", "WRITE", "READWRITE" };

void rbac_opts_env(struct rbac_opts *o)
{
	const char *u = getenv("KLANGK_ETCD_USERNAME");
	const char *off = getenv("KLANGK_RBAC");
	const char *svc = getenv("KLANGK_RBAC_SERVICE_USERS");

	memset(o, 0, sizeof(*o));
	o->enabled = u && *u && !(off && strcmp(off, "off") == 0);
	snprintf(o->self, sizeof(o->self), "%s", u ? u : "");
	snprintf(o->service, sizeof(o->service), "%s", svc ? svc : "");
}

void rbac_perms_clear(struct rbac_perms *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].key);
		free(p->v[i].range_end);
	}
	free(p->v);
	memset(p, 0, sizeof(*p));
}

static int perm_cmp(const void *a, const void *b)
{
	const struct rbac_perm *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c ? c : strcmp(x->range_end, y->range_end);
}

static int perms_add(struct rbac_perms *p, const char *key, const char *end,
		     enum rbac_perm_type type)
{
	struct rbac_perm *v = realloc(p->v, (p->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	p->v = v;
	v[p->n].key = strdup(key);
	v[p->n].range_end = strdup(end);
	v[p->n].type = type;
	p->n++;
	return v[p->n - 1].key && v[p->n - 1].range_end ? 0 : -ENOMEM;
}

/* Read-write or read on everything under prefix. */
static int add_prefix(struct rbac_perms *p, const char *prefix,
		      enum rbac_perm_type type)
{
	char *end = etcd_range_end(prefix);
	int r;

	if (!end)
		return -ENOMEM;
	r = perms_add(p, prefix, end, type);
	free(end);
	return r;
}

int rbac_plan(const char *user, const struct rbac_ws *ws, size_t n,
	      struct rbac_perms *out)
{
	char key[512];
	int r = 0;

	memset(out, 0, sizeof(*out));
	if (ws_is_dns_label(user)) {
		keys_ns_prefix(KEYS_SPEC, user, key, sizeof(key));
		if ((r = add_prefix(out, key, RBAC_READWRITE)) < 0)
			goto out;
		keys_ns_prefix(KEYS_STATUS, user, key, sizeof(key));
		if ((r = add_prefix(out, key, RBAC_READ)) < 0)
			goto out;
		/* klangkc exec, start and touch record activity. */
		keys_ns_prefix(KEYS_ACTIVITY, user, key, sizeof(key));
		if ((r = add_prefix(out, key, RBAC_READWRITE)) < 0)
			goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct ws *w = ws[i].w;

		if (strcmp(ws[i].ns, user) == 0)
			continue;  /* their own namespace covers it */
		for (size_t m = 0; m < w->n_members; m++) {
			bool owner;

			if (strcmp(w->members[m].user, user) != 0)
				continue;
			owner = strcmp(w->members[m].role, "owner") == 0;
			if ((r = keys_ws(KEYS_SPEC, ws[i].ns, ws[i].name, key, sizeof(key))) < 0 ||
			    (r = perms_add(out, key, "", owner ? RBAC_READWRITE : RBAC_READ)) < 0 ||
			    (r = keys_ws(KEYS_STATUS, ws[i].ns, ws[i].name, key, sizeof(key))) < 0 ||
			    (r = perms_add(out, key, "", RBAC_READ)) < 0)
				goto out;
			/* Members who work in it (not spectators) record
			 * activity, as its terminal's users. */
			if (strcmp(w->members[m].role, "spectator") != 0) {
				if ((r = keys_ws(KEYS_ACTIVITY, ws[i].ns, ws[i].name, key,
						 sizeof(key))) < 0 ||
				    (r = perms_add(out, key, "", RBAC_READWRITE)) < 0)
					goto out;
			}
		}
	}
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), perm_cmp);
out:
	if (r < 0)
		rbac_perms_clear(out);
	return r;
}

/* ---- talking to etcd ---- */

/* POST req (stolen) to path; resp (new) may be NULL. */
static int call(struct etcd *c, const char *path, json_t *req, json_t **resp,
		struct err *e)
{
	json_t *out = NULL;
	int r;

	if (!req)
		return -ENOMEM;
	r = etcd_request(c, path, req, &out, e);
	json_decref(req);
	if (r == 0 && resp)
		*resp = out;
	else
		json_decref(out);
	return r;
}

static bool in_array(const json_t *arr, const char *s)
{
	size_t i;
	const json_t *v;

	json_array_foreach(arr, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}

static bool in_csv(const char *csv, const char *s)
{
	size_t n = strlen(s);

	for (const char *p = csv; *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		while (len && *p == ' ') {
			p++;
			len--;
		}
		while (len && p[len - 1] == ' ')
			len--;
		if (len == n && strncmp(p, s, n) == 0)
			return true;
		if (!comma)
			break;
		p = comma + 1;
	}
	return false;
}

/* The permissions a role has now. */
static int role_perms(struct etcd *c, const char *role, struct rbac_perms *out,
		      struct err *e)
{
	json_t *resp = NULL, *p;
	size_t i;
	int r;

	memset(out, 0, sizeof(*out));
	r = call(c, "/v3/auth/role/get", json_pack("{s:s}", "role", role), &resp, e);
	if (r < 0)
		return r;
	json_array_foreach(json_object_get(resp, "perm"), i, p) {
		const json_t *t = json_object_get(p, "permType");
		const char *kb = json_string_value(json_object_get(p, "key"));
		const char *eb = json_string_value(json_object_get(p, "range_end"));
		enum rbac_perm_type type = RBAC_READ;
		char *key = NULL, *end = NULL;
		size_t kl, el;

		if (json_is_integer(t) && json_integer_value(t) >= 0 &&
		    json_integer_value(t) <= 2)
			type = (enum rbac_perm_type)json_integer_value(t);
		for (int k = 0; json_is_string(t) && k < 3; k++)
			if (strcmp(json_string_value(t), type_names[k]) == 0)
				type = (enum rbac_perm_type)k;
		if (etcd_bytes_decode(kb ? kb : "", &key, &kl) < 0 ||
		    etcd_bytes_decode(eb ? eb : "", &end, &el) < 0) {
			free(key);
			err_set(e, "etcd role %s: malformed permission", role);
			r = -EPROTO;
			break;
		}
		r = perms_add(out, key, end, type);
		free(key);
		free(end);
		if (r < 0)
			break;
	}
	json_decref(resp);
	if (r < 0)
		rbac_perms_clear(out);
	return r;
}

static int perm_grant(struct etcd *c, const char *role, const struct rbac_perm *p,
		 struct err *e)
{
	json_t *perm = json_pack("{s:s,s:o}", "permType", type_names[p->type], "key",
				 etcd_bytes(p->key, strlen(p->key)));

	if (perm && *p->range_end)
		json_object_set_new(perm, "range_end",
				    etcd_bytes(p->range_end, strlen(p->range_end)));
	return call(c, "/v3/auth/role/grant",
		    perm ? json_pack("{s:s,s:o}", "name", role, "perm", perm) : NULL,
		    NULL, e);
}

static int perm_revoke(struct etcd *c, const char *role, const struct rbac_perm *p,
		  struct err *e)
{
	json_t *req = json_pack("{s:s,s:o}", "role", role, "key",
				etcd_bytes(p->key, strlen(p->key)));

	if (req && *p->range_end)
		json_object_set_new(req, "range_end",
				    etcd_bytes(p->range_end, strlen(p->range_end)));
	return call(c, "/v3/auth/role/revoke", req, NULL, e);
}

/* Make role's permissions exactly `want`. */
static int converge_role(struct etcd *c, const char *role, bool exists,
			 const struct rbac_perms *want, struct rbac_stats *st,
			 struct err *e)
{
	struct rbac_perms have = { 0 };
	int r = 0;

	if (exists && (r = role_perms(c, role, &have, e)) < 0)
		return r;
	if (have.n)
		qsort(have.v, have.n, sizeof(*have.v), perm_cmp);
	for (size_t i = 0; i < want->n && r == 0; i++) {
		const struct rbac_perm *h = have.n ? bsearch(&want->v[i], have.v, have.n,
							     sizeof(*have.v), perm_cmp) : NULL;

		if (h && h->type == want->v[i].type)
			continue;
		r = perm_grant(c, role, &want->v[i], e);
		if (r == 0) {
			st->perms_granted++;
			log_info("etcd role permission granted", "role", role, "key",
				 want->v[i].key, "range_end", want->v[i].range_end,
				 "permission", type_names[want->v[i].type], NULL);
		}
	}
	for (size_t i = 0; i < have.n && r == 0; i++) {
		if (want->n && bsearch(&have.v[i], want->v, want->n, sizeof(*want->v),
				       perm_cmp))
			continue;
		r = perm_revoke(c, role, &have.v[i], e);
		if (r == 0) {
			st->perms_revoked++;
			log_info("etcd role permission revoked", "role", role, "key",
				 have.v[i].key, "range_end", have.v[i].range_end, NULL);
		}
	}
	rbac_perms_clear(&have);
	return r;
}

/* The parsed workspaces.  Invalid objects grant nothing to their members
 * (their owner still has the namespace and can fix them). */
struct loaded {
	struct ws **w;
	struct rbac_ws *ws;
	char (*names)[2][64];
	size_t n;
};

static void loaded_clear(struct loaded *l)
{
	for (size_t i = 0; i < l->n; i++)
		ws_free(l->w[i]);
	free(l->w);
	free(l->ws);
	free(l->names);
	memset(l, 0, sizeof(*l));
}

static int load(struct etcd *c, struct loaded *l, struct err *e)
{
	struct etcd_kvs kvs = { 0 };
	int r;

	memset(l, 0, sizeof(*l));
	r = etcd_list(c, KEYS_SPEC_PREFIX, &kvs, e);
	if (r < 0)
		return r;
	l->w = calloc(kvs.n ? kvs.n : 1, sizeof(*l->w));
	l->ws = calloc(kvs.n ? kvs.n : 1, sizeof(*l->ws));
	l->names = calloc(kvs.n ? kvs.n : 1, sizeof(*l->names));
	if (!l->w || !l->ws || !l->names) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < kvs.n; i++) {
		char *ns = l->names[l->n][0], *name = l->names[l->n][1];
		struct ws *w = NULL;
		struct err ignored;

		if (keys_split(KEYS_SPEC, kvs.kvs[i].key, ns, 64, name, 64) < 0)
			continue;
		r = ws_load(kvs.kvs[i].value, kvs.kvs[i].value_len, ns, name, &w, NULL, &ignored);
		if (r == -ENOMEM)
			goto out;
		r = 0;
		if (!w)
			continue;
		l->w[l->n] = w;
		l->ws[l->n] = (struct rbac_ws){ .ns = ns, .name = name, .w = w };
		l->n++;
	}
out:
	etcd_kvs_clear(&kvs);
	if (r < 0)
		loaded_clear(l);
	return r;
}

struct rbac_cache {
	struct loaded l;
	bool valid;
	size_t n;            /* the specs' count ... */
	int64_t max_rev;     /* ... and highest mod_revision when loaded */
	unsigned long loads;
};

int rbac_cache_new(struct rbac_cache **out)
{
	struct rbac_cache *rc = calloc(1, sizeof(*rc));

	if (!rc)
		return -ENOMEM;
	*out = rc;
	return 0;
}

void rbac_cache_free(struct rbac_cache *rc)
{
	if (!rc)
		return;
	loaded_clear(&rc->l);
	free(rc);
}

unsigned long rbac_cache_loads(const struct rbac_cache *rc)
{
	return rc ? rc->loads : 0;
}

/*
 * The parsed workspaces into *out (borrowed from rc, or *own when there is
 * no cache).  A keys-only listing tells whether any spec changed since the
 * cache was loaded: any put raises the highest mod_revision, a delete alone
 * lowers the count.  It is taken before the full listing, so what is
 * loaded is at least as new as what the fingerprint says.
 */
static int load_cached(struct etcd *c, struct rbac_cache *rc, struct loaded *own,
		       const struct loaded **out, struct err *e)
{
	struct etcd_kvs keys = { 0 };
	int64_t max_rev = 0;
	int r;

	if (!rc) {
		r = load(c, own, e);
		if (r == 0)
			*out = own;
		return r;
	}
	r = etcd_list_keys(c, KEYS_SPEC_PREFIX, &keys, e);
	if (r < 0)
		return r;
	for (size_t i = 0; i < keys.n; i++)
		if (keys.kvs[i].mod_revision > max_rev)
			max_rev = keys.kvs[i].mod_revision;
	if (!rc->valid || rc->n != keys.n || rc->max_rev != max_rev) {
		rc->valid = false;
		loaded_clear(&rc->l);
		r = load(c, &rc->l, e);
		if (r == 0) {
			rc->valid = true;
			rc->n = keys.n;
			rc->max_rev = max_rev;
			rc->loads++;
		}
	}
	etcd_kvs_clear(&keys);
	if (r == 0)
		*out = &rc->l;
	return r;
}

int rbac_sync(struct etcd *c, const struct rbac_opts *o, struct rbac_cache *rc,
	      struct rbac_stats *stats, struct err *e)
{
	struct rbac_stats st = { 0 };
	json_t *users = NULL, *roles = NULL, *tenants = json_array(), *u, *rl;
	struct loaded own = { 0 };
	const struct loaded *lp = &own;
	char role[512];
	size_t i;
	int r;

	if (!tenants)
		return -ENOMEM;
	if ((r = call(c, "/v3/auth/user/list", json_object(), &users, e)) < 0 ||
	    (r = call(c, "/v3/auth/role/list", json_object(), &roles, e)) < 0 ||
	    (r = load_cached(c, rc, &own, &lp, e)) < 0)
		goto out;
	json_array_foreach(json_object_get(users, "users"), i, u) {
		const char *name = json_string_value(u);
		struct rbac_perms want = { 0 };
		json_t *info = NULL;
		const json_t *has;
		bool exists;

		if (!name || strcmp(name, "root") == 0 || strcmp(name, o->self) == 0 ||
		    in_csv(o->service, name))
			continue;
		if ((r = call(c, "/v3/auth/user/get", json_pack("{s:s}", "name", name),
			      &info, e)) < 0)
			goto out;
		has = json_object_get(info, "roles");
		if (in_array(has, "root")) {
			json_decref(info);
			continue;
		}
		json_array_append_new(tenants, json_string(name));
		st.tenants++;
		keys_role(name, role, sizeof(role));
		exists = in_array(json_object_get(roles, "roles"), role);
		if (!exists) {
			r = call(c, "/v3/auth/role/add", json_pack("{s:s}", "name", role), NULL, e);
			if (r < 0) {
				json_decref(info);
				goto out;
			}
			st.roles_created++;
			log_info("etcd role created", "role", role, NULL);
		}
		r = rbac_plan(name, lp->ws, lp->n, &want);
		if (r == 0)
			r = converge_role(c, role, exists, &want, &st, e);
		rbac_perms_clear(&want);
		if (r == 0 && !in_array(has, role)) {
			r = call(c, "/v3/auth/user/grant",
				 json_pack("{s:s,s:s}", "user", name, "role", role), NULL, e);
			if (r == 0) {
				st.users_granted++;
				log_info("etcd role granted", "user", name, "role", role, NULL);
			}
		}
		json_decref(info);
		if (r < 0)
			goto out;
	}
	/* The roles of users that are gone (or no longer tenants). */
	json_array_foreach(json_object_get(roles, "roles"), i, rl) {
		const char *name = json_string_value(rl);
		const char *user = keys_role_user(name);

		if (!user || in_array(tenants, user))
			continue;
		r = call(c, "/v3/auth/role/delete", json_pack("{s:s}", "role", name), NULL, e);
		if (r < 0)
			goto out;
		st.roles_deleted++;
		log_info("etcd role deleted", "role", name, NULL);
	}
out:
	if (r < 0)
		err_prefix(e, "etcd roles");
	if (stats)
		*stats = st;
	loaded_clear(&own);
	json_decref(users);
	json_decref(roles);
	json_decref(tenants);
	return r;
}
