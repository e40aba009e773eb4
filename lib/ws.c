/*
 * ws — Workspace validation and derived names (see ws.h).
 *
 * The validator walks the JSON object once, checking every field against
 * the rules of crds/workspace.yaml and collecting every problem (up to
 * MAX_PROBLEMS) with its field path, the way kubectl reports a rejected
 * object.  Unknown fields are errors: in a GitOps repository a typo that is
 * silently dropped is a bug nobody sees.
 */
#include "ws.h"

#include "codec.h"
#include "mountpolicy.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PROBLEMS 50

struct vctx {
	struct err *e;
	int problems;
};

static void problem(struct vctx *v, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void problem(struct vctx *v, const char *path, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (++v->problems > MAX_PROBLEMS)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	err_addline(v->e, "%s: %s", path, msg);
}

/* ---- patterns ---- */

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

enum ws_access ws_port_access(const struct ws *w, long port)
{
	long i = port - WS_CONTAINER_PORT_BASE;

	return i >= 0 && i < WS_MAX_HOSTED_PORTS ? w->hosted_access[i] : WS_ACCESS_PUBLIC;
}

bool ws_has_members_apps(const struct ws *w)
{
	for (int i = 0; i < w->hosted_ports && i < WS_MAX_HOSTED_PORTS; i++)
		if (w->hosted_access[i] == WS_ACCESS_MEMBERS)
			return true;
	return false;
}

const char *ws_access_name(enum ws_access a)
{
	return a == WS_ACCESS_MEMBERS ? "members" : "public";
}

bool ws_is_dns_label(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > WS_NAME_MAX)
		return false;
	if (!is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

bool ws_is_id(const char *s)
{
	size_t n = strlen(s);

	if (n < 12 || n > 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* DNS subdomain: dot-separated DNS labels, at most 253 characters. */
static bool is_dns_subdomain(const char *s, size_t n)
{
	size_t start = 0;

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			char label[64];
			size_t len = i - start;

			if (len == 0 || len > 63)
				return false;
			memcpy(label, s + start, len);
			label[len] = '\0';
			if (!ws_is_dns_label(label))
				return false;
			start = i + 1;
		}
	}
	return true;
}

/* Kubernetes "qualified name" part: [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])? */
static bool is_qualified_part(const char *s, size_t n)
{
	if (n == 0 || n > 63 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

static bool is_label_key(const char *k)
{
	const char *slash = strchr(k, '/');

	if (!slash)
		return is_qualified_part(k, strlen(k));
	return is_dns_subdomain(k, (size_t)(slash - k)) &&
	       is_qualified_part(slash + 1, strlen(slash + 1));
}

static bool is_label_value(const char *s)
{
	return *s == '\0' || is_qualified_part(s, strlen(s));
}

/* A JSON string with an embedded NUL cannot be passed to C APIs. */
static bool has_nul(const json_t *s)
{
	return strlen(json_string_value(s)) != json_string_length(s);
}

static bool is_env_name(const char *s)
{
	if (!*s || !((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		     *s == '_'))
		return false;
	for (; *s; s++)
		if (!is_alnum(*s) && *s != '_')
			return false;
	return true;
}

static bool is_image_ref(const char *s)
{
	/* ".." and "//" are no part of a reference, and the name reaches
	 * the engine's URLs (escaped, but refused here all the same). */
	if (!is_alnum(*s) || strstr(s, "..") || strstr(s, "//"))
		return false;
	for (; *s; s++)
		if (!is_alnum(*s) && !strchr("._/:@+-", *s))
			return false;
	return true;
}

/* Engine volume names: [a-zA-Z0-9][a-zA-Z0-9_.-]* */
static bool is_volume_name(const char *s)
{
	if (!is_alnum(*s))
		return false;
	for (; *s; s++)
		if (!is_alnum(*s) && !strchr("_.-", *s))
			return false;
	return true;
}

/* A user handle or e-mail address; it becomes an etcd user and role name
 * (controller/rbac.c), so it starts and ends with a letter or digit. */
static bool is_user(const char *s)
{
	if (!is_alnum(*s) || !is_alnum(s[strlen(s) - 1]))
		return false;
	for (; *s; s++)
		if (!is_alnum(*s) && !strchr("._%+@-", *s))
			return false;
	return true;
}

/* /home, /home/<x> or /home/<x>/work: where the home and work volumes of
 * some workspace are mounted.  Independent of the namespace, so that the
 * CRD can say it with a pattern. */
static bool is_home_or_work(const char *t)
{
	const char *rest, *slash;

	if (strncmp(t, "/home", 5) != 0 || (t[5] != '\0' && t[5] != '/'))
		return false;
	if (t[5] == '\0')
		return true;
	rest = t + 6;
	slash = strchr(rest, '/');
	return !slash || strcmp(slash, "/work") == 0;
}

/* ---- field helpers ---- */

#define DNS_LABEL_RULE "must be a lowercase DNS label (a-z, 0-9, '-', at most 63 " \
		       "characters, starting and ending with a letter or digit)"

static const char *const top_fields[] = { "apiVersion", "kind", "metadata",
					  "spec", "status", NULL };
static const char *const meta_fields[] = { "name", "namespace", "labels",
					   "annotations", "resourceVersion",
					   "generation", "uid",
					   "creationTimestamp", NULL };
static const char *const spec_fields[] = { "image", "command", "env", "mounts",
					   "hostedPorts", "idleTimeoutSeconds",
					   "running", "members", "reclaimPolicy",
					   "nodeName", "resources", "hostedApps",
					   NULL };

static bool in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

static void unknown_fields(struct vctx *v, const json_t *obj, const char *path,
			   const char *const *allowed)
{
	const char *k;
	json_t *val;
	char p[512];

	json_object_foreach((json_t *)obj, k, val) {
		if (!in_list(k, allowed)) {
			snprintf(p, sizeof(p), "%s%s%s", path, *path ? "." : "", k);
			problem(v, p, "unknown field");
		}
	}
}

/* Length in characters (Unicode code points), as the CRD's maxLength counts
 * (jansson strings are valid UTF-8: count the bytes that start one). */
static size_t utf8_len(const json_t *s)
{
	const unsigned char *p = (const unsigned char *)json_string_value(s);
	size_t n = 0, len = json_string_length(s);

	for (size_t i = 0; i < len; i++)
		n += (p[i] & 0xc0) != 0x80;
	return n;
}

/* A string field: NULL (absent or problem) or the value. */
static const char *get_string(struct vctx *v, const json_t *obj,
			      const char *field, const char *path, size_t max,
			      bool required)
{
	const json_t *j = json_object_get(obj, field);
	const char *s;

	if (!j || json_is_null(j)) {
		if (required)
			problem(v, path, "required");
		return NULL;
	}
	if (!json_is_string(j)) {
		problem(v, path, "must be a string");
		return NULL;
	}
	if (has_nul(j)) {
		problem(v, path, "must not contain a NUL character");
		return NULL;
	}
	s = json_string_value(j);
	if (utf8_len(j) > max) {
		problem(v, path, "must be at most %zu characters", max);
		return NULL;
	}
	return s;
}

static int dup_into(char **dst, const char *s)
{
	*dst = strdup(s);
	return *dst ? 0 : -ENOMEM;
}

/* ---- sections ---- */

static void check_string_map(struct vctx *v, const json_t *m, const char *path,
			     bool labels)
{
	const char *k;
	json_t *val;
	char p[512];
	size_t total = 0;

	if (!json_is_object(m)) {
		problem(v, path, "must be a map of strings");
		return;
	}
	json_object_foreach((json_t *)m, k, val) {
		snprintf(p, sizeof(p), "%s[%s]", path, k);
		if (!is_label_key(k)) {
			problem(v, p, "key must be a qualified name ([prefix/]name, "
				      "alphanumerics, '-', '_', '.')");
			continue;
		}
		if (!json_is_string(val)) {
			problem(v, p, "must be a string");
			continue;
		}
		if (has_nul(val)) {
			problem(v, p, "must not contain a NUL character");
			continue;
		}
		total += strlen(k) + json_string_length(val);
		if (labels && (json_string_length(val) > 63 ||
			       !is_label_value(json_string_value(val))))
			problem(v, p, "must be empty or at most 63 alphanumerics, "
				      "'-', '_', '.', starting and ending "
				      "alphanumeric");
	}
	if (!labels && total > 256 * 1024)
		problem(v, path, "must total at most 262144 bytes (keys and values)");
}

static int parse_metadata(struct vctx *v, const json_t *meta,
			  const char *default_ns, struct ws *w)
{
	const char *name, *ns;
	const json_t *j;

	if (!json_is_object(meta)) {
		problem(v, "metadata", meta ? "must be an object" : "required");
		return 0;
	}
	unknown_fields(v, meta, "metadata", meta_fields);
	name = get_string(v, meta, "name", "metadata.name", 253, true);
	if (name && !ws_is_dns_label(name))
		problem(v, "metadata.name", "%s", DNS_LABEL_RULE);
	else if (name && dup_into(&w->name, name) < 0)
		return -ENOMEM;
	ns = get_string(v, meta, "namespace", "metadata.namespace", 253, false);
	if (ns && !ws_is_dns_label(ns))
		problem(v, "metadata.namespace", "must be a lowercase DNS label");
	else if (dup_into(&w->ns, ns ? ns :
				       (default_ns ? default_ns : WS_DEFAULT_NAMESPACE)) < 0)
		return -ENOMEM;
	if ((j = json_object_get(meta, "labels")) && !json_is_null(j)) {
		check_string_map(v, j, "metadata.labels", true);
		if (json_is_object(j)) {
			json_decref(w->labels);
			w->labels = json_deep_copy(j);
			if (!w->labels)
				return -ENOMEM;
		}
	}
	if ((j = json_object_get(meta, "annotations")) && !json_is_null(j))
		check_string_map(v, j, "metadata.annotations", false);
	/* Set by the server; a manifest may carry them back (from get -o
	 * yaml): they must at least have their types. */
	get_string(v, meta, "resourceVersion", "metadata.resourceVersion", 64, false);
	get_string(v, meta, "uid", "metadata.uid", 64, false);
	get_string(v, meta, "creationTimestamp", "metadata.creationTimestamp", 64, false);
	if ((j = json_object_get(meta, "generation")) && !json_is_null(j) &&
	    !json_is_integer(j))
		problem(v, "metadata.generation", "must be an integer");
	return 0;
}

static int parse_command(struct vctx *v, const json_t *j, struct ws *w)
{
	size_t i, n;
	char p[64];

	if (!json_is_array(j)) {
		problem(v, "spec.command", "must be a list of strings");
		return 0;
	}
	n = json_array_size(j);
	if (n == 0 || n > WS_MAX_COMMAND) {
		problem(v, "spec.command", "must have 1 to %d items", WS_MAX_COMMAND);
		return 0;
	}
	w->command = calloc(n, sizeof(*w->command));
	if (!w->command)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const json_t *a = json_array_get(j, i);

		snprintf(p, sizeof(p), "spec.command[%zu]", i);
		if (!json_is_string(a)) {
			problem(v, p, "must be a string");
			continue;
		}
		if (has_nul(a)) {
			problem(v, p, "must not contain a NUL character");
			continue;
		}
		if (utf8_len(a) > WS_MAX_ARG) {
			problem(v, p, "must be at most %d characters", WS_MAX_ARG);
			continue;
		}
		if (json_string_length(a) == 0) {
			problem(v, p, "must not be empty");
			continue;
		}
		if (dup_into(&w->command[w->n_command++], json_string_value(a)) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int parse_env(struct vctx *v, const json_t *j, struct ws *w)
{
	static const char *const fields[] = { "name", "value", NULL };
	size_t i, n;
	char p[96], pf[128];

	if (!json_is_array(j)) {
		problem(v, "spec.env", "must be a list");
		return 0;
	}
	n = json_array_size(j);
	if (n > WS_MAX_ENV) {
		problem(v, "spec.env", "must have at most %d items", WS_MAX_ENV);
		return 0;
	}
	w->env = calloc(n ? n : 1, sizeof(*w->env));
	if (!w->env)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const json_t *item = json_array_get(j, i);
		const char *name, *value;

		snprintf(p, sizeof(p), "spec.env[%zu]", i);
		if (!json_is_object(item)) {
			problem(v, p, "must be an object with name and value");
			continue;
		}
		unknown_fields(v, item, p, fields);
		snprintf(pf, sizeof(pf), "%s.name", p);
		name = get_string(v, item, "name", pf, WS_MAX_ENV_NAME, true);
		if (name) {
			if (!is_env_name(name)) {
				problem(v, pf, "must be a POSIX name ([A-Za-z_][A-Za-z0-9_]*)");
				name = NULL;
			} else if (strncmp(name, "KLANGK_", 7) == 0 ||
				   strncmp(name, "LD_", 3) == 0) {
				problem(v, pf, "the prefixes KLANGK_ and LD_ are reserved");
				name = NULL;
			} else {
				for (size_t k = 0; k < w->n_env; k++)
					if (strcmp(w->env[k].name, name) == 0) {
						problem(v, pf, "duplicate name \"%s\"", name);
						name = NULL;
						break;
					}
			}
		}
		snprintf(pf, sizeof(pf), "%s.value", p);
		value = get_string(v, item, "value", pf, WS_MAX_ENV_VALUE, false);
		if (!name)
			continue;
		if (dup_into(&w->env[w->n_env].name, name) < 0 ||
		    dup_into(&w->env[w->n_env].value, value ? value : "") < 0) {
			w->n_env++;
			return -ENOMEM;
		}
		w->n_env++;
	}
	return 0;
}

static int parse_mounts(struct vctx *v, const json_t *j, struct ws *w)
{
	static const char *const fields[] = { "source", "target", "readOnly", NULL };
	char why[MOUNT_WHY_MAX];
	size_t i, n;
	char p[96], pf[128];

	if (!json_is_array(j)) {
		problem(v, "spec.mounts", "must be a list");
		return 0;
	}
	n = json_array_size(j);
	if (n > WS_MAX_MOUNTS) {
		problem(v, "spec.mounts", "must have at most %d items", WS_MAX_MOUNTS);
		return 0;
	}
	w->mounts = calloc(n ? n : 1, sizeof(*w->mounts));
	if (!w->mounts)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const json_t *item = json_array_get(j, i), *ro;
		const char *src, *tgt;
		bool ok = true, bind = false;

		snprintf(p, sizeof(p), "spec.mounts[%zu]", i);
		if (!json_is_object(item)) {
			problem(v, p, "must be an object with source and target");
			continue;
		}
		unknown_fields(v, item, p, fields);
		snprintf(pf, sizeof(pf), "%s.source", p);
		src = get_string(v, item, "source", pf, WS_MAX_PATH, true);
		if (src) {
			/* A bind source is checked here as written (klangkc's fast
			 * feedback); the controller checks it again, resolved on
			 * the host, at every container creation (mountpolicy.h). */
			bind = src[0] == '/';
			if (bind && mount_check_source(src, why, sizeof(why)) < 0) {
				problem(v, pf, "%s", why);
				ok = false;
			} else if (!bind && (strlen(src) > WS_MAX_VOLUME_NAME ||
					     !is_volume_name(src))) {
				problem(v, pf, "must be an absolute host path or a volume "
					       "name ([a-zA-Z0-9][a-zA-Z0-9_.-]*, at most "
					       "128 characters)");
				ok = false;
			} else if (!bind && strncmp(src, "klangk_", 7) == 0) {
				/* The controller's own volume names: a workspace
				 * could otherwise squat another one's home. */
				problem(v, pf, "volume names starting with klangk_ are "
					       "reserved");
				ok = false;
			}
		} else {
			ok = false;
		}
		snprintf(pf, sizeof(pf), "%s.target", p);
		tgt = get_string(v, item, "target", pf, WS_MAX_PATH, true);
		if (tgt) {
			/* is_home_or_work covers the home and work of every
			 * namespace, this one's included, so the CRD's pattern
			 * can say the same without knowing the namespace. */
			if (mount_check_target(tgt, NULL, NULL, why, sizeof(why)) < 0) {
				problem(v, pf, "%s", why);
				ok = false;
			} else if (is_home_or_work(tgt)) {
				problem(v, pf, "must not be /home, /home/<user> or "
					       "/home/<user>/work (the home and work "
					       "volumes are mounted there)");
				ok = false;
			}
			for (size_t k = 0; ok && k < w->n_mounts; k++)
				if (strcmp(w->mounts[k].target, tgt) == 0) {
					problem(v, pf, "duplicate target %s", tgt);
					ok = false;
				}
		} else {
			ok = false;
		}
		ro = json_object_get(item, "readOnly");
		if (ro && !json_is_boolean(ro) && !json_is_null(ro)) {
			snprintf(pf, sizeof(pf), "%s.readOnly", p);
			problem(v, pf, "must be true or false");
			ok = false;
		}
		if (!ok)
			continue;
		if (dup_into(&w->mounts[w->n_mounts].source, src) < 0 ||
		    dup_into(&w->mounts[w->n_mounts].target, tgt) < 0) {
			w->n_mounts++;
			return -ENOMEM;
		}
		w->mounts[w->n_mounts].read_only = json_is_true(ro);
		w->mounts[w->n_mounts].bind = bind;
		w->n_mounts++;
	}
	return 0;
}

static int parse_members(struct vctx *v, const json_t *j, struct ws *w)
{
	static const char *const fields[] = { "user", "role", NULL };
	static const char *const roles[] = { "owner", "collaborator", "coder",
					     "spectator", NULL };
	size_t i, n;
	char p[96], pf[128];

	if (!json_is_array(j)) {
		problem(v, "spec.members", "must be a list");
		return 0;
	}
	n = json_array_size(j);
	if (n > WS_MAX_MEMBERS) {
		problem(v, "spec.members", "must have at most %d items", WS_MAX_MEMBERS);
		return 0;
	}
	w->members = calloc(n ? n : 1, sizeof(*w->members));
	if (!w->members)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const json_t *item = json_array_get(j, i);
		const char *user, *role;

		snprintf(p, sizeof(p), "spec.members[%zu]", i);
		if (!json_is_object(item)) {
			problem(v, p, "must be an object with user and role");
			continue;
		}
		unknown_fields(v, item, p, fields);
		snprintf(pf, sizeof(pf), "%s.user", p);
		user = get_string(v, item, "user", pf, WS_MAX_USER, true);
		if (user && !is_user(user)) {
			problem(v, pf, "must be a user name or e-mail address "
				       "(letters, digits and ._%%+@-)");
			user = NULL;
		}
		for (size_t k = 0; user && k < w->n_members; k++)
			if (strcmp(w->members[k].user, user) == 0) {
				problem(v, pf, "duplicate member \"%s\"", user);
				user = NULL;
			}
		snprintf(pf, sizeof(pf), "%s.role", p);
		role = get_string(v, item, "role", pf, 32, false);
		if (role && !in_list(role, roles)) {
			problem(v, pf, "must be one of owner, collaborator, coder, "
				       "spectator");
			continue;
		}
		if (!user)
			continue;
		if (dup_into(&w->members[w->n_members].user, user) < 0 ||
		    dup_into(&w->members[w->n_members].role, role ? role : "coder") < 0) {
			w->n_members++;
			return -ENOMEM;
		}
		w->n_members++;
	}
	return 0;
}

static long long get_int(struct vctx *v, const json_t *j, const char *path,
			 long long min, long long max, long long dflt);

/* spec.hostedApps: [{port: 8000..8004, access: public | members}], each
 * port at most once (a list-map keyed by port, as the CRD says). */
static void parse_hosted_apps(struct vctx *v, const json_t *j, struct ws *w)
{
	static const char *const fields[] = { "port", "access", NULL };
	bool seen[WS_MAX_HOSTED_PORTS] = { false };
	size_t i, n;
	char p[64], pf[96];

	if (!json_is_array(j)) {
		problem(v, "spec.hostedApps", "must be a list");
		return;
	}
	n = json_array_size(j);
	if (n > WS_MAX_HOSTED_PORTS) {
		problem(v, "spec.hostedApps", "must have at most %d items", WS_MAX_HOSTED_PORTS);
		return;
	}
	for (i = 0; i < n; i++) {
		const json_t *item = json_array_get(j, i);
		const char *access;
		long long port;

		snprintf(p, sizeof(p), "spec.hostedApps[%zu]", i);
		if (!json_is_object(item)) {
			problem(v, p, "must be an object with port and access");
			continue;
		}
		unknown_fields(v, item, p, fields);
		snprintf(pf, sizeof(pf), "%s.port", p);
		if (!json_object_get(item, "port") || json_is_null(json_object_get(item, "port"))) {
			problem(v, pf, "required");
			port = -1;
		} else {
			port = get_int(v, json_object_get(item, "port"), pf, WS_CONTAINER_PORT_BASE,
				       WS_CONTAINER_PORT_BASE + WS_MAX_HOSTED_PORTS - 1, -1);
		}
		if (port >= 0 && seen[port - WS_CONTAINER_PORT_BASE]) {
			problem(v, pf, "duplicate port %lld", port);
			port = -1;
		}
		snprintf(pf, sizeof(pf), "%s.access", p);
		access = get_string(v, item, "access", pf, 16, false);
		if (access && strcmp(access, "public") != 0 && strcmp(access, "members") != 0) {
			problem(v, pf, "must be public or members");
			continue;
		}
		if (port < 0)
			continue;
		seen[port - WS_CONTAINER_PORT_BASE] = true;
		w->hosted_access[port - WS_CONTAINER_PORT_BASE] =
			access && strcmp(access, "members") == 0 ? WS_ACCESS_MEMBERS : WS_ACCESS_PUBLIC;
	}
}

static long long get_int(struct vctx *v, const json_t *j, const char *path,
			 long long min, long long max, long long dflt)
{
	long long n;

	if (!j || json_is_null(j))
		return dflt;
	/* 5.0 is an integer in JSON Schema; the range check comes first so
	 * that the conversion is defined. */
	if (json_is_real(j) && json_real_value(j) >= -9.0e15 &&
	    json_real_value(j) <= 9.0e15 &&
	    json_real_value(j) == (double)(long long)json_real_value(j))
		n = (long long)json_real_value(j);
	else if (json_is_real(j) && json_real_value(j) == json_real_value(j) &&
		 (json_real_value(j) < -9.0e15 || json_real_value(j) > 9.0e15))
		n = json_real_value(j) < 0 ? min - 1 : max + 1;
	else if (json_is_integer(j))
		n = json_integer_value(j);
	else {
		problem(v, path, "must be an integer");
		return dflt;
	}
	if (n < min || n > max) {
		problem(v, path, "must be between %lld and %lld", min, max);
		return dflt;
	}
	return n;
}

/*
 * A quantity of spec.resources, as the CRD's int-or-string with its pattern
 * says: an integer of at least 1 (5.0 counts, as in JSON Schema) in units
 * of 10^scale, or a positive quantity string (lib/quantity.h).  Sizes past
 * int64_t are kept as INT64_MAX (see ws.h).
 */
static void get_quantity(struct vctx *v, const json_t *j, const char *path,
			 int scale, const char *examples, struct ws_quantity *q)
{
	int64_t unit = 1, n = 0;
	const char *s;
	int r;

	for (int i = 0; i < scale; i++)
		unit *= 10;
	if (!j || json_is_null(j))
		return;
	if (json_is_integer(j) || json_is_real(j)) {
		double d = json_is_real(j) ? json_real_value(j) : 0;
		json_int_t k = json_is_integer(j) ? json_integer_value(j) : 0;

		if (json_is_real(j) && (!isfinite(d) || d != floor(d))) {
			problem(v, path, "must be an integer or a quantity string "
					 "(such as %s)", examples);
			return;
		}
		if (json_is_real(j) ? d < 1 : k < 1) {
			problem(v, path, "must be at least 1");
			return;
		}
		if (json_is_real(j) ? d >= 9.2e18 / (double)unit : k > INT64_MAX / unit)
			n = INT64_MAX;
		else
			n = (json_is_real(j) ? (int64_t)d : (int64_t)k) * unit;
		if (json_is_real(j))
			snprintf(q->text, sizeof(q->text), "%.17g", d);
		else
			snprintf(q->text, sizeof(q->text), "%lld", (long long)k);
		q->value = n;
		return;
	}
	if (!json_is_string(j) || has_nul(j)) {
		problem(v, path, "must be an integer or a quantity string (such as %s)",
			examples);
		return;
	}
	s = json_string_value(j);
	if (utf8_len(j) > QUANTITY_MAX_LEN) {
		problem(v, path, "must be at most %d characters", QUANTITY_MAX_LEN);
		return;
	}
	/* The pattern has no '-' and wants a non-zero digit: a positive
	 * value, which rounding up keeps positive. */
	r = quantity_parse(s, scale, &n);
	if (r == -ERANGE && *s != '-') {
		n = INT64_MAX;
	} else if (r < 0 || *s == '-' || n <= 0) {
		problem(v, path, "must be a positive quantity such as %s (Kubernetes "
				 "quantity syntax)", examples);
		return;
	}
	snprintf(q->text, sizeof(q->text), "%s", s);
	q->value = n;
}

static void parse_resources(struct vctx *v, const json_t *j, struct ws *w)
{
	static const char *const fields[] = { "cpu", "memory", "pids", NULL };

	if (!json_is_object(j)) {
		problem(v, "spec.resources", "must be an object (cpu, memory, pids)");
		return;
	}
	unknown_fields(v, j, "spec.resources", fields);
	get_quantity(v, json_object_get(j, "cpu"), "spec.resources.cpu",
		     QUANTITY_SCALE_NANO, "2, 1.5 or 500m", &w->resources.cpu);
	get_quantity(v, json_object_get(j, "memory"), "spec.resources.memory",
		     QUANTITY_SCALE_UNIT, "8Gi, 512Mi or 1e9", &w->resources.memory);
	w->resources.pids = get_int(v, json_object_get(j, "pids"),
				    "spec.resources.pids", 1, WS_MAX_PIDS, 0);
}

static int parse_spec(struct vctx *v, const json_t *spec, struct ws *w)
{
	const json_t *j;
	const char *s;
	int r;

	w->hosted_ports = WS_MAX_HOSTED_PORTS;
	w->idle_timeout = -1;
	w->running = true;
	if (!spec || json_is_null(spec))
		goto defaults;
	if (!json_is_object(spec)) {
		problem(v, "spec", "must be an object");
		goto defaults;
	}
	unknown_fields(v, spec, "spec", spec_fields);

	s = get_string(v, spec, "image", "spec.image", WS_MAX_IMAGE, false);
	if (s && !is_image_ref(s))
		problem(v, "spec.image", "must be an image reference (letters, "
					 "digits and ._/:@+-, starting with a "
					 "letter or digit)");
	else if (s && dup_into(&w->image, s) < 0)
		return -ENOMEM;

	if ((j = json_object_get(spec, "command")) && !json_is_null(j) &&
	    (r = parse_command(v, j, w)) < 0)
		return r;
	if ((j = json_object_get(spec, "env")) && !json_is_null(j) &&
	    (r = parse_env(v, j, w)) < 0)
		return r;
	if ((j = json_object_get(spec, "mounts")) && !json_is_null(j) &&
	    (r = parse_mounts(v, j, w)) < 0)
		return r;
	if ((j = json_object_get(spec, "members")) && !json_is_null(j) &&
	    (r = parse_members(v, j, w)) < 0)
		return r;

	w->hosted_ports = (int)get_int(v, json_object_get(spec, "hostedPorts"),
				       "spec.hostedPorts", 0, WS_MAX_HOSTED_PORTS,
				       WS_MAX_HOSTED_PORTS);
	w->idle_timeout = get_int(v, json_object_get(spec, "idleTimeoutSeconds"),
				  "spec.idleTimeoutSeconds", 0, WS_MAX_IDLE, -1);
	if ((j = json_object_get(spec, "resources")) && !json_is_null(j))
		parse_resources(v, j, w);
	if ((j = json_object_get(spec, "hostedApps")) && !json_is_null(j))
		parse_hosted_apps(v, j, w);
	j = json_object_get(spec, "running");
	if (j && !json_is_null(j)) {
		if (!json_is_boolean(j))
			problem(v, "spec.running", "must be true or false");
		else
			w->running = json_is_true(j);
	}
	s = get_string(v, spec, "reclaimPolicy", "spec.reclaimPolicy", 32, false);
	if (s && strcmp(s, "Delete") != 0 && strcmp(s, "Retain") != 0)
		problem(v, "spec.reclaimPolicy", "must be Delete or Retain");
	else if (s && dup_into(&w->reclaim_policy, s) < 0)
		return -ENOMEM;
	s = get_string(v, spec, "nodeName", "spec.nodeName", WS_NAME_MAX, false);
	if (s && !ws_is_dns_label(s))
		problem(v, "spec.nodeName", "%s", DNS_LABEL_RULE);
	else if (s && dup_into(&w->node_name, s) < 0)
		return -ENOMEM;
defaults:
	if (!w->image && dup_into(&w->image, WS_DEFAULT_IMAGE) < 0)
		return -ENOMEM;
	if (!w->reclaim_policy && dup_into(&w->reclaim_policy, "Delete") < 0)
		return -ENOMEM;
	return 0;
}

int ws_parse(const json_t *doc, const char *default_ns, struct ws **out,
	     struct err *e)
{
	struct vctx v = { .e = e };
	struct ws *w;
	const char *s;
	int r;

	err_clear(e);
	if (!json_is_object(doc)) {
		err_set(e, "(root): must be an object (a Workspace manifest)");
		return -EINVAL;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->labels = json_object();
	if (!w->labels) {
		r = -ENOMEM;
		goto out;
	}
	unknown_fields(&v, doc, "", top_fields);
	s = get_string(&v, doc, "apiVersion", "apiVersion", 64, true);
	if (s && strcmp(s, WS_API_VERSION) != 0)
		problem(&v, "apiVersion", "must be %s (got \"%s\")", WS_API_VERSION, s);
	s = get_string(&v, doc, "kind", "kind", 64, true);
	if (s && strcmp(s, WS_KIND) != 0)
		problem(&v, "kind", "must be %s (got \"%s\")", WS_KIND, s);
	r = parse_metadata(&v, json_object_get(doc, "metadata"), default_ns, w);
	if (r < 0)
		goto out;
	r = parse_spec(&v, json_object_get(doc, "spec"), w);
	if (r < 0)
		goto out;
	if (v.problems > MAX_PROBLEMS)
		err_addline(e, "(%d more problems not shown)", v.problems - MAX_PROBLEMS);
	if (v.problems)
		r = -EINVAL;
out:
	if (r < 0) {
		ws_free(w);
		return r;
	}
	*out = w;
	return 0;
}

void ws_free(struct ws *w)
{
	size_t i;

	if (!w)
		return;
	free(w->name);
	free(w->ns);
	json_decref(w->labels);
	free(w->image);
	for (i = 0; i < w->n_command; i++)
		free(w->command[i]);
	free(w->command);
	for (i = 0; i < w->n_env; i++) {
		free(w->env[i].name);
		free(w->env[i].value);
	}
	free(w->env);
	for (i = 0; i < w->n_mounts; i++) {
		free(w->mounts[i].source);
		free(w->mounts[i].target);
	}
	free(w->mounts);
	for (i = 0; i < w->n_members; i++) {
		free(w->members[i].user);
		free(w->members[i].role);
	}
	free(w->members);
	free(w->reclaim_policy);
	free(w->node_name);
	free(w);
}

int ws_load(const char *data, size_t len, const char *ns, const char *name,
	    struct ws **out, json_t **doc, struct err *e)
{
	struct codec_docs docs = { 0 };
	const json_t *meta;
	const char *mns;
	struct ws *w = NULL;
	int r;

	if (len > WS_MAX_OBJECT) {
		err_set(e, "object larger than %u bytes", WS_MAX_OBJECT);
		return -EINVAL;
	}
	r = codec_yaml_load(data, len, &docs, e);
	if (r < 0) {
		err_prefix(e, "stored object is not valid YAML or JSON");
		return r == -ENOMEM ? r : -EINVAL;
	}
	if (docs.n != 1) {
		err_set(e, "stored object must be exactly one document (found %zu)", docs.n);
		r = -EINVAL;
		goto out;
	}
	r = ws_parse(docs.docs[0].value, ns, &w, e);
	if (r < 0)
		goto out;
	meta = json_object_get(docs.docs[0].value, "metadata");
	mns = json_string_value(json_object_get(meta, "namespace"));
	if (strcmp(w->name, name) != 0 || (mns && strcmp(mns, ns) != 0)) {
		err_set(e, "metadata: name/namespace %s/%s do not match the key %s/%s",
			mns ? mns : ns, w->name, ns, name);
		ws_free(w);
		r = -EINVAL;
		goto out;
	}
	*out = w;
	if (doc)
		*doc = json_incref(docs.docs[0].value);
out:
	codec_docs_clear(&docs);
	return r;
}

json_t *ws_canonical(const json_t *doc, const char *ns)
{
	const json_t *meta = json_object_get(doc, "metadata");
	const json_t *spec = json_object_get(doc, "spec");
	json_t *m, *out;

	m = json_pack("{s:O,s:s}", "name", json_object_get(meta, "name"),
		      "namespace", ns);
	if (!m)
		return NULL;
	if (json_object_size(json_object_get(meta, "labels")))
		json_object_set(m, "labels", json_object_get(meta, "labels"));
	if (json_object_size(json_object_get(meta, "annotations")))
		json_object_set(m, "annotations", json_object_get(meta, "annotations"));
	out = json_pack("{s:s,s:s,s:o}", "apiVersion", WS_API_VERSION, "kind",
			WS_KIND, "metadata", m);
	if (out && json_is_object(spec))
		json_object_set_new(out, "spec", json_deep_copy(spec));
	else if (out)
		json_object_set_new(out, "spec", json_object());
	return out;
}

/* ---- derived names ---- */

static int fmt(char *buf, size_t len, const char *f, ...)
	__attribute__((format(printf, 3, 4)));

static int fmt(char *buf, size_t len, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(buf, len, f, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* '_' never occurs in DNS labels or instance ids, so these names cannot
 * collide between (instance, namespace, name) triples. */
int ws_container_name(const char *instance, const char *ns, const char *name,
		      char *buf, size_t len)
{
	return fmt(buf, len, "klangk_%s_%s_%s", instance, ns, name);
}

int ws_volume_name(const char *instance, const char *ns, const char *name,
		   const char *which, char *buf, size_t len)
{
	return fmt(buf, len, "klangk_%s_%s_%s_%s", instance, ns, name, which);
}

int ws_network_name(const char *instance, const char *ns, char *buf, size_t len)
{
	return fmt(buf, len, "klangk_%s_%s", instance, ns);
}

int ws_home_path(const char *ns, char *buf, size_t len)
{
	return fmt(buf, len, "/home/%s", ns);
}

int ws_work_path(const char *ns, char *buf, size_t len)
{
	return fmt(buf, len, "/home/%s/work", ns);
}
