/*
 * klangkc share / unshare / members — the workspace's members
 * (spec.members: user and role), changed with a read-modify-write that
 * compares mod_revision (cli_update).  Roles: owner, collaborator, coder
 * (the default), spectator.  Sharing with an existing member changes the
 * role; unsharing someone who is not a member says so (exit 4).
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const roles[] = { "owner", "collaborator", "coder", "spectator", NULL };

struct share_req {
	const char *user;
	const char *role;      /* NULL: unshare */
	char old_role[40];     /* out: the role before, "" if not a member */
};

static int mutate(json_t *obj, void *ud, struct err *e)
{
	struct share_req *q = ud;
	json_t *spec = json_object_get(obj, "spec"), *members, *m;
	size_t i;

	q->old_role[0] = '\0';
	if (!json_is_object(spec)) {
		spec = json_object();
		if (!spec || json_object_set_new(obj, "spec", spec) < 0)
			return -ENOMEM;
	}
	members = json_object_get(spec, "members");
	if (!json_is_array(members)) {
		members = json_array();
		if (!members || json_object_set_new(spec, "members", members) < 0)
			return -ENOMEM;
	}
	json_array_foreach(members, i, m) {
		if (strcmp(cli_jstr(m, "user", ""), q->user) != 0)
			continue;
		snprintf(q->old_role, sizeof(q->old_role), "%s", cli_jstr(m, "role", "coder"));
		if (!q->role) {
			json_array_remove(members, i);
			if (json_array_size(members) == 0)
				json_object_del(spec, "members");
			return 0;
		}
		if (strcmp(q->old_role, q->role) == 0)
			return 1;
		return json_object_set_new(m, "role", json_string(q->role)) < 0 ? -ENOMEM : 0;
	}
	if (!q->role) {
		err_set(e, "%s is not a member of this workspace", q->user);
		return -ENOENT;
	}
	return json_array_append_new(members, json_pack("{s:s,s:s}", "user", q->user,
							 "role", q->role)) < 0 ? -ENOMEM : 0;
}

const struct cliopt cli_opts_share[] = {
	CLIOPT_NAMESPACE,
	{ "role", 0, 'r', "ROLE", "owner collaborator coder spectator",
	  "owner, collaborator, coder (default) or spectator;\n"
	  "sharing again changes the role" },
	CLIOPT_HELP,
	CLIOPT_END,
};

const struct cliopt cli_opts_unshare[] = {
	CLIOPT_NAMESPACE,
	CLIOPT_HELP,
	CLIOPT_END,
};

static int share_verb(const char *verb, bool add, int argc, char **argv)
{
	struct cliopt_parser p = { .opts = add ? cli_opts_share : cli_opts_unshare };
	struct share_req q = { .role = add ? "coder" : NULL };
	const char *ns_flag = NULL, *ns;
	struct etcd *c = NULL;
	struct err e = { "" };
	bool changed = false, role_ok = false;
	int opt, r;

	while ((opt = cliopt_next(&p, argc, argv)) != -1) {
		switch (opt) {
		case 'n':
			ns_flag = optarg;
			break;
		case 'r':
			q.role = optarg;
			break;
		case 'h':
			cli_usage(verb, false);
			return EXIT_OK;
		default:
			cli_usage(verb, true);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "error: %s needs NAME and USER\n", verb);
		cli_usage(verb, true);
		return EXIT_USAGE;
	}
	ns = cli_namespace(ns_flag);
	if (!cli_check_ns(ns) || !cli_check_name(argv[optind]))
		return EXIT_USAGE;
	q.user = argv[optind + 1];
	for (const char *const *role = roles; add && *role; role++)
		role_ok |= strcmp(*role, q.role) == 0;
	if (add && !role_ok) {
		fprintf(stderr, "error: --role: must be one of owner, collaborator, coder, "
				"spectator\n");
		return EXIT_USAGE;
	}
	if (cli_etcd(&c) < 0)
		return EXIT_FAIL;
	/* The user name is checked by the validation of the result
	 * (spec.members[i].user), like any other write. */
	r = cli_update(c, ns, argv[optind], mutate, &q, &changed, &e);
	etcd_free(c);
	if (r < 0)
		return cli_fail(verb, r, &e);
	if (!add)
		printf("%s removed from workspace %s/%s (was %s)\n", q.user, ns,
		       argv[optind], q.old_role);
	else if (!changed)
		printf("%s is already %s of workspace %s/%s\n", q.user, q.role, ns,
		       argv[optind]);
	else if (q.old_role[0])
		printf("%s is now %s of workspace %s/%s (was %s)\n", q.user, q.role, ns,
		       argv[optind], q.old_role);
	else
		printf("%s added to workspace %s/%s as %s\n", q.user, ns, argv[optind],
		       q.role);
	return EXIT_OK;
}

int verb_share(int argc, char **argv)
{
	return share_verb("share", true, argc, argv);
}

int verb_unshare(int argc, char **argv)
{
	return share_verb("unshare", false, argc, argv);
}

const struct cliopt cli_opts_members[] = {
	CLIOPT_NAMESPACE,
	{ "output", 'o', 0, "FORMAT", "table json yaml", "table (default), json or yaml" },
	CLIOPT_HELP,
	CLIOPT_END,
};

int verb_members(int argc, char **argv)
{
	struct cliopt_parser p = { .opts = cli_opts_members };
	const char *ns_flag = NULL, *ns;
	enum cli_fmt fmt = FMT_TABLE;
	struct etcd *c = NULL;
	struct err e = { "" };
	struct table *t = NULL;
	json_t *o = NULL, *members, *m;
	size_t i;
	int opt, r;

	while ((opt = cliopt_next(&p, argc, argv)) != -1) {
		switch (opt) {
		case 'n':
			ns_flag = optarg;
			break;
		case 'o':
			if (cli_parse_fmt(optarg, &fmt) < 0)
				return EXIT_USAGE;
			break;
		case 'h':
			cli_usage("members", false);
			return EXIT_OK;
		default:
			cli_usage("members", true);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "error: members needs NAME\n");
		return EXIT_USAGE;
	}
	ns = cli_namespace(ns_flag);
	if (!cli_check_ns(ns) || !cli_check_name(argv[optind]))
		return EXIT_USAGE;
	if (cli_etcd(&c) < 0)
		return EXIT_FAIL;
	r = cli_get_object(c, ns, argv[optind], &o, &e);
	etcd_free(c);
	if (r < 0)
		return cli_fail(NULL, r, &e);
	members = json_object_get(json_object_get(o, "spec"), "members");
	if (fmt == FMT_JSON || fmt == FMT_YAML) {
		json_t *list = json_is_array(members) ? json_incref(members) : json_array();

		r = cli_print_value(list, fmt == FMT_JSON);
		json_decref(list);
		json_decref(o);
		return r;
	}
	/* The namespace is the owner's handle: always an owner. */
	r = table_new(2, "", &t);
	if (r == 0)
		r = table_add(t, 2, "USER", "ROLE");
	if (r == 0)
		r = table_add(t, 2, ns, "owner (namespace)");
	json_array_foreach(members, i, m)
		if (r == 0)
			r = table_add(t, 2, cli_jstr(m, "user", "-"), cli_jstr(m, "role", "coder"));
	if (r == 0)
		table_flush(t, stdout);
	table_free(t);
	json_decref(o);
	return r == 0 ? EXIT_OK : cli_fail(NULL, r, NULL);
}
