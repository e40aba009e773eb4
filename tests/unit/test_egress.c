/* Unit tests for the egress table's script (egress.h) and the tenant
 * bridges' names (tnet.h): the script replaces the table whole in one
 * transaction, drops new input from the instance's bridges, drops forwarding
 * between one of the instance's bridges and any other tenant bridge but
 * not within one, leaves the bridges of other instances (which the same
 * host may run) alone, and drops the link-local
 * range and the deny list by family; a bridge name is short enough for
 * Linux, carries the prefix the rules match, and is the same for the same
 * tenant and different for another. */
#include "egress.h"
#include "tnet.h"
#include "t.h"

#include <stdlib.h>

static char *render(const struct cfg_isolation *iso, const char *const *br, size_t n)
{
	struct buf b;

	buf_init(&b, 0);
	if (egress_render("inst1", iso, br, n, &b) < 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

static void test_render_default(void)
{
	struct cfg_isolation iso = { 0 };
	char *s = render(&iso, NULL, 0);

	CHECK(s != NULL);
	if (!s)
		return;
	/* Created, deleted and created again: one transaction that works
	 * whether the table was there or not. */
	CHECK(strncmp(s, "table inet klangk-inst1\ndelete table inet klangk-inst1\n"
			 "table inet klangk-inst1 {\n", 73) == 0);
	CHECK_CONTAINS(s, "hook input priority filter - 10;");
	CHECK_CONTAINS(s, "hook forward priority filter - 10;");
	CHECK_CONTAINS(s, "chain input {\n"
			  "\t\ttype filter hook input priority filter - 10; policy accept;\n"
			  "\t\tiifname @own ct state established,related accept\n"
			  "\t\tiifname @own counter drop\n");
	CHECK_CONTAINS(s, "iifname @own oifname \"kt*\" iifname . oifname != @same counter drop\n"
			  "\t\tiifname \"kt*\" oifname @own iifname . oifname != @same counter drop\n"
			  "\t\tiifname @own ip daddr @deny4 counter drop\n"
			  "\t\tiifname @own ip6 daddr @deny6 counter drop\n");
	/* No forward rule matches "kt*" at both ends: those would judge
	 * another instance's bridges, whose pairs only it knows. */
	CHECK(!CONTAINS(s, "iifname \"kt*\" oifname \"kt*\""));
	CHECK(!CONTAINS(s, "iifname \"kt*\" ip"));
	CHECK(!CONTAINS(s, "iifname \"kt*\" counter drop"));
	CHECK_CONTAINS(s, "elements = { 169.254.0.0/16 }");
	/* No bridge and no v6 entry: no (empty, invalid) element lists. */
	CHECK(!CONTAINS(s, "elements = {  }") && !CONTAINS(s, "elements = { }"));
	CHECK(!CONTAINS(strstr(s, "set deny6"), "elements"));
	free(s);
}

static void test_render_bridges_and_deny(void)
{
	struct cfg_isolation iso = { 0 };
	const char *br[] = { "kt0123456789ab", "ktba9876543210" };
	char *s;

	CHECK(cfg_parse_cidr("10.0.0.0/8", &iso.egress_deny[0]) == 0);
	CHECK(cfg_parse_cidr("fd00::/8", &iso.egress_deny[1]) == 0);
	CHECK(cfg_parse_cidr("192.0.2.7", &iso.egress_deny[2]) == 0);
	iso.n_egress_deny = 3;
	s = render(&iso, br, 2);
	CHECK(s != NULL);
	if (!s)
		return;
	CHECK_CONTAINS(s, "set own {\n\t\ttype ifname\n"
			  "\t\telements = { \"kt0123456789ab\", \"ktba9876543210\" }\n");
	CHECK_CONTAINS(s, "elements = { \"kt0123456789ab\" . \"kt0123456789ab\", "
			  "\"ktba9876543210\" . \"ktba9876543210\" }");
	CHECK_CONTAINS(s, "elements = { 169.254.0.0/16, 10.0.0.0/8, 192.0.2.7/32 }");
	CHECK_CONTAINS(s, "elements = { fd00::/8 }");
	free(s);
}

static void test_bridge_names(void)
{
	char a[TNET_BRIDGE_MAX], b[TNET_BRIDGE_MAX], c[TNET_BRIDGE_MAX];

	CHECK(tnet_bridge_name("inst1", "alice", a) == 0);
	CHECK(tnet_bridge_name("inst1", "alice", b) == 0);
	CHECK(tnet_bridge_name("inst1", "bob", c) == 0);
	CHECK(strlen(a) == 14 && strncmp(a, EGRESS_BRIDGE_PREFIX, 2) == 0);
	CHECK(strcmp(a, b) == 0);
	CHECK(strcmp(a, c) != 0);
	CHECK(tnet_bridge_name("inst2", "alice", b) == 0 && strcmp(a, b) != 0);
	/* SHA-256("inst1/alice"), so tests/bed.sh can name it too. */
	CHECK(strcmp(a, "kt049e4d3d3d90") == 0);
}

int main(void)
{
	test_render_default();
	test_render_bridges_and_deny();
	test_bridge_names();
	return T_DONE("egress");
}
