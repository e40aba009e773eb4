/*
 * websess — the browser page's sign-in sessions, held in memory only.
 *
 * A session is made when a user signs in on the page with their etcd user
 * name and password, which etcd checks.  The gateway must sign in to etcd
 * as the user again later (etcd's tokens go stale whenever any role
 * changes), so it keeps the password, but only encrypted (AES-256-GCM)
 * under a key derived from the session's id, which it does not keep: its
 * memory alone gives no password away.  The session is two secrets:
 *
 *   id    256 random bits, the HttpOnly cookie (the browser sends it, no
 *         script reads it); the store keeps its SHA-256 only;
 *   csrf  256 random bits, given to the page once, at sign-in; the page
 *         keeps it in its own origin's sessionStorage and sends it with
 *         every API request (a header, or a query parameter on the
 *         WebSocket upgrade, where a browser cannot set headers); the
 *         store keeps its SHA-256 only.
 *
 * Either alone is worth nothing: a page of another origin may make the
 * browser send the cookie but cannot read the token, and a server that
 * sees the cookie (browsers send cookies to every port of a host) has no
 * token either.  Sessions end at sign-out, after their lifetime, or when
 * the store is full and a user's oldest must make room for their new one;
 * the store never holds more than its maximum.  A restart of the gateway
 * ends them all.
 */
#ifndef KLANGK_WEBSESS_H
#define KLANGK_WEBSESS_H

#include "err.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define WEBSESS_SECRET_HEX 64      /* 32 random bytes, hex */
#define WEBSESS_MAX_PER_USER 16    /* a user's oldest session makes room */

struct websess_entry {
	bool used;
	unsigned char id_hash[32];         /* SHA-256 of the id */
	unsigned char csrf_hash[32];       /* SHA-256 of the csrf token */
	char user[256];                    /* "" when etcd auth is off */
	unsigned char nonce[12], tag[16];  /* of the sealed password */
	unsigned char *sealed;             /* owned: the password, encrypted */
	size_t sealed_len;                 /* 0 when there is none */
	time_t created;
};

struct websess {
	pthread_mutex_t mu;                /* guards v */
	struct websess_entry *v;           /* max slots */
	size_t max;
	long lifetime_s;
};

int websess_init(struct websess *s, size_t max, long lifetime_s, struct err *e);
void websess_destroy(struct websess *s);

/* A new session for user (password borrowed, kept sealed; NULL when etcd
 * auth is off).  id and csrf: filled (WEBSESS_SECRET_HEX + 1 bytes each).
 * -EBUSY (with the reason) when every slot is taken by a live session of
 * others. */
int websess_create(struct websess *s, const char *user, const char *password, char *id,
		   char *csrf, struct err *e);

/* The session of id, if csrf is its token: user filled (256 bytes) and
 * *password new (NULL when it has none; the caller cleanses and frees
 * it).  -ENOENT (no such live session) or -EPERM (the token is missing or
 * wrong), with the reason. */
int websess_check(struct websess *s, const char *id, const char *csrf, char *user,
		  char **password, struct err *e);

/* End the session of id (with its csrf token, as websess_check). */
int websess_end(struct websess *s, const char *id, const char *csrf, struct err *e);

#endif
