/*
 * engine — the Docker Engine REST API (v1.41) over a unix socket, through
 * libcurl.  Served by dockerd or by Podman's API service; one client for both.
 *
 * A struct engine is used by one thread at a time.  Every call returns 0 or
 * a negative errno: -ENOENT for "no such container/volume/image", -EEXIST
 * for a name conflict, -ECONNREFUSED when the engine is down, -EIO for any
 * other engine error (the engine's message is in `e`).
 */
#ifndef KLANGK_ENGINE_H
#define KLANGK_ENGINE_H

#include "buf.h"
#include "err.h"

#include <jansson.h>
#include <signal.h>

struct engine;

/* $DOCKER_HOST, or the Docker default socket. */
const char *engine_default_host(void);

/* host: "unix:///path/to.sock" or "tcp://host:port".  new. */
int engine_new(const char *host, struct engine **out, struct err *e);
void engine_free(struct engine *g);

int engine_ping(struct engine *g, struct err *e);

/* Called after every request with its method, path (borrowed, without the
 * API version prefix), HTTP status (0 when no answer) and duration in
 * seconds, for metrics and debug logs.  fn may be NULL. */
typedef void (*engine_observer_fn)(void *ud, const char *method, const char *path,
				   long status, double seconds);
void engine_set_observer(struct engine *g, engine_observer_fn fn, void *ud);

/* Containers.  `name` may be a name or an id. */
int engine_container_inspect(struct engine *g, const char *name,
			     json_t **out /* new */, struct err *e);
int engine_container_create(struct engine *g, const char *name,
			    const json_t *config /* borrowed */,
			    char **id /* new, may be NULL */, struct err *e);
int engine_container_start(struct engine *g, const char *name, struct err *e);
/* Stop with a grace period in seconds; a stopped container is success. */
int engine_container_stop(struct engine *g, const char *name, int grace_s,
			  struct err *e);
/* Force-remove (with anonymous volumes); an absent container is success. */
int engine_container_remove(struct engine *g, const char *name, struct err *e);
/* List containers (all states) carrying label `label` ("k" or "k=v"). */
int engine_container_list(struct engine *g, const char *label,
			  json_t **out /* new array */, struct err *e);

/* Volumes. */
int engine_volume_inspect(struct engine *g, const char *name,
			  json_t **out /* new */, struct err *e);
int engine_volume_create(struct engine *g, const char *name,
			 const json_t *labels /* borrowed object */,
			 struct err *e);
/* An absent volume is success; a volume in use is -EBUSY. */
int engine_volume_remove(struct engine *g, const char *name, struct err *e);
int engine_volume_list(struct engine *g, const char *label,
		       json_t **out /* new array */, struct err *e);

int engine_image_inspect(struct engine *g, const char *name,
			 json_t **out /* new, may be NULL */, struct err *e);

/*
 * Follow the engine's event stream (GET /events) for containers carrying
 * `label` ("k=v"), calling fn with each event object (borrowed).  Runs until
 * *cancel is set (-ECANCELED), fn returns non-zero (-ECANCELED) or the
 * stream breaks (another negative errno).  Never returns 0.  Note that the
 * engines name events differently (Podman "remove", Docker "destroy").
 */
typedef int (*engine_event_fn)(void *ud, const json_t *event);
int engine_events(struct engine *g, const char *label, engine_event_fn fn,
		  void *ud, volatile sig_atomic_t *cancel, struct err *e);

/*
 * Generic request, for the calls above and for tests: path is relative to
 * the API version ("/containers/json").  body may be NULL.  The response is
 * appended to out (borrowed, may be NULL); *status gets the HTTP status.
 */
int engine_request(struct engine *g, const char *method, const char *path,
		   const char *body, long *status, struct buf *out,
		   struct err *e);

#endif
