/*
 * cfg — the settings every binary reads from the environment (the names of
 * the product documents: KLANGK_PORT_RANGE_START, KLANGK_NGINX_PORT, ...).
 * Flags override them; cfg_check validates the result as a whole so that a
 * bad setting is refused at start (or at a reload) with a clear reason.
 */
#ifndef KLANGK_CFG_H
#define KLANGK_CFG_H

#include "err.h"

#include <stdbool.h>

struct cfg {
	char etcd_endpoints[4096];
	char docker_host[4096];
	char instance_id[64];
	long port_range_start;     /* KLANGK_PORT_RANGE_START, 9000 */
	long port_range_end;       /* KLANGK_PORT_RANGE_END, start + 999 */
	long nginx_port;           /* KLANGK_NGINX_PORT, 8995 */
	char hosting_hostname[256];/* KLANGK_HOSTING_HOSTNAME, localhost:<nginx> */
	char hosting_proto[16];    /* KLANGK_HOSTING_PROTO, http */
	char hosting_base_path[256];/* KLANGK_HOSTING_BASE_PATH, "" */
	char publish_address[64];  /* KLANGK_PUBLISH_ADDRESS, 127.0.0.1 */
	long idle_timeout;         /* KLANGK_IDLE_TIMEOUT_SECONDS, 1800 */
	char data_dir[4096];       /* KLANGK_DATA_DIR */
	char allowed_mount_roots[8192]; /* KLANGK_ALLOWED_MOUNT_ROOTS */
	char protected_paths[8192];  /* KLANGK_PROTECTED_PATHS (lib/mountpolicy.h) */
	char node_name[64];        /* KLANGK_NODE_NAME, "" = one node owns all */
	long node_capacity;        /* KLANGK_NODE_CAPACITY, 0 = ports / 5 */
};

/* Fill from the environment with defaults; validates each value. */
int cfg_from_env(struct cfg *c, struct err *e);
/* Validate the whole (after flags were applied); fills derived defaults. */
int cfg_check(struct cfg *c, struct err *e);

/*
 * Apply a configuration file of NAME=value lines (the environment
 * variables' names; '#' comments and blank lines allowed) on top of c.
 * Unknown names and bad values are errors naming the file and line; on
 * error c is unchanged.  Used at start and on SIGHUP (build, validate, swap).
 */
int cfg_load_file(struct cfg *c, const char *path, struct err *e);

/* Strict integer parsing: the whole string, within [min, max]. */
int cfg_parse_long(const char *s, long min, long max, long *out);
/* Copy s into dst of size n; -ENAMETOOLONG if it does not fit. */
int cfg_copy(char *dst, size_t n, const char *s);

bool cfg_is_base_path(const char *s);
bool cfg_is_hostname(const char *s);

#endif
