/* cfg — environment settings and their validation (see cfg.h). */
#include "cfg.h"

#include "etcd.h"
#include "engine.h"
#include "ws.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	S("KLANGK_PUBLISH_ADDRESS", publish_address),
	L("KLANGK_IDLE_TIMEOUT_SECONDS", idle_timeout, 0, 31536000),
	S("KLANGK_DATA_DIR", data_dir),
	S("KLANGK_ALLOWED_MOUNT_ROOTS", allowed_mount_roots),
	S("KLANGK_PROTECTED_PATHS", protected_paths),
	S("KLANGK_NODE_NAME", node_name),
	L("KLANGK_NODE_CAPACITY", node_capacity, 0, 1000000),
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
	    (r = env_str("KLANGK_PUBLISH_ADDRESS", "127.0.0.1", c->publish_address,
			 sizeof(c->publish_address), e)) < 0 ||
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
	return 0;
}
