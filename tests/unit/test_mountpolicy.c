/*
 * Unit tests for mountpolicy: the syntax checks, the pure policy on resolved
 * paths (every parent of every protected path is refused), and resolution
 * against a real (temporary) file system: symlinks swapped in, hard links,
 * sockets, missing paths, allowed roots.
 */
#include "mountpolicy.h"
#include "t.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static char T[256]; /* the temporary directory, resolved */

static void path(char *buf, const char *rel)
{
	snprintf(buf, PATH_MAX, "%s/%s", T, rel);
}

static void mkdir_rel(const char *rel)
{
	char p[PATH_MAX];

	path(p, rel);
	CHECK(mkdir(p, 0755) == 0);
}

static void touch_rel(const char *rel)
{
	char p[PATH_MAX];
	int fd;

	path(p, rel);
	fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
}

static void symlink_rel(const char *target, const char *rel)
{
	char p[PATH_MAX];

	path(p, rel);
	unlink(p);
	CHECK(symlink(target, p) == 0);
}

static bool source_ok(const char *s)
{
	char why[MOUNT_WHY_MAX];

	return mount_check_source(s, why, sizeof(why)) == 0;
}

/* Every ancestor of p, from its parent up to "/", through fn. */
static void each_parent(const char *p, void (*fn)(const char *))
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", p);
	while (mount_parent(tmp))
		fn(tmp);
}

static void parent_refused_syntax(const char *p)
{
	char why[MOUNT_WHY_MAX] = "";

	CHECK(mount_check_source(p, why, sizeof(why)) == -EINVAL);
	if (!CONTAINS(why, "must not contain the protected path"))
		fprintf(stderr, "parent %s: %s\n", p, why);
	CHECK_CONTAINS(why, "must not contain the protected path");
}

static void test_syntax(void)
{
	char why[MOUNT_WHY_MAX];

	CHECK(source_ok("/srv/data"));
	CHECK(source_ok("/home/alice/projects"));
	CHECK(!source_ok("/"));
	CHECK(!source_ok("/run"));
	CHECK(!source_ok("/var/run"));
	CHECK(!source_ok("/var"));
	CHECK(!source_ok("/run/podman"));
	CHECK(!source_ok("/var/lib"));
	CHECK(mount_check_source("/var/run/docker.sock", why, sizeof(why)) == -EINVAL);
	CHECK_CONTAINS(why, "must not be the protected path /var/run/docker.sock");
	CHECK(mount_check_source("/proc/1/root", why, sizeof(why)) == -EINVAL);
	CHECK_CONTAINS(why, "inside the protected path /proc");
	CHECK(!source_ok("/dev/sda"));
	CHECK(!source_ok("/sys/kernel"));
	CHECK(!source_ok("/var/lib/docker/volumes/x/_data"));
	CHECK(!source_ok("/var/lib/containers/storage"));
	CHECK(mount_check_source("/srv/../run", why, sizeof(why)) == -EINVAL);
	CHECK_CONTAINS(why, "normalised absolute path");
	CHECK(!source_ok("/srv/./x"));
	CHECK(!source_ok("/srv//x"));
	CHECK(!source_ok("/srv/"));
	CHECK(!source_ok("srv"));
	CHECK(!source_ok(""));
	CHECK(mount_check_source("/a\nb", why, sizeof(why)) == -EINVAL);
	CHECK_CONTAINS(why, "control characters");
	CHECK(!source_ok("/a\tb"));
	CHECK(!source_ok("/a\x7f"));
	/* Names that merely start like a protected path are not inside it. */
	CHECK(source_ok("/procfs"));
	CHECK(source_ok("/devel/x"));
	CHECK(source_ok("/run2"));
	/* Every parent of every built-in protected path. */
	for (const char *const *p = mount_builtin_protected; *p; p++)
		each_parent(*p, parent_refused_syntax);

	{
		char a[] = "/a/b", r[] = "/";

		CHECK(mount_parent(a) && strcmp(a, "/a") == 0);
		CHECK(mount_parent(a) && strcmp(a, "/") == 0);
		CHECK(!mount_parent(a) && !mount_parent(r));
	}
	CHECK(mount_is_normal_path("/"));
	CHECK(mount_path_covers("/", "/x"));
	CHECK(mount_path_covers("/a", "/a"));
	CHECK(mount_path_covers("/a", "/a/b"));
	CHECK(!mount_path_covers("/a", "/ab"));
	CHECK(!mount_path_covers("/a/b", "/a"));
}

static bool target_ok(const char *t)
{
	char why[MOUNT_WHY_MAX];

	return mount_check_target(t, "/home/alice", "/home/alice/work", why,
				  sizeof(why)) == 0;
}

static void test_targets(void)
{
	char why[MOUNT_WHY_MAX];

	CHECK(target_ok("/data"));
	CHECK(target_ok("/nix"));
	CHECK(target_ok("/home/alice/work/sub"));  /* inside, not covering */
	CHECK(target_ok("/home/bob"));
	CHECK(!target_ok("/"));
	CHECK(!target_ok("/proc"));
	CHECK(!target_ok("/proc/sys"));
	CHECK(!target_ok("/sys"));
	CHECK(!target_ok("/dev/shm"));
	CHECK(mount_check_target("/home", "/home/alice", "/home/alice/work", why,
				 sizeof(why)) == -EINVAL);
	CHECK_CONTAINS(why, "must not cover the workspace's home");
	CHECK(!target_ok("/home/alice"));
	CHECK(!target_ok("/home/alice/work"));
	CHECK(mount_check_target("data", NULL, NULL, why, sizeof(why)) == -EINVAL);
	CHECK_CONTAINS(why, "must be an absolute path");
	CHECK(!target_ok("/a/../b"));
	CHECK(!target_ok("/a/"));
	CHECK(!target_ok("/a\nb"));
}

/* ---- the policy ---- */

static struct mount_policy P;  /* roots T/allowed; protected T/data, T/secret */

static void parent_refused_resolved(const char *p)
{
	char why[MOUNT_WHY_MAX] = "";

	CHECK(mount_check_resolved(&P, p, why, sizeof(why)) == -EPERM);
	if (!CONTAINS(why, "contains the protected path"))
		fprintf(stderr, "parent %s: %s\n", p, why);
	CHECK_CONTAINS(why, "contains the protected path");
}

static void test_resolved(void)
{
	char p[PATH_MAX], why[MOUNT_WHY_MAX];
	struct mount_policy open_p;
	const char *extra[] = { NULL, NULL };

	path(p, "allowed/ok");
	CHECK(mount_check_resolved(&P, p, why, sizeof(why)) == 0);
	path(p, "other");
	CHECK(mount_check_resolved(&P, p, why, sizeof(why)) == -EPERM);
	CHECK_CONTAINS(why, "not under an allowed root");
	path(p, "data");
	CHECK(mount_check_resolved(&P, p, why, sizeof(why)) == -EPERM);
	CHECK_CONTAINS(why, "is the protected path");
	path(p, "data/sub");
	CHECK(mount_check_resolved(&P, p, why, sizeof(why)) == -EPERM);
	CHECK_CONTAINS(why, "is inside the protected path");
	CHECK(mount_check_resolved(&P, "/run", why, sizeof(why)) == -EPERM);
	CHECK_CONTAINS(why, "contains the protected path /run/");
	CHECK(mount_check_resolved(&P, "/srv/../x", why, sizeof(why)) == -EPERM);

	/* Every parent of every protected path, configured ones included
	 * (both as written and resolved). */
	for (size_t i = 0; i < P.n_protected; i++)
		each_parent(P.protected[i], parent_refused_resolved);

	/* Without roots anything else goes; protected paths never do. */
	path(p, "data");
	extra[0] = p;
	CHECK(mount_policy_init(&open_p, NULL, extra, NULL) == 0);
	CHECK(mount_check_resolved(&open_p, "/srv/anything", why, sizeof(why)) == 0);
	CHECK(mount_check_resolved(&open_p, p, why, sizeof(why)) == -EPERM);
	CHECK(mount_check_resolved(&open_p, "/", why, sizeof(why)) == -EPERM);
	mount_policy_clear(&open_p);

	/* Roots given but none exists: nothing is allowed (fail closed). */
	CHECK(mount_policy_init(&open_p, "/nonexistent/klangk-root", NULL, NULL) == 0);
	CHECK(open_p.roots_set && open_p.n_roots == 0);
	CHECK(mount_check_resolved(&open_p, "/srv/anything", why, sizeof(why)) == -EPERM);
	mount_policy_clear(&open_p);
	CHECK(mount_policy_init(&open_p, "relative/root", NULL, NULL) == -EINVAL);
}

static int resolve(const char *rel, char **res, char *why)
{
	char p[PATH_MAX];

	path(p, rel);
	*res = NULL;
	return mount_resolve(&P, p, res, why, MOUNT_WHY_MAX);
}

static void test_resolve(void)
{
	char why[MOUNT_WHY_MAX], p[PATH_MAX];
	char *res;
	int fd;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	CHECK(resolve("allowed/ok", &res, why) == 0);
	path(p, "allowed/ok");
	CHECK(res && strcmp(res, p) == 0);
	free(res);

	/* A symlink inside the root to another allowed place: allowed, and
	 * the resolved path is what is returned. */
	symlink_rel("ok", "allowed/alias");
	CHECK(resolve("allowed/alias", &res, why) == 0);
	CHECK(res && strcmp(res, p) == 0);
	free(res);

	/* Symlinks to protected or outside places. */
	path(p, "data");
	symlink_rel(p, "allowed/link");
	CHECK(resolve("allowed/link", &res, why) == -EPERM);
	CHECK_CONTAINS(why, "resolves to ");
	CHECK_CONTAINS(why, "which is the protected path");
	symlink_rel("/", "allowed/root");
	CHECK(resolve("allowed/root", &res, why) == -EPERM);
	CHECK_CONTAINS(why, "resolves to /, which contains the protected path");
	symlink_rel("/var/run", "allowed/varrun");
	CHECK(resolve("allowed/varrun", &res, why) == -EPERM);
	symlink_rel("../other", "allowed/up");
	CHECK(resolve("allowed/up", &res, why) == -EPERM);
	CHECK_CONTAINS(why, "not under an allowed root");

	/* A hard link to a protected file is that file under another name. */
	path(p, "secret");
	{
		char lp[PATH_MAX];

		path(lp, "allowed/hard");
		CHECK(link(p, lp) == 0);
	}
	CHECK(resolve("allowed/hard", &res, why) == -EPERM);
	CHECK_CONTAINS(why, "under another name");

	/* A socket is never mounted, wherever it is. */
	path(p, "allowed/sock");
	CHECK(strlen(p) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, p, strlen(p) + 1 < sizeof(sa.sun_path) ? strlen(p) + 1 :
	       sizeof(sa.sun_path) - 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	close(fd);
	CHECK(resolve("allowed/sock", &res, why) == -EPERM);
	CHECK_CONTAINS(why, "neither a directory nor a regular file");
	CHECK(mount_resolve(&P, "/dev/null", &res, why, sizeof(why)) == -EPERM);

	CHECK(resolve("allowed/missing", &res, why) == -ENOENT);
	CHECK_CONTAINS(why, "does not exist");
	CHECK(mount_resolve(&P, "relative", &res, why, sizeof(why)) == -EPERM);
}

/* mount_apply_ws and mount_check_config through a cfg, as the controller
 * calls them (no engine: no engine data root). */
static void test_ws_and_config(void)
{
	struct cfg c;
	struct ws w = { 0 };
	struct ws_mount m[3];
	struct err e;
	char ok[PATH_MAX], alias[PATH_MAX], link[PATH_MAX], data[PATH_MAX];
	json_t *config;

	memset(&c, 0, sizeof(c));
	snprintf(c.docker_host, sizeof(c.docker_host), "unix:///run/podman/podman.sock");
	path(c.allowed_mount_roots, "allowed");
	path(c.data_dir, "data");
	path(c.protected_paths, "secret");
	path(ok, "allowed/ok");
	path(alias, "allowed/alias");
	path(link, "allowed/link");
	path(data, "data");

	m[0] = (struct ws_mount){ .source = strdup("vol"), .target = strdup("/v") };
	m[1] = (struct ws_mount){ .source = strdup(alias), .target = strdup("/a"),
				  .bind = true, .read_only = true };
	m[2] = (struct ws_mount){ .source = strdup(link), .target = strdup("/l"),
				  .bind = true };
	w.mounts = m;
	w.n_mounts = 3;
	CHECK(mount_apply_ws(&c, NULL, &w, &e) == -EPERM);
	CHECK_CONTAINS(e.msg, "spec.mounts[2].source: ");
	CHECK_CONTAINS(e.msg, "is the protected path");
	CHECK(strcmp(m[1].source, alias) == 0);  /* unchanged on refusal */

	w.n_mounts = 2;
	CHECK(mount_apply_ws(&c, NULL, &w, &e) == 0);
	CHECK(strcmp(m[0].source, "vol") == 0);
	CHECK(strcmp(m[1].source, ok) == 0);     /* the resolved path */

	/* The configuration sent to the engine: fine now ... */
	config = json_pack("{s:{s:[{s:s,s:s,s:s},{s:s,s:s,s:s}]}}", "HostConfig",
			   "Mounts", "Type", "volume", "Source", "home", "Target",
			   "/home/alice", "Type", "bind", "Source", ok, "Target", "/a");
	CHECK(mount_check_config(&c, NULL, config, &e) == 0);
	/* ... but not once a symlink has been swapped in for the directory
	 * (to a harmless place or not). */
	CHECK(unlink(alias) == 0 && rename(ok, alias) == 0);
	symlink_rel(alias, "allowed/ok");
	CHECK(mount_check_config(&c, NULL, config, &e) == -EPERM);
	CHECK_CONTAINS(e.msg, "changed since it was checked");
	symlink_rel(data, "allowed/ok");
	CHECK(mount_check_config(&c, NULL, config, &e) == -EPERM);
	CHECK_CONTAINS(e.msg, "is the protected path");
	json_decref(config);

	/* KLANGK_DATA_DIR and KLANGK_PROTECTED_PATHS are protected. */
	free(m[1].source);
	m[1].source = strdup(data);
	CHECK(mount_apply_ws(&c, NULL, &w, &e) == -EPERM);
	CHECK_CONTAINS(e.msg, "spec.mounts[1].source");
	for (int i = 0; i < 3; i++) {
		free(m[i].source);
		free(m[i].target);
	}
}

int main(void)
{
	char tmpl[] = "/tmp/klangk-mountpolicy.XXXXXX";
	char p[PATH_MAX], q[PATH_MAX], cmd[512];
	const char *extra[3];
	char *real;

	test_syntax();
	test_targets();

	if (!mkdtemp(tmpl))
		return 1;
	real = realpath(tmpl, NULL);
	snprintf(T, sizeof(T), "%s", real);
	free(real);
	mkdir_rel("allowed");
	mkdir_rel("allowed/ok");
	mkdir_rel("other");
	mkdir_rel("data");
	mkdir_rel("data/sub");
	touch_rel("secret");
	path(p, "data");
	path(q, "secret");
	extra[0] = p;
	extra[1] = q;
	extra[2] = NULL;
	{
		char roots[512];

		snprintf(roots, sizeof(roots), " %s/allowed,/nonexistent/root", T);
		CHECK(mount_policy_init(&P, roots, extra, NULL) == 0);
		CHECK(P.roots_set && P.n_roots == 1);
	}
	test_resolved();
	test_resolve();
	test_ws_and_config();
	mount_policy_clear(&P);
	mount_policy_clear(NULL);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", T);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", T);
	return T_DONE("mountpolicy");
}
