/*
 * mountpolicy — the bind-mount policy (see mountpolicy.h).
 *
 * Paths are compared as strings only after realpath has removed every
 * symlink, "." and ".." from them; the inode checks then catch the two
 * ways a string comparison can be fooled on a real host: a hard link to a
 * protected file, and a bind mount that shows a protected directory under
 * another name.
 */
#include "mountpolicy.h"

#include "buf.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const mount_builtin_protected[] = {
	/* Engine sockets: whoever reaches one controls the host. */
	"/var/run/docker.sock",
	"/run/docker.sock",
	"/run/podman/podman.sock",
	"/run/containerd/containerd.sock",
	/* Engine storage: every user's volumes (homes included). */
	"/var/lib/docker",
	"/var/lib/containers",
	"/var/lib/containerd",
	/* The kernel's views of processes, devices and settings. */
	"/proc",
	"/sys",
	"/dev",
	NULL,
};

static const char *const forbidden_targets[] = { "/proc", "/sys", "/dev", NULL };

static int whyf(char *why, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int whyf(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (why && len) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return 0;
}

/* ---- 1. syntax ---- */

bool mount_has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

bool mount_is_normal_path(const char *p)
{
	if (p[0] != '/')
		return false;
	if (p[1] == '\0')
		return true;
	for (const char *c = p; *c;) {
		const char *next;
		size_t len;

		c++; /* skip '/' */
		next = strchr(c, '/');
		len = next ? (size_t)(next - c) : strlen(c);
		if (len == 0 || (len == 1 && c[0] == '.') ||
		    (len == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		if (!next)
			break;
		c = next;
	}
	return true;
}

bool mount_path_covers(const char *a, const char *b)
{
	size_t n = strlen(a);

	if (strcmp(a, "/") == 0)
		return b[0] == '/';
	return strncmp(a, b, n) == 0 && (b[n] == '\0' || b[n] == '/');
}

bool mount_parent(char *p)
{
	char *slash = strrchr(p, '/');

	if (!slash || (slash == p && p[1] == '\0'))
		return false;
	if (slash == p)
		p[1] = '\0';
	else
		*slash = '\0';
	return true;
}

/* The syntax sources and targets share. */
static int check_syntax(const char *path, char *why, size_t len)
{
	if (mount_has_control(path)) {
		whyf(why, len, "must not contain control characters");
		return -EINVAL;
	}
	if (path[0] != '/') {
		whyf(why, len, "must be an absolute path");
		return -EINVAL;
	}
	if (!mount_is_normal_path(path)) {
		whyf(why, len, "must be a normalised absolute path (no '.', '..', "
			       "'//' or trailing '/')");
		return -EINVAL;
	}
	return 0;
}

int mount_check_source(const char *src, char *why, size_t len)
{
	if (check_syntax(src, why, len) < 0)
		return -EINVAL;
	for (const char *const *p = mount_builtin_protected; *p; p++) {
		if (strcmp(src, *p) == 0) {
			whyf(why, len, "must not be the protected path %s", *p);
			return -EINVAL;
		}
		if (mount_path_covers(src, *p)) {
			whyf(why, len, "must not contain the protected path %s", *p);
			return -EINVAL;
		}
		if (mount_path_covers(*p, src)) {
			whyf(why, len, "must not be inside the protected path %s", *p);
			return -EINVAL;
		}
	}
	return 0;
}

int mount_check_target(const char *tgt, const char *home, const char *work,
		       char *why, size_t len)
{
	if (check_syntax(tgt, why, len) < 0)
		return -EINVAL;
	if (strcmp(tgt, "/") == 0) {
		whyf(why, len, "must not be /");
		return -EINVAL;
	}
	for (const char *const *f = forbidden_targets; *f; f++)
		if (mount_path_covers(*f, tgt) || mount_path_covers(tgt, *f)) {
			whyf(why, len, "must not be in or over %s", *f);
			return -EINVAL;
		}
	if ((home && mount_path_covers(tgt, home)) ||
	    (work && mount_path_covers(tgt, work))) {
		whyf(why, len, "must not cover the workspace's home (%s) or work (%s) "
			       "directory", home ? home : "", work ? work : "");
		return -EINVAL;
	}
	return 0;
}

/* ---- 2. the policy ---- */

/*
 * realpath for a path that may not exist: the longest existing prefix is
 * resolved and the rest appended.  Relative paths are taken from the
 * current directory.  new.
 */
static char *resolve_lenient(const char *path)
{
	struct buf b;
	char *head = NULL, *res = NULL;
	size_t cut;

	buf_init(&b, PATH_MAX * 2);
	if (path[0] != '/') {
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)) || buf_printf(&b, "%s/%s", cwd, path) < 0)
			goto out;
	} else if (buf_puts(&b, path) < 0) {
		goto out;
	}
	head = strdup(b.data);
	if (!head)
		goto out;
	cut = strlen(head);
	for (;;) {
		char *r = realpath(head, NULL);

		if (r) {
			struct buf o;
			const char *rest = b.data + cut;

			buf_init(&o, PATH_MAX * 2);
			/* rest starts with '/' (or is empty); "/" + "/x" -> "/x" */
			if (buf_printf(&o, "%s%s", strcmp(r, "/") == 0 && *rest ? "" : r,
				       rest) == 0)
				res = buf_steal(&o);
			buf_free(&o);
			free(r);
			break;
		}
		if (errno != ENOENT && errno != ENOTDIR)
			break;
		while (cut > 0 && head[cut - 1] == '/')
			cut--;
		while (cut > 0 && head[cut - 1] != '/')
			cut--;
		if (cut <= 1) {
			/* Nothing but "/" exists of it. */
			res = strdup(b.data);
			break;
		}
		head[--cut] = '\0';
	}
out:
	free(head);
	buf_free(&b);
	/* A result with "..", "." or "//" left (a missing part written that
	 * way) cannot be compared as a string: refuse to build on it. */
	if (res && !mount_is_normal_path(res)) {
		free(res);
		res = NULL;
	}
	return res;
}

static int ino_add(struct mount_ino **v, size_t *n, const struct stat *st,
		   const char *path)
{
	struct mount_ino *nv;

	for (size_t i = 0; i < *n; i++)
		if ((*v)[i].dev == st->st_dev && (*v)[i].ino == st->st_ino)
			return 0;
	nv = realloc(*v, (*n + 1) * sizeof(**v));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[*n].dev = st->st_dev;
	nv[*n].ino = st->st_ino;
	nv[*n].path = path;
	(*n)++;
	return 0;
}

static const struct mount_ino *ino_find(const struct mount_ino *v, size_t n,
					const struct stat *st)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].dev == st->st_dev && v[i].ino == st->st_ino)
			return &v[i];
	return NULL;
}

static int add_protected(struct mount_policy *p, const char *path, struct err *e)
{
	char *r;

	if (!*path)
		return 0;
	if (p->n_protected + 2 > MOUNT_MAX_PROTECTED) {
		err_set(e, "more than %d protected paths", MOUNT_MAX_PROTECTED);
		return -E2BIG;
	}
	/* As written too: a path that does not exist yet is compared with the
	 * sources as given. */
	if (path[0] == '/' && mount_is_normal_path(path)) {
		p->protected[p->n_protected] = strdup(path);
		if (!p->protected[p->n_protected])
			return -ENOMEM;
		p->n_protected++;
	}
	r = resolve_lenient(path);
	if (!r) {
		err_set(e, "protected path %s: cannot be resolved", path);
		return -EINVAL;
	}
	p->protected[p->n_protected++] = r;
	return 0;
}

/* Record the identities of the protected paths and their ancestors. */
static int index_inodes(struct mount_policy *p)
{
	for (size_t i = 0; i < p->n_protected; i++) {
		char tmp[PATH_MAX];
		struct stat st;
		const char *path = p->protected[i];
		int r;

		if (strlen(path) >= sizeof(tmp))
			continue;
		if (stat(path, &st) == 0 && (r = ino_add(&p->self, &p->n_self, &st, path)) < 0)
			return r;
		snprintf(tmp, sizeof(tmp), "%s", path);
		while (mount_parent(tmp))
			if (stat(tmp, &st) == 0 &&
			    (r = ino_add(&p->above, &p->n_above, &st, path)) < 0)
				return r;
	}
	return 0;
}

int mount_policy_init(struct mount_policy *p, const char *roots,
		      const char *const *protected, struct err *e)
{
	char *list = NULL, *save = NULL, *tok;
	int r = 0;

	memset(p, 0, sizeof(*p));
	for (const char *const *b = mount_builtin_protected; *b; b++)
		if ((r = add_protected(p, *b, e)) < 0)
			goto out;
	for (const char *const *x = protected; x && *x; x++)
		if ((r = add_protected(p, *x, e)) < 0)
			goto out;
	if (roots && *roots) {
		p->roots_set = true;
		list = strdup(roots);
		if (!list) {
			r = -ENOMEM;
			goto out;
		}
		for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			char *res;

			while (*tok == ' ')
				tok++;
			if (!*tok)
				continue;
			if (tok[0] != '/') {
				err_set(e, "allowed mount root \"%s\": must be an absolute path", tok);
				r = -EINVAL;
				goto out;
			}
			if (p->n_roots == MOUNT_MAX_ROOTS) {
				err_set(e, "more than %d allowed mount roots", MOUNT_MAX_ROOTS);
				r = -E2BIG;
				goto out;
			}
			/* A root that does not exist allows nothing. */
			res = realpath(tok, NULL);
			if (res)
				p->roots[p->n_roots++] = res;
		}
	}
	r = index_inodes(p);
out:
	free(list);
	if (r < 0)
		mount_policy_clear(p);
	return r;
}

void mount_policy_clear(struct mount_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_roots; i++)
		free(p->roots[i]);
	for (size_t i = 0; i < p->n_protected; i++)
		free(p->protected[i]);
	free(p->self);
	free(p->above);
	memset(p, 0, sizeof(*p));
}

/* The engine's data root from GET /info, fetched once per process (Podman
 * answers /info in about half a second) and per engine address. */
static pthread_mutex_t root_mu = PTHREAD_MUTEX_INITIALIZER;
static char root_host[4096];
static char root_dir[PATH_MAX];

static int engine_root(const struct cfg *c, struct engine *g, char *out,
		       size_t len, struct err *e)
{
	struct buf body;
	json_t *info = NULL;
	json_error_t jerr;
	const char *dir;
	long status = 0;
	int r = 0;

	pthread_mutex_lock(&root_mu);
	if (root_dir[0] && strcmp(root_host, c->docker_host) == 0) {
		snprintf(out, len, "%s", root_dir);
		goto out_unlock;
	}
	buf_init(&body, 4u * 1024 * 1024);
	r = engine_request(g, "GET", "/info", NULL, &status, &body, e);
	if (r == 0 && status != 200) {
		err_set(e, "engine GET /info: HTTP %ld", status);
		r = -EIO;
	}
	if (r == 0) {
		info = json_loadb(body.data ? body.data : "", body.len, 0, &jerr);
		dir = json_string_value(json_object_get(info, "DockerRootDir"));
		if (!dir || dir[0] != '/' || strlen(dir) >= sizeof(root_dir)) {
			err_set(e, "engine GET /info: no usable DockerRootDir");
			r = -EPROTO;
		} else {
			snprintf(root_dir, sizeof(root_dir), "%s", dir);
			snprintf(root_host, sizeof(root_host), "%s", c->docker_host);
			snprintf(out, len, "%s", root_dir);
		}
	}
	json_decref(info);
	buf_free(&body);
out_unlock:
	pthread_mutex_unlock(&root_mu);
	return r;
}

int mount_policy_from_cfg(const struct cfg *c, struct engine *g,
			  struct mount_policy *p, struct err *e)
{
	static const char *const env_files[] = { "KLANGK_ETCD_CACERT", "KLANGK_ETCD_CERT",
						 "KLANGK_ETCD_KEY",
						 "KLANGK_ETCD_PASSWORD_FILE", NULL };
	const char *extra[MOUNT_MAX_PROTECTED / 2 + 1];
	char root[PATH_MAX] = "";
	char *list = NULL, *save = NULL, *tok;
	size_t n = 0;
	int r;

	if (strncmp(c->docker_host, "unix://", 7) == 0)
		extra[n++] = c->docker_host + 7;
	if (g) {
		r = engine_root(c, g, root, sizeof(root), e);
		if (r < 0) {
			err_prefix(e, "cannot learn the engine's data directory");
			return r;
		}
		extra[n++] = root;
	}
	if (c->data_dir[0])
		extra[n++] = c->data_dir;
	for (const char *const *f = env_files; *f; f++) {
		const char *v = getenv(*f);

		if (v && *v)
			extra[n++] = v;
	}
	list = strdup(c->protected_paths);
	if (!list)
		return -ENOMEM;
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		if (!*tok)
			continue;
		if (n == sizeof(extra) / sizeof(extra[0]) - 1) {
			err_set(e, "KLANGK_PROTECTED_PATHS: too many paths");
			free(list);
			return -E2BIG;
		}
		extra[n++] = tok;
	}
	extra[n] = NULL;
	r = mount_policy_init(p, c->allowed_mount_roots, extra, e);
	free(list);
	return r;
}

int mount_check_resolved(const struct mount_policy *p, const char *resolved,
			 char *why, size_t len)
{
	bool under = false;

	if (!mount_is_normal_path(resolved) || mount_has_control(resolved)) {
		whyf(why, len, "is not a normalised absolute path");
		return -EPERM;
	}
	for (size_t i = 0; i < p->n_protected; i++) {
		if (strcmp(resolved, p->protected[i]) == 0) {
			whyf(why, len, "is the protected path %s", p->protected[i]);
			return -EPERM;
		}
		if (mount_path_covers(resolved, p->protected[i])) {
			whyf(why, len, "contains the protected path %s", p->protected[i]);
			return -EPERM;
		}
		if (mount_path_covers(p->protected[i], resolved)) {
			whyf(why, len, "is inside the protected path %s", p->protected[i]);
			return -EPERM;
		}
	}
	if (!p->roots_set)
		return 0;
	for (size_t i = 0; i < p->n_roots && !under; i++)
		under = mount_path_covers(p->roots[i], resolved);
	if (!under) {
		whyf(why, len, "is not under an allowed root (KLANGK_ALLOWED_MOUNT_ROOTS)");
		return -EPERM;
	}
	return 0;
}

/* ---- 3. against the host ---- */

/* The inode checks of a resolved path; 0 or -EPERM with why. */
static int check_inodes(const struct mount_policy *p, const char *res,
			const struct stat *st, char *why, size_t len)
{
	const struct mount_ino *hit;
	char tmp[PATH_MAX];

	if ((hit = ino_find(p->self, p->n_self, st))) {
		whyf(why, len, "is the protected path %s under another name", hit->path);
		return -EPERM;
	}
	if ((hit = ino_find(p->above, p->n_above, st))) {
		whyf(why, len, "is a directory that contains the protected path %s",
		     hit->path);
		return -EPERM;
	}
	if (strlen(res) >= sizeof(tmp))
		return -EPERM;
	snprintf(tmp, sizeof(tmp), "%s", res);
	/* Up to, not including, "/" (which is no protected path). */
	while (mount_parent(tmp) && strcmp(tmp, "/") != 0) {
		struct stat ast;

		if (stat(tmp, &ast) == 0 && (hit = ino_find(p->self, p->n_self, &ast))) {
			whyf(why, len, "is inside the protected path %s (through %s)",
			     hit->path, tmp);
			return -EPERM;
		}
	}
	return 0;
}

int mount_resolve(const struct mount_policy *p, const char *src,
		  char **resolved, char *why, size_t len)
{
	char inner[MOUNT_WHY_MAX];
	struct stat st;
	char *res;
	int r;

	if (src[0] != '/' || mount_has_control(src)) {
		whyf(why, len, "must be an absolute path without control characters");
		return -EPERM;
	}
	res = realpath(src, NULL);
	if (!res) {
		int err = errno;

		whyf(why, len, "%s", err == ENOENT || err == ENOTDIR ?
		     "does not exist on the host" : strerror(err));
		return err == ENOENT || err == ENOTDIR ? -ENOENT : -EPERM;
	}
	r = mount_check_resolved(p, res, inner, sizeof(inner));
	if (r == 0) {
		if (stat(res, &st) < 0) {
			snprintf(inner, sizeof(inner), "cannot be examined: %s", strerror(errno));
			r = -EPERM;
		} else if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
			snprintf(inner, sizeof(inner), "is neither a directory nor a "
						      "regular file (sockets and devices "
						      "are never mounted)");
			r = -EPERM;
		} else {
			r = check_inodes(p, res, &st, inner, sizeof(inner));
		}
	}
	if (r < 0) {
		if (strcmp(res, src) == 0)
			whyf(why, len, "%s", inner);
		else
			whyf(why, len, "resolves to %s, which %s", res, inner);
		free(res);
		return r;
	}
	*resolved = res;
	return 0;
}

int mount_apply_ws(const struct cfg *c, struct engine *g, struct ws *w,
		   struct err *e)
{
	struct mount_policy p;
	char *res[WS_MAX_MOUNTS] = { 0 };
	char why[MOUNT_WHY_MAX];
	bool any = false;
	int r = 0;

	for (size_t i = 0; i < w->n_mounts; i++)
		any |= w->mounts[i].bind;
	if (!any)
		return 0;
	if (w->n_mounts > WS_MAX_MOUNTS)
		return -E2BIG;
	r = mount_policy_from_cfg(c, g, &p, e);
	if (r < 0)
		return r;
	for (size_t i = 0; i < w->n_mounts; i++) {
		if (!w->mounts[i].bind)
			continue;
		r = mount_resolve(&p, w->mounts[i].source, &res[i], why, sizeof(why));
		if (r < 0) {
			err_set(e, "spec.mounts[%zu].source: %s %s", i, w->mounts[i].source, why);
			goto out;
		}
	}
	/* All passed: only now swap, so a refusal leaves w as it was. */
	for (size_t i = 0; i < w->n_mounts; i++)
		if (res[i]) {
			free(w->mounts[i].source);
			w->mounts[i].source = res[i];
			res[i] = NULL;
		}
out:
	for (size_t i = 0; i < WS_MAX_MOUNTS; i++)
		free(res[i]);
	mount_policy_clear(&p);
	return r;
}

int mount_check_config(const struct cfg *c, struct engine *g,
		       const json_t *config, struct err *e)
{
	const json_t *mounts = json_object_get(json_object_get(config, "HostConfig"),
					       "Mounts");
	struct mount_policy p;
	char why[MOUNT_WHY_MAX];
	bool any = false;
	const json_t *m;
	size_t i;
	int r = 0;

	json_array_foreach(mounts, i, m) {
		const char *type = json_string_value(json_object_get(m, "Type"));

		any |= type && strcmp(type, "bind") == 0;
	}
	if (!any)
		return 0;
	r = mount_policy_from_cfg(c, g, &p, e);
	if (r < 0)
		return r;
	json_array_foreach(mounts, i, m) {
		const char *type = json_string_value(json_object_get(m, "Type"));
		const char *src = json_string_value(json_object_get(m, "Source"));
		char *res = NULL;

		if (!type || strcmp(type, "bind") != 0)
			continue;
		if (!src) {
			err_set(e, "bind mount %zu has no source", i);
			r = -EPERM;
			break;
		}
		r = mount_resolve(&p, src, &res, why, sizeof(why));
		if (r == 0 && strcmp(res, src) != 0) {
			snprintf(why, sizeof(why), "changed since it was checked: it now "
						  "resolves to %s", res);
			r = -EPERM;
		}
		free(res);
		if (r < 0) {
			err_set(e, "bind mount source %s %s", src, why);
			break;
		}
	}
	mount_policy_clear(&p);
	return r;
}
