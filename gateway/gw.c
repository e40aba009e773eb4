/*
 * gw — settings and the session registry (see gw.h).
 */
#include "gw.h"

#include "cfg.h"
#include "engine.h"
#include "hosting.h"
#include "wsarchive.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A positive integer from the environment variable name, or def. */
static int env_num(const char *name, long long def, long long max, long long *out,
		   struct err *e)
{
	const char *s = getenv(name);
	char *end;
	long long v;

	if (!s || !*s) {
		*out = def;
		return 0;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v <= 0 || v > max) {
		err_set(e, "%s=\"%s\": not a number from 1 to %lld", name, s, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* What the gateway shares with the other daemons (lib/cfg.h owns the
 * names): its origin, and the hosted apps' URL form. */
static int shared_env(struct gw_config *c, struct err *e)
{
	struct cfg *k = calloc(1, sizeof(*k));
	int r = k ? cfg_from_env(k, e) : -ENOMEM;

	if (r == 0 && k->gateway_origin[0] && !cfg_is_origin(k->gateway_origin)) {
		err_set(e, "KLANGK_GATEWAY_ORIGIN=\"%s\": must be http(s)://HOST[:PORT], "
			   "lowercase, with no path (the page's origin as browsers name it)",
			k->gateway_origin);
		r = -EINVAL;
	}
	if (r == 0 && strcmp(k->hosting_proto, "http") != 0 && strcmp(k->hosting_proto, "https") != 0) {
		err_set(e, "KLANGK_HOSTING_PROTO=\"%s\": must be http or https", k->hosting_proto);
		r = -EINVAL;
	}
	if (r == 0 && k->hosting_domain[0] && !hosting_is_domain(k->hosting_domain)) {
		err_set(e, "KLANGK_HOSTING_DOMAIN=\"%s\": must be a lowercase DNS name, "
			   "optionally :port", k->hosting_domain);
		r = -EINVAL;
	}
	if (r == 0) {
		snprintf(c->origin, sizeof(c->origin), "%s", k->gateway_origin);
		snprintf(c->hosting_proto, sizeof(c->hosting_proto), "%s", k->hosting_proto);
		snprintf(c->hosting_domain, sizeof(c->hosting_domain), "%s", k->hosting_domain);
	}
	free(k);
	return r;
}

int gw_config_env(struct gw_config *c, struct err *e)
{
	const char *l = getenv("KLANGK_GATEWAY_LISTEN");
	long long n = 0;
	int r;

	memset(c, 0, sizeof(*c));
	snprintf(c->listen, sizeof(c->listen), "%s", l && *l ? l : GW_DEFAULT_LISTEN);
	snprintf(c->engine, sizeof(c->engine), "%s", engine_default_host());
	c->etcd = etcd_opts_env(NULL);
	/* The gateway acts as each caller, never as a user of its own. */
	c->etcd.username = NULL;
	c->etcd.password = NULL;
	c->etcd.password_file = NULL;
	if ((r = env_num("KLANGK_GATEWAY_MAX_SESSIONS", 8, 10000, &n, e)) < 0)
		return r;
	c->max_sessions = (unsigned)n;
	if ((r = env_num("KLANGK_GATEWAY_MAX_ARCHIVE", WSARCHIVE_DEFAULT_MAX_BYTES,
			 INT64_MAX / 2, &n, e)) < 0)
		return r;
	c->max_archive = n;
	if ((r = env_num("KLANGK_GATEWAY_IDLE_SECONDS", 3600, 31536000, &n, e)) < 0)
		return r;
	c->idle_s = (long)n;
	if ((r = env_num("KLANGK_GATEWAY_PAGE_SESSIONS", 256, 100000, &n, e)) < 0)
		return r;
	c->page_sessions = (unsigned)n;
	if ((r = env_num("KLANGK_GATEWAY_PAGE_SESSION_SECONDS", 43200, 31536000, &n, e)) < 0)
		return r;
	c->page_session_s = (long)n;
	if ((r = env_num("KLANGK_GATEWAY_APP_COOKIE_SECONDS", APPAUTH_DEFAULT_COOKIE_SECONDS,
			 86400, &n, e)) < 0)
		return r;
	c->app_cookie_s = (long)n;
	return shared_env(c, e);
}

int gw_init(struct gw *g, const struct gw_config *cfg, struct err *e)
{
	memset(g, 0, sizeof(*g));
	g->cfg = *cfg;
	atomic_init(&g->stopping, false);
	atomic_init(&g->cancel, 0);
	if (pipe2(g->wake, O_CLOEXEC) < 0) {
		err_set(e, "pipe: %s", strerror(errno));
		return -errno;
	}
	if (websess_init(&g->page, cfg->page_sessions, cfg->page_session_s, e) < 0) {
		close(g->wake[0]);
		close(g->wake[1]);
		return -ENOMEM;
	}
	/* As many outstanding tickets as page sessions: one sign-in to an
	 * app at a time per session is plenty for 30 seconds. */
	if (appauth_init(&g->apps, cfg->page_sessions, cfg->app_cookie_s, e) < 0) {
		websess_destroy(&g->page);
		close(g->wake[0]);
		close(g->wake[1]);
		return -ENOMEM;
	}
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	return 0;
}

void gw_destroy(struct gw *g)
{
	if (!g)
		return;
	close(g->wake[0]);
	close(g->wake[1]);
	websess_destroy(&g->page);
	appauth_destroy(&g->apps);
	pthread_mutex_destroy(&g->mu);
	pthread_cond_destroy(&g->cv);
}

int gw_session_acquire(struct gw *g, const char *user, struct err *e)
{
	struct gw_user_count *u = NULL;
	int r = 0;

	pthread_mutex_lock(&g->mu);
	if (atomic_load(&g->stopping)) {
		err_set(e, "the gateway is stopping");
		r = -ESHUTDOWN;
		goto out;
	}
	for (size_t i = 0; i < g->n_users && !u; i++)
		if (strcmp(g->users[i].user, user) == 0)
			u = &g->users[i];
	if (!u) {
		if (g->n_users == GW_MAX_USERS) {
			err_set(e, "the gateway serves %d users at once; try again later",
				GW_MAX_USERS);
			r = -EBUSY;
			goto out;
		}
		u = &g->users[g->n_users++];
		snprintf(u->user, sizeof(u->user), "%s", user);
		u->n = 0;
	}
	if (u->n >= g->cfg.max_sessions) {
		err_set(e, "user \"%s\" has %u sessions open, the most allowed "
			   "(KLANGK_GATEWAY_MAX_SESSIONS); close one first", user, u->n);
		r = -EBUSY;
		goto out;
	}
	u->n++;
	g->open++;
out:
	pthread_mutex_unlock(&g->mu);
	return r;
}

void gw_session_release(struct gw *g, const char *user)
{
	pthread_mutex_lock(&g->mu);
	for (size_t i = 0; i < g->n_users; i++) {
		if (strcmp(g->users[i].user, user) != 0)
			continue;
		if (--g->users[i].n == 0)
			g->users[i] = g->users[--g->n_users];
		g->open--;
		break;
	}
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

void gw_stop_sessions(struct gw *g)
{
	pthread_mutex_lock(&g->mu);
	atomic_store(&g->stopping, true);
	atomic_store(&g->cancel, 1);
	/* Never read: the one byte keeps the pipe readable, so every
	 * session's poll wakes, now and later. */
	if (write(g->wake[1], "x", 1) < 0) {
		/* The pipe cannot be full: one byte is ever written. */
	}
	while (g->open > 0)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
}

int gw_write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t k = write(fd, p, len);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pf = { .fd = fd, .events = POLLOUT };

			if (poll(&pf, 1, 30000) <= 0)
				return -ETIMEDOUT;
			continue;
		}
		if (k < 0)
			return -errno;
		p += k;
		len -= (size_t)k;
	}
	return 0;
}
