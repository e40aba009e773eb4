/*
 * klangk-gateway — what a tenant does inside a workspace (terminal, logs,
 * top, export and import), with the tenant's own etcd identity, over
 * HTTP (api.h).  With the controller it is the only holder of the engine
 * socket.
 *
 * Threads: libmicrohttpd's (a listener and one per connection), one per
 * exec session and per followed log, and main, which waits for SIGTERM or
 * SIGINT: then every session is told to end (its client gets a status
 * message), the server stops, and the process exits 0.
 *
 * With etcd's authentication off there is nobody to tell apart: the
 * gateway then listens on a loopback address only, and says so.
 */
#include "api.h"
#include "gw.h"
#include "http.h"
#include "httpd.h"
#include "keys.h"
#include "log.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether etcd serves an anonymous request (its authentication is off). */
static int etcd_auth_off(const struct gw_config *cfg, bool *off, struct err *e)
{
	struct etcd *c = NULL;
	int64_t n = 0;
	int r = etcd_new(&cfg->etcd, &c, e);

	if (r == 0)
		r = etcd_count(c, KEYS_ROOT, &n, e);
	etcd_free(c);
	/* etcd answers an anonymous request 400 "user name is empty" when
	 * its authentication is on (the client says "requires
	 * authentication"). */
	if (r == -EACCES || (r < 0 && strstr(e->msg, "requires authentication"))) {
		err_clear(e);
		*off = false;
		return 0;
	}
	if (r == 0)
		*off = true;
	return r;
}

static bool is_loopback_listen(const char *listen)
{
	char host[256], port[8];

	if (httpd_split_listen(listen, host, sizeof(host), port, sizeof(port)) < 0)
		return false;
	return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
	       strcmp(host, "localhost") == 0;
}

int main(int argc, char **argv)
{
	struct gw_config cfg;
	struct gw g;
	struct api *a = NULL;
	struct err e = { "" };
	sigset_t set;
	bool off = false;
	int sig = 0, r;
	char port[16];

	(void)argv;
	log_setup(LOG_INFO, 0);
	if (argc > 1) {
		fprintf(stderr, "usage: klangk-gateway (settings from the environment: "
				"docs/operations.md)\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (http_global_init() < 0 || gw_config_env(&cfg, &e) < 0) {
		log_error("cannot start", "error", e.msg[0] ? e.msg : "libcurl", NULL);
		return 1;
	}
	r = etcd_auth_off(&cfg, &off, &e);
	if (r < 0) {
		log_error("cannot reach etcd", "error", e.msg, NULL);
		return 1;
	}
	if (off && !is_loopback_listen(cfg.listen)) {
		log_error("etcd authentication is off: the gateway could not tell its callers "
			  "apart, so it listens on a loopback address only", "listen", cfg.listen,
			  NULL);
		return 1;
	}
	cfg.loopback_only = off;
	if (gw_init(&g, &cfg, &e) < 0 || api_start(&g, &a, &e) < 0) {
		log_error("cannot start", "error", e.msg, NULL);
		return 1;
	}
	snprintf(port, sizeof(port), "%d", api_port(a));
	log_info("serving", "listen", cfg.listen, "port", port, "engine", cfg.engine,
		 "etcd_auth", off ? "off: anonymous callers from loopback only, "
				    "listening on loopback only" : "on: callers sign in as "
				    "their etcd user", NULL);
	while (sigwait(&set, &sig) != 0)
		;
	log_info("stopping", "signal", sig == SIGTERM ? "TERM" : "INT", NULL);
	gw_stop_sessions(&g);
	api_stop(a);
	gw_destroy(&g);
	log_info("stopped", NULL);
	return 0;
}
