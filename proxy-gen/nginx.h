/*
 * nginx — the apply pipeline: validate a rendered configuration with
 * `nginx -t` on exactly those bytes, swap it in atomically, reload (or
 * start) nginx, and confirm the new generation is the one serving.
 * On any failure the old configuration keeps serving.
 */
#ifndef KLANGK_NGINX_H
#define KLANGK_NGINX_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>

struct ngx {
	const char *bin;     /* nginx executable (borrowed) */
	const char *dir;     /* prefix directory holding nginx.conf (borrowed) */
	bool may_start;      /* start nginx when none is running */
};

/* Create the directory layout and remove stale temporary files. */
int ngx_prepare(const struct ngx *n, struct err *e);

/*
 * Install `conf` (len bytes) whose generation string is `generation`:
 * temp file in dir, fsync, nginx -t, rename, fsync dir, reload or start,
 * then wait (bounded) until the status socket reports the generation.
 * -EINVAL when nginx -t refuses it (its message is in e).
 */
int ngx_apply(const struct ngx *n, const char *conf, size_t len,
	      const char *generation, struct err *e);

/* The generation nginx is serving now, into buf; -ENOENT if not running. */
int ngx_serving(const struct ngx *n, char *buf, size_t len, struct err *e);

#endif
