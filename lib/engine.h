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
#include "http.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct engine;

/* $DOCKER_HOST, or the Docker default socket. */
const char *engine_default_host(void);

/* host: "unix:///path/to.sock" or "tcp://host:port".  new. */
int engine_new(const char *host, struct engine **out, struct err *e);
void engine_free(struct engine *g);

int engine_ping(struct engine *g, struct err *e);
/* Whether the engine is Podman's API service (it also serves /libpod/...),
 * for the few places where the two engines differ. */
int engine_is_podman(struct engine *g, bool *out, struct err *e);
/* Whether the engine runs rootless (its info's SecurityOptions say
 * "name=rootless"): its containers' addresses are then inside a network
 * namespace of its own, out of the host's reach. */
int engine_is_rootless(struct engine *g, bool *out, struct err *e);

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

/*
 * Resource limits of a container, in the engine's HostConfig units; 0
 * leaves a limit unset (the engine's default: none, or Podman's 2048 pids).
 */
struct engine_resources {
	int64_t nano_cpus;    /* HostConfig.NanoCpus, 10^-9 CPUs */
	int64_t memory;       /* HostConfig.Memory, bytes */
	int64_t memory_swap;  /* HostConfig.MemorySwap: memory + swap; = memory
			       * for none */
	int64_t pids_limit;   /* HostConfig.PidsLimit */
};

/* Set the limits in r as HostConfig fields of hc (borrowed object), for
 * a container's creation and for engine_container_update. */
int engine_resources_to_json(const struct engine_resources *r, json_t *hc);

/*
 * Change the limits of a container, running or not, without recreating
 * it.  dockerd: POST /containers/{id}/update (kept in the container's
 * HostConfig).  Podman 4.3 has no such compat route: its libpod route
 * is used, which changes the running container's cgroup only (inspect
 * keeps the old HostConfig and a restart brings the old limits back;
 * docs/security.md).
 */
int engine_container_update(struct engine *g, const char *name,
			    const struct engine_resources *r, struct err *e);

/* What a container's inspection says about its state. */
struct engine_state {
	bool running;
	bool oom_killed;      /* State.OOMKilled (Podman 4.3 never sets it) */
	int exit_code;        /* State.ExitCode: 137 after SIGKILL (and OOM) */
	char status[16];      /* State.Status: created, running, exited, ... */
	char finished_at[40]; /* State.FinishedAt, RFC 3339 as the engine wrote it */
};
/* From an inspection (borrowed); -EPROTO when it has no State object. */
int engine_container_state(const json_t *inspect, struct engine_state *out);

/*
 * Networks.  A network is created with labels, driver options (for the
 * bridge driver: "com.docker.network.bridge.name" names the Linux bridge,
 * Podman's "isolate" blocks traffic from other bridges), internal (no
 * route out) and optionally one IPv4 subnet (NULL: the engine picks from
 * its pools).  -EEXIST when the name is taken.
 */
struct engine_network_opts {
	const json_t *labels;    /* object of strings, may be NULL */
	const json_t *options;   /* driver options, object of strings, may be NULL */
	bool internal;
	const char *subnet;      /* "10.1.2.0/24" or NULL */
};
int engine_network_create(struct engine *g, const char *name,
			  const struct engine_network_opts *o,
			  char **id /* new, may be NULL */, struct err *e);
int engine_network_inspect(struct engine *g, const char *name,
			   json_t **out /* new */, struct err *e);
/* Networks carrying `label` ("k" or "k=v"). */
int engine_network_list(struct engine *g, const char *label,
			json_t **out /* new array */, struct err *e);
/* An absent network is success; one with containers is -EBUSY. */
int engine_network_remove(struct engine *g, const char *name, struct err *e);
/* Attach a container (running or not) to a network; -ENOENT when either
 * is absent.  aliases: DNS names on that network (may be NULL). */
int engine_network_connect(struct engine *g, const char *network,
			   const char *container, const json_t *aliases,
			   struct err *e);
int engine_network_disconnect(struct engine *g, const char *network,
			      const char *container, struct err *e);

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
 * `label` ("k=v"), calling fn with each event object (borrowed), and once
 * with NULL first, as soon as the engine has accepted the stream (its
 * headers are in): from then on no change is missed.  Runs until
 * *cancel is set (-ECANCELED), fn returns non-zero (-ECANCELED) or the
 * stream breaks (another negative errno).  Never returns 0.  Note that the
 * engines name events differently (Podman "remove", Docker "destroy").
 */
typedef int (*engine_event_fn)(void *ud, const json_t *event);
int engine_events(struct engine *g, const char *label, engine_event_fn fn,
		  void *ud, atomic_int *cancel, struct err *e);

/*
 * Exec: run a process in a running container (POST /containers/{id}/exec,
 * /exec/{id}/start, /exec/{id}/resize, GET /exec/{id}/json).
 */
struct engine_exec_opts {
	const char *const *cmd;   /* borrowed, n_cmd >= 1 */
	size_t n_cmd;
	const char *const *env;   /* borrowed "NAME=value" entries, may be NULL */
	size_t n_env;
	const char *user;         /* NULL: the container's user */
	const char *workdir;      /* NULL: the container's working directory */
	bool tty;                 /* a pseudo-terminal (stdout and stderr merged) */
	bool attach_stdin;
};
int engine_exec_create(struct engine *g, const char *container,
		       const struct engine_exec_opts *o, char **id /* new */,
		       struct err *e);

/*
 * The exec's input and output: the connection the engine took over
 * ("hijacked", upgraded) when the exec started.  Without a TTY the output
 * is multiplexed (engine_demux below); with one it is the raw terminal.
 */
struct engine_stream;
int engine_exec_start(struct engine *g, const char *id, bool tty,
		      struct engine_stream **out /* new */, struct err *e);
/* The socket, to poll(2) for input (POLLIN) before engine_stream_recv. */
int engine_stream_fd(const struct engine_stream *s);
/* Whether bytes are buffered already (read before poll could see them). */
bool engine_stream_pending(const struct engine_stream *s);
/* Send all of data (blocking). */
int engine_stream_send(struct engine_stream *s, const void *data, size_t len,
		       struct err *e);
/* Read what is there: *n > 0 bytes, *n == 0 at the end of the stream, or
 * -EAGAIN when nothing is there yet. */
int engine_stream_recv(struct engine_stream *s, void *buf, size_t len,
		       size_t *n, struct err *e);
/* End of input: the process reads end of file on its stdin. */
int engine_stream_close_write(struct engine_stream *s);
void engine_stream_free(struct engine_stream *s);

/* The TTY's size; only while the exec runs. */
int engine_exec_resize(struct engine *g, const char *id, unsigned rows,
		       unsigned cols, struct err *e);
/* Wait (up to timeout_ms) until the exec is no longer running and give
 * its exit code. */
int engine_exec_wait(struct engine *g, const char *id, long timeout_ms,
		     int *exit_code, struct err *e);

/*
 * The multiplexed output of an exec without a TTY: frames of an 8-byte
 * header (stream: 0 stdin, 1 stdout, 2 stderr; three zero bytes; a 32-bit
 * big-endian length) and the payload.  Feed bytes in any pieces; fn gets
 * the payload pieces with their stream, and may stop the feed by returning
 * non-zero (-ECANCELED).  -EPROTO on a malformed header.
 */
struct engine_demux {
	unsigned char hdr[8];
	size_t hlen;
	uint32_t left;
	int stream;
};
typedef int (*engine_demux_fn)(void *ud, int stream, const char *data, size_t len);
int engine_demux_feed(struct engine_demux *d, const char *data, size_t len,
		      engine_demux_fn fn, void *ud);

/*
 * A container's output (GET /containers/{id}/logs, stdout and stderr):
 * the last `tail` lines (-1: all), then, with follow, what comes until the
 * container stops, fn returns non-zero or *cancel is set (-ECANCELED).
 * The bytes are as the engine sends them: multiplexed (engine_demux) unless
 * the container has a TTY.
 */
int engine_container_logs(struct engine *g, const char *name, bool follow, long tail,
			  http_chunk_fn fn, void *ud, atomic_int *cancel,
			  struct err *e);
/* One sample of a container's resource use (GET /containers/{id}/stats,
 * not streamed): the engine's JSON, with cpu_stats, precpu_stats and
 * memory_stats.  out: new. */
int engine_container_stats(struct engine *g, const char *name, json_t **out,
			   struct err *e);

/*
 * The archive API: a tar of `path` in a container (running or not; its
 * volumes included), streamed to fn; and a tar extracted into the
 * directory `path`, read from fn (len bytes, or -1 when unknown).
 */
int engine_archive_get(struct engine *g, const char *container, const char *path,
		       http_chunk_fn fn, void *ud, struct err *e);
int engine_archive_put(struct engine *g, const char *container, const char *path,
		       http_read_fn fn, void *ud, long long len, struct err *e);

/*
 * Generic request, for the calls above and for tests: path is relative to
 * the API version ("/containers/json").  body may be NULL.  The response is
 * appended to out (borrowed, may be NULL); *status gets the HTTP status.
 */
int engine_request(struct engine *g, const char *method, const char *path,
		   const char *body, long *status, struct buf *out,
		   struct err *e);

#endif
