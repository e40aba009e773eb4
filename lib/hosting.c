/* hosting — hosted-app URL forms (see hosting.h). */
#include "hosting.h"

#include "ws.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* One DNS label: [a-z0-9] with inner hyphens, 1..63 characters. */
static bool is_label(const char *s, size_t n)
{
	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '-'))
			return false;
	return true;
}

/* 1..65535, digits only, no leading zero. */
static bool is_port(const char *s, long *port)
{
	long v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 5 || s[0] == '0')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (v > 65535)
		return false;
	*port = v;
	return true;
}

/* The length of the name part of a valid setting, or 0; *port its port. */
static size_t parse_domain(const char *s, long *port)
{
	const char *colon = strchr(s, ':');
	size_t n = colon ? (size_t)(colon - s) : strlen(s), labels = 0;

	*port = 0;
	if (n == 0 || n > HOSTING_DOMAIN_MAX)
		return 0;
	for (size_t i = 0; i < n;) {
		const char *dot = memchr(s + i, '.', n - i);
		size_t l = dot ? (size_t)(dot - (s + i)) : n - i;

		if (!is_label(s + i, l))
			return 0;
		labels++;
		i += l + (dot ? 1 : 0);
		if (dot && i == n)
			return 0;   /* a trailing dot */
	}
	if (labels < 2 || (colon && !is_port(colon + 1, port)))
		return 0;
	return n;
}

bool hosting_is_domain(const char *s)
{
	long port;

	return parse_domain(s, &port) > 0;
}

int hosting_split_domain(const char *s, char *name, size_t len, long *port)
{
	long p;
	size_t n = parse_domain(s, &p);

	if (n == 0)
		return -EINVAL;
	if (n >= len)
		return -ENAMETOOLONG;
	memcpy(name, s, n);
	name[n] = '\0';
	*port = p;
	return 0;
}

int hosting_app_url(const char *proto, const char *hostname, const char *base_path,
		    const char *domain, const char *id, long port, char *out, size_t len)
{
	char url[1024];
	int n;

	if (!ws_is_id(id) || port < 1 || port > 65535)
		return -EINVAL;
	if (domain && *domain)
		n = snprintf(url, sizeof(url), "%s://%s-%ld.%s/", proto, id, port, domain);
	else
		n = snprintf(url, sizeof(url), "%s://%s%s/hosted/%s/%ld/", proto, hostname,
			     base_path, id, port);
	if (n < 0 || (size_t)n >= sizeof(url) || (size_t)n >= len)
		return -ENAMETOOLONG;
	memcpy(out, url, (size_t)n + 1);
	return 0;
}

const char *hosting_app_cookie(const char *proto)
{
	return hosting_cookie_secure(proto) ? "__Host-klangk_app" : "klangk_app";
}

bool hosting_cookie_secure(const char *proto)
{
	return proto && strcmp(proto, "https") == 0;
}

int hosting_parse_app(const char *app, char *id, size_t idlen, long *port)
{
	const char *dash = strchr(app, '-');
	size_t n = dash ? (size_t)(dash - app) : 0;
	char tmp[33];
	long p;

	if (!dash || n >= sizeof(tmp) || n >= idlen || !is_port(dash + 1, &p))
		return -EINVAL;
	memcpy(tmp, app, n);
	tmp[n] = '\0';
	if (!ws_is_id(tmp))
		return -EINVAL;
	memcpy(id, tmp, n + 1);
	*port = p;
	return 0;
}
