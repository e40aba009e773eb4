/*
 * pgen — render the nginx configuration for hosted apps.
 *
 * Pure: routes and options in, config text out.  Two forms (lib/hosting.h):
 * path mode serves every app under <base>/hosted/<id>/<port>/ on one host;
 * origin mode serves each at its own host <id>-<port>.<domain> and
 * redirects the path URLs there.  Every value that reaches
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
#include <stdbool.h>

struct pgen_route {
	char id[33];     /* workspace id, lowercase hex */
	long port;       /* host port: the URL segment (and the upstream's) */
	/* The upstream when the workspace publishes nothing (its status says
	 * "publish": "none"): the container's IPv4 address on its network and
	 * its container port.  addr "" = the host port on upstream_host. */
	char addr[16];
	long target;
	bool members;    /* members-only (status.ports[i].access): origin mode
			  * asks the gateway; path mode never routes it */
};

struct pgen_opts {
	const char *dir;            /* nginx prefix directory (absolute) */
	const char *listen_addr;    /* IPv4 literal, e.g. 127.0.0.1 */
	long listen_port;
	const char *base_path;      /* "" or "/klangk" */
	const char *upstream_host;  /* IPv4 literal the ports are published on */
	/* Honour X-Forwarded-Host/Proto/Prefix/For from the client (only
	 * behind an outer proxy that sets or strips them); otherwise they are
	 * derived from the request itself. */
	bool trust_forwarded;
	long worker_processes;      /* 0 = auto */
	/* How long the workers of an old configuration keep serving their
	 * open connections (WebSockets) after a reload; 0 = default 300. */
	long worker_shutdown_s;
	/* One syslog line per hosted request, carrying the workspace id, to
	 * the datagram socket DIR/access.sock (see activity.h). */
	bool activity_log;
	/* Origin mode (lib/hosting.h) when non-empty: "domain[:port]" as in
	 * KLANGK_HOSTING_DOMAIN; each route is served at the host
	 * <id>-<port>.<domain>, and the path URLs redirect to
	 * <proto>://<id>-<port>.<domain>[:port]/.  NULL or "" = path mode. */
	const char *domain;
	const char *proto;          /* "http" or "https"; origin mode only */
	/* Members-only routes (origin mode): where nginx asks the gateway
	 * (IPv4:port) and where it sends visitors to sign in (an origin,
	 * "http(s)://host[:port]"; NULL or "" = http://<gateway_address>). */
	const char *gateway_address;
	const char *gateway_origin;
};

/* Names of the files proxy-gen and nginx share in the directory. */
#define PGEN_STATUS_SOCK "status.sock"
#define PGEN_ACCESS_SOCK "access.sock"
#define PGEN_ACCESS_TAG "klangk"
/* The longest directory whose sockets still fit in sun_path. */
#define PGEN_DIR_MAX 90

/*
 * Collect the routes of routable workspaces (phase Running, or Pending: the
 * controller is starting it and its ports are leased to it alone, see
 * docs/proxy-gen.md) from a JSON object mapping status keys to status
 * objects.  A workspace that publishes nothing is routed to its
 * container's address and container ports, and only while the status has
 * an address (none while it is created, stopped or recreated); an address
 * that is not a unicast IPv4 one outside 127/8, 0/8 and 169.254/16, or a
 * container port outside 8000-8004, is invalid.  Entries that fail
 * validation are skipped
 * (and counted in *skipped).  routes: new array, free().
 */
int pgen_routes_from_status(const json_t *statuses, struct pgen_route **routes,
			    size_t *n, size_t *skipped);

/* Render the whole nginx.conf into out (appended).  generation is written
 * into the file and served by its status endpoint. */
int pgen_render(const struct pgen_opts *o, const struct pgen_route *routes,
		size_t n, const char *generation, struct buf *out,
		struct err *e);

/*
 * Render with the generation that names this rendering: the first 16 hex
 * digits of the SHA-256 of the text (rendered with a constant placeholder
 * in the generation's places).  Identical route sets and options give
 * identical files and generations.  gen: at least 17 bytes.  out: appended.
 */
int pgen_render_generation(const struct pgen_opts *o, const struct pgen_route *routes,
			   size_t n, struct buf *out, char *gen, struct err *e);

/* Validation helpers, exposed for tests. */
int pgen_check_opts(const struct pgen_opts *o, struct err *e);

/*
 * The generation written into the header of a rendered file ("# generation
 * G, N routes" on its second line), into gen (at least 33 bytes).  -ENOENT
 * when the text has no such header.
 */
int pgen_file_generation(const char *text, size_t len, char *gen, size_t genlen);

#endif
