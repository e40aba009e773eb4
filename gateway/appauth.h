/*
 * appauth — members-only hosted apps: the one-time tickets and the app
 * cookies (lib/hosting.h has the contract with nginx; docs/proxy-gen.md
 * the flow).
 *
 * A member signed in on the gateway's page asks for a ticket for one app
 * ("<id>-<port>"), once the gateway has checked, as them, that they may
 * read the app's workspace.  The ticket is 256 random bits, kept as its
 * SHA-256 only, bound to that app, living APPAUTH_TICKET_SECONDS, good
 * once.  Redeemed on the app's own origin (nginx passes the callback to
 * the gateway with the app's name, taken from the host the browser is
 * at), it becomes the app cookie:
 *
 *   <expiry, unix seconds>.<user>.<HMAC-SHA256 hex>
 *
 * the HMAC over the app's name, the user and the expiry, under a key of
 * 256 random bits made at start (a restart of the gateway ends every app
 * cookie, as it ends the page's sessions).  nginx asks the gateway about
 * each request of a members-only app; the check is the signature, the app
 * and the expiry only (no etcd request), so a member removed from the
 * workspace keeps a cookie they hold until it expires, cookie_s at most,
 * and is refused at the next sign-in.
 */
#ifndef KLANGK_APPAUTH_H
#define KLANGK_APPAUTH_H

#include "err.h"
#include "hosting.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define APPAUTH_TICKET_SECONDS 30
#define APPAUTH_TICKET_HEX 64
#define APPAUTH_PATH_MAX 2048      /* the path and query to come back to */
#define APPAUTH_COOKIE_MAX 400     /* a cookie's value, with its NUL */
#define APPAUTH_DEFAULT_COOKIE_SECONDS 300

struct appauth_ticket {
	bool used;
	unsigned char hash[32];        /* SHA-256 of the ticket */
	char app[HOSTING_APP_MAX];
	char user[256];
	char path[APPAUTH_PATH_MAX];
	time_t expires;
};

struct appauth {
	pthread_mutex_t mu;            /* guards t */
	unsigned char key[32];         /* the cookies' HMAC key */
	struct appauth_ticket *t;      /* max slots */
	size_t max;
	long cookie_s;
};

/* max tickets outstanding at once (expired ones make room); cookie_s the
 * app cookie's lifetime. */
int appauth_init(struct appauth *a, size_t max, long cookie_s, struct err *e);
void appauth_destroy(struct appauth *a);

/*
 * A ticket for user (borrowed) to open app at path (both checked here:
 * app "<id>-<port>", path "/..." of printable ASCII, at most
 * APPAUTH_PATH_MAX - 1, not "//" at its start).  ticket: filled
 * (APPAUTH_TICKET_HEX + 1 bytes).  -EINVAL, -EBUSY when every slot holds
 * a live ticket.
 */
int appauth_ticket(struct appauth *a, const char *app, const char *user, const char *path,
		   char *ticket, struct err *e);

/*
 * Redeem a ticket on app's origin (once): the cookie's value (cookie,
 * APPAUTH_COOKIE_MAX bytes) and the path to go back to (path,
 * APPAUTH_PATH_MAX bytes).  -ENOENT (no such live ticket) or -EPERM (a
 * ticket of another app; it is used up all the same), with the reason.
 */
int appauth_redeem(struct appauth *a, const char *app, const char *ticket, char *cookie,
		   char *path, struct err *e);

/* The cookie of user for app, valid until expires.  out: APPAUTH_COOKIE_MAX. */
int appauth_cookie(const struct appauth *a, const char *app, const char *user, time_t expires,
		   char *out);

/*
 * Check an app cookie for app at time now: its user (user, 256 bytes).
 * -EACCES (with the reason) when it is malformed, forged, of another app
 * or expired.
 */
int appauth_check(const struct appauth *a, const char *app, const char *cookie, time_t now,
		  char *user, struct err *e);

#endif
