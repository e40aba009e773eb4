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
