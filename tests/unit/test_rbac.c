/* Unit tests for rbac_plan: which etcd permissions each user should hold. */
#include "rbac.h"
#include "t.h"

#include <stdlib.h>

static struct ws *load(const char *ns, const char *name, const char *members)
{
	char doc[1024];
	struct ws *w = NULL;
	struct err e;

	snprintf(doc, sizeof(doc),
		 "{\"apiVersion\":\"klangk.io/v1alpha1\",\"kind\":\"Workspace\","
		 "\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\"},"
		 "\"spec\":{\"members\":%s}}", name, ns, members);
	CHECK(ws_load(doc, strlen(doc), ns, name, &w, NULL, &e) == 0);
	return w;
}

/* Does p hold exactly (key, end, type)? */
static bool has(const struct rbac_perms *p, const char *key, const char *end,
		enum rbac_perm_type type)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->v[i].key, key) == 0 && strcmp(p->v[i].range_end, end) == 0)
			return p->v[i].type == type;
	return false;
}

int main(void)
{
	struct ws *w[3];
	struct rbac_ws ws[3];
	struct rbac_perms p;
	struct err e;
	struct ws *bad = NULL;

	w[0] = load("alice", "proj", "[{\"user\":\"bob\",\"role\":\"owner\"},"
				     "{\"user\":\"carol\"},"
				     "{\"user\":\"dan@example.com\",\"role\":\"spectator\"},"
				     "{\"user\":\"alice\",\"role\":\"owner\"}]");
	w[1] = load("alice", "solo", "[]");
	w[2] = load("bob", "mine", "[{\"user\":\"carol\",\"role\":\"owner\"}]");
	for (int i = 0; i < 3; i++)
		ws[i] = (struct rbac_ws){ .ns = i == 2 ? "bob" : "alice",
					  .name = i == 0 ? "proj" : i == 1 ? "solo" : "mine",
					  .w = w[i] };

	/* alice: her namespace (write) and its status (read); being listed in
	 * her own workspace adds nothing. */
	CHECK(rbac_plan("alice", ws, 3, &p) == 0);
	CHECK(p.n == 3);
	CHECK(has(&p, "/klangk/activity/alice/", "/klangk/activity/alice0", RBAC_READWRITE));
	CHECK(has(&p, "/klangk/workspaces/alice/", "/klangk/workspaces/alice0", RBAC_READWRITE));
	CHECK(has(&p, "/klangk/status/alice/", "/klangk/status/alice0", RBAC_READ));
	rbac_perms_clear(&p);

	/* bob: his namespace, and write on alice/proj as its owner member. */
	CHECK(rbac_plan("bob", ws, 3, &p) == 0);
	CHECK(p.n == 6);
	CHECK(has(&p, "/klangk/activity/alice/proj", "", RBAC_READWRITE));
	CHECK(has(&p, "/klangk/workspaces/bob/", "/klangk/workspaces/bob0", RBAC_READWRITE));
	CHECK(has(&p, "/klangk/workspaces/alice/proj", "", RBAC_READWRITE));
	CHECK(has(&p, "/klangk/status/alice/proj", "", RBAC_READ));
	CHECK(!has(&p, "/klangk/workspaces/alice/solo", "", RBAC_READ));
	/* Sorted by key. */
	for (size_t i = 1; i < p.n; i++)
		CHECK(strcmp(p.v[i - 1].key, p.v[i].key) <= 0);
	rbac_perms_clear(&p);

	/* carol: read on alice/proj (coder), write on bob/mine (owner). */
	CHECK(rbac_plan("carol", ws, 3, &p) == 0);
	CHECK(p.n == 9);
	CHECK(has(&p, "/klangk/activity/alice/proj", "", RBAC_READWRITE));
	CHECK(has(&p, "/klangk/activity/bob/mine", "", RBAC_READWRITE));
	CHECK(has(&p, "/klangk/workspaces/alice/proj", "", RBAC_READ));
	CHECK(has(&p, "/klangk/workspaces/bob/mine", "", RBAC_READWRITE));
	CHECK(has(&p, "/klangk/status/bob/mine", "", RBAC_READ));
	rbac_perms_clear(&p);

	/* An e-mail address is no namespace: only what is shared with it. */
	/* A spectator records no activity. */
	CHECK(rbac_plan("dan@example.com", ws, 3, &p) == 0);
	CHECK(p.n == 2);
	CHECK(has(&p, "/klangk/workspaces/alice/proj", "", RBAC_READ));
	CHECK(has(&p, "/klangk/status/alice/proj", "", RBAC_READ));
	rbac_perms_clear(&p);

	/* A stranger: their (empty) namespace only. */
	CHECK(rbac_plan("zoe", ws, 3, &p) == 0);
	CHECK(p.n == 3);
	rbac_perms_clear(&p);
	CHECK(rbac_plan("zoe", NULL, 0, &p) == 0);
	CHECK(p.n == 3);
	rbac_perms_clear(&p);
	rbac_perms_clear(NULL);

	/* ws_load: a stored object whose name does not match its key. */
	{
		const char *doc = "{\"apiVersion\":\"klangk.io/v1alpha1\",\"kind\":"
				  "\"Workspace\",\"metadata\":{\"name\":\"x\"}}";

		CHECK(ws_load(doc, strlen(doc), "alice", "y", &bad, NULL, &e) == -EINVAL);
	}
	CHECK_CONTAINS(e.msg, "do not match the key");
	CHECK(ws_load("a: [", 4, "alice", "y", &bad, NULL, &e) == -EINVAL);
	CHECK_CONTAINS(e.msg, "not valid YAML");
	CHECK(bad == NULL);

	for (int i = 0; i < 3; i++)
		ws_free(w[i]);
	return T_DONE("rbac");
}
