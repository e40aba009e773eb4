/* Unit tests for appauth: tickets (one-time, bound to an app, short-lived)
 * and app cookies (signed, bound to an app, expiring), from the attacker's
 * side: forged, altered, replayed and foreign values are refused. */
#include "appauth.h"
#include "t.h"

#include <errno.h>
#include <string.h>

#define APP "3f9c1a2b7d4e-9000"
#define OTHER "3f9c1a2b7d4e-9001"

static void test_tickets(void)
{
	struct appauth a;
	struct err e;
	char t[APPAUTH_TICKET_HEX + 1], t2[APPAUTH_TICKET_HEX + 1], c[APPAUTH_COOKIE_MAX];
	char p[APPAUTH_PATH_MAX], u[256];

	CHECK(appauth_init(&a, 2, 60, &e) == 0);
	CHECK(appauth_ticket(&a, APP, "bob@example.com", "/x/y?a=1&b=%20", t, &e) == 0);
	CHECK(strlen(t) == APPAUTH_TICKET_HEX);
	/* Redeemed once, on its own app only. */
	CHECK(appauth_redeem(&a, APP, t, c, p, &e) == 0);
	CHECK(strcmp(p, "/x/y?a=1&b=%20") == 0);
	CHECK(appauth_check(&a, APP, c, time(NULL), u, &e) == 0 && strcmp(u, "bob@example.com") == 0);
	CHECK(appauth_redeem(&a, APP, t, c, p, &e) == -ENOENT);
	CHECK(appauth_ticket(&a, APP, "bob", "/", t, &e) == 0);
	CHECK(appauth_redeem(&a, OTHER, t, c, p, &e) == -EPERM);
	CHECK(appauth_redeem(&a, APP, t, c, p, &e) == -ENOENT); /* used up by the try */
	CHECK(appauth_redeem(&a, APP, "00", c, p, &e) == -ENOENT);
	/* Bad apps and paths: no open redirect, nothing for a header. */
	CHECK(appauth_ticket(&a, "evil.example.com", "bob", "/", t, &e) == -EINVAL);
	CHECK(appauth_ticket(&a, "3F9C1A2B7D4E-9000", "bob", "/", t, &e) == -EINVAL);
	CHECK(appauth_ticket(&a, APP, "bob", "//evil.example.com/", t, &e) == -EINVAL);
	CHECK(appauth_ticket(&a, APP, "bob", "/\\evil.example.com/", t, &e) == -EINVAL);
	CHECK(appauth_ticket(&a, APP, "bob", "https://evil.example.com/", t, &e) == -EINVAL);
	CHECK(appauth_ticket(&a, APP, "bob", "/a\r\nSet-Cookie: x=1", t, &e) == -EINVAL);
	CHECK(appauth_ticket(&a, APP, "bob", "/a b", t, &e) == -EINVAL);
	/* The store is bounded: two live tickets fill it. */
	CHECK(appauth_ticket(&a, APP, "bob", "/", t, &e) == 0);
	CHECK(appauth_ticket(&a, APP, "bob", "/", t2, &e) == 0);
	CHECK(appauth_ticket(&a, APP, "bob", "/", t2, &e) == -EBUSY);
	/* An expired ticket is refused, and makes room. */
	a.t[0].expires = a.t[1].expires = time(NULL) - 1;
	CHECK(appauth_redeem(&a, APP, t, c, p, &e) == -ENOENT);
	CHECK(appauth_ticket(&a, APP, "bob", "/", t2, &e) == 0);
	appauth_destroy(&a);
	appauth_destroy(NULL);
}

static void test_cookies(void)
{
	struct appauth a, b;
	struct err e;
	char c[APPAUTH_COOKIE_MAX], f[APPAUTH_COOKIE_MAX], u[256] = "";
	time_t now = time(NULL);
	char *dot;

	CHECK(appauth_init(&a, 4, 60, &e) == 0);
	CHECK(appauth_init(&b, 4, 60, &e) == 0);
	CHECK(appauth_cookie(&a, APP, "dan.o+test@example.org", now + 60, c) == 0);
	CHECK(appauth_check(&a, APP, c, now, u, &e) == 0);
	CHECK(strcmp(u, "dan.o+test@example.org") == 0);
	/* Another app's host, another gateway's key, expired. */
	CHECK(appauth_check(&a, OTHER, c, now, u, &e) == -EACCES);
	CHECK(appauth_check(&b, APP, c, now, u, &e) == -EACCES);
	CHECK(appauth_check(&a, APP, c, now + 60, u, &e) == -EACCES);
	CHECK_CONTAINS(e.msg, "expired");
	/* Altered: a longer life, another user, a flipped signature digit. */
	snprintf(f, sizeof(f), "%s", c);
	f[0] = f[0] == '9' ? '8' : '9';
	CHECK(appauth_check(&a, APP, f, now, u, &e) == -EACCES);
	snprintf(f, sizeof(f), "%lld.carol%s", (long long)now + 60, strrchr(c, '.'));
	CHECK(appauth_check(&a, APP, f, now, u, &e) == -EACCES);
	snprintf(f, sizeof(f), "%s", c);
	dot = strrchr(f, '.');
	dot[1] = dot[1] == 'a' ? 'b' : 'a';
	CHECK(appauth_check(&a, APP, f, now, u, &e) == -EACCES);
	/* Malformed. */
	CHECK(appauth_check(&a, APP, NULL, now, u, &e) == -EACCES);
	CHECK(appauth_check(&a, APP, "", now, u, &e) == -EACCES);
	CHECK(appauth_check(&a, APP, "1.2", now, u, &e) == -EACCES);
	CHECK(appauth_check(&a, APP, "x.bob.0000", now, u, &e) == -EACCES);
	CHECK(appauth_check(&a, "not an app", c, now, u, &e) == -EACCES);
	CHECK(strcmp(u, "dan.o+test@example.org") == 0); /* untouched by refusals */
	/* Users that do not fit a cookie are never signed. */
	CHECK(appauth_cookie(&a, APP, "bob;x=1", now + 60, c) == -EINVAL);
	/* With etcd's authentication off the user is "". */
	CHECK(appauth_cookie(&a, APP, "", now + 60, c) == 0);
	CHECK(appauth_check(&a, APP, c, now, u, &e) == 0 && u[0] == '\0');
	appauth_destroy(&a);
	appauth_destroy(&b);
}

int main(void)
{
	test_tickets();
	test_cookies();
	return T_DONE("appauth");
}
