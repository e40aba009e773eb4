/*
 * appauth — tickets and app cookies of members-only apps (see appauth.h).
 */
#include "appauth.h"

#include "ws.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int appauth_init(struct appauth *a, size_t max, long cookie_s, struct err *e)
{
	memset(a, 0, sizeof(*a));
	if (RAND_bytes(a->key, sizeof(a->key)) != 1) {
		err_set(e, "no randomness for the app cookies' key");
		return -EIO;
	}
	a->t = calloc(max ? max : 1, sizeof(*a->t));
	if (!a->t) {
		OPENSSL_cleanse(a->key, sizeof(a->key));
		err_set(e, "no memory for %zu app tickets", max);
		return -ENOMEM;
	}
	a->max = max;
	a->cookie_s = cookie_s;
	pthread_mutex_init(&a->mu, NULL);
	return 0;
}

void appauth_destroy(struct appauth *a)
{
	if (!a || !a->t)
		return;
	OPENSSL_cleanse(a->t, a->max * sizeof(*a->t));
	free(a->t);
	OPENSSL_cleanse(a->key, sizeof(a->key));
	pthread_mutex_destroy(&a->mu);
	a->t = NULL;
}

static bool is_app(const char *app)
{
	char id[33];
	long port;

	return strlen(app) < HOSTING_APP_MAX && hosting_parse_app(app, id, sizeof(id), &port) == 0;
}

/* A path and query to redirect to on the app's origin: printable ASCII
 * (no CR, LF or space can reach the Location header), starting with one
 * '/' (never "//" nor "/\", which browsers read as another host). */
static bool is_return_path(const char *p)
{
	size_t n = strlen(p);

	if (n == 0 || n >= APPAUTH_PATH_MAX || p[0] != '/' || p[1] == '/' || p[1] == '\\')
		return false;
	for (size_t i = 0; i < n; i++)
		if (p[i] < '!' || p[i] > '~')
			return false;
	return true;
}

static int sha256(const char *s, unsigned char out[32])
{
	return EVP_Digest(s, strlen(s), out, NULL, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
}

int appauth_ticket(struct appauth *a, const char *app, const char *user, const char *path,
		   char *ticket, struct err *e)
{
	unsigned char b[APPAUTH_TICKET_HEX / 2], h[32];
	char t[APPAUTH_TICKET_HEX + 1];
	struct appauth_ticket *slot = NULL;
	time_t now = time(NULL);
	int r = 0;

	if (!is_app(app) || strlen(user) >= sizeof(slot->user)) {
		err_set(e, "no such app \"%.64s\"", app);
		return -EINVAL;
	}
	if (!is_return_path(path)) {
		err_set(e, "the path to return to must start with one '/' and hold printable "
			   "ASCII only, at most %d characters", APPAUTH_PATH_MAX - 1);
		return -EINVAL;
	}
	if (RAND_bytes(b, sizeof(b)) != 1)
		return -EIO;
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(t + 2 * i, 3, "%02x", b[i]);
	OPENSSL_cleanse(b, sizeof(b));
	if (sha256(t, h) < 0)
		return -EIO;
	pthread_mutex_lock(&a->mu);
	for (size_t i = 0; i < a->max && !slot; i++)
		if (!a->t[i].used || a->t[i].expires <= now)
			slot = &a->t[i];
	if (slot) {
		memset(slot, 0, sizeof(*slot));
		slot->used = true;
		memcpy(slot->hash, h, sizeof(h));
		snprintf(slot->app, sizeof(slot->app), "%s", app);
		snprintf(slot->user, sizeof(slot->user), "%s", user);
		snprintf(slot->path, sizeof(slot->path), "%s", path);
		slot->expires = now + APPAUTH_TICKET_SECONDS;
	} else {
		err_set(e, "too many sign-ins to apps at once (%zu); try again in %d seconds",
			a->max, APPAUTH_TICKET_SECONDS);
		r = -EBUSY;
	}
	pthread_mutex_unlock(&a->mu);
	if (r == 0)
		memcpy(ticket, t, sizeof(t));
	OPENSSL_cleanse(t, sizeof(t));
	return r;
}

int appauth_redeem(struct appauth *a, const char *app, const char *ticket, char *cookie,
		   char *path, struct err *e)
{
	struct appauth_ticket got = { 0 };
	time_t now = time(NULL);
	unsigned char h[32];
	int r = -ENOENT;

	if (strlen(ticket) != APPAUTH_TICKET_HEX || sha256(ticket, h) < 0) {
		err_set(e, "no such sign-in ticket (it is used once, within %d seconds)",
			APPAUTH_TICKET_SECONDS);
		return -ENOENT;
	}
	pthread_mutex_lock(&a->mu);
	for (size_t i = 0; i < a->max; i++) {
		struct appauth_ticket *x = &a->t[i];

		if (!x->used || CRYPTO_memcmp(x->hash, h, sizeof(h)) != 0)
			continue;
		if (x->expires > now) {
			got = *x;
			r = 0;
		}
		/* Used up (or expired): never good again. */
		OPENSSL_cleanse(x, sizeof(*x));
		break;
	}
	pthread_mutex_unlock(&a->mu);
	if (r < 0) {
		err_set(e, "no such sign-in ticket (it is used once, within %d seconds)",
			APPAUTH_TICKET_SECONDS);
	} else if (strcmp(got.app, app) != 0) {
		err_set(e, "the sign-in ticket is for another app");
		r = -EPERM;
	} else {
		r = appauth_cookie(a, app, got.user, now + a->cookie_s, cookie);
		if (r == 0)
			memcpy(path, got.path, sizeof(got.path));
	}
	OPENSSL_cleanse(&got, sizeof(got));
	return r;
}

/* HMAC-SHA256 over app, user and expiry (NUL-separated: no field can run
 * into the next), as 64 hex digits into mac. */
static int sign(const struct appauth *a, const char *app, const char *user, long long expires,
		char mac[65])
{
	unsigned char md[EVP_MAX_MD_SIZE], msg[HOSTING_APP_MAX + 256 + 32];
	unsigned int len = 0;
	int n = snprintf((char *)msg, sizeof(msg), "klangk-app-v1%c%s%c%s%c%lld", 0, app, 0, user,
			 0, expires);

	if (n < 0 || (size_t)n >= sizeof(msg) ||
	    !HMAC(EVP_sha256(), a->key, sizeof(a->key), msg, (size_t)n, md, &len) || len != 32)
		return -EIO;
	for (unsigned int i = 0; i < len; i++)
		snprintf(mac + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* User names as spec.members has them: cookie-safe (no ';', ',', space,
 * quote or backslash); "" when etcd's authentication is off. */
static bool is_cookie_user(const char *u)
{
	size_t n = strlen(u);

	if (n >= 256)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((u[i] >= 'a' && u[i] <= 'z') || (u[i] >= 'A' && u[i] <= 'Z') ||
		      (u[i] >= '0' && u[i] <= '9') || strchr("._%+@-", u[i])))
			return false;
	return true;
}

int appauth_cookie(const struct appauth *a, const char *app, const char *user, time_t expires,
		   char *out)
{
	char mac[65];
	int n;

	if (!is_app(app) || !is_cookie_user(user))
		return -EINVAL;
	if (sign(a, app, user, (long long)expires, mac) < 0)
		return -EIO;
	n = snprintf(out, APPAUTH_COOKIE_MAX, "%lld.%s.%s", (long long)expires, user, mac);
	return n < 0 || n >= APPAUTH_COOKIE_MAX ? -ENAMETOOLONG : 0;
}

int appauth_check(const struct appauth *a, const char *app, const char *cookie, time_t now,
		  char *user, struct err *e)
{
	const char *dot = cookie ? strchr(cookie, '.') : NULL;
	const char *last = cookie ? strrchr(cookie, '.') : NULL;
	char u[256], want[65];
	long long expires = 0;
	size_t n;

	if (!cookie || !*cookie) {
		err_set(e, "no app cookie");
		return -EACCES;
	}
	if (!dot || last == dot || strlen(last + 1) != 64 || dot == cookie ||
	    (size_t)(dot - cookie) > 12 || (n = (size_t)(last - dot - 1)) >= sizeof(u) ||
	    !is_app(app)) {
		err_set(e, "malformed app cookie");
		return -EACCES;
	}
	for (const char *p = cookie; p < dot; p++) {
		if (*p < '0' || *p > '9') {
			err_set(e, "malformed app cookie");
			return -EACCES;
		}
		expires = expires * 10 + (*p - '0');
	}
	memcpy(u, dot + 1, n);
	u[n] = '\0';
	if (!is_cookie_user(u) || sign(a, app, u, expires, want) < 0 ||
	    CRYPTO_memcmp(want, last + 1, 64) != 0) {
		err_set(e, "the app cookie's signature does not match (forged, or for another app)");
		return -EACCES;
	}
	if (expires <= (long long)now) {
		err_set(e, "the app cookie expired");
		return -EACCES;
	}
	memcpy(user, u, n + 1);
	return 0;
}
