/*
 * access — callers as etcd clients, rights as etcd requests (see access.h).
 */
#include "access.h"

#include "keys.h"
#include "touch.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int make(const struct etcd_opts *base, const char *user, const char *password,
		const char *token, struct caller *out, struct err *e)
{
	struct etcd_opts o = *base;
	struct caller c = { "" };
	int r;

	o.username = token ? NULL : user;
	o.password = password;
	o.password_file = NULL;
	o.token = token;
	r = etcd_new(&o, &c.etcd, e);
	if (r < 0)
		return r;
	snprintf(c.user, sizeof(c.user), "%s", user ? user : "");
	if (password) {
		/* Check the password now: a wrong one is the caller's 401. */
		char *t = NULL;

		r = etcd_token(c.etcd, &t, e);
		if (t) {
			OPENSSL_cleanse(t, strlen(t));
			free(t);
		}
		if (r < 0) {
			caller_clear(&c);
			return r;
		}
	}
	*out = c;
	return 0;
}

int caller_password(const struct etcd_opts *base, const char *user, const char *password,
		    struct caller *out, struct err *e)
{
	return make(base, user, password, NULL, out, e);
}

int caller_token(const struct etcd_opts *base, const char *user, const char *token,
		 struct caller *out, struct err *e)
{
	return make(base, user, NULL, token, out, e);
}

int caller_anonymous(const struct etcd_opts *base, struct caller *out, struct err *e)
{
	return make(base, NULL, NULL, NULL, out, e);
}

void caller_clear(struct caller *c)
{
	if (!c)
		return;
	etcd_free(c->etcd);
	memset(c, 0, sizeof(*c));
}

int access_work(struct caller *c, const char *ns, const char *name, struct err *e)
{
	/* etcd checks the right to write the key whether the workspace
	 * exists or not. */
	return touch_workspace(c->etcd, ns, name, e);
}

int access_read(struct caller *c, const char *ns, const char *name, struct ws **w,
		struct status *status, struct err *e)
{
	struct etcd_kv kv = { 0 }, st = { 0 };
	char key[512];
	struct ws *parsed = NULL;
	int r;

	status_init(status);
	if (keys_ws(KEYS_SPEC, ns, name, key, sizeof(key)) < 0)
		return -ENAMETOOLONG;
	r = etcd_get(c->etcd, key, &kv, NULL, e);
	if (r == -ENOENT)
		err_set(e, "workspace \"%s\" not found in namespace \"%s\"", name, ns);
	if (r < 0)
		goto out;
	r = ws_load(kv.value, kv.value_len, ns, name, &parsed, NULL, e);
	if (r < 0)
		goto out;
	if (keys_ws(KEYS_STATUS, ns, name, key, sizeof(key)) < 0) {
		r = -ENAMETOOLONG;
		goto out;
	}
	r = etcd_get(c->etcd, key, &st, NULL, e);
	if (r == -ENOENT) {
		r = 0;
	} else if (r == 0 && status_parse(st.value, st.value_len, status, e) < 0) {
		/* A status that is not one reads as none written yet. */
		status_init(status);
		err_clear(e);
	}
	if (r < 0)
		goto out;
	*w = parsed;
	parsed = NULL;
out:
	ws_free(parsed);
	etcd_kv_clear(&kv);
	etcd_kv_clear(&st);
	if (r < 0)
		status_clear(status);
	return r;
}

int access_container(const struct status *st, const char *ns, const char *name,
		     bool running, char *out, size_t len, struct err *e)
{
	if ((running && !status_is_phase(st, STATUS_RUNNING)) || !st->container.name[0] ||
	    strlen(st->container.name) >= len) {
		err_set(e, running ? "workspace %s/%s is not running (phase %s); start it first" :
				     "workspace %s/%s has no container yet (phase %s)", ns, name,
			status_phase(st));
		return -EAGAIN;
	}
	snprintf(out, len, "%s", st->container.name);
	return 0;
}

/* ---- the caller's workspaces ---- */

/* The list as it grows: items, and "ns/name" of each (no repeats). */
struct list {
	json_t *items;
	json_t *seen;
};

/* One workspace into the list, read as the caller; one that cannot be
 * read (the right was taken back a moment ago) is left out. */
static int list_add(struct caller *c, const char *key, struct list *l)
{
	char ns[64], name[64], owner[160];
	struct status st;
	struct ws *w = NULL;
	struct err e = { "" };
	const char *role = "owner";
	json_t *item;

	if (keys_split(KEYS_SPEC, key, ns, sizeof(ns), name, sizeof(name)) < 0)
		return 0;
	snprintf(owner, sizeof(owner), "%s/%s", ns, name);
	if (json_object_get(l->seen, owner))
		return 0;
	if (json_array_size(l->items) >= ACCESS_MAX_LIST)
		return -E2BIG;
	if (access_read(c, ns, name, &w, &st, &e) < 0)
		return 0;
	for (size_t i = 0; i < w->n_members && strcmp(ns, c->user) != 0; i++)
		if (strcmp(w->members[i].user, c->user) == 0)
			role = w->members[i].role;
	item = json_pack("{s:s,s:s,s:b,s:s,s:s,s:b,s:s}", "namespace", ns, "name", name, "running",
			 w->running, "state", status_phase(&st), "role", role, "shared",
			 c->user[0] && strcmp(ns, c->user) != 0, "id", st.id);
	ws_free(w);
	status_clear(&st);
	if (!item || json_array_append_new(l->items, item) < 0 ||
	    json_object_set_new(l->seen, owner, json_true()) < 0)
		return -ENOMEM;
	return 0;
}

/* Every workspace under prefix. */
static int list_prefix(struct caller *c, const char *prefix, struct list *l, struct err *e)
{
	struct etcd_kvs kvs = { 0 };
	int r = etcd_list_keys(c->etcd, prefix, &kvs, e);

	for (size_t i = 0; r == 0 && i < kvs.n; i++)
		r = list_add(c, kvs.kvs[i].key, l);
	etcd_kvs_clear(&kvs);
	return r;
}

/* The workspaces one permission of a role lets the caller read: a
 * single key, or a prefix (the spec prefix itself, one namespace's, or a
 * wider one such as "/klangk/" that covers them all). */
static int list_perm(struct caller *c, const json_t *p, struct list *l, struct err *e)
{
	const char *type = json_string_value(json_object_get(p, "permType"));
	const char *kb = json_string_value(json_object_get(p, "key"));
	const char *eb = json_string_value(json_object_get(p, "range_end"));
	char *key = NULL, *end = NULL, *pend = NULL;
	size_t kl = 0, el = 0;
	int r = 0;

	/* READ is etcd's zero value: absent from its JSON. */
	if (type && strcmp(type, "READ") != 0 && strcmp(type, "READWRITE") != 0)
		return 0;
	if (etcd_bytes_decode(kb ? kb : "", &key, &kl) < 0 ||
	    etcd_bytes_decode(eb ? eb : "", &end, &el) < 0)
		goto out;
	if (el == 0) {
		r = list_add(c, key, l);
		goto out;
	}
	pend = etcd_range_end(key);
	if (!pend) {
		r = -ENOMEM;
		goto out;
	}
	if (strcmp(pend, end) != 0)
		goto out; /* a range that is no prefix: not Klangk's */
	if (strncmp(key, KEYS_SPEC_PREFIX, kl) == 0)
		r = list_prefix(c, KEYS_SPEC_PREFIX, l, e);
	else if (strncmp(key, KEYS_SPEC_PREFIX, strlen(KEYS_SPEC_PREFIX)) == 0)
		r = list_prefix(c, key, l, e);
out:
	free(key);
	free(end);
	free(pend);
	return r;
}

/* POST {field: value} to one of etcd's /v3/auth/ paths.  resp: new. */
static int auth_get(struct caller *c, const char *path, const char *field, const char *value,
		    json_t **resp, struct err *e)
{
	json_t *req = json_pack("{s:s}", field, value);
	int r = req ? etcd_request(c->etcd, path, req, resp, e) : -ENOMEM;

	json_decref(req);
	return r;
}

/* The permissions of each of the caller's roles, as etcd tells the user
 * about themselves. */
static int list_roles(struct caller *c, struct list *l, struct err *e)
{
	json_t *user = NULL, *role = NULL, *v, *p;
	size_t i, k;
	int r = auth_get(c, "/v3/auth/user/get", "name", c->user, &user, e);

	json_array_foreach(r == 0 ? json_object_get(user, "roles") : NULL, i, v) {
		const char *name = json_string_value(v);

		if (!name)
			continue;
		if (strcmp(name, "root") == 0) {
			r = list_prefix(c, KEYS_SPEC_PREFIX, l, e);
		} else {
			r = auth_get(c, "/v3/auth/role/get", "role", name, &role, e);
			json_array_foreach(r == 0 ? json_object_get(role, "perm") : NULL, k, p)
				if ((r = list_perm(c, p, l, e)) < 0)
					break;
			json_decref(role);
			role = NULL;
		}
		if (r < 0)
			break;
	}
	json_decref(user);
	return r;
}

int access_list(struct caller *c, json_t **out, struct err *e)
{
	struct list l = { json_array(), json_object() };
	int r = -ENOMEM;

	if (!l.items || !l.seen)
		goto out;
	/* Anonymous (etcd's authentication is off): everything. */
	r = c->user[0] ? list_roles(c, &l, e) : list_prefix(c, KEYS_SPEC_PREFIX, &l, e);
	if (r == -E2BIG) {
		err_set(e, "more than %d workspaces; use klangkc get", ACCESS_MAX_LIST);
		r = 0;
	}
	if (r < 0)
		goto out;
	*out = l.items;
	l.items = NULL;
out:
	json_decref(l.items);
	json_decref(l.seen);
	return r;
}

int access_app(struct caller *c, const char *id, long port, struct err *e)
{
	json_t *items = NULL, *it;
	size_t i;
	int r = access_list(c, &items, e);

	if (r < 0)
		return r;
	r = -ENOENT;
	json_array_foreach(items, i, it) {
		const char *ns = json_string_value(json_object_get(it, "namespace"));
		const char *name = json_string_value(json_object_get(it, "name"));
		const char *wid = json_string_value(json_object_get(it, "id"));
		struct ws *w = NULL;
		struct status st;

		if (!ns || !name || !wid || strcmp(wid, id) != 0)
			continue;
		/* Read again, as the caller, right now: the list may be a
		 * moment old. */
		if (access_read(c, ns, name, &w, &st, e) == 0 && strcmp(st.id, id) == 0 &&
		    status_host_port(&st, port) == port)
			r = 0;
		ws_free(w);
		status_clear(&st);
		break;
	}
	json_decref(items);
	if (r == -ENOENT)
		err_set(e, "no app %s-%ld among the workspaces the caller may read", id, port);
	return r;
}

/* ---- start ---- */

/* spec.running: true written over the stored object of revision mod, if
 * it is still that revision.  *written: whether etcd took it. */
static int write_running(struct caller *c, const char *key, json_t *doc, int64_t mod,
			 bool *written, struct err *e)
{
	json_t *spec = json_object_get(doc, "spec");
	json_t *cmp, *ops;
	char *text;
	int r;

	if (!json_is_object(spec) && json_object_set_new(doc, "spec", spec = json_object()) < 0)
		return -ENOMEM;
	if (json_object_set_new(spec, "running", json_true()) < 0 ||
	    !(text = json_dumps(doc, JSON_COMPACT)))
		return -ENOMEM;
	cmp = json_pack("[o]", etcd_cmp_mod(key, mod));
	ops = json_pack("[o]", etcd_op_put(key, text, strlen(text), 0));
	free(text);
	if (!cmp || !ops) {
		json_decref(cmp);
		json_decref(ops);
		return -ENOMEM;
	}
	r = etcd_txn(c->etcd, cmp, ops, NULL, written, NULL, e);
	return r;
}

int access_start(struct caller *c, const char *ns, const char *name, bool *changed,
		 struct err *e)
{
	char key[512];
	bool wrote = false;
	int r = -EAGAIN;

	if (keys_ws(KEYS_SPEC, ns, name, key, sizeof(key)) < 0)
		return -ENAMETOOLONG;
	for (int attempt = 0; attempt < ACCESS_START_ATTEMPTS && r == -EAGAIN; attempt++) {
		struct etcd_kv kv = { 0 };
		struct ws *w = NULL;
		json_t *doc = NULL;
		bool ok = false;

		r = etcd_get(c->etcd, key, &kv, NULL, e);
		if (r == -ENOENT)
			err_set(e, "workspace \"%s\" not found in namespace \"%s\"", name, ns);
		if (r == 0)
			r = ws_load(kv.value, kv.value_len, ns, name, &w, &doc, e);
		/* Already running as declared: only the activity below (it
		 * resumes a workspace its idle timeout stopped). */
		if (r == 0 && !w->running)
			r = write_running(c, key, doc, kv.mod_revision, &ok, e);
		if (r == 0 && !w->running && !ok)
			r = -EAGAIN; /* written in between: read it again */
		wrote = wrote || ok;
		ws_free(w);
		json_decref(doc);
		etcd_kv_clear(&kv);
	}
	if (r == -EAGAIN)
		err_set(e, "workspace %s/%s kept changing while being started", ns, name);
	if (r == 0)
		r = touch_workspace(c->etcd, ns, name, e);
	if (r == 0)
		*changed = wrote;
	return r;
}
