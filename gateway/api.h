/*
 * api — the gateway's HTTP API, served by libmicrohttpd (a thread per
 * connection: streams and sessions block on their own thread).
 *
 *   GET  /healthz
 *   GET  /api/v1/whoami                                  {"user": ...}
 *   GET  /api/v1/images?name=IMAGE                       200, or 404
 *   GET  /api/v1/namespaces/NS/workspaces/NAME/exec      WebSocket (exec.h);
 *        query: tty=1, cmd=ARG (repeated), rows, cols, term
 *   GET  .../logs?follow=1&tail=N                        text, streamed
 *   GET  .../top                                         {"cpuPercent", ...}
 *   GET  .../export                                      the archive
 *   PUT  .../import                                      an archive's home
 *   POST .../start                                       {"changed": bool}
 *   GET  /api/v1/workspaces                              {"user", "items"}
 *   GET  /, /assets/app.js, /assets/app.css              the terminal page
 *   POST /api/v1/signin    {"user", "password"}          {"user", "csrf"}
 *                                                        and the cookie
 *   POST /api/v1/signout
 *
 * Callers authenticate with HTTP Basic (their etcd user and password), or
 * with the page's session: its cookie and its CSRF token together
 * (websess.h; the token in the X-Klangk-CSRF header, or the csrf query
 * parameter of the exec upgrade).  A request without credentials is
 * served only from a loopback address (and only while etcd's
 * authentication is off, etcd decides).  A request that carries an Origin
 * header other than the gateway's own is refused, so no other site's page
 * (a hosted app's) can use a browser's credentials here; one that changes
 * something with the page's cookie must carry one.  Every refusal is
 * JSON: {"error": "why", "reason": "Forbidden" | ...}.
 */
#ifndef KLANGK_API_H
#define KLANGK_API_H

#include "gw.h"

struct api;

/* Serve on g->cfg.listen.  new: stop with api_stop (after
 * gw_stop_sessions). */
int api_start(struct gw *g, struct api **out, struct err *e);
int api_port(const struct api *a);
void api_stop(struct api *a);

#endif
