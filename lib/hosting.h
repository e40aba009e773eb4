/*
 * hosting — the one owner of the hosted-app URL forms, shared by the
 * controller (status.urls, the container's KLANGK_HOSTING_* variables) and
 * proxy-gen (what nginx routes and where it redirects), so that the two
 * always agree.
 *
 *   path mode (KLANGK_HOSTING_DOMAIN unset):
 *       <proto>://<hostname><base path>/hosted/<id>/<host port>/
 *   origin mode (KLANGK_HOSTING_DOMAIN=<domain>[:<port>]):
 *       <proto>://<id>-<host port>.<domain>[:<port>]/
 *
 * In origin mode every (id, port) is its own browser origin, so one
 * tenant's app cannot read another's in a visitor's browser
 * (docs/security.md); the path URLs redirect to the origin URLs.
 */
#ifndef KLANGK_HOSTING_H
#define KLANGK_HOSTING_H

#include <stdbool.h>
#include <stddef.h>

/* The longest domain name (without its port): an app's host name,
 * "<32 hex>-<5 digits>." in front of it, must stay within DNS's 253. */
#define HOSTING_DOMAIN_MAX 200

/*
 * True when s is "<domain>[:<port>]": two or more dot-separated labels of
 * lowercase letters, digits and inner hyphens (1..63 each, at most
 * HOSTING_DOMAIN_MAX in all), then optionally ":" and a port 1..65535
 * without leading zeros.  Lowercase only: it is written into nginx's
 * configuration, whose host matching is on the lowercased Host.
 */
bool hosting_is_domain(const char *s);

/*
 * Split a valid domain setting into its name (into name, of size len) and
 * its port (0 when it has none).  -EINVAL when hosting_is_domain(s) is
 * false, -ENAMETOOLONG when name is too small.
 */
int hosting_split_domain(const char *s, char *name, size_t len, long *port);

/*
 * The URL of the app on host port `port` of workspace `id`, in the form in
 * force: origin mode when domain is non-empty, else path mode (hostname,
 * base path).  Written into out (of size len) only on success; -EINVAL for
 * a bad id or port, -ENAMETOOLONG when it does not fit.
 */
int hosting_app_url(const char *proto, const char *hostname, const char *base_path,
		    const char *domain, const char *id, long port, char *out, size_t len);

#endif
