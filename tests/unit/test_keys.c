/* test_keys — the etcd key layout: each key's exact form (other binaries,
 * operators' etcdctl commands and the RBAC roles depend on it), bounds and
 * parsing back. */
#include "keys.h"
#include "t.h"

#include <errno.h>
#include <string.h>

static void test_ws_keys(void)
{
	char buf[128], ns[64], name[64];

	CHECK(keys_ws(KEYS_SPEC, "alice", "proj", buf, sizeof(buf)) == 0);
	CHECK(strcmp(buf, "/klangk/workspaces/alice/proj") == 0);
	CHECK(keys_ws(KEYS_STATUS, "alice", "proj", buf, sizeof(buf)) == 0);
	CHECK(strcmp(buf, "/klangk/status/alice/proj") == 0);
	CHECK(keys_ws(KEYS_ACTIVITY, "alice", "proj", buf, sizeof(buf)) == 0);
	CHECK(strcmp(buf, "/klangk/activity/alice/proj") == 0);
	CHECK(keys_ws(KEYS_PLACEMENT, "alice", "proj", buf, sizeof(buf)) == 0);
	CHECK(strcmp(buf, "/klangk/placements/alice/proj") == 0);
	CHECK(keys_ws(KEYS_OWNER, "alice", "proj", buf, sizeof(buf)) == 0);
	CHECK(strcmp(buf, "alice/proj") == 0);
	CHECK(keys_of_owner(KEYS_STATUS, "alice/proj", buf, sizeof(buf)) == 0);
	CHECK(strcmp(buf, "/klangk/status/alice/proj") == 0);
	CHECK(keys_ns_prefix(KEYS_SPEC, "alice", buf, sizeof(buf)) == 0);
	CHECK(strcmp(buf, "/klangk/workspaces/alice/") == 0);
	CHECK(keys_ns_prefix(KEYS_SPEC, NULL, buf, sizeof(buf)) == 0);
	CHECK(strcmp(buf, "/klangk/workspaces/") == 0);
	CHECK(strncmp(keys_prefix(KEYS_STATUS), KEYS_ROOT, strlen(KEYS_ROOT)) == 0);

	/* Bounds: exactly enough room, and one byte less. */
	CHECK(keys_ws(KEYS_STATUS, "a", "b", buf, sizeof("/klangk/status/a/b")) == 0);
	CHECK(keys_ws(KEYS_STATUS, "a", "b", buf, sizeof("/klangk/status/a/b") - 1) ==
	      -ENAMETOOLONG);
	CHECK(keys_ws(KEYS_SPEC, "a", "b", NULL, 0) == -ENAMETOOLONG);

	/* Back again. */
	CHECK(keys_split(KEYS_SPEC, "/klangk/workspaces/alice/proj", ns, sizeof(ns), name,
			 sizeof(name)) == 0);
	CHECK(strcmp(ns, "alice") == 0 && strcmp(name, "proj") == 0);
	CHECK(keys_split(KEYS_OWNER, "bob/x1", ns, sizeof(ns), name, sizeof(name)) == 0);
	CHECK(strcmp(ns, "bob") == 0 && strcmp(name, "x1") == 0);
	CHECK(keys_split(KEYS_SPEC, "/klangk/status/alice/proj", ns, sizeof(ns), name,
			 sizeof(name)) == -EINVAL);
	CHECK(keys_split(KEYS_SPEC, "/klangk/workspaces/alice/a/b", ns, sizeof(ns), name,
			 sizeof(name)) == -EINVAL);
	CHECK(keys_split(KEYS_SPEC, "/klangk/workspaces/alice", ns, sizeof(ns), name,
			 sizeof(name)) == -EINVAL);
	CHECK(keys_split(KEYS_SPEC, "/klangk/workspaces/Alice/proj", ns, sizeof(ns), name,
			 sizeof(name)) == -EINVAL);
	CHECK(keys_split(KEYS_SPEC, "/klangk/workspaces/alice/proj", ns, 5, name,
			 sizeof(name)) == -EINVAL);
	CHECK(keys_split(KEYS_SPEC, "/klangk/workspaces/alice/proj", ns, sizeof(ns), name,
			 4) == -EINVAL);
	CHECK(keys_owner(KEYS_STATUS, "/klangk/status/a/b") &&
	      strcmp(keys_owner(KEYS_STATUS, "/klangk/status/a/b"), "a/b") == 0);
	CHECK(keys_owner(KEYS_STATUS, "/klangk/workspaces/a/b") == NULL);
	CHECK(keys_owner(KEYS_STATUS, NULL) == NULL);
}

static void test_other_keys(void)
{
	char buf[128], pfx[64];

	CHECK(keys_events_prefix("alice", "proj", buf, sizeof(buf)) == 0);
	CHECK(strcmp(buf, "/klangk/events/alice/proj/") == 0);
	CHECK(keys_event("alice", "proj", "ab12", buf, sizeof(buf)) == 0);
	CHECK(strcmp(buf, "/klangk/events/alice/proj/ab12") == 0);
	CHECK(keys_lease_prefix(NULL, pfx, sizeof(pfx)) == 0);
	CHECK(strcmp(pfx, "/klangk/leases/ports/") == 0);
	CHECK(keys_lease_prefix("n1", pfx, sizeof(pfx)) == 0);
	CHECK(strcmp(pfx, "/klangk/leases/ports/n1/") == 0);
	CHECK(keys_lease(pfx, 9000, buf, sizeof(buf)) == 0);
	CHECK(strcmp(buf, "/klangk/leases/ports/n1/9000") == 0);
	CHECK(keys_node("n1", buf, sizeof(buf)) == 0);
	CHECK(strcmp(buf, "/klangk/nodes/n1") == 0);
	CHECK(keys_node_name(buf) && strcmp(keys_node_name(buf), "n1") == 0);
	CHECK(keys_node_name("/klangk/leader/x") == NULL);
	CHECK(keys_retained("klangk_i_a_b_home", buf, sizeof(buf)) == 0);
	CHECK(strcmp(buf, "/klangk/retained/klangk_i_a_b_home") == 0);
	CHECK(keys_leader("i1", NULL, buf, sizeof(buf)) == 0);
	CHECK(strcmp(buf, "/klangk/leader/i1") == 0);
	CHECK(keys_leader("i1", "n1", buf, sizeof(buf)) == 0);
	CHECK(strcmp(buf, "/klangk/leader/i1/n1") == 0);
	CHECK(keys_leader("i1", "n1", buf, 10) == -ENAMETOOLONG);
	CHECK(keys_role("alice", buf, sizeof(buf)) == 0);
	CHECK(strcmp(buf, "klangk:user:alice") == 0);
	CHECK(keys_role_user(buf) && strcmp(keys_role_user(buf), "alice") == 0);
	CHECK(keys_role_user("root") == NULL);
}

int main(void)
{
	test_ws_keys();
	test_other_keys();
	return T_DONE("keys");
}
