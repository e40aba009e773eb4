/* keys — the etcd key layout (see keys.h). */
#include "keys.h"

#include "ws.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int fmt(char *buf, size_t len, const char *f, ...)
	__attribute__((format(printf, 3, 4)));

static int fmt(char *buf, size_t len, const char *f, ...)
{
	va_list ap;
	int n;

	if (!buf || len == 0)
		return -ENAMETOOLONG;
	va_start(ap, f);
	n = vsnprintf(buf, len, f, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

const char *keys_prefix(enum keys_kind k)
{
	switch (k) {
	case KEYS_SPEC:
		return KEYS_SPEC_PREFIX;
	case KEYS_STATUS:
		return KEYS_STATUS_PREFIX;
	case KEYS_ACTIVITY:
		return KEYS_ACTIVITY_PREFIX;
	case KEYS_PLACEMENT:
		return KEYS_PLACEMENT_PREFIX;
	case KEYS_OWNER:
		break;
	}
	return "";
}

int keys_ws(enum keys_kind k, const char *ns, const char *name, char *buf, size_t len)
{
	return fmt(buf, len, "%s%s/%s", keys_prefix(k), ns, name);
}

int keys_of_owner(enum keys_kind k, const char *owner, char *buf, size_t len)
{
	return fmt(buf, len, "%s%s", keys_prefix(k), owner);
}

int keys_ns_prefix(enum keys_kind k, const char *ns, char *buf, size_t len)
{
	if (!ns || !*ns)
		return fmt(buf, len, "%s", keys_prefix(k));
	return fmt(buf, len, "%s%s/", keys_prefix(k), ns);
}

const char *keys_owner(enum keys_kind k, const char *key)
{
	const char *p = keys_prefix(k);
	size_t pl = strlen(p);

	return key && strncmp(key, p, pl) == 0 ? key + pl : NULL;
}

int keys_split(enum keys_kind k, const char *key, char *ns, size_t nslen, char *name,
	       size_t namelen)
{
	const char *rest = keys_owner(k, key), *slash;
	size_t nl;

	if (!rest || !(slash = strchr(rest, '/')))
		return -EINVAL;
	nl = (size_t)(slash - rest);
	if (nl >= nslen || strlen(slash + 1) >= namelen)
		return -EINVAL;
	if (!ws_is_dns_label(slash + 1))
		return -EINVAL;
	memcpy(ns, rest, nl);
	ns[nl] = '\0';
	if (!ws_is_dns_label(ns))
		return -EINVAL;
	memcpy(name, slash + 1, strlen(slash + 1) + 1);
	return 0;
}

int keys_events_prefix(const char *ns, const char *name, char *buf, size_t len)
{
	return fmt(buf, len, KEYS_EVENTS_PREFIX "%s/%s/", ns, name);
}

int keys_event(const char *ns, const char *name, const char *id, char *buf, size_t len)
{
	return fmt(buf, len, KEYS_EVENTS_PREFIX "%s/%s/%s", ns, name, id);
}

int keys_lease_prefix(const char *node, char *buf, size_t len)
{
	if (node && *node)
		return fmt(buf, len, KEYS_LEASE_PREFIX "%s/", node);
	return fmt(buf, len, KEYS_LEASE_PREFIX);
}

int keys_lease(const char *lease_prefix, long port, char *buf, size_t len)
{
	return fmt(buf, len, "%s%ld", lease_prefix, port);
}

int keys_node(const char *node, char *buf, size_t len)
{
	return fmt(buf, len, KEYS_NODE_PREFIX "%s", node);
}

const char *keys_node_name(const char *key)
{
	size_t pl = strlen(KEYS_NODE_PREFIX);

	return key && strncmp(key, KEYS_NODE_PREFIX, pl) == 0 ? key + pl : NULL;
}

int keys_retained(const char *volume, char *buf, size_t len)
{
	return fmt(buf, len, KEYS_RETAINED_PREFIX "%s", volume);
}

int keys_leader(const char *instance, const char *node, char *buf, size_t len)
{
	if (node && *node)
		return fmt(buf, len, KEYS_LEADER_PREFIX "%s/%s", instance, node);
	return fmt(buf, len, KEYS_LEADER_PREFIX "%s", instance);
}

int keys_role(const char *user, char *buf, size_t len)
{
	return fmt(buf, len, KEYS_ROLE_PREFIX "%s", user);
}

const char *keys_role_user(const char *role)
{
	size_t pl = strlen(KEYS_ROLE_PREFIX);

	return role && strncmp(role, KEYS_ROLE_PREFIX, pl) == 0 ? role + pl : NULL;
}
