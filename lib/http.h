/*
 * http — every HTTP call we make, through libcurl.
 *
 * One http_client wraps one curl easy handle and is used by one thread at a
 * time; reusing it keeps connections alive (etcd's gateway, the engine's
 * unix socket).  Responses are collected into a bounded buf, or handed chunk
 * by chunk to a callback for streams (etcd watch, engine events).
 */
#ifndef KLANGK_HTTP_H
#define KLANGK_HTTP_H

#include "buf.h"
#include "err.h"

#include <stdatomic.h>

struct http_client;

/* Called for each chunk of a streamed body; return non-zero to stop the
 * transfer (http_do then returns -ECANCELED). */
typedef int (*http_chunk_fn)(void *ud, const char *data, size_t len);

/* Fills buf with up to len bytes of a streamed request body: returns the
 * count, 0 at its end, or -1 to abort the transfer (-ECANCELED). */
typedef long (*http_read_fn)(void *ud, char *buf, size_t len);

struct http_tls {
	const char *cacert;   /* borrowed; PEM CA bundle, or NULL */
	const char *cert;     /* borrowed; client certificate, or NULL */
	const char *key;      /* borrowed; client key, or NULL */
};

struct http_request {
	const char *method;        /* "GET", "POST", "PUT", "DELETE" */
	const char *url;           /* full URL; host is ignored for unix sockets */
	const char *unix_socket;   /* path, or NULL for TCP */
	const char *body;          /* may be NULL */
	size_t body_len;
	const char *content_type;  /* default application/json when body set */
	const char *auth_header;   /* whole "Authorization: ..." value, or NULL */
	const struct http_tls *tls;
	long timeout_ms;           /* whole transfer; 0 = none (streams) */
	long connect_timeout_ms;   /* 0 = 3000 */
	size_t max_body;           /* response cap; 0 = BUF_DEFAULT_MAX */
	http_chunk_fn on_chunk;    /* stream mode when set */
	void *ud;
	/* Stream only a 2xx response to on_chunk; any other status's body
	 * goes to `body` (bounded by max_body) for the error message. */
	int chunk_2xx_only;
	/* A streamed request body (instead of body): read from on_read with
	 * ud, upload_len bytes (-1: unknown, sent chunked). */
	http_read_fn on_read;
	long long upload_len;
	/* Called once, when the final response's headers are in (before any
	 * of its body): a stream's consumer learns that the server has
	 * accepted the request even when no chunk follows for a while. */
	void (*on_response)(void *ud, long status);
	/* Checked about once a second and on every chunk; when it becomes
	 * non-zero the transfer is aborted with -ECANCELED. */
	atomic_int *cancel;
};

/* Call once per process before any thread starts. */
int http_global_init(void);

/* new: free with http_client_free. */
int http_client_new(struct http_client **out);
void http_client_free(struct http_client *c);

/*
 * Perform a request.  On success returns 0 with *status set to the HTTP
 * status (any status: callers decide what a 404 means) and, unless on_chunk
 * is set, the body appended to `body` (borrowed, caller-initialised).
 * Fails with -ECONNREFUSED (cannot connect), -ETIMEDOUT, -E2BIG (body over
 * max_body), -ECANCELED, or -EIO, with the reason in `e`.
 */
int http_do(struct http_client *c, const struct http_request *r, long *status,
	    struct buf *body, struct err *e);

#endif
