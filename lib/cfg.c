/* cfg — environment settings and their validation (see cfg.h). */
#include "cfg.h"

#include "etcd.h"
#include "engine.h"
#include "hosting.h"
#include "ws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int cfg_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int cfg_copy(char *dst, size_t n, const char *s)
{
	size_t len = strlen(s);

	if (len >= n)
		return -ENAMETOOLONG;
	memcpy(dst, s, len + 1);
	return 0;
}

/* "" or "/seg[/seg...]" with URL-safe characters and no trailing slash. */
bool cfg_is_base_path(const char *s)
{
	if (*s == '\0')
		return true;
	if (s[0] != '/' || s[strlen(s) - 1] == '/')
		return false;
	for (const char *p = s; *p; p++) {
		char c = *p;

		if (c == '/' && p[1] == '/')
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || strchr("/-._~", c)))
			return false;
		if (c == '.' && (p[-1] == '/') && (p[1] == '/' || p[1] == '\0' ||
						   (p[1] == '.' && (p[2] == '/' || p[2] == '\0'))))
			return false;
	}
	return true;
}

/* host[:port] with a DNS-ish or IPv4 host. */
bool cfg_is_hostname(const char *s)
{
	const char *colon = strchr(s, ':');
	size_t hl = colon ? (size_t)(colon - s) : strlen(s);
	long port;

	if (hl == 0 || hl > 253)
		return false;
	for (size_t i = 0; i < hl; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return false;
	}
	if (colon && cfg_parse_long(colon + 1, 1, 65535, &port) < 0)
		return false;
	return true;
}

/* Where each setting lives, for the file loader. */
enum kind { STR, LONG };

struct field {
	const char *name;
	enum kind kind;
	size_t off;
	size_t size;      /* STR: buffer size */
	long min, max;    /* LONG */
};

#define S(n, m) { n, STR, offsetof(struct cfg, m), sizeof(((struct cfg *)0)->m), 0, 0 }
#define L(n, m, lo, hi) { n, LONG, offsetof(struct cfg, m), 0, lo, hi }
static const struct field fields[] = {
	S("KLANGK_ETCD_ENDPOINTS", etcd_endpoints),
	S("DOCKER_HOST", docker_host),
	S("KLANGK_INSTANCE_ID", instance_id),
	L("KLANGK_PORT_RANGE_START", port_range_start, 1024, 65535),
	L("KLANGK_PORT_RANGE_END", port_range_end, 0, 65535),
	L("KLANGK_NGINX_PORT", nginx_port, 1, 65535),
	S("KLANGK_HOSTING_HOSTNAME", hosting_hostname),
	S("KLANGK_HOSTING_PROTO", hosting_proto),
	S("KLANGK_HOSTING_BASE_PATH", hosting_base_path),
	S("KLANGK_HOSTING_DOMAIN", hosting_domain),
	S("KLANGK_GATEWAY_ADDRESS", gateway_address),
	S("KLANGK_GATEWAY_ORIGIN", gateway_origin),
	S("KLANGK_PUBLISH_ADDRESS", publish_address),
	S("KLANGK_PUBLISH", publish),
	L("KLANGK_IDLE_TIMEOUT_SECONDS", idle_timeout, 0, 31536000),
	S("KLANGK_DATA_DIR", data_dir),
	S("KLANGK_ALLOWED_MOUNT_ROOTS", allowed_mount_roots),
	S("KLANGK_PROTECTED_PATHS", protected_paths),
	S("KLANGK_NODE_NAME", node_name),
	L("KLANGK_NODE_CAPACITY", node_capacity, 0, 1000000),
	L("KLANGK_RESTART_BACKOFF_BASE", restart_backoff_base, 1, 86400),
	L("KLANGK_RESTART_BACKOFF_MAX", restart_backoff_max, 1, 86400),
	L("KLANGK_RESTART_BACKOFF_RESET", restart_backoff_reset, 1, 86400),
	S("KLANGK_DEFAULT_CPU", default_cpu),
	S("KLANGK_DEFAULT_MEMORY", default_memory),
	L("KLANGK_DEFAULT_PIDS", default_pids, 1, WS_MAX_PIDS),
	S("KLANGK_MAX_CPU", max_cpu),
	S("KLANGK_MAX_MEMORY", max_memory),
	L("KLANGK_MAX_PIDS", max_pids, 0, WS_MAX_PIDS),
	S("KLANGK_CAP_DROP", cap_drop),
	S("KLANGK_USERNS", userns),
	S("KLANGK_TMP_SIZE", tmp_size),
	S("KLANGK_EGRESS_DENY", egress_deny),
	S("KLANGK_EGRESS_FIREWALL", egress_firewall),
};
#undef S
#undef L

int cfg_load_file(struct cfg *c, const char *path, struct err *e)
{
	struct cfg next = *c;
	char line[8192];
	int lineno = 0, r = 0;
	FILE *f = fopen(path, "re");

	if (!f) {
		err_set(e, "%s: %s", path, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *eq, *val;
		const struct field *fd = NULL;
		size_t len = strlen(line);

		lineno++;
		if (len && line[len - 1] != '\n' && !feof(f)) {
			err_set(e, "%s:%d: line too long", path, lineno);
			r = -EINVAL;
			goto out;
		}
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '#')
			continue;
		eq = strchr(p, '=');
		if (!eq) {
			err_set(e, "%s:%d: expected NAME=value", path, lineno);
			r = -EINVAL;
			goto out;
		}
		*eq = '\0';
		val = eq + 1;
		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
			if (strcmp(fields[i].name, p) == 0)
				fd = &fields[i];
		if (!fd) {
			err_set(e, "%s:%d: unknown setting %s", path, lineno, p);
			r = -EINVAL;
			goto out;
		}
		if (fd->kind == LONG) {
			if (cfg_parse_long(val, fd->min, fd->max,
					   (long *)((char *)&next + fd->off)) < 0) {
				err_set(e, "%s:%d: %s=%s: must be an integer from %ld to %ld",
					path, lineno, p, val, fd->min, fd->max);
				r = -EINVAL;
				goto out;
			}
		} else if (cfg_copy((char *)&next + fd->off, fd->size, val) < 0) {
			err_set(e, "%s:%d: %s: longer than %zu characters", path, lineno,
				p, fd->size - 1);
			r = -EINVAL;
			goto out;
		}
	}
	r = cfg_check(&next, e);
	if (r < 0) {
		err_prefix(e, "%s", path);
		goto out;
	}
	*c = next;
out:
	fclose(f);
	return r;
}

static int env_long(const char *name, long min, long max, long dflt, long *out,
		    struct err *e)
{
	const char *v = getenv(name);

	if (!v || !*v) {
		*out = dflt;
		return 0;
	}
	if (cfg_parse_long(v, min, max, out) < 0) {
		err_set(e, "%s=%s: must be an integer from %ld to %ld", name, v,
			min, max);
		return -EINVAL;
	}
	return 0;
}

static int env_str(const char *name, const char *dflt, char *dst, size_t n,
		   struct err *e)
{
	const char *v = getenv(name);

	if (!v)
		v = dflt;
	if (cfg_copy(dst, n, v) < 0) {
		err_set(e, "%s: longer than %zu characters", name, n - 1);
		return -EINVAL;
	}
	return 0;
}

/* The workspace isolation settings (docs/security.md); parsed by
 * cfg_check. */
static int isolation_from_env(struct cfg *c, struct err *e)
{
	int r;

	if ((r = env_str("KLANGK_DEFAULT_CPU", "2", c->default_cpu,
			 sizeof(c->default_cpu), e)) < 0 ||
	    (r = env_str("KLANGK_DEFAULT_MEMORY", "8Gi", c->default_memory,
			 sizeof(c->default_memory), e)) < 0 ||
	    (r = env_long("KLANGK_DEFAULT_PIDS", 1, WS_MAX_PIDS, 16384,
			  &c->default_pids, e)) < 0 ||
	    (r = env_str("KLANGK_MAX_CPU", "", c->max_cpu, sizeof(c->max_cpu),
			 e)) < 0 ||
	    (r = env_str("KLANGK_MAX_MEMORY", "", c->max_memory,
			 sizeof(c->max_memory), e)) < 0 ||
	    (r = env_long("KLANGK_MAX_PIDS", 0, WS_MAX_PIDS, 0, &c->max_pids,
			  e)) < 0 ||
	    (r = env_str("KLANGK_CAP_DROP", "", c->cap_drop, sizeof(c->cap_drop),
			 e)) < 0 ||
	    (r = env_str("KLANGK_USERNS", "off", c->userns, sizeof(c->userns),
			 e)) < 0 ||
	    (r = env_str("KLANGK_TMP_SIZE", "1Gi", c->tmp_size, sizeof(c->tmp_size),
			 e)) < 0 ||
	    (r = env_str("KLANGK_EGRESS_DENY", "", c->egress_deny,
			 sizeof(c->egress_deny), e)) < 0 ||
	    (r = env_str("KLANGK_EGRESS_FIREWALL", "nft", c->egress_firewall,
			 sizeof(c->egress_firewall), e)) < 0)
		return r;
	return 0;
}

/* The pacing of crash restarts (controller/crashloop.h). */
static int restart_from_env(struct cfg *c, struct err *e)
{
	int r;

	if ((r = env_long("KLANGK_RESTART_BACKOFF_BASE", 1, 86400, 10,
			  &c->restart_backoff_base, e)) < 0 ||
	    (r = env_long("KLANGK_RESTART_BACKOFF_MAX", 1, 86400, 300,
			  &c->restart_backoff_max, e)) < 0 ||
	    (r = env_long("KLANGK_RESTART_BACKOFF_RESET", 1, 86400, 600,
			  &c->restart_backoff_reset, e)) < 0)
		return r;
	return 0;
}

int cfg_from_env(struct cfg *c, struct err *e)
{
	int r;

	memset(c, 0, sizeof(*c));
	if ((r = env_str("KLANGK_ETCD_ENDPOINTS", etcd_default_endpoints(),
			 c->etcd_endpoints, sizeof(c->etcd_endpoints), e)) < 0 ||
	    (r = env_str("DOCKER_HOST", engine_default_host(), c->docker_host,
			 sizeof(c->docker_host), e)) < 0 ||
	    (r = env_str("KLANGK_INSTANCE_ID", "default", c->instance_id,
			 sizeof(c->instance_id), e)) < 0 ||
	    (r = env_long("KLANGK_PORT_RANGE_START", 1024, 65535, 9000,
			  &c->port_range_start, e)) < 0 ||
	    (r = env_long("KLANGK_PORT_RANGE_END", 0, 65535, 0,
			  &c->port_range_end, e)) < 0 ||
	    (r = env_long("KLANGK_NGINX_PORT", 1, 65535, 8995, &c->nginx_port,
			  e)) < 0 ||
	    (r = env_str("KLANGK_HOSTING_HOSTNAME", "", c->hosting_hostname,
			 sizeof(c->hosting_hostname), e)) < 0 ||
	    (r = env_str("KLANGK_HOSTING_PROTO", "http", c->hosting_proto,
			 sizeof(c->hosting_proto), e)) < 0 ||
	    (r = env_str("KLANGK_HOSTING_BASE_PATH", "", c->hosting_base_path,
			 sizeof(c->hosting_base_path), e)) < 0 ||
	    (r = env_str("KLANGK_HOSTING_DOMAIN", "", c->hosting_domain,
			 sizeof(c->hosting_domain), e)) < 0 ||
	    (r = env_str("KLANGK_GATEWAY_ADDRESS", "127.0.0.1:8990", c->gateway_address,
			 sizeof(c->gateway_address), e)) < 0 ||
	    (r = env_str("KLANGK_GATEWAY_ORIGIN", "", c->gateway_origin,
			 sizeof(c->gateway_origin), e)) < 0 ||
	    (r = env_str("KLANGK_PUBLISH_ADDRESS", "127.0.0.1", c->publish_address,
			 sizeof(c->publish_address), e)) < 0 ||
	    (r = env_str("KLANGK_PUBLISH", "host", c->publish, sizeof(c->publish),
			 e)) < 0 ||
	    (r = env_long("KLANGK_IDLE_TIMEOUT_SECONDS", 0, 31536000, 1800,
			  &c->idle_timeout, e)) < 0 ||
	    (r = env_str("KLANGK_DATA_DIR", "", c->data_dir, sizeof(c->data_dir),
			 e)) < 0 ||
	    (r = env_str("KLANGK_ALLOWED_MOUNT_ROOTS", "", c->allowed_mount_roots,
			 sizeof(c->allowed_mount_roots), e)) < 0 ||
	    (r = env_str("KLANGK_PROTECTED_PATHS", "", c->protected_paths,
			 sizeof(c->protected_paths), e)) < 0 ||
	    (r = env_str("KLANGK_NODE_NAME", "", c->node_name, sizeof(c->node_name),
			 e)) < 0 ||
	    (r = env_long("KLANGK_NODE_CAPACITY", 0, 1000000, 0, &c->node_capacity,
			  e)) < 0)
		return r;
	r = restart_from_env(c, e);
	return r < 0 ? r : isolation_from_env(c, e);
}

/* ---- workspace isolation (issue 15; docs/security.md) ---- */

/* A limit setting: a positive quantity (scale as quantity_parse) of at
 * least min; "" is 0 when allow_empty (no cap). */
static int check_quantity(const char *name, const char *s, int scale,
			  int64_t min, bool allow_empty, int64_t *out,
			  struct err *e)
{
	char least[32];
	int64_t v;
	int r;

	if (*s == '\0' && allow_empty) {
		*out = 0;
		return 0;
	}
	r = quantity_parse(s, scale, &v);
	if (r < 0 || v <= 0) {
		err_set(e, "%s=%s: must be a positive quantity such as %s", name, s,
			scale ? "2 or 500m" : "8Gi or 512Mi");
		return -EINVAL;
	}
	if (v < min) {
		quantity_format(min, scale, least, sizeof(least));
		err_set(e, "%s=%s: must be at least %s", name, s, least);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* The capabilities a container may be given (capabilities(7)). */
static const char *const capabilities[] = {
	"AUDIT_CONTROL", "AUDIT_READ", "AUDIT_WRITE", "BLOCK_SUSPEND", "BPF",
	"CHECKPOINT_RESTORE", "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH",
	"FOWNER", "FSETID", "IPC_LOCK", "IPC_OWNER", "KILL", "LEASE",
	"LINUX_IMMUTABLE", "MAC_ADMIN", "MAC_OVERRIDE", "MKNOD", "NET_ADMIN",
	"NET_BIND_SERVICE", "NET_BROADCAST", "NET_RAW", "PERFMON", "SETFCAP",
	"SETGID", "SETPCAP", "SETUID", "SYS_ADMIN", "SYS_BOOT", "SYS_CHROOT",
	"SYS_MODULE", "SYS_NICE", "SYS_PACCT", "SYS_PTRACE", "SYS_RAWIO",
	"SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "SYSLOG", "WAKE_ALARM",
	NULL,
};

/* Call fn on each item of a comma-separated list, blanks around items
 * removed; an empty item is an error (-EINVAL). */
static int each_item(const char *list, int (*fn)(void *ud, const char *item),
		     void *ud)
{
	const char *p = list;

	for (;;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char item[128];
		int r;

		while (n && (*p == ' ' || *p == '\t')) {
			p++;
			n--;
		}
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == 0 || n >= sizeof(item))
			return -EINVAL;
		memcpy(item, p, n);
		item[n] = '\0';
		r = fn(ud, item);
		if (r < 0)
			return r;
		if (!end)
			return 0;
		p = end + 1;
	}
}

static int add_cap(void *ud, const char *item)
{
	struct cfg_isolation *iso = ud;
	const char *name = strncmp(item, "CAP_", 4) == 0 ? item + 4 : item;
	bool known = strcmp(name, "ALL") == 0;

	for (size_t i = 0; !known && capabilities[i]; i++)
		known = strcmp(name, capabilities[i]) == 0;
	if (!known || iso->n_cap_drop == CFG_MAX_CAPS)
		return -EINVAL;
	for (size_t i = 0; i < iso->n_cap_drop; i++)
		if (strcmp(iso->cap_drop[i], name) == 0)
			return 0;
	snprintf(iso->cap_drop[iso->n_cap_drop++], sizeof(iso->cap_drop[0]), "%s",
		 name);
	return 0;
}

int cfg_parse_cidr(const char *s, struct cfg_cidr *out)
{
	struct cfg_cidr c = { 0 };
	const char *slash = strchr(s, '/');
	char addr[INET6_ADDRSTRLEN];
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	long prefix;
	int len;

	if (n == 0 || n >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, s, n);
	addr[n] = '\0';
	if (inet_pton(AF_INET, addr, c.addr) == 1)
		c.family = AF_INET;
	else if (inet_pton(AF_INET6, addr, c.addr) == 1)
		c.family = AF_INET6;
	else
		return -EINVAL;
	len = c.family == AF_INET ? 4 : 16;
	if (!slash)
		prefix = len * 8;
	else if (cfg_parse_long(slash + 1, 0, len * 8, &prefix) < 0 ||
		 slash[1] == '+' || slash[1] == '-' || slash[1] == ' ')
		return -EINVAL;
	c.prefix = (int)prefix;
	for (int bit = c.prefix; bit < len * 8; bit++)
		if (c.addr[bit / 8] & (0x80 >> (bit % 8)))
			return -EINVAL;
	if (!inet_ntop(c.family, c.addr, addr, sizeof(addr)))
		return -EINVAL;
	snprintf(c.text, sizeof(c.text), "%s/%d", addr, c.prefix);
	*out = c;
	return 0;
}

static int add_cidr(void *ud, const char *item)
{
	struct cfg_isolation *iso = ud;

	if (iso->n_egress_deny == CFG_MAX_CIDRS)
		return -E2BIG;
	return cfg_parse_cidr(item, &iso->egress_deny[iso->n_egress_deny++]);
}

/* A default over the cap could never be used. */
static int check_default_cap(const char *what, int64_t dflt, int64_t cap,
			     const char *dtext, const char *ctext, struct err *e)
{
	if (cap && dflt > cap) {
		err_set(e, "KLANGK_DEFAULT_%s=%s is over KLANGK_MAX_%s=%s", what,
			dtext, what, ctext);
		return -EINVAL;
	}
	return 0;
}

/* Parse the raw isolation settings of c into c->iso. */
static int check_isolation(struct cfg *c, struct err *e)
{
	struct cfg_isolation iso = { 0 };
	const char *caps = c->cap_drop[0] ? c->cap_drop : CFG_DEFAULT_CAP_DROP;
	char dp[24], mp[24];
	int r;

	if ((r = check_quantity("KLANGK_DEFAULT_CPU", c->default_cpu,
				QUANTITY_SCALE_NANO, CFG_MIN_CPU_NANO, false,
				&iso.default_cpu, e)) < 0 ||
	    (r = check_quantity("KLANGK_DEFAULT_MEMORY", c->default_memory, 0,
				CFG_MIN_MEMORY, false, &iso.default_memory, e)) < 0 ||
	    (r = check_quantity("KLANGK_MAX_CPU", c->max_cpu, QUANTITY_SCALE_NANO,
				CFG_MIN_CPU_NANO, true, &iso.max_cpu, e)) < 0 ||
	    (r = check_quantity("KLANGK_MAX_MEMORY", c->max_memory, 0,
				CFG_MIN_MEMORY, true, &iso.max_memory, e)) < 0 ||
	    (r = check_quantity("KLANGK_TMP_SIZE", c->tmp_size, 0,
				CFG_MIN_TMP_SIZE, false, &iso.tmp_size, e)) < 0)
		return r;
	iso.default_pids = c->default_pids;
	iso.max_pids = c->max_pids;
	snprintf(dp, sizeof(dp), "%ld", c->default_pids);
	snprintf(mp, sizeof(mp), "%ld", c->max_pids);
	if ((r = check_default_cap("CPU", iso.default_cpu, iso.max_cpu,
				   c->default_cpu, c->max_cpu, e)) < 0 ||
	    (r = check_default_cap("MEMORY", iso.default_memory, iso.max_memory,
				   c->default_memory, c->max_memory, e)) < 0 ||
	    (r = check_default_cap("PIDS", iso.default_pids, iso.max_pids, dp, mp,
				   e)) < 0)
		return r;
	if (strcmp(caps, "none") != 0 && each_item(caps, add_cap, &iso) < 0) {
		err_set(e, "KLANGK_CAP_DROP=%s: must be \"none\", or a comma-separated "
			   "list of capability names (NET_RAW or CAP_NET_RAW, "
			   "capabilities(7)) or ALL", caps);
		return -EINVAL;
	}
	if (strcmp(c->userns, "off") != 0 && strcmp(c->userns, "auto") != 0) {
		err_set(e, "KLANGK_USERNS=%s: must be off or auto", c->userns);
		return -EINVAL;
	}
	iso.userns_auto = strcmp(c->userns, "auto") == 0;
	if (c->egress_firewall[0] && strcmp(c->egress_firewall, "nft") != 0 &&
	    strcmp(c->egress_firewall, "off") != 0) {
		err_set(e, "KLANGK_EGRESS_FIREWALL=%s: must be nft or off", c->egress_firewall);
		return -EINVAL;
	}
	iso.egress_firewall = strcmp(c->egress_firewall, "off") != 0;
	if (c->egress_deny[0] &&
	    (r = each_item(c->egress_deny, add_cidr, &iso)) < 0) {
		err_set(e, "KLANGK_EGRESS_DENY=%s: must be a comma-separated list of "
			   "at most %d networks such as 10.0.0.0/8 or fd00::/8 (an "
			   "address alone is one host; no host bits past the prefix)",
			c->egress_deny, CFG_MAX_CIDRS);
		return -EINVAL;
	}
	c->iso = iso;
	return 0;
}

/* One limit of cfg_resolve_resources: the spec's value (0 = unset) or the
 * default, checked against the engines' minimum and the cap. */
static int64_t resolve_one(const char *path, int64_t spec, const char *text,
			   int64_t dflt, int64_t min, int64_t cap,
			   const char *cap_text, const char *setting, int scale,
			   int *problems, struct err *e)
{
	char least[32];

	if (spec == 0)
		return dflt;
	if (min && spec < min) {
		quantity_format(min, scale, least, sizeof(least));
		err_addline(e, "%s: %s is under %s, the least the engines accept",
			    path, text, least);
		++*problems;
	} else if (cap && spec > cap) {
		err_addline(e, "%s: %s is over the cap %s (%s)", path, text, cap_text,
			    setting);
		++*problems;
	}
	return spec;
}

int cfg_resolve_resources(const struct cfg *c, const struct ws_resources *spec,
			  struct engine_resources *out, struct err *e)
{
	const struct cfg_isolation *iso = &c->iso;
	struct engine_resources r = { 0 };
	char pids[24], cap[24];
	int problems = 0;

	err_clear(e);
	r.nano_cpus = resolve_one("spec.resources.cpu", spec->cpu.value,
				  spec->cpu.text, iso->default_cpu, CFG_MIN_CPU_NANO,
				  iso->max_cpu, c->max_cpu, "KLANGK_MAX_CPU",
				  QUANTITY_SCALE_NANO, &problems, e);
	r.memory = resolve_one("spec.resources.memory", spec->memory.value,
			       spec->memory.text, iso->default_memory,
			       CFG_MIN_MEMORY, iso->max_memory, c->max_memory,
			       "KLANGK_MAX_MEMORY", 0, &problems, e);
	snprintf(pids, sizeof(pids), "%lld", spec->pids);
	snprintf(cap, sizeof(cap), "%lld", (long long)iso->max_pids);
	r.pids_limit = resolve_one("spec.resources.pids", spec->pids, pids,
				   iso->default_pids, 0, iso->max_pids, cap,
				   "KLANGK_MAX_PIDS", 0, &problems, e);
	if (problems)
		return -EINVAL;
	r.memory_swap = r.memory;
	*out = r;
	return 0;
}

int cfg_check(struct cfg *c, struct err *e)
{
	if (strlen(c->instance_id) > 32 || !ws_is_dns_label(c->instance_id)) {
		err_set(e, "instance id \"%s\": must be a lowercase DNS label of at "
			   "most 32 characters", c->instance_id);
		return -EINVAL;
	}
	if (c->port_range_end == 0)
		c->port_range_end = c->port_range_start + 999 > 65535 ?
			65535 : c->port_range_start + 999;
	if (c->port_range_end < c->port_range_start) {
		err_set(e, "port range %ld-%ld is empty", c->port_range_start,
			c->port_range_end);
		return -EINVAL;
	}
	if (c->node_name[0] && !ws_is_dns_label(c->node_name)) {
		err_set(e, "node name \"%s\": must be a lowercase DNS label", c->node_name);
		return -EINVAL;
	}
	/* A workspace takes up to WS_MAX_HOSTED_PORTS ports of the range. */
	if (c->node_capacity == 0)
		c->node_capacity = (c->port_range_end - c->port_range_start + 1) /
				   WS_MAX_HOSTED_PORTS;
	if (c->node_capacity == 0)
		c->node_capacity = 1;
	if (c->hosting_hostname[0] == '\0')
		snprintf(c->hosting_hostname, sizeof(c->hosting_hostname),
			 "localhost:%ld", c->nginx_port);
	if (!cfg_is_hostname(c->hosting_hostname)) {
		err_set(e, "hosting hostname \"%s\": must be host or host:port",
			c->hosting_hostname);
		return -EINVAL;
	}
	if (strcmp(c->hosting_proto, "http") != 0 &&
	    strcmp(c->hosting_proto, "https") != 0) {
		err_set(e, "hosting proto \"%s\": must be http or https",
			c->hosting_proto);
		return -EINVAL;
	}
	if (!cfg_is_base_path(c->hosting_base_path)) {
		err_set(e, "hosting base path \"%s\": must be empty or /segment[/...] "
			   "without a trailing slash", c->hosting_base_path);
		return -EINVAL;
	}
	if (c->hosting_domain[0] && !hosting_is_domain(c->hosting_domain)) {
		err_set(e, "hosting domain \"%s\": must be a lowercase DNS name of two or "
			   "more labels (at most %d characters), optionally :port, e.g. "
			   "apps.example.com or apps.localhost:8995", c->hosting_domain,
			HOSTING_DOMAIN_MAX);
		return -EINVAL;
	}
	if (!cfg_is_ipv4_port(c->gateway_address)) {
		err_set(e, "gateway address \"%s\": must be an IPv4 address and a port "
			   "(KLANGK_GATEWAY_ADDRESS, e.g. 127.0.0.1:8990)", c->gateway_address);
		return -EINVAL;
	}
	if (c->gateway_origin[0] && !cfg_is_origin(c->gateway_origin)) {
		err_set(e, "gateway origin \"%s\": must be http(s)://HOST[:PORT], lowercase, "
			   "with no path (KLANGK_GATEWAY_ORIGIN: the gateway's page as browsers "
			   "name it)", c->gateway_origin);
		return -EINVAL;
	}
	if (c->publish[0] && strcmp(c->publish, "host") != 0 &&
	    strcmp(c->publish, "none") != 0) {
		err_set(e, "KLANGK_PUBLISH=%s: must be host (publish the hosted ports "
			   "on host ports) or none (nginx reaches the containers on "
			   "their networks)", c->publish);
		return -EINVAL;
	}
	c->publish_none = strcmp(c->publish, "none") == 0;
	if (c->restart_backoff_base > c->restart_backoff_max) {
		err_set(e, "KLANGK_RESTART_BACKOFF_BASE=%ld is over "
			   "KLANGK_RESTART_BACKOFF_MAX=%ld", c->restart_backoff_base,
			c->restart_backoff_max);
		return -EINVAL;
	}
	return check_isolation(c, e);
}

bool cfg_is_origin(const char *s)
{
	const char *h = strncmp(s, "https://", 8) == 0 ? s + 8 :
			strncmp(s, "http://", 7) == 0 ? s + 7 : NULL;
	const char *colon;
	size_t n;
	long port;

	if (!h || strlen(s) >= 512)
		return false;
	colon = strchr(h, ':');
	n = colon ? (size_t)(colon - h) : strlen(h);
	if (n == 0 || n > 253 || h[0] == '.' || h[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= '0' && h[i] <= '9') ||
		      h[i] == '.' || h[i] == '-'))
			return false;
	return !colon || (colon[1] != '0' && cfg_parse_long(colon + 1, 1, 65535, &port) == 0);
}

bool cfg_is_ipv4_port(const char *s)
{
	const char *colon = strrchr(s, ':');
	char addr[16];
	struct in_addr a;
	long port;

	if (!colon || (size_t)(colon - s) >= sizeof(addr) || colon[1] == '0')
		return false;
	memcpy(addr, s, (size_t)(colon - s));
	addr[colon - s] = '\0';
	return inet_pton(AF_INET, addr, &a) == 1 &&
	       cfg_parse_long(colon + 1, 1, 65535, &port) == 0;
}
