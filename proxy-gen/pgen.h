/*
 * pgen — render the nginx configuration for hosted apps.
 *
 * Pure: routes and options in, config text out.  Every value that reaches
 * the text is checked against a strict pattern first (ids lowercase hex,
 * ports numeric, the upstream host an IPv4 literal, the base path from a
 * small character set), so nothing free-form is ever written into it.
 * The output is deterministic: the same routes give the same bytes.
 */
#ifndef KLANGK_PGEN_H
#define KLANGK_PGEN_H

#include "buf.h"
#include "err.h"

#include <jansson.h>

struct pgen_route {
	char id[33];     /* workspace id, lowercase hex */
	long port;       /* host port: both the URL segment and the upstream */
};

struct pgen_opts {
	const char *dir;            /* nginx prefix directory (absolute) */
	const char *listen_addr;    /* IPv4 literal, e.g. 127.0.0.1 */
	long listen_port;
	const char *base_path;      /* "" or "/klangk" */
	const char *upstream_host;  /* IPv4 literal the ports are published on */
};

/*
 * Collect the routes of running workspaces from a JSON object mapping
 * status keys to status objects.  Entries that fail validation are skipped
 * (and counted in *skipped).  routes: new array, free().
 */
int pgen_routes_from_status(const json_t *statuses, struct pgen_route **routes,
			    size_t *n, size_t *skipped);

/* Render the whole nginx.conf into out (appended).  generation is written
 * into the file and served by its status endpoint. */
int pgen_render(const struct pgen_opts *o, const struct pgen_route *routes,
		size_t n, const char *generation, struct buf *out,
		struct err *e);

/* Validation helpers, exposed for tests. */
int pgen_check_opts(const struct pgen_opts *o, struct err *e);

#endif
