/*
 * httpd — the daemons' own small HTTP endpoints (/metrics, /healthz,
 * /readyz), served by libmicrohttpd on one listening address.
 *
 * The API is deliberately tiny: a table of exact paths, each with a handler
 * that fills a text body and picks a status.  Only GET and HEAD are served
 * (anything else is 405); an unknown path is 404.  Handlers run on
 * libmicrohttpd's internal thread, one request at a time, so they must be
 * quick and must lock whatever state they read.
 */
#ifndef KLANGK_HTTPD_H
#define KLANGK_HTTPD_H

#include "buf.h"
#include "err.h"

#include <stddef.h>

struct httpd;

/*
 * Fill body (borrowed, initialised and empty) with the response text and
 * set *status (preset to 200).  Return 0, or a negative errno to answer
 * 500 with no body.
 */
typedef int (*httpd_fn)(void *ud, struct buf *body, int *status);

struct httpd_route {
	const char *path;          /* exact path, e.g. "/metrics" (borrowed) */
	const char *content_type;  /* NULL = "text/plain; charset=utf-8" */
	httpd_fn fn;
	void *ud;
};

/*
 * Start serving `routes` (copied, with their strings) on `listen`, an
 * address with a port: "127.0.0.1:9101", "[::1]:9101", "localhost:9101".
 * Port 0 picks a free port (see httpd_port).  new: stop with httpd_stop.
 */
int httpd_start(const char *addr, const struct httpd_route *routes,
		size_t n, struct httpd **out, struct err *e);

/* The port actually bound. */
int httpd_port(const struct httpd *h);

/* Stop serving and free; accepts NULL. */
void httpd_stop(struct httpd *h);

/* A listening TCP socket on addr (the forms httpd_start accepts), close-
 * on-exec; *port: the port bound.  fd: new, the caller closes it. */
int httpd_listen(const char *addr, int *fd, int *port, struct err *e);

/* Split "host:port" / "[v6]:port" (the forms httpd_start accepts) into
 * host (without brackets) and port.  Exposed for tests. */
int httpd_split_listen(const char *addr, char *host, size_t hostlen,
		       char *port, size_t portlen);

#endif
