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

/*
 * Members-only apps (spec.hostedApps access: members, origin mode only):
 * the contract between proxy-gen's nginx and the gateway.
 *
 * On an app's origin nginx asks the gateway about every request of a
 * members-only route (auth_request, HOSTING_GW_AUTH) with the app's name
 * "<id>-<port>" in HOSTING_HDR_APP and the value of the app cookie in
 * HOSTING_HDR_APP_COOKIE; 2xx lets it through (HOSTING_HDR_USER names the
 * visitor to the app), 401 sends the visitor to the gateway's sign-in page
 * <gateway origin>HOSTING_GW_SIGNIN<id>-<port><the request's path and
 * query>.  There the gateway hands a signed-in member a one-time ticket,
 * redeemed on the app's origin at HOSTING_CALLBACK_PATH?ticket=T, which
 * nginx passes to the gateway's HOSTING_GW_CALLBACK: the answer sets the
 * app cookie on that one origin and redirects back.
 */
#define HOSTING_CALLBACK_PATH "/_klangk/callback"  /* on each app's origin */
#define HOSTING_GW_SIGNIN "/app/"                  /* the gateway's page for an app */
#define HOSTING_GW_AUTH "/api/v1/app/auth"
#define HOSTING_GW_CALLBACK "/api/v1/app/callback"
#define HOSTING_HDR_APP "X-Klangk-App"
#define HOSTING_HDR_APP_COOKIE "X-Klangk-App-Cookie"
#define HOSTING_HDR_USER "X-Klangk-User"
/* The app's name "<32 hex>-<5 digits>", with its NUL. */
#define HOSTING_APP_MAX 40

/*
 * The app cookie's name for URLs of this scheme: "__Host-klangk_app" over
 * https (the prefix makes browsers refuse it unless Secure, host-only and
 * Path=/, so no sibling app can set one for this origin), "klangk_app"
 * over plain http, where browsers refuse Secure and so the prefix
 * (docs/security.md says what that leaves open).
 */
const char *hosting_app_cookie(const char *proto);
bool hosting_cookie_secure(const char *proto);

/* "<id>-<port>" (an id as ws_is_id, a port 1..65535 without leading
 * zeros) into id (at least 33 bytes) and *port; -EINVAL otherwise. */
int hosting_parse_app(const char *app, char *id, size_t idlen, long *port);

#endif
