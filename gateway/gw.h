/*
 * gw — the gateway's settings and its shared state: the registry of open
 * sessions (per-user limits, and the wake-up that ends them all at
 * shutdown).  Everything a request needs beyond this is made per request
 * (an etcd client as the caller, an engine client), so requests share
 * nothing else.
 */
#ifndef KLANGK_GW_H
#define KLANGK_GW_H

#include "appauth.h"
#include "err.h"
#include "etcd.h"
#include "websess.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_DEFAULT_LISTEN "127.0.0.1:8990"
#define GW_MAX_USERS 1024

struct gw_config {
	char listen[256];
	char engine[4096];          /* DOCKER_HOST form */
	struct etcd_opts etcd;      /* endpoints and TLS of the gateway; never
				     * its own user: requests go as the caller */
	unsigned max_sessions;      /* open sessions per user */
	long long max_archive;      /* bytes of an import or export */
	long idle_s;                /* an exec session silent this long ends */
	bool loopback_only;         /* etcd authentication is off */
	char origin[512];           /* the page's public origin; "" = http://<Host> */
	unsigned page_sessions;     /* page sessions held at most, all users */
	long page_session_s;        /* a page session's lifetime */
	/* Members-only apps (appauth.h): the app cookie's lifetime, and the
	 * hosted apps' URL form (lib/hosting.h; domain "" = path mode, where
	 * no app is members-only). */
	long app_cookie_s;
	char hosting_proto[16];
	char hosting_domain[256];
};

/* Settings from the environment (docs/operations.md): KLANGK_GATEWAY_LISTEN,
 * KLANGK_GATEWAY_MAX_SESSIONS, KLANGK_GATEWAY_MAX_ARCHIVE,
 * KLANGK_GATEWAY_IDLE_SECONDS, KLANGK_GATEWAY_ORIGIN,
 * KLANGK_GATEWAY_PAGE_SESSIONS, KLANGK_GATEWAY_PAGE_SESSION_SECONDS,
 * KLANGK_GATEWAY_APP_COOKIE_SECONDS, KLANGK_HOSTING_PROTO and _DOMAIN,
 * DOCKER_HOST and the etcd endpoint and TLS variables.  The strings of etcd are borrowed from the environment. */
int gw_config_env(struct gw_config *c, struct err *e);

struct gw_user_count {
	char user[256];
	unsigned n;
};

struct gw {
	struct gw_config cfg;
	pthread_mutex_t mu;          /* guards users, n_users, open and cv */
	pthread_cond_t cv;           /* signalled when open drops */
	struct gw_user_count users[GW_MAX_USERS];
	size_t n_users;
	unsigned open;               /* sessions open, all users */
	int wake[2];                 /* a pipe: readable once stopping */
	atomic_bool stopping;
	atomic_int cancel;           /* set with stopping: aborts transfers */
	struct websess page;         /* the page's sign-in sessions */
	struct appauth apps;         /* members-only apps' tickets and cookies */
};

int gw_init(struct gw *g, const struct gw_config *cfg, struct err *e);
void gw_destroy(struct gw *g);

/* Take one of user's sessions: -EBUSY (with the reason) when the user has
 * max_sessions open already, -ESHUTDOWN when stopping. */
int gw_session_acquire(struct gw *g, const char *user, struct err *e);
void gw_session_release(struct gw *g, const char *user);

/* Write all of data to fd, waiting (up to 30 s at a time) when a
 * non-blocking socket is full.  0 or -errno. */
int gw_write_all(int fd, const char *p, size_t len);

/* Stopping: wake every session (they poll gw->wake[0]) and wait until
 * none is open. */
void gw_stop_sessions(struct gw *g);

#endif
