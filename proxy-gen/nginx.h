/*
 * nginx — the nginx process as proxy-gen drives it: validate a rendered
 * configuration with `nginx -t` on exactly those bytes, swap it in
 * atomically, reload (or start) nginx, and confirm that the new generation
 * is the one serving.  On any failure the old configuration keeps serving.
 *
 * Three ways to relate to the nginx process (struct ngx.mode):
 *   NGX_MODE_DAEMON     start a background (daemonized) nginx when none runs
 *                       on DIR's pid file, else reload it; nginx outlives
 *                       proxy-gen (the default; `make run`, the test bed).
 *   NGX_MODE_EXTERNAL   never start nginx: reload the one found by DIR's pid
 *                       file (a sidecar container sharing DIR and the PID
 *                       namespace); an error while there is none.
 *   NGX_MODE_SUPERVISE  run nginx in the foreground as a child, restart it
 *                       (with backoff) when it dies, stop it when proxy-gen
 *                       stops; one container running both.
 */
#ifndef KLANGK_NGINX_H
#define KLANGK_NGINX_H

#include "err.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum ngx_mode { NGX_MODE_DAEMON, NGX_MODE_EXTERNAL, NGX_MODE_SUPERVISE };

/* Where an apply failed, for metrics. */
enum ngx_stage {
	NGX_STAGE_NONE,
	NGX_STAGE_WRITE,     /* temp file */
	NGX_STAGE_VALIDATE,  /* nginx -t refused it */
	NGX_STAGE_SWAP,      /* rename */
	NGX_STAGE_RELOAD,    /* signal or start */
	NGX_STAGE_CONFIRM,   /* the generation did not show up */
};

struct ngx {
	const char *bin;        /* nginx executable (borrowed) */
	const char *dir;        /* prefix directory holding nginx.conf (borrowed) */
	enum ngx_mode mode;
	long stop_timeout_ms;   /* supervise: graceful stop before SIGTERM */
	/* Borrowed, may be NULL: when it becomes non-zero, ngx_apply stops
	 * waiting for the confirmation (-ECANCELED), so that a stop request
	 * is not held up by it. */
	atomic_int *cancel;
	/* Supervision state (private; ngx_init/ngx_destroy). */
	pthread_mutex_t mu;
	pid_t child;            /* the supervised master, or 0 */
	int wake_fd;            /* eventfd waking the supervisor */
	bool stopping;
	unsigned long starts;   /* nginx processes started (all modes) */
	unsigned long deaths;   /* supervised masters that died unasked */
};

/* Set up the private state (after filling the public fields). */
int ngx_init(struct ngx *n);
void ngx_destroy(struct ngx *n);

/* Create the directory layout and remove stale temporary files. */
int ngx_prepare(const struct ngx *n, struct err *e);

/*
 * Install `conf` (len bytes) whose generation string is `generation`:
 * temp file in dir, fsync, nginx -t, rename, fsync dir, reload or start,
 * then wait (bounded) until the status socket reports the generation and
 * the workers of the old one stopped taking connections (so that nothing
 * answers with the old configuration after this returns 0).
 * -EINVAL when nginx -t refuses it (its message is in e).  *stage (may be
 * NULL) tells where it failed.
 */
int ngx_apply(struct ngx *n, const char *conf, size_t len,
	      const char *generation, enum ngx_stage *stage, struct err *e);

/* The generation nginx is serving now, into buf; -ENOENT if not running. */
int ngx_serving(const struct ngx *n, char *buf, size_t len, struct err *e);

/* The generation in the header of the live DIR/nginx.conf; -ENOENT when
 * there is none. */
int ngx_live_generation(const struct ngx *n, char *buf, size_t len);

/* The running master's pid (the child when supervised, else from the pid
 * file), or 0. */
pid_t ngx_master(struct ngx *n);

/*
 * NGX_MODE_SUPERVISE: the supervisor's thread body.  Waits for the first
 * start (by ngx_apply), restarts nginx when it dies (killing the orphaned
 * workers of its process group first), and returns after ngx_shutdown,
 * once nginx has stopped (SIGQUIT, then SIGTERM after stop_timeout_ms,
 * then SIGKILL).
 */
void ngx_supervise(struct ngx *n);

/* Ask the supervisor to stop nginx and return. */
void ngx_shutdown(struct ngx *n);

#endif
