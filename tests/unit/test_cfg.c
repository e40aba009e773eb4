/* Unit tests for cfg's workspace isolation settings: defaults, caps,
 * capability list, user namespaces, /tmp size, egress deny list, and the
 * resolution of a spec's resources against them. */
#include "cfg.h"
#include "t.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *const vars[] = {
	"KLANGK_DEFAULT_CPU", "KLANGK_DEFAULT_MEMORY", "KLANGK_DEFAULT_PIDS",
	"KLANGK_MAX_CPU", "KLANGK_MAX_MEMORY", "KLANGK_MAX_PIDS", "KLANGK_CAP_DROP",
	"KLANGK_USERNS", "KLANGK_TMP_SIZE", "KLANGK_EGRESS_DENY", "KLANGK_EGRESS_FIREWALL",
	"KLANGK_HOSTING_DOMAIN", "KLANGK_RESTART_BACKOFF_BASE", "KLANGK_RESTART_BACKOFF_MAX",
	"KLANGK_PUBLISH", NULL,
};

static void clear_env(void)
{
	for (size_t i = 0; vars[i]; i++)
		unsetenv(vars[i]);
}

/* cfg_from_env then cfg_check, with NAME=VALUE set (NULL: nothing). */
static int load(struct cfg *c, const char *name, const char *value, struct err *e)
{
	int r;

	clear_env();
	if (name)
		setenv(name, value, 1);
	err_clear(e);
	r = cfg_from_env(c, e);
	if (r == 0)
		r = cfg_check(c, e);
	return r;
}

static void refused(const char *name, const char *value, const char *msg)
{
	struct cfg c;
	struct err e;

	CHECK(load(&c, name, value, &e) == -EINVAL);
	CHECK_CONTAINS(e.msg, msg);
}

static bool dropped(const struct cfg *c, const char *cap)
{
	for (size_t i = 0; i < c->iso.n_cap_drop; i++)
		if (strcmp(c->iso.cap_drop[i], cap) == 0)
			return true;
	return false;
}

static void test_defaults(void)
{
	struct cfg c;
	struct err e;

	CHECK(load(&c, NULL, NULL, &e) == 0);
	/* Protective, not unlimited: 2 CPUs, 8 GiB, 16384 pids; no caps. */
	CHECK(c.iso.default_cpu == 2000000000);
	CHECK(c.iso.default_memory == 8589934592LL);
	CHECK(c.iso.default_pids == 16384);
	CHECK(c.iso.max_cpu == 0 && c.iso.max_memory == 0 && c.iso.max_pids == 0);
	CHECK(c.iso.n_cap_drop == 5 && dropped(&c, "NET_RAW") && dropped(&c, "MKNOD") &&
	      dropped(&c, "AUDIT_WRITE") && dropped(&c, "SYS_CHROOT") &&
	      dropped(&c, "SETFCAP"));
	CHECK(!c.iso.userns_auto);
	CHECK(c.iso.tmp_size == 1073741824LL);
	CHECK(c.iso.n_egress_deny == 0);
}

static void test_settings(void)
{
	struct cfg c;
	struct err e;

	CHECK(load(&c, "KLANGK_DEFAULT_CPU", "500m", &e) == 0 &&
	      c.iso.default_cpu == 500000000);
	CHECK(load(&c, "KLANGK_DEFAULT_MEMORY", "512Mi", &e) == 0 &&
	      c.iso.default_memory == 536870912);
	CHECK(load(&c, "KLANGK_MAX_MEMORY", "64Gi", &e) == 0 &&
	      c.iso.max_memory == 68719476736LL);
	CHECK(load(&c, "KLANGK_MAX_PIDS", "65536", &e) == 0 && c.iso.max_pids == 65536);
	CHECK(load(&c, "KLANGK_USERNS", "auto", &e) == 0 && c.iso.userns_auto);
	CHECK(load(&c, "KLANGK_TMP_SIZE", "256Mi", &e) == 0 &&
	      c.iso.tmp_size == 268435456);

	/* The drop list is the operator's: fewer, more, all, none. */
	CHECK(load(&c, "KLANGK_CAP_DROP", "NET_RAW, CAP_MKNOD,NET_RAW", &e) == 0);
	CHECK(c.iso.n_cap_drop == 2 && dropped(&c, "NET_RAW") && dropped(&c, "MKNOD"));
	CHECK(load(&c, "KLANGK_CAP_DROP", "ALL", &e) == 0 && c.iso.n_cap_drop == 1 &&
	      dropped(&c, "ALL"));
	CHECK(load(&c, "KLANGK_CAP_DROP", "none", &e) == 0 && c.iso.n_cap_drop == 0);

	CHECK(load(&c, "KLANGK_EGRESS_DENY", "10.0.0.0/8, 192.168.1.7,fd00::/8", &e) == 0);
	CHECK(c.iso.n_egress_deny == 3);
	CHECK(strcmp(c.iso.egress_deny[0].text, "10.0.0.0/8") == 0 &&
	      c.iso.egress_deny[0].family == AF_INET);
	CHECK(strcmp(c.iso.egress_deny[1].text, "192.168.1.7/32") == 0);
	CHECK(strcmp(c.iso.egress_deny[2].text, "fd00::/8") == 0 &&
	      c.iso.egress_deny[2].family == AF_INET6);
	/* The firewall is on unless turned off. */
	CHECK(c.iso.egress_firewall);
	CHECK(load(&c, "KLANGK_EGRESS_FIREWALL", "off", &e) == 0 && !c.iso.egress_firewall);
	CHECK(load(&c, "KLANGK_EGRESS_FIREWALL", "nft", &e) == 0 && c.iso.egress_firewall);

	refused("KLANGK_DEFAULT_CPU", "two", "KLANGK_DEFAULT_CPU=two: must be a positive quantity");
	refused("KLANGK_DEFAULT_CPU", "0", "KLANGK_DEFAULT_CPU=0: must be a positive quantity");
	refused("KLANGK_DEFAULT_CPU", "1m", "KLANGK_DEFAULT_CPU=1m: must be at least 10m");
	refused("KLANGK_DEFAULT_MEMORY", "1Mi", "KLANGK_DEFAULT_MEMORY=1Mi: must be at least 6Mi");
	refused("KLANGK_DEFAULT_MEMORY", "8GB", "KLANGK_DEFAULT_MEMORY=8GB: must be a positive");
	refused("KLANGK_DEFAULT_PIDS", "0", "KLANGK_DEFAULT_PIDS=0: must be an integer from 1");
	refused("KLANGK_MAX_CPU", "1", "KLANGK_DEFAULT_CPU=2 is over KLANGK_MAX_CPU=1");
	refused("KLANGK_MAX_MEMORY", "4Gi", "KLANGK_DEFAULT_MEMORY=8Gi is over KLANGK_MAX_MEMORY=4Gi");
	refused("KLANGK_MAX_PIDS", "1000", "KLANGK_DEFAULT_PIDS=16384 is over KLANGK_MAX_PIDS=1000");
	refused("KLANGK_MAX_CPU", "-4", "KLANGK_MAX_CPU=-4: must be a positive quantity");
	refused("KLANGK_CAP_DROP", "NET_RAWX", "KLANGK_CAP_DROP=NET_RAWX: must be");
	refused("KLANGK_CAP_DROP", "net_raw", "KLANGK_CAP_DROP=net_raw: must be");
	refused("KLANGK_CAP_DROP", "NET_RAW,,MKNOD", "KLANGK_CAP_DROP=NET_RAW,,MKNOD");
	refused("KLANGK_USERNS", "on", "KLANGK_USERNS=on: must be off or auto");
	refused("KLANGK_TMP_SIZE", "1k", "KLANGK_TMP_SIZE=1k: must be at least 1Mi");
	refused("KLANGK_EGRESS_DENY", "10.0.0.1/8", "KLANGK_EGRESS_DENY=10.0.0.1/8: must be");
	refused("KLANGK_EGRESS_DENY", "10.0.0.0/33", "must be a comma-separated list");
	refused("KLANGK_EGRESS_DENY", "10.0.0.0/+8", "must be a comma-separated list");
	refused("KLANGK_EGRESS_DENY", "example.com", "must be a comma-separated list");
	refused("KLANGK_EGRESS_DENY", "10.0.0.0/8,", "must be a comma-separated list");

	/* Origin mode's domain (lib/hosting.h); unset is path mode. */
	CHECK(load(&c, NULL, NULL, &e) == 0 && c.hosting_domain[0] == '\0');
	CHECK(load(&c, "KLANGK_HOSTING_DOMAIN", "apps.localhost:8995", &e) == 0 &&
	      strcmp(c.hosting_domain, "apps.localhost:8995") == 0);
	refused("KLANGK_HOSTING_DOMAIN", "Apps.example.com", "hosting domain \"Apps.example.com\"");
	refused("KLANGK_HOSTING_DOMAIN", "localhost", "two or more labels");
	refused("KLANGK_HOSTING_DOMAIN", "apps.example.com/x", "hosting domain");
	refused("KLANGK_EGRESS_FIREWALL", "iptables", "KLANGK_EGRESS_FIREWALL=iptables: must be nft or off");
	clear_env();
}

/* KLANGK_PUBLISH: host by default, none, nothing else; and from a
 * configuration file as from the environment. */
static void test_publish(void)
{
	char path[] = "/tmp/klangk-cfg-publish-XXXXXX";
	struct cfg c;
	struct err e;
	int fd;

	CHECK(load(&c, NULL, NULL, &e) == 0 && !c.publish_none &&
	      strcmp(c.publish, "host") == 0);
	CHECK(load(&c, "KLANGK_PUBLISH", "host", &e) == 0 && !c.publish_none);
	CHECK(load(&c, "KLANGK_PUBLISH", "none", &e) == 0 && c.publish_none);
	refused("KLANGK_PUBLISH", "None", "KLANGK_PUBLISH=None: must be host");
	refused("KLANGK_PUBLISH", "off", "or none");
	fd = mkstemp(path);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(write(fd, "KLANGK_PUBLISH=none\n", 20) == 20);
	close(fd);
	CHECK(load(&c, NULL, NULL, &e) == 0 && !c.publish_none);
	CHECK(cfg_load_file(&c, path, &e) == 0 && c.publish_none);
	unlink(path);
}

static void test_cidr(void)
{
	struct cfg_cidr c;

	CHECK(cfg_parse_cidr("169.254.0.0/16", &c) == 0 && c.prefix == 16 &&
	      c.addr[0] == 169 && c.addr[1] == 254);
	CHECK(cfg_parse_cidr("0.0.0.0/0", &c) == 0 && c.prefix == 0);
	CHECK(cfg_parse_cidr("::1", &c) == 0 && c.prefix == 128 &&
	      strcmp(c.text, "::1/128") == 0);
	CHECK(cfg_parse_cidr("FD00:0::/8", &c) == 0 && strcmp(c.text, "fd00::/8") == 0);
	CHECK(cfg_parse_cidr("169.255.0.0/15", &c) == -EINVAL);
	CHECK(cfg_parse_cidr("/8", &c) == -EINVAL);
	CHECK(cfg_parse_cidr("10.0.0.0/", &c) == -EINVAL);
	CHECK(cfg_parse_cidr("10.0.0/8", &c) == -EINVAL);
	CHECK(cfg_parse_cidr("fd00::/129", &c) == -EINVAL);
}

/* A configuration file names the same settings. */
static void test_file(void)
{
	char path[] = "/tmp/klangk-test-cfg.XXXXXX";
	int fd = mkstemp(path);
	struct cfg c;
	struct err e;
	FILE *f;

	CHECK(fd >= 0);
	CHECK(load(&c, NULL, NULL, &e) == 0);
	f = fdopen(fd, "w");
	fputs("KLANGK_MAX_CPU=4\nKLANGK_DEFAULT_PIDS=1024\nKLANGK_EGRESS_DENY=10.0.0.0/8\n", f);
	fclose(f);
	CHECK(cfg_load_file(&c, path, &e) == 0);
	CHECK(c.iso.max_cpu == 4000000000LL && c.iso.default_pids == 1024 &&
	      c.iso.n_egress_deny == 1);
	f = fopen(path, "w");
	fputs("KLANGK_MAX_CPU=1\n", f);
	fclose(f);
	CHECK(cfg_load_file(&c, path, &e) == -EINVAL);
	CHECK_CONTAINS(e.msg, "KLANGK_DEFAULT_CPU=2 is over KLANGK_MAX_CPU=1");
	/* Refused: c is unchanged. */
	CHECK(c.iso.max_cpu == 4000000000LL);
	unlink(path);
}

static struct ws_resources spec(int64_t cpu, const char *ct, int64_t mem,
				const char *mt, long long pids)
{
	struct ws_resources r = { .cpu.value = cpu, .memory.value = mem, .pids = pids };

	snprintf(r.cpu.text, sizeof(r.cpu.text), "%s", ct);
	snprintf(r.memory.text, sizeof(r.memory.text), "%s", mt);
	return r;
}

static void test_resolve(void)
{
	struct engine_resources r = { 0 };
	struct ws_resources s;
	struct cfg c;
	struct err e;

	CHECK(load(&c, NULL, NULL, &e) == 0);
	/* Unset: the defaults; no swap beyond the memory. */
	s = spec(0, "", 0, "", 0);
	CHECK(cfg_resolve_resources(&c, &s, &r, &e) == 0);
	CHECK(r.nano_cpus == 2000000000 && r.memory == 8589934592LL &&
	      r.memory_swap == r.memory && r.pids_limit == 16384);
	/* Set: the spec's, even over the default when there is no cap. */
	s = spec(16000000000LL, "16", 68719476736LL, "64Gi", 100);
	CHECK(cfg_resolve_resources(&c, &s, &r, &e) == 0);
	CHECK(r.nano_cpus == 16000000000LL && r.memory == 68719476736LL &&
	      r.memory_swap == 68719476736LL && r.pids_limit == 100);

	/* Caps: each field over its cap named, out untouched. */
	clear_env();
	setenv("KLANGK_MAX_CPU", "4", 1);
	setenv("KLANGK_MAX_MEMORY", "16Gi", 1);
	setenv("KLANGK_MAX_PIDS", "20000", 1);
	CHECK(cfg_from_env(&c, &e) == 0 && cfg_check(&c, &e) == 0);
	r.nano_cpus = 7;
	s = spec(8000000000LL, "8", 68719476736LL, "64Gi", 30000);
	CHECK(cfg_resolve_resources(&c, &s, &r, &e) == -EINVAL);
	CHECK_CONTAINS(e.msg, "spec.resources.cpu: 8 is over the cap 4 (KLANGK_MAX_CPU)");
	CHECK_CONTAINS(e.msg, "spec.resources.memory: 64Gi is over the cap 16Gi (KLANGK_MAX_MEMORY)");
	CHECK_CONTAINS(e.msg, "spec.resources.pids: 30000 is over the cap 20000 (KLANGK_MAX_PIDS)");
	CHECK(r.nano_cpus == 7);
	/* At the cap is fine; a size past int64 (INT64_MAX) is over it. */
	s = spec(4000000000LL, "4", 17179869184LL, "16Gi", 20000);
	CHECK(cfg_resolve_resources(&c, &s, &r, &e) == 0 && r.memory == 17179869184LL);
	s = spec(0, "", INT64_MAX, "1e100", 0);
	CHECK(cfg_resolve_resources(&c, &s, &r, &e) == -EINVAL);
	CHECK_CONTAINS(e.msg, "spec.resources.memory: 1e100 is over the cap 16Gi");
	/* Under what the engines accept. */
	s = spec(1000000, "1m", 1048576, "1Mi", 0);
	CHECK(cfg_resolve_resources(&c, &s, &r, &e) == -EINVAL);
	CHECK_CONTAINS(e.msg, "spec.resources.cpu: 1m is under 10m, the least the engines accept");
	CHECK_CONTAINS(e.msg, "spec.resources.memory: 1Mi is under 6Mi");
	clear_env();
}

/* The crash restart back-off: 10 s to 300 s, reset after 600 s; a base
 * over the cap is refused; 0 is no back-off, refused too. */
static void test_restart_backoff(void)
{
	struct cfg c;
	struct err e;

	CHECK(load(&c, NULL, NULL, &e) == 0 && c.restart_backoff_base == 10 &&
	      c.restart_backoff_max == 300 && c.restart_backoff_reset == 600);
	CHECK(load(&c, "KLANGK_RESTART_BACKOFF_BASE", "2", &e) == 0 &&
	      c.restart_backoff_base == 2);
	refused("KLANGK_RESTART_BACKOFF_BASE", "0", "KLANGK_RESTART_BACKOFF_BASE");
	refused("KLANGK_RESTART_BACKOFF_BASE", "301",
		"KLANGK_RESTART_BACKOFF_BASE=301 is over KLANGK_RESTART_BACKOFF_MAX=300");
	unsetenv("KLANGK_RESTART_BACKOFF_BASE");
}

int main(void)
{
	test_defaults();
	test_settings();
	test_publish();
	test_cidr();
	test_file();
	test_resolve();
	test_restart_backoff();
	return T_DONE("cfg");
}
